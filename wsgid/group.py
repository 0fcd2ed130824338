"""One daemon process group: its listening socket and its `processes=` daemon processes.

The group has one slot per process. A slot whose process died gets a new one at the next tick
of the supervisor's loop (well within a second), unless the process keeps dying at start: then
RestartBackoff spaces the restarts out, and the log says how the process ended and when the next
start is.

Rules:
- The group never closes its listener: the supervisor owns it (docs/design.md, contract 4) and may
  hand the same socket to the group that replaces this one on a reload.
- Everything time-based takes `now` from the caller (a monotonic clock), and forking goes through
  the `spawn` function given to the constructor, so the logic is tested with fakes.
- A stopping group starts nothing and only waits for its processes, killing those that overstay.
- Recycles are staggered (docs/signals.md, "Recycling"): a process that asks to be recycled (or
  that SIGUSR1 restarts) keeps its place until its turn; then its replacement is forked into its
  slot, and only once that replacement says `ready` is the old one told to go. One recycle at a
  time per group, so limits never leave a group without a serving process. The old process
  waits in `_outgoing` until it is reaped.
- The supervisor is the watchdog of what a daemon cannot report itself: no message for
  deadlock-timeout (its GIL is stuck: SIGKILL), not ready by startup-timeout + shutdown-timeout
  (its own monitor should have ended it: SIGKILL), still there after the timeout it was told to
  stop with (SIGKILL).
"""

import collections
import dataclasses

from wsgid import log, process
from wsgid.channel import HEARTBEAT, READY, RECYCLE
from wsgid.states import ProcessState, ShutdownReason, Timeouts

# The longest an old process waits for its replacement to be ready before it is told to go
# anyway (a replacement that cannot start must not keep a stuck or bloated process forever).
REPLACEMENT_READY_WAIT = 30.0


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


# backing_off() is true from this many failed starts in a row on (backoff_answer.py).
ANSWER_503_AFTER_FAILED_STARTS = 2


def in_flight_words(handle):
    """' with N requests in flight' for the log line of a process that died on its own: what
    its last heartbeat said it was running (up to a heartbeat interval old)."""
    if handle.active_requests is None:
        return " with an unknown number of requests in flight (no heartbeat came from it)"
    return f" with {handle.active_requests} requests in flight"


class _Slot:
    """One of the group's `processes=` places: the process in it, or when the next one starts."""

    def __init__(self, index):
        self.index = index
        self.backoff = RestartBackoff()
        self.process = None
        self.next_start_at = None


@dataclasses.dataclass
class _Recycle:
    """The recycle in progress: `old` has left `slot`, whose new process it waits for."""

    old: process.ProcessHandle
    slot: _Slot
    began_at: float


