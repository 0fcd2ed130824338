"""`wsgid supervise`: own the daemon groups' sockets, run their processes, obey signals.

The lifecycle reads top-down: supervisor (this file: sockets, signals, reload) → group.py (one
group's processes, replacement, back-off) → process.py (one pid; the one fork()) → daemon.py (the
child) → pool.py (its request threads).

Rules:
- Single-threaded, so that fork() is safe. Signal handlers only queue the signal (and Python's
  wake-up fd interrupts the wait); the main loop dispatches handle_<signal>.
- The supervisor binds every group's socket before forking and keeps it for the group's whole
  life, across process deaths, restarts and reloads that keep the path: no queued connection is
  lost. A socket file is removed only when no group uses that path any more, or at exit.
- Managed mode (--managed-by PID, the Apache parent): exit as on SIGTERM when that parent dies,
  through PR_SET_PDEATHSIG and a check of the parent at every tick of the loop.
- Graceful restarts lose no request (docs/internals.md, "Graceful restarts"): a group that leaves
  the configuration on a reload (removed, or moved to a new socket path, as every group is at
  each Apache generation with WSGISocketRotation On) is *held*: it keeps serving, unchanged, as
  long as an Apache child that was running at the reload (mod_wsgid lists them in FILE.children)
  may still connect to its socket, at most OLD_CHILDREN_WAIT; then it retires like any other
  (held_groups.py decides who is held and for how long).

- The loop also waits on every daemon process's channel (channel.py) and hands what they say
  (ready, heartbeat, recycle REASON) to their group, which does the staggering and the watchdog
  work (group.py).
- And on the control socket (control.py, FILE + ".control"), where `wsgid status` asks for a
  snapshot of the groups and their processes; control.py serves it without ever blocking.
- And, while a group backs off because its processes keep failing to start, on that group's
  socket: backoff_answer.py answers the waiting connections 503 instead of letting them wait
  for socket-timeout.
- And on each group socket's health twin (health.py, PATH.hc for PATH.sock), where mod_wsgid's
  `wsgid-health` handler asks whether the group has a process ready; answered at accept.
- External mode under systemd (notify.py): READY=1 once every process of every group has said
  `ready`, RELOADING=1 then READY=1 around a reload (the second READY=1 once the groups it
  started are ready), STOPPING=1 when a stop begins.

Signals (docs/signals.md):
  SIGTERM, SIGINT  graceful stop: SIGTERM to the daemons (shutdown_signal), SIGKILL to those
                   still there after graceful-timeout + shutdown-timeout (+ a margin), exit 0
  SIGHUP           reload the configuration file; changed groups are replaced gracefully
  SIGUSR1          graceful restart: every daemon process is replaced, one at a time per group
  SIGCHLD          reap daemon processes and replace them
"""

import dataclasses
import os
import select
import signal
import sys
import time

from setproctitle import setproctitle

from wsgid import control, group_log, health, interpreter, log, notify, process, sockets
from wsgid.backoff_answer import BackoffAnswerer
from wsgid.errors import ConfigError
from wsgid.group import Group
from wsgid.held_groups import ApacheChildren, HeldGroups
from wsgid.states import ShutdownReason

logger = log.get_logger("supervisor")

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD)

# The longest the loop sleeps when nothing is due: how quickly a dead Apache parent is noticed
# when the death signal did not arrive.
TICK = 1.0

# After the last SIGKILL, how long to wait for the kernel to hand back the bodies before exiting
# anyway (a process stuck in uninterruptible sleep cannot be waited for).
REAP_GRACE = 2.0


def follow_main_log(path):
    """ErrorLog: the supervisor's stderr is that file as its path names it now (group_log.py);
    True when that changed it. A file that cannot be opened leaves stderr as it is."""
    if path is None:
        return False
    try:
        return group_log.follow_main_log(path)
    except OSError as exc:
        logger.error("ErrorLog %s cannot be opened (%s); still writing where the supervisor "
                     "was started to. Fix: make its directory exist and be writable by the "
                     "supervisor's user", path, exc.strerror)
        return False


