"""The daemon's watchdog decisions (monitor.py) with a fake clock, handler, memory and channel.

`Monitor.check(now)` is called directly; the fakes record what it asks for."""

import sys
import threading
import types

from wsgid import daemon
from wsgid.channel import HEARTBEAT
from wsgid.monitor import Limits, Monitor, capture_thread_stacks, format_thread_stacks


class FakeHandler:
    def __init__(self):
        self.requests_finished = 0
        self.last_activity = 0.0
        self.requests = []
        self.timed_out = []

    def running(self):
        return list(self.requests)

    def time_out(self, request_id):
        self.timed_out.append(request_id)
        return "answered 504"


class FakeChannel:
    def __init__(self):
        self.sent = []

    def send(self, kind, reason=""):
        self.sent.append(kind)
        return True


class FakeWorker:
    def __init__(self):
        self.recycles = []
        self.startup_timeouts = []
        self.cpu_time_exceeded = False

    def ask_recycle(self, reason, words, stop_accepting):
        self.recycles.append((reason, stop_accepting))

    def startup_timed_out(self, words):
        self.startup_timeouts.append(words)


def make_monitor(rss=10_000_000, ready=True, **limits):
    worker, channel, handler = FakeWorker(), FakeChannel(), FakeHandler()
    memory = {"rss": rss}
    monitor = Monitor(Limits(**limits), started_at=0.0, channel=channel, actions=worker,
                      read_rss=lambda: memory["rss"])
    monitor.attach(handler)
    if ready:
        monitor.mark_ready()
    return monitor, worker, handler, channel, memory


def request(request_id, started, thread_ident=1, counts_as_activity=True):
    return types.SimpleNamespace(request_id=request_id, url=f"/r/{request_id}", started=started,
                                 thread_ident=thread_ident,
                                 counts_as_activity=counts_as_activity)


def test_heartbeats_go_out_about_every_second_whatever_else_happens():
    monitor, worker, handler, channel, _ = make_monitor(ready=False)
    for now in (0.0, 0.5, 1.0, 1.5, 2.0, 2.5):
        monitor.check(now)
    assert channel.sent == [HEARTBEAT] * 3


def test_no_limit_set_means_no_recycle_ever():
    monitor, worker, handler, _, memory = make_monitor()
    handler.requests_finished = 10 ** 6
    memory["rss"] = 10 ** 12
    monitor.check(10 ** 6)
    assert worker.recycles == []


def test_restart_interval_counts_from_the_process_start():
    monitor, worker, _, _, _ = make_monitor(restart_interval=3.0)
    monitor.check(2.9)
    assert worker.recycles == []
    monitor.check(3.0)
    assert worker.recycles == [("restart_interval", False)]


def test_inactivity_timeout_needs_no_running_request_and_no_recent_activity():
    monitor, worker, handler, _, _ = make_monitor(inactivity_timeout=2.0)
    handler.last_activity = 5.0
    monitor.check(6.9)
    assert worker.recycles == []
    handler.requests = [request("busy", started=5.0)]
    monitor.check(20.0)                  # a request is running: that is activity
    assert worker.recycles == []
    handler.requests = []
    monitor.check(20.0)
    assert worker.recycles == [("inactivity_timeout", False)]


def test_a_request_under_wsgi_ignore_activity_does_not_keep_the_process_alive():
    monitor, worker, handler, _, _ = make_monitor(inactivity_timeout=2.0)
    handler.last_activity = 5.0
    handler.requests = [request("health", started=19.0, counts_as_activity=False)]
    monitor.check(20.0)
    assert worker.recycles == [("inactivity_timeout", False)]


def test_memory_limit_compares_resident_memory():
    monitor, worker, _, _, memory = make_monitor(memory_limit=100_000_000, rss=99_999_999)
    monitor.check(1.0)
    assert worker.recycles == []
    memory["rss"] = 100_000_000
    monitor.check(1.5)
    assert worker.recycles == [("memory_limit", False)]


def test_sigxcpu_recorded_by_the_worker_becomes_a_cpu_time_limit_recycle():
    monitor, worker, _, _, _ = make_monitor()
    monitor.check(1.0)
    worker.cpu_time_exceeded = True
    monitor.check(1.5)
    assert worker.recycles == [("cpu_time_limit", False)]


def test_limits_wait_until_the_process_is_ready():
    monitor, worker, handler, _, _ = make_monitor(ready=False, restart_interval=1.0)
    monitor.check(5.0)
    assert worker.recycles == []
    monitor.mark_ready()
    monitor.check(5.5)
    assert worker.recycles == [("restart_interval", False)]


