"""The in-process API of a daemon process: mod_wsgi 4.6's `mod_wsgi` module, served by wsgid.

Applications reach it as `import wsgid` (the names are attributes of the package, forwarded
here) and as `import mod_wsgi`: init_process() puts this very module into sys.modules under that
name, as mod_wsgi does with its own, so code written for mod_wsgi's API runs unchanged (also
where the PyPI mod_wsgi package is installed). docs/api.md lists every name and every event payload and how they map to mod_wsgi's.

Rules:
- API state (subscribers, active_requests) is per application group, as mod_wsgi's is per
  interpreter: a subscriber registered by code running for application group G (a request of G,
  or its script being loaded) sees the events of G's requests only; process_stopping reaches
  every group. Code outside any request counts as the %{GLOBAL} group ('').
- Events are delivered in the thread where they happen, to subscribers in subscription order.
  A subscriber that raises is logged (one line and its traceback) and the next one still runs;
  a dict it returns is merged into the payload that later subscribers see (that is how a
  request_started subscriber replaces `application_object`).
- Nothing here raises into the request path or the lifecycle code that calls it.
- Request payloads are built only when the request's group has subscribers, so a daemon without
  subscribers pays one list check per event.
- The wsgid-side hooks (init_process, emit_process_stopping, begin_request, end_request and the
  RequestScope methods) are for wsgid's own code; applications use the mod_wsgi names.
"""

import contextlib
import itertools
import logging
import os
import resource
import sys
import threading
import time

log = logging.getLogger("wsgid.api")

# The mod_wsgi API level this module provides (mod_wsgi.version is read by code that adapts).
version = (4, 6, 0)

# mod_wsgi.FileWrapper: the type of environ['wsgi.file_wrapper'], as in mod_wsgi.
from wsgid.filewrapper import FileWrapper  # noqa: E402

# Set by init_process() in a daemon process; None elsewhere (no daemon, no API values).
process_group = None
maximum_processes = None
threads_per_process = None

_local = threading.local()          # .scope: RequestScope; .application_group; .counts
_groups = {}                        # application group name -> _GroupState
_groups_lock = threading.Lock()
_thread_ids = itertools.count(1)    # mod_wsgi numbers request threads from 1
_stopping_lock = threading.Lock()
_stopping_emitted = False
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_server_metrics_enabled = False     # server-metrics= of the group, set by init_process()


class _GroupState:
    """What mod_wsgi keeps per interpreter: the subscribers and the active requests."""

    def __init__(self, name):
        self.name = name
        self.event_callbacks = []
        self.shutdown_callbacks = []
        self.active_requests = {}


def _group_state(name):
    state = _groups.get(name)
    if state is None:
        with _groups_lock:
            state = _groups.setdefault(name, _GroupState(name))
    return state


def _current_group_name():
    scope = getattr(_local, "scope", None)
    if scope is not None:
        return scope.group.name
    return getattr(_local, "application_group", "")


def __getattr__(name):
    # The per-application-group names are computed for the calling thread each time.
    if name == "application_group":
        return _current_group_name()
    if name in ("active_requests", "event_callbacks", "shutdown_callbacks"):
        return getattr(_group_state(_current_group_name()), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"application_group", "active_requests", "event_callbacks",
                                    "shutdown_callbacks"})


# -- the mod_wsgi API ---------------------------------------------------------------------------

def subscribe_events(callback):
    """Call `callback(name, **payload)` for every event of the current application group.

    Returns the callback, so that it also works as a decorator."""
    if not callable(callback):
        raise TypeError(f"subscribe_events() needs a callable, got {type(callback).__name__}")
    _group_state(_current_group_name()).event_callbacks.append(callback)
    return callback


def subscribe_shutdown(callback):
    """Call `callback("process_stopping", shutdown_reason=...)` when the process stops.

    Shutdown subscribers run after the event subscribers have seen process_stopping."""
    if not callable(callback):
        raise TypeError(f"subscribe_shutdown() needs a callable, got {type(callback).__name__}")
    _group_state(_current_group_name()).shutdown_callbacks.append(callback)
    return callback


