#!/usr/bin/python3
"""Slow and idle clients cannot starve `cutout serve` (issue 12, part 1), against the real binary.

Opens 500 hostile connections at once -- a third trickle their request headers (a byte every two
seconds), a third send headers and then stall mid-body, a third connect and say nothing -- and,
while they are held, measures /healthz and /readyz (a fresh connection each, as a probe does) and
process requests from well-behaved clients against the same requests measured before the attack,
in the same run. Then checks that the server closes each kind after its deadline (not before, and
not much after), and that connections beyond --max-connections are refused at once with SPEC §3's
JSON. Prints the figures as one JSON line at the end.

  slow_clients_test.py --cutout BIN --image JPEG [--baseline] [--probes N]
  (--baseline: the server has no deadline or connection flags; measure only, assert nothing)
"""
import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy"))
from local_checks import check, finish  # noqa: E402

HOSTILE = 500
# The deadlines the server is started with. Under a sanitizer a process request takes 3-10 times
# as long, so scripts/test_sanitizers.sh stretches them (CUTOUT_TEST_TIME_SCALE) to keep the hostile
# connections open for the whole measurement; what is checked stays the same.
SCALE = max(1.0, float(os.environ.get("CUTOUT_TEST_TIME_SCALE", "1")))
HEADER_S, BODY_S, IDLE_S = round(12 * SCALE), round(12 * SCALE), round(6 * SCALE)
MAX_CONNECTIONS = 700


