"""What the compiled request path does in C (``native.pxd``), in Python, for the uncompiled
request path: the clocks, the thread id, the accept lock and the wait on the listener.

``request_path.py`` imports these only when it runs uncompiled; compiled, it takes the functions
of the same names from ``native.pxd``. Same names, same behaviour: change one, change the other.
"""

import select
import threading
import time

monotonic = time.monotonic
wall_clock = time.time
thread_ident = threading.get_ident
new_lock = threading.Lock


def free_lock(lock):
    """A Python lock is freed with its last reference; nothing to do."""


def acquire_lock(lock):
    lock.acquire()


def release_lock(lock):
    lock.release()


def wait_readable(fd, wake_fd, timeout_ms):
    """Until `fd` (skipped when -1) or `wake_fd` is readable, or timeout_ms (-1: no limit) has
    passed. Python retries a poll() that a signal interrupted."""
    poller = select.poll()
    if fd >= 0:
        poller.register(fd, select.POLLIN)
    poller.register(wake_fd, select.POLLIN)
    poller.poll(None if timeout_ms < 0 else timeout_ms)
