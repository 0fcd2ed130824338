"""What mod_wsgi does to a daemon process's Python interpreter before the application loads,
done to the forked daemon process: the server-wide WSGI* Python directives
(config.ServerSettings) and the New Relic options.

daemon.run() calls `prepare()` after the privilege drop and python-home=/python-path=, and
`finish()` when the process ends. The rules:
- WSGIDontWriteBytecode: sys.dont_write_bytecode.
- WSGIPythonWarnings: each filter as `python -W` would add it, in file order (so the last one
  wins, as with several -W). A filter Python refuses is one warning line, not a failed start.
- WSGIRestrictStdin (default On) / WSGIRestrictStdout (default Off): a restricted stream is an
  object every attribute of which raises OSError ("sys.stdin access restricted by wsgid"), as
  mod_wsgi's Restricted object does. sys.stderr, and an unrestricted sys.stdout, become the
  application stream of log.py, as both are mod_wsgi's log object: each printed line is one
  line of the error log, in Apache's format at `error`, with the request's client when a
  request thread prints it. An unrestricted sys.stdin stays what the supervisor inherited.
- The descriptors below sys.stdin and sys.stdout (settle_standard_descriptors, run once by the
  supervisor, so every daemon it forks inherits the choice): mod_wsgid hands the supervisor
  Apache's own. mod_wsgi's daemons keep Apache's stdin; wsgid keeps it, and Apache's stdout
  with it, when WSGIRestrictStdin is Off and that stdin is a terminal (Apache in the foreground
  on one, as `start-server --debug-mode` runs it), so that the application, or a debugger in
  it, can talk with the person at that terminal. Otherwise stdin is /dev/null, never a
  terminal or a pipe that nobody answers, and stdout joins stderr, the error log, where what C
  code and subprocesses write below sys.stdout is kept.
- Python logging: a record of the application's that none of its own handlers takes is written
  at its own level (log.route_application_logging), and the root logger starts at the LogLevel.
- WSGIRestrictSignal (default On): signal.signal() is replaced by an intercept that ignores
  the registration, logs one warning line naming the signal and the caller, and returns the
  handler it was given (mod_wsgi's intercept does the same). wsgid's own handlers are installed
  before it (DaemonLife) or through `original_signal`; a process forked by the application
  gets the real function back. A service group (threads=0) is not restricted, as in mod_wsgi:
  its script owns SIGTERM.
- WSGIDestroyInterpreter (default On): at the end of a daemon process the application's atexit
  callbacks run (what Py_Finalize() does for mod_wsgi); Off skips them. The callbacks the
  supervisor registered before the fork are dropped in the child first: they are not the
  application's.
- newrelic-config-file= / newrelic-environment=: `newrelic.agent.initialize(file, environment)`
  before the application loads, as mod_wsgi 4.6 does; without an importable `newrelic` package,
  one warning line.
"""

import atexit
import os
import signal
import sys
import warnings

from wsgid import log

logger = log.get_logger("interpreter")

# The real signal.signal, for wsgid's own code once the intercept is installed.
original_signal = signal.signal


class Restricted:
    """A stand-in for sys.stdin or sys.stdout that refuses every use."""

    __slots__ = ("_name", "_directive")

    def __init__(self, name, directive):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_directive", directive)

    def __getattribute__(self, attribute):
        name = object.__getattribute__(self, "_name")
        directive = object.__getattribute__(self, "_directive")
        raise OSError(f"{name} access restricted by wsgid (as by mod_wsgi); "
                      f"`{directive} Off` allows it")

    def __setattr__(self, attribute, value):
        self.__getattribute__(attribute)

    def __repr__(self):
        return f"<restricted {object.__getattribute__(self, '_name')}>"


class SignalIntercept:
    """signal.signal() as a daemon's application sees it under WSGIRestrictSignal On."""

    def __init__(self, wrapped, daemon_pid):
        self.wrapped = wrapped
        self.daemon_pid = daemon_pid

    def __call__(self, signalnum, handler):
        if os.getpid() != self.daemon_pid:
            # A child the application forked is its own business.
            return self.wrapped(signalnum, handler)
        caller = sys._getframe(1)
        logger.warning("signal.signal(%s, ...) by the application (%s:%d) ignored: "
                       "WSGIRestrictSignal On keeps the daemon's own signal handling; "
                       "`WSGIRestrictSignal Off` lets applications register handlers",
                       _signal_name(signalnum), caller.f_code.co_filename, caller.f_lineno)
        return handler


def _signal_name(signalnum):
    try:
        return signal.Signals(signalnum).name
    except (ValueError, TypeError):
        return repr(signalnum)


def prepare(server, options, service_mode):
    """Apply the server-wide settings and the group's New Relic options in this daemon
    process, before its application loads."""
    # The supervisor's exit callbacks (registered before the fork) are not the application's.
    atexit._clear()
    sys.dont_write_bytecode = server.dont_write_bytecode
    apply_warning_filters(server.python_warnings)
    restrict_streams(server.restrict_stdin, server.restrict_stdout)
    log.route_application_logging("debug" if server.verbose_debugging else server.log_level)
    if server.restrict_signal and not service_mode:
        signal.signal = SignalIntercept(original_signal, os.getpid())
    initialize_newrelic(options.get("newrelic-config-file"),
                        options.get("newrelic-environment"))


def apply_warning_filters(specs):
    for spec in specs:
        try:
            # The parser `python -W` uses; config.py has checked all but dotted categories.
            warnings._setoption(spec)
        except warnings._OptionError as exc:
            logger.warning("WSGIPythonWarnings %s: %s; this filter is not used", spec, exc)
        except Exception as exc:  # importing a dotted category ran code that failed
            logger.warning("WSGIPythonWarnings %s: the category cannot be imported (%s: %s); "
                           "this filter is not used", spec, type(exc).__name__, exc)


def restrict_streams(restrict_stdin, restrict_stdout):
    if restrict_stdin:
        sys.stdin = Restricted("sys.stdin", "WSGIRestrictStdin")
    if restrict_stdout:
        sys.stdout = Restricted("sys.stdout", "WSGIRestrictStdout")
    log.capture_standard_streams(restrict_stdout)


def settle_standard_descriptors(restrict_stdin):
    """Choose, in the supervisor, what descriptors 0 and 1 are for it and for its daemons.
    Returns True when they stay the terminal Apache was started from."""
    if not restrict_stdin and os.isatty(0):
        return True
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDONLY)
    if devnull != 0:
        os.dup2(devnull, 0)
        os.close(devnull)
    os.dup2(2, 1)
    return False


def initialize_newrelic(config_file, environment):
    if not config_file:
        return
    try:
        import newrelic.agent
    except ImportError as exc:
        logger.warning("newrelic-config-file=%s: the newrelic package cannot be imported (%s); "
                       "the New Relic agent is not started. Fix: install it into the Python "
                       "that runs wsgid (or python-home=)", config_file, exc)
        return
    try:
        newrelic.agent.initialize(config_file, environment)
    except Exception:
        logger.exception("newrelic.agent.initialize(%r, %r) failed; serving without the agent",
                         config_file, environment)


def finish(server):
    """At the end of the daemon process: the application's exit callbacks, unless
    WSGIDestroyInterpreter Off."""
    if not server.destroy_interpreter:
        return
    try:
        atexit._run_exitfuncs()
    except BaseException:
        logger.exception("an atexit callback of the application raised")


def flush_standard_streams():
    """Flush stdout and stderr as the process leaves; a restricted sys.stdout is not the
    process's stdout, so the real ones (sys.__stdout__, sys.__stderr__) are flushed."""
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