def test_startup_timeout_ends_a_process_that_is_not_ready_in_time():
    monitor, worker, _, _, _ = make_monitor(ready=False, startup_timeout=2.0)
    monitor.check(1.9)
    assert worker.startup_timeouts == []
    monitor.check(2.0)
    assert len(worker.startup_timeouts) == 1 and "startup-timeout=2" in \
        worker.startup_timeouts[0]


def test_a_ready_process_is_never_ended_by_startup_timeout():
    monitor, worker, _, _, _ = make_monitor(startup_timeout=2.0)
    monitor.check(100.0)
    assert worker.startup_timeouts == []


def test_request_timeout_answers_the_overdue_requests_and_recycles_without_accepting():
    monitor, worker, handler, _, _ = make_monitor(request_timeout=2.0)
    handler.requests = [request("old", started=1.0), request("new", started=2.5)]
    monitor.check(3.0)
    assert handler.timed_out == ["old"]
    assert worker.recycles == [("request_timeout", True)]
    monitor.check(3.5)                  # "old" is not answered twice
    assert handler.timed_out == ["old"]
    monitor.check(4.5)
    assert handler.timed_out == ["old", "new"]
    assert monitor.timed_out_requests == {"old", "new"}


def test_request_timeout_with_several_threads_averages_over_them_as_mod_wsgi_4_6():
    # A lone slow request in a process of 4 threads runs 4 x request-timeout before it is ended.
    monitor, worker, handler, _, _ = make_monitor(request_timeout=2.0, threads=4)
    handler.requests = [request("slow", started=0.0)]
    monitor.check(7.9)
    assert handler.timed_out == [] and worker.recycles == []
    monitor.check(8.1)
    assert handler.timed_out == ["slow"]
    assert worker.recycles == [("request_timeout", True)]


def test_request_timeout_ends_each_request_at_the_limit_when_every_thread_is_that_busy():
    monitor, worker, handler, _, _ = make_monitor(request_timeout=2.0, threads=4)
    handler.requests = [request(f"r{n}", started=0.0, thread_ident=n) for n in range(4)]
    handler.requests.append(request("young", started=2.0, thread_ident=9))
    monitor.check(2.1)
    assert handler.timed_out == ["r0", "r1", "r2", "r3"]   # "young" has not run that long


def test_a_request_timeout_after_another_recycle_was_asked_still_stops_accepting():
    monitor, worker, handler, _, _ = make_monitor(restart_interval=1.0, request_timeout=2.0)
    monitor.check(1.0)
    handler.requests = [request("stuck", started=1.0)]
    monitor.check(3.0)
    assert worker.recycles == [("restart_interval", False), ("request_timeout", True)]


def test_stack_dump_shows_each_threads_executing_line_and_full_id():
    started = threading.Event()
    release = threading.Event()

    def parked():
        started.set()
        release.wait(10)  # PARKED-LINE

    thread = threading.Thread(target=parked, name="parked-thread")
    thread.start()
    try:
        started.wait(10)
        lines = format_thread_stacks(requests_by_thread={thread.ident: "request R1 /x"})
    finally:
        release.set()
        thread.join()
    ident = thread.ident
    title = f'thread {ident} (0x{ident:x}) "parked-thread", serving request R1 /x, most ' \
            "recent call last:"
    assert title in lines
    block = lines[lines.index(title) + 1:]
    parked_line = parked.__code__.co_firstlineno + 2
    assert f'  File "{__file__}", line {parked_line}, in parked' in block
    assert "    release.wait(10)  # PARKED-LINE" in block
    me = threading.get_ident()
    assert any(line.startswith(f"thread {me} (0x{me:x}) \"MainThread\"") for line in lines)


def test_captured_stacks_cover_every_thread_outermost_first():
    stacks = capture_thread_stacks()
    assert set(stacks) == set(sys._current_frames())
    mine = stacks[threading.get_ident()]
    assert mine[-1][2] == "capture_thread_stacks"
    assert mine[-2][2] == "test_captured_stacks_cover_every_thread_outermost_first"


OPTIONS = {"maximum-requests": 7, "restart-interval": 1.5, "inactivity-timeout": 2.5,
           "request-timeout": 3.5, "startup-timeout": 4.5, "memory-limit": 99, "threads": 1}


def test_limits_are_read_from_the_group_options():
    assert Limits.from_options(OPTIONS) == Limits(1.5, 2.5, 3.5, 4.5, 99, threads=1)
    assert daemon._limits_for(dict(OPTIONS, threads=4)) == Limits(1.5, 2.5, 3.5, 4.5, 99,
                                                                   threads=4)


def test_service_mode_keeps_only_the_limits_on_the_process_itself():
    # threads=0 serves no requests: request counts, idleness and request times mean nothing.
    assert daemon._limits_for(dict(OPTIONS, threads=0)) == Limits(
        restart_interval=1.5, startup_timeout=4.5, memory_limit=99)
