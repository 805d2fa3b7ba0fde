#!/usr/bin/env python3
"""Checks of the Prometheus rules and the Grafana dashboard that need no server (ctest label unit).

    python3 tests/deploy/prometheus_assets.py --source-dir .

- deploy/prometheus/cutout-rules.yml: the alerts the operations plan asks for, each with a severity
  label, summary and description annotations and a `for`; recording rules named level:metric:ops.
- deploy/prometheus/cutout-rules.test.yml: every alert fires in some case and stays silent in another.
- deploy/grafana/cutout-dashboard.json: parses, schemaVersion ~39, the ${DS_PROMETHEUS} data source
  variable on every panel and query, unique ids and refIds, the required panels.
- Every metric name in the rules and the dashboard is one the service registers (read from src/:
  the registry calls in the C++ and the process_* list of metrics.cpp) or a recording rule, and
  every label in a selector of a service metric is one of its labels (or a target label), so
  neither side can drift without this failing.

Also a module: tests/deploy/prometheus_e2e.py imports the PromQL scanner and the loaders from here.
Python 3 with python3-yaml only.
"""
import argparse
import json
import os
import re
import sys

import yaml

RULES = "deploy/prometheus/cutout-rules.yml"
RULE_TESTS = "deploy/prometheus/cutout-rules.test.yml"
PROMETHEUS_CONFIG = "deploy/prometheus/prometheus.yml"
DASHBOARD = "deploy/grafana/cutout-dashboard.json"

# The alerts of the operations plan (docs and issue 10): name -> what it is about.
REQUIRED_ALERTS = {
    "CutoutColdStartRatioHigh": "cold starts > 10 % of process requests",
    "CutoutWarmLatencyHigh": "warm p95 > 10 s",
    "CutoutGpuMemoryHigh": "GPU memory > 90 %",
    "CutoutErrorRatioHigh": "5xx > 1 % of API requests",
    "CutoutQueueSaturated": "429 queue_full",
    "CutoutModelFailed": "model status failed",
    "CutoutModelNotReady": "model not ready for too long",
    "CutoutInstanceRestarted": "instance restarts",
}
SEVERITIES = {"critical", "warning", "info"}

# Required dashboard panels: a title prefix -> metric names its queries must use.
REQUIRED_PANELS = {
    "Cold-start rate": {"cutout_cold_requests_total", "cutout_requests_total"},
    "Latency p50 / p95 / p99": {"cutout_process_duration_seconds_bucket"},
    "Error rate": {"cutout_requests_total"},
    "GPU utilisation": {"cutout_gpu_utilization_ratio"},
    "GPU memory": {"cutout_gpu_memory_used_bytes", "cutout_gpu_memory_total_bytes"},
    "Queue depth": {"cutout_queue_depth"},
    "In flight": {"cutout_in_flight"},
    "Memory (resident)": {"process_resident_memory_bytes"},
}
# The GPU gauges of SPEC §5: present only when a GPU is used.
GPU_METRICS = {"cutout_gpu_memory_used_bytes", "cutout_gpu_memory_total_bytes", "cutout_gpu_utilization_ratio"}
# Labels Prometheus attaches to every scraped series (the rules sum `pod` away where present).
TARGET_LABELS = {"job", "instance", "pod"}

