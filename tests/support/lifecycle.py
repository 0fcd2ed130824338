"""Fakes for the unit tests of the lifecycle (group.py, supervisor.py): a fork that hands out
pids without forking, and a group built on it."""

import types

from wsgid.group import Group
from wsgid.options import parse_daemon_process
from wsgid.process import ProcessHandle


class FakeFork:
    """Stands in for process.spawn: hands out pids and records the signals the group sends."""

    def __init__(self):
        self.next_pid = 1000
        self.signals = []
        self.spawned = []
        self.fail_next = 0

    def __call__(self, spec, config, listener, slot, now, error_log=None):
        if self.fail_next:
            self.fail_next -= 1
            raise BlockingIOError(11, "Resource temporarily unavailable")
        self.next_pid += 1
        handle = ProcessHandle(self.next_pid, spec.name, slot, now,
                               kill=lambda pid, sig: self.signals.append((pid, sig)))
        self.spawned.append(handle)
        return handle


def make_group(processes=2, *options):
    """A group with the options a directive `processes=N OPTIONS...` gives (deadlock-timeout=0
    unless given, so that these tests only see the back-off's deadlines)."""
    if not any(o.startswith("deadlock-timeout=") for o in options):
        options += ("deadlock-timeout=0",)
    _, values = parse_daemon_process(["example", f"processes={processes}", *options],
                                     running_ids=(1000, 1000))
    spec = types.SimpleNamespace(name="example", socket_path="/run/example.sock", options=values)
    fork = FakeFork()
    return Group(spec, config=None, listener=None, spawn=fork), fork
