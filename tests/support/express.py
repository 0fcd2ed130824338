"""Shared parts of the start-server tests (test_express*.py, test_django.py): running
`python -m wsgid start-server` as a user would, and the fixtures that make servers and scripts.
Fixtures are re-exported by tests/integration/conftest.py."""

import os
import signal
import subprocess
import sys

import psutil
import pytest
import requests

from tests.support.apache import free_port, process_tree, shared_tmpdir, wait_for

WSGID = [sys.executable, "-m", "wsgid"]
HTTPD_NAMES = ("apache2", "httpd")
START_TIMEOUT = 60
STOP_TIMEOUT = 30

# An application that leaves a process behind on purpose: a child in a session of its own, which
# no process-group signal reaches and which outlives the daemon that started it.
ORPHAN_SCRIPT = """\
import subprocess


def application(environ, start_response):
    child = subprocess.Popen(["sleep", "600"], start_new_session=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(child.pid).encode()]
"""

PID_SCRIPT = """\
import os


def application(environ, start_response):
    body = ("pid=%d group=%s" % (os.getpid(), environ.get("wsgid.process_group"))).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""


class ExpressServer:
    """One `wsgid start-server` run as a subprocess; see the module docstring."""

    def __init__(self, args=(), *, script=None, as_user=None, env=None, isatty=True, cwd=None):
        self.workdir = shared_tmpdir("wsgid-express-")
        self.port = free_port()
        self.server_root = os.path.join(self.workdir, "root")
        self.output_path = os.path.join(self.workdir, "output")
        self.as_user = as_user
        self.known_pids = set()
        # Standard input is never the test's terminal: whether Apache runs as a child
        # (--isatty) or in start-server's place is chosen here, not by how pytest was started.
        mode = [] if isatty is None else ["--isatty" if isatty else "--no-isatty"]
        command = WSGID + ["start-server"] + ([script] if script else []) + [
            "--host", "127.0.0.1", "--port", str(self.port),
            "--server-root", self.server_root, *mode, *args]
        extra = {}
        if as_user is not None:
            # The server root must belong to whoever runs start-server.
            os.mkdir(self.server_root)
            os.chown(self.server_root, as_user.pw_uid, as_user.pw_gid)
            # Straight to the user, with no watching parent (as runuser would leave) in between:
            # SIGINT to the process group then reaches start-server as a terminal's Ctrl-C does.
            extra = dict(user=as_user.pw_uid, group=as_user.pw_gid, extra_groups=[])
            env = dict(env or os.environ, HOME="/", USER=as_user.pw_name)
        with open(self.output_path, "wb") as output:
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env=env, cwd=cwd, **extra)

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self):
        with open(self.output_path, errors="replace") as f:
            return f.read()

    def error_log(self):
        try:
            with open(os.path.join(self.server_root, "error_log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def diagnostics(self):
        return f"--- start-server output ---\n{self.output()}\n--- error_log ---\n{self.error_log()}"

    def get(self, path="/"):
        """The response, or None while nothing answers yet; fails if start-server has exited."""
        if self.proc.poll() is not None:
            raise AssertionError(f"start-server exited with {self.proc.returncode}\n"
                                 + self.diagnostics())
        try:
            return requests.get(self.url(path), timeout=10)
        except requests.ConnectionError:
            return None

    def wait_until_serving(self, path="/"):
        response = wait_for(lambda: self.get(path), START_TIMEOUT,
                            interval=0.1, message=f"start-server to answer on port {self.port}")
        self.remember_processes()
        return response

    # --- the process tree -----------------------------------------------------------------
    def tree(self):
        """start-server (or Apache in its place) and every live process under it."""
        return process_tree(self.proc.pid)

    def remember_processes(self):
        self.known_pids.update(p.pid for p in self.tree())

    def apache_parent(self):
        me = psutil.Process(self.proc.pid)
        if me.name() in HTTPD_NAMES:         # --no-isatty: Apache took start-server's place
            return me
        for child in me.children():
            if child.name() in HTTPD_NAMES:
                return child
        return None

    def daemons(self):
        """The daemon processes: children of the supervisor, the non-Apache child of Apache."""
        apache = self.apache_parent()
        if apache is None:
            return []
        found = []
        for child in apache.children():
            if child.name() not in HTTPD_NAMES:
                found.extend(p for p in child.children() if p.status() != psutil.STATUS_ZOMBIE)
        return found

    def wait_for_daemons(self, count):
        daemons = wait_for(lambda: (lambda d: d if len(d) == count else None)(self.daemons()),
                           START_TIMEOUT, message=f"{count} daemon processes")
        self.remember_processes()
        return daemons

    # --- stopping -------------------------------------------------------------------------
    def interrupt(self):
        """Ctrl-C: SIGINT to start-server's process group; return start-server's exit status."""
        self.remember_processes()
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=STOP_TIMEOUT)

    def survivors(self):
        return [pid for pid in self.known_pids if is_alive(pid)]

    def cleanup(self):
        if self.proc.poll() is None:
            try:
                self.interrupt()
            except subprocess.TimeoutExpired:
                pass
        self.remember_processes()
        for pid in self.survivors():
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=STOP_TIMEOUT)
        subprocess.run(["rm", "-rf", self.workdir], check=False)


def write_file(path, text, mode=0o644):
    """Write `text` to `path`, making its directories (0755: the daemon user must reach it)."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


@pytest.fixture
def express():
    """Factory: express(args, script=..., as_user=...) -> a running ExpressServer."""
    made = []

    def start(args=(), **kw):
        server = ExpressServer(args, **kw)
        made.append(server)
        return server

    yield start
    for server in made:
        server.cleanup()


@pytest.fixture
def write_script():
    """Factory: write_script(text) -> path of a WSGI script the daemon user can read."""
    directories = []

    def write(text, name="app.wsgi"):
        directory = shared_tmpdir("wsgid-express-app-")
        directories.append(directory)
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    yield write
    for directory in directories:
        subprocess.run(["rm", "-rf", directory], check=False)


@pytest.fixture
def pid_script(write_script):
    """A WSGI script that names its process and its group."""
    return write_script(PID_SCRIPT, "pid.wsgi")


def is_alive(pid):
    """True while `pid` runs (a zombie, or a pid that exits while we look, is not alive)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run_wsgid(*args, env=None, timeout=60):
    return subprocess.run(WSGID + list(args), capture_output=True, text=True, env=env,
                          timeout=timeout)
