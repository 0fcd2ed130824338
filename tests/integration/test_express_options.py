"""start-server's options, each observed in effect through a real Apache and real daemons.

One server, started once for the module, carries every option that the tests only read
(static files, compression, socket path, application and daemon options, a service script, the
access log); options that change how the server runs (recycling, module applications, logging
to the terminal) get a server of their own.
"""

import concurrent.futures
import functools
import glob
import grp
import os
import re
import socket
import time
import stat
import subprocess

import psutil
import pytest
import requests

from tests.support.apache import APACHE_USER, APPS, shared_tmpdir, wait_for
from tests.support.express import (HTTPD_NAMES, PID_SCRIPT, STOP_TIMEOUT, ExpressServer,
                                   is_alive, write_file)
from tests.support.procs import tcp_listen_backlog

OPTIONS_APP = os.path.join(APPS, "express_options.wsgi")
# Who the service script runs as when the tests run as root (--service-user/--service-group).
SERVICE_USER, SERVICE_GROUP = "nobody", "nogroup"
COMPRESSED_TYPES = ("text/plain", "text/html", "text/css", "text/xml", "text/javascript",
                    "application/javascript", "application/xhtml+xml", "application/json")
# What the shared server's command line gives, and what mod_wsgi-express's defaults give the
# daemon options it leaves alone.
DAEMON_LIMITS = ("request-timeout=30 inactivity-timeout=100 cpu-time-limit=50 "
                 "graceful-timeout=7 shutdown-timeout=3 daemon-backlog=50 stack-size=524288")
DAEMON_OPTIONS_IN_EFFECT = (
    "cpu-time-limit=50", "graceful-timeout=7", "inactivity-timeout=100", "request-timeout=30",
    "shutdown-timeout=3", "listen-backlog=50", "stack-size=524288", "server-metrics=On",
    # mod_wsgi-express 5.0.2's defaults
    "startup-timeout=15", "deadlock-timeout=60", "queue-timeout=45", "connect-timeout=15",
    "socket-timeout=60", "maximum-requests=0", "restart-interval=0", "eviction-timeout=0",
    "response-socket-timeout=0", "locale=de_DE.UTF-8", "lang=de_DE.UTF-8")

# Writes its pid (to a temporary name first, so the test never reads half of it), then runs on.
SERVICE_SCRIPT = """\
import os
import time

directory = {directory!r}
with open(os.path.join(directory, "service.pid.tmp"), "w") as f:
    f.write(str(os.getpid()))
os.rename(os.path.join(directory, "service.pid.tmp"), os.path.join(directory, "service.pid"))
while True:
    time.sleep(60)
"""


class Layout:
    """The directories and files the shared server's options point at."""

    def __init__(self):
        self.top = shared_tmpdir("wsgid-express-options-")
        self.python_path = os.path.join(self.top, "lib")
        self.working_directory = os.path.join(self.top, "work")
        self.socket_path = os.path.join(self.top, "sockets")
        self.document_root = os.path.join(self.top, "htdocs")
        self.static = os.path.join(self.top, "static")
        self.robots = os.path.join(self.top, "robots.txt")
        self.service_dir = os.path.join(self.top, "service")
        self.service_script = os.path.join(self.top, "service.py")
        for directory in (self.python_path, self.working_directory, self.document_root,
                          self.static, self.service_dir):
            os.makedirs(directory, mode=0o755)
            os.chmod(directory, 0o755)
        if APACHE_USER is not None:
            # The service script runs as SERVICE_USER (--service-user, root only) and writes
            # its pid here.
            os.chown(self.service_dir, *_ids(SERVICE_USER))
        write_file(os.path.join(self.python_path, "express_helper.py"), "NAME = 'helper'\n")
        write_file(os.path.join(self.document_root, "page.txt"), "a page from the document root\n")
        write_file(os.path.join(self.document_root, "sub", "data.json"), '{"static": true}\n')
        os.chmod(os.path.join(self.document_root, "sub"), 0o755)
        write_file(os.path.join(self.static, "style.css"), "body { color: black; }\n")
        write_file(self.robots, "User-agent: *\n")
        write_file(self.service_script, SERVICE_SCRIPT.format(directory=self.service_dir))

    def args(self):
        return ["--callable-object", "app",
                "--python-path", self.python_path,
                "--working-directory", self.working_directory,
                "--socket-path", self.socket_path,
                "--document-root", self.document_root,
                "--url-alias", "/static", self.static,
                "--url-alias", "/robots.txt", self.robots,
                "--compress-responses",
                "--access-log",
                "--service-script", "tasks", self.service_script,
                "--request-timeout", "30", "--inactivity-timeout", "100",
                "--cpu-time-limit", "50", "--graceful-timeout", "7", "--shutdown-timeout", "3",
                "--daemon-backlog", "50", "--stack-size", "524288", "--server-metrics",
                "--locale", "de_DE.UTF-8",
                *(["--service-user", "tasks", SERVICE_USER, "--service-group", "tasks",
                   SERVICE_GROUP] if APACHE_USER is not None else [])]


