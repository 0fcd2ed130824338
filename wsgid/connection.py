"""One accepted connection on a daemon socket, served from packet to close.

The request path, left to right: the core's RequestPath.handle (packet, registration, events,
body, close; extended here) → core.py (packet parsing, wsgi.input, head encoding) → loader.py
(which application, asked through this file) → the core's ResponseCore (PEP 3333
start_response/write/iteration; extended by response.py).

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
- Script reloading (docs/protocol.md, "Script reloading"): when the script a request needs has
  changed since this process loaded it, the process asks to be replaced (on_script_changed,
  which daemon.py sets: a recycle that stops accepting at once) and does not run the old code
  when the packet allows the module to send the request again (wsgid.retry_ok): it answers
  "send it again" and another process, or the replacement, serves the request with the new
  code. A body too large for the module to keep waits behind a gate (wsgid.body_gate): the
  module sends it only after the daemon's interim 100, which a process gives once it has the
  current script, so such a request is sent again too. Without wsgid.retry_ok (an older module)
  the old code answers, this once, with a warning.
- For the process monitor (lifecycle code): requests_finished, last_activity, running() and
  time_out(request_id) are safe to use from any thread.

The hot path of every request (handle: packet, registration, events, the application's
response, the close) is the core's RequestPath (``request_path.py``, compiled by the build);
RequestHandler extends it here with what is per process or cold: the
configuration, script loading and its errors, hook calls, queue-timeout answers, running() and
time_out().
"""

import logging
import time

from wsgid.api import version as api_version
from wsgid.core import RequestPath, describe_request
from wsgid.filewrapper import FileWrapper
from wsgid.hooks import HookRunner, describe_hook_call
from wsgid.loader import (ScriptChanged, ScriptError, ScriptForbidden, ScriptLoader,
                          ScriptLoadError, ScriptRefused)
from wsgid.answers import (
    ERROR_RESPONSE_500,
    FORBIDDEN_RESPONSE_403,
    GATEWAY_TIMEOUT_RESPONSE_504,
    NOT_FOUND_RESPONSE_404,
    send_again_answer,
)
from wsgid.log import application_stream
from wsgid.response import Response

log = logging.getLogger("wsgid.request")


class RequestHandler(RequestPath):
    """Serves the connections of one daemon process of group `group`."""

    def __init__(self, config, group):
        if isinstance(group, str):
            group = config.groups[group]
        self.group = group
        options = group.options
        errors = application_stream()
        base_environ = {
            "wsgi.version": (1, 0),
            "wsgi.multithread": options.get("threads", 1) > 1,
            "wsgi.multiprocess": options.get("processes", 1) > 1,
            "wsgi.run_once": False,
            "wsgi.errors": errors,
            "wsgi.file_wrapper": FileWrapper,
            "wsgid.process_group": group.name,
            "mod_wsgi.process_group": group.name,
            # the same for every request (docs/api.md, "Environ keys")
            "mod_wsgi.version": api_version,
            # WSGIEnableSendfile has no effect: files always go to Apache with sendfile()
            "mod_wsgi.enable_sendfile": "0",
            # unless the request is a WSGIHandlerScript's (loader.py) or under
            # WSGIIgnoreActivity On (the core's RequestPath)
            "mod_wsgi.handler_script": "",
            "mod_wsgi.ignore_activity": "0",
        }
        super().__init__(base_environ, options.get("socket-timeout"),
                         options.get("queue-timeout"), errors, group.name)
        self.response_factory = Response
        # Called (from a request thread) with the path of a script that changed since this
        # process loaded it; daemon.py makes it ask for this process's replacement.
        self.on_script_changed = None
        self.loader = ScriptLoader(config, group.name)
        self.hooks = HookRunner(config, group.name, self.loader)

    def preload(self):
        """Load, before the process accepts requests, the scripts its configuration preloads
        (WSGIImportScript); other scripts load on their first request."""
        self.loader.preload()

    def running(self):
        """A snapshot list of the RunningRequests being served now."""
        with self.running_lock:
            return list(self.running_requests.values())

    def time_out(self, request_id):
        """End request `request_id` now, from any thread: 504 if its head has not gone out,
        else its connection is cut. Returns 'answered 504', 'cut off' or 'not running'.

        What the application still sends for it is dropped; it keeps its thread until it
        returns (and close() of its iterable is called then)."""
        with self.running_lock:
            request = self.running_requests.get(request_id)
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

    # -- what RequestPath calls for the cold paths ----------------------------------------------

    def _application_for(self, environ, response):
        """The application for this request, or None once it has been answered with the error
        that kept it from loading (404 refused, 500 failed)."""
        try:
            application = self.loader.application_for(environ)
        except ScriptChanged as changed:
            return self._script_changed(changed, environ, response)
        except ScriptRefused as exc:
            log.warning("%s; answered 404 to %s", exc, response.label)
            response.send_own_response(NOT_FOUND_RESPONSE_404, 404)
        except ScriptForbidden as exc:
            log.error("%s; answered 403 to %s", exc, response.label)
            response.send_own_response(FORBIDDEN_RESPONSE_403, 403)
        except ScriptLoadError as exc:
            log.error("%s; answered 500 to %s", exc, response.label, exc_info=exc.__cause__)
            response.send_own_response(ERROR_RESPONSE_500, 500)
        except ScriptError as exc:  # the others: their text is the whole story
            log.error("%s; answered 500 to %s", exc, response.label)
            response.send_own_response(ERROR_RESPONSE_500, 500)
        else:
            if environ.get("wsgid.body_gate") == "1":
                # the loaded script is current: mod_wsgid may send the body it held back
                environ["wsgid.body_gate"] = "open"
                response.open_body_gate()
            return application
        return None

    def _script_changed(self, changed, environ, response):
        """What _application_for gives for a script that changed since it was loaded."""
        if self.on_script_changed is not None:
            self.on_script_changed(changed.path)
        if "wsgid.retry_ok" in environ:
            log.debug("%s; mod_wsgid sends %s again", changed, response.label)
            options = self.group.options
            response.send_own_response(
                send_again_answer(options["processes"], options["threads"]), 0)
            return None
        log.warning("%s; the front end cannot send %s again (no wsgid.retry_ok), so the code "
                    "loaded before the change answers it (the process is being replaced)",
                    changed, response.label)
        return changed.application

    def _answer_queue_timeout(self, environ, sock, waited):
        log.warning("queue-timeout: %s waited %.1fs for a daemon thread, longer than "
                    "queue-timeout=%g; answered 504 without running the application",
                    describe_request(environ), waited, self.queue_timeout)
        try:
            sock.sendall(GATEWAY_TIMEOUT_RESPONSE_504)
        except OSError:
            pass  # the peer went away: not worth a log line

    def _answer_hook(self, environ, sock):
        request = self.register(environ, sock)
        # So that a request-timeout line says it was a hook call that hung.
        request.response.label = describe_hook_call(environ)
        try:
            answer = self.hooks.answer(environ)
            request.response.send_own_response(answer, 200)
        finally:
            self.errors.flush()
            self.unregister(request, False)

    def _configured_application_group(self, environ):
        # mod_wsgid sends the expanded name; other front ends get what the alias configures.
        try:
            return self.loader.resolve(environ)[1]
        except ScriptError:
            return ""  # application_for() will refuse the request and say why
