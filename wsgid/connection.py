"""One accepted connection on a daemon socket, served from packet to close.

The request path, left to right: connection.py (this file: packet, script, body, close) →
core.py (packet parsing, wsgi.input, head encoding) → loader.py (which application) →
response.py (PEP 3333 start_response/write/iteration).

Rules:
- RequestHandler is built in the daemon process after the privilege drop, once per process;
  the base environ (the wsgi.* keys that do not change per request) is built once with it.
- handle(sock) is called from several threads at once; it serves the connection completely,
  closes it, and never raises. A bad packet gets one log line and a closed connection.
- After the response, the unread rest of the request body is read and dropped, so a module still
  sending it is never cut off by a close (it could not read the response otherwise). Such a
  finished connection is only close()d; any other is shut down both ways first. A body that
  has wholly come off the socket (a GET, or an upload already received) needs no half-close
  first: the close() is the end of the response.
- Every request has an id: Apache's log id (wsgid.request_id) when the front end sends one, else
  '<pid>-<n>'. It is in the environ (mod_wsgi.request_id, wsgid.request_id), in every log line
  about the request, and it is the key of api.active_requests and of running()/time_out().
- queue-timeout: a request that waited longer than that in the group's listen queue (from the
  module's wsgid.queue_start to the moment a thread read its packet) gets a 504 with one log
  line; the application never sees it, no event is published, and it does not count as a
  finished request. A front end that sends no wsgid.queue_start is never checked.
- A packet with wsgid.hook is a hook call (docs/protocol.md, "Hook calls"), answered by
  hooks.HookRunner instead of an application: its body is never read (whatever CONTENT_LENGTH
  says), queue-timeout is not checked, no event is published and it does not count in
  requests_finished (maximum-requests); it does update last_activity and is in running(), so
  request-timeout ends a hung hook with a 504 as it ends a request.
- For the process monitor (lifecycle code): requests_finished, last_activity, running() and
  time_out(request_id) are safe to use from any thread.
"""

import itertools
import logging
import os
import socket
import threading
import time

from wsgid import api
from wsgid.core import InputStream, ProtocolError, read_request
from wsgid.filewrapper import FileWrapper
from wsgid.hooks import HookRunner, describe_hook_call
from wsgid.loader import ScriptError, ScriptLoader, ScriptLoadError, ScriptRefused
from wsgid.response import (
    ERROR_RESPONSE_500,
    GATEWAY_TIMEOUT_RESPONSE_504,
    NOT_FOUND_RESPONSE_404,
    ErrorStream,
    Response,
    describe_request,
    run_application,
)

log = logging.getLogger("wsgid.request")

MAX_VARS = 1000


class RunningRequest:
    """A request being served, as running() shows it: its id, its URL, when it started
    (time.monotonic()), the thread serving it (threading.get_ident()) and its Response."""

    __slots__ = ("request_id", "url", "started", "thread_ident", "response", "outcome")

    def __init__(self, request_id, url, response):
        self.request_id = request_id
        self.url = url
        self.started = time.monotonic()
        self.thread_ident = threading.get_ident()
        self.response = response
        self.outcome = None  # what time_out() did

    @property
    def timed_out(self):
        return self.outcome is not None

    def __repr__(self):
        return f"<RunningRequest {self.request_id} {self.url} thread {self.thread_ident}>"


