"""A stock uwsgi front end serves an app from a wsgid daemon group's socket (DESIGN contract 2).

The supervisor runs on its own (external mode, `wsgid supervise --config FILE`) with a socket path
fixed in its configuration, and Apache proxies to it with mod_proxy_uwsgi alone: no mod_wsgid,
no wsgid-specific variables in the packets.
"""

import os
import signal
import subprocess
import sys

import pwd
import requests

from tests.support.apache import APACHE_USER, APPS, RUNNING_AS_ROOT, shared_tmpdir, wait_for


def test_mod_proxy_uwsgi_serves_a_daemon_group(apache):
    workdir = shared_tmpdir()
    sock = os.path.join(workdir, "site.sock")
    conf = os.path.join(workdir, "daemons.conf")
    owner = pwd.getpwnam(APACHE_USER) if RUNNING_AS_ROOT else pwd.getpwuid(os.getuid())
    with open(conf, "w") as f:
        f.write(f"WSGIApacheUser {owner.pw_uid} {owner.pw_gid}\n"
                f"WSGIDaemonProcess site processes=1 threads=4\n"
                f"WSGIDaemonSocket site {sock}\n"
                f'WSGIScriptAlias / "{APPS}/echo.wsgi" process-group=site\n')
    sup = subprocess.Popen([sys.executable, "-m", "wsgid", "supervise", "--config", conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: os.path.exists(sock), 15, message="the daemon socket")
        inst = apache(f'ProxyPass /uwsgi/ "unix:{sock}|uwsgi://localhost/"\n',
                      extra_modules=("proxy", "proxy_uwsgi"), load_wsgid=False)
        inst.start()
        r = wait_for(lambda: (lambda r: r if r.status_code == 200 else None)(
            requests.get(inst.url("/uwsgi/hello"), timeout=10)), 10, message="a 200 via mod_proxy_uwsgi")
        assert r.text == "Hello, world!\n"
        body = os.urandom(100_000)
        r = requests.post(inst.url("/uwsgi/echo-sha256"), data=body, timeout=30)
        assert r.status_code == 200
        assert r.json()["length"] == len(body)
    finally:
        sup.send_signal(signal.SIGTERM)
        out, _ = sup.communicate(timeout=30)
    assert sup.returncode == 0, out.decode(errors="replace")
    assert not os.path.exists(sock)
