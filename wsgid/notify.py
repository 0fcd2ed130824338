"""Tell systemd how the supervisor is doing: the sd_notify protocol, without libsystemd.

Under a `Type=notify` unit, systemd puts the path of a datagram socket in `NOTIFY_SOCKET` (a file
path, or `@name` for Linux's abstract namespace). Each notification is one datagram of
newline-separated `KEY=VALUE` lines: `READY=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=text`.

Rules:
- Without `NOTIFY_SOCKET` every call is a no-op; so is everything in managed mode, where the
  variable, if any, belongs to Apache's own unit (the supervisor is not that unit's main process).
- The variable is removed from os.environ when it is read: the daemon processes the supervisor
  forks and the applications they run must not talk to systemd in the supervisor's name.
- Sending never blocks (a full receive queue is a failed send) and never raises: notifications
  are advice to systemd, and a site must not stop being served because systemd is not listening.
  A failed send is one log line; further failures stay quiet until a send succeeds again.
"""

import os
import socket
import time

from wsgid import log

logger = log.get_logger("notify")

ENVIRONMENT_VARIABLE = "NOTIFY_SOCKET"


def socket_address(value):
    """The address to send to for a NOTIFY_SOCKET value, or None if it is not one we can use.

    `@name` is the abstract socket `\\0name`; an absolute path is a socket file. (systemd 254's
    `vsock:` addresses are for virtual machines, not for a service on the host.)
    """
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


class Notifier:
    """Sends notifications to one NOTIFY_SOCKET address; `Notifier(None)` sends nothing."""

    def __init__(self, address):
        self.address = address
        self._failing = False

    @classmethod
    def from_environment(cls, use=True):
        """Take NOTIFY_SOCKET out of os.environ; a Notifier for it if `use`, else a no-op one."""
        value = os.environ.pop(ENVIRONMENT_VARIABLE, None)
        if not use or not value:
            return cls(None)
        address = socket_address(value)
        if address is None:
            logger.warning("%s=%r is neither an absolute path nor @name; systemd will not hear "
                           "from this supervisor", ENVIRONMENT_VARIABLE, value)
        return cls(address)

    @property
    def enabled(self):
        return self.address is not None

    def ready(self, status=None):
        """Every group accepts requests (at start, or after a reload)."""
        self.send("READY=1", status=status)

    def reloading(self, status=None):
        """A reload begins; ready() follows when the reloaded groups accept requests."""
        # systemd 253+ wants the time of the reload with RELOADING=1 (Type=notify-reload) and
        # ignores it otherwise.
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}", status=status)

    def stopping(self, status=None):
        """A stop begins."""
        self.send("STOPPING=1", status=status)

    def status(self, text):
        """What `systemctl status` shows on its Status: line."""
        self.send(status=text)

    def send(self, *assignments, status=None):
        """One datagram of `assignments` (and STATUS=status); True if it was sent."""
        if self.address is None:
            return False
        lines = list(assignments)
        if status is not None:
            # A value ends at the newline; the rest would read as an assignment of its own.
            lines.append("STATUS=" + " ".join(str(status).split()))
        if not lines:
            return False
        message = ("\n".join(lines) + "\n").encode("utf-8", errors="replace")
        try:
            # A socket per message: they are few, and no descriptor is left for the daemon
            # processes to inherit at fork.
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                sender.setblocking(False)
                sender.sendto(message, self.address)
        except OSError as exc:
            if not self._failing:
                logger.warning("cannot notify systemd on %s (%s): %s; carrying on without it",
                               self._printable_address(), exc.strerror or exc,
                               " ".join(assignments) or "STATUS")
            self._failing = True
            return False
        self._failing = False
        return True

    def _printable_address(self):
        return "@" + self.address[1:] if self.address.startswith("\0") else self.address
