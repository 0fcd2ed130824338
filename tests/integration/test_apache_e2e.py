"""The whole request path through a real Apache: mod_wsgid → daemon socket → daemon process → app.

Each test starts Apache with a generated configuration on a free loopback port, with the managed
supervisor and real daemon processes behind it, and checks what a client (and the logs) see.
"""

import hashlib
import os
import pwd
import signal
import socket
import stat
import threading

import psutil
import pytest
import requests

from tests.support.apache import APACHE_USER, RUNNING_AS_ROOT, shared_tmpdir, wait_for
from tests.support.procs import daemons_of, run_as, supervisor_of, wait_for_daemons

SITE = """
WSGIDaemonProcess site processes={processes} threads=4
WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site application-group=%{{GLOBAL}}
WSGIChunkedRequest On
"""


@pytest.fixture
def site(apache):
    inst = apache(SITE.format(processes=2, apps="{apps}"))
    inst.start()
    wait_for_daemons(inst, 2)
    return inst


def socket_paths(inst):
    run = os.path.join(inst.root, "run")
    return [os.path.join(run, n) for n in os.listdir(run) if n.endswith(".sock")]


def test_hello_world(site):
    r = requests.get(site.url("/app/hello"), timeout=10)
    assert r.status_code == 200
    assert r.text == "Hello, world!\n"


def test_daemons_run_the_core_the_suite_asked_for(site):
    # `make test` runs the suite twice: on the Cython core, then with WSGID_PUREPYTHON=1.
    expected = "python" if os.environ.get("WSGID_PUREPYTHON") == "1" else "cython"
    r = requests.get(site.url("/app/core"), timeout=10)
    assert r.text == expected


def test_app_under_wsgiref_validator(site):
    r = requests.get(site.url("/app/validate?x=1"), timeout=10)
    assert r.status_code == 200, site.error_log()[-3000:]
    assert r.text == "valid\n"


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 10 * 1024 * 1024])
def test_request_body_arrives_byte_exact(site, size):
    body = os.urandom(size)
    r = requests.post(site.url("/app/echo-sha256"), data=body, timeout=60)
    assert r.status_code == 200
    assert r.json() == {"length": size, "sha256": hashlib.sha256(body).hexdigest(),
                        "input_terminated": False}


def test_chunked_upload_reaches_app_with_input_terminated(site):
    parts = [os.urandom(n) for n in (1, 4096, 70000, 3)]
    r = requests.post(site.url("/app/echo-sha256"), data=iter(parts), timeout=60)
    assert r.status_code == 200
    joined = b"".join(parts)
    assert r.json() == {"length": len(joined), "sha256": hashlib.sha256(joined).hexdigest(),
                        "input_terminated": True}


def test_streamed_100mib_download_keeps_daemon_memory_flat(site):
    daemons = daemons_of(site)
    received = 0
    peak = {d.pid: d.memory_info().rss for d in daemons}
    start = dict(peak)
    with requests.get(site.url("/app/stream?mb=100"), stream=True, timeout=60) as r:
        assert r.status_code == 200
        for i, chunk in enumerate(r.iter_content(1024 * 1024)):
            received += len(chunk)
            if i % 8 == 0:
                for d in daemons:
                    peak[d.pid] = max(peak[d.pid], d.memory_info().rss)
    assert received == 100 * 1024 * 1024
    growth = max(peak[pid] - start[pid] for pid in peak)
    assert growth < 20 * 1024 * 1024, f"a daemon grew by {growth} bytes while streaming"


def test_multiple_set_cookie_headers_stay_separate(site):
    r = requests.get(site.url("/app/cookies"), timeout=10)
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_header_injection_gives_500_and_never_reaches_client(site):
    r = requests.get(site.url("/app/bad-header"), timeout=10)
    assert r.status_code == 500
    assert "Injected" not in r.headers
    assert "injected" not in r.text.lower()


def test_bad_status_gives_500(site):
    r = requests.get(site.url("/app/bad-status"), timeout=10)
    assert r.status_code == 500


def test_app_exception_gives_500_and_traceback_in_log(site):
    r = requests.get(site.url("/app/raise"), timeout=10)
    assert r.status_code == 500
    assert "Traceback" not in r.text
    wait_for(lambda: "RuntimeError: raised on purpose" in site.error_log(), 10,
             message="the traceback in the error log")


def test_killed_daemon_is_replaced_and_service_continues(site):
    victim = daemons_of(site)[0]
    victim.send_signal(signal.SIGKILL)
    wait_for(lambda: victim.pid not in [d.pid for d in wait_for_daemons(site, 2)], 5,
             message="a replacement daemon")
    for _ in range(10):
        assert requests.get(site.url("/app/hello"), timeout=10).status_code == 200