def request_data():
    """The data dict of the request this thread is serving; RuntimeError outside a request."""
    scope = getattr(_local, "scope", None)
    if scope is None:
        raise RuntimeError("no active request for thread")
    return scope.data


def process_metrics():
    """A snapshot of this process, with mod_wsgi 4.6's keys (see docs/api.md)."""
    return _metrics.snapshot()


def server_metrics():
    """None unless the group has server-metrics=On (mod_wsgi's answer when it is off). With it
    on: mod_wsgi's keys for what a wsgid daemon can see. Apache's scoreboard is not visible to
    it, so the one process listed is this daemon process and its workers are its request
    threads (docs/api.md)."""
    if not _server_metrics_enabled:
        return None
    return _metrics.server_snapshot(maximum_processes, threads_per_process)


# -- hooks for the daemon process (its lifecycle) ----------------------------------------------

def init_process(group_name, maximum_processes, threads_per_process, server_metrics=False):
    """In a new daemon process, before any script loads: start from a clean API state, set the
    process values, and make `import mod_wsgi` find this module. As mod_wsgi puts its own
    module in sys.modules before a script loads, this one wins over a `mod_wsgi` package
    installed in the same environment (the PyPI package, which mod_wsgi-express comes in):
    that package is not the API a script asks for."""
    global _stopping_emitted
    globals().update(process_group=group_name, maximum_processes=maximum_processes,
                     threads_per_process=threads_per_process,
                     _server_metrics_enabled=bool(server_metrics))
    with _groups_lock:
        _groups.clear()       # whatever a parent process subscribed is not this process's
    with _stopping_lock:
        _stopping_emitted = False
    _metrics.restart(threads_per_process)
    sys.modules["mod_wsgi"] = sys.modules[__name__]


def emit_process_stopping(shutdown_reason):
    """Deliver process_stopping to every group's event subscribers, then its shutdown
    subscribers, in this thread, whatever requests are still running. At most once per process;
    never raises. Returns whether it delivered (False when it had already been done)."""
    global _stopping_emitted
    try:
        with _stopping_lock:
            if _stopping_emitted:
                return False
            _stopping_emitted = True
        with _groups_lock:
            states = list(_groups.values())
        for state in states:
            with application_group_context(state.name):
                payload = {"shutdown_reason": shutdown_reason}
                _deliver("process_stopping", payload, state.event_callbacks)
                _deliver("process_stopping", payload, state.shutdown_callbacks)
        return True
    except BaseException:  # the caller is stopping the process: it must go on regardless
        try:
            log.exception("delivering process_stopping failed")
        except BaseException:
            pass
        return True


@contextlib.contextmanager
def application_group_context(name):
    """Code in this block (outside a request) runs as application group `name`: for loading a
    script ahead of requests (WSGIImportScript), so that what it subscribes lands in its group."""
    previous = getattr(_local, "application_group", "")
    _local.application_group = name
    try:
        yield
    finally:
        _local.application_group = previous


# -- hooks for the request path (the core's RequestPath and ResponseCore) -----------------------

def begin_request(request_id, application_group, environ, daemon_start):
    """The request `request_id` starts in this thread: it joins active_requests and gets its
    data dict. Returns its RequestScope; end_request(scope) must follow."""
    scope = RequestScope(request_id, _group_state(application_group), environ, daemon_start)
    scope.group.active_requests[request_id] = scope.data
    _local.scope = scope
    scope.counts.request_began()
    return scope


def end_request(scope):
    """The request is over: it leaves active_requests and request_data() no longer finds it."""
    scope.group.active_requests.pop(scope.request_id, None)
    if getattr(_local, "scope", None) is scope:
        _local.scope = None
    scope.counts.request_ended()


def _microseconds_to_seconds(text):
    """wsgid.request_start/queue_start (integer microseconds) as float seconds; 0.0 when the
    front end did not send one (mod_wsgi gives 0.0 for a time it does not know)."""
    if text and text.isascii() and text.isdigit():
        return int(text) / 1_000_000
    return 0.0


