"""The wire core of the request path: the Cython module ``wsgid._core`` or its pure-Python twin
``wsgid._core_py``, chosen once, at import.

The twin is used when the environment variable WSGID_PUREPYTHON is set to anything but "" or
"0" (the test suite runs everything against both), or when the extension is not built.
``IMPLEMENTATION`` says which one this process runs: "cython" or "python".
Everything else imports the core from here, never from ``_core``/``_core_py`` directly, so that a
process uses one implementation throughout (their exception classes are shared anyway).
The API is documented in ``_core.pyi``; the contract is ``docs/protocol.md``.
"""

import os

if os.environ.get("WSGID_PUREPYTHON", "") not in ("", "0"):
    _cython_import_error = "WSGID_PUREPYTHON is set"
    from wsgid._core_py import (  # noqa: F401
        HeadError,
        InputStream,
        PacketParser,
        ProtocolError,
        encode_head,
        read_request,
    )

    IMPLEMENTATION = "python"
else:
    try:
        from wsgid._core import (  # noqa: F401
            HeadError,
            InputStream,
            PacketParser,
            ProtocolError,
            encode_head,
            read_request,
        )
    except ImportError as error:
        # Not built (a source checkout before `make build`): the twin serves, only slower.
        _cython_import_error = str(error)
        from wsgid._core_py import (  # noqa: F401
            HeadError,
            InputStream,
            PacketParser,
            ProtocolError,
            encode_head,
            read_request,
        )

        IMPLEMENTATION = "python"
    else:
        _cython_import_error = None
        IMPLEMENTATION = "cython"

__all__ = [
    "IMPLEMENTATION",
    "ProtocolError",
    "HeadError",
    "PacketParser",
    "read_request",
    "encode_head",
    "InputStream",
]
