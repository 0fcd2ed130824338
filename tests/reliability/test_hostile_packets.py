"""Hostile bytes on a daemon socket, sent by a raw client running as the Apache child user.

The peer that may connect (the Apache user) is the one that can send anything, so every case is
sent as that user to a `wsgid supervise` without Apache (Apache would only stand in the way of
malformed packets). What must hold:
- a malformed packet closes its connection unanswered, with exactly one log line, and the same
  daemon process goes on serving;
- the edge cases the protocol allows (1000 variables, a 65535-byte vars block, an empty block,
  NUL and non-ASCII bytes in values) are served, and bodies of any size come back byte-exact;
- packet variables never choose the code that runs (docs/protocol.md, "Control keys");
- 10,000 bad packets leave the daemon's descriptors, threads and memory where they were.

Policy chosen here: a NUL byte inside a value (PATH_INFO) is not a packet error: values are
bytes (latin-1 text in the environ) and reach the application exactly, never cut at the NUL.
Apache itself never sends one (it refuses %00 in a URL); an application that hands such a
path to the file system gets Python's ValueError, which becomes a 500 like any error.
"""

import hashlib
import json
import os
import struct

import pytest

from tests.support.apache import APPS, wait_for
from tests.support.error_log import group_of, pid_mark
from tests.support.procfs import footprint
from tests.support.procs import run_as
from tests.support.rawclient import exchange, flood
from tests.support.supervised import SupervisedGroups, apache_user
from wsgid._core_py import BODY_RECV_SIZE, LINE_RECV_SIZE, PACKET_RECV_SIZE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acts as the Apache child user")

PROBE = os.path.join(APPS, "probe.wsgi")
FLOOD_PACKETS = 10_000
FLOOD_WARM_UP = 1_000
# Resident memory may move a little while Python's allocator and the log settle; a leak of
# more than about 50 bytes per bad packet would exceed this over 10,000 packets.
RSS_TOLERANCE_KIB = 512

# A script that is not configured anywhere: if it ever runs, it leaves a marker file.
OUTSIDE_SCRIPT = """\
import os
open(os.path.join(os.path.dirname(__file__), "markers", "outside-script-ran"), "w").close()

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"outside script\\n"]

def allow_access(environ, host):
    return True

def process_group(environ):
    return "site"
"""


def pair(key, value):
    return struct.pack("<H", len(key)) + key + struct.pack("<H", len(value)) + value


def packet(block, modifier1=0, modifier2=0, size=None):
    """A uwsgi header declaring `size` (default: the block's real size), then the block."""
    return struct.pack("<BHB", modifier1, len(block) if size is None else size, modifier2) + block


BASE_VARS = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "SERVER_NAME": "x",
             "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "probe=environ"}


def request_vars(**extra):
    """BASE_VARS plus extra (keyword names with '__' standing for '.'), as (bytes, bytes)."""
    merged = dict(BASE_VARS)
    merged.update({k.replace("__", "."): v for k, v in extra.items()})
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()]


def block_of(pairs):
    return b"".join(pair(k, v) for k, v in pairs)


