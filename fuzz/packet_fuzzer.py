"""Coverage-guided fuzz target for the daemon's request-packet parser (docs/protocol.md).

Run it with atheris (libFuzzer for Python); ``fuzz/run`` does, with the committed seed corpus in
fuzz/corpus/packet/. An input is the bytes a client would send on a daemon socket: a uwsgi
packet, maybe with the start of a body, maybe malformed. Coverage comes from the pure-Python twin
(``wsgid._core_py``, instrumented); the Cython module (``wsgid._core``) gets the same input and
must give the same answer, so one run checks both implementations against each other.

For every input, on both cores, the packet is parsed three ways: fed whole to PacketParser, fed
in pieces cut at points chosen from the input's own checksum (so a crash file replays exactly),
and read by read_request from a socket stand-in that delivers those pieces and then EOF.
The properties checked (an AssertionError is a finding, as is any exception other than
ProtocolError):
- the only exception is ProtocolError, with a one-line text, identical on both cores and for
  every way of feeding; a broken parser stays broken and a complete one refuses more bytes;
- a complete packet gives the same environ, the same body start and the same CONTENT_LENGTH on
  both cores and for every way of feeding; its variables are exactly the pairs of the vars
  block (checked by an independent walk here), its sizes are bounded by the input, and the
  daemon's own base entries are never replaced or changed;
- read_request of an incomplete packet is 'truncated packet', never a hang or a success.
A hang is caught by libFuzzer's -timeout, unbounded memory by its -rss_limit_mb.
"""

import random
import struct
import sys
import zlib

import atheris

with atheris.instrument_imports(include=["wsgid._core_py"]):
    from wsgid import _core_py as twin

# Imported after the twin: the Cython module takes its error texts from the twin's builders.
from wsgid import _core as cython  # noqa: E402

CORES = (("python", twin), ("cython", cython))
ProtocolError = twin.ProtocolError
assert cython.ProtocolError is ProtocolError

HEADER_SIZE = 4
MAX_CONTENT_LENGTH = 2**63 - 1
# A base environ as a daemon process passes it: the packet must never replace these.
ERRORS_STREAM = object()
BASE = {"wsgi.version": (1, 0), "wsgi.errors": ERRORS_STREAM, "wsgid.process_group": "fuzz"}
BASE_COPY = dict(BASE)
# Keys that the parser sets itself after the packet's variables.
ADDED_KEYS = ("wsgi.url_scheme", "wsgi.input_terminated")


class Outcome:
    """What one way of parsing gave: 'complete', 'incomplete' or 'error'."""

    def __init__(self, kind, environ=None, body_start=b"", content_length=None, error=None):
        self.kind = kind
        self.environ = environ
        self.body_start = body_start        # bytes after the vars block, fed or not
        self.content_length = content_length
        self.error = error

    def key(self):
        return (self.kind, self.environ, self.body_start, self.content_length, self.error)

    def __repr__(self):
        return "Outcome%r" % (self.key(),)


def protocol_error_text(error):
    text = str(error)
    assert "\n" not in text and "\r" not in text, "error text is not one line: %r" % text
    return text


