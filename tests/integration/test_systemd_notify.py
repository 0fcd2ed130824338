"""`wsgid supervise --config FILE` under a (fake) systemd: the notifications of a Type=notify unit,
and conf/wsgid.service checked by systemd-analyze.

The test owns the notification socket (a datagram socket bound in a temporary directory) and
gives its path to the supervisor as NOTIFY_SOCKET, as systemd does. The daemon processes preload
a script that blocks until the test opens a gate file, so "READY=1 only once the processes are
ready" is proven by order, not by timing: while they are held at the gate, no READY=1 may have
arrived; once it is open, READY=1 comes and a request is answered.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from tests.support.apache import APPS, REPO, shared_tmpdir, wait_for
from tests.support.wire import unix_exchange, uwsgi_packet

ROOT = os.geteuid() == 0
DAEMON_USER = pwd.getpwnam("www-data") if ROOT else pwd.getpwuid(os.getuid())
ECHO_APP = os.path.join(APPS, "echo.wsgi")
UNIT_FILE = os.path.join(REPO, "conf", "wsgid.service")

# Preloaded by each daemon process: say "I am held" (a file named after the pid), then wait for
# the gate. Bounded, so that a failed test leaves no process waiting forever.
GATED_PRELOAD = """\
import os, time
open(os.path.join({markers!r}, str(os.getpid())), "w").close()
deadline = time.monotonic() + 60
while not os.path.exists({gate!r}) and time.monotonic() < deadline:
    time.sleep(0.02)
