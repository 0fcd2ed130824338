"""response.py against a real socketpair: what the module would read for each kind of application.

Every case checks the exact bytes on the wire and, where the application returned an iterable,
that its close() was called.
"""

import io
import logging
import socket
import sys
import threading

import pytest

from tests.support.apache import wait_for
from tests.support.wire import recv_until_eof
from wsgid.filewrapper import FileWrapper
from wsgid.answers import ERROR_RESPONSE_500, GATEWAY_TIMEOUT_RESPONSE_504
from wsgid.log import ApplicationStream
from wsgid.response import Response, run_application

LOGGER = "wsgid.request"


class Body:
    """An iterable response body that records what the server did with it."""

    def __init__(self, chunks, raise_at=None):
        self.chunks = list(chunks)
        self.raise_at = raise_at
        self.pulled = 0
        self.closed = 0

    def __iter__(self):
        for index, chunk in enumerate(self.chunks):
            if index == self.raise_at:
                raise RuntimeError("body failed on purpose")
            self.pulled += 1
            yield chunk
        if self.raise_at == len(self.chunks):
            raise RuntimeError("body failed on purpose")

    def close(self):
        self.closed += 1


def serve(app, method="GET", framed=False):
    """Run `app` on one end of a socketpair; return (Response, every byte the peer read).
    With `framed`, the request asks for framed bodies as mod_wsgid does."""
    server, client = socket.socketpair()
    received = []
    reader = threading.Thread(target=lambda: received.append(recv_until_eof(client)))
    reader.start()
    environ = {"REQUEST_METHOD": method, "REQUEST_URI": "/unit", "wsgid.request_id": "req-1"}
    if framed:
        environ["wsgid.framed_response"] = "1"
    try:
        response = run_application(app, environ, server)
    finally:
        server.close()
        reader.join(10)
        client.close()
    return response, received[0]


def app_returning(body, status="200 OK", headers=None):
    headers = [("Content-Type", "text/plain")] if headers is None else headers

    def app(environ, start_response):
        start_response(status, headers)
        return body

    return app


def errors_logged(caplog):
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]


@pytest.fixture(autouse=True)
def _capture(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)


# -- good responses: golden bytes ---------------------------------------------------------------

def test_status_headers_and_body_are_sent_as_golden_bytes():
    body = Body([b"Hel", b"lo"])
    _, wire = serve(app_returning(body, headers=[("Content-Type", "text/plain"),
                                                 ("Content-Length", "5")]))
    assert wire == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nHello"
    assert body.closed == 1


def test_repeated_set_cookie_headers_stay_separate_lines():
    _, wire = serve(app_returning([b"x"], headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]))
    assert wire == b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nx"


def test_empty_body_sends_the_head_at_the_end():
    body = Body([b"", b""])
    response, wire = serve(app_returning(body, status="204 No Content", headers=[]))
    assert wire == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert response.complete and body.closed == 1


def test_head_waits_for_the_first_non_empty_chunk_so_the_status_can_still_change():
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b""
        try:
            raise ValueError("late failure")
        except ValueError:
            start_response("503 Service Unavailable", [("Retry-After", "1")], sys.exc_info())
        yield b"later"

    _, wire = serve(app)
    assert wire == b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\nlater"


def test_large_first_chunk_is_sent_whole_after_the_head():
    big = bytes(range(256)) * 1024
    _, wire = serve(app_returning([big]))
    assert wire == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + big


def test_write_callable_sends_before_the_iterable():
    def app(environ, start_response):
        write = start_response("200 OK", [])
        write(b"one ")
        write(b"")
        write(bytearray(b"two "))
        return Body([b"three"])

    _, wire = serve(app)
    assert wire == b"HTTP/1.1 200 OK\r\n\r\none two three"


def test_exc_info_before_the_head_replaces_the_response():
    def app(environ, start_response):
        start_response("200 OK", [("X-First", "1")])
        try:
            raise KeyError("handled by the application")
        except KeyError:
            start_response("500 Oops", [("X-Second", "2")], sys.exc_info())
        return [b"handled"]

    _, wire = serve(app)
    assert wire == b"HTTP/1.1 500 Oops\r\nX-Second: 2\r\n\r\nhandled"


# -- application errors before the head: 500 ---------------------------------------------------

def assert_500(wire):
    assert wire == ERROR_RESPONSE_500
    assert wire.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")