def main(config_path, managed_by=None):
    """Run the supervisor for the configuration file; return the exit status.

    0: stopped by a signal (or its Apache parent died); 1: a group's socket could not be bound;
    2: the configuration file is wrong (its message is printed on stderr).
    """
    log.setup()
    from wsgid import config as config_file
    try:
        config = config_file.load(config_path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{config_path}: cannot read the daemon configuration: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    log.apply_settings(config.server.log_level, config.server.error_log_format)
    # Before anything is bound or taken from the environment: the new program starts over.
    reexec_for_interpreter_flags(config.server)
    interpreter.settle_standard_descriptors(config.server.restrict_stdin)
    follow_main_log(config.server.error_log)
    apache_children = ApacheChildren(config_path, managed_by) if managed_by is not None else None
    # Taken out of the environment before the first fork, in both modes (notify.py).
    notifier = notify.Notifier.from_environment(use=managed_by is None)
    return Supervisor(config_path, config, managed_by, apache_children=apache_children,
                      notifier=notifier).run()


# Set in the environment of the re-executed supervisor: it never re-executes again, whatever
# its flags turned out to be (a -E interpreter ignores PYTHONHASHSEED, say).
REEXEC_MARK = "WSGID_REEXECUTED"


def interpreter_flag_changes(server, flags=None, environ=None):
    """What the running interpreter lacks of WSGIPythonOptimize / WSGIPythonHashSeed: a list of
    (what, wanted) words for the log; [] when it runs as the file asks."""
    flags = flags if flags is not None else sys.flags
    environ = environ if environ is not None else os.environ
    changes = []
    if server.python_optimize is not None and flags.optimize != server.python_optimize:
        changes.append(("optimize level", f"{flags.optimize} -> {server.python_optimize}"))
    if server.python_hash_seed is not None:
        running = environ.get("PYTHONHASHSEED", "random") if not flags.ignore_environment \
            else "random"
        if running != server.python_hash_seed:
            changes.append(("hash seed", f"{running} -> {server.python_hash_seed}"))
    return changes


def reexec_argv(server, orig_argv, optimize_now):
    """The command line that runs this supervisor again with WSGIPythonOptimize: the original
    one (sys.orig_argv) with its -O flags replaced."""
    interpreter, *rest = orig_argv
    options, index = [], 0
    # The interpreter's own options come before the script, -m or -c.
    while index < len(rest) and rest[index].startswith("-") and rest[index] not in ("-m", "-c",
                                                                                    "-"):
        word = rest[index]
        if word in ("-W", "-X"):
            options += rest[index:index + 2]
            index += 2
            continue
        if not word.startswith("--") and word[1:2] not in ("W", "X"):
            word = "-" + word[1:].replace("O", "")
        if word != "-":
            options.append(word)
        index += 1
    level = server.python_optimize if server.python_optimize is not None else optimize_now
    optimize = ["-" + "O" * level] if level else []
    return [interpreter, *optimize, *options, *rest[index:]]


def reexec_for_interpreter_flags(server):
    """Run this supervisor again (os.execv: same pid, same arguments) when the file asks for an
    optimize level or hash seed this interpreter does not have: daemons are forked from the
    supervisor, so they get the supervisor's. Once only (REEXEC_MARK)."""
    changes = interpreter_flag_changes(server)
    if os.environ.pop(REEXEC_MARK, None) is not None:
        if changes:
            logger.error("still running with %s after re-executing the supervisor; the daemon "
                         "processes run with this interpreter's flags. Fix: start wsgid without "
                         "-E/-I and without PYTHONOPTIMIZE", ", ".join(
                             f"{what} {words}" for what, words in changes))
        return
    if not changes:
        return
    env = dict(os.environ)
    env[REEXEC_MARK] = "1"
    if server.python_hash_seed is not None:
        env["PYTHONHASHSEED"] = server.python_hash_seed
    if server.python_optimize is not None:
        env.pop("PYTHONOPTIMIZE", None)   # it could only raise the level the flags set
    argv = reexec_argv(server, sys.orig_argv, sys.flags.optimize)
    logger.info("re-executing the supervisor for WSGIPythonOptimize/WSGIPythonHashSeed (%s)",
                ", ".join(f"{what} {words}" for what, words in changes))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0] if os.path.isabs(argv[0]) else sys.executable, argv, env)


@dataclasses.dataclass(frozen=True)
class ReloadPlan:
    """What a reload does with each group, by name."""

    keep: tuple = ()      # same definition: the processes keep running
    start: tuple = ()     # new in the file
    restart: tuple = ()   # changed: new processes (new socket if the path changed), old retire
    stop: tuple = ()      # gone from the file


def group_fingerprint(config, name):
    """Everything about a group that its daemon processes were started with."""
    return (config.groups[name], tuple(config.scripts_for_group(name)),
            tuple(config.import_scripts_for(name)), tuple(config.hook_scripts_for(name)),
            config.callable_object, config.server, config.apache)


