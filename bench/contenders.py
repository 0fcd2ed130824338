"""The contenders: how each one is configured, started, found in the process table and stopped.

Rules:
- Every contender runs bench/apps.py (one copy in the run's private directory) in 2 processes x
  8 threads, behind the same Apache (bench/apache.py), on its own loopback port.
- mod_wsgi daemon mode is the reference (ratio 1.0); Apache serving the same bytes from static
  files is the ceiling.
- mod_wsgi and uWSGI come from the bench virtualenv (bench/setup-env makes it); wsgid is the
  build in this checkout, taken from the interpreter that runs the benchmark.
- A contender's backend processes are the ones that run the application (`rss` column); the
  process that only manages them (wsgid supervisor, uWSGI master) is reported apart (`mgr`).
- Its server processes (Apache and the backend together) are what the `cpu us` column times:
  the servers' CPU per request, without the load generator's.
- A contender that cannot run here says why (`unavailable()`), and the run goes on without it.
"""

import os
import pwd
import signal
import subprocess
import sys

import psutil

from apache import APACHE_USER, BenchApache, kill_survivors, wait_for

PROCESSES = 2
THREADS = 8
GROUP = "bench"


def _rss(procs):
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def cpu_seconds(procs):
    """(user, system) CPU seconds `procs` have used so far (a process gone meanwhile: 0)."""
    user = system = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        user += times.user
        system += times.system
    return user, system


def _cmdline(proc):
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


class Contender:
    name = ""
    description = ""
    serves_upload = True

    def __init__(self, run_dir, app_file, static_dir, bench_venv):
        self.root = os.path.join(run_dir, self.name)
        self.app_file = app_file
        self.app_dir = os.path.dirname(app_file)
        self.static_dir = static_dir
        self.bench_venv = bench_venv
        self.apache = None
        # A command that runs each server process this contender starts (Apache, and a
        # ProxiedServer's own): bench/profile_requests.py puts them under valgrind this way.
        self.wrapper = ()

    def unavailable(self):
        """Why this contender cannot run here, or None."""
        return None

    def serves(self, workload):
        return self.serves_upload or workload.has_static_twin

    def url(self, path):
        return self.apache.url(path)

    def start(self):
        self.apache = BenchApache(self.root, modules=self.modules(), body=self.routing(),
                                  env=self.environment(), wrapper=self.wrapper)
        self.apache.start()

    def stop(self):
        if self.apache is not None:
            self.apache.stop()

    def modules(self):
        return ()

    def routing(self):
        return ""

    def environment(self):
        return None

    def backend(self):
        """(processes running the app, processes managing them)."""
        return [], []

    def server_processes(self):
        """Every process serving the requests: Apache and all below it, and the backend's
        (a proxied server's are not Apache's children)."""
        procs = {p.pid: p for p in self.apache.processes()} if self.apache else {}
        workers, managers = self.backend()
        procs.update((p.pid, p) for p in workers + managers)
        return list(procs.values())

    def memory(self):
        """(app processes' RSS in bytes, managers' RSS in bytes, number of app processes)."""
        workers, managers = self.backend()
        return _rss(workers), _rss(managers), len(workers)

    def app_directory_block(self):
        return f'<Directory "{self.app_dir}">\n    Require all granted\n</Directory>\n'