def test_exception_before_start_response_gives_500_and_logs_the_traceback(caplog):
    def app(environ, start_response):
        raise RuntimeError("boom before start")

    response, wire = serve(app)
    assert_500(wire)
    assert response.error_sent
    [record] = errors_logged(caplog)
    assert "GET /unit (request req-1)" in record.getMessage()
    assert record.exc_info and "boom before start" in str(record.exc_info[1])


def test_exception_after_start_response_before_the_body_gives_500(caplog):
    body = Body([b"never"], raise_at=0)
    response, wire = serve(app_returning(body, status="201 Created"))
    assert_500(wire)
    assert body.closed == 1
    assert "body failed on purpose" in str(errors_logged(caplog)[0].exc_info[1])


def test_system_exit_in_the_application_gives_500_and_the_daemon_carries_on():
    def app(environ, start_response):
        sys.exit(3)

    _, wire = serve(app)
    assert_500(wire)


def test_second_start_response_without_exc_info_is_an_error(caplog):
    body = Body([b"x"])

    def app(environ, start_response):
        start_response("200 OK", [])
        start_response("200 OK", [])
        return body

    _, wire = serve(app)
    assert_500(wire)
    assert "second time without exc_info" in str(errors_logged(caplog)[0].exc_info[1])


@pytest.mark.parametrize("result, words", [
    (None, "returned None"),
    ("text", "returned str"),
    (b"bytes", "returned bytes"),
    (42, "int, which is not iterable"),
])
def test_a_result_that_is_not_an_iterable_of_bytes_gives_500(caplog, result, words):
    _, wire = serve(app_returning(result))
    assert_500(wire)
    assert words in str(errors_logged(caplog)[0].exc_info[1])


def test_a_str_chunk_gives_500_and_close_is_called(caplog):
    body = Body(["not bytes"])
    _, wire = serve(app_returning(body))
    assert_500(wire)
    assert body.closed == 1
    assert "must be bytes, got str" in str(errors_logged(caplog)[0].exc_info[1])


def test_returning_without_start_response_gives_500(caplog):
    body = Body([])
    _, wire = serve(lambda environ, start_response: body)
    assert_500(wire)
    assert body.closed == 1
    assert "without calling start_response" in str(errors_logged(caplog)[0].exc_info[1])


def test_body_before_start_response_gives_500():
    _, wire = serve(lambda environ, start_response: [b"too early"])
    assert_500(wire)


# -- invalid heads: 500, one log line, the bad header never on the wire -------------------------

@pytest.mark.parametrize("status, headers", [
    ("200 OK", [("X-Note", "harmless\r\nSet-Cookie: injected=1")]),
    ("200 OK", [("X-Note", "harmless\nSet-Cookie: injected=1")]),
    ("200 OK", [("X-Note", "nul\x00injected")]),
    ("200 OK", [("Bad Name", "v")]),
    ("200 OK", [("X-Number", 5)]),
    ("200 OK", [("X-Bytes", b"v")]),
    ("200 OK", (("Content-Type", "text/plain"),)),
    ("200 OK", [("Only-Name",)]),
    ("200 OK", [("Connection", "close")]),
    ("200 OK", [("Transfer-Encoding", "chunked")]),
    ("200 OK", [("Content-Length", "five")]),
    ("200 OK", [("Content-Length", "5"), ("Content-Length", "6")]),
    ("20 OK", []),
    ("2000 OK", []),
    ("200", []),
    ("200 OK\r\nSet-Cookie: injected=1", []),
    (200, []),
    (b"200 OK", []),
])
def test_an_invalid_head_gives_500_with_one_log_line(caplog, status, headers):
    body = Body([b"should never be seen"])
    _, wire = serve(app_returning(body, status=status, headers=headers))
    assert_500(wire)
    assert b"injected" not in wire and b"never be seen" not in wire
    assert body.closed == 0  # start_response raised inside the app: nothing was returned
    [record] = errors_logged(caplog)
    assert "invalid response head" in record.getMessage() and record.exc_info is None


class LazyStart(Body):
    """An iterable that calls start_response only when first iterated, as generators do."""

    def __init__(self, start_response, status, headers):
        super().__init__([b"should never be seen"])
        self.start = lambda: start_response(status, headers)

    def __iter__(self):
        self.start()
        return super().__iter__()


@pytest.mark.parametrize("status, headers", [
    ("200 OK", [("X-Note", "a\r\nInjected: 1")]),
    ("20 OK", []),
    ("200 OK", [("X-Number", 5)]),
])
def test_an_invalid_head_from_a_lazy_iterable_gives_500_and_close_is_called(caplog, status,
                                                                           headers):
    made = []

    def app(environ, start_response):
        made.append(LazyStart(start_response, status, headers))
        return made[0]

    _, wire = serve(app)
    assert_500(wire)
    assert made[0].closed == 1
    assert len(errors_logged(caplog)) == 1