# ---------------------------------------------------------------------------------------------
# PromQL: just enough of a scanner to find the selectors (metric names and label matchers).

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
             "unless", "offset", "atan2", "inf", "nan", "start", "end"}
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                 "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
_TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<num>[0-9][0-9a-zA-Z_.]*(?:[eE][-+][0-9]+)?|\.[0-9]+)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<var>\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],@])
""", re.X)


def tokenize(expr):
    tokens, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read PromQL at {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            tokens.append((m.lastgroup, m.group()))
    return tokens


def _unquote(s):
    if s[0] == "`":
        return s[1:-1]
    return bytes(s[1:-1], "utf-8").decode("unicode_escape")


def scan(expr):
    """([(metric name or None, [(label, op, value)])] of every selector in expr,
        [the labels of its by/without/on/ignoring/group_left/group_right lists])."""
    toks = tokenize(expr)
    out, grouping = [], []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if text == "[":  # a range or subquery: durations and template variables, no selectors
            while i < len(toks) and toks[i][1] != "]":
                i += 1
            i += 1
            continue
        if kind == "ident" and text.lower() in _LABEL_LIST_KEYWORDS and nxt == "(":
            i += 2
            while i < len(toks) and toks[i][1] != ")":
                if toks[i][0] == "ident":
                    grouping.append(toks[i][1])
                i += 1
            i += 1
            continue
        if kind == "ident" and text.lower() == "offset":
            i += 2
            continue
        if kind == "ident" and (nxt == "(" or text in _AGGREGATIONS):  # a function or an aggregation
            i += 1
            continue
        if kind == "ident" and text.lower() in _KEYWORDS:
            i += 1
            continue
        if kind == "ident" or text == "{":
            name = text if kind == "ident" else None
            matchers = []
            if kind == "ident":
                i += 1
            if i < len(toks) and toks[i][1] == "{":
                i += 1
                while i < len(toks) and toks[i][1] != "}":
                    if toks[i][1] == ",":
                        i += 1
                        continue
                    label, op, value = toks[i][1], toks[i + 1][1], toks[i + 2]
                    if value[0] != "str":
                        raise ValueError(f"bad matcher near {label!r} in {expr!r}")
                    matchers.append((label, op, _unquote(value[1])))
                    i += 3
                i += 1
            out.append((name, matchers))
            continue
        i += 1
    return out, grouping


def selectors(expr):
    return scan(expr)[0]


def metric_names(expr):
    return {name for name, _ in selectors(expr) if name}


def grafana_to_promql(expr, rate_interval="1m", interval="15s", job=".*", instance=".*"):
    """The query Grafana would send: its template variables replaced."""
    out = expr.replace("$__rate_interval", rate_interval).replace("${__rate_interval}", rate_interval)
    out = out.replace("$__interval", interval).replace("${__interval}", interval)
    out = out.replace("$__range", "1h").replace("$job", job).replace("${job}", job)
    return out.replace("$instance", instance).replace("${instance}", instance)


def label_values_metric(query):
    """The selector inside a variable query label_values(selector, label), or None."""
    m = re.match(r"^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", query, re.S)
    return (m.group(1), m.group(2)) if m else None


# ---------------------------------------------------------------------------------------------
# The service's metrics, read from its source.

_CALL = re.compile(r"\b(counter|gauge|histogram|gauge_callback)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
_LABEL_ARG = {"counter": 2, "gauge": 2, "histogram": 3, "gauge_callback": 3}


def _split_call(text, open_pos):
    """Top-level arguments of the call whose '(' is at open_pos."""
    depth, args, start, i = 0, [], open_pos + 1, open_pos
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(text[start:i].strip())
                return args
        elif c == "," and depth == 1:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    raise ValueError("unbalanced call")


def _label_names(arg, text):
    arg = arg.strip()
    if re.fullmatch(r"[A-Za-z_]\w*", arg):  # a variable: `const Labels gpu = {{"gpu", ...}};`
        m = re.search(r"\bLabels\s+" + arg + r"\s*=\s*(\{.*?\});", text, re.S)
        arg = m.group(1) if m else ""
    return set(re.findall(r"\{\s*\"([A-Za-z_][A-Za-z0-9_]*)\"\s*,", arg))


def service_metrics(source_dir):
    """{name: {"type": counter|gauge|histogram|untyped, "labels": set}} from src/."""
    metrics = {}
    src = os.path.join(source_dir, "src")
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith((".cpp", ".h")):
                continue
            text = open(os.path.join(root, f), encoding="utf-8").read()
            for m in _CALL.finditer(text):
                kind, name = m.group(1), m.group(2)
                args = _split_call(text, m.end(1))
                labels = _label_names(args[_LABEL_ARG[kind]], text) if len(args) > _LABEL_ARG[kind] else set()
                entry = metrics.setdefault(name, {"type": "gauge" if kind == "gauge_callback" else kind,
                                                  "labels": set()})
                entry["labels"] |= labels
            # The standard process_* families the registry renders (metrics.cpp: add("name", "type", ...)).
            for m in re.finditer(r"\badd\(\s*\"(process_[a-z_]+)\"\s*,\s*\"(counter|gauge)\"", text):
                metrics.setdefault(m.group(1), {"type": m.group(2), "labels": set()})
    return metrics


def exposed_names(metrics):
    """Every sample name the service can expose: histograms as _bucket, _sum and _count."""
    names = {}
    for name, m in metrics.items():
        if m["type"] == "histogram":
            names[name + "_bucket"] = m["labels"] | {"le"}
            names[name + "_sum"] = m["labels"]
            names[name + "_count"] = m["labels"]
        else:
            names[name] = m["labels"]
    return names


# ---------------------------------------------------------------------------------------------
# The files.

def load_rules(path):
    """[(group name, rule dict)] in file order."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return [(g["name"], r) for g in doc["groups"] for r in g["rules"]]