# name -> (bytes sent, words the one log line must contain)
BAD_PACKETS = {
    "empty connection": (b"", "closed after 0 of the 4 header bytes"),
    "truncated header": (b"\x00\x10", "closed after 2 of the 4 header bytes"),
    "truncated vars block": (packet(pair(b"A", b"B"), size=64), "closed after 10 of 68 bytes"),
    "datasize larger than the data": (packet(block_of(request_vars()), size=0xFFFF),
                                      "of 65539 bytes"),
    "datasize smaller than the data": (packet(pair(b"PATH_INFO", b"/x"), size=3),
                                       "runs past the end of the 3-byte vars block"),
    "a stray byte after the last pair": (packet(pair(b"A", b"B") + b"\x01"), "stray byte"),
    "zero-length key": (packet(pair(b"", b"x")), "zero-length key"),
    "key length past the end": (packet(b"\x10\x00AB"), "key of length 16"),
    "value length past the end": (packet(b"\x01\x00A\x10\x00B"), "(length 16) runs past"),
    "no value length": (packet(b"\x01\x00A"), "no value length after key 'A'"),
    "1001 variables": (packet(block_of((b"V%d" % i, b"") for i in range(1001))),
                       "more than 1000 variables"),
    "modifier1 1": (packet(pair(b"A", b"B"), modifier1=1), "modifier1=1 "),
    "modifier1 255": (packet(pair(b"A", b"B"), modifier1=255), "modifier1=255 "),
    "modifier2 7": (packet(pair(b"A", b"B"), modifier2=7), "modifier2=7"),
    "TLS client hello": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),
                         "modifier1=22"),
    "plain HTTP": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "plain HTTP?"),
    "duplicate CONTENT_LENGTH": (packet(block_of(request_vars(CONTENT_LENGTH="1")
                                                 + [(b"CONTENT_LENGTH", b"1")])) + b"ab",
                                 "duplicate key 'CONTENT_LENGTH'"),
    "duplicate PATH_INFO": (packet(block_of(request_vars() + [(b"PATH_INFO", b"/other")])),
                            "duplicate key 'PATH_INFO'"),
    **{f"CONTENT_LENGTH {value!r}": (packet(block_of(request_vars(CONTENT_LENGTH=value))),
                                     "is not a plain decimal number")
       for value in ("-1", "abc", "1e3", " 5", "5 ", "+5", "0x10", "\xb2", "1\x002")},
    "CONTENT_LENGTH 2**63": (packet(block_of(request_vars(CONTENT_LENGTH=str(2**63)))),
                             "is larger than"),
    "CONTENT_LENGTH of 20 digits": (packet(block_of(request_vars(CONTENT_LENGTH="9" * 20))),
                                    "is larger than"),
    "CONTENT_LENGTH with input_terminated": (
        packet(block_of(request_vars(CONTENT_LENGTH="2", wsgid__input_terminated="1"))) + b"ab",
        "CONTENT_LENGTH together with wsgid.input_terminated=1"),
    "input_terminated 2": (packet(block_of(request_vars(wsgid__input_terminated="2"))),
                           "wsgid.input_terminated is '2'"),
}


@pytest.fixture(scope="module")
def served():
    """One supervisor: group 'site' (serves the probe script, one process) and group 'flood'
    (the same, kept apart for the leak measurement)."""
    sup = SupervisedGroups("wsgid-hostile-")
    markers = os.path.join(sup.directory, "markers")
    os.mkdir(markers)
    os.chmod(markers, 0o777)   # the daemon user would write a marker there
    sup.outside_script = os.path.join(sup.directory, "outside.wsgi")
    with open(sup.outside_script, "w") as f:
        f.write(OUTSIDE_SCRIPT)
    os.chmod(sup.outside_script, 0o644)
    sup.outside_marker = os.path.join(markers, "outside-script-ran")
    sup.add_group("site", PROBE, "processes=1 threads=4")
    sup.add_group("flood", PROBE, "processes=1 threads=4")
    try:
        sup.start()
        sup.daemons_serving(2)
        yield sup
    finally:
        sup.cleanup()


def as_apache_user(func, *args):
    user = apache_user()
    return run_as(user.pw_uid, user.pw_gid, func, *args)


def daemon_pid(sup, group):
    (pid,) = [p.pid for p in sup.daemons() if _group_of(sup, p.pid) == group]
    return pid


def _group_of(sup, pid):
    for line in sup.log().splitlines():
        if f"started daemon process {pid}" in line:
            return group_of(line)
    return None


def send_and_read_log(sup, payload):
    """(reply, the log lines written while it was served) for one packet to group 'site'."""
    before = len(sup.log())
    reply = as_apache_user(exchange, sup.socket_path("site"), payload)
    return reply, sup.log()[before:].splitlines()


def answer_of(reply):
    """(status line, headers text, body) of an HTTP reply."""
    assert isinstance(reply, bytes) and reply.startswith(b"HTTP/1.1 "), reply[:200]
    head, _, body = reply.partition(b"\r\n\r\n")
    status, _, headers = head.partition(b"\r\n")
    return status.decode(), headers.decode("latin-1"), body


def probe_environ(sup, pairs, body=b""):
    """The environ (str values) the probe script saw for these variables; and the log lines."""
    reply, lines = send_and_read_log(sup, packet(block_of(pairs)) + body)
    status, _, answer = answer_of(reply)
    assert status == "HTTP/1.1 200 OK", (status, answer, lines)
    return json.loads(answer), lines


# -- malformed packets ------------------------------------------------------------------------

