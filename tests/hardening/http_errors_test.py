#!/usr/bin/python3
"""Every error is JSON (issue 12, part 2), against the real binary: requests the HTTP layer itself
refuses -- a request line or header section that is too large, a multipart body without a
boundary or with a broken one, bad chunked encoding, an unknown method, a body longer or shorter
than its Content-Length, an oversize or nonsense Content-Length, an HTTP/2 preface, bytes that are
no HTTP at all -- each get SPEC §3's JSON body with an `X-Request-Id` equal to its request_id, and
are counted in /metrics.

  http_errors_test.py --cutout BIN
"""
import argparse
import json
import os
import re
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
from local_checks import check, finish, http  # noqa: E402
from slow_clients_test import start_server  # noqa: E402

BODY_TIMEOUT_S = 2


def exchange(port, raw, wait_s=10.0):
    """Sends raw bytes; returns every answer on the connection until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(raw)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    answers = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if ":" in h)}
        n = int(headers.get("content-length", "0"))
        answers.append((status, headers, rest[:n]))
        data = rest[n:]
    return answers


def expect_json_error(name, answer, status, code):
    if not check(answer is not None, f"{name}: an answer came"):
        return
    got_status, headers, body = answer
    check(got_status == status, f"{name}: status {got_status} (want {status})")
    try:
        j = json.loads(body)
    except ValueError:
        check(False, f"{name}: the body is JSON ({body[:80]!r})")
        return
    err = j.get("error", {})
    check(err.get("code") == code and err.get("message"), f"{name}: error code {err.get('code')!r} (want {code!r})"
          f" with a message: {err.get('message')!r}")
    check(j.get("request_id") and headers.get("x-request-id") == j.get("request_id"),
          f"{name}: X-Request-Id {headers.get('x-request-id')!r} is the body's request_id")
    check(headers.get("content-type", "").startswith("application/json"), f"{name}: Content-Type is JSON")


def metric_sum(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(re.search(rf'{k}="{re.escape(v)}"', line) for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cutout", required=True)
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="cutout-errors-")
    proc, port = start_server(args.cutout, data_dir, baseline=True,
                              extra=["--body-timeout-s", str(BODY_TIMEOUT_S), "--max-header-bytes", "16384",
                                     "--max-body-bytes", "1048576"])
    try:
        for _ in range(100):  # /healthz answers before the model is loaded: that is enough here
            try:
                if http("GET", f"http://127.0.0.1:{port}/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        before = http("GET", f"http://127.0.0.1:{port}/metrics")[1].decode()
        host = b"Host: x\r\n"
        cases = [  # name, bytes, status, code
            ("request line too long", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n" + host + b"\r\n", 431,
             "headers_too_large"),
            ("header section too large", b"GET /healthz HTTP/1.1\r\n" + host +
             b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 100) for i in range(300)) + b"\r\n", 431, "headers_too_large"),
            ("multipart without a boundary", b"POST /api/v2/process HTTP/1.1\r\n" + host +
             b"Content-Type: multipart/form-data\r\nContent-Length: 5\r\n\r\nhello", 400, "bad_request"),
            ("multipart with a broken body", b"POST /api/v2/process HTTP/1.1\r\n" + host +
             b"Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 20\r\n\r\n--XyZ\r\nno blank line", 400,
             "bad_request"),
            ("bad chunked encoding", b"POST /api/v2/process HTTP/1.1\r\n" + host +
             b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400, "bad_request"),
            ("unknown method on a known path", b"BREW /api/v2/process HTTP/1.1\r\n" + host + b"\r\n", 405,
             "method_not_allowed"),
            ("unknown method elsewhere", b"BREW /coffee HTTP/1.1\r\n" + host + b"\r\n", 404, "not_found"),
            ("nonsense Content-Length", b"POST /api/v2/process HTTP/1.1\r\n" + host +
             b"Content-Length: lots\r\n\r\n", 400, "bad_request"),
            ("oversize Content-Length", b"POST /api/v2/process HTTP/1.1\r\n" + host +
             b"Content-Length: 99999999999\r\n\r\n", 413, "payload_too_large"),
            ("oversize chunked body", b"POST /api/v2/process HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\n" +
             b"".join(b"10000\r\n" + b"x" * 0x10000 + b"\r\n" for _ in range(17)) + b"0\r\n\r\n", 413, "payload_too_large"),
            ("an HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request"),
            ("no HTTP at all", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n", 400,
             "bad_request"),
            ("body shorter than its Content-Length", b"POST /api/v2/process HTTP/1.1\r\n" + host +
             b"Content-Length: 1000\r\n\r\nonly this", 408, "request_timeout"),
        ]
        counts = {}
        for name, raw, status, code in cases:
            answers = exchange(port, raw, wait_s=BODY_TIMEOUT_S + 8)
            expect_json_error(name, answers[0] if answers else None, status, code)
            counts[status] = counts.get(status, 0) + 1
        # a body longer than its Content-Length: the first request is answered, the surplus is
        # read as the next request, which is not HTTP
        answers = exchange(port, b"POST /api/v2/warmup?wait=false HTTP/1.1\r\n" + host +
                           b"Content-Length: 2\r\n\r\nokAND THEN SOME GARBAGE\r\n\r\n")
        check(len(answers) == 2 and answers[0][0] in (200, 202), f"longer body: the request itself is answered "
              f"({[a[0] for a in answers]})")
        expect_json_error("longer body: the surplus", answers[1] if len(answers) > 1 else None, 400, "bad_request")
        counts[400] += 1
        after = http("GET", f"http://127.0.0.1:{port}/metrics")[1].decode()
        for status, n in sorted(counts.items()):
            grew = metric_sum(after, "cutout_requests_total", code=str(status)) - \
                metric_sum(before, "cutout_requests_total", code=str(status))
            check(grew >= n, f"cutout_requests_total{{code=\"{status}\"}} grew by {grew:.0f} (sent {n})")
        for reason in ("bad_request", "headers_too_large", "payload_too_large", "request_timeout"):
            grew = metric_sum(after, "cutout_rejected_total", reason=reason) - \
                metric_sum(before, "cutout_rejected_total", reason=reason)
            check(grew >= 1, f"cutout_rejected_total{{reason=\"{reason}\"}} grew by {grew:.0f}")
        check(http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, "the server still answers")
        check(proc.poll() is None, "the server is still running")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return finish("HTTP errors")


if __name__ == "__main__":
    sys.exit(main())
