"""The request threads' loop (AcceptLoop) of this run's request path, over a real unix
listener: it hands each connection from an allowed peer to `handle`, passes a refused peer to
`refuse` instead, survives a handler that raises, stops when told, and with finish_backlog serves
what is queued on a listener that refuses new connections, then returns.
"""

import os
import socket
import threading

import pytest

from tests.support.apache import wait_for


@pytest.fixture
def loop_class(request_path):
    return request_path.AcceptLoop


class Site:
    """A listener as sockets.bind_listener leaves it (non-blocking), its wake-up pipe, and
    what the loop handed to handle() and refuse()."""

    def __init__(self, loop_class, path, allowed_uids=None, handle=None):
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.wake_r, self.wake_w = os.pipe()
        self.handled, self.refused = [], []
        allowed = frozenset({os.getuid()}) if allowed_uids is None else allowed_uids
        self.loop = loop_class(self.listener, self.wake_r, handle or self.handle, allowed,
                               self.refuse)
        self.threads = []

    def handle(self, conn):
        self.handled.append(conn.recv(16))
        conn.close()

    def refuse(self, conn, uid):
        self.refused.append(uid)
        conn.close()

    def connect(self, data=None):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(self.path)
        if data is not None:
            client.sendall(data)
        return client

    def start(self, threads):
        self.threads = [threading.Thread(target=self.loop.run, daemon=True)
                        for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.loop.stopping = True
        os.write(self.wake_w, b"x")
        for thread in self.threads:
            thread.join(5)
        assert not any(thread.is_alive() for thread in self.threads), "a thread did not stop"

    def close(self):
        # Stopped first, also after a failed test: a loop left running would poll and accept
        # on descriptor numbers that later tests reuse.
        if not self.loop.stopping:
            self.stop()
        self.listener.close()
        os.close(self.wake_r)
        os.close(self.wake_w)


@pytest.fixture
def make_site(loop_class, tmp_path):
    made = []

    def make(**kwargs):
        site = Site(loop_class, str(tmp_path / f"s{len(made)}"), **kwargs)
        made.append(site)
        return site

    yield make
    for site in made:
        site.close()


def test_each_connection_of_an_allowed_peer_is_handled_once_until_stopped(make_site):
    site = make_site()
    site.start(threads=3)
    clients = [site.connect(b"r%d" % n) for n in range(8)]
    wait_for(lambda: len(site.handled) == 8, 5, message="8 connections handled")
    site.stop()
    assert sorted(site.handled) == sorted(b"r%d" % n for n in range(8))
    assert site.refused == []
    for client in clients:
        client.close()


def test_an_accept_limit_is_exact_whatever_the_threads_and_warns_before_it_is_reached(
        make_site):
    site = make_site()
    calls = []
    site.loop.limit_accepts(5, 2, lambda: calls.append(("near", len(site.handled))),
                            lambda: calls.append(("reached", site.loop.accepted)))
    clients = [site.connect(b"r%d" % n) for n in range(8)]   # queued before any thread runs
    site.start(threads=3)
    wait_for(lambda: all(not t.is_alive() for t in site.threads), 5,
             message="every thread to leave the loop at the limit")
    assert len(site.handled) == 5 and site.loop.accepted == 5
    assert [name for name, _ in calls] == ["near", "reached"]
    assert calls[1] == ("reached", 5)
    for client in clients[5:]:
        client.settimeout(0.2)
        with pytest.raises(TimeoutError):      # still queued: nobody accepted it
            client.recv(1)
    for client in clients:
        client.close()


def test_a_peer_that_may_not_connect_goes_to_refuse_and_never_to_handle(make_site):
    site = make_site(allowed_uids=frozenset({os.getuid() + 1}))
    site.start(threads=1)
    # Sends nothing: the refusal may come before any send, and the close is then an EOF.
    client = site.connect()
    wait_for(lambda: site.refused, 5, message="the peer to be refused")
    site.stop()
    assert site.refused == [os.getuid()] and site.handled == []
    assert client.recv(16) == b""      # closed, unanswered
    client.close()


def test_a_handler_that_raises_is_logged_and_the_thread_serves_on(make_site, caplog):
    calls = []

    def handle(conn):
        calls.append(conn.recv(16))
        conn.close()
        if len(calls) == 1:
            raise RuntimeError("handler bug")

    site = make_site(handle=handle)
    site.start(threads=1)
    first = site.connect(b"one")
    wait_for(lambda: len(calls) == 1, 5, message="the first connection")
    second = site.connect(b"two")
    wait_for(lambda: len(calls) == 2, 5, message="the second connection, on the same thread")
    site.stop()
    assert calls == [b"one", b"two"]
    assert any(r.getMessage() == "the request handler raised; connection closed"
               for r in caplog.records)
    first.close()
    second.close()


def test_finish_backlog_serves_every_queued_connection_then_returns(make_site):
    site = make_site()
    clients = [site.connect(b"q%d" % n) for n in range(5)]
    site.listener.shutdown(socket.SHUT_RD)   # as pool.stop(finish_backlog=True) does
    with pytest.raises(ConnectionRefusedError):
        site.connect(b"late")
    site.loop.finish_backlog = True
    site.loop.stopping = True
    os.write(site.wake_w, b"x")
    done = threading.Thread(target=site.loop.run, daemon=True)
    done.start()
    done.join(5)
    # A listener shut down for reading polls readable for good: the loop must not spin on it.
    assert not done.is_alive(), "the loop kept going after the queue was empty"
    assert site.handled == [b"q%d" % n for n in range(5)]
    for client in clients:
        client.close()


def test_close_listener_closes_this_copy_once_the_loop_is_stopped(make_site):
    site = make_site()
    site.start(threads=2)
    site.stop()
    site.loop.close_listener()
    assert site.listener.fileno() == -1
