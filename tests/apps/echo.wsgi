"""A WSGI script for the tests: one route per behaviour under test, chosen by PATH_INFO.

Shared by the request-path tests (a RequestHandler in the test process) and the Apache
integration tests (through mod_wsgid and through mod_proxy_uwsgi). Routes:

  /hello                 200 text/plain "Hello, world!\\n"
  /echo                  200, the request body sent back (reads it whole; for small bodies)
  /echo-sha256           200 application/json {"length": N, "sha256": HEX, "input_terminated":
                         BOOL} of the request body, read in 64 KiB blocks (any size; chunked too)
  /stream?mb=N           200, N MiB (default 1) from `stream_bytes`, 64 KiB per chunk, with a
                         Content-Length; memory stays flat whatever N is
  /environ               200 application/json: every environ value that is a str, bool or int,
                         plus "wsgi.version", "mod_wsgi.version" and "wsgi.input_terminated"
  /write                 200, the body sent through the write() callable, then one iterable chunk
  /file                  200, this script's own bytes through wsgi.file_wrapper
  /cookies               200 with two Set-Cookie headers ("a=1; Path=/", "b=2; Path=/")
  /errors                writes "echo.wsgi wsgi.errors marker" to wsgi.errors; 200 "logged\\n"
  /errors-unfinished     writes "echo.wsgi unfinished line" to wsgi.errors with no newline and
                         no flush(); 200 "logged\\n"
  /validate              200 "valid\n" + the request body, from an app wrapped in
                         wsgiref.validate.validator (it asserts PEP 3333 on both sides)
  /core                  200, which wire core the daemon runs: "cython" or "python"
  /bad-header            start_response with a header value holding CR LF and an injected
                         "Injected: 1" header line: the daemon must answer 500
  /bad-status            start_response("20 OK"): the daemon must answer 500
  /raise                 raises RuntimeError("raised on purpose ...") before start_response: 500
  /raise-after-start     calls start_response, then raises the same before any body: 500
  /raise-midstream       sends 64 KiB of body, then raises the same: the response is cut off
  /pid                   200, the daemon process id as text
  /restart               sends this process SIGINT (mod_wsgi's restart recipe); 200 with its pid
  /location?to=URL[&status=S][&body=B]
                         status S (default 200) with `Location: URL` and body B (default none):
                         a 200 with a local path is a CGI local redirect
  /method                200 "method\n" with the REQUEST_METHOD the application saw in the
                         X-Request-Method header (which a HEAD response carries too)
anything else            404 text/plain "no route\\n"
"""

import hashlib
import json
import os
import signal
import wsgiref.validate
from urllib.parse import parse_qs

BLOCK = 65536


def stream_bytes(total):
    """The deterministic bytes of /stream, in 64 KiB blocks; clients hash the same sequence."""
    block = bytes(range(256)) * (BLOCK // 256)
    sent = 0
    while sent < total:
        part = block[: min(BLOCK, total - sent)]
        sent += len(part)
        yield part


def query(environ, name, default):
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return values[0] if values else default


def text(start_response, body, status="200 OK", content_type="text/plain"):
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def hello(environ, start_response):
    return text(start_response, "Hello, world!\n")


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]


def echo_sha256(environ, start_response):
    digest = hashlib.sha256()
    length = 0
    stream = environ["wsgi.input"]
    while True:
        block = stream.read(BLOCK)
        if not block:
            break
        digest.update(block)
        length += len(block)
    answer = {"length": length, "sha256": digest.hexdigest(),
              "input_terminated": environ.get("wsgi.input_terminated", False)}
    return text(start_response, json.dumps(answer), content_type="application/json")


def stream(environ, start_response):
    total = int(float(query(environ, "mb", "1")) * 1024 * 1024)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(total))])
    return stream_bytes(total)


def show_environ(environ, start_response):
    shown = {key: value for key, value in environ.items()
             if isinstance(value, (str, bool, int))}
    shown["wsgi.version"] = list(environ["wsgi.version"])
    if "mod_wsgi.version" in environ:
        shown["mod_wsgi.version"] = list(environ["mod_wsgi.version"])
    return text(start_response, json.dumps(shown, sort_keys=True),
                content_type="application/json")


def write_callable(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    write(b"")
    write(b"by write()\n")
    return [b"and iterated\n"]


def file_route(environ, start_response):
    size = os.path.getsize(__file__)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(size))])
    return environ["wsgi.file_wrapper"](open(__file__, "rb"), 4096)


def cookies(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1; Path=/"),
                              ("Set-Cookie", "b=2; Path=/")])
    return [b"two cookies\n"]


def errors(environ, start_response):
    environ["wsgi.errors"].write("echo.wsgi wsgi.errors marker\n")
    environ["wsgi.errors"].flush()
    return text(start_response, "logged\n")


def errors_unfinished(environ, start_response):
    environ["wsgi.errors"].write("echo.wsgi unfinished line")
    return text(start_response, "logged\n")


def _validated(environ, start_response):
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    first_line = stream.readline()
    rest = stream.read(length - len(first_line))  # the validator wants read() with a size
    body = b"valid\n" + first_line + rest
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


validated = wsgiref.validate.validator(_validated)


def bad_header(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("X-Note", "harmless\r\nInjected: 1")])
    return [b"should never be seen\n"]


def bad_status(environ, start_response):
    start_response("20 OK", [("Content-Type", "text/plain")])
    return [b"should never be seen\n"]


def raise_before_start(environ, start_response):
    raise RuntimeError("raised on purpose before start_response")


def raise_after_start(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    raise RuntimeError("raised on purpose after start_response")


def raise_midstream(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def body():
        yield b"x" * BLOCK
        raise RuntimeError("raised on purpose in the middle of the body")

    return body()


def core(environ, start_response):
    from wsgid.core import IMPLEMENTATION

    return text(start_response, IMPLEMENTATION)


def pid(environ, start_response):
    return text(start_response, f"{os.getpid()}\n")


def restart(environ, start_response):
    os.kill(os.getpid(), signal.SIGINT)
    return text(start_response, f"{os.getpid()}\n")


def method(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("X-Request-Method", environ["REQUEST_METHOD"])])
    return [b"method\n"]


def location(environ, start_response):
    status = query(environ, "status", "200")
    status += " OK" if status == "200" else " Found"
    body = query(environ, "body", "").encode()
    start_response(status, [("Location", query(environ, "to", "/")),
                            ("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def other_callable(environ, start_response):
    """Not `application`: the callable-object= tests name it."""
    return text(start_response, "other callable\n")


ROUTES = {
    "/hello": hello,
    "/echo": echo,
    "/echo-sha256": echo_sha256,
    "/stream": stream,
    "/environ": show_environ,
    "/write": write_callable,
    "/file": file_route,
    "/cookies": cookies,
    "/errors": errors,
    "/errors-unfinished": errors_unfinished,
    "/validate": validated,
    "/bad-header": bad_header,
    "/bad-status": bad_status,
    "/raise": raise_before_start,
    "/raise-after-start": raise_after_start,
    "/raise-midstream": raise_midstream,
    "/core": core,
    "/pid": pid,
    "/method": method,
    "/location": location,
    "/restart": restart,
}


def application(environ, start_response):
    route = ROUTES.get(environ.get("PATH_INFO", ""))
    if route is None:
        return text(start_response, "no route\n", status="404 Not Found")
    return route(environ, start_response)
