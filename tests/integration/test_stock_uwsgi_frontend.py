"""A stock uwsgi front end serves an app from a wsgid daemon group's socket (DESIGN contract 2).

The supervisor runs on its own (external mode, `wsgid supervise --config FILE`) with a socket path
fixed in its configuration, and Apache proxies to it with mod_proxy_uwsgi alone: no mod_wsgid,
no wsgid-specific variables in the packets.
"""

import os

import requests

from tests.support.apache import APPS, wait_for
from tests.support.external import external_supervisor


def test_mod_proxy_uwsgi_serves_a_daemon_group(apache):
    with external_supervisor("site", os.path.join(APPS, "echo.wsgi"),
                             daemon_options="processes=1 threads=4") as sup:
        sock = sup.sock
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
    assert sup.returncode == 0, sup.output.decode(errors="replace")
    assert not os.path.exists(sock)
