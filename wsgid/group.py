"""One daemon process group: its listening socket and its `processes=` daemon processes.

The group has one slot per process. A slot whose process died gets a new one at the next tick
of the supervisor's loop (well within a second), unless the process keeps dying at start: then
RestartBackoff spaces the restarts out, and the log says how the process ended and when the next
start is.

Rules:
- The group never closes its listener: the supervisor owns it (DESIGN.md contract 4) and may
  hand the same socket to the group that replaces this one on a reload.
- Everything time-based takes `now` from the caller (a monotonic clock), and forking goes through
  the `spawn` function given to the constructor, so the logic is tested with fakes.
- A stopping group starts nothing and only waits for its processes, killing those that overstay.
"""

import collections

from wsgid import log, process
from wsgid.states import ProcessState


class RestartBackoff:
    """When may a slot start its next process? Pure bookkeeping, no clock of its own.

    A process that exits within `startup_window` of its start is a failed start. Consecutive
    failed starts wait first_delay, doubling up to max_delay; a process that stayed up resets the
    count. Independently, a slot starts at most max_starts processes in any per_seconds.
    """

    def __init__(self, startup_window=process.STARTUP_WINDOW, first_delay=0.1, max_delay=10.0,
                 max_starts=10, per_seconds=60.0):
        self.startup_window = startup_window
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.max_starts = max_starts
        self.per_seconds = per_seconds
        self.failures = 0
        self._recent_starts = collections.deque(maxlen=max_starts)

    def record_start(self, now):
        self._recent_starts.append(now)

    def record_exit(self, uptime):
        if uptime < self.startup_window:
            self.failures += 1
        else:
            self.failures = 0

    @property
    def delay(self):
        """The crash-loop delay before the next start (0 when the last process stayed up)."""
        if self.failures == 0:
            return 0.0
        return min(self.first_delay * 2 ** (self.failures - 1), self.max_delay)

    def next_start_at(self, now):
        at = now + self.delay
        if len(self._recent_starts) == self.max_starts:
            at = max(at, self._recent_starts[0] + self.per_seconds)
        return at


class _Slot:
    """One of the group's `processes=` places: the process in it, or when the next one starts."""

    def __init__(self, index):
        self.index = index
        self.backoff = RestartBackoff()
        self.process = None
        self.next_start_at = None


class Group:
    """A daemon group's processes, from the supervisor's side."""

    def __init__(self, spec, config, listener, fingerprint=None, spawn=process.spawn):
        self.spec = spec
        self.name = spec.name
        self.config = config
        self.listener = listener
        self.fingerprint = fingerprint   # what the group was built from; compared on reload
        self.stopping = False
        self._spawn = spawn
        self._slots = [_Slot(i) for i in range(spec.options["processes"])]
        self.log = log.group_logger(spec.name, "wsgid.group")

    @property
    def socket_path(self):
        return self.spec.socket_path

    def processes(self):
        """The handles of the processes that have not been reaped yet."""
        return [slot.process for slot in self._slots if slot.process is not None]

    def pids(self):
        return [handle.pid for handle in self.processes()]

    @property
    def finished(self):
        """Stopped, and every process reaped."""
        return self.stopping and not self.processes()

    def start(self, now):
        """Start every process at the next tick."""
        for slot in self._slots:
            slot.next_start_at = now

    def stop(self, now, reason, timeout=process.SHUTDOWN_TIMEOUT):
        """SIGTERM to every process; start no more. Overstayers get SIGKILL at later ticks."""
        if not self.stopping:
            self.log.info("stopping %d daemon processes (%s)", len(self.processes()), reason)
        self.stopping = True
        for handle in self.processes():
            handle.request_stop(now, timeout)

    def kill_now(self):
        """SIGKILL to every process still there (a second stop signal, or a hard deadline)."""
        for handle in self.processes():
            handle.kill()

    def tick(self, now):
        """Promote, kill overstayers, start what is due. Call often; cheap when nothing is due."""
        for slot in self._slots:
            handle = slot.process
            if handle is not None:
                if handle.state is ProcessState.STARTING and \
                        handle.uptime(now) >= process.STARTUP_WINDOW:
                    handle.change_state(ProcessState.RUNNING)
                elif handle.state is ProcessState.STOPPING and not handle.killed and \
                        now >= handle.stop_deadline:
                    self.log.warning("daemon process %d did not exit within %.1fs of SIGTERM; "
                                     "killing it", handle.pid, handle.stop_timeout)
                    handle.kill()
            elif not self.stopping and slot.next_start_at is not None and \
                    now >= slot.next_start_at:
                self._start(slot, now)

    def next_due(self, now):
        """The earliest time at which tick() has something to do, or None."""
        times = []
        for slot in self._slots:
            handle = slot.process
            if handle is None:
                if not self.stopping and slot.next_start_at is not None:
                    times.append(slot.next_start_at)
            elif handle.state is ProcessState.STARTING:
                times.append(handle.started_at + process.STARTUP_WINDOW)
            elif handle.state is ProcessState.STOPPING and not handle.killed:
                times.append(handle.stop_deadline)
        return min(times, default=None)

    def reap(self, pid, wait_status, now):
        """Record the exit of pid if it is one of ours and plan its replacement; True if ours."""
        for slot in self._slots:
            handle = slot.process
            if handle is not None and handle.pid == pid:
                break
        else:
            return False
        was_stopping = handle.state is ProcessState.STOPPING
        handle.exited(wait_status, now)
        slot.process = None
        how = process.describe_wait_status(wait_status)
        if self.stopping:
            self.log.info("daemon process %d %s", pid, how)
        elif was_stopping:
            # Asked to stop on its own (a recycle), not a failure: replace it at once.
            self.log.info("daemon process %d %s; replacing it", pid, how)
            slot.next_start_at = now
        else:
            self._plan_restart(slot, handle, how, now)
        return True

    def _plan_restart(self, slot, handle, how, now):
        uptime = handle.uptime(now)
        slot.backoff.record_exit(uptime)
        slot.next_start_at = slot.backoff.next_start_at(now)
        delay = slot.next_start_at - now
        if slot.backoff.failures:
            self.log.error("daemon process %d %s %.1fs after it started (%d failed starts in a "
                           "row); starting a new one in %.1fs", handle.pid, how, uptime,
                           slot.backoff.failures, delay)
        elif delay > 0:
            self.log.error("daemon process %d %s; restarts are limited to %d a minute, starting "
                           "a new one in %.1fs", handle.pid, how, slot.backoff.max_starts, delay)
        else:
            self.log.warning("daemon process %d %s; starting a new one", handle.pid, how)

    def _start(self, slot, now):
        try:
            handle = self._spawn(self.spec, self.config, self.listener, slot.index, now)
        except OSError as exc:
            slot.backoff.record_exit(0.0)
            slot.next_start_at = slot.backoff.next_start_at(now)
            self.log.error("cannot fork a daemon process: %s; trying again in %.1fs", exc,
                           slot.next_start_at - now)
            return
        slot.backoff.record_start(now)
        slot.process = handle
        slot.next_start_at = None
        self.log.info("started daemon process %d", handle.pid)
