"""Hostile HTTP through a real Apache to a real daemon: smuggling, oversized heads, odd paths.

Each case sends raw bytes on one keep-alive connection (a smuggled request needs one), ending
with a legitimate `GET /m/seen/last` with `Connection: close`, so that the exchange ends when
Apache has parsed everything it was going to. The application (tests/apps/misbehave.wsgi, one
process) records every request it runs: its PATH_INFO bytes and the length and SHA-256 of the
body it read. Then:
- a request whose path holds SMUGGLED never runs;
- the attacking request is refused by Apache with a 4xx and never reaches the application, or
  it reaches the application exactly once with exactly the path and body the case expects
  (the cases that are valid HTTP must be delivered; the others may go either way).
"""

import hashlib
import json

import pytest

from tests.support.apache import ApacheInstance
from tests.support.procs import wait_for_daemons
from tests.support.rawhttp import RawConnection, exchange, get_request

SITE = """
WSGIDaemonProcess abuse processes=1 threads=2
WSGIScriptAlias /m "{apps}/misbehave.wsgi" process-group=abuse
WSGIChunkedRequest On
"""

SMUGGLED = b"GET /m/seen/SMUGGLED HTTP/1.1\r\nHost: localhost\r\n\r\n"
LAST = get_request("/m/seen/last")
LAST_PATH = b"/seen/last"
MUST_DELIVER, MAY_REFUSE, MUST_REFUSE = "must deliver", "may refuse", "must refuse"


