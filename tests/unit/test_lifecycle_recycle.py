"""Staggered recycling and the supervisor's watchdog (group.py), with a fake clock and fork.

A process asks to be recycled (or SIGUSR1 restarts it); its replacement is forked first, and
only when that one says `ready` is the old one told to go; one recycle at a time per group. The
supervisor kills what cannot report itself: a silent process (deadlock-timeout), one that never
got ready (startup-timeout + shutdown-timeout), one that overstays its stop.
"""

import signal

import pytest

from tests.support.lifecycle import make_group
from wsgid.channel import HEARTBEAT, READY, RECYCLE, Message
from wsgid.group import REPLACEMENT_READY_WAIT
from wsgid.states import KILL_MARGIN
from wsgid.states import ProcessState

EXIT_OK = 0


def running_group(processes, *options, now=0.0):
    """A group whose processes are started and have all said `ready`."""
    group, fork = make_group(processes, *options)
    group.start(now)
    group.tick(now)
    for handle in group.processes():
        group.handle_message(handle, Message(READY), now)
    return group, fork


def handle_of(group, pid):
    return next(h for h in group.processes() if h.pid == pid)


def serving(group):
    """Processes that accept requests: ready and not told to stop."""
    return sorted(h.pid for h in group.processes()
                  if h.ready and h.state is not ProcessState.STOPPING)


def say(group, pid, kind, reason="", now=0.0):
    group.handle_message(handle_of(group, pid), Message(kind, reason), now)


def test_a_recycle_forks_the_replacement_first_and_grants_when_it_is_ready():
    group, fork = running_group(1, "graceful-timeout=7", "shutdown-timeout=2")
    say(group, 1001, RECYCLE, "maximum_requests", now=10.0)
    assert group.pids() == [1002, 1001]         # the replacement runs beside the old one
    assert fork.signals == []                   # the old one keeps serving meanwhile
    assert serving(group) == [1001]
    say(group, 1002, READY, now=10.4)
    assert fork.signals == [(1001, signal.SIGUSR2)]
    old = handle_of(group, 1001)
    assert old.state is ProcessState.STOPPING and old.stop_reason == "maximum_requests"
    assert old.stop_deadline == pytest.approx(10.4 + 7 + 2 + KILL_MARGIN)
    assert serving(group) == [1002]


def test_the_replaced_process_exiting_is_not_a_failure_and_starts_nothing(caplog):
    group, fork = running_group(1)
    say(group, 1001, RECYCLE, "restart_interval", now=10.0)
    say(group, 1002, READY, now=10.5)
    group.reap(1001, EXIT_OK, now=11.0)
    group.tick(11.0)
    assert group.pids() == [1002] and len(fork.spawned) == 2
    assert any("daemon process 1001 exited with status 0" in r.getMessage() and
               "recycled: restart_interval" in r.getMessage() for r in caplog.records)


def test_one_recycle_at_a_time_and_never_without_a_serving_process():
    group, fork = running_group(3)
    for pid in (1001, 1002, 1003):
        say(group, pid, RECYCLE, "memory_limit", now=5.0)
    assert len(fork.spawned) == 4               # one replacement only
    assert serving(group) == [1001, 1002, 1003]
    now = 5.0
    for replacement, old in ((1004, 1001), (1005, 1002), (1006, 1003)):
        now += 1.0
        assert fork.spawned[-1].pid == replacement
        say(group, replacement, READY, now=now)
        assert (old, signal.SIGUSR2) in fork.signals
        assert len(serving(group)) == 3          # never fewer than processes=
    assert serving(group) == [1004, 1005, 1006]
    assert len(fork.spawned) == 6


def test_a_replacement_that_never_gets_ready_lets_the_old_one_go_after_a_while(caplog):
    group, fork = running_group(1)
    say(group, 1001, RECYCLE, "memory_limit", now=0.0)
    assert group.next_due(1.0) <= REPLACEMENT_READY_WAIT
    group.tick(REPLACEMENT_READY_WAIT - 0.1)
    assert fork.signals == []
    group.tick(REPLACEMENT_READY_WAIT)
    assert fork.signals == [(1001, signal.SIGUSR2)]
    assert any("was not ready within" in r.getMessage() for r in caplog.records)


def test_an_old_process_that_dies_before_its_grant_lets_the_next_recycle_begin(caplog):
    group, fork = running_group(2)
    say(group, 1001, RECYCLE, "maximum_requests", now=1.0)
    say(group, 1002, RECYCLE, "maximum_requests", now=1.0)
    assert [h.pid for h in fork.spawned] == [1001, 1002, 1003]
    group.reap(1001, signal.SIGKILL, now=2.0)
    assert any("before its recycle (maximum_requests) was granted" in r.getMessage()
               for r in caplog.records)
    # 1001 is gone; its replacement 1003 is still starting: 1002's turn waits for it.
    group.tick(2.1)
    assert len(fork.spawned) == 3
    say(group, 1003, READY, now=2.5)
    assert [h.pid for h in fork.spawned] == [1001, 1002, 1003, 1004]
    say(group, 1004, READY, now=3.0)
    assert fork.signals == [(1002, signal.SIGUSR2)]


def test_asking_twice_or_while_stopping_changes_nothing():
    group, fork = running_group(1)
    say(group, 1001, RECYCLE, "maximum_requests", now=1.0)
    say(group, 1001, RECYCLE, "memory_limit", now=1.5)
    assert len(fork.spawned) == 2
    assert handle_of(group, 1001).recycle_reason == "maximum_requests"


