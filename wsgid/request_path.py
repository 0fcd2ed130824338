"""The request path's hot half: what a daemon process does for every request, between accepting
the connection and closing it, except calling the application.

Read the packet, register the request, publish its events, run the application's response
through PEP 3333 (start_response, the body, framing) and end the connection; and the loop of the
request threads that feeds it connections (AcceptLoop, run by pool.RequestThreadPool). The cold
half (errors, timeouts, files, hook calls, the process monitor's view) stays in ordinary modules
that subclass the two classes here:

    RequestPath   <- connection.RequestHandler   (one per daemon process)
    ResponseCore  <- response.Response           (one per request)

One source, two ways to run it. The build compiles this file with Cython (its types are in
``request_path.pxd``: the per-request state lives in C fields, the internal calls are C calls,
and the clocks, the thread id, the accept lock and the wait on the listener are the C helpers of
``native.pxd``). Uncompiled, it runs as plain Python on the pure-Python wire core and the helpers
of ``native.py``: that is what WSGID_PUREPYTHON=1 runs, and what a checkout that was never built
runs. core.py chooses; nothing else imports this module directly.

Rules of this file:
- Plain Python that Cython compiles: no Cython syntax here; types go in the .pxd. A method the
  .pxd declares ``cdef`` cannot be called from Python once compiled, so what the subclasses, the
  monitor and the tests call is a ``def`` (``register``, ``sendall``, ``status_code``, ...) over
  the internal ``cdef`` one.
- What the subclasses must supply is declared below as methods that raise NotImplementedError:
  RequestPath's ``_answer_hook``, ``_configured_application_group``, ``_application_for`` and
  ``_answer_queue_timeout``; ResponseCore's ``fail`` and ``_sendfile``. Each is a cold path or a
  lookup, called through Python even when compiled.
- The rules of the request path and of a response are in the docstrings of connection.py and
  response.py; the protocol is docs/protocol.md.
"""

import itertools
import logging
import os
import socket
import struct
import threading

from wsgid import api
from wsgid.filewrapper import sendable_file

try:
    import cython
except ImportError:  # Cython builds wsgid; running it uncompiled does not need it
    from wsgid import _no_cython as cython

if cython.compiled:
    from wsgid._core import (HeadError, ProtocolError, accept_connection, encode_head,
                             read_request)
else:
    from wsgid._core_py import (Connection, HeadError, InputStream, ProtocolError,
                                accept_connection, encode_head, read_request)
    from wsgid.native import (acquire_lock, free_lock, monotonic, new_lock, release_lock,
                              thread_ident, wait_readable, wall_clock)

COMPILED = cython.compiled

log = logging.getLogger("wsgid.request")
pool_log = logging.getLogger("wsgid.pool")

# The most variables a request packet may carry.
MAX_VARS = 1000

# A frame of a framed body: its length, then its bytes; a frame of length 0 ends the body.
FRAME_HEADER = struct.Struct(">I")
END_FRAME = FRAME_HEADER.pack(0)
MAX_FRAME = 0xFFFFFFFF

# Statuses whose responses carry no body although Content-Length may describe one.
BODYLESS_STATUSES = ("1", "204", "304")
# The largest response head the daemon accepts from an application, in bytes: mod_wsgi's
# default header-buffer-size. The module refuses heads over 64 KiB with a 502 anyway; refusing
# here makes it a 500 with a log line that names the request and says why. A group's
# header-buffer-size= replaces it in its daemon processes (set_response_head_limit).
MAX_RESPONSE_HEAD = 32768
_response_head_limit = MAX_RESPONSE_HEAD
# A small first chunk rides in the same send as the head; a large one is not copied for that.
COALESCE_LIMIT = 16384
# After an accept() failure such as EMFILE, the listener stays readable; waiting a little before
# the next try keeps a thread from spinning while the process is out of descriptors.
ACCEPT_ERROR_PAUSE = 0.5


def set_response_head_limit(size):
    """This process's limit on a response head: its group's header-buffer-size= (0: the
    default). A daemon process serves one group, so the limit is the process's."""
    global _response_head_limit
    _response_head_limit = size or MAX_RESPONSE_HEAD


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


def log_lost(message, label, lost):
    (log.debug if lost.client_left else log.info)(message, label, lost)


