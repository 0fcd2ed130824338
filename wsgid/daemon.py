"""The daemon process: the child side of the fork, from reset to serving to a graceful exit.

`run()` is called by process.py in the freshly forked child and returns an exit status; it never
returns into the supervisor's code (process.py ends the child with os._exit). The steps, in order:

1. signal handling (docs/signals.md): SIGTERM, SIGUSR1 and SIGUSR2 mean "stop" (for
   shutdown_signal, graceful_signal, and "the recycle you asked for is granted"); SIGXCPU
   (cpu-time-limit reached) asks for a recycle and never kills; SIGINT asks for a recycle too
   (restart_signal: mod_wsgi's way for an application to restart its process; a Ctrl-C at a
   terminal does not reach us, process.py gives each daemon its own process group); SIGHUP
   belongs to the supervisor and SIGPIPE is ignored. Then the signals the supervisor held across fork() are unblocked;
2. set the process title (display-name=, default '(wsgi:GROUP)');
3. the environment: lang=/locale=, home= (chdir; options.py fills it in as mod_wsgi does: the
   daemon user's home when that user is not the Apache user; otherwise the supervisor's
   directory);
4. process settings: umask=, cpu-priority=, virtual-memory-limit= (RLIMIT_AS), cpu-time-limit=
   (RLIMIT_CPU soft limit: the kernel's SIGXCPU, not its SIGKILL, is what we act on);
5. drop privileges when started as root: the supplementary groups (supplementary-groups=, or
   as mod_wsgi does without it, the user's groups in the group database), setgid, setuid; a
   failed drop exits with PRIVILEGE_DROP_FAILED and the process never serves, nor does one that
   would serve as root or could become root again. Nothing before this step runs code from
   the application's directories;
6. python-home= (that virtualenv's site-packages first on sys.path; this Python's own prefix
   adds nothing; anything else is a warning) and python-path= (an entry that does not exist or
   is a file is a warning, and is added anyway, as in mod_wsgi): after the drop, because their
   .pth files run code as whoever processes them. Then python-eggs= (PYTHON_EGG_CACHE) and
   the interpreter settings of interpreter.py (WSGIDontWriteBytecode, WSGIPythonWarnings,
   WSGIRestrictStdin/Stdout/Signal, newrelic-config-file=); WSGIVerboseDebugging makes this
   process log at debug level;
7. the in-process API (api.init_process), the RequestHandler (after the drop: the application
   is loaded as the daemon user), the monitor thread (monitor.py: heartbeats, limits,
   startup-timeout, request-timeout), the preloads, the request threads; then `ready` on the
   supervisor channel. With threads=0 (service mode) service.run() runs the import scripts in
   this thread instead, and its result is the exit status;
8. wait until told to stop (a signal, the supervisor's death, or startup-timeout from the
   monitor), then: stop accepting → process_stopping event → running requests get the drain
   time of a recycle (graceful-timeout; eviction-timeout for graceful_signal when set; none for
   a plain stop, shutdown_signal) → then up to shutdown-timeout more → the application's
   atexit callbacks (WSGIDestroyInterpreter On, the default) → return OK. The supervisor's
   SIGKILL comes only after all of that plus a margin (group.py), so a daemon that is not
   stuck always ends by itself.

The request threads get stack-size= as their stack size (threading.stack_size while they are
created; other threads keep the default), and the accept loop sets send-buffer-size= /
receive-buffer-size= on each accepted connection (Linux does not copy them from the listener).
"""

import glob
import logging
import locale
import math
import os
import pwd
import resource
import select
import signal
import site
import sys
import threading
import time

from setproctitle import setproctitle

from wsgid import interpreter, log, sockets
from wsgid.channel import READY, RECYCLE
from wsgid.monitor import Limits, Monitor, format_thread_stacks
from wsgid.pool import RequestThreadPool
from wsgid.states import ExitCode, ShutdownReason, Timeouts

logger = log.get_logger("daemon")

# How often the daemon checks that its supervisor is still there (besides PR_SET_PDEATHSIG).
PARENT_CHECK_INTERVAL = 1.0

# How often the drain looks at the running requests.
DRAIN_POLL = 0.05

# Signals the supervisor blocks around fork() so that none is lost or handled by the wrong code.
FORK_BLOCKED_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1,
                                  signal.SIGUSR2, signal.SIGCHLD})


