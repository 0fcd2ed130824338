"""A raw HTTP/1.1 client for tests that must see the exact bytes on the wire.

requests and urllib3 tidy a response up (they join or drop odd header lines, accept a chunked body
without its last chunk, read a short body as complete); this client does none of that. It sends
bytes exactly as given and frames each response itself, saying whether the framing was complete:
a Content-Length body with all its bytes, or a chunked body up to its last chunk.

Rules: reads stop at a deadline (a test never hangs on a server that keeps a connection open);
every response on a connection is read in order from one buffer, so that pipelined and smuggled
responses are counted, not skipped.
"""

import socket
import time
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    raw: bytes = b""          # every byte of this response as it arrived
    status: int = 0
    headers: list = field(default_factory=list)   # (name, value) bytes, in order, as sent
    body: bytes = b""         # de-chunked when chunked
    complete: bool = False    # the framing ended where the head said it would
    framing: str = ""         # "content-length", "chunked" or "close"

    def header(self, name):
        """The values of header `name` (case-insensitive), as bytes."""
        wanted = name.lower().encode("latin-1")
        return [value for key, value in self.headers if key.lower() == wanted]

    def head(self):
        return self.raw.split(b"\r\n\r\n", 1)[0]


class RawConnection:
    """One TCP connection to 127.0.0.1:port; use as a context manager."""

    def __init__(self, port, timeout=10):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Receive more bytes into the buffer; False at EOF or when the deadline passed."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def _take_line(self, deadline):
        while b"\r\n" not in self.buffer:
            if not self._fill(deadline):
                return None
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _take(self, count, deadline):
        while len(self.buffer) < count:
            if not self._fill(deadline):
                break
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_response(self, timeout=None, head_request=False):
        """The next response, or None if the connection ended (or the deadline passed) before
        any byte of one."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill(deadline):
                break
        if not self.buffer:
            return None
        response = RawResponse()
        if b"\r\n\r\n" not in self.buffer:
            response.raw, self.buffer = self.buffer, b""
            return response
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        response.raw = head + b"\r\n\r\n"
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        response.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            response.headers.append((name, value.strip()))
        length = response.header("Content-Length")
        chunked = any(b"chunked" in v.lower() for v in response.header("Transfer-Encoding"))
        if head_request or response.status in (204, 304) or 100 <= response.status < 200:
            response.framing, response.complete = "none", True
        elif chunked:
            response.framing = "chunked"
            self._read_chunked(response, deadline)
        elif length:
            response.framing = "content-length"
            response.body = self._take(int(length[0]), deadline)
            response.raw += response.body
            response.complete = len(response.body) == int(length[0])
        else:
            response.framing = "close"
            while self._fill(deadline):
                pass
            response.body, self.buffer = self.buffer, b""
            response.raw += response.body
            response.complete = self.eof
        return response

    def _read_chunked(self, response, deadline):
        body = []
        while True:
            line = self._take_line(deadline)
            if line is None:
                break
            response.raw += line + b"\r\n"
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                break
            if size == 0:
                # Trailer fields, then the empty line that ends the message.
                while True:
                    trailer = self._take_line(deadline)
                    if trailer is None:
                        response.body = b"".join(body)
                        return
                    response.raw += trailer + b"\r\n"
                    if trailer == b"":
                        response.body = b"".join(body)
                        response.complete = True
                        return
            data = self._take(size + 2, deadline)
            response.raw += data
            body.append(data[:size])
            if len(data) < size + 2:
                break
        response.body = b"".join(body)

    def read_all_responses(self, timeout=None):
        """Every response until the connection ends or the deadline passes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        responses = []
        while True:
            response = self.read_response(timeout=max(0.01, deadline - time.monotonic()))
            if response is None:
                return responses
            responses.append(response)
            if not response.complete:
                return responses

    def closed_by_peer(self, timeout):
        """True when the server closes the connection within `timeout` seconds (any bytes that
        arrive first are kept in the buffer)."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        return self.eof


def exchange(port, request, timeout=10):
    """Send `request` on a new connection and return the first response (or None)."""
    with RawConnection(port, timeout) as conn:
        conn.send(request)
        return conn.read_response()


def get_request(path, host=b"localhost", extra=b"", close=True):
    """The bytes of a simple GET request for `path` (bytes or str, sent as it is)."""
    if isinstance(path, str):
        path = path.encode("latin-1")
    connection = b"Connection: close\r\n" if close else b""
    return b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + connection + extra + b"\r\n"
