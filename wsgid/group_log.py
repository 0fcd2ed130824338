"""A daemon group's own error log (error-log=): opened by the supervisor, the stderr of the
group's daemon processes.

mod_wsgi writes a daemon group's lines to the ErrorLog of the <VirtualHost> that defines it.
mod_wsgid passes that log to the supervisor as the group's error-log= option (a file, or
`|command` for a piped log); a configuration may also give the option itself, in Apache or in
external mode's file.

Rules:
- The supervisor opens each distinct error-log= once, before the group's first fork, as the user
  it runs as (root when Apache starts it, as Apache opens its logs), and shares it between the
  groups that name it. A log that no group names any more is closed (GroupLogs.release_unused,
  the rule of the listeners).
- A file is opened for appending (O_APPEND: the lines of many processes never overwrite each
  other) and created mode 0640 if it is missing.
- A piped log runs its command with /bin/sh -c (`|$command` and `|command` alike), its stdin the
  read end of a pipe whose write end the daemon processes get. The supervisor holds both ends,
  so a logger that exits is started again on the same pipe (at most once a second) and no
  daemon process ever writes into a broken pipe. Closing the log closes both ends: the logger
  sees end of file once the last daemon process has gone, and is waited for, briefly.
- At a reload (Apache's graceful restart, which logrotate's scripts run after moving the logs
  away) each file is opened again, and when its path names another file now, every group that
  writes to it gets new processes that write there: the groups a reload replaces anyway (all
  of them with WSGISocketRotation On) and, by a graceful restart, those it keeps. mod_wsgi
  restarts its daemons at every graceful restart, which reopens their log the same way.
- A daemon process gets the log as its descriptor 2, and as 1 when its stdout is joined to
  stderr (not a kept terminal, interpreter.settle_standard_descriptors), so wsgid's lines, the
  application's and what C code writes land there. The supervisor's own lines about the group
  stay in its stderr, the main error log, as the Apache parent's about mod_wsgi's daemons do.
"""

import os
import select
import signal
import sys
import time

from wsgid import log

logger = log.get_logger("group_log")

# The least time between two starts of a piped logger that keeps exiting.
PIPED_RESTART_INTERVAL = 1.0

# How long closing a piped log waits for its logger to read the end and exit.
PIPED_EXIT_WAIT = 2.0


class GroupLog:
    """One open error-log= value: fileno() is what the daemon processes write to."""

    def __init__(self, spec):
        self.spec = spec
        self.command = spec[1:].lstrip("$").strip() if spec.startswith("|") else None
        self._write_fd = None
        self._read_fd = None
        self.pid = None                # the piped logger's
        self._started_at = None
        self._restart_due = None       # when a logger that exited young is started again

    def open(self):
        """Open the file, or the pipe and its logger; raises OSError."""
        if self.command is None:
            self._write_fd = _open_log_file(self.spec)
            return
        self._read_fd, self._write_fd = os.pipe()
        self._start_logger()

    def reopen_if_replaced(self):
        """For a file: open the path again; True when it is another file now (logrotate moved
        the old one away), whose writers must then be replaced to write to the new one."""
        if self.command is None:
            fresh = _open_log_file(self.spec)
            if os.path.sameopenfile(fresh, self._write_fd):
                os.close(fresh)
                return False
            os.close(self._write_fd)
            self._write_fd = fresh
            return True
        return False

    def fileno(self):
        return self._write_fd

    def _start_logger(self):
        # Its own process group, default signal handling, nothing blocked: a logger as Apache
        # would start it, which the supervisor's Ctrl-C (or its SIGHUP) does not reach.
        self.pid = os.posix_spawn(
            "/bin/sh", ["/bin/sh", "-c", self.command], os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, self._read_fd, 0)],
            setpgroup=0, setsigmask=(), setsigdef=tuple(signal.valid_signals() - {
                signal.SIGKILL, signal.SIGSTOP}))
        self._started_at = time.monotonic()
        self._restart_due = None
        logger.info("error log %s: piped logger started, pid %d", self.spec, self.pid)

    def reaped(self, pid, wait_status, now):
        """True when `pid` was this log's logger; it is started again (now, or once due)."""
        if pid != self.pid:
            return False
        self.pid = None
        if self._read_fd is None:          # closed meanwhile: it was told to go
            return True
        young = time.monotonic() - self._started_at < PIPED_RESTART_INTERVAL
        logger.warning("error log %s: the piped logger %s; starting it again%s", self.spec,
                       _describe(wait_status), " in a second" if young else "")
        if young:
            self._restart_due = now + PIPED_RESTART_INTERVAL
        else:
            self._restart(now)
        return True

    def tick(self, now):
        if self._restart_due is not None and now >= self._restart_due:
            self._restart(now)

    def next_due(self):
        return self._restart_due

    def _restart(self, now):
        try:
            self._start_logger()
        except OSError as exc:
            logger.error("error log %s: cannot start the piped logger (%s); trying again in a "
                         "second", self.spec, exc.strerror)
            self._restart_due = now + PIPED_RESTART_INTERVAL

    def close(self):
        for fd in (self._write_fd, self._read_fd):
            if fd is not None:
                os.close(fd)
        self._write_fd = self._read_fd = None
        self._restart_due = None
        if self.pid is not None:
            _wait_for_exit(self.pid, PIPED_EXIT_WAIT)
            self.pid = None


