"""Applications that break the WSGI contract, through a real Apache and a real daemon.

One Apache serves every case (tests/apps/misbehave.wsgi in a group of one process with one
thread). For each misbehaviour the test checks, from a raw socket so that nothing is tidied up:
- what the client sees: a 500 from the daemon when nothing was sent yet; otherwise a visibly
  cut-off response (a Content-Length body that is short, or a chunked body without its last
  chunk) on a connection Apache closes, so that the client cannot take the next bytes for the
  rest of the body;
- one error-log line that names the request (a traceback may follow it, on lines that do not);
- the thread is reused and the process survives: the one thread of the one process (same pid)
  serves the next request;
- close() of the iterable the application returned was called, whenever it returned one.

Policies pinned here (see docs/reliability.md): hop-by-hop response headers are an error (500),
as PEP 3333 says; a body longer than its Content-Length is cut to it (one warning, the response
stays well-formed); a response head larger than 32 KiB is refused with a 500, as mod_wsgi's
default header-buffer-size refuses it.
"""

import json
import uuid

import pytest

from tests.support.apache import ApacheInstance
from tests.support.procs import wait_for_daemons
from tests.support.rawhttp import RawConnection, get_request

# A kept-alive connection must not outlive the reads below by accident: a cut response is only
# visible if Apache closes the connection at once, not after an idle keep-alive wait.
SITE = """
KeepAliveTimeout 60
WSGIDaemonProcess misbehave processes=1 threads=1
WSGIScriptAlias /m "{apps}/misbehave.wsgi" process-group=misbehave
"""
CUT_DEADLINE = 5  # seconds for Apache to close the connection of a cut-off response
KIB = 1024

ERROR_500 = "500"           # the daemon's own 500 page, no byte of the application's response
CUT_LENGTH = "cut-length"   # Content-Length head, short body, connection closed
CUT_CHUNKED = "cut-chunked"  # chunked body without its last chunk, connection closed
COMPLETE = "complete"       # a well-formed 200 with the body given

# name -> (what the client sees, the body bytes it gets, a word of the one log line, or None
# when nothing is logged)
CASES = {
    "raise-before-start": (ERROR_500, None, "answered 500"),
    "raise-after-start": (ERROR_500, None, "answered 500"),
    "raise-in-first-chunk": (ERROR_500, None, "answered 500"),
    "exit-before-start": (ERROR_500, None, "answered 500"),
    "return-none": (ERROR_500, None, "answered 500"),
    "return-str": (ERROR_500, None, "answered 500"),
    "return-bytes": (ERROR_500, None, "answered 500"),
    "return-uniterable": (ERROR_500, None, "answered 500"),
    "return-without-start": (ERROR_500, None, "answered 500"),
    "str-chunk": (ERROR_500, None, "answered 500"),
    "header-name-bytes": (ERROR_500, None, "invalid response head"),
    "header-value-int": (ERROR_500, None, "invalid response head"),
    "header-item-list": (ERROR_500, None, "invalid response head"),
    "header-item-triple": (ERROR_500, None, "invalid response head"),
    "headers-tuple": (ERROR_500, None, "invalid response head"),
    "headers-dict": (ERROR_500, None, "invalid response head"),
    "status-bytes": (ERROR_500, None, "invalid response head"),
    "start-response-twice": (ERROR_500, None, "answered 500"),
    "hop-connection": (ERROR_500, None, "invalid response head"),
    "hop-keep-alive": (ERROR_500, None, "invalid response head"),
    "hop-transfer-encoding": (ERROR_500, None, "invalid response head"),
    "hop-te": (ERROR_500, None, "invalid response head"),
    "hop-trailer": (ERROR_500, None, "invalid response head"),
    "hop-upgrade": (ERROR_500, None, "invalid response head"),
    "hop-proxy-authenticate": (ERROR_500, None, "invalid response head"),
    "hop-proxy-authorization": (ERROR_500, None, "invalid response head"),
    "headers-30k-in-many": (COMPLETE, b"x", None),
    "headers-33k-in-one": (ERROR_500, None, "invalid response head"),
    "headers-40k-in-many": (ERROR_500, None, "invalid response head"),
    "headers-70k-in-many": (ERROR_500, None, "invalid response head"),
    "raise-after-first-chunk-with-length": (CUT_LENGTH, b"a" * KIB, "response cut off"),
    "raise-after-first-chunk-chunked": (CUT_CHUNKED, b"a" * KIB, "response cut off"),
    "raise-after-write": (CUT_CHUNKED, b"w" * KIB, "response cut off"),
    "str-chunk-after-bytes": (CUT_CHUNKED, b"a" * KIB, "response cut off"),
    "length-larger-than-body": (CUT_LENGTH, b"s" * KIB, "declared Content-Length"),
    "length-smaller-than-body": (COMPLETE, b"l" * KIB, "more than its Content-Length"),
    "close-raises": (COMPLETE, b"ok", "close() of the application's iterable raised"),
}