def _ids(user):
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


@pytest.fixture(scope="module")
def layout():
    made = Layout()
    yield made
    subprocess.run(["rm", "-rf", made.top], check=False)


@pytest.fixture(scope="module")
def server(layout):
    started = ExpressServer(layout.args(), script=OPTIONS_APP)
    try:
        response = started.wait_until_serving("/where")
        assert response.status_code == 200, started.diagnostics()
        started.wait_for_daemons(2)          # the application's and the service script's
        yield started
    finally:
        started.cleanup()


def get(server, path, params=None, **headers):
    return requests.get(server.url(path), params=params, headers=headers, timeout=10)


# --- the application ------------------------------------------------------------------------

def test_callable_object_python_path_and_working_directory(server, layout):
    where = get(server, "/where").json()
    assert where["helper"] == "helper"                      # imported from --python-path
    assert where["cwd"] == layout.working_directory         # --working-directory is home=
    assert layout.python_path in where["sys_path"]
    assert os.path.dirname(OPTIONS_APP) in where["sys_path"]  # the script's directory first


# --- static files ---------------------------------------------------------------------------

def test_document_root_serves_its_files_and_the_application_the_other_urls(server):
    page = get(server, "/page.txt")
    assert page.status_code == 200 and page.text == "a page from the document root\n"
    assert "Last-Modified" in page.headers                  # Apache's file handler, not the app
    nested = get(server, "/sub/data.json")
    assert nested.json() == {"static": True}
    assert nested.headers["Content-Type"] == "application/json"
    assert get(server, "/missing.txt").text == "app /missing.txt"
    assert get(server, "/sub").text == "app /sub"           # a directory is not a file
    assert get(server, "/").text == "app /"


def test_url_alias_serves_a_directory_and_a_file(server):
    css = get(server, "/static/style.css")
    assert css.status_code == 200 and css.text == "body { color: black; }\n"
    assert css.headers["Content-Type"].startswith("text/css")
    robots = get(server, "/robots.txt")
    assert robots.status_code == 200 and robots.text == "User-agent: *\n"
    assert get(server, "/static/none.css").status_code == 404   # under the alias: Apache's 404
    assert get(server, "/staticfile").text == "app /staticfile"  # only the alias's own URLs


# --- compression ----------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", COMPRESSED_TYPES)
def test_compress_responses_gzips_the_text_types(server, content_type):
    response = get(server, "/typed", {"type": content_type}, **{"Accept-Encoding": "gzip"})
    assert response.headers.get("Content-Encoding") == "gzip", response.headers
    assert response.content == b"wsgid express " * 600      # requests decompressed it


