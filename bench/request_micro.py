"""The daemon's whole per-request path in-process, Cython core against the pure-Python twin.

    build/venv/bin/python bench/request_micro.py [--requests 500] [--repeat 20]

Where core_micro.py times the wire core alone, this times what a request thread does for one
connection once it has accepted it: `RequestHandler.handle()` (the core's RequestPath) reads the
packet (a browser's GET as mod_wsgid sends it), registers the request, publishes its events, loads
the application from the script cache, runs a hello-world application, sends head and body in
one send(), and closes the connection. The connections are unix socketpairs made (and their
packets written) before the clock starts, and the daemon ends are accepted-like: a core
Connection for the Cython core, a Python socket for the twin. Each round serves --requests
connections; the best of --repeat rounds counts. Each core runs in its own subprocess, since a
process uses one core throughout (wsgid/core.py).

Rules: a measurement, not a test; it makes only socketpairs and a temporary script file.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from core_micro import REQUEST_VARS, encode_packet  # noqa: E402

APP = """\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return [b"Hello World!"]
"""
# The daemons of the benchmark run as the Apache user; any unprivileged uid serves here, since
# nothing is run as it (the configuration only needs one to be valid).
DAEMON_UID = 33


def make_handler(directory):
    from wsgid import config as wsgid_config
    from wsgid.connection import RequestHandler

    script = os.path.join(directory, "app.wsgi")
    with open(script, "w") as file:
        file.write(APP)
    text = (f"WSGISocketPrefix {directory}/wsgid\n"
            f"WSGIDaemonProcess bench threads=8 socket-timeout=20\n"
            f"WSGIScriptAlias / {script} process-group=bench application-group=%{{GLOBAL}}\n")
    parsed = wsgid_config.parse(text, running_ids=(DAEMON_UID, DAEMON_UID))
    return RequestHandler(parsed, parsed.groups["bench"]), script


def one_round(handler, packet, requests):
    """Seconds per handle() over `requests` fresh connections."""
    from wsgid import core

    pairs = []
    for _ in range(requests):
        client, daemon = socket.socketpair()
        client.sendall(packet)
        if core.IMPLEMENTATION == "cython":
            daemon.setblocking(False)   # as accept_connection leaves it
            daemon = core.Connection(daemon.detach())
        pairs.append((client, daemon))
    started = time.perf_counter()
    for _, daemon in pairs:
        handler.handle(daemon)
    elapsed = time.perf_counter() - started
    for client, _ in pairs:
        if not client.recv(256).startswith(b"HTTP/1.1 200 OK\r\n"):
            raise SystemExit("the handler did not answer 200: run the test suite")
        client.close()
    return elapsed / requests


def measure(requests, repeat):
    """In the subprocess: print this core's best time per request, in microseconds."""
    from wsgid import core

    with tempfile.TemporaryDirectory() as directory:
        handler, script = make_handler(directory)
        variables = dict(REQUEST_VARS, SCRIPT_FILENAME=script, PATH_INFO="/hello")
        variables["wsgid.framed_response"] = "1"
        # WSGIScriptReloading On (the default): what mod_wsgid adds to a GET's packet.
        variables["mod_wsgi.script_reloading"] = "1"
        variables["wsgid.script_mtime"] = str(os.stat(script).st_mtime_ns // 1000)
        variables["wsgid.retry_ok"] = "1"
        # mod_wsgi's keys that the module sends (docs/api.md, "Environ keys").
        variables.update({
            "mod_wsgi.request_handler": "wsgi-script", "mod_wsgi.listener_host": "127.0.0.1",
            "mod_wsgi.listener_port": "8000", "mod_wsgi.connection_id": "ZxYwVuTsRqPoNmLk",
            "mod_wsgi.daemon_connects": "1", "mod_wsgi.daemon_restarts": "0"})
        packet = encode_packet(variables)
        one_round(handler, packet, 50)   # loads the script, warms the caches
        best = min(one_round(handler, packet, requests) for _ in range(repeat))
    print(f"{core.IMPLEMENTATION} {best * 1e6:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="connections per round")
    parser.add_argument("--repeat", type=int, default=20, help="rounds per core; the best counts")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        measure(args.requests, args.repeat)
        return
    results = {}
    for name, pure in (("cython", "0"), ("python", "1")):
        output = subprocess.run(
            [sys.executable, __file__, "--measure", "--requests", str(args.requests),
             "--repeat", str(args.repeat)],
            env=dict(os.environ, WSGID_PUREPYTHON=pure), check=True, capture_output=True,
            text=True).stdout.split()
        if output[0] != name:
            raise SystemExit(f"asked for the {name} core, got {output[0]}: run `make build`")
        results[name] = float(output[1])
        print(f"{name:7} {results[name]:8.2f} us per request (handle(), in-process)")
    print(f"ratio   {results['python'] / results['cython']:8.2f}x (Cython core vs the twin)")


if __name__ == "__main__":
    main()
