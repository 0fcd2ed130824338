"""The request path end to end, in the test process: uwsgi packets over a real unix socket to a
real RequestHandler serving tests/apps/echo.wsgi, as a daemon thread pool would.

The Apache tests run the same app through mod_wsgid; these pin down the daemon side alone:
byte-exact bodies both ways, bounded memory while streaming, and what bad packets and bad
applications do to a connection (and not to the next one).
"""

import hashlib
import json
import logging
import os
import runpy
import socket
import threading
import time
import tracemalloc
import warnings
import wsgiref.validate
from pathlib import Path

import pytest

from tests.support.apache import wait_for
from tests.support.wire import uwsgi_packet
from wsgid import config as wsgid_config
from wsgid.connection import RequestHandler
from wsgid.core import queue_wait_exceeded
from wsgid.answers import GATEWAY_TIMEOUT_RESPONSE_504

ECHO = str(Path(__file__).resolve().parents[1] / "apps" / "echo.wsgi")
UNPRIVILEGED = 4242
MiB = 1024 * 1024
LOGGER = "wsgid.request"


class DaemonSocket:
    """A listening unix socket whose connections a RequestHandler serves, a thread each."""

    def __init__(self, handler, path):
        self.handler = handler
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.listener.settimeout(0.1)  # so that the accept loop notices stop()
        self.stopping = threading.Event()
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self.acceptor.start()

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            thread = threading.Thread(target=self.handler.handle, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        self.acceptor.join(5)
        for thread in self.threads:
            thread.join(10)
        self.listener.close()


def handler_for(tmp_path, options=""):
    text = (f"WSGISocketPrefix {tmp_path}/wsgid\n"
            f"WSGIDaemonProcess g threads=4 socket-timeout=20 {options}\n"
            f"WSGIScriptAlias / {ECHO} process-group=g\n")
    parsed = wsgid_config.parse(text, running_ids=(UNPRIVILEGED, UNPRIVILEGED))
    return RequestHandler(parsed, parsed.groups["g"])


@pytest.fixture
def handler(tmp_path):
    return handler_for(tmp_path)


@pytest.fixture
def daemon(handler, tmp_path):
    server = DaemonSocket(handler, str(tmp_path / "g.sock"))
    yield server
    server.stop()
    assert handler.running() == []    # every request it served has left


def variables_for(path, method="GET", query="", length=None, terminated=False, **extra):
    variables = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
        "REQUEST_URI": path + ("?" + query if query else ""), "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "SCRIPT_FILENAME": ECHO, "wsgid.process_group": "g", "wsgid.application_group": "",
        "wsgid.request_id": "test-" + path.strip("/"),
    }
    if length is not None:
        variables["CONTENT_LENGTH"] = str(length)
    if terminated:
        variables["wsgid.input_terminated"] = "1"
    variables.update(extra)
    return {key: value for key, value in variables.items() if value is not None}