def request(method, path, headers=(), body=b""):
    head = [method + b" " + path + b" HTTP/1.1", b"Host: localhost", *headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def post(path, headers, body):
    return request(b"POST", path, headers, body)


HIDDEN_POST_BODY = b"x" * 5 + SMUGGLED
AMBIGUOUS_BODY = b"0\r\n\r\n" + SMUGGLED
COVERING_LENGTH = b"Content-Length: %d" % len(AMBIGUOUS_BODY)
EITHER_READING = [(b"/seen/a", b""), (b"/seen/a", AMBIGUOUS_BODY)]
# name -> (bytes sent before LAST, rule, what the application must see when the request is
# delivered: (PATH_INFO, body), or a list of such, any one of which is right)
CASES = {
    # Valid HTTP that looks like an attack: delivered, byte-exact, nothing smuggled.
    "request-hidden-in-a-body": (
        post(b"/m/seen/a", [b"Content-Length: %d" % len(HIDDEN_POST_BODY)], HIDDEN_POST_BODY),
        MUST_DELIVER, (b"/seen/a", HIDDEN_POST_BODY)),
    "request-hidden-in-an-unread-body": (
        post(b"/m/seen/a?unread=1", [b"Content-Length: %d" % len(HIDDEN_POST_BODY)],
             HIDDEN_POST_BODY),
        MUST_DELIVER, (b"/seen/a", None)),
    "request-hidden-in-a-chunked-body": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked"],
             b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"),
        MUST_DELIVER, (b"/seen/a", SMUGGLED)),
    "chunk-extensions": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked"],
             b"5;name=value\r\nhello\r\n6;a;b=\"q;x\"\r\n world\r\n0;end=1\r\n\r\n"),
        MUST_DELIVER, (b"/seen/a", b"hello world")),
    "chunked-with-trailer": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked"],
             b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"),
        MUST_DELIVER, (b"/seen/a", b"abc")),
    # Smuggling attempts.
    "content-length-and-chunked": (
        post(b"/m/seen/a", [COVERING_LENGTH, b"Transfer-Encoding: chunked"], AMBIGUOUS_BODY),
        MAY_REFUSE, EITHER_READING),
    "chunked-and-short-content-length": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked", b"Content-Length: 3"],
             b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"),
        MAY_REFUSE, (b"/seen/a", SMUGGLED)),
    "two-different-content-lengths": (
        post(b"/m/seen/a", [b"Content-Length: 5", b"Content-Length: %d" % (5 + len(SMUGGLED))],
             b"hello" + SMUGGLED),
        MUST_REFUSE, None),
    "two-equal-content-lengths": (
        post(b"/m/seen/a", [b"Content-Length: 5", b"Content-Length: 5"], b"hello" + SMUGGLED),
        MAY_REFUSE, (b"/seen/a", b"hello")),
    "content-length-list": (
        post(b"/m/seen/a", [b"Content-Length: 5, 5"], b"hello" + SMUGGLED),
        MAY_REFUSE, (b"/seen/a", b"hello")),
    "content-length-with-sign": (
        post(b"/m/seen/a", [b"Content-Length: +5"], b"hello" + SMUGGLED),
        MUST_REFUSE, None),
    "content-length-negative": (
        post(b"/m/seen/a", [b"Content-Length: -1"], b"hello" + SMUGGLED),
        MUST_REFUSE, None),
    "content-length-hex": (
        post(b"/m/seen/a", [b"Content-Length: 0x5"], b"hello" + SMUGGLED),
        MUST_REFUSE, None),
    "transfer-encoding-not-chunked": (
        post(b"/m/seen/a", [b"Transfer-Encoding: xchunked"], b"0\r\n\r\n" + SMUGGLED),
        MUST_REFUSE, None),
    # The same request read by Content-Length (SMUGGLED is body) and by chunked framing (the
    # body is empty, and SMUGGLED would be the next request unless the connection is closed).
    "chunked-twice-beside-content-length": (
        post(b"/m/seen/a", [COVERING_LENGTH, b"Transfer-Encoding: chunked",
                            b"Transfer-Encoding: chunked"], AMBIGUOUS_BODY),
        MAY_REFUSE, EITHER_READING),
    "identity-chunked-beside-content-length": (
        post(b"/m/seen/a", [COVERING_LENGTH, b"Transfer-Encoding: identity, chunked"],
             AMBIGUOUS_BODY),
        MAY_REFUSE, EITHER_READING),
    "chunked-in-an-obs-fold-beside-content-length": (
        post(b"/m/seen/a", [COVERING_LENGTH, b"Transfer-Encoding:", b" chunked"],
             AMBIGUOUS_BODY),
        MAY_REFUSE, EITHER_READING),
    "chunked-with-a-tab-beside-content-length": (
        post(b"/m/seen/a", [COVERING_LENGTH, b"Transfer-Encoding:\tchunked"], AMBIGUOUS_BODY),
        MAY_REFUSE, EITHER_READING),
    "chunked-uppercase-beside-content-length": (
        post(b"/m/seen/a", [COVERING_LENGTH, b"Transfer-Encoding: CHUNKED"], AMBIGUOUS_BODY),
        MAY_REFUSE, EITHER_READING),
    "transfer-encoding-space-before-colon": (
        post(b"/m/seen/a", [COVERING_LENGTH, b"Transfer-Encoding : chunked"], AMBIGUOUS_BODY),
        MUST_REFUSE, None),
    "bad-chunk-size": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked"], b"zz\r\nhello\r\n0\r\n\r\n"),
        MUST_REFUSE, None),
    "chunk-size-overflow": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked"],
             b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
        MUST_REFUSE, None),
    "negative-chunk-size": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked"], b"-5\r\nhello\r\n0\r\n\r\n"),
        MUST_REFUSE, None),
    "chunk-longer-than-its-size": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked"],
             b"3\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
        MUST_REFUSE, None),
    "chunk-size-bare-lf": (
        post(b"/m/seen/a", [b"Transfer-Encoding: chunked"], b"5\nhello\r\n0\r\n\r\n"),
        MAY_REFUSE, (b"/seen/a", b"hello")),
    # Oversized and malformed heads.
    "header-of-10000-bytes": (
        request(b"GET", b"/m/seen/a", [b"X-Big: " + b"b" * 10000]), MUST_REFUSE, None),
    "101-headers": (
        request(b"GET", b"/m/seen/a", [b"X-H%d: 1" % i for i in range(101)]),
        MUST_REFUSE, None),
    "request-line-of-9000-bytes": (
        request(b"GET", b"/m/seen/" + b"p" * 9000), MUST_REFUSE, None),
    "header-without-colon": (
        request(b"GET", b"/m/seen/a", [b"X-No-Colon"]), MUST_REFUSE, None),
    "nul-in-a-header": (
        request(b"GET", b"/m/seen/a", [b"X-A: 1\x002"]), MUST_REFUSE, None),
    "cr-in-a-header": (
        request(b"GET", b"/m/seen/a", [b"X-A: 1\r2"]), MUST_REFUSE, None),
    # Paths.
    "invalid-percent-encoding": (request(b"GET", b"/m/seen/%zz"), MUST_REFUSE, None),
    "truncated-percent-encoding": (request(b"GET", b"/m/seen/a%4"), MUST_REFUSE, None),
    "percent-encoded-nul": (request(b"GET", b"/m/seen/a%00b"), MUST_REFUSE, None),
    "percent-encoded-slash": (request(b"GET", b"/m/seen/a%2Fb"), MUST_REFUSE, None),
    "percent-encoded-utf8": (
        request(b"GET", b"/m/seen/caf%C3%A9"), MUST_DELIVER, ("/seen/caf\u00e9".encode(), b"")),
    "percent-encoded-non-utf8": (
        request(b"GET", b"/m/seen/%FF%FE%C3"), MUST_DELIVER, (b"/seen/\xff\xfe\xc3", b"")),
    "raw-non-utf8-bytes": (
        request(b"GET", b"/m/seen/\xff\xfe\xc3"), MAY_REFUSE, (b"/seen/\xff\xfe\xc3", b"")),
    "raw-nul-in-path": (request(b"GET", b"/m/seen/a\x00b"), MUST_REFUSE, None),
    "raw-cr-in-path": (request(b"GET", b"/m/seen/a\rb"), MUST_REFUSE, None),
    "control-character-in-path": (request(b"GET", b"/m/seen/a\x01b"), MUST_REFUSE, None),
}


