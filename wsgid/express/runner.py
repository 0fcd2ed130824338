"""How start-server runs Apache httpd in the foreground: as its child (isatty) or in its place.

Rules:
- isatty (the default on a terminal), run_foreground(): Apache runs in the foreground
  (`httpd -f CONF -DFOREGROUND`) in a session of its own, so a Ctrl-C or a terminal resize
  (SIGWINCH, Apache's graceful-stop signal) reaches start-server only. start-server forwards
  SIGINT, SIGTERM, SIGHUP and SIGUSR1 to Apache, which reads them as stop, stop, restart and
  graceful restart, and ignores SIGWINCH; Apache's exit status becomes start-server's.
- Not isatty, exec_apache(): start-server becomes Apache (exec, same pid), as mod_wsgi-express
  does, so that a process manager or container runtime signals and waits for Apache itself.
  Nothing below applies then: Apache alone stops what it started.
- Stopping the supervisor and the daemons is Apache's job (mod_wsgid does it on stop). As a
  backstop, start-server is a child subreaper: whatever outlives Apache is re-parented to it,
  gets a short grace period, is then stopped by pid, and the log line names it: a leftover is a
  bug to see, not to hide. Apache itself gets SIGTERM should start-server die (PDEATHSIG).
- Apache's environment is start-server's, plus mod_wsgi-express's MOD_WSGI_* variables, plus
  what SERVER_ROOT/envvars exports (apache_environ()): the same as apachectl gives it, since the
  script is sourced by the same shell (--shell-executable) with the same variables set.
- The listening address is tried before Apache starts, so the common failures (port in use,
  privileged port, unknown address) are one line naming the option, not an Apache log hunt.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys

import psutil

from wsgid.express.render import apache_environment
from wsgid.express.resolve import ServerSettings, SettingsError

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1)

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

# After Apache exits: how long what it left behind may take to finish on its own, then how long
# it has between SIGTERM and SIGKILL.
LEFTOVER_GRACE_SECONDS = 3.0
LEFTOVER_TERM_SECONDS = 5.0

_libc = ctypes.CDLL(None, use_errno=True)


def check_listen_address(settings: ServerSettings) -> None:
    """Bind the address Apache will listen on, once, to turn the usual failures into advice."""
    host = None if settings.host == "*" else settings.host
    try:
        family, socktype, proto, _, address = socket.getaddrinfo(
            host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise SettingsError(f"--host {settings.host} is not an address of this machine "
                            f"({exc.strerror}); give one such as 127.0.0.1.") from None
    with socket.socket(family, socktype, proto) as probe:
        # Apache sets SO_REUSEADDR too: connections in TIME_WAIT do not block it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise SettingsError(_bind_advice(settings, exc)) from None


# What a shell adds to the environment by itself, not what the envvars script exports.
SHELL_OWN_VARIABLES = ("_", "SHLVL", "OLDPWD")


def apache_environ(settings: ServerSettings, root, modules_dir: str) -> dict:
    """The environment Apache (and through it the supervisor and the daemons) runs with."""
    environ = dict(os.environ, **apache_environment(settings, root, modules_dir))
    script = settings.envvars_script or root.envvars
    sourced = subprocess.run(
        [settings.shell_executable, "-c", '. "$1" >&2 && exec env -0', "envvars", root.envvars],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if sourced.returncode != 0:
        said = sourced.stderr.decode(errors="replace").strip().splitlines()
        raise SettingsError(f"the envvars script {script} failed (exit status "
                            f"{sourced.returncode}){': ' + said[-1] if said else ''}; fix it, or "
                            "leave --envvars-script out.")
    exported = dict(entry.split("=", 1) for entry in
                    sourced.stdout.decode(errors="surrogateescape").split("\0") if "=" in entry)
    for name in SHELL_OWN_VARIABLES:
        exported.pop(name, None)
    return exported


def _bind_advice(settings: ServerSettings, exc: OSError) -> str:
    where = f"{settings.host} port {settings.port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"{where} is already in use (another server is listening there): stop it or "
                "choose another --port.")
    if exc.errno == errno.EACCES:
        return (f"{where}: ports below 1024 need root; choose --port 1024 or above, or start "
                "as root.")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"--host {settings.host} is not an address of this machine; give one such as "
                "127.0.0.1.")
    return f"cannot listen on {where}: {exc.strerror}; check --host and --port."


class SignalForwarder:
    """Signal handler that passes each forwarded signal on to Apache, once Apache exists."""

    def __init__(self):
        self.pid = None
        self.pending = []
        self.previous = {}

    def __call__(self, signum, frame):
        if self.pid is None:
            self.pending.append(signum)
            return
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def install(self):
        self.previous = {signum: signal.signal(signum, self) for signum in FORWARDED_SIGNALS}

    def forward_to(self, pid):
        self.pid = pid
        for signum in self.pending:
            os.kill(pid, signum)
        self.pending.clear()

    def stop_forwarding(self):
        # Apache is gone (its pid may be reused): signals from now on are dropped, so that the
        # cleanup below runs to its end even if Ctrl-C is pressed again.
        self.pid = None
        self.pending = None

    def restore(self):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def __repr__(self):
        return f"SignalForwarder(pid={self.pid})"


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        _libc.prctl(option, value, 0, 0, 0)


def _apache_children_setup():
    """preexec_fn: Apache gets SIGTERM if start-server dies without forwarding a signal.

    SIGWINCH goes back to its default: an ignored signal stays ignored across exec, and Apache
    should keep its own meaning of it (graceful stop) for whoever sends it on purpose.
    """
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    signal.signal(signal.SIGWINCH, signal.SIG_DFL)


def apache_command(httpd: str, conf: str, startup_log=None, process_name=None) -> list:
    """Apache's argv: argv[0] is --process-name (what ps shows), the binary is `httpd`;
    `-E FILE` (--startup-log) sends what Apache says while it starts there."""
    return [process_name or httpd, "-f", conf, "-DFOREGROUND",
            *(["-E", startup_log] if startup_log else [])]


def exec_apache(httpd: str, conf: str, startup_log=None, process_name=None, *, env):
    """Replace this process with Apache in the foreground; never returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(httpd, apache_command(httpd, conf, startup_log, process_name), env)


