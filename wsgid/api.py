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
import types

log = logging.getLogger("wsgid.api")

# The mod_wsgi API level this module provides (mod_wsgi.version is read by code that adapts):
# every name of mod_wsgi 4.8's module (4.9's is the same), request_metrics() the last to come.
version = (4, 8, 0)

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
    threads, each with the scoreboard's keys for its last request (docs/api.md)."""
    if not _server_metrics_enabled:
        return None
    return _metrics.server_snapshot(maximum_processes, threads_per_process)


def request_metrics():
    """mod_wsgi 4.8's request metrics of this process over a sample period: the first call
    starts recording and returns {}; each later call returns what happened since the call
    before it (the period's request count, throughput, capacity utilisation, average and
    bucketed server, queue, daemon and application times, CPU and memory) and starts the next
    period (docs/api.md)."""
    return _sampler.report()


def current_environ():
    """The environ of the request this thread is serving, or None (log.py's `[client ...]`)."""
    scope = getattr(_local, "scope", None)
    return scope.environ if scope is not None else None


# -- hooks for the daemon process (its lifecycle) ----------------------------------------------

def init_process(group_name, maximum_processes, threads_per_process, server_metrics=False,
                 apache=None):
    """In a new daemon process, before any script loads: start from a clean API state, set the
    process values, and make `import mod_wsgi` find this module and `import apache` mod_wsgi's
    module about the server (from `apache`, a config.ApacheServer; None in external mode). As
    mod_wsgi puts its own module in sys.modules before a script loads, this one wins over a
    `mod_wsgi` package installed in the same environment (the PyPI package, which
    mod_wsgi-express comes in): that package is not the API a script asks for."""
    global _stopping_emitted
    globals().update(process_group=group_name, maximum_processes=maximum_processes,
                     threads_per_process=threads_per_process,
                     _server_metrics_enabled=bool(server_metrics))
    with _groups_lock:
        _groups.clear()       # whatever a parent process subscribed is not this process's
    with _stopping_lock:
        _stopping_emitted = False
    _metrics.restart(threads_per_process)
    _sampler.restart(threads_per_process)
    sys.modules["mod_wsgi"] = sys.modules[__name__]
    sys.modules["apache"] = apache_module(apache)


