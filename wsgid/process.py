"""One daemon process, seen from the supervisor: fork it, follow its state, stop it, reap it.

Rules:
- `spawn()` is the one function in wsgid that calls os.fork(). Its child branch closes every
  inherited descriptor except stdio and the group's listener, runs worker.run(), and always ends
  with os._exit(): the child never returns into the supervisor's loop, whatever happens.
- The supervisor's signals are blocked across fork(), so a signal that arrives meanwhile is
  neither lost by the parent nor handled by the supervisor's handlers in the child.
- A ProcessHandle lives for one pid. Its state changes only through change_state(), which checks
  ALLOWED_TRANSITIONS (states.py). A replacement process gets a new handle.
- Exit statuses are the ExitCode constants of states.py (re-exported here); the parent turns a
  wait status into words with describe_wait_status().
"""

import ctypes
import os
import signal
import sys

from wsgid import log, worker
from wsgid.states import (ALLOWED_TRANSITIONS, ExitCode, InvalidTransition, ProcessState,
                          describe_exit_code)

__all__ = ["ExitCode", "ProcessHandle", "ProcessState", "SHUTDOWN_TIMEOUT", "STARTUP_WINDOW",
           "describe_wait_status", "set_parent_death_signal", "spawn"]

logger = log.get_logger("process")

# A process that exits sooner than this after its start counts as a failed start (crash-loop
# back-off, group.py); one that stays up longer is RUNNING.
STARTUP_WINDOW = 3.0

# How long a process may take to stop after SIGTERM before it gets SIGKILL. This will become the
# shutdown-timeout= option (mod_wsgi's default is 5 s); until then it is fixed.
SHUTDOWN_TIMEOUT = 5.0

_PR_SET_PDEATHSIG = 1


class ProcessHandle:
    """The parent-side record of one forked daemon process."""

    def __init__(self, pid, group_name, slot, started_at, kill=os.kill):
        self.pid = pid
        self.group_name = group_name
        self.slot = slot
        self.started_at = started_at
        self.state = ProcessState.STARTING
        self.stop_deadline = None     # set by request_stop(): when SIGKILL follows SIGTERM
        self.stop_timeout = None
        self.killed = False
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

    def request_stop(self, now, timeout=SHUTDOWN_TIMEOUT):
        """SIGTERM: finish running requests and exit; SIGKILL follows after timeout."""
        if self.state in (ProcessState.STOPPING, ProcessState.EXITED):
            return
        self.change_state(ProcessState.STOPPING)
        self.stop_timeout = timeout
        self.stop_deadline = now + timeout
        self._send(signal.SIGTERM)

    def kill(self):
        """SIGKILL, for a process that overstayed its stop deadline."""
        if self.alive and not self.killed:
            self.killed = True
            self._send(signal.SIGKILL)

    def exited(self, wait_status, now):
        """Record the wait status of the reaped process."""
        self.wait_status = wait_status
        self.exited_at = now
        self.change_state(ProcessState.EXITED)

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


def spawn(group, config, listener, slot, now):
    """Fork a daemon process for `group` serving on `listener`; return its handle.

    Raises OSError when fork() fails (the caller retries with back-off).
    """
    # Buffered output would otherwise be written twice, once by each process.
    sys.stdout.flush()
    sys.stderr.flush()
    supervisor_pid = os.getpid()
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, worker.FORK_BLOCKED_SIGNALS)
    try:
        pid = os.fork()
    except OSError:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        raise
    if pid == 0:
        _become_daemon_process(group, config, listener, supervisor_pid)
    signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    return ProcessHandle(pid, group.name, slot, now)


def _become_daemon_process(group, config, listener, supervisor_pid):
    """The child branch of spawn(): never returns."""
    code = ExitCode.ERROR
    try:
        # The supervisor's wake-up descriptor is about to be closed; a signal must not write to
        # it (or to whatever reuses its number) before the worker installs its own.
        signal.set_wakeup_fd(-1)
        set_parent_death_signal(signal.SIGTERM)
        _close_inherited_descriptors(keep=listener.fileno())
        code = worker.run(group, config, listener, supervisor_pid)
    except BaseException:
        try:
            logger.exception("daemon process failed")
        except BaseException:
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(int(code))


def _close_inherited_descriptors(keep):
    # Other groups' listeners, the supervisor's pipes and whatever else it had open are not the
    # daemon's business; keeping them would hold removed sockets open and leak descriptors.
    os.closerange(3, keep)
    os.closerange(keep + 1, _max_fd())


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