def test_killed_supervisor_is_restarted_by_apache(site):
    sup = supervisor_of(site)
    old_daemons = {d.pid for d in daemons_of(site)}
    sup.send_signal(signal.SIGKILL)
    wait_for(lambda: (lambda s: s and s.pid != sup.pid)(supervisor_of(site)), 15,
             message="a new supervisor")
    wait_for(lambda: requests.get(site.url("/app/hello"), timeout=10).status_code == 200, 15,
             message="service to return")
    # The old daemons noticed their supervisor died and exited: no orphans.
    wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                             for p in old_daemons), 10, message="the orphaned daemons to exit")


def test_graceful_restart_serves_with_new_configuration(site):
    site.write_config(SITE.format(processes=3, apps="{apps}"))
    site.graceful()
    wait_for_daemons(site, 3)
    assert requests.get(site.url("/app/hello"), timeout=10).status_code == 200


def test_stop_leaves_no_wsgid_process(site):
    site.remember_processes()
    started = set(site.known_pids)
    site.stop()

    def none_left():
        return not [p for p in started if psutil.pid_exists(p)
                    and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    wait_for(none_left, 15, message="every Apache and wsgid process to exit")


def test_socket_mode_and_owner(site):
    (path,) = socket_paths(site)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    expected = pwd.getpwnam(APACHE_USER).pw_uid if RUNNING_AS_ROOT else os.getuid()
    assert st.st_uid == expected


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="needs root to act as another uid")
def test_connect_from_another_uid_is_refused(site):
    (path,) = socket_paths(site)
    nobody = pwd.getpwnam("nobody")

    def try_connect():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(path)
            except PermissionError:
                return "refused"
            return "connected"
    assert run_as(nobody.pw_uid, nobody.pw_gid, try_connect) == "refused"


SLEEPER = """\
import time
def application(environ, start_response):
    open(environ["SLEEPER_MARK"], "w").close()
    time.sleep(60)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"woke"]
"""


def test_stop_waits_for_the_longest_shutdown_timeout_before_killing_the_supervisor(apache):
    """Apache's wait for the supervisor at exit follows the groups' shutdown-timeout (here
    longer than any fixed wait would be), so the daemons end by themselves, not by SIGKILL."""
    workdir = shared_tmpdir()
    os.chmod(workdir, 0o777)     # the daemon user leaves the mark here
    script = os.path.join(workdir, "sleeper.wsgi")
    with open(script, "w") as f:
        f.write(SLEEPER)
    os.chmod(script, 0o644)
    mark = os.path.join(workdir, "sleeping")
    inst = apache(f'<Directory "{workdir}">\n    Require all granted\n</Directory>\n'
                  f'WSGIDaemonProcess slow processes=1 threads=2 shutdown-timeout=12\n'
                  f'WSGIScriptAlias /sleep "{script}" process-group=slow\n'
                  f'SetEnv SLEEPER_MARK "{mark}"\n', extra_modules=("env",))
    inst.start()
    def sleep_request():
        # Apache's stop cuts this connection: that is expected here, not a failure.
        try:
            requests.get(inst.url("/sleep"), timeout=60)
        except requests.ConnectionError:
            pass
    client = threading.Thread(target=sleep_request, daemon=True)
    client.start()
    wait_for(lambda: os.path.exists(mark), 15, message="the request to start sleeping")
    inst.stop(timeout=40)
    log = inst.error_log()
    assert "requests still running after shutdown-timeout; exiting without them" in log
    assert "did not stop within" not in log     # Apache never had to SIGKILL the supervisor


def test_an_alias_beside_a_root_mount_serves_its_files_as_in_mod_wsgi(apache):
    # The Django deployment pattern: Apache serves /static/ from a directory, the application
    # the rest. As in mod_wsgi, mod_alias maps a URL before mod_wsgid does.
    inst = apache("""
WSGIDaemonProcess site processes=1 threads=2
WSGIScriptAlias / "{apps}/echo.wsgi" process-group=site
Alias /static/ "{apps}/"
""", extra_modules=("alias",))
    inst.start()
    wait_for_daemons(inst, 1)
    static = requests.get(inst.url("/static/echo.wsgi"), timeout=10)
    assert static.status_code == 200
    with open(os.path.join(os.path.dirname(__file__), "..", "apps", "echo.wsgi"), "rb") as f:
        assert static.content == f.read()   # the file itself, not the application
    assert requests.get(inst.url("/hello"), timeout=10).text == "Hello, world!\n"
