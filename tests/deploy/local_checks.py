"""What the Python end-to-end checks share: a list of failed checks, a free port on 127.0.0.1, and
a plain HTTP call that returns error statuses instead of raising. Standard library only."""
import socket
import urllib.error
import urllib.request

failures = []


def check(ok, what):
    """Prints the check's outcome; a failed one is kept in `failures`. Returns ok."""
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=120):
    """(status, body bytes, headers) for any answer; raises only when none came."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def finish(what):
    """The exit status of a check script: 1 with a count of what failed, else 0."""
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print(f"{what}: all checks passed")
    return 0
