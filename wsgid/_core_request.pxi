# Included by _core.pyx, after _core_conn.pxi: the request path's hot half in Cython.
#
# The twin is _core_py_request.py, whose docstring says what this half does and which cold
# paths the subclasses (connection.RequestHandler, response.Response) supply. Same API, same
# behaviour, same log lines: change one, change the other.
#
# What makes this faster than the twin, besides compiled control flow: the per-request state
# lives in C fields of two extension types; the clocks are read with clock_gettime() instead of
# the time module; a response to a core Connection is sent by a C call; error texts, exception
# classes and the rare paths come from the twin or the subclasses (cold), so both raise the same
# objects with the same words.

import itertools as _itertools
import logging as _logging
import os as _os
import threading as _threading

from cpython.pythread cimport (
    NOWAIT_LOCK,
    WAIT_LOCK,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_get_thread_ident,
    PyThread_release_lock,
    PyThread_type_lock,
)
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec

from wsgid import api as _api
from wsgid._core_py_request import (
    ACCEPT_ERROR_PAUSE,
    BODYLESS_STATUSES,
    COALESCE_LIMIT,
    END_FRAME,
    MAX_RESPONSE_HEAD,
    MAX_VARS,
    ApplicationError,
    ConnectionLost,
    bad_length_error,
    conflicting_lengths_error,
    describe_request,
    framed,
    head_too_large_error,
    log_lost,
    queue_wait_exceeded,
    set_buffer_sizes,
)
from wsgid.filewrapper import sendable_file

_request_log = _logging.getLogger("wsgid.request")
_pool_log = _logging.getLogger("wsgid.pool")

cdef Py_ssize_t C_COALESCE_LIMIT = COALESCE_LIMIT
cdef Py_ssize_t C_MAX_RESPONSE_HEAD = MAX_RESPONSE_HEAD
cdef Py_ssize_t C_MAX_VARS = MAX_VARS


def set_response_head_limit(Py_ssize_t size):
    """This process's limit on a response head: its group's header-buffer-size= (0: the
    default). A daemon process serves one group, so the limit is the process's."""
    global C_MAX_RESPONSE_HEAD
    C_MAX_RESPONSE_HEAD = size or MAX_RESPONSE_HEAD


cdef inline double clock_seconds(int clock) noexcept:
    """time.monotonic() (CLOCK_MONOTONIC, also perf_counter's clock) or time.time()."""
    cdef timespec now
    clock_gettime(clock, &now)
    return now.tv_sec + now.tv_nsec * 1e-9


cdef object declared_length(object headers):
    """The Content-Length the headers declare, or None (see the twin's
    declared_content_length)."""
    cdef set values = None
    for name, value in headers:
        # Most names are not 14 characters long: skip the lower() of those.
        if len(<str>name) == 14 and (<str>name).lower() == "content-length":
            if values is None:
                values = set()
            values.add((<str>value).strip())
    if values is None:
        return None
    if len(values) > 1:
        raise conflicting_lengths_error(values)
    value = values.pop()
    if not ((<str>value).isascii() and (<str>value).isdigit()):
        raise bad_length_error(value)
    return int(value)


