"""The daemon process → supervisor channel: one pipe per daemon process, made at fork.

A daemon process tells its supervisor three things, each as one newline-terminated ASCII line:

    ready                    it accepts requests now (its preloads are done)
    heartbeat SERVED ACTIVE  sent about every second by a Python thread: the GIL can be taken.
                             SERVED is the number of requests it has finished, ACTIVE the
                             number its application is running now (decimal; `wsgid status`
                             shows them). A bare `heartbeat` (no counts) is accepted too.
    recycle REASON           it reached a limit, or its script changed (REASON: maximum_requests,
                             memory_limit, script_changed, ...)
                             and asks to be replaced; it goes when the supervisor grants it
                             (SIGUSR2)

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
from typing import Optional

from wsgid import log

logger = log.get_logger("channel")

READY = "ready"
HEARTBEAT = "heartbeat"
RECYCLE = "recycle"

# Longest line accepted; more without a newline is garbage and is thrown away.
MAX_LINE = 200
_REASON_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")
# A heartbeat count has at most this many digits: a 64-bit counter fits, and MAX_LINE is safe.
MAX_COUNT_DIGITS = 19


@dataclasses.dataclass(frozen=True)
class Message:
    kind: str              # READY, HEARTBEAT or RECYCLE
    reason: str = ""       # for RECYCLE: the shutdown reason the daemon asks for
    served: Optional[int] = None   # for HEARTBEAT: requests finished so far (None: not sent)
    active: Optional[int] = None   # for HEARTBEAT: requests running now (None: not sent)

    def encode(self):
        return (self.kind + _argument_text(self)).encode("ascii") + b"\n"


def _argument_text(message):
    if message.reason:
        return f" {message.reason}"
    if message.served is not None:
        return f" {heartbeat_counts(message.served, message.active)}"
    return ""


def heartbeat_counts(served, active):
    """The argument of a `heartbeat` line: DaemonEnd.send(HEARTBEAT, heartbeat_counts(...))."""
    return f"{int(served)} {int(active)}"


def _count(word):
    # Plain ASCII digits only: int() alone would also take '+1', ' 1', '1_000' and '١'.
    if word and len(word) <= MAX_COUNT_DIGITS and word.isascii() and word.isdigit():
        return int(word)
    return None


def parse_line(line):
    """A Message from one line (without its newline), or None if the line is not one."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        return None
    kind, _, argument = text.partition(" ")
    if kind == READY and not argument:
        return Message(kind)
    if kind == HEARTBEAT:
        if not argument:
            return Message(kind)
        words = argument.split(" ")
        counts = [_count(word) for word in words]
        if len(counts) == 2 and None not in counts:
            return Message(kind, served=counts[0], active=counts[1])
        return None
    if kind == RECYCLE and argument and set(argument) <= _REASON_CHARS:
        return Message(kind, argument)
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

    def send(self, kind, argument=""):
        """Send one message: its kind and the text after it (a recycle's REASON, a heartbeat's
        counts from heartbeat_counts()); False if it could not be sent (pipe full or closed)."""
        line = f"{kind} {argument}" if argument else kind
        try:
            os.write(self.fd, line.encode("ascii") + b"\n")
        except (OSError, UnicodeEncodeError):
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
