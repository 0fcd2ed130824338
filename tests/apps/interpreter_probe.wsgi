"""Reports, as JSON, what the daemon's interpreter settings look like from inside an
application (tests/integration/test_interpreter_settings.py)."""

import atexit
import ctypes
import json
import os
import signal
import socket
import sys
import threading
import warnings

import mod_wsgi

# What signal.signal() does for an application (WSGIRestrictSignal).
def _on_winch(signum, frame):
    pass


SIGNAL_RETURNED = signal.signal(signal.SIGWINCH, _on_winch)
SIGNAL_INSTALLED = signal.getsignal(signal.SIGWINCH) is _on_winch

# WSGIDestroyInterpreter: this file appears when the process's exit runs atexit callbacks.
MARK_DIRECTORY = os.environ.get("PROBE_MARK_DIRECTORY")


def _leave_mark():
    if MARK_DIRECTORY:
        with open(os.path.join(MARK_DIRECTORY, f"atexit.{os.getpid()}"), "w") as mark:
            mark.write("ran")


atexit.register(_leave_mark)


def _stream_use(stream):
    try:
        stream.fileno()
        return "usable"
    except OSError as exc:
        return str(exc)


def _thread_stack_size():
    libc = ctypes.CDLL(None)
    attr = ctypes.create_string_buffer(128)
    size = ctypes.c_size_t()
    libc.pthread_getattr_np(ctypes.c_ulong(threading.get_ident()), attr)
    libc.pthread_attr_getstacksize(attr, ctypes.byref(size))
    libc.pthread_attr_destroy(attr)
    return size.value


def _connection_buffers():
    """SO_SNDBUF/SO_RCVBUF of the connected (not listening) unix stream sockets."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with sock:
            if sock.family != socket.AF_UNIX or sock.getsockopt(socket.SOL_SOCKET,
                                                                  socket.SO_ACCEPTCONN):
                continue
            found.append([sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                          sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)])
    return found


def application(environ, start_response):
    metrics = mod_wsgi.server_metrics()
    body = json.dumps({
        "optimize": sys.flags.optimize,
        "hash_seed": os.environ.get("PYTHONHASHSEED"),
        "dont_write_bytecode": sys.dont_write_bytecode,
        "warning_filters": [[f[0], f[2].__name__] for f in warnings.filters[:3]],
        "stdin": _stream_use(sys.stdin),
        "stdout": _stream_use(sys.stdout),
        "signal_returned_handler": SIGNAL_RETURNED is _on_winch,
        "signal_installed": SIGNAL_INSTALLED,
        "egg_cache": os.environ.get("PYTHON_EGG_CACHE"),
        "stack_size": _thread_stack_size(),
        "buffers": _connection_buffers(),
        "server_metrics": metrics,
        "module_name": __name__,
        "path_info": environ.get("PATH_INFO"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
