#!/usr/bin/env python3
"""Synthetic traffic traces for `cutout warmer replay` (SPEC §7, predictive warming).

There is no public trace of this service, so these are built from documented traffic patterns
(office-hours B2B use, evening-heavy consumer use, nightly batch jobs, launches, bursty API clients).
Usage: make_warmer_traces.py OUTDIR [--check]   (Python 3.9+ standard library only)

Every file is in the counts format: header `time,requests`, then one row per UTC minute that had
requests (`2026-11-02T08:03:00Z,3`), sorted, no duplicates. Each trace covers 28 days (4 whole weeks;
replay trains on the first 21 and evaluates on the last 7) starting on a Monday at 00:00 UTC. Traffic is
shaped in a local time zone and converted to UTC with zoneinfo, so DST changes show up as they would
in real logs. Each trace has a fixed seed (random.Random(seed)): output is byte-for-byte reproducible.

Arrival models. "Rate" traces are non-homogeneous Poisson processes: per UTC minute the count is
Poisson(volume_of_local_day * curve(local time - day's jitter) / curve_total), where a curve is
piecewise linear over the local day. "Event" traces place sessions/bursts at times drawn from a curve
(given how many there are, the times of a Poisson process with that rate are i.i.d. with density ∝ rate).

1. busy-office (Europe/Berlin, from 2026-11-02). B2B tool. Weekdays 08:30-18:00: ramp 08:30-10:00,
   plateau, lunch dip to 45 % 12:00-13:30, afternoon peak (130 %) 14:30-15:30, tail-off to 18:00.
   ~500/day ±20 % day-to-day, the whole day shifted by ±20 min (people start at different times).
   Weekends: ~5 % of that (25/day), flat 10:00-20:00.
2. busy-consumer (America/New_York, from 2026-10-12). Consumer app, every day: evening peak 19:00-23:00,
   lunchtime bump 12:00-13:30, afternoon ~35 %, night 7-10 % (never zero). ~340/day ±15 % on weekdays,
   weekends +30 %, jitter ±15 min. DST ends 2026-11-01 06:00 UTC (EDT -4 -> EST -5) on day 20, the last
   training day: the last training week is 6 days EDT + 1 day EST and the whole evaluation week is EST,
   so the local pattern lands one UTC hour later than most of the history. This tests whether a warmer
   adapts (a start of 2026-10-19 would put the change on day 13, outside every window that matters).
3. sparse-office (Europe/Berlin, from 2026-11-02). 20-60 requests per weekday, 0-5 per weekend day, in
   sessions: a user uploads 3-10 photos ~40 s apart (exponential gaps); session starts follow the
   busy-office curve (weekends: 10:00-20:00). Long idle gaps: every session risks a cold start.
4. sparse-daily-batch (Asia/Tokyo, no DST, from 2026-11-02). Every day a job at 02:00 ±5 min local
   (17:00 UTC the day before) sends 30-50 photos spread uniformly over 8-12 min, plus 5-15 scattered
   requests uniform over 09:00-21:00. Perfectly predictable spike plus unpredictable trickle.
5. launch-ramp (Europe/London, from 2026-11-02; UK DST ended 2026-10-25). Nothing for days 0-4. From
   day 5, daily volume 20 + 580*ln(1+0.3(d-5))/ln(1+0.3*22): fast growth then saturating, ~600/day by
   day 27; ±15 % noise; busy-consumer daily curve; weekdays x0.92, weekends x1.2 (weekend +30 %, weekly
   mean 1.0). Day 17 (Thu 2026-11-19) at 21:00 local: a social-media mention, ~300 requests with an
   exponentially decaying rate (mean 8 min) cut at 30 min. Tests non-stationarity and one-off spikes.
6. bursty-api (UTC, from 2026-11-02). An API client sends 3-8 bursts a day of 50-200 requests each,
   uniform over 2-5 min; burst times are Poisson-like with 06:00-22:00 weighted 1.0 and night 0.15.
   No weekly pattern. Individually unpredictable; only the time-of-day weighting is learnable.

--check reads the files back and verifies header, format, sortedness, window, size, prints weekday vs
weekend means per local day, and for a trace spanning a DST change, the UTC shift of its evening peak.
"""
import argparse
import collections
import math
import os
import random
import re
import sys
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
DAYS = 28
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


