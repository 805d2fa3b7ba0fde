#!/usr/bin/python3
"""Cold start against warm latency at 1 and 2 threads, in one run (docs/OPERATIONS.md, "Threads").

  bench/threads_bench.py [--build build] [--rounds 3] [--threads 1,2]

The replaced system claimed that fewer threads gave a 10 % faster cold start for a 5 % slower warm
request. For each thread count, in interleaved rounds (so that a noisy spell on the shared machine
hits every setting alike): exec -> /readyz 200, exec -> the first /api/v2/process response (the
request is sent as soon as the port accepts), and the server time of warm process requests
(1024x1024 JPEG, four effects, PNG). Ratios are to the 2-thread figures of the same run, and the
baseline is `cutout bench`'s bare Session::Run at 2 threads, measured first. Python standard
library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_bench import ROOT, Server, baseline_ms, process  # noqa: E402


def one_round(binary, photo, threads, warm_runs):
    env = {"CUTOUT_THREADS": str(threads)}
    s = Server(binary, env=env)
    ready = s.wait("/readyz")
    warm = []
    for _ in range(warm_runs):
        status, _, out = process(s, photo)
        assert status == 200, status
        warm.append(json.loads(out)["timings_ms"]["total"])
    s.stop()
    s = Server(binary, env=env)
    while True:  # as soon as the port accepts
        try:
            status, _, _ = process(s, photo)
            break
        except OSError:
            time.sleep(0.005)
    first = time.monotonic() - s.start
    assert status == 200, status
    s.stop()
    return ready, first, warm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warm-runs", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    binary = os.path.join(args.build, "cutout")
    data = os.path.join(args.build, "bench-data")
    os.makedirs(data, exist_ok=True)
    path = os.path.join(data, "photo_1024.jpg")
    if not os.path.exists(path):
        src = os.path.join(ROOT, "..", "shared", "eval", "grabcut", "images", "person1.jpg")
        subprocess.run([os.path.join(args.build, "make_bench_image"), src, path, "1024", "1024"], check=True)
    photo = open(path, "rb").read()
    counts = [int(t) for t in args.threads.split(",")]

    base = baseline_ms(binary, path)
    print(f"baseline: bare Session::Run median {base:.0f} ms (cutout bench, default threads)")
    results = {t: {"ready_s": [], "first_s": [], "warm_ms": []} for t in counts}
    for r in range(args.rounds):
        for t in counts:
            ready, first, warm = one_round(binary, photo, t, args.warm_runs)
            results[t]["ready_s"].append(ready)
            results[t]["first_s"].append(first)
            results[t]["warm_ms"].extend(warm)
            print(f"round {r + 1}, {t} thread(s): ready {ready:.2f} s, first response {first:.2f} s, "
                  f"warm {', '.join(f'{w:.0f}' for w in warm)} ms", flush=True)

    ref = max(counts)
    med = {t: {k: statistics.median(v) for k, v in results[t].items()} for t in counts}
    print(f"\n| threads | exec -> /readyz | exec -> first response | warm process (server total) |")
    print("|---|---|---|---|")
    for t in counts:
        m = med[t]
        print(f"| {t} | {m['ready_s']:.2f} s ({m['ready_s'] / med[ref]['ready_s']:.2f}x) "
              f"| {m['first_s']:.2f} s ({m['first_s'] / med[ref]['first_s']:.2f}x) "
              f"| {m['warm_ms']:.0f} ms ({m['warm_ms'] / med[ref]['warm_ms']:.2f}x; {m['warm_ms'] / base:.2f}x baseline) |")
    with open(os.path.join(data, "threads_bench.json"), "w") as f:
        json.dump({"baseline_bare_run_ms": base, "results": results, "medians": med}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
