#!/usr/bin/env python3
"""The best any warmer could do on the synthetic traces: an oracle that knows the true rates.

Usage: warmer_bound.py [--cutout BIN] [--trace NAME ...] [--json]   (standard library only)

`cutout warmer replay` judges policies that learn from past traffic. This asks what is possible at
all: scripts/make_warmer_traces.py draws every trace from a known random process, so for its
evaluation week (the last 7 days) we know the exact expected number of idle-ending arrivals in each
minute -- every request of a rate trace; the first request of each session, burst or batch of an
event trace -- given the draws made for each day (volume, jitter, number of sessions). No policy
that sees only past requests can know more than that. For Poisson arrivals with known rates, the
optimal causal policy is Markov in (minute, minutes left before the instance scales down), so a
dynamic programme over those states finds it exactly (at one-minute resolution):

  each minute, with k in 0..T minutes left (0 = scaled to zero), the policy may ping (k := T, and an
  instance starts if there was none); a request comes with probability 1 - exp(-rate): it is a cold
  start if k was 0, and sets k := T; the minute costs 60 instance-seconds if the instance was up.
  Minimise  worth x E[cold starts] + E[instance-seconds];  sweeping `worth` traces the frontier
  (E[cold]/E[cold of none], E[instance-s]/E[instance-s of none]), and mixing two policies reaches
  any point on the segment between them, so the frontier is the lower convex hull of the sweep.

The frontier is the best trade-off on average over the random arrivals; one realised week lands
near it, not on it. For the event traces the DP treats cluster starts as Poisson with the true
rates: exact in the limit for sessions and bursts drawn i.i.d. from a curve, optimistic for the
one daily batch, whose start is uniform over +-5 minutes -- a policy could do slightly better there
than the Poisson model says by knowing the batch comes exactly once. The question it answers: at
the issue's instance budget (1.08x `none` for busy traces, 1.2x for sparse), how few cold starts
are possible? With --cutout, the learned policies' replay on the same week is printed beside it.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
from datetime import timedelta
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_warmer_traces as traces  # noqa: E402

EVAL_DAYS = 7
IDLE_MIN = 15  # the platform's idle timeout (replay's --idle-timeout-s 900)
BUDGET = {"busy-office": 1.08, "busy-consumer": 1.08, "launch-ramp": 1.08, "bursty-api": 1.08,
          "sparse-office": 1.2, "sparse-daily-batch": 1.2}
WORTHS = [0] + [round(10 * 1.25 ** i) for i in range(56)]  # instance-seconds per cold start, to 2.7e6
LEARNED_WORTHS = [600, 900, 1200, 1800, 2700, 3600]  # `warmer replay --worth-s` for the learned policy


def eval_rates(name):
    """Per-minute arrival probability over the evaluation week, and its first minute (UTC)."""
    _, generate, zone, start, seed = next(t for t in traces.TRACES if t[0] == name)
    rates = {}
    generate(random.Random(seed), ZoneInfo(zone), start, rates)
    first = start + timedelta(days=traces.DAYS - EVAL_DAYS)
    minutes = [first + timedelta(minutes=m) for m in range(EVAL_DAYS * 1440)]
    return [1 - math.exp(-rates.get(t, 0.0)) for t in minutes], first


def optimal(p, worth):
    """The DP: (expected cold starts, expected instance-seconds) of the optimal policy for `worth`."""
    T = IDLE_MIN
    nxt = [0.0] * (T + 1)
    decide = [None] * len(p)
    for m in range(len(p) - 1, -1, -1):
        q = p[m]
        after_request = nxt[T]
        # k > 0 without a ping: up this minute; a request resets to T, none counts down
        wait = [0.0] * (T + 1)
        for k in range(1, T + 1):
            wait[k] = 60 + q * after_request + (1 - q) * nxt[k - 1]
        wait[0] = q * (worth + 60 + after_request) + (1 - q) * nxt[0]  # down: a request is cold
        ping = 60 + q * after_request + (1 - q) * nxt[T - 1]  # up from now on with T minutes left
        choice = [ping < wait[k] for k in range(T + 1)]
        decide[m] = choice
        nxt = [ping if choice[k] else wait[k] for k in range(T + 1)]
    return forward(p, decide)


def forward(p, decide):
    T = IDLE_MIN
    dist = [1.0] + [0.0] * T  # scaled to zero when the week starts
    cold = inst = 0.0
    for m, q in enumerate(p):
        new = [0.0] * (T + 1)
        for k, mass in enumerate(dist):
            if mass == 0:
                continue
            if decide is not None and decide[m][k]:
                k = T  # a ping tops the instance up (or starts it)
            if k == 0:
                cold += mass * q
                inst += mass * q * 60
                new[T] += mass * q
                new[0] += mass * (1 - q)
            else:
                inst += mass * 60
                new[T] += mass * q
                new[k - 1] += mass * (1 - q)
        dist = new
    return cold, inst


def frontier(p):
    none_cold, none_inst = forward(p, None)
    points = sorted({(c / none_cold, i / none_inst) for c, i in (optimal(p, w) for w in WORTHS)},
                    key=lambda pt: pt[1])
    hull = []  # lower convex hull of cold ratio as a function of instance ratio
    for pt in points:
        while len(hull) >= 2 and cross(hull[-2], hull[-1], pt) <= 0:
            hull.pop()
        hull.append(pt)
    return none_cold, none_inst, hull


def cross(a, b, c):
    return (b[1] - a[1]) * (c[0] - a[0]) - (b[0] - a[0]) * (c[1] - a[1])


def best_at(hull, budget):
    """Fewest cold starts (ratio to none) at instance ratio <= budget, on the hull."""
    best = hull[0][0]
    for (c0, i0), (c1, i1) in zip(hull, hull[1:]):
        if i1 <= budget:
            best = c1
        elif i0 <= budget:
            best = c0 + (c1 - c0) * (budget - i0) / (i1 - i0)
    return best


def replay(cutout, traces_dir, name, zone, first):
    """(cold ratio, instance ratio) against `none` of hybrid-histogram and of predictive per worth."""
    points = {}
    for worth in LEARNED_WORTHS:
        out = subprocess.run([cutout, "warmer", "replay", "--counts", os.path.join(traces_dir, name + ".csv"),
                              "--tz", zone, "--worth-s", str(worth), "--json", "--policy", "none",
                              "--policy", "hybrid-histogram", "--policy", "predictive"],
                             check=True, capture_output=True, text=True).stdout
        report = json.loads(out)
        assert report["eval_start"].startswith(first.strftime("%Y-%m-%dT%H:%M")), "eval week differs"
        for r in report["policies"]:
            key = f"predictive:{worth}" if r["policy"] == "predictive" else r["policy"]
            points[key] = (r["cold_vs_none"], r["instance_s_vs_none"], r["cold_starts"])
    return points


def plot(rows):
    """An SVG, one panel per trace: the oracle's frontier, the learned policies, the issue's goal."""
    W, H, PAD, Y1 = 330, 250, 44, 1.05
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{3 * W}" height="{2 * H + 60}" '
           'font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="18" font-size="13">Cold starts (y) against instance time (x), both as ratios to '
           '`none`, on each trace\'s evaluation week.</text>',
           '<text x="10" y="36" font-size="13">Line: the oracle\'s frontier (no policy can go below it on '
           'average). Dots: predictive, --worth-s 600..3600. Square: hybrid-histogram. Green: the goal.</text>']
    for n, r in enumerate(rows):
        ox, oy = (n % 3) * W, 62 + (n // 3) * H
        x1 = 1.4 if max(inst for key, (_, inst, _) in r["replay"].items() if key.startswith("pred")) <= 1.4 else 3.5
        sx = lambda i: ox + PAD + (i - 1) / (x1 - 1) * (W - PAD - 14)  # noqa: E731
        sy = lambda c: oy + 24 + (1 - c / Y1) * (H - PAD - 24)  # noqa: E731
        goal = 0.25 if r["budget"] < 1.1 else 0.7
        out.append(f'<clipPath id="c{n}"><rect x="{sx(1):.1f}" y="{sy(Y1):.1f}" width="{sx(x1) - sx(1):.1f}" '
                   f'height="{sy(0) - sy(Y1):.1f}"/></clipPath>')
        out.append(f'<rect x="{sx(1):.1f}" y="{sy(goal):.1f}" width="{sx(r["budget"]) - sx(1):.1f}" '
                   f'height="{sy(0) - sy(goal):.1f}" fill="#cfe8cf"/>')
        out.append(f'<text x="{ox + PAD}" y="{oy + 2}" font-size="12">{r["trace"]}</text>')
        out.append(f'<text x="{ox + PAD}" y="{oy + 15}" font-size="10">goal: &#8804; {goal}x cold at '
                   f'&#8804; {r["budget"]}x instance time</text>')
        step = 0.1 if x1 < 2 else 0.5
        for k in range(int(round((x1 - 1) / step)) + 1):
            v = 1 + k * step
            out.append(f'<text x="{sx(v) - 8:.1f}" y="{sy(0) + 14:.1f}">{v:.1f}</text>')
        for v in (0, 0.25, 0.5, 0.75, 1.0):
            out.append(f'<text x="{ox + 8}" y="{sy(v) + 4:.1f}">{v:.2f}</text>')
        out.append(f'<polyline fill="none" stroke="#888" points="{sx(1):.1f},{sy(Y1):.1f} {sx(1):.1f},{sy(0):.1f} '
                   f'{sx(x1):.1f},{sy(0):.1f}"/>')
        line = " ".join(f"{sx(i):.1f},{sy(c):.1f}" for c, i in r["frontier"])
        out.append(f'<polyline fill="none" stroke="#222" stroke-width="1.5" clip-path="url(#c{n})" points="{line}"/>')
        for key, (cold, inst, _) in r["replay"].items():
            x, y = sx(min(inst, x1)), sy(cold)
            if inst > x1:  # off the chart: at the edge, with its figure
                out.append(f'<text x="{x - 34:.1f}" y="{y - 6:.1f}" font-size="10">{inst:.1f}x &#8594;</text>')
            if key.startswith("predictive"):
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#d62728"><title>{key}: '
                           f'{cold:.3f}, {inst:.3f}</title></circle>')
            elif key == "hybrid-histogram":
                out.append(f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#1f77b4">'
                           f'<title>hybrid-histogram: {cold:.3f}, {inst:.3f}</title></rect>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cutout", help="the cutout binary: print the replay of the learned policies too")
    ap.add_argument("--traces", help="folder of the trace files for --cutout (default: beside the binary)")
    ap.add_argument("--svg", help="with --cutout: write a plot of the frontiers")
    ap.add_argument("--trace", action="append", help="only these traces (default: all six)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    names = args.trace or [t[0] for t in traces.TRACES]
    rows = []
    for name in names:
        zone = next(t[2] for t in traces.TRACES if t[0] == name)
        p, first = eval_rates(name)
        none_cold, none_inst, hull = frontier(p)
        row = {"trace": name, "budget": BUDGET[name], "model_none_cold": none_cold,
               "model_none_instance_h": none_inst / 3600, "frontier": hull,
               "best_cold_ratio_at_budget": best_at(hull, BUDGET[name])}
        if args.cutout:
            traces_dir = args.traces or os.path.join(os.path.dirname(args.cutout), "warmer_traces")
            row["replay"] = replay(args.cutout, traces_dir, name, zone, first)
        rows.append(row)
    if args.svg and args.cutout:
        with open(args.svg, "w") as f:
            f.write(plot(rows))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"oracle bound over the evaluation week (idle timeout {IDLE_MIN} min); ratios against `none`")
    for r in rows:
        print(f"\n{r['trace']}: model none {r['model_none_cold']:.1f} cold starts, "
              f"{r['model_none_instance_h']:.1f} instance-h; at <= {r['budget']:.2f}x instance time the "
              f"oracle gets at best {r['best_cold_ratio_at_budget']:.3f}x the cold starts")
        print("  frontier (instance ratio -> cold ratio): " +
              ", ".join(f"{i:.3f}->{c:.3f}" for c, i in r["frontier"] if i <= 1.6))
        for policy, (cold, inst, n) in r.get("replay", {}).items():
            print(f"  replay {policy:17s} cold {n:4d}  cold/none {cold:.3f}  inst/none {inst:.3f}"
                  f"  (oracle at that instance time: {best_at(r['frontier'], inst):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
