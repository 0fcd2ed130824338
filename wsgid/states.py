"""The vocabulary of the process lifecycle: daemon process states and worker exit codes.

Rules:
- A daemon process handle moves only along ALLOWED_TRANSITIONS; `ProcessHandle.change_state()`
  (process.py) is the one place that checks it, so an impossible move is a bug that shows at once.
- A daemon process reports why it ended with one of the ExitCode values; the supervisor turns the
  code back into words for the log with `describe_exit_code()`.
"""

import enum


class ProcessState(enum.Enum):
    """Where one daemon process (one pid) is in its life, as the supervisor sees it."""

    STARTING = "starting"   # forked; has not yet stayed up for the startup window
    RUNNING = "running"     # stayed up past the startup window
    STOPPING = "stopping"   # asked to stop (SIGTERM); will be killed if it overstays
    EXITED = "exited"       # reaped; the handle is history


ALLOWED_TRANSITIONS = {
    ProcessState.STARTING: frozenset({ProcessState.RUNNING, ProcessState.STOPPING,
                                      ProcessState.EXITED}),
    ProcessState.RUNNING: frozenset({ProcessState.STOPPING, ProcessState.EXITED}),
    ProcessState.STOPPING: frozenset({ProcessState.EXITED}),
    ProcessState.EXITED: frozenset(),
}


class InvalidTransition(RuntimeError):
    """A handle was asked to move between states that the lifecycle does not connect."""


class ExitCode(enum.IntEnum):
    """Exit statuses of a daemon process (the child side of a fork).

    Codes other than OK mean the process could not serve; all of them are restarted with
    back-off, because a fixed file or a reload can make the next start succeed.
    """

    OK = 0                  # stopped as asked (SIGTERM, or the supervisor went away)
    ERROR = 1               # an unexpected exception in the daemon's own code
    CANNOT_LOAD = 3         # the request handler or a preloaded script failed to load
    PRIVILEGE_DROP_FAILED = 4   # setgroups/setgid/setuid failed: it never serves
    REFUSED_ROOT = 5        # would have served as uid 0: it never serves
    SETUP_FAILED = 6        # the environment could not be set up (home= directory, ...)


_EXIT_CODE_MEANING = {
    ExitCode.OK: "stopped normally",
    ExitCode.ERROR: "an unexpected error in the daemon process; see the lines above",
    ExitCode.CANNOT_LOAD: "the application could not be loaded; see the lines above",
    ExitCode.PRIVILEGE_DROP_FAILED: "it could not switch to the configured user/group",
    ExitCode.REFUSED_ROOT: "it refused to serve as root",
    ExitCode.SETUP_FAILED: "its environment could not be set up; see the lines above",
}


def describe_exit_code(code):
    """Words for the log: what a daemon process's exit status means."""
    try:
        return _EXIT_CODE_MEANING[ExitCode(code)]
    except ValueError:
        return "an exit status wsgid does not use (did the application call sys.exit/os._exit?)"
