#!/usr/bin/env python3
"""The container image of deploy/Dockerfile, run for real (make test-container).

Checks the image's configuration (non-root user, exec-form entrypoint so that cutout is PID 1 and
gets SIGTERM itself, PORT, HEALTHCHECK, exposed port), then starts `cutout serve` from the image
with `buildah run --isolation chroot` (host network) and checks /healthz, /readyz, the image's own
HEALTHCHECK command, one /api/v2/process with a real photo, and a SIGTERM that arrives while a
request is in flight: the request still succeeds, the process exits 0. Prints the figures for
docs/PERFORMANCE.md: image size, start -> ready, process latency.

Only 127.0.0.1 is contacted; every wait is bounded; the container is removed on every path.
"""
import argparse
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy"))
from local_checks import check, failures, finish, free_port, http  # noqa: E402

BUILDAH = ["buildah", "--storage-driver", "vfs"]


def multipart(field, filename, data):
    boundary = "cutoutcontainertest"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def image_config(image):
    out = subprocess.run(BUILDAH + ["inspect", "--type", "image", image], check=True, capture_output=True, text=True)
    info = json.loads(out.stdout)
    return info["Docker"]["config"], info


def image_size_bytes(image):
    out = subprocess.run(["podman", "--storage-driver", "vfs", "image", "inspect", "--format", "{{.Size}}", image],
                         check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def check_config(config):
    user = config.get("User", "")
    check(user not in ("", "root", "0", "0:0"), f"runs as a non-root user ({user!r})")
    entry = config.get("Entrypoint") or []
    check(bool(entry) and entry[0] == "/opt/cutout/bin/cutout",
          f"exec-form entrypoint, cutout is PID 1 (no shell): {entry}")
    check(not any(a in ("/bin/sh", "sh", "/bin/bash", "bash") for a in entry + (config.get("Cmd") or [])),
          "no shell in ENTRYPOINT or CMD")
    env = dict(e.split("=", 1) for e in config.get("Env", []))
    check(env.get("PORT") == "8080", f"PORT=8080 by default ({env.get('PORT')})")
    check("8080/tcp" in (config.get("ExposedPorts") or {}), "EXPOSE 8080")
    hc = config.get("Healthcheck") or {}
    test = hc.get("Test") or []
    check(test[:1] == ["CMD"] and "healthcheck" in test, f"HEALTHCHECK runs cutout healthcheck: {test}")
    check(config.get("StopSignal", "SIGTERM") in ("SIGTERM", "15"), "stop signal SIGTERM")
    return entry + (config.get("Cmd") or []), test[1:], env


def find_pid(pattern, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
        if out:
            return int(out[0])
        time.sleep(0.05)
    return None


def host_start_to_ready(binary, model):
    """Baseline: the host's cutout serve on the same model, start -> /readyz 200."""
    port = free_port()
    args = [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "2", "--share-store", "none",
            "--data-dir", f"/tmp/cutout-host-{port}"] + (["--model", model] if model else [])
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - t0 < 120 and proc.poll() is None:
            try:
                if http("GET", f"http://127.0.0.1:{port}/readyz", timeout=2)[0] == 200:
                    return time.monotonic() - t0
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.05)
        return float("nan")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--eval-dir", required=True)
    ap.add_argument("--build-seconds", type=float, default=None)
    ap.add_argument("--host-binary", default=None,
                    help="the same cutout built on the host: its start -> ready, measured in the same run, is the baseline")
    ap.add_argument("--host-model", default=None)
    args = ap.parse_args()

    config, _ = image_config(args.image)
    command, healthcheck, env = check_config(config)
    size = image_size_bytes(args.image)
    check(size < 400 * 1000 * 1000, f"image size {size / 1e6:.0f} MB (aim: under 400 MB)")

    photos = sorted(glob.glob(os.path.join(args.eval_dir, "grabcut", "images", "*.jpg")))
    if not check(bool(photos), f"eval photos in {args.eval_dir}/grabcut/images"):
        return 1
    photo = open(photos[0], "rb").read()

    port = free_port()
    container = subprocess.run(BUILDAH + ["from", "--pull-never", args.image], check=True, capture_output=True,
                               text=True).stdout.strip()
    log_path = f"/tmp/cutout-container-{port}.log"
    log = open(log_path, "w")
    server = None
    figures = {"image_bytes": size, "build_seconds": args.build_seconds}
    try:
        t0 = time.monotonic()
        server = subprocess.Popen(BUILDAH + ["run", "--isolation", "chroot", "--env", f"PORT={port}", "--env",
                                             "CUTOUT_THREADS=2", container, "--"] + command,
                                  stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        ready_s = healthz_s = None
        while time.monotonic() - t0 < 120 and server.poll() is None:
            try:
                if healthz_s is None and http("GET", base + "/healthz", timeout=2)[0] == 200:
                    healthz_s = time.monotonic() - t0
                if http("GET", base + "/readyz", timeout=2)[0] == 200:
                    ready_s = time.monotonic() - t0
                    break
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.05)
        if not check(ready_s is not None, "the server in the container becomes ready"):
            return 1
        figures.update(start_to_listening_s=round(healthz_s, 2), start_to_ready_s=round(ready_s, 2))
        print(f"     start -> /healthz {healthz_s:.2f} s, start -> /readyz {ready_s:.2f} s")

        status = subprocess.run(BUILDAH + ["run", "--isolation", "chroot", "--env", f"PORT={port}", container, "--"]
                                + healthcheck, capture_output=True, text=True, timeout=60)
        check(status.returncode == 0, f"the image's HEALTHCHECK command passes ({' '.join(healthcheck)})")
        who = subprocess.run(BUILDAH + ["run", "--isolation", "chroot", container, "--", "id", "-u"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
        check(who not in ("", "0"), f"commands in the container run as uid {who}")

        body, headers = multipart("image", "photo.jpg", photo)
        t = time.monotonic()
        code, data, _ = http("POST", base + "/api/v2/process?effects=color,bw,popart,dither", body, headers)
        process_s = time.monotonic() - t
        ok = code == 200
        if ok:
            result = json.loads(data)
            ok = sorted(result["outputs"]) == ["bw", "color", "dither", "popart"] and result["width"] > 0
        check(ok, f"POST /api/v2/process with a real photo: {code}, all four outputs ({process_s:.2f} s)")
        figures["process_s"] = round(process_s, 2)

        # SIGTERM while a request is in flight: it finishes, then cutout exits 0.
        pid = find_pid(r"^/opt/cutout/bin/cutout serve")
        check(pid is not None, "cutout serve runs as its own process (no shell around it)")
        inflight = {}

        def slow_request():
            inflight["answer"] = http("POST", base + "/api/v2/process?effects=color,bw,popart,dither", body, headers)

        worker = threading.Thread(target=slow_request)
        worker.start()
        time.sleep(0.3)
        t = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        worker.join(timeout=120)
        try:
            rc = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
        drain_s = time.monotonic() - t
        check(inflight.get("answer", (None,))[0] == 200, "the request in flight at SIGTERM still gets its 200")
        check(rc == 0, f"SIGTERM: cutout drains and exits 0 (exit {rc}, {drain_s:.2f} s)")
        figures["sigterm_to_exit_s"] = round(drain_s, 2)
        lines = [json.loads(l) for l in open(log_path) if l.startswith("{")]
        messages = [l.get("message", "") for l in lines]
        check("draining" in messages, "the log says it is draining")
        check(all("severity" in l for l in lines) and len(lines) > 3, f"{len(lines)} JSON log lines with severity")
    finally:
        if server and server.poll() is None:
            server.kill()
            server.wait()
        subprocess.run(BUILDAH + ["rm", container], capture_output=True)
        log.close()

    if args.host_binary and os.path.exists(args.host_binary):
        figures["host_start_to_ready_s"] = round(host_start_to_ready(args.host_binary, args.host_model), 2)
        figures["container_over_host"] = round(figures["start_to_ready_s"] / figures["host_start_to_ready_s"], 2)
        print(f"     the same binary on the host: start -> /readyz {figures['host_start_to_ready_s']:.2f} s "
              f"(container / host = {figures['container_over_host']:.2f})")
    print("figures: " + json.dumps(figures))
    if failures:
        print(f"server log: {log_path}")
    return finish("container")


if __name__ == "__main__":
    sys.exit(main())
