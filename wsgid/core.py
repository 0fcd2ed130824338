"""The core of the request path: the Cython module ``wsgid._core`` or its pure-Python twin
(``wsgid._core_py`` for the wire, ``wsgid._core_py_request`` for the request path's hot half),
chosen once, at import.

The twin is used when the environment variable WSGID_PUREPYTHON is set to anything but "" or
"0" (the test suite runs everything against both), or when the extension is not built.
``IMPLEMENTATION`` says which one this process runs: "cython" or "python";
``CYTHON_IMPORT_ERROR`` is why the extension could not be imported, when that is the reason.
Everything else imports the core from here, never from ``_core``/``_core_py`` directly, so that a
process uses one implementation throughout (their exception classes are shared anyway).
The API is documented in ``_core.pyi``; the contract is ``docs/protocol.md``.
"""

import importlib
import os


def _choose_implementation():
    """The core modules for this process (the wire, the request path), and the error that kept
    the Cython one out, if any."""
    if os.environ.get("WSGID_PUREPYTHON", "") not in ("", "0"):
        return _twin(), None
    try:
        core = importlib.import_module("wsgid._core")
        return (core, core), None
    except ImportError as error:
        # Not built (a source checkout before `make build`): the twin serves, only slower.
        return _twin(), str(error)


def _twin():
    return (importlib.import_module("wsgid._core_py"),
            importlib.import_module("wsgid._core_py_request"))


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

# The same objects in both implementations (the Cython core imports them from the twin).
from wsgid._core_py_request import (  # noqa: E402
    FRAME_HEADER,
    MAX_FRAME,
    ConnectionLost,
    describe_request,
    log_lost,
    queue_wait_exceeded,
)

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
