"""The daemon's side of a connection (Connection, accept_connection) on both core
implementations, over real unix sockets.

The Cython Connection is not a Python socket (wsgid/_core_conn.pxi says why): these tests pin down
that it behaves as the request path needs a socket to behave, in the same way as the twin (a
Python socket): bytes exact both ways, EOF, timeouts raised as TimeoutError, a peer that went
away raised as an OSError (never SIGPIPE), shutdown() from another thread waking a blocked
recv(), sendfile() with offset and count.
"""

import os
import socket
import threading
import time

import pytest

from tests.support.wire import recv_until_eof

TIMEOUT = 0.3


class Pair:
    """A listening socket, a client connected to it and the daemon side accepted by `core`."""

    def __init__(self, core, path):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(8)
        self.listener.setblocking(False)   # as sockets.bind_listener leaves it
        self.client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.client.connect(path)
        accepted = core.accept_connection(self.listener)
        assert accepted is not None
        self.conn, self.uid = accepted

    def close(self):
        self.conn.close()
        self.client.close()
        self.listener.close()


@pytest.fixture
def pair(core, tmp_path):
    made = Pair(core, str(tmp_path / "s"))
    yield made
    made.close()


def test_nothing_to_accept_is_none(core, tmp_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "s"))
    listener.listen(1)
    listener.setblocking(False)
    try:
        assert core.accept_connection(listener) is None
    finally:
        listener.close()


def test_accepted_connection_knows_the_peer_uid_and_is_close_on_exec(core, pair):
    assert pair.uid == os.getuid()
    assert not os.get_inheritable(pair.conn.fileno())
    # The Cython Connection waits in poll() bounded by socket-timeout, so its descriptor must
    # never block; the twin is a Python socket, blocking until settimeout() is called.
    assert os.get_blocking(pair.conn.fileno()) == (core.__name__ == "wsgid._core_py")


def test_recv_gives_what_was_sent_then_empty_at_eof(pair):
    pair.client.sendall(b"hello")
    assert pair.conn.recv(100) == b"hello"
    pair.client.shutdown(socket.SHUT_WR)
    assert pair.conn.recv(100) == b""


def test_recv_waits_for_data_that_comes_later(pair):
    timer = threading.Timer(0.1, pair.client.sendall, args=(b"late",))
    timer.start()
    try:
        assert pair.conn.recv(100) == b"late"
    finally:
        timer.join()


def test_recv_times_out_with_timeout_error(pair):
    pair.conn.settimeout(TIMEOUT)
    assert pair.conn.gettimeout() == TIMEOUT
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        pair.conn.recv(100)
    assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT + 2


def test_sendall_more_than_the_socket_buffer_arrives_byte_exact(pair):
    data = os.urandom(3 * 1024 * 1024 + 7)
    received = []
    reader = threading.Thread(target=lambda: received.append(recv_until_eof(pair.client)))
    reader.start()
    pair.conn.sendall(memoryview(data))   # any bytes-like object
    pair.conn.shutdown(socket.SHUT_WR)
    reader.join(30)
    assert received == [data]


def test_sendall_to_a_peer_that_stops_reading_times_out(pair):
    pair.conn.settimeout(TIMEOUT)
    with pytest.raises(TimeoutError):
        pair.conn.sendall(b"x" * (16 * 1024 * 1024))


def test_sendall_to_a_peer_that_is_gone_raises_and_sends_no_sigpipe(pair):
    pair.client.close()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for _ in range(100):
            pair.conn.sendall(b"x" * 65536)


def test_send_dontwait_on_a_full_buffer_raises_blocking_io_error(pair):
    with pytest.raises(BlockingIOError):
        for _ in range(10_000):
            pair.conn.send(b"x" * 65536, socket.MSG_DONTWAIT)


def test_shutdown_from_another_thread_wakes_a_blocked_recv(pair):
    timer = threading.Timer(0.1, pair.conn.shutdown, args=(socket.SHUT_RDWR,))
    timer.start()
    try:
        assert pair.conn.recv(100) == b""
    finally:
        timer.join()


def test_sendfile_sends_the_range_and_moves_the_file_position(pair, tmp_path):
    content = os.urandom(200_000)
    path = tmp_path / "f"
    path.write_bytes(content)
    with open(path, "rb") as file:
        assert pair.conn.sendfile(file, 1000, 150_000) == 150_000
        assert file.tell() == 151_000
        assert pair.conn.sendfile(file, 190_000) == 10_000   # count None: to the end
    pair.conn.shutdown(socket.SHUT_WR)
    assert recv_until_eof(pair.client) == content[1000:151_000] + content[190_000:]


def test_close_twice_is_harmless_and_leaves_no_descriptor(pair):
    fd = pair.conn.fileno()
    pair.conn.close()
    pair.conn.close()
    assert pair.conn.fileno() == -1
    with pytest.raises(OSError):
        os.fstat(fd)
