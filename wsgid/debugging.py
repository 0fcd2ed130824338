"""start-server --debug-mode inside the daemon process: the terminal, pdb, gdb, cProfile,
coverage.py and the request recorder.

In debug mode start-server writes SERVER_ROOT/debug.wsgi (express/templates/debug.wsgi), which
is both the WSGI script that the application's WSGIScriptAlias names and a WSGIImportScript of
the same group, so it runs when the daemon process starts, before any request. It calls
load_application(), which loads the real application script and returns it wrapped in the
tools that were asked for. The group has one process with one thread (resolve.py), so what
follows is written for one request at a time.

Rules:
- The terminal. The supervisor keeps Apache's stdin and stdout when WSGIRestrictStdin is Off
  and stdin is a terminal (interpreter.settle_standard_descriptors); then sys.stdin and
  sys.stdout become those descriptors again (wsgid would have sys.stdout write to the error
  log), so that print() and pdb talk with the person at start-server's terminal, as under
  mod_wsgi-express's debug mode. Without a terminal the streams stay as wsgid sets them, and a
  debugger says once in the error log that it has nobody to talk to.
- The order, from the outside in: profiler, recorder, post-mortem debugger, application. The
  recorder therefore sees the exception the debugger was shown, and the profiler counts all of
  it.
- Coverage starts before the application is loaded, so module-level lines count. It measures
  threads started after it (threading.settrace): the request threads start after the import
  scripts (daemon.py).
- cProfile measures only the thread that enables it, so the profiler is enabled while the
  application loads and, in the request thread, around each call of the application, each
  item of its response and its close(): the time between requests, spent in wsgid, is not
  counted.
- gdb (--enable-gdb) is started by the daemon process itself, first of all, attached to it on
  the terminal; the process waits until gdb has it (its TracerPid), so the application is
  loaded under gdb. The process makes itself dumpable again (it was not, after dropping root),
  which lets its own user's gdb attach. gdb passes on the signals wsgid uses without stopping,
  stops at a crash with its prompt, and quits when the process has ended.
- The reports (TIME-PID.pstats, the coverage HTML) are written by atexit callbacks, which the
  daemon process runs as it ends (WSGIDestroyInterpreter On; resolve.py refuses
  --orphan-interpreter with them). The recorder writes as each request goes.
"""

import atexit
import logging
import os
import pprint
import sys
import threading
import time
import traceback

from wsgid.loader import execute_script, module_name

logger = logging.getLogger("wsgid.debugging")

# As mod_wsgi-express names the recorder's files: KEY.EXTENSION, one set per request.
RECORDER_EXTENSIONS = ("iheaders", "icontent", "oheaders", "ocontent", "oaexcept", "orexcept",
                       "ofexcept")

# How much of a request body the recorder reads at a time.
RECORDER_CHUNK = 65536


def load_application(script, callable_object, *, debugger=False, debugger_startup=False,
                     profiler_directory=None, coverage_directory=None,
                     recorder_directory=None, gdb_executable=None):
    """Load the WSGI script `script` under the debug tools; return its application, wrapped."""
    has_terminal = attach_terminal()
    for tool, wanted in (("--enable-debugger", debugger or debugger_startup),
                         ("--enable-gdb", gdb_executable)):
        if wanted and not has_terminal:
            logger.warning("%s: this daemon process has no terminal (start-server was not "
                           "started from one), so it cannot ask anything; the application "
                           "runs without it", tool)
    if not has_terminal:
        debugger = debugger_startup = False
        gdb_executable = None
    if gdb_executable:
        run_under_gdb(gdb_executable)
    if coverage_directory:
        start_coverage(coverage_directory)
    profiler = start_profiler(profiler_directory) if profiler_directory else None
    try:
        module = execute_script(script, module_name(script, ""))
    finally:
        if profiler is not None:
            profiler.disable()
    application = getattr(module, callable_object)
    if debugger:
        application = PostMortemDebugger(application)
    if recorder_directory:
        application = RequestRecorder(application, recorder_directory)
    if profiler is not None:
        application = Profiled(application, profiler)
    if debugger_startup:
        import pdb
        print(f"wsgid --debugger-startup: {script} is loaded; `c` lets the daemon process "
              "serve.", flush=True)
        pdb.Pdb().set_trace(sys._getframe())
    return application


def attach_terminal():
    """Give sys.stdin and sys.stdout back their descriptors when those are the terminal."""
    if not (os.isatty(0) and sys.__stdin__ is not None and sys.__stdout__ is not None):
        return False
    sys.stdin = sys.__stdin__
    sys.stdout = sys.__stdout__
    return True


# -- gdb ---------------------------------------------------------------------------------------

PR_SET_DUMPABLE = 4

# How long the daemon process waits for gdb to attach.
GDB_ATTACH_TIMEOUT = 60.0

# The signals wsgid's processes use (docs/signals.md) and those an application meets every day:
# gdb hands them on without stopping.
GDB_PASSED_SIGNALS = "SIGTERM SIGINT SIGHUP SIGUSR1 SIGUSR2 SIGPIPE SIGXCPU SIGCHLD SIGALRM"


