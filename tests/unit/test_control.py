"""The control socket (control.py) and the `wsgid status` client (status.py), without a supervisor.

Pure logic with fakes (the snapshot from group and process handles, request parsing, who may
connect, the directory rule, formatting); the server part on real unix sockets in tmp_path,
driven the way the supervisor's loop drives it: poll_events(), then serve(ready fds, now).
"""

import json
import os
import select
import socket
import stat
import threading
import types

import pytest

from tests.support.lifecycle import make_group
from wsgid import control, status
from wsgid.channel import READY, Message
from wsgid.control import (CLIENT_DEADLINE, MAX_CLIENTS, MAX_REQUEST, SOCKET_PATH_MAX,
                           ControlError, ControlServer, check_path_length, control_socket_path,
                           directory_problem, parse_request, peer_allowed)
from wsgid.states import ProcessState

OWN_UID = os.geteuid()


# -- paths, directories, peers ------------------------------------------------------------------

def test_the_control_socket_is_the_absolute_config_path_plus_control(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert control_socket_path("site.conf") == str(tmp_path / "site.conf.control")
    assert control_socket_path("/run/apache2/wsgid.12.conf") == \
        "/run/apache2/wsgid.12.conf.control"


def test_a_path_of_exactly_the_limit_fits_and_one_byte_more_names_the_fix():
    at_limit = "/" + "x" * (SOCKET_PATH_MAX - 1)
    check_path_length(at_limit, managed=True)
    with pytest.raises(ControlError, match="WSGISocketPrefix") as managed:
        check_path_length(at_limit + "x", managed=True)
    assert f"is {SOCKET_PATH_MAX + 1} bytes" in str(managed.value)
    with pytest.raises(ControlError, match="move the configuration file"):
        check_path_length(at_limit + "x", managed=False)


def stat_of(mode, uid):
    return types.SimpleNamespace(st_mode=mode, st_uid=uid)


@pytest.mark.parametrize("mode, uid, own_uid, problem", [
    (stat.S_IFDIR | 0o755, 0, 1000, None),                   # root's directory
    (stat.S_IFDIR | 0o700, 1000, 1000, None),                # the supervisor's own
    (stat.S_IFDIR | stat.S_ISVTX | 0o777, 0, 1000, None),    # /tmp: sticky
    (stat.S_IFDIR | 0o755, 1001, 1000, "belongs to uid 1001"),
    (stat.S_IFDIR | 0o775, 1000, 1000, "writable by other users (mode 0775)"),
    (stat.S_IFDIR | 0o757, 0, 0, "writable by other users (mode 0757)"),
    (stat.S_IFREG | 0o600, 1000, 1000, "is not a directory"),
])
def test_only_a_directory_nobody_else_can_write_to_may_hold_the_socket(mode, uid, own_uid,
                                                                       problem):
    found = directory_problem("/d", stat_of(mode, uid), own_uid)
    assert found == problem if problem is None else problem in found


@pytest.mark.parametrize("peer, own, allowed", [
    (0, 1000, True), (1000, 1000, True), (1001, 1000, False), (0, 0, True), (33, 0, False),
])
def test_root_and_the_supervisors_own_uid_may_ask_nobody_else(peer, own, allowed):
    assert peer_allowed(peer, own) is allowed


# -- the request line ---------------------------------------------------------------------------

@pytest.mark.parametrize("received, asked, refused", [
    (b"status\n", "status", None),
    (b"status\r\n", "status", None),
    (b"stat", None, None),                          # more may come
    (b"", None, None),
    (b"x" * (MAX_REQUEST - 1), None, None),
    (b"x" * MAX_REQUEST, None, f"longer than {MAX_REQUEST} bytes"),
    (b"hello\n", None, "unknown request 'hello'"),
    (b"st\xffatus\n", None, "not ASCII"),
])
def test_a_request_is_one_short_ascii_line(received, asked, refused):
    got_request, got_refusal = parse_request(received)
    assert got_request == asked
    if refused is None:
        assert got_refusal is None
    else:
        assert refused in got_refusal


# -- the snapshot -------------------------------------------------------------------------------

def fake_usage(pid):
    return {1001: (10 * 2 ** 20, 1.5)}.get(pid, (None, None))


def test_the_snapshot_lists_each_group_with_its_processes_and_their_reported_counts():
    group, _ = make_group(2, "threads=3")
    group.start(0.0)
    group.tick(0.0)
    first, second = group.processes()
    group.handle_message(first, Message(READY), 1.0)
    group.handle_message(first, Message("heartbeat", served=12, active=2), 4.0)
    group.tick(5.0)

    document = control.snapshot({"pid": 1, "config": "/c"}, [("current", group)], now=5.0,
                                usage=fake_usage)
    assert document["pid"] == 1 and document["config"] == "/c"
    [listed] = document["groups"]
    assert {k: listed[k] for k in ("name", "role", "socket", "processes", "threads")} == {
        "name": "example", "role": "current", "socket": "/run/example.sock", "processes": 2,
        "threads": 3}
    assert listed["daemon_processes"] == [
        {"pid": 1001, "slot": 0, "state": "running", "ready": True, "uptime": 5.0,
         "requests_served": 12, "active_requests": 2, "rss": 10 * 2 ** 20, "cpu_time": 1.5,
         "silent_for": 1.0, "stop_reason": None},
        {"pid": 1002, "slot": 1, "state": "running", "ready": False, "uptime": 5.0,
         "requests_served": None, "active_requests": None, "rss": None, "cpu_time": None,
         "silent_for": 5.0, "stop_reason": None},
    ]
    json.dumps(document)    # the answer is this document as JSON


def test_a_bare_heartbeat_keeps_the_last_counts():
    group, _ = make_group(1)
    group.start(0.0)
    group.tick(0.0)
    [handle] = group.processes()
    group.handle_message(handle, Message("heartbeat", served=3, active=0), 1.0)
    group.handle_message(handle, Message("heartbeat"), 2.0)
    assert (handle.requests_served, handle.active_requests, handle.last_heard) == (3, 0, 2.0)


def test_a_stopping_process_shows_why():
    group, _ = make_group(1, "shutdown-timeout=2")
    group.start(0.0)
    group.tick(0.0)
    group.stop(1.0, "test")
    [entry] = control.group_snapshot("retiring", group, 1.5, usage=fake_usage)[
        "daemon_processes"]
    assert (entry["state"], entry["stop_reason"]) == (ProcessState.STOPPING.value,
                                                      "shutdown_signal")


def test_process_usage_reads_this_process_and_none_for_a_pid_that_is_gone():
    rss, cpu = control.process_usage(os.getpid())
    assert rss > 1_000_000 and cpu > 0
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert control.process_usage(pid) == (None, None)


# -- the server, on real sockets ----------------------------------------------------------------

class Loop:
    """Drives a ControlServer as the supervisor's loop does, with an explicit clock."""

    def __init__(self, server):
        self.server = server
        self.now = 100.0

    def turn(self, timeout=2.0):
        poller = select.poll()
        for fd, events in self.server.poll_events():
            poller.register(fd, events)
        ready = {fd for fd, _ in poller.poll(timeout * 1000)}
        self.server.serve(ready, self.now)
        return ready


def describe(now):
    return {"pid": 4242, "now": now, "groups": []}


@pytest.fixture
def served(tmp_path):
    """An open ControlServer on tmp_path/site.conf.control and its Loop."""
    server = ControlServer(str(tmp_path / "site.conf.control"), describe)
    assert server.open()
    yield server, Loop(server)
    server.close()


def connect(path):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    client.settimeout(5)
    return client


def exchange(loop, client, data):
    """Send data, turn the loop until the server has answered and closed; what it answered."""
    client.sendall(data)
    loop.turn()                                 # accepted
    while loop.server.next_due() is not None:   # until it has no client left
        loop.turn()
    chunks = []
    while True:
        chunk = client.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_the_socket_is_private_and_answers_status_with_one_json_document(served):
    server, loop = served
    st = os.lstat(server.path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == OWN_UID
    answer = exchange(loop, connect(server.path), b"status\n")
    assert answer.endswith(b"\n") and answer.count(b"\n") == 1
    assert json.loads(answer) == {"pid": 4242, "now": 100.0, "groups": [],
                                  "control_socket": server.path}
    assert server.next_due() is None        # answered and closed


def test_a_bad_request_gets_its_reason_and_one_log_line(served, caplog):
    server, loop = served
    answer = json.loads(exchange(loop, connect(server.path), b"GET / HTTP/1.1\r\n"))
    assert "unknown request 'GET / HTTP/1.1'" in answer["error"]
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and server.path in lines[0] and f"pid {os.getpid()}" in lines[0]


def test_a_request_longer_than_the_bound_is_refused_without_reading_more(served):
    server, loop = served
    client = connect(server.path)
    client.sendall(b"s" * (MAX_REQUEST * 4))
    loop.turn()
    while server.next_due() is not None:
        loop.turn()
    answer = client.recv(65536)
    assert "longer than" in json.loads(answer)["error"]


def test_a_client_that_says_nothing_is_dropped_at_its_deadline(served, caplog):
    server, loop = served
    silent = connect(server.path)
    loop.turn()
    assert server.next_due() == loop.now + CLIENT_DEADLINE
    loop.now += CLIENT_DEADLINE - 0.01
    loop.turn(timeout=0)
    assert server.next_due() is not None
    loop.now += 0.01
    loop.turn(timeout=0)
    assert server.next_due() is None
    assert silent.recv(10) == b""
    assert any("did not send a request within 2s" in r.getMessage() for r in caplog.records)


def test_a_client_that_does_not_read_its_answer_never_blocks_the_loop(tmp_path):
    big = {"pid": 1, "padding": "x" * (4 * 2 ** 20)}     # more than a socket buffer holds
    server = ControlServer(str(tmp_path / "c.control"), lambda now: dict(big))
    assert server.open()
    loop = Loop(server)
    try:
        client = connect(server.path)
        client.sendall(b"status\n")
        loop.turn()
        loop.turn()      # accepted, read, answer partly sent: serve() returned regardless
        events = dict(server.poll_events())
        assert select.POLLOUT in events.values()    # waiting for room, not blocking
        loop.now += CLIENT_DEADLINE
        loop.turn(timeout=0)
        assert server.next_due() is None
    finally:
        server.close()


def test_while_max_clients_are_served_the_listener_is_not_polled(served):
    server, loop = served
    clients = [connect(server.path) for _ in range(MAX_CLIENTS)]
    loop.turn(timeout=0.2)
    clients += [connect(server.path) for _ in range(2)]     # these wait in the listen queue
    loop.turn(timeout=0.2)
    listener_fd = server._listener.fileno()
    assert listener_fd not in dict(server.poll_events())
    assert len(server.poll_events()) == MAX_CLIENTS
    for client in clients[:MAX_CLIENTS]:
        client.close()
    for _ in range(3):
        loop.turn(timeout=0.2)
    assert listener_fd in dict(server.poll_events())     # the waiting ones get their turn
    for client in clients[MAX_CLIENTS:]:
        client.close()


def test_ask_gets_the_document_from_a_real_server(served):
    server, loop = served
    result = {}
    asker = threading.Thread(target=lambda: result.update(status.ask(server.path)))
    asker.start()
    while asker.is_alive():
        loop.turn(timeout=0.1)
    assert result["pid"] == 4242


def test_a_stale_socket_is_replaced_and_a_planted_symlink_is_not_followed(tmp_path):
    path = str(tmp_path / "site.conf.control")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()                       # a socket file nobody listens on
    server = ControlServer(path, describe)
    assert server.open()
    server.close()
    assert not os.path.exists(path)     # removed at exit

    target = tmp_path / "precious"
    target.write_text("keep me")
    os.symlink(target, path)
    server = ControlServer(path, describe)
    assert server.open()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert target.read_text() == "keep me"
    server.close()


@pytest.mark.parametrize("what", ["file", "live"])
def test_a_regular_file_or_a_live_socket_is_left_alone_and_status_is_off(tmp_path, caplog,
                                                                         what):
    path = str(tmp_path / "site.conf.control")
    live = None
    if what == "file":
        with open(path, "w") as f:
            f.write("data")
    else:
        live = socket.socket(socket.AF_UNIX)
        live.bind(path)
        live.listen(1)
    server = ControlServer(path, describe)
    assert not server.open()
    assert server.poll_events() == [] and server.next_due() is None
    server.serve(set(), 0.0)
    server.close()
    assert os.path.exists(path)
    [line] = [r.getMessage() for r in caplog.records if "no control socket" in r.getMessage()]
    assert ("is not a socket; remove it" if what == "file" else "another process listens") \
        in line
    if live is not None:
        live.close()


def test_a_directory_others_may_write_to_gets_no_socket(tmp_path, caplog):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    server = ControlServer(str(shared / "site.conf.control"), describe)
    assert not server.open()
    assert not os.path.exists(shared / "site.conf.control")
    assert any("writable by other users" in r.getMessage() for r in caplog.records)


def test_a_path_too_long_gets_no_socket_and_names_the_fix(tmp_path, caplog):
    server = ControlServer(str(tmp_path / ("x" * 120)), describe, managed=True)
    assert not server.open()
    assert any("set WSGISocketPrefix to a shorter path" in r.getMessage()
               for r in caplog.records)


def test_close_leaves_a_file_that_replaced_its_socket(served):
    server, _ = served
    os.unlink(server.path)
    with open(server.path, "w") as f:
        f.write("someone else's")
    server.close()
    assert open(server.path).read() == "someone else's"


# -- the client's pure parts --------------------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["wsgid-supervisor --config /etc/wsgid/site.conf"], True),
    (["wsgid-supervisor", "(managed", "by", "apache", "pid", "12)"], True),
    (["/usr/bin/python3", "-m", "wsgid", "supervise", "--config", "/x.conf"], True),
    (["/venv/bin/python", "/venv/bin/wsgid", "supervise", "--config", "/x.conf"], True),
    (["/venv/bin/python", "-m", "wsgid", "status"], False),
    (["(wsgi:site)"], False),
    (["vim", "supervise"], False),
    ([], False),
])
def test_supervisors_are_known_by_their_title_or_their_command(argv, expected):
    assert status.is_supervisor_command(argv) is expected


