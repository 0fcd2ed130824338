"""The request threads of one daemon process.

Each of the `threads=` threads runs the core's AcceptLoop: wait until the group's listening
socket is readable or the pool is stopping, accept, check the peer, and hand the connection to
the request handler, which serves it completely and closes it. This module starts and stops the
threads; the loop itself is in the core (``request_path.py``, compiled), so that no Python runs
between two requests of a thread.

Rules:
- The listening socket is shared by every daemon process of the group and owned by the
  supervisor. Stopping a pool never shutdown()s or closes it (that would stop it for the other
  processes and lose queued connections); a pool stops through its own wake-up pipe. The one
  exception is a daemon whose supervisor is gone (stop(finish_backlog=True)): the socket dies
  with the group then, so it is made to refuse new connections and its queue is served.
- Inside one process only one idle thread at a time waits on the listener (the accept lock), so
  a new connection wakes one thread per process instead of all of them. Across processes the
  losers of the accept() race get EAGAIN and simply wait again.
- A busy thread does not wait on the listener: when all threads are busy, new connections stay
  queued in the listen backlog, where the next free thread of any process picks them up.
- The wait is a poll() of the listener and the wake-up pipe, made without the GIL by the holder
  of the accept lock only. (Trying accept() before poll() was measured: with as many
  connections as threads the backlog is mostly empty, and the failed accept() cost more than
  the poll() it saved.)
"""

import functools
import os
import socket
import threading

from wsgid import core, log, sockets

logger = log.get_logger("pool")


class RequestThreadPool:
    """`threads` threads serving connections from `listener` with `handle(conn)`."""

    def __init__(self, listener, handle, threads, allowed_uids, name="wsgid-request",
                 send_buffer_size=0, receive_buffer_size=0):
        self._listener = listener
        self._wake_r, self._wake_w = os.pipe()
        self._loop = core.AcceptLoop(listener, self._wake_r, handle, allowed_uids,
                                     functools.partial(sockets.refuse, listener, allowed_uids))
        # send-buffer-size= / receive-buffer-size=: set on each accepted connection (0: the
        # system's), since a unix connection does not inherit them from the listener.
        self._loop.send_buffer_size = send_buffer_size
        self._loop.receive_buffer_size = receive_buffer_size
        self._threads = [threading.Thread(target=self._loop.run, name=f"{name}-{i}",
                                          daemon=True)
                         for i in range(threads)]

    def start(self):
        for thread in self._threads:
            thread.start()

    def limit_accepts(self, limit, near, limit_near, limit_reached):
        """maximum-requests: accept `limit` connections at most (see the core's AcceptLoop)."""
        self._loop.limit_accepts(limit, near, limit_near, limit_reached)

    def stop(self, finish_backlog=False):
        """Stop accepting: every thread finishes its current connection and leaves its loop.

        finish_backlog is for a daemon whose supervisor is gone, so that nobody else will serve
        this socket: the listener is first made to refuse new connections (shutdown(SHUT_RD) on
        a unix listener: a connect() then fails at once, and the module retries it within
        connect-timeout against the supervisor Apache starts next; a connection queued when the
        last copy of a listener is closed would be reset instead, a 502), and the connections
        already queued are served before the threads leave.
        """
        if finish_backlog:
            try:
                self._listener.shutdown(socket.SHUT_RD)
                self._loop.finish_backlog = True
            except OSError as exc:
                logger.warning("cannot make the daemon socket refuse new connections: %s", exc)
        self._loop.stopping = True
        # The byte is never read: the pipe stays readable, so every waiting thread sees it.
        os.write(self._wake_w, b"x")

    def release_listener(self):
        """After stop(): close this process's copy of the listening socket.

        close() of an inherited descriptor affects only this process (unlike shutdown()); once
        no stopping daemon holds a copy, a killed supervisor's socket is really gone and a new
        supervisor can take over its path at once. After stop(finish_backlog=True) the threads
        still accept what is queued, so the copy stays until the process exits (it refuses new
        connections already, which is all a new supervisor needs).
        """
        if self._loop.finish_backlog:
            return
        self._loop.close_listener()   # under the accept lock: no thread is in poll() on it

    def threads_in_loop(self):
        """How many threads have not left their loop: after stop(), each of them is serving a
        connection, taking one from the backlog, or on its way out."""
        return sum(thread.is_alive() for thread in self._threads)
