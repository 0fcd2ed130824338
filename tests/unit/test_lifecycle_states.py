"""The daemon process state machine (process.py, states.py): allowed moves, refused moves,
the signals a handle sends, and how an exit is put into words. No processes: kill() is a fake."""

import os
import signal

import pytest

from wsgid.process import ProcessHandle, describe_wait_status
from wsgid.states import (ALLOWED_TRANSITIONS, ExitCode, InvalidTransition, ProcessState,
                          describe_exit_code)

ALL_MOVES = [(a, b) for a in ProcessState for b in ProcessState]


def make_handle(sent, started_at=100.0):
    def fake_kill(pid, signum):
        sent.append((pid, signum))
    return ProcessHandle(4242, "example", 0, started_at, kill=fake_kill)


def handle_in(state):
    handle = make_handle([])
    handle.state = state
    return handle


@pytest.mark.parametrize("old,new", [m for m in ALL_MOVES if m[1] in ALLOWED_TRANSITIONS[m[0]]])
def test_allowed_transition_changes_the_state(old, new):
    handle = handle_in(old)
    handle.change_state(new)
    assert handle.state is new


@pytest.mark.parametrize("old,new",
                         [m for m in ALL_MOVES if m[1] not in ALLOWED_TRANSITIONS[m[0]]])
def test_refused_transition_raises_and_keeps_the_state(old, new):
    handle = handle_in(old)
    with pytest.raises(InvalidTransition, match=f"{old.value} -> {new.value}"):
        handle.change_state(new)
    assert handle.state is old


def test_the_lifecycle_runs_one_way_and_exited_is_final():
    assert ALLOWED_TRANSITIONS[ProcessState.EXITED] == frozenset()
    assert ProcessState.STARTING not in set().union(*ALLOWED_TRANSITIONS.values())


def test_request_stop_sends_sigterm_once_and_sets_the_kill_deadline():
    sent = []
    handle = make_handle(sent)
    handle.request_stop(now=200.0, timeout=5.0)
    handle.request_stop(now=201.0, timeout=5.0)
    assert sent == [(4242, signal.SIGTERM)]
    assert handle.state is ProcessState.STOPPING
    assert handle.stop_deadline == 205.0


def test_kill_sends_sigkill_once_and_not_after_exit():
    sent = []
    handle = make_handle(sent)
    handle.kill()
    handle.kill()
    assert sent == [(4242, signal.SIGKILL)]
    sent.clear()
    other = make_handle(sent)
    other.exited(0, now=101.0)
    other.kill()
    other.request_stop(now=102.0, timeout=5.0)
    assert sent == []


def test_a_process_that_vanished_is_not_an_error_to_signal():
    def gone(pid, signum):
        raise ProcessLookupError(pid)
    handle = ProcessHandle(4242, "example", 0, 0.0, kill=gone)
    handle.request_stop(now=1.0, timeout=5.0)
    assert handle.state is ProcessState.STOPPING


def test_uptime_counts_until_the_exit():
    handle = make_handle([], started_at=100.0)
    assert handle.uptime(now=102.5) == 2.5
    handle.exited(0, now=103.0)
    assert handle.uptime(now=500.0) == 3.0
    assert not handle.alive


def wait_status_of_exit(code):
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return os.waitpid(pid, 0)[1]


def wait_status_of_signal(signum):
    pid = os.fork()
    if pid == 0:
        try:
            os.kill(os.getpid(), signum)
        finally:
            os._exit(99)
    return os.waitpid(pid, 0)[1]


def test_describe_wait_status_names_the_exit_code_meaning():
    text = describe_wait_status(wait_status_of_exit(ExitCode.CANNOT_LOAD))
    assert text.startswith("exited with status 3 (the application could not be loaded")


def test_describe_wait_status_names_the_signal():
    assert describe_wait_status(wait_status_of_signal(signal.SIGKILL)) == "was killed by SIGKILL"


def test_an_unknown_exit_code_is_said_to_be_foreign():
    assert "does not use" in describe_exit_code(42)
    assert describe_exit_code(0) == "stopped normally"