def run_under_gdb(executable):
    """Start gdb attached to this process on the terminal; return once it has attached."""
    import ctypes
    import subprocess

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    gdb = subprocess.Popen(
        [executable, "-q", "-p", str(os.getpid()),
         # no question stops it: handing on SIGINT, a long backtrace, quitting
         "-ex", "set confirm off", "-ex", "set pagination off",
         "-ex", f"handle {GDB_PASSED_SIGNALS} nostop noprint pass",
         # quit once the process is gone, rather than wait at a prompt for nobody
         "-ex", "python import gdb; gdb.events.exited.connect(lambda event: "
                "gdb.post_event(lambda: gdb.execute('quit')))",
         "-ex", "continue"],
        stdin=0, stdout=1, stderr=1)
    deadline = time.monotonic() + GDB_ATTACH_TIMEOUT
    while _tracer_pid() == 0:
        if gdb.poll() is not None:
            logger.error("--enable-gdb: %s exited (status %s) without attaching to the daemon "
                         "process; it runs without gdb", executable, gdb.returncode)
            return
        if time.monotonic() > deadline:
            logger.error("--enable-gdb: %s did not attach within %.0f seconds; the daemon "
                         "process runs without it", executable, GDB_ATTACH_TIMEOUT)
            return
        time.sleep(0.05)


def _tracer_pid():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return 0


# -- coverage.py ---------------------------------------------------------------------------------

def start_coverage(directory):
    import coverage   # resolve.py checked that it can be imported

    # No data file: the daemon's working directory need not be writable, and the HTML report
    # is the result asked for.
    measurement = coverage.Coverage(data_file=None)
    measurement.start()

    def write_report():
        measurement.stop()
        try:
            measurement.html_report(directory=directory)
        except Exception:
            logger.exception("--enable-coverage: the report could not be written to %s",
                             directory)

    atexit.register(write_report)


# -- cProfile ------------------------------------------------------------------------------------

def start_profiler(directory):
    import cProfile

    profiler = cProfile.Profile()

    def write_stats():
        path = os.path.join(directory, f"{time.time_ns() // 1000}-{os.getpid()}.pstats")
        try:
            profiler.dump_stats(path)
        except Exception:
            logger.exception("--enable-profiler: cannot write %s", path)

    atexit.register(write_stats)
    profiler.enable()
    return profiler


class Profiled:
    """The application, with the profiler on in this thread while its code runs."""

    def __init__(self, application, profiler):
        self.application = application
        self.profiler = profiler

    def __call__(self, environ, start_response):
        return _ProfiledResponse(self._run, self.application, environ, start_response)

    def _run(self, function, *args):
        self.profiler.enable()
        try:
            return function(*args)
        finally:
            self.profiler.disable()


class _ProfiledResponse:
    def __init__(self, run, application, environ, start_response):
        self.run = run
        self.result = run(application, environ, start_response)
        self.items = None

    def __iter__(self):
        self.items = self.run(iter, self.result)
        return self

    def __next__(self):
        return self.run(next, self.items)

    def close(self):
        close = getattr(self.result, "close", None)
        if close is not None:
            self.run(close)


# -- pdb -----------------------------------------------------------------------------------------

class PostMortemDebugger:
    """The application; an exception from it (call, iteration or close) opens pdb post-mortem
    on the terminal, then goes on as it would have (wsgid answers 500)."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        try:
            result = self.application(environ, start_response)
        except Exception:
            _post_mortem()
            raise
        return self._respond(result)

    def _respond(self, result):
        try:
            try:
                yield from result
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            _post_mortem()
            raise


def _post_mortem():
    import pdb

    _, exc, tb = sys.exc_info()
    print(f"wsgid --enable-debugger: {type(exc).__name__}: {exc}", flush=True)
    pdb.post_mortem(tb)


# -- the recorder --------------------------------------------------------------------------------

class RequestRecorder:
    """The application, each request and its response written to files as it goes: the environ
    (.iheaders), the body read (.icontent), the status and headers (.oheaders), the body sent
    (.ocontent), and a traceback for an exception from the call (.oaexcept), the response
    (.orexcept) or close() (.ofexcept); every file exists, empty when there was nothing."""

    def __init__(self, application, directory):
        self.application = application
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    def _key(self):
        with self.lock:
            self.count += 1
            return f"{time.time_ns() // 1000}-{os.getpid()}-{self.count}"

    def __call__(self, environ, start_response):
        base = os.path.join(self.directory, self._key())
        files = {extension: open(f"{base}.{extension}", "wb") for extension in
                 RECORDER_EXTENSIONS}
        try:
            files["iheaders"].write(pprint.pformat(environ).encode() + b"\n")
            body = files["icontent"]
            while True:
                chunk = environ["wsgi.input"].read(RECORDER_CHUNK)
                if not chunk:
                    break
                body.write(chunk)
            body.flush()
            # The application reads what the recorder read, from the recording.
            environ["wsgi.input"] = open(body.name, "rb")
        except BaseException:
            _close_all(files)
            raise
        return self._respond(files, environ, start_response)

    def _respond(self, files, environ, start_response):
        def recording_start_response(status, headers, exc_info=None):
            files["oheaders"].write(pprint.pformat((status, headers)).encode() + b"\n")
            write = start_response(status, headers, exc_info)

            def recording_write(data):
                files["ocontent"].write(data)
                return write(data)

            return recording_write

        try:
            try:
                result = self.application(environ, recording_start_response)
            except BaseException:
                _write_traceback(files["oaexcept"])
                raise
            try:
                for item in result:
                    files["ocontent"].write(item)
                    yield item
            except BaseException:
                _write_traceback(files["orexcept"])
                raise
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    try:
                        close()
                    except BaseException:
                        _write_traceback(files["ofexcept"])
                        raise
        finally:
            environ["wsgi.input"].close()
            _close_all(files)


def _write_traceback(file):
    file.write(traceback.format_exc().encode())


def _close_all(files):
    for file in files.values():
        file.close()
