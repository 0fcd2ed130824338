"""While a daemon group backs off, the supervisor answers its waiting connections 503 at once.

A group whose processes keep failing to start (a script that cannot be imported, a preload that
segfaults or calls os._exit, a user= that cannot be switched to) has, between two starts, no
process that accepts on its socket (group.py, RestartBackoff). The module's connect still
succeeds (the supervisor keeps the socket, docs/design.md, contract 4), so without this a request would
wait in the backlog until socket-timeout and get a 504: a hang, as the client sees it. Instead,
while a group `backing_off()`, the supervisor accepts the waiting connections itself and answers
each `503 Service Unavailable` with `Retry-After` (whole seconds until the group's next start).

Rules:
- It answers only while no process of the group could take the connection (group.py decides:
  none alive except those told to stop, and two or more starts failed in a row: after a single
  failure the requests wait for the next start, which may well work). A starting process makes it
  stand back, so a request that a process could serve is never refused.
- Never blocks the supervisor's loop: the listener is non-blocking (sockets.py), an answer is a
  few hundred bytes sent to a fresh connection (whose send buffer is empty), and what the module
  still sends afterwards (its request body) is read only when poll() says it is there. It is
  read and dropped, for at most DRAIN_WAIT, because closing a unix socket with unread data
  resets the peer, which could cost the module the answer it has not read yet.
- Peers are accepted and checked as the daemon processes do it (core.next_queued): a
  stranger gets nothing but one log line.
- One log line per episode, when the group has a process again (or stops): how many
  connections were answered 503.
"""

import functools
import math
import select
import socket

from wsgid import core, sockets
from wsgid.answers import unavailable_answer

# How long an answered connection is read from (and its data dropped) before it is closed.
DRAIN_WAIT = 2.0
# The most bytes read from one answered connection; past it, it is closed at once.
DRAIN_LIMIT = 1 << 20

class _Answered:
    """A connection that got its 503 and is being read until the module closes it."""

    def __init__(self, conn, deadline):
        self.conn = conn
        self.deadline = deadline
        self.dropped = 0


class BackoffAnswerer:
    """The supervisor's side: which listeners to watch, and the answered connections."""

    def __init__(self):
        self._groups = {}      # listener fd -> (group, retry_after) of groups backing off now
        self._answered = {}    # connection fd -> _Answered
        self._counts = {}      # group -> connections answered 503 in the current episode

    def update(self, groups, now):
        """Look which groups are backing off now; log the end of each episode."""
        self._groups = {}
        for group in groups:
            wait = group.backing_off(now)
            if wait is not None:
                self._groups[group.listener.fileno()] = (group, max(1, math.ceil(wait)))
                self._counts.setdefault(group, 0)
        backing_off = {group for group, _ in self._groups.values()}
        for group in [g for g in self._counts if g not in backing_off]:
            answered = self._counts.pop(group)
            if answered:
                group.log.warning("answered %d connections 503 while no daemon process of the "
                                  "group could start", answered)

    def poll_events(self):
        """[(fd, poll events)]: the listeners of groups backing off, the answered connections."""
        return [(fd, select.POLLIN) for fd in list(self._groups) + list(self._answered)]

    def next_due(self):
        return min((a.deadline for a in self._answered.values()), default=None)

    def serve(self, ready_fds, now):
        for fd in [fd for fd in self._answered if fd in ready_fds]:
            self._drain(fd)
        for fd, (group, retry_after) in self._groups.items():
            if fd in ready_fds:
                self._answer_waiting(group, retry_after, now)
        for fd in [fd for fd, a in self._answered.items() if now >= a.deadline]:
            self._close(fd)

    def close(self):
        for fd in list(self._answered):
            self._close(fd)

    def _answer_waiting(self, group, retry_after, now):
        allowed = sockets.allowed_peer_uids(group.spec.socket_uid)
        answer = unavailable_answer(retry_after)
        while True:
            try:
                conn = core.next_queued(group.listener, allowed,
                                        functools.partial(sockets.refuse, group.listener,
                                                          allowed))
            except OSError as exc:
                group.log.error("cannot accept a connection to answer it 503: %s", exc)
                return
            if conn is None:
                return
            try:
                # A fresh connection's send buffer is empty: this never waits.
                conn.send(answer, socket.MSG_DONTWAIT)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                conn.close()
                continue
            self._counts[group] = self._counts.get(group, 0) + 1
            self._answered[conn.fileno()] = _Answered(conn, now + DRAIN_WAIT)

    def _drain(self, fd):
        answered = self._answered[fd]
        try:
            data = answered.conn.recv(65536)   # poll() said there is data, or the end
        except OSError:
            data = b""
        answered.dropped += len(data)
        if not data or answered.dropped > DRAIN_LIMIT:
            self._close(fd)

    def _close(self, fd):
        self._answered.pop(fd).conn.close()