def test_status_of_a_config_nobody_runs_says_so(tmp_path):
    document = status.collect(str(tmp_path / "site.conf"))
    assert document["supervisors"] == []
    [error] = document["errors"]
    assert "no control socket at" in error["message"]
    assert "wsgid supervise --config FILE" in error["message"]


def test_the_human_output_is_one_aligned_table_per_group():
    document = {"pid": 7, "config": "/c.conf", "managed_by": 3, "uptime": 3725, "stopping": False,
                "groups": [{"name": "site", "role": "current", "socket": "/s.sock",
                            "processes": 2, "threads": 4, "daemon_processes": [
                                {"pid": 10, "state": "running", "ready": True, "uptime": 65,
                                 "requests_served": 12345, "active_requests": 1,
                                 "rss": 25 * 2 ** 20, "cpu_time": 0.5},
                                {"pid": 123456, "state": "starting", "ready": False,
                                 "uptime": 1, "requests_served": None, "active_requests": None,
                                 "rss": None, "cpu_time": None}]}]}
    lines = status.format_supervisor(document)
    assert lines[0] == "wsgid supervisor pid 7 (managed by Apache pid 3), up 1h02m: /c.conf"
    assert lines[2] == "group site: 2 processes on /s.sock (processes=2 threads=4)"
    table = lines[3:]
    assert table[0].split() == ["PID", "STATE", "UPTIME", "SERVED", "ACTIVE", "RSS", "CPU"]
    assert table[1].split() == ["10", "running", "1m05s", "12345", "1", "25.0", "MiB", "0.50s"]
    assert table[2].split() == ["123456", "starting", "1s", "-", "-", "-", "-"]
    assert len({len(line) for line in table}) == 1        # right-aligned last column
    for heading in ("PID", "SERVED", "CPU"):                # numbers end under their heading
        end = table[0].index(heading) + len(heading)
        assert all(line[end - 1] != " " for line in table[1:])


@pytest.mark.parametrize("seconds, words", [
    (0, "0s"), (59.9, "59s"), (60, "1m00s"), (3599, "59m59s"), (3600, "1h00m"),
    (90061, "1d01h"), (None, "-"),
])
def test_durations_read_at_a_glance(seconds, words):
    assert status.format_duration(seconds) == words
