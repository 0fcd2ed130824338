"""Restart a daemon process when the code it imported changes: start-server --reload-on-changes.

start-server writes SERVER_ROOT/reloader.py, a WSGIImportScript of the application's group that
calls start(): every daemon process of the group then runs one thread that looks, once per
interval, at the file of every module in sys.modules. When one changes (its mtime or size is not
what it was when first seen), or disappears, the thread logs which and sends the process
SIGINT: mod_wsgi's way for a daemon to ask for its own restart, which wsgid turns into a
graceful recycle (docs/configuration.md). The replacement imports the code anew, so the next
requests get the new code.

Rules:
- Only files of modules count: the application's and the libraries it imported, as
  mod_wsgi-express's reloader watches them. The WSGI script itself is watched by script
  reloading already (mod_wsgid stats it on each request).
- A module imported after start() is watched from the first scan that sees it. A file first
  seen with a modification time after start() (and not in the future) counts as changed: it
  may have been edited after the module was imported and before that scan. At worst that
  costs one restart more (the module was imported after the edit), never a missed edit; the
  replacement, started after the edit, does not count it again.
- One restart per process: after SIGINT the thread stops; the new process watches again.
- The thread is a daemon thread and reads the file system only; it never imports, so it never
  takes the import lock from a request thread.
"""

import logging
import os
import signal
import sys
import threading
import time

logger = logging.getLogger("wsgid.reloader")

DEFAULT_INTERVAL = 1.0      # seconds between scans, as mod_wsgi-express's reloader

_started = threading.Lock()
_thread = None


def start(interval=DEFAULT_INTERVAL):
    """Start watching in this process (once; later calls do nothing)."""
    global _thread
    with _started:
        if _thread is not None:
            return
        _thread = threading.Thread(target=_watch, args=(interval, time.time_ns()),
                                   name="wsgid-reloader", daemon=True)
        _thread.start()


def module_files():
    """{path: module name} of the source files of the modules imported so far."""
    files = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        files[path] = name
    return files


def _signature(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def changed(seen, since_ns):
    """The first watched file whose signature differs from `seen`'s (which gains the files seen
    for the first time), or that is first seen modified after `since_ns` (ns since the epoch),
    as (path, module name); None when nothing changed."""
    now_ns = time.time_ns()
    for path, name in module_files().items():
        signature = _signature(path)
        if path not in seen:
            seen[path] = signature
            if signature is not None and since_ns < signature[0] <= now_ns:
                return path, name
        elif seen[path] != signature:
            return path, name
    return None


def _watch(interval, since_ns):
    seen = {}
    stop = threading.Event()
    while not stop.wait(interval):
        found = changed(seen, since_ns)
        if found is not None:
            path, name = found
            logger.warning("module %s (%s) changed: restarting this daemon process to load "
                           "it (--reload-on-changes)", name, path)
            os.kill(os.getpid(), signal.SIGINT)
            return