def test_an_invalid_head_the_application_recovers_from_is_not_sent():
    def app(environ, start_response):
        try:
            start_response("200 OK", [("X-Bad", "a\r\nb")])
        except ValueError:
            start_response("400 Bad Request", [])
        return [b"recovered"]

    _, wire = serve(app)
    assert wire == b"HTTP/1.1 400 Bad Request\r\n\r\nrecovered"


# -- errors after the head: the response is cut off --------------------------------------------

def test_exception_after_the_first_chunk_cuts_the_response_off(caplog):
    body = Body([b"first", b"second"], raise_at=1)
    response, wire = serve(app_returning(body))
    assert wire == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst"
    assert response.cut_off and not response.complete
    assert body.closed == 1
    [record] = errors_logged(caplog)
    assert "cut off after 5 body bytes" in record.getMessage()
    assert record.exc_info


def test_exc_info_after_the_head_reraises_the_original_exception(caplog):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"sent"
        try:
            raise LookupError("the original problem")
        except LookupError:
            start_response("500 Oops", [], sys.exc_info())
        yield b"unreachable"

    _, wire = serve(app)
    assert wire == b"HTTP/1.1 200 OK\r\n\r\nsent"
    [record] = errors_logged(caplog)
    assert isinstance(record.exc_info[1], LookupError)


def test_a_str_chunk_after_the_head_cuts_the_response_off():
    body = Body([b"ok", "bad"])
    response, wire = serve(app_returning(body))
    assert wire.endswith(b"\r\n\r\nok") and response.cut_off and body.closed == 1


# -- Content-Length ----------------------------------------------------------------------------

def test_never_more_bytes_than_the_declared_content_length(caplog):
    body = Body([b"Hello", b" world", b"never pulled"])
    _, wire = serve(app_returning(body, headers=[("Content-Length", "7")]))
    assert wire == b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nHello w"
    assert body.pulled == 2 and body.closed == 1
    assert any("more than its Content-Length 7" in r.getMessage() for r in caplog.records)


def test_fewer_bytes_than_the_declared_content_length_are_logged(caplog):
    _, wire = serve(app_returning([b"short"], headers=[("Content-Length", "10")]))
    assert wire.endswith(b"\r\n\r\nshort")
    assert any("sent 5 body bytes but declared Content-Length 10" in r.getMessage()
               for r in caplog.records)


def test_head_request_with_content_length_and_no_body_is_not_a_mismatch(caplog):
    _, wire = serve(app_returning([], headers=[("Content-Length", "10")]), method="HEAD")
    assert wire == b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- close() -----------------------------------------------------------------------------------

def test_close_that_raises_is_logged_and_the_response_stays_complete(caplog):
    class Failing(Body):
        def close(self):
            raise OSError("close failed")

    response, wire = serve(app_returning(Failing([b"done"])))
    assert wire.endswith(b"\r\n\r\ndone") and response.complete
    assert "close() of the application's iterable" in errors_logged(caplog)[0].getMessage()


def test_a_peer_that_went_away_ends_the_response_with_one_info_line(caplog):
    server, client = socket.socketpair()
    client.close()
    body = Body([b"x" * 1000])
    response = run_application(app_returning(body), {"REQUEST_METHOD": "GET"}, server)
    server.close()
    assert response.lost and body.closed == 1
    assert not errors_logged(caplog)
    assert any("connection to the module lost" in r.getMessage() for r in caplog.records)


# -- wsgi.file_wrapper -------------------------------------------------------------------------

def test_file_wrapper_of_a_real_file_is_sent_whole_and_closed(tmp_path):
    data = bytes(range(256)) * 4000
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    handle = open(path, "rb")
    _, wire = serve(app_returning(FileWrapper(handle, 4096),
                                  headers=[("Content-Length", str(len(data)))]))
    assert wire == b"HTTP/1.1 200 OK\r\nContent-Length: 1024000\r\n\r\n" + data
    assert handle.closed


def test_file_wrapper_starts_at_the_current_position_and_honours_content_length(tmp_path, caplog):
    path = tmp_path / "payload.bin"
    path.write_bytes(b"0123456789abcdef")
    handle = open(path, "rb")
    handle.seek(4)
    _, wire = serve(app_returning(FileWrapper(handle), headers=[("Content-Length", "6")]))
    assert wire.endswith(b"\r\n\r\n456789")
    assert any("longer than the Content-Length 6" in r.getMessage() for r in caplog.records)