@pytest.mark.bad_input
@pytest.mark.parametrize("name", list(BAD_PACKETS))
def test_a_malformed_packet_is_closed_unanswered_with_one_log_line(served, name):
    payload, words = BAD_PACKETS[name]
    pid = daemon_pid(served, "site")
    reply, lines = send_and_read_log(served, payload)
    assert reply in (b"", "reset"), reply[:200]
    assert len(lines) == 1, lines
    assert "bad request packet" in lines[0] and words in lines[0], lines[0]
    assert pid_mark(pid) in lines[0]
    assert daemon_pid(served, "site") == pid      # no process died


# -- what the protocol allows -------------------------------------------------------------------

@pytest.mark.bad_input
def test_exactly_1000_variables_are_served(served):
    pairs = request_vars() + [(b"X_%d" % i, b"%d" % i) for i in range(1000 - len(BASE_VARS))]
    seen, lines = probe_environ(served, pairs)
    assert all(seen[f"X_{i}"] == str(i) for i in range(1000 - len(BASE_VARS)))
    assert lines == []


@pytest.mark.bad_input
def test_a_vars_block_of_exactly_65535_bytes_is_served(served):
    pairs = request_vars()
    padding = 65535 - len(block_of(pairs)) - len(pair(b"X_PAD", b""))
    pairs.append((b"X_PAD", b"p" * padding))
    assert len(block_of(pairs)) == 65535
    seen, lines = probe_environ(served, pairs)
    assert seen["X_PAD"] == "p" * padding
    assert lines == []


@pytest.mark.bad_input
def test_an_empty_vars_block_is_served_by_the_group_script(served):
    reply, lines = send_and_read_log(served, packet(b""))
    status, _, body = answer_of(reply)
    assert (status, body) == ("HTTP/1.1 404 Not Found", b"no such probe\n")   # the probe ran
    assert lines == []


@pytest.mark.bad_input
@pytest.mark.parametrize("path_info", ["/a\x00b", "/secret.txt\x00.png", "\x00", "/\xff\xfe\x80"])
def test_nul_and_non_ascii_bytes_in_path_info_reach_the_application_exactly(served, path_info):
    seen, lines = probe_environ(served, request_vars(PATH_INFO=path_info))
    assert seen["PATH_INFO"] == path_info
    assert lines == []


@pytest.mark.bad_input
def test_a_body_shorter_than_content_length_is_never_taken_for_a_whole_one(served):
    """The application's read raises OSError (docs/protocol.md): the probe does not catch it,
    so the answer is a 500, and the daemon logs the short body once."""
    pid = daemon_pid(served, "site")
    pairs = request_vars(QUERY_STRING="probe=echo", CONTENT_LENGTH="100")
    before = len(served.log())
    reply = as_apache_user(exchange, served.socket_path("site"), packet(block_of(pairs))
                           + b"only ten b")
    status, _, body = answer_of(reply)
    assert status == "HTTP/1.1 500 Internal Server Error" and b"only ten b" not in body

    # The daemon logs the short body once it has read to the end of it, which is when the
    # client's close reaches it: that can come after the client has read the answer.
    def short_body_lines():
        lines = served.log()[before:].splitlines()
        return [line for line in lines if "request body ended after" in line]
    short = wait_for(short_body_lines, 5, message="the log line about the short body")
    assert len(short) == 1 and "after 10 of 100 bytes" in short[0], short
    assert daemon_pid(served, "site") == pid


@pytest.mark.bad_input
def test_bytes_past_content_length_are_never_read_as_another_request(served):
    smuggled = packet(block_of(request_vars(PATH_INFO="/smuggled",
                                            SCRIPT_FILENAME=served.outside_script)))
    pairs = request_vars(QUERY_STRING="probe=echo", CONTENT_LENGTH="5")
    reply, lines = send_and_read_log(served, packet(block_of(pairs)) + b"hello" + smuggled)
    status, headers, body = answer_of(reply)
    assert (status, body) == ("HTTP/1.1 200 OK", b"hello")   # one response, nothing after it
    assert lines == []
    assert not os.path.exists(served.outside_marker)


