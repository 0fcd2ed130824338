"""The test suite's own uwsgi codec (docs/protocol.md), written independently of wsgid.core so
that tests which talk to a daemon socket do not trust the code they test."""

import socket
import struct


def uwsgi_packet(variables, body=b""):
    """A uwsgi request packet: the 4-byte header, the vars block, then `body`.

    `variables` is a dict of str (encoded as latin-1) or a list of (bytes, bytes) pairs (for
    packets with duplicate or odd keys).
    """
    pairs = variables
    if isinstance(variables, dict):
        pairs = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in variables.items()]
    block = b"".join(struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
                     for k, v in pairs)
    return struct.pack("<BHB", 0, len(block), 0) + block + body


def recv_until_eof(sock):
    """Everything the peer sends until it closes."""
    parts = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(parts)
        parts.append(data)


def unix_exchange(path, payload, timeout=10):
    """Connect to a unix socket, send payload, half-close, and read until the peer closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s)


def raw_http(port, request):
    """Send `request` (bytes, exactly as given: clients would normalise '..' and escapes away)
    to Apache on loopback; return (status line, body) once it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = recv_until_eof(s)
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body
