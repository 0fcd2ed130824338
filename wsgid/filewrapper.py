"""wsgi.file_wrapper: hand a file to the server instead of iterating it in the application.

Rules (PEP 3333, "Optional Platform-Specific File Handling"):
- A FileWrapper is an ordinary iterable of byte blocks of the requested size, so middleware that
  iterates it, and the fallback path of the server, both work.
- close() closes the wrapped object when it has a close() method.
- When the response path gets a FileWrapper back unchanged from the application and the wrapped
  object is a regular file opened in binary mode, it sends the file with the kernel's sendfile
  (see `sendable_file`); anything else is iterated.
"""

import io
import os
import stat

DEFAULT_BLOCK_SIZE = 8192


class FileWrapper:
    """Iterate `filelike` in blocks of `block_size` bytes; close() closes it."""

    def __init__(self, filelike, block_size=DEFAULT_BLOCK_SIZE):
        self.filelike = filelike
        self.block_size = block_size
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        block = self.filelike.read(self.block_size)
        if block:
            return block
        raise StopIteration


def sendable_file(iterable):
    """The file object to give to sendfile when `iterable` is a FileWrapper of a regular binary
    file; None when the response must be iterated instead."""
    if type(iterable) is not FileWrapper:
        return None
    filelike = iterable.filelike
    if isinstance(filelike, io.TextIOBase) or "b" not in getattr(filelike, "mode", "b"):
        return None
    try:
        fd = filelike.fileno()
        return filelike if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except (AttributeError, OSError, ValueError):
        return None