class Wsgid(Contender):
    name = "wsgid"
    description = "wsgid (mod_wsgid + supervisor, this checkout's build, Cython core)"
    pure_python = False

    def unavailable(self):
        res = subprocess.run([sys.executable, "-m", "wsgid", "module-config"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            return f"`wsgid module-config` failed: {res.stderr.strip()} (run `make build`)"
        self._module_config = res.stdout
        return None

    def environment(self):
        env = dict(os.environ)
        env.pop("WSGID_PUREPYTHON", None)
        if self.pure_python:
            env["WSGID_PUREPYTHON"] = "1"
        return env

    def routing(self):
        return (self._module_config
                + f"WSGIDaemonProcess {GROUP} processes={PROCESSES} threads={THREADS} "
                  f"display-name=%{{GROUP}}\n"
                + f'WSGIScriptAlias / "{self.app_file}" process-group={GROUP} '
                  f"application-group=%{{GLOBAL}}\n"
                + self.app_directory_block())

    def backend(self):
        procs = self.apache.processes() if self.apache else []
        # Its title once Python runs, or its command line before (docs/operations.md).
        supervisors = [p for p in procs[1:]
                       if _cmdline(p).startswith("wsgid-supervisor")
                       or " -m wsgid supervise " in _cmdline(p)]
        daemons = []
        for supervisor in supervisors:
            try:
                daemons.extend(supervisor.children())
            except psutil.NoSuchProcess:
                pass
        return daemons, supervisors


class WsgidPurePython(Wsgid):
    name = "wsgid-py"
    description = "wsgid with WSGID_PUREPYTHON=1 (the pure-Python twin of the core)"
    pure_python = True


class ModWsgi(Contender):
    name = "mod_wsgi"
    description = "mod_wsgi daemon mode (PyPI mod_wsgi in the bench venv), the reference"

    def express(self):
        return os.path.join(self.bench_venv, "bin", "mod_wsgi-express")

    def unavailable(self):
        if not os.access(self.express(), os.X_OK):
            return f"{self.express()} is missing: run bench/setup-env (make bench does)"
        res = subprocess.run([self.express(), "module-config"], capture_output=True, text=True)
        if res.returncode != 0:
            return f"`mod_wsgi-express module-config` failed: {res.stderr.strip()}"
        self._module_config = res.stdout
        return None

    def routing(self):
        return (self._module_config
                + "WSGIRestrictEmbedded On\n"
                + f'WSGISocketPrefix "{self.root}/run/wsgi"\n'
                + f"WSGIDaemonProcess {GROUP} processes={PROCESSES} threads={THREADS} "
                  f"display-name=%{{GROUP}}\n"
                + f"WSGIProcessGroup {GROUP}\n"
                + "WSGIApplicationGroup %{GLOBAL}\n"
                + f'WSGIScriptAlias / "{self.app_file}" process-group={GROUP} '
                  f"application-group=%{{GLOBAL}}\n"
                + self.app_directory_block())

    def backend(self):
        procs = self.apache.processes() if self.apache else []
        return [p for p in procs[1:] if _cmdline(p).startswith("(wsgi:")], []


class ModWsgiEmbedded(ModWsgi):
    """mod_wsgi with the application inside Apache's own children (embedded mode): no daemon,
    no socket, so Apache's 2 children x 64 threads are its processes and threads."""

    name = "mod_wsgi-embedded"
    description = "mod_wsgi embedded mode (the application in Apache's children)"

    def routing(self):
        return (self._module_config
                + "WSGIApplicationGroup %{GLOBAL}\n"
                + f'WSGIScriptAlias / "{self.app_file}" application-group=%{{GLOBAL}}\n'
                + self.app_directory_block())

    def backend(self):
        # the Apache children run the application; the parent only manages them
        procs = self.apache.processes() if self.apache else []
        return procs[1:], procs[:1]


class ProxiedServer(Contender):
    """A WSGI server that the bench starts itself, on a unix socket, behind one of Apache's
    mod_proxy modules. Its first process (uWSGI's master, Granian's main process) forks the
    workers that run the application: those are its backend, the first one its manager."""

    program = ""          # the server's command, in the bench venv's bin
    proxy_scheme = ""     # mod_proxy_SCHEME, and the scheme ProxyPass gives the socket

    def __init__(self, *args):
        super().__init__(*args)
        self.socket_dir = os.path.join(self.root, "socket")
        self.socket_path = os.path.join(self.socket_dir, f"{self.program}.sock")
        self.server = None
        self.known = {}

    def binary(self):
        return os.path.join(self.bench_venv, "bin", self.program)

    def unavailable(self):
        if not os.access(self.binary(), os.X_OK):
            return f"{self.binary()} is missing: run bench/setup-env (make bench does)"
        return None

    def modules(self):
        return ("proxy", f"proxy_{self.proxy_scheme}")

    def routing(self):
        return f'ProxyPass "/" "unix:{self.socket_path}|{self.proxy_scheme}://localhost/"\n'

    def command(self):
        """The server's command line: PROCESSES x THREADS on self.socket_path, no access log."""
        raise NotImplementedError

    def prepare_socket_directory(self):
        """Anything the server needs of the socket's directory before it starts."""

    def start(self):
        for sub in ("socket", "logs"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        for sub in ("", "socket", "logs"):
            os.chmod(os.path.join(self.root, sub), 0o755)
        self.prepare_socket_directory()
        log_path = os.path.join(self.root, "logs", f"{self.program}.log")
        with open(log_path, "wb") as log:
            self.server = subprocess.Popen([*self.wrapper, *self.command()], stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: self.server.poll() is not None or self._workers_ready(), 60,
                 f"{self.program} to bind its socket and start its workers")
        if self.server.poll() is not None:
            raise RuntimeError(f"{self.program} exited with {self.server.returncode}; see "
                               f"{log_path}")
        super().start()

    def _workers_ready(self):
        if not os.path.exists(self.socket_path):
            return False
        workers, _ = self.backend()
        for proc in [psutil.Process(self.server.pid)] + workers:
            self.known[proc.pid] = proc.create_time()
        return len(workers) >= PROCESSES

    def stop(self):
        super().stop()
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)      # both servers stop on SIGTERM
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"warning: {self.program} did not stop within 30s of SIGTERM; killing it")
        kill_survivors(self.known)
        if self.server is not None and self.server.poll() is None:
            self.server.wait(timeout=10)

    def backend(self):
        if self.server is None or self.server.poll() is not None:
            return [], []
        try:
            manager = psutil.Process(self.server.pid)
            return manager.children(), [manager]
        except psutil.NoSuchProcess:
            return [], []


class Uwsgi(ProxiedServer):
    name = "uwsgi"
    description = "uWSGI (PyPI uwsgi in the bench venv) behind Apache mod_proxy_uwsgi"
    program = "uwsgi"
    proxy_scheme = "uwsgi"

    def prepare_socket_directory(self):
        if APACHE_USER:
            # uWSGI drops to --uid before it binds, so that user must own the socket's directory.
            user = pwd.getpwnam(APACHE_USER)
            os.chown(self.socket_dir, user.pw_uid, user.pw_gid)

    def command(self):
        cmd = [self.binary(), "--master", "--die-on-term", "--need-app", "--vacuum",
               "--socket", self.socket_path, "--chmod-socket=666",
               "--processes", str(PROCESSES), "--threads", str(THREADS),
               "--chdir", self.app_dir, "--wsgi-file", self.app_file, "--disable-logging"]
        if APACHE_USER:
            cmd += ["--uid", APACHE_USER, "--gid", str(pwd.getpwnam(APACHE_USER).pw_gid)]
        return cmd


class Granian(ProxiedServer):
    """Granian's WSGI server (2 workers x 8 blocking threads) on a unix socket, behind Apache's
    mod_proxy_http, which keeps its connections to the socket open between requests."""

    name = "granian"
    description = "Granian (PyPI granian in the bench venv) behind Apache mod_proxy_http"
    program = "granian"
    proxy_scheme = "http"

    def command(self):
        module = os.path.splitext(os.path.basename(self.app_file))[0]
        return [self.binary(), "--interface", "wsgi", "--workers", str(PROCESSES),
                "--blocking-threads", str(THREADS), "--uds", self.socket_path,
                "--uds-permissions", "666",          # octal: the Apache children connect
                "--working-dir", self.app_dir, "--no-access-log", f"{module}:application"]


class StaticFiles(Contender):
    name = "static"
    description = "Apache serving the same bytes from static files (the ceiling)"
    serves_upload = False

    def routing(self):
        return (f'DocumentRoot "{self.static_dir}"\n'
                f'<Directory "{self.static_dir}">\n    Require all granted\n</Directory>\n')


ALL = (Wsgid, ModWsgi, ModWsgiEmbedded, Uwsgi, Granian, StaticFiles, WsgidPurePython)
DEFAULT = ("wsgid", "mod_wsgi", "mod_wsgi-embedded", "uwsgi", "granian", "static")
REFERENCE = "mod_wsgi"


def by_names(names):
    known = {c.name: c for c in ALL}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"--only: unknown contender(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(known)}")
    return [known[n] for n in names]
