"""What mod_wsgid sends to a daemon socket and what it makes of the answer, status by status.

The real daemon validates everything it sends, so it cannot produce the malformed heads,
stalls and early answers the module must survive; a scripted peer stands in for it here, the
way a raw client stands in for a hostile one.

A real Apache with the real module, and in place of the daemon group's socket a small scripted
daemon in the test process (bound at the group's socket path), so that every byte the module
sends can be checked and every answer, good or malformed, can be given:
- the packet: header bytes, CGI variables (SCRIPT_NAME/PATH_INFO split at the mount point),
  the wsgid.* control keys, HTTP_AUTHORIZATION only with WSGIPassAuthorization On;
- the response: status line, repeated Set-Cookie kept separate, hop-by-hop headers dropped;
- the statuses the module itself produces (docs/protocol.md): 431, 411, 502, 503, 504, each with
  one error-log line naming the group and the socket.
"""

import concurrent.futures
import hashlib
import os
import pwd
import socket
import struct
import threading
import time

import pytest
import requests

from tests.support.apache import APACHE_USER, ApacheInstance, wait_for
from tests.support.rawhttp import RawConnection
from tests.support.scripted_daemon import (
    END_FRAME,
    GATE_OPEN,
    ScriptedDaemon,
    frame,
    read_body,
    take_over_group_socket,
)

pytestmark = pytest.mark.apache

CONF = """
WSGIDaemonProcess site processes=1 threads=2 connect-timeout=1 socket-timeout=2
WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /auth "{apps}/echo.wsgi" process-group=site application-group=named
WSGIScriptAlias /chunked "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /noreload "{apps}/echo.wsgi" process-group=site
<Location /noreload>
    WSGIScriptReloading Off
</Location>
<Location /auth>
    WSGIPassAuthorization On
    WSGICallableObject other_app
</Location>
<Location /chunked>
    WSGIChunkedRequest On
</Location>
"""

GOOD_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
                 b"Set-Cookie: b=2\r\nConnection: x-drop-me\r\nX-Kept: yes\r\n"
                 b"Content-Length: 4\r\n\r\nbody")


@pytest.fixture(scope="module")
def server():
    inst = ApacheInstance(CONF)
    try:
        daemon = ScriptedDaemon(take_over_group_socket(inst))
        yield inst, daemon
        daemon.close()
    finally:
        inst.cleanup()


@pytest.fixture
def site(server):
    inst, daemon = server
    daemon.seen.clear()
    daemon.answer = None
    return inst, daemon


def new_log_lines(inst, before):
    return inst.error_log()[len(before):]


def answer_with(response, read_all=True):
    def answer(conn, record):
        if read_all:
            read_body(conn, record)
        return response
    return answer


def test_packet_has_uwsgi_header_cgi_variables_and_control_keys(site):
    inst, daemon = site
    daemon.answer = answer_with(GOOD_RESPONSE)
    r = requests.get(inst.url("/app/some/path?x=1"), headers={"Authorization": "Basic Zm9vOmJhcg=="},
                     timeout=10)
    assert r.status_code == 200
    (record,) = daemon.seen
    header, env = record["header"], record["vars"]
    assert header[0] == 0 and header[3] == 0
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/app"
    assert env["PATH_INFO"] == "/some/path"
    assert env["QUERY_STRING"] == "x=1"
    assert env["SCRIPT_FILENAME"].endswith("/echo.wsgi")
    assert "HTTP_AUTHORIZATION" not in env            # WSGIPassAuthorization Off
    assert env["wsgid.process_group"] == "site"
    assert env["wsgid.application_group"] == ""       # %{GLOBAL}, the default
    assert env["wsgid.callable_object"] == "application"
    assert env["wsgid.request_id"]
    assert int(env["wsgid.queue_start"]) >= int(env["wsgid.request_start"]) > 0
    assert "wsgid.input_terminated" not in env
    assert env["wsgid.framed_response"] == "1"
    assert record["body"] == b""


def test_root_of_the_mount_has_empty_path_info(site):
    inst, daemon = site
    daemon.answer = answer_with(GOOD_RESPONSE)
    requests.get(inst.url("/app"), timeout=10)
    (record,) = daemon.seen
    assert record["vars"]["SCRIPT_NAME"] == "/app"
    assert record["vars"].get("PATH_INFO", "") == ""


