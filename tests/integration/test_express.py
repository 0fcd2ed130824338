"""`wsgid start-server` and `wsgid setup-server` end to end: the real command, a real Apache.

Each test runs the command as a user would (`python -m wsgid start-server ...` in a session of
its own, like a job in a terminal) on a free loopback port with a server root in a directory the
Apache child user can reach, and checks what a client, the process table and the server root
show. Ctrl-C is simulated the way a terminal sends it: SIGINT to the whole process group.
"""

import os
import pwd
import stat
import subprocess
import sys

import psutil
import pytest
import requests

from tests.support.apache import RUNNING_AS_ROOT, free_port, shared_tmpdir, wait_for
from tests.support.express import (HTTPD_NAMES, ORPHAN_SCRIPT, PID_SCRIPT, START_TIMEOUT,
                                   STOP_TIMEOUT, is_alive, run_wsgid)


# --- start-server serves ----------------------------------------------------------------------

def test_start_server_without_script_serves_the_welcome_page(express):
    server = express()
    response = server.wait_until_serving()
    assert response.status_code == 200, server.diagnostics()
    assert "wsgid is running" in response.text
    assert f"localhost:{server.port}" in response.text      # the process group that answered
    assert "%d.%d." % sys.version_info[:2] in response.text
    output = server.output()
    assert f"http://127.0.0.1:{server.port}/" in output
    assert os.path.join(server.server_root, "error_log") in output
    # and wsgid's documentation, as mod_wsgi-express's welcome page comes with mod_wsgi's
    assert "configuration.md" in server.get("/__wsgi__/docs/").text


def test_start_server_serves_the_script_with_the_given_processes_and_threads(express, pid_script):
    server = express(["--processes", "3", "--threads", "21"], script=pid_script)
    response = server.wait_until_serving()
    assert response.status_code == 200, server.diagnostics()
    assert response.text.startswith("pid=")
    assert response.text.endswith(f"group=localhost:{server.port}")
    daemons = server.wait_for_daemons(3)
    served_by = int(response.text.split()[0].split("=")[1])
    assert served_by in {d.pid for d in daemons}

    def thread_counts():
        return [d.num_threads() for d in daemons]
    # 21 request threads, plus at most a few of the daemon's own (main, housekeeping); a
    # daemon that is still starting its pool gets until the deadline.
    wait_for(lambda: all(21 <= n <= 21 + 4 for n in thread_counts()), START_TIMEOUT,
             message="21 request threads in each daemon")


def test_script_imports_modules_beside_it_and_runs_in_its_directory(express, write_script):
    script = write_script(
        "import os\n"
        "import helper_beside_the_script\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [(helper_beside_the_script.NAME + ' ' + os.getcwd()).encode()]\n")
    directory = os.path.dirname(script)
    with open(os.path.join(directory, "helper_beside_the_script.py"), "w") as f:
        f.write("NAME = 'helper'\n")
    os.chmod(os.path.join(directory, "helper_beside_the_script.py"), 0o644)
    server = express(script=script)
    response = server.wait_until_serving()
    assert response.status_code == 200, server.diagnostics()
    assert response.text == f"helper {directory}"


def test_ctrl_c_stops_apache_the_supervisor_and_the_daemons(express):
    server = express(["--processes", "2"])
    server.wait_until_serving()
    server.wait_for_daemons(2)
    started = set(server.known_pids)
    assert len(started) >= 1 + 1 + 1 + 1 + 2   # start-server, Apache, a child, supervisor, 2 daemons
    status = server.interrupt()
    assert status == 0, server.diagnostics()
    wait_for(lambda: not server.survivors(), STOP_TIMEOUT,
             message="every process start-server started to exit")
    # Apache and mod_wsgid stopped everything themselves: start-server's backstop found nothing.
    assert "outlived Apache" not in server.output()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url(), timeout=5)


