"""The request packet (docs/protocol.md): PacketParser and read_request on both core
implementations.

The golden cases are data files in tests/data/packets/ (NAME.bin, the bytes; NAME.json, what
they must give). Each is fed whole, one byte at a time, and through read_request over a real
socketpair, with the same result. A randomized round-trip checks that the Cython module and the
twin agree on packets nobody wrote by hand.
"""

import errno
import fcntl
import json
import os
import random
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.support.wire import recv_until_eof, uwsgi_packet

REPO = Path(__file__).resolve().parents[2]
PACKETS = REPO / "tests" / "data" / "packets"
CASE_NAMES = sorted(p.stem for p in PACKETS.glob("*.bin"))
# The base environ the daemon would pass: per-process entries every request gets.
BASE = {"wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.run_once": False}


def load_case(name):
    case = json.loads((PACKETS / (name + ".json")).read_text())
    return (PACKETS / (name + ".bin")).read_bytes(), case


def feed_in_pieces(core, data, sizes):
    """Feeds data in pieces of the given sizes (cycled) until complete.

    Returns (parser, bytes never fed because the packet was complete before them).
    """
    parser = core.PacketParser(dict(BASE))
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        i += 1
        if parser.feed(data[pos : pos + size]):
            return parser, data[pos + size :]
        pos += size
    return parser, None


def expected_environ(case):
    return {**case["environ"], **BASE}


