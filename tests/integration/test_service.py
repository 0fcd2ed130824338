"""WSGIImportScript and service mode (threads=0), with real processes and real signals.

Two parts:
- `service.run()` in a process of its own (`python -c DRIVER`, no Apache): the SIGTERM ->
  SystemExit contract, a script's own handler, exit statuses, file order.
- Through a real Apache (tests/support/apache.py): a service script's whole life under the
  supervisor (stop, replacement with back-off, exec of another program), and WSGIImportScript
  preloading a threaded group's script before its first request.

Scripts are written by each test into the instance's directory (readable by the Apache child
user); markers are files the scripts write into a directory that user may write to. Waiting is
polling with a deadline, never a fixed sleep.
"""

import os
import pwd
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
import requests

from tests.support.apache import wait_for
from tests.support.procs import daemons_of, supervisor_of

ROOT = os.geteuid() == 0


# -- service.run() in a process of its own ---------------------------------------------------------

# The on_stop hook records, in a marker, that it ran before the script saw SystemExit.
DRIVER = """
import os, sys
from wsgid import config, log, service
from wsgid.loader import ScriptLoader
log.setup()
parsed = config.load(sys.argv[1])
def on_stop():
    with open(os.path.join(os.path.dirname(sys.argv[1]), "on_stop"), "a") as f:
        f.write("called\\n")
sys.exit(int(service.run(parsed, parsed.groups["svc"], ScriptLoader(parsed, "svc"),
                         on_stop=on_stop)))
"""


class ServiceProcess:
    """`service.run()` for a group `svc` of the given scripts, in a child Python process."""

    def __init__(self, directory, *scripts):
        self.directory = directory
        lines = [f"WSGISocketPrefix {directory}/w", "WSGIDaemonProcess svc threads=0"]
        if ROOT:
            lines.insert(0, "WSGIApacheUser www-data www-data")
        for index, text in enumerate(scripts):
            path = os.path.join(directory, f"script{index}.py")
            with open(path, "w") as f:
                f.write(textwrap.dedent(text).replace("{markers}", directory))
            lines.append(f"WSGIImportScript {path} process-group=svc "
                         "application-group=%{GLOBAL}")
        self.config_path = os.path.join(directory, "daemon.conf")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER, self.config_path],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def marker(self, name):
        path = os.path.join(self.directory, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def finish(self, timeout=15):
        """(exit status, log) once the process has exited."""
        output, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, output

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def service(tmp_path):
    made = []

    def make(*scripts):
        made.append(ServiceProcess(str(tmp_path), *scripts))
        return made[-1]

    yield make
    for proc in made:
        proc.kill()


LOOP_UNTIL_STOPPED = """
import os, time
with open("{markers}/started", "w") as f:
    f.write(str(os.getpid()))
try:
    while True:
        time.sleep(0.05)
except SystemExit as stop:
    with open("{markers}/stopped", "w") as f:
        f.write(repr(stop.code))
    raise
"""


def test_sigterm_raises_systemexit_in_the_script_and_the_process_exits_0(service):
    proc = service(LOOP_UNTIL_STOPPED)
    wait_for(lambda: proc.marker("started"), 15, message="the service script to start")
    proc.proc.send_signal(signal.SIGTERM)
    status, output = proc.finish()
    assert proc.marker("stopped") == "0"
    assert proc.marker("on_stop") == "called\n"
    assert status == 0, output
    assert "running service script" in output and "ended with SystemExit" in output


def test_a_second_sigterm_does_not_interrupt_the_clean_up(service):
    proc = service("""
        import os, time
        with open("{markers}/started", "w") as f:
            f.write(str(os.getpid()))
        try:
            while True:
                time.sleep(0.05)
        except SystemExit:
            open("{markers}/cleaning", "w").close()
            while not os.path.exists("{markers}/go"):
                time.sleep(0.02)
            open("{markers}/cleaned", "w").close()
            raise
        """)
    wait_for(lambda: proc.marker("started"), 15, message="the service script to start")
    proc.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: proc.marker("cleaning") is not None, 15, message="the clean-up to start")
    proc.proc.send_signal(signal.SIGTERM)
    open(os.path.join(proc.directory, "go"), "w").close()
    status, output = proc.finish()
    assert proc.marker("cleaned") == ""
    assert status == 0, output


