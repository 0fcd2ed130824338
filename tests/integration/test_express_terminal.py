"""--isatty and --no-isatty: how start-server runs Apache on a terminal and off one.

On a terminal (a real pseudo-terminal here, with start-server as the foreground job of its
session, as in a shell) the default is --isatty: a resize sends SIGWINCH to start-server, which
must not stop the server, and Ctrl-C typed on the terminal stops everything. Off a terminal the
default is --no-isatty: Apache replaces start-server (same pid), and SIGTERM to that pid stops
everything.
"""

import fcntl
import os
import signal
import struct
import subprocess
import termios
import threading

import psutil
import requests

from tests.support.apache import free_port, process_tree, shared_tmpdir, wait_for
from tests.support.express import HTTPD_NAMES, START_TIMEOUT, STOP_TIMEOUT, WSGID, is_alive

SIGWINCH_BIT = 1 << (signal.SIGWINCH - 1)


class TerminalSession:
    """start-server as the foreground job of a pseudo-terminal that it has as controlling tty."""

    def __init__(self, args):
        self.workdir = shared_tmpdir("wsgid-express-tty-")
        self.port = free_port()
        self.master, slave = os.openpty()
        self.output = bytearray()
        command = WSGID + ["start-server", "--port", str(self.port),
                           "--server-root", os.path.join(self.workdir, "root"), *args]
        self.proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, preexec_fn=_take_terminal)
        os.close(slave)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.known_pids = set()

    def _read(self):
        # Drained all the time, so that a full terminal buffer never blocks start-server.
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:           # EIO: every process holding the terminal has exited
                return
            if not data:
                return
            self.output.extend(data)

    def text(self):
        return self.output.decode(errors="replace")

    def get(self, path="/"):
        assert self.proc.poll() is None, f"start-server exited\n{self.text()}"
        try:
            return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=10)
        except requests.ConnectionError:
            return None

    def tree(self):
        return process_tree(self.proc.pid)

    def resize(self, rows, columns):
        """What a terminal emulator does when its window changes size (the kernel sends
        SIGWINCH to the foreground process group)."""
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def type_ctrl_c(self):
        os.write(self.master, b"\x03")

    def cleanup(self):
        self.known_pids.update(p.pid for p in self.tree())
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.known_pids:
            if is_alive(pid):
                psutil.Process(pid).kill()
        os.close(self.master)
        subprocess.run(["rm", "-rf", self.workdir], check=False)


def _take_terminal():
    """preexec_fn, after setsid(): make the pseudo-terminal on stdin the controlling tty."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _ignored_signals(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return int(line.split()[1], 16)
    raise AssertionError(f"no SigIgn line for {pid}")


def test_on_a_terminal_a_resize_keeps_serving_and_ctrl_c_stops_everything():
    session = TerminalSession([])          # no --isatty: the terminal makes it the default
    try:
        first = wait_for(session.get, START_TIMEOUT, interval=0.1, message="start-server")
        assert first.status_code == 200, session.text()
        assert "Ctrl-C stops the server" in session.text()
        start_server = session.proc.pid
        apache = next(p for p in psutil.Process(start_server).children()
                      if p.name() in HTTPD_NAMES)
        session.known_pids.update(p.pid for p in session.tree())
        # start-server is the terminal's foreground job; Apache is in a session of its own,
        # so terminal signals reach start-server only, and it ignores SIGWINCH.
        assert os.tcgetpgrp(session.master) == os.getpgid(start_server)
        assert os.getsid(apache.pid) != os.getsid(start_server)
        assert _ignored_signals(start_server) & SIGWINCH_BIT

        session.resize(40, 100)
        session.resize(50, 132)
        # An ignored signal is discarded when it is sent, so the resizes are over by now.
        for _ in range(3):
            assert session.get().status_code == 200
        assert apache.is_running() and session.proc.poll() is None

        session.type_ctrl_c()
        assert session.proc.wait(timeout=STOP_TIMEOUT) == 0, session.text()
        wait_for(lambda: not [pid for pid in session.known_pids if is_alive(pid)],
                 STOP_TIMEOUT, message="every process start-server started to exit")
        assert "outlived Apache" not in session.text()
    finally:
        session.cleanup()


def test_off_a_terminal_apache_replaces_start_server_and_sigterm_stops_everything(express):
    server = express(isatty=None)          # stdin is not a terminal: --no-isatty by default
    assert server.wait_until_serving().status_code == 200, server.diagnostics()
    apache = psutil.Process(server.proc.pid)
    assert apache.name() in HTTPD_NAMES     # the same pid, now Apache
    assert "SIGTERM stops the server" in server.output()
    server.wait_for_daemons(1)
    os.kill(server.proc.pid, signal.SIGTERM)
    assert server.proc.wait(timeout=STOP_TIMEOUT) == 0, server.diagnostics()
    wait_for(lambda: not server.survivors(), STOP_TIMEOUT, message="every process to exit")
