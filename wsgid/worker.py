"""The daemon process: the child side of the fork, from reset to serving to a graceful exit.

`run()` is called by process.py in the freshly forked child and returns an ExitCode; it never
returns into the supervisor's code (process.py ends the child with os._exit). The steps, in order:

1. reset signal handling: SIGTERM means "stop gracefully", SIGINT and SIGHUP belong to the
   supervisor (Ctrl-C reaches the whole process group; the supervisor then stops us), SIGPIPE is
   ignored; then unblock the signals the supervisor held across fork();
2. set the process title (display-name=, default '(wsgi:GROUP)');
3. the environment: lang=/locale=, python-home= (that virtualenv's site-packages first on
   sys.path), python-path=, home= (chdir; options.py fills it in as mod_wsgi does: the daemon
   user's home when that user is not the Apache user; otherwise the supervisor's directory);
4. drop privileges when started as root: setgroups([]), setgid, setuid; a failed drop exits with
   PRIVILEGE_DROP_FAILED and the process never serves, nor does one that would serve as root;
5. build the RequestHandler (after the drop: the application is loaded as the daemon user),
   preload, start the request threads;
6. wait until SIGTERM or the supervisor's death; stop accepting, let running requests finish for
   up to REQUEST_DRAIN_TIMEOUT, return OK.
"""

import glob
import locale
import os
import pwd
import select
import signal
import site
import sys

from setproctitle import setproctitle

from wsgid import log, sockets
from wsgid.pool import RequestThreadPool
from wsgid.states import ExitCode

logger = log.get_logger("worker")

# The supervisor kills a process that has not exited SHUTDOWN_TIMEOUT (5 s) after SIGTERM; the
# daemon gives its requests a second less, so that it exits by itself and says why.
REQUEST_DRAIN_TIMEOUT = 4.0

# How often the daemon checks that its supervisor is still there (besides PR_SET_PDEATHSIG).
PARENT_CHECK_INTERVAL = 1.0

# Signals the supervisor blocks around fork() so that none is lost or handled by the wrong code.
FORK_BLOCKED_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD})


class _StopRequest:
    """Records SIGTERM (the handler only sets a reason) and wakes the main thread's wait."""

    def __init__(self):
        self.reason = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def _on_sigterm(self, signum, frame):
        if self.reason is None:
            self.reason = "SIGTERM"

    def wait(self, supervisor_pid):
        """Block until a stop is requested; return the reason."""
        while self.reason is None:
            select.select([self._wake_r], [], [], PARENT_CHECK_INTERVAL)
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            if self.reason is None and os.getppid() != supervisor_pid:
                self.reason = "the supervisor exited"
        return self.reason


def run(group, config, listener, supervisor_pid):
    """Serve the group's socket in this (child) process until told to stop; return an ExitCode."""
    stop = _StopRequest()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORK_BLOCKED_SIGNALS)
    if os.getppid() != supervisor_pid:
        return ExitCode.OK    # the supervisor died while forking us: there is nobody to serve for

    setproctitle(group.display_name())
    log.set_process_group(group.name)

    options = group.options
    try:
        _apply_locale(options.get("lang"), options.get("locale"))
        _apply_python_home(options.get("python-home"))
        _apply_python_path(options.get("python-path") or [])
        _change_directory(options.get("home"))
    except OSError as exc:
        logger.error("cannot set up the daemon process environment: %s", exc)
        return ExitCode.SETUP_FAILED

    refusal = _drop_privileges(group)
    if refusal is not None:
        return refusal

    try:
        from wsgid.connection import RequestHandler
        handler = RequestHandler(config, group)
        handler.preload()
    except BaseException:
        logger.exception("cannot load the application for this daemon process")
        return ExitCode.CANNOT_LOAD

    threads = options["threads"]
    pool = RequestThreadPool(listener, handler.handle, threads,
                             sockets.allowed_peer_uids(group.socket_uid),
                             name=f"wsgid-{group.name}")
    pool.start()
    from wsgid import core
    logger.info("daemon process serving as uid %d with %d threads (%s wire core)",
                os.getuid(), threads, core.IMPLEMENTATION)
    if core.CYTHON_IMPORT_ERROR:
        # A broken build must not pass unnoticed as a slow server.
        logger.warning("the Cython wire core is not available (%s); serving with the "
                       "pure-Python twin", core.CYTHON_IMPORT_ERROR)

    reason = stop.wait(supervisor_pid)
    logger.info("daemon process stopping (%s)", reason)
    pool.stop()
    pool.release_listener()
    still_running = pool.join(REQUEST_DRAIN_TIMEOUT)
    if still_running:
        logger.warning("%d requests were still running after %.0fs; exiting without them",
                       still_running, REQUEST_DRAIN_TIMEOUT)
    return ExitCode.OK


