"""A raw client for daemon sockets that expects to be refused: hostile packets, one or thousands.

These functions run in the process that connects (usually a child made by
tests.support.procs.run_as, acting as the Apache child user), and return plain values that
pickle. A refused packet may come back as an empty reply (the daemon closed the connection) or
as a reset (it closed with our bytes unread); both count as "closed".
"""

import itertools
import socket
import threading

from tests.support.wire import recv_until_eof


def exchange(path, payload, timeout=10):
    """Send payload, half-close, read until the daemon closes. Returns the reply bytes, or
    "reset" when the daemon reset the connection (it stopped reading us)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            return recv_until_eof(s)
        except (ConnectionResetError, BrokenPipeError):
            return "reset"


def exchanges(path, payloads, timeout=10):
    """exchange() for each payload in turn; the list of replies."""
    return [exchange(path, payload, timeout) for payload in payloads]


def flood(path, payloads, total, threads=4, timeout=10):
    """Send `total` packets, cycling through `payloads`, from `threads` threads at once.

    Returns {"closed": N, "answered": N, "failures": [first few unexpected errors]}: "closed"
    counts connections the daemon ended without a byte (or reset), "answered" those that got a
    reply (a bad packet must never get one).
    """
    counts = {"closed": 0, "answered": 0, "failures": []}
    lock = threading.Lock()
    jobs = iter(itertools.islice(itertools.cycle(payloads), total))

    def work():
        while True:
            with lock:
                payload = next(jobs, None)
            if payload is None:
                return
            try:
                reply = exchange(path, payload, timeout)
                kind = "closed" if reply in (b"", "reset") else "answered"
            except OSError as exc:
                with lock:
                    if len(counts["failures"]) < 5:
                        counts["failures"].append(repr(exc))
                continue
            with lock:
                counts[kind] += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counts
