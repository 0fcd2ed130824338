"""A WSGI script for the hostile-input and security tests: it reports what the daemon gave it
and what its process may do. The route is the query string's `probe=` (PATH_INFO stays free for
hostile content). Routes:

  probe=environ        200 application/json: every str environ value, plus "pid"
  probe=echo           200, the request body sent back whole (read before answering)
  probe=ids            200 application/json: the Uid/Gid/Groups/Cap* lines of
                       /proc/self/status, and what each attempt to regain root raised
                       ("ok" if it worked: the tests require that none does)
  probe=reach&pid=P&socket=S
                       200 application/json: what reading /proc/P/environ, signalling P
                       (signal 0: the permission check of every signal) and connecting to the
                       unix socket S raised ("ok" if it worked)

On import it writes `imported-by-<pid>` into the directory named by the environment variable
WSGID_PROBE_MARKERS, if set and writable: tests use it to prove a script was (never) loaded.
"""

import json
import os
import socket
from urllib.parse import parse_qs

_markers = os.environ.get("WSGID_PROBE_MARKERS")
if _markers:
    try:
        open(os.path.join(_markers, f"imported-by-{os.getpid()}"), "w").close()
    except OSError:
        pass


def outcome(action):
    """'ok', or the name of the exception `action()` raised."""
    try:
        action()
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def status_lines():
    wanted = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
    with open("/proc/self/status") as f:
        fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return {key: fields.get(key, "").strip() for key in wanted}


def regain_root_attempts():
    return {
        "setuid(0)": outcome(lambda: os.setuid(0)),
        "seteuid(0)": outcome(lambda: os.seteuid(0)),
        "setreuid(0, 0)": outcome(lambda: os.setreuid(0, 0)),
        "setresuid(0, 0, 0)": outcome(lambda: os.setresuid(0, 0, 0)),
        "setgid(0)": outcome(lambda: os.setgid(0)),
        "setegid(0)": outcome(lambda: os.setegid(0)),
        "setresgid(0, 0, 0)": outcome(lambda: os.setresgid(0, 0, 0)),
        "setgroups([0])": outcome(lambda: os.setgroups([0])),
    }


def read_environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        f.read()


def connect(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)


def json_answer(start_response, value):
    body = json.dumps(value, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    probe = query.get("probe")
    if probe == "environ":
        shown = {k: v for k, v in environ.items() if isinstance(v, str)}
        shown["pid"] = os.getpid()
        return json_answer(start_response, shown)
    if probe == "echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if probe == "ids":
        return json_answer(start_response, {"status": status_lines(),
                                            "regain_root": regain_root_attempts()})
    if probe == "reach":
        pid = int(query["pid"])
        return json_answer(start_response, {
            "read environ": outcome(lambda: read_environ(pid)),
            "signal": outcome(lambda: os.kill(pid, 0)),
            "connect": outcome(lambda: connect(query["socket"])),
        })
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such probe\n"]