class DaemonLife:
    """When and why this process stops; the main thread waits on it.

    Signal handlers and the monitor thread only record a reason and wake the main thread (or,
    in service mode, hand the stop to the service script as a SIGTERM).
    """

    def __init__(self, channel, options, supervisor_pid):
        self.channel = channel
        self.options = options
        self.supervisor_pid = supervisor_pid
        self.stop_reason = None       # the shutdown reason once told to stop
        self.recycle_reason = None    # what we asked the supervisor for
        self.cpu_time_exceeded = False
        self.pool = None
        self._stopped_accepting = False
        self._restart_signalled = False
        self.service_mode = False
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        signal.set_wakeup_fd(self._wake_w)
        # The real function: WSGIRestrictSignal's intercept is for the application only.
        install = interpreter.original_signal
        install(signal.SIGTERM, self._on_stop_signal)
        install(signal.SIGUSR1, self._on_stop_signal)
        install(signal.SIGUSR2, self._on_stop_signal)
        install(signal.SIGXCPU, self._on_cpu_time_limit)
        install(signal.SIGINT, self._on_restart_signal)
        install(signal.SIGHUP, signal.SIG_IGN)
        install(signal.SIGPIPE, signal.SIG_IGN)
        install(signal.SIGCHLD, signal.SIG_DFL)

    # -- signals (main thread) ----------------------------------------------------------------

    def _on_stop_signal(self, signum, frame):
        if signum == signal.SIGTERM:
            reason = ShutdownReason.SHUTDOWN_SIGNAL
        elif signum == signal.SIGUSR1:
            reason = ShutdownReason.GRACEFUL_SIGNAL
        else:
            reason = self.recycle_reason   # SIGUSR2: granted what we asked for
            if reason is None:
                return    # not ours to act on: we asked for nothing
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        if self.service_mode and signum != signal.SIGTERM:
            # The service script owns SIGTERM (service.py): a recycle ends it the same way.
            _emit_process_stopping(reason)
            os.kill(os.getpid(), signal.SIGTERM)

    def _on_restart_signal(self, signum, frame):
        # os.kill(os.getpid(), signal.SIGINT): mod_wsgi's documented way for an application (a
        # restart URL, a monitor of its code) to restart its own daemon process; wait() asks
        # for the recycle, since a handler must not take the lock a request thread may hold.
        self._restart_signalled = True

    def _on_cpu_time_limit(self, signum, frame):
        # The kernel repeats SIGXCPU every CPU second past the soft limit; one recycle is enough.
        self.cpu_time_exceeded = True

    # -- the monitor's requests (monitor thread) ------------------------------------------------

    def ask_recycle(self, reason, words, stop_accepting):
        """Ask once (later calls, from any thread, add nothing but a stop not made yet)."""
        with self._lock:
            first = self.recycle_reason is None
            if first:
                self.recycle_reason = reason
            stop_now = stop_accepting and self.pool is not None and not self._stopped_accepting
            if stop_now:
                self._stopped_accepting = True
                # Before any I/O (a log line, the channel): while this thread writes, the others
                # would go on taking connections this process no longer wants.
                self.pool.stop()
        if first:
            logger.info("asking the supervisor to recycle this daemon process (%s: %s)",
                        reason, words)
            self.channel.send(RECYCLE, reason)
        if stop_now:
            # A limit reached is routine; a request that ran past request-timeout is not.
            (logger.warning if reason == ShutdownReason.REQUEST_TIMEOUT else logger.info)(
                "stopped accepting requests (%s); waiting for the supervisor's go-ahead",
                reason)

    def startup_timed_out(self, words):
        lines = [f"startup-timeout: this daemon process is {words}; ending it. Stack of every "
                 "thread follows"] + format_thread_stacks()
        logger.error("%s", "\n".join(lines))
        _emit_process_stopping(ShutdownReason.STARTUP_TIMEOUT)
        interpreter.flush_standard_streams()
        os._exit(ExitCode.STARTUP_TIMEOUT)

    # -- the main thread's wait ---------------------------------------------------------------

    def supervisor_gone(self):
        return os.getppid() != self.supervisor_pid

    def wait(self):
        """Block until told to stop; return the shutdown reason."""
        while self.stop_reason is None:
            select.select([self._wake_r], [], [], PARENT_CHECK_INTERVAL)
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            if self.stop_reason is None and self.supervisor_gone():
                logger.warning("the supervisor exited; stopping")
                self.stop_reason = ShutdownReason.SHUTDOWN_SIGNAL
            if self._restart_signalled:
                self._restart_signalled = False
                self.ask_recycle(ShutdownReason.RESTART_SIGNAL,
                                 "it received SIGINT, a restart its application asked for",
                                 stop_accepting=False)
        return self.stop_reason

    def drain_timeout(self, reason):
        """How long running requests may take once stopping, before shutdown-timeout starts."""
        if self.supervisor_gone():
            return 0.0    # nobody will replace us: be gone within shutdown-timeout
        # The same rule the supervisor uses for its SIGKILL deadline (states.Timeouts).
        return Timeouts.from_options(self.options).drain(reason)


