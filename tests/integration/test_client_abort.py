"""A client that goes away while the response is written, through a real Apache and a real daemon.

mod_wsgi 4.6's rule: when the connection to the client is lost while the response is written,
the access log keeps the application's status (not 500) and the error log gets nothing, because
clients leave all the time; only a write that times out (a client that stays connected but stops
reading) is logged, because such connections hold server capacity.

The daemon group has one thread, so a follow-up request that is served proves the aborted
request has ended in the daemon too (and anything it had to log is in the log by then).
"""

import os
import socket
import struct
import time

import pytest
import requests

from tests.support.apache import wait_for
from tests.support.procs import wait_for_daemons

STREAM = "/app/stream?mb=200"     # far more than socket buffers hold
WRITE_TIMEOUT = 2                 # Apache's Timeout in the write-timeout test

SITE = """
WSGIDaemonProcess site processes=1 threads=1
WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site
"""


def start_site(apache, extra=""):
    inst = apache(extra + SITE)
    inst.start()
    wait_for_daemons(inst, 1)
    assert requests.get(inst.url("/app/hello"), timeout=10).status_code == 200   # loaded
    return inst


def socket_path(inst):
    run = os.path.join(inst.root, "run")
    [path] = [os.path.join(run, n) for n in os.listdir(run) if n.endswith(".sock")]
    return path


def open_download(inst, receive_buffer=None):
    """A raw client that sent GET STREAM; returns the socket and the first bytes it read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", inst.port))
    sock.sendall(f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1:{inst.port}\r\n\r\n".encode())
    data = b""
    while len(data) < 256 * 1024:
        chunk = sock.recv(65536)
        assert chunk, f"the response ended early: {data[:200]!r}"
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:200]
    return sock, data


def wsgid_lines(log):
    return [line for line in log.splitlines() if "[wsgi:" in line]


def access_line_of_stream(inst):
    return [line for line in inst.access_log().splitlines() if f'"GET {STREAM} HTTP/1.1"' in line]


def served_again(inst):
    """The daemon's only thread is free again: the aborted request is over on both sides."""
    r = requests.get(inst.url("/app/hello"), timeout=30)
    assert r.status_code == 200
    return True


@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_leaving_mid_download_logs_the_apps_status_and_no_error(apache, how):
    inst = start_site(apache)
    before = inst.error_log()
    sock, _ = open_download(inst)
    if how == "reset":       # an RST instead of a FIN: the next write fails at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()

    lines = wait_for(lambda: access_line_of_stream(inst), 20,
                     message="the access log line of the aborted download")
    assert served_again(inst)
    assert len(lines) == 1 and lines[0].split('" ')[1].startswith("200 "), lines
    new = inst.error_log()[len(before):]
    assert wsgid_lines(new) == [], new


def test_client_that_stops_reading_is_logged_once_when_the_write_times_out(apache):
    inst = start_site(apache, extra=f"Timeout {WRITE_TIMEOUT}\n")
    before = inst.error_log()
    sock, _ = open_download(inst, receive_buffer=4096)
    try:
        # The client stays connected and reads nothing more: Apache's write must time out.
        started = time.monotonic()
        lines = wait_for(lambda: access_line_of_stream(inst), WRITE_TIMEOUT + 20,
                         message="the access log line after the write timeout")
        assert time.monotonic() - started >= WRITE_TIMEOUT * 0.9
    finally:
        sock.close()
    assert served_again(inst)
    assert len(lines) == 1 and lines[0].split('" ')[1].startswith("200 "), lines
    new = inst.error_log()[len(before):]
    module_lines = [line for line in wsgid_lines(new) if "mod_wsgid" in line]
    assert len(module_lines) == 1, new
    assert f"group 'site' socket {socket_path(inst)}" in module_lines[0]
    assert "timed out" in module_lines[0] and "client" in module_lines[0], module_lines[0]