@pytest.fixture(scope="module")
def site():
    inst = ApacheInstance(SITE)
    try:
        inst.start()
        wait_for_daemons(inst, 1)
        seen_log(inst)  # loads the script
        yield inst
    finally:
        inst.cleanup()


def seen_log(inst):
    """Every request the application ran, in order."""
    response = exchange(inst.port, get_request("/m/seen-log"))
    assert response is not None and response.status == 200 and response.complete
    return json.loads(response.body)


def as_seen(path_info, body):
    """The application's record of a request with this PATH_INFO and this body (None: unread)."""
    return (path_info.hex(), None if body is None else len(body),
            None if body is None else hashlib.sha256(body).hexdigest())


@pytest.mark.apache
@pytest.mark.bad_input
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_request_is_refused_or_delivered_exactly_once(site, name):
    payload, rule, expected = CASES[name]
    before = len(seen_log(site))
    with RawConnection(site.port) as conn:
        conn.send(payload + LAST)
        responses = conn.read_all_responses()
        ended = conn.closed_by_peer(10)
    assert ended, "Apache did not close the connection after `Connection: close`"
    log = seen_log(site)
    statuses = [r.status for r in responses]
    assert not [r for r in log[before:] if b"SMUGGLED".hex() in r["path_info_hex"]], \
        f"a smuggled request ran: {statuses}"
    new = [(r["path_info_hex"], r["body_length"], r["body_sha256"] if r["body_length"] is not None
            else None) for r in log[before:]]
    attack = [record for record in new if record[0] != LAST_PATH.hex()]
    assert responses, "no response at all"
    assert len(responses) <= 2 and len(new) <= 2, (statuses, new)
    if attack:
        assert rule != MUST_REFUSE, f"answered {statuses}, and delivered: {attack}"
        acceptable = expected if isinstance(expected, list) else [expected]
        assert attack[0] in [as_seen(*one) for one in acceptable], (statuses, attack)
        assert len(attack) == 1 and statuses[0] == 200, (statuses, attack)
    else:
        assert rule != MUST_DELIVER, f"refused with {statuses}: {responses[0].raw[:200]!r}"
        assert 400 <= statuses[0] < 500, statuses
    assert len(new) - len(attack) <= 1, "the last request ran twice"