def _emit_process_stopping(reason):
    from wsgid import api
    api.emit_process_stopping(reason)


def run(group, config, listener, supervisor_pid, channel):
    """Serve the group's socket in this (child) process until told to stop; return the exit
    status (an ExitCode, or in service mode what the service script's run gave)."""
    started_at = time.monotonic()
    options = group.options
    life = DaemonLife(channel, options, supervisor_pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORK_BLOCKED_SIGNALS)
    if life.supervisor_gone():
        return ExitCode.OK    # the supervisor died while forking us: there is nobody to serve for

    setproctitle(group.display_name())
    log.set_process_group(group.name)
    server = config.server
    log.apply_settings("debug" if server.verbose_debugging else server.log_level,
                       server.error_log_format)
    if server.verbose_debugging:
        logger.debug("WSGIVerboseDebugging On: this daemon process logs at debug level")

    try:
        _apply_locale(options.get("lang"), options.get("locale"))
        _change_directory(options.get("home"))
        _apply_process_settings(options)
    except OSError as exc:
        logger.error("cannot set up the daemon process environment: %s", exc)
        return ExitCode.SETUP_FAILED

    refusal = _drop_privileges(group)
    if refusal is not None:
        return refusal

    try:
        # After the drop: .pth files on these directories run code, and whoever may write
        # there must not get to run it as root.
        _apply_python_home(options.get("python-home"))
        _apply_python_path(options.get("python-path") or [])
    except OSError as exc:
        logger.error("cannot set up the daemon process environment: %s", exc)
        return ExitCode.SETUP_FAILED
    if options.get("python-eggs"):
        os.environ["PYTHON_EGG_CACHE"] = options["python-eggs"]

    threads = options["threads"]
    try:
        interpreter.prepare(server, options, service_mode=threads == 0)
        logger.debug("interpreter prepared: sys.path=%s", sys.path)
        from wsgid import api
        api.init_process(group.name, options["processes"], threads,
                         server_metrics=options.get("server-metrics", False),
                         apache=config.apache)
        log.set_request_lookup(api.current_environ)
        from wsgid.connection import RequestHandler
        handler = RequestHandler(config, group)
        # Script reloading: this process is replaced, and takes no new connection meanwhile.
        handler.on_script_changed = lambda path: life.ask_recycle(
            ShutdownReason.SCRIPT_CHANGED, f"{path} changed since it was loaded",
            stop_accepting=True)
    except BaseException:
        logger.exception("cannot load the application for this daemon process")
        return ExitCode.CANNOT_LOAD

    monitor = Monitor(_limits_for(options), started_at, channel, actions=life)
    monitor.attach(handler)
    # Started before the preloads: startup-timeout must be able to end a preload that hangs.
    monitor.start()

    if threads == 0:
        code = _run_service(config, group, handler, monitor, life)
        interpreter.finish(server)
        return code

    try:
        handler.preload()
    except BaseException:
        logger.exception("cannot load the application for this daemon process")
        return ExitCode.CANNOT_LOAD

    from wsgid import core
    # header-buffer-size=: the largest response head the group's applications may send
    core.set_response_head_limit(options.get("header-buffer-size", 0))
    pool = RequestThreadPool(listener, handler.handle, threads,
                             sockets.allowed_peer_uids(group.socket_uid),
                             name=f"wsgid-{group.name}",
                             send_buffer_size=options.get("send-buffer-size", 0),
                             receive_buffer_size=options.get("receive-buffer-size", 0))
    life.pool = pool
    _limit_accepts(pool, life, options["maximum-requests"], threads)
    # Said before the threads start, so that it precedes every line of the requests they serve.
    logger.info("daemon process serving as uid %d with %d threads (%s wire core)",
                os.getuid(), threads, core.IMPLEMENTATION)
    _start_request_threads(pool, options.get("stack-size", 0))
    monitor.mark_ready()
    channel.send(READY)
    if core.CYTHON_IMPORT_ERROR:
        # A broken build must not pass unnoticed as a slow server.
        logger.warning("the Cython wire core is not available (%s); serving with the "
                       "pure-Python twin", core.CYTHON_IMPORT_ERROR)

    reason = life.wait()
    code = _stop(reason, life, pool, handler, monitor)
    interpreter.finish(server)
    return code


