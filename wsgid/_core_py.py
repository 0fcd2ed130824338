"""The wire core in pure Python: the twin of the Cython module ``wsgid._core``.

It reads a request's uwsgi packet into a WSGI environ, encodes the response head, and gives the
application its request body as ``wsgi.input``. ``docs/protocol.md`` is the contract; the API
is documented in ``_core.pyi``.

Rules of this file:
- Same API and same observable behaviour as ``_core.pyx``, down to the text of every error: the
  test suite runs against both and compares them. Change one, change the other.
- Sans-IO where it can be: ``PacketParser`` and ``encode_head`` never touch a socket. The socket
  is used only by ``read_request`` and ``InputStream``, through ``recv``, so socket errors
  (timeouts included) reach the caller as ``OSError``.
- Error texts are one line: they go to the log as they are.
- ``Connection`` and ``accept_connection`` are the Cython core's GIL-thrifty connection; here
  they are a plain Python socket with its own timeout, which is correct, only slower.
"""

import errno
import re
import select
import socket
import struct
import time

__all__ = [
    "ProtocolError",
    "HeadError",
    "PacketParser",
    "read_request",
    "encode_head",
    "InputStream",
    "Connection",
    "accept_connection",
]


class ProtocolError(Exception):
    """A malformed request packet. str(e) is one log-line-ready reason (no newlines)."""


class HeadError(ValueError):
    """The application gave an invalid status or header; the daemon answers 500 instead."""


HEADER_SIZE = 4
# recv size while reading a packet: the largest header plus vars block, so one recv usually
# takes the whole packet (and the start of the body, which becomes PacketParser.rest).
PACKET_RECV_SIZE = HEADER_SIZE + 0xFFFF
BODY_RECV_SIZE = 65536
LINE_RECV_SIZE = 8192
# CONTENT_LENGTH must fit a signed 64-bit integer (the C module's apr_off_t).
MAX_CONTENT_LENGTH = 2**63 - 1
# How much of a key or value an error message quotes: enough to recognise it.
QUOTE_LIMIT = 64

_HTTP_METHOD_START = re.compile(rb"[A-Z]{4}|[A-Z]{3} ")
_DECIMAL = re.compile(r"[0-9]+")
_STATUS_SHAPE = re.compile(r"[0-9]{3} ")
_STATUS = re.compile(r"[1-9][0-9]{2} [\x20-\x7e\x80-\xff]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_NOT_FIELD_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
_NOT_REASON = re.compile(r"[^\x20-\x7e\x80-\xff]")
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    )
)


# Error texts. The Cython module imports these builders (and the two exception classes), so
# both implementations raise the same classes with the same words; each text is one line.

def quote_text(text):
    """A packet key or value as an error message shows it: repr, cut to QUOTE_LIMIT chars."""
    if len(text) > QUOTE_LIMIT:
        return repr(text[:QUOTE_LIMIT]) + "..."
    return repr(text)


def header_error(header):
    """For 4 header bytes that are not a WSGI request's header."""
    reason = "not a uwsgi packet: modifier1=%d modifier2=%d" % (header[0], header[3])
    if _HTTP_METHOD_START.fullmatch(header):
        return ProtocolError(
            "%s, the bytes start like an HTTP request line (%r): plain HTTP? "
            "Connect through Apache or a uwsgi front end" % (reason, bytes(header))
        )
    return ProtocolError("%s (only 0 and 0, a WSGI request, is served)" % reason)


def stray_byte_error(block_size, offset):
    return ProtocolError(
        "vars block of %d bytes ends inside a pair: a stray byte at offset %d"
        % (block_size, offset)
    )


def zero_length_key_error(offset):
    return ProtocolError("zero-length key at offset %d of the vars block" % offset)


def key_overrun_error(key_length, offset, block_size):
    return ProtocolError(
        "key of length %d at offset %d runs past the end of the %d-byte vars block"
        % (key_length, offset, block_size)
    )


def missing_value_length_error(block_size, key):
    return ProtocolError(
        "vars block of %d bytes ends inside a pair: no value length after key %s"
        % (block_size, quote_text(key))
    )


def value_overrun_error(key, value_length, block_size):
    return ProtocolError(
        "value of %s (length %d) runs past the end of the %d-byte vars block"
        % (quote_text(key), value_length, block_size)
    )


def duplicate_key_error(key):
    return ProtocolError("duplicate key %s in the vars block" % quote_text(key))


def too_many_vars_error(max_vars):
    return ProtocolError("more than %d variables in the vars block" % max_vars)


def content_length_error(value):
    """For a CONTENT_LENGTH that is not a plain decimal number, or too large."""
    if _DECIMAL.fullmatch(value) is None:
        why = "is not a plain decimal number"
    else:
        why = "is larger than %d" % MAX_CONTENT_LENGTH
    return ProtocolError("CONTENT_LENGTH %s %s" % (quote_text(value), why))


