# The few things the compiled request path (request_path.py) does in C because Python cannot do
# them as cheaply; native.py has the same functions in Python, which the uncompiled request path
# uses. Same names, same behaviour: change one, change the other.
#
# - the clocks: clock_gettime() instead of a call into the time module;
# - the thread id: PyThread_get_thread_ident() instead of threading.get_ident();
# - the accept lock: a C lock that is first tried with the GIL held and only waited for without
#   it, so a request thread that finds it taken costs the others nothing;
# - the wait on the listener: poll() without the GIL, restarted after a signal.

from cpython.pythread cimport (
    NOWAIT_LOCK,
    WAIT_LOCK,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_get_thread_ident,
    PyThread_release_lock,
    PyThread_type_lock,
)
from libc.errno cimport EINTR, errno
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    short POLLIN, POLLOUT, POLLHUP
    int poll(pollfd *fds, unsigned long nfds, int timeout)


cdef inline double monotonic() noexcept:
    """time.monotonic() (CLOCK_MONOTONIC, also perf_counter's clock)."""
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec + now.tv_nsec * 1e-9


cdef inline double wall_clock() noexcept:
    """time.time()."""
    cdef timespec now
    clock_gettime(CLOCK_REALTIME, &now)
    return now.tv_sec + now.tv_nsec * 1e-9


cdef inline unsigned long thread_ident() noexcept:
    """threading.get_ident()."""
    return PyThread_get_thread_ident()


cdef inline PyThread_type_lock new_lock() except NULL:
    cdef PyThread_type_lock lock = PyThread_allocate_lock()
    if lock == NULL:
        raise MemoryError("cannot allocate a lock")
    return lock


cdef inline void free_lock(PyThread_type_lock lock) noexcept:
    if lock != NULL:
        PyThread_free_lock(lock)


cdef inline void acquire_lock(PyThread_type_lock lock) noexcept:
    if not PyThread_acquire_lock(lock, NOWAIT_LOCK):
        with nogil:
            PyThread_acquire_lock(lock, WAIT_LOCK)


cdef inline void release_lock(PyThread_type_lock lock) noexcept:
    PyThread_release_lock(lock)


cdef inline void wait_readable(int fd, int wake_fd, int timeout_ms) noexcept:
    """Without the GIL, until `fd` (skipped when -1) or `wake_fd` is readable, or timeout_ms
    (-1: no limit) has passed."""
    cdef pollfd entries[2]
    cdef int first = 1 if fd < 0 else 0
    entries[0].fd = fd
    entries[0].events = POLLIN
    entries[1].fd = wake_fd
    entries[1].events = POLLIN
    with nogil:
        while True:
            entries[0].revents = 0
            entries[1].revents = 0
            if poll(&entries[first], 2 - first, timeout_ms) >= 0 or errno != EINTR:
                break
