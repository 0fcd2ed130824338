"""wsgi.input (PEP 3333, docs/protocol.md "The request body"): InputStream on both core
implementations, over a real socketpair.

The body is split between `prebuffered` (what the packet parser read past the vars block) and
the socket, at every boundary; the stream must never read past the body's end, which the tests
check by finding the bytes after it still unread on the socket.
"""

import random
import socket
import threading

import pytest

BODY = b"first line\nsecond line\n\nfourth, no newline at the end"
AFTER_BODY = b"NOT BODY"


class Body:
    """A socketpair whose writer side already sent (and half-closed) a request body."""

    def __init__(self, data, extra=b"", close=True):
        self.reader, self.writer = socket.socketpair()
        self.sender = None
        if len(data) + len(extra) < 100_000:
            self.send(data + extra, close)
        else:  # more than the socket buffer holds: the application reads while it is sent
            self.sender = threading.Thread(target=self.send, args=(data + extra, close))
            self.sender.start()

    def send(self, data, close):
        self.writer.sendall(data)
        if close:
            self.writer.shutdown(socket.SHUT_WR)

    def unread(self):
        """What is left on the socket after the stream is done with it."""
        self.reader.settimeout(5)
        parts = []
        while True:
            data = self.reader.recv(65536)
            if not data:
                return b"".join(parts)
            parts.append(data)

    def close(self):
        if self.sender is not None:
            self.sender.join(10)
        self.reader.close()
        self.writer.close()


@pytest.fixture
def body_on_socket():
    made = []

    def make(data, extra=b"", close=True):
        body = Body(data, extra, close)
        made.append(body)
        return body

    yield make
    for body in made:
        body.close()


def stream(core, body_on_socket, data, split, length="auto", extra=AFTER_BODY):
    """An InputStream whose first `split` body bytes are prebuffered, the rest on the socket."""
    body = body_on_socket(data[split:], extra)
    if length == "auto":
        length = len(data)
    return core.InputStream(body.reader, data[:split], length), body


SPLITS = sorted({0, 1, 10, 11, 12, len(BODY) - 1, len(BODY)})


@pytest.mark.parametrize("split", SPLITS)
def test_read_all(core, body_on_socket, split):
    wsgi_input, body = stream(core, body_on_socket, BODY, split)
    assert wsgi_input.read() == BODY
    assert wsgi_input.read() == b""
    assert wsgi_input.read(10) == b""
    assert wsgi_input.bytes_read == len(BODY)
    assert body.unread() == AFTER_BODY


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("size", [1, 7, 11, 12, 100])
def test_read_in_sizes(core, body_on_socket, split, size):
    wsgi_input, body = stream(core, body_on_socket, BODY, split)
    pieces = []
    while True:
        piece = wsgi_input.read(size)
        if not piece:
            break
        assert len(piece) == size or len(b"".join(pieces)) + len(piece) == len(BODY)
        pieces.append(piece)
    assert b"".join(pieces) == BODY
    assert body.unread() == AFTER_BODY


def test_read_none_and_negative_mean_all(core, body_on_socket):
    for size in (None, -1, -100):
        wsgi_input, _ = stream(core, body_on_socket, BODY, 5)
        assert wsgi_input.read(size) == BODY


def test_read_zero_is_empty(core, body_on_socket):
    wsgi_input, _ = stream(core, body_on_socket, BODY, 0)
    assert wsgi_input.read(0) == b""
    assert wsgi_input.bytes_read == 0
    assert wsgi_input.read() == BODY


@pytest.mark.parametrize("split", SPLITS)
def test_readline(core, body_on_socket, split):
    wsgi_input, body = stream(core, body_on_socket, BODY, split)
    assert wsgi_input.readline() == b"first line\n"
    assert wsgi_input.readline() == b"second line\n"
    assert wsgi_input.readline() == b"\n"
    assert wsgi_input.readline() == b"fourth, no newline at the end"
    assert wsgi_input.readline() == b""
    assert wsgi_input.bytes_read == len(BODY)
    assert body.unread() == AFTER_BODY


@pytest.mark.parametrize("split", SPLITS)
def test_readline_honours_size(core, body_on_socket, split):
    wsgi_input, _ = stream(core, body_on_socket, BODY, split)
    assert wsgi_input.readline(5) == b"first"
    assert wsgi_input.readline(6) == b" line\n"
    assert wsgi_input.readline(0) == b""
    assert wsgi_input.readline(100) == b"second line\n"
    assert wsgi_input.readline(None) == b"\n"
    assert wsgi_input.readline(-1) == b"fourth, no newline at the end"


