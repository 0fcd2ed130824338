"""start-server's debug mode through a real Apache and a real daemon process, with start-server
on a real pseudo-terminal as in a shell: --debug-mode (the terminal's stdin and stdout in the
application), --enable-debugger and --debugger-startup (pdb on that terminal), and
--enable-profiler, --enable-coverage and --enable-recorder (their files, read back with pstats,
from coverage.py's report and from the recordings).

One session carries them all, since every tool implies debug mode: a start that stops in pdb, a
question answered at the terminal, an exception examined post-mortem, a recorded POST, and then
Ctrl-C, after which the reports are there.
"""

import glob
import os
import pstats
import re
import shutil
import threading

import psutil
import requests

from tests.integration.test_express_terminal import TerminalSession
from tests.support.apache import shared_tmpdir, wait_for
from tests.support.express import START_TIMEOUT, STOP_TIMEOUT, is_alive, write_file

APP = """\
import os
import sys

import mod_wsgi


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        secret = "kept-in-a-local-" + str(len(path))
        raise RuntimeError("boom for the debugger")
    if path == "/ask":
        print("question from the application: your name?", flush=True)
        body = ("hello " + sys.stdin.readline().strip()).encode()
    elif path == "/echo":
        body = environ["wsgi.input"].read()[::-1]
    elif path == "/never":
        body = b"a line no request runs"
    else:
        body = repr({
            "pid": os.getpid(),
            "stdin_is_terminal": os.isatty(0) and sys.stdin.isatty(),
            "stdout_is_terminal": os.isatty(1) and sys.stdout.isatty(),
            "same_terminal": os.ttyname(0) == os.ttyname(1),
            "processes": mod_wsgi.maximum_processes,
            "threads": mod_wsgi.threads_per_process,
            "multithread": environ["wsgi.multithread"],
            "multiprocess": environ["wsgi.multiprocess"],
        }).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""


def _in_background(function):
    result = {}

    def run():
        try:
            result["response"] = function()
        except Exception as exc:    # noqa: BLE001 - reported by the assertion that reads it
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _wait_for_text(session, text, after=0):
    wait_for(lambda: text in session.text()[after:], START_TIMEOUT, interval=0.05,
             message=f"{text!r} on the terminal\n{session.text()}")
    return session.text().index(text, after) + len(text)


def test_debug_mode_tools_at_a_terminal():
    app_dir = shared_tmpdir("wsgid-debug-app-")
    script = os.path.join(app_dir, "app.py")
    write_file(script, APP)
    recordings = os.path.join(app_dir, "recordings")     # --recorder-directory, made for it
    session = TerminalSession([script, "--debugger-startup", "--enable-profiler",
                               "--enable-coverage", "--enable-recorder", "--recorder-directory",
                               recordings, "--processes", "3", "--threads", "8",
                               "--request-timeout", "1"])
    root = os.path.join(session.workdir, "root")
    try:
        # --debugger-startup: pdb stops the daemon process once the application is loaded;
        # a request meanwhile waits (no queue-timeout in debug mode) and is served after `c`.
        seen = _wait_for_text(session, "(Pdb)")
        assert "is loaded; `c` lets the daemon process serve" in session.text()
        first, first_result = _in_background(
            lambda: requests.get(f"http://127.0.0.1:{session.port}/", timeout=30))
        assert first.is_alive(), "a request was answered while the daemon was at the prompt"
        os.write(session.master, b"c\n")
        first.join(30)
        report = eval(first_result["response"].text)       # the app's own repr of a dict
        assert report == {"pid": report["pid"], "stdin_is_terminal": True,
                          "stdout_is_terminal": True, "same_terminal": True,
                          "processes": 1, "threads": 1, "multithread": False,
                          "multiprocess": False}, report
        session.known_pids.update(p.pid for p in session.tree())
        daemons = [p for p in session.tree() if p.cmdline()[:1] == [
            f"(wsgi:localhost:{session.port})"]]
        assert [p.pid for p in daemons] == [report["pid"]]

        # The application talks with the person at the terminal: print() and sys.stdin.
        ask, ask_result = _in_background(
            lambda: requests.get(f"http://127.0.0.1:{session.port}/ask", timeout=30))
        seen = _wait_for_text(session, "question from the application: your name?", seen)
        os.write(session.master, b"Ada\n")
        ask.join(30)
        assert ask_result["response"].text == "hello Ada"

        # --enable-debugger: the exception opens pdb post-mortem in the application's frame,
        # which keeps its locals; `c` lets the request end as it would have, with a 500. No
        # timeout cuts the wait short (--request-timeout 1 was set aside).
        boom, boom_result = _in_background(
            lambda: requests.get(f"http://127.0.0.1:{session.port}/boom", timeout=30))
        seen = _wait_for_text(session, "RuntimeError: boom for the debugger", seen)
        seen = _wait_for_text(session, "(Pdb)", seen)
        os.write(session.master, b"p secret\n")
        seen = _wait_for_text(session, "'kept-in-a-local-5'", seen)
        os.write(session.master, b"c\n")
        boom.join(30)
        assert boom_result["response"].status_code == 500

        # --enable-recorder: a POST and its answer, in files.
        echo = requests.post(f"http://127.0.0.1:{session.port}/echo", data=b"recorded body",
                             timeout=30)
        assert echo.text == "ydob dedrocer"

        # Ctrl-C stops everything; the daemon process writes its reports as it ends.
        os.write(session.master, b"\x03")
        assert session.proc.wait(timeout=STOP_TIMEOUT) == 0, session.text()
        wait_for(lambda: not [pid for pid in session.known_pids if is_alive(pid)],
                 STOP_TIMEOUT, message="every process start-server started to exit")

        _check_recordings(recordings)
        assert not os.path.exists(os.path.join(root, "archive"))
        _check_profile(os.path.join(root, "pstats"), script)
        _check_coverage(os.path.join(root, "htmlcov"))
    finally:
        session.cleanup()
        shutil.rmtree(app_dir, ignore_errors=True)


def _check_recordings(archive):
    by_request = {}
    for path in glob.glob(os.path.join(archive, "*")):
        key, extension = os.path.basename(path).rsplit(".", 1)
        by_request.setdefault(key, {})[extension] = open(path, "rb").read()
    # /, /ask, /boom and /echo; each with all seven files
    assert len(by_request) == 4, sorted(by_request)
    assert all(len(files) == 7 for files in by_request.values())
    echo = next(files for files in by_request.values() if b"'/echo'" in files["iheaders"])
    assert echo["icontent"] == b"recorded body"
    assert echo["ocontent"] == b"ydob dedrocer"
    assert echo["oheaders"].startswith(b"('200 OK'")
    assert echo["oaexcept"] == echo["orexcept"] == echo["ofexcept"] == b""
    boom = next(files for files in by_request.values() if b"'/boom'" in files["iheaders"])
    assert b"RuntimeError: boom for the debugger" in boom["orexcept"] + boom["oaexcept"]


def _check_profile(directory, script):
    files = glob.glob(os.path.join(directory, "*.pstats"))
    assert len(files) == 1, files
    assert re.fullmatch(r"\d+-\d+\.pstats", os.path.basename(files[0]))
    stats = pstats.Stats(files[0]).stats
    calls = {(path, name): value[1] for (path, _, name), value in stats.items()
             if path == script}
    # every request ran under the profiler, in the request thread: one call of the application
    # for each of /, /ask, /boom and /echo
    assert calls.get((script, "application")) == 4, calls
    # and the loading too
    assert (script, "<module>") in calls


def _check_coverage(directory):
    index = open(os.path.join(directory, "index.html")).read()
    assert "app.py" in index
    page = next(path for path in glob.glob(os.path.join(directory, "*app_py.html")))
    text = open(page).read()
    # a line that ran and one that did not
    ran = re.search(r'<p class="([^"]*)">.{0,400}?question from the application', text, re.S)
    missed = re.search(r'<p class="([^"]*)">.{0,400}?a line no request runs', text, re.S)
    assert ran and "run" in ran.group(1), ran and ran.group(1)
    assert missed and "mis" in missed.group(1), missed and missed.group(1)


CRASHING_APP = """\
import ctypes
import os


