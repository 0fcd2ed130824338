# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The wire core in Cython: reads a request's uwsgi packet into a WSGI environ, encodes the
response head, and gives the application its request body as ``wsgi.input``.

``docs/protocol.md`` is the contract; the API is documented in ``_core.pyi``; ``_core_py.py`` is
the pure-Python twin with the same API and behaviour, and the test suite runs against both.

Rules of this file:
- The hot paths work on raw bytes: the vars block is walked with a char pointer and decoded with
  PyUnicode_DecodeLatin1; the head is validated with 256-entry tables and written into one bytes
  object. Nothing is computed per request that can be computed at import.
- Every cdef function that can fail says so (``except -1`` / returns an object), so an
  exception never crosses a C frame unreported.
- Error texts come from ``_core_py`` (cold path): both implementations raise the same exception
  classes with the same words.
- Socket I/O goes through the socket object's ``recv``, which releases the GIL while it waits
  and turns timeouts and errors into OSError. In a daemon that object is this module's
  ``Connection`` (``_core_conn.pxi``, included at the end), which does the same with fewer
  GIL hand-offs.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.unicode cimport (
    PyUnicode_1BYTE_KIND,
    PyUnicode_DATA,
    PyUnicode_DecodeLatin1,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
)
from cpython.dict cimport PyDict_SetDefault
from cpython.list cimport PyList_GET_ITEM
from libc.string cimport memchr, memcmp, memcpy

cdef extern from "strings.h":
    int strncasecmp(const char *s1, const char *s2, size_t n)

from wsgid._core_py import (
    BODY_RECV_SIZE,
    HEADER_SIZE,
    LINE_RECV_SIZE,
    MAX_CONTENT_LENGTH,
    PACKET_RECV_SIZE,
    HeadError,
    ProtocolError,
    ShortBodyError,
    content_length_error,
    cut_body_error,
    duplicate_key_error,
    header_error,
    header_name_error,
    header_shape_error,
    header_value_error,
    headers_type_error,
    hop_by_hop_error,
    input_terminated_error,
    short_body_error,
    key_overrun_error,
    length_and_terminated_error,
    missing_value_length_error,
    status_error,
    status_type_error,
    stray_byte_error,
    too_many_vars_error,
    truncated_error,
    value_overrun_error,
    zero_length_key_error,
)

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

cdef Py_ssize_t C_HEADER_SIZE = HEADER_SIZE
cdef Py_ssize_t C_BODY_RECV_SIZE = BODY_RECV_SIZE
cdef Py_ssize_t C_LINE_RECV_SIZE = LINE_RECV_SIZE
cdef unsigned long long C_MAX_CONTENT_LENGTH = MAX_CONTENT_LENGTH
# The longest CONTENT_LENGTH text that can be at most C_MAX_CONTENT_LENGTH (2**63 - 1).
cdef Py_ssize_t MAX_CONTENT_LENGTH_DIGITS = 19

_FEED_AFTER_COMPLETE = (
    "PacketParser.feed() after the packet was complete: "
    "the body is not the parser's business (its start is in .rest)"
)


# Character classes of the response head, one byte per latin-1 code point.
cdef unsigned char TOKEN_CHAR[256]  # RFC 7230 tchar
cdef unsigned char VALUE_CHAR[256]  # field-value: HTAB, visible ASCII, space, obs-text
cdef unsigned char REASON_CHAR[256]  # reason phrase: as a value, without HTAB

cdef void fill_character_tables() noexcept:
    cdef int c
    for c in range(256):
        REASON_CHAR[c] = (0x20 <= c <= 0x7E) or c >= 0x80
        VALUE_CHAR[c] = REASON_CHAR[c] or c == 0x09
        TOKEN_CHAR[c] = (
            (b'0' <= c <= b'9') or (b'a' <= c <= b'z') or (b'A' <= c <= b'Z')
            or c in b"!#$%&'*+-.^_`|~"
        )

fill_character_tables()