def _limit_accepts(pool, life, limit, threads):
    """maximum-requests=N: the process accepts N requests and no more, as mod_wsgi counts them.
    Its replacement is asked for a little before (a tenth of N, at least `threads` requests
    before), so that it is ready when this process stops taking requests at the Nth."""
    if not limit:
        return
    near = max(1, limit - max(threads, limit // 10))
    pool.limit_accepts(
        limit, near,
        lambda: life.ask_recycle(ShutdownReason.MAXIMUM_REQUESTS,
                                 f"{near} of maximum-requests={limit} accepted: its replacement "
                                 "starts now", stop_accepting=False),
        lambda: life.ask_recycle(ShutdownReason.MAXIMUM_REQUESTS,
                                 f"maximum-requests={limit} accepted", stop_accepting=True))


def _start_request_threads(pool, stack_size):
    """Start the pool; with stack-size=, its threads (and only they) get that stack size."""
    if not stack_size:
        pool.start()
        return
    try:
        previous = threading.stack_size(stack_size)
    except ValueError as exc:
        logger.warning("stack-size=%d is refused by this system (%s); the request threads keep "
                       "the default stack size. Fix: use at least 32768, a multiple of 4096",
                       stack_size, exc)
        pool.start()
        return
    try:
        pool.start()
    finally:
        threading.stack_size(previous)
    logger.debug("request threads started with a stack of %d bytes", stack_size)


def _limits_for(options):
    limits = Limits.from_options(options)
    if options["threads"] == 0:
        # Service mode serves no requests: only the limits on the process itself apply.
        limits = Limits(restart_interval=limits.restart_interval,
                        startup_timeout=limits.startup_timeout,
                        memory_limit=limits.memory_limit)
    return limits


def _run_service(config, group, handler, monitor, life):
    """threads=0: the import scripts run in this thread; their end is the process's end."""
    life.service_mode = True
    monitor.mark_ready()
    life.channel.send(READY)
    logger.info("daemon process running its service scripts as uid %d", os.getuid())
    from wsgid import service
    # A plain SIGTERM (a stop) reaches the script as SystemExit; process_stopping goes first.
    # A granted recycle has already delivered it with its own reason (it is sent once only).
    code = service.run(config, group, handler.loader,
                       on_stop=lambda: _emit_process_stopping(ShutdownReason.SHUTDOWN_SIGNAL))
    return ExitCode.OK if code is None else code


def _stop(reason, life, pool, handler, monitor):
    """Stop accepting, tell the application, let running requests finish, within bounds."""
    logger.info("daemon process stopping (%s)", reason)
    # Without a supervisor nobody else serves the socket: what is queued is served here.
    pool.stop(finish_backlog=life.supervisor_gone())
    pool.release_listener()
    _emit_process_stopping(reason)

    def still_running():
        # Threads, not requests: a thread that has accepted a connection (one queued in the
        # backlog, say) has no request in running() until handle() has read its packet, and
        # exiting in between would reset that connection, a 502. Threads stuck in requests
        # already answered 504 by request-timeout are not worth waiting for.
        stuck = monitor.timed_out_requests
        abandoned = sum(1 for r in handler.running() if r.request_id in stuck) if stuck else 0
        return max(0, pool.threads_in_loop() - abandoned)

    drain = life.drain_timeout(reason)
    shutdown = life.options["shutdown-timeout"]
    left = _wait_until_idle(still_running, drain)
    if left and drain > 0:
        logger.warning("%d requests still running after %.1fs (%s); waiting up to "
                       "shutdown-timeout=%.1fs more", left, drain,
                       "eviction-timeout" if drain != life.options["graceful-timeout"]
                       else "graceful-timeout", shutdown)
    if left:
        left = _wait_until_idle(still_running, shutdown)
        if left:
            logger.warning("%d requests still running after shutdown-timeout; exiting "
                           "without them", left)
    monitor.stop()
    return ExitCode.OK


def _wait_until_idle(count_running, timeout):
    """Poll count_running() until 0 or timeout; return the last count."""
    deadline = time.monotonic() + timeout
    # Idle threads leave within a millisecond of stop(): the first looks come soon after.
    pause = 0.001
    while True:
        left = count_running()
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, DRAIN_POLL)


def _apply_process_settings(options):
    """umask=, cpu-priority=, virtual-memory-limit=, cpu-time-limit=; OSError when refused."""
    if options["umask"] is not None:
        os.umask(options["umask"])
    if options["cpu-priority"]:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, options["cpu-priority"])
        except PermissionError:
            # Only root may raise priority (a negative value); lowering it always works.
            logger.warning("cpu-priority=%d: not permitted without root; keeping priority %d",
                           options["cpu-priority"], os.getpriority(os.PRIO_PROCESS, 0))
    if options["virtual-memory-limit"]:
        _lower_soft_limit(resource.RLIMIT_AS, options["virtual-memory-limit"],
                          "virtual-memory-limit")
    if options["cpu-time-limit"]:
        _lower_soft_limit(resource.RLIMIT_CPU, math.ceil(options["cpu-time-limit"]),
                          "cpu-time-limit")