cdef class ResponseCore:
    """The state of one response and its hot path: start_response, write, the body, the end."""

    cdef public object sock
    cdef public object events
    cdef public object environ
    cdef object _label
    cdef public object method
    cdef public object status
    cdef public object head
    cdef public bint head_sent
    cdef public object content_length
    cdef public bint frames_wanted
    cdef public bint framed
    cdef public long long body_bytes
    cdef public bint truncated
    cdef public object rejected_head
    cdef public bint error_sent
    cdef public bint lost
    cdef public bint cut_off
    cdef public int own_status
    cdef public bint timed_out
    cdef public bint timeout_answered
    cdef public long long output_writes
    cdef public double output_time
    cdef public object send_lock
    cdef Connection _connection  # sock, when it is a core Connection: sent to by a C call

    def __init__(self, sock, environ, events=None):
        self.sock = sock
        self._connection = sock if type(sock) is Connection else None
        self.events = events
        self.environ = environ
        self._label = None
        self.method = environ.get("REQUEST_METHOD", "")
        self.status = None
        self.head = None
        self.head_sent = False
        self.content_length = None
        self.frames_wanted = environ.get("wsgid.framed_response") == "1"
        self.framed = False
        self.body_bytes = 0
        self.truncated = False
        self.rejected_head = None
        self.error_sent = False
        self.lost = False
        self.cut_off = False
        self.own_status = 0
        self.timed_out = False
        self.timeout_answered = False
        self.output_writes = 0
        self.output_time = 0.0
        self.send_lock = _threading.Lock()

    @property
    def label(self):
        """How log lines name the request (describe_request; a hook call names itself)."""
        if self._label is None:
            self._label = describe_request(self.environ)
        return self._label

    @label.setter
    def label(self, text):
        self._label = text

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
            if len(<bytes>head) > C_MAX_RESPONSE_HEAD:
                raise head_too_large_error(len(<bytes>head), C_MAX_RESPONSE_HEAD)
            content_length = declared_length(headers)
        except HeadError as exc:
            self.rejected_head = exc
            _request_log.error("invalid response head from the application for %s: %s",
                               self.label, exc)
            raise
        self.status = status
        self.head = head
        self.content_length = content_length
        self.framed = self.frames_wanted and content_length is None
        if self.events is not None:
            self.events.response_started(status, headers, reported_exc_info)
        return self.write

    def write(self, data):
        """The write() callable of PEP 3333; returns once the bytes are with the kernel."""
        if self.status is None:
            raise ApplicationError("write() was called before start_response()")
        self.body(data)

    # -- sending ------------------------------------------------------------------------------

    def send_body(self, data):
        self.body(data)

    cdef int body(self, data) except -1:
        cdef Py_ssize_t size
        cdef long long room
        if not isinstance(data, (bytes, bytearray)):
            raise ApplicationError(
                f"response body chunks must be bytes, got {type(data).__name__}: {data!r:.60}")
        if not data or self.truncated or self.timed_out:
            return 0
        if self.status is None:
            raise ApplicationError("the application produced body bytes before start_response()")
        if self.content_length is not None:
            room = self.content_length - self.body_bytes
            if len(data) > room:
                self.truncated = True
                _request_log.warning("application sent more than its Content-Length %d for %s; "
                                     "the excess is dropped", self.content_length, self.label)
                data = data[:room]
                if not data:
                    return 0
        size = len(data)
        if self.framed:
            data = framed(data)
        if self.head_sent:
            self.send(data, False)
        elif size <= C_COALESCE_LIMIT:
            self.send(self.head + data, True)
        else:
            self.send(self.head, True)
            self.send(data, False)
        if not self.timed_out:
            self.body_bytes += size
        return 0

    def send_head_now(self):
        if not self.head_sent:
            self.send(self.head, True)

    def send_iterable(self, result):
        """Send every chunk of what the application returned."""
        if result is None or isinstance(result, (str, bytes, bytearray)):
            kind = "None" if result is None else type(result).__name__
            raise ApplicationError(
                f"the application returned {kind}; it must return an iterable of bytes "
                f"(for one body, a list with one bytes object)")
        if type(result) is list:  # the usual body: no iterator object, no file to look for
            for chunk in <list>result:
                self.body(chunk)
                if self.truncated or self.timed_out:
                    break
            return
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
            self.body(chunk)
            if self.truncated or self.timed_out:
                break

    def finish(self):
        """After the iterable is exhausted: send the head of an empty body, check the length."""
        if self.timed_out:
            return  # time_out() ended the response; nothing the application did matters now
        if self.status is None:
            raise ApplicationError("the application returned without calling start_response()")
        if self.framed and not self.cut_off:
            if self.head_sent:
                self.send(END_FRAME, False)
            else:
                self.send(self.head + END_FRAME, True)
        if not self.head_sent:
            self.send(self.head, True)
        if (self.content_length is not None and self.body_bytes < self.content_length
                and self.method != "HEAD"
                and not (<str>self.status).startswith(BODYLESS_STATUSES)):
            _request_log.warning(
                "application sent %d body bytes but declared Content-Length %d for %s",
                self.body_bytes, self.content_length, self.label)

    @property
    def complete(self):
        """The application's response went out whole (as far as this side can tell)."""
        return self.head_sent and not (self.error_sent or self.lost or self.cut_off
                                       or self.timed_out or self.own_status)

    @property
    def status_code(self):
        """The status the module was answered with (0: no head went out, nor was chosen)."""
        return self.code()

    cdef int code(self) except -1:
        if self.timeout_answered:
            return 504
        if self.own_status:
            return self.own_status
        if self.error_sent:
            return 500
        return int(self.status[:3]) if self.status else 0

    def sendall(self, data, starts_head=False):
        """Send `data` under the send lock, counted in output_writes/output_time; dropped once
        the response was timed out. Raises ConnectionLost when the send fails."""
        self.send(data, starts_head)

    cdef int send(self, data, bint starts_head) except -1:
        cdef double started
        cdef Py_buffer view
        with self.send_lock:
            if self.timed_out:
                return 0  # time_out() answered or cut this response: drop what follows
            if starts_head:
                self.head_sent = True  # even a failed send may have put part of it on the wire
            started = clock_seconds(CLOCK_MONOTONIC)
            try:
                if self._connection is not None:
                    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
                    try:
                        self._connection.send_all(<const char *>view.buf, view.len)
                    finally:
                        PyBuffer_Release(&view)
                else:
                    self.sock.sendall(data)
            except OSError as exc:
                if self.timed_out:
                    return 0  # time_out() shut the socket down under this send
                raise ConnectionLost(f"sending the response failed after {self.body_bytes} "
                                     f"body bytes: {exc}") from exc
            finally:
                self.output_writes += 1
                self.output_time += clock_seconds(CLOCK_MONOTONIC) - started
        return 0