def test_file_wrapper_of_a_non_file_is_iterated_in_blocks():
    stream = io.BytesIO(b"abcdefghij")
    wrapper = FileWrapper(stream, 3)
    assert list(FileWrapper(io.BytesIO(b"abcdefghij"), 3)) == [b"abc", b"def", b"ghi", b"j"]
    _, wire = serve(app_returning(wrapper, headers=[]))
    assert wire == b"HTTP/1.1 200 OK\r\n\r\nabcdefghij"
    assert stream.closed


def test_file_wrapper_inside_middleware_still_streams(tmp_path):
    path = tmp_path / "payload.bin"
    path.write_bytes(b"wrapped")

    def app(environ, start_response):
        start_response("200 OK", [])
        return (block for block in FileWrapper(open(path, "rb"), 2))

    _, wire = serve(app)
    assert wire == b"HTTP/1.1 200 OK\r\n\r\nwrapped"


# -- wsgi.errors -------------------------------------------------------------------------------

def test_wsgi_errors_logs_one_record_per_line(caplog):
    errors = ApplicationStream(logging.getLogger(LOGGER))
    errors.write("first line\nsecond ")
    errors.writelines(["line\n", "unfinished"])
    assert [r.getMessage() for r in caplog.records] == ["first line", "second line"]
    errors.flush()
    assert caplog.records[-1].getMessage() == "unfinished"
    print("via print", file=errors)
    assert caplog.records[-1].getMessage() == "via print"
    with pytest.raises(TypeError):
        errors.write(b"bytes")


def test_wsgi_errors_keeps_each_threads_unfinished_line_apart(caplog):
    errors = ApplicationStream(logging.getLogger(LOGGER))
    errors.write("main ")

    def other():
        errors.write("other ")
        errors.write("thread\n")

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    errors.write("thread\n")
    assert [r.getMessage() for r in caplog.records] == ["other thread", "main thread"]


def test_wsgi_errors_logs_an_endless_line_in_bounded_pieces(caplog):
    errors = ApplicationStream(logging.getLogger(LOGGER))
    for _ in range(70):
        errors.write("x" * 1024)
    assert [len(r.getMessage()) for r in caplog.records] == [65536]


# -- time_out() from another thread, in each state of the response -------------------------------

class Events:
    """Records the calls a request's api.RequestScope would get."""

    def __init__(self):
        self.calls = []

    def response_started(self, status, headers, exc_info):
        self.calls.append(("response_started", status, headers, exc_info))

    def request_exception(self, exc):
        self.calls.append(("request_exception", exc))


class Served:
    """run_application in its own thread, as a daemon thread runs it; the peer is `client`."""

    def __init__(self, app, read=True):
        self.server, self.client = socket.socketpair()
        self.events = Events()
        environ = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/t", "wsgid.request_id": "req-t"}
        self.response = Response(self.server, environ, self.events)
        self.received = []
        self.reader = None
        if read:
            self.reader = threading.Thread(
                target=lambda: self.received.append(recv_until_eof(self.client)))
            self.reader.start()
        self.thread = threading.Thread(target=run_application,
                                       args=(app, environ, self.server),
                                       kwargs={"response": self.response})
        self.thread.start()

    def finish(self):
        self.thread.join(10)
        assert not self.thread.is_alive()
        self.server.close()
        if self.reader is not None:
            self.reader.join(10)
        self.client.close()
        return self.received[0] if self.received else None


def test_time_out_before_the_head_answers_504_and_drops_what_follows(caplog):
    entered, release = threading.Event(), threading.Event()
    body = Body([b"late body"])

    def app(environ, start_response):
        entered.set()
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    served = Served(app)
    assert entered.wait(10)
    assert served.response.time_out() == "answered 504"
    release.set()
    wire = served.finish()
    assert wire == GATEWAY_TIMEOUT_RESPONSE_504
    assert body.closed == 1
    assert served.response.status_code == 504 and not served.response.complete
    assert errors_logged(caplog) == []


