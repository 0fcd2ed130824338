"""`wsgid supervise` with real daemon processes, without Apache: the process lifecycle.

Each test starts `python -m wsgid supervise --config FILE` (the interpreter running the tests) on
a configuration in a directory the Apache child user can traverse, talks uwsgi to the group's
socket with a raw client, and watches the process tree with psutil. Waiting is polling with a
deadline; nothing sleeps a fixed time.
"""

import os
import pwd
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from tests.support.apache import APPS, wait_for
from tests.support.procs import listening_queue, run_as
from tests.support.supervised import SupervisorProcess
from tests.support.wire import unix_exchange, uwsgi_packet

ROOT = os.geteuid() == 0
APACHE_USER = pwd.getpwnam("www-data") if ROOT else pwd.getpwuid(os.getuid())
NOBODY = pwd.getpwnam("nobody")
ECHO_APP = os.path.join(APPS, "echo.wsgi")
root_only = pytest.mark.skipif(not ROOT, reason="needs root: privilege drop and other uids")


def request(socket_path, path="/hello"):
    """One request over the group socket, as a stock uwsgi front end sends it (no SCRIPT_FILENAME:
    the group's one script answers). Returns (status line, body)."""
    packet = uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": path, "SCRIPT_NAME": "",
                           "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
                           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"})
    reply = unix_exchange(socket_path, packet)
    head, _, body = reply.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode("latin-1"), body


def request_outcome(socket_path):
    """'empty', 'reset' or the status line: for a client the daemon may refuse."""
    try:
        status, body = request(socket_path)
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return "empty" if (status, body) == ("", b"") else status


class RunningSupervisor(SupervisorProcess):
    """One `wsgid supervise` subprocess and the files it works with."""

    def __init__(self):
        super().__init__("wsgid-supervisor-", config_name="daemon.conf")

    def write_config(self, groups, extra="", script=ECHO_APP):
        """groups: {name: 'option=value ...'}; each group serves `script` at /NAME."""
        lines = ["LogLevel info"]     # the lifecycle lines these tests read (default: warn)
        if ROOT:
            lines.append(f"WSGIApacheUser {APACHE_USER.pw_uid} {APACHE_USER.pw_gid}")
        for name, options in groups.items():
            lines += [f"WSGIDaemonProcess {name} {options}",
                      f"WSGIDaemonSocket {name} {self.socket_path(name)}",
                      f"WSGIScriptAlias /{name} {script} process-group={name}"]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n" + textwrap.dedent(extra))

    def start(self, managed_by=None, wait_groups=None, own_session=False):
        self.launch(() if managed_by is None else ("--managed-by", str(managed_by)),
                    own_session=own_session)
        if wait_groups:
            self.wait_for_daemons(sum(wait_groups.values()))
        for name in wait_groups or ():
            wait_for(lambda: os.path.exists(self.socket_path(name)), 10,
                     message=f"the socket of group {name}")
        return self

    def wait_for_daemons(self, count, timeout=15, excluding=()):
        def ready():
            found = [p for p in self.daemons() if p.pid not in excluding]
            return found if len(found) == count and len(self.daemons()) == count else None
        return wait_for(ready, timeout, message=f"{count} daemon processes")


@pytest.fixture
def supervisor():
    made = []

    def make():
        made.append(RunningSupervisor())
        return made[-1]

    yield make
    for sup in made:
        sup.cleanup()


def pid_of_answer(socket_path):
    status, body = request(socket_path, "/pid")
    assert status == "HTTP/1.1 200 OK", status
    return int(body)


# -- serving --------------------------------------------------------------------------------