class Group:
    """A daemon group's processes, from the supervisor's side."""

    def __init__(self, spec, config, listener, fingerprint=None, spawn=process.spawn,
                 error_log=None):
        self.spec = spec
        self.name = spec.name
        self.config = config
        self.listener = listener
        self.error_log = error_log       # group_log.GroupLog, or None: the supervisor's stderr
        self.fingerprint = fingerprint   # what the group was built from; compared on reload
        self.timeouts = Timeouts.from_options(spec.options)
        self.stopping = False
        self._spawn = spawn
        self._slots = [_Slot(i) for i in range(spec.options["processes"])]
        self._outgoing = []                        # replaced in their slot, not reaped yet
        self._recycle_queue = collections.deque()  # handles waiting for their recycle turn
        self._recycle = None                       # the _Recycle in progress
        self.log = log.group_logger(spec.name, "wsgid.group")

    @property
    def socket_path(self):
        return self.spec.socket_path

    def processes(self):
        """The handles of the processes that have not been reaped yet."""
        return [slot.process for slot in self._slots if slot.process is not None] + \
            list(self._outgoing)

    def pids(self):
        return [handle.pid for handle in self.processes()]

    def backing_off(self, now):
        """Seconds until the next start while no process of the group can take a connection
        because starts keep failing (backoff_answer.py answers 503 meanwhile); else None.

        Only when no process is alive apart from those told to stop (which no longer accept),
        and a slot waits for its next start after two or more failed ones in a row: one failed
        start may be passing (a preload that hung once, a resource briefly missing), and the
        requests are better off waiting the first back-off delay for the next process."""
        if self.stopping or any(handle.state is not ProcessState.STOPPING
                                for handle in self.processes()):
            return None
        waits = [slot.next_start_at - now for slot in self._slots
                 if slot.process is None and slot.next_start_at is not None and
                 slot.backoff.failures >= ANSWER_503_AFTER_FAILED_STARTS]
        return max(0.0, min(waits)) if waits else None

    @property
    def finished(self):
        """Stopped, and every process reaped."""
        return self.stopping and not self.processes()

    # -- orders from the supervisor -------------------------------------------------------------

    def start(self, now):
        """Start every process at the next tick."""
        for slot in self._slots:
            slot.next_start_at = now

    def stop(self, now, why, reason=ShutdownReason.SHUTDOWN_SIGNAL):
        """Tell every process to stop for `reason`; start no more. Overstayers get SIGKILL at
        later ticks. `why` is the words for the log."""
        timeout = self.timeouts.stop_timeout(reason)
        if not self.stopping:
            self.log.info("stopping %d daemon processes (%s): %s; killing those still there in "
                          "%.1fs", len(self.processes()), why, reason, timeout)
        self.stopping = True
        self._recycle_queue.clear()
        self._recycle = None
        for handle in self.processes():
            handle.request_stop(now, timeout, reason)

    def kill_now(self):
        """SIGKILL to every process still there (a second stop signal, or a hard deadline)."""
        for handle in self.processes():
            handle.kill()

    def restart_gracefully(self, now):
        """SIGUSR1 to the supervisor: replace every process, staggered like a recycle."""
        if self.stopping:
            return
        queued = 0
        for slot in self._slots:
            handle = slot.process
            if handle is not None and handle.state is not ProcessState.STOPPING and \
                    handle.recycle_reason is None:
                handle.recycle_reason = ShutdownReason.GRACEFUL_SIGNAL
                self._recycle_queue.append(handle)
                queued += 1
        self.log.info("graceful restart: replacing %d daemon processes one at a time", queued)
        self._advance_recycles(now)

    # -- what the daemon processes say ------------------------------------------------------------

    def handle_message(self, handle, message, now):
        """A message from one of our processes (channel.py)."""
        handle.heard(now)
        if message.kind == HEARTBEAT:
            if message.served is not None:
                handle.counts_reported(message.served, message.active)
            return
        if message.kind == READY:
            handle.ready = True
            self._advance_recycles(now)
        elif message.kind == RECYCLE:
            self._recycle_asked(handle, message.reason, now)

    def channel_ended(self, handle):
        """EOF on its channel: it is exiting, or it exec'd another program (a service script
        may): either way no heartbeat will come, so deadlock-timeout no longer applies."""
        handle.channel_closed = True

    def _recycle_asked(self, handle, reason, now):
        if reason not in ShutdownReason.RECYCLES:
            self.log.warning("daemon process %d asked to be recycled for '%s', which is not a "
                             "recycle reason; ignored", handle.pid, reason)
            return
        if handle.state is ProcessState.STOPPING or handle.recycle_reason is not None or \
                self.stopping:
            return      # it goes anyway
        handle.recycle_reason = reason
        handle.recycle_asked = True
        self._recycle_queue.append(handle)
        self.log.info("daemon process %d asks to be recycled (%s)", handle.pid, reason)
        self._advance_recycles(now)

    # -- staggered recycling ----------------------------------------------------------------------

    def _advance_recycles(self, now):
        """Grant the recycle in progress when its replacement is ready; begin the next one."""
        while True:
            if self._recycle is not None:
                if not self._grant_if_due(self._recycle, now):
                    return
                self._recycle = None
            if self.stopping or not self._recycle_queue:
                return
            self._begin_recycle(self._recycle_queue.popleft(), now)

    def _begin_recycle(self, old, now):
        slot = self._slot_of(old)
        if slot is None or old.state not in (ProcessState.STARTING, ProcessState.RUNNING):
            return      # exited or stopping meanwhile
        slot.process = None
        self._outgoing.append(old)
        self._recycle = _Recycle(old, slot, now)
        self.log.info("recycling daemon process %d (%s): starting its replacement first",
                      old.pid, old.recycle_reason)
        self._start(slot, now)

    def _grant_if_due(self, recycle, now):
        """True once the recycle is over: the replacement is ready (or overdue) and the old
        process has been told to go (or is gone already)."""
        old = recycle.old
        replacement = recycle.slot.process
        if replacement is not None and replacement.ready:
            why = f"its replacement {replacement.pid} is ready"
        elif now >= recycle.began_at + REPLACEMENT_READY_WAIT:
            why = f"its replacement was not ready within {REPLACEMENT_READY_WAIT:.0f}s"
            if old.alive:
                self.log.warning("daemon process %d: %s; recycling it anyway", old.pid, why)
        else:
            return False
        if old.alive and old.state is not ProcessState.STOPPING:
            timeout = self.timeouts.stop_timeout(old.recycle_reason)
            old.grant_recycle(now, timeout)
            self.log.info("daemon process %d may go now (%s): %s; killing it if still there "
                          "in %.1fs", old.pid, old.recycle_reason, why, timeout)
        return True

    def _slot_of(self, handle):
        for slot in self._slots:
            if slot.process is handle:
                return slot
        return None

    # -- the clock ----------------------------------------------------------------------------

    def tick(self, now):
        """Promote, kill overstayers and stuck processes, grant recycles, start what is due.
        Call often; cheap when nothing is due."""
        for slot in self._slots:
            handle = slot.process
            if handle is not None and handle.state is ProcessState.STARTING and \
                    handle.uptime(now) >= process.STARTUP_WINDOW:
                handle.change_state(ProcessState.RUNNING)
        for handle in self.processes():
            if not handle.killed:
                self._watch(handle, now)
        self._advance_recycles(now)
        for slot in self._slots:
            if slot.process is None and not self.stopping and slot.next_start_at is not None \
                    and now >= slot.next_start_at:
                self._start(slot, now)

    def _watch(self, handle, now):
        if handle.state is ProcessState.STOPPING and now >= handle.stop_deadline:
            self.log.warning("daemon process %d did not exit within %.1fs of being told to stop "
                             "(%s); killing it", handle.pid, handle.stop_timeout,
                             handle.stop_reason)
            handle.kill()
        elif self._deadlock_due(handle) is not None and now >= self._deadlock_due(handle):
            self.log.error("daemon process %d: its Python interpreter has been blocked (GIL "
                           "held) for %.1fs (deadlock-timeout); killing it (shutdown_reason "
                           "%s)", handle.pid, now - handle.last_heard,
                           ShutdownReason.DEADLOCK_TIMEOUT)
            handle.kill(ShutdownReason.DEADLOCK_TIMEOUT)
        elif self._startup_kill_due(handle) is not None and now >= self._startup_kill_due(handle):
            self.log.error("daemon process %d was not ready %.1fs after its start "
                           "(startup-timeout %.1fs + shutdown-timeout %.1fs) and did not end "
                           "itself; killing it", handle.pid, handle.uptime(now),
                           self.timeouts.startup, self.timeouts.shutdown)
            handle.kill(ShutdownReason.STARTUP_TIMEOUT)

    def _deadlock_due(self, handle):
        if not self.timeouts.deadlock or handle.channel_closed:
            return None
        return handle.last_heard + self.timeouts.deadlock

    def _startup_kill_due(self, handle):
        if not self.timeouts.startup or handle.ready or handle.state is ProcessState.STOPPING:
            return None
        return handle.started_at + self.timeouts.startup + self.timeouts.shutdown

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
        for handle in self.processes():
            if handle.killed:
                continue
            if handle.state is ProcessState.STOPPING:
                times.append(handle.stop_deadline)
            times += [t for t in (self._deadlock_due(handle), self._startup_kill_due(handle))
                      if t is not None]
        if self._recycle is not None:
            times.append(self._recycle.began_at + REPLACEMENT_READY_WAIT)
        return min(times, default=None)

    # -- exits --------------------------------------------------------------------------------

    def reap(self, pid, wait_status, now):
        """Record the exit of pid if it is one of ours and plan its replacement; True if ours."""
        for handle in self._outgoing:
            if handle.pid == pid:
                self._reap_outgoing(handle, wait_status, now)
                return True
        for slot in self._slots:
            handle = slot.process
            if handle is not None and handle.pid == pid:
                break
        else:
            return False
        if handle in self._recycle_queue:
            self._recycle_queue.remove(handle)
        was_stopping = handle.state is ProcessState.STOPPING
        handle.exited(wait_status, now)
        slot.process = None
        how = process.describe_wait_status(wait_status)
        if handle.kill_reason:
            how += f" ({handle.kill_reason})"
        if not was_stopping:
            how += in_flight_words(handle)
        if self.stopping:
            self.log.info("daemon process %d %s", pid, how)
        elif was_stopping:
            # Asked to stop on its own (a recycle), not a failure: replace it at once.
            self.log.info("daemon process %d %s; replacing it", pid, how)
            slot.next_start_at = now
        else:
            self._plan_restart(slot, handle, how, now)
        self._advance_recycles(now)
        return True

    def _reap_outgoing(self, handle, wait_status, now):
        self._outgoing.remove(handle)
        granted = handle.state is ProcessState.STOPPING
        handle.exited(wait_status, now)
        how = process.describe_wait_status(wait_status)
        if granted or self.stopping:
            self.log.info("daemon process %d %s (recycled: %s)", handle.pid, how,
                          handle.stop_reason or handle.recycle_reason)
        else:
            self.log.warning("daemon process %d %s before its recycle (%s) was granted; its "
                             "replacement is on its way", handle.pid, how, handle.recycle_reason)
        self._advance_recycles(now)

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
            handle = self._spawn(self.spec, self.config, self.listener, slot.index, now,
                                 error_log=self.error_log)
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
