"""The response half of PEP 3333: run one WSGI application call and send its response.

Rules:
- start_response(status, headers, exc_info=None) validates and encodes the head at once (PEP 3333
  asks servers to check headers while the application still runs), so a bad status or header
  raises HeadError inside the application; later changes to the header list are not seen.
  A second call needs exc_info; with exc_info after the head went out it re-raises that exception.
- The head goes out with the first non-empty body chunk, or at the end for an empty body.
- Body chunks must be bytes; never more than a declared Content-Length is sent (the rest is
  dropped with one log line), and fewer is logged too.
- close() of the returned iterable is called in every case.
- An error before the head went out becomes a 500 with a generic body (traceback to the log);
  after, the response is cut off: the caller closes the connection, and the log says so.
  The client never sees a head the application got wrong.
- A send that fails (the module went away, socket-timeout) ends the response with one log line;
  it is not an application error.
- time_out() may be called from another thread (the process monitor, on request-timeout): it
  answers 504 if the head has not gone out, else it shuts the connection down; from then on
  whatever the application sends is dropped without a log line, and close() is still called
  when the application returns. Every send holds the response's send lock, so that a 504 never
  interleaves with the application's head.
- With `events` (the request's api.RequestScope), response_started is published once a head is
  accepted, and request_exception for every exception of the application (before the 500).
- Framed bodies (docs/protocol.md, "Framed response bodies"): when the front end asks for them
  (wsgid.framed_response=1, which mod_wsgid sends) and the head has no Content-Length, every body
  chunk goes out as a frame (4-byte big-endian length, then the bytes) and finish() sends the
  empty end frame. A response cut off by an application error (or a file that shrank) never
  gets the end frame, which is how the module tells a cut from an end when no length says it.
This module sends on the socket it is given and never closes it (time_out() only shuts it down);
connection.py owns the socket.
"""

import logging
import os
import socket
import struct
import threading
import time

from wsgid.core import HeadError, encode_head
from wsgid.filewrapper import sendable_file

log = logging.getLogger("wsgid.request")

_ERROR_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
    b"<body><h1>Internal Server Error</h1>\n"
    b"<p>The application failed while handling this request. "
    b"Details are in the server's error log.</p></body></html>\n"
)
_NOT_FOUND_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    b"<body><h1>Not Found</h1>\n<p>No application is configured for this URL.</p></body></html>\n"
)


def complete_response(status_line, body, extra_headers=b""):
    """A whole response of the daemon's own (an HTML `body`), as bytes ready to send;
    `extra_headers` are complete header lines, each ending in CRLF."""
    return (b"HTTP/1.1 " + status_line + b"\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n" + extra_headers +
            b"Content-Length: " + str(len(body)).encode("ascii") + b"\r\n\r\n" + body)


_GATEWAY_TIMEOUT_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>504 Gateway Timeout</title></head>\n"
    b"<body><h1>Gateway Timeout</h1>\n<p>The application did not answer in time.</p>"
    b"</body></html>\n"
)

ERROR_RESPONSE_500 = complete_response(b"500 Internal Server Error", _ERROR_BODY)
NOT_FOUND_RESPONSE_404 = complete_response(b"404 Not Found", _NOT_FOUND_BODY)
GATEWAY_TIMEOUT_RESPONSE_504 = complete_response(b"504 Gateway Timeout", _GATEWAY_TIMEOUT_BODY)

# A frame of a framed body: its length, then its bytes; a frame of length 0 ends the body.
_FRAME_HEADER = struct.Struct(">I")
_END_FRAME = _FRAME_HEADER.pack(0)
_MAX_FRAME = 0xFFFFFFFF

# Statuses and methods whose responses carry no body although Content-Length may describe one.
_BODYLESS_STATUSES = ("1", "204", "304")
# The largest response head the daemon accepts from an application, in bytes: mod_wsgi's
# default header-buffer-size. The module refuses heads over 64 KiB with a 502 anyway; refusing
# here makes it a 500 with a log line that names the request and says why.
MAX_RESPONSE_HEAD = 32768
# A small first chunk rides in the same send as the head; a large one is not copied for that.
_COALESCE_LIMIT = 16384
# wsgi.errors logs an unfinished line once it is this long, so that it cannot grow unbounded.
_ERRORS_LINE_LIMIT = 65536
# How long time_out() waits for a send in progress before it cuts the connection under it.
_TIME_OUT_LOCK_WAIT = 0.1


class ApplicationError(Exception):
    """The application broke the WSGI contract; the message says how."""