def test_a_request_on_the_group_socket_gets_the_application_response(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=1 threads=2"})
    sup.start(wait_groups={"example": 1})
    status, body = request(sup.socket_path("example"), "/hello")
    assert status == "HTTP/1.1 200 OK"
    assert body == b"Hello, world!\n"


def test_processes_and_threads_give_that_many_processes_and_request_threads(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=3 threads=4"})
    sup.start(wait_groups={"example": 3})
    for _ in range(6):
        assert request(sup.socket_path("example"))[0] == "HTTP/1.1 200 OK"
    # Each daemon: its main thread (waiting for a stop), its monitor thread and 4 request
    # threads.
    daemons = sup.daemons()
    assert len(daemons) == 3
    wait_for(lambda: [d.num_threads() for d in daemons] == [6, 6, 6], 10,
             message="4 request threads in each daemon process")


def test_daemon_processes_carry_the_group_title_and_the_supervisor_its_own(supervisor):
    sup = supervisor()
    sup.write_config({"plain": "processes=1", "named": "processes=1 display-name=my-shop"})
    sup.start(wait_groups={"plain": 1, "named": 1})

    def titles():
        found = set()
        for daemon in sup.daemons():
            with open(f"/proc/{daemon.pid}/cmdline", "rb") as f:
                found.add(f.read().rstrip(b"\0").decode())
        return found if found == {"(wsgi:plain)", "my-shop"} else None
    wait_for(titles, 10, message="the daemon process titles")
    with open(f"/proc/{sup.proc.pid}/cmdline", "rb") as f:
        assert f.read().startswith(b"wsgid-supervisor")


# -- dying and replacing --------------------------------------------------------------------

def test_a_killed_daemon_process_is_replaced_at_once_by_one_that_serves(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=1 threads=2"})
    sup.start(wait_groups={"example": 1})
    victim = pid_of_answer(sup.socket_path("example"))
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    replacement = sup.wait_for_daemons(1, timeout=5.0, excluding={victim})[0]
    # The connection waits in the supervisor's socket queue meanwhile; the new process takes it.
    assert pid_of_answer(sup.socket_path("example")) == replacement.pid
    # At once (no back-off: it had run), not after a delay; the bound leaves a busy machine room.
    assert time.monotonic() - killed_at < 5.0
    wait_for(lambda: f"daemon process {victim} was killed by SIGKILL" in sup.log(), 5,
             message="the log line that says why the process ended")


def test_a_process_that_keeps_dying_at_start_is_restarted_with_growing_delays(supervisor):
    sup = supervisor()
    # A .pth file on python-path runs while the daemon sets up its environment: a broken one
    # kills every new process at once, the crash loop the back-off exists for.
    broken = os.path.join(sup.directory, "broken")
    os.mkdir(broken)
    with open(os.path.join(broken, "crash.pth"), "w") as f:
        f.write("import os; os._exit(7)\n")
    sup.write_config({"example": f"processes=1 python-path={broken}"})
    sup.start()

    def delays():
        found = [line for line in sup.log().splitlines()
                 if "exited with status 7" in line and "failed starts in a row" in line]
        return found if len(found) >= 4 else None
    lines = wait_for(delays, 15, message="four failed starts")
    assert [line.rsplit(" in ", 1)[1] for line in lines[:4]] == ["0.1s", "0.2s", "0.4s", "0.8s"]
    assert "an exit status wsgid does not use" in lines[0]
    assert sup.proc.poll() is None


ENVIRONMENT_APP = """\
import json
import locale
import os
import sys

def application(environ, start_response):
    import from_python_home
    import from_python_path
    body = json.dumps({
        "cwd": os.getcwd(),
        "LANG": os.environ.get("LANG"),
        "LC_ALL": os.environ.get("LC_ALL"),
        "locale": locale.setlocale(locale.LC_ALL),
        "python_home_module": from_python_home.__file__,
        "python_path_module": from_python_path.__file__,
        "sys_path": sys.path,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


def test_the_daemon_environment_follows_home_python_path_python_home_lang_and_locale(supervisor):
    import json
    sup = supervisor()
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    venv_packages = os.path.join(sup.directory, "venv", "lib", version, "site-packages")
    lib = os.path.join(sup.directory, "lib")
    home = os.path.join(sup.directory, "home")
    for directory in (venv_packages, lib, home):
        os.makedirs(directory)
    for directory, module in ((venv_packages, "from_python_home"), (lib, "from_python_path")):
        with open(os.path.join(directory, module + ".py"), "w") as f:
            f.write("")
    for dirpath, dirnames, filenames in os.walk(sup.directory):
        os.chmod(dirpath, 0o755)
    script = os.path.join(sup.directory, "environment.wsgi")
    with open(script, "w") as f:
        f.write(ENVIRONMENT_APP)
    sup.write_config({"example": f"processes=1 home={home} python-path={lib} "
                                 f"python-home={os.path.join(sup.directory, 'venv')} "
                                 "lang=C.UTF-8 locale=C.utf8"}, script=script)
    sup.start(wait_groups={"example": 1})
    status, body = request(sup.socket_path("example"), "/")
    assert status == "HTTP/1.1 200 OK", body
    seen = json.loads(body)
    assert seen["cwd"] == home
    assert (seen["LANG"], seen["LC_ALL"], seen["locale"]) == ("C.UTF-8", "C.utf8", "C.utf8")
    assert seen["python_home_module"].startswith(venv_packages)
    assert seen["python_path_module"].startswith(lib)
    # Configured directories come before the interpreter's own site-packages.
    assert seen["sys_path"][:2] == [lib, venv_packages]


# -- signals --------------------------------------------------------------------------------

def test_sigterm_stops_every_daemon_process_and_removes_the_socket(supervisor):
    sup = supervisor()
    sup.write_config({"one": "processes=2", "two": "processes=1"})
    sup.start(wait_groups={"one": 2, "two": 1})
    daemons = sup.daemons()
    sup.signal(signal.SIGTERM)
    assert sup.proc.wait(10) == 0
    assert not [p for p in daemons if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not os.path.exists(sup.socket_path("one"))
    assert not os.path.exists(sup.socket_path("two"))
    assert "exited with status 0 (stopped normally)" in sup.log()


def test_ctrl_c_at_a_terminal_stops_the_supervisor_and_no_daemon_takes_it_for_a_restart(
        supervisor):
    sup = supervisor()
    sup.write_config({"one": "processes=2"})
    sup.start(wait_groups={"one": 2}, own_session=True)
    # Each daemon leads its own process group: SIGINT to a daemon means "restart me" (docs/
    # signals.md), and a Ctrl-C, sent to the terminal's foreground group, must not reach it.
    wait_for(lambda: all(os.getpgid(p.pid) == p.pid for p in sup.daemons()), 10,
             message="each daemon process to lead its own process group")
    os.killpg(sup.proc.pid, signal.SIGINT)          # what a Ctrl-C does
    assert sup.proc.wait(10) == 0
    log = sup.log()
    assert "restart_signal" not in log
    assert log.count("exited with status 0 (stopped normally)") == 2


SLOW_APP = """\
import os
import time

def application(environ, start_response):
    open(os.path.join(os.path.dirname(__file__), "request-started"), "w").close()
    time.sleep(1.0)   # a request that is still running when the stop comes
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"finished\\n"]
"""


def test_sigterm_lets_a_running_request_finish(supervisor):
    sup = supervisor()
    script = os.path.join(sup.directory, "slow.wsgi")
    with open(script, "w") as f:
        f.write(SLOW_APP)
    os.chmod(script, 0o644)
    os.chmod(sup.directory, 0o777)   # the daemon user writes the marker file
    sup.write_config({"example": "processes=1 threads=2"}, script=script)
    sup.start(wait_groups={"example": 1})
    answers = []
    client = threading.Thread(target=lambda: answers.append(request(sup.socket_path("example"))))
    client.start()
    wait_for(lambda: os.path.exists(os.path.join(sup.directory, "request-started")), 10,
             message="the slow request to start")
    sup.signal(signal.SIGTERM)
    client.join(10)
    assert answers == [("HTTP/1.1 200 OK", b"finished\n")]
    assert sup.proc.wait(10) == 0


def test_after_the_supervisor_is_killed_its_daemons_exit_and_a_new_one_takes_over(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=2"})
    sup.start(wait_groups={"example": 2})
    daemons = sup.daemons()
    sup.proc.kill()
    sup.proc.wait()
    wait_for(lambda: not any(d.is_running() and d.status() != psutil.STATUS_ZOMBIE
                             for d in daemons), 10, message="the orphaned daemons to exit")
    assert os.path.exists(sup.socket_path("example"))      # left behind by the killed one
    sup.start(wait_groups={"example": 2})
    assert request(sup.socket_path("example"))[0] == "HTTP/1.1 200 OK"


def test_a_second_supervisor_for_the_same_sockets_refuses_to_start(supervisor):
    first = supervisor()
    first.write_config({"example": "processes=1"})
    first.start(wait_groups={"example": 1})
    second = supervisor()
    second.config_path = first.config_path
    second.start()
    assert second.proc.wait(15) == 1
    assert "another process is serving on it" in second.log()
    assert request(first.socket_path("example"))[0] == "HTTP/1.1 200 OK"


def test_sighup_with_a_changed_process_count_replaces_the_processes(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=1", "steady": "processes=1"})
    sup.start(wait_groups={"example": 1, "steady": 1})
    before = {p.pid: p.name() for p in sup.daemons()}
    steady_pid = pid_of_answer(sup.socket_path("steady"))
    sup.write_config({"example": "processes=3", "steady": "processes=1"})
    sup.signal(signal.SIGHUP)
    after = sup.wait_for_daemons(4, excluding=set(before) - {steady_pid})
    assert steady_pid in [p.pid for p in after]        # the unchanged group kept its process
    assert pid_of_answer(sup.socket_path("steady")) == steady_pid
    assert request(sup.socket_path("example"))[0] == "HTTP/1.1 200 OK"


def test_sighup_starts_new_groups_and_stops_removed_ones(supervisor):
    sup = supervisor()
    sup.write_config({"old": "processes=1"})
    sup.start(wait_groups={"old": 1})
    sup.write_config({"new": "processes=2"})
    sup.signal(signal.SIGHUP)
    wait_for(lambda: os.path.exists(sup.socket_path("new")), 10, message="the new socket")
    sup.wait_for_daemons(2)
    wait_for(lambda: not os.path.exists(sup.socket_path("old")), 10,
             message="the removed group's socket to go")
    assert request(sup.socket_path("new"))[0] == "HTTP/1.1 200 OK"


def test_sighup_with_a_broken_file_keeps_the_running_groups(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=1"})
    sup.start(wait_groups={"example": 1})
    pid = pid_of_answer(sup.socket_path("example"))
    with open(sup.config_path, "a") as f:
        f.write("WSGIDaemonProcess broken processes=lots\n")
    sup.signal(signal.SIGHUP)
    wait_for(lambda: "reload failed, keeping the running configuration" in sup.log(), 10,
             message="the reload error")
    assert "processes" in sup.log().split("reload failed")[1].splitlines()[0]
    assert pid_of_answer(sup.socket_path("example")) == pid


def test_a_bad_configuration_exits_2_with_the_message(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=abc"})
    sup.start()
    assert sup.proc.wait(10) == 2
    assert "processes" in sup.log() and "Traceback" not in sup.log()


def test_a_managed_supervisor_stops_when_its_apache_parent_dies(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=2"})
    # A stand-in for the Apache parent: starts the supervisor as its child, then waits.
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import os, subprocess, sys
            cmd = [sys.executable, "-m", "wsgid", "supervise", "--config", {sup.config_path!r},
                   "--managed-by", str(os.getpid())]
            child = subprocess.Popen(cmd, stderr=open({sup.log_path!r}, "ab"))
            print(child.pid, flush=True)
            child.wait()
        """)], stdout=subprocess.PIPE)
    try:
        sup.proc = psutil.Process(int(parent.stdout.readline()))
        wait_for(lambda: len(sup.daemons()) == 2, 15, message="2 daemon processes")
        daemons = sup.daemons()
        with open(f"/proc/{sup.proc.pid}/cmdline", "rb") as f:
            assert f"managed by apache pid {parent.pid}".encode() in f.read()
        parent.kill()
        parent.wait()
        gone = lambda p: not p.is_running() or p.status() == psutil.STATUS_ZOMBIE  # noqa: E731
        wait_for(lambda: gone(sup.proc) and all(gone(d) for d in daemons), 10,
                 message="the supervisor and its daemons to exit")
        assert not os.path.exists(sup.socket_path("example"))
    finally:
        parent.kill()
        for proc in [sup.proc] + sup.daemons():
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        sup.proc = None