def test_a_handler_the_script_registers_takes_precedence(service):
    proc = service("""
        import os, signal, time
        stop = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
        with open("{markers}/started", "w") as f:
            f.write(str(os.getpid()))
        try:
            while not stop:
                time.sleep(0.05)
        except SystemExit:
            with open("{markers}/systemexit", "w") as f:
                f.write("the default handler ran")
            raise
        with open("{markers}/stopped", "w") as f:
            f.write("own handler: %d" % stop[0])
        """)
    wait_for(lambda: proc.marker("started"), 15, message="the service script to start")
    proc.proc.send_signal(signal.SIGTERM)
    status, output = proc.finish()
    assert proc.marker("stopped") == f"own handler: {int(signal.SIGTERM)}"
    assert proc.marker("systemexit") is None and proc.marker("on_stop") is None
    assert status == 0, output
    assert "service scripts finished" in output


def test_scripts_run_in_file_order_each_after_the_previous_returned(service):
    proc = service("""
        with open("{markers}/order", "a") as f:
            f.write("first\\n")
        """, """
        with open("{markers}/order", "a") as f:
            f.write("second\\n")
        """)
    status, output = proc.finish()
    assert (status, proc.marker("order")) == (0, "first\nsecond\n"), output


@pytest.mark.parametrize("body, status, logged", [
    ("raise RuntimeError('the queue is gone')", 1, "RuntimeError: the queue is gone"),
    ("import sys; sys.exit(3)", 1, "called sys.exit(3)"),
    ("import sys; sys.exit('bad state')", 1, "called sys.exit('bad state')"),
    ("import sys; sys.exit(0)", 0, "ended with SystemExit"),
    ("import sys; sys.exit()", 0, "ended with SystemExit"),
    ("def broken(:", 1, "cannot compile"),
])
def test_how_a_script_ends_is_the_exit_status(service, body, status, logged):
    proc = service(body, 'open("{markers}/second-ran", "w").close()')
    code, output = proc.finish()
    assert code == status, output
    assert logged in output
    assert proc.marker("second-ran") is None           # the process ends with the first script
    if body.startswith("raise"):
        assert "Traceback" in output and "script0.py" in output


# -- through Apache ---------------------------------------------------------------------------

def apache_site(apache, files, conf):
    """An ApacheInstance whose {root}/scripts holds files ({name: text}, each given MARK's
    mark() function) and whose {root}/markers is writable by the daemon user."""
    inst = apache("")
    scripts = os.path.join(inst.root, "scripts")
    markers = os.path.join(inst.root, "markers")
    os.makedirs(scripts, mode=0o755)
    os.makedirs(markers)
    os.chmod(markers, 0o777)
    for name, text in files.items():
        with open(os.path.join(scripts, name), "w") as f:
            f.write((MARK + textwrap.dedent(text)).replace("{markers}", markers))
    inst.write_config(conf)
    inst.markers = markers
    return inst


def markers_of(inst, prefix):
    """{pid: content} of the marker files named prefix.<pid>."""
    found = {}
    for name in os.listdir(inst.markers):
        if name.startswith(prefix + ".") and not name.endswith(".part"):
            with open(os.path.join(inst.markers, name)) as f:
                found[int(name.split(".")[1])] = f.read()
    return found


SERVICE_CONF = """
WSGIDaemonProcess svc processes=1 threads=0
WSGIImportScript "{root}/scripts/service.py" process-group=svc application-group=%{GLOBAL}
"""

# A marker appears whole (written aside, then renamed): a test that sees the file reads all of it.
MARK = """
import os
def mark(kind, text=""):
    path = "{markers}/%s.%d" % (kind, os.getpid())
    with open(path + ".part", "w") as f:
        f.write(text)
    os.rename(path + ".part", path)
"""

apache_test = pytest.mark.apache