def respond(app, environ, ResponseCore response not None):
    """Call `app` for `environ` and send its response through `response`; close() of the
    returned iterable is always called. Never raises for anything the application does."""
    run_response(app, environ, response)


cdef int run_response(app, environ, ResponseCore response) except -1:
    result = None
    try:
        result = app(environ, response.start_response)
        response.send_iterable(result)
        response.finish()
    except ConnectionLost as exc:
        response.lost = True
        log_lost("connection to the module lost for %s: %s", response.label, exc)
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
                _request_log.error("close() of the application's iterable raised for %s",
                                   response.label, exc_info=exc)
    return 0


cdef class RunningRequest:
    """A request being served, as running() shows it: its id, its URL, when it started
    (time.monotonic()), the thread serving it (threading.get_ident()) and its Response;
    counts_as_activity is False under WSGIIgnoreActivity On (inactivity-timeout ignores it)."""

    cdef public object request_id
    cdef public object url
    cdef public double started
    cdef public object thread_ident
    cdef public object response
    cdef public object outcome
    cdef public bint counts_as_activity

    def __init__(self, request_id, url, response):
        self.request_id = request_id
        self.url = url
        self.started = clock_seconds(CLOCK_MONOTONIC)
        self.thread_ident = PyThread_get_thread_ident()
        self.response = response
        self.outcome = None  # what time_out() did
        self.counts_as_activity = True

    @property
    def timed_out(self):
        return self.outcome is not None

    def __repr__(self):
        return f"<RunningRequest {self.request_id} {self.url} thread {self.thread_ident}>"