def describe_request(environ):
    """'GET /path?q (request id)': how log lines name a request."""
    uri = environ.get("REQUEST_URI") or (
        environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    request_id = environ.get("wsgid.request_id")
    text = f"{environ.get('REQUEST_METHOD', '?')} {uri}"
    return f"{text} (request {request_id})" if request_id else text


def conflicting_lengths_error(values):
    return HeadError(f"conflicting Content-Length headers: {sorted(values)}")


def bad_length_error(value):
    return HeadError(f"Content-Length must be a whole number of bytes, got {value!r}")


def head_too_large_error(size, limit):
    return HeadError(f"the response head is {size} bytes, more than {limit}; send large data "
                     f"in the body, or raise header-buffer-size= of WSGIDaemonProcess")


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
        raise conflicting_lengths_error(values)
    value = values.pop()
    if not (value.isascii() and value.isdigit()):
        raise bad_length_error(value)
    return int(value)


def framed(data):
    """`data` as frames of a framed body (one, unless it is over 4 GiB)."""
    if len(data) <= MAX_FRAME:
        return FRAME_HEADER.pack(len(data)) + data
    view = memoryview(data)
    return b"".join(FRAME_HEADER.pack(len(part)) + part
                    for part in (view[i:i + MAX_FRAME] for i in range(0, len(data), MAX_FRAME)))


class ResponseCore:
    """The state of one response and its hot path: start_response, write, the body, the end."""

    def __init__(self, sock, environ, events=None):
        self.sock = sock
        # The same socket when it is the core's Connection: compiled, its sendall is a C call.
        self._connection = sock if type(sock) is Connection else None
        self.events = events        # the request's api.RequestScope, or None
        self.environ = environ
        self._label = None          # describe_request(environ), made when a log line needs it
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
        self.own_status = 0         # the status of a complete response of our own (404, 500)
        self.timed_out = False      # time_out() was called: the application's output is dropped
        self.timeout_answered = False  # ... and it answered 504
        self.output_writes = 0      # sends to the socket, and the seconds they took
        self.output_time = 0.0
        self.send_lock = threading.Lock()

    # -- what the subclass (response.Response) supplies: the cold paths -------------------------

    def fail(self, exc):
        """The application raised `exc`: answer 500, or cut the response off."""
        raise NotImplementedError

    def _sendfile(self, file):
        """Send the body from `file` (a wsgi.file_wrapper of a real file) with sendfile()."""
        raise NotImplementedError

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
            if len(head) > _response_head_limit:
                raise head_too_large_error(len(head), _response_head_limit)
            content_length = declared_content_length(headers)
        except HeadError as exc:
            self.rejected_head = exc
            log.error("invalid response head from the application for %s: %s", self.label, exc)
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
        self.send_body(data)

    # -- sending ------------------------------------------------------------------------------

    def send_body(self, data):
        """Send one chunk of the application's body (the head first, with it when it is small)."""
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
            data = framed(data)
        if self.head_sent:
            self._send(data, False)
        elif size <= COALESCE_LIMIT:
            self._send(self.head + data, True)
        else:
            self._send(self.head, True)
            self._send(data, False)
        if not self.timed_out:
            self.body_bytes += size

    def send_head_now(self):
        if not self.head_sent:
            self._send(self.head, True)

    def send_iterable(self, result):
        """Send every chunk of what the application returned."""
        if result is None or isinstance(result, (str, bytes, bytearray)):
            kind = "None" if result is None else type(result).__name__
            raise ApplicationError(
                f"the application returned {kind}; it must return an iterable of bytes "
                f"(for one body, a list with one bytes object)")
        if type(result) is list:  # the usual body: no iterator object, no file to look for
            for chunk in result:
                self.send_body(chunk)
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
            if self.head_sent:
                self._send(END_FRAME, False)
            else:
                self._send(self.head + END_FRAME, True)
        if not self.head_sent:
            self._send(self.head, True)
        if (self.content_length is not None and self.body_bytes < self.content_length
                and self.method != "HEAD" and not self.status.startswith(BODYLESS_STATUSES)):
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
        return self._status_code()

    def _status_code(self):
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
        self._send(data, starts_head)

    def _send(self, data, starts_head):
        with self.send_lock:
            if self.timed_out:
                return  # time_out() answered or cut this response: drop what follows
            if starts_head:
                self.head_sent = True  # even a failed send may have put part of it on the wire
            started = monotonic()
            try:
                if self._connection is not None:
                    self._connection.sendall(data)
                else:
                    self.sock.sendall(data)
            except OSError as exc:
                if self.timed_out:
                    return  # time_out() shut the socket down under this send
                raise ConnectionLost(f"sending the response failed after {self.body_bytes} "
                                     f"body bytes: {exc}") from exc
            finally:
                self.output_writes += 1
                self.output_time += monotonic() - started


def respond(app, environ, response):
    """Call `app` for `environ` and send its response through `response` (a ResponseCore);
    close() of the returned iterable is always called. Never raises for anything the
    application does; the socket stays open for the caller."""
    if not isinstance(response, ResponseCore):
        raise TypeError(f"respond() needs a ResponseCore, got {type(response).__name__}")
    _respond(app, environ, response)


def _respond(app, environ, response):
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
                log.error("close() of the application's iterable raised for %s",
                          response.label, exc_info=exc)


class RunningRequest:
    """A request being served, as running() shows it: its id, its URL, when it started
    (time.monotonic()), the thread serving it (threading.get_ident()) and its Response;
    counts_as_activity is False under WSGIIgnoreActivity On (inactivity-timeout ignores it)."""

    def __init__(self, request_id, url, response):
        self.request_id = request_id
        self.url = url
        self.started = monotonic()
        self.thread_ident = thread_ident()
        self.response = response
        self.outcome = None  # what time_out() did
        self.counts_as_activity = True

    @property
    def timed_out(self):
        return self.outcome is not None

    def __repr__(self):
        return f"<RunningRequest {self.request_id} {self.url} thread {self.thread_ident}>"


def queue_wait_exceeded(queue_start, queue_timeout, now):
    """How long a request waited in the queue, when that is longer than queue_timeout seconds;
    else None. `queue_start` is the packet's wsgid.queue_start (integer microseconds since the
    epoch) or None; without a usable one there is nothing to check."""
    if not queue_timeout or not queue_start or not (queue_start.isascii()
                                                     and queue_start.isdigit()):
        return None
    waited = now - int(queue_start) / 1_000_000
    return waited if waited > queue_timeout else None


class RequestPath:
    """Serves the connections of one daemon process: the per-request state and hot path."""

    def __init__(self, base_environ, socket_timeout, queue_timeout, errors, group_name):
        self.base_environ = base_environ
        self.socket_timeout = socket_timeout
        self.queue_timeout = queue_timeout or 0
        self.errors = errors                 # wsgi.errors (an unfinished line: logged at the end)
        self.group_name = group_name
        self.response_factory = ResponseCore  # the subclass sets its Response class
        self.requests_finished = 0           # requests that ran (or tried to run) an application
        # the last start or end of a request that counts as activity (not WSGIIgnoreActivity)
        self.last_activity = monotonic()
        self.running_requests = {}           # request id -> RunningRequest
        self.running_lock = threading.Lock()
        self._request_numbers = itertools.count(1)

    # -- what the subclass (connection.RequestHandler) supplies: lookups and cold paths ---------

    def _answer_hook(self, environ, sock):
        """Answer a hook call (a packet with wsgid.hook) on `sock`."""
        raise NotImplementedError

    def _configured_application_group(self, environ):
        """The application group of a request whose front end did not send one."""
        raise NotImplementedError

    def _application_for(self, environ, response):
        """The application for this request, or None once `response` has answered the error
        that kept it from loading."""
        raise NotImplementedError

    def _answer_queue_timeout(self, environ, sock, waited):
        """Answer a request that waited `waited` seconds, longer than queue-timeout."""
        raise NotImplementedError

    # -- the hot path ---------------------------------------------------------------------------

    def handle(self, sock):
        """Serve one accepted connection completely and close it. Never raises."""
        finished = False
        try:
            finished = self._serve(sock)
        except Exception:
            log.exception("unexpected error while serving a connection on the daemon socket "
                          "of group '%s'", self.group_name)
        finally:
            if finished:
                sock.close()  # already half-closed and read to its end: no shutdown() needed
            else:
                close_connection(sock)

    def _serve(self, sock):
        """Serve the request on `sock`; True when the connection was finished here (our side
        half-closed and the request body read to its end), so that a close() is all it needs."""
        sock.settimeout(self.socket_timeout)
        try:
            environ, rest, content_length = read_request(sock, self.base_environ, MAX_VARS)
        except ProtocolError as exc:
            log.warning("bad request packet from daemon socket: %s", exc)
            return False
        except OSError as exc:
            log.warning("reading the request packet from the daemon socket failed: %s", exc)
            return False
        if "wsgid.hook" in environ:
            self._answer_hook(environ, sock)
            return False
        daemon_start = wall_clock()
        length = None if environ["wsgi.input_terminated"] else (content_length or 0)
        body = InputStream(sock, rest, length)
        environ["wsgi.input"] = body
        if self.queue_timeout:
            waited = queue_wait_exceeded(environ.get("wsgid.queue_start"), self.queue_timeout,
                                         daemon_start)
            if waited is not None:
                self._answer_queue_timeout(environ, sock, waited)
                return finish_request_body(sock, body, length, environ)
        application_group = environ.get("wsgid.application_group")
        if application_group is None:  # a front end other than mod_wsgid
            application_group = self._configured_application_group(environ)
        environ["mod_wsgi.application_group"] = application_group
        environ["mod_wsgi.daemon_start"] = str(int(daemon_start * 1_000_000))
        environ["mod_wsgi.total_requests"] = self.requests_finished   # as mod_wsgi: before this one
        request_start = environ.get("wsgid.request_start")
        if request_start is not None:
            environ["mod_wsgi.request_start"] = request_start
        queue_start = environ.get("wsgid.queue_start")
        if queue_start is not None:
            environ["mod_wsgi.queue_start"] = queue_start
        request = self._register(environ, sock)
        scope = api.begin_request(request.request_id, application_group, environ, daemon_start)
        response = request.response
        response.events = scope
        try:
            self._run(environ, body, response, scope)
        finally:
            api.end_request(scope)
            self._unregister(request, True)
        if response.lost or response.timed_out:
            return False
        return finish_request_body(sock, body, length, environ)

    def _run(self, environ, body, response, scope):
        """Load the application, run it, publish the events of the request."""
        application = self._application_for(environ, response)
        if application is None or response.timed_out:
            return  # answered already: an error, or time_out() while its script loaded
        application = scope.request_started(application)
        try:
            _respond(application, environ, response)
        finally:
            if self.errors.threads_with_pending:  # an unfinished wsgi.errors line, maybe ours
                self.errors.flush()
        scope.request_finished(response._status_code(), body.bytes_read, body.reads,
                               body.read_time, response.body_bytes, response.output_writes,
                               response.output_time)

    # -- the requests running now ---------------------------------------------------------------

    def register(self, environ, sock):
        """Give the request its id (in the environ too) and make it visible to running()."""
        return self._register(environ, sock)

    def unregister(self, request, finished_request):
        self._unregister(request, finished_request)

    def _register(self, environ, sock):
        given_id = environ.get("wsgid.request_id")
        with self.running_lock:
            request_id = given_id or f"{os.getpid()}-{next(self._request_numbers)}"
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
                environ["mod_wsgi.ignore_activity"] = "1"
            else:
                self.last_activity = request.started
        return request

    def _unregister(self, request, finished_request):
        with self.running_lock:
            self.running_requests.pop(request.request_id, None)
            if finished_request:
                self.requests_finished += 1
            if request.counts_as_activity:
                self.last_activity = monotonic()


def finish_request_body(sock, body, length, environ):
    """End our response (half-close) and read the body the application left unread; True when
    both worked (the caller then only close()s the connection)."""
    if body.received_all:
        # Nothing more can come from the module, so close() alone ends the response cleanly
        # (an empty receive queue: the module reads an end, not a reset): no shutdown() call.
        return True
    if environ.get("wsgid.body_gate") == "1":
        return True     # the gate never opened: mod_wsgid sends no body (connection.py)
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


def close_connection(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already shut down, or the peer is gone
    sock.close()


# -- the request threads' loop ------------------------------------------------------------------

def next_queued(listener, allowed_uids, refuse):
    """The next connection from an allowed peer queued on the non-blocking `listener`; None once
    accept() finds the queue empty (or another process took what was there). A peer that may
    not connect goes to `refuse(conn, uid)` and is skipped. Other accept() errors (EMFILE, ...)
    raise OSError.

    This asks accept() itself, not poll(): a unix listener that was shutdown() to refuse new
    connections polls readable for good, queue or no queue. (On a unix socket, "nothing to
    accept" can only mean an empty queue: the kernel does not abort queued connections, and
    Python retries an interrupted accept().)
    """
    while True:
        accepted = accept_connection(listener)
        if accepted is None:
            return None
        conn, uid = accepted
        if uid in allowed_uids:
            return conn
        refuse(conn, uid)


def set_buffer_sizes(fd, send_size, receive_size):
    """SO_SNDBUF / SO_RCVBUF of the accepted connection `fd` (0: leave it). A refusal is logged
    and the connection served anyway, as mod_wsgi does with its own socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=fd)
    try:
        for option, size, name in ((socket.SO_SNDBUF, send_size, "send-buffer-size"),
                                   (socket.SO_RCVBUF, receive_size, "receive-buffer-size")):
            if size:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, size)
                except OSError as exc:
                    pool_log.warning("cannot set %s=%d on a connection: %s", name, size, exc)
    finally:
        sock.detach()   # the descriptor stays the connection's


class AcceptLoop:
    """What each request thread of a daemon process runs (run()): wait until the group's
    listening socket is readable or the loop is stopped, accept, check the peer, and hand the
    connection to `handle`, which serves it completely and closes it. The rules are in pool.py.

    One thread at a time holds the accept lock and waits on the listener; the others wait for
    the lock. Compiled, both waits release the GIL (native.pxd), so a thread waiting for a
    connection costs the others nothing.

    `refuse(conn, uid)` closes a connection from a peer that may not use the socket (and logs
    it). Set `finish_backlog` and then `stopping`, and write to `wake_fd`'s pipe, to stop it.
    `send_buffer_size` / `receive_buffer_size`, when not 0, are set (SO_SNDBUF / SO_RCVBUF) on
    each accepted connection before `handle` gets it.

    maximum-requests (limit_accepts()): the loop accepts that many connections and no more.
    They are counted under the accept lock, so that the count is exact whatever the number of
    threads; at the last one the loop stops by itself. Somewhat before, it calls `limit_near`
    so that the replacement process can start while this one serves its last requests.
    """

    def __init__(self, listener, wake_fd, handle, allowed_uids, refuse):
        self._accept_lock = new_lock()
        self.listener = listener
        self._listener_fd = listener.fileno()
        self.wake_fd = wake_fd
        self.handle = handle
        self.allowed_uids = allowed_uids
        self.refuse = refuse
        self.stopping = False
        self.finish_backlog = False
        self.send_buffer_size = 0
        self.receive_buffer_size = 0
        self.accepted = 0
        self.accept_limit = 0     # maximum-requests; 0: no limit
        self.near_limit = 0       # the accept after which limit_near() is called
        self.limit_near = None
        self.limit_reached = None

    def limit_accepts(self, limit, near, limit_near, limit_reached):
        """Accept `limit` connections at most; call limit_near() after the `near`th and
        limit_reached() after the last (both with the accept lock held: be quick)."""
        self.accept_limit = limit
        self.near_limit = near
        self.limit_near = limit_near
        self.limit_reached = limit_reached

    def __dealloc__(self):
        # Compiled only (a C lock is freed by hand); uncompiled, Python never calls this.
        free_lock(self._accept_lock)

    def run(self):
        """Serve connections until stopped (and, with finish_backlog, the queue is empty)."""
        while True:
            conn = self._next_connection()
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
                pool_log.exception("the request handler raised; connection closed")
                conn.close()

    def close_listener(self):
        """Close this process's copy of the listener, once no thread waits on it."""
        acquire_lock(self._accept_lock)
        try:
            self.listener.close()
            self._listener_fd = -1  # its number may be reused: never poll on it again
        finally:
            release_lock(self._accept_lock)

    def _count_accept(self):
        self.accepted += 1
        if self.accepted == self.near_limit:
            self.limit_near()
        if self.accepted >= self.accept_limit:
            self.stopping = True    # this connection is the last: no thread accepts another
            self.limit_reached()

    def _next_connection(self):
        """Wait for a connection or for the stop; an accepted, allowed connection or None."""
        acquire_lock(self._accept_lock)
        try:
            if not self.stopping:
                wait_readable(self._listener_fd, self.wake_fd, -1)
            if self.stopping and not self.finish_backlog:
                return None
            try:
                conn = next_queued(self.listener, self.allowed_uids, self.refuse)
            except OSError as exc:
                if self.stopping:
                    # Nobody would retry later: what is still queued is reset at the exit.
                    pool_log.error("accept() of the connections still queued failed: %s; "
                                   "leaving them", exc)
                    return None
                pool_log.error("accept() on the daemon socket failed: %s; retrying in %.1fs",
                               exc, ACCEPT_ERROR_PAUSE)
                wait_readable(-1, self.wake_fd, int(ACCEPT_ERROR_PAUSE * 1000))
                return None
            # Outside the accept() error handling: what the limit's callbacks raise is not an
            # accept() failure, and the connection is accepted already.
            if conn is not None and self.accept_limit:
                self._count_accept()
            return conn
        finally:
            release_lock(self._accept_lock)