def load_dashboard(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dashboard_panels(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) if p.get("type") == "row" else []:
            yield q


def dashboard_queries(dash):
    """[(panel title, refId, expr)] of every Prometheus query of the dashboard's panels."""
    return [(p.get("title", ""), t.get("refId"), t["expr"])
            for p in dashboard_panels(dash) for t in p.get("targets", []) if "expr" in t]


def variable_queries(dash):
    out = []
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            out.append((v.get("name"), q.get("query") if isinstance(q, dict) else q))
    return out


# ---------------------------------------------------------------------------------------------
# The checks.

class Problems(list):
    def add(self, where, what):
        self.append(f"{where}: {what}")


def check_rules(rules, problems):
    alerts = {}
    for group, r in rules:
        where = f"{RULES} [{group}] {r.get('record') or r.get('alert')}"
        if "record" in r:
            if not re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", r["record"]):
                problems.add(where, "recording rule names are level:metric:operations")
            continue
        alerts[r["alert"]] = r
        sev = (r.get("labels") or {}).get("severity")
        if sev not in SEVERITIES:
            problems.add(where, f"severity label {sev!r}, expected one of {sorted(SEVERITIES)}")
        ann = r.get("annotations") or {}
        for key in ("summary", "description"):
            if not str(ann.get(key, "")).strip():
                problems.add(where, f"no {key} annotation")
        if "for" not in r:
            problems.add(where, "no `for:` (write `for: 0m` when it is meant)")
    for name, what in REQUIRED_ALERTS.items():
        if name not in alerts:
            problems.add(RULES, f"alert {name} ({what}) is missing")
    return alerts


def check_rule_tests(tests_path, alerts, problems):
    with open(tests_path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if os.path.basename(RULES) not in [os.path.basename(p) for p in doc.get("rule_files", [])]:
        problems.add(RULE_TESTS, f"rule_files does not name {os.path.basename(RULES)}")
    fires, silent = set(), set()
    for t in doc.get("tests", []):
        for a in t.get("alert_rule_test", []) or []:
            (fires if a.get("exp_alerts") else silent).add(a["alertname"])
    for name in alerts:
        if name not in fires:
            problems.add(RULE_TESTS, f"no case where {name} fires")
        if name not in silent:
            problems.add(RULE_TESTS, f"no case where {name} stays silent")


def check_dashboard(dash, problems):
    where = DASHBOARD
    sv = dash.get("schemaVersion")
    if not isinstance(sv, int) or not 36 <= sv <= 41:
        problems.add(where, f"schemaVersion {sv!r}, expected about 39")
    for key in ("uid", "title", "panels", "templating"):
        if key not in dash:
            problems.add(where, f"no {key!r}")
    ds_vars = [v for v in dash.get("templating", {}).get("list", [])
               if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    if [v.get("name") for v in ds_vars] != ["DS_PROMETHEUS"]:
        problems.add(where, "expected one data source variable DS_PROMETHEUS of type prometheus")
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query" and (v.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
            problems.add(where, f"variable {v.get('name')!r}: datasource is not ${{DS_PROMETHEUS}}")
    ids = [p.get("id") for p in dashboard_panels(dash)]
    if len(ids) != len(set(ids)) or None in ids:
        problems.add(where, f"panel ids missing or repeated: {ids}")
    for p in dashboard_panels(dash):
        title = p.get("title", "?")
        if "gridPos" not in p:
            problems.add(where, f"panel {title!r} has no gridPos")
        if p.get("type") == "row":
            continue
        if not p.get("targets"):
            problems.add(where, f"panel {title!r} has no queries")
        uid = (p.get("datasource") or {}).get("uid")
        if uid != "${DS_PROMETHEUS}":
            problems.add(where, f"panel {title!r} datasource uid {uid!r}, expected ${{DS_PROMETHEUS}}")
        refs = [t.get("refId") for t in p.get("targets", [])]
        if len(refs) != len(set(refs)) or None in refs:
            problems.add(where, f"panel {title!r}: refIds missing or repeated: {refs}")
        for t in p.get("targets", []):
            if (t.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
                problems.add(where, f"panel {title!r} query {t.get('refId')}: datasource is not ${{DS_PROMETHEUS}}")
            if not str(t.get("expr", "")).strip():
                problems.add(where, f"panel {title!r} query {t.get('refId')}: no expr")
    for prefix, needed in REQUIRED_PANELS.items():
        panels = [p for p in dashboard_panels(dash) if p.get("title", "").startswith(prefix)]
        if not panels:
            problems.add(where, f"no panel titled {prefix!r}...")
            continue
        used = set().union(*(metric_names(t["expr"]) for p in panels for t in p.get("targets", []) if "expr" in t))
        if not needed <= used:
            problems.add(where, f"panel {prefix!r} does not query {sorted(needed - used)}")
    latency = [t["expr"] for p in dashboard_panels(dash) if p.get("title", "").startswith("Latency")
               for t in p.get("targets", [])]
    for q in ("0.50", "0.95", "0.99"):
        if not any(f"histogram_quantile({q}" in e and 'cold="false"' in e for e in latency):
            problems.add(where, f"the latency panel has no warm histogram_quantile({q}, ...)")


def check_names(exprs, exposed, recorded, problems):
    """exprs: [(where, PromQL)]. Metric names and selector labels must exist."""
    all_labels = set().union(*exposed.values()) | TARGET_LABELS | {"le"}
    for where, expr in exprs:
        try:
            sels, grouping = scan(expr)
        except ValueError as e:
            problems.add(where, str(e))
            continue
        for name, matchers in sels:
            if name is None:
                problems.add(where, f"a selector without a metric name in {expr!r}")
                continue
            if name in recorded:
                continue
            if name not in exposed:
                problems.add(where, f"metric {name!r} is neither exposed by the service (src/) nor a recording rule")
                continue
            allowed = exposed[name] | TARGET_LABELS
            for label, _, _ in matchers:
                if label not in allowed:
                    problems.add(where, f"{name} has no label {label!r} (labels: {sorted(allowed)})")
        for label in grouping:
            if label not in all_labels:
                problems.add(where, f"grouping by {label!r}, which no metric has")


def run_checks(source_dir):
    problems = Problems()
    rules = load_rules(os.path.join(source_dir, RULES))
    alerts = check_rules(rules, problems)
    check_rule_tests(os.path.join(source_dir, RULE_TESTS), alerts, problems)
    dash = load_dashboard(os.path.join(source_dir, DASHBOARD))
    check_dashboard(dash, problems)

    metrics = service_metrics(source_dir)
    exposed = exposed_names(metrics)
    for name in GPU_METRICS:
        if name not in exposed:
            problems.add("src/", f"the service registers no {name} (SPEC §5: GPU memory and utilisation)")
        elif exposed[name] != {"gpu"}:
            problems.add("src/", f"{name} has labels {sorted(exposed[name])}, expected ['gpu']")
    recorded = {r["record"] for _, r in rules if "record" in r}
    exprs = [(f"{RULES} {r.get('record') or r.get('alert')}", r["expr"]) for _, r in rules]
    exprs += [(f"{DASHBOARD} panel {title!r} {ref}", grafana_to_promql(e)) for title, ref, e in dashboard_queries(dash)]
    for name, q in variable_queries(dash):
        lv = label_values_metric(q or "")
        if lv:
            exprs.append((f"{DASHBOARD} variable {name}", grafana_to_promql(lv[0])))
        else:
            problems.add(DASHBOARD, f"variable {name}: expected label_values(selector, label), got {q!r}")
    check_names(exprs, exposed, recorded, problems)
    return problems, metrics


def report(problems, ok_message, say=print):
    """The exit status of a check: 1 after listing the problems, else 0 after ok_message."""
    if problems:
        print(f"FAILED: {len(problems)} problem(s)")
        for p in problems:
            print("  " + p)
        return 1
    say(ok_message)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source-dir", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    args = ap.parse_args()
    problems, metrics = run_checks(os.path.abspath(args.source_dir))
    print(f"service metrics found in src/: {len(metrics)}")
    return report(problems, "OK: rules, rule tests and dashboard agree with the service's metrics")


if __name__ == "__main__":
    sys.exit(main())
