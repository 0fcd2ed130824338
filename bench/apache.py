"""One Apache httpd per contender, with the same build, MPM and settings for all of them.

Rules:
- Every contender gets the same base configuration (event MPM, fixed thread counts so no process
  is spawned mid-run, keep-alive, no access log); only the modules and the lines that route
  requests to the backend differ.
- `AllowOverride None` on `/`, as Debian's stock apache2.conf has it: without it Apache looks
  for an .htaccess file in every directory above a file-mapped script on every request (four
  failed open()s per request here), which the WSGIScriptAlias contenders pay and the
  Location-routed uWSGI one does not.
- Apache runs from a private server root (mode 0755, so the child user can reach sockets in it)
  on its own loopback port; it is started with `-k start` and stopped with `-k stop` against its
  own configuration. Every process it started is remembered by pid and any survivor is killed
  by pid at the end.
- Waiting polls a condition with a deadline; there is no fixed sleep.
"""

import os
import socket
import subprocess
import time

import psutil

from wsgid import paths

RUNNING_AS_ROOT = os.geteuid() == 0
APACHE_USER = "www-data" if RUNNING_AS_ROOT else None

# Sized for the largest concurrency (64 connections): 2 x 64 threads, all started up front.
BASE_CONF = """\
ServerRoot "{root}"
DefaultRuntimeDir "{root}/run"
PidFile "{root}/run/httpd.pid"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1:{port}
{user_lines}
LoadModule mpm_event_module "{moddir}/mod_mpm_event.so"
LoadModule authz_core_module "{moddir}/mod_authz_core.so"
{modules}
StartServers 2
ServerLimit 2
ThreadLimit 64
ThreadsPerChild 64
MinSpareThreads 64
MaxSpareThreads 128
MaxRequestWorkers 128
MaxConnectionsPerChild 0
ListenBacklog 511
Timeout 60
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
ErrorLog "{root}/logs/error_log"
LogLevel warn
<Directory />
    AllowOverride None
    Require all denied
</Directory>
{body}
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.05):
    """Poll predicate() until it is true; return its value, or raise after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def private_dir(path):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    return path


class BenchApache:
    def __init__(self, root, *, modules=(), body="", env=None, wrapper=()):
        self.root = private_dir(root)
        self.wrapper = list(wrapper)   # a command that runs httpd (valgrind, for a profile)
        for sub in ("run", "logs", "conf"):
            private_dir(os.path.join(root, sub))
        self.port = free_port()
        self.env = env
        self.httpd = paths.httpd_binary()
        self.conf_path = os.path.join(root, "conf", "httpd.conf")
        self.known = {}          # pid -> create_time, so a reused pid is never killed
        moddir = paths.apache_modules_dir()
        text = BASE_CONF.format(
            root=root, port=self.port, moddir=moddir, body=body,
            user_lines=f"User {APACHE_USER}\nGroup {APACHE_USER}" if APACHE_USER else "",
            modules="\n".join(f'LoadModule {name}_module "{moddir}/mod_{name}.so"'
                              for name in modules))
        with open(self.conf_path, "w") as f:
            f.write(text)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def _httpd(self, *args, wrapper=()):
        return subprocess.run([*wrapper, self.httpd, "-d", self.root, "-f", self.conf_path, *args],
                              capture_output=True, text=True, timeout=60, env=self.env)

    def pid(self):
        try:
            with open(os.path.join(self.root, "run", "httpd.pid")) as f:
                return int(f.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    def start(self, timeout=60):
        res = self._httpd("-k", "start", wrapper=self.wrapper)
        if res.returncode != 0:
            raise RuntimeError(f"httpd -k start failed ({res.returncode}): {res.stdout}"
                               f"{res.stderr}\n--- error_log ---\n{self.error_log()}")
        wait_for(self.pid, timeout, "the Apache pid file")
        wait_for(self._accepts, timeout, f"Apache to accept on port {self.port}")
        self.remember_processes()

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def processes(self):
        """The Apache parent and every process below it (children, supervisor, daemons)."""
        pid = self.pid()
        if pid is None:
            return []
        try:
            parent = psutil.Process(pid)
            return [parent] + parent.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def remember_processes(self):
        for proc in self.processes():
            try:
                self.known[proc.pid] = proc.create_time()
            except psutil.NoSuchProcess:
                pass

    def stop(self, timeout=60):
        """`httpd -k stop`; wait for the parent to exit; kill by pid whatever it left behind."""
        pid = self.pid()
        self.remember_processes()
        if pid is not None and _alive(pid):
            self._httpd("-k", "stop")
            try:
                wait_for(lambda: not _alive(pid), timeout, f"Apache parent {pid} to exit")
            except RuntimeError as exc:
                print(f"warning: {exc}; killing its processes")
        kill_survivors(self.known)

    def error_log(self):
        try:
            with open(os.path.join(self.root, "logs", "error_log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def kill_survivors(known):
    """SIGKILL each remembered process that still runs (same pid and start time)."""
    for pid, created in known.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                proc.kill()
        except psutil.NoSuchProcess:
            pass


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
