#!/usr/bin/python3
"""Checks the Cloud Run and Kubernetes manifests (deploy/cloudrun, deploy/k8s) against cutout itself.

    check_manifests.py --cutout build/cutout --source . [--test-models build/test_models]

What can drift between the manifests and the program is checked against the program: the real
binary's `serve --help` and `remove --help` (variable names, flags, defaults), the route table
in src/server/service.cpp (probe and metrics paths), and deploy/Dockerfile when there is one
(ports, entrypoint). The serve containers' environments are handed to the real `cutout serve`
(which must get as far as looking for the model file, i.e. accept every value), and the batch jobs'
command lines are run for every task with a tiny model on generated photos, checking that the
shards cover every input exactly once and that a retried task skips what is done.

python3 and python3-yaml only. Prints every failure; exits 1 if there is any, 2 on a usage error.
"""

import argparse
import concurrent.futures
import difflib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

try:
    import yaml
except ImportError:  # pragma: no cover
    print("check_manifests.py needs python3-yaml (apt-get install python3-yaml)", file=sys.stderr)
    sys.exit(2)

CLOUD_RUN_SIGTERM_GRACE_S = 10     # Cloud Run sends SIGKILL 10 s after SIGTERM
CLOUD_RUN_STARTUP_PROBE_MAX_S = 240
CLOUD_RUN_REQUEST_TIMEOUT_MAX_S = 3600
REQUEST_TIMEOUT_MARGIN_S = 10      # upload, rendering and encoding come after the matte deadline
MIN_STARTUP_WINDOW_S = 10          # a cold start takes a few seconds; leave room for slow ones
MIN_MEMORY_BYTES = 2 << 30         # peak RSS of one 12 MP job is ~1.4 GiB (docs/PERFORMANCE.md)
CLOUD_RUN_RESERVED_ENV = {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "CLOUD_RUN_JOB",
                          "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT",
                          "CLOUD_RUN_TASK_ATTEMPT"}


class Report:
    def __init__(self):
        self.failures = []
        self.notes = []
        self.checks = 0

    def check(self, ok, where, message):
        self.checks += 1
        if not ok:
            self.failures.append(f"{where}: {message}")
        return ok

    def fail(self, where, message):
        return self.check(False, where, message)

    def note(self, message):
        self.notes.append(message)


# ---------------------------------------------------------------------------------------------
# What the program says about itself