cdef const char *HOP_BY_HOP[8]
HOP_BY_HOP[:] = [
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
    b"te", b"trailer", b"transfer-encoding", b"upgrade",
]
cdef size_t HOP_BY_HOP_LENGTH[8]
HOP_BY_HOP_LENGTH[:] = [10, 10, 18, 19, 2, 7, 17, 7]


# The packet.

cdef inline Py_ssize_t read_u16(const unsigned char *p) noexcept:
    return p[0] | (p[1] << 8)


# Keys recur from request to request, in the same order (mod_wsgid sends its variables in a
# fixed order): the str of the key at position i of the last packet is kept here and reused
# when the next packet has the same bytes at that position, so the key is neither decoded again
# nor hashed again (a str caches its hash). Only touched with the GIL held, and nothing in the
# parse loop can release it.
cdef Py_ssize_t KEY_CACHE_SIZE = 64
cdef list key_cache = [None] * KEY_CACHE_SIZE


cdef inline str cached_key(Py_ssize_t index, const unsigned char *data, Py_ssize_t length):
    """The key at position `index` of a packet, as a str: the cached one when it matches."""
    cdef object cached
    cdef str key
    if index < KEY_CACHE_SIZE:
        cached = <object>PyList_GET_ITEM(key_cache, index)
        if (cached is not None and PyUnicode_GET_LENGTH(cached) == length
                and PyUnicode_KIND(cached) == PyUnicode_1BYTE_KIND
                and memcmp(PyUnicode_DATA(cached), data, length) == 0):
            return <str>cached
    key = PyUnicode_DecodeLatin1(<const char *>data, length, NULL)
    if index < KEY_CACHE_SIZE:
        key_cache[index] = key
    return key


cdef dict parse_vars_block(const unsigned char *block, Py_ssize_t end, Py_ssize_t max_vars):
    """The decoded pairs of a whole vars block; ProtocolError if malformed."""
    cdef dict variables = {}
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t key_length, value_length
    cdef str key
    cdef object value
    while pos < end:
        if end - pos < 2:
            raise stray_byte_error(end, pos)
        key_length = read_u16(block + pos)
        if key_length == 0:
            raise zero_length_key_error(pos)
        pos += 2
        if key_length > end - pos:
            raise key_overrun_error(key_length, pos - 2, end)
        key = cached_key(count, block + pos, key_length)
        pos += key_length
        if end - pos < 2:
            raise missing_value_length_error(end, key)
        value_length = read_u16(block + pos)
        pos += 2
        if value_length > end - pos:
            raise value_overrun_error(key, value_length, end)
        value = PyUnicode_DecodeLatin1(<const char *>block + pos, value_length, NULL)
        # One hash lookup both inserts and finds a duplicate: the dict does not grow then (a
        # value is no proof, since short strs are shared singletons).
        PyDict_SetDefault(variables, key, value)
        if len(variables) == count:
            raise duplicate_key_error(key)
        if count >= max_vars:
            raise too_many_vars_error(max_vars)
        count += 1
        pos += value_length
    return variables


cdef object parse_content_length(str value):
    """CONTENT_LENGTH as an int, None when empty; ProtocolError unless a plain decimal."""
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(value)
    cdef const unsigned char *digits
    cdef unsigned long long number = 0
    cdef Py_ssize_t i
    if length == 0:
        return None
    if PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND or length > MAX_CONTENT_LENGTH_DIGITS:
        raise content_length_error(value)
    digits = <const unsigned char *>PyUnicode_DATA(value)
    for i in range(length):
        if not (b'0' <= digits[i] <= b'9'):
            raise content_length_error(value)
        number = number * 10 + (digits[i] - ord('0'))  # 19 digits fit an unsigned 64-bit integer
    if number > C_MAX_CONTENT_LENGTH:
        raise content_length_error(value)
    return number


