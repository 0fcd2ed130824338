"""The core of the request path, chosen once, at import: compiled or not.

Two modules make it: the wire (packet parsing, wsgi.input, head encoding, the daemon's side of
a connection), written in Cython as ``wsgid._core`` with a pure-Python twin ``wsgid._core_py``
that has the same API and behaviour; and the request path's hot half, ``wsgid/request_path.py``,
one source that the build compiles with Cython and that also runs as plain Python.

The uncompiled pair (``_core_py`` and ``request_path.py`` run from its source) is used when the
environment variable WSGID_PUREPYTHON is set to anything but "" or "0" (the test suite runs
everything against both), or when the extensions are not built. ``IMPLEMENTATION`` says which
one this process runs: "cython" or "python"; ``CYTHON_IMPORT_ERROR`` is why the compiled one
could not be imported, when that is the reason. Everything else imports the core from here,
never from ``_core``, ``_core_py`` or ``request_path`` directly, so that a process uses one
implementation throughout (the wire's exception classes are shared anyway). The wire's API is
documented in ``_core.pyi``; the contract is ``docs/protocol.md``.
"""

import importlib
import importlib.util
import os


def uncompiled(name):
    """Module `name` (a module of the wsgid package compiled by the build) run from its .py
    source, as a separate module "<name>_uncompiled": what the pure-Python core runs."""
    module = importlib.import_module("wsgid")
    path = os.path.join(os.path.dirname(module.__file__), name.rpartition(".")[2] + ".py")
    spec = importlib.util.spec_from_file_location(name + "_uncompiled", path)
    source = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(source)
    return source


def _choose_implementation():
    """The core modules for this process (the wire, the request path), and the error that kept
    the compiled ones out, if any."""
    if os.environ.get("WSGID_PUREPYTHON", "") not in ("", "0"):
        return _uncompiled_pair(), None
    try:
        wire = importlib.import_module("wsgid._core")
        request_path = importlib.import_module("wsgid.request_path")
    except ImportError as error:
        # Not built (a source checkout before `make build`): the twin serves, only slower.
        return _uncompiled_pair(), str(error)
    if not request_path.COMPILED:
        return _uncompiled_pair(), "wsgid/request_path.py is not compiled"
    return (wire, request_path), None


def _uncompiled_pair():
    return importlib.import_module("wsgid._core_py"), uncompiled("wsgid.request_path")


(_implementation, _request_path), CYTHON_IMPORT_ERROR = _choose_implementation()
IMPLEMENTATION = "cython" if _implementation.__name__ == "wsgid._core" else "python"

ProtocolError = _implementation.ProtocolError
HeadError = _implementation.HeadError
PacketParser = _implementation.PacketParser
read_request = _implementation.read_request
encode_head = _implementation.encode_head
InputStream = _implementation.InputStream
Connection = _implementation.Connection
accept_connection = _implementation.accept_connection

ResponseCore = _request_path.ResponseCore
RequestPath = _request_path.RequestPath
respond = _request_path.respond
AcceptLoop = _request_path.AcceptLoop
next_queued = _request_path.next_queued
set_response_head_limit = _request_path.set_response_head_limit

FRAME_HEADER = _request_path.FRAME_HEADER
MAX_FRAME = _request_path.MAX_FRAME
ConnectionLost = _request_path.ConnectionLost
describe_request = _request_path.describe_request
log_lost = _request_path.log_lost
queue_wait_exceeded = _request_path.queue_wait_exceeded

__all__ = [
    "IMPLEMENTATION",
    "ProtocolError",
    "HeadError",
    "PacketParser",
    "read_request",
    "encode_head",
    "set_response_head_limit",
    "InputStream",
    "Connection",
    "accept_connection",
    "ResponseCore",
    "RequestPath",
    "respond",
    "AcceptLoop",
    "next_queued",
    "FRAME_HEADER",
    "MAX_FRAME",
    "ConnectionLost",
    "describe_request",
    "log_lost",
    "queue_wait_exceeded",
]