def start_server(cutout, data_dir, baseline, extra=()):
    """`cutout serve` on a free port, its log in data_dir/server.log; (process, port)."""
    args = [cutout, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir, *extra]
    if not baseline:
        args += ["--header-timeout-s", str(HEADER_S), "--body-timeout-s", str(BODY_S),
                 "--keepalive-timeout-s", str(IDLE_S), "--max-connections", str(MAX_CONNECTIONS)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUTOUT_") and k != "PORT"}
    log = open(os.path.join(data_dir, "server.log"), "w+")  # a file: a pipe left unread would stall it
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    for _ in range(300):
        log.seek(0)
        m = re.search(r'"message":\s*"listening".*?"port":\s*(\d+)', log.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


async def request(port, raw, timeout=10.0):
    """(status, headers dict, body bytes, seconds) of one request on a fresh connection."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if ":" in h)}
        body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), timeout)
        return status, headers, body, time.perf_counter() - t0
    finally:
        writer.close()


def get(path):
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


def process(image):
    return (b"POST /api/v2/process?effects=color&max_side=320 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: image/jpeg\r\nContent-Length: " + str(len(image)).encode() + b"\r\n\r\n" + image)


async def latencies(port, raw, n, timeout):
    """Seconds of each of n requests (fresh connections) answered 200, and how many were not."""
    out, failed = [], 0
    for _ in range(n):
        try:
            status, _, _, s = await request(port, raw, timeout=timeout)
            if status == 200:
                out.append(s)
            else:
                failed += 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            failed += 1
    return out, failed


def probe_latencies(port, path, n):
    return latencies(port, get(path), n, 2.0)


def process_latencies(port, image, n, timeout=60.0):
    return latencies(port, process(image), n, timeout)


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


class Hostile:
    """One hostile connection; `closed_after` is when the server closed it (s after connecting)."""

    def __init__(self, kind):
        self.kind, self.closed_after, self.answer, self.connected = kind, None, b"", False

    async def run(self, port, stop):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        self.connected = True
        t0 = time.perf_counter()
        if self.kind == "stall-body":
            writer.write(b"POST /api/v2/process HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                         b"Content-Length: 1000000\r\n\r\n" + b"\xff" * 1000)
        elif self.kind == "trickle":
            writer.write(b"GET /healthz HTTP/1.1\r\n")
        try:
            await writer.drain()
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(4096), 2.0)
                except asyncio.TimeoutError:
                    if self.kind == "trickle":
                        writer.write(b"X")  # one byte of an endless header every two seconds
                        await writer.drain()
                    continue
                if not data:
                    break
                self.answer += data
            else:
                return
        except (ConnectionError, OSError):
            pass
        self.closed_after = time.perf_counter() - t0
        writer.close()


async def main_async(args):
    image = open(args.image, "rb").read()
    data_dir = tempfile.mkdtemp(prefix="cutout-slow-")
    proc, port = start_server(args.cutout, data_dir, args.baseline)
    fig = {}
    try:
        for _ in range(600):
            try:
                if (await request(port, get("/readyz"), 2.0))[0] == 200:
                    break
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                pass
            await asyncio.sleep(0.2)
        await process_latencies(port, image, 1)  # the first process request after warm-up
        base_h, _ = await probe_latencies(port, "/healthz", 200)
        base_p, _ = await process_latencies(port, image, 3)
        fig["before"] = {"healthz_p50_ms": pct(base_h, 0.5) * 1e3, "healthz_p99_ms": pct(base_h, 0.99) * 1e3,
                         "process_p50_s": pct(base_p, 0.5)}

        stop = asyncio.Event()
        hostile = [Hostile(("trickle", "stall-body", "idle")[i % 3]) for i in range(HOSTILE)]
        tasks = [asyncio.create_task(h.run(port, stop)) for h in hostile]
        await asyncio.sleep(1.5)  # every connection is open and has sent what it sends
        t_attack = time.perf_counter()
        still_open = {}

        async def held(name, measurement):
            """The measurement's result; notes how many hostile connections were open at its end."""
            result = await measurement
            still_open[name] = sum(h.connected and h.closed_after is None for h in hostile)
            return result

        (h_lat, h_fail), (r_lat, r_fail), (p_lat, p_fail) = await asyncio.gather(
            held("healthz", probe_latencies(port, "/healthz", args.probes)),
            held("readyz", probe_latencies(port, "/readyz", args.probes)),
            held("process", process_latencies(port, image, 3, 20.0 if args.baseline else 60.0)))
        fig["under_attack"] = {
            "hostile_connected": sum(h.connected for h in hostile),
            "still_open_after": still_open,
            "probe_window_s": time.perf_counter() - t_attack,
            "healthz_p50_ms": pct(h_lat, 0.5) * 1e3, "healthz_p99_ms": pct(h_lat, 0.99) * 1e3, "healthz_failed": h_fail,
            "readyz_p50_ms": pct(r_lat, 0.5) * 1e3, "readyz_p99_ms": pct(r_lat, 0.99) * 1e3, "readyz_failed": r_fail,
            "process_p50_s": pct(p_lat, 0.5), "process_failed": p_fail}
        wait = max(HEADER_S, BODY_S) + 8 if not args.baseline else 20
        await asyncio.wait(tasks, timeout=wait)
        stop.set()
        await asyncio.gather(*tasks)
        closes = {}
        for kind in ("trickle", "stall-body", "idle"):
            t = [h.closed_after for h in hostile if h.kind == kind and h.connected]
            done = [x for x in t if x is not None]
            closes[kind] = {"connected": len(t), "closed": len(done),
                            "closed_after_s_min": min(done) if done else None,
                            "closed_after_s_max": max(done) if done else None,
                            "answered_408": sum(h.answer.startswith(b"HTTP/1.1 408") for h in hostile if h.kind == kind)}
        fig["deadlines"] = closes

        if not args.baseline:
            # the limit: fill it with idle connections, then one more is refused at once
            held = []
            for _ in range(MAX_CONNECTIONS):
                held.append(await asyncio.open_connection("127.0.0.1", port))
            await asyncio.sleep(0.5)
            t0 = time.perf_counter()
            try:
                refused = await request(port, get("/healthz"), timeout=5.0)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                refused = (None, {}, repr(e).encode(), time.perf_counter() - t0)
            fig["limit"] = {"status": refused[0], "seconds": refused[3], "body": refused[2][:200].decode("latin-1"),
                            "request_id": refused[1].get("x-request-id")}
            for _, w in held:
                w.close()
            await asyncio.sleep(1.0)
            fig["after"] = {"healthz": (await request(port, get("/healthz"), 5.0))[0]}
        exit_code = proc.poll()
        fig["server_running"] = exit_code is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return fig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cutout", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--probes", type=int, default=200, help="/healthz and /readyz requests under attack")
    args = ap.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    fig = asyncio.run(main_async(args))
    print(json.dumps(fig))
    if args.baseline:
        return 0
    a, d = fig["under_attack"], fig["deadlines"]
    check(fig["server_running"], "the server is still running")
    check(a["hostile_connected"] == HOSTILE, f"{a['hostile_connected']} of {HOSTILE} hostile connections open")
    for name, n in a["still_open_after"].items():
        check(n >= HOSTILE * 0.9, f"{n} hostile connections still open when the {name} requests finished")
    check(a["healthz_failed"] == 0 and a["healthz_p99_ms"] <= 50, f"/healthz p99 {a['healthz_p99_ms']:.1f} ms <= 50, "
          f"{a['healthz_failed']} failed")
    check(a["readyz_failed"] == 0 and a["readyz_p99_ms"] <= 50, f"/readyz p99 {a['readyz_p99_ms']:.1f} ms <= 50, "
          f"{a['readyz_failed']} failed")
    b = fig["before"]["process_p50_s"]
    check(a["process_failed"] == 0 and a["process_p50_s"] <= 2.0 * b + 0.5,
          f"process p50 {a['process_p50_s']:.2f} s under attack vs {b:.2f} s before (wide margin: 2x + 0.5 s)")
    for kind, deadline in (("trickle", HEADER_S), ("stall-body", BODY_S), ("idle", HEADER_S)):
        c = d[kind]
        check(c["closed"] == c["connected"], f"{kind}: {c['closed']} of {c['connected']} closed by the server")
        if c["closed"]:
            check(c["closed_after_s_min"] >= deadline - 1 and c["closed_after_s_max"] <= deadline + 6,
                  f"{kind}: closed after {c['closed_after_s_min']:.1f}-{c['closed_after_s_max']:.1f} s "
                  f"(deadline {deadline} s)")
    check(d["trickle"]["answered_408"] == d["trickle"]["connected"], "trickling clients are told 408")
    lim = fig["limit"]
    check(lim["status"] == 503 and lim["seconds"] < 1.0 and '"error"' in lim["body"] and lim["request_id"],
          f"beyond {MAX_CONNECTIONS} connections: {lim['status']} in {lim['seconds'] * 1e3:.0f} ms with a JSON error")
    check(fig["after"]["healthz"] == 200, "/healthz answers once they are gone")
    return finish("slow clients")


if __name__ == "__main__":
    sys.exit(main())