def length_and_terminated_error():
    return ProtocolError(
        "CONTENT_LENGTH together with wsgid.input_terminated=1: "
        "a body has one length or ends at the half-close, not both"
    )


def input_terminated_error(value):
    return ProtocolError("wsgid.input_terminated is %s, expected 1 (or 0)" % quote_text(value))


def truncated_error(received, packet_size):
    """For a connection that closed before the packet was complete.

    packet_size is 0 while the header is incomplete.
    """
    if packet_size == 0:
        return ProtocolError(
            "truncated packet: the connection closed after %d of the 4 header bytes" % received
        )
    return ProtocolError(
        "truncated packet: the connection closed after %d of %d bytes" % (received, packet_size)
    )


class ShortBodyError(OSError):
    """wsgi.input met the end of the connection before CONTENT_LENGTH bytes: the client (or the
    front end) went away mid-upload. An OSError, as mod_wsgi raises for a failed body read, so
    that a cut-off upload is never taken for a complete one."""


def cut_body_error():
    return ShortBodyError("the request body ended before its last chunk: the client went away "
                          "or sent a malformed chunk")


def peer_has_closed(sock):
    """After EOF: whether the peer closed the connection entirely, not only half-closed it.

    A body that ends at the half-close (wsgi.input_terminated) is whole when the module
    half-closed after its last byte; a module that gave up mid-body (the client went away, a
    malformed chunk) closes the whole connection instead, and poll() then says POLLHUP."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return any(events & select.POLLHUP for _, events in poller.poll(0))


def short_body_error(missing):
    return ShortBodyError(f"the request body ended {missing} bytes before its CONTENT_LENGTH: "
                          "the client went away while sending it")


def short_repr(thing):
    """repr(thing) cut to a log-friendly length (repr has no newline)."""
    text = repr(thing)
    if len(text) > 2 * QUOTE_LIMIT:
        return text[: 2 * QUOTE_LIMIT] + "..."
    return text


def _bad_character(char):
    if ord(char) > 0xFF:
        return "a non-latin-1 character %s" % ascii(char)
    return "a control character %s" % ascii(char)


def status_type_error(status):
    return HeadError("status must be a str, not %s" % type(status).__name__)


def status_error(status):
    """For a status str that is not a 3-digit code (100 or more), a space and a reason."""
    if _STATUS_SHAPE.match(status) is None:
        return HeadError(
            "status %s is not a 3-digit code, a space and a reason phrase" % short_repr(status)
        )
    if status[0] == "0":
        return HeadError("status %s has a code below 100" % short_repr(status))
    bad = _NOT_REASON.search(status, 4)
    return HeadError(
        "status %s has %s at position %d"
        % (short_repr(status), _bad_character(bad.group()), bad.start())
    )


def headers_type_error(headers):
    return HeadError("headers must be a list, not %s" % type(headers).__name__)


def header_shape_error(header):
    """For a header that is not a 2-tuple of str."""
    if not isinstance(header, tuple) or len(header) != 2:
        return HeadError("each header must be a (name, value) tuple, not %s" % short_repr(header))
    return HeadError("header name and value must be str, not %s" % short_repr(header))


def header_name_error(name):
    return HeadError("header name %s is not an HTTP token" % short_repr(name))


def hop_by_hop_error(name):
    return HeadError(
        "hop-by-hop header %s is not allowed from a WSGI application (PEP 3333)"
        % short_repr(name)
    )


def header_value_error(name, value):
    """For a header value with a control character or a character beyond latin-1."""
    bad = _NOT_FIELD_VALUE.search(value)
    return HeadError(
        "header %s value %s has %s at position %d"
        % (short_repr(name), short_repr(value), _bad_character(bad.group()), bad.start())
    )


# The packet.

def parse_content_length(value):
    """CONTENT_LENGTH as an int, None when empty; ProtocolError unless a plain decimal."""
    if value == "":
        return None
    # re's [0-9] is ASCII only, unlike str.isdigit(), which takes other digits too.
    if _DECIMAL.fullmatch(value) is None or len(value) > 19 or int(value) > MAX_CONTENT_LENGTH:
        raise content_length_error(value)
    return int(value)


def parse_vars_block(block, max_vars):
    """The decoded key/value pairs of a whole vars block, as a dict; ProtocolError if malformed."""
    variables = {}
    end = len(block)
    pos = 0
    while pos < end:
        if end - pos < 2:
            raise stray_byte_error(end, pos)
        key_length = block[pos] | block[pos + 1] << 8
        if key_length == 0:
            raise zero_length_key_error(pos)
        pos += 2
        if key_length > end - pos:
            raise key_overrun_error(key_length, pos - 2, end)
        key = block[pos : pos + key_length].decode("latin-1")
        pos += key_length
        if end - pos < 2:
            raise missing_value_length_error(end, key)
        value_length = block[pos] | block[pos + 1] << 8
        pos += 2
        if value_length > end - pos:
            raise value_overrun_error(key, value_length, end)
        if key in variables:
            raise duplicate_key_error(key)
        if len(variables) >= max_vars:
            raise too_many_vars_error(max_vars)
        variables[key] = block[pos : pos + value_length].decode("latin-1")
        pos += value_length
    return variables


def build_environ(variables, base_environ):
    """The WSGI environ for a request's variables; returns (environ, content_length).

    `variables` becomes the environ (it must be a new dict). Keys of base_environ win over
    packet variables of the same name, so a packet cannot replace the daemon's own wsgi.* values.
    """
    content_length = parse_content_length(variables.get("CONTENT_LENGTH", ""))
    terminated = variables.get("wsgid.input_terminated", "0")
    if terminated == "1":
        if content_length is not None:
            raise length_and_terminated_error()
        input_terminated = True
    elif terminated == "0":
        input_terminated = False
    else:
        raise input_terminated_error(terminated)
    https = variables.get("HTTPS", "").lower() in ("on", "1")
    if https or variables.get("REQUEST_SCHEME", "").lower() == "https":
        url_scheme = "https"
    else:
        url_scheme = "http"
    environ = variables
    environ.update(base_environ)
    environ["wsgi.url_scheme"] = url_scheme
    environ["wsgi.input_terminated"] = input_terminated
    environ.setdefault("SCRIPT_NAME", "")
    environ.setdefault("PATH_INFO", "")
    return environ, content_length


class PacketParser:
    """Collects one request packet (header and vars block) from bytes fed in any pieces."""

    def __init__(self, base_environ, max_vars=1000):
        if not isinstance(base_environ, dict):
            raise TypeError("base_environ must be a dict, not %s" % type(base_environ).__name__)
        if max_vars < 0:
            raise ValueError("max_vars must be 0 or more, not %r" % (max_vars,))
        self._base_environ = base_environ
        self._max_vars = max_vars
        self.environ = None
        self.rest = b""
        self.content_length = None
        self._buffer = bytearray()
        self._packet_size = 0  # header plus vars block; 0 until the header is in
        self._complete = False
        self._error = None

    def feed(self, data):
        if self._error is not None:
            raise self._error[0](*self._error[1])
        if self._complete:
            raise RuntimeError(
                "PacketParser.feed() after the packet was complete: "
                "the body is not the parser's business (its start is in .rest)"
            )
        self._buffer += data
        try:
            return self._advance()
        except ProtocolError as error:
            # A broken packet stays broken: later feeds raise the same error again. Its class
            # and words are kept, not the exception itself: its traceback holds this frame and
            # so this parser, a reference cycle that would pin the packet's buffers until the
            # garbage collector's rare full collection.
            self._error = (type(error), error.args)
            self._buffer = bytearray()
            raise

    def _advance(self):
        buffer = self._buffer
        if self._packet_size == 0:
            if len(buffer) < HEADER_SIZE:
                return False
            if buffer[0] != 0 or buffer[3] != 0:
                raise header_error(bytes(buffer[:HEADER_SIZE]))
            self._packet_size = HEADER_SIZE + (buffer[1] | buffer[2] << 8)
        packet_size = self._packet_size
        if len(buffer) < packet_size:
            return False
        variables = parse_vars_block(bytes(buffer[HEADER_SIZE:packet_size]), self._max_vars)
        self.environ, self.content_length = build_environ(variables, self._base_environ)
        self.rest = bytes(buffer[packet_size:])
        self._buffer = bytearray()
        self._complete = True
        return True


def read_request(sock, base_environ, max_vars=1000):
    parser = PacketParser(base_environ, max_vars)
    while True:
        data = sock.recv(PACKET_RECV_SIZE)
        if not data:
            raise truncated_error(len(parser._buffer), parser._packet_size)
        if parser.feed(data):
            return parser.environ, parser.rest, parser.content_length


# The response head.

def encode_head(status, headers):
    if not isinstance(status, str):
        raise status_type_error(status)
    if _STATUS.fullmatch(status) is None:
        raise status_error(status)
    if not isinstance(headers, list):
        raise headers_type_error(headers)
    lines = ["HTTP/1.1 ", status, "\r\n"]
    for header in headers:
        if (
            not isinstance(header, tuple)
            or len(header) != 2
            or not isinstance(header[0], str)
            or not isinstance(header[1], str)
        ):
            raise header_shape_error(header)
        name, value = header
        if _TOKEN.fullmatch(name) is None:
            raise header_name_error(name)
        if name.lower() in HOP_BY_HOP:
            raise hop_by_hop_error(name)
        if _FIELD_VALUE.fullmatch(value) is None:
            raise header_value_error(name, value)
        lines += (name, ": ", value, "\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


# The request body.

class InputStream:
    """wsgi.input: the request body from the socket, never read past its end."""

    def __init__(self, sock, prebuffered, length):
        if length is not None and length < 0:
            raise ValueError("length must be None or 0 or more, not %r" % (length,))
        self._sock = sock
        prebuffered = bytes(prebuffered)
        if length is not None:
            # Bytes past CONTENT_LENGTH are not body; they are never handed out.
            prebuffered = prebuffered[:length]
            self._unreceived = length - len(prebuffered)
        else:
            self._unreceived = None
        self._buffer = bytearray(prebuffered)
        self._eof = length is not None and self._unreceived == 0
        self.bytes_read = 0
        self.reads = 0          # recv() calls for the body (mod_wsgi's input_reads)
        self.read_time = 0.0    # seconds spent in them (input_time)

    @property
    def received_all(self):
        """The whole body (CONTENT_LENGTH bytes) has come off the socket: nothing more can."""
        return self._unreceived == 0

    def _recv_body(self, size):
        """Up to `size` more body bytes from the socket; b'' at the end of the body."""
        if self._eof:
            return b""
        if self._unreceived is not None:
            size = min(size, self._unreceived)
        started = time.monotonic()
        self.reads += 1
        try:
            data = self._sock.recv(size)
        finally:
            self.read_time += time.monotonic() - started
        if not data:
            self._eof = True
            if self._unreceived:
                raise short_body_error(self._unreceived)
            if self._unreceived is None and peer_has_closed(self._sock):
                raise cut_body_error()
            return b""
        if self._unreceived is not None:
            self._unreceived -= len(data)
            if self._unreceived == 0:
                self._eof = True
        return data

    def _take(self, size):
        """The first `size` bytes of the buffer, removed from it and counted as read."""
        buffer = self._buffer
        data = bytes(buffer[:size])
        del buffer[:size]  # cheap: bytearray drops its head without moving the rest
        self.bytes_read += len(data)
        return data

    def read(self, size=-1):
        if size is None or size < 0:
            parts = [self._take(len(self._buffer))]
            while True:
                data = self._recv_body(BODY_RECV_SIZE)
                if not data:
                    break
                self.bytes_read += len(data)
                parts.append(data)
            return b"".join(parts)
        buffer = self._buffer
        while len(buffer) < size:
            data = self._recv_body(min(size - len(buffer), BODY_RECV_SIZE))
            if not data:
                break
            buffer += data
        return self._take(size)

    def readline(self, size=-1):
        if size is None or size < 0:
            size = -1
        buffer = self._buffer
        searched = 0
        while True:
            newline = buffer.find(b"\n", searched)
            if newline >= 0:
                end = newline + 1
                break
            if 0 <= size <= len(buffer):
                end = size
                break
            searched = len(buffer)
            data = self._recv_body(LINE_RECV_SIZE)
            if not data:
                end = len(buffer)
                break
            buffer += data
        if 0 <= size < end:
            end = size
        return self._take(end)

    def readlines(self, hint=-1):
        if hint is None or hint <= 0:
            hint = -1
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if 0 <= hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def drain(self):
        drained = len(self._buffer)
        del self._buffer[:]
        while True:
            try:
                data = self._recv_body(BODY_RECV_SIZE)
            except ShortBodyError:
                return drained  # the caller compares what it got with CONTENT_LENGTH
            if not data:
                return drained
            drained += len(data)


# The connection on a daemon socket.

_UCRED = struct.Struct("3i")   # struct ucred: pid_t pid, uid_t uid, gid_t gid
_NOTHING_TO_ACCEPT = (errno.EPROTO, errno.ENETDOWN)


class Connection(socket.socket):
    """One accepted connection of a daemon socket: a Python socket (with socket-timeout set,
    every recv() and send() waits in poll() first, releasing the GIL once more)."""

    __slots__ = ()


def accept_connection(listener):
    """Accept one connection from the non-blocking `listener`: (Connection, peer uid), or None
    when there was nothing to accept. The peer uid is -1 when its credentials could not be
    read; other accept() failures raise OSError."""
    try:
        fd, _ = listener._accept()
    except (BlockingIOError, InterruptedError, ConnectionAbortedError):
        return None
    except OSError as exc:
        if exc.errno in _NOTHING_TO_ACCEPT:
            return None
        raise
    # Family and type are known: passing them skips the lookups socket.accept() would make.
    connection = Connection(socket.AF_UNIX, socket.SOCK_STREAM, 0, fd)
    try:
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except OSError:
        return connection, -1
    return connection, _UCRED.unpack(credentials)[1]
