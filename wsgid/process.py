"""One daemon process, seen from the supervisor: fork it, follow its state, stop it, reap it.

Rules:
- `spawn()` is the one function in wsgid that calls os.fork(). Its child branch closes every
  inherited descriptor except stdio and the group's listener, runs daemon.run(), and always ends
  with os._exit(): the child never returns into the supervisor's loop, whatever happens.
- The supervisor's signals are blocked across fork(), so a signal that arrives meanwhile is
  neither lost by the parent nor handled by the supervisor's handlers in the child.
- A ProcessHandle lives for one pid. Its state changes only through change_state(), which checks
  ALLOWED_TRANSITIONS (states.py). A replacement process gets a new handle.
- Exit statuses are the ExitCode constants of states.py (re-exported here); the parent turns a
  wait status into words with describe_wait_status().
- Every process gets a channel (channel.py) at fork: the child keeps the write end, the handle
  the read end, which is closed when the process is reaped.
- How a process is told to stop says why (docs/signals.md): SIGTERM shutdown_signal, SIGUSR1
  graceful_signal, SIGUSR2 "the recycle you asked for is granted". Whatever the signal, SIGKILL
  follows when the process overstays the timeout it was given.
"""

import ctypes
import os
import signal
import sys

from wsgid import channel, daemon, interpreter, log
from wsgid.states import (ALLOWED_TRANSITIONS, ExitCode, InvalidTransition, ProcessState,
                          ShutdownReason, describe_exit_code)

__all__ = ["ExitCode", "ProcessHandle", "ProcessState", "STARTUP_WINDOW", "describe_wait_status",
           "set_parent_death_signal", "spawn"]

logger = log.get_logger("process")

# A process that exits sooner than this after its start counts as a failed start (crash-loop
# back-off, group.py); one that stays up longer is RUNNING.
STARTUP_WINDOW = 3.0

# The signal that tells a daemon process to stop, by the reason it is told.
STOP_SIGNALS = {
    ShutdownReason.SHUTDOWN_SIGNAL: signal.SIGTERM,
    ShutdownReason.GRACEFUL_SIGNAL: signal.SIGUSR1,
}
RECYCLE_GRANTED = signal.SIGUSR2

_PR_SET_PDEATHSIG = 1


class ProcessHandle:
    """The parent-side record of one forked daemon process."""

    def __init__(self, pid, group_name, slot, started_at, kill=os.kill, channel=None):
        self.pid = pid
        self.group_name = group_name
        self.slot = slot
        self.started_at = started_at
        self.state = ProcessState.STARTING
        self.channel = channel        # channel.SupervisorEnd, None in tests of pure logic
        self.channel_closed = False   # EOF on the channel: it exited or exec'd something else
        self.ready = False            # it said `ready`: it accepts requests
        self.last_heard = started_at  # when its last message came (deadlock-timeout)
        self.requests_served = None   # as its last heartbeat said (None: none said it yet)
        self.active_requests = None
        self.recycle_reason = None    # why it is being recycled, once it is queued for that
        self.recycle_asked = False    # True: the daemon asked (granted with SIGUSR2)
        self.stop_reason = None       # the shutdown reason it was told to stop with
        self.stop_deadline = None     # set when told to stop: when SIGKILL follows
        self.stop_timeout = None
        self.killed = False
        self.kill_reason = None
        self.wait_status = None
        self.exited_at = None
        self._kill = kill

    def __repr__(self):
        return f"<ProcessHandle pid={self.pid} group={self.group_name} {self.state.value}>"

    @property
    def alive(self):
        return self.state is not ProcessState.EXITED

    def change_state(self, new_state):
        if new_state not in ALLOWED_TRANSITIONS[self.state]:
            raise InvalidTransition(f"daemon process {self.pid}: {self.state.value} -> "
                                    f"{new_state.value} is not a lifecycle transition")
        self.state = new_state

    def uptime(self, now):
        return (self.exited_at if self.exited_at is not None else now) - self.started_at

    def heard(self, now):
        """A message came from it: it is alive and its GIL can be taken."""
        self.last_heard = now

    def counts_reported(self, served, active):
        """Its heartbeat said how many requests it has finished and is running (wsgid status)."""
        self.requests_served = served
        self.active_requests = active

    def request_stop(self, now, timeout, reason=ShutdownReason.SHUTDOWN_SIGNAL):
        """Tell it to stop for `reason` (SIGTERM or SIGUSR1); SIGKILL follows after timeout."""
        self._told_to_stop(now, timeout, reason, STOP_SIGNALS[reason])

    def grant_recycle(self, now, timeout):
        """Its recycle may go ahead: SIGUSR2 if it asked for it, else SIGUSR1 (a graceful
        restart the supervisor decided); SIGKILL follows after timeout."""
        signum = RECYCLE_GRANTED if self.recycle_asked else STOP_SIGNALS[self.recycle_reason]
        self._told_to_stop(now, timeout, self.recycle_reason, signum)

    def _told_to_stop(self, now, timeout, reason, signum):
        if self.state in (ProcessState.STOPPING, ProcessState.EXITED):
            return
        self.change_state(ProcessState.STOPPING)
        self.stop_reason = reason
        self.stop_timeout = timeout
        self.stop_deadline = now + timeout
        self._send(signum)

    def kill(self, reason=None):
        """SIGKILL: it overstayed its stop deadline, or it is stuck (reason says which)."""
        if self.alive and not self.killed:
            self.killed = True
            self.kill_reason = reason
            self._send(signal.SIGKILL)

    def exited(self, wait_status, now):
        """Record the wait status of the reaped process; its channel is closed."""
        self.wait_status = wait_status
        self.exited_at = now
        self.change_state(ProcessState.EXITED)
        if self.channel is not None:
            self.channel.close()
        self.channel_closed = True

    def _send(self, signum):
        try:
            self._kill(self.pid, signum)
        except ProcessLookupError:
            pass    # already gone; the SIGCHLD that says so is on its way


