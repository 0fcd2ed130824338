"""A real Apache httpd for integration tests: generated config, free loopback port, private dir.

Rules:
- Every instance lives in its own directory under /tmp with mode 0755, so that the Apache child
  user (www-data when the tests run as root) can reach the daemon sockets in it; pytest's own
  tmp_path is mode 0700 and would hide them.
- Apache is started the production way (`-k start`: two configuration passes, detach), and
  stopped with `-k stop`; every process it started is found by walking its process tree, and any
  survivor is killed by pid at teardown (tests that care about survivors assert it themselves).
- Waiting is always polling for a condition with a deadline, never a fixed sleep.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import psutil

from wsgid import paths

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APPS = os.path.join(REPO, "tests", "apps")
RUNNING_AS_ROOT = os.geteuid() == 0
APACHE_USER = "www-data" if RUNNING_AS_ROOT else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.02, message="condition"):
    """Poll predicate() until it returns a true value; return it, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def shared_tmpdir(prefix="wsgid-test-"):
    """A fresh directory that the Apache child user can traverse (mode 0755)."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)
    return path


def module_config():
    """What `wsgid module-config` prints: the real command, as a user would run it."""
    out = subprocess.run([sys.executable, "-m", "wsgid", "module-config"], check=True,
                         capture_output=True, text=True)
    return out.stdout


BASE_CONF = """\
ServerRoot "{root}"
DefaultRuntimeDir "{root}/run"
PidFile "{root}/run/httpd.pid"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1:{port}
{user_lines}
LoadModule mpm_event_module "{moddir}/mod_mpm_event.so"
LoadModule authz_core_module "{moddir}/mod_authz_core.so"
{extra_modules}
StartServers 1
ServerLimit 4
ThreadsPerChild 25
MinSpareThreads 25
MaxSpareThreads 75
MaxRequestWorkers 100
Timeout 30
KeepAlive On
GracefulShutdownTimeout 10
ErrorLog "{root}/logs/error_log"
LogLevel {log_level}
LogFormat "%h \\"%r\\" %>s %b" short
CustomLog "{root}/logs/access_log" short
<Directory />
    Require all denied
</Directory>
<Directory "{apps}">
    Require all granted
</Directory>
{wsgid}
{body}
"""


class ApacheInstance:
    """One Apache httpd with a generated configuration; see the module docstring for the rules."""

    def __init__(self, conf_body, *, extra_modules=(), load_wsgid=True, log_level="info",
                 root=None):
        self.root = root or shared_tmpdir()
        self.port = free_port()
        for sub in ("run", "logs", "conf"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
            os.chmod(os.path.join(self.root, sub), 0o755)
        self.conf_path = os.path.join(self.root, "conf", "httpd.conf")
        self.httpd = paths.httpd_binary()
        self.known_pids = set()
        self.write_config(conf_body, extra_modules=extra_modules, load_wsgid=load_wsgid,
                          log_level=log_level)

    # --- configuration -------------------------------------------------------------------
    def write_config(self, conf_body, *, extra_modules=(), load_wsgid=True, log_level="info"):
        moddir = paths.apache_modules_dir()
        text = BASE_CONF.format(
            root=self.root, port=self.port, moddir=moddir, apps=APPS, log_level=log_level,
            user_lines=(f"User {APACHE_USER}\nGroup {APACHE_USER}" if RUNNING_AS_ROOT else ""),
            extra_modules="\n".join(f'LoadModule {name}_module "{moddir}/mod_{name}.so"'
                                    for name in extra_modules),
            wsgid=module_config() if load_wsgid else "",
            body=conf_body.replace("{root}", self.root).replace("{apps}", APPS),
        )
        with open(self.conf_path, "w") as f:
            f.write(text)

    def httpd_cmd(self, *args):
        return [self.httpd, "-d", self.root, "-f", self.conf_path, *args]

    def configtest(self):
        """Run `httpd -t`; return (exit status, combined output)."""
        res = subprocess.run(self.httpd_cmd("-t"), capture_output=True, text=True, timeout=60)
        return res.returncode, res.stdout + res.stderr

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def pidfile(self):
        return os.path.join(self.root, "run", "httpd.pid")

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    def start(self, timeout=30):
        res = subprocess.run(self.httpd_cmd("-k", "start"), capture_output=True, text=True,
                             timeout=60)
        if res.returncode != 0:
            raise AssertionError(f"apache failed to start ({res.returncode}):\n{res.stdout}{res.stderr}"
                                 f"\n--- error_log ---\n{self.error_log()}")
        wait_for(self.pid, timeout, message="the Apache pid file")
        wait_for(self._accepts, timeout, message=f"Apache to accept on port {self.port}")
        self.remember_processes()
        return self

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def signal(self, action):
        res = subprocess.run(self.httpd_cmd("-k", action), capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, f"httpd -k {action} failed: {res.stdout}{res.stderr}"

    def graceful(self, timeout=30):
        """`apachectl graceful`, returning once the new generation is up."""
        before = self.error_log().count("resuming normal operations")
        self.signal("graceful")
        wait_for(lambda: self.error_log().count("resuming normal operations") > before, timeout,
                 message="Apache to finish a graceful restart")
        self.remember_processes()

    def stop(self, timeout=30):
        """`apachectl stop`; wait for the Apache parent to exit."""
        pid = self.pid()
        if pid is None or not psutil.pid_exists(pid):
            return
        self.remember_processes()
        self.signal("stop")
        wait_for(lambda: not _alive(pid), timeout, message=f"Apache parent {pid} to exit")

    def processes(self):
        """Every live process under the Apache parent (children, supervisor, daemons)."""
        pid = self.pid()
        return [] if pid is None else process_tree(pid)

    def remember_processes(self):
        self.known_pids.update(p.pid for p in self.processes())

    def kill_leftovers(self):
        """Teardown: SIGKILL, by pid, anything this instance started that is still alive."""
        self.remember_processes()
        for pid in self.known_pids:
            try:
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE:
                    proc.kill()
            except psutil.NoSuchProcess:
                pass

    # --- observing ----------------------------------------------------------------------
    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def error_log(self):
        try:
            with open(os.path.join(self.root, "logs", "error_log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def access_log(self):
        try:
            with open(os.path.join(self.root, "logs", "access_log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self):
        try:
            self.stop()
        except AssertionError:
            pass
        self.kill_leftovers()
        shutil.rmtree(self.root, ignore_errors=True)


def process_tree(pid):
    """The live process `pid` and every process below it ([] if it is gone)."""
    try:
        parent = psutil.Process(pid)
        return [parent] + parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