# The cases whose application returns an object with close(), which the server must call; in
# the others it raises (or start_response raises in it) before it can return one.
RETURN_AN_ITERABLE = {
    "raise-in-first-chunk", "return-uniterable", "return-without-start", "str-chunk",
    "headers-30k-in-many", "raise-after-first-chunk-with-length",
    "raise-after-first-chunk-chunked", "str-chunk-after-bytes", "length-larger-than-body",
    "length-smaller-than-body", "close-raises"}


@pytest.fixture(scope="module")
def site():
    inst = ApacheInstance(SITE)
    try:
        inst.start()
        wait_for_daemons(inst, 1)
        inst.daemon_pid = outcome(inst, "none")["pid"]  # also loads the script
        yield inst
    finally:
        inst.cleanup()


def outcome(inst, token):
    """What the application recorded for request `token` (served by the group's one thread)."""
    with RawConnection(inst.port) as conn:
        conn.send(get_request(f"/m/outcome?token={token}"))
        response = conn.read_response()
    assert response is not None and response.status == 200 and response.complete, response
    return json.loads(response.body)


def lines_naming(log, token):
    return [line for line in log.splitlines() if f"token={token} " in line]


@pytest.mark.apache
@pytest.mark.fault
@pytest.mark.parametrize("name", list(CASES))
def test_misbehaving_application(site, name):
    seen, body, log_word = CASES[name]
    token = uuid.uuid4().hex
    log_before = len(site.error_log())
    with RawConnection(site.port) as conn:
        conn.send(get_request(f"/m/case/{name}?token={token}", close=False))
        response = conn.read_response(timeout=CUT_DEADLINE)
        assert response is not None, "no response at all"
        if seen == ERROR_500:
            assert response.status == 500, response.raw[:300]
            assert response.complete
            assert b"The application failed" in response.body
            # None of the application's head reached the client.
            assert not any(n.lower().startswith(b"x-") for n, _ in response.headers)
        elif seen == COMPLETE:
            assert (response.status, response.complete, response.body) == (200, True, body)
        else:
            expected_framing = "content-length" if seen == CUT_LENGTH else "chunked"
            assert response.status == 200
            assert response.framing == expected_framing, response.head()
            assert not response.complete, f"the cut is invisible: {response.raw[-80:]!r}"
            assert response.body == body
            assert conn.closed_by_peer(CUT_DEADLINE), \
                "Apache keeps the connection of a cut-off response open"
    # Served by the group's only thread of the same process: the thread is free again, the
    # process did not die, and everything the case logs is in the log by now.
    recorded = outcome(site, token)
    closable = name in RETURN_AN_ITERABLE
    assert recorded == {"returned_closable": closable, "closed": closable,
                        "pid": site.daemon_pid}
    log = site.error_log()[log_before:]
    naming = lines_naming(log, token)
    if log_word is None:
        assert naming == []
    else:
        assert len(naming) == 1, log
        assert log_word in naming[0]
    assert "mod_wsgid:" not in log, log
