"""The groups a reload takes out of the configuration while older Apache children may still
use them (docs/internals.md, "Graceful restarts").

A group that leaves the configuration on a reload (removed, or moved to a new socket path, as
every group is at each Apache generation with WSGISocketRotation On) is *held*: it keeps
serving, unchanged, as long as an Apache child that was running at the reload (mod_wsgid lists
them in FILE.children) may still connect to its socket, at most OLD_CHILDREN_WAIT; then the
supervisor retires it like any other. This module decides who is held and for how long; the
supervisor owns the groups and does the retiring.
"""

import dataclasses

from wsgid import log
from wsgid.group import Group

logger = log.get_logger("supervisor")

# The longest a group that left the configuration keeps serving the Apache children that were
# running at the reload: one that never goes away (a stuck connection, an endless download) must
# not keep the old generation's daemon processes forever.
OLD_CHILDREN_WAIT = 300.0

# How often the supervisor looks whether those Apache children have exited.
OLD_CHILDREN_CHECK = 0.5

# mod_wsgid writes the pids of the running Apache children to FILE + this, then sends SIGHUP.
APACHE_CHILDREN_SUFFIX = ".children"


class ApacheChildren:
    """The Apache children that may still connect to the sockets of groups leaving the
    configuration: those mod_wsgid listed (FILE.children) when it asked for the reload.

    A child is known by its pid and its start time, and counts as running only while it is
    still a live child of the Apache parent with that start time: a reused pid is not waited for.
    """

    def __init__(self, config_path, apache_pid):
        self.path = config_path + APACHE_CHILDREN_SUFFIX
        self.apache_pid = apache_pid

    def listed(self):
        """{pid: start time} of the listed children that are running; {} without the file."""
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            logger.warning("cannot read %s (%s): groups leaving the configuration stop at once",
                           self.path, exc.strerror or exc)
            return {}
        started = {}
        for line in lines:
            word = line.strip()
            if word.isdigit():
                start_time = self._start_time(int(word))
                if start_time is not None:
                    started[int(word)] = start_time
        return started

    def running(self, known):
        """Those of `known` ({pid: start time}) that are still running."""
        return {pid: start for pid, start in known.items() if self._start_time(pid) == start}

    def _start_time(self, pid):
        import psutil   # here, not at the top: daemon processes are forked without it (memory)
        try:
            child = psutil.Process(pid)
            with child.oneshot():
                if child.ppid() != self.apache_pid or child.status() == psutil.STATUS_ZOMBIE:
                    return None
                return child.create_time()
        except psutil.Error:
            return None


@dataclasses.dataclass
class HeldGroup:
    """A group that left the configuration and keeps serving older Apache children."""

    group: Group
    children: dict        # {pid: start time} of the Apache children that may still use it
    deadline: float       # when it retires even if some of them are still running


def release_reason(held, served_paths, now):
    """Why a held group may retire now (words for the log), or None while it must serve on."""
    if held.group.socket_path in served_paths:
        return "a group of the current configuration serves its socket now"
    if not held.children:
        return "the Apache children that could still connect to it have exited"
    if now >= held.deadline:
        return (f"Apache children {', '.join(map(str, sorted(held.children)))} are still "
                f"running, but it has served them for {OLD_CHILDREN_WAIT:.0f}s "
                "(OLD_CHILDREN_WAIT)")
    return None


class HeldGroups:
    """The held groups of one supervisor. `apache_children` is an ApacheChildren, or None:
    then nothing is ever held (external mode has no Apache children to wait for)."""

    def __init__(self, apache_children):
        self._apache_children = apache_children
        self._held = []             # HeldGroup, in the order they were held
        self._next_check = 0.0

    def groups(self):
        return [held.group for held in self._held]

    def next_due(self):
        """When release() has work to do next, or None while nothing is held."""
        return self._next_check if self._held else None

    def hold(self, leaving, served_paths, now):
        """Of the groups leaving the configuration (`leaving`: (group, why) pairs), hold those
        that Apache children running now may still connect to: no group of the new
        configuration serves their socket (`served_paths`). The others, to retire at once, are
        returned as (group, why)."""
        may_hold = any(group.socket_path not in served_paths for group, _ in leaving)
        children = self._apache_children.listed() if may_hold and self._apache_children else {}
        retire = []
        for group, why in leaving:
            if children and group.socket_path not in served_paths:
                self._held.append(HeldGroup(group, dict(children), now + OLD_CHILDREN_WAIT))
                group.log.info("%s; it keeps serving %s until Apache children %s, running at "
                               "the reload, have exited (at most %.0fs)", why, group.socket_path,
                               ", ".join(map(str, sorted(children))), OLD_CHILDREN_WAIT)
            else:
                retire.append((group, why))
        self._next_check = now + OLD_CHILDREN_CHECK
        return retire

    def release(self, served_paths, now):
        """The held groups that may retire now, as (group, why): their Apache children have
        exited or overstayed, or a current group serves their socket. Looks at most every
        OLD_CHILDREN_CHECK seconds."""
        if not self._held or now < self._next_check:
            return []
        self._next_check = now + OLD_CHILDREN_CHECK
        still_held, retire = [], []
        for held in self._held:
            held.children = self._apache_children.running(held.children)
            why = release_reason(held, served_paths, now)
            if why is None:
                still_held.append(held)
            else:
                retire.append((held.group, f"held after a reload: {why}"))
        self._held = still_held
        return retire

    def release_all(self):
        """Every held group, now (the supervisor stops)."""
        groups, self._held = self.groups(), []
        return groups