def plan_reload(running, new_config):
    """Compare the running groups ({name: fingerprint}) with a newly loaded configuration."""
    keep, start, restart = [], [], []
    for name in new_config.groups:
        if name not in running:
            start.append(name)
        elif running[name] == group_fingerprint(new_config, name):
            keep.append(name)
        else:
            restart.append(name)
    stop = [name for name in running if name not in new_config.groups]
    return ReloadPlan(tuple(keep), tuple(start), tuple(restart), tuple(stop))


def all_processes_ready(group):
    """Every one of the group's `processes=` has said `ready` (so it accepts requests)."""
    ready = sum(1 for handle in group.processes() if handle.ready)
    return ready >= group.spec.options["processes"]


class Supervisor:
    def __init__(self, config_path, config, managed_by=None, clock=time.monotonic,
                 apache_children=None, spawn=process.spawn, notifier=None):
        self.config_path = config_path
        self.config = config
        self.managed_by = managed_by
        self.groups = {}           # name -> Group, the groups serving the current configuration
        self.held = HeldGroups(apache_children)   # left the configuration, serving older children
        self.retiring = []         # groups of an earlier configuration, waiting for their exits
        self.listeners = {}        # socket path -> listening socket, shared by groups of a path
        self.group_logs = group_log.GroupLogs()   # the groups' error-log= files and pipes
        self._spawn = spawn
        self._clock = clock
        self._pending_signals = []
        self._stopping = False
        self._hard_deadline = None
        self._manager_is_parent = False
        self._wake_r = self._wake_w = None
        self._started_at = clock()
        self.notifier = notifier or notify.Notifier(None)
        self._awaiting_ready = None  # groups whose readiness READY=1 waits for; None: sent
        self.control = control.ControlServer(control.control_socket_path(config_path),
                                             self.status, managed=managed_by is not None)
        self.backoff_answerer = BackoffAnswerer()
        self.health = health.HealthServer()

    # -- the loop -------------------------------------------------------------------------------

    def run(self):
        self._install_signal_handlers()
        if self.managed_by is not None:
            self._watch_manager()
        setproctitle(self._title())
        try:
            for name in self.config.groups:
                self.groups[name] = self._new_group(self.config, name)
        except sockets.ListenerError as exc:
            logger.error("%s", exc)
            self._close_listeners(set(self.listeners))
            return 1
        now = self._clock()
        for group in self.groups.values():
            group.start(now)
        self._awaiting_ready = list(self.groups.values())
        self.notifier.status(f"starting {self._groups_phrase()}")
        if self.config.server.accept_mutex is not None:
            logger.info("WSGIAcceptMutex %s has no effect: wsgid's daemon processes use their "
                        "own accept lock", self.config.server.accept_mutex)
        logger.info("supervisor started for %s: groups %s", self.config_path,
                    ", ".join(self.groups) or "(none)")
        self.control.open()
        try:
            self._loop()
        finally:
            self.control.close()
            self.backoff_answerer.close()
            self._close_listeners(set(self.listeners))
            self.health.close_all()
            self.group_logs.close_all()
            signal.set_wakeup_fd(-1)
        logger.info("supervisor stopped")
        return 0

    def _loop(self):
        while True:
            readable = self._wait(self._timeout())
            self._read_channels(readable)
            self.control.serve(readable, self._clock())
            self.backoff_answerer.serve(readable, self._clock())
            self.health.serve(readable, self._groups_of_path, self._clock(), self._stopping)
            for signum in self._take_signals():
                self.SIGNAL_HANDLERS[signum](self)
            self._reap()
            if self.managed_by is not None and not self._stopping and not self._manager_alive():
                self._begin_stop(f"the Apache parent (pid {self.managed_by}) exited")
            now = self._clock()
            self._release_held_groups(now)
            for group in self._all_groups():
                group.tick(now)
            self.group_logs.tick(now)
            self._forget_finished_groups()
            self._notify_when_ready()
            self.backoff_answerer.update(self._serving_groups(), now)
            if self._stopping:
                if not self._all_groups():
                    return
                if now >= self._hard_deadline:
                    logger.error("daemon processes %s did not go away after SIGKILL; exiting "
                                 "without them", self._all_pids())
                    return

    def _timeout(self):
        now = self._clock()
        due = [t for t in (g.next_due(now) for g in self._all_groups()) if t is not None]
        if self._hard_deadline is not None:
            due.append(self._hard_deadline)
        for source in (self.held, self.group_logs):
            if source.next_due() is not None:
                due.append(source.next_due())
        for server in (self.control, self.backoff_answerer):
            if server.next_due() is not None:
                due.append(server.next_due())
        return max(0.0, min([now + TICK] + due) - now)

    def _all_groups(self):
        return self._serving_groups() + self.retiring

    def _serving_groups(self):
        """The groups of the current configuration, then the held ones."""
        return list(self.groups.values()) + self.held.groups()

    def _groups_of_path(self, path):
        """The groups on socket `path`: those serving (current, then held), else retiring."""
        serving = [g for g in self._serving_groups() if g.socket_path == path]
        return serving or [g for g in self.retiring if g.socket_path == path]

    def _all_pids(self):
        return [pid for group in self._all_groups() for pid in group.pids()]

    # -- signals --------------------------------------------------------------------------------

    def _install_signal_handlers(self):
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        signal.set_wakeup_fd(self._wake_w)
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, self._queue_signal)
        # mod_wsgid starts us with SIGHUP blocked, so that a reload requested while we were
        # starting waits for these handlers; it is delivered now if one is pending.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)

    def _queue_signal(self, signum, frame):
        self._pending_signals.append(signum)

    def _take_signals(self):
        # pop() one at a time: a handler may append between any two bytecodes of this loop.
        while self._pending_signals:
            yield self._pending_signals.pop(0)

    def _wait(self, timeout):
        """Sleep until a signal, a daemon's message or the timeout; return the readable fds."""
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        for fd in self._channels():
            poller.register(fd, select.POLLIN)
        for fd, events in (self.control.poll_events() + self.backoff_answerer.poll_events()
                           + self.health.poll_events()):
            poller.register(fd, events)
        readable = {fd for fd, _ in poller.poll(timeout * 1000)}
        if self._wake_r in readable:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        return readable

    def status(self, now):
        """What `wsgid status` shows of this supervisor (keys: control.py, docs/operations.md)."""
        groups = [("current", group) for group in self.groups.values()] + \
            [("held", group) for group in self.held.groups()] + \
            [("retiring", group) for group in self.retiring]
        return control.snapshot({"pid": os.getpid(), "config": os.path.abspath(self.config_path),
                                 "managed_by": self.managed_by,
                                 "uptime": round(now - self._started_at, 1),
                                 "stopping": self._stopping}, groups, now)

    def _channels(self):
        """{fd: (group, handle)} of every daemon process whose channel is open."""
        return {handle.channel.fileno(): (group, handle)
                for group in self._all_groups() for handle in group.processes()
                if handle.channel is not None and not handle.channel.closed}

    def _read_channels(self, readable):
        now = self._clock()
        for fd, (group, handle) in self._channels().items():
            if fd not in readable:
                continue
            for message in handle.channel.read_messages():
                group.handle_message(handle, message, now)
            if handle.channel.closed:
                group.channel_ended(handle)

    def handle_sigterm(self):
        """Graceful stop: let the daemons finish their requests, then exit. Twice: kill now."""
        self._begin_stop("SIGTERM")

    def handle_sigint(self):
        """Ctrl-C: the same graceful stop as SIGTERM."""
        self._begin_stop("SIGINT")

    def handle_sighup(self):
        """Reload: re-read the configuration file and replace what changed."""
        if not self._stopping:
            self.reload()

    def handle_sigusr1(self):
        """Graceful restart: replace every daemon process, one at a time per group, each old
        one stopping (graceful_signal) once its replacement is ready."""
        if not self._stopping:
            logger.info("graceful restart of every daemon process (SIGUSR1)")
            now = self._clock()
            for group in self._serving_groups():
                group.restart_gracefully(now)

    def handle_sigchld(self):
        """A daemon process exited: the loop reaps and replaces it right after the handlers."""

    SIGNAL_HANDLERS = {
        signal.SIGTERM: handle_sigterm,
        signal.SIGINT: handle_sigint,
        signal.SIGHUP: handle_sighup,
        signal.SIGUSR1: handle_sigusr1,
        signal.SIGCHLD: handle_sigchld,
    }

    # -- stopping -------------------------------------------------------------------------------

    def _begin_stop(self, reason):
        now = self._clock()
        if self._stopping:
            logger.warning("%s while stopping: killing the daemon processes now", reason)
            for group in self._all_groups():
                group.kill_now()
            self._hard_deadline = min(self._hard_deadline, now + REAP_GRACE)
            return
        self._stopping = True
        self._awaiting_ready = None
        self.notifier.stopping(f"stopping ({reason})")
        self.retiring += self.held.release_all()
        for group in self._all_groups():
            group.stop(now, reason)
        # Processes retiring from a reload may have been given longer (eviction-timeout).
        last_deadline = max((handle.stop_deadline for group in self._all_groups()
                             for handle in group.processes() if handle.stop_deadline),
                            default=now)
        logger.info("stopping (%s): waiting up to %.1fs for the daemon processes", reason,
                    last_deadline - now)
        self._hard_deadline = last_deadline + REAP_GRACE

    def _watch_manager(self):
        process.set_parent_death_signal(signal.SIGTERM)
        self._manager_is_parent = os.getppid() == self.managed_by
        if not self._manager_is_parent:
            logger.warning("--managed-by %d is not this supervisor's parent; watching that pid",
                           self.managed_by)
        if not self._manager_alive():
            self._pending_signals.append(signal.SIGTERM)

    def _manager_alive(self):
        if self._manager_is_parent:
            return os.getppid() == self.managed_by
        try:
            os.kill(self.managed_by, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    # -- children -------------------------------------------------------------------------------

    def _reap(self):
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            now = self._clock()
            if self.group_logs.reaped(pid, wait_status, now):
                continue
            if not any(group.reap(pid, wait_status, now) for group in self._all_groups()):
                logger.warning("reaped process %d, which is not a daemon process of any group "
                               "(%s)", pid, process.describe_wait_status(wait_status))

    def _forget_finished_groups(self):
        finished = [group for group in self.retiring if group.finished]
        if self._stopping:
            finished += [group for group in self.groups.values() if group.finished]
        if not finished:
            return
        self.retiring = [group for group in self.retiring if group not in finished]
        for group in finished:
            if self.groups.get(group.name) is group:
                del self.groups[group.name]
        self._release_unused_listeners()
        self.group_logs.release_unused(group.spec.options["error-log"]
                                       for group in self._all_groups())

    # -- groups and sockets ---------------------------------------------------------------------

    def _new_group(self, config, name):
        spec = config.groups[name]
        listener = self._listener_for(spec)
        return Group(spec, config, listener, fingerprint=group_fingerprint(config, name),
                     spawn=self._spawn, error_log=self._error_log_for(spec))

    def _error_log_for(self, spec):
        """The group's open error-log=, or None for the supervisor's stderr: also when it
        cannot be opened, which is said once, and loses no line."""
        try:
            return self.group_logs.for_spec(spec.options["error-log"])
        except OSError as exc:
            log.group_logger(spec.name).error(
                "error-log=%s cannot be opened (%s); the group's daemon processes write to the "
                "main error log instead. Fix: make the file's directory exist and be writable "
                "by the supervisor's user", spec.options["error-log"], exc.strerror)
            return None

    def _listener_for(self, spec):
        path = spec.socket_path
        if not path:
            raise sockets.ListenerError(f"daemon group {spec.name} has no socket path "
                                        "(WSGIDaemonSocket or WSGISocketPrefix sets it)")
        backlog = spec.options["listen-backlog"]
        listener = self.listeners.get(path)
        if listener is None:
            listener = sockets.bind_listener(path, backlog, spec.socket_uid, spec.gid)
            self.listeners[path] = listener
            log.group_logger(spec.name).info("listening on %s", path)
            self.health.bind(path, spec.socket_uid, spec.gid, spec.name)
        else:
            # Same path as a running group: keep the socket and its queue, adjust the rest.
            sockets.set_owner(path, spec.socket_uid, spec.gid)
            sockets.set_backlog(listener, backlog)
            self.health.set_owner(path, spec.socket_uid, spec.gid)
        return listener

    def _release_unused_listeners(self):
        in_use = {group.socket_path for group in self._all_groups()}
        self._close_listeners(set(self.listeners) - in_use)

    def _close_listeners(self, paths):
        for path in paths:
            listener = self.listeners.pop(path)
            listener.close()
            sockets.remove_socket_file(path)
            self.health.close(path)

    # -- reload ---------------------------------------------------------------------------------

    def reload(self):
        """Re-read the file; keep unchanged groups, replace changed ones, stop removed ones."""
        from wsgid import config as config_file
        self.notifier.reloading(f"reloading {self.config_path}")
        # Set before anything can fail: a failed reload is over at once (READY=1 again at the
        # next pass of the loop, or when an earlier start or reload is ready).
        self._awaiting_ready = self._awaiting_ready or []
        try:
            new_config = config_file.load(self.config_path)
        except ConfigError as exc:
            logger.error("reload failed, keeping the running configuration: %s", exc)
            return
        except OSError as exc:
            logger.error("reload failed, keeping the running configuration: cannot read %s: %s",
                         self.config_path, exc.strerror or exc)
            return
        log.apply_settings(new_config.server.log_level, new_config.server.error_log_format)
        changes = interpreter_flag_changes(new_config.server)
        if changes:
            logger.warning("reload: %s of WSGIPythonOptimize/WSGIPythonHashSeed take effect only "
                           "when the supervisor restarts (a full Apache restart in managed "
                           "mode); the daemon processes keep the running interpreter's",
                           ", ".join(f"{what} {words}" for what, words in changes))
        running = {name: group.fingerprint for name, group in self.groups.items()}
        plan = plan_reload(running, new_config)
        now = self._clock()
        # A log file moved away (logrotate, then Apache's graceful restart) is opened anew; the
        # groups kept as they are replace their processes to write there.
        rotated = set(self.group_logs.reopen_replaced())
        if follow_main_log(new_config.server.error_log):
            rotated.add(None)               # the main log: groups without an error-log=
        for name in plan.keep:
            own_log = self.groups[name].spec.options["error-log"]
            if own_log in rotated:
                log.group_logger(name).info("its error log %s was replaced: restarting its "
                                            "daemon processes to write there",
                                            own_log or new_config.server.error_log)
                self.groups[name].restart_gracefully(now)
        leaving = [(self.groups.pop(name), "reload: the group was removed") for name in plan.stop]
        for name in plan.restart + plan.start:
            try:
                new_group = self._new_group(new_config, name)
            except sockets.ListenerError as exc:
                log.group_logger(name).error("%s; the group keeps its previous definition", exc)
                continue
            old_group = self.groups.get(name)
            self.groups[name] = new_group
            self._awaiting_ready.append(new_group)
            # Fork the new processes before the old ones stop accepting; meanwhile connections
            # wait in the socket's queue, which both generations share when the path is the same.
            new_group.start(now)
            new_group.tick(now)
            if old_group is not None:
                leaving.append((old_group, "reload: the group changed"))
        self.config = new_config
        self._leave(leaving, now)
        self._release_unused_listeners()
        logger.info("reloaded %s: started %s; restarted %s; stopped %s; unchanged %s",
                    self.config_path, *(", ".join(names) or "none" for names in
                                        (plan.start, plan.restart, plan.stop, plan.keep)))

    def _leave(self, leaving, now):
        """Hold each group that left the configuration while Apache children running at this
        reload may still connect to its socket; retire the others at once."""
        for group, why in self.held.hold(leaving, self._served_paths(), now):
            self._retire(group, now, why)

    def _release_held_groups(self, now):
        """Retire the held groups whose Apache children have exited (or overstayed)."""
        for group, why in self.held.release(self._served_paths(), now):
            self._retire(group, now, why)

    def _served_paths(self):
        return {group.socket_path for group in self.groups.values()}

    def _retire(self, group, now, why):
        # As on Apache's graceful restart under mod_wsgi: graceful_signal, eviction-timeout.
        group.stop(now, why, ShutdownReason.GRACEFUL_SIGNAL)
        self.retiring.append(group)

    # -- systemd ------------------------------------------------------------------------------

    def _notify_when_ready(self):
        """READY=1 once the groups started (or restarted by the reload) are all ready. A group
        that a later reload replaced or removed is not waited for."""
        if self._awaiting_ready is None or self._stopping:
            return
        self._awaiting_ready = [group for group in self._awaiting_ready
                                if self.groups.get(group.name) is group
                                and not all_processes_ready(group)]
        if self._awaiting_ready:
            return
        self._awaiting_ready = None
        processes = sum(group.spec.options["processes"] for group in self.groups.values())
        self.notifier.ready(f"serving {self._groups_phrase()}, {processes} daemon "
                            f"process{'es' if processes != 1 else ''}")

    def _groups_phrase(self):
        count = len(self.groups)
        return f"{count} group{'s' if count != 1 else ''}" + \
            (f" ({', '.join(self.groups)})" if self.groups else "")

    def _title(self):
        if self.managed_by is not None:
            return f"wsgid-supervisor (managed by apache pid {self.managed_by})"
        return f"wsgid-supervisor --config {self.config_path}"