class Curve:
    """Piecewise-linear rate shape over the local day, points (hour, value) spanning 0..24."""

    def __init__(self, points):
        self.points = points
        per_minute = [self((m + 0.5) / 60) for m in range(1440)]
        self.total = sum(per_minute)  # sum of per-minute values: normalises a day to `volume`
        self.cum = []  # cumulative weights for sampling a time of day
        acc = 0.0
        for w in per_minute:
            acc += w
            self.cum.append(acc)

    def __call__(self, hour):
        hour %= 24
        pts = self.points
        for (h0, v0), (h1, v1) in zip(pts, pts[1:]):
            if h0 <= hour <= h1:
                return v0 if h1 == h0 else v0 + (v1 - v0) * (hour - h0) / (h1 - h0)
        return 0.0

    def sample_hour(self, rng):
        """A time of day (hours) drawn with density proportional to the curve."""
        minute = rng.choices(range(1440), cum_weights=self.cum)[0]
        return (minute + rng.random()) / 60


OFFICE_WEEKDAY = Curve([(0, 0), (8.5, 0), (9, 0.5), (10, 1.0), (12, 1.0), (12.25, 0.45), (13.25, 0.45),
                        (13.5, 0.9), (14.5, 1.3), (15.5, 1.3), (16.5, 0.9), (17.5, 0.4), (18, 0), (24, 0)])
OFFICE_WEEKEND = Curve([(0, 0), (10, 0), (10.5, 1), (19.5, 1), (20, 0), (24, 0)])
CONSUMER = Curve([(0, 0.35), (1, 0.18), (2, 0.10), (5, 0.07), (7, 0.15), (9, 0.30), (11.5, 0.40),
                  (12.5, 0.60), (13.5, 0.40), (16, 0.35), (17.5, 0.55), (19, 0.95), (21, 1.10),
                  (23, 0.90), (24, 0.35)])
SCATTER = Curve([(0, 0), (9, 0), (9, 1), (21, 1), (21, 0), (24, 0)])
DAYTIME_UTC = Curve([(0, 0.15), (6, 0.15), (6, 1), (22, 1), (22, 0.15), (24, 0.15)])


def poisson(rng, lam):
    """Poisson variate: Knuth's method (per-minute rates here are small), normal approx. above 30."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def rate_trace(rng, tz, start, day_fn, rates=None):
    """Non-homogeneous Poisson counts per UTC minute. day_fn(local_date, day_index) gives the local
    day's (curve, volume, jitter_minutes); it is called once per local date, in time order. `rates`,
    when given, gets each minute's Poisson mean (see add_rate)."""
    counts, days = {}, {}
    for m in range(DAYS * 1440):
        t = start + timedelta(minutes=m)
        loc = t.astimezone(tz)
        d = loc.date()
        if d not in days:
            days[d] = day_fn(d, (d - start.date()).days)
        curve, volume, jitter = days[d]
        hour = loc.hour + (loc.minute + 0.5 - jitter) / 60
        lam = volume * curve(hour) / curve.total
        if rates is not None and lam > 0:
            rates[t] = rates.get(t, 0.0) + lam
        n = poisson(rng, lam)
        if n:
            counts[t] = n
    return counts


def local_days(tz, start):
    """(local date, day index) for every local day that can overlap the UTC window."""
    for i in range(-1, DAYS + 1):
        yield start.date() + timedelta(days=i), i


def add(counts, tz, day, hours):
    """Count one request at `hours` past local midnight of `day` (wall-clock arithmetic)."""
    t = (datetime.combine(day, time(), tz) + timedelta(hours=hours)).astimezone(UTC)
    t = t.replace(second=0, microsecond=0)
    counts[t] = counts.get(t, 0) + 1


def add_rate(rates, tz, day, curve, n):
    """The oracle's side of a trace (scripts/warmer_bound.py): `rates` maps a UTC minute to the
    expected number of arrivals in it that can start an idle spell's end -- every request of a rate
    trace, the first request of a session, burst or batch of an event trace -- under the draws
    actually made for that day (its volume, its number of sessions), not under the day's average.
    Here: n such arrivals spread over the local day with density proportional to `curve`. Recording
    consumes no random numbers, so the trace is the same with or without it."""
    if rates is None or n <= 0:
        return
    midnight = datetime.combine(day, time(), tz)
    for j in range(1440):
        w = n * curve((j + 0.5) / 60) / curve.total
        if w > 0:
            t = (midnight + timedelta(minutes=j)).astimezone(UTC)  # wall-clock arithmetic, as add()
            rates[t] = rates.get(t, 0.0) + w


