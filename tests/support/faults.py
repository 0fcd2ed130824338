"""Helpers of the fault tests (tests/reliability/): a raw HTTP/1.1 client that keeps what it
received even when the connection is cut, the marks tests/apps/faults.wsgi leaves, and
`wsgid status --json` for one supervisor.

Rules: waiting is polling with a deadline (tests.support.apache.wait_for); nothing here sleeps a
fixed time.
"""

import json
import os
import socket
import subprocess
import sys

from tests.support.apache import wait_for


class RawResponse:
    """What a client received on one request: status, headers and body bytes, and whether the
    connection ended before the body that Content-Length announced was complete."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_length(self):
        value = self.headers.get("content-length")
        return None if value is None else int(value)

    @property
    def cut_off(self):
        return self.content_length is not None and len(self.body) < self.content_length


def read_response(sock, on_body=None):
    """Read one response with a Content-Length (or until the peer closes) from sock. on_body,
    if given, gets each body chunk instead of it being kept (for very large bodies)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the connection ended inside the response head: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"]) if "content-length" in headers else None
    body, received = [], 0

    def take(chunk):
        nonlocal received
        received += len(chunk)
        if on_body:
            on_body(chunk)
        else:
            body.append(chunk)
    if rest:
        take(rest)
    while length is None or received < length:
        try:
            chunk = sock.recv(1 << 20 if length is None else min(1 << 20, length - received))
        except ConnectionResetError:
            break
        if not chunk:
            break
        take(chunk)
    response = RawResponse(status, headers, b"".join(body))
    response.received = received
    return response


def raw_get(port, path, timeout=30):
    """GET path on a new connection (closed afterwards); the RawResponse, cut off or not."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                     .encode("ascii"))
        return read_response(sock)


class FaultsDir:
    """The FAULTS_DIR of tests/apps/faults.wsgi: the marks and records it leaves."""

    def __init__(self, path):
        self.path = path

    def read(self, name):
        try:
            with open(os.path.join(self.path, name)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def wait(self, name, timeout=15):
        """The content of mark `name` once it exists."""
        return wait_for(lambda: self.read(name), timeout, message=f"{name} in FAULTS_DIR")

    def seen(self):
        """The requests the application saw, in order: 'PATH?QUERY' each."""
        return (self.read("seen") or "").splitlines()

    def release(self):
        open(os.path.join(self.path, "release"), "w").close()

    def hold_again(self):
        try:
            os.unlink(os.path.join(self.path, "release"))
        except FileNotFoundError:
            pass


def supervisor_status(inst):
    """The `wsgid status --json` document of the managed supervisor of `inst`, by its
    configuration file, as a user would ask for it."""
    config = os.path.join(inst.root, "run", f"wsgid.{inst.pid()}.conf")
    done = subprocess.run([sys.executable, "-m", "wsgid", "status", "--json", "--config", config],
                          capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout)


def daemon_process_status(inst, group):
    """{pid: the `wsgid status` entry} of the group's daemon processes."""
    document = supervisor_status(inst)
    for supervisor in document["supervisors"]:
        for entry in supervisor["groups"]:
            if entry["name"] == group:
                return {p["pid"]: p for p in entry["daemon_processes"]}
    return {}