def follow_main_log(path):
    """ErrorLog of the daemon configuration (the main server's, from mod_wsgid): make
    descriptor 2, and 1 where it is joined to 2, that file as the path names it now. True when
    that is another file than the one they were (logrotate moved it away): processes forked
    from now on write to the new one. Raises OSError when it cannot be opened."""
    fresh = _open_log_file(path)
    try:
        if os.path.sameopenfile(fresh, 2):
            return False
        joined = os.path.sameopenfile(1, 2)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fresh, 2)
        if joined:
            os.dup2(fresh, 1)
        return True
    finally:
        os.close(fresh)


class GroupLogs:
    """The supervisor's open error-log= values, by value."""

    def __init__(self):
        self.logs = {}

    def for_spec(self, spec):
        """The open log for an error-log= value (None: the supervisor's own stderr); raises
        OSError when it cannot be opened."""
        if spec is None:
            return None
        opened = self.logs.get(spec)
        if opened is None:
            opened = GroupLog(spec)
            opened.open()
            self.logs[spec] = opened
        return opened

    def release_unused(self, in_use):
        for spec in set(self.logs) - set(in_use):
            self.logs.pop(spec).close()

    def reaped(self, pid, wait_status, now):
        return any(opened.reaped(pid, wait_status, now) for opened in self.logs.values())

    def tick(self, now):
        for opened in self.logs.values():
            opened.tick(now)

    def next_due(self):
        due = [d for d in (opened.next_due() for opened in self.logs.values()) if d is not None]
        return min(due, default=None)

    def reopen_replaced(self):
        """The values whose file was replaced since it was opened (now open anew); one that
        cannot be opened keeps the old file, with a line that says so."""
        replaced = []
        for spec, opened in self.logs.items():
            try:
                if opened.reopen_if_replaced():
                    replaced.append(spec)
            except OSError as exc:
                logger.error("error log %s: cannot open it again (%s); still writing to the "
                             "file opened before", spec, exc.strerror)
        return replaced

    def close_all(self):
        self.release_unused(())


def _open_log_file(path):
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)


def _describe(wait_status):
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def _wait_for_exit(pid, timeout):
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        # readable once the process has exited
        if select.select([handle], [], [], timeout)[0]:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            return
    finally:
        os.close(handle)
    logger.warning("piped logger %d did not exit after its log was closed; leaving it", pid)
