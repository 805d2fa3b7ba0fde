#!/usr/bin/python3
"""The Cloud Logging queries and log-based metrics of deploy/cloud-logging/, run against real logs.

Starts `cutout serve` twice on 127.0.0.1 and sends scripted requests:
  - a healthy server on the real model: a process request sent while the model loads (cold), one
    warm, one with a bad effect (400), one that is not an image (415), then SIGTERM;
  - a server whose device is a GPU (with tests/fake_nvml.c standing in for NVML, and
    tests/fake_cuda.c's driver and empty CUDA libraries passing the start's check) whose model
    cannot load: its process request gets 503 not_ready and its lines carry gpu_memory_used.
Each stdout line is turned into the LogEntry Cloud Logging makes of it (severity, httpRequest and
trace lifted out, the rest under jsonPayload), and every query and metric filter is evaluated by a
small interpreter of the Logging query language subset they use (AND, OR, NOT, parentheses, =, !=,
<, <=, >, >=, ':' and ':*', value lists; OR binds tighter than AND, as in Cloud Logging). Checked:
each field a query names exists in the real lines, each query matches the lines it should, and
each metric's extractors yield values of the right type.

  check_logging.py --cutout BIN --source DIR --model MODEL --bad-model FILE --fake-nvml LIB
                   --fake-cuda-dir DIR --photo JPG
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_checks import check, failures, finish, free_port, http  # noqa: E402


# --- the servers ------------------------------------------------------------------------------

def run_server(cutout, args, env, script):
    """Starts cutout serve, runs script(base_url), sends SIGTERM; returns the parsed stdout lines."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryFile("w+") as out:
        # CUTOUT_ORT_CORE stays, as in the C++ fixtures: the suite can run on either core.
        clean = {k: v for k, v in os.environ.items()
                 if (not k.startswith("CUTOUT_") or k == "CUTOUT_ORT_CORE") and k != "PORT"}
        proc = subprocess.Popen([cutout, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data,
                                 "--share-store", "none", "--threads", "2", *args],
                                stdout=out, stderr=subprocess.DEVNULL, env={**clean, **env})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if http("GET", base + "/healthz", timeout=2)[0] == 200:
                        break
                except (urllib.error.URLError, ConnectionError, socket.timeout):
                    time.sleep(0.02)
            script(base)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        return [json.loads(line) for line in out if line.strip()]


def wait_ready(base, timeout_s=90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if http("GET", base + "/readyz", timeout=5)[0] == 200:
            return True
        time.sleep(0.05)
    return False


# --- LogEntry, as Cloud Logging makes it from a structured stdout line ------------------------

LIFTED = {"severity", "time", "httpRequest", "logging.googleapis.com/trace"}


def log_entry(line):
    entry = {
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "SERVICE"}},
        "logName": "projects/PROJECT/logs/run.googleapis.com%2Fstdout",
        "severity": line.get("severity", "DEFAULT"),
        "jsonPayload": {k: v for k, v in line.items() if k not in LIFTED},
    }
    if "httpRequest" in line:
        http_request = dict(line["httpRequest"])
        entry["httpRequest"] = http_request
    return entry


MISSING = object()


def resolve(entry, path):
    value = entry
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return MISSING
    return value


# --- a Logging query language interpreter, for the subset the queries use ---------------------

TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>>=|<=|!=|=|>|<|:)|(?P<paren>[()])|'
                   r'(?P<word>[A-Za-z0-9_.%/*+-]+))')
