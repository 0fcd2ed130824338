# The types of request_path.py, for Cython: it compiles that file with these declarations, and
# the uncompiled file never sees them. A method declared cdef here is a C call inside the module
# and invisible from Python; what the rest of wsgid calls stays a def in request_path.py.

cimport cython
from wsgid._core cimport Connection, InputStream
from wsgid.native cimport (acquire_lock, free_lock, monotonic, new_lock, release_lock,
                           thread_ident, wait_readable, wall_clock)
from cpython.pythread cimport PyThread_type_lock

cdef Py_ssize_t _response_head_limit


cdef class ResponseCore:
    cdef public object sock
    cdef Connection _connection
    cdef public object events
    cdef public object environ
    cdef object _label
    cdef public object method
    cdef public object status
    cdef public object head
    cdef public bint head_sent
    cdef public object content_length
    cdef public bint frames_wanted
    cdef public bint framed
    cdef public long long body_bytes
    cdef public bint truncated
    cdef public object rejected_head
    cdef public bint error_sent
    cdef public bint lost
    cdef public bint cut_off
    cdef public int own_status
    cdef public bint timed_out
    cdef public bint timeout_answered
    cdef public long long output_writes
    cdef public double output_time
    cdef public object send_lock

    cdef send_body(self, data)
    cdef send_iterable(self, result)
    cdef finish(self)
    cdef int _status_code(self) except -1
    @cython.locals(started=double)
    cdef _send(self, data, bint starts_head)


cdef _respond(app, environ, ResponseCore response)


cdef class RunningRequest:
    cdef public object request_id
    cdef public object url
    cdef public double started
    cdef public object thread_ident
    cdef public object response
    cdef public object outcome
    cdef public bint counts_as_activity


cdef class RequestPath:
    cdef public object base_environ
    cdef public object socket_timeout
    cdef public double queue_timeout
    cdef public object errors
    cdef public object group_name
    cdef public object response_factory
    cdef public long long requests_finished
    cdef public double last_activity
    cdef public dict running_requests
    cdef public object running_lock
    cdef object _request_numbers

    @cython.locals(environ=dict, daemon_start=double, body=InputStream, response=ResponseCore,
                   request=RunningRequest)
    cdef bint _serve(self, sock) except -1
    cdef _run(self, dict environ, InputStream body, ResponseCore response, scope)
    @cython.locals(request=RunningRequest)
    cdef RunningRequest _register(self, dict environ, sock)
    cdef _unregister(self, RunningRequest request, bint finished_request)


@cython.locals(body=InputStream)
cdef bint finish_request_body(sock, body, length, environ) except -1
cdef close_connection(sock)


cdef class AcceptLoop:
    cdef PyThread_type_lock _accept_lock
    cdef public object listener
    cdef int _listener_fd
    cdef public int wake_fd
    cdef public object handle
    cdef public object allowed_uids
    cdef public object refuse
    cdef public bint stopping
    cdef public bint finish_backlog
    cdef public int send_buffer_size
    cdef public int receive_buffer_size
    cdef public long long accepted
    cdef public long long accept_limit
    cdef public long long near_limit
    cdef public object limit_near
    cdef public object limit_reached

    cdef _next_connection(self)
    cdef _count_accept(self)