def run_foreground(httpd: str, conf: str, startup_log=None, process_name=None, *,
                   env) -> int:
    """Run Apache on `conf` until it exits; return its exit status (128+N for signal N)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    forwarder = SignalForwarder()
    forwarder.install()
    # A terminal resize must not stop the server: Apache, in its own session, never sees it,
    # and start-server does not act on it either.
    previous_winch = signal.signal(signal.SIGWINCH, signal.SIG_IGN)
    try:
        apache = subprocess.Popen(apache_command(httpd, conf, startup_log, process_name),
                                  executable=httpd, start_new_session=True, env=env,
                                  preexec_fn=_apache_children_setup)
        forwarder.forward_to(apache.pid)
        status = _wait_reaping_orphans(apache)
        forwarder.stop_forwarding()
        stop_leftovers()
    finally:
        forwarder.restore()
        signal.signal(signal.SIGWINCH, previous_winch)
    return status if status >= 0 else 128 - status


def _wait_reaping_orphans(apache: subprocess.Popen) -> int:
    """Wait for Apache; reap, meanwhile, any orphan re-parented to us (we are a subreaper)."""
    while True:
        exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        if exited is None or exited.si_pid == apache.pid:
            return apache.wait()
        os.waitpid(exited.si_pid, 0)


def stop_leftovers() -> list:
    """Stop, by pid, every process still under us after Apache exited; return what was left."""
    leftovers = [p for p in psutil.Process().children(recursive=True)]
    if not leftovers:
        return []
    _, alive = psutil.wait_procs(leftovers, timeout=LEFTOVER_GRACE_SECONDS)
    for proc in alive:
        try:
            print(f"wsgid: process {proc.pid} ({proc.name()}) outlived Apache; stopping it.",
                  file=sys.stderr, flush=True)
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(alive, timeout=LEFTOVER_TERM_SECONDS)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=LEFTOVER_TERM_SECONDS)
    return leftovers