def test_golden_cases_exist():
    assert len(CASE_NAMES) >= 30
    for name in CASE_NAMES:
        assert (PACKETS / (name + ".json")).exists(), name


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("piece", ["whole", "byte_by_byte"])
def test_golden_packet_fed(core, name, piece):
    data, case = load_case(name)
    sizes = [len(data) or 1] if piece == "whole" else [1]
    if "error" in case and not case.get("truncated"):
        with pytest.raises(core.ProtocolError) as caught:
            feed_in_pieces(core, data, sizes)
        assert case["error"] in str(caught.value)
        assert "\n" not in str(caught.value)
        return
    parser, unfed = feed_in_pieces(core, data, sizes)
    if case.get("truncated"):
        assert unfed is None, "a truncated packet must not complete"
        assert parser.environ is None
        return
    assert unfed is not None, "the packet did not complete"
    assert parser.environ == expected_environ(case)
    assert parser.rest + unfed == case["rest"].encode("latin-1")
    assert parser.content_length == case["content_length"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_golden_packet_read_from_socket(core, name):
    data, case = load_case(name)
    reader, writer = socket.socketpair()
    with reader, writer:
        assert len(data) < 200_000  # fits the socket buffer: sendall cannot block
        writer.sendall(data)
        writer.shutdown(socket.SHUT_WR)
        if "error" in case:
            with pytest.raises(core.ProtocolError) as caught:
                core.read_request(reader, dict(BASE))
            assert case["error"] in str(caught.value)
            return
        environ, rest, content_length = core.read_request(reader, dict(BASE))
        unread = recv_until_eof(reader)
    assert environ == expected_environ(case)
    # rest is the part of the body that came with the packet's last recv; the rest stays unread.
    assert rest + unread == case["rest"].encode("latin-1")
    assert content_length == case["content_length"]


MALFORMED_COMPLETE = [
    name
    for name in CASE_NAMES
    if "error" in load_case(name)[1] and not load_case(name)[1].get("truncated")
]


@pytest.mark.parametrize("name", MALFORMED_COMPLETE)
def test_both_cores_give_the_same_error_text(both_cores, name):
    data, case = load_case(name)
    texts = []
    for core in both_cores:
        with pytest.raises(core.ProtocolError) as caught:
            core.PacketParser({}).feed(data)
        texts.append(str(caught.value))
    assert texts[0] == texts[1]


def test_exception_classes_are_shared(both_cores):
    cython, python = both_cores
    assert cython.ProtocolError is python.ProtocolError
    assert cython.HeadError is python.HeadError
    assert issubclass(python.HeadError, ValueError)


# PacketParser behaviour beyond the golden bytes.

GET = [(b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", b"/x")]


def test_feed_accepts_bytearray_and_memoryview(core):
    data = uwsgi_packet(GET, b"body")
    for piece in (bytearray(data), memoryview(data)):
        parser = core.PacketParser({})
        assert parser.feed(piece) is True
        assert parser.environ["PATH_INFO"] == "/x"
        assert parser.rest == b"body"
        assert type(parser.rest) is bytes


def test_feed_of_nothing_changes_nothing(core):
    parser = core.PacketParser({})
    assert parser.feed(b"") is False
    assert parser.feed(uwsgi_packet(GET)[:3]) is False
    assert parser.feed(b"") is False
    assert parser.environ is None
    assert parser.content_length is None
    assert parser.rest == b""


def test_feed_after_completion_is_refused(core):
    parser = core.PacketParser({})
    assert parser.feed(uwsgi_packet(GET))
    with pytest.raises(RuntimeError, match="after the packet was complete"):
        parser.feed(b"more body")


def test_a_broken_packet_stays_broken(core):
    parser = core.PacketParser({})
    with pytest.raises(core.ProtocolError) as first:
        parser.feed(b"\x01\x00\x00\x00")
    with pytest.raises(core.ProtocolError) as again:
        parser.feed(uwsgi_packet(GET))
    assert str(again.value) == str(first.value)


def test_header_is_refused_as_soon_as_it_is_in(core):
    parser = core.PacketParser({})
    assert parser.feed(b"GE") is False
    with pytest.raises(core.ProtocolError, match="plain HTTP"):
        parser.feed(b"T ")


def test_non_http_garbage_is_not_called_plain_http(core):
    with pytest.raises(core.ProtocolError) as caught:
        core.PacketParser({}).feed(b"\x16\x03\x01\x02")
    assert "not a uwsgi packet" in str(caught.value)
    assert "plain HTTP" not in str(caught.value)


def test_environ_is_a_new_dict_and_base_is_untouched(core):
    base = {"wsgi.version": (1, 0)}
    first = core.PacketParser(base)
    second = core.PacketParser(base)
    first.feed(uwsgi_packet(GET))
    second.feed(uwsgi_packet([(b"REQUEST_METHOD", b"POST")]))
    assert base == {"wsgi.version": (1, 0)}
    assert first.environ is not base and second.environ is not first.environ
    assert first.environ["REQUEST_METHOD"] == "GET"
    assert second.environ["REQUEST_METHOD"] == "POST"


def test_base_environ_wins_over_packet_variables(core):
    errors = object()
    parser = core.PacketParser({"wsgi.errors": errors, "wsgi.version": (1, 0)})
    parser.feed(uwsgi_packet([(b"wsgi.errors", b"spoofed"), (b"wsgi.url_scheme", b"gopher")]))
    assert parser.environ["wsgi.errors"] is errors
    assert parser.environ["wsgi.url_scheme"] == "http"


def test_script_name_and_path_info_from_the_packet_are_kept(core):
    parser = core.PacketParser({})
    parser.feed(uwsgi_packet([(b"SCRIPT_NAME", b"/app"), (b"PATH_INFO", b"/a b")]))
    assert parser.environ["SCRIPT_NAME"] == "/app"
    assert parser.environ["PATH_INFO"] == "/a b"


def test_https_is_case_insensitive(core):
    for value in (b"ON", b"On", b"on", b"1"):
        parser = core.PacketParser({})
        parser.feed(uwsgi_packet([(b"HTTPS", value)]))
        assert parser.environ["wsgi.url_scheme"] == "https", value
    parser = core.PacketParser({})
    parser.feed(uwsgi_packet([(b"REQUEST_SCHEME", b"HTTPS")]))
    assert parser.environ["wsgi.url_scheme"] == "https"


def test_input_terminated_zero_is_false(core):
    parser = core.PacketParser({})
    parser.feed(uwsgi_packet([(b"wsgid.input_terminated", b"0"), (b"CONTENT_LENGTH", b"3")]))
    assert parser.environ["wsgi.input_terminated"] is False
    assert parser.content_length == 3


@pytest.mark.parametrize("value", [b"", b"0", b"same value"])
def test_a_duplicate_key_is_refused_whatever_its_values(core, value):
    # Equal short values are one shared str object in CPython: the check must not rely on them.
    with pytest.raises(core.ProtocolError, match="duplicate key 'SCRIPT_NAME'"):
        core.PacketParser({}).feed(uwsgi_packet([(b"SCRIPT_NAME", value), (b"A", b"1"),
                                                 (b"SCRIPT_NAME", value)]))


def test_keys_are_read_right_whatever_the_previous_packet_had_at_their_place(core):
    # The Cython core reuses the key str of the previous packet at the same position when the
    # bytes match; a different key, or one of the same length, must still be read as sent.
    for pairs in ([(b"PATH_INFO", b"/a"), (b"QUERY", b"x")],
                  [(b"PATH_INFX", b"/b"), (b"QUERZ", b"y")],
                  [(b"QUERY", b"z"), (b"PATH_INFO", b"/c")]):
        parser = core.PacketParser({})
        parser.feed(uwsgi_packet(pairs))
        for key, value in pairs:
            assert parser.environ[key.decode()] == value.decode()
        sent = {k.decode() for k, _ in pairs} | {"SCRIPT_NAME", "PATH_INFO"}  # always there
        assert {k for k in parser.environ if k.isupper()} == sent


def test_max_vars_is_configurable(core):
    three = uwsgi_packet([(b"A", b""), (b"B", b""), (b"C", b"")])
    assert core.PacketParser({}, max_vars=3).feed(three)
    with pytest.raises(core.ProtocolError, match="more than 2 variables"):
        core.PacketParser({}, max_vars=2).feed(three)
    with pytest.raises(ValueError):
        core.PacketParser({}, max_vars=-1)


def test_base_environ_must_be_a_dict(core):
    with pytest.raises(TypeError):
        core.PacketParser([("wsgi.version", (1, 0))])


def test_long_keys_are_cut_in_error_texts(core):
    key = b"K" * 5000
    with pytest.raises(core.ProtocolError) as caught:
        core.PacketParser({}).feed(uwsgi_packet([(key, b"1"), (key, b"2")]))
    text = str(caught.value)
    assert "duplicate key" in text
    assert len(text) < 200


def test_control_characters_in_keys_stay_on_one_line(core):
    with pytest.raises(core.ProtocolError) as caught:
        core.PacketParser({}).feed(uwsgi_packet([(b"A\nB", b"1"), (b"A\nB", b"2")]))
    assert "\n" not in str(caught.value)
    assert "\\n" in str(caught.value)


# read_request over a real socketpair.

def bytes_waiting(sock):
    """Bytes in the socket's receive queue (SIOCINQ, the same ioctl number as FIONREAD)."""
    buf = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    return struct.unpack("i", buf)[0]


def wait_until(condition, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting until " + what)
        time.sleep(0.001)


def read_in_thread(core, sock, **kwargs):
    """Starts read_request(sock) in a thread; returns (thread, outcome dict)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = core.read_request(sock, dict(BASE), **kwargs)
        except BaseException as error:  # handed to the test thread, which re-raises
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_read_request_whole(core):
    reader, writer = socket.socketpair()
    with reader, writer:
        writer.sendall(uwsgi_packet(GET, b"body bytes"))
        environ, rest, content_length = core.read_request(reader, dict(BASE))
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["wsgi.version"] == (1, 0)
    assert rest == b"body bytes"
    assert content_length is None


@pytest.mark.parametrize("split", [1, 3, 4, 5, 20])
def test_read_request_split_across_recvs(core, split):
    """The reader has consumed the first piece (the queue is empty) before the rest is sent."""
    data = uwsgi_packet(GET + [(b"CONTENT_LENGTH", b"4")], b"ab")
    reader, writer = socket.socketpair()
    with reader, writer:
        writer.sendall(data[:split])
        thread, outcome = read_in_thread(core, reader)
        wait_until(lambda: bytes_waiting(reader) == 0, "the reader took the first piece")
        assert thread.is_alive(), outcome
        writer.sendall(data[split:])
        thread.join(5)
    assert not thread.is_alive()
    environ, rest, content_length = outcome["result"]
    assert environ["PATH_INFO"] == "/x"
    assert rest == b"ab"
    assert content_length == 4


def test_read_request_eof_early_is_a_truncated_packet(core):
    data = uwsgi_packet(GET)
    reader, writer = socket.socketpair()
    with reader, writer:
        writer.sendall(data[:10])
        writer.shutdown(socket.SHUT_WR)
        with pytest.raises(core.ProtocolError) as caught:
            core.read_request(reader, dict(BASE))
    assert str(caught.value) == (
        "truncated packet: the connection closed after 10 of %d bytes" % len(data)
    )


def test_read_request_eof_inside_the_header(core):
    reader, writer = socket.socketpair()
    with reader, writer:
        writer.sendall(b"\x00")
        writer.shutdown(socket.SHUT_WR)
        with pytest.raises(core.ProtocolError, match="after 1 of the 4 header bytes"):
            core.read_request(reader, dict(BASE))


def test_read_request_timeout_is_an_oserror(core):
    reader, writer = socket.socketpair()
    with reader, writer:
        reader.settimeout(0.05)
        writer.sendall(uwsgi_packet(GET)[:5])
        with pytest.raises(OSError) as caught:
            core.read_request(reader, dict(BASE))
    assert isinstance(caught.value, socket.timeout) or caught.value.errno == errno.EAGAIN


def test_read_request_on_a_closed_socket_is_an_oserror(core):
    reader, writer = socket.socketpair()
    writer.close()
    reader.close()
    with pytest.raises(OSError):
        core.read_request(reader, dict(BASE))


def test_read_request_passes_max_vars(core):
    reader, writer = socket.socketpair()
    with reader, writer:
        writer.sendall(uwsgi_packet([(b"A", b""), (b"B", b"")]))
        with pytest.raises(core.ProtocolError, match="more than 1 variables"):
            core.read_request(reader, dict(BASE), max_vars=1)


# The two implementations agree on random packets.

def random_bytes(rng, size):
    return bytes(rng.getrandbits(8) for _ in range(size))


def random_packet(rng):
    """A packet that is valid, or valid but then damaged in one of a few ways."""
    keys = set()
    variables = []
    for _ in range(rng.randrange(0, 30)):
        key = rng.choice(
            [b"REQUEST_METHOD", b"PATH_INFO", b"HTTPS", b"REQUEST_SCHEME", b"CONTENT_LENGTH",
             b"wsgid.input_terminated", b"SCRIPT_NAME", random_bytes(rng, rng.randrange(1, 12))]
        )
        if key in keys and rng.random() < 0.9:
            continue
        keys.add(key)
        value = rng.choice(
            [b"", b"on", b"1", b"0", b"https", b"12", b"x1", random_bytes(rng, rng.randrange(40))]
        )
        variables.append((key, value))
    data = bytearray(uwsgi_packet(variables, random_bytes(rng, rng.randrange(10))))
    damage = rng.random()
    if damage < 0.2 and len(data) > 4:
        data[rng.randrange(len(data))] = rng.getrandbits(8)
    elif damage < 0.3:
        data[1] = rng.getrandbits(8)  # datasize off
    elif damage < 0.35:
        data[0] = rng.getrandbits(8)
    return bytes(data)


def outcome_of(core, data, sizes):
    try:
        parser, unfed = feed_in_pieces(core, data, sizes)
    except core.ProtocolError as error:
        return "error", str(error)
    if unfed is None:
        return "incomplete", None
    return "complete", (parser.environ, parser.rest + unfed, parser.content_length)


def test_cython_and_python_agree_on_random_packets(both_cores):
    rng = random.Random(20240602)
    cython, python = both_cores
    kinds = set()
    for _ in range(1500):
        data = random_packet(rng)
        sizes = [rng.randrange(1, 40) for _ in range(rng.randrange(1, 4))]
        expected = outcome_of(python, data, [len(data) or 1])
        assert outcome_of(cython, data, sizes) == expected, data
        assert outcome_of(python, data, sizes) == expected, data
        assert outcome_of(cython, data, [len(data) or 1]) == expected, data
        kinds.add(expected[0])
    assert kinds == {"error", "incomplete", "complete"}


# wsgid.core picks the implementation at import.

@pytest.mark.parametrize(
    "setting, expected", [(None, "cython"), ("1", "python"), ("0", "cython"), ("", "cython")]
)
def test_core_picks_the_implementation(setting, expected):
    env = {k: v for k, v in os.environ.items() if k != "WSGID_PUREPYTHON"}
    if setting is not None:
        env["WSGID_PUREPYTHON"] = setting
    code = (
        "import wsgid.core as c, wsgid._core as x, wsgid._core_py as p;"
        "m = x if c.IMPLEMENTATION == 'cython' else p;"
        "assert c.PacketParser is m.PacketParser and c.encode_head is m.encode_head;"
        "assert c.InputStream is m.InputStream and c.read_request is m.read_request;"
        "import wsgid.request_path as r;"
        "compiled = c.IMPLEMENTATION == 'cython';"
        "assert (c.ResponseCore is r.ResponseCore) == compiled and r.COMPILED;"
        "assert c.AcceptLoop.__module__ == ("
        "    'wsgid.request_path' if compiled else 'wsgid.request_path_uncompiled');"
        "print(c.IMPLEMENTATION)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected
