"""The wire core: the daemon's side of docs/protocol.md.

Two implementations with this one API: ``wsgid._core`` (Cython) and ``wsgid._core_py`` (pure
Python). Import it from ``wsgid.core``, which picks one (``WSGID_PUREPYTHON=1`` forces the
twin). Both raise the same exception classes with the same texts.
"""

from typing import Iterator, List, Optional, Protocol, Tuple, Union

Buffer = Union[bytes, bytearray, memoryview]

class _Receiver(Protocol):
    """A connected blocking socket (or anything with its recv)."""

    def recv(self, bufsize: int) -> bytes: ...

class ProtocolError(Exception):
    """A malformed request packet. str(e) is one log-line-ready reason (no newlines)."""

class HeadError(ValueError):
    """The application gave an invalid status or header; the daemon answers 500 instead.

    str(e) names what is wrong, in one line.
    """

class PacketParser:
    """Collects one request packet (the 4-byte header and the vars block) from bytes fed in
    pieces of any size, and builds the request's WSGI environ from it.

    Sans-IO: it never touches a socket (``read_request`` feeds it from one).
    """

    environ: Optional[dict]
    """None until feed() returned True; then a NEW dict: the decoded vars (latin-1 native str),
    then base_environ (whose keys win over packet variables of the same name, so a packet cannot
    replace the daemon's own wsgi.* values), then ``wsgi.url_scheme`` ('https' when HTTPS is
    on/1 or REQUEST_SCHEME is https, case-insensitive, else 'http') and
    ``wsgi.input_terminated`` (True when wsgid.input_terminated is 1); SCRIPT_NAME and PATH_INFO
    default to ''."""

    rest: bytes
    """The bytes fed past the vars block: the start of the request body (b'' until complete)."""

    content_length: Optional[int]
    """CONTENT_LENGTH as an int; None when absent or empty (and until complete)."""

    def __init__(self, base_environ: dict, max_vars: int = 1000) -> None:
        """base_environ: the per-process environ entries (wsgi.version, wsgi.errors, ...),
        copied into each request's environ, never changed. max_vars: the most variables one
        packet may have (ValueError when negative)."""

    def feed(self, data: Buffer) -> bool:
        """Consume bytes; True once the header and the whole vars block are in.

        Raises ProtocolError (and again on every later call) for: modifier1 or modifier2 not 0
        ('not a uwsgi packet', with 'plain HTTP?' when the bytes start like an HTTP request
        line); a zero-length key; a key or value running past the end of the block; pairs not
        ending exactly at datasize; more than max_vars variables; a duplicate key;
        CONTENT_LENGTH not a plain decimal number of at most 2**63 - 1 (empty is allowed: no
        body); wsgid.input_terminated other than 1 or 0; CONTENT_LENGTH together with
        wsgid.input_terminated=1. Malformed vars are found when the block is complete, so
        feeding whole or one byte at a time gives the same error.
        RuntimeError when fed after completion: the body is not the parser's business.
        """

def read_request(
    sock: _Receiver, base_environ: dict, max_vars: int = 1000
) -> Tuple[dict, bytes, Optional[int]]:
    """Read one request packet from a connected blocking socket with sock.recv (which releases
    the GIL while it waits). Returns (environ, rest, content_length) as PacketParser has them.
    The bytes after the vars block that arrived with it are `rest`: pass them to InputStream.

    ProtocolError for a malformed packet, and 'truncated packet: ...' when the connection
    closes before the packet is complete (also for a connection that sends nothing).
    Socket errors, timeouts included, propagate as OSError.
    """

def encode_head(status: str, headers: List[Tuple[str, str]]) -> bytes:
    """The response head: b'HTTP/1.1 ' + status + CRLF, then one 'Name: value' CRLF line per
    header in order (repeated names stay separate lines), then CRLF; latin-1 encoded.

    HeadError, naming what is wrong, unless: status is a str of 3 digits (100 or more), a space
    and a reason phrase (maybe empty) of latin-1 characters without control characters;
    headers is a list of 2-tuples of str; each name is an RFC 7230 token and not hop-by-hop
    (Connection, Keep-Alive, Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
    Transfer-Encoding, Upgrade; any case; PEP 3333 forbids them); each value is latin-1 without
    control characters (CR, LF, NUL, DEL, ...) except horizontal tab.
    str subclasses count as str.
    """

class InputStream:
    """wsgi.input: reads the request body from the socket, never past its end.

    length None reads until EOF (wsgi.input_terminated); otherwise `length` bytes at most
    (ValueError when negative). `prebuffered` are the body bytes the parser already read
    (PacketParser.rest); bytes in it past `length` are ignored.
    As PEP 3333 wants: read() with no size (or None, or negative) returns the rest; reading at
    the end returns b''; a body shorter than its length (the connection closed early) gives what
    arrived, with no exception (compare bytes_read and drain() with the length to see it).
    read(size) returns `size` bytes unless the body ends first. Socket errors, timeouts
    included, propagate as OSError.
    """

    bytes_read: int
    """Body bytes handed to the application so far (drain() does not count)."""

    received_all: bool
    """The whole body (CONTENT_LENGTH bytes) has come off the socket: nothing more can."""

    def __init__(self, sock: _Receiver, prebuffered: Buffer, length: Optional[int]) -> None: ...
    def read(self, size: Optional[int] = -1) -> bytes:
        """Up to `size` bytes; all the rest when size is None or negative."""

    def readline(self, size: Optional[int] = -1) -> bytes:
        """One line with its b'\\n' (the last may have none); at most `size` bytes if size >= 0."""

    def readlines(self, hint: Optional[int] = -1) -> List[bytes]:
        """The remaining lines; with hint > 0, stops once the lines total `hint` bytes or more."""

    def __iter__(self) -> Iterator[bytes]:
        """Yields lines, as readline() gives them, until the end of the body."""

    def __next__(self) -> bytes: ...
    def drain(self) -> int:
        """Read and discard the unread rest of the body; returns how many bytes that was."""

class Connection:
    """One accepted connection of a daemon socket: the part of the socket API the request path
    uses (recv, sendall, send, sendfile, shutdown, close, fileno, settimeout, gettimeout), with
    the same results and exceptions as a Python socket (a timeout raises TimeoutError).

    The Cython one holds the GIL for every call that cannot block (recv and send are tried with
    MSG_DONTWAIT first; shutdown and close of a unix socket never block) and releases it only
    around a poll() when a call would wait; settimeout() only records how long such a wait may
    last. The twin is a Python socket (socket.socket subclass).
    """

    def fileno(self) -> int: ...
    def settimeout(self, timeout: Optional[float]) -> None: ...
    def gettimeout(self) -> Optional[float]: ...
    def recv(self, bufsize: int) -> bytes: ...
    def sendall(self, data: Buffer) -> None: ...
    def send(self, data: Buffer, flags: int = 0) -> int: ...
    def sendfile(self, file: object, offset: int = 0, count: Optional[int] = None) -> int: ...
    def shutdown(self, how: int) -> None: ...
    def close(self) -> None: ...

def accept_connection(listener: object) -> Optional[Tuple[Connection, int]]:
    """Accept one connection from the non-blocking listening socket `listener`:
    (connection, peer uid from SO_PEERCRED, -1 if unreadable), or None when there was nothing
    to accept (EAGAIN, ECONNABORTED, EINTR, EPROTO, ENETDOWN). Other errors raise OSError."""