class ConnectionLost(Exception):
    """Sending to the module failed; the response cannot be completed."""

    @property
    def client_left(self):
        """The peer closed (the client went away, so Apache closed too): routine, as mod_wsgi
        4.6 says of lost client connections, and not worth an error-log line. A timeout is
        different: it shows connections hanging, and stays visible."""
        return isinstance(self.__cause__, (BrokenPipeError, ConnectionResetError))


def _log_lost(message, label, lost):
    (log.debug if lost.client_left else log.info)(message, label, lost)


def describe_request(environ):
    """'GET /path?q (request id)': how log lines name a request."""
    uri = environ.get("REQUEST_URI") or (
        environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    request_id = environ.get("wsgid.request_id")
    text = f"{environ.get('REQUEST_METHOD', '?')} {uri}"
    return f"{text} (request {request_id})" if request_id else text


def declared_content_length(headers):
    """The Content-Length the headers declare, or None. Raises HeadError when it is not one whole
    number (several equal values are one declaration)."""
    values = None
    for name, value in headers:
        # Most names are not 14 characters long: skip the lower() of those.
        if len(name) == 14 and name.lower() == "content-length":
            if values is None:
                values = set()
            values.add(value.strip())
    if values is None:
        return None
    if len(values) > 1:
        raise HeadError(f"conflicting Content-Length headers: {sorted(values)}")
    value = values.pop()
    if not (value.isascii() and value.isdigit()):
        raise HeadError(f"Content-Length must be a whole number of bytes, got {value!r}")
    return int(value)


class Response:
    """The state of one response: what the application started, what went out on the socket."""

    def __init__(self, sock, environ, events=None):
        self.sock = sock
        self.events = events        # the request's api.RequestScope, or None
        self.label = describe_request(environ)
        self.method = environ.get("REQUEST_METHOD", "")
        self.status = None          # the status line text the application chose
        self.head = None            # its encoded head, waiting for the first body byte
        self.head_sent = False
        self.content_length = None  # declared by the application, or None
        # The front end wants framed bodies; the body is framed when the head has no length.
        self.frames_wanted = environ.get("wsgid.framed_response") == "1"
        self.framed = False
        self.body_bytes = 0         # body bytes handed to the socket
        self.truncated = False      # the application gave more than its Content-Length
        self.rejected_head = None   # the HeadError start_response raised, logged once
        self.error_sent = False     # the 500 replaced the application's response
        self.lost = False           # sending failed: the module is gone or too slow
        self.cut_off = False        # the application failed after the head went out
        self.own_status = None      # the status of a complete response of our own (404, 500)
        self.timed_out = False      # time_out() was called: the application's output is dropped
        self.timeout_answered = False  # ... and it answered 504
        self.output_writes = 0      # sends to the socket, and the seconds they took
        self.output_time = 0.0
        self._send_lock = threading.Lock()

    # -- the callables the application sees ---------------------------------------------------

    def start_response(self, status, headers, exc_info=None):
        reported_exc_info = exc_info
        if exc_info:
            try:
                if self.head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status is not None:
            raise ApplicationError("start_response() was called a second time without exc_info")
        try:
            head = encode_head(status, headers)
            if len(head) > MAX_RESPONSE_HEAD:
                raise HeadError(f"the response head is {len(head)} bytes, more than "
                                f"{MAX_RESPONSE_HEAD}; send large data in the body")
            content_length = declared_content_length(headers)
        except HeadError as exc:
            self.rejected_head = exc
            log.error("invalid response head from the application for %s: %s", self.label, exc)
            raise
        self.status, self.head, self.content_length = status, head, content_length
        self.framed = self.frames_wanted and content_length is None
        if self.events is not None:
            self.events.response_started(status, headers, reported_exc_info)
        return self.write

    def write(self, data):
        """The write() callable of PEP 3333; returns once the bytes are with the kernel."""
        if self.status is None:
            raise ApplicationError("write() was called before start_response()")
        self.send_body(data)

    # -- sending ------------------------------------------------------------------------------

    def send_body(self, data):
        if not isinstance(data, (bytes, bytearray)):
            raise ApplicationError(
                f"response body chunks must be bytes, got {type(data).__name__}: {data!r:.60}")
        if not data or self.truncated or self.timed_out:
            return
        if self.status is None:
            raise ApplicationError("the application produced body bytes before start_response()")
        if self.content_length is not None:
            room = self.content_length - self.body_bytes
            if len(data) > room:
                self.truncated = True
                log.warning("application sent more than its Content-Length %d for %s; "
                            "the excess is dropped", self.content_length, self.label)
                data = data[:room]
                if not data:
                    return
        size = len(data)
        if self.framed:
            data = _framed(data)
        if self.head_sent:
            self._sendall(data)
        elif size <= _COALESCE_LIMIT:
            self._sendall(self.head + data, starts_head=True)
        else:
            self.send_head_now()
            self._sendall(data)
        if not self.timed_out:
            self.body_bytes += size

    def send_head_now(self):
        if not self.head_sent:
            self._sendall(self.head, starts_head=True)

    def send_iterable(self, result):
        """Send every chunk of what the application returned."""
        if result is None or isinstance(result, (str, bytes, bytearray)):
            kind = "None" if result is None else type(result).__name__
            raise ApplicationError(
                f"the application returned {kind}; it must return an iterable of bytes "
                f"(for one body, a list with one bytes object)")
        try:
            iterator = iter(result)
        except TypeError:
            raise ApplicationError(
                f"the application returned a {type(result).__name__}, which is not iterable; "
                f"it must return an iterable of bytes") from None
        file = sendable_file(result)
        if file is not None and self.status is not None:
            self._sendfile(file)
            return
        for chunk in iterator:
            self.send_body(chunk)
            if self.truncated or self.timed_out:
                break

    def finish(self):
        """After the iterable is exhausted: send the head of an empty body, check the length."""
        if self.timed_out:
            return  # time_out() ended the response; nothing the application did matters now
        if self.status is None:
            raise ApplicationError("the application returned without calling start_response()")
        if self.framed and not self.cut_off:
            self._sendall(_END_FRAME if self.head_sent else self.head + _END_FRAME,
                          starts_head=not self.head_sent)
        self.send_head_now()
        if (self.content_length is not None and self.body_bytes < self.content_length
                and self.method != "HEAD" and not self.status.startswith(_BODYLESS_STATUSES)):
            log.warning("application sent %d body bytes but declared Content-Length %d for %s",
                        self.body_bytes, self.content_length, self.label)

    @property
    def complete(self):
        """The application's response went out whole (as far as this side can tell)."""
        return self.head_sent and not (self.error_sent or self.lost or self.cut_off
                                       or self.timed_out or self.own_status)

    @property
    def status_code(self):
        """The status the module was answered with (0: no head went out, nor was chosen)."""
        if self.timeout_answered:
            return 504
        if self.own_status:
            return self.own_status
        if self.error_sent:
            return 500
        return int(self.status[:3]) if self.status else 0

    def fail(self, exc):
        """The application raised `exc`: answer 500, or cut the response off."""
        if self.events is not None:
            self.events.request_exception(exc)
        if self.timed_out:
            log.info("the application raised %s after %s was timed out: %s",
                     type(exc).__name__, self.label, _one_line(exc))
            return
        if self.head_sent:
            self.cut_off = True
            log.error("response cut off after %d body bytes: the application raised an "
                      "exception for %s", self.body_bytes, self.label, exc_info=exc)
            return
        if exc is not self.rejected_head:  # a rejected head was logged when it was rejected
            log.error("exception in the application for %s; answered 500", self.label,
                      exc_info=exc)
        try:
            self._sendall(ERROR_RESPONSE_500, starts_head=True)
        except ConnectionLost as lost:
            self.lost = True
            _log_lost("could not send the 500 for %s: %s", self.label, lost)
            return
        self.error_sent = True

    def send_own_response(self, data, status):
        """Answer with a complete response of our own (404, 500) instead of the application's;
        nothing is sent once a head went out or the request was timed out."""
        with self._send_lock:
            if self.head_sent or self.timed_out:
                return
            self.head_sent = True
            self.own_status = status
            try:
                self.sock.sendall(data)
            except OSError:
                self.lost = True  # the module went away: not worth a log line

    def time_out(self):
        """From another thread: end this response now. Returns 'answered 504' when the head had
        not gone out, else 'cut off'. The socket is shut down either way (which also wakes an
        application blocked reading the request body)."""
        outcome = "cut off"
        got_lock = self._send_lock.acquire(timeout=_TIME_OUT_LOCK_WAIT)
        try:
            self.timed_out = True
            if got_lock and not self.head_sent:
                self.head_sent = True
                self.timeout_answered = True
                outcome = "answered 504"
                try:
                    # Never block the caller: 504's few hundred bytes fit in any send buffer.
                    self.sock.send(GATEWAY_TIMEOUT_RESPONSE_504, socket.MSG_DONTWAIT)
                except OSError:
                    pass
        finally:
            if got_lock:
                self._send_lock.release()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return outcome

    def _sendfile(self, file):
        self.send_head_now()
        if self.timed_out:
            return
        offset = file.tell()
        count = None
        if self.content_length is not None:
            count = self.content_length - self.body_bytes
            size_left = os.fstat(file.fileno()).st_size - offset
            if size_left > count:
                self.truncated = True
                log.warning("file is longer than the Content-Length %d for %s; the excess is "
                            "not sent", self.content_length, self.label)
            if count == 0:
                return
        if not self.framed:
            self.body_bytes += self._sendfile_range(file, offset, count)
            return
        # A frame announces its length first: send what the file holds now, in frames.
        left = os.fstat(file.fileno()).st_size - offset
        while left > 0 and not self.timed_out:
            piece = min(left, _MAX_FRAME)
            self._sendall(_FRAME_HEADER.pack(piece))
            sent = self._sendfile_range(file, offset, piece)
            self.body_bytes += sent
            if sent < piece:
                self.cut_off = True  # no end frame: the module shows the client a cut
                log.warning("file shrank while it was sent for %s; the response is cut off",
                            self.label)
                return
            offset += piece
            left -= piece

    def _sendfile_range(self, file, offset, count):
        """sendfile() `count` bytes (None: to the end) from `offset`; the bytes sent."""
        with self._send_lock:
            if self.timed_out:
                return 0
            started = time.perf_counter()
            try:
                return self.sock.sendfile(file, offset, count)
            except OSError as exc:
                if self.timed_out:
                    return 0
                raise ConnectionLost(f"sending the file failed: {exc}") from exc
            finally:
                self.output_writes += 1
                self.output_time += time.perf_counter() - started

    def _sendall(self, data, starts_head=False):
        with self._send_lock:
            if self.timed_out:
                return  # time_out() answered or cut this response: drop what follows
            if starts_head:
                self.head_sent = True  # even a failed send may have put part of it on the wire
            started = time.perf_counter()
            try:
                self.sock.sendall(data)
            except OSError as exc:
                if self.timed_out:
                    return  # time_out() shut the socket down under this send
                raise ConnectionLost(f"sending the response failed after {self.body_bytes} "
                                     f"body bytes: {exc}") from exc
            finally:
                self.output_writes += 1
                self.output_time += time.perf_counter() - started


def _framed(data):
    """`data` as frames of a framed body (one, unless it is over 4 GiB)."""
    if len(data) <= _MAX_FRAME:
        return _FRAME_HEADER.pack(len(data)) + data
    view = memoryview(data)
    return b"".join(_FRAME_HEADER.pack(len(part)) + part
                    for part in (view[i:i + _MAX_FRAME] for i in range(0, len(data), _MAX_FRAME)))


def _one_line(exc):
    return " ".join(str(exc).split())[:300]


def run_application(app, environ, sock, events=None, response=None):
    """Call `app` for `environ` and send its response on `sock`; returns the Response.

    `events` is the request's api.RequestScope (or None); `response`, a Response made earlier
    for this request (the process monitor may already hold it). Never raises for anything the
    application does; the socket stays open for the caller.
    """
    if response is None:
        response = Response(sock, environ, events)
    result = None
    try:
        result = app(environ, response.start_response)
        response.send_iterable(result)
        response.finish()
    except ConnectionLost as exc:
        response.lost = True
        _log_lost("connection to the module lost for %s: %s", response.label, exc)
    except (Exception, SystemExit) as exc:
        response.fail(exc)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except (Exception, SystemExit) as exc:
                if response.events is not None:
                    response.events.request_exception(exc)
                log.error("close() of the application's iterable raised for %s",
                          response.label, exc_info=exc)
    return response


class ErrorStream:
    """wsgi.errors: a text stream whose lines go to the log at error level.

    One instance serves every thread of the process (it sits in the base environ), so each
    thread keeps its own unfinished line; flush() logs that line, and so does a line that grows
    past _ERRORS_LINE_LIMIT characters.
    """

    encoding = "utf-8"
    errors = "backslashreplace"

    def __init__(self, logger=log):
        self._logger = logger
        self._local = threading.local()

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors takes str, not {type(text).__name__}")
        pending = getattr(self._local, "pending", "") + text
        *lines, rest = pending.split("\n")
        if len(rest) >= _ERRORS_LINE_LIMIT:
            lines.append(rest)
            rest = ""
        for line in lines:
            self._logger.error("%s", line)
        self._local.pending = rest
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pending = getattr(self._local, "pending", "")
        if pending:
            self._local.pending = ""
            self._logger.error("%s", pending)

    def writable(self):
        return True

    def isatty(self):
        return False