def test_time_out_after_the_head_cuts_the_connection_and_drops_what_follows(caplog):
    first_sent, release = threading.Event(), threading.Event()

    class Slow(Body):
        def __iter__(self):
            yield b"first"
            first_sent.set()
            release.wait(10)
            self.pulled += 1
            yield b"second, dropped"
            yield b"third, never asked for"

    body = Slow([])
    served = Served(app_returning(body, headers=[]))
    assert first_sent.wait(10)
    assert served.response.time_out() == "cut off"
    release.set()
    wire = served.finish()
    assert wire == b"HTTP/1.1 200 OK\r\n\r\nfirst"
    assert body.closed == 1 and body.pulled == 1   # iteration stopped after the dropped chunk
    assert served.response.status_code == 200 and served.response.body_bytes == 5
    assert errors_logged(caplog) == []


def test_time_out_during_a_blocked_send_cuts_it_off_without_a_log_line(caplog):
    # Nobody reads the peer: the application's send blocks until time_out() shuts it down.
    sending = threading.Event()

    def app(environ, start_response):
        write = start_response("200 OK", [])
        sending.set()
        write(b"x" * (64 * 1024 * 1024))
        write(b"more, dropped")
        return Body([b"dropped too"])

    served = Served(app, read=False)
    assert sending.wait(10)
    # The send is under way once it holds the response's send lock.
    wait_for(served.response.send_lock.locked, 10, message="the send to block")
    assert served.response.time_out() == "cut off"
    served.finish()
    assert served.response.timed_out and not served.response.lost
    assert [r for r in caplog.records if r.name == LOGGER] == []


def test_an_exception_after_time_out_is_one_line_and_still_an_event(caplog):
    entered, release = threading.Event(), threading.Event()

    def app(environ, start_response):
        entered.set()
        release.wait(10)
        raise OSError("the request body ended early")

    served = Served(app)
    assert entered.wait(10)
    assert served.response.time_out() == "answered 504"
    release.set()
    assert served.finish() == GATEWAY_TIMEOUT_RESPONSE_504
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.INFO and not record.exc_info
    assert "after GET /t (request req-t) was timed out" in record.getMessage()
    assert [call[0] for call in served.events.calls] == ["request_exception"]


# -- events ---------------------------------------------------------------------------------------

def test_response_started_is_published_once_the_head_is_accepted():
    served = Served(app_returning([b"ok"], headers=[("X-A", "1")]))
    served.finish()
    assert served.events.calls == [("response_started", "200 OK", [("X-A", "1")], None)]


def test_request_exception_is_published_for_the_application_and_for_close():
    body = Body([b"x"], raise_at=1)

    def failing_close():
        raise ValueError("close failed on purpose")

    body.close = failing_close
    served = Served(app_returning(body, headers=[]))
    served.finish()
    kinds = [(call[0], type(call[1]).__name__) for call in served.events.calls[1:]]
    assert kinds == [("request_exception", "RuntimeError"), ("request_exception", "ValueError")]


def test_a_rejected_head_publishes_no_response_started_but_an_exception():
    served = Served(app_returning([b"x"], status="20 OK"))
    assert served.finish() == ERROR_RESPONSE_500
    assert [call[0] for call in served.events.calls] == ["request_exception"]
    assert served.response.status_code == 500


# -- framed bodies (docs/protocol.md, "Framed response bodies") ------------------------------------

HEAD_200 = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
END_FRAME = b"\0\0\0\0"


def test_a_body_without_length_is_sent_in_frames_and_ends_with_the_end_frame():
    body = Body([b"hello ", b"", b"world"])
    _, wire = serve(app_returning(body), framed=True)
    assert wire == HEAD_200 + b"\0\0\0\x06hello \0\0\0\x05world" + END_FRAME
    assert body.closed == 1


def test_an_empty_body_without_length_is_only_the_end_frame():
    _, wire = serve(app_returning([]), framed=True)
    assert wire == HEAD_200 + END_FRAME


def test_a_body_with_content_length_is_never_framed():
    headers = [("Content-Length", "5")]
    _, wire = serve(app_returning([b"hello"], headers=headers), framed=True)
    assert wire == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def test_without_the_request_for_frames_the_body_is_plain():
    _, wire = serve(app_returning([b"hello"]))
    assert wire == HEAD_200 + b"hello"


def test_a_framed_body_cut_by_an_error_has_no_end_frame(caplog):
    body = Body([b"first", b"second"], raise_at=1)
    response, wire = serve(app_returning(body), framed=True)
    assert wire == HEAD_200 + b"\0\0\0\x05first"
    assert response.cut_off and body.closed == 1


def test_a_file_wrapper_without_length_is_framed(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"0123456789" * 1000)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return FileWrapper(open(path, "rb"))

    _, wire = serve(app, framed=True)
    assert wire == HEAD_200 + (10_000).to_bytes(4, "big") + b"0123456789" * 1000 + END_FRAME