def run_help(cutout, sub):
    p = subprocess.run([cutout, sub, "--help"], capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin"})
    if p.returncode != 0:
        raise SystemExit(f"`{cutout} {sub} --help` failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def parse_options(help_text):
    """CLI11 help -> {flag names: (env or None, default or None)}; every alias is a key."""
    options = {}
    in_options = False
    for line in help_text.splitlines():
        if line.strip() in ("Options:", "Flags:"):
            in_options = True
            continue
        if in_options and re.match(r"^\S", line):
            in_options = line.strip().endswith(":")
            continue
        m = re.match(r"^\s{1,4}(-[\w-]+(?:,\s*-[\w-]+)*)(.*)$", line)
        if not in_options or not m:
            continue
        names = [n.strip() for n in m.group(1).split(",")]
        rest = m.group(2)
        env = re.search(r"\(Env:([A-Za-z0-9_]+)\)", rest)
        spec = rest[:env.start()] if env else rest
        spec = spec.split("  ")[0] if "  " in spec.strip() else spec  # the type, before the text
        default = None
        tokens = spec.split()
        if tokens and "=" in tokens[-1]:
            default = tokens[-1].rsplit("=", 1)[1]
        for n in names:
            options[n] = (env.group(1) if env else None, default)
    return options


def parse_routes(server_dir):
    """The (method, path, regex) of every Router::add call in src/server/*.cpp (the route table)."""
    routes = []
    for name in sorted(os.listdir(server_dir)):
        if not name.endswith(".cpp"):
            continue
        with open(os.path.join(server_dir, name), encoding="utf-8") as f:
            for method, path in re.findall(r'\brouter_?\.add\(\s*"([A-Z]+)"\s*,\s*"([^"]+)"', f.read()):
                pattern = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$"
                routes.append((method, path, re.compile(pattern)))
    return routes


def names_read_in_source(src_dir):
    """CUTOUT_* names the program reads outside the flag table (getenv and friends)."""
    names = set()
    for root, _, files in os.walk(src_dir):
        for name in files:
            if name.endswith((".cpp", ".h")):
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    names.update(re.findall(r'"(CUTOUT_[A-Z0-9_]+)"', f.read()))
    return names


# ---------------------------------------------------------------------------------------------
# Kubernetes-style values

def parse_quantity(value):
    """A Kubernetes quantity ("4", "500m", "8Gi", 2) -> float, or None."""
    if value is None:
        return None
    s = str(value).strip()
    m = re.match(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$", s)
    if not m:
        return None
    units = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
    return float(m.group(1)) * units[m.group(2)]


def as_int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def expand_k8s(text, env):
    """Kubernetes' $(VAR) expansion: defined names are replaced, $$ is a literal $."""
    def repl(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", repl, text)


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ---------------------------------------------------------------------------------------------
# The manifests

class Container:
    """One container of a workload, with what the checks need."""

    def __init__(self, where, platform, workload, pod_spec, pod_meta, c):
        self.where = where
        self.platform = platform          # "cloudrun" or "k8s"
        self.workload = workload          # the whole document
        self.pod_spec = pod_spec
        self.pod_meta = pod_meta or {}
        self.c = c
        self.name = c.get("name", "?")
        self.command = [str(x) for x in (c.get("command") or [])]
        self.args = [str(x) for x in (c.get("args") or [])]
        argv = self.command[1:] + self.args if self.command else self.args
        self.subcommand = next((a for a in argv if a in ("serve", "remove", "bench", "eval", "models")), None)
        self.sub_args = argv[argv.index(self.subcommand) + 1:] if self.subcommand else []
        self.env_list = c.get("env") or []
        self.env = {e.get("name"): e for e in self.env_list if isinstance(e, dict)}
        res = c.get("resources") or {}
        self.limits = res.get("limits") or {}
        self.requests = res.get("requests") or {}
        self.ports = [p for p in (c.get("ports") or []) if isinstance(p, dict)]

    @property
    def is_cutout(self):
        return self.subcommand is not None or "cutout" in str(self.c.get("image", "")).rsplit("/", 1)[-1]

    def literal(self, name):
        e = self.env.get(name)
        return None if e is None or "value" not in e else str(e["value"])

    def cpu_limit(self):
        return parse_quantity(self.limits.get("cpu"))

    def resolved_env(self, index=None):
        """The environment the container would see, valueFrom resolved as the platform would."""
        out = {}
        for e in self.env_list:
            name = e.get("name")
            if "value" in e:
                v = str(e["value"])
                out[name] = expand_k8s(v, out) if self.platform == "k8s" else v
                continue
            src = e.get("valueFrom") or {}
            if "resourceFieldRef" in src:
                ref = src["resourceFieldRef"]
                kind, _, res = str(ref.get("resource", "")).partition(".")
                q = parse_quantity(((self.c.get("resources") or {}).get(kind) or {}).get(res))
                d = parse_quantity(ref.get("divisor", "1")) or 1
                out[name] = str(int(math.ceil(q / d))) if q is not None else "0"
            elif "fieldRef" in src:
                path = str(src["fieldRef"].get("fieldPath", ""))
                out[name] = str(index if index is not None else 0) if "job-completion-index" in path else "x"
            elif "secretKeyRef" in src or "configMapKeyRef" in src:
                out[name] = "from-a-secret"
            else:
                out[name] = ""
        return out

    def container_port(self):
        if self.ports:
            return as_int(self.ports[0].get("containerPort"))
        return None

    def resolve_port(self, port):
        """A probe/Service port (number or name) -> number, or None."""
        if isinstance(port, int):
            return port
        for p in self.ports:
            if p.get("name") == port:
                return as_int(p.get("containerPort"))
        return as_int(port)


def workload_containers(where, doc):
    """(platform, pod_spec, pod_meta) of a workload document, or None."""
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    spec = doc.get("spec") or {}
    if api.startswith("serving.knative.dev/") and kind == "Service":
        t = spec.get("template") or {}
        return "cloudrun", t.get("spec") or {}, t.get("metadata") or {}
    if api.startswith("run.googleapis.com/") and kind == "Job":
        t = (((spec.get("template") or {}).get("spec") or {}).get("template") or {})
        return "cloudrun", t.get("spec") or {}, t.get("metadata") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet") or (api.startswith("batch/") and kind == "Job"):
        t = spec.get("template") or {}
        return "k8s", t.get("spec") or {}, t.get("metadata") or {}
    if api.startswith("batch/") and kind == "CronJob":
        t = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {})
        return "k8s", t.get("spec") or {}, t.get("metadata") or {}
    return None


def load_manifests(source, report):
    docs = []
    for sub in ("deploy/cloudrun", "deploy/k8s"):
        top = os.path.join(source, sub)
        if not os.path.isdir(top):
            report.fail(sub, "folder missing")
            continue
        for root, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith((".yaml", ".yml")):
                    continue
                path = os.path.join(root, name)
                rel = os.path.relpath(path, source)
                try:
                    with open(path, encoding="utf-8") as f:
                        loaded = list(yaml.safe_load_all(f))
                except yaml.YAMLError as e:
                    report.fail(rel, f"not valid YAML: {e}")
                    continue
                for i, doc in enumerate(loaded):
                    if doc is None:
                        continue
                    if not isinstance(doc, dict) or "kind" not in doc:
                        report.fail(f"{rel}#{i}", "document without apiVersion/kind")
                        continue
                    name_ = (doc.get("metadata") or {}).get("name", "?")
                    docs.append((f"{rel} [{doc['kind']} {name_}]", rel, doc))
    return docs


# ---------------------------------------------------------------------------------------------
# The checks

class Checker:
    def __init__(self, args, report):
        self.args = args
        self.r = report
        self.cutout = args.cutout
        self.source = args.source
        self.serve_opts = parse_options(run_help(self.cutout, "serve"))
        self.remove_opts = parse_options(run_help(self.cutout, "remove"))
        self.serve_env = {env: (flag, default) for flag, (env, default) in self.serve_opts.items() if env}
        self.flag_env = {flag: env for flag, (env, _) in self.serve_opts.items() if env}
        if not self.serve_env:
            raise SystemExit("`cutout serve --help` shows no (Env:NAME) entries: cannot check variable names")
        self.read_elsewhere = names_read_in_source(os.path.join(self.source, "src")) - set(self.serve_env)
        self.routes = parse_routes(os.path.join(self.source, "src/server"))
        if not self.routes:
            raise SystemExit("no router.add(...) calls found in src/server/*.cpp")
        self.docs = load_manifests(self.source, report)
        self.k8s_services = [(w, d) for w, rel, d in self.docs
                             if rel.startswith("deploy/k8s") and d.get("kind") == "Service" and d.get("apiVersion") == "v1"]
        self.containers = []
        for where, rel, doc in self.docs:
            found = workload_containers(where, doc)
            if not found:
                continue
            platform, pod_spec, pod_meta = found
            for c in (pod_spec.get("containers") or []):
                self.containers.append(Container(where, platform, doc, pod_spec, pod_meta, c))

    # --- helpers ---------------------------------------------------------------------------

    def effective(self, c, env_name):
        """The value of a serve setting: flag in args > env (literal) > --help default."""
        flag = self.serve_env.get(env_name, (None, None))[0]
        aliases = [f for f, e in self.flag_env.items() if e == env_name]
        for i, a in enumerate(c.sub_args):
            for f in aliases:
                if a == f and i + 1 < len(c.sub_args):
                    return c.sub_args[i + 1], f"flag {f}"
                if a.startswith(f + "="):
                    return a.split("=", 1)[1], f"flag {f}"
        v = c.literal(env_name)
        if v is not None:
            return v, env_name
        if env_name in c.env:
            return None, f"{env_name} (valueFrom)"
        return self.serve_env.get(env_name, (None, None))[1], f"the default of {flag}"

    def eff_int(self, c, env_name):
        v, src = self.effective(c, env_name)
        n = as_int(v)
        if v is not None and n is None:
            self.r.fail(c.where, f"{src} = {v!r} is not an integer")
        return n, src

    def route_exists(self, path, method="GET"):
        path = str(path).split("?")[0]
        return any(m == method and rx.match(path) for m, _, rx in self.routes)

    def image_env(self):
        """deploy/Dockerfile's ENV (paths in it are not used: data dirs are moved into the sandbox)."""
        env = dict(self.dockerfile["env"]) if self.dockerfile else {}
        for k in ("PATH", "HOME", "CUTOUT_MODELS_DIR", "LD_LIBRARY_PATH"):
            env.pop(k, None)
        return env

    def service_link_env(self, c):
        """What Kubernetes adds for each Service of the namespace when enableServiceLinks is on."""
        env = {}
        if c.platform == "k8s" and c.pod_spec.get("enableServiceLinks") is not False:
            for _, svc in self.k8s_services:
                prefix = svc["metadata"].get("name", "").upper().replace("-", "_")
                port = ((svc.get("spec") or {}).get("ports") or [{}])[0].get("port", 80)
                env[f"{prefix}_SERVICE_HOST"] = "10.0.0.1"
                env[f"{prefix}_SERVICE_PORT"] = str(port)
                env[f"{prefix}_PORT"] = f"tcp://10.0.0.1:{port}"
        return env

    def where(self, c):
        return f"{c.where} container {c.name}"

    # --- every container -------------------------------------------------------------------

    def check_env_names(self, c):
        w = self.where(c)
        seen = set()
        for e in c.env_list:
            name = e.get("name")
            self.r.check(name not in seen, w, f"env {name} is set twice")
            seen.add(name)
            if not str(name).startswith("CUTOUT_"):
                continue
            if name in self.serve_env:
                self.r.check(True, w, "")
            elif name in self.read_elsewhere:
                self.r.check(True, w, "")
                self.r.note(f"{w}: {name} is read by the program (src/) but not listed by `cutout serve --help`")
            else:
                close = difflib.get_close_matches(name, list(self.serve_env) + sorted(self.read_elsewhere), 2)
                self.r.fail(w, f"env {name} is not a variable cutout knows (not in `cutout serve --help`)"
                               + (f"; did you mean {' or '.join(close)}?" if close else ""))
        if c.platform == "cloudrun":
            for name in c.env:
                self.r.check(name not in CLOUD_RUN_RESERVED_ENV, w,
                             f"env {name} is reserved on Cloud Run (it sets it itself)")

    def check_threads(self, c):
        w = self.where(c)
        cpu = c.cpu_limit()
        if not self.r.check(cpu is not None, w, "no resources.limits.cpu (CUTOUT_THREADS must not exceed it)"):
            return
        if "CUTOUT_THREADS" not in c.env and not any(a.startswith("--threads") for a in c.sub_args):
            self.r.fail(w, "CUTOUT_THREADS is not set: cutout would use every core of the host, not the "
                           f"{cpu:g} CPUs of the limit")
            return
        env = c.resolved_env()
        threads = as_int(env.get("CUTOUT_THREADS"))
        e = c.env.get("CUTOUT_THREADS") or {}
        if "resourceFieldRef" in (e.get("valueFrom") or {}):
            ref = e["valueFrom"]["resourceFieldRef"]
            self.r.check(ref.get("resource") == "limits.cpu", w,
                         f"CUTOUT_THREADS comes from {ref.get('resource')}, not limits.cpu")
            self.r.check(ref.get("containerName", c.name) == c.name, w,
                         f"CUTOUT_THREADS comes from container {ref.get('containerName')}, not {c.name}")
        if threads is None:
            self.r.fail(w, f"CUTOUT_THREADS = {env.get('CUTOUT_THREADS')!r} is not an integer")
            return
        self.r.check(1 <= threads <= cpu, w, f"CUTOUT_THREADS = {threads} but the CPU limit is {cpu:g}")
        for other in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if other in env:
                self.r.check(as_int(env[other]) == threads, w,
                             f"{other} = {env[other]} differs from CUTOUT_THREADS = {threads}")

    def check_resources(self, c):
        w = self.where(c)
        mem = parse_quantity(c.limits.get("memory"))
        if self.r.check(mem is not None, w, "no resources.limits.memory"):
            self.r.check(mem >= MIN_MEMORY_BYTES, w,
                         f"memory limit {c.limits.get('memory')} is under 2 GiB (one 12 MP job peaks at ~1.4 GiB)")
        for key, req in c.requests.items():
            lim = parse_quantity(c.limits.get(key))
            q = parse_quantity(req)
            if lim is not None and q is not None:
                self.r.check(q <= lim, w, f"requests.{key} {req} is over limits.{key} {c.limits.get(key)}")
        gpu = c.limits.get("nvidia.com/gpu")
        device, src = self.effective(c, "CUTOUT_DEVICE") if c.subcommand == "serve" else (None, "")
        if c.subcommand == "remove":
            device = "cuda" if any(a in ("--device=cuda", "cuda") for a in c.sub_args) else "cpu"
        if c.subcommand == "serve":
            self.r.check(device in ("cpu", "cuda", "gpu", "auto"), w, f"{src} = {device!r}: cutout takes cpu, cuda or auto")
        if gpu is not None:
            self.r.check(device in ("cuda", "gpu"), w, f"a GPU is requested (nvidia.com/gpu) but the device is {device!r}")
        elif device in ("cuda", "gpu"):
            self.r.fail(w, "device cuda without an nvidia.com/gpu limit")
        if gpu is not None and c.platform == "cloudrun":
            sel = (c.pod_spec.get("nodeSelector") or {}).get("run.googleapis.com/accelerator")
            self.r.check(bool(sel), w, "GPU without nodeSelector run.googleapis.com/accelerator (e.g. nvidia-l4)")
            self.r.check((c.cpu_limit() or 0) >= 4, w, "Cloud Run GPUs need at least 4 CPUs")
            self.r.check((mem or 0) >= 16 * 2**30, w, "Cloud Run GPUs need at least 16Gi of memory")
            ann = (c.pod_meta.get("annotations") or {})
            self.r.check(str(ann.get("run.googleapis.com/cpu-throttling")) == "false", w,
                         "Cloud Run GPU services need run.googleapis.com/cpu-throttling: \"false\" (instance-based billing)")

    # --- serve -----------------------------------------------------------------------------

    def check_serve_flags(self, c):
        w = self.where(c)
        for a in c.sub_args:
            if a.startswith("-"):
                flag = a.split("=", 1)[0]
                self.r.check(flag in self.serve_opts, w, f"`cutout serve` has no option {flag}")

    def check_probes(self, c):
        w = self.where(c)
        port = c.container_port()
        expect = {"startupProbe": "/readyz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}
        for probe, path in expect.items():
            p = c.c.get(probe)
            if p is None:
                # Cloud Run has no readiness probes for services; the startup probe gates traffic.
                needed = probe != "readinessProbe" or c.platform == "k8s"
                self.r.check(not needed, w, f"no {probe} (expected httpGet {path})")
                continue
            get = p.get("httpGet")
            if not self.r.check(get is not None, w, f"{probe} is not an httpGet probe"):
                continue
            got = get.get("path", "/")
            self.r.check(self.route_exists(got), w, f"{probe} path {got} is not a GET route of the service "
                                                   f"(the route table, src/server/*.cpp: {', '.join(p for m, p, _ in self.routes if m == 'GET')})")
            self.r.check(got == path, w, f"{probe} uses {got}; it should be {path} "
                                         + ("(ready = model loaded and warmed)" if path == "/readyz"
                                            else "(alive; /readyz fails while loading and after a model failure)"))
            pp = c.resolve_port(get.get("port", port))
            self.r.check(pp == port, w, f"{probe} port {get.get('port')} is not the container port {port}")
            period = as_int(p.get("periodSeconds", 10)) or 10
            timeout = as_int(p.get("timeoutSeconds", 1)) or 1
            self.r.check(timeout <= period, w, f"{probe} timeoutSeconds {timeout} > periodSeconds {period}")
            if probe == "startupProbe":
                window = (as_int(p.get("initialDelaySeconds", 0)) or 0) + period * (as_int(p.get("failureThreshold", 3)) or 3)
                self.r.check(window >= MIN_STARTUP_WINDOW_S, w,
                             f"startupProbe allows only {window} s for the model load and warm-up")
                if c.platform == "cloudrun":
                    self.r.check(window <= CLOUD_RUN_STARTUP_PROBE_MAX_S, w,
                                 f"startupProbe window {window} s is over Cloud Run's {CLOUD_RUN_STARTUP_PROBE_MAX_S} s")

    def check_ports(self, c):
        w = self.where(c)
        port = c.container_port()
        if not self.r.check(port is not None, w, "no containerPort"):
            return
        self.r.check(len(c.ports) == 1, w, "cutout listens on one port; more than one containerPort given")
        env = c.resolved_env()
        listen, src = None, ""
        flag_port, flag_src = self.effective(c, "CUTOUT_PORT")
        if flag_src.startswith("flag"):
            listen, src = as_int(flag_port), flag_src
        elif "CUTOUT_PORT" in env:
            listen, src = as_int(env["CUTOUT_PORT"]), "CUTOUT_PORT"
        elif "PORT" in env:
            listen, src = as_int(env["PORT"]), "PORT"
        if listen is not None:
            self.r.check(listen == port, w, f"{src} = {listen} but containerPort = {port}")
        if c.platform == "cloudrun":
            self.r.check(c.ports[0].get("name", "http1") in ("http1", "h2c"), w,
                         "Cloud Run port name must be http1 or h2c (cutout speaks HTTP/1.1: http1)")
            if listen is None and self.dockerfile and self.dockerfile["env"].get("CUTOUT_PORT"):
                self.r.fail(w, "deploy/Dockerfile sets CUTOUT_PORT, which would win over Cloud Run's PORT")
        else:
            if listen is None:
                df = self.dockerfile["env"].get("CUTOUT_PORT") or self.dockerfile["env"].get("PORT") if self.dockerfile else None
                listen = as_int(df) if df else as_int(self.serve_env["CUTOUT_PORT"][1])
                self.r.check(listen == port, w, f"cutout would listen on {listen} (no CUTOUT_PORT/PORT here) "
                                                f"but containerPort = {port}")
            ann = c.pod_meta.get("annotations") or {}
            if "prometheus.io/port" in ann:
                self.r.check(as_int(ann["prometheus.io/port"]) == port, w,
                             f"prometheus.io/port {ann['prometheus.io/port']} is not the container port {port}")
            if "prometheus.io/path" in ann:
                self.r.check(self.route_exists(ann["prometheus.io/path"]), w,
                             f"prometheus.io/path {ann['prometheus.io/path']} is not a GET route")

    def check_cloud_run_service(self, c):
        w = self.where(c)
        doc = c.workload
        tspec = doc["spec"]["template"].get("spec") or {}
        ann = (doc["spec"]["template"].get("metadata") or {}).get("annotations") or {}
        self.r.check(str(ann.get("autoscaling.knative.dev/minScale")) == "0", w,
                     f"autoscaling.knative.dev/minScale is {ann.get('autoscaling.knative.dev/minScale')!r}, not \"0\" (scale to zero)")
        mx = as_int(ann.get("autoscaling.knative.dev/maxScale"))
        self.r.check(mx is not None and mx >= 1, w, "autoscaling.knative.dev/maxScale missing or not a positive integer")
        self.r.check(str(ann.get("run.googleapis.com/startup-cpu-boost")) == "true", w,
                     "run.googleapis.com/startup-cpu-boost is not \"true\" (the model load is all of the cold start)")
        self.r.check(str(ann.get("run.googleapis.com/cpu-throttling")) in ("true", "false"), w,
                     "run.googleapis.com/cpu-throttling (CPU allocation) is not set to \"true\" or \"false\"")
        # Queue and concurrency: running + waiting jobs the engine accepts before a 429.
        if not self.r.check(c.literal("CUTOUT_QUEUE_LIMIT") is not None or any(a.startswith("--queue-limit") for a in c.sub_args),
                            w, "CUTOUT_QUEUE_LIMIT is not set explicitly (containerConcurrency depends on it)"):
            return
        q, qsrc = self.eff_int(c, "CUTOUT_QUEUE_LIMIT")
        ic, icsrc = self.eff_int(c, "CUTOUT_INFERENCE_CONCURRENCY")
        cc = as_int(tspec.get("containerConcurrency"))
        if q is not None and ic is not None:
            self.r.check(cc == q + ic, w,
                         f"containerConcurrency = {cc}, but the instance accepts {ic} running ({icsrc}) + {q} waiting "
                         f"({qsrc}) = {q + ic} process requests before answering 429: they must be equal")
            threads, tsrc = self.eff_int(c, "CUTOUT_HTTP_THREADS")
            if threads is not None and cc is not None:
                self.r.check(threads >= cc + 2, w,
                             f"{tsrc} = {threads} is too few for containerConcurrency {cc} plus probes")
        # Timeouts.
        ts = as_int(tspec.get("timeoutSeconds", 300))
        rt, rtsrc = self.eff_int(c, "CUTOUT_REQUEST_TIMEOUT_MS")
        if rt is not None and ts is not None:
            need = math.ceil(rt / 1000) + REQUEST_TIMEOUT_MARGIN_S
            self.r.check(ts >= need, w, f"timeoutSeconds = {ts} but {rtsrc} = {rt} ms (the wait for the matte, "
                                        f"before rendering and encoding): needs at least {need}")
            self.r.check(ts <= CLOUD_RUN_REQUEST_TIMEOUT_MAX_S, w, f"timeoutSeconds {ts} is over Cloud Run's 3600")
        rw, rwsrc = self.eff_int(c, "CUTOUT_READY_WAIT_MS")
        if rw is not None and ts is not None:
            self.r.check(rw / 1000 < ts, w, f"{rwsrc} = {rw} ms is not under timeoutSeconds = {ts}")
        dt, dtsrc = self.eff_int(c, "CUTOUT_DRAIN_TIMEOUT_MS")
        if dt is not None:
            self.r.check(dt < CLOUD_RUN_SIGTERM_GRACE_S * 1000, w,
                         f"{dtsrc} = {dt} ms, but Cloud Run kills the container {CLOUD_RUN_SIGTERM_GRACE_S} s after SIGTERM")

    def check_k8s_serve(self, c):
        w = self.where(c)
        spec = c.pod_spec
        if not self.r.check(c.literal("CUTOUT_DRAIN_TIMEOUT_MS") is not None or any(a.startswith("--drain-timeout-ms") for a in c.sub_args),
                            w, "CUTOUT_DRAIN_TIMEOUT_MS is not set explicitly"):
            return
        dt, dtsrc = self.eff_int(c, "CUTOUT_DRAIN_TIMEOUT_MS")
        pre = ((c.c.get("lifecycle") or {}).get("preStop") or {})
        pre_s = as_int((pre.get("sleep") or {}).get("seconds")) or 0
        if "exec" in pre:
            m = re.search(r"sleep\s+(\d+)", " ".join(str(x) for x in pre["exec"].get("command") or []))
            pre_s = int(m.group(1)) if m else 0
        grace = as_int(spec.get("terminationGracePeriodSeconds", 30))
        if dt is not None:
            self.r.check(grace > pre_s + dt / 1000, w,
                         f"terminationGracePeriodSeconds = {grace} is not over the preStop sleep ({pre_s} s) + "
                         f"{dtsrc} ({dt / 1000:g} s): the kubelet would kill the drain")
        # Non-root, read-only root file system, and a writable data dir.
        psc = spec.get("securityContext") or {}
        csc = c.c.get("securityContext") or {}
        non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        self.r.check(non_root is True or (uid is not None and uid != 0), w, "not run as non-root (runAsNonRoot / runAsUser)")
        if csc.get("readOnlyRootFilesystem"):
            mounts = {m.get("mountPath"): m for m in (c.c.get("volumeMounts") or [])}
            store, _ = self.effective(c, "CUTOUT_SHARE_STORE")
            data_dir, _ = self.effective(c, "CUTOUT_DATA_DIR")
            need = None
            if store and store.startswith("file:"):
                need = store[5:]
            elif not store:
                need = data_dir or "(the default data dir under $HOME)"
            if need:
                ok = any(need == p or need.startswith(p.rstrip("/") + "/") for p, m in mounts.items() if not m.get("readOnly"))
                self.r.check(ok, w, f"readOnlyRootFilesystem, but the share store's folder {need} is on no writable volume")
        # Redis share store: the host must be a Service here, on that port, in front of a pod that listens.
        store, _ = self.effective(c, "CUTOUT_SHARE_STORE")
        m = re.match(r"^redis://([^:/]+)(?::(\d+))?", store or "")
        if m:
            host, port = m.group(1), int(m.group(2) or 6379)
            svc = [d for _, d in self.k8s_services if d["metadata"].get("name") == host.split(".")[0]]
            if self.r.check(bool(svc), w, f"CUTOUT_SHARE_STORE names {host}, which is no Service in deploy/k8s"):
                ports = [p for p in (svc[0].get("spec") or {}).get("ports") or [] if as_int(p.get("port")) == port]
                self.r.check(bool(ports), w, f"Service {host} has no port {port}")
        self.check_service_links(c)

    def check_service_links(self, c):
        """A Service named X injects X_PORT, X_SERVICE_HOST, ... into pods unless enableServiceLinks is false."""
        if c.pod_spec.get("enableServiceLinks") is False:
            return
        known = set(self.serve_env) | self.read_elsewhere | {"PORT"}
        for _, svc in self.k8s_services:
            prefix = svc["metadata"].get("name", "").upper().replace("-", "_")
            injected = {f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT", f"{prefix}_PORT"}
            for p in (svc.get("spec") or {}).get("ports") or []:
                proto = str(p.get("protocol", "TCP")).upper()
                base = f"{prefix}_PORT_{p.get('port')}_{proto}"
                injected |= {base, base + "_PROTO", base + "_PORT", base + "_ADDR"}
                if p.get("name"):
                    injected.add(f"{prefix}_SERVICE_PORT_{str(p['name']).upper().replace('-', '_')}")
            clash = sorted(n for n in injected & known if n not in c.env)
            self.r.check(not clash, self.where(c),
                         f"Service {svc['metadata'].get('name')} injects {', '.join(clash)} (e.g. CUTOUT_PORT=tcp://IP:PORT), "
                         "which cutout reads: set enableServiceLinks: false")

    def dry_run_serve(self, c):
        """The real `cutout serve` must accept the environment, and stop only at the missing model."""
        w = self.where(c)
        with tempfile.TemporaryDirectory(prefix="cutout-manifest-") as tmp:
            env = {"PATH": "/usr/bin:/bin", "HOME": tmp}
            env.update(self.image_env())  # the image's ENV, under the manifest's
            env["CUTOUT_MODELS_DIR"] = os.path.join(tmp, "no-models")
            if c.platform == "cloudrun" and c.container_port():
                env["PORT"] = str(c.container_port())
            env.update(self.service_link_env(c))
            for k, v in c.resolved_env().items():
                env[k] = v
            if "CUTOUT_DATA_DIR" in env:
                env["CUTOUT_DATA_DIR"] = os.path.join(tmp, "data")
            if env.get("CUTOUT_SHARE_STORE", "").startswith("file:"):
                env["CUTOUT_SHARE_STORE"] = "file:" + os.path.join(tmp, "shares")
            argv = [self.cutout, "serve"] + [a for a in c.sub_args]
            try:
                p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, cwd=tmp)
            except subprocess.TimeoutExpired:
                self.r.fail(w, "`cutout serve` with this environment did not stop at the missing model (it started?)")
                return
            out = (p.stderr + p.stdout).strip()
            self.r.check("model file not found" in out, w,
                         f"`cutout serve` refuses this configuration (exit {p.returncode}): {out.splitlines()[0] if out else ''}")

    # --- remove (batch jobs) ---------------------------------------------------------------

    def check_remove(self, c):
        w = self.where(c)
        args = c.sub_args
        i, inputs, output, shard = 0, [], None, None
        while i < len(args):
            a = args[i]
            if a.startswith("-") and a != "-":
                flag, eq, val = a.partition("=")
                if not self.r.check(flag in self.remove_opts, w, f"`cutout remove --help` does not list {flag}"):
                    i += 1
                    continue
                takes_value = self.remove_opts[flag][1] is not None or flag in self.valued_remove_flags()
                if takes_value and not eq:
                    val = args[i + 1] if i + 1 < len(args) else None
                    i += 1
                if flag in ("-o", "--output"):
                    output = val
                if flag == "--shard":
                    shard = val
                i += 1
                continue
            inputs.append(a)
            i += 1
        has = lambda f: any(a == f or a.startswith(f + "=") for a in args)  # noqa: E731
        self.r.check(shard is not None, w, "no --shard: every task would process the whole batch")
        self.r.check(output is not None, w, "no -o OUTDIR")
        self.r.check(has("--skip-existing"), w, "no --skip-existing: a retried task would redo its whole share")
        self.r.check(("--progress", "json") in zip(args, args[1:]) or "--progress=json" in args, w,
                     "no --progress json (one JSON line per photo and a summary, for the logs)")
        mounts = {m.get("mountPath"): m for m in (c.c.get("volumeMounts") or [])}
        under = lambda p: next((mp for mp in mounts if p == mp or p.startswith(mp.rstrip("/") + "/")), None)  # noqa: E731
        for p in inputs:
            self.r.check(under(p) is not None, w, f"input {p} is on no volume mount ({', '.join(mounts) or 'none'})")
        if output:
            mp = under(output)
            if self.r.check(mp is not None, w, f"-o {output} is on no volume mount"):
                self.r.check(not mounts[mp].get("readOnly"), w, f"-o {output} is on the read-only mount {mp}")
        doc = c.workload
        if c.platform == "cloudrun":
            espec = doc["spec"]["template"]["spec"]
            n = as_int(espec.get("taskCount", 1))
            par = as_int(espec.get("parallelism", 0))
            self.r.check(shard == "auto", w, f"--shard {shard}: on Cloud Run use auto (CLOUD_RUN_TASK_INDEX/COUNT): a "
                                             "literal shard is the same in every task, and the task index is set at run time, "
                                             "not in the spec, so $(CLOUD_RUN_TASK_INDEX) in args is not expanded")
            for a in c.args:
                self.r.check("$(" not in a, w, f"arg {a!r}: the task's CLOUD_RUN_* variables are not expanded in args")
            self.r.check(par is None or par <= n, w, f"parallelism {par} > taskCount {n}")
            retries = as_int(c.pod_spec.get("maxRetries"))
            self.r.check(retries is not None and 0 <= retries <= 10, w, "maxRetries missing or not 0-10")
            vols = {v.get("name"): v for v in c.pod_spec.get("volumes") or []}
            for mp, m in mounts.items():
                v = vols.get(m.get("name"))
                if not self.r.check(v is not None, w, f"volumeMount {mp} names no volume"):
                    continue
                csi = v.get("csi") or {}
                if csi:
                    self.r.check(csi.get("driver") == "gcsfuse.run.googleapis.com", w,
                                 f"volume {m.get('name')}: driver {csi.get('driver')} (Cloud Storage FUSE is gcsfuse.run.googleapis.com)")
                    self.r.check(bool((csi.get("volumeAttributes") or {}).get("bucketName")), w,
                                 f"volume {m.get('name')}: no bucketName")
                    self.r.check(bool(csi.get("readOnly")) == bool(m.get("readOnly")), w,
                                 f"volume {m.get('name')} readOnly differs from its mount at {mp}")
                    env_ann = (doc["spec"]["template"].get("metadata") or {}).get("annotations") or {}
                    self.r.check(env_ann.get("run.googleapis.com/execution-environment") == "gen2", w,
                                 "Cloud Storage volumes need run.googleapis.com/execution-environment: gen2")
            self.simulate_batch(c, n, output, inputs)
        else:
            spec = doc.get("spec") or {}
            if doc.get("kind") != "Job":
                self.r.fail(w, "cutout remove outside a Job")
                return
            n = as_int(spec.get("completions"))
            self.r.check(spec.get("completionMode") == "Indexed", w, "completionMode is not Indexed")
            par = as_int(spec.get("parallelism", 1))
            self.r.check(n is not None and par is not None and par <= n, w, f"parallelism {par} > completions {n}")
            m = re.match(r"^\$\(JOB_COMPLETION_INDEX\)/(\d+)$", shard or "")
            if self.r.check(m is not None, w, f"--shard {shard!r}: expected $(JOB_COMPLETION_INDEX)/N"):
                self.r.check(int(m.group(1)) == n, w, f"--shard .../{m.group(1)} but completions = {n}: "
                                                      "inputs would be lost or done twice")
            self.r.check(as_int(spec.get("backoffLimitPerIndex")) is not None, w,
                         "no backoffLimitPerIndex (retries per shard)")
            self.r.check(c.pod_spec.get("restartPolicy") == "Never", w,
                         "restartPolicy must be Never (backoffLimitPerIndex and podFailurePolicy need it)")
            psc, csc = c.pod_spec.get("securityContext") or {}, c.c.get("securityContext") or {}
            self.r.check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, w, "not runAsNonRoot")
            self.simulate_batch(c, n, output, inputs)

    def valued_remove_flags(self):
        """Options of `cutout remove` that take a value (a type after the name in --help)."""
        if not hasattr(self, "_valued"):
            text = run_help(self.cutout, "remove")
            self._valued = set()
            for line in text.splitlines():
                m = re.match(r"^\s{1,4}(-[\w-]+(?:,\s*-[\w-]+)*)\s+([A-Z]+)\b", line)
                if m:
                    self._valued.update(n.strip() for n in m.group(1).split(","))
        return self._valued

    def simulate_batch(self, c, n, output, inputs):
        """Every task of the job, run for real with a tiny model on generated photos."""
        w = self.where(c)
        models = self.args.test_models
        if not models or not os.path.isfile(os.path.join(models, "tiny_isnet.onnx")):
            self.r.note(f"{w}: batch run not simulated (no --test-models with tiny_isnet.onnx)")
            return
        if not n or n > 200 or not output:
            self.r.note(f"{w}: batch run not simulated (task count {n})")
            return
        mount_paths = [m.get("mountPath") for m in (c.c.get("volumeMounts") or [])]
        on_mount = lambda p: any(p == mp or p.startswith(mp.rstrip("/") + "/") for mp in mount_paths)  # noqa: E731
        if not all(on_mount(p) for p in inputs + [output]) or not inputs:
            # Already a failure above; never run with a path that would land outside the sandbox.
            self.r.note(f"{w}: batch run not simulated (inputs or output on no volume mount)")
            return
        with tempfile.TemporaryDirectory(prefix="cutout-batch-") as tmp:
            mdir = os.path.join(tmp, "models")
            os.makedirs(mdir)
            for name in ("isnet.onnx", "isnet-int8.onnx", "isnet-qdq.onnx"):
                os.symlink(os.path.join(os.path.abspath(models), "tiny_isnet.onnx"), os.path.join(mdir, name))
            mounts = [m.get("mountPath") for m in (c.c.get("volumeMounts") or [])]
            local = {mp: os.path.join(tmp, "mnt" + mp) for mp in mounts}
            for d in local.values():
                os.makedirs(d, exist_ok=True)

            def to_local(p):
                for mp, d in sorted(local.items(), key=lambda kv: -len(kv[0])):
                    if p == mp or p.startswith(mp.rstrip("/") + "/"):
                        return d + p[len(mp):]
                return p

            # 2 photos per task and 3 more, some in sub-folders, names sharing stems.
            expected = []
            for k in range(2 * n + 3):
                rel = (f"trip{k % 3}/" if k % 4 == 1 else "") + f"p{k:03d}.png"
                for i_ in inputs:
                    path = os.path.join(to_local(i_), rel)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "wb") as f:
                        f.write(tiny_png(24 + k % 5, 16 + k % 3, k))
                    expected.append(os.path.normpath(path))
            seen = {}
            out_dir = to_local(output)
            tasks = []
            for index in range(n):
                env = {"PATH": "/usr/bin:/bin", "HOME": tmp}
                env.update(self.image_env())
                env["CUTOUT_MODELS_DIR"] = mdir
                if c.platform == "cloudrun":
                    env.update({"CLOUD_RUN_TASK_INDEX": str(index), "CLOUD_RUN_TASK_COUNT": str(n),
                                "CLOUD_RUN_TASK_ATTEMPT": "0", "CLOUD_RUN_EXECUTION": "sim", "CLOUD_RUN_JOB": "sim"})
                    env.update(c.resolved_env())
                    args = list(c.sub_args)
                else:
                    env.update(self.service_link_env(c))
                    cenv = {"JOB_COMPLETION_INDEX": str(index)}
                    cenv.update(c.resolved_env(index))
                    env.update(cenv)
                    args = [expand_k8s(a, cenv) for a in c.sub_args]
                tasks.append((index, args, env, [self.cutout, "remove"] + [to_local(a) for a in args]))

            def run_task(task):
                try:
                    return subprocess.run(task[3], env=task[2], capture_output=True, text=True, timeout=120, cwd=tmp)
                except subprocess.TimeoutExpired:
                    return None

            # Tasks run side by side, as the platform runs them (they share the output folder).
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, n)) as pool:
                results = list(pool.map(run_task, tasks))
            for (index, args, env, argv), p in zip(tasks, results):
                if not self.r.check(p is not None, w, f"task {index}/{n}: `cutout remove` did not finish in 120 s"):
                    return
                if not self.r.check(p.returncode == 0, w, f"task {index}/{n}: `{' '.join(args)}` exit {p.returncode}: "
                                                          f"{(p.stderr.strip().splitlines() or [''])[0]}"):
                    return
                lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
                try:
                    records = [json.loads(ln) for ln in lines]
                except json.JSONDecodeError as e:
                    self.r.fail(w, f"task {index}: --progress json wrote a line that is not JSON ({e})")
                    return
                if not self.r.check(records and "summary" in str(records[-1].get("message", "")), w,
                                    f"task {index}: no summary line at the end of the JSON progress"):
                    return
                for rec in records:
                    if "outputs" in rec and "input" in rec:
                        key = os.path.normpath(rec["input"])
                        self.r.check(key not in seen, w, f"{rec['input']} was processed by task {seen.get(key)} and task {index}")
                        seen[key] = index
            missing = sorted(set(expected) - set(seen))
            self.r.check(not missing, w, f"{len(missing)} of {len(expected)} photos were processed by no task "
                                         f"(e.g. {[os.path.relpath(m_, tmp) for m_ in missing[:3]]}): the shards do not cover the batch")
            written = sorted(os.path.join(r, f) for r, _, fs in os.walk(out_dir) for f in fs)
            self.r.check(not [f for f in written if ".tmp-" in f], w, "temporary files left in the output folder")
            self.r.check(len(written) >= len(expected), w, f"{len(written)} files written for {len(expected)} photos")
            # A retried task skips what is done.
            before = {f: os.stat(f).st_mtime_ns for f in written}
            _, _, env, argv = tasks[0]
            env = dict(env, CLOUD_RUN_TASK_ATTEMPT="1")
            p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=tmp)
            self.r.check(p.returncode == 0, w, f"retry of task 0: exit {p.returncode}")
            changed = [f for f in before if os.stat(f).st_mtime_ns != before[f]]
            self.r.check(not changed, w, f"a retried task rewrote {len(changed)} finished outputs")

    # --- Kubernetes objects ----------------------------------------------------------------

    def check_k8s_objects(self):
        templates = []  # (kind, name, pod labels, containers)
        for c in self.containers:
            if c.platform == "k8s":
                templates.append((c.workload.get("kind"), c.workload["metadata"].get("name"),
                                  (c.pod_meta.get("labels") or {}), c))
        workloads = {}
        for where, rel, doc in self.docs:
            if not rel.startswith("deploy/k8s"):
                continue
            kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
            if kind in ("Deployment", "StatefulSet"):
                workloads[(kind, name)] = doc
                sel = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
                labels = ((((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
                self.r.check(matches(sel, labels), where, "spec.selector does not match the pod template's labels")
                if kind == "StatefulSet":
                    sn = doc["spec"].get("serviceName")
                    self.r.check(any(d["metadata"].get("name") == sn for _, d in self.k8s_services), where,
                                 f"serviceName {sn} is no Service here")
        for where, rel, doc in self.docs:
            if not rel.startswith("deploy/k8s"):
                continue
            kind, spec = doc.get("kind"), doc.get("spec") or {}
            if kind == "Service" and doc.get("apiVersion") == "v1":
                sel = spec.get("selector") or {}
                backends = [c for _, _, labels, c in templates if matches(sel, labels)]
                if not self.r.check(bool(backends), where, f"selector {sel} matches no pod template"):
                    continue
                for p in spec.get("ports") or []:
                    target = p.get("targetPort", p.get("port"))
                    for c in backends:
                        self.r.check(c.resolve_port(target) == c.container_port(), where,
                                     f"port {p.get('port')} -> targetPort {target}, but {c.where} listens on {c.container_port()}")
            elif kind == "HorizontalPodAutoscaler":
                ref = spec.get("scaleTargetRef") or {}
                target = workloads.get((ref.get("kind"), ref.get("name")))
                if self.r.check(target is not None, where, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} is not here"):
                    mn, mx = as_int(spec.get("minReplicas", 1)), as_int(spec.get("maxReplicas"))
                    self.r.check(mn is not None and mx is not None and 1 <= mn <= mx, where, "minReplicas/maxReplicas")
                    self.r.check(bool(spec.get("behavior")), where, "no behavior (scale-up/scale-down policies)")
                    for m in spec.get("metrics") or []:
                        res = (m.get("resource") or {}).get("name")
                        if m.get("type") == "Resource" and (m["resource"].get("target") or {}).get("type") == "Utilization":
                            for cc in target["spec"]["template"]["spec"].get("containers") or []:
                                self.r.check(((cc.get("resources") or {}).get("requests") or {}).get(res) is not None, where,
                                             f"{res} utilisation needs requests.{res} on container {cc.get('name')}")
            elif kind == "PodDisruptionBudget":
                sel = (spec.get("selector") or {}).get("matchLabels") or {}
                self.r.check(any(matches(sel, labels) for _, _, labels, _ in templates), where,
                             f"selector {sel} matches no pod template")
                self.r.check("minAvailable" in spec or "maxUnavailable" in spec, where, "no minAvailable/maxUnavailable")
            elif kind == "Kustomization":
                base = os.path.dirname(os.path.join(self.source, rel))
                listed = set()
                for res in doc.get("resources") or []:
                    listed.add(os.path.normpath(os.path.join(base, res)))
                    self.r.check(os.path.exists(os.path.join(base, res)), where, f"resource {res} does not exist")
                for name in sorted(os.listdir(base)):
                    p = os.path.normpath(os.path.join(base, name))
                    if name.endswith((".yaml", ".yml")) and name != os.path.basename(rel) and p not in listed:
                        self.r.note(f"{rel}: {name} is not in resources (applied on its own)")
                self.kustomize_build(where, base, doc)

    def kustomize_build(self, where, base, doc):
        """`kubectl kustomize` (the real tool), where it is installed: the overlay must build."""
        kubectl = shutil.which("kubectl")
        if not kubectl:
            self.r.note(f"{where}: kubectl not installed; `kubectl kustomize` not run")
            return
        p = subprocess.run([kubectl, "kustomize", base], capture_output=True, text=True, timeout=60)
        if not self.r.check(p.returncode == 0, where, f"`kubectl kustomize` failed: {p.stderr.strip()[:300]}"):
            return
        built = [d for d in yaml.safe_load_all(p.stdout) if d]
        ns = doc.get("namespace")
        for d in built:
            if ns and d.get("kind") != "Namespace":
                self.r.check((d.get("metadata") or {}).get("namespace") == ns, where,
                             f"{d.get('kind')} {(d.get('metadata') or {}).get('name')} is not in namespace {ns}")

    # --- Dockerfile -------------------------------------------------------------------------

    def load_dockerfile(self):
        path = os.path.join(self.source, "deploy/Dockerfile")
        if not os.path.isfile(path):
            self.r.note("deploy/Dockerfile is absent: its EXPOSE / ENV PORT / ENTRYPOINT checks are skipped")
            return None
        with open(path, encoding="utf-8") as f:
            text = re.sub(r"\\\n", " ", f.read())
        info = {"expose": [], "env": {}, "entrypoint": None, "user": None}
        stage_env = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            word = word.upper()
            if word == "FROM":  # only the last stage is the image
                info = {"expose": [], "env": {}, "entrypoint": None, "user": None}
                stage_env = {}
            elif word == "EXPOSE":
                info["expose"] += [as_int(p.split("/")[0].replace("${PORT}", stage_env.get("PORT", "")))
                                   for p in rest.split()]
            elif word in ("ENV", "ARG"):
                pairs = re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)', rest)
                if not pairs and word == "ENV":
                    k, _, v = rest.partition(" ")
                    pairs = [(k, v.strip())]
                for k, v in pairs:
                    stage_env[k] = v.strip('"')
                    if word == "ENV":
                        info["env"][k] = v.strip('"')
            elif word == "ENTRYPOINT":
                try:
                    info["entrypoint"] = json.loads(rest)
                except json.JSONDecodeError:
                    info["entrypoint"] = rest.split()
            elif word == "USER":
                info["user"] = rest.strip()
        return info

    def check_dockerfile(self):
        df = self.dockerfile
        if not df:
            return
        where = "deploy/Dockerfile"
        for name in df["env"]:
            if name.startswith("CUTOUT_"):
                self.r.check(name in self.serve_env or name in self.read_elsewhere, where,
                             f"ENV {name} is not a variable cutout knows")
        ports = {c.container_port() for c in self.containers if c.subcommand == "serve"}
        for port in ports:
            self.r.check(port in df["expose"], where, f"EXPOSE {df['expose']} does not include containerPort {port}")
            if "PORT" in df["env"]:
                self.r.check(as_int(df["env"]["PORT"]) == port, where,
                             f"ENV PORT={df['env']['PORT']} but the manifests' containerPort is {port}")
            else:
                self.r.note("deploy/Dockerfile sets no ENV PORT")
        ep = df["entrypoint"]
        uses_args_only = any(c.is_cutout and not c.command for c in self.containers)
        if uses_args_only:
            ok = bool(ep) and os.path.basename(str(ep[-1])) == "cutout"
            self.r.check(ok, where, f"ENTRYPOINT {ep} does not end with the cutout binary, but the manifests pass "
                                    "only args (serve ..., remove ...)")
        user = df["user"]
        if user is not None and not re.match(r"^\d+(:\d+)?$", user):
            self.r.note(f"deploy/Dockerfile: USER {user} is a name; runAsNonRoot needs the manifests' numeric runAsUser")
        elif user is None or user.split(":")[0] == "0":
            self.r.note("deploy/Dockerfile runs as root; the Kubernetes manifests override with runAsUser")
        else:
            # The image gives its data dir / home to this user: the pods should run as the same one.
            uid = int(user.split(":")[0])
            for c in self.containers:
                if c.platform != "k8s" or not c.is_cutout:
                    continue
                psc, csc = c.pod_spec.get("securityContext") or {}, c.c.get("securityContext") or {}
                run_as = csc.get("runAsUser", psc.get("runAsUser"))
                if run_as is not None:
                    self.r.check(run_as == uid, self.where(c),
                                 f"runAsUser {run_as} is not the image's USER {uid} (deploy/Dockerfile)")

    # --- all --------------------------------------------------------------------------------

    def run(self):
        self.dockerfile = self.load_dockerfile()
        self.r.check(any(c.platform == "cloudrun" and c.subcommand == "serve" for c in self.containers),
                     "deploy/cloudrun", "no Cloud Run service running `cutout serve`")
        self.r.check(any(c.platform == "k8s" and c.subcommand == "serve" for c in self.containers),
                     "deploy/k8s", "no Kubernetes workload running `cutout serve`")
        for c in self.containers:
            if not c.is_cutout:
                if c.platform == "k8s":
                    self.check_env_names(c)
                continue
            self.check_env_names(c)
            if not self.r.check(c.subcommand in ("serve", "remove"), self.where(c),
                                f"runs neither `cutout serve` nor `cutout remove` (command {c.command}, args {c.args})"):
                continue
            self.check_threads(c)
            self.check_resources(c)
            if c.subcommand == "serve":
                self.check_serve_flags(c)
                self.check_ports(c)
                self.check_probes(c)
                if c.platform == "cloudrun":
                    if self.r.check(c.workload.get("kind") == "Service", self.where(c), "cutout serve in a Cloud Run Job"):
                        self.check_cloud_run_service(c)
                else:
                    self.check_k8s_serve(c)
                self.dry_run_serve(c)
            else:
                if c.platform == "k8s":
                    self.check_service_links(c)
                self.check_remove(c)
        self.check_k8s_objects()
        self.check_dockerfile()


def tiny_png(width, height, seed):
    """An RGB PNG: a bright disc on a dark background, varied by seed."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            inside = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2
            row += bytes((200, 120 + seed % 100, 40)) if inside else bytes((20, 30 + seed % 50, 90))
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cutout", required=True, help="the cutout binary")
    ap.add_argument("--source", required=True, help="the repository root")
    ap.add_argument("--test-models", help="folder with tiny_isnet.onnx, to run the batch jobs for real")
    args = ap.parse_args()
    if not os.access(args.cutout, os.X_OK):
        print(f"not an executable: {args.cutout}", file=sys.stderr)
        return 2
    args.cutout = os.path.abspath(args.cutout)
    report = Report()
    checker = Checker(args, report)
    checker.run()
    print(f"checked {len(checker.docs)} manifest documents, {len(checker.containers)} containers, "
          f"{report.checks} checks (cutout: {args.cutout})")
    for n in report.notes:
        print(f"note: {n}")
    for f in report.failures:
        print(f"FAIL: {f}")
    if report.failures:
        print(f"{len(report.failures)} failure(s)")
        return 1
    print("all manifest checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
