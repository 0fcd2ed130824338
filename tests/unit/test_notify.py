"""wsgid.notify: sd_notify datagrams reach a real AF_UNIX socket, and nothing else ever happens to
the caller (no NOTIFY_SOCKET, nobody listening, a full queue); and when the supervisor counts a
group as ready for READY=1."""

import logging
import os
import socket
import types
import uuid

import pytest

from wsgid import notify
from wsgid.supervisor import all_processes_ready


@pytest.fixture
def receiver(tmp_path):
    """A datagram socket bound in tmp_path, as systemd's notification socket: (value, socket)."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def received(sock):
    """The next datagram as {KEY: VALUE}."""
    data = sock.recv(4096).decode()
    assert data.endswith("\n")
    return dict(line.split("=", 1) for line in data.splitlines())


def nothing_waiting(sock):
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    return False


def test_notifications_arrive_on_a_socket_file(receiver, monkeypatch):
    path, sock = receiver
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = notify.Notifier.from_environment()
    notifier.ready("serving 1 group")
    assert received(sock) == {"READY": "1", "STATUS": "serving 1 group"}
    notifier.reloading()
    message = received(sock)
    assert message["RELOADING"] == "1"
    assert int(message["MONOTONIC_USEC"]) > 0
    notifier.stopping("stopping (SIGTERM)")
    assert received(sock) == {"STOPPING": "1", "STATUS": "stopping (SIGTERM)"}
    notifier.status("line one\nREADY=1")
    # A newline in a status cannot smuggle in an assignment of its own.
    assert received(sock) == {"STATUS": "line one READY=1"}


def test_the_variable_leaves_the_environment_so_daemons_do_not_inherit_it(receiver, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", receiver[0])
    notify.Notifier.from_environment()
    assert "NOTIFY_SOCKET" not in os.environ


def test_an_abstract_socket_name_is_used_as_such(monkeypatch):
    name = f"wsgid-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        notify.Notifier.from_environment().ready()
        assert received(sock) == {"READY": "1"}


def test_without_notify_socket_nothing_is_sent_and_nothing_fails(monkeypatch, caplog):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = notify.Notifier.from_environment()
    assert not notifier.enabled
    assert notifier.send("READY=1") is False
    notifier.ready("x")
    notifier.reloading()
    notifier.stopping()
    assert caplog.records == []


def test_managed_mode_drops_the_variable_and_sends_nothing(receiver, monkeypatch):
    path, sock = receiver
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = notify.Notifier.from_environment(use=False)
    assert "NOTIFY_SOCKET" not in os.environ
    notifier.ready()
    assert nothing_waiting(sock)


def test_a_socket_nobody_listens_on_is_one_log_line_and_no_exception(tmp_path, monkeypatch,
                                                                      caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-here"))
    notifier = notify.Notifier.from_environment()
    notifier.ready()
    notifier.reloading()
    notifier.stopping()
    lines = [r for r in caplog.records if r.name.startswith("wsgid")]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.WARNING
    assert "nobody-here" in lines[0].getMessage()
    assert "READY=1" in lines[0].getMessage()


def test_after_a_success_a_new_failure_is_logged_again(receiver, tmp_path, caplog):
    path, sock = receiver
    notifier = notify.Notifier(path)
    assert notifier.send("READY=1")
    sock.close()
    os.unlink(path)
    assert notifier.send("STOPPING=1") is False
    assert notifier.send("STOPPING=1") is False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as again:
        again.bind(path)
        assert notifier.send("READY=1")
    assert notifier.send("STOPPING=1") is False
    assert len([r for r in caplog.records if r.name.startswith("wsgid")]) == 2


def test_a_full_receive_queue_does_not_block_the_sender(receiver, caplog):
    path, sock = receiver
    notifier = notify.Notifier(path)
    # Nobody reads: the queue fills (the unix datagram backlog is small), and then a send
    # fails at once instead of waiting for room.
    outcomes = [notifier.send("STATUS=" + "x" * 1000) for _ in range(2000)]
    assert outcomes[0] is True
    assert outcomes[-1] is False
    assert len([r for r in caplog.records if r.name.startswith("wsgid")]) == 1


@pytest.mark.parametrize("value", ["relative/path", "@", "vsock:2:1234"])
def test_an_unusable_value_is_one_warning_and_a_silent_notifier(value, monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", value)
    notifier = notify.Notifier.from_environment()
    assert not notifier.enabled
    notifier.ready()
    lines = [r for r in caplog.records if r.name.startswith("wsgid")]
    assert len(lines) == 1 and "NOTIFY_SOCKET" in lines[0].getMessage()


class FakeGroup:
    """What all_processes_ready reads of a group: its processes' `ready` and `processes=`."""

    def __init__(self, processes, ready_flags):
        self.spec = types.SimpleNamespace(options={"processes": processes})
        self._handles = [types.SimpleNamespace(ready=flag) for flag in ready_flags]

    def processes(self):
        return self._handles


@pytest.mark.parametrize("processes, ready_flags, expected", [
    (2, [True, True], True),
    (2, [True, False], False),      # one process accepting is not the whole group
    (2, [True], False),             # a slot whose process is not even started yet
    (1, [True, True], True),        # a recycle: the old ready process and its replacement
    (1, [], False),
])
def test_a_group_is_ready_when_every_process_has_said_ready(processes, ready_flags, expected):
    assert all_processes_ready(FakeGroup(processes, ready_flags)) is expected