def test_compress_responses_leaves_images_and_clients_without_gzip_alone(server):
    png = get(server, "/typed", {"type": "image/png"}, **{"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in png.headers
    plain = get(server, "/typed", {"type": "application/json"},
                **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers


# --- sockets, daemon options, service script, access log ------------------------------------

def test_daemon_sockets_are_under_socket_path_not_the_server_root(server, layout):
    sockets = glob.glob(os.path.join(layout.socket_path, f"wsgi.*.localhost:{server.port}.sock"))
    assert len(sockets) == 1, os.listdir(layout.socket_path)
    assert stat.S_ISSOCK(os.stat(sockets[0]).st_mode)
    assert not glob.glob(os.path.join(server.server_root, "*.sock"))


def test_daemon_options_and_mod_wsgi_express_defaults_reach_the_supervisor(server, layout):
    # The daemon configuration mod_wsgid handed to the supervisor, which it started the group
    # with (wsgid/config.py reads it; a value it refused would have failed the start).
    daemon_confs = [path for path in glob.glob(os.path.join(layout.socket_path, "wsgi.*.conf"))]
    assert len(daemon_confs) == 1
    with open(daemon_confs[0]) as f:
        group_line = next(line for line in f if line.startswith(
            f"WSGIDaemonProcess localhost:{server.port} "))
    for option in DAEMON_OPTIONS_IN_EFFECT:
        assert option in group_line.split(), (option, group_line)


def test_server_metrics_and_locale_are_in_effect_in_the_daemon(server):
    where = get(server, "/where").json()
    assert where["server_metrics"] is True
    # lang= sets LANG and locale= LC_ALL (and the C library's, where the system has it)
    assert (where["lang"], where["lc_all"]) == ("de_DE.UTF-8", "de_DE.UTF-8")


def test_service_script_runs_in_a_service_group_of_its_own(server, layout):
    pid_file = os.path.join(layout.service_dir, "service.pid")
    wait_for(lambda: os.path.exists(pid_file), 30, message="the service script to write its pid")
    with open(pid_file) as f:
        service = psutil.Process(int(f.read()))
    assert "(wsgi:service:tasks)" in " ".join(service.cmdline())
    if APACHE_USER is not None:
        assert (service.uids().real, service.gids().real) == _ids(SERVICE_USER)
        assert grp.getgrgid(service.gids().real).gr_name == SERVICE_GROUP
    served_by = get(server, "/where").json()["pid"]
    assert served_by != service.pid
    assert {service.pid, served_by} <= {d.pid for d in server.daemons()}


def test_access_log_records_each_request(server):
    get(server, "/logged-request")
    access_log = os.path.join(server.server_root, "access_log")

    def logged():
        with open(access_log) as f:
            return '"GET /logged-request HTTP/1.1" 200' in f.read()
    wait_for(logged, 10, message="the request in access_log")


# --- options that change how the server runs ------------------------------------------------

def test_maximum_requests_recycles_the_daemon_after_that_many_requests(express, write_script):
    server = express(["--maximum-requests", "2", "--threads", "1"],
                     script=write_script(PID_SCRIPT, "pid.wsgi"))
    assert server.wait_until_serving().status_code == 200, server.diagnostics()
    first = server.wait_for_daemons(1)[0].pid

    def served_by():
        return int(server.get("/").text.split()[0].split("=")[1])
    # wait_until_serving's request was the first of `first`: one more, then it is recycled.
    assert served_by() == first
    wait_for(lambda: served_by() != first, 30, message="a new daemon after 2 requests")
    wait_for(lambda: not is_alive(first), 30, message=f"the recycled daemon {first} to exit")


# Its slow request says (a file in MARKS) when it has begun, then holds the only thread.
SLOW_SCRIPT = """\
import os
import time


def application(environ, start_response):
    if environ.get("QUERY_STRING") == "slow":
        open(os.path.join({marks!r}, "slow-began"), "w").close()
        time.sleep(3)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"answered"]
"""


def test_queue_timeout_answers_504_to_a_request_that_waited_too_long(express, write_script):
    marks = shared_tmpdir("wsgid-express-marks-")
    os.chmod(marks, 0o777)           # the daemon user leaves its mark here
    try:
        server = express(["--threads", "1", "--queue-timeout", "1"],
                         script=write_script(SLOW_SCRIPT.format(marks=marks), "slow.wsgi"))
        assert server.wait_until_serving().status_code == 200, server.diagnostics()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(requests.get, server.url("/?slow"), timeout=30)
            wait_for(lambda: os.path.exists(os.path.join(marks, "slow-began")), 10,
                     message="the slow request to hold the daemon's only thread")
            waited = requests.get(server.url("/"), timeout=30)
            assert waited.status_code == 504, server.diagnostics()
            assert slow.result().text == "answered"
        assert "queue-timeout" in server.error_log()
    finally:
        subprocess.run(["rm", "-rf", marks], check=False)


# Reports the Apache in front (mod_wsgi's apache module) and how much body it was given.
APACHE_SCRIPT = """\
import json


def application(environ, start_response):
    import apache
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.dumps({"threads_per_process": apache.threads_per_process,
                       "maximum_processes": apache.maximum_processes,
                       "read": len(environ["wsgi.input"].read(size))}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


def test_capacity_and_client_protection_options_are_in_effect(express, write_script):
    server = express(["--max-clients", "100", "--initial-workers", "1.0",
                      "--minimum-spare-workers", "0.2", "--maximum-spare-workers", "1.0",
                      "--server-backlog", "77",
                      "--keep-alive-timeout", "0", "--limit-request-body", "1000",
                      "--header-timeout", "1", "--header-max-timeout", "0",
                      "--header-min-rate", "0", "--body-timeout", "1",
                      "--body-max-timeout", "0", "--body-min-rate", "0"],
                     script=write_script(APACHE_SCRIPT, "apache.wsgi"))
    answer = server.wait_until_serving()
    assert answer.status_code == 200, server.diagnostics()
    # --max-clients 100: children of 16 threads, 7 of them (mod_wsgi-express's rule), as the
    # application's apache module sees Apache's MPM
    assert (answer.json()["threads_per_process"], answer.json()["maximum_processes"]) == (16, 7)
    # --initial-workers 1.0: Apache starts all 7 children (StartServers), where the spare
    # workers wanted (0.2 of them) would take 2, and none is stopped as too many (1.0 may idle)
    wait_for(lambda: len([child for child in server.apache_parent().children()
                          if child.name() in HTTPD_NAMES]) == 7, 10,
             message="7 Apache children")
    assert tcp_listen_backlog(server.port) == 77
    # --keep-alive-timeout 0: no keep-alive
    assert answer.headers["Connection"] == "close"
    # --limit-request-body: a body within the limit reaches the application, a larger one is 413
    assert requests.post(server.url("/"), data=b"x" * 1000, timeout=10).json()["read"] == 1000
    assert requests.post(server.url("/"), data=b"x" * 1001, timeout=10).status_code == 413
    # --header-timeout 1: a client that never finishes its headers gets 408, and is closed
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        started = time.monotonic()
        reply = b""
        while chunk := client.recv(4096):
            reply += chunk
        waited = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert 0.5 < waited < 5, waited
    # --body-timeout 1: a body that stops coming is given up after a second (the application's
    # read fails, and the connection is closed)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n"
                       b"only ten b")
        started = time.monotonic()
        while client.recv(4096):
            pass
        waited = time.monotonic() - started
    assert 0.5 < waited < 5, waited      # mod_wsgi-express's default would wait 15 seconds


# What a request looks like from the application; /missing is its own 404.
REQUESTS_SCRIPT = """\
import json


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"the application's own 404 page"]
    body = json.dumps({
        "method": environ["REQUEST_METHOD"], "remote_addr": environ["REMOTE_ADDR"],
        "app_mode": environ.get("APP_MODE"), "passed": environ.get("WSGID_TEST_PASSED"),
        "request_id": environ["mod_wsgi.request_id"],
        "read": len(environ["wsgi.input"].read())}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("X-Method", environ["REQUEST_METHOD"])])
    return [body]
"""


def test_request_handling_and_logging_options_are_in_effect(express, write_script):
    server = express(["--chunked-request", "--map-head-to-get", "On", "--error-override",
                      "--error-document", "404", "custom not found",
                      "--trust-proxy-header", "X-Forwarded-For", "--trust-proxy", "127.0.0.1",
                      "--setenv", "APP_MODE", "testing", "--passenv", "WSGID_TEST_PASSED",
                      "--server-status", "--verbose-debugging", "--log-level", "info",
                      "--error-log-format", "[%{cu}t] [%-m:%l] [R:%L] %M",
                      "--access-log", "--access-log-format", "combined"],
                     script=write_script(REQUESTS_SCRIPT, "requests.wsgi"),
                     env=dict(os.environ, WSGID_TEST_PASSED="from start-server"))
    assert server.wait_until_serving().status_code == 200, server.diagnostics()
    # --chunked-request: a body without Content-Length reaches the application
    seen = requests.post(server.url("/"), data=iter([b"a" * 1000, b"b" * 24]),
                         headers={"X-Forwarded-For": "203.0.113.9",
                                  "Referer": "http://shop.test/cart"}, timeout=10).json()
    assert seen["read"] == 1024
    # --trust-proxy-header/--trust-proxy, --setenv, --passenv
    assert seen["remote_addr"] == "203.0.113.9"
    assert (seen["app_mode"], seen["passed"]) == ("testing", "from start-server")
    # --map-head-to-get On: the application sees GET
    assert requests.head(server.url("/"), timeout=10).headers["X-Method"] == "GET"
    # --error-override with --error-document: Apache's page replaces the application's
    missing = requests.get(server.url("/missing"), timeout=10)
    assert (missing.status_code, missing.text) == (404, "custom not found")
    # --server-status: mod_status, for this machine
    status = requests.get(server.url("/server-status?auto"), timeout=10)
    assert status.status_code == 200 and "ServerUptime" in status.text
    # --error-log-format: Apache's lines and wsgid's, the request's log id in its lines;
    # --verbose-debugging: the daemons' debug lines
    log = server.error_log()
    assert re.search(r"^\[\d{4}-\d\d-\d\d [\d:.]+\] \[wsgi:debug\] ", log, re.MULTILINE), log
    assert re.search(r"^\[\d{4}-\d\d-\d\d [\d:.]+\] \[mpm_event:notice\] AH00489", log,
                     re.MULTILINE), log
    # --access-log-format combined: the referer and the user agent
    wait_for(lambda: '"http://shop.test/cart" "python-requests/' in open(
        os.path.join(server.server_root, "access_log")).read(), 10,
        message="the combined access log line")


ACCESS_SCRIPT = """\
def allow_access(environ, host):
    return environ.get("HTTP_X_LET_IN") == "yes"
"""
USER_SCRIPT = """\
def check_password(environ, user, password):
    if user not in ("alice", "bob"):
        return None                     # no such user
    return password == "secret"
"""
GROUP_SCRIPT = """\
def groups_for_user(environ, user):
    return ["staff"] if user == "alice" else ["guests"]
"""


def test_hook_scripts_decide_access_login_and_group(express, write_script):
    server = express(["--host-access-script", write_script(ACCESS_SCRIPT, "access.py"),
                      "--auth-user-script", write_script(USER_SCRIPT, "users.py"),
                      "--auth-group-script", write_script(GROUP_SCRIPT, "groups.py"),
                      "--auth-group", "staff"],
                     script=write_script(PID_SCRIPT, "pid.wsgi"))

    def get_as(user=None, password="secret", let_in="yes"):
        return requests.get(server.url("/"), headers={"X-Let-In": let_in},
                            auth=(user, password) if user else None, timeout=10)
    # the access script first (403), then the login (401), then the group (403)
    wait_for(lambda: server.get("/") is not None, 30, message="start-server to answer")
    assert get_as("alice", let_in="no").status_code == 403, server.diagnostics()
    assert get_as().status_code == 401
    assert get_as("alice", "wrong").status_code == 401
    # logged in, not in --auth-group: Apache answers 401 (another login may do) and says why
    assert get_as("bob").status_code == 401
    wait_for(lambda: "user bob: authorization failure" in server.error_log(), 10,
             message="Apache's authorization line for bob")
    answer = get_as("alice")
    assert answer.status_code == 200 and answer.text.startswith("pid=")


DIGEST_SCRIPT = """\
import hashlib


def get_realm_hash(environ, user, realm):
    if user != "alice":
        return None
    return hashlib.md5(("alice:%s:secret" % realm).encode()).hexdigest()
"""


def test_auth_type_digest_logs_in_with_the_scripts_realm_hash(express, write_script):
    server = express(["--auth-user-script", write_script(DIGEST_SCRIPT, "digest.py"),
                      "--auth-type", "Digest"],
                     script=write_script(PID_SCRIPT, "pid.wsgi"))
    # (a 401 response is false, hence `is not None`)
    wait_for(lambda: server.get("/") is not None, 30, message="start-server to answer")
    first = server.get("/")
    assert first.status_code == 401, server.diagnostics()
    assert first.headers["WWW-Authenticate"].startswith("Digest ")
    get = functools.partial(requests.get, server.url("/"), timeout=10)
    assert get(auth=requests.auth.HTTPDigestAuth("alice", "wrong")).status_code == 401
    assert get(auth=requests.auth.HTTPDigestAuth("bob", "secret")).status_code == 401
    answer = get(auth=requests.auth.HTTPDigestAuth("alice", "secret"))
    assert answer.status_code == 200 and answer.text.startswith("pid=")


def test_where_apache_and_its_files_are(express, write_script):
    from wsgid import paths
    top = shared_tmpdir("wsgid-express-files-")
    try:
        logs, static = os.path.join(top, "logs"), os.path.join(top, "static")
        os.mkdir(static)
        os.chmod(static, 0o755)
        write_file(os.path.join(static, "data.xyz"), "x\n")
        write_file(os.path.join(top, "types"), "application/x-wsgid-test xyz\n")
        pid_file = os.path.join(top, "apache.pid")
        server = express(["--log-directory", logs, "--error-log-name", "errors.txt",
                          "--access-log", "--access-log-name", "hits.txt", "--startup-log",
                          "--startup-log-name", "boot.txt",
                          "--pid-file", pid_file, "--process-name", "apache-for-wsgid-test",
                          "--mime-types", os.path.join(top, "types"),
                          "--url-alias", "/static", static,
                          "--httpd-executable", paths.httpd_binary(),
                          "--modules-directory", paths.apache_modules_dir()],
                         script=write_script(PID_SCRIPT, "pid.wsgi"))
        assert server.wait_until_serving().status_code == 200, server.output()
        served = requests.get(server.url("/static/data.xyz"), timeout=10)
        assert served.headers["Content-Type"] == "application/x-wsgid-test"   # --mime-types
        parent = server.apache_parent()
        with open(pid_file) as f:
            assert int(f.read()) == parent.pid                                 # --pid-file
        assert parent.cmdline()[0] == "apache-for-wsgid-test"                  # --process-name
        assert parent.exe() == os.path.realpath(paths.httpd_binary())
        wait_for(lambda: '"GET /static/data.xyz' in open(os.path.join(logs, "hits.txt")).read(),
                 10, message="the request in hits.txt")
        assert os.path.isfile(os.path.join(logs, "errors.txt"))
        assert os.path.isfile(os.path.join(logs, "boot.txt"))                   # --startup-log-name
        assert not os.path.exists(os.path.join(server.server_root, "error_log"))
    finally:
        subprocess.run(["rm", "-rf", top], check=False)


# Says which version of itself answers, and what mod_wsgid told it.
VERSIONED_SCRIPT = """\
VERSION = {version!r}


def application(environ, start_response):
    body = " ".join((VERSION, environ["mod_wsgi.script_reloading"],
                     environ["mod_wsgi.ignore_activity"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""


def test_disable_reloading_ignore_activity_and_include_file(express, write_script):
    top = shared_tmpdir("wsgid-express-include-")
    try:
        include = os.path.join(top, "extra.conf")
        write_file(include, "<Location /closed>\n    Require all denied\n</Location>\n")
        script = write_script(VERSIONED_SCRIPT.format(version="v1"), "versioned.wsgi")
        server = express(["--disable-reloading", "--ignore-activity", "/healthz",
                          "--include-file", include], script=script)
        assert server.wait_until_serving().text == "v1 0 0", server.diagnostics()
        assert server.get("/healthz/ready").text == "v1 0 1"      # --ignore-activity
        assert server.get("/closed").status_code == 403            # --include-file
        # --disable-reloading: a changed script is not loaded again
        with open(script, "w") as f:
            f.write(VERSIONED_SCRIPT.format(version="v2"))
        stamp = os.stat(script).st_mtime + 10
        os.utime(script, (stamp, stamp))
        assert all(server.get("/").text == "v1 0 0" for _ in range(5))
    finally:
        subprocess.run(["rm", "-rf", top], check=False)


def test_application_type_module_imports_the_module_from_python_path(express):
    top = shared_tmpdir("wsgid-express-module-")
    try:
        package = os.path.join(top, "lib", "expressmod")
        write_file(os.path.join(package, "__init__.py"), "")
        write_file(os.path.join(package, "wsgi.py"),
                   "import os\n"
                   "def application(environ, start_response):\n"
                   "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                   "    return [('module ' + os.getcwd()).encode()]\n")
        os.chmod(os.path.dirname(package), 0o755)
        os.chmod(package, 0o755)
        here = os.path.join(top, "project")
        os.mkdir(here)
        os.chmod(here, 0o755)
        server = express(["--application-type", "module",
                          "--python-path", os.path.join(top, "lib")],
                         script="expressmod.wsgi", cwd=here)
        response = server.wait_until_serving()
        assert response.status_code == 200, server.diagnostics()
        # The working directory defaults to where start-server was run.
        assert response.text == f"module {here}"
        assert "expressmod.wsgi:application (module)" in server.output()
    finally:
        subprocess.run(["rm", "-rf", top], check=False)


def test_log_to_terminal_writes_the_error_and_access_logs_to_the_terminal(express):
    server = express(["--log-to-terminal", "--access-log", "--log-level", "info"])
    assert server.wait_until_serving("/from-the-terminal-test").status_code == 200

    def in_output(text):
        return lambda: text in server.output()
    wait_for(in_output('"GET /from-the-terminal-test HTTP/1.1" 200'), 10,
             message="the access log line on standard output")
    assert "resuming normal operations" in server.output()   # Apache's error log, on stderr
    assert "Error log:     standard error" in server.output()
    assert not os.path.exists(os.path.join(server.server_root, "error_log"))
    assert not os.path.exists(os.path.join(server.server_root, "access_log"))
    assert server.interrupt() == 0
    wait_for(lambda: not server.survivors(), STOP_TIMEOUT, message="every process to exit")
