"""The module's own validation of the response head: a daemon that sends a bad head gets the
client a 502, never an injected header.

The real daemon refuses bad application output itself (500), so a scripted daemon stands in for
it here, bound at the group's socket path of a real Apache with the real module (the technique
of tests/integration/test_module_wire.py, whose cases this file does not repeat: there, a bad
status code, a space in a name, CR and NUL in a value, one 70 000-byte header line). The client
is a raw socket, so that the bytes Apache sends are checked as they are, not as an HTTP library
cleans them up.

Policy, as cmodule/wsgid_wire.c implements it (docs/protocol.md):
- every line ends in CRLF; a bare LF is refused (502), not taken as a line end: otherwise an LF
  that a daemon let through in a value would start a header line of its own;
- header names are tokens; values are visible ASCII, space, tab and obs-text (bytes 0x80-0xFF,
  which the daemon sends for latin-1 characters and the module passes on byte for byte);
  obs-fold continuation lines are refused;
- one Content-Length at most, of 1 to 18 digits; a Status header is refused (a second status);
- a head of more than 64 KiB is refused, one of exactly 64 KiB is served;
- each refusal is one error-log line from the module naming what was wrong.
"""

import socket
import time

import pytest

from tests.support.apache import ApacheInstance
from tests.support.scripted_daemon import (
    END_FRAME,
    ScriptedDaemon,
    frame,
    read_body,
    take_over_group_socket,
)
from tests.support.wire import recv_until_eof

pytestmark = [pytest.mark.apache, pytest.mark.bad_input]

CONF = """
WSGIDaemonProcess site processes=1 threads=1 connect-timeout=2 socket-timeout=5
WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site
"""
MAX_HEAD = 65536
# A word that a bad head tries to smuggle in as a header name; the client must never see it.
INJECTED = b"Injected"


class PacedAnswer:
    """The scripted daemon's answer: read the packet's body, then send `writes` one write at a
    time, each `pause` seconds after the last."""

    def __init__(self):
        self.writes = []
        self.pause = 0.0

    def __call__(self, conn, record):
        read_body(conn, record)
        for i, piece in enumerate(self.writes):
            if i and self.pause:
                # Pacing is the input under test here (a head in many small reads), not a
                # wait for a condition.
                time.sleep(self.pause)
            conn.sendall(piece)


@pytest.fixture(scope="module")
def site():
    inst = ApacheInstance(CONF)
    try:
        daemon = ScriptedDaemon(take_over_group_socket(inst))
        daemon.answer = PacedAnswer()
        yield inst, daemon
        daemon.close()
    finally:
        inst.cleanup()


def raw_get(inst, path="/app/x"):
    """The raw bytes of Apache's answer to a GET: (head bytes, body bytes)."""
    # HTTP/1.0: the body arrives as sent, without chunked framing to undo
    request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", inst.port), timeout=15) as s:
        s.sendall(request)
        data = recv_until_eof(s)
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def status_of(head):
    return int(head.split(b"\r\n")[0].split(b" ")[1])


def exchange(site, writes, pause=0.0):
    """Script the daemon's answer, send one request; returns (head, body, module log lines)."""
    inst, daemon = site
    daemon.answer.writes, daemon.answer.pause = writes, pause
    before = len(inst.error_log())
    head, body = raw_get(inst)
    lines = [line for line in inst.error_log()[before:].splitlines() if "mod_wsgid" in line]
    return head, body, lines


def assert_refused(site, writes, problem, pause=0.0):
    inst, daemon = site
    head, body, lines = exchange(site, writes, pause)
    assert status_of(head) == 502, head
    assert INJECTED.lower() not in (head + body).lower(), head + body
    assert len(lines) == 1, lines
    assert problem in lines[0], lines[0]
    assert f"group 'site' socket {daemon.path}" in lines[0]
    assert "answering 502" in lines[0]


OK = b"HTTP/1.1 200 OK\r\n"