@pytest.mark.parametrize("split", SPLITS)
def test_readlines_and_iteration(core, body_on_socket, split):
    expected = [b"first line\n", b"second line\n", b"\n", b"fourth, no newline at the end"]
    wsgi_input, _ = stream(core, body_on_socket, BODY, split)
    assert wsgi_input.readlines() == expected
    wsgi_input, _ = stream(core, body_on_socket, BODY, split)
    assert list(wsgi_input) == expected
    wsgi_input, _ = stream(core, body_on_socket, BODY, split)
    assert iter(wsgi_input) is wsgi_input
    assert [line for line in wsgi_input] == expected


def test_readlines_stops_at_hint(core, body_on_socket):
    wsgi_input, _ = stream(core, body_on_socket, BODY, 3)
    assert wsgi_input.readlines(12) == [b"first line\n", b"second line\n"]
    assert wsgi_input.readlines(0) == [b"\n", b"fourth, no newline at the end"]


def test_mixed_reads(core, body_on_socket):
    wsgi_input, body = stream(core, body_on_socket, BODY, 4)
    assert wsgi_input.read(3) == b"fir"
    assert wsgi_input.readline() == b"st line\n"
    assert next(iter(wsgi_input)) == b"second line\n"
    assert wsgi_input.read(2) == b"\nf"
    assert wsgi_input.readlines() == [b"ourth, no newline at the end"]
    assert body.unread() == AFTER_BODY


def test_length_none_reads_until_eof(core, body_on_socket):
    wsgi_input, body = stream(core, body_on_socket, BODY, 6, length=None, extra=b"")
    assert wsgi_input.read(6) == BODY[:6]
    assert wsgi_input.read() == BODY[6:]
    assert wsgi_input.read() == b""
    assert wsgi_input.bytes_read == len(BODY)


def test_length_none_readline_until_eof(core, body_on_socket):
    wsgi_input, _ = stream(core, body_on_socket, BODY, 0, length=None, extra=b"")
    assert len(list(wsgi_input)) == 4


def test_a_read_that_meets_an_early_end_raises_so_a_cut_upload_never_looks_whole(
        core, body_on_socket):
    wsgi_input, _ = stream(core, body_on_socket, b"only this", 4, length=100, extra=b"")
    with pytest.raises(OSError, match="ended 91 bytes before its CONTENT_LENGTH"):
        wsgi_input.read(50)
    assert wsgi_input.bytes_read == 0


@pytest.mark.parametrize("how", ["read", "readline", "readlines"])
def test_every_way_of_reading_a_short_body_raises(core, body_on_socket, how):
    wsgi_input, _ = stream(core, body_on_socket, b"only this", 0, length=100, extra=b"")
    with pytest.raises(OSError):
        getattr(wsgi_input, how)()


def test_drain_of_a_short_body_returns_what_was_left_without_raising(core, body_on_socket):
    wsgi_input, _ = stream(core, body_on_socket, b"only this", 4, length=100, extra=b"")
    assert wsgi_input.read(2) == b"on"
    assert wsgi_input.drain() == 7


def test_a_body_without_length_ends_quietly_at_eof(core, body_on_socket):
    wsgi_input, _ = stream(core, body_on_socket, b"all of it", 0, length=None, extra=b"")
    assert wsgi_input.read() == b"all of it"


def test_empty_body_does_not_touch_the_socket(core, body_on_socket):
    wsgi_input, body = stream(core, body_on_socket, b"", 0, length=0)
    assert wsgi_input.read() == b""
    assert wsgi_input.readline() == b""
    assert wsgi_input.readlines() == []
    assert wsgi_input.drain() == 0
    assert body.unread() == AFTER_BODY


def test_prebuffered_bytes_past_the_length_are_not_body(core, body_on_socket):
    body = body_on_socket(b"", b"")
    wsgi_input = core.InputStream(body.reader, b"12345EXTRA", 5)
    assert wsgi_input.read() == b"12345"
    assert wsgi_input.read() == b""


