"""The vocabulary of the process lifecycle: daemon process states and their exit codes.

Rules:
- A daemon process handle moves only along ALLOWED_TRANSITIONS; `ProcessHandle.change_state()`
  (process.py) is the one place that checks it, so an impossible move is a bug that shows at once.
- A daemon process reports why it ended with one of the ExitCode values; the supervisor turns the
  code back into words for the log with `describe_exit_code()`.
- Shutdown reasons are mod_wsgi's words (docs/design.md, contract 6), plus memory_limit; they are what
  the `process_stopping` event carries and what the log lines say.
"""

import dataclasses
import enum


class ProcessState(enum.Enum):
    """Where one daemon process (one pid) is in its life, as the supervisor sees it."""

    STARTING = "starting"   # forked; has not yet stayed up for the startup window
    RUNNING = "running"     # stayed up past the startup window
    STOPPING = "stopping"   # told to stop (SIGTERM, SIGUSR1, or its recycle granted: SIGUSR2);
                            # will be killed if it overstays
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
    STARTUP_TIMEOUT = 8     # not ready (preloads done) within startup-timeout


_EXIT_CODE_MEANING = {
    ExitCode.OK: "stopped normally",
    ExitCode.ERROR: "an unexpected error in the daemon process; see the lines above",
    ExitCode.CANNOT_LOAD: "the application could not be loaded; see the lines above",
    ExitCode.PRIVILEGE_DROP_FAILED: "it could not switch to the configured user/group",
    ExitCode.REFUSED_ROOT: "it refused to serve as root",
    ExitCode.SETUP_FAILED: "its environment could not be set up; see the lines above",
    ExitCode.STARTUP_TIMEOUT: "it was not ready within startup-timeout; see the lines above",
}


def describe_exit_code(code):
    """Words for the log: what a daemon process's exit status means."""
    try:
        return _EXIT_CODE_MEANING[ExitCode(code)]
    except ValueError:
        return "an exit status wsgid does not use (did the application call sys.exit/os._exit?)"


class ShutdownReason:
    """Why a daemon process stops: the `shutdown_reason` of the process_stopping event."""

    SHUTDOWN_SIGNAL = "shutdown_signal"        # the supervisor stops (SIGTERM), or it died
    GRACEFUL_SIGNAL = "graceful_signal"        # SIGUSR1 to the supervisor, or a reload
    MAXIMUM_REQUESTS = "maximum_requests"
    RESTART_INTERVAL = "restart_interval"
    INACTIVITY_TIMEOUT = "inactivity_timeout"
    REQUEST_TIMEOUT = "request_timeout"
    STARTUP_TIMEOUT = "startup_timeout"
    DEADLOCK_TIMEOUT = "deadlock_timeout"      # never delivered: the process is killed
    CPU_TIME_LIMIT = "cpu_time_limit"
    MEMORY_LIMIT = "memory_limit"
    SCRIPT_CHANGED = "script_changed"          # WSGIScriptReloading: a loaded script changed
    RESTART_SIGNAL = "restart_signal"          # the process sent itself SIGINT

    # The ones a daemon process may ask for on its supervisor channel ("recycle REASON").
    RECYCLES = frozenset({MAXIMUM_REQUESTS, RESTART_INTERVAL, INACTIVITY_TIMEOUT, REQUEST_TIMEOUT,
                          CPU_TIME_LIMIT, MEMORY_LIMIT, SCRIPT_CHANGED, RESTART_SIGNAL})


# Added to the time a stopping daemon may take by its own account (drain + shutdown-timeout),
# so that a daemon that keeps its word always exits before the supervisor's SIGKILL.
KILL_MARGIN = 1.0


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """The group options that bound a daemon process's life (seconds; 0 turns a check off)."""

    graceful: float = 15.0
    eviction: float = 0.0
    shutdown: float = 5.0
    deadlock: float = 300.0
    startup: float = 0.0

    @classmethod
    def from_options(cls, options):
        return cls(graceful=options["graceful-timeout"], eviction=options["eviction-timeout"],
                   shutdown=options["shutdown-timeout"], deadlock=options["deadlock-timeout"],
                   startup=options["startup-timeout"])

    def drain(self, reason):
        """How long a process stopping for `reason` waits for its running requests before
        shutdown-timeout starts. A stop is not a recycle: as under mod_wsgi, a process stopped
        with the server (shutdown_signal) gets shutdown-timeout only, so `apachectl stop`
        stays quick; recycles drain for graceful-timeout (eviction-timeout for graceful_signal
        when set)."""
        if reason == ShutdownReason.SHUTDOWN_SIGNAL:
            return 0.0
        if reason == ShutdownReason.GRACEFUL_SIGNAL and self.eviction > 0:
            return self.eviction
        return self.graceful

    def stop_timeout(self, reason):
        """From "stop" to SIGKILL: the drain, then shutdown-timeout, then a margin."""
        return self.drain(reason) + self.shutdown + KILL_MARGIN