BATCH_START = Curve([(0, 0), (2 - 5 / 60, 0), (2 - 5 / 60, 1), (2 + 5 / 60, 1), (2 + 5 / 60, 0), (24, 0)])


def busy_office(rng, tz, start, rates=None):
    def day(d, i):
        if d.weekday() < 5:
            return OFFICE_WEEKDAY, 500 * rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
        return OFFICE_WEEKEND, 25 * rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
    return rate_trace(rng, tz, start, day, rates)


def busy_consumer(rng, tz, start, rates=None):
    def day(d, i):
        weekend = 1.3 if d.weekday() >= 5 else 1.0
        return CONSUMER, 340 * weekend * rng.uniform(0.85, 1.15), rng.uniform(-15, 15)
    return rate_trace(rng, tz, start, day, rates)


def sparse_office(rng, tz, start, rates=None):
    counts = {}
    for d, _ in local_days(tz, start):
        weekday = d.weekday() < 5
        left = rng.randint(20, 60) if weekday else rng.randint(0, 5)
        curve = OFFICE_WEEKDAY if weekday else OFFICE_WEEKEND
        sessions = 0
        while left > 0:  # sessions until the day's volume is used up
            size = min(left, rng.randint(3, 10))
            hours = curve.sample_hour(rng)
            for _ in range(size):
                add(counts, tz, d, hours)
                hours += rng.expovariate(1 / 40) / 3600  # ~40 s between uploads
            left -= size
            sessions += 1
        add_rate(rates, tz, d, curve, sessions)
    return counts


def sparse_daily_batch(rng, tz, start, rates=None):
    counts = {}
    for d, _ in local_days(tz, start):
        begin = 2 + rng.uniform(-5, 5) / 60
        spread = rng.uniform(8, 12) / 60
        for _ in range(rng.randint(30, 50)):
            add(counts, tz, d, begin + rng.random() * spread)
        scattered = rng.randint(5, 15)
        for _ in range(scattered):
            add(counts, tz, d, SCATTER.sample_hour(rng))
        add_rate(rates, tz, d, BATCH_START, 1)  # its start: uniform over +-5 min (not Poisson)
        add_rate(rates, tz, d, SCATTER, scattered)
    return counts


def launch_ramp(rng, tz, start, rates=None):
    def day(d, i):
        if i < 5:
            return CONSUMER, 0.0, 0.0
        trend = 20 + 580 * math.log1p(0.3 * (i - 5)) / math.log1p(0.3 * 22)
        weekly = 1.2 if d.weekday() >= 5 else 0.92
        return CONSUMER, trend * weekly * rng.uniform(0.85, 1.15), rng.uniform(-15, 15)
    counts = rate_trace(rng, tz, start, day, rates)
    mention_day = start.date() + timedelta(days=17)
    for _ in range(rng.randint(280, 320)):
        delay = 30.0
        while delay >= 30:  # decaying interest after the post, cut at 30 min
            delay = rng.expovariate(1 / 8)
        add(counts, tz, mention_day, 21 + delay / 60)
    return counts


def bursty_api(rng, tz, start, rates=None):
    counts = {}
    for d, _ in local_days(tz, start):
        bursts = rng.randint(3, 8)
        add_rate(rates, tz, d, DAYTIME_UTC, bursts)
        for _ in range(bursts):
            begin = DAYTIME_UTC.sample_hour(rng)
            length = rng.uniform(2, 5) / 60
            for _ in range(rng.randint(50, 200)):
                add(counts, tz, d, begin + rng.random() * length)
    return counts


# name, generator, time zone, start (a Monday, 00:00 UTC), seed
TRACES = [
    ("busy-office", busy_office, "Europe/Berlin", MONDAY, 1101),
    ("busy-consumer", busy_consumer, "America/New_York", datetime(2026, 10, 12, tzinfo=UTC), 1102),
    ("sparse-office", sparse_office, "Europe/Berlin", MONDAY, 1103),
    ("sparse-daily-batch", sparse_daily_batch, "Asia/Tokyo", MONDAY, 1104),
    ("launch-ramp", launch_ramp, "Europe/London", MONDAY, 1105),
    ("bursty-api", bursty_api, "UTC", MONDAY, 1106),
]