SEVERITIES = ["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]


def tokenize(text):
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse at {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = json.loads(value)
        tokens.append((kind, value))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


class Parser:
    """query := and ; and := or ("AND"? or)* ; or := unary ("OR" unary)* ; unary := "NOT"? primary."""

    def __init__(self, text):
        self.tokens = tokenize(text)
        self.i = 0
        self.fields = []

    def peek(self, offset=0):
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def parse(self):
        node = self.conjunction()
        if self.peek()[0] is not None:
            raise ValueError(f"unexpected {self.peek()[1]!r}")
        return node

    def conjunction(self):
        terms = [self.disjunction()]
        while self.peek()[0] is not None and self.peek() != ("paren", ")"):
            if self.peek() == ("word", "AND"):
                self.take()
            terms.append(self.disjunction())
        return ("and", terms)

    def disjunction(self):
        terms = [self.unary()]
        while self.peek() == ("word", "OR"):
            self.take()
            terms.append(self.unary())
        return ("or", terms)

    def unary(self):
        if self.peek() == ("word", "NOT"):
            self.take()
            return ("not", self.unary())
        if self.peek() == ("paren", "("):
            self.take()
            node = self.conjunction()
            if self.take() != ("paren", ")"):
                raise ValueError("missing )")
            return node
        kind, field = self.take()
        if kind != "word":
            raise ValueError(f"expected a field, got {field!r}")
        kind, op = self.take()
        if kind != "op":
            raise ValueError(f"expected an operator after {field}")
        self.fields.append(field)
        return ("cmp", field, op, self.values())

    def values(self):
        if self.peek() == ("paren", "("):
            self.take()
            values = [self.take()]
            while self.peek() == ("word", "OR"):
                self.take()
                values.append(self.take())
            if self.take() != ("paren", ")"):
                raise ValueError("missing ) in a value list")
            return values
        return [self.take()]


def compare(actual, op, literal):
    kind, text = literal
    if op == ":" and text == "*" and kind == "word":
        return True  # presence, checked by the caller
    if isinstance(actual, bool):
        want = text.lower() == "true"
        return {"=": actual == want, "!=": actual != want}.get(op, False)
    if actual is None:
        return False
    if op == ":":
        return str(text).lower() in str(actual).lower()
    if isinstance(actual, str) and actual.upper() in SEVERITIES and text.upper() in SEVERITIES:
        a, b = SEVERITIES.index(actual.upper()), SEVERITIES.index(text.upper())
    else:
        try:
            a, b = float(actual), float(text)
        except (TypeError, ValueError):
            a, b = str(actual).lower(), str(text).lower()
    return {"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def evaluate(node, entry):
    kind = node[0]
    if kind == "and":
        return all(evaluate(n, entry) for n in node[1])
    if kind == "or":
        return any(evaluate(n, entry) for n in node[1])
    if kind == "not":
        return not evaluate(node[1], entry)
    _, field, op, values = node
    actual = resolve(entry, field)
    if actual is MISSING:
        return False
    return any(compare(actual, op, v) for v in values)


def compile_filter(text):
    parser = Parser(text)
    return parser.parse(), parser.fields


EXTRACT = re.compile(r"^EXTRACT\(([\w.]+)\)$")


# --- the checks --------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cutout", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--bad-model", required=True)
    ap.add_argument("--fake-nvml", required=True)
    ap.add_argument("--fake-cuda-dir", required=True)
    ap.add_argument("--photo", required=True)
    args = ap.parse_args()
    photo = open(args.photo, "rb").read()
    jpeg = {"Content-Type": "image/jpeg"}
    ids = {}

    def healthy(base):
        # Sent at once: the model is still loading, so this is the cold request.
        status, body, _ = http("POST", base + "/api/v2/process?effects=color&max_side=256", photo, jpeg)
        check(status == 200, f"cold process request: {status}")
        check(wait_ready(base), "the model becomes ready")
        status, body, headers = http("POST", base + "/api/v2/process?effects=color,bw&max_side=256", photo, jpeg)
        check(status == 200, f"warm process request: {status}")
        ids["warm"] = headers.get("X-Request-Id", "")
        check(http("POST", base + "/api/v2/process?effects=sepia", photo, jpeg)[0] == 400, "bad effect: 400")
        check(http("POST", base + "/api/v2/process", b"not an image at all", jpeg)[0] == 415, "not an image: 415")
        http("GET", base + "/healthz")

    def gpu_failed(base):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and http("GET", base + "/readyz")[0] != 503:
            time.sleep(0.05)
        while time.monotonic() < deadline:
            body = http("GET", base + "/readyz")[1]
            if b"failed" in body:
                break
            time.sleep(0.05)
        check(http("POST", base + "/api/v2/process", photo, jpeg)[0] == 503, "a failed model: process 503")

    lines = run_server(args.cutout, ["--model", args.model], {}, healthy)
    lines_gpu = run_server(args.cutout, ["--model", args.bad_model, "--device", "cuda"],
                           {"CUTOUT_NVML_LIBRARY": args.fake_nvml,
                            "LD_LIBRARY_PATH": ":".join(filter(None, [args.fake_cuda_dir,
                                                                      os.environ.get("LD_LIBRARY_PATH")]))},
                           gpu_failed)
    entries = [log_entry(l) for l in lines + lines_gpu]
    check(len(entries) > 10, f"{len(entries)} log lines from the two servers")
    check(any(resolve(e, "jsonPayload.cold_start") is True for e in entries), "one request is marked cold_start")

    def field_exists(path):
        return any(resolve(e, path) is not MISSING for e in entries)

    root = args.source
    queries = yaml.safe_load(open(os.path.join(root, "deploy/cloud-logging/queries.yaml")))
    base_node, base_fields = compile_filter(queries["base"])
    for f in base_fields:
        check(field_exists(f), f"base filter field {f} exists in the LogEntry")
    check(all(evaluate(base_node, e) for e in entries), "the base filter matches every line")

    # What each query must match in the scripted run (None: only that it evaluates and its fields exist).
    expected = {
        "slow-process-requests": None,
        "process-time-breakdown": 2,
        "cold-requests": 1,
        "cold-starts": 5,
        "slow-cold-starts": None,
        "model-failed": 1,
        "gpu-memory": None,     # every request line of the GPU server; counted below
        "errors": 1,
        "refusals": 2,
        "overloaded": 0,
        "one-request": 1,
        "draining": 2,
    }
    gpu_request_lines = sum(1 for l in lines_gpu if "endpoint" in l)
    names = [q["name"] for q in queries["queries"]]
    check(sorted(names) == sorted(expected), f"the queries are the expected ones: {names}")
    for q in queries["queries"]:
        text = q["filter"].replace("REQUEST_ID", ids.get("warm", ""))
        try:
            node, fields = compile_filter(text)
        except ValueError as e:
            check(False, f"{q['name']}: parses ({e})")
            continue
        for f in fields:
            check(field_exists(f), f"{q['name']}: field {f} is in cutout's log lines")
        matched = [e for e in entries if evaluate(node, e) and evaluate(base_node, e)]
        want = expected.get(q["name"])
        if q["name"] == "gpu-memory":
            want = gpu_request_lines
            check(want > 0, "the GPU server logged requests")
        if q["name"] == "cold-starts":  # healthy: loading, warming, ready; the GPU server: loading, failed
            want = sum(1 for l in lines + lines_gpu if l.get("message", "").startswith("model ") and "endpoint" not in l)
            check(want == 5, f"five model status lines ({want})")
        if want is not None:
            check(len(matched) == want, f"{q['name']}: matches {len(matched)} line(s), expected {want}")
        else:
            print(f"     {q['name']}: matches {len(matched)} line(s)")

    # Message values the queries quote must be messages cutout really writes.
    sources = ""
    for folder, _, files in os.walk(os.path.join(root, "src")):
        for name in files:
            if name.endswith(".cpp"):
                sources += open(os.path.join(folder, name)).read()
    for q in queries["queries"]:
        for message in re.findall(r'jsonPayload\.message="([^"]+)"', q["filter"]):
            check(f'"{message}"' in sources, f"{q['name']}: message {message!r} is one cutout logs")

    # Log-based metrics: filters match, extractors give values of the declared type.
    metrics_dir = os.path.join(root, "deploy/cloud-logging/metrics")
    for name in sorted(os.listdir(metrics_dir)):
        metric = yaml.safe_load(open(os.path.join(metrics_dir, name)))
        node, fields = compile_filter(metric["filter"])
        for f in fields:
            check(field_exists(f), f"metric {name}: field {f} exists")
        matched = [e for e in entries if evaluate(node, e)]
        check(len(matched) > 0, f"metric {name}: its filter matches {len(matched)} line(s)")
        descriptor = metric["metricDescriptor"]
        if descriptor["valueType"] == "DISTRIBUTION":
            m = EXTRACT.match(metric.get("valueExtractor", ""))
            check(bool(m), f"metric {name}: a valueExtractor EXTRACT(field)")
            if m:
                values = [resolve(e, m.group(1)) for e in matched]
                check(all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values),
                      f"metric {name}: {m.group(1)} is a number in every matched line")
            check(any(k in metric.get("bucketOptions", {}) for k in
                      ("exponentialBuckets", "linearBuckets", "explicitBuckets")), f"metric {name}: bucket options")
        declared = {l["key"] for l in descriptor.get("labels", [])}
        extractors = metric.get("labelExtractors", {})
        check(declared == set(extractors), f"metric {name}: a label extractor per declared label")
        for key, extractor in extractors.items():
            m = EXTRACT.match(extractor)
            check(bool(m) and field_exists(m.group(1)), f"metric {name}: label {key} from an existing field")

    return finish("cloud logging")


if __name__ == "__main__":
    sys.exit(main())
