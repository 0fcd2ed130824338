"""start-server's options for Apache itself, observed through a real Apache and daemons:
--proxy-mount-point/--proxy-url-alias and --proxy-virtual-host (to a real HTTP server on
loopback), --envvars-script and the MOD_WSGI_* variables, --shell-executable, --server-mpm,
--rotate-logs/--max-log-size with Apache's rotatelogs, --service-log-file (through the same
rotatelogs), and --reload-on-changes.

One server carries them all; the prefork MPM gets a server of its own.
"""

import glob
import http.server
import json
import os
import shutil
import subprocess
import threading

import psutil
import pytest
import requests

from wsgid import paths

from tests.support.apache import free_port, shared_tmpdir, wait_for
from tests.support.express import ExpressServer, run_wsgid, write_file

APP = """\
import atexit
import json
import os
import sys

import apache
import reload_helper

# Not run with --orphan-interpreter: a daemon process that ends leaves no such file.
atexit.register(lambda: open(os.path.join(os.path.dirname(__file__), "atexit",
                                          str(os.getpid())), "w").close())


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/noisy":
        # about 1.2 MB through wsgi.errors: past --max-log-size 1, so rotatelogs starts a file
        for number in range(1200):
            environ["wsgi.errors"].write("noisy line %d %s\\n" % (number, "x" * 1000))
        body = b"logged"
    else:
        body = json.dumps({
            "path": path,
            "mpm": apache.mpm_name,
            "from_envvars": os.environ.get("FROM_ENVVARS"),
            "server_root": os.environ.get("MOD_WSGI_SERVER_ROOT"),
            "http_port": os.environ.get("MOD_WSGI_HTTP_PORT"),
            "helper": reload_helper.VERSION,
            "lang": os.environ.get("LANG"), "lc_all": os.environ.get("LC_ALL"),
            "pid": os.getpid(),
        }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""

# Given by name, as a command line would: the rotatelogs Apache has.
ROTATELOGS = shutil.which("rotatelogs") or os.path.join(paths.build_info().SBINDIR, "rotatelogs")

# A service script that says one thing, in each way a process writes.
TICKER = """\
import os
import sys
import threading

print("ticker printed", flush=True)
sys.stderr.write("ticker wrote to stderr\\n")
sys.stderr.flush()
os.write(2, b"ticker wrote to descriptor 2\\n")
threading.Event().wait()
"""

# Written for bash, as mod_wsgi-express's default shell is: `export NAME=$(...)`, `[[ ]]`.
ENVVARS = """\
if [[ -n "$MOD_WSGI_SERVER_ROOT" ]]; then
    export FROM_ENVVARS="root=$MOD_WSGI_SERVER_ROOT"
fi
"""


class Backend(http.server.ThreadingHTTPServer):
    """The site the proxy options pass requests to: answers with what it was sent."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), BackendHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self):
        self.shutdown()
        self.server_close()


class BackendHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"backend_path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def backend():
    started = Backend()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def files():
    top = shared_tmpdir("wsgid-express-server-")
    write_file(os.path.join(top, "app.wsgi"), APP)
    write_file(os.path.join(top, "envvars.sh"), ENVVARS)
    write_file(os.path.join(top, "reload_helper.py"), "VERSION = 1\n")
    write_file(os.path.join(top, "ticker.py"), TICKER)
    os.makedirs(os.path.join(top, "atexit"))
    os.chmod(os.path.join(top, "atexit"), 0o777)      # the daemon user writes there
    write_file(os.path.join(top, "include.conf"),
               'Header always set X-Server-Root "${MOD_WSGI_SERVER_ROOT}"\n')
    yield top
    subprocess.run(["rm", "-rf", top], check=False)


@pytest.fixture(scope="module")
def server(files, backend):
    started = ExpressServer([
        "--proxy-mount-point", "/api", backend.url + "/v1",
        "--proxy-url-alias", "/docs/", backend.url + "/manual/",
        "--proxy-virtual-host", "proxied.test", backend.url,
        "--envvars-script", os.path.join(files, "envvars.sh"),
        "--shell-executable", "/bin/bash",
        "--include-file", os.path.join(files, "include.conf"),
        "--server-mpm", "worker",
        "--rotate-logs", "--max-log-size", "1", "--rotatelogs-executable", ROTATELOGS,
        "--lang", "C.UTF-8",
        "--service-script", "ticker", os.path.join(files, "ticker.py"),
        "--service-log-file", "ticker", "ticker.log",
        "--reload-on-changes", "--orphan-interpreter"],
        script=os.path.join(files, "app.wsgi"))
    try:
        response = started.wait_until_serving("/")
        assert response.status_code == 200, started.diagnostics()
        yield started
    finally:
        started.cleanup()


def get(server, path, **headers):
    return requests.get(server.url(path), headers=headers, timeout=10, allow_redirects=False)


def test_proxy_mount_point_passes_requests_to_the_target_with_forwarded_headers(server):
    sent = get(server, "/api/items?x=1").json()
    assert sent["backend_path"] == "/v1/items?x=1"
    headers = sent["headers"]
    assert headers["x-forwarded-port"] == str(server.port)
    assert headers["x-forwarded-scheme"] == "http"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == f"127.0.0.1:{server.port}"
    assert get(server, "/apiary").json()["path"] == "/apiary"   # not under /api: the app's