def _thread_counts():
    """This thread's _ThreadCounts in the current metrics (made on its first request)."""
    counts = getattr(_local, "counts", None)
    if counts is None or counts.generation != _metrics.generation:
        thread_id = next(_thread_ids) if counts is None else counts.thread_id
        counts = _local.counts = _metrics.counts_for(thread_id)
    return counts


def _thread_cpu_times():
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime, usage.ru_stime


class RequestScope:
    """One request's API state and the events it publishes, in the thread that serves it."""

    __slots__ = ("request_id", "group", "data", "counts", "thread_id", "environ",
                 "daemon_start", "application_start", "cpu_start")

    def __init__(self, request_id, group, environ, daemon_start):
        self.request_id = request_id
        self.group = group
        self.data = {}
        self.counts = _thread_counts()
        self.thread_id = self.counts.thread_id
        self.environ = environ
        self.daemon_start = daemon_start
        self.application_start = None
        self.cpu_start = None

    @property
    def request_start(self):
        return _microseconds_to_seconds(self.environ.get("wsgid.request_start"))

    @property
    def queue_start(self):
        return _microseconds_to_seconds(self.environ.get("wsgid.queue_start"))

    def request_started(self, application):
        """Just before the application is called: publish request_started and return the
        application to call (a subscriber may have replaced it)."""
        self.application_start = time.time()
        # mod_wsgi's keys of a running request, set as its daemon mode sets them when the
        # script is about to run (the ones the module knows come in the packet)
        environ = self.environ
        environ["mod_wsgi.script_start"] = str(int(self.application_start * 1_000_000))
        environ["mod_wsgi.thread_id"] = self.thread_id
        environ["mod_wsgi.thread_requests"] = self.counts.state[0]   # finished before this one
        if not self.group.event_callbacks:
            return application
        self.cpu_start = _thread_cpu_times()
        payload = {
            "request_id": self.request_id,
            "thread_id": self.thread_id,
            "request_start": self.request_start,
            "queue_start": self.queue_start,
            "daemon_start": self.daemon_start,
            "application_start": self.application_start,
            "application_object": application,
            "request_environ": self.environ,
            "request_data": self.data,
        }
        _deliver("request_started", payload, self.group.event_callbacks)
        replacement = payload.get("application_object")
        if replacement is not application:
            if callable(replacement):
                return replacement
            log.error("a request_started subscriber returned an application_object that is not "
                      "callable (%s); request %s runs the original application",
                      type(replacement).__name__, self.request_id)
        return application

    def response_started(self, status, headers, exc_info):
        if self.group.event_callbacks:
            _deliver("response_started", {
                "request_id": self.request_id,
                "response_status": status,
                "response_headers": headers,
                "exception_info": exc_info,
                "request_data": self.data,
            }, self.group.event_callbacks)

    def request_exception(self, exc):
        if self.group.event_callbacks:
            _deliver("request_exception", {
                "request_id": self.request_id,
                "exception_info": (type(exc), exc, exc.__traceback__),
                "request_data": self.data,
            }, self.group.event_callbacks)

    def request_finished(self, status, input_length, output_length, output_writes, output_time):
        """After the response is complete and the iterable closed."""
        if not self.group.event_callbacks:
            return
        finish = time.time()
        start = self.application_start if self.application_start is not None else finish
        payload = {
            "request_id": self.request_id,
            "thread_id": self.thread_id,
            "request_start": self.request_start,
            "queue_start": self.queue_start,
            "daemon_start": self.daemon_start,
            "application_start": start,
            "application_finish": finish,
            "application_time": max(0.0, finish - start),
            "status": status,
            "input_length": input_length,
            "output_length": output_length,
            "output_writes": output_writes,
            "output_time": output_time,
            "request_data": self.data,
        }
        if self.cpu_start is not None:  # measured only when someone listened at the start
            user, system = _thread_cpu_times()
            payload["cpu_user_time"] = max(0.0, user - self.cpu_start[0])
            payload["cpu_system_time"] = max(0.0, system - self.cpu_start[1])
        _deliver("request_finished", payload, self.group.event_callbacks)


