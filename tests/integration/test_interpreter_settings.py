"""The server-wide Python directives and the WSGIDaemonProcess options that act inside the daemon
process, observed from an application (tests/apps/interpreter_probe.wsgi) served by
`wsgid supervise --config FILE` over the group's socket.

One supervisor runs with mod_wsgi's non-default settings, one with the defaults; each test
reads what the probe reports or what the log says. Waiting is polling with a deadline.
"""

import json
import os
import pwd
import shutil
import signal

import pytest

from tests.support.apache import APPS, RUNNING_AS_ROOT, shared_tmpdir, wait_for
from tests.support.supervised import SupervisedGroups
from tests.support.wire import unix_exchange, uwsgi_packet
from wsgid.loader import module_name

PROBE = os.path.join(APPS, "interpreter_probe.wsgi")
root_only = pytest.mark.skipif(not RUNNING_AS_ROOT, reason="needs root: files of other owners")


class Settings(SupervisedGroups):
    """A supervisor whose file also has the server-wide lines `extra`."""

    def __init__(self, extra):
        super().__init__("wsgid-interp-")
        self.extra = extra
        self.marks = os.path.join(self.directory, "marks")
        os.mkdir(self.marks)
        os.chmod(self.marks, 0o777)     # the daemon user leaves its atexit mark here

    def write_config(self):
        super().write_config()
        # Preloaded in the main thread: only there may signal.signal() install a handler.
        preload = [f"WSGIImportScript {script} process-group={name} "
                   "application-group=%{GLOBAL}" for name, (_, script, _) in self.groups.items()]
        with open(self.config_path, "a") as f:
            f.write("\n".join(self.extra + preload) + "\n")


def get(socket_path, script=PROBE, path_info="/"):
    """(status line, body) of one request naming `script`."""
    packet = uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": path_info, "SCRIPT_NAME": "/p",
                           "SCRIPT_FILENAME": script, "QUERY_STRING": "",
                           "SERVER_NAME": "localhost", "SERVER_PORT": "80",
                           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"})
    reply = unix_exchange(socket_path, packet)
    head, _, body = reply.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode("latin-1"), body


def probe(supervisor, group="probe"):
    status, body = get(supervisor.socket_path(group))
    assert status == "HTTP/1.1 200 OK", (status, body, supervisor.log()[-3000:])
    return json.loads(body)


@pytest.fixture(scope="module")
def changed():
    """mod_wsgi's non-default settings, and the options with effects in the daemon."""
    supervisor = Settings([
        "WSGIPythonOptimize 1",
        "WSGIPythonHashSeed 1234",
        "WSGIDontWriteBytecode On",
        "WSGIPythonWarnings ignore::DeprecationWarning",
        "WSGIPythonWarnings error::ResourceWarning",
        "WSGIRestrictStdin off",
        "WSGIRestrictStdout ON",
        "WSGIRestrictSignal Off",
        "WSGIDestroyInterpreter Off",
        "WSGIVerboseDebugging On",
        "WSGIServerMetrics On",
        "WSGICaseSensitivity Off",
        "WSGIAcceptMutex flock",
    ])
    supervisor.add_group("probe", PROBE,
                         "processes=1 threads=1 stack-size=1048576 send-buffer-size=32768 "
                         "receive-buffer-size=49152 python-eggs=/tmp/eggs "
                         "python-path=/nonexistent/wsgid-lib python-home=/usr")
    try:
        supervisor.start(env={"PROBE_MARK_DIRECTORY": supervisor.marks})
        supervisor.daemons_serving(1)
        yield supervisor
    finally:
        supervisor.cleanup()


@pytest.fixture(scope="module")
def defaults():
    supervisor = Settings([])
    supervisor.add_group("probe", PROBE, "processes=1 threads=1")
    try:
        supervisor.start(env={"PROBE_MARK_DIRECTORY": supervisor.marks})
        supervisor.daemons_serving(1)
        yield supervisor
    finally:
        supervisor.cleanup()


def test_optimize_and_hash_seed_reexec_the_supervisor_once(changed):
    report = probe(changed)
    assert report["optimize"] == 1
    assert report["hash_seed"] == "1234"
    log = changed.log()
    assert log.count("re-executing the supervisor") == 1
    assert "still running with" not in log
    # Same pid: os.execv kept the process Popen started.
    assert changed.proc.poll() is None


def test_bytecode_and_warning_filters(changed, defaults):
    report = probe(changed)
    assert report["dont_write_bytecode"] is True
    # The last WSGIPythonWarnings line is the first filter, as with two -W options.
    assert report["warning_filters"][:2] == [["error", "ResourceWarning"],
                                             ["ignore", "DeprecationWarning"]]
    assert probe(defaults)["dont_write_bytecode"] is False