def describe_wait_status(wait_status):
    """'exited with status 3 (the application could not be loaded; ...)' or 'killed by SIGKILL'."""
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code} ({describe_exit_code(code)})"


def spawn(group, config, listener, slot, now, error_log=None):
    """Fork a daemon process for `group` serving on `listener`, writing to `error_log` (a
    group_log.GroupLog; None keeps the supervisor's stderr); return its handle.

    Raises OSError when fork() (or the channel's pipe) fails; the caller retries with back-off.
    """
    # Buffered output would otherwise be written twice, once by each process.
    sys.stdout.flush()
    sys.stderr.flush()
    supervisor_pid = os.getpid()
    read_fd, write_fd = channel.open_pipe()
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, daemon.FORK_BLOCKED_SIGNALS)
    try:
        pid = os.fork()
    except OSError:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:
        _become_daemon_process(group, config, listener, supervisor_pid, write_fd,
                               None if error_log is None else error_log.fileno())
    try:
        os.setpgid(pid, pid)   # as the child does: whichever runs first, no moment without it
    except OSError:
        pass                   # it did already, or it is gone
    signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    os.close(write_fd)
    return ProcessHandle(pid, group.name, slot, now,
                         channel=channel.SupervisorEnd(read_fd, pid))


def _become_daemon_process(group, config, listener, supervisor_pid, channel_fd, log_fd):
    """The child branch of spawn(): never returns."""
    code = ExitCode.ERROR
    try:
        if log_fd is not None:
            _write_to_group_log(log_fd)
        # The supervisor's wake-up descriptor is about to be closed; a signal must not write to
        # it (or to whatever reuses its number) before the daemon installs its own.
        signal.set_wakeup_fd(-1)
        set_parent_death_signal(signal.SIGTERM)
        # A process group of its own: a Ctrl-C at a terminal (SIGINT to the foreground group) is
        # for the supervisor, which stops its daemons itself, while a SIGINT to a daemon is its
        # application asking for a restart (daemon.py).
        os.setpgid(0, 0)
        _close_inherited_descriptors(keep={listener.fileno(), channel_fd})
        code = daemon.run(group, config, listener, supervisor_pid,
                          channel.DaemonEnd(channel_fd))
    except BaseException:
        try:
            logger.exception("daemon process failed")
        except BaseException:
            pass
    finally:
        try:
            # Not sys.stdout: the application's may be restricted (interpreter.py).
            interpreter.flush_standard_streams()
        finally:
            os._exit(int(code))


def _write_to_group_log(log_fd):
    # The group's own error log (group_log.py) becomes stderr, and stdout where it is joined
    # to stderr (not a terminal kept for a debugger: interpreter.settle_standard_descriptors).
    joined = os.path.sameopenfile(1, 2)
    os.dup2(log_fd, 2)
    if joined:
        os.dup2(log_fd, 1)


def _close_inherited_descriptors(keep):
    # Other groups' listeners, the supervisor's pipes (and the other daemons' channels) are not
    # the daemon's business; keeping them would hold removed sockets open and leak descriptors.
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, _max_fd())


def _max_fd():
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 65536


def set_parent_death_signal(signum):
    """Ask Linux to send signum when the parent exits (prctl PR_SET_PDEATHSIG); no-op elsewhere.

    Callers still compare os.getppid() with the expected parent: the parent may have died before
    this call, and the signal fires when the forking *thread* exits.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
