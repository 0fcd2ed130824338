"""The watchdog thread of a daemon process: heartbeats, limits, stuck requests, slow starts.

One daemon thread per daemon process wakes about every CHECK_INTERVAL seconds and:
- sends a `heartbeat` on the supervisor channel about every HEARTBEAT_INTERVAL: that a Python
  thread ran proves the GIL can be taken; the supervisor kills a process that goes silent for
  deadlock-timeout (it is the only part that can act when the GIL is stuck). The heartbeat
  carries the handler's requests finished and running, which `wsgid status` shows (so those
  numbers are up to HEARTBEAT_INTERVAL old);
- before the process is ready: ends it when startup-timeout has passed (the main thread may be
  stuck in a preload; this thread is not);
- once ready, asks to be recycled (never more than once) when a limit is reached:
  cpu-time-limit (the kernel's SIGXCPU, which the daemon's handler records), memory-limit
  (resident memory, from /proc/self/statm), restart-interval (time since the process started), inactivity-timeout (no request running and
  none started or ended for that long). maximum-requests is not the monitor's: the accept
  loop counts it exactly (the core's AcceptLoop, daemon.py);
- once ready, at every check: a request that has run request-timeout or longer gets a stack dump of every
  thread in the log, a 504 (handler.time_out) and the process asks to be recycled at once,
  without accepting anything more.

Rules:
- Decisions are made by `Monitor.check(now)` with the clock, the handler, the memory reader and
  the actions injected, so they are tested with fakes; the thread only calls it in a loop.
- The monitor decides and `actions` (daemon.py, which owns the process's life) acts: the monitor
  never stops the process or the request threads itself.
- A value of 0 turns a limit off; every limit that is on is checked whatever the others are.
- Stack dumps show the line each frame is executing (frame.f_lineno, not the `def` line) and
  the thread id as threading.get_ident() gives it, in decimal and hex.
"""

import dataclasses
import linecache
import os
import sys
import threading
import time

from wsgid import log
from wsgid.channel import HEARTBEAT, heartbeat_counts
from wsgid.states import ShutdownReason

logger = log.get_logger("monitor")

CHECK_INTERVAL = 0.5
HEARTBEAT_INTERVAL = 1.0


@dataclasses.dataclass(frozen=True)
class Limits:
    """The group options the monitor enforces (0 = off)."""

    restart_interval: float = 0.0
    inactivity_timeout: float = 0.0
    request_timeout: float = 0.0
    startup_timeout: float = 0.0
    memory_limit: int = 0
    threads: int = 1          # request-timeout averages over them (overdue_requests)

    @classmethod
    def from_options(cls, options):
        return cls(restart_interval=options["restart-interval"],
                   inactivity_timeout=options["inactivity-timeout"],
                   request_timeout=options["request-timeout"],
                   startup_timeout=options["startup-timeout"],
                   memory_limit=options["memory-limit"],
                   threads=max(options["threads"], 1))


def resident_memory():
    """This process's resident set size in bytes (/proc/self/statm: pages in RAM now)."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def limit_reached(limits, now, started_at, handler, read_rss):
    """(reason, words for the log) of the first recycle limit reached, or None."""
    if limits.memory_limit:
        rss = read_rss()
        if rss >= limits.memory_limit:
            return (ShutdownReason.MEMORY_LIMIT,
                    f"resident memory {rss} bytes >= memory-limit={limits.memory_limit}")
    if limits.restart_interval and now - started_at >= limits.restart_interval:
        return (ShutdownReason.RESTART_INTERVAL,
                f"up {now - started_at:.1f}s, restart-interval={limits.restart_interval:g}")
    # requests under WSGIIgnoreActivity On (health checks, say) keep no process alive
    if limits.inactivity_timeout and \
            not any(request.counts_as_activity for request in handler.running()) and \
            now - handler.last_activity >= limits.inactivity_timeout:
        return (ShutdownReason.INACTIVITY_TIMEOUT,
                f"no request for {now - handler.last_activity:.1f}s, inactivity-timeout="
                f"{limits.inactivity_timeout:g}")
    return None


def overdue_requests(limits, now, running):
    """The running requests that request-timeout ends now, by mod_wsgi 4.6's rule: once the
    running requests' times, summed and divided by the process's threads, reach request-timeout,
    every request that has run request-timeout or longer. So a process with one thread ends a
    request at request-timeout; one with 8 threads lets a lone slow request run 8 times that
    long, and ends a request at request-timeout only when all 8 threads are that busy.
    (mod_wsgi 6 times each request against request-timeout x (1 + ln(threads)) instead.)"""
    if not limits.request_timeout:
        return []
    times = [(request, now - request.started) for request in running]
    if sum(took for _, took in times) / limits.threads < limits.request_timeout:
        return []
    return [request for request, took in times if took >= limits.request_timeout]


def capture_thread_stacks():
    """{thread id: [(file, line, function), ...] outermost first} of every Python thread.

    Taken with the GIL kept for the whole walk (no I/O in it, and a long switch interval), so
    each stack is a consistent picture rather than frames of different moments.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    try:
        stacks = {}
        for ident, frame in sys._current_frames().items():
            calls = []
            while frame is not None:
                calls.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
                frame = frame.f_back
            stacks[ident] = calls[::-1]
        return stacks
    finally:
        sys.setswitchinterval(previous)


