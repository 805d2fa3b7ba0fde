#!/usr/bin/python3
"""`cutout warmer replay` on the six synthetic traces of scripts/make_warmer_traces.py: every policy
is replayed, the accounting is sane (min-instances has no cold start, a ping every 14 minutes none
and costs at least what `none` does, every policy sees the same requests), the predictive warmer
never has more cold starts than `none`, and the SVG plot is well-formed. Prints each table: the
figures docs/OPERATIONS.md reports.

  check_warmer_replay.py --cutout BIN --traces DIR [--plots DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_checks import check, failures, finish  # noqa: E402

TRACES = {  # the zone each trace's daily rhythm lives in (scripts/make_warmer_traces.py)
    "busy-office": "Europe/Berlin", "busy-consumer": "America/New_York", "launch-ramp": "Europe/London",
    "sparse-office": "Europe/Berlin", "sparse-daily-batch": "Asia/Tokyo", "bursty-api": "UTC",
}
POLICIES = ["none", "fixed-ping:14m", "min-instances:1", "hybrid-histogram", "predictive-static", "predictive"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cutout", required=True)
    ap.add_argument("--traces", required=True)
    ap.add_argument("--plots", default=None)
    args = ap.parse_args()
    for name, zone in TRACES.items():
        path = os.path.join(args.traces, name + ".csv")
        plot = os.path.join(args.plots or "/tmp", f"warmer-{name}.svg")
        out = subprocess.run([args.cutout, "warmer", "replay", "--counts", path, "--tz", zone, "--json", "--plot", plot],
                             capture_output=True, text=True, timeout=120)
        if not check(out.returncode == 0, f"{name}: replay exits 0 {out.stderr.strip()[:200]}"):
            continue
        j = json.loads(out.stdout)
        r = {p["policy"]: p for p in j["policies"]}
        check(list(r) == POLICIES, f"{name}: the six policies")
        none = r["none"]
        print(f"  {name} ({zone}), {j['eval_start'][:10]} .. {j['eval_end'][:10]}, {none['requests']} requests:")
        for p in j["policies"]:
            print(f"    {p['policy']:<18} cold {p['cold_starts']:4d} ({p['cold_vs_none']:.3f}x)  pings {p['pings']:4d}  "
                  f"instance {p['instance_s'] / 3600:7.2f} h ({p['instance_s_vs_none']:.3f}x)  idle ${p['idle_cost_usd']:.2f}")
        check(none["cold_starts"] > 0, f"{name}: scale-to-zero has cold starts")
        check(len({p["requests"] for p in j["policies"]}) == 1, f"{name}: every policy sees the same requests")
        check(r["min-instances:1"]["cold_starts"] == 0 and r["fixed-ping:14m"]["cold_starts"] == 0,
              f"{name}: min-instances and a 14-minute ping have no cold start")
        check(r["fixed-ping:14m"]["instance_s"] >= none["instance_s"], f"{name}: pinging costs instance time")
        check(r["predictive"]["cold_starts"] <= none["cold_starts"], f"{name}: the predictive warmer never adds cold starts")
        check(all(p["busy_s"] <= p["instance_s"] for p in j["policies"]), f"{name}: busy <= up")
        try:
            root = ET.parse(plot).getroot()
            check(root.tag.endswith("svg") and len(root) > 10, f"{name}: the plot is an SVG with content")
        except ET.ParseError as e:
            check(False, f"{name}: the plot is not well-formed XML: {e}")
    return finish("warmer replay")


if __name__ == "__main__":
    sys.exit(main())
