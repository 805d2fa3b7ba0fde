#!/usr/bin/python3
"""`cutout warmer plan --cloud-scheduler` and `--cronjob`, checked: the generated gcloud commands
parse (shlex) with the flags Cloud Scheduler takes and valid cron schedules; the CronJob list is
valid YAML of batch/v1 CronJobs whose command the image's `cutout warmer ping` accepts; and both
fire at exactly the plan's pings (each ping's local weekday, hour and minute in the plan's zone,
computed here with Python's zoneinfo, is one cron entry's, and each entry fires for some ping).

  check_warmer_exports.py --cutout BIN --counts TRACE --tz ZONE --from TIME
"""
import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import zoneinfo

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_checks import check, failures, finish  # noqa: E402

URL = "https://cutout-test.a.run.app"


def plan(cutout, args, *extra):
    out = subprocess.run([cutout, "warmer", "plan", "--counts", args.counts, "--tz", args.tz, "--from", args.from_,
                          "--target", URL, *extra], capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, f"warmer plan {' '.join(extra)} exits 0 ({out.stderr.strip()[:200]})")
    return out.stdout


def parse_cron(schedule):
    """(minute, hour, weekdays) of a 'M H * * D,D' schedule, or None when it is not one."""
    fields = schedule.split()
    if len(fields) != 5 or fields[2:4] != ["*", "*"]:
        return None
    try:
        minute, hour = int(fields[0]), int(fields[1])
        days = [int(d) for d in fields[4].split(",")]
    except ValueError:
        return None
    if not (0 <= minute < 60 and 0 <= hour < 24 and days and all(0 <= d <= 6 for d in days)):
        return None
    return minute, hour, sorted(days)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cutout", required=True)
    ap.add_argument("--counts", required=True)
    ap.add_argument("--tz", required=True)
    ap.add_argument("--from", dest="from_", required=True)
    args = ap.parse_args()

    j = json.loads(plan(args.cutout, args, "--json"))
    check(len(j["pings"]) > 0, f"the plan has pings ({len(j['pings'])}) and windows ({len(j['windows'])})")
    cron = {c["name"]: parse_cron(c["schedule"]) for c in j["cron"]}
    check(all(v is not None for v in cron.values()), f"every cron schedule is 'M H * * DAYS': {j['cron'][:3]}")

    # Each ping is one entry's (local time in the zone, computed independently of cutout).
    zone = zoneinfo.ZoneInfo(args.tz)
    fired = set()
    for p in j["pings"]:
        t = datetime.datetime.fromisoformat(p["utc"].replace("Z", "+00:00")).astimezone(zone)
        cron_day = (t.weekday() + 1) % 7
        hits = [n for n, (m, h, days) in cron.items() if m == t.minute and h == t.hour and cron_day in days]
        if not check(len(hits) == 1, f"ping {p['utc']} ({t:%a %H:%M %Z}) is fired by one cron entry: {hits}"):
            break
        fired.add(hits[0])
    check(fired == set(cron), f"every cron entry fires for a ping ({len(fired)} of {len(cron)})")

    # Cloud Scheduler: one gcloud command per entry.
    lines = [l for l in plan(args.cutout, args, "--cloud-scheduler", "--with-api-key").splitlines() if l.strip()]
    check(len(lines) == len(cron), f"{len(lines)} gcloud commands for {len(cron)} cron entries")
    for line in lines:
        argv = shlex.split(line)
        ok = argv[:5] == ["gcloud", "scheduler", "jobs", "create", "http"] and argv[5] in cron
        flags = dict(a[2:].split("=", 1) for a in argv[6:] if a.startswith("--") and "=" in a)
        ok = ok and parse_cron(flags.get("schedule", "")) == cron.get(argv[5] if len(argv) > 5 else "")
        ok = ok and flags.get("time-zone") == args.tz and flags.get("uri") == URL + "/api/v2/warmup"
        ok = ok and flags.get("http-method") == "POST" and flags.get("headers", "").startswith("X-API-Key=")
        ok = ok and set(flags) <= {"location", "schedule", "time-zone", "uri", "http-method", "attempt-deadline",
                                   "max-retry-attempts", "headers"}
        if not check(ok, f"gcloud command for {argv[5] if len(argv) > 5 else '?'}: {line[:160]}"):
            break

    # Kubernetes: a List of CronJobs running `cutout warmer ping`.
    doc = yaml.safe_load(plan(args.cutout, args, "--cronjob", "--with-api-key"))
    check(doc.get("kind") == "List" and doc.get("apiVersion") == "v1", "the CronJob file is a v1 List")
    items = doc.get("items") or []
    check(len(items) == len(cron), f"{len(items)} CronJobs for {len(cron)} cron entries")
    ping_help = subprocess.run([args.cutout, "warmer", "ping", "--help"], capture_output=True, text=True).stdout
    for item in items:
        spec = item.get("spec", {})
        name = item.get("metadata", {}).get("name", "")
        container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        cmd = container.get("args", [])
        ok = item.get("apiVersion") == "batch/v1" and item.get("kind") == "CronJob" and name in cron
        ok = ok and parse_cron(spec.get("schedule", "")) == cron.get(name) and spec.get("timeZone") == args.tz
        ok = ok and cmd[:2] == ["warmer", "ping"] and all(a in ping_help for a in cmd[2:] if a.startswith("--"))
        ok = ok and URL in cmd and spec["jobTemplate"]["spec"]["template"]["spec"].get("restartPolicy") == "Never"
        ok = ok and any(e.get("name") == "CUTOUT_API_KEY" for e in container.get("env", []))
        if not check(ok, f"CronJob {name}: schedule, zone, command"):
            break

    return finish("warmer exports")


if __name__ == "__main__":
    sys.exit(main())
