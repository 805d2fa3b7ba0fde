#!/usr/bin/python3
"""`make soak`: mixed traffic against one `cutout serve` on loopback for a while (default 30 min),
bounded in count and time, and whether the server stays healthy (issue 12, part 4).

Traffic, each from its own thread, paced so that the whole mix stays inside what 2 cores serve:
  - process: JSON (all four effects), image (`response=image`) and stream (`stream=true`), in turn
  - share: upload an image, fetch it, delete it
  - warm-up pings, /healthz, /readyz, /metrics
  - bad inputs of every kind: corrupt and truncated images, a pixel bomb, text, hostile
    parameters, an oversize body, broken multipart and chunked bodies, oversize headers, garbage
  - clients that disconnect mid-request: half a body then gone; a whole request then gone before
    the answer (the server must withdraw its queued job)
  - slow clients: a few connections that trickle their headers until the server's deadline
Sampled every minute from /proc: RSS, open descriptors, threads. Reported: requests by endpoint
and status (0 of 5xx is the goal), latency p50/p99 per endpoint per 5-minute window, RSS growth
from minute 5 to the end (goal < 1 %), descriptors and threads (flat). JSON to --out, an SVG plot
of RSS and p99 over time to --plot.

  soak.py --cutout BIN --image JPEG [--minutes 30] [--out F.json] [--plot F.svg]
"""
import argparse
import collections
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

WINDOW_S = 300