"""


class NotifySocket:
    """The systemd side: a datagram socket that collects the supervisor's notifications."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def next_message(self, timeout):
        """The next notification as {KEY: VALUE}, or None if none came within timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        return dict(line.split("=", 1) for line in data.decode().splitlines())

    def pending(self):
        """Every notification already received (without waiting)."""
        messages = []
        while (message := self.next_message(0.001)) is not None:
            messages.append(message)
        return messages

    def wait_for(self, key, timeout=30):
        """Read notifications until one sets `key`; return (the ones before it, that one)."""
        deadline = time.monotonic() + timeout
        before = []
        while True:
            remaining = deadline - time.monotonic()
            message = self.next_message(max(remaining, 0.001))
            if message is None:
                raise AssertionError(f"no {key}=1 within {timeout}s; received {before}")
            if key in message:
                return before, message
            before.append(message)

    def close(self):
        self.sock.close()


class GatedGroup:
    """A daemon group whose processes are held in their preload until open() is called."""

    def __init__(self, workdir, name, processes):
        self.name = name
        self.processes = processes
        self.socket_path = os.path.join(workdir, f"{name}.sock")
        self.gate = os.path.join(workdir, f"{name}.gate")
        self.markers = os.path.join(workdir, f"{name}.held")
        os.mkdir(self.markers)
        os.chown(self.markers, DAEMON_USER.pw_uid, DAEMON_USER.pw_gid)
        self.preload = os.path.join(workdir, f"{name}_preload.py")
        with open(self.preload, "w") as f:
            f.write(GATED_PRELOAD.format(markers=self.markers, gate=self.gate))

    def config_lines(self):
        return [f"WSGIDaemonProcess {self.name} processes={self.processes} threads=2",
                f"WSGIDaemonSocket {self.name} {self.socket_path}",
                f"WSGIScriptAlias / {ECHO_APP} process-group={self.name}",
                f"WSGIImportScript {self.preload} process-group={self.name} "
                f"application-group=%{{GLOBAL}}"]

    def wait_until_held(self):
        """Every process of the group has reached the gate (so the supervisor forked them all
        and none of them is ready)."""
        wait_for(lambda: len(os.listdir(self.markers)) >= self.processes, 30,
                 message=f"{self.processes} processes of group {self.name} at the gate")

    def open(self):
        open(self.gate, "w").close()


def request_status(socket_path):
    packet = uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/hello", "SCRIPT_NAME": "",
                           "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
                           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"})
    reply = unix_exchange(socket_path, packet, timeout=10)
    return reply.split(b"\r\n", 1)[0].decode("latin-1")


def write_config(path, groups):
    lines = [f"WSGIApacheUser {DAEMON_USER.pw_uid} {DAEMON_USER.pw_gid}"] if ROOT else []
    for group in groups:
        lines += group.config_lines()
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


@pytest.fixture
def workdir():
    path = shared_tmpdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_ready_reloading_and_stopping_reach_the_notify_socket(workdir):
    notify_socket = NotifySocket(os.path.join(workdir, "notify"))
    config_path = os.path.join(workdir, "daemons.conf")
    site = GatedGroup(workdir, "site", processes=2)
    write_config(config_path, [site])
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket.path)
    with open(os.path.join(workdir, "supervisor.log"), "w+") as log:
        sup = subprocess.Popen([sys.executable, "-m", "wsgid", "supervise", "--config",
                                config_path], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            # Start: nothing says READY=1 while the processes are held in their preload.
            site.wait_until_held()
            assert not [m for m in notify_socket.pending() if "READY" in m]
            site.open()
            _, ready = notify_socket.wait_for("READY")
            assert ready["READY"] == "1"
            assert "serving 1 group" in ready["STATUS"] and "2 daemon processes" in ready["STATUS"]
            assert request_status(site.socket_path) == "HTTP/1.1 200 OK"
            # The daemon processes did not inherit the variable.
            for child in psutil.Process(sup.pid).children():
                assert "NOTIFY_SOCKET" not in child.environ()

            # Reload adding a group: RELOADING=1, then READY=1 only once the new group is ready.
            other = GatedGroup(workdir, "other", processes=1)
            write_config(config_path, [site, other])
            sup.send_signal(signal.SIGHUP)
            before, reloading = notify_socket.wait_for("RELOADING")
            assert not [m for m in before if "READY" in m]
            assert int(reloading["MONOTONIC_USEC"]) > 0
            other.wait_until_held()
            assert not [m for m in notify_socket.pending() if "READY" in m]
            other.open()
            notify_socket.wait_for("READY")
            assert request_status(other.socket_path) == "HTTP/1.1 200 OK"

            # A reload that fails keeps the running groups, and is over at once.
            with open(config_path, "a") as f:
                f.write("WSGINoSuchDirective\n")
            sup.send_signal(signal.SIGHUP)
            notify_socket.wait_for("RELOADING")
            notify_socket.wait_for("READY")

            # Stop.
            sup.send_signal(signal.SIGTERM)
            before, stopping = notify_socket.wait_for("STOPPING")
            assert not [m for m in before if "READY" in m]
            assert "SIGTERM" in stopping["STATUS"]
            assert sup.wait(timeout=30) == 0
        finally:
            if sup.poll() is None:
                sup.kill()
                sup.wait(timeout=10)
            notify_socket.close()
            log.seek(0)
            output = log.read()
    assert "cannot notify systemd" not in output, output


def test_unit_file_runs_the_supervisor_as_a_notify_service():
    with open(UNIT_FILE) as f:
        settings = [line.strip().split("=", 1) for line in f
                    if "=" in line and not line.lstrip().startswith("#")]
    service = dict(settings)
    assert service["Type"] == "notify"
    assert service["KillMode"] == "mixed"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["ExecStart"].split()[1:4] == ["supervise", "--config", "/etc/wsgid/wsgid.conf"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (Debian: apt-get install systemd)")
def test_systemd_analyze_verifies_the_unit_file(tmp_path):
    # verify also checks that ExecStart's program exists: point it at this environment's wsgid
    # instead of the path the unit file suggests.
    wsgid_program = os.path.join(os.path.dirname(sys.executable), "wsgid")
    assert os.access(wsgid_program, os.X_OK), f"{wsgid_program}: install wsgid in this venv"
    with open(UNIT_FILE) as f:
        unit = f.read()
    assert "ExecStart=/opt/wsgid/venv/bin/wsgid " in unit
    unit_copy = tmp_path / "wsgid.service"
    unit_copy.write_text(unit.replace("ExecStart=/opt/wsgid/venv/bin/wsgid ",
                                      f"ExecStart={wsgid_program} "))
    result = subprocess.run(["systemd-analyze", "verify", str(unit_copy)],
                            capture_output=True, text=True, timeout=60)
    # verify exits 0 even for an unknown key or a bad value, which it only warns about.
    assert result.returncode == 0 and not result.stderr.strip() and \
        not result.stdout.strip(), result.stdout + result.stderr