def cut_points(data, seed):
    """Pieces of `data` cut at up to 6 points drawn from `seed` (empty pieces included)."""
    rng = random.Random(seed)
    points = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randrange(7)))
    bounds = [0] + points + [len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def feed_pieces(core, pieces, max_vars):
    parser = core.PacketParser(BASE, max_vars)
    for i, piece in enumerate(pieces):
        try:
            done = parser.feed(piece)
        except ProtocolError as error:
            text = protocol_error_text(error)
            try:
                parser.feed(b"\x00")
            except ProtocolError as again:
                assert str(again) == text, "a broken parser changed its error"
            else:
                raise AssertionError("a broken parser accepted more bytes")
            return Outcome("error", error=text)
        if done:
            unfed = b"".join(pieces[i + 1:])
            try:
                parser.feed(b"x")
            except RuntimeError:
                pass
            else:
                raise AssertionError("a complete parser accepted more bytes")
            return Outcome("complete", parser.environ, parser.rest + unfed, parser.content_length)
    assert parser.environ is None and parser.rest == b"" and parser.content_length is None
    return Outcome("incomplete")


class PieceSocket:
    """Stands in for a connected socket: recv hands out the pieces in order, then EOF."""

    def __init__(self, pieces):
        self.pieces = [p for p in pieces if p]      # a real recv never returns b"" before EOF

    def recv(self, bufsize):
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > bufsize:
            self.pieces.insert(0, piece[bufsize:])
            piece = piece[:bufsize]
        return piece


def read_from_socket(core, pieces, max_vars):
    sock = PieceSocket(pieces)
    try:
        environ, rest, content_length = core.read_request(sock, BASE, max_vars)
    except ProtocolError as error:
        return Outcome("error", error=protocol_error_text(error))
    return Outcome("complete", environ, rest + b"".join(sock.pieces), content_length)


def walk_vars_block(block):
    """The pairs of a well-formed vars block, walked without the code under test."""
    pairs, pos = [], 0
    while pos < len(block):
        (key_length,) = struct.unpack_from("<H", block, pos)
        key = block[pos + 2:pos + 2 + key_length].decode("latin-1")
        pos += 2 + key_length
        (value_length,) = struct.unpack_from("<H", block, pos)
        pairs.append((key, block[pos + 2:pos + 2 + value_length].decode("latin-1")))
        pos += 2 + value_length
    assert pos == len(block)
    return pairs


def check_complete(data, outcome, max_vars):
    """The properties of a packet that parsed: its environ is its vars block, bounded."""
    environ = outcome.environ
    datasize = data[1] | data[2] << 8
    assert data[0] == 0 and data[3] == 0
    assert len(data) >= HEADER_SIZE + datasize
    assert outcome.body_start == data[HEADER_SIZE + datasize:]
    pairs = walk_vars_block(data[HEADER_SIZE:HEADER_SIZE + datasize])
    keys = [k for k, _ in pairs]
    assert len(set(keys)) == len(keys), "a duplicate key was accepted"
    assert len(pairs) <= max_vars, "more variables than max_vars were accepted"
    for key, value in pairs:
        if key not in BASE and key not in ADDED_KEYS:
            assert environ[key] == value, "variable %r changed on its way to the environ" % key
    packet_keys = set(keys)
    for key in environ:
        assert key in packet_keys or key in BASE or key in ADDED_KEYS or key in (
            "SCRIPT_NAME", "PATH_INFO"), "environ key %r came from nowhere" % key
    for key, value in BASE.items():
        assert environ[key] is value, "the packet replaced the base entry %r" % key
    assert BASE == BASE_COPY, "the base environ was changed"
    assert environ["wsgi.url_scheme"] in ("http", "https")
    assert environ["wsgi.input_terminated"] in (True, False)
    assert environ.get("SCRIPT_NAME", "") == dict(pairs).get("SCRIPT_NAME", "")
    length = outcome.content_length
    if length is None:
        assert environ.get("CONTENT_LENGTH", "") == ""
    else:
        assert 0 <= length <= MAX_CONTENT_LENGTH
        assert environ["CONTENT_LENGTH"].isascii() and int(environ["CONTENT_LENGTH"]) == length
        assert environ["wsgi.input_terminated"] is False


def TestOneInput(data):
    seed = zlib.crc32(data)
    max_vars = 1000 if seed & 3 else (seed >> 2) % 5    # small limits a quarter of the time
    pieces = cut_points(data, seed)
    reference = None
    truncated_texts = set()
    for name, core in CORES:
        whole = feed_pieces(core, [data], max_vars)
        if reference is None:
            reference = whole
        assert whole.key() == reference.key(), "cores differ on the whole input: python %r, %s %r" % (
            reference, name, whole)
        split = feed_pieces(core, pieces, max_vars)
        assert split.key() == whole.key(), "%s: fed in pieces %r != whole %r" % (name, split, whole)
        if len(data) <= 256:
            by_byte = feed_pieces(core, [data[i:i + 1] for i in range(len(data))], max_vars)
            assert by_byte.key() == whole.key(), "%s: byte by byte %r != whole %r" % (
                name, by_byte, whole)
        from_socket = read_from_socket(core, pieces, max_vars)
        if whole.kind == "incomplete":
            assert from_socket.kind == "error" and from_socket.error.startswith(
                "truncated packet"), "%s: an incomplete packet read as %r" % (name, from_socket)
            truncated_texts.add(from_socket.error)
        else:
            assert from_socket.key() == whole.key(), "%s: read_request %r != fed %r" % (
                name, from_socket, whole)
    assert len(truncated_texts) <= 1, "cores differ on a truncated packet: %r" % truncated_texts
    if reference.kind == "complete":
        check_complete(data, reference, max_vars)


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