def write_trace(path, counts, start):
    end = start + timedelta(days=DAYS)
    rows = sorted((t, n) for t, n in counts.items() if start <= t < end)  # clip spill-over days
    with open(path, "w", newline="\n") as f:
        f.write("time,requests\n")
        for t, n in rows:
            f.write(f"{t:%Y-%m-%dT%H:%M:00Z},{n}\n")
    return sum(n for _, n in rows), len(rows)


ROW = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:00Z),([1-9]\d*)$")


def check(path, tz, start):
    """Validate a written file; print weekday/weekend means and, across a DST change, the shift."""
    end = start + timedelta(days=DAYS)
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "time,requests", "bad header"
    rows, prev = [], None
    for line in lines[1:]:
        m = ROW.match(line)
        assert m, f"bad row {line!r}"
        t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert start <= t < end, f"outside window: {line}"
        assert prev is None or t > prev, f"unsorted or duplicate: {line}"
        rows.append((t, int(m.group(2))))
        prev = t
    per_day = collections.Counter()
    for t, n in rows:
        per_day[t.astimezone(tz).date()] += n
    full = [start.date() + timedelta(days=i) for i in range(-1, DAYS + 1)]
    full = [d for d in full if datetime.combine(d, time(), tz) >= start
            and datetime.combine(d + timedelta(days=1), time(), tz) <= end]  # whole local days only
    wd = [per_day[d] for d in full if d.weekday() < 5]
    we = [per_day[d] for d in full if d.weekday() >= 5]
    print(f"    ok: {len(rows)} rows, header, format, sorted, in window, {os.path.getsize(path) / 1024:.0f} KB;"
          f" local weekday mean {sum(wd) / len(wd):.1f}/day (min {min(wd)}, max {max(wd)}),"
          f" weekend mean {sum(we) / len(we):.1f}/day (min {min(we)}, max {max(we)})")
    if start.astimezone(tz).utcoffset() != (end - timedelta(seconds=1)).astimezone(tz).utcoffset():
        dst_check(rows, tz, start)


def dst_check(rows, tz, start):
    change = start
    while change.astimezone(tz).utcoffset() == start.astimezone(tz).utcoffset():
        change += timedelta(minutes=15)
    print(f"    DST change at {change:%Y-%m-%dT%H:%MZ}: {start.astimezone(tz):%Z} -> {change.astimezone(tz):%Z}")
    for label, part in (("before", [r for r in rows if r[0] < change]), ("after", [r for r in rows if r[0] >= change])):
        # requests whose local time is in the 19:00-23:00 evening peak; UTC hour unwrapped past midnight
        peak = [(t, n) for t, n in part if 19 <= t.astimezone(tz).hour < 23]
        hours = sum(n * ((t.hour + t.minute / 60 + 1 / 120 - 12) % 24 + 12) for t, n in peak)
        print(f"    {label:6s}: mean UTC hour of evening-peak requests {hours / sum(n for _, n in peak):.2f}"
              f" (24.00 = 00:00 UTC), {sum(n for _, n in peak)} requests")
    # a check that uses no local time: the lag that best aligns the two UTC time-of-day histograms,
    # over whole UTC days only (a partial day would over-weight some hours of the day)
    last_before = change.replace(hour=0, minute=0)
    first_after = last_before + timedelta(days=1)
    hist = {k: [0.0] * 288 for k in ("before", "after")}
    for t, n in rows:
        if t < last_before or t >= first_after:
            hist["before" if t < change else "after"][(t.hour * 60 + t.minute) // 5] += n
    b, a = hist["before"], hist["after"]
    lag = max(range(-36, 37), key=lambda k: sum(b[i] * a[(i + k) % 288] for i in range(288)))
    print(f"    UTC time-of-day histograms (whole UTC days, {first_after:%m-%d} on vs before {last_before:%m-%d})"
          f" best aligned at a lag of {lag * 5:+d} min")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--check", action="store_true", help="verify the files after writing them")
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for name, generate, zone, start, seed in TRACES:
        tz = ZoneInfo(zone)
        path = os.path.join(args.outdir, name + ".csv")
        total, minutes = write_trace(path, generate(random.Random(seed), tz, start), start)
        print(f"{name + '.csv':24s} {zone:17s} from {start:%Y-%m-%d}: {total:6d} requests,"
              f" {minutes:5d} active minutes, {total / DAYS:6.1f}/day")
        if args.check:
            check(path, tz, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
