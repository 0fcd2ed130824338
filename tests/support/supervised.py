"""`wsgid supervise --config FILE` started by a test without Apache, its log in a file.

For the tests that talk to daemon sockets directly: the supervisor's lifecycle
(tests/integration/test_supervisor.py), hostile packets (thousands of log lines, which a pipe
would stop once full), groups running as different users.

Rules:
- Everything lives in one directory that every test user can traverse (mode 0755); the
  configuration, the log and the sockets are in it.
- `stop()` sends SIGTERM and waits; any process it ever saw that is still alive afterwards is
  killed by pid, so a failed test leaves nothing behind.
- Waiting is polling with a deadline (tests.support.apache.wait_for), never a fixed sleep.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys

import psutil

from tests.support.apache import APACHE_USER, RUNNING_AS_ROOT, shared_tmpdir, wait_for
from tests.support.error_log import pid_mark


def apache_user():
    """The passwd entry of the user that may connect to daemon sockets (the Apache child user,
    or ourselves when the tests do not run as root)."""
    return pwd.getpwnam(APACHE_USER) if RUNNING_AS_ROOT else pwd.getpwuid(os.getuid())


class SupervisorProcess:
    """One `wsgid supervise --config FILE` subprocess, its directory (configuration, log,
    sockets) and every daemon process it was ever seen with. Subclasses write the
    configuration."""

    def __init__(self, prefix="wsgid-supervised-", config_name="daemons.conf"):
        self.directory = shared_tmpdir(prefix)
        self.config_path = os.path.join(self.directory, config_name)
        self.log_path = os.path.join(self.directory, "supervisor.log")
        self.proc = None
        self.seen_pids = set()

    def socket_path(self, name):
        return os.path.join(self.directory, f"{name}.sock")

    def launch(self, options=(), command_prefix=(), env=None, own_session=False):
        """Start the supervisor on the configuration file, with `options` after it, optionally
        under `command_prefix` (e.g. setpriv ...) and with `env` added to its environment. With
        `own_session`, it leads a session and process group of its own, as a command started
        at a terminal leads the foreground group that a Ctrl-C signals."""
        cmd = [*command_prefix, sys.executable, "-m", "wsgid", "supervise",
               "--config", self.config_path, *options]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})},
                                         start_new_session=own_session)
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def daemons(self):
        """The supervisor's live children (its daemon processes)."""
        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []
        alive = []
        for child in children:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child)
            except psutil.NoSuchProcess:
                pass
        self.seen_pids.update(p.pid for p in alive)
        return alive

    def signal(self, signum):
        os.kill(self.proc.pid, signum)

    def stop(self):
        """SIGTERM and wait; kill what is left by pid (teardown of a test that failed)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.daemons()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.seen_pids:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class SupervisedGroups(SupervisorProcess):
    """A supervisor serving daemon groups declared with `add_group()`."""

    def __init__(self, prefix="wsgid-supervised-"):
        super().__init__(prefix)
        self.groups = {}

    def add_group(self, name, script, options="processes=1 threads=2", url=None):
        self.groups[name] = (options, script, url or f"/{name}")

    def write_config(self):
        owner = apache_user()
        # info: the lifecycle lines the tests wait for (the default is Apache's, warn)
        lines = [f"WSGIApacheUser {owner.pw_uid} {owner.pw_gid}", "LogLevel info"]
        for name, (options, script, url) in self.groups.items():
            lines += [f"WSGIDaemonProcess {name} {options}",
                      f"WSGIDaemonSocket {name} {self.socket_path(name)}",
                      f'WSGIScriptAlias {url} "{script}" process-group={name}']
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, command_prefix=(), env=None, wait=True):
        """Start the supervisor (optionally under `command_prefix`, e.g. setpriv ..., with
        `env` added to its environment); with `wait`, return once every group's socket
        exists."""
        self.write_config()
        self.launch(command_prefix=command_prefix, env=env)
        if wait:
            for name in self.groups:
                wait_for(lambda: self._alive() and os.path.exists(self.socket_path(name)), 15,
                         message=f"the socket of group '{name}'")
        return self

    def _alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"the supervisor exited with status {self.proc.returncode}:\n"
                                 + self.log()[-3000:])
        return True

    def daemons_serving(self, count, timeout=15):
        """Wait until `count` daemon processes run and each has logged that it serves (after
        its privilege drop and set-up); return them."""
        def ready():
            found = self.daemons()
            log = self.log()
            serving = all(pid_mark(p.pid) in log and _has_served(log, p.pid) for p in found)
            return found if len(found) == count and serving else None
        return wait_for(ready, timeout, message=f"{count} serving daemon processes")


def _has_served(log, pid):
    return any(pid_mark(pid) in line and "daemon process serving" in line
               for line in log.splitlines())