cdef class RequestPath:
    """Serves the connections of one daemon process: the per-request state and hot path."""

    cdef public object base_environ
    cdef public object socket_timeout
    cdef public double queue_timeout
    cdef public object errors
    cdef public object group_name
    cdef public object response_factory
    cdef public long long requests_finished
    cdef public double last_activity
    cdef public dict running_requests
    cdef public object running_lock
    cdef object _request_numbers

    def __init__(self, base_environ, socket_timeout, queue_timeout, errors, group_name):
        self.base_environ = base_environ
        self.socket_timeout = socket_timeout
        self.queue_timeout = queue_timeout or 0
        self.errors = errors
        self.group_name = group_name
        self.response_factory = ResponseCore
        self.requests_finished = 0
        self.last_activity = clock_seconds(CLOCK_MONOTONIC)
        self.running_requests = {}
        self.running_lock = _threading.Lock()
        self._request_numbers = _itertools.count(1)

    def handle(self, sock):
        """Serve one accepted connection completely and close it. Never raises."""
        cdef bint finished = False
        try:
            finished = self.serve(sock)
        except Exception:
            _request_log.exception("unexpected error while serving a connection on the daemon "
                                   "socket of group '%s'", self.group_name)
        finally:
            if finished:
                sock.close()  # already half-closed and read to its end: no shutdown() needed
            else:
                close_connection(sock)

    cdef bint serve(self, sock) except -1:
        """Serve the request on `sock`; True when the connection was finished here (our side
        half-closed and the request body read to its end), so that a close() is all it needs."""
        cdef double daemon_start
        cdef dict environ
        sock.settimeout(self.socket_timeout)
        try:
            environ, rest, content_length = read_request(sock, self.base_environ, C_MAX_VARS)
        except ProtocolError as exc:
            _request_log.warning("bad request packet from daemon socket: %s", exc)
            return False
        except OSError as exc:
            _request_log.warning("reading the request packet from the daemon socket failed: %s",
                                 exc)
            return False
        if "wsgid.hook" in environ:
            self._answer_hook(environ, sock)
            return False
        daemon_start = clock_seconds(CLOCK_REALTIME)
        length = None if environ["wsgi.input_terminated"] else (content_length or 0)
        body = InputStream(sock, rest, length)
        environ["wsgi.input"] = body
        if self.queue_timeout:
            waited = queue_wait_exceeded(environ.get("wsgid.queue_start"), self.queue_timeout,
                                         daemon_start)
            if waited is not None:
                self._answer_queue_timeout(environ, sock, waited)
                return finish_body(sock, body, length, environ)
        application_group = environ.get("wsgid.application_group")
        if application_group is None:  # a front end other than mod_wsgid
            application_group = self._configured_application_group(environ)
        environ["mod_wsgi.application_group"] = application_group
        environ["mod_wsgi.daemon_start"] = str(<long long>(daemon_start * 1000000))
        request_start = environ.get("wsgid.request_start")
        if request_start is not None:
            environ["mod_wsgi.request_start"] = request_start
        queue_start = environ.get("wsgid.queue_start")
        if queue_start is not None:
            environ["mod_wsgi.queue_start"] = queue_start
        request = self.enter(environ, sock)
        scope = _api.begin_request(request.request_id, application_group, environ, daemon_start)
        response = <ResponseCore>request.response
        response.events = scope
        try:
            self.respond(environ, body, response, scope)
        finally:
            _api.end_request(scope)
            self.leave(request, True)
        if response.lost or response.timed_out:
            return False
        return finish_body(sock, body, length, environ)

    cdef int respond(self, dict environ, InputStream body, ResponseCore response,
                     scope) except -1:
        """Load the application, run it, publish the events of the request."""
        application = self._application_for(environ, response)
        if application is None or response.timed_out:
            return 0  # answered already: an error, or time_out() while its script loaded
        application = scope.request_started(application)
        try:
            run_response(application, environ, response)
        finally:
            if self.errors.threads_with_pending:  # an unfinished wsgi.errors line, maybe ours
                self.errors.flush()
        scope.request_finished(response.code(), body.bytes_read, response.body_bytes,
                               response.output_writes, response.output_time)
        return 0

    def register(self, environ, sock):
        """Give the request its id (in the environ too) and make it visible to running()."""
        return self.enter(environ, sock)

    def unregister(self, request, finished_request):
        self.leave(request, finished_request)

    cdef RunningRequest enter(self, dict environ, sock):
        cdef RunningRequest request
        given_id = environ.get("wsgid.request_id")
        with self.running_lock:
            request_id = given_id
            if not request_id:
                request_id = f"{_os.getpid()}-{next(self._request_numbers)}"
            if request_id in self.running_requests:  # a front end reused an id: keep keys unique
                request_id = f"{request_id}-{next(self._request_numbers)}"
            environ["mod_wsgi.request_id"] = request_id
            if not given_id:
                environ["wsgid.request_id"] = request_id
            url = environ.get("REQUEST_URI") or (
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
            request = RunningRequest(request_id, url, self.response_factory(sock, environ))
            self.running_requests[request_id] = request
            if "wsgid.ignore_activity" in environ:   # WSGIIgnoreActivity On
                request.counts_as_activity = False
            else:
                self.last_activity = request.started
        return request

    cdef int leave(self, RunningRequest request, bint finished_request) except -1:
        with self.running_lock:
            self.running_requests.pop(request.request_id, None)
            if finished_request:
                self.requests_finished += 1
            if request.counts_as_activity:
                self.last_activity = clock_seconds(CLOCK_MONOTONIC)
        return 0


cdef bint finish_body(sock, InputStream body, length, environ) except -1:
    """End our response (half-close) and read the body the application left unread; True when
    both worked (the caller then only close()s the connection). The twin's
    finish_request_body."""
    if body._unreceived == 0:
        # Nothing more can come from the module, so close() alone ends the response cleanly
        # (an empty receive queue: the module reads an end, not a reset): no shutdown() call.
        return True
    try:
        sock.shutdown(SHUT_WR)
        drained = body.drain()
    except OSError as exc:
        _request_log.debug("reading the rest of the request body failed for %s: %s",
                           describe_request(environ), exc)
        return False
    if length is not None and body.bytes_read + drained < length:
        # The client went away mid-upload (an application that read that far got an OSError),
        # or the module stopped sending a body the application answered without reading.
        _request_log.info("request body ended after %d of %d bytes (CONTENT_LENGTH) for %s",
                          body.bytes_read + drained, length, describe_request(environ))
    return True


cdef int close_connection(sock) except -1:
    try:
        sock.shutdown(SHUT_RDWR)
    except OSError:
        pass  # already shut down, or the peer is gone
    sock.close()
    return 0


def next_queued(listener, allowed_uids, refuse):
    """The next connection from an allowed peer queued on `listener` (see the twin)."""
    return next_queued_from(listener.fileno(), allowed_uids, refuse)


cdef object next_queued_from(int listener_fd, allowed_uids, refuse):
    while True:
        accepted = accept_from(listener_fd)
        if accepted is None:
            return None
        conn, uid = <tuple>accepted
        if uid in allowed_uids:
            return conn
        refuse(conn, uid)


cdef class AcceptLoop:
    """What each request thread of a daemon process runs (see the twin): the wait on the
    listener, accept(), the peer check and the call of `handle`, in C. The accept lock is a C
    lock taken without the GIL when another thread holds it, and the wait is a poll() without
    the GIL, so a thread waiting for a connection costs the others nothing."""

    cdef object listener
    cdef int listener_fd
    cdef public int wake_fd
    cdef public object handle
    cdef public object allowed_uids
    cdef public object refuse
    cdef public bint stopping
    cdef public bint finish_backlog
    cdef public int send_buffer_size
    cdef public int receive_buffer_size
    cdef PyThread_type_lock lock
    cdef int pause_ms

    def __cinit__(self):
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError("cannot allocate the accept lock")

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    def __init__(self, listener, int wake_fd, handle, allowed_uids, refuse):
        self.listener = listener
        self.listener_fd = listener.fileno()
        self.wake_fd = wake_fd
        self.handle = handle
        self.allowed_uids = allowed_uids
        self.refuse = refuse
        self.stopping = False
        self.finish_backlog = False
        self.send_buffer_size = 0
        self.receive_buffer_size = 0
        self.pause_ms = <int>(ACCEPT_ERROR_PAUSE * 1000)

    def run(self):
        """Serve connections until stopped (and, with finish_backlog, the queue is empty)."""
        while True:
            conn = self.next_connection()
            if conn is None:
                if self.stopping:
                    return
                continue
            if self.send_buffer_size or self.receive_buffer_size:
                set_buffer_sizes(conn.fileno(), self.send_buffer_size, self.receive_buffer_size)
            try:
                self.handle(conn)
            except BaseException:
                # handle() promises not to raise; if it does, this thread must survive it.
                _pool_log.exception("the request handler raised; connection closed")
                conn.close()

    def close_listener(self):
        """Close this process's copy of the listener, once no thread waits on it."""
        self.acquire()
        try:
            self.listener.close()
            self.listener_fd = -1  # its number may be reused: never poll or accept on it again
        finally:
            PyThread_release_lock(self.lock)

    cdef void acquire(self):
        if not PyThread_acquire_lock(self.lock, NOWAIT_LOCK):
            with nogil:
                PyThread_acquire_lock(self.lock, WAIT_LOCK)

    cdef object next_connection(self):
        """Wait for a connection or for the stop; an accepted, allowed connection or None."""
        self.acquire()
        try:
            if not self.stopping:
                self.wait(-1)
            if self.stopping and not self.finish_backlog:
                return None
            try:
                return next_queued_from(self.listener_fd, self.allowed_uids, self.refuse)
            except OSError as exc:
                if self.stopping:
                    # Nobody would retry later: what is still queued is reset at the exit.
                    _pool_log.error("accept() of the connections still queued failed: %s; "
                                    "leaving them", exc)
                    return None
                _pool_log.error("accept() on the daemon socket failed: %s; retrying in %.1fs",
                                exc, ACCEPT_ERROR_PAUSE)
                self.wait(self.pause_ms, True)
                return None
        finally:
            PyThread_release_lock(self.lock)

    cdef void wait(self, int timeout_ms, bint wake_only=False) noexcept:
        """Without the GIL, until the listener is readable (unless wake_only) or the wake-up
        pipe is (stop()), or timeout_ms (-1: no limit) has passed."""
        cdef pollfd entries[2]
        cdef int first = 1 if wake_only else 0
        entries[0].fd = self.listener_fd
        entries[0].events = POLLIN
        entries[1].fd = self.wake_fd
        entries[1].events = POLLIN
        with nogil:
            while True:
                entries[0].revents = 0
                entries[1].revents = 0
                if poll(&entries[first], 2 - first, timeout_ms) >= 0 or errno != EINTR:
                    break