def _deliver(name, payload, callbacks):
    """Call each callback with (name, **payload); merge returned dicts; log what raises."""
    for callback in list(callbacks):
        try:
            result = callback(name, **payload)
        except (Exception, SystemExit):
            log.exception("an event subscriber (%s) raised for event '%s'; the next subscriber "
                          "still runs", _callable_name(callback), name)
            continue
        if isinstance(result, dict):
            payload.update(result)


def _callable_name(callback):
    module = getattr(callback, "__module__", None) or "?"
    return f"{module}.{getattr(callback, '__qualname__', repr(callback))}"


# -- process metrics ----------------------------------------------------------------------------

class _ThreadCounts:
    """One request thread's share of the process metrics. Only that thread writes it, with one
    attribute store per change, so a request costs no lock and a reader (snapshot) always sees
    a consistent (requests, busy seconds, start of the running request or None)."""

    __slots__ = ("thread_id", "generation", "state")

    def __init__(self, thread_id, generation):
        self.thread_id = thread_id
        self.generation = generation
        self.state = (0, 0.0, None)

    def request_began(self):
        requests, busy, _ = self.state
        self.state = (requests, busy, time.monotonic())

    def request_ended(self):
        requests, busy, started = self.state
        if started is not None:
            self.state = (requests + 1, busy + (time.monotonic() - started), None)


class _Metrics:
    """Request counts and busy time of the process (all application groups): the sum of the
    request threads' counts."""

    def __init__(self):
        self._lock = threading.Lock()   # for the set of threads, not for their counts
        self.generation = 0
        self.restart(None)

    def restart(self, request_threads):
        with self._lock:
            self.generation += 1        # what a thread counted before no longer counts
            self.restart_time = time.time()
            self.request_threads = request_threads
            self._threads = []

    def counts_for(self, thread_id):
        counts = _ThreadCounts(thread_id, self.generation)
        with self._lock:
            self._threads.append(counts)
        return counts

    def snapshot(self):
        times = os.times()
        now = time.time()
        with self._lock:
            threads = list(self._threads)
        clock = time.monotonic()
        request_count, busy_time, active, per_thread = 0, 0.0, 0, {}
        for counts in threads:
            requests, busy, started = counts.state
            if started is not None:       # the running request's time so far counts as busy
                active += 1
                busy += clock - started
            request_count += requests
            busy_time += busy
            if requests:
                per_thread[counts.thread_id] = requests
        values = {
            "pid": os.getpid(),
            "request_count": request_count,
            "request_busy_time": busy_time,
            "active_requests": active,
            "request_threads": self.request_threads,
            "threads": [{"thread_id": thread_id, "request_count": count}
                        for thread_id, count in sorted(per_thread.items())],
            "restart_time": self.restart_time,
            "memory_max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "memory_rss": _current_rss(),
            "cpu_user_time": times.user,
            "cpu_system_time": times.system,
            "current_time": now,
        }
        values["running_time"] = int(now - values["restart_time"])
        return values

    def server_snapshot(self, process_limit, thread_limit):
        """server_metrics() with it on: mod_wsgi's scoreboard keys, this process only."""
        now = time.time()
        with self._lock:
            threads = list(self._threads)
        workers = []
        for counts in sorted(threads, key=lambda counts: counts.thread_id):
            requests, _, started = counts.state
            workers.append({"thread_num": counts.thread_id, "generation": self.generation,
                            # Apache's scoreboard letters: '_' waiting, 'W' serving a request.
                            "status": "W" if started is not None else "_",
                            "access_count": requests})
        return {
            "server_limit": process_limit,
            "thread_limit": thread_limit,
            "running_generation": self.generation,
            "restart_time": self.restart_time,
            "current_time": now,
            "running_time": int(now - self.restart_time),
            "processes": [{"process_num": 0, "pid": os.getpid(),
                           "generation": self.generation, "quiescing": _stopping_emitted,
                           "workers": workers}],
        }


def _current_rss():
    """Resident set size in bytes, from /proc/self/statm (0 where there is no /proc)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


_metrics = _Metrics()
