"""A scripted stand-in for a daemon group, for tests of what mod_wsgid sends and survives.

The real daemon validates everything it sends, so it cannot produce the malformed heads, stalls
and early answers the module must handle; a ScriptedDaemon bound at the group's socket path in
the test process answers each connection as the test says, the way a raw client stands in for a
hostile one.

- take_over_group_socket(inst): start `inst` (an ApacheInstance with one daemon group), then
  remove the group's socket file so that a ScriptedDaemon can bind its path (the real daemons
  keep serving their old, now nameless, socket); returns the path.
- ScriptedDaemon(path): for each connection reads the packet into a record
  ({"header", "vars", "body", "first_read"}: first_read is what one recv() could take at once
  when the first bytes came), keeps it in `seen`, then calls `answer(conn, record)`: it may
  read the body (read_body) and send anything; what it returns, if anything, is sent too.
- frame(data) / END_FRAME: a framed body as a wsgid daemon sends it (docs/protocol.md).
- read_body(conn, record): the body, after opening the body gate when the packet has one.
"""

import os
import socket
import struct
import threading

from tests.support.procs import wait_for_daemons

END_FRAME = struct.pack(">I", 0)


def frame(data):
    """`data` as one frame of a framed body (docs/protocol.md, "Framed response bodies")."""
    return struct.pack(">I", len(data)) + data


def recv_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def parse_vars(block):
    variables, pos = {}, 0
    while pos < len(block):
        (klen,) = struct.unpack_from("<H", block, pos)
        key = block[pos + 2:pos + 2 + klen].decode("latin-1")
        pos += 2 + klen
        (vlen,) = struct.unpack_from("<H", block, pos)
        variables[key] = block[pos + 2:pos + 2 + vlen].decode("latin-1")
        pos += 2 + vlen
    assert pos == len(block)
    return variables


# What a daemon sends to have a body held back behind the gate (wsgid.body_gate) sent.
GATE_OPEN = b"HTTP/1.1 100 Continue\r\n\r\n"


def read_body(conn, record, open_gate=True):
    """Read the request body up to the module's half-close into record["body"]; first open the
    body gate when the packet has one, as a daemon does (unless `open_gate` is False: the test
    has answered it itself)."""
    if open_gate and record["vars"].get("wsgid.body_gate") == "1":
        conn.sendall(GATE_OPEN)
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    record["body"] = b"".join(chunks)


def take_over_group_socket(inst):
    inst.start()
    wait_for_daemons(inst, 1)
    run = os.path.join(inst.root, "run")
    (name,) = [n for n in os.listdir(run) if n.endswith(".sock")]
    path = os.path.join(run, name)
    os.unlink(path)
    return path


class ScriptedDaemon:
    """Listens at a daemon socket path; answers each connection as `self.answer` says."""

    def __init__(self, path):
        self.path = path
        self.seen = []
        self.answer = None
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o777)           # the Apache child user connects
        self.listener.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            conn.settimeout(30)
            first_read = conn.recv(1 << 20, socket.MSG_PEEK)
            header = recv_exactly(conn, 4)
            (size,) = struct.unpack_from("<H", header, 1)
            record = {"header": header, "vars": parse_vars(recv_exactly(conn, size)),
                      "body": None, "first_read": first_read}
            self.seen.append(record)
            try:
                reply = self.answer(conn, record)
                if reply:
                    conn.sendall(reply)
            except OSError:
                pass                    # the module refused what was sent and closed

    def close(self):
        self.listener.close()
