# Included by _core.pyx: the daemon's side of one connection on a daemon socket.
#
# Why this is not Python's socket object: under load, eight request threads take turns on one
# GIL, and every system call a Python socket makes releases the GIL and takes it back, which is
# a hand-off to another thread and back (two context switches) whenever another thread wants it.
# With a timeout set, a Python socket also poll()s before every recv() and send(). A request used
# about nine such hand-offs; here it is normally one (the wait on the listener, in pool.py):
# - accept() on the non-blocking listener, SO_PEERCRED and the timeouts are one quick call with
#   the GIL held (none of them can block);
# - recv() and send() are first tried without waiting (MSG_DONTWAIT) with the GIL held, and only
#   when that would wait is the GIL released around the blocking call. The module sends the
#   whole packet right after connecting and a small response fits in the socket buffer, so the
#   common request never waits;
# - shutdown() and close() of a unix socket never block, so they keep the GIL too (which also
#   means a time_out() from the monitor thread can never shut down a descriptor number that
#   close() has just released for reuse).
# settimeout() (socket-timeout) sets SO_RCVTIMEO/SO_SNDTIMEO, so a blocking call waits at most
# that long for progress; running out raises TimeoutError("timed out"), as a Python socket does.

from cpython.exc cimport PyErr_SetFromErrno
from libc.errno cimport EAGAIN, ECONNABORTED, EINTR, ENETDOWN, EPROTO, errno
from posix.types cimport off_t

cdef extern from "<errno.h>" nogil:
    int EWOULDBLOCK

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    int SOL_SOCKET, SO_PEERCRED, SO_RCVTIMEO, SO_SNDTIMEO, SOCK_CLOEXEC
    int MSG_DONTWAIT, MSG_NOSIGNAL, SHUT_RD, SHUT_WR, SHUT_RDWR
    int accept4(int fd, void *addr, socklen_t *addrlen, int flags)
    int getsockopt(int fd, int level, int name, void *value, socklen_t *length)
    int setsockopt(int fd, int level, int name, const void *value, socklen_t length)
    ssize_t recv(int fd, void *buf, size_t length, int flags)
    ssize_t send(int fd, const void *buf, size_t length, int flags)
    int shutdown(int fd, int how)
    struct ucred:
        int pid
        unsigned int uid
        unsigned int gid

cdef extern from "<sys/time.h>" nogil:
    struct timeval:
        long tv_sec
        long tv_usec

cdef extern from "<sys/sendfile.h>" nogil:
    ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)

cdef extern from "<unistd.h>" nogil:
    int close(int fd)

# One sendfile() call moves at most this much, so that a huge file does not hold one call long.
cdef size_t SENDFILE_CHUNK = 1 << 30


cdef object raise_socket_error(bint blocking_call):
    """Raise the OSError for errno after a failed call; after a blocking call EAGAIN means that
    SO_RCVTIMEO/SO_SNDTIMEO ran out."""
    if blocking_call and (errno == EAGAIN or errno == EWOULDBLOCK):
        raise TimeoutError("timed out")
    PyErr_SetFromErrno(OSError)
    return None


cdef ssize_t recv_waiting(int fd, char *buffer, size_t size) noexcept nogil:
    """recv() that may wait (call without the GIL); retried when a signal interrupts it."""
    cdef ssize_t received
    while True:
        received = recv(fd, buffer, size, 0)
        if received >= 0 or errno != EINTR:
            return received


cdef ssize_t send_waiting(int fd, const char *data, size_t length, int flags) noexcept nogil:
    """send() that may wait (call without the GIL); retried when a signal interrupts it."""
    cdef ssize_t sent
    while True:
        sent = send(fd, data, length, flags | MSG_NOSIGNAL)
        if sent >= 0 or errno != EINTR:
            return sent


