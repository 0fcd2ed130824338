"""What the supervisor answers on a group's health socket (health.py), from the lifecycle's
state, with the fake fork of tests/support/lifecycle.py; and the twin's path."""

import json

from tests.support.lifecycle import make_group
from wsgid import health
from wsgid.channel import READY, Message
from wsgid.sockets import health_socket_path

EXIT_CANNOT_LOAD = 3 << 8   # a wait status: exited with status 3


def test_the_twin_replaces_sock_with_hc_and_is_never_longer_for_such_a_path():
    assert health_socket_path("/run/apache2/wsgid.1234.site.sock") == \
        "/run/apache2/wsgid.1234.site.hc"
    assert health_socket_path("/run/wsgid/shop") == "/run/wsgid/shop.hc"
    assert health_socket_path("/run/wsgid/shop.socket") == "/run/wsgid/shop.socket.hc"


def test_starting_until_a_process_says_ready_then_ready():
    group, fork = make_group(2)
    group.start(0.0)
    group.tick(0.0)
    status, doc = health.group_state([group], 0.5, supervisor_stopping=False)
    assert (status, doc["state"]) == (503, "starting")
    assert (doc["processes"], doc["ready"], doc["starting"], doc["stopping"]) == (2, 0, 2, 0)
    group.handle_message(fork.spawned[0], Message(READY), 1.0)
    status, doc = health.group_state([group], 1.0, supervisor_stopping=False)
    assert (status, doc["state"], doc["ready"], doc["starting"]) == (200, "ready", 1, 1)
    assert doc["group"] == "example"


def test_backing_off_after_failed_starts_says_when_the_next_comes():
    group, fork = make_group(1)
    group.start(0.0)
    now = 0.0
    for attempt in range(2):    # two failed starts in a row: group.py's back-off answer begins
        group.tick(now)
        assert len(fork.spawned) == attempt + 1
        now += 0.05
        group.reap(fork.spawned[-1].pid, EXIT_CANNOT_LOAD, now)
        now += 0.5              # past the back-off's delay (0.1 s, then 0.2 s)
    now -= 0.5                  # just after the second failure: the third start is ahead
    status, doc = health.group_state([group], now, supervisor_stopping=False)
    assert (status, doc["state"]) == (503, "backing_off")
    assert 0 < doc["retry_after"] <= 10.0


def test_draining_once_the_group_or_the_supervisor_stops_even_with_ready_processes():
    group, fork = make_group(1)
    group.start(0.0)
    group.tick(0.0)
    group.handle_message(fork.spawned[0], Message(READY), 1.0)
    status, doc = health.group_state([group], 1.0, supervisor_stopping=True)
    assert (status, doc["state"]) == (503, "draining")
    group.stop(2.0, "test")
    status, doc = health.group_state([group], 2.0, supervisor_stopping=False)
    assert (status, doc["state"], doc["ready"], doc["stopping"]) == (503, "draining", 0, 1)


def test_the_answer_is_a_status_line_and_one_json_line():
    raw = health.encode_answer(503, {"group": 'a"b', "state": "starting"})
    line, document, end = raw.split(b"\n")
    assert (line, end) == (b"503", b"")
    assert json.loads(document) == {"group": 'a"b', "state": "starting"}
