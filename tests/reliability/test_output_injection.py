"""Application output that would inject into the HTTP response, through a real Apache and daemon.

An application that puts CR, LF or NUL into a header name or value, a value that is not latin-1,
or an invalid status line into start_response gets a 500 from the daemon, with one error-log
line naming the request; the client's raw bytes (read from a plain socket, not through a client
library that would re-parse them) never contain the injected text, in the head or the body.
tests/integration/test_apache_e2e.py checks one CR LF value through requests; this file covers
every shape of injection on the wire.
"""

import uuid

import pytest

from tests.support.apache import ApacheInstance
from tests.support.procs import wait_for_daemons
from tests.support.rawhttp import RawConnection, exchange, get_request

SITE = """
WSGIDaemonProcess inject processes=1 threads=1
WSGIScriptAlias /m "{apps}/misbehave.wsgi" process-group=inject
"""

# The names of misbehave.wsgi's INJECTIONS: every one must be refused.
INJECTIONS = [
    "value-crlf", "value-lf", "value-cr", "value-nul", "value-crlfcrlf-body",
    "name-crlf", "name-lf", "name-nul", "name-colon", "name-space", "name-empty",
    "value-non-latin1", "value-surrogate", "name-non-latin1",
    "status-no-code", "status-letters", "status-code-only", "status-two-digits",
    "status-four-digits", "status-below-100", "status-no-space", "status-leading-space",
    "status-crlf", "status-lf", "status-cr", "status-nul", "status-non-latin1",
    "status-too-long", "status-http-prefix",
]


@pytest.fixture(scope="module")
def site():
    inst = ApacheInstance(SITE)
    try:
        inst.start()
        wait_for_daemons(inst, 1)
        loaded = exchange(inst.port, get_request("/m/outcome"))  # loads the script
        assert loaded is not None and loaded.status == 200
        yield inst
    finally:
        inst.cleanup()


@pytest.mark.apache
@pytest.mark.bad_input
@pytest.mark.parametrize("name", INJECTIONS)
def test_injected_output_gives_500_and_never_reaches_the_client(site, name):
    log_before = len(site.error_log())
    token = uuid.uuid4().hex
    with RawConnection(site.port) as conn:
        conn.send(get_request(f"/m/inject/{name}?token={token}"))
        responses = conn.read_all_responses()
        assert conn.closed_by_peer(10)
        trailing = conn.buffer
    assert [r.status for r in responses] == [500], [r.raw[:200] for r in responses]
    wire = b"".join(r.raw for r in responses) + trailing
    assert b"injected" not in wire.lower()
    assert b"accepted" not in wire  # the application's body was never sent either
    assert wire.count(b"HTTP/1.1 ") == 1
    # The daemon refused it (a 502 would mean the module caught what the daemon let through).
    log = site.error_log()[log_before:]
    naming = [line for line in log.splitlines() if f"token={token} " in line]
    assert len(naming) == 1 and "invalid response head" in naming[0], log
    assert "mod_wsgid:" not in log, log


@pytest.mark.apache
@pytest.mark.bad_input
def test_latin1_obs_text_in_a_value_is_passed_on_byte_exact(site):
    # The limit of the rule above: bytes 0x80-0xFF are obs-text, which HTTP allows in values.
    response = exchange(site.port, get_request("/m/case/latin1-value"))
    assert response.status == 200
    assert response.header("X-Latin1") == ["caf\u00e9".encode("latin-1")]