def apache_module(server):
    """mod_wsgi's `apache` module: what an application may know of the Apache in front of it.
    The MPM's limits follow mod_wsgi's rules (mod_wsgid computes them); in external mode no one
    Apache is known, and every value is None."""
    module = types.ModuleType("apache", "The Apache httpd that runs this daemon process "
                                        "(mod_wsgi's apache module, served by wsgid).")
    for name in ("version", "description", "mpm_name", "build_date", "maximum_processes",
                 "threads_per_process"):
        setattr(module, name, getattr(server, name) if server is not None else None)
    return module


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
        if _server_metrics_enabled:
            self.counts.board_request_started(environ, self.application_start)
        if not self.group.event_callbacks:
            return application
        self.cpu_start = _thread_cpu_times()
        payload = {
            "request_id": self.request_id,
            "thread_id": self.thread_id,
            "daemon_connects": _whole_number(environ.get("mod_wsgi.daemon_connects")),
            "daemon_restarts": _whole_number(environ.get("mod_wsgi.daemon_restarts")),
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

    def request_finished(self, status, input_length, input_reads, input_time, output_length,
                         output_writes, output_time):
        """After the response is complete and the iterable closed."""
        if not (self.group.event_callbacks or _sampler.recording or _server_metrics_enabled):
            return
        finish = time.time()
        start = self.application_start if self.application_start is not None else finish
        if _sampler.recording:
            _sampler.record(self, start, finish)
        if _server_metrics_enabled:
            self.counts.board_request_finished(output_length, finish)
        if not self.group.event_callbacks:
            return
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
            "input_reads": input_reads,
            "input_time": input_time,
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


def _whole_number(text):
    """A count mod_wsgid sends as text (mod_wsgi.daemon_connects): an int, 0 when absent."""
    return int(text) if text and text.isascii() and text.isdigit() else 0


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

    __slots__ = ("thread_id", "generation", "state", "board")

    def __init__(self, thread_id, generation):
        self.thread_id = thread_id
        self.generation = generation
        self.state = (0, 0.0, None)
        # With server-metrics on, Apache's scoreboard keys for the thread's last request:
        # (bytes_served, start_time, stop_time, client, request, vhost).
        self.board = (0, 0.0, 0.0, "", "", "")

    def board_request_started(self, environ, now):
        served, _, stop, _, _, _ = self.board
        # the request line as Apache's scoreboard keeps it: at most 63 characters
        uri = environ.get("REQUEST_URI") or \
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        line = " ".join(filter(None, (environ.get("REQUEST_METHOD"), uri,
                                      environ.get("SERVER_PROTOCOL"))))[:63]
        self.board = (served, now, stop, environ.get("REMOTE_ADDR", ""), line,
                      environ.get("SERVER_NAME", ""))

    def board_request_finished(self, output_length, now):
        served, start, _, client, line, vhost = self.board
        self.board = (served + output_length, start, now, client, line, vhost)

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

    def threads_started(self):
        """How many request threads have served a request."""
        with self._lock:
            return len(self._threads)

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
        """server_metrics() with it on: mod_wsgi's scoreboard keys, this process only, one
        worker for each request thread (those that have not served yet are waiting, '_')."""
        now = time.time()
        with self._lock:
            threads = sorted(self._threads, key=lambda counts: counts.thread_id)
        workers = []
        for counts in threads:
            requests, _, started = counts.state
            served, start, stop, client, line, vhost = counts.board
            workers.append({"thread_num": counts.thread_id, "generation": self.generation,
                            # Apache's scoreboard letters: '_' waiting, 'W' serving a request.
                            "status": "W" if started is not None else "_",
                            "access_count": requests, "bytes_served": served,
                            "start_time": start, "stop_time": stop,
                            "last_used": max(start, stop), "client": client, "request": line,
                            "vhost": vhost})
        next_number = threads[-1].thread_id + 1 if threads else 1
        for number in range(next_number, next_number + (thread_limit or 0) - len(workers)):
            workers.append({"thread_num": number, "generation": self.generation, "status": "_",
                            "access_count": 0, "bytes_served": 0, "start_time": 0.0,
                            "stop_time": 0.0, "last_used": 0.0, "client": "", "request": "",
                            "vhost": ""})
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


# request_metrics(): a duration lands in the first bucket whose bound it does not exceed:
# 5 ms, 10 ms, 20 ms, ... 40.96 s (14 bounds, each twice the one before), then one bucket for
# longer ones. mod_wsgi's lists have 16 entries, the last always 0; so do these, so that code
# written against mod_wsgi's lists indexes them the same way.
BUCKET_BOUNDS = tuple(0.005 * 2 ** index for index in range(14))
BUCKET_COUNT = 16


def bucket_index(duration):
    for index, bound in enumerate(BUCKET_BOUNDS):
        if duration <= bound:
            return index
    return len(BUCKET_BOUNDS)


class _RequestSampler:
    """mod_wsgi 4.8's request_metrics(): the requests of each sample period, recorded as they
    finish once the first call has started recording (until then a request pays one attribute
    check)."""

    _TIMES = ("server_time", "queue_time", "daemon_time", "application_time")

    def __init__(self):
        self._lock = threading.Lock()
        self.restart(None)

    def restart(self, request_threads):
        with self._lock:
            self.recording = False
            self.request_threads = request_threads
            self._period = None   # (wall time, cpu user, cpu system, busy time, request count)
            self._clear()

    def _clear(self):
        self._requests = 0
        self._totals = dict.fromkeys(self._TIMES, 0.0)
        self._buckets = {name: [0] * BUCKET_COUNT for name in self._TIMES}
        self._per_thread = {}

    def record(self, scope, application_start, application_finish):
        """One finished request: its server, queue, daemon and application times."""
        request_start, queue_start = scope.request_start, scope.queue_start
        if queue_start:
            times = (queue_start - request_start, scope.daemon_start - queue_start,
                     application_start - scope.daemon_start)
        elif request_start:       # a front end that sent no queue start
            times = (application_start - request_start, 0.0, 0.0)
        else:                     # nor a request start: nothing before the daemon is known
            times = (0.0, 0.0, 0.0)
        times += (application_finish - application_start,)
        with self._lock:
            if not self.recording:
                return
            self._requests += 1
            for name, value in zip(self._TIMES, times):
                value = max(0.0, value)
                self._totals[name] += value
                self._buckets[name][bucket_index(value)] += 1
            self._per_thread[scope.thread_id] = self._per_thread.get(scope.thread_id, 0) + 1

    def report(self):
        now = time.time()
        cpu = os.times()
        process = _metrics.snapshot()
        period = (now, cpu.user, cpu.system, process["request_busy_time"],
                  process["request_count"])
        with self._lock:
            previous, self._period = self._period, period
            requests, totals, buckets = self._requests, self._totals, self._buckets
            per_thread = self._per_thread
            self._clear()
            self.recording = True
        if previous is None:
            return {}
        sample_period = now - previous[0]
        maximum = self.request_threads or 1
        thread_buckets = [per_thread.get(number, 0)
                          for number in range(1, max([maximum, *per_thread]) + 1)]
        request_count = process["request_count"] - previous[4]
        result = {
            "pid": os.getpid(),
            "start_time": previous[0],
            "stop_time": now,
            "sample_period": sample_period,
            "cpu_user_time": (cpu.user - previous[1]) / sample_period if sample_period else 0.0,
            "cpu_system_time": (cpu.system - previous[2]) / sample_period
            if sample_period else 0.0,
            "memory_max_rss": process["memory_max_rss"],
            "memory_rss": process["memory_rss"],
            "request_threads_maximum": maximum,
            "request_threads_started": _metrics.threads_started(),
            "request_threads_active": sum(1 for count in thread_buckets if count),
            "request_threads_buckets": thread_buckets,
            "capacity_utilization": (process["request_busy_time"] - previous[3])
            / sample_period / maximum if sample_period else 0.0,
            "request_count": request_count,
            "request_throughput": request_count / sample_period if sample_period else 0.0,
        }
        for name in self._TIMES:
            result[name] = totals[name] / requests if requests else 0.0
            result[f"{name}_buckets"] = buckets[name]
        return result


def _current_rss():
    """Resident set size in bytes, from /proc/self/statm (0 where there is no /proc)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


_metrics = _Metrics()
_sampler = _RequestSampler()
