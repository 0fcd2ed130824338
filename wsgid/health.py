"""Health sockets: what mod_wsgid's `wsgid-health` handler asks the supervisor about a group.

Only the supervisor knows whether a group has a process ready to take a request, is starting,
backing off or draining; a daemon thread could not say it under load (every thread busy, the
question queued behind requests). So next to each group socket PATH the supervisor binds a
twin, `sockets.health_socket_path(PATH)` (`PATH.hc` for `PATH.sock`), with the same owner and
mode (sockets.py): whoever may send the group requests may ask about it, and nobody else. The module knows a group's socket path in
managed and in external mode alike, so it finds the twin the same way in both.

A connection is the question: the supervisor answers at accept, without reading, with one line
and one JSON document, then closes:

    200 (or 503)\\n
    {"group": "site", "state": "ready", "processes": 2, "ready": 2, "starting": 0, "stopping": 0}

`state` is `ready` (a process of the group has said it accepts requests and is not stopping:
200), else `draining` (the group or the supervisor is stopping), `backing_off` (no process can
start; with `retry_after`, seconds), or `starting` (503 each). A supervisor that is gone has no
listener on the twin: the module answers 503 `down` itself (docs/operations.md, "Health").

Rules:
- Never blocks the supervisor's loop: the listeners are non-blocking (sockets.py), the answer
  is a few hundred bytes sent to a fresh connection (whose send buffer is empty), and nothing is
  read, so closing at once cannot reset the peer.
- Peers are accepted and checked as the daemon processes do it (`next_queued`): a stranger
  gets nothing but one log line.
- A twin that cannot be bound costs the group nothing but its health answers: one error line,
  and the handler answers 503 `down` for it.
"""

import functools
import json
import select
import socket

from wsgid import core, log, sockets
from wsgid.states import ProcessState

logger = log.get_logger("health")

HEALTH_BACKLOG = 16


def group_state(groups, now, supervisor_stopping):
    """(HTTP status, document) for the groups that serve one socket path (the group of the
    current configuration, and held ones of earlier configurations that share its path)."""
    handles = [h for group in groups for h in group.processes()]
    live = [h for h in handles if h.state is not ProcessState.STOPPING]
    ready = sum(1 for h in live if h.ready)
    waits = [w for w in (group.backing_off(now) for group in groups) if w is not None]
    if supervisor_stopping or all(group.stopping for group in groups):
        state = "draining"
    else:
        state = "ready" if ready else "backing_off" if waits else "starting"
    document = {"group": groups[0].name, "state": state,
                "processes": groups[0].spec.options["processes"], "ready": ready,
                "starting": len(live) - ready, "stopping": len(handles) - len(live)}
    if state == "backing_off":
        document["retry_after"] = round(min(waits), 1)
    return (200 if state == "ready" else 503), document


def encode_answer(status, document):
    return f"{status}\n{json.dumps(document, separators=(', ', ': '))}\n".encode()


class HealthServer:
    """The supervisor's side: one twin listener per group socket path, served from its loop
    (poll_events() for its poll, serve() with what poll() found ready)."""

    def __init__(self):
        self._listeners = {}   # group socket path -> (twin listener, allowed peer uids)

    def bind(self, path, owner_uid, owner_gid, group_name):
        """Bind the twin of the group socket `path`, owned as the group socket is."""
        twin = sockets.health_socket_path(path)
        try:
            listener = sockets.bind_listener(twin, HEALTH_BACKLOG, owner_uid, owner_gid)
        except sockets.ListenerError as exc:
            log.group_logger(group_name).error(
                "no health socket, so `SetHandler wsgid-health` answers 503 'down' for this "
                "group: %s", exc)
            return
        self._listeners[path] = (listener, sockets.allowed_peer_uids(owner_uid))

    def set_owner(self, path, owner_uid, owner_gid):
        """A reload kept the group socket `path` and gave it this owner: the twin follows."""
        entry = self._listeners.get(path)
        if entry is not None:
            sockets.set_owner(sockets.health_socket_path(path), owner_uid, owner_gid)
            self._listeners[path] = (entry[0], sockets.allowed_peer_uids(owner_uid))

    def close(self, path):
        entry = self._listeners.pop(path, None)
        if entry is not None:
            entry[0].close()
            sockets.remove_socket_file(sockets.health_socket_path(path))

    def close_all(self):
        for path in list(self._listeners):
            self.close(path)

    def poll_events(self):
        return [(listener.fileno(), select.POLLIN) for listener, _ in self._listeners.values()]

    def serve(self, ready_fds, groups_of_path, now, supervisor_stopping):
        """Answer every queued connection of the twins poll() found ready; `groups_of_path(path)`
        gives the groups serving a socket path."""
        for path, (listener, allowed) in self._listeners.items():
            if listener.fileno() not in ready_fds:
                continue
            groups = groups_of_path(path)
            # no group left on the path (its twin closes at the next pass): draining
            answer = encode_answer(*group_state(groups, now, supervisor_stopping)) if groups \
                else encode_answer(503, {"group": None, "state": "draining"})
            self._answer_waiting(listener, allowed, answer)

    def _answer_waiting(self, listener, allowed, answer):
        while True:
            try:
                conn = core.next_queued(listener, allowed,
                                        functools.partial(sockets.refuse, listener, allowed))
            except OSError as exc:
                logger.error("cannot accept a health question: %s", exc)
                return
            if conn is None:
                return
            try:
                # A fresh connection's send buffer is empty: this never waits.
                conn.send(answer, socket.MSG_DONTWAIT)
            except OSError:
                pass   # the asker is gone already
            conn.close()
