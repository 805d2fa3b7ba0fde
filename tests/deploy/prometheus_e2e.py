#!/usr/bin/env python3
"""The alert rules and the dashboard against a real `cutout serve` and a real Prometheus (ctest e2e).

    python3 tests/deploy/prometheus_e2e.py --cutout build/cutout --source-dir . \
        --model models/isnet-qdq.onnx --image ../shared/eval/grabcut/images/106024.jpg

Starts Debian's Prometheus (1 s scrapes and rule evaluations, deploy/prometheus/cutout-rules.yml)
and the service with the real model, both on free ports of 127.0.0.1 in a temporary folder; sends
requests while the model loads (cold, 503 warm-up pings, /readyz) and after (successes, 400, 404,
415, 422, a burst that fills the queue: 429); waits until Prometheus has scraped them all; then
checks through Prometheus's HTTP API:

- every rule is loaded with health ok, and every rule expression, dashboard query (template
  variables replaced) and variable query evaluates without error or warning; each recording rule
  and dashboard query has data, except the GPU ones, whose series must not exist on a CPU;
- every metric the rules and the dashboard name is in the scrape, and every metric the service
  exposes is one the source scan of prometheus_assets.py finds;
- the scraped counters equal what the requests imply: cutout_requests_total per endpoint and code,
  cold requests, warm-up pings, rejections by reason, the process histogram's counts;
- the recorded series (request rates, error ratio, cold-start ratios, 429 ratio, warm quantiles)
  equal what Prometheus's own rate() and histogram_quantile() give on the raw samples at the
  rule's evaluation time, recomputed here with the probes and scrapes left out independently;
- the alerts whose figures are far over their threshold are pending, none is firing.

Both processes are stopped on every path (and die with this one: PR_SET_PDEATHSIG). Exit 0 when all
checks pass; otherwise each failed check is printed, with the logs' tails.
"""
import argparse
import concurrent.futures
import ctypes
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prometheus_assets as assets  # noqa: E402

HOST = "127.0.0.1"
EXCLUDED_ENDPOINTS = {"/healthz", "/readyz", "/metrics"}  # not API traffic (see the rules file)
START = time.monotonic()
PR_SET_PDEATHSIG = 1


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