class Stats:
    def __init__(self, t0):
        self.t0, self.lock = t0, threading.Lock()
        self.status = collections.Counter()  # (endpoint, status)
        self.latency = collections.defaultdict(list)  # (endpoint, window) -> seconds
        self.errors = collections.Counter()  # client-side failures by kind

    def add(self, endpoint, status, seconds):
        with self.lock:
            self.status[(endpoint, status)] += 1
            self.latency[(endpoint, int((time.monotonic() - self.t0) // WINDOW_S))].append(seconds)

    def fail(self, what):
        with self.lock:
            self.errors[what] += 1


def call(port, method, path, body=None, headers=None, timeout=120):
    """(status, body, headers) over a fresh connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    finally:
        c.close()


def raw(port, data, timeout=20, read=True):
    """Sends bytes; returns the status of the first answer, or None."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return None
        got = b""
        try:
            while b"\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, ConnectionResetError):
            return None
        m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
        return int(m.group(1)) if m else None


def timed(stats, endpoint, fn):
    t = time.monotonic()
    try:
        status = fn()
    except (OSError, http.client.HTTPException) as e:
        stats.fail(f"{endpoint}: {type(e).__name__}")
        return None
    stats.add(endpoint, status, time.monotonic() - t)
    return status


def bad_inputs(image):
    """(name, bytes of a whole request) for each kind of bad input."""
    host = b"Host: soak\r\n"

    def post(path, body, ctype=b"application/octet-stream", extra=b""):
        return (b"POST " + path + b" HTTP/1.1\r\n" + host + b"Content-Type: " + ctype + b"\r\nContent-Length: " +
                str(len(body)).encode() + b"\r\nConnection: close\r\n" + extra + b"\r\n" + body)
    ihdr = b"IHDR" + (60000).to_bytes(4, "big") * 2 + b"\x08\x06\x00\x00\x00"  # 3.6 gigapixels, in 33 bytes
    bomb = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d" + ihdr + zlib.crc32(ihdr).to_bytes(4, "big")
    corrupt = bytearray(image)
    for i in range(200, len(corrupt), 97):
        corrupt[i] ^= 0x5A
    return [
        ("corrupt jpeg", post(b"/api/v2/process", bytes(corrupt))),
        ("truncated jpeg", post(b"/api/v2/process", image[: len(image) // 3])),
        ("pixel bomb", post(b"/api/v2/process", bytes(bomb))),
        ("text", post(b"/api/v2/process", b"this is not an image", b"text/plain")),
        ("hostile effects", post(b"/api/v2/process?effects=color,%00,../../etc&max_side=-5", image[:100])),
        ("hostile max_side", post(b"/api/v2/process?max_side=999999999999999999999&format=gif", image)),
        ("oversize body", post(b"/api/v2/process", b"\xff\xd8" + b"\x00" * (3 << 20))),
        ("multipart without boundary", post(b"/api/v2/process", b"--x\r\n\r\n", b"multipart/form-data")),
        ("bad chunked", b"POST /api/v2/process HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
        ("oversize headers", b"GET /healthz HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 100000 + b"\r\n\r\n"),
        ("garbage", bytes(random.Random(1).getrandbits(8) for _ in range(300)) + b"\r\n\r\n"),
        ("share of text", post(b"/api/v2/share-image", b"not an image either", b"text/plain")),
        ("unknown share", b"GET /s/doesnotexist HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n"),
    ]


def run_traffic(port, image, stats, stop, limits):
    threads = []

    def loop(name, every_s, fn):
        def body():
            n = 0
            while not stop.is_set() and n < limits:
                fn()
                n += 1
                stop.wait(every_s)
        t = threading.Thread(target=body, name=name, daemon=True)
        t.start()
        threads.append(t)

    small = "&max_side=384"
    modes = [("/api/v2/process", "?effects=color,bw,popart,dither" + small, {}),
             ("/api/v2/process?response=image", "?effects=color&response=image" + small, {}),
             ("/api/v2/process?stream=true", "?stream=true&effects=color,dither" + small, {})]
    turn = {"i": 0}

    def process():
        endpoint, query, _ = modes[turn["i"] % 3]
        turn["i"] += 1
        timed(stats, endpoint, lambda: call(port, "POST", "/api/v2/process" + query, image,
                                            {"Content-Type": "image/jpeg"})[0])

    def share():
        t = time.monotonic()
        try:
            status, body, _ = call(port, "POST", "/api/v2/share-image?ttl=600", image, {"Content-Type": "image/jpeg"})
            stats.add("/api/v2/share-image", status, time.monotonic() - t)
            if status != 201:
                return
            j = json.loads(body)
            path = "/s/" + j["id"]
            timed(stats, "/s/{id} GET", lambda: call(port, "GET", path)[0])
            timed(stats, "/s/{id} DELETE",
                  lambda: call(port, "DELETE", path, headers={"X-Delete-Token": j["delete_token"]})[0])
        except (OSError, ValueError, KeyError, http.client.HTTPException) as e:
            stats.fail(f"share round trip: {type(e).__name__}")

    def timed_status(endpoint, fn):
        return lambda: timed(stats, endpoint, fn)

    bad = bad_inputs(image)
    bad_turn = {"i": 0}

    def bad_input():
        name, data = bad[bad_turn["i"] % len(bad)]
        bad_turn["i"] += 1
        timed(stats, "bad: " + name, lambda: raw(port, data) or 0)

    def disconnect():
        # half a body, then gone; then a whole request, gone before the answer
        try:
            raw(port, b"POST /api/v2/process HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n" + image[:5000],
                read=False)
            raw(port, b"POST /api/v2/process HTTP/1.1\r\nHost: soak\r\nContent-Length: " + str(len(image)).encode() +
                b"\r\n\r\n" + image, read=False)
            stats.add("disconnects", 0, 0.0)
        except OSError as e:
            stats.fail(f"disconnect: {type(e).__name__}")

    def slow():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\n")
                t = time.monotonic()
                while not stop.is_set() and time.monotonic() - t < 25:
                    s.sendall(b"X")
                    time.sleep(2)
                    s.settimeout(0.01)
                    try:
                        if s.recv(4096) == b"":
                            break
                    except socket.timeout:
                        pass
                    except OSError:
                        break
                    s.settimeout(30)
            stats.add("slow clients", 0, time.monotonic() - t)
        except OSError:
            stats.add("slow clients", 0, 0.0)  # the server closed it mid-trickle: its deadline

    loop("process", 0.2, process)
    loop("share", 3.0, share)
    loop("warmup", 5.0, timed_status("/api/v2/warmup", lambda: call(port, "POST", "/api/v2/warmup")[0]))
    loop("healthz", 1.0, timed_status("/healthz", lambda: call(port, "GET", "/healthz")[0]))
    loop("readyz", 1.0, timed_status("/readyz", lambda: call(port, "GET", "/readyz")[0]))
    loop("metrics", 10.0, timed_status("/metrics", lambda: call(port, "GET", "/metrics")[0]))
    loop("bad", 1.5, bad_input)
    loop("disconnect", 7.0, disconnect)
    for i in range(4):
        loop(f"slow{i}", 1.0, slow)
    return threads


def sample(pid):
    status = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) * 1024
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    return {"rss_bytes": rss, "threads": threads, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None


def plot(result, path):
    samples, windows = result["samples"], result["latency"]
    W, H, L, B = 820, 420, 70, 40
    t_max = max(s["minute"] for s in samples) or 1
    rss = [s["rss_bytes"] / 2**20 for s in samples]
    lo, hi = min(rss) * 0.98, max(rss) * 1.02
    sx = lambda m: L + m / t_max * (W - L - 80)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{L}" y="18" font-size="13">Soak, {result["minutes"]:.0f} min: server RSS each minute (MiB, '
           'top) and p99 latency per 5-minute window (s, bottom)</text>']
    top = (30, 200)
    sy = lambda v: top[1] - (v - lo) / (hi - lo or 1) * (top[1] - top[0])  # noqa: E731
    out.append('<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="' +
               " ".join(f"{sx(s['minute']):.1f},{sy(r):.1f}" for s, r in zip(samples, rss)) + '"/>')
    for v in (lo, (lo + hi) / 2, hi):
        out.append(f'<text x="8" y="{sy(v) + 4:.1f}">{v:.1f} MiB</text>')
    bottom = (230, H - B)
    endpoints = sorted({e for e in windows})
    p99 = [w["p99_s"] for e in endpoints for w in windows[e] if w["p99_s"] is not None]
    top99 = max(p99) * 1.1 if p99 else 1
    sy2 = lambda v: bottom[1] - v / top99 * (bottom[1] - bottom[0])  # noqa: E731
    colors = ["#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#e377c2", "#7f7f7f"]
    shown = [e for e in endpoints if not e.startswith("bad: ")][: len(colors)]
    for e, color in zip(shown, colors):
        pts = [(w["window"] * 5 + 2.5, w["p99_s"]) for w in windows[e] if w["p99_s"] is not None]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="' +
                   " ".join(f"{sx(m):.1f},{sy2(v):.1f}" for m, v in pts) + '"/>')
        if pts:
            out.append(f'<text x="{sx(pts[-1][0]) + 4:.1f}" y="{sy2(pts[-1][1]) + 4:.1f}" fill="{color}">{e}</text>')
    for v in (0, top99 / 2, top99):
        out.append(f'<text x="8" y="{sy2(v) + 4:.1f}">{v:.2f} s</text>')
    for m in range(0, int(t_max) + 1, 5):
        out.append(f'<text x="{sx(m) - 6:.1f}" y="{H - 16}">{m} min</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cutout", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--out")
    ap.add_argument("--plot")
    args = ap.parse_args()
    image = open(args.image, "rb").read()
    data_dir = tempfile.mkdtemp(prefix="cutout-soak-")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "hardening"))
    from slow_clients_test import start_server
    proc, port = start_server(args.cutout, data_dir, baseline=True,
                              extra=["--max-body-bytes", str(2 << 20), "--header-timeout-s", "10"])
    while True:
        try:
            if call(port, "GET", "/readyz", timeout=5)[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.5)
    t0 = time.monotonic()
    stats, stop = Stats(t0), threading.Event()
    samples = [dict(minute=0.0, **sample(proc.pid))]
    threads = run_traffic(port, image, stats, stop, limits=10**6)
    end = t0 + args.minutes * 60
    while time.monotonic() < end and proc.poll() is None:
        time.sleep(max(0.0, min(60 - (time.monotonic() - t0) % 60, end - time.monotonic())))
        samples.append(dict(minute=round((time.monotonic() - t0) / 60, 2), **sample(proc.pid)))
        s = samples[-1]
        print(f"  minute {s['minute']:5.1f}: RSS {s['rss_bytes'] / 2**20:7.1f} MiB, {s['fds']} fds, "
              f"{s['threads']} threads, {sum(stats.status.values())} requests", flush=True)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    running = proc.poll() is None
    proc.terminate()
    proc.wait(timeout=60)
    by_status = collections.defaultdict(dict)
    for (endpoint, status), n in sorted(stats.status.items()):
        by_status[endpoint][str(status)] = n
    latency = collections.defaultdict(list)
    for (endpoint, window), values in sorted(stats.latency.items()):
        latency[endpoint].append({"window": window, "n": len(values), "p50_s": pct(values, 0.5),
                                  "p99_s": pct(values, 0.99)})
    after5 = [s for s in samples if s["minute"] >= 5]
    growth = (after5[-1]["rss_bytes"] / after5[0]["rss_bytes"] - 1) if len(after5) >= 2 else None
    result = {"minutes": args.minutes, "server_running_at_end": running, "requests_by_status": by_status,
              "client_errors": dict(stats.errors), "latency": latency, "samples": samples,
              "rss_growth_minute5_to_end": growth,
              "fds_minute5_to_end": [min(s["fds"] for s in after5), max(s["fds"] for s in after5)] if after5 else None,
              "threads_minute5_to_end": [min(s["threads"] for s in after5), max(s["threads"] for s in after5)]
              if after5 else None,
              "status_5xx": sum(n for (e, st), n in stats.status.items() if 500 <= st < 600)}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    if args.plot:
        plot(result, args.plot)
    print(json.dumps({k: result[k] for k in ("server_running_at_end", "status_5xx", "rss_growth_minute5_to_end",
                                             "fds_minute5_to_end", "threads_minute5_to_end", "client_errors")}))
    for endpoint, counts in by_status.items():
        print(f"  {endpoint:32s} {counts}")
    ok = running and result["status_5xx"] == 0 and (growth is None or growth < 0.01)
    print("soak: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
