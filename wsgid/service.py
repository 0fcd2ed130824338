"""Service mode: a daemon process of a `threads=0` group runs its WSGIImportScript scripts.

mod_wsgi 4.6 added this mode for managed tasks: the process serves no requests; it runs the
group's import scripts in its main thread, in the main interpreter (`application-group=%{GLOBAL}`,
which config.py enforces), and exits when they are done. The supervisor then starts a new
process, with back-off when it keeps exiting quickly (group.py).

`run()` is called by daemon.py in the daemon's main thread, after the privilege drop, instead of
starting request threads. Its rules:
- SIGTERM (a stop or recycle from the supervisor, or the supervisor's death through
  PR_SET_PDEATHSIG) raises SystemExit(0) in the main thread, once: the script can catch it to
  clean up; later SIGTERMs are ignored so that they cannot interrupt that clean-up (the
  supervisor's shutdown-timeout is the backstop). A handler the script installs with
  signal.signal() simply replaces this one.
- The scripts run in file order, each into the %{GLOBAL} copy through the loader. The next one
  starts when the previous one returns; a script that raises ends the process at once.
- The result is the process's exit status: 0 when every script returned, or one ended with
  SystemExit(0) or None (the stop above included); 1 for any other SystemExit or an exception,
  logged with its traceback.
- A script may os.exec*() another program: that program keeps the daemon's pid, so it stays the
  supervisor's child and gets SIGTERM at stop like any daemon process. It inherits what exec
  keeps: ignored SIGINT, SIGHUP and SIGPIPE, the daemon's user, directory and environment.
"""

import signal
import threading

from wsgid import log
from wsgid.loader import ScriptLoadError
from wsgid.states import ExitCode

logger = log.get_logger("service")


class _SigtermRaisesSystemExit:
    """The SIGTERM handler of a service process: SystemExit in the main thread, the first time."""

    def __init__(self, on_stop):
        self.armed = True
        self.on_stop = on_stop

    def __call__(self, signum, frame):
        if not self.armed:
            return
        self.armed = False
        if self.on_stop is not None:
            try:
                self.on_stop()
            except Exception:
                logger.exception("the stop callback of the service failed; stopping anyway")
        raise SystemExit(0)


def run(config, group, loader, on_stop=None):
    """Run the service scripts of `group` (threads=0) in this thread; return the exit status.

    `on_stop`, if given, is called (in this thread, once) when the first SIGTERM arrives, just
    before SystemExit is raised in the script: the daemon's hook for its process_stopping event.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("service.run() must run in the main thread: only it gets signals")
    scripts = config.import_scripts_for(group.name)
    on_sigterm = _SigtermRaisesSystemExit(on_stop)
    signal.signal(signal.SIGTERM, on_sigterm)
    # Nobody reads the daemon's wake-up pipe while a script runs; a long-lived service must not
    # fill it with one byte per signal.
    signal.set_wakeup_fd(-1)
    script = None
    failure = None
    try:
        for script in scripts:
            logger.info("running service script %s", script.path)
            loader.load_import_script(script)
            logger.info("service script %s returned", script.path)
    except BaseException as error:   # the script's, or SystemExit from SIGTERM between scripts
        failure = error
    finally:
        # Disarmed before anything is logged: a late SIGTERM must not cut the report short.
        on_sigterm.armed = False
    if failure is None:
        logger.info("service scripts finished; this daemon process exits and the supervisor "
                    "starts a new one")
        return ExitCode.OK
    if isinstance(failure, ScriptLoadError) and failure.__cause__ is not None:
        return _status_of_failure(failure.__cause__, failure, script)
    return _status_of_failure(failure, failure, script)


def _status_of_failure(cause, error, script):
    where = script.path if script is not None else "(before the first script)"
    if isinstance(cause, SystemExit):
        if cause.code in (None, 0):
            logger.info("service script %s ended with SystemExit", where)
            return ExitCode.OK
        logger.error("service script %s called sys.exit(%r); the daemon process exits with "
                     "status %d", where, cause.code, ExitCode.ERROR)
        return ExitCode.ERROR
    exc_info = (type(cause), cause, cause.__traceback__) if cause is not None else None
    logger.error("service script %s failed: %s; the daemon process exits with status %d",
                 where, error, ExitCode.ERROR, exc_info=exc_info)
    return ExitCode.ERROR