def _apply_locale(lang, locale_name):
    # As mod_wsgi does: lang= sets LANG, locale= sets LC_ALL and the C library's locale.
    if lang:
        os.environ["LANG"] = lang
    if locale_name:
        os.environ["LC_ALL"] = locale_name
        try:
            locale.setlocale(locale.LC_ALL, locale_name)
        except locale.Error:
            logger.warning("locale=%s is not available on this system (see `locale -a`); "
                           "keeping the default locale", locale_name)


def _apply_python_home(python_home):
    """Put the virtualenv's site-packages (and its .pth files) first on sys.path."""
    if not python_home:
        return
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site_packages = os.path.join(python_home, "lib", version, "site-packages")
    if not os.path.isdir(site_packages):
        found = sorted(glob.glob(os.path.join(python_home, "lib", "python*", "site-packages")))
        made_for = ", ".join(p.split(os.sep)[-2] for p in found) or "no Python version"
        logger.error("python-home=%s does not match this interpreter: it has site-packages for "
                     "%s, but wsgid runs %s (%s); its packages are not used. Fix: create the "
                     "virtualenv with %s", python_home, made_for, version, sys.executable,
                     sys.executable)
        return
    _prepend_site_dir(site_packages)


def _apply_python_path(directories):
    # Reversed so that the first directory of python-path= ends up first on sys.path.
    for directory in reversed(directories):
        _prepend_site_dir(directory)


def _prepend_site_dir(directory):
    # site.addsitedir also processes .pth files, but appends; the entries it added move to the
    # front so that the configured packages win over the interpreter's own.
    before = list(sys.path)
    site.addsitedir(directory)
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before


def _change_directory(home):
    if home:
        os.chdir(home)


def _drop_privileges(group):
    """Become the group's user when started as root; return an ExitCode to refuse, else None."""
    if os.geteuid() != 0:
        if (group.uid, group.gid) != (os.getuid(), os.getgid()):
            logger.warning("user=/group= are ignored: the supervisor does not run as root, so "
                           "this daemon process runs as uid %d", os.getuid())
        return None
    if group.uid == 0:
        logger.critical("refusing to serve as root: daemon processes must run as an "
                        "unprivileged user; set user= on WSGIDaemonProcess %s", group.name)
        return ExitCode.REFUSED_ROOT
    try:
        os.setgroups([])
        os.setgid(group.gid)
        os.setuid(group.uid)
    except OSError as exc:
        logger.critical("cannot switch to uid %d gid %d: %s; this process will not serve",
                        group.uid, group.gid, exc)
        return ExitCode.PRIVILEGE_DROP_FAILED
    switched = (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) == \
        (group.uid, group.uid, group.gid, group.gid)
    if not switched or _can_regain_root():
        logger.critical("still privileged after switching to uid %d gid %d; this process will "
                        "not serve", group.uid, group.gid)
        return ExitCode.PRIVILEGE_DROP_FAILED
    _set_user_environment(group.uid)
    return None


def _can_regain_root():
    try:
        os.setuid(0)
    except PermissionError:
        return False
    return True


def _set_user_environment(uid):
    # Applications find their files through HOME/USER; after the drop they must name the daemon
    # user, not root.
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return
    os.environ["HOME"] = entry.pw_dir
    os.environ["USER"] = os.environ["LOGNAME"] = entry.pw_name