@pytest.mark.parametrize("split", [0, 10, len(BODY)])
@pytest.mark.parametrize("consumed", [0, 3, 20, len(BODY)])
def test_drain_discards_the_rest(core, body_on_socket, split, consumed):
    wsgi_input, body = stream(core, body_on_socket, BODY, split)
    assert len(wsgi_input.read(consumed)) == consumed
    assert wsgi_input.drain() == len(BODY) - consumed
    assert wsgi_input.bytes_read == consumed
    assert wsgi_input.read() == b""
    assert wsgi_input.drain() == 0
    assert body.unread() == AFTER_BODY


def test_drain_until_eof(core, body_on_socket):
    wsgi_input, _ = stream(core, body_on_socket, BODY, 3, length=None, extra=b"")
    assert wsgi_input.drain() == len(BODY)


def test_large_body_is_byte_exact(core, body_on_socket):
    data = random.Random(5).randbytes(3 * 1024 * 1024 + 17)
    wsgi_input, body = stream(core, body_on_socket, data, 1000)
    assert wsgi_input.read(5) == data[:5]
    assert wsgi_input.read(100_000) == data[5:100_005]
    assert wsgi_input.read() == data[100_005:]
    assert body.unread() == AFTER_BODY


def test_large_body_lines(core, body_on_socket):
    data = b"".join(b"line %d\n" % i for i in range(100_000))
    wsgi_input, body = stream(core, body_on_socket, data, 7)
    count = 0
    for count, line in enumerate(wsgi_input, 1):
        assert line == b"line %d\n" % (count - 1)
    assert count == 100_000
    assert body.unread() == AFTER_BODY


def test_timeout_propagates_as_oserror(core, body_on_socket):
    body = body_on_socket(b"part", close=False)
    body.reader.settimeout(0.05)
    wsgi_input = core.InputStream(body.reader, b"", 10)
    with pytest.raises(OSError):
        wsgi_input.read()


def test_negative_length_is_refused(core, body_on_socket):
    body = body_on_socket(b"")
    with pytest.raises(ValueError):
        core.InputStream(body.reader, b"", -1)


# The two implementations agree on random sequences of reads.

def run_operations(core, reader, prebuffered, length, operations):
    wsgi_input = core.InputStream(reader, prebuffered, length)
    results = []
    for name, argument in operations:
        if name == "drain":
            results.append(wsgi_input.drain())
        else:
            results.append(getattr(wsgi_input, name)(argument))
        results.append(wsgi_input.bytes_read)
    return results


def random_operations(rng):
    operations = []
    for _ in range(rng.randrange(1, 12)):
        name = rng.choice(["read", "read", "readline", "readline", "readlines", "drain"])
        operations.append((name, rng.choice([-1, 0, 1, 2, 5, 17, 64, None])))
    return operations


def test_cython_and_python_agree_on_random_reads(both_cores):
    rng = random.Random(99)
    for _ in range(300):
        data = bytes(rng.choice(b"ab\n") for _ in range(rng.randrange(0, 200)))
        split = rng.randrange(0, len(data) + 1)
        length = rng.choice([len(data), None, len(data) + 5, max(0, len(data) - 3)])
        operations = random_operations(rng)
        outcomes = []
        for core in both_cores:
            body = Body(data[split:], AFTER_BODY if length is not None else b"")
            try:
                outcomes.append(
                    run_operations(core, body.reader, data[:split], length, operations)
                )
            finally:
                body.close()
        assert outcomes[0] == outcomes[1], (data, split, length, operations)


def test_received_all_says_when_nothing_more_can_come_off_the_socket(core, body_on_socket):
    wsgi_input, _ = stream(core, body_on_socket, BODY, len(BODY))
    assert wsgi_input.received_all           # all of it came with the packet
    wsgi_input, _ = stream(core, body_on_socket, BODY, 5)
    assert not wsgi_input.received_all
    wsgi_input.read(3)                       # from the prebuffered part: the socket is untouched
    assert not wsgi_input.received_all
    wsgi_input.read()
    assert wsgi_input.received_all
    wsgi_input, _ = stream(core, body_on_socket, b"", 0, length=0)
    assert wsgi_input.received_all           # no body at all (a GET)
    wsgi_input, _ = stream(core, body_on_socket, BODY, 0, length=None, extra=b"")
    wsgi_input.read()
    assert not wsgi_input.received_all       # a body that ends at the half-close has no length
