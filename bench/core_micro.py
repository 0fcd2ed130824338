"""The per-request work of the wire core, Cython against the pure-Python twin, without sockets.

    build/venv/bin/python bench/core_micro.py [--seconds 1.0] [--repeat 5]

One call is what the daemon does with the core for a request, minus the system calls: a uwsgi
packet as mod_wsgid sends it for a browser's GET (about 30 variables) goes into a PacketParser
in one piece, which builds the environ; then the response head of a small HTML page (status and
4 headers) is encoded. Each core is timed for --repeat rounds of about --seconds; the best
round counts (the others are the machine's noise). It prints the time per call of each core and
the ratio (issue 6's target: Cython at least 2x the twin).

Rules: a measurement, not a test; both cores are imported directly (not through wsgid.core,
which picks one per process), and the Cython one must be built (`make build`).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wsgid import _core_py  # noqa: E402

# What mod_wsgid sends for `GET /hello?name=x` from a browser (values are typical, not special).
REQUEST_VARS = {
    "HTTP_HOST": "www.example.org",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.5",
    "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
    "HTTP_CONNECTION": "keep-alive",
    "HTTP_COOKIE": "session=0123456789abcdef0123456789abcdef; theme=dark",
    "HTTP_UPGRADE_INSECURE_REQUESTS": "1",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "SERVER_SIGNATURE": "",
    "SERVER_SOFTWARE": "Apache/2.4.62 (Debian)",
    "SERVER_NAME": "www.example.org",
    "SERVER_ADDR": "127.0.0.1",
    "SERVER_PORT": "80",
    "REMOTE_ADDR": "127.0.0.1",
    "DOCUMENT_ROOT": "/var/www/html",
    "REQUEST_SCHEME": "http",
    "CONTEXT_PREFIX": "",
    "CONTEXT_DOCUMENT_ROOT": "/var/www/html",
    "SERVER_ADMIN": "webmaster@localhost",
    "SCRIPT_FILENAME": "/srv/app/app.wsgi",
    "REMOTE_PORT": "51234",
    "GATEWAY_INTERFACE": "CGI/1.1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REQUEST_METHOD": "GET",
    "QUERY_STRING": "name=x",
    "REQUEST_URI": "/hello?name=x",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/hello",
    "wsgid.process_group": "app",
    "wsgid.application_group": "",
    "wsgid.request_id": "ZxYwVuTsRqPoNmLkJiHgFe",
    "wsgid.request_start": "1718000000123456",
    "wsgid.queue_start": "1718000000123789",
}
STATUS = "200 OK"
HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", "1234"),
    ("Cache-Control", "no-store"),
    ("Set-Cookie", "theme=dark; Path=/; HttpOnly"),
]
BASE_ENVIRON = {"wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True,
                "wsgi.run_once": False, "wsgid.process_group": "app"}


def encode_packet(variables):
    """A uwsgi packet (docs/protocol.md) carrying `variables`."""
    block = bytearray()
    for key, value in variables.items():
        for text in (key, value):
            data = text.encode("latin-1")
            block += len(data).to_bytes(2, "little") + data
    return bytes([0]) + len(block).to_bytes(2, "little") + bytes([0]) + bytes(block)


def one_request(core, packet):
    """The core's per-request work: packet in, environ built, head out."""
    parser = core.PacketParser(BASE_ENVIRON, 1000)
    parser.feed(packet)
    return parser.environ, core.encode_head(STATUS, HEADERS)


def time_per_call(core, packet, seconds, repeat):
    """The best of `repeat` rounds, in seconds per call."""
    calls = 1
    while True:  # find a round length of about `seconds`
        started = time.perf_counter()
        for _ in range(calls):
            one_request(core, packet)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds / 10:
            break
        calls *= 2
    calls = max(1, int(calls * seconds / elapsed))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            one_request(core, packet)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per core; the best counts")
    args = parser.parse_args(argv)
    try:
        from wsgid import _core
    except ImportError as exc:
        raise SystemExit(f"the Cython core is not built ({exc}): run `make build`")
    packet = encode_packet(REQUEST_VARS)
    environs = [one_request(core, packet) for core in (_core, _core_py)]
    if environs[0] != environs[1]:
        raise SystemExit("the two cores disagree on this packet: run the test suite")
    print(f"packet: {len(packet)} bytes, {len(REQUEST_VARS)} variables; head: {STATUS!r} + "
          f"{len(HEADERS)} headers ({len(environs[0][1])} bytes)")
    results = {}
    for name, core in (("cython", _core), ("python", _core_py)):
        results[name] = time_per_call(core, packet, args.seconds, args.repeat)
        print(f"{name:7} {results[name] * 1e6:8.2f} us per request")
    print(f"ratio   {results['python'] / results['cython']:8.2f}x (Cython core vs the twin)")


if __name__ == "__main__":
    main()