cdef class Connection:
    """One accepted connection of a daemon socket; the subset of the socket API the request
    path uses, with the GIL held for every call that cannot block."""

    cdef int _fd
    cdef object _timeout  # socket-timeout in seconds, or None

    def __cinit__(self, int fd):
        self._fd = fd
        self._timeout = None

    def __dealloc__(self):
        if self._fd >= 0:
            close(self._fd)

    def fileno(self):
        return self._fd

    def gettimeout(self):
        return self._timeout

    def settimeout(self, timeout):
        """Blocking calls wait at most `timeout` seconds for progress (None: no limit); then
        they raise TimeoutError. Sets SO_RCVTIMEO and SO_SNDTIMEO; never blocks."""
        cdef timeval limit
        cdef double seconds = 0.0 if timeout is None else timeout
        if seconds < 0:
            raise ValueError("Timeout value out of range")
        if timeout is not None and seconds == 0:
            raise ValueError("a Connection always blocks; give a timeout > 0 or None")
        limit.tv_sec = <long>seconds
        limit.tv_usec = <long>((seconds - limit.tv_sec) * 1000000)
        if timeout is not None and limit.tv_sec == 0 and limit.tv_usec == 0:
            limit.tv_usec = 1  # 0 would mean "no limit" to the kernel
        if (setsockopt(self._fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)) < 0 or
                setsockopt(self._fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)) < 0):
            raise_socket_error(False)
        self._timeout = timeout

    def recv(self, Py_ssize_t size):
        """Up to `size` bytes; b'' once the peer has shut down its side."""
        cdef int fd = self._fd
        cdef ssize_t received
        cdef bytes data
        cdef char *buffer
        if size < 0:
            raise ValueError("negative buffersize in recv")
        data = PyBytes_FromStringAndSize(NULL, size)
        buffer = PyBytes_AS_STRING(data)
        received = recv(fd, buffer, size, MSG_DONTWAIT)
        if received < 0 and (errno == EAGAIN or errno == EWOULDBLOCK):
            with nogil:
                received = recv_waiting(fd, buffer, size)
            if received < 0:
                return raise_socket_error(True)
        elif received < 0:
            return raise_socket_error(False)
        if received != size:
            return data[:received]  # a copy of what came; the big buffer goes back at once
        return data

    def sendall(self, data):
        """Send all of `data` (any bytes-like object)."""
        cdef Py_buffer view
        cdef const char *start
        cdef size_t left
        cdef ssize_t sent
        cdef int fd = self._fd
        cdef bint failed = False
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            start = <const char *>view.buf
            left = view.len
            sent = send(fd, start, left, MSG_DONTWAIT | MSG_NOSIGNAL)
            if sent < 0:
                if errno != EAGAIN and errno != EWOULDBLOCK:
                    raise_socket_error(False)
                sent = 0
            start += sent
            left -= sent
            if left:
                with nogil:
                    while left:
                        sent = send_waiting(fd, start, left, 0)
                        if sent < 0:
                            failed = True
                            break
                        start += sent
                        left -= sent
                if failed:
                    raise_socket_error(True)
        finally:
            PyBuffer_Release(&view)

    def send(self, data, int flags=0):
        """One send() call; how many bytes went (MSG_DONTWAIT in flags: never waits)."""
        cdef Py_buffer view
        cdef ssize_t sent
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            sent = send(self._fd, view.buf, view.len, flags | MSG_DONTWAIT | MSG_NOSIGNAL)
            if sent < 0 and (errno == EAGAIN or errno == EWOULDBLOCK) and not (flags & MSG_DONTWAIT):
                with nogil:
                    sent = send_waiting(self._fd, <const char *>view.buf, view.len, flags)
                if sent < 0:
                    raise_socket_error(True)
            elif sent < 0:
                raise_socket_error(False)
        finally:
            PyBuffer_Release(&view)
        return sent

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
        cdef bint failed = False
        with nogil:
            while left != 0:
                chunk = SENDFILE_CHUNK if left < 0 or <unsigned long long>left > SENDFILE_CHUNK \
                    else <size_t>left
                sent = sendfile(out_fd, in_fd, &position, chunk)
                if sent < 0:
                    if errno == EINTR:
                        continue
                    failed = True
                    break
                if sent == 0:
                    break  # end of the file
                total += sent
                if left > 0:
                    left -= sent
        if total:
            file.seek(offset + total)
        if failed:
            raise_socket_error(True)
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
    cdef int fd
    cdef ucred credentials
    cdef socklen_t length = sizeof(credentials)
    fd = accept4(listener.fileno(), NULL, NULL, SOCK_CLOEXEC)
    if fd < 0:
        if errno in (EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO, ENETDOWN):
            return None
        return raise_socket_error(False)
    connection = Connection(fd)
    if getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0:
        return connection, -1
    return connection, credentials.uid