def body_sizes():
    """Sizes around the core's receive sizes and 64 KiB multiples, and one of 64 MiB."""
    packet_only = len(packet(block_of(request_vars(QUERY_STRING="probe=echo",
                                                   CONTENT_LENGTH="0"))))
    first_read = PACKET_RECV_SIZE - packet_only   # body bytes the packet's first recv can hold
    around = [0, 1, LINE_RECV_SIZE, first_read, BODY_RECV_SIZE, 2 * BODY_RECV_SIZE,
              16 * BODY_RECV_SIZE]
    sizes = sorted({max(0, n + d) for n in around for d in (-1, 0, 1)})
    return sizes + [64 * 1024 * 1024]


def echo_matches(path, size):
    """Runs as the Apache user: send `size` bytes to the echo probe; True if they came back."""
    body = hashlib.shake_256(b"%d" % size).digest(size) if size else b""
    pairs = request_vars(QUERY_STRING="probe=echo", CONTENT_LENGTH=str(size))
    reply = exchange(path, packet(block_of(pairs)) + body, timeout=60)
    head, _, echoed = reply.partition(b"\r\n\r\n")
    return head.startswith(b"HTTP/1.1 200 OK") and echoed == body


@pytest.mark.bad_input
@pytest.mark.parametrize("size", body_sizes())
def test_a_body_of_any_size_comes_back_byte_exact(served, size):
    assert as_apache_user(echo_matches, served.socket_path("site"), size)


# -- packet variables never choose the code ------------------------------------------------------

def refusal_cases(outside):
    link = os.path.join(os.path.dirname(outside), "link-to-outside.wsgi")
    return {
        "a script outside the configuration": request_vars(SCRIPT_FILENAME=outside),
        "a path that climbs out of the scripts' directory":
            request_vars(SCRIPT_FILENAME=os.path.join(APPS, "..", os.path.relpath(outside, "/"))),
        "a symlink to an unconfigured script": request_vars(SCRIPT_FILENAME=link),
        "the configured script with a NUL after it": request_vars(SCRIPT_FILENAME=PROBE + "\x00"),
        "a NUL in the middle": request_vars(SCRIPT_FILENAME=outside + "\x00" + PROBE),
        "a system file": request_vars(SCRIPT_FILENAME="/etc/passwd"),
        "another group's kind of script": request_vars(
            SCRIPT_FILENAME=os.path.join(APPS, "echo.wsgi")),
    }


@pytest.mark.bad_input
@pytest.mark.parametrize("case", list(refusal_cases("/x")))
def test_script_filename_outside_the_configuration_is_refused_404(served, case):
    link = os.path.join(served.directory, "link-to-outside.wsgi")
    if not os.path.lexists(link):
        os.symlink(served.outside_script, link)
    pid = daemon_pid(served, "site")
    reply, lines = send_and_read_log(served, packet(block_of(
        refusal_cases(served.outside_script)[case])))
    assert answer_of(reply)[0] == "HTTP/1.1 404 Not Found"
    assert len(lines) == 1 and "refused SCRIPT_FILENAME" in lines[0], lines
    assert not os.path.exists(served.outside_marker)
    assert daemon_pid(served, "site") == pid


@pytest.mark.bad_input
@pytest.mark.parametrize("hook", ["allow_access", "dispatch"])
@pytest.mark.parametrize("script", ["outside", "outside with a NUL"])
def test_a_hook_call_naming_an_unconfigured_script_is_an_error_and_runs_nothing(served, hook,
                                                                                script):
    path = served.outside_script + ("\x00" if "NUL" in script else "")
    pairs = request_vars(wsgid__hook=hook, wsgid__hook_script=path, wsgid__hook_host="h")
    reply, lines = send_and_read_log(served, packet(block_of(pairs)))
    status, headers, _ = answer_of(reply)
    assert status == "HTTP/1.1 200 OK" and "Wsgid-Hook-Result: error" in headers, headers
    assert len(lines) == 1, lines
    assert not os.path.exists(served.outside_marker)


@pytest.mark.bad_input
@pytest.mark.parametrize("name", ["__import__('os').system('true')", "os.system", "",
                                  "__builtins__", "__loader__", "exec", "class"])
def test_a_callable_object_that_is_not_the_script_s_callable_runs_nothing(served, name):
    reply, lines = send_and_read_log(served, packet(block_of(
        request_vars(wsgid__callable_object=name))))
    status = answer_of(reply)[0]
    if name == "":
        # Empty means "not given": the configured callable answers.
        assert status == "HTTP/1.1 200 OK" and lines == []
        return
    assert status == "HTTP/1.1 500 Internal Server Error"
    assert len(lines) == 1 and "callable" in lines[0], lines