def test_a_process_that_outlives_apache_is_stopped_and_named(express, write_script):
    server = express(script=write_script(ORPHAN_SCRIPT))
    response = server.wait_until_serving()
    assert response.status_code == 200, server.diagnostics()
    orphan = psutil.Process(int(response.text))
    assert server.interrupt() == 0, server.diagnostics()
    # start-server, as child subreaper, adopted the orphan and stopped it before exiting.
    assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
    assert f"process {orphan.pid} (sleep) outlived Apache" in server.output()


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="the suite already runs as an ordinary user")
def test_start_server_as_an_ordinary_user_serves_and_stops(express):
    nobody = pwd.getpwnam("nobody")
    server = express(as_user=nobody)
    response = server.wait_until_serving()
    assert response.status_code == 200, server.diagnostics()
    assert "wsgid is running" in response.text
    for proc in server.tree():
        assert proc.uids().real == nobody.pw_uid, (proc.pid, proc.name(), proc.uids())
    with open(os.path.join(server.server_root, "httpd.conf")) as f:
        conf = f.read()
    assert "\nUser " not in conf and "\nGroup " not in conf
    assert server.interrupt() == 0, server.diagnostics()
    wait_for(lambda: not server.survivors(), STOP_TIMEOUT, message="every process to exit")


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="needs root")
def test_started_as_root_apache_children_and_daemons_run_as_www_data(express):
    server = express(["--processes", "1"])
    server.wait_until_serving()
    www_data = pwd.getpwnam("www-data").pw_uid
    for daemon in server.wait_for_daemons(1):
        assert daemon.uids().effective == www_data
    apache_children = server.apache_parent().children()
    assert any(p.name() in HTTPD_NAMES and p.uids().effective == www_data
               for p in apache_children)


# --- the server root --------------------------------------------------------------------------

def test_default_server_root_is_under_tmpdir_named_by_host_port_and_uid():
    tmpdir = shared_tmpdir("wsgid-express-tmpdir-")
    port = free_port()
    try:
        env = dict(os.environ, TMPDIR=tmpdir)
        result = run_wsgid("setup-server", "--port", str(port), env=env)
        assert result.returncode == 0, result.stderr
        # no --host: every interface, and mod_wsgi-express's name for it
        expected = os.path.join(tmpdir, f"wsgid-localhost:{port}:{os.getuid()}")
        assert os.path.isfile(os.path.join(expected, "httpd.conf"))
        assert os.access(os.path.join(expected, "apachectl"), os.X_OK)
        assert stat.S_IMODE(os.stat(expected).st_mode) == 0o755
        assert expected in result.stdout
    finally:
        subprocess.run(["rm", "-rf", tmpdir], check=False)


def test_default_server_root_is_under_tmp_when_tmpdir_is_unset():
    port = free_port()
    expected = f"/tmp/wsgid-localhost:{port}:{os.getuid()}"
    env = {k: v for k, v in os.environ.items() if k != "TMPDIR"}
    try:
        result = run_wsgid("setup-server", "--port", str(port), env=env)
        assert result.returncode == 0, result.stderr
        assert os.path.isfile(os.path.join(expected, "httpd.conf"))
    finally:
        subprocess.run(["rm", "-rf", expected], check=False)


def test_generated_config_passes_apachectl_configtest():
    workdir = shared_tmpdir("wsgid-express-conf-")
    root = os.path.join(workdir, "root")
    service = os.path.join(workdir, "service.py")
    with open(service, "w") as f:
        f.write("import time\ntime.sleep(60)\n")
    os.chmod(service, 0o644)
    try:
        # Every section the options add to httpd.conf, for Apache's own syntax check.
        result = run_wsgid("setup-server", "--port", str(free_port()), "--processes", "2",
                           "--threads", "7", "--server-root", root, "--compress-responses",
                           "--document-root", workdir, "--url-alias", "/s", workdir,
                           "--url-alias", "/service.py", service,
                           "--service-script", "tasks", service, "--access-log",
                           "--log-to-terminal", "--maximum-requests", "100",
                           "--socket-path", os.path.join(workdir, "sockets"))
        assert result.returncode == 0, result.stderr
        with open(os.path.join(root, "httpd.conf")) as f:
            conf = f.read()
        assert "WSGISocketRotation Off" in conf
        assert f'WSGISocketPrefix "{workdir}/sockets/wsgi"' in conf
        assert "processes=2 threads=7" in conf
        test = subprocess.run([os.path.join(root, "apachectl"), "configtest"],
                              capture_output=True, text=True, timeout=60)
        assert test.returncode == 0, test.stdout + test.stderr
        assert "Syntax OK" in test.stderr
    finally:
        subprocess.run(["rm", "-rf", workdir], check=False)


def test_setup_only_writes_the_server_root_and_starts_nothing():
    workdir = shared_tmpdir("wsgid-express-setup-only-")
    root = os.path.join(workdir, "root")
    port = free_port()
    try:
        result = run_wsgid("start-server", "--setup-only", "--port", str(port),
                           "--server-root", root)
        assert result.returncode == 0, result.stderr
        assert os.path.isfile(os.path.join(root, "httpd.conf"))
        assert not os.path.exists(os.path.join(root, "httpd.pid"))
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    finally:
        subprocess.run(["rm", "-rf", workdir], check=False)