REFUSED = {
    # CR, LF or NUL in names and values (CR and NUL in a value: test_module_wire.py)
    "lf_in_value_injects_a_line": (OK + b"X: a\n" + INJECTED + b": 1\r\n\r\n", "bare LF"),
    "lf_in_value_at_the_end": (OK + b"X: a\n\r\n", "bare LF"),
    "cr_lf_lf_ends_the_head_early": (OK + b"X: a\r\n\n" + INJECTED + b": 1\r\n\r\n", "bare LF"),
    "cr_in_name": (OK + b"X\r" + INJECTED + b": 1\r\n\r\n", "not an HTTP token"),
    "nul_in_name": (OK + b"X\x00" + INJECTED + b": 1\r\n\r\n", "not an HTTP token"),
    "lf_in_name": (OK + b"X\n" + INJECTED + b": 1\r\n\r\n", "bare LF"),
    "cr_in_reason": (b"HTTP/1.1 200 O\r" + INJECTED + b": 1\r\n\r\n", "malformed status line"),
    "lf_in_reason": (b"HTTP/1.1 200 O\n" + INJECTED + b": 1\r\n\r\n", "bare LF"),
    "nul_in_reason": (b"HTTP/1.1 200 O\x00K\r\n\r\n", "malformed status line"),
    # obs-fold continuation lines
    "fold_with_space": (OK + b"X: a\r\n " + INJECTED + b": 1\r\n\r\n", "folded line"),
    "fold_with_tab": (OK + b"X: a\r\n\t" + INJECTED + b": 1\r\n\r\n", "folded line"),
    # bytes beyond ASCII in a name (UTF-8 and a lone latin-1 byte)
    "utf8_in_name": (OK + "X-Café: 1\r\n\r\n".encode("utf-8"), "not an HTTP token"),
    "latin1_byte_in_name": (OK + b"X-Caf\xe9: 1\r\n\r\n", "not an HTTP token"),
    "del_in_value": (OK + b"X: a\x7fb\r\n\r\n", "control character"),
    # invalid status lines
    "status_tab_separated": (b"HTTP/1.1\t200 OK\r\n\r\n", "malformed status line"),
    "status_two_spaces": (b"HTTP/1.1  200 OK\r\n\r\n", "malformed status line"),
    "status_http2": (b"HTTP/2.0 200 OK\r\n\r\n", "malformed status line"),
    "status_code_099": (b"HTTP/1.1 099 Low\r\n\r\n", "malformed status line"),
    "status_code_600": (b"HTTP/1.1 600 High\r\n\r\n", "malformed status line"),
    "status_code_signed": (b"HTTP/1.1 +20 OK\r\n\r\n", "malformed status line"),
    "status_line_missing": (b"X-Only: headers\r\n\r\n", "malformed status line"),
    "empty_line_first": (b"\r\n" + OK + b"\r\n", "malformed status line"),
    "second_status_line": (OK + b"HTTP/1.1 302 Found\r\n\r\n", "not an HTTP token"),
    # Status and Content-Length: duplicates and junk
    "status_header": (OK + b"Status: 302 Found\r\nLocation: /x\r\n\r\n", "Status header"),
    "status_header_lowercase": (OK + b"status: 500\r\n\r\n", "Status header"),
    "content_length_twice_different": (
        OK + b"Content-Length: 1\r\nContent-Length: 5\r\n\r\nhello", "Content-Length"),
    "content_length_twice_same": (
        OK + b"Content-Length: 5\r\ncontent-length: 5\r\n\r\nhello", "Content-Length"),
    "content_length_list": (OK + b"Content-Length: 5, 5\r\n\r\nhello", "Content-Length"),
    "content_length_negative": (OK + b"Content-Length: -1\r\n\r\n", "Content-Length"),
    "content_length_signed": (OK + b"Content-Length: +5\r\n\r\nhello", "Content-Length"),
    "content_length_hex": (OK + b"Content-Length: 0x5\r\n\r\nhello", "Content-Length"),
    "content_length_empty": (OK + b"Content-Length:\r\n\r\n", "Content-Length"),
    "content_length_19_digits": (OK + b"Content-Length: 1" + b"0" * 18 + b"\r\n\r\n",
                                 "Content-Length"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_head_gives_502_with_one_log_line_and_no_injected_header(site, case):
    reply, problem = REFUSED[case]
    assert_refused(site, [reply + b"body"], problem)


def filler_head(size, tail=b"\r\n"):
    """A valid head of exactly `size` bytes: many ordinary headers, then the blank line."""
    head = OK
    line = b"X-Filler-%04d: " + b"f" * 40 + b"\r\n"
    i = 0
    while len(head) + len(line % i) + len(b"X-Last: \r\n\r\n") < size:
        head += line % i
        i += 1
    last = b"X-Last: " + b"l" * (size - len(head) - len(b"X-Last: \r\n\r\n")) + b"\r\n\r\n"
    head += last
    assert len(head) == size
    return head


def test_head_of_exactly_64_kib_in_many_headers_is_served(site):
    # No Content-Length: the body comes framed, as a wsgid daemon sends it when asked
    # (docs/protocol.md, "Framed response bodies").
    head, body, lines = exchange(site, [filler_head(MAX_HEAD) + frame(b"done") + END_FRAME])
    assert status_of(head) == 200, head
    assert body == b"done"
    assert b"X-Filler-0000: " in head and b"X-Last: lll" in head
    assert lines == []


def test_head_one_byte_over_64_kib_in_many_headers_gives_502(site):
    assert_refused(site, [filler_head(MAX_HEAD + 1) + b"done"], "larger than 65536 bytes")


def test_endless_head_without_blank_line_gives_502_not_a_wait(site):
    endless = OK + b"".join(b"X-Line-%05d: v\r\n" % i for i in range(6000))   # 120 KB
    assert len(endless) > MAX_HEAD + 8192
    assert_refused(site, [endless], "larger than 65536 bytes")


GOOD_HEAD = (OK + b"Content-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
             b"X-Latin: caf\xe9 \xff\r\nContent-Length: 5\r\n\r\n")


def test_head_in_many_tiny_writes_is_put_together(site):
    pieces = [GOOD_HEAD[i:i + 3] for i in range(0, len(GOOD_HEAD), 3)] + [b"hello"]
    head, body, lines = exchange(site, pieces, pause=0.002)
    assert status_of(head) == 200, head
    assert body == b"hello"
    assert head.count(b"\r\nSet-Cookie: ") == 2
    # obs-text in a value passes byte for byte: the daemon sends latin-1 text this way
    assert b"\r\nX-Latin: caf\xe9 \xff\r\n" in head
    assert lines == []


def test_injection_split_across_tiny_writes_is_still_refused(site):
    reply = OK + b"X-Set: a\r" + INJECTED + b": 1\r\n\r\nbody"
    cut = reply.index(b"\r" + INJECTED)
    # CR in one read, the would-be header in the next, one byte at a time around the cut
    pieces = [reply[:cut]] + [reply[i:i + 1] for i in range(cut, cut + 12)] + [reply[cut + 12:]]
    assert_refused(site, pieces, "control character", pause=0.002)


def test_bare_lf_split_from_its_line_is_refused(site):
    reply = OK + b"X: a\n" + INJECTED + b": 1\r\n\r\nbody"
    cut = reply.index(b"\n" + INJECTED)
    assert_refused(site, [reply[:cut], reply[cut:cut + 1], reply[cut + 1:]], "bare LF",
                   pause=0.002)
