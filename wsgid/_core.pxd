# The C-level face of the wire core (_core.pyx): the two types the compiled request path
# (request_path.py, typed by request_path.pxd) works with directly. Their methods are in
# _core.pyx and _core_conn.pxi.

cimport cython
from wsgid.native cimport POLLHUP, POLLIN, POLLOUT, monotonic, poll, pollfd


cdef class InputStream:
    cdef object _recv
    cdef object _sock
    cdef bytearray _buffer
    cdef long long _unreceived  # body bytes still on the socket; -1: until EOF
    cdef bint _eof
    cdef readonly long long bytes_read
    cdef readonly long long reads   # recv() calls for the body (mod_wsgi's input_reads)
    cdef readonly double read_time  # seconds spent in them (input_time)

    cdef bytes _recv_body(self, Py_ssize_t size)
    cdef bytes _take(self, Py_ssize_t size)


@cython.final
cdef class Connection:
    cdef int _fd
    cdef object _timeout  # socket-timeout in seconds, or None
    cdef int _timeout_ms  # the same for poll(): -1 for no limit

    cdef int wait(self, short events) except -1
    cdef int send_all(self, const char *start, size_t left) except -1
    cpdef sendall(self, data)
