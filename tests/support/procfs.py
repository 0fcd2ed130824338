"""What the kernel says about a process, read from /proc (not from the process itself).

Rules: only /proc/PID files are read, so the numbers do not depend on the code under test;
a process that is gone raises FileNotFoundError / ProcessLookupError for the caller to judge.
"""

import os
from dataclasses import dataclass


def status(pid):
    """/proc/PID/status as {field: text}."""
    with open(f"/proc/{pid}/status") as f:
        return {name: value.strip() for name, _, value in
                (line.partition(":") for line in f.read().splitlines())}


@dataclass(frozen=True)
class Identity:
    """A process's credentials: (real, effective, saved, filesystem) uids and gids, and its
    supplementary groups."""

    uids: tuple
    gids: tuple
    groups: frozenset
    effective_capabilities: int
    permitted_capabilities: int


def identity(pid):
    fields = status(pid)
    return Identity(uids=tuple(int(x) for x in fields["Uid"].split()),
                    gids=tuple(int(x) for x in fields["Gid"].split()),
                    groups=frozenset(int(x) for x in fields["Groups"].split()),
                    effective_capabilities=int(fields["CapEff"], 16),
                    permitted_capabilities=int(fields["CapPrm"], 16))


@dataclass(frozen=True)
class Footprint:
    """What a leak would grow: open descriptors, threads, resident memory (KiB)."""

    fds: int
    threads: int
    rss_kib: int


def footprint(pid):
    fields = status(pid)
    return Footprint(fds=len(os.listdir(f"/proc/{pid}/fd")),
                     threads=int(fields["Threads"]),
                     rss_kib=int(fields["VmRSS"].split()[0]))