def test_restricted_streams(changed, defaults):
    report = probe(changed)
    assert report["stdin"] == "usable"
    assert report["stdout"].startswith("sys.stdout access restricted by wsgid")
    report = probe(defaults)
    assert report["stdin"].startswith("sys.stdin access restricted by wsgid")
    assert report["stdout"] == "usable"


def test_restrict_signal(changed, defaults):
    report = probe(defaults)
    assert report["signal_returned_handler"] is True and report["signal_installed"] is False
    assert "signal.signal(SIGWINCH, ...) by the application" in defaults.log()
    report = probe(changed)
    assert report["signal_installed"] is True
    assert "by the application" not in changed.log()


def test_verbose_debugging_and_accept_mutex(changed, defaults):
    probe(changed)
    assert "[wsgi:debug]" in changed.log()
    assert "WSGIAcceptMutex flock has no effect" in changed.log()
    probe(defaults)
    assert "[wsgi:debug]" not in defaults.log()


def test_server_metrics(changed, defaults):
    assert probe(defaults)["server_metrics"] is None
    metrics = probe(changed)["server_metrics"]
    assert {"server_limit", "thread_limit", "processes", "current_time"} <= set(metrics)
    [process] = metrics["processes"]
    workers = process["workers"]
    assert len(workers) == metrics["thread_limit"]
    # the probe's own request, on Apache's scoreboard keys
    [busy] = [worker for worker in workers if worker["status"] == "W"]
    assert busy["client"] == "127.0.0.1" and busy["request"] == "GET /p/ HTTP/1.1"
    assert busy["vhost"] == "localhost" and busy["start_time"] > 0
    assert set(busy) == {"thread_num", "generation", "status", "access_count", "bytes_served",
                         "start_time", "stop_time", "last_used", "client", "request", "vhost"}


def test_case_sensitivity_off_names_the_module_by_the_lowercased_path(changed, defaults):
    assert probe(changed)["module_name"] == module_name(PROBE.lower(), "")
    assert probe(defaults)["module_name"] == module_name(PROBE, "")


def test_stack_size_eggs_and_buffer_sizes(changed, defaults):
    report = probe(changed)
    assert report["stack_size"] == 1048576
    assert report["egg_cache"] == "/tmp/eggs"
    # Linux reports twice the size set (the kernel's bookkeeping share).
    assert report["buffers"] == [[65536, 98304]]
    report = probe(defaults)
    assert report["stack_size"] != 1048576
    assert report["egg_cache"] is None
    assert report["buffers"] and report["buffers"][0] != [65536, 98304]


def test_python_path_and_home_warn_instead_of_refusing(changed):
    probe(changed)
    log = changed.log()
    assert "python-path= entry /nonexistent/wsgid-lib does not exist" in log
    assert "python-home=/usr" not in log.replace("python-home=/usr is this", "")


def test_destroy_interpreter_runs_the_atexit_callbacks(defaults, changed):
    # Run last in this module: it stops both supervisors.
    for supervisor in (defaults, changed):
        probe(supervisor)
        supervisor.stop()
    assert os.listdir(defaults.marks), defaults.log()[-2000:]
    assert os.listdir(changed.marks) == []


@root_only
def test_script_user_refuses_scripts_of_another_owner():
    supervisor = Settings([])
    owner = pwd.getpwnam("www-data")
    scripts = os.path.join(supervisor.directory, "scripts")
    os.mkdir(scripts)
    mine = os.path.join(scripts, "mine.wsgi")
    theirs = os.path.join(scripts, "theirs.wsgi")
    for path in (mine, theirs):
        shutil.copy(PROBE, path)
        os.chmod(path, 0o644)
    os.chown(scripts, owner.pw_uid, owner.pw_gid)
    os.chown(mine, owner.pw_uid, owner.pw_gid)
    supervisor.add_group("probe", mine, "processes=1 threads=1 script-user=www-data", url="/p")
    supervisor.extra = [f"WSGIScriptAlias /theirs {theirs} process-group=probe",
                        f"WSGIScriptAlias /x {mine}/extra process-group=probe"]
    try:
        supervisor.start()
        supervisor.daemons_serving(1)
        status, _ = get(supervisor.socket_path("probe"), script=mine)
        assert status == "HTTP/1.1 200 OK"
        status, _ = get(supervisor.socket_path("probe"), script=theirs)
        assert status == "HTTP/1.1 403 Forbidden"
        log = supervisor.log()
        assert log.count(f"refused {theirs}: the owner of the WSGI script file is root, "
                         "not script-user=www-data") == 1
        # A target written FILE/EXTRA serves FILE, under either spelling.
        status, _ = get(supervisor.socket_path("probe"), script=f"{mine}/extra")
        assert status == "HTTP/1.1 200 OK"
    finally:
        supervisor.cleanup()