def test_pass_authorization_callable_and_application_group_options(site):
    inst, daemon = site
    daemon.answer = answer_with(GOOD_RESPONSE)
    requests.get(inst.url("/auth/x"), headers={"Authorization": "Basic Zm9vOmJhcg=="}, timeout=10)
    (record,) = daemon.seen
    env = record["vars"]
    assert env["HTTP_AUTHORIZATION"] == "Basic Zm9vOmJhcg=="
    assert env["wsgid.callable_object"] == "other_app"
    assert env["wsgid.application_group"] == "named"


def test_response_head_is_passed_on_with_repeated_cookies_and_without_hop_by_hop(site):
    inst, daemon = site
    daemon.answer = answer_with(GOOD_RESPONSE)
    r = requests.get(inst.url("/app/x"), timeout=10)
    assert r.status_code == 200
    assert r.text == "body"
    assert r.headers["Content-Type"] == "text/plain"
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert r.headers["X-Kept"] == "yes"
    assert "x-drop-me" not in r.headers.get("Connection", "")


def test_status_line_with_reason_reaches_the_client(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 418 Short And Stout\r\nContent-Length: 3\r\n\r\ntea")
    r = requests.get(inst.url("/app/x"), timeout=10)
    assert r.status_code == 418
    assert r.reason == "Short And Stout"
    assert r.text == "tea"


def test_request_body_arrives_then_half_close(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    body = os.urandom(300_000)
    r = requests.post(inst.url("/app/upload"), data=body, timeout=10)
    assert r.status_code == 200
    (record,) = daemon.seen
    assert record["vars"]["CONTENT_LENGTH"] == str(len(body))
    assert record["body"] == body


def test_a_small_body_is_read_whole_and_sent_with_the_packet(site):
    """A body of up to 64 KiB (docs/protocol.md, "The request body") reaches the daemon in the
    module's one write with the packet, even from a client that sends it in two parts."""
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    body = os.urandom(20_000)     # packet and body in one socket buffer: one recv takes both
    with RawConnection(inst.port) as conn:
        conn.send(b"POST /app/form HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                  b"Content-Length: 20000\r\n\r\n" + body[:8000])
        # the pause lets a module that streamed the body send its first part on its own; it
        # decides nothing: the assertion below holds however long it lasts
        time.sleep(0.2)
        conn.send(body[8000:])
        response = conn.read_response()
    assert (response.status, response.body) == (200, b"ok")
    (record,) = daemon.seen
    packet_size = 4 + struct.unpack_from("<H", record["header"], 1)[0]
    assert record["first_read"][packet_size:] == body
    assert record["body"] == body


def test_a_small_body_cut_short_is_a_400_and_never_reaches_a_daemon(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    before = inst.error_log()
    with RawConnection(inst.port) as conn:
        conn.send(b"POST /app/cut HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Length: 1000\r\n\r\n" + b"x" * 400)
        conn.sock.shutdown(socket.SHUT_WR)
        response = conn.read_response()
    assert response.status == 400
    assert "reading the request body from the client failed" in new_log_lines(inst, before)
    # a request after it is the first the daemon sees: the cut one never reached it
    requests.get(inst.url("/app/after"), timeout=10)
    assert [record["vars"]["PATH_INFO"] for record in daemon.seen] == ["/after"]


def test_chunked_body_refused_with_411_unless_enabled(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    before = inst.error_log()
    r = requests.post(inst.url("/app/upload"), data=iter([b"abc", b"def"]), timeout=10)
    assert r.status_code == 411
    assert daemon.seen == []
    assert "WSGIChunkedRequest On" in new_log_lines(inst, before)

    r = requests.post(inst.url("/chunked/upload"), data=iter([b"abc", b"def"]), timeout=10)
    assert r.status_code == 200
    (record,) = daemon.seen
    assert record["body"] == b"abcdef"
    assert record["vars"]["wsgid.input_terminated"] == "1"
    assert "CONTENT_LENGTH" not in record["vars"]


def test_variables_over_65535_bytes_give_431_before_connecting(site):
    inst, daemon = site
    daemon.answer = answer_with(GOOD_RESPONSE)
    before = inst.error_log()
    headers = {f"X-Big-{i}": "v" * 8000 for i in range(9)}     # 72 000 bytes of variables
    r = requests.get(inst.url("/app/x"), headers=headers, timeout=10)
    assert r.status_code == 431
    assert daemon.seen == []
    log = new_log_lines(inst, before)
    assert "group 'site' socket " + daemon.path in log
    assert "more than one uwsgi packet can carry" in log


@pytest.mark.parametrize("reply, problem", [
    (b"", "closed the connection"),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", "closed the connection"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    (b"NOT HTTP\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "header name is not an HTTP token"),
    (b"HTTP/1.1 200 OK\r\nX: a\rInjected: 1\r\n\r\n", "CR, LF or another control character"),
    (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", "CR, LF or another control character"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", "larger than 65536 bytes"),
])
def test_malformed_or_missing_head_gives_502_with_one_log_line(site, reply, problem):
    inst, daemon = site
    daemon.answer = answer_with(reply)
    before = inst.error_log()
    r = requests.get(inst.url("/app/x"), timeout=10)
    assert r.status_code == 502
    assert "Injected" not in r.headers
    log = new_log_lines(inst, before)
    lines = [line for line in log.splitlines() if "mod_wsgid" in line]
    assert len(lines) == 1, log
    assert problem in lines[0]
    assert f"group 'site' socket {daemon.path}" in lines[0]


def test_no_head_within_socket_timeout_gives_504(site):
    inst, daemon = site
    release = threading.Event()

    def stall(conn, record):
        read_body(conn, record)
        release.wait(10)
        return None

    daemon.answer = stall
    before = inst.error_log()
    try:
        r = requests.get(inst.url("/app/x"), timeout=10)
    finally:
        release.set()
    assert r.status_code == 504
    log = new_log_lines(inst, before)
    assert "socket-timeout" in log and f"group 'site' socket {daemon.path}" in log


def test_daemon_answering_without_reading_the_body_is_still_heard(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 413 Too Big\r\nContent-Length: 4\r\n\r\nnope",
                                read_all=False)
    r = requests.post(inst.url("/app/upload"), data=b"x" * (8 * 1024 * 1024), timeout=20)
    assert r.status_code == 413
    assert r.text == "nope"


def test_large_response_streams_through_intact(site):
    inst, daemon = site
    payload = os.urandom(1024 * 1024) * 20

    def big(conn, record):
        read_body(conn, record)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
        for start in range(0, len(payload), 1024 * 1024):
            conn.sendall(frame(payload[start:start + 1024 * 1024]))
        conn.sendall(END_FRAME)
        return None

    daemon.answer = big
    r = requests.get(inst.url("/app/big"), timeout=30)
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_missing_socket_gives_503_after_connect_timeout(site):
    inst, daemon = site
    daemon.answer = answer_with(GOOD_RESPONSE)
    os.rename(daemon.path, daemon.path + ".away")
    before = inst.error_log()
    try:
        r = requests.get(inst.url("/app/x"), timeout=10)
    finally:
        os.rename(daemon.path + ".away", daemon.path)
    assert r.status_code == 503
    log = new_log_lines(inst, before)
    lines = [line for line in log.splitlines() if "mod_wsgid" in line]
    assert len(lines) == 1, log
    assert f"group 'site' socket {daemon.path}" in lines[0]
    assert "No such file or directory" in lines[0]
    assert "connect-timeout 1 s" in lines[0]


def test_client_leaving_mid_response_keeps_the_status_and_logs_no_error(site):
    inst, daemon = site
    finished = threading.Event()

    def endless(conn, record):
        read_body(conn, record)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
        try:
            for _ in range(4000):                 # at most 256 MiB; the module stops reading first
                conn.sendall(frame(b"z" * 65536))
        except OSError:
            pass
        finally:
            finished.set()
        return None

    daemon.answer = endless
    before = inst.error_log()
    with requests.get(inst.url("/app/abort"), stream=True, timeout=10) as r:
        assert r.status_code == 200
        r.raw.read(200_000)
    assert finished.wait(20), "the module kept reading after the client left"
    wait_for(lambda: '"GET /app/abort HTTP/1.1" 200' in inst.access_log(), 10,
             message="the access log line of the aborted request")
    assert "mod_wsgid" not in new_log_lines(inst, before)


def raw_get(inst, path):
    """The raw bytes of the answer to GET `path` (HTTP/1.1, Connection: close): the framing
    the client sees, which requests would hide."""
    host, port = inst.url("/").split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        parts = []
        while True:
            data = client.recv(65536)
            if not data:
                return b"".join(parts)
            parts.append(data)


def test_a_framed_body_reaches_the_client_whole(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\n\r\n" + frame(b"hello ") + frame(b"world")
                                + END_FRAME)
    raw = raw_get(inst, "/app/framed")
    # The whole body and its end came in one read, so Apache can give it a Content-Length.
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: 11\r\n" in raw and raw.endswith(b"\r\n\r\nhello world")


def test_a_framed_body_in_pieces_reaches_the_client_chunked_and_whole(site):
    inst, daemon = site
    first_piece_seen = threading.Event()

    def in_two_pieces(conn, record):
        read_body(conn, record)
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n" + frame(b"hello "))
        first_piece_seen.wait(10)   # the rest only once the client has the first piece
        conn.sendall(frame(b"world") + END_FRAME)
        return None

    daemon.answer = in_two_pieces
    host, port = inst.url("/").split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"GET /app/framed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while True:
            data = client.recv(65536)
            if not data:
                break
            raw += data
            if b"hello " in raw:
                first_piece_seen.set()
    assert b"Transfer-Encoding: chunked" in raw
    assert raw.endswith(b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n")


def test_a_close_before_the_end_frame_is_a_visible_cut(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\n\r\n" + frame(b"partial"))
    raw = raw_get(inst, "/app/cut")
    assert raw.startswith(b"HTTP/1.1 200 OK") and b"partial" in raw
    assert not raw.endswith(b"0\r\n\r\n"), "a cut body must not end like a whole one"


def test_fewer_bytes_than_content_length_is_a_visible_cut(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    raw = raw_get(inst, "/app/short")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Length: 100" in head and body == b"short"


def test_bytes_after_the_end_frame_are_dropped_with_one_log_line(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\n\r\n" + frame(b"body") + END_FRAME
                                + b"HTTP/1.1 200 OK\r\nInjected: 1\r\n\r\n")
    before = inst.error_log()
    raw = raw_get(inst, "/app/after-end")
    assert b"body" in raw and b"Injected" not in raw
    wait_for(lambda: "after the end frame" in new_log_lines(inst, before), 5,
             message="the log line about bytes after the end frame")


def test_a_body_complete_at_its_content_length_is_passed_on_without_waiting_for_the_close(site):
    """The daemon keeps its end open after a complete response: the module passes the whole
    response on and closes its end itself, instead of waiting for the daemon's close until
    socket-timeout and then cutting the response off (which logs an error and ends the
    client's keep-alive connection)."""
    inst, daemon = site
    module_closed = threading.Event()
    release = threading.Event()

    def complete_then_hold(conn, record):
        read_body(conn, record)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
        conn.settimeout(10)
        if conn.recv(1) == b"":        # returns when the module closes (or after 10 s)
            module_closed.set()
        release.wait(10)
        return None

    daemon.answer = complete_then_hold
    before = inst.error_log()
    host, port = inst.url("/").split("//")[1].split("/")[0].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as client:
            answers = []
            for _ in range(2):          # the second on the same (keep-alive) connection
                client.sendall(b"GET /app/complete HTTP/1.1\r\nHost: x\r\n\r\n")
                raw = b""
                while not (b"\r\n\r\n" in raw and raw.endswith(b"body")):
                    data = client.recv(65536)
                    if not data:
                        break
                    raw += data
                answers.append(raw)
    finally:
        release.set()
    for raw in answers:
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 4" in head, raw
        assert body == b"body"
    assert module_closed.wait(10), "the module did not close its end of the connection"
    assert "cut off" not in new_log_lines(inst, before)


def test_bytes_after_the_content_length_are_dropped_with_one_log_line(site):
    inst, daemon = site
    daemon.answer = answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
                                b"HTTP/1.1 200 OK\r\nInjected: 1\r\n\r\n")
    before = inst.error_log()
    raw = raw_get(inst, "/app/after-length")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == b"body" and b"Injected" not in raw
    wait_for(lambda: "after the Content-Length" in new_log_lines(inst, before), 5,
             message="the log line about bytes after the Content-Length")
    [line] = [l for l in new_log_lines(inst, before).splitlines() if "after the Content" in l]
    assert f"group 'site' socket {daemon.path}" in line


# -- script reloading: the daemon's "send it again" (docs/protocol.md, "Script reloading") ------

SEND_AGAIN = b"HTTP/1.1 000 Script Changed\r\nWsgid-Attempts: 3\r\n\r\n"


def answer_send_again_first(daemon, times):
    """Answer "send it again" to the first `times` connections, then GOOD_RESPONSE."""
    def answer(conn, record):
        read_body(conn, record)
        return SEND_AGAIN if len(daemon.seen) <= times else GOOD_RESPONSE   # seen: this one too
    return answer


def test_the_packet_reports_the_script_mtime_and_whether_it_may_be_sent_again(site):
    inst, daemon = site
    daemon.answer = answer_with(GOOD_RESPONSE)
    requests.post(inst.url("/app/x"), data=b"a" * 65536, timeout=10)
    requests.post(inst.url("/app/x"), data=b"a" * 65537, timeout=10)
    small, large = (record["vars"] for record in daemon.seen)
    script = small["SCRIPT_FILENAME"]
    assert int(small["wsgid.script_mtime"]) == os.stat(script).st_mtime_ns // 1000
    assert small["mod_wsgi.script_reloading"] == "1"
    assert small["wsgid.retry_ok"] == "1"                # 64 KiB: kept
    assert "wsgid.body_gate" not in small
    # larger: not kept, but held back until the daemon says go
    assert large["wsgid.retry_ok"] == "1" and large["wsgid.body_gate"] == "1"
    assert "wsgid.script_mtime" in large


def test_send_again_resends_the_same_packet_and_body_until_a_process_answers(site):
    inst, daemon = site
    daemon.answer = answer_send_again_first(daemon, 2)
    body = os.urandom(50_000)
    r = requests.post(inst.url("/app/x"), data=body, timeout=10)
    assert (r.status_code, r.text) == (200, "body")
    first, second, third = daemon.seen
    per_connect = ("wsgid.queue_start", "mod_wsgi.daemon_connects", "mod_wsgi.daemon_restarts")
    for again in (second, third):
        assert again["body"] == body
        assert {k: v for k, v in again["vars"].items() if k not in per_connect} == \
            {k: v for k, v in first["vars"].items() if k not in per_connect}
    assert [r["vars"]["mod_wsgi.daemon_restarts"] for r in daemon.seen] == ["0", "1", "2"]
    assert inst.error_log().count("sending the request again") >= 2


def test_send_again_more_often_than_the_daemon_allows_is_a_503(site):
    inst, daemon = site
    before = inst.error_log()
    daemon.answer = answer_with(SEND_AGAIN)
    r = requests.get(inst.url("/app/x"), timeout=10)
    assert r.status_code == 503
    assert len(daemon.seen) == 3                          # Wsgid-Attempts: 3
    assert "sent 3 times" in new_log_lines(inst, before)


# -- the body gate: a body too large to keep waits for the daemon's go ----------------------------

def gate_answers(daemon, refusals, final=GOOD_RESPONSE, together=False):
    """Answer "send it again" to the first `refusals` connections without reading anything
    (no body may have come: the gate is shut), then open the gate, read the body and answer;
    with `together`, the go and the answer in one send, before reading the body."""
    def answer(conn, record):
        conn.settimeout(0.3)
        try:
            record["before_go"] = conn.recv(1, socket.MSG_PEEK)
        except socket.timeout:
            record["before_go"] = b""
        conn.settimeout(30)
        if len(daemon.seen) <= refusals:
            return SEND_AGAIN
        if together:
            conn.sendall(GATE_OPEN + final)
            read_body(conn, record, open_gate=False)
            return None
        conn.sendall(GATE_OPEN)
        read_body(conn, record, open_gate=False)
        return final
    return answer


def test_a_body_too_large_to_keep_is_sent_only_after_the_daemons_go(site):
    inst, daemon = site
    daemon.answer = gate_answers(daemon, 2)
    body = os.urandom(200_000)
    r = requests.post(inst.url("/app/x"), data=body, timeout=10)
    assert (r.status_code, r.text) == (200, "body")
    assert [record["before_go"] for record in daemon.seen] == [b"", b"", b""]
    assert daemon.seen[2]["body"] == body
    assert [r["vars"]["mod_wsgi.daemon_restarts"] for r in daemon.seen] == ["0", "1", "2"]


def test_an_answer_right_behind_the_go_reaches_the_client(site):
    # the go and the application's answer can arrive in one read of the module's
    inst, daemon = site
    daemon.answer = gate_answers(daemon, 0, together=True)
    r = requests.post(inst.url("/app/x"), data=b"t" * 100_000, timeout=10)
    assert (r.status_code, r.text, r.headers["X-Kept"]) == (200, "body", "yes")


def test_an_answer_instead_of_the_go_is_the_response_and_no_body_is_sent(site):
    inst, daemon = site
    answered = b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"

    def answer(conn, record):
        conn.sendall(answered)
        read_body(conn, record, open_gate=False)      # up to the module's half-close
    daemon.answer = answer
    r = requests.post(inst.url("/app/x"), data=b"n" * 100_000, timeout=10)
    assert (r.status_code, r.text) == (404, "nope")
    # the scripted daemon reads up to the module's half-close, which can end after the client
    # has its answer
    wait_for(lambda: daemon.seen[0]["body"] is not None, 10, message="the module's half-close")
    assert daemon.seen[0]["body"] == b""


def test_send_again_without_retry_ok_is_a_502(site):
    # a front end or module that did not allow it: reloading off (no retry_ok) for this URL
    inst, daemon = site
    before = inst.error_log()
    daemon.answer = answer_with(SEND_AGAIN)
    r = requests.get(inst.url("/noreload/x"), timeout=10)
    assert r.status_code == 502
    assert len(daemon.seen) == 1
    assert "which its packet did not allow; answering 502" in new_log_lines(inst, before)


# -- a socket the supervisor has bound and not yet given to the Apache user -------------------

@pytest.mark.skipif(APACHE_USER is None, reason="needs root: the socket's owner changes")
def test_a_socket_root_still_owns_is_tried_again_within_connect_timeout(site):
    # The supervisor binds a group's socket as root, then chowns it to the Apache user; a
    # connect in between gets EACCES, which the module must try again (within connect-timeout)
    # instead of answering 503 to the first request of a starting group.
    inst, daemon = site
    daemon.answer = answer_with(GOOD_RESPONSE)
    entry = pwd.getpwnam(APACHE_USER)
    os.chown(daemon.path, 0, 0)
    os.chmod(daemon.path, 0o600)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(requests.get, inst.url("/app/x"), timeout=10)
            # leave the module refused for a while (connect-timeout is 1 s); daemon_connects
            # below proves that it was
            time.sleep(0.3)
            os.chown(daemon.path, entry.pw_uid, entry.pw_gid)
            answer = pending.result()
    finally:
        os.chmod(daemon.path, 0o777)
    assert (answer.status_code, answer.text) == (200, "body")
    assert int(daemon.seen[-1]["vars"]["mod_wsgi.daemon_connects"]) > 1


@pytest.mark.skipif(APACHE_USER is None, reason="needs root: the socket's owner changes")
def test_a_socket_chowned_between_the_refusal_and_the_look_is_tried_again(site):
    # The other side of the race above: the chown lands after the connect was refused and
    # before the module looks at the owner. A socket that is the Apache user's and refuses it
    # (here for good, mode 0000) is tried again until connect-timeout, then answered 503.
    inst, daemon = site
    before = inst.error_log()
    entry = pwd.getpwnam(APACHE_USER)
    os.chown(daemon.path, entry.pw_uid, entry.pw_gid)
    os.chmod(daemon.path, 0)
    try:
        answer = requests.get(inst.url("/app/x"), timeout=10)
    finally:
        os.chmod(daemon.path, 0o777)
    assert answer.status_code == 503
    refused = [line for line in new_log_lines(inst, before).splitlines()
               if "cannot connect after" in line]
    assert len(refused) == 1 and "(13)Permission denied" in refused[0], refused
    attempts = int(refused[0].split("cannot connect after ")[1].split()[0])
    assert attempts > 1, refused
