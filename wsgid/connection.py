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
  sending it is never cut off by a close (it could not read the response otherwise).
"""

import contextlib
import logging
import socket
import threading

from wsgid.core import InputStream, ProtocolError, read_request
from wsgid.filewrapper import FileWrapper
from wsgid.loader import ScriptError, ScriptLoader, ScriptLoadError, ScriptRefused
from wsgid.response import (
    ERROR_RESPONSE_500,
    NOT_FOUND_RESPONSE_404,
    ErrorStream,
    describe_request,
    run_application,
)

log = logging.getLogger("wsgid.request")

MAX_VARS = 1000


class RequestHandler:
    """Serves the connections of one daemon process of group `group`."""

    def __init__(self, config, group):
        if isinstance(group, str):
            group = config.groups[group]
        self.group = group
        options = group.options
        self.socket_timeout = options.get("socket-timeout")
        self.errors = ErrorStream()
        self.base_environ = {
            "wsgi.version": (1, 0),
            "wsgi.multithread": options.get("threads", 1) > 1,
            "wsgi.multiprocess": options.get("processes", 1) > 1,
            "wsgi.run_once": False,
            "wsgi.errors": self.errors,
            "wsgi.file_wrapper": FileWrapper,
            "wsgid.process_group": group.name,
        }
        self.loader = ScriptLoader(config, group.name)
        self.active = 0  # connections being served right now
        self._active_lock = threading.Lock()

    def preload(self):
        """Load what can be loaded before serving. Nothing yet: scripts load on first request
        (WSGIImportScript, which preloads, is a later issue). Kept as the worker's hook."""

    def handle(self, sock):
        """Serve one accepted connection completely and close it. Never raises."""
        with self._counted():
            try:
                self._serve(sock)
            except Exception:
                log.exception("unexpected error while serving a connection on the daemon socket "
                              "of group '%s'", self.group.name)
            finally:
                close_connection(sock)

    @contextlib.contextmanager
    def _counted(self):
        with self._active_lock:
            self.active += 1
        try:
            yield
        finally:
            with self._active_lock:
                self.active -= 1

    def _serve(self, sock):
        sock.settimeout(self.socket_timeout)
        try:
            environ, rest, content_length = read_request(sock, self.base_environ, MAX_VARS)
        except ProtocolError as exc:
            log.warning("bad request packet from daemon socket: %s", exc)
            return
        except OSError as exc:
            log.warning("reading the request packet from the daemon socket failed: %s", exc)
            return
        length = None if environ["wsgi.input_terminated"] else (content_length or 0)
        body = InputStream(sock, rest, length)
        environ["wsgi.input"] = body
        try:
            application = self.loader.application_for(environ)
        except ScriptRefused as exc:
            log.warning("%s; answered 404 to %s", exc, describe_request(environ))
            send_quietly(sock, NOT_FOUND_RESPONSE_404)
        except ScriptLoadError as exc:
            log.error("%s; answered 500 to %s", exc, describe_request(environ),
                      exc_info=exc.__cause__)
            send_quietly(sock, ERROR_RESPONSE_500)
        except ScriptError as exc:  # the others: their text is the whole story
            log.error("%s; answered 500 to %s", exc, describe_request(environ))
            send_quietly(sock, ERROR_RESPONSE_500)
        else:
            try:
                response = run_application(application, environ, sock)
            finally:
                self.errors.flush()
            if response.lost:
                return
        finish_request_body(sock, body, length, environ)


def finish_request_body(sock, body, length, environ):
    """End our response (half-close) and read the body the application left unread."""
    try:
        sock.shutdown(socket.SHUT_WR)
        drained = body.drain()
    except OSError as exc:
        log.debug("reading the rest of the request body failed for %s: %s",
                  describe_request(environ), exc)
        return
    if length is not None and body.bytes_read + drained < length:
        log.warning("request body ended after %d of %d bytes (CONTENT_LENGTH) for %s",
                    body.bytes_read + drained, length, describe_request(environ))


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