class Failures(list):
    def __init__(self, quiet=False):
        super().__init__()
        self.quiet = quiet

    def check(self, ok, what):
        if not ok:
            self.append(what)
            if not self.quiet:
                log("FAIL: " + what)
        return ok


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _die_with_parent():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    def __init__(self, name, argv, log_path):
        self.name, self.log_path = name, log_path
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        log(f"started {name} (pid {self.proc.pid}): {' '.join(argv)}")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after `timeout` s; the exit status (negative: killed by a signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop within {timeout} s of SIGTERM: SIGKILL")
                self.proc.kill()
                self.proc.wait(5)
        self.log_file.close()
        return self.proc.returncode

    def tail(self, lines=25):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError as e:
            return f"(no log: {e})"


def http(method, url, body=None, headers=None, timeout=30):
    """(status, headers, body bytes); status 0 when no answer came."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
        return 0, {}, str(e).encode()


class Cutout:
    """The service's HTTP API, with a tally of what it answered per (endpoint label, code)."""

    def __init__(self, port):
        self.base = f"http://{HOST}:{port}"
        self.tally = Counter()
        self.cold = 0  # successful process requests marked cold_start
        self.warm = 0
        self.latencies = []
        self.lock = threading.Lock()

    def call(self, method, path, endpoint, body=None, headers=None, timeout=60):
        status, hdrs, data = http(method, self.base + path, body, headers, timeout)
        if status:
            with self.lock:
                self.tally[(endpoint, str(status))] += 1
        return status, hdrs, data

    def process(self, query, body):
        t0 = time.monotonic()
        status, _, data = self.call("POST", "/api/v2/process?" + query, "/api/v2/process", body,
                                    {"Content-Type": "application/octet-stream"}, timeout=90)
        if status == 200:
            cold = json.loads(data)["cold_start"]
            with self.lock:
                self.latencies.append(time.monotonic() - t0)
                if cold:
                    self.cold += 1
                else:
                    self.warm += 1
        return status


class Prometheus:
    def __init__(self, port):
        self.base = f"http://{HOST}:{port}"

    def api(self, path, **params):
        url = self.base + path + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")
        status, _, data = http("GET", url, timeout=10)
        try:
            doc = json.loads(data)
        except ValueError:
            doc = {"status": "error", "error": f"HTTP {status}: {data[:200]!r}"}
        return doc

    def query(self, expr, at=None):
        """(result list or None, error text or None, warnings)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        doc = self.api("/api/v1/query", **params)
        if doc.get("status") != "success":
            return None, doc.get("error", "no status"), doc.get("warnings", [])
        return doc["data"]["result"], None, doc.get("warnings", [])

    def values(self, expr, at=None):
        """{frozenset of labels (without __name__): float} of an instant query."""
        result, err, _ = self.query(expr, at)
        if err:
            raise RuntimeError(f"query {expr!r}: {err}")
        return {frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"): float(r["value"][1])
                for r in result}

    def matrix(self, expr, at):
        """[(labels dict, [(t ms, value)])] of a range selector evaluated at `at`."""
        result, err, _ = self.query(expr, at)
        if err:
            raise RuntimeError(f"query {expr!r}: {err}")
        return [(r["metric"], [(round(float(t) * 1000), float(v)) for t, v in r["values"]]) for r in result]


def wait_for(what, fn, timeout, interval=0.25):
    """Calls fn until it returns a true value or `timeout` s pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            if not value:
                log(f"gave up waiting for {what} after {timeout} s")
            return value
        time.sleep(interval)


# --- Prometheus's arithmetic, for the recorded series (promql/functions.go, quantile.go) --------

def prom_rate(points, t_end_ms, range_s):
    """rate(x[range]) at t_end of one counter's raw samples [(t ms, v)], or None (< 2 samples)."""
    if len(points) < 2:
        return None
    range_start = t_end_ms - range_s * 1000
    result, last = 0.0, 0.0
    for _, v in points:
        if v < last:
            result += last
        last = v
    result += points[-1][1] - points[0][1]
    duration_to_start = (points[0][0] - range_start) / 1000
    duration_to_end = (t_end_ms - points[-1][0]) / 1000
    sampled = (points[-1][0] - points[0][0]) / 1000
    average = sampled / (len(points) - 1)
    if result > 0 and points[0][1] >= 0:
        duration_to_start = min(duration_to_start, sampled * (points[0][1] / result))
    threshold = average * 1.1
    interval = sampled
    interval += duration_to_start if duration_to_start < threshold else average / 2
    interval += duration_to_end if duration_to_end < threshold else average / 2
    return result * (interval / sampled) / range_s


def prom_histogram_quantile(q, buckets):
    """histogram_quantile(q, ...) of {upper bound: rate} (the +Inf bucket included)."""
    b = sorted(buckets.items())
    if not b or not math.isinf(b[-1][0]) or len(b) < 2:
        return math.nan
    counts, m = [], -math.inf  # ensureMonotonic
    for _, c in b:
        m = max(m, c)
        counts.append(m)
    total = counts[-1]
    if total == 0:
        return math.nan
    rank = q * total
    i = next((k for k in range(len(b) - 1) if counts[k] >= rank), len(b) - 1)
    if i == len(b) - 1:
        return b[-2][0]
    if i == 0 and b[0][0] <= 0:
        return b[0][0]
    start, end, count = 0.0, b[i][0], counts[i]
    if i > 0:
        start = b[i - 1][0]
        count -= counts[i - 1]
        rank -= counts[i - 1]
    return start + (end - start) * (rank / count)


def close(a, b):
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


# --- The test ------------------------------------------------------------------------------------

def send_traffic(svc, prom, image, failures):
    """The requests, in three phases; returns when the model is ready and all were answered."""
    small = "effects=color&max_side=64"
    ok = wait_for("/healthz", lambda: svc.call("GET", "/healthz", "/healthz", timeout=2)[0] == 200, 30, 0.05)
    if not failures.check(ok, "cutout serve never answered /healthz"):
        return False
    # The first scrape (Prometheus already has the target: within a second), so that the counters'
    # 0 is seen before they move and rate() counts their first increment.
    wait_for("the first scrape", lambda: prom.values('cutout_cold_requests_total{job="cutout"}'), 5, 0.1)

    # 1. While the model loads: one process request (it waits: cold), warm-up pings (503: the
    #    service runs with --ready-wait-ms 0), /readyz (503, a normal answer).
    status, _, body = svc.call("GET", "/readyz", "/readyz", timeout=5)
    log(f"model status at the first request: {status} {body.decode(errors='replace')}")
    cold_thread = threading.Thread(target=svc.process, args=(small, image), daemon=True)
    cold_thread.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        svc.call("POST", "/api/v2/warmup", "/api/v2/warmup", timeout=5)
        if svc.call("GET", "/readyz", "/readyz", timeout=5)[0] == 200:
            break
        time.sleep(0.25)
    else:
        failures.check(False, "the model was not ready within 90 s")
        return False
    cold_thread.join(90)
    log(f"model ready; during the load: {dict(svc.tally)}")

    # 2. Ready: a success, client errors of each kind (none is an error of the service).
    svc.process(small, image)
    svc.process("effects=nope", image)                                 # 400 unknown effect
    svc.process(small, os.urandom(64))                                 # 415 not an image
    svc.process(small, b"\xff\xd8\xff\xe0" + b"\0" * 64)               # 422 a JPEG without a frame
    svc.call("GET", "/api/v2/nope", "other", timeout=5)                # 404
    time.sleep(1.5)  # a scrape between the phases

    # 3. A burst over the queue (--queue-limit 1: one running, one waiting, the rest 429), then more.
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        codes = list(pool.map(lambda _: svc.process(small, image), range(5)))
    log(f"burst of 5: {sorted(codes)}")
    failures.check(429 in codes, f"the burst over the queue got no 429: {codes}")
    time.sleep(1.5)
    svc.process(small, image)
    svc.process("effects=color&format=gif", image)                     # 400 bad format
    log(f"sent: {dict(sorted(svc.tally.items()))}; cold {svc.cold}, warm {svc.warm}")
    return True


def scraped_requests(prom):
    """Non-zero request counts by (endpoint, code): the service creates the usual process and
    warm-up series at 0 when it starts, so that rate() sees their first increment."""
    return {(dict(k)["endpoint"], dict(k)["code"]): v
            for k, v in prom.values('sum by (endpoint, code) (cutout_requests_total{job="cutout"})').items() if v != 0}


def check_counts(prom, svc, failures):
    """The scraped counters against what the requests imply."""
    scraped = scraped_requests(prom)
    expected = {k: float(v) for k, v in svc.tally.items()}
    got = {k: v for k, v in scraped.items() if k[0] != "/metrics"}
    failures.check(got == expected, f"cutout_requests_total per endpoint and code: scraped {sorted(got.items())}, "
                                    f"the requests imply {sorted(expected.items())}")

    def one(expr):
        v = prom.values(expr)
        return next(iter(v.values())) if len(v) == 1 else None

    t = svc.tally
    want = {
        'cutout_cold_requests_total{job="cutout"}': svc.cold,
        'cutout_warmup_pings_total{job="cutout"}': sum(v for (e, _), v in t.items() if e == "/api/v2/warmup"),
        'cutout_rejected_total{job="cutout",reason="queue_full"}': t[("/api/v2/process", "429")],
        'cutout_rejected_total{job="cutout",reason="unsupported_media_type"}': t[("/api/v2/process", "415")],
        'cutout_rejected_total{job="cutout",reason="undecodable"}': t[("/api/v2/process", "422")],
        'cutout_process_duration_seconds_count{job="cutout",cold="false"}': svc.warm,
        'cutout_process_duration_seconds_count{job="cutout",cold="true"}': svc.cold,
        'cutout_model_status{job="cutout",status="ready"}': 1,
        'cutout_model_status{job="cutout",status="failed"}': 0,
    }
    for expr, value in want.items():
        got = one(expr)
        failures.check(got == (None if value is None else float(value)), f"{expr} = {got}, expected {value}")
    gpu = prom.values('{job="cutout",__name__=~"cutout_gpu_.*"}')
    failures.check(not gpu, f"GPU series on a CPU instance (SPEC §5: only when a GPU is used): {sorted(gpu)}")
    # The whole run's figures, from the requests. Series that the service does not create at 0
    # (e.g. a 404 of an unknown path) lose their first increment to rate(), so the error ratio
    # below may differ from this a little; the process ratios must not.
    api = sum(v for (e, _), v in t.items() if e not in EXCLUDED_ENDPOINTS)
    errors = sum(v for (e, c), v in t.items() if e not in EXCLUDED_ENDPOINTS and c.startswith("5"))
    process = sum(v for (e, _), v in t.items() if e == "/api/v2/process")
    log(f"from the requests: error ratio {errors}/{api}, cold {svc.cold}/{process}, "
        f"429 {t[('/api/v2/process', '429')]}/{process}")
    return {"cold-start ratio (5m)": svc.cold / process if process else None,
            "429 ratio": t[("/api/v2/process", "429")] / process if process else None}


def check_ratios_match_requests(implied, figures, failures):
    """The process series exist from the start at 0 and the cold and 429 counters too, so rate()
    sees every increment of numerator and denominator alike: their ratios are what was sent."""
    for name, want in implied.items():
        got = figures.get(name)
        failures.check(got is not None and want is not None and abs(got - want) < 0.01,
                       f"{name}: recorded {got}, the requests imply {want}")


def check_rules_loaded(prom, rules, failures):
    def fetch():
        doc = prom.api("/api/v1/rules")
        found = {r["name"]: r for g in doc.get("data", {}).get("groups", []) for r in g["rules"]}
        return found if found and all(r.get("health") != "unknown" for r in found.values()) else None

    found = wait_for("every rule evaluated", fetch, 10) or {}
    for _, r in rules:
        name = r.get("record") or r.get("alert")
        got = found.get(name)
        if failures.check(got is not None, f"rule {name} is not loaded by Prometheus"):
            failures.check(got.get("health") == "ok" and not got.get("lastError"),
                           f"rule {name}: health {got.get('health')!r} {got.get('lastError', '')}")
    failures.check(len(found) == len(rules), f"Prometheus has {len(found)} rules, the file {len(rules)}")


def check_queries(prom, rules, dash, scraped_names, svc, failures):
    gpu_rules = {r["record"] for _, r in rules if "record" in r and assets.metric_names(r["expr"]) & assets.GPU_METRICS}
    gpu = assets.GPU_METRICS | gpu_rules
    queries = [(f"rule {r.get('record') or r.get('alert')}", r["expr"], "record" in r) for _, r in rules]
    # 5m: the whole test, so every panel has data (the cold one only if a request was cold).
    queries += [(f"dashboard panel {title!r} {ref}", assets.grafana_to_promql(e, rate_interval="5m", job="cutout"),
                 svc.cold > 0 or 'cold="true"' not in e)
                for title, ref, e in assets.dashboard_queries(dash)]
    for name, q in assets.variable_queries(dash):
        sel, label = assets.label_values_metric(q)
        sel = assets.grafana_to_promql(sel, job="cutout")
        doc = prom.api(f"/api/v1/label/{label}/values", **{"match[]": sel})
        failures.check(doc.get("status") == "success" and doc["data"],
                       f"dashboard variable {name}: label_values({sel}, {label}) -> {doc}")
    for where, expr, needs_data in queries:
        result, err, warnings = prom.query(expr)
        if not failures.check(err is None and not warnings, f"{where}: {expr!r} -> error {err} {warnings}"):
            continue
        uses_gpu = bool(assets.metric_names(expr) & gpu)
        if needs_data and not uses_gpu:
            failures.check(result, f"{where}: no data for {expr!r}")
        if uses_gpu:
            failures.check(not result, f"{where}: GPU data on a CPU instance: {result}")
    used = set()
    for _, expr, _ in queries:
        used |= assets.metric_names(expr)
    raw = used - {r["record"] for _, r in rules if "record" in r} - assets.GPU_METRICS
    failures.check(raw <= scraped_names, f"metrics the rules or dashboard use but the service did not expose: "
                                         f"{sorted(raw - scraped_names)}")


def check_recorded(prom, failures):
    """Each recorded series against Prometheus's arithmetic on the raw samples, at its own time."""
    def at_of(record):
        ts = prom.values(f"timestamp({record})")
        return max(ts.values()) if ts else None

    def rates(selector, at, range_s):
        return [(m, prom_rate(p, round(at * 1000), range_s))
                for m, p in prom.matrix(f"{selector}[{range_s}s]", at)]

    def compare(record, labels, expected, at):
        got = prom.values(f"{record}{labels}", at)
        value = next(iter(got.values())) if len(got) == 1 else None
        ok = close(value, expected)
        failures.check(ok, f"{record}{labels} = {value}, Prometheus's rate() on the raw samples gives {expected}")
        return value

    # Requests per endpoint and code, and the ratios over the API traffic and the process requests.
    at = at_of("job:cutout_requests:rate5m")
    if not failures.check(at is not None, "job:cutout_requests:rate5m was never recorded"):
        return {}
    req = [(m, r) for m, r in rates('cutout_requests_total{job="cutout"}', at, 300) if r is not None]
    for m, r in req:
        compare("job:cutout_requests:rate5m", f'{{endpoint="{m["endpoint"]}",code="{m["code"]}"}}', r, at)
    api = sum(r for m, r in req if m["endpoint"] not in EXCLUDED_ENDPOINTS)
    err = sum(r for m, r in req if m["endpoint"] not in EXCLUDED_ENDPOINTS and m["code"].startswith("5"))
    proc = sum(r for m, r in req if m["endpoint"] == "/api/v2/process")
    [cold] = [r for _, r in rates('cutout_cold_requests_total{job="cutout"}', at, 300)] or [None]
    [full] = [r for _, r in rates('cutout_rejected_total{job="cutout",reason="queue_full"}', at, 300)] or [None]
    figures = {
        "error ratio": compare("job:cutout_api_error_ratio:rate5m", "", err / api if api > 0 else None, at),
        "cold-start ratio (5m)": compare("job:cutout_cold_start_ratio:rate5m", "",
                                         min(cold, proc) / proc if proc > 0 and cold is not None else None, at),
        "429 ratio": compare("job:cutout_queue_full_ratio:rate5m", "",
                             min(full / proc, 1) if proc > 0 and full is not None else None, at),
    }
    at1h = at_of("job:cutout_cold_start_ratio:rate1h")
    if failures.check(at1h is not None, "job:cutout_cold_start_ratio:rate1h was never recorded"):
        p1 = sum(r for m, r in rates('cutout_requests_total{job="cutout",endpoint="/api/v2/process"}', at1h, 3600)
                 if r is not None)
        [c1] = [r for _, r in rates('cutout_cold_requests_total{job="cutout"}', at1h, 3600)] or [None]
        figures["cold-start ratio (1h)"] = compare("job:cutout_cold_start_ratio:rate1h", "",
                                                   min(c1 / p1, 1) if p1 > 0 and c1 is not None else None, at1h)
    # The warm quantiles.
    atq = at_of("job:cutout_warm_process_duration_seconds:p95_5m")
    if failures.check(atq is not None, "the warm quantiles were never recorded"):
        buckets = {}
        for m, r in rates('cutout_process_duration_seconds_bucket{job="cutout",cold="false"}', atq, 300):
            if r is not None:
                buckets[float(m["le"])] = buckets.get(float(m["le"]), 0.0) + r
        qs = []
        for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            qs.append(compare(f"job:cutout_warm_process_duration_seconds:{name}_5m", "",
                              prom_histogram_quantile(q, buckets), atq))
            figures[f"warm {name} (s)"] = qs[-1]
        failures.check(all(v is not None and 0 < v <= 60 for v in qs) and qs == sorted(qs),
                       f"warm p50 <= p95 <= p99 within (0, 60] s: {qs}")
    return figures


def check_alerts(prom, figures, failures):
    doc = prom.api("/api/v1/alerts")
    alerts = doc.get("data", {}).get("alerts", [])
    states = {a["labels"]["alertname"]: a["state"] for a in alerts}
    log(f"alerts: {states or 'none active'}")
    failures.check(not [a for a in alerts if a["state"] == "firing"], f"alerts firing: {states}")
    for alert, figure, threshold in (("CutoutQueueSaturated", "429 ratio", 0.05),
                                     ("CutoutErrorRatioHigh", "error ratio", 0.01)):
        v = figures.get(figure)
        if v is None:
            continue
        if v > 2 * threshold:
            failures.check(states.get(alert) == "pending", f"{alert}: {figure} {v:.3f} > {threshold}, "
                                                            f"but the alert is {states.get(alert, 'inactive')}")
        elif v < threshold / 2:
            failures.check(alert not in states, f"{alert}: {figure} {v:.4f} < {threshold}, but it is {states.get(alert)}")
    for alert in ("CutoutModelFailed", "CutoutModelNotReady", "CutoutInstanceRestarted"):
        failures.check(alert not in states, f"{alert} is {states.get(alert)} on a healthy instance")


class Interrupted(Exception):
    pass


def _interrupted(signum, _frame):
    raise Interrupted(f"stopped by signal {signum}")


def main():
    ap = argparse.ArgumentParser(description="cutout's rules and dashboard against real servers")
    ap.add_argument("--cutout", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--image", required=True, help="a small photo (JPEG)")
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    # SIGTERM (ctest, a CI runner) stops the children through the `finally` below; SIGKILL through
    # PR_SET_PDEATHSIG.
    signal.signal(signal.SIGTERM, _interrupted)
    src = os.path.abspath(args.source_dir)
    rules_path = os.path.join(src, assets.RULES)
    rules = assets.load_rules(rules_path)
    dash = assets.load_dashboard(os.path.join(src, assets.DASHBOARD))
    with open(args.image, "rb") as f:
        image = f.read()

    tmp = tempfile.mkdtemp(prefix="cutout-prometheus-e2e-")
    failures = Failures()
    procs = []
    try:
        prom_port, cutout_port = free_port(), free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            json.dump({  # JSON is YAML
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
                "rule_files": [rules_path],
                "scrape_configs": [{"job_name": "cutout",
                                    "static_configs": [{"targets": [f"{HOST}:{cutout_port}"]}]}],
            }, f, indent=1)
        prom_proc = Process("prometheus", [args.prometheus, f"--config.file={config}",
                                           f"--storage.tsdb.path={tmp}/prometheus-data",
                                           f"--web.listen-address={HOST}:{prom_port}",
                                           "--storage.tsdb.retention.time=1h"], os.path.join(tmp, "prometheus.log"))
        procs.append(prom_proc)
        prom = Prometheus(prom_port)
        ready = wait_for("Prometheus /-/ready", lambda: prom_proc.alive() and
                         http("GET", prom.base + "/-/ready", timeout=2)[0] == 200, 30)
        if not failures.check(ready, "Prometheus did not become ready"):
            return 1
        # Service discovery hands targets to the scrapers every 5 s: have the target (down for now)
        # before the service starts, so that its first scrape follows its start within a second.
        target = wait_for("the scrape target", lambda: prom.api("/api/v1/targets").get("data", {}).get("activeTargets"), 15)
        if not failures.check(target, "Prometheus has no scrape target"):
            return 1
        svc_proc = Process("cutout", [args.cutout, "serve", "--host", HOST, "--port", str(cutout_port),
                                      "--model", args.model, "--data-dir", os.path.join(tmp, "cutout-data"),
                                      "--share-store", "none", "--queue-limit", "1", "--ready-wait-ms", "0",
                                      "--drain-timeout-ms", "5000"], os.path.join(tmp, "cutout.log"))
        procs.append(svc_proc)
        svc = Cutout(cutout_port)
        if not send_traffic(svc, prom, image, failures):
            return 1

        # Until Prometheus has scraped every answer, then a few rule evaluations more.
        want = {k: float(v) for k, v in svc.tally.items()}
        wait_for("the last requests in Prometheus",
                 lambda: {k: v for k, v in scraped_requests(prom).items() if k[0] != "/metrics"} == want, 20)
        time.sleep(3)
        log("checking")
        check_rules_loaded(prom, rules, failures)
        names = {r["metric"]["__name__"] for r in (prom.query('count by (__name__) ({job="cutout"})')[0] or [])}
        # Less Prometheus's own: up, scrape_*, ALERTS*, and the recording rules (level:metric:ops).
        scraped_names = {n for n in names if n != "up" and not n.startswith(("scrape_", "ALERTS")) and ":" not in n}
        exposed = assets.exposed_names(assets.service_metrics(src))
        failures.check(scraped_names <= set(exposed), f"the service exposes metrics the source scan "
                                                      f"(prometheus_assets.py) misses: {sorted(scraped_names - set(exposed))}")
        check_queries(prom, rules, dash, scraped_names, svc, failures)
        implied = check_counts(prom, svc, failures)
        # A rule that evaluates while a scrape is being written sees one sample less than a query
        # at its time made later (a 1-2 ms window each second): a mismatch is retried with the
        # next evaluation; a wrong rule mismatches every time.
        for attempt in range(3):
            recorded = Failures(quiet=attempt < 2)
            figures = check_recorded(prom, recorded)
            if not recorded:
                break
            log(f"recorded series differ (attempt {attempt + 1}): {recorded[0]}")
            time.sleep(1.2)
        failures.extend(recorded)
        log("figures: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()))
        check_ratios_match_requests(implied, figures, failures)
        check_alerts(prom, figures, failures)
    except Exception as e:  # noqa: BLE001 - reported as a failure, the processes still stopped
        failures.check(False, f"{type(e).__name__}: {e}")
    finally:
        for p in reversed(procs):
            rc = p.stop()
            if p.name == "cutout":
                failures.check(rc == 0, f"cutout serve exited {rc} on SIGTERM (expected 0)")
        if failures:
            for p in procs:
                print(f"--- last lines of {p.name}'s log ({p.log_path}) ---\n{p.tail()}", flush=True)
        if args.keep or failures:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return assets.report(failures, "OK: rules and dashboard evaluate on the real service's metrics, and the figures "
                                   "match the requests", say=log)


if __name__ == "__main__":
    sys.exit(main())