def application(environ, start_response):
    if environ["PATH_INFO"] == "/crash":
        ctypes.string_at(0)          # C code reads address 0: SIGSEGV
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""


def _tracer(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("TracerPid:")).split()[1])


def test_enable_gdb_stops_a_crash_in_c_code_at_gdbs_prompt():
    app_dir = shared_tmpdir("wsgid-debug-app-")
    script = os.path.join(app_dir, "app.py")
    write_file(script, CRASHING_APP)
    session = TerminalSession([script, "--enable-gdb", "--gdb-executable", shutil.which("gdb")])
    try:
        first = wait_for(session.get, START_TIMEOUT, interval=0.1, message="start-server")
        daemon = int(first.text)
        # the daemon process runs under gdb, which its signals do not stop
        gdb = psutil.Process(_tracer(daemon))
        assert os.path.basename(gdb.exe()) == "gdb" and gdb.ppid() == daemon
        session.known_pids.update(p.pid for p in session.tree())

        crash, crash_result = _in_background(
            lambda: requests.get(f"http://127.0.0.1:{session.port}/crash", timeout=60))
        seen = _wait_for_text(session, "received signal SIGSEGV")
        seen = _wait_for_text(session, "(gdb)", seen)
        os.write(session.master, b"bt\n")
        frames = _wait_for_text(session, "#0 ", seen) - 3
        # gdb prints the frames as it walks the stack: the backtrace is whole once the next
        # prompt follows it
        seen = _wait_for_text(session, "(gdb)", frames)
        backtrace = session.text()[frames:seen]
        assert "string_at" in backtrace or "ctypes" in backtrace, session.text()
        # on: the process dies of its crash, gdb quits, the request fails, a new process serves
        os.write(session.master, b"continue\n")
        _wait_for_text(session, "terminated with signal SIGSEGV", seen)
        crash.join(30)
        assert crash_result["response"].status_code >= 500
        wait_for(lambda: not gdb.is_running() or gdb.status() == psutil.STATUS_ZOMBIE, 30,
                 message="gdb to quit after its process ended")
        again = wait_for(session.get, START_TIMEOUT, interval=0.1, message="a new daemon")
        assert int(again.text) != daemon
        session.known_pids.update(p.pid for p in session.tree())

        os.write(session.master, b"\x03")
        assert session.proc.wait(timeout=STOP_TIMEOUT) == 0, session.text()
        wait_for(lambda: not [pid for pid in session.known_pids if is_alive(pid)],
                 STOP_TIMEOUT, message="every process start-server started, gdb too, to exit")
        assert "outlived Apache" not in session.text()
    finally:
        session.cleanup()
        shutil.rmtree(app_dir, ignore_errors=True)