def format_thread_stacks(stacks=None, threads=None, requests_by_thread=None):
    """Lines describing every Python thread: id (decimal and hex), name, and its stack with the
    line each frame is executing.

    stacks: as capture_thread_stacks() returns (the default); threads: {thread id: name}
    (default from threading.enumerate()); requests_by_thread: {thread id: words naming the
    request that thread serves}.
    """
    if stacks is None:
        stacks = capture_thread_stacks()
    if threads is None:
        threads = {t.ident: t.name for t in threading.enumerate()}
    requests_by_thread = requests_by_thread or {}
    lines = []
    for ident, calls in sorted(stacks.items()):
        title = f"thread {ident} (0x{ident:x}) \"{threads.get(ident, '?')}\""
        if ident in requests_by_thread:
            title += f", serving {requests_by_thread[ident]}"
        lines.append(title + ", most recent call last:")
        for filename, lineno, function in calls:
            lines.append(f'  File "{filename}", line {lineno}, in {function}')
            source = linecache.getline(filename, lineno).strip()
            if source:
                lines.append(f"    {source}")
    return lines


def describe_request(request):
    return f"request {request.request_id} {request.url}"


class Monitor:
    """See the module docstring. `actions` is the daemon process (daemon.py):
    ask_recycle(reason, words, stop_accepting), startup_timed_out(words), and cpu_time_exceeded
    (a flag its SIGXCPU handler sets)."""

    def __init__(self, limits, started_at, channel, actions, clock=time.monotonic,
                 read_rss=resident_memory):
        self.limits = limits
        self.started_at = started_at
        self.channel = channel
        self.actions = actions
        self.handler = None
        self.ready = False
        self._clock = clock
        self._read_rss = read_rss
        self._next_heartbeat = started_at
        self._recycle_asked = False
        self._timed_out = set()        # request ids already answered 504
        self._stop = threading.Event()
        self._thread = None

    def attach(self, handler):
        """The RequestHandler whose requests are watched."""
        self.handler = handler

    def mark_ready(self):
        self.ready = True

    @property
    def timed_out_requests(self):
        return frozenset(self._timed_out)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="wsgid-monitor", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.check(self._clock())
            except Exception:
                # The watchdog must outlive its own bugs: a dead monitor means no heartbeat,
                # and the supervisor would take the process for deadlocked.
                logger.exception("the daemon process monitor failed a check")
            self._stop.wait(CHECK_INTERVAL)

    def check(self, now):
        """One round of the checks of the module docstring."""
        if now >= self._next_heartbeat:
            self.channel.send(HEARTBEAT, self._heartbeat_counts())
            self._next_heartbeat = now + HEARTBEAT_INTERVAL
        if not self.ready:
            waited = now - self.started_at
            if self.limits.startup_timeout and waited >= self.limits.startup_timeout:
                self.actions.startup_timed_out(
                    f"not ready {waited:.1f}s after its start, startup-timeout="
                    f"{self.limits.startup_timeout:g}")
            return
        if self.handler is None:
            return
        self._check_request_timeout(now)
        if not self._recycle_asked:
            if self.actions.cpu_time_exceeded:
                reached = (ShutdownReason.CPU_TIME_LIMIT,
                           "SIGXCPU: the process used its cpu-time-limit")
            else:
                reached = limit_reached(self.limits, now, self.started_at, self.handler,
                                        self._read_rss)
            if reached is not None:
                self._ask_recycle(*reached, stop_accepting=False)

    def _heartbeat_counts(self):
        if self.handler is None:
            return ""
        return heartbeat_counts(self.handler.requests_finished, len(self.handler.running()))

    def _check_request_timeout(self, now):
        overdue = [r for r in overdue_requests(self.limits, now, self.handler.running())
                   if r.request_id not in self._timed_out]
        if not overdue:
            return
        by_thread = {r.thread_ident: describe_request(r) for r in overdue}
        stuck = "; ".join(f"{describe_request(r)} running {now - r.started:.1f}s"
                          for r in overdue)
        lines = [f"request-timeout={self.limits.request_timeout:g}s passed: {stuck} (the "
                 f"running requests average more than that over {self.limits.threads} "
                 "threads); stack of every thread of this process follows"]
        lines += format_thread_stacks(requests_by_thread=by_thread)
        logger.error("%s", "\n".join(lines))
        for request in overdue:
            self._timed_out.add(request.request_id)
            self.handler.time_out(request.request_id)   # it logs what it did
        self._ask_recycle(ShutdownReason.REQUEST_TIMEOUT, stuck, stop_accepting=True)

    def _ask_recycle(self, reason, words, stop_accepting):
        first = not self._recycle_asked
        self._recycle_asked = True
        if first or stop_accepting:
            self.actions.ask_recycle(reason, words, stop_accepting)
