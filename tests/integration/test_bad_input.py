"""Bad input gets a clear answer and loses nothing.

- Configuration mistakes in WSGIDaemonProcess and WSGIScriptAlias fail `apachectl configtest`
  (the module runs `wsgid check-config`) with a message that names the directive and the fix.
- Malformed packets sent straight to a daemon socket, as the Apache child user, close that
  connection with one log line each, and the same daemon processes keep serving.
"""

import os
import pwd
import socket

import pytest
import requests

from tests.support.apache import APACHE_USER, APPS, RUNNING_AS_ROOT, wait_for
from tests.support.procs import daemons_of, run_as, wait_for_daemons
from tests.support.wire import uwsgi_packet

GOOD_ALIAS = 'WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site'


@pytest.mark.parametrize("daemon_line, alias, expected, culprit", [
    ("WSGIDaemonProcess site procesess=2", GOOD_ALIAS, ["WSGIDaemonProcess", "procesess", "processes"], "daemon"),
    ("WSGIDaemonProcess site processes=many", GOOD_ALIAS, ["WSGIDaemonProcess", "processes", "many"], "daemon"),
    ("WSGIDaemonProcess site threads=-1", GOOD_ALIAS, ["WSGIDaemonProcess", "threads"], "daemon"),
    ("WSGIDaemonProcess site processes", GOOD_ALIAS, ["WSGIDaemonProcess", "processes", "="], "daemon"),
    ("WSGIDaemonProcess site user=root", GOOD_ALIAS, ["WSGIDaemonProcess", "user", "root"], "daemon"),
    ("WSGIDaemonProcess site user=no-such-user-x", GOOD_ALIAS, ["WSGIDaemonProcess", "no-such-user-x"], "daemon"),
    ("WSGIDaemonProcess site", 'WSGIScriptAlias /app "{apps}/missing.wsgi" process-group=site',
     ["WSGIScriptAlias", "missing.wsgi"], "alias"),
    ("WSGIDaemonProcess site", 'WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=other',
     ["other", "site"], "alias"),
])
def test_config_mistake_fails_configtest_with_a_fix(apache, daemon_line, alias, expected, culprit):
    inst = apache(daemon_line + "\n" + alias + "\n")
    rc, output = inst.configtest()
    assert rc != 0, output
    for word in expected:
        assert word in output, f"{word!r} not in configtest output:\n{output}"
    assert "Traceback" not in output
    # The message points at the user's file and line, not at a generated one.
    with open(inst.conf_path) as f:
        conf_lines = f.read().splitlines()
    written = (daemon_line if culprit == "daemon" else alias).replace("{apps}", APPS)
    assert f"{inst.conf_path}:{conf_lines.index(written) + 1}" in output, output


def test_good_config_passes_configtest(apache):
    inst = apache("WSGIDaemonProcess site processes=2 threads=3\n" + GOOD_ALIAS + "\n")
    rc, output = inst.configtest()
    assert rc == 0, output
    assert "Syntax OK" in output


MALFORMED = {
    "truncated": b"\x00\x40\x00\x00\x05\x00HELLO",
    "size larger than the data": b"\x00\xff\x00\x00" + b"\x01\x00A\x01\x00B",
    "size smaller than the data": b"\x00\x03\x00\x00\x04\x00PATH\x01\x00/",
    "zero-length key": b"\x00\x05\x00\x00\x00\x00\x01\x00x",
    "modifier1 not 0": b"\x05\x06\x00\x00\x01\x00A\x01\x00B",
    "modifier2 not 0": b"\x00\x06\x00\x07\x01\x00A\x01\x00B",
    "plain HTTP": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="acts as the Apache child user")
def test_malformed_packets_close_connection_and_daemons_survive(apache):
    inst = apache("WSGIDaemonProcess site processes=1 threads=2\n" + GOOD_ALIAS + "\n")
    inst.start()
    (daemon,) = wait_for_daemons(inst, 1)
    run = os.path.join(inst.root, "run")
    (path,) = [os.path.join(run, n) for n in os.listdir(run) if n.endswith(".sock")]
    user = pwd.getpwnam(APACHE_USER)

    def send(payload):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(path)
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            return s.recv(65536)

    before = inst.error_log().count("bad request packet")
    for name, payload in MALFORMED.items():
        reply = run_as(user.pw_uid, user.pw_gid, send, payload)
        assert not reply.startswith(b"HTTP/1.1 200"), name
    wait_for(lambda: inst.error_log().count("bad request packet") - before == len(MALFORMED), 10,
             message="one log line per bad packet")
    # One line each, not a traceback.
    assert "Traceback" not in inst.error_log()
    # The same daemon still serves, through Apache and directly.
    assert [d.pid for d in daemons_of(inst)] == [daemon.pid]
    assert requests.get(inst.url("/app/hello"), timeout=10).status_code == 200
    good = uwsgi_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/hello", "SCRIPT_NAME": "/app",
                         "SERVER_NAME": "x", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                         "SCRIPT_FILENAME": os.path.join(APPS, "echo.wsgi")})
    reply = run_as(user.pw_uid, user.pw_gid, send, good)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