def _lower_soft_limit(which, value, option):
    # The hard limit stays: at the hard CPU limit the kernel kills with SIGKILL, so only the
    # soft limit (SIGXCPU, which we handle) is ours to set.
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY and value > hard:
        logger.warning("%s=%d is above the hard limit %d; using %d", option, value, hard, hard)
        value = hard
    try:
        resource.setrlimit(which, (value, hard))
    except (ValueError, OSError) as exc:
        raise OSError(f"{option}={value}: setrlimit failed: {exc}") from exc


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
    from wsgid.options import is_own_prefix, site_packages_dir
    if is_own_prefix(python_home):
        # mod_wsgi's python-home=/usr on a system Python: its packages are on sys.path already.
        logger.debug("python-home=%s is this interpreter's own prefix: nothing to add",
                     python_home)
        return
    site_packages = site_packages_dir(python_home)
    if not os.path.isdir(site_packages):
        found = sorted(glob.glob(os.path.join(python_home, "lib", "python*", "site-packages")))
        made_for = ", ".join(p.split(os.sep)[-2] for p in found) or "no Python version"
        logger.warning("python-home=%s is not a virtual environment of this interpreter: it "
                       "has site-packages for %s, but wsgid runs %s (%s); its packages are not "
                       "used. Fix: create the virtualenv with `%s -m venv %s`, or point "
                       "python-home= at one", python_home, made_for,
                       site_packages.split(os.sep)[-2], sys.executable,
                       sys.executable, python_home)
        return
    _prepend_site_dir(site_packages)


def _apply_python_path(directories):
    for directory in directories:
        if not os.path.isdir(directory):
            what = "is a file" if os.path.exists(directory) else "does not exist"
            logger.warning("python-path= entry %s %s; it is added to sys.path anyway, as "
                           "mod_wsgi does. Fix: correct python-path= or create the directory",
                           directory, what)
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
    configured = list(group.options.get("supplementary-groups") or ())
    if os.geteuid() != 0:
        if (group.uid, group.gid) != (os.getuid(), os.getgid()):
            logger.warning("user=/group= are ignored: the supervisor does not run as root, so "
                           "this daemon process runs as uid %d", os.getuid())
        if configured:
            logger.warning("supplementary-groups= is ignored: the supervisor does not run as "
                           "root")
        return None
    if group.uid == 0:
        logger.critical("refusing to serve as root: daemon processes must run as an "
                        "unprivileged user; set user= on WSGIDaemonProcess %s", group.name)
        return ExitCode.REFUSED_ROOT
    try:
        supplementary = configured or _groups_in_database(group.uid, group.gid)
        os.setgroups(supplementary)     # before setuid: afterwards it is not permitted
        os.setgid(group.gid)
        os.setuid(group.uid)
    except OSError as exc:
        logger.critical("cannot switch to uid %d gid %d: %s; this process will not serve",
                        group.uid, group.gid, exc)
        return ExitCode.PRIVILEGE_DROP_FAILED
    switched = os.getresuid() == (group.uid,) * 3 and os.getresgid() == (group.gid,) * 3 and \
        set(os.getgroups()) == set(supplementary)
    if not switched or _can_regain_root():
        logger.critical("still privileged after switching to uid %d gid %d; this process will "
                        "not serve", group.uid, group.gid)
        return ExitCode.PRIVILEGE_DROP_FAILED
    _set_user_environment(group.uid)
    return None


def _groups_in_database(uid, gid):
    """The supplementary groups without supplementary-groups=: as mod_wsgi's initgroups(), the
    user's groups in the group database and gid; none for a uid without a passwd entry."""
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return []
    return os.getgrouplist(name, gid)


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
