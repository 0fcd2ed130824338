"""The daemon process → supervisor channel: one pipe per daemon process, made at fork.

A daemon process tells its supervisor three things, each as one newline-terminated ASCII line:

    ready              it accepts requests now (its preloads are done)
    heartbeat          sent about every second by a Python thread: the GIL can be taken
    recycle REASON     it reached a limit (REASON: maximum_requests, memory_limit, ...) and
                       asks to be replaced; it goes when the supervisor grants it (SIGUSR2)

The supervisor answers with signals, never through this pipe (docs/signals.md).

Rules:
- Lines are far shorter than PIPE_BUF, so each write() is atomic: lines from several threads
  never interleave.
- The daemon side never blocks: if the pipe is full (a supervisor that stopped reading), a
  message is dropped; the supervisor notices the silence itself (deadlock-timeout).
- The supervisor side never blocks either: it reads what is there when select() says so, and
  keeps an incomplete line for the next read. A line it does not understand is logged once per
  channel and skipped, so a confused (or exec'd) daemon cannot disturb the supervisor.
- End of file means the daemon's end is closed: it exited, or it exec'd another program (the
  write end is close-on-exec). Either way no more messages come.
"""

import dataclasses
import os

from wsgid import log

logger = log.get_logger("channel")

READY = "ready"
HEARTBEAT = "heartbeat"
RECYCLE = "recycle"

# Longest line accepted; more without a newline is garbage and is thrown away.
MAX_LINE = 200
_REASON_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")


@dataclasses.dataclass(frozen=True)
class Message:
    kind: str              # READY, HEARTBEAT or RECYCLE
    reason: str = ""       # for RECYCLE: the shutdown reason the daemon asks for

    def encode(self):
        text = f"{self.kind} {self.reason}" if self.reason else self.kind
        return text.encode("ascii") + b"\n"


def parse_line(line):
    """A Message from one line (without its newline), or None if the line is not one."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        return None
    kind, _, reason = text.partition(" ")
    if kind in (READY, HEARTBEAT) and not reason:
        return Message(kind)
    if kind == RECYCLE and reason and set(reason) <= _REASON_CHARS:
        return Message(kind, reason)
    return None


def split_lines(buffer):
    """(complete lines, the unfinished rest) of the bytes read so far."""
    *lines, rest = buffer.split(b"\n")
    return lines, rest


def open_pipe():
    """(read end, write end), both close-on-exec; the supervisor's end is non-blocking."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    return read_fd, write_fd


class DaemonEnd:
    """The daemon process's end: send messages, never block, never raise."""

    def __init__(self, write_fd):
        self.fd = write_fd
        os.set_blocking(write_fd, False)

    def send(self, kind, reason=""):
        """Send one message; False if it could not be sent (pipe full or closed)."""
        try:
            os.write(self.fd, Message(kind, reason).encode())
        except OSError:
            return False
        return True


class SupervisorEnd:
    """The supervisor's end for one daemon process: read whatever messages have arrived."""

    def __init__(self, read_fd, pid=None):
        self.fd = read_fd
        self.pid = pid
        self.closed = False
        self._buffer = b""
        self._complained = False

    def fileno(self):
        return self.fd

    def read_messages(self):
        """The complete messages available now. At end of file the channel closes itself."""
        chunks = []
        while True:
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self.close()
                break
            chunks.append(data)
        lines, self._buffer = split_lines(self._buffer + b"".join(chunks))
        if len(self._buffer) > MAX_LINE:
            self._bad_line(self._buffer[:MAX_LINE])
            self._buffer = b""
        messages = []
        for line in lines:
            message = parse_line(line)
            if message is None:
                self._bad_line(line)
            else:
                messages.append(message)
        return messages

    def _bad_line(self, line):
        if not self._complained:
            self._complained = True
            logger.warning("daemon process %s sent %r on its supervisor channel, which is not a "
                           "wsgid message; ignoring it (and any more like it)", self.pid,
                           line[:80])

    def close(self):
        if not self.closed:
            self.closed = True
            os.close(self.fd)