# -- who may connect, and who serves ----------------------------------------------------------

def test_the_socket_is_mode_0600_and_owned_by_the_socket_user(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=1"})
    sup.start(wait_groups={"example": 1})
    st = os.stat(sup.socket_path("example"))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == APACHE_USER.pw_uid


@root_only
def test_daemon_processes_run_as_the_configured_user(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=2 user=www-data group=www-data"})
    sup.start(wait_groups={"example": 2})
    www = pwd.getpwnam("www-data")
    # Serving proves each process finished its start-up (a child seen just after fork() is
    # still root: it drops privileges before it loads anything).
    wait_for(lambda: request(sup.socket_path("example"))[0] == "HTTP/1.1 200 OK", 10,
             message="the group to serve")
    wait_for(lambda: all(d.uids().saved == www.pw_uid for d in sup.daemons()), 10,
             message="every daemon to have dropped privileges")
    for daemon in sup.daemons():
        assert daemon.uids().real == daemon.uids().effective == daemon.uids().saved == www.pw_uid
        assert daemon.gids().real == daemon.gids().effective == www.pw_gid
    assert os.stat(f"/proc/{sup.proc.pid}").st_uid == 0


@root_only
def test_only_the_socket_user_can_connect(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=1"})
    sup.start(wait_groups={"example": 1})
    path = sup.socket_path("example")
    status, _ = run_as(APACHE_USER.pw_uid, APACHE_USER.pw_gid, request, path)
    assert status == "HTTP/1.1 200 OK"
    with pytest.raises(PermissionError):
        run_as(NOBODY.pw_uid, NOBODY.pw_gid, request, path)


@root_only
def test_the_daemon_refuses_a_peer_uid_that_the_file_mode_would_let_in(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=1"})
    sup.start(wait_groups={"example": 1})
    path = sup.socket_path("example")
    os.chmod(path, 0o666)     # a mistake the daemon's own SO_PEERCRED check must catch
    outcome = run_as(NOBODY.pw_uid, NOBODY.pw_gid, request_outcome, path)
    # Closed unanswered: an empty reply, or a reset because the request was never read.
    assert outcome in ("empty", "reset")
    wait_for(lambda: f"refused a connection from uid {NOBODY.pw_uid}" in sup.log(), 5,
             message="the refusal log line")
    assert request(path)[0] == "HTTP/1.1 200 OK"    # and it keeps serving


@root_only
def test_socket_user_owns_the_socket_and_is_the_one_apache_user_let_in(supervisor):
    sup = supervisor()
    sup.write_config({"example": "processes=1 socket-user=nobody"})
    sup.start(wait_groups={"example": 1})
    path = sup.socket_path("example")
    assert os.stat(path).st_uid == NOBODY.pw_uid
    status, _ = run_as(NOBODY.pw_uid, NOBODY.pw_gid, request, path)
    assert status == "HTTP/1.1 200 OK"
    with pytest.raises(PermissionError):
        run_as(APACHE_USER.pw_uid, APACHE_USER.pw_gid, request, path)


@pytest.mark.parametrize("options, expected", [("processes=1", 100),
                                               ("processes=1 listen-backlog=7", 7)])
def test_listen_backlog_sets_the_socket_queue_length(supervisor, options, expected):
    sup = supervisor()
    sup.write_config({"example": options})
    sup.start(wait_groups={"example": 1})
    assert listening_queue(sup.socket_path("example"))[1] == expected


def test_a_sighup_that_arrives_while_starting_is_a_reload_not_a_death(supervisor):
    """mod_wsgid starts the supervisor with SIGHUP blocked (a graceful restart can come at any
    time); the supervisor unblocks it once its handlers are in, and the pending one reloads."""
    sup = supervisor()
    sup.write_config({"example": "processes=1"})
    cmd = [sys.executable, "-m", "wsgid", "supervise", "--config", sup.config_path]
    with open(sup.log_path, "ab") as log:
        sup.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP}))
    sup.signal(signal.SIGHUP)   # long before Python has installed any handler
    wait_for(lambda: "reloaded " in sup.log(), 15, message="the pending SIGHUP to reload")
    assert sup.proc.poll() is None
    assert request(sup.socket_path("example"))[0] == "HTTP/1.1 200 OK"


def test_sigterm_gives_requests_shutdown_timeout_only_then_exits(supervisor):
    """A stop is not a recycle: as under mod_wsgi, graceful-timeout does not apply to it."""
    sup = supervisor()
    script = os.path.join(sup.directory, "slow.wsgi")
    with open(script, "w") as f:
        f.write(SLOW_APP.replace("time.sleep(1.0)", "time.sleep(60.0)"))
    os.chmod(script, 0o644)
    os.chmod(sup.directory, 0o777)   # the daemon user writes the marker file
    sup.write_config({"example": "processes=1 threads=2 graceful-timeout=30 "
                                 "shutdown-timeout=1"}, script=script)
    sup.start(wait_groups={"example": 1})
    client = threading.Thread(target=request_outcome, args=(sup.socket_path("example"),),
                              daemon=True)
    client.start()
    wait_for(lambda: os.path.exists(os.path.join(sup.directory, "request-started")), 10,
             message="the slow request to start")
    sup.signal(signal.SIGTERM)
    assert sup.proc.wait(10) == 0
    log = sup.log()
    assert "stopping (SIGTERM): waiting up to 2.0s for the daemon processes" in log
    assert "graceful-timeout" not in log
    assert "1 requests still running after shutdown-timeout; exiting without them" in log
    # It ended by itself after 1 s, before the supervisor's SIGKILL (1 s later).
    assert "exited with status 0 (stopped normally)" in log
    assert "killing it" not in log


SETTINGS_APP = """\
import json
import os
import resource

def application(environ, start_response):
    umask = os.umask(0)
    os.umask(umask)
    body = json.dumps({
        "umask": umask,
        "groups": sorted(os.getgroups()),
        "gid": os.getgid(),
        "priority": os.getpriority(os.PRIO_PROCESS, 0),
        "address_space": resource.getrlimit(resource.RLIMIT_AS)[0],
        "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


def test_umask_cpu_priority_and_resource_limits_apply_to_the_daemon_process(supervisor):
    import grp
    import json
    sup = supervisor()
    script = os.path.join(sup.directory, "settings.wsgi")
    with open(script, "w") as f:
        f.write(SETTINGS_APP)
    os.chmod(script, 0o644)
    extra_groups = ""
    if ROOT:
        extra_groups = " supplementary-groups=" + ",".join(
            g for g in ("adm", "staff") if g in [e.gr_name for e in grp.getgrall()])
    sup.write_config({"example": "processes=1 umask=0027 cpu-priority=7 "
                                 "virtual-memory-limit=4000000000 cpu-time-limit=3600"
                                 + extra_groups}, script=script)
    sup.start(wait_groups={"example": 1})
    status, body = request(sup.socket_path("example"), "/")
    assert status == "HTTP/1.1 200 OK", body
    seen = json.loads(body)
    assert seen["umask"] == 0o027
    assert seen["priority"] == 7
    assert seen["address_space"] == 4000000000
    assert seen["cpu"] == 3600
    if ROOT and extra_groups.partition("=")[2]:
        wanted = {grp.getgrnam(name).gr_gid for name in extra_groups.partition("=")[2].split(",")}
        assert set(seen["groups"]) - {seen["gid"]} == wanted
