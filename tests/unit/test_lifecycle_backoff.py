"""Crash-loop back-off and slot replacement (group.py), with a fake clock and a fake fork.

The fake spawn records what the group would fork; the fake kill records the signals sent. Time
is whatever the test passes as `now`.
"""

import signal

import pytest

from tests.support.lifecycle import make_group
from wsgid import process
from wsgid.group import RestartBackoff
from wsgid.states import ProcessState

WINDOW = process.STARTUP_WINDOW
EXIT_OK = 0
EXIT_CANNOT_LOAD = 3 << 8          # a wait status: exited with status 3
KILLED_BY_SIGKILL = signal.SIGKILL  # a wait status: killed by signal 9


# -- RestartBackoff ------------------------------------------------------------------------------

def test_first_start_and_a_start_after_a_long_life_wait_for_nothing():
    backoff = RestartBackoff()
    assert backoff.next_start_at(now=50.0) == 50.0
    backoff.record_start(50.0)
    backoff.record_exit(uptime=WINDOW + 1)
    assert backoff.next_start_at(now=60.0) == 60.0


def test_failed_starts_double_the_delay_from_a_tenth_of_a_second_up_to_ten_seconds():
    backoff = RestartBackoff(max_starts=1000)
    delays = []
    for _ in range(10):
        backoff.record_exit(uptime=0.5)
        delays.append(backoff.delay)
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0])


def test_a_process_that_stayed_up_resets_the_back_off():
    backoff = RestartBackoff()
    for _ in range(5):
        backoff.record_exit(uptime=0.1)
    assert backoff.delay == pytest.approx(1.6)
    backoff.record_exit(uptime=WINDOW)
    assert backoff.failures == 0 and backoff.delay == 0.0
    backoff.record_exit(uptime=0.1)
    assert backoff.delay == pytest.approx(0.1)


def test_at_most_ten_starts_a_minute():
    backoff = RestartBackoff()
    for second in range(10):
        backoff.record_start(float(second))   # ten starts at t=0..9, each process stays up
        backoff.record_exit(uptime=WINDOW + 1)
    # The 11th start must wait until the first of those ten is a minute old.
    assert backoff.next_start_at(now=20.0) == 60.0
    backoff.record_start(60.0)
    assert backoff.next_start_at(now=61.0) == 61.0


# -- Group ---------------------------------------------------------------------------------------

def test_a_group_starts_its_processes_at_the_first_tick():
    group, fork = make_group(processes=3)
    group.start(now=0.0)
    assert group.next_due(0.0) == 0.0
    group.tick(now=0.0)
    assert group.pids() == [1001, 1002, 1003]
    assert all(h.state is ProcessState.STARTING for h in group.processes())


def test_a_process_is_running_once_it_stayed_up_for_the_startup_window():
    group, fork = make_group(processes=1)
    group.start(0.0)
    group.tick(0.0)
    assert group.next_due(0.0) == WINDOW
    group.tick(WINDOW - 0.01)
    assert group.processes()[0].state is ProcessState.STARTING
    group.tick(WINDOW)
    assert group.processes()[0].state is ProcessState.RUNNING
    assert group.next_due(WINDOW) is None


def test_a_process_that_died_after_running_is_replaced_at_the_next_tick():
    group, fork = make_group(processes=2)
    group.start(0.0)
    group.tick(0.0)
    group.tick(10.0)
    assert group.reap(1001, KILLED_BY_SIGKILL, now=20.0)
    assert group.pids() == [1002]
    assert group.next_due(20.0) == 20.0
    group.tick(20.0)
    assert sorted(group.pids()) == [1002, 1003]


def test_a_pid_of_another_group_is_not_claimed():
    group, fork = make_group(processes=1)
    group.start(0.0)
    group.tick(0.0)
    assert not group.reap(4242, EXIT_OK, now=1.0)
    assert group.pids() == [1001]


def test_a_process_that_keeps_dying_at_start_is_restarted_later_and_later(caplog):
    group, fork = make_group(processes=1)
    group.start(0.0)
    now = 0.0
    group.tick(now)
    start_delays = []
    for _ in range(5):
        pid = group.pids()[0]
        now += 0.05                      # dies 50 ms after it started
        group.reap(pid, EXIT_CANNOT_LOAD, now)
        due = group.next_due(now)
        group.tick(due - 0.001)
        assert group.pids() == []         # not before its time
        group.tick(due)
        start_delays.append(round(due - now, 3))
        now = due
    assert start_delays == [0.1, 0.2, 0.4, 0.8, 1.6]
    messages = [r.getMessage() for r in caplog.records if r.name == "wsgid.group"]
    assert any("exited with status 3 (the application could not be loaded" in m
               and "5 failed starts in a row" in m and "in 1.6s" in m for m in messages)


def test_a_stopping_group_sends_sigterm_then_sigkill_to_overstayers_and_restarts_nothing():
    # a stop drains for shutdown-timeout only (graceful-timeout is for recycles) + the margin = 4 s
    group, fork = make_group(2, "graceful-timeout=1", "shutdown-timeout=3")
    group.start(0.0)
    group.tick(0.0)
    group.stop(now=10.0, why="test")
    assert fork.signals == [(1001, signal.SIGTERM), (1002, signal.SIGTERM)]
    group.reap(1001, EXIT_OK, now=11.0)
    group.tick(11.0)
    assert group.pids() == [1002] and not group.finished
    assert group.next_due(11.0) == 14.0
    group.tick(14.0)
    assert fork.signals[-1] == (1002, signal.SIGKILL)
    group.reap(1002, KILLED_BY_SIGKILL, now=14.1)
    group.tick(30.0)
    assert group.finished and len(fork.spawned) == 2


def test_a_failed_fork_is_retried_with_back_off(caplog):
    group, fork = make_group(processes=1)
    fork.fail_next = 1
    group.start(0.0)
    group.tick(0.0)
    assert group.pids() == []
    assert group.next_due(0.0) == pytest.approx(0.1)
    group.tick(0.1)
    assert group.pids() == [1001]
    assert any("cannot fork a daemon process" in r.getMessage() for r in caplog.records)