CONTROL_KEYS_IGNORED = {
    # uWSGI's dynamic-application variables: wsgid has no such feature.
    **{key: "{outside}" for key in ("UWSGI_SCRIPT", "UWSGI_FILE", "UWSGI_MODULE",
                                    "UWSGI_CALLABLE", "UWSGI_CHDIR", "UWSGI_PYHOME",
                                    "UWSGI_APPID", "UWSGI_SETENV")},
    # mod_wsgi's names: they are environ values for the application, never settings.
    "mod_wsgi.process_group": "flood",
    "mod_wsgi.application_group": "other",
    "mod_wsgi.callable_object": "allow_access",
    "mod_wsgi.script_reloading": "1",
    "mod_wsgi.handler_script": "{outside}",
    "mod_wsgi.script_name": "{outside}",
    # wsgid's own keys that are the daemon's to set.
    "wsgid.process_group": "flood",
    "wsgi.url_scheme": "javascript",
    "wsgid.script": "{outside}",
}


@pytest.mark.bad_input
@pytest.mark.parametrize("key", list(CONTROL_KEYS_IGNORED))
def test_a_control_key_that_names_other_code_is_ignored(served, key):
    value = CONTROL_KEYS_IGNORED[key].format(outside=served.outside_script)
    pid = daemon_pid(served, "site")
    seen, lines = probe_environ(served, request_vars() + [(key.encode(), value.encode())])
    assert seen["pid"] == pid                          # the configured script answered
    assert seen["mod_wsgi.process_group"] == seen["wsgid.process_group"] == "site"
    assert seen["wsgi.url_scheme"] == "http"
    assert not os.path.exists(served.outside_marker)
    assert lines == []


# -- 10,000 bad packets ----------------------------------------------------------------------------

def settled_footprint(pid, baseline=None):
    """The daemon's footprint once idle; with a baseline, poll briefly until the descriptor
    count is back (a closing connection may be counted for a moment), then take it anyway."""
    if baseline is not None:
        try:
            wait_for(lambda: footprint(pid).fds <= baseline.fds, 2,
                     message="the connection descriptors to be closed")
        except AssertionError:
            pass    # the assertion on the figure says what is wrong
    return footprint(pid)


@pytest.mark.bad_input
def test_ten_thousand_bad_packets_leave_descriptors_threads_and_memory_flat(served, figures):
    path = served.socket_path("flood")
    pid = daemon_pid(served, "flood")
    mix = [payload for payload, _ in BAD_PACKETS.values()]
    warm_up = as_apache_user(flood, path, mix, FLOOD_WARM_UP, 4)
    assert warm_up == {"closed": FLOOD_WARM_UP, "answered": 0, "failures": []}
    before = settled_footprint(pid)
    result = as_apache_user(flood, path, mix, FLOOD_PACKETS, 4)
    after = settled_footprint(pid, before)

    figures.record("bad_packets_sent", result["closed"] + result["answered"])
    figures.record("bad_packets_fd_delta", after.fds - before.fds)
    figures.record("bad_packets_thread_delta", after.threads - before.threads)
    figures.record("bad_packets_rss_delta_kib", after.rss_kib - before.rss_kib)
    print(f"bad packets: {result}, footprint before {before}, after {after}")
    assert result == {"closed": FLOOD_PACKETS, "answered": 0, "failures": []}
    assert daemon_pid(served, "flood") == pid
    flood_lines = [line for line in served.log().splitlines() if group_of(line) == "flood"
                   and pid_mark(pid) in line and "bad request packet" in line]
    assert len(flood_lines) == FLOOD_WARM_UP + FLOOD_PACKETS
    assert not [line for line in served.log().splitlines()
                if group_of(line) == "flood" and "Traceback" in line]
    assert after.fds == before.fds
    assert after.threads == before.threads
    assert after.rss_kib - before.rss_kib <= RSS_TOLERANCE_KIB
    # And it still serves.
    reply = as_apache_user(exchange, path, packet(block_of(request_vars())))
    assert answer_of(reply)[0] == "HTTP/1.1 200 OK"
