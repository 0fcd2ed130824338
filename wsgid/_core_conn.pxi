# Included by _core.pyx: the daemon's side of one connection on a daemon socket.
#
# Why this is not Python's socket object: under load, eight request threads take turns on one
# GIL, and every system call a Python socket makes releases the GIL and takes it back, which is
# a hand-off to another thread and back (two context switches) whenever another thread wants it.
# With a timeout set, a Python socket also poll()s before every recv() and send(). A request used
# about nine such hand-offs; here it is normally one (the wait on the listener, in pool.py):
# - accept() on the non-blocking listener and SO_PEERCRED are one quick call with the GIL held
#   (neither can block);
# - the accepted socket is non-blocking (accept4 SOCK_NONBLOCK): recv(), send() and sendfile()
#   are tried with the GIL held, and only when one would wait is the GIL released around a
#   poll() for the socket, bounded by socket-timeout, after which the call is tried again. The
#   module sends the whole packet right after connecting and a small response fits in the
#   socket buffer, so the common request never waits;
# - settimeout() (socket-timeout) only records the limit: no system call per connection;
# - shutdown() and close() of a unix socket never block, so they keep the GIL too (which also
#   means a time_out() from the monitor thread can never shut down a descriptor number that
#   close() has just released for reuse).
# A poll() that runs out of socket-timeout raises TimeoutError("timed out"), as a Python socket
# does.

from cpython.exc cimport PyErr_SetFromErrno
from libc.errno cimport EAGAIN, ECONNABORTED, EINTR, ENETDOWN, EPROTO, errno
from posix.types cimport off_t

cdef extern from "<errno.h>" nogil:
    int EWOULDBLOCK

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    int SOL_SOCKET, SO_PEERCRED, SOCK_CLOEXEC, SOCK_NONBLOCK
    int MSG_DONTWAIT, MSG_NOSIGNAL, SHUT_RD, SHUT_WR, SHUT_RDWR
    int accept4(int fd, void *addr, socklen_t *addrlen, int flags)
    int getsockopt(int fd, int level, int name, void *value, socklen_t *length)
    ssize_t recv(int fd, void *buf, size_t length, int flags)
    ssize_t send(int fd, const void *buf, size_t length, int flags)
    int shutdown(int fd, int how)
    struct ucred:
        int pid
        unsigned int uid
        unsigned int gid

cdef extern from "<sys/sendfile.h>" nogil:
    ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)

cdef extern from "<unistd.h>" nogil:
    int close(int fd)

# One sendfile() call moves at most this much, so that a huge file does not hold one call long.
cdef size_t SENDFILE_CHUNK = 1 << 30


cdef object raise_socket_error(bint timed_out):
    """Raise TimeoutError when a wait ran out of socket-timeout, else the OSError for errno."""
    if timed_out:
        raise TimeoutError("timed out")
    PyErr_SetFromErrno(OSError)
    return None


cdef inline bint would_block() noexcept nogil:
    return errno == EAGAIN or errno == EWOULDBLOCK


cdef int wait_for(int fd, short events, int timeout_ms) noexcept nogil:
    """Wait (call without the GIL) until `fd` is ready for `events` or has hung up or failed:
    1; 0 when timeout_ms (-1: no limit) ran out first; -1 with errno on failure. A signal
    restarts the wait."""
    cdef pollfd entry
    cdef int ready
    entry.fd = fd
    entry.events = events
    while True:
        entry.revents = 0
        ready = poll(&entry, 1, timeout_ms)
        if ready >= 0 or errno != EINTR:
            return ready