class RequestHandler:
    """Serves the connections of one daemon process of group `group`."""

    def __init__(self, config, group):
        if isinstance(group, str):
            group = config.groups[group]
        self.group = group
        options = group.options
        self.socket_timeout = options.get("socket-timeout")
        self.queue_timeout = options.get("queue-timeout") or 0
        self.errors = ErrorStream()
        self.base_environ = {
            "wsgi.version": (1, 0),
            "wsgi.multithread": options.get("threads", 1) > 1,
            "wsgi.multiprocess": options.get("processes", 1) > 1,
            "wsgi.run_once": False,
            "wsgi.errors": self.errors,
            "wsgi.file_wrapper": FileWrapper,
            "wsgid.process_group": group.name,
            "mod_wsgi.process_group": group.name,
        }
        self.loader = ScriptLoader(config, group.name)
        self.hooks = HookRunner(config, group.name, self.loader)
        self.active = 0  # connections being served right now
        self._active_lock = threading.Lock()
        self.requests_finished = 0           # requests that ran (or tried to run) an application
        self.last_activity = time.monotonic()  # the last start or end of a request
        self._running = {}                   # request id -> RunningRequest
        self._running_lock = threading.Lock()
        self._request_numbers = itertools.count(1)

    def preload(self):
        """Load, before the process accepts requests, the scripts its configuration preloads
        (WSGIImportScript); other scripts load on their first request."""
        self.loader.preload()

    def handle(self, sock):
        """Serve one accepted connection completely and close it. Never raises."""
        with self._active_lock:
            self.active += 1
        finished = False
        try:
            finished = self._serve(sock)
        except Exception:
            log.exception("unexpected error while serving a connection on the daemon socket "
                          "of group '%s'", self.group.name)
        finally:
            if finished:
                sock.close()  # already half-closed and read to its end: no shutdown() needed
            else:
                close_connection(sock)
            with self._active_lock:
                self.active -= 1

    def running(self):
        """A snapshot list of the RunningRequests being served now."""
        with self._running_lock:
            return list(self._running.values())

    def time_out(self, request_id):
        """End request `request_id` now, from any thread: 504 if its head has not gone out,
        else its connection is cut. Returns 'answered 504', 'cut off' or 'not running'.

        What the application still sends for it is dropped; it keeps its thread until it
        returns (and close() of its iterable is called then)."""
        with self._running_lock:
            request = self._running.get(request_id)
            if request is None:
                return "not running"
            if request.outcome is not None:
                return request.outcome
            request.outcome = "cut off"  # until response.time_out() says what it did
        outcome = request.response.time_out()
        request.outcome = outcome
        log.error("timed out %s after %.1fs: %s", request.response.label,
                  time.monotonic() - request.started,
                  "answered 504" if outcome == "answered 504" else
                  "connection cut off (its response head had already been sent)")
        return outcome

    def _serve(self, sock):
        """Serve the request on `sock`; True when the connection was finished here (our side
        half-closed and the request body read to its end), so that a close() is all it needs."""
        sock.settimeout(self.socket_timeout)
        try:
            environ, rest, content_length = read_request(sock, self.base_environ, MAX_VARS)
        except ProtocolError as exc:
            log.warning("bad request packet from daemon socket: %s", exc)
            return
        except OSError as exc:
            log.warning("reading the request packet from the daemon socket failed: %s", exc)
            return
        if "wsgid.hook" in environ:
            self._answer_hook(environ, sock)
            return
        daemon_start = time.time()
        length = None if environ["wsgi.input_terminated"] else (content_length or 0)
        body = InputStream(sock, rest, length)
        environ["wsgi.input"] = body
        if self.queue_timeout:
            waited = queue_wait_exceeded(environ.get("wsgid.queue_start"), self.queue_timeout,
                                         daemon_start)
            if waited is not None:
                log.warning("queue-timeout: %s waited %.1fs for a daemon thread, longer than "
                            "queue-timeout=%g; answered 504 without running the application",
                            describe_request(environ), waited, self.queue_timeout)
                send_quietly(sock, GATEWAY_TIMEOUT_RESPONSE_504)
                return finish_request_body(sock, body, length, environ)
        application_group = self._application_group(environ)
        environ["mod_wsgi.application_group"] = application_group
        environ["mod_wsgi.daemon_start"] = str(int(daemon_start * 1_000_000))
        if "wsgid.request_start" in environ:
            environ["mod_wsgi.request_start"] = environ["wsgid.request_start"]
        if "wsgid.queue_start" in environ:
            environ["mod_wsgi.queue_start"] = environ["wsgid.queue_start"]
        request = self._register(environ, sock)
        scope = api.begin_request(request.request_id, application_group, environ, daemon_start)
        response = request.response
        response.events = scope
        try:
            self._respond(environ, body, response, scope)
        finally:
            api.end_request(scope)
            self._unregister(request)
        if response.lost or response.timed_out:
            return False
        return finish_request_body(sock, body, length, environ)

    def _respond(self, environ, body, response, scope):
        """Load the application, run it, publish the events of the request."""
        try:
            application = self.loader.application_for(environ)
        except ScriptRefused as exc:
            log.warning("%s; answered 404 to %s", exc, response.label)
            response.send_own_response(NOT_FOUND_RESPONSE_404, 404)
            return
        except ScriptLoadError as exc:
            log.error("%s; answered 500 to %s", exc, response.label, exc_info=exc.__cause__)
            response.send_own_response(ERROR_RESPONSE_500, 500)
            return
        except ScriptError as exc:  # the others: their text is the whole story
            log.error("%s; answered 500 to %s", exc, response.label)
            response.send_own_response(ERROR_RESPONSE_500, 500)
            return
        if response.timed_out:
            return  # it was timed out while its script loaded; time_out() answered it
        application = scope.request_started(application)
        try:
            run_application(application, environ, response.sock, response=response)
        finally:
            self.errors.flush()
        scope.request_finished(response.status_code, body.bytes_read, response.body_bytes,
                               response.output_writes, response.output_time)

    def _answer_hook(self, environ, sock):
        request = self._register(environ, sock)
        # So that a request-timeout line says it was a hook call that hung.
        request.response.label = describe_hook_call(environ)
        try:
            answer = self.hooks.answer(environ)
            request.response.send_own_response(answer, 200)
        finally:
            self.errors.flush()
            self._unregister(request, finished_request=False)

    def _application_group(self, environ):
        # mod_wsgid sends the expanded name; other front ends get what the alias configures.
        group = environ.get("wsgid.application_group")
        if group is None:
            try:
                group = self.loader.resolve(environ)[1]
            except ScriptError:
                group = ""  # application_for() will refuse the request and say why
        return group

    def _register(self, environ, sock):
        """Give the request its id (in the environ too) and make it visible to running()."""
        with self._running_lock:
            request_id = environ.get("wsgid.request_id") or \
                f"{os.getpid()}-{next(self._request_numbers)}"
            if request_id in self._running:  # a front end reused an id: keep keys unique
                request_id = f"{request_id}-{next(self._request_numbers)}"
            environ["mod_wsgi.request_id"] = request_id
            if not environ.get("wsgid.request_id"):
                environ["wsgid.request_id"] = request_id
            url = environ.get("REQUEST_URI") or (
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
            request = RunningRequest(request_id, url, Response(sock, environ))
            self._running[request_id] = request
            self.last_activity = request.started
        return request

    def _unregister(self, request, finished_request=True):
        with self._running_lock:
            self._running.pop(request.request_id, None)
            if finished_request:
                self.requests_finished += 1
            self.last_activity = time.monotonic()


def queue_wait_exceeded(queue_start, queue_timeout, now):
    """How long a request waited in the queue, when that is longer than queue_timeout seconds;
    else None. `queue_start` is the packet's wsgid.queue_start (integer microseconds since the
    epoch) or None; without a usable one there is nothing to check."""
    if not queue_timeout or not queue_start or not (queue_start.isascii()
                                                     and queue_start.isdigit()):
        return None
    waited = now - int(queue_start) / 1_000_000
    return waited if waited > queue_timeout else None


def finish_request_body(sock, body, length, environ):
    """End our response (half-close) and read the body the application left unread; True when
    both worked (the caller then only close()s the connection)."""
    if body.received_all:
        # Nothing more can come from the module, so close() alone ends the response cleanly
        # (an empty receive queue: the module reads an end, not a reset): no shutdown() call.
        return True
    try:
        sock.shutdown(socket.SHUT_WR)
        drained = body.drain()
    except OSError as exc:
        log.debug("reading the rest of the request body failed for %s: %s",
                  describe_request(environ), exc)
        return False
    if length is not None and body.bytes_read + drained < length:
        # The client went away mid-upload (an application that read that far got an OSError),
        # or the module stopped sending a body the application answered without reading.
        log.info("request body ended after %d of %d bytes (CONTENT_LENGTH) for %s",
                 body.bytes_read + drained, length, describe_request(environ))
    return True


def send_quietly(sock, data):
    """Send a complete response of our own; a peer that went away is not worth a log line."""
    try:
        sock.sendall(data)
    except OSError:
        pass


def close_connection(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already shut down, or the peer is gone
    sock.close()