cdef tuple build_environ(dict variables, dict base_environ):
    """(environ, content_length) for a request's variables; `variables` becomes the environ.

    Keys of base_environ win over packet variables of the same name, so a packet cannot replace
    the daemon's own wsgi.* values.
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
    variables.update(base_environ)
    variables["wsgi.url_scheme"] = url_scheme
    variables["wsgi.input_terminated"] = input_terminated
    variables.setdefault("SCRIPT_NAME", "")
    variables.setdefault("PATH_INFO", "")
    return variables, content_length


cdef class PacketParser:
    """Collects one request packet (header and vars block) from bytes fed in any pieces."""

    cdef dict _base_environ
    cdef Py_ssize_t _max_vars
    cdef readonly object environ
    cdef readonly bytes rest
    cdef readonly object content_length
    cdef bytearray _buffer  # the packet so far, when it did not come in one piece
    cdef Py_ssize_t _packet_size  # header plus vars block; 0 until the header is in
    cdef bint _complete
    cdef object _error

    def __init__(self, dict base_environ not None, Py_ssize_t max_vars=1000):
        if max_vars < 0:
            raise ValueError("max_vars must be 0 or more, not %r" % (max_vars,))
        self._base_environ = base_environ
        self._max_vars = max_vars
        self.environ = None
        self.rest = b""
        self.content_length = None
        self._buffer = bytearray()
        self._packet_size = 0
        self._complete = False
        self._error = None

    def feed(self, data):
        cdef Py_buffer view
        cdef int done = 0
        if self._error is not None:
            raise self._error
        if self._complete:
            raise RuntimeError(_FEED_AFTER_COMPLETE)
        try:
            if PyByteArray_GET_SIZE(self._buffer) == 0:
                # The usual case: the whole packet in one piece, parsed where it lies.
                PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
                try:
                    done = self._consume(<const unsigned char *>view.buf, view.len)
                finally:
                    PyBuffer_Release(&view)
                if not done:
                    self._buffer += data
            else:
                self._buffer += data
                done = self._consume(
                    <const unsigned char *>PyByteArray_AS_STRING(self._buffer),
                    PyByteArray_GET_SIZE(self._buffer),
                )
        except ProtocolError as error:
            self._error = error  # a broken packet stays broken: later feeds raise it again
            self._buffer = bytearray()
            raise
        if done:
            self._buffer = bytearray()
        return bool(done)

    cdef int _consume(self, const unsigned char *data, Py_ssize_t length) except -1:
        """1 once `data` (the packet so far) holds the whole packet, then parsed; else 0."""
        if self._packet_size == 0:
            if length < C_HEADER_SIZE:
                return 0
            if data[0] != 0 or data[3] != 0:
                raise header_error(PyBytes_FromStringAndSize(<const char *>data, C_HEADER_SIZE))
            self._packet_size = C_HEADER_SIZE + read_u16(data + 1)
        if length < self._packet_size:
            return 0
        variables = parse_vars_block(
            data + C_HEADER_SIZE, self._packet_size - C_HEADER_SIZE, self._max_vars
        )
        self.environ, self.content_length = build_environ(variables, self._base_environ)
        self.rest = PyBytes_FromStringAndSize(
            <const char *>data + self._packet_size, length - self._packet_size
        )
        self._complete = True
        return 1


def read_request(sock, dict base_environ not None, Py_ssize_t max_vars=1000):
    cdef PacketParser parser = PacketParser(base_environ, max_vars)
    recv = sock.recv
    while True:
        data = recv(PACKET_RECV_SIZE)
        if not data:
            raise truncated_error(PyByteArray_GET_SIZE(parser._buffer), parser._packet_size)
        if parser.feed(data):
            return parser.environ, parser.rest, parser.content_length


# The response head. The helpers take `object` so that str subclasses pass; encode_head checks
# isinstance(..., str) before it calls them, which is what makes the PyUnicode macros safe.

cdef inline const unsigned char *latin1_data(object text) noexcept:
    """The 1-byte characters of `text`, or NULL when it has a character beyond latin-1."""
    if PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND:
        return NULL
    return <const unsigned char *>PyUnicode_DATA(text)


cdef bint is_status(object status) noexcept:
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(status)
    cdef const unsigned char *chars = latin1_data(status)
    cdef Py_ssize_t i
    if chars == NULL or length < 4:
        return False
    if not (b'1' <= chars[0] <= b'9' and b'0' <= chars[1] <= b'9' and b'0' <= chars[2] <= b'9'):
        return False
    if chars[3] != b' ':
        return False
    for i in range(4, length):
        if not REASON_CHAR[chars[i]]:
            return False
    return True


cdef bint is_token(object name) noexcept:
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(name)
    cdef const unsigned char *chars = latin1_data(name)
    cdef Py_ssize_t i
    if chars == NULL or length == 0:
        return False
    for i in range(length):
        if not TOKEN_CHAR[chars[i]]:
            return False
    return True


cdef bint is_hop_by_hop(object token) noexcept:
    """For a valid token (ASCII, so strncasecmp compares it right)."""
    cdef size_t length = PyUnicode_GET_LENGTH(token)
    cdef const char *chars = <const char *>PyUnicode_DATA(token)
    cdef int i
    for i in range(8):
        if length == HOP_BY_HOP_LENGTH[i] and strncasecmp(chars, HOP_BY_HOP[i], length) == 0:
            return True
    return False


cdef bint is_field_value(object value) noexcept:
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(value)
    cdef const unsigned char *chars = latin1_data(value)
    cdef Py_ssize_t i
    if chars == NULL:
        return False
    for i in range(length):
        if not VALUE_CHAR[chars[i]]:
            return False
    return True


cdef inline char *put(char *out, object text) noexcept:
    """Copies a validated (latin-1) str into `out`; returns the position after it."""
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(text)
    memcpy(out, PyUnicode_DATA(text), length)
    return out + length


cdef inline char *put_c(char *out, const char *text, Py_ssize_t length) noexcept:
    memcpy(out, text, length)
    return out + length


def encode_head(status, headers):
    cdef Py_ssize_t size
    cdef tuple fields
    cdef bytes head
    cdef char *out
    if not isinstance(status, str):
        raise status_type_error(status)
    if not is_status(status):
        raise status_error(status)
    if not isinstance(headers, list):
        raise headers_type_error(headers)
    # A snapshot, so what is validated is what is written.
    fields = tuple(headers)
    size = 9 + PyUnicode_GET_LENGTH(status) + 2 + 2  # "HTTP/1.1 " status CRLF ... CRLF
    for header in fields:
        if (
            not isinstance(header, tuple)
            or len(<tuple>header) != 2
            or not isinstance((<tuple>header)[0], str)
            or not isinstance((<tuple>header)[1], str)
        ):
            raise header_shape_error(header)
        name = (<tuple>header)[0]
        value = (<tuple>header)[1]
        if not is_token(name):
            raise header_name_error(name)
        if is_hop_by_hop(name):
            raise hop_by_hop_error(name)
        if not is_field_value(value):
            raise header_value_error(name, value)
        size += PyUnicode_GET_LENGTH(name) + 2 + PyUnicode_GET_LENGTH(value) + 2
    head = PyBytes_FromStringAndSize(NULL, size)
    out = PyBytes_AS_STRING(head)
    out = put_c(out, b"HTTP/1.1 ", 9)
    out = put(out, status)
    out = put_c(out, b"\r\n", 2)
    for header in fields:
        out = put(out, (<tuple>header)[0])
        out = put_c(out, b": ", 2)
        out = put(out, (<tuple>header)[1])
        out = put_c(out, b"\r\n", 2)
    put_c(out, b"\r\n", 2)
    return head


# The request body.

cdef bint peer_has_closed(int fd) noexcept:
    """After EOF: the peer closed the whole connection (POLLHUP), not only its sending side
    (see _core_py.peer_has_closed). Never waits."""
    cdef pollfd entry
    entry.fd = fd
    entry.events = POLLIN
    entry.revents = 0
    return poll(&entry, 1, 0) == 1 and (entry.revents & POLLHUP) != 0

cdef class InputStream:
    """wsgi.input: the request body from the socket, never read past its end."""

    @property
    def received_all(self):
        """The whole body (CONTENT_LENGTH bytes) has come off the socket: nothing more can."""
        return self._unreceived == 0

    def __init__(self, sock, prebuffered, length):
        if length is not None and length < 0:
            raise ValueError("length must be None or 0 or more, not %r" % (length,))
        self._recv = sock.recv
        self._sock = sock
        self._buffer = bytearray(prebuffered)
        if length is not None:
            # Bytes past CONTENT_LENGTH are not body; they are never handed out.
            if PyByteArray_GET_SIZE(self._buffer) > length:
                del self._buffer[length:]
            self._unreceived = length - PyByteArray_GET_SIZE(self._buffer)
        else:
            self._unreceived = -1
        self._eof = self._unreceived == 0
        self.bytes_read = 0
        self.reads = 0
        self.read_time = 0.0

    cdef bytes _recv_body(self, Py_ssize_t size):
        """Up to `size` more body bytes from the socket; b'' at the end of the body."""
        cdef bytes data
        cdef double started
        if self._eof:
            return b""
        if self._unreceived >= 0 and size > self._unreceived:
            size = self._unreceived
        started = monotonic()
        self.reads += 1
        try:
            data = self._recv(size)
        finally:
            self.read_time += monotonic() - started
        if len(data) == 0:
            self._eof = True
            if self._unreceived > 0:
                raise short_body_error(self._unreceived)
            if self._unreceived < 0 and peer_has_closed(self._sock.fileno()):
                raise cut_body_error()
            return b""
        if self._unreceived >= 0:
            self._unreceived -= len(data)
            if self._unreceived == 0:
                self._eof = True
        return data

    cdef bytes _take(self, Py_ssize_t size):
        """The first `size` bytes of the buffer, removed from it and counted as read."""
        cdef Py_ssize_t available = PyByteArray_GET_SIZE(self._buffer)
        if size > available:
            size = available
        data = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(self._buffer), size)
        del self._buffer[:size]  # cheap: bytearray drops its head without moving the rest
        self.bytes_read += size
        return data

    def read(self, size=-1):
        cdef Py_ssize_t wanted = -1 if size is None else size
        cdef list parts
        cdef bytes data
        if wanted < 0:
            parts = [self._take(PyByteArray_GET_SIZE(self._buffer))]
            while True:
                data = self._recv_body(C_BODY_RECV_SIZE)
                if not data:
                    break
                self.bytes_read += len(data)
                parts.append(data)
            return b"".join(parts)
        while PyByteArray_GET_SIZE(self._buffer) < wanted:
            data = self._recv_body(
                min(wanted - PyByteArray_GET_SIZE(self._buffer), C_BODY_RECV_SIZE)
            )
            if not data:
                break
            self._buffer += data
        return self._take(wanted)

    def readline(self, size=-1):
        cdef Py_ssize_t limit = -1 if size is None else size
        cdef Py_ssize_t searched = 0
        cdef Py_ssize_t available, end
        cdef const char *chars
        cdef const char *newline
        cdef bytes data
        if limit < 0:
            limit = -1
        while True:
            available = PyByteArray_GET_SIZE(self._buffer)
            chars = PyByteArray_AS_STRING(self._buffer)
            newline = <const char *>memchr(chars + searched, b'\n', available - searched)
            if newline != NULL:
                end = newline - chars + 1
                break
            if 0 <= limit <= available:
                end = limit
                break
            searched = available
            data = self._recv_body(C_LINE_RECV_SIZE)
            if not data:
                end = available
                break
            self._buffer += data
        if 0 <= limit < end:
            end = limit
        return self._take(end)

    def readlines(self, hint=-1):
        cdef Py_ssize_t limit = -1 if hint is None else hint
        cdef Py_ssize_t total = 0
        cdef list lines = []
        if limit <= 0:
            limit = -1
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if 0 <= limit <= total:
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
        cdef Py_ssize_t drained = PyByteArray_GET_SIZE(self._buffer)
        cdef bytes data
        del self._buffer[:]
        while True:
            try:
                data = self._recv_body(C_BODY_RECV_SIZE)
            except ShortBodyError:
                return drained  # the caller compares what it got with CONTENT_LENGTH
            if not data:
                return drained
            drained += len(data)


include "_core_conn.pxi"
