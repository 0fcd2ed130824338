"""The daemon → supervisor channel (channel.py): message lines, partial reads, garbage, EOF.
Real pipes; no processes."""

import os
import types

import pytest

from wsgid.channel import (HEARTBEAT, READY, RECYCLE, DaemonEnd, Message, SupervisorEnd,
                           heartbeat_counts, open_pipe, parse_line, split_lines)
from wsgid.monitor import Limits, Monitor


@pytest.fixture
def pipe():
    read_fd, write_fd = open_pipe()
    ends = SupervisorEnd(read_fd, pid=4242), DaemonEnd(write_fd)
    yield ends
    ends[0].close()
    try:
        os.close(write_fd)
    except OSError:
        pass


@pytest.mark.parametrize("line, expected", [
    (b"ready", Message(READY)),
    (b"heartbeat", Message(HEARTBEAT)),
    (b"heartbeat 0 0", Message(HEARTBEAT, served=0, active=0)),
    (b"heartbeat 123456 15", Message(HEARTBEAT, served=123456, active=15)),
    (b"heartbeat 9999999999999999999 1", Message(HEARTBEAT, served=10 ** 19 - 1, active=1)),
    (b"recycle maximum_requests", Message(RECYCLE, "maximum_requests")),
    (b"recycle memory_limit", Message(RECYCLE, "memory_limit")),
])
def test_each_message_is_one_ascii_line(line, expected):
    assert parse_line(line) == expected
    assert expected.encode() == line + b"\n"


@pytest.mark.parametrize("line", [
    b"", b"ready now", b"heartbeat 1", b"recycle", b"recycle ", b"recycle Maximum",
    b"recycle max requests", b"recycle \xff", b"\xffready", b"READY", b"bye",
    b"heartbeat 1 2 3", b"heartbeat -1 0", b"heartbeat +1 0", b"heartbeat 1  2",
    b"heartbeat 1 ", b"heartbeat 1_000 0", b"heartbeat 0x10 0", b"heartbeat 1 \xd9\xa1",
    b"heartbeat 10000000000000000000 0", b"ready 1 2", b"recycle 1 2",
])
def test_anything_else_is_not_a_message(line):
    assert parse_line(line) is None


def test_split_lines_keeps_the_unfinished_rest():
    assert split_lines(b"ready\nheart") == ([b"ready"], b"heart")
    assert split_lines(b"") == ([], b"")
    assert split_lines(b"a\nb\n") == ([b"a", b"b"], b"")


def test_messages_sent_by_the_daemon_end_arrive_in_order(pipe):
    supervisor_end, daemon_end = pipe
    assert daemon_end.send(HEARTBEAT)
    assert daemon_end.send(READY)
    assert daemon_end.send(RECYCLE, "restart_interval")
    assert supervisor_end.read_messages() == [
        Message(HEARTBEAT), Message(READY), Message(RECYCLE, "restart_interval")]
    assert supervisor_end.read_messages() == []      # nothing more, and no blocking
    assert not supervisor_end.closed


def test_a_line_split_across_reads_is_put_back_together(pipe):
    supervisor_end, daemon_end = pipe
    os.write(daemon_end.fd, b"recycle inactiv")
    assert supervisor_end.read_messages() == []
    os.write(daemon_end.fd, b"ity_timeout\nrea")
    assert supervisor_end.read_messages() == [Message(RECYCLE, "inactivity_timeout")]
    os.write(daemon_end.fd, b"dy\n")
    assert supervisor_end.read_messages() == [Message(READY)]


def test_garbage_is_logged_once_and_skipped(pipe, caplog):
    supervisor_end, daemon_end = pipe
    os.write(daemon_end.fd, b"hello\nready\nGET / HTTP/1.1\n" + b"x" * 500)
    assert supervisor_end.read_messages() == [Message(READY)]
    daemon_end.send(HEARTBEAT)
    assert supervisor_end.read_messages() == [Message(HEARTBEAT)]
    complaints = [r for r in caplog.records if "not a wsgid message" in r.getMessage()]
    assert len(complaints) == 1
    assert "daemon process 4242" in complaints[0].getMessage()


def test_end_of_file_closes_the_supervisor_end(pipe):
    supervisor_end, daemon_end = pipe
    daemon_end.send(READY)
    os.close(daemon_end.fd)
    assert supervisor_end.read_messages() == [Message(READY)]
    assert supervisor_end.closed


def test_the_daemon_end_drops_messages_rather_than_block_when_the_pipe_is_full(pipe):
    supervisor_end, daemon_end = pipe
    sent = 0
    while daemon_end.send(HEARTBEAT):
        sent += 1
        assert sent < 1_000_000, "the pipe never filled"
    assert not daemon_end.send(RECYCLE, "memory_limit")
    assert len(supervisor_end.read_messages()) == sent


def test_the_monitor_heartbeat_carries_the_handlers_counts_through_the_pipe(pipe):
    supervisor_end, daemon_end = pipe
    handler = types.SimpleNamespace(requests_finished=41, running=lambda: ["a", "b"])
    monitor = Monitor(Limits(), started_at=0.0, channel=daemon_end, actions=None)
    monitor.check(0.0)                     # before a handler is attached: a bare heartbeat
    monitor.attach(handler)
    monitor.check(1.0)
    assert supervisor_end.read_messages() == [Message(HEARTBEAT),
                                              Message(HEARTBEAT, served=41, active=2)]
    assert heartbeat_counts(41, 2) == "41 2"