@apache_test
def test_service_script_is_stopped_with_systemexit_at_apache_stop(apache):
    inst = apache_site(apache, {"service.py": """
        import threading, time
        mark("started", threading.current_thread().name)
        try:
            while True:
                time.sleep(0.05)
        except SystemExit:
            mark("stopped")
            raise
        """}, SERVICE_CONF)
    inst.start()
    started = wait_for(lambda: markers_of(inst, "started"), 20, message="the service to start")
    (pid, thread_name), = started.items()
    assert thread_name == "MainThread"
    assert [p.pid for p in daemons_of(inst)] == [pid]
    if ROOT:
        assert psutil.Process(pid).uids().real == pwd.getpwnam("www-data").pw_uid
    inst.stop()
    assert pid in markers_of(inst, "stopped")
    wait_for(lambda: not psutil.pid_exists(pid), 10, message=f"service process {pid} to go")
    assert f"daemon process {pid} exited with status 0" in inst.error_log()


@apache_test
def test_a_service_script_that_returns_is_replaced_with_back_off(apache):
    inst = apache_site(apache, {"service.py": 'mark("ran")\n'}, SERVICE_CONF)
    inst.start()
    wait_for(lambda: len(markers_of(inst, "ran")) >= 4, 30,
             message="four service processes, one after the other")
    log = inst.error_log()
    pids = sorted(markers_of(inst, "ran"))
    assert f"daemon process {pids[0]} exited with status 0" in log
    # It returned at once, again and again: the group backs off instead of spinning.
    assert "failed starts in a row); starting a new one in" in log
    assert "3 failed starts in a row" in log


@apache_test
def test_a_service_script_that_raises_is_logged_with_its_traceback_and_replaced(apache):
    inst = apache_site(apache, {"service.py": """
        mark("ran")
        raise LookupError("no work queue configured")
        """}, SERVICE_CONF)
    inst.start()
    wait_for(lambda: len(markers_of(inst, "ran")) >= 2, 30, message="a replacement process")
    log = inst.error_log()
    first = min(markers_of(inst, "ran"))
    assert f"daemon process {first} exited with status 1" in log
    assert "LookupError: no work queue configured" in log
    assert "Traceback" in log


@apache_test
def test_a_service_that_execs_a_program_keeps_it_supervised(apache):
    inst = apache_site(apache, {"service.py": """
        mark("exec")
        os.execv("/bin/sleep", ["sleep", "1000"])
        """}, SERVICE_CONF)
    inst.start()
    (pid,) = wait_for(lambda: markers_of(inst, "exec"), 20, message="the service to start")
    program = psutil.Process(pid)
    # psutil caches exe() from its first call, which may come before the exec: read /proc.
    wait_for(lambda: os.readlink(f"/proc/{pid}/exe") == os.path.realpath("/bin/sleep"), 10,
             message="the exec of /bin/sleep")
    supervisor = supervisor_of(inst)
    assert program.ppid() == supervisor.pid
    assert [p.pid for p in daemons_of(inst)] == [pid]
    inst.stop()
    wait_for(lambda: not psutil.pid_exists(pid), 10, message=f"sleep ({pid}) to be stopped")
    assert f"daemon process {pid} was killed by SIGTERM" in inst.error_log()
    assert len(markers_of(inst, "exec")) == 1       # never replaced while it ran


@apache_test
def test_import_script_preloads_the_application_before_the_first_request(apache):
    inst = apache_site(apache, {"app.wsgi": """
        import time
        LOADED_AT = time.time()
        mark("loaded", repr(LOADED_AT))
        def application(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [("%d %r" % (os.getpid(), LOADED_AT)).encode()]
        """}, """
WSGIDaemonProcess web processes=1 threads=2
WSGIScriptAlias /app "{root}/scripts/app.wsgi" process-group=web application-group=%{GLOBAL}
WSGIImportScript "{root}/scripts/app.wsgi" process-group=web application-group=%{GLOBAL}
<Directory "{root}/scripts">
    Require all granted
</Directory>
""")
    inst.start()
    # No request has been sent yet: only the preload can have run the script.
    loaded = wait_for(lambda: markers_of(inst, "loaded"), 20, message="the preload")
    (pid, loaded_at), = loaded.items()
    response = requests.get(inst.url("/app"), timeout=10)
    assert response.status_code == 200
    assert response.text == f"{pid} {loaded_at}"       # the same module object serves
    assert markers_of(inst, "loaded") == loaded         # the request did not load it again