def exchange(daemon, packet, body_parts=(), on_body=None):
    """Send packet and body (from a thread, as the module streams it), half-close, read to EOF.

    Returns (head bytes, body bytes); with on_body, body chunks go there and body is b''.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(daemon.path)

        def send():
            try:
                sock.sendall(packet)
                for part in body_parts:
                    sock.sendall(part)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the daemon closed first; the reader sees what it sent

        sender = threading.Thread(target=send)
        sender.start()
        head, body = read_response(sock, on_body)
        sender.join(30)
    return head, body


def read_response(sock, on_body):
    received = b""
    while b"\r\n\r\n" not in received:
        data = sock.recv(65536)
        if not data:
            return received, None  # closed before a complete head
        received += data
    head, _, body = received.partition(b"\r\n\r\n")
    parts = [body]
    if on_body is not None:
        on_body(body)
        parts = []
    while True:
        data = sock.recv(262144)
        if not data:
            return head + b"\r\n\r\n", b"".join(parts)
        if on_body is not None:
            on_body(data)
        else:
            parts.append(data)


def get(daemon, path, on_body=None, **kw):
    return exchange(daemon, uwsgi_packet(variables_for(path, **kw)), on_body=on_body)


def status_of(head):
    return head.split(b"\r\n", 1)[0]


def post_sha256(daemon, body, pieces=1):
    step = max(1, -(-len(body) // pieces))
    parts = [body[i:i + step] for i in range(0, len(body), step)]
    head, answer = exchange(daemon, uwsgi_packet(
        variables_for("/echo-sha256", method="POST", length=len(body))), parts)
    assert status_of(head) == b"HTTP/1.1 200 OK"
    return json.loads(answer)


# -- good requests -------------------------------------------------------------------------------

def test_hello_world(daemon):
    head, body = get(daemon, "/hello")
    assert head == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\n")
    assert body == b"Hello, world!\n"


def test_an_app_wrapped_in_wsgiref_validator_passes(daemon):
    body = b"first line\nsecond line\nthird"
    with warnings.catch_warnings():
        warnings.simplefilter("error", wsgiref.validate.WSGIWarning)  # a warning becomes a 500
        head, answer = exchange(daemon, uwsgi_packet(
            variables_for("/validate", method="POST", length=len(body),
                          CONTENT_TYPE="text/plain")), [body])
    assert status_of(head) == b"HTTP/1.1 200 OK"
    assert answer == b"valid\n" + body


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 10 * MiB])
def test_request_bodies_arrive_byte_exact(daemon, size):
    body = os.urandom(size)
    assert post_sha256(daemon, body, pieces=7) == {
        "length": size, "sha256": hashlib.sha256(body).hexdigest(), "input_terminated": False}


def test_a_chunked_style_body_ends_at_the_half_close(daemon):
    body = os.urandom(300_000)
    parts = [body[i:i + 4096] for i in range(0, len(body), 4096)]
    head, answer = exchange(daemon, uwsgi_packet(
        variables_for("/echo-sha256", method="POST", terminated=True)), parts)
    assert status_of(head) == b"HTTP/1.1 200 OK"
    assert json.loads(answer) == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                                  "input_terminated": True}


def test_the_environ_has_the_wsgi_keys_and_the_packet_variables(daemon):
    head, body = get(daemon, "/environ", query="a=1", HTTP_X_TEST="caf\xe9")
    environ = json.loads(body)
    assert environ["wsgi.version"] == [1, 0]
    assert environ["wsgi.multithread"] is True and environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False and environ["wsgi.input_terminated"] is False
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgid.process_group"] == "g"
    assert environ["QUERY_STRING"] == "a=1" and environ["HTTP_X_TEST"] == "caf\xe9"

    _, body = get(daemon, "/environ", method="POST", terminated=True)
    assert json.loads(body)["wsgi.input_terminated"] is True


def test_a_streamed_100_mib_download_is_byte_exact_in_bounded_memory(daemon):
    total = 100 * MiB
    expected = hashlib.sha256()
    for block in runpy.run_path(ECHO)["stream_bytes"](total):
        expected.update(block)
    received = hashlib.sha256()
    count = [0]

    def on_body(data):
        received.update(data)
        count[0] += len(data)

    tracemalloc.start()
    try:
        head, _ = get(daemon, "/stream", query="mb=100", on_body=on_body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"Content-Length: {total}".encode() in head
    assert count[0] == total and received.hexdigest() == expected.hexdigest()
    assert peak < 8 * MiB, f"serving 100 MiB peaked at {peak / MiB:.1f} MiB of Python memory"


def test_write_callable_file_wrapper_and_repeated_cookies(daemon):
    _, body = get(daemon, "/write")
    assert body == b"written by write()\nand iterated\n"
    _, body = get(daemon, "/file")
    assert body == Path(ECHO).read_bytes()
    head, _ = get(daemon, "/cookies")
    assert b"\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/\r\n" in head


def test_wsgi_errors_goes_to_the_log(daemon, caplog):
    get(daemon, "/errors")
    assert any(r.getMessage() == "echo.wsgi wsgi.errors marker" for r in caplog.records)


def test_an_unfinished_wsgi_errors_line_is_logged_when_the_request_ends(daemon, handler, caplog):
    get(daemon, "/errors-unfinished")
    assert [r.getMessage() for r in caplog.records
            if r.getMessage() == "echo.wsgi unfinished line"] == ["echo.wsgi unfinished line"]
    assert handler.errors.threads_with_pending == 0


def test_a_stock_front_end_without_script_filename_gets_the_groups_script(daemon):
    head, body = get(daemon, "/hello", SCRIPT_FILENAME=None, **{
        "wsgid.process_group": None, "wsgid.application_group": None})
    assert body == b"Hello, world!\n"
    head, body = get(daemon, "/hello", SCRIPT_FILENAME="proxy:uwsgi://localhost/hello")
    assert body == b"Hello, world!\n"


def test_a_body_the_app_does_not_read_is_drained_so_the_response_arrives(daemon):
    body = os.urandom(4 * MiB)
    head, answer = exchange(daemon, uwsgi_packet(
        variables_for("/hello", method="POST", length=len(body))), [body])
    assert status_of(head) == b"HTTP/1.1 200 OK" and answer == b"Hello, world!\n"


def test_a_short_body_raises_in_the_application_and_is_logged(daemon, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    head, _ = exchange(daemon, uwsgi_packet(
        variables_for("/echo-sha256", method="POST", length=100)), [b"0123456789"])
    # The application's read raised (as mod_wsgi's does), so it never answered as if the
    # upload were whole: its exception is a 500.
    assert status_of(head) == b"HTTP/1.1 500 Internal Server Error"
    wait_for(lambda: any("request body ended after 10 of 100 bytes" in r.getMessage()
                         for r in caplog.records), 5, message="the short-body log line")
    assert any("ended 90 bytes before its CONTENT_LENGTH" in (r.exc_text or "") +
               r.getMessage() for r in caplog.records)


# -- bad packets, refused scripts, failing applications ------------------------------------------

@pytest.mark.parametrize("packet, reason", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a uwsgi packet"),
    (b"\x00\x10\x00\x00\x03\x00ab", "truncated"),
    (b"\x00\x04\x00\x00\x00\x00\x01\x00", "zero-length key"),
])
def test_a_bad_packet_closes_the_connection_with_one_log_line(daemon, caplog, packet, reason):
    head, body = exchange(daemon, packet)
    assert head == b"" and body is None
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.getMessage().startswith("bad request packet from daemon socket: ")
    assert reason in record.getMessage() and "\n" not in record.getMessage()
    assert get(daemon, "/hello")[1] == b"Hello, world!\n"  # the daemon carries on


def test_a_script_that_is_not_configured_is_a_404_with_one_log_line(daemon, caplog):
    head, body = get(daemon, "/hello", SCRIPT_FILENAME="/etc/passwd")
    assert status_of(head) == b"HTTP/1.1 404 Not Found"
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert "/etc/passwd" in record.getMessage() and "not a WSGI script configured" in \
        record.getMessage()


@pytest.mark.parametrize("path", ["/bad-header", "/bad-status", "/raise", "/raise-after-start"])
def test_application_errors_before_the_head_give_500(daemon, caplog, path):
    head, body = get(daemon, path)
    assert status_of(head) == b"HTTP/1.1 500 Internal Server Error"
    assert b"injected" not in (head + body).lower() and b"never be seen" not in body
    [record] = [r for r in caplog.records if r.name == LOGGER and r.levelname == "ERROR"]
    if path.startswith("/raise"):  # the application's traceback is in the log
        assert str(record.exc_info[1]).startswith("raised on purpose")
    else:  # an invalid head is one line naming the problem
        assert "invalid response head" in record.getMessage() and not record.exc_info


def test_an_error_in_the_middle_of_the_body_cuts_the_response_off(daemon, caplog):
    head, body = get(daemon, "/raise-midstream")
    assert status_of(head) == b"HTTP/1.1 200 OK" and body == b"x" * 65536
    assert any("response cut off after 65536 body bytes" in r.getMessage()
               for r in caplog.records)


def test_a_script_that_cannot_load_is_a_500_with_its_traceback_and_is_retried(tmp_path, caplog):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    broken = scripts / "broken.wsgi"
    broken.write_text("raise ImportError('a dependency is missing')\n")
    text = (f"WSGISocketPrefix {tmp_path}/wsgid\nWSGIDaemonProcess g\n"
            f"WSGIScriptAlias /s/ {scripts}/ process-group=g\n")
    parsed = wsgid_config.parse(text, running_ids=(UNPRIVILEGED, UNPRIVILEGED))
    server = DaemonSocket(RequestHandler(parsed, "g"), str(tmp_path / "g.sock"))
    try:
        head, _ = get(server, "/", SCRIPT_FILENAME=str(broken))
        assert status_of(head) == b"HTTP/1.1 500 Internal Server Error"
        [record] = [r for r in caplog.records if r.name == LOGGER]
        assert str(broken) in record.getMessage() and isinstance(record.exc_info[1], ImportError)

        broken.write_text("def app(environ, start_response):\n"
                          "    start_response('200 OK', [])\n    return [b'fixed']\n")
        caplog.clear()
        head, _ = get(server, "/", SCRIPT_FILENAME=str(broken))
        assert status_of(head) == b"HTTP/1.1 500 Internal Server Error"
        [record] = [r for r in caplog.records if r.name == LOGGER]
        assert "defines no callable named 'application'" in record.getMessage()

        head, body = get(server, "/", SCRIPT_FILENAME=str(broken),
                         **{"wsgid.callable_object": "app", "wsgid.application_group": "other"})
        assert status_of(head) == b"HTTP/1.1 200 OK" and body == b"fixed"
    finally:
        server.stop()


# -- request tracking for the process monitor: running(), time_out(), queue-timeout --------------

def test_running_shows_a_request_while_it_runs_and_counts_it_when_it_ends(daemon, handler):
    assert handler.running() == [] and handler.requests_finished == 0
    before = handler.last_activity
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(daemon.path)
        sock.sendall(uwsgi_packet(variables_for("/echo", method="POST", length=10,
                                                query="q=1")) + b"01234")
        [request] = wait_for(handler.running, 5, message="the request to run")
        assert request.request_id == "test-echo" and request.url == "/echo?q=1"
        assert request.started > before and request.started == handler.last_activity
        assert request.thread_ident in {t.ident for t in threading.enumerate()}
        sock.sendall(b"56789")
        head, body = read_response(sock, None)
    assert body == b"0123456789"
    wait_for(lambda: handler.requests_finished == 1, 5, message="the request to be counted")
    assert handler.running() == [] and handler.last_activity >= request.started


def test_time_out_answers_504_to_a_request_whose_head_is_not_sent(daemon, handler, caplog):
    assert handler.time_out("no-such-request") == "not running"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(daemon.path)
        # /echo waits for a body that does not come: the head is not sent yet.
        sock.sendall(uwsgi_packet(variables_for("/echo", method="POST", length=10)) + b"012")
        wait_for(handler.running, 5, message="the request to run")
        assert handler.time_out("test-echo") == "answered 504"
        # Asked again it is not done again: the answer is the same, or, once the application
        # (woken by the shut-down socket) has returned, "not running". One 504 and one log
        # line either way (below).
        assert handler.time_out("test-echo") in ("answered 504", "not running")
        head, body = read_response(sock, None)
    assert head + body == GATEWAY_TIMEOUT_RESPONSE_504
    wait_for(lambda: handler.running() == [], 5, message="the application to return")
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.getMessage().startswith("timed out POST /echo (request test-echo) after ")
    assert record.getMessage().endswith(": answered 504")
    assert get(daemon, "/hello")[1] == b"Hello, world!\n"  # the handler carries on


def test_time_out_cuts_off_a_request_whose_head_is_sent(daemon, handler, caplog):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(daemon.path)
        # 100 MiB that nobody reads yet: the application blocks in a send after its head.
        sock.sendall(uwsgi_packet(variables_for("/stream", query="mb=100")))
        sock.shutdown(socket.SHUT_WR)
        wait_for(lambda: sock.recv(16, socket.MSG_PEEK), 5, message="the response head")
        assert handler.time_out("test-stream") == "cut off"
        received = 0
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            received += len(data)
    assert 0 < received < 100 * MiB
    wait_for(lambda: handler.running() == [], 5, message="the application to return")
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert "(request test-stream)" in record.getMessage() and "cut off" in record.getMessage()


def test_a_request_without_an_id_gets_one_and_the_environ_has_mod_wsgis_keys(daemon):
    head, body = get(daemon, "/environ", **{"wsgid.request_id": None,
                                            "wsgid.request_start": "1700000000000000",
                                            "wsgid.queue_start": "1700000000000100"})
    environ = json.loads(body)
    pid, number = environ["mod_wsgi.request_id"].split("-")
    assert int(pid) == os.getpid() and int(number) >= 1
    assert environ["wsgid.request_id"] == environ["mod_wsgi.request_id"]
    assert environ["mod_wsgi.process_group"] == "g"
    assert environ["mod_wsgi.application_group"] == ""
    assert environ["mod_wsgi.request_start"] == "1700000000000000"
    assert environ["mod_wsgi.queue_start"] == "1700000000000100"
    assert int(environ["mod_wsgi.daemon_start"]) > 1700000000000100

    _, body = get(daemon, "/environ")
    assert json.loads(body)["mod_wsgi.request_id"] == "test-environ"  # Apache's id is kept


def test_queue_wait_exceeded_decides_from_wsgid_queue_start():
    now = 1700000010.0
    assert queue_wait_exceeded("1700000005000000", 1.0, now) == pytest.approx(5.0)
    assert queue_wait_exceeded("1700000009500000", 1.0, now) is None   # waited 0.5 s
    assert queue_wait_exceeded("1700000005000000", 0, now) is None     # queue-timeout=0: never
    assert queue_wait_exceeded(None, 1.0, now) is None                 # a stock front end
    for bad in ("", "-5", "17e9", "\u0661\u0662"):
        assert queue_wait_exceeded(bad, 1.0, now) is None


def test_a_request_that_waited_past_queue_timeout_gets_504_without_the_app(tmp_path, caplog):
    handler = handler_for(tmp_path, "queue-timeout=1")
    server = DaemonSocket(handler, str(tmp_path / "q.sock"))
    try:
        long_ago = str(int((time.time() - 5) * 1_000_000))
        head, body = get(server, "/hello", **{"wsgid.queue_start": long_ago})
        assert head + body == GATEWAY_TIMEOUT_RESPONSE_504
        assert handler.requests_finished == 0   # the application never ran
        [record] = [r for r in caplog.records if r.name == LOGGER]
        assert record.getMessage().startswith("queue-timeout: GET /hello (request test-hello) "
                                              "waited 5.")
        just_now = str(int(time.time() * 1_000_000))
        assert get(server, "/hello", **{"wsgid.queue_start": just_now})[1] == b"Hello, world!\n"
        assert get(server, "/hello")[1] == b"Hello, world!\n"  # no queue_start: no check
        wait_for(lambda: handler.requests_finished == 2, 5, message="two requests served")
    finally:
        server.stop()
