#!/usr/bin/python3
"""Benchmark of `cutout serve` (issue #4), reported as ratios to a baseline measured in the same run:
the median bare Session::Run of the same model on the same machine (`cutout bench`).

  bench/server_bench.py [--build build] [--model M] [--duration 60] [--rounds 3] [--clients 8] [--skip-load]

--model: the model cutout serve runs (default: its own default); the baseline is that model's bare
run. Cold start is also given against the fp32 `isnet` bare run of the same run (issue 14's goal).

Measures: cold start (exec -> /readyz 200; exec -> first /api/v2/process response), warm
/api/v2/process server time (1024x1024 and 12 MP, four effects, PNG, JSON), /healthz and
/api/v2/warmup p99, and a load test (N clients on loopback, statuses, throughput, p99, RSS per
round). Python standard library only (Debian's python3).
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


class Server:
    def __init__(self, binary, args=(), env=None):
        self.port = free_port()
        self.start = time.monotonic()
        self.proc = subprocess.Popen([binary, "serve", "--port", str(self.port), *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, dict(r.getheaders()), data

    def wait(self, path="/readyz", deadline_s=60):
        while time.monotonic() - self.start < deadline_s:
            try:
                status, _, _ = self.request("GET", path)
                if status == 200:
                    return time.monotonic() - self.start
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError(f"server not ready on {path}")

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def process(server, photo, conn=None, query="effects=color,bw,popart,dither&format=png"):
    return server.request("POST", "/api/v2/process?" + query, body=photo,
                          headers={"Content-Type": "image/jpeg"}, conn=conn)


def baseline_ms(binary, photo_path, model=None):
    out = subprocess.run([binary, "bench", "--image", photo_path, "--runs", "3", "--json"]
                         + (["--model", model] if model else []),
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["bare_run_ms"]["median"]


def cold_start(binary, photo, runs, serve_args):
    ready, first = [], []
    for _ in range(runs):
        s = Server(binary, serve_args)
        ready.append(s.wait("/readyz"))
        s.stop()
        s = Server(binary, serve_args)
        while True:  # send as soon as the port accepts
            try:
                status, _, _ = process(s, photo)
                break
            except OSError:
                time.sleep(0.005)
        first.append(time.monotonic() - s.start)
        assert status == 200, status
        s.stop()
    return ready, first


def load_round(server, photo, clients, duration_s):
    statuses, latencies, server_ms, lock = {}, [], [], threading.Lock()
    stop_at = time.monotonic() + duration_s
    rss = []

    def client():
        conn = server.conn()
        while time.monotonic() < stop_at:
            t = time.monotonic()
            try:
                status, headers, body = process(server, photo, conn=conn)
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = server.conn()
                status, headers = f"error: {type(e).__name__}", {}
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(time.monotonic() - t)
                    tm = json.loads(body)["timings_ms"]
                    server_ms.append((tm["queue"], tm["inference"], tm["total"]))
            if status == 429:
                time.sleep(min(float(headers.get("Retry-After", "1")), max(0.0, stop_at - time.monotonic())))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        rss.append(server.rss_bytes())
        time.sleep(0.5)
    for th in threads:
        th.join()
    return statuses, latencies, max(rss), server_ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--serve-arg", action="append", default=[], help="extra flag for cutout serve (repeatable)")
    ap.add_argument("--model", help="model for cutout serve and the baseline (default: cutout's default)")
    args = ap.parse_args()
    if args.model:
        args.serve_arg += ["--model", args.model]
    binary = os.path.join(args.build, "cutout")
    data = os.path.join(args.build, "bench-data")
    os.makedirs(data, exist_ok=True)
    src = os.path.join(ROOT, "..", "shared", "eval", "grabcut", "images", "person1.jpg")
    for name, w, h in (("photo_1024.jpg", 1024, 1024), ("photo_12mp.jpg", 4032, 3024)):
        if not os.path.exists(os.path.join(data, name)):
            subprocess.run([os.path.join(args.build, "make_bench_image"), src, os.path.join(data, name), str(w), str(h)],
                           check=True)
    photo = open(os.path.join(data, "photo_1024.jpg"), "rb").read()
    photo12 = open(os.path.join(data, "photo_12mp.jpg"), "rb").read()
    report = {}

    base = baseline_ms(binary, os.path.join(data, "photo_1024.jpg"), args.model)
    report["baseline_bare_run_ms"] = base
    print(f"baseline: bare Session::Run median {base:.0f} ms ({args.model or 'default model'})")
    fp32 = base if args.model == "isnet" else baseline_ms(binary, os.path.join(data, "photo_1024.jpg"), "isnet")
    report["isnet_bare_run_ms"] = fp32
    print(f"fp32 isnet: bare Session::Run median {fp32:.0f} ms")

    if not args.skip_cold:
        ready, first = cold_start(binary, photo, args.cold_runs, args.serve_arg)
        report["cold_readyz_s"], report["cold_first_response_s"] = ready, first
        print(f"cold: exec -> /readyz 200: {', '.join(f'{x:.2f}' for x in ready)} s; median ratio "
              f"{statistics.median(ready) * 1000 / base:.2f} x baseline (bar 2.2), "
              f"{statistics.median(ready) * 1000 / fp32:.2f} x fp32 isnet's (goal 1.5)")
        print(f"cold: exec -> first process response: {', '.join(f'{x:.2f}' for x in first)} s; median ratio "
              f"{statistics.median(first) * 1000 / base:.2f} x baseline (bar 3.0)")

    s = Server(binary, args.serve_arg)
    s.wait()
    warm = {}
    for label, body, runs in (("1024", photo, 5), ("12mp", photo12, 3)):
        totals = []
        for _ in range(runs):
            status, _, out = process(s, body)
            assert status == 200, status
            totals.append(json.loads(out)["timings_ms"]["total"])
        warm[label] = totals
        bar = 1.15 if label == "1024" else 1.6
        print(f"warm process {label}: server total {', '.join(f'{x:.0f}' for x in totals)} ms; median ratio "
              f"{statistics.median(totals) / base:.3f} x baseline (bar {bar})")
    report["warm_process_total_ms"] = warm

    for path, method in (("/healthz", "GET"), ("/api/v2/warmup", "POST")):
        conn = s.conn()
        lat = []
        for _ in range(500):
            t = time.monotonic()
            status, _, _ = s.request(method, path, conn=conn)
            lat.append((time.monotonic() - t) * 1000)
            assert status == 200, status
        conn.close()
        report[f"{path}_p99_ms"] = percentile(lat, 99)
        print(f"warm {method} {path}: p50 {percentile(lat, 50):.2f} ms, p99 {percentile(lat, 99):.2f} ms (bar 5)")

    if not args.skip_load:
        status_json = json.loads(s.request("GET", "/api/v2/status")[2])
        limit = status_json["queue_limit"]
        report["load"] = []
        for r in range(args.rounds):
            statuses, lat, rss, server_ms = load_round(s, photo, args.clients, args.duration)
            ok = statuses.get(200, 0)
            throughput = ok / args.duration
            p99 = percentile(lat, 99)
            report["load"].append({"statuses": {str(k): v for k, v in statuses.items()}, "throughput": throughput,
                                   "p99_s": p99, "max_rss_bytes": rss, "server_timings_ms": server_ms})
            print(f"  server side: queue p50 {percentile([x[0] for x in server_ms], 50):.0f} ms, p99 "
                  f"{percentile([x[0] for x in server_ms], 99):.0f} ms; inference p50 "
                  f"{percentile([x[1] for x in server_ms], 50):.0f} ms; total p99 {percentile([x[2] for x in server_ms], 99):.0f} ms; "
                  f"client p50 {percentile(lat, 50):.2f} s")
            print(f"load round {r + 1}: {args.clients} clients, {args.duration:.0f} s: statuses {statuses}, "
                  f"{throughput:.3f} img/s = {throughput * base / 1000:.3f} / baseline (bar 0.9), "
                  f"p99 {p99:.2f} s (bar {(limit + 1) * base / 1000 * 1.2:.2f}), max RSS {rss / 1e9:.3f} GB (bar 1.5)")
    s.stop()
    with open(os.path.join(data, "server_bench.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
