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

The hot path of a response (start_response, write, the body, the end frame, every send) is the
core's ResponseCore (``request_path.py``, compiled by the build), which Response
extends here with the cold paths: the 500 or the cut after an error, time_out(), the daemon's own
responses (their bytes are in answers.py) and files sent with sendfile().
"""

import logging
import os
import socket
import time

from wsgid.answers import BODY_GATE_OPEN, ERROR_RESPONSE_500, GATEWAY_TIMEOUT_RESPONSE_504
from wsgid.core import FRAME_HEADER, MAX_FRAME, ConnectionLost, ResponseCore, log_lost, respond

log = logging.getLogger("wsgid.request")

# How long time_out() waits for a send in progress before it cuts the connection under it.
_TIME_OUT_LOCK_WAIT = 0.1


class Response(ResponseCore):
    """One response: the core's hot path (start_response, write, the body, the end) and, here,
    what happens when things go wrong: errors, timeouts, responses of our own, files."""

    __slots__ = ()

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
            self.sendall(ERROR_RESPONSE_500, True)
        except ConnectionLost as lost:
            self.lost = True
            log_lost("could not send the 500 for %s: %s", self.label, lost)
            return
        self.error_sent = True

    def open_body_gate(self):
        """wsgid.body_gate: tell mod_wsgid to send the request body now, before the
        application runs (docs/protocol.md, "Script reloading"). Not once a head went out."""
        with self.send_lock:
            if self.head_sent or self.timed_out:
                return
            try:
                self.sock.sendall(BODY_GATE_OPEN)
            except OSError:
                self.lost = True  # the module went away: not worth a log line

    def send_own_response(self, data, status):
        """Answer with a complete response of our own (404, 500) instead of the application's;
        nothing is sent once a head went out or the request was timed out."""
        with self.send_lock:
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
        got_lock = self.send_lock.acquire(timeout=_TIME_OUT_LOCK_WAIT)
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
                self.send_lock.release()
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
            piece = min(left, MAX_FRAME)
            self.sendall(FRAME_HEADER.pack(piece))
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
        with self.send_lock:
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
    respond(app, environ, response)
    return response