def test_setup_server_writes_an_apachectl_that_starts_and_stops_the_server():
    workdir = shared_tmpdir("wsgid-express-ctl-")
    root = os.path.join(workdir, "root")
    port = free_port()
    apachectl = os.path.join(root, "apachectl")
    known = set()
    try:
        result = run_wsgid("setup-server", "--port", str(port), "--server-root", root)
        assert result.returncode == 0, result.stderr
        assert subprocess.run([apachectl, "start"], timeout=60).returncode == 0

        def answer():
            try:
                return requests.get(f"http://127.0.0.1:{port}/", timeout=10)
            except requests.ConnectionError:
                return None
        response = wait_for(answer, START_TIMEOUT, interval=0.1, message="apachectl start")
        assert response.status_code == 200 and "wsgid is running" in response.text
        with open(os.path.join(root, "httpd.pid")) as f:
            apache = psutil.Process(int(f.read()))
        known.update([apache.pid] + [p.pid for p in apache.children(recursive=True)])
        assert subprocess.run([apachectl, "stop"], timeout=60).returncode == 0
        wait_for(lambda: not [p for p in known if is_alive(p)],
                 STOP_TIMEOUT, message="apachectl stop to stop every process")
    finally:
        for pid in known:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        subprocess.run(["rm", "-rf", workdir], check=False)


# --- mistakes get one clear line before Apache starts -----------------------------------------

def test_missing_script_is_an_error_before_anything_is_written():
    workdir = shared_tmpdir("wsgid-express-bad-")
    root = os.path.join(workdir, "root")
    try:
        result = run_wsgid("start-server", os.path.join(workdir, "nope.wsgi"), "--port",
                           str(free_port()), "--server-root", root)
        assert result.returncode == 1
        assert "nope.wsgi does not exist" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not os.path.exists(root)
    finally:
        subprocess.run(["rm", "-rf", workdir], check=False)


def test_server_root_too_long_for_the_socket_path_suggests_socket_path():
    workdir = shared_tmpdir("wsgid-express-bad-")
    root = os.path.join(workdir, "r" * 90)
    try:
        result = run_wsgid("start-server", "--port", str(free_port()), "--server-root", root)
        assert result.returncode == 1
        assert "--server-root" in result.stderr and "107-byte limit" in result.stderr
        assert "give --socket-path" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not os.path.exists(root)
    finally:
        subprocess.run(["rm", "-rf", workdir], check=False)


def test_socket_path_too_long_names_socket_path():
    workdir = shared_tmpdir("wsgid-express-bad-")
    try:
        result = run_wsgid("start-server", "--port", str(free_port()),
                           "--server-root", os.path.join(workdir, "root"),
                           "--socket-path", os.path.join(workdir, "s" * 90))
        assert result.returncode == 1
        assert "--socket-path" in result.stderr and "107-byte limit" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    finally:
        subprocess.run(["rm", "-rf", workdir], check=False)


@pytest.mark.parametrize("args, named", [
    (["--maximum-requests", "-1"], "--maximum-requests"),
    (["--request-timeout", "soon"], "--request-timeout"),
    (["--working-directory", "/nonexistent/wsgid"], "--working-directory"),
    (["--port", "http"], "--port"),
])
def test_bad_option_value_is_one_line_naming_the_option(args, named):
    result = run_wsgid("start-server", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"'{named}'" in result.stderr


def test_port_in_use_is_one_line_naming_the_port_option():
    import socket

    workdir = shared_tmpdir("wsgid-express-bad-")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_wsgid("start-server", "--host", "127.0.0.1", "--port", str(port),
                           "--server-root", os.path.join(workdir, "root"))
    subprocess.run(["rm", "-rf", workdir], check=False)
    assert result.returncode == 1
    assert "already in use" in result.stderr and "--port" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="needs root")
def test_user_root_is_refused():
    result = run_wsgid("setup-server", "--user", "root", "--port", str(free_port()))
    assert result.returncode == 1
    assert "--user root" in result.stderr and "must not run as root" in result.stderr


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="needs root")
def test_script_the_daemon_user_cannot_read_is_refused_naming_user_and_script(write_script):
    script = write_script(PID_SCRIPT)
    os.chmod(os.path.dirname(script), 0o700)
    workdir = shared_tmpdir("wsgid-express-bad-")
    try:
        result = run_wsgid("setup-server", script, "--port", str(free_port()),
                           "--server-root", os.path.join(workdir, "root"))
        assert result.returncode == 1
        assert f"www-data, who cannot reach the WSGI script at {script}" in result.stderr
    finally:
        subprocess.run(["rm", "-rf", workdir], check=False)