cdef class Connection:
    """One accepted connection of a daemon socket; the subset of the socket API the request
    path uses, with the GIL held for every call that cannot block. Its descriptor is
    non-blocking (accept_connection makes it so)."""

    def __cinit__(self, int fd):
        self._fd = fd
        self._timeout = None
        self._timeout_ms = -1

    def __dealloc__(self):
        if self._fd >= 0:
            close(self._fd)

    def fileno(self):
        return self._fd

    def gettimeout(self):
        return self._timeout

    def settimeout(self, timeout):
        """Blocking calls wait at most `timeout` seconds for progress (None: no limit); then
        they raise TimeoutError. Only recorded: makes no system call."""
        cdef double seconds = 0.0 if timeout is None else timeout
        if seconds < 0:
            raise ValueError("Timeout value out of range")
        if timeout is not None and seconds == 0:
            raise ValueError("a Connection always blocks; give a timeout > 0 or None")
        if timeout is None:
            self._timeout_ms = -1
        else:
            # Rounded up, so that a short timeout still waits (poll() counts milliseconds).
            self._timeout_ms = <int>min(seconds * 1000.0 + 0.999, 2147483647.0)
        self._timeout = timeout

    cdef int wait(self, short events) except -1:
        """Release the GIL until the socket is ready for `events`; TimeoutError after
        socket-timeout."""
        cdef int fd = self._fd
        cdef int timeout_ms = self._timeout_ms
        cdef int ready
        with nogil:
            ready = wait_for(fd, events, timeout_ms)
        if ready <= 0:
            raise_socket_error(ready == 0)
        return 0

    def recv(self, Py_ssize_t size):
        """Up to `size` bytes; b'' once the peer has shut down its side."""
        cdef ssize_t received
        cdef bytes data
        if size < 0:
            raise ValueError("negative buffersize in recv")
        data = PyBytes_FromStringAndSize(NULL, size)
        while True:
            received = recv(self._fd, PyBytes_AS_STRING(data), size, MSG_DONTWAIT)
            if received >= 0:
                break
            if errno == EINTR:
                continue
            if not would_block():
                return raise_socket_error(False)
            self.wait(POLLIN)
        if received != size:
            return data[:received]  # a copy of what came; the big buffer goes back at once
        return data

    cdef int send_all(self, const char *start, size_t left) except -1:
        """send() until all of it went, waiting (without the GIL) whenever the socket is full."""
        cdef ssize_t sent
        while left:
            sent = send(self._fd, start, left, MSG_DONTWAIT | MSG_NOSIGNAL)
            if sent >= 0:
                start += sent
                left -= sent
            elif errno == EINTR:
                continue
            elif would_block():
                self.wait(POLLOUT)
            else:
                raise_socket_error(False)
        return 0

    cpdef sendall(self, data):
        """Send all of `data` (any bytes-like object)."""
        cdef Py_buffer view
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            self.send_all(<const char *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    def send(self, data, int flags=0):
        """One send() call; how many bytes went (MSG_DONTWAIT in flags: never waits)."""
        cdef Py_buffer view
        cdef ssize_t sent
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            while True:
                sent = send(self._fd, view.buf, view.len, flags | MSG_DONTWAIT | MSG_NOSIGNAL)
                if sent >= 0:
                    return sent
                if errno == EINTR:
                    continue
                if not would_block() or (flags & MSG_DONTWAIT):
                    raise_socket_error(False)
                self.wait(POLLOUT)
        finally:
            PyBuffer_Release(&view)

    def sendfile(self, file, Py_ssize_t offset=0, count=None):
        """Send `count` bytes (None: to the end) of regular file `file` from `offset` with
        sendfile(2), as socket.sendfile() does: returns the bytes sent and leaves the file
        position after them. The GIL is released around each call (it reads the disk)."""
        cdef int out_fd = self._fd
        cdef int in_fd = file.fileno()
        cdef off_t position = offset
        cdef long long left = -1 if count is None else count
        cdef size_t chunk
        cdef ssize_t sent = 0
        cdef long long total = 0
        cdef int failure = 0  # the errno that ended it
        try:
            while left != 0:
                with nogil:
                    while left != 0:
                        chunk = SENDFILE_CHUNK if left < 0 or <unsigned long long>left > SENDFILE_CHUNK \
                            else <size_t>left
                        sent = sendfile(out_fd, in_fd, &position, chunk)
                        if sent < 0:
                            if errno == EINTR:
                                continue
                            failure = errno
                            break
                        if sent == 0:
                            left = 0  # end of the file
                            break
                        total += sent
                        if left > 0:
                            left -= sent
                if failure == EAGAIN or failure == EWOULDBLOCK:
                    failure = 0
                    self.wait(POLLOUT)  # the socket is full: wait for room, then go on
                elif failure:
                    errno = failure
                    raise_socket_error(False)
        finally:
            if total:
                file.seek(offset + total)
        return total

    def shutdown(self, int how):
        if shutdown(self._fd, how) < 0:
            raise_socket_error(False)

    def close(self):
        cdef int fd = self._fd
        self._fd = -1
        if fd >= 0:
            close(fd)  # unix sockets: never blocks, EINTR still closes it

    def __repr__(self):
        return f"<wsgid Connection fd={self._fd} timeout={self._timeout}>"


def accept_connection(listener):
    """Accept one connection from the non-blocking `listener`: (Connection, peer uid), or None
    when there was nothing to accept (another process won the race, or the client went away).

    The peer uid is -1 when its credentials could not be read. Other accept() failures (EMFILE,
    ...) raise OSError for the caller to back off.
    """
    return accept_from(listener.fileno())


cdef object accept_from(int listener_fd):
    """accept_connection() on a descriptor."""
    cdef int fd
    cdef ucred credentials
    cdef socklen_t length = sizeof(credentials)
    fd = accept4(listener_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)
    if fd < 0:
        if errno in (EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO, ENETDOWN):
            return None
        return raise_socket_error(False)
    connection = Connection(fd)
    if getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0:
        return connection, -1
    return connection, credentials.uid