def test_a_reason_that_is_not_a_recycle_reason_is_refused(caplog):
    group, fork = running_group(1)
    say(group, 1001, RECYCLE, "deadlock_timeout", now=1.0)
    assert len(fork.spawned) == 1
    assert any("not a recycle reason" in r.getMessage() for r in caplog.records)


def test_graceful_restart_replaces_every_process_staggered_with_sigusr1_and_eviction_timeout():
    group, fork = running_group(2, "graceful-timeout=10", "eviction-timeout=3",
                                "shutdown-timeout=1")
    group.restart_gracefully(now=20.0)
    assert len(fork.spawned) == 3
    say(group, 1003, READY, now=21.0)
    assert fork.signals == [(1001, signal.SIGUSR1)]
    old = handle_of(group, 1001)
    assert old.stop_reason == "graceful_signal"
    assert old.stop_deadline == pytest.approx(21.0 + 3 + 1 + KILL_MARGIN)
    say(group, 1004, READY, now=22.0)
    assert fork.signals == [(1001, signal.SIGUSR1), (1002, signal.SIGUSR1)]


def test_a_process_that_asked_first_keeps_its_own_reason_in_a_graceful_restart():
    group, fork = running_group(1)
    say(group, 1001, RECYCLE, "cpu_time_limit", now=1.0)
    group.restart_gracefully(now=1.5)
    say(group, 1002, READY, now=2.0)
    assert fork.signals == [(1001, signal.SIGUSR2)]
    assert handle_of(group, 1001).stop_reason == "cpu_time_limit"


def test_stopping_the_group_mid_recycle_stops_old_and_new_and_starts_nothing():
    group, fork = running_group(1, "graceful-timeout=2", "shutdown-timeout=1")
    say(group, 1001, RECYCLE, "restart_interval", now=1.0)
    group.stop(now=2.0, why="test")
    assert sorted(fork.signals) == [(1001, signal.SIGTERM), (1002, signal.SIGTERM)]
    # A stop (shutdown_signal) gets shutdown-timeout only, not graceful-timeout.
    assert all(h.stop_deadline == 2.0 + 1 + KILL_MARGIN for h in group.processes())
    group.reap(1001, EXIT_OK, now=3.0)
    group.reap(1002, EXIT_OK, now=3.0)
    group.tick(10.0)
    assert group.finished and len(fork.spawned) == 2


def test_a_reload_retires_a_group_with_sigusr1():
    group, fork = running_group(2)
    group.stop(now=1.0, why="reload: the group changed", reason="graceful_signal")
    assert sorted(fork.signals) == [(1001, signal.SIGUSR1), (1002, signal.SIGUSR1)]


def test_a_process_that_overstays_its_stop_is_killed(caplog):
    group, fork = running_group(1, "graceful-timeout=1", "shutdown-timeout=1")
    group.stop(now=0.0, why="test", reason="graceful_signal")
    deadline = 2 + KILL_MARGIN
    assert group.next_due(0.5) == deadline
    group.tick(deadline)
    assert fork.signals[-1] == (1001, signal.SIGKILL)
    assert any("did not exit within 3.0s of being told to stop (graceful_signal)"
               in r.getMessage() for r in caplog.records)


def test_a_stopped_process_gets_shutdown_timeout_only():
    group, fork = running_group(1, "graceful-timeout=30", "shutdown-timeout=1")
    group.stop(now=0.0, why="test")
    assert group.next_due(0.5) == 1 + KILL_MARGIN


# -- the watchdog ------------------------------------------------------------------------------

def test_a_process_silent_for_deadlock_timeout_is_killed_and_replaced(caplog):
    group, fork = running_group(1, "deadlock-timeout=2")
    say(group, 1001, HEARTBEAT, now=5.0)
    group.tick(5.0)
    assert group.next_due(5.0) == 7.0
    group.tick(6.9)
    assert fork.signals == []
    group.tick(7.0)
    assert fork.signals == [(1001, signal.SIGKILL)]
    assert any("daemon process 1001: its Python interpreter has been blocked (GIL held) for "
               "2.0s (deadlock-timeout); killing it" in r.getMessage() for r in caplog.records)
    group.reap(1001, signal.SIGKILL, now=7.1)
    group.tick(7.1)
    assert group.pids() == [1002]


def test_heartbeats_keep_a_process_alive():
    group, fork = running_group(1, "deadlock-timeout=2")
    for now in range(1, 20):
        say(group, 1001, HEARTBEAT, now=float(now))
        group.tick(now + 0.5)
    assert fork.signals == []


def test_a_process_whose_channel_closed_is_not_taken_for_deadlocked():
    # A service script that exec'd another program: no Python, no heartbeats, nothing wrong.
    group, fork = running_group(1, "deadlock-timeout=2")
    group.channel_ended(handle_of(group, 1001))
    group.tick(100.0)
    assert fork.signals == []


def test_deadlock_timeout_0_turns_the_check_off():
    group, fork = running_group(1, "deadlock-timeout=0")
    group.tick(10_000.0)
    assert fork.signals == []


def test_a_process_not_ready_after_startup_and_shutdown_timeout_is_killed(caplog):
    group, fork = make_group(1, "startup-timeout=2", "shutdown-timeout=1")
    group.start(0.0)
    group.tick(0.0)
    group.tick(2.9)
    assert fork.signals == []
    group.tick(3.0)
    assert fork.signals == [(1001, signal.SIGKILL)]
    assert any("was not ready" in r.getMessage() for r in caplog.records)


def test_startup_timeout_does_not_touch_a_ready_process():
    group, fork = running_group(1, "startup-timeout=2", "shutdown-timeout=1")
    group.tick(50.0)
    assert fork.signals == []