def test_proxy_url_alias_with_a_slash_redirects_the_url_without_it(server):
    assert get(server, "/docs/intro").json()["backend_path"] == "/manual/intro"
    bare = get(server, "/docs")
    assert bare.status_code == 302 and bare.headers["Location"].endswith("/docs/")


def test_proxy_virtual_host_passes_that_host_and_leaves_the_others_to_the_app(server):
    assert get(server, "/anything", Host="proxied.test").json()["backend_path"] == "/anything"
    assert get(server, "/anything", Host="other.test").json()["path"] == "/anything"
    assert get(server, "/anything").json()["path"] == "/anything"


def test_envvars_script_and_mod_wsgi_variables_reach_the_daemons_and_the_config(server):
    response = get(server, "/")
    seen = response.json()
    assert seen["server_root"] == server.server_root
    assert seen["http_port"] == str(server.port)
    # sourced by bash (the script uses [[ ]]), after the MOD_WSGI_* variables were set
    assert seen["from_envvars"] == f"root={server.server_root}"
    # an --include-file's ${MOD_WSGI_SERVER_ROOT}, as under mod_wsgi-express
    assert response.headers["X-Server-Root"] == server.server_root
    with open(os.path.join(server.server_root, "envvars")) as f:
        assert "envvars.sh" in f.read()                   # SERVER_ROOT/envvars sources it
    apachectl = open(os.path.join(server.server_root, "apachectl")).read()
    assert apachectl.startswith("#!/bin/bash\n")


def test_server_mpm_worker_runs_the_worker_mpm(server):
    assert get(server, "/").json()["mpm"] == "worker"


def test_lang_is_the_daemons_locale(server):
    seen = get(server, "/").json()
    assert (seen["lang"], seen["lc_all"]) == ("C.UTF-8", "C.UTF-8")


def test_rotate_logs_writes_timestamped_files_and_starts_a_new_one_past_the_size(server):
    pattern = os.path.join(server.server_root, "error_log.*")
    first = wait_for(lambda: glob.glob(pattern), 10, message="a rotatelogs error log")
    assert not os.path.exists(os.path.join(server.server_root, "error_log"))

    def second_file():
        # Each request logs more than --max-log-size; rotatelogs names a file by the second,
        # so the new file shows once a rotation falls in a later second than the first file.
        assert get(server, "/noisy").text == "logged"
        found = sorted(glob.glob(pattern))
        return found if len(found) > len(first) else None
    files = wait_for(second_file, 20, interval=0, message="rotatelogs to start a second file")
    logged = "".join(open(path, errors="replace").read() for path in files)
    assert "noisy line 1199" in logged and "[wsgi:error]" in logged


def test_service_log_file_takes_the_services_lines_out_of_the_error_log(server):
    def logged(pattern):
        return "".join(open(path, errors="replace").read()
                       for path in glob.glob(os.path.join(server.server_root, pattern)))
    said = ("ticker printed", "ticker wrote to stderr", "ticker wrote to descriptor 2")
    # through rotatelogs, as --rotate-logs writes the other logs: ticker.log.YYYY-MM-DD-...
    wait_for(lambda: all(line in logged("ticker.log.*") for line in said), 20,
             message=f"the service's lines in ticker.log.*\n{server.diagnostics()}")
    assert not os.path.exists(os.path.join(server.server_root, "ticker.log"))
    assert not [line for line in said if line in logged("error_log.*")]


def test_reload_on_changes_restarts_the_daemon_when_an_imported_module_changes(server, files):
    """Last of the shared server's tests: it replaces the daemon process."""
    before = get(server, "/").json()
    assert before["helper"] == 1
    helper = os.path.join(files, "reload_helper.py")
    write_file(helper, "VERSION = 2  # edited\n")     # another size, whatever the clock
    after = wait_for(lambda: (lambda seen: seen if seen["helper"] == 2 else None)(
        get(server, "/").json()), 30, interval=0.1, message="the new code to answer")
    assert after["pid"] != before["pid"]               # a new daemon process imported it
    log = "".join(open(path, errors="replace").read() for path in
                  glob.glob(os.path.join(server.server_root, "error_log.*")))
    assert f"module reload_helper ({helper}) changed: restarting" in log
    # --orphan-interpreter: the replaced process ended without running its atexit callbacks
    wait_for(lambda: not psutil.pid_exists(before["pid"]), 30, message="the old daemon to end")
    assert os.listdir(os.path.join(files, "atexit")) == []


def test_prefork_mpm_is_sized_in_processes(files):
    server = ExpressServer(["--server-mpm", "prefork", "--max-clients", "12"],
                           script=os.path.join(files, "app.wsgi"))
    try:
        assert server.wait_until_serving("/").json()["mpm"] == "prefork"
        conf = open(os.path.join(server.server_root, "httpd.conf")).read()
        assert "MaxRequestWorkers 12" in conf and "MinSpareServers" in conf
        assert "ThreadsPerChild" not in conf
    finally:
        server.cleanup()


def test_a_failing_envvars_script_stops_start_server_with_its_message(files):
    broken = os.path.join(files, "broken.sh")
    write_file(broken, "echo 'DATABASE_URL is not set' >&2\nfalse\n")
    root = os.path.join(files, "broken-root")
    result = run_wsgid("start-server", os.path.join(files, "app.wsgi"), "--port",
                       str(free_port()), "--server-root", root, "--envvars-script", broken)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"the envvars script {broken} failed (exit status 1): DATABASE_URL is not set" \
        in result.stderr
