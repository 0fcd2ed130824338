"""A WSGI script that misbehaves on request, for the reliability suite (tests/reliability/).

The directory FAULTS_DIR comes from the request's environment (SetEnv FAULTS_DIR in the Apache
configuration) and must be writable by the daemon user. Every request appends one line
"PATH_INFO?QUERY_STRING" to FAULTS_DIR/seen (so a test can check that the application saw exactly
the requests it sent). TAG below is the query parameter `tag`. Routes, by PATH_INFO:

  /pid               200, the daemon process id as text
  /hold              writes FAULTS_DIR/held-TAG (holding the process id), then waits until
                     FAULTS_DIR/release exists (at most 30 s); 200 "released PID"
  /sleep?s=S         sleeps S seconds; 200 "slept PID"
  /spin?s=S          burns CPU for S seconds in Python; 200 "spun PID"
  /gil?s=S           holds the GIL for S seconds (libc sleep() called through ctypes.PyDLL,
                     which keeps the GIL); 200 "held the GIL PID"
  /leak?mb=N         keeps N MiB more alive in the process for good; 200, the total kept in MiB
  /stream?mb=N       200, N MiB of `stream_bytes` with a Content-Length, 64 KiB a chunk; writes
                     FAULTS_DIR/held-TAG after the first chunk and, with `hold=1`, then waits
                     for FAULTS_DIR/release (at most 30 s). Its iterable's close() writes
                     FAULTS_DIR/closed-TAG: "BYTES_SENT FINISHED" (FINISHED is 1 when every
                     chunk was taken)
  /upload            reads the request body in 64 KiB blocks while the response is iterated,
                     writing FAULTS_DIR/held-TAG after the first block; then 200 "LENGTH".
                     close() writes FAULTS_DIR/closed-TAG: "BYTES_READ ERROR" (ERROR is the
                     exception that ended the reading, or "none")
  /ignore-body?mb=N  never touches wsgi.input; 200, N MiB of `stream_bytes`
  /raise             raises RuntimeError before start_response
anything else        404 "no route"
"""

import ctypes
import os
import time
from urllib.parse import parse_qs

BLOCK = 65536
MAX_HOLD_SECONDS = 30

_kept = []      # /leak keeps its memory here


def stream_bytes(total):
    """The deterministic bytes of /stream and /ignore-body; clients hash the same sequence."""
    block = bytes(range(256)) * (BLOCK // 256)
    sent = 0
    while sent < total:
        part = block[: min(BLOCK, total - sent)]
        sent += len(part)
        yield part


def query(environ, name, default):
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return values[0] if values else default


def write_file(environ, name, text):
    path = os.path.join(environ["FAULTS_DIR"], name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)      # readers never see half a file


def wait_for_release(environ):
    release = os.path.join(environ["FAULTS_DIR"], "release")
    deadline = time.monotonic() + MAX_HOLD_SECONDS
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)


def text(start_response, body, status="200 OK"):
    data = body.encode("ascii")
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def pid(environ, start_response):
    return text(start_response, str(os.getpid()))


def hold(environ, start_response):
    write_file(environ, "held-" + query(environ, "tag", "hold"), str(os.getpid()))
    wait_for_release(environ)
    return text(start_response, f"released {os.getpid()}")


def sleep(environ, start_response):
    time.sleep(float(query(environ, "s", "1")))
    return text(start_response, f"slept {os.getpid()}")


def spin(environ, start_response):
    deadline = time.monotonic() + float(query(environ, "s", "1"))
    while time.monotonic() < deadline:
        pass
    return text(start_response, f"spun {os.getpid()}")


def gil(environ, start_response):
    # A PyDLL call keeps the GIL for its whole duration, as a misbehaving C extension would.
    ctypes.PyDLL(None).sleep(int(query(environ, "s", "1")))
    return text(start_response, f"held the GIL {os.getpid()}")


def leak(environ, start_response):
    _kept.append(bytearray(int(float(query(environ, "mb", "1")) * 2 ** 20)))
    return text(start_response, str(sum(len(b) for b in _kept) // 2 ** 20))


class RecordedStream:
    """The /stream body: records on close() how far the server took it."""

    def __init__(self, environ, total, hold_after_first):
        self.environ = environ
        self.total = total
        self.hold_after_first = hold_after_first
        self.tag = query(environ, "tag", "stream")
        self.sent = 0
        self.finished = False

    def __iter__(self):
        for index, chunk in enumerate(stream_bytes(self.total)):
            if index == 1:
                write_file(self.environ, "held-" + self.tag, str(os.getpid()))
                if self.hold_after_first:
                    wait_for_release(self.environ)
            self.sent += len(chunk)
            yield chunk
        self.finished = True

    def close(self):
        write_file(self.environ, "closed-" + self.tag, f"{self.sent} {int(self.finished)}")


def stream(environ, start_response):
    total = int(float(query(environ, "mb", "1")) * 2 ** 20)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(total))])
    return RecordedStream(environ, total, query(environ, "hold", "0") == "1")


class RecordedUpload:
    """The /upload body: reads the request while being iterated, records on close()."""

    def __init__(self, environ):
        self.environ = environ
        self.tag = query(environ, "tag", "upload")
        self.read = 0
        self.error = "none"

    def __iter__(self):
        stream = self.environ["wsgi.input"]
        try:
            while True:
                block = stream.read(BLOCK)
                if not block:
                    break
                if not self.read:
                    write_file(self.environ, "held-" + self.tag, str(os.getpid()))
                self.read += len(block)
        except BaseException as exc:
            self.error = type(exc).__name__
            raise
        yield str(self.read).encode("ascii")

    def close(self):
        write_file(self.environ, "closed-" + self.tag, f"{self.read} {self.error}")


def upload(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return RecordedUpload(environ)


def ignore_body(environ, start_response):
    total = int(float(query(environ, "mb", "1")) * 2 ** 20)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(total))])
    return stream_bytes(total)


def raise_error(environ, start_response):
    raise RuntimeError("faults.wsgi raised on purpose")


ROUTES = {
    "/pid": pid,
    "/hold": hold,
    "/sleep": sleep,
    "/spin": spin,
    "/gil": gil,
    "/leak": leak,
    "/stream": stream,
    "/upload": upload,
    "/ignore-body": ignore_body,
    "/raise": raise_error,
}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    with open(os.path.join(environ["FAULTS_DIR"], "seen"), "a") as seen:
        seen.write(f"{path}?{environ.get('QUERY_STRING', '')}\n")
    route = ROUTES.get(path)
    if route is None:
        return text(start_response, "no route\n", status="404 Not Found")
    return route(environ, start_response)
