"""Graceful restarts of a real Apache lose no request, with WSGISocketRotation On and Off.

With rotation Off the socket path is stable: a request that an old Apache child proxies after
`apachectl graceful` reaches the new generation's daemons through the same socket. With rotation
On every generation has its own sockets: an old child still reaches the daemons of its own
generation, which the supervisor keeps serving until the Apache children that were running at the
reload have exited (docs/internals.md, "Graceful restarts").

Apache 2.4 answers a request that arrives on a kept-alive connection after its child was told to
stop gracefully with nothing: the child closes the connection instead (http_protocol.c keeps a
connection alive only while the MPM runs). So the keep-alive tests send the next request on the
kept-alive connection while the only daemon thread is busy: the old child has read it and waits
for a daemon across the restart. The load tests open a connection per request, so that every
failure they count is one of wsgid's.
"""

import http.client
import os
import threading

import pytest
import requests

from tests.support.apache import shared_tmpdir, wait_for
from tests.support.load import ClosedLoop
from tests.support.procs import daemons_of, wait_for_daemons

# /pid answers the daemon process id; /busy does so after 0.2 s of work; /hold creates
# DIR/held, waits (at most 30 s) for DIR/release, then answers the pid too.
APP = """\
import os
import time

HOLD_DIR = {hold_dir!r}


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/hold":
        open(os.path.join(HOLD_DIR, "held"), "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(HOLD_DIR, "release")) and \\
                time.monotonic() < deadline:
            time.sleep(0.02)
    elif environ.get("PATH_INFO") == "/busy":
        time.sleep(0.2)
    body = str(os.getpid()).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
"""

SITE = """\
KeepAliveTimeout 30
WSGISocketRotation {rotation}
<Directory "{workdir}">
    Require all granted
</Directory>
WSGIDaemonProcess site processes={processes} threads={threads}
WSGIScriptAlias /app "{workdir}/rotation.wsgi" process-group=site
"""


@pytest.fixture
def workdir():
    path = shared_tmpdir()
    os.chmod(path, 0o777)       # the daemon user leaves the `held` mark here
    with open(os.path.join(path, "rotation.wsgi"), "w") as f:
        f.write(APP.format(hold_dir=path))
    os.chmod(os.path.join(path, "rotation.wsgi"), 0o644)
    return path


def site_conf(workdir, rotation, processes, threads):
    return SITE.format(rotation=rotation, workdir=workdir, processes=processes, threads=threads)


def socket_paths(inst):
    run = os.path.join(inst.root, "run")
    return sorted(os.path.join(run, name) for name in os.listdir(run) if name.endswith(".sock"))


def queued_connections(path):
    """Connections waiting in the listen backlog of the unix socket at path (not accepted yet):
    in /proc/net/unix they carry the listener's path and the state 02, SS_CONNECTING."""
    with open("/proc/net/unix") as f:
        return sum(1 for line in f
                   if line.split()[-1] == path and len(line.split()) == 8
                   and line.split()[5] == "02")


def reloads(inst):
    """How many reloads the supervisor has finished."""
    return inst.error_log().count("wsgid: reloaded ")


def graceful_and_reload(inst):
    """`apachectl graceful`, returning once the supervisor has reloaded the new generation."""
    before = reloads(inst)
    inst.graceful()
    wait_for(lambda: reloads(inst) > before, 15, message="the supervisor to reload")


# -- keep-alive across a graceful restart -------------------------------------------------------

@pytest.mark.parametrize("rotation", ["On", "Off"])
def test_the_next_request_on_a_keep_alive_connection_of_an_old_child_is_served(apache, workdir,
                                                                              rotation):
    inst = apache(site_conf(workdir, rotation, processes=1, threads=1))
    inst.start()
    (old_daemon,) = wait_for_daemons(inst, 1)
    (old_socket,) = socket_paths(inst)
    keep_alive = http.client.HTTPConnection("127.0.0.1", inst.port, timeout=60)
    keep_alive.request("GET", "/app/pid")
    first = keep_alive.getresponse()
    assert (first.status, first.read()) == (200, str(old_daemon.pid).encode())

    # The daemon's only thread is busy, so the next request on the kept-alive connection waits
    # in the old socket's backlog, where the old Apache child connected it.
    held = []
    holder = threading.Thread(target=lambda: held.append(
        requests.get(inst.url("/app/hold"), timeout=60)))
    holder.start()
    wait_for(lambda: os.path.exists(os.path.join(workdir, "held")), 15,
             message="the /hold request to start")
    keep_alive.request("GET", "/app/pid")
    wait_for(lambda: queued_connections(old_socket) == 1, 15,
             message="the next request to wait in the daemon socket's backlog")

    # A changed group: with rotation Off too, its daemon processes are replaced.
    inst.write_config(site_conf(workdir, rotation, processes=1, threads=2))
    graceful_and_reload(inst)
    new_daemon = wait_for(lambda: [d for d in daemons_of(inst) if d.pid != old_daemon.pid], 15,
                          message="the new generation's daemon process")[0]
    fresh = requests.get(inst.url("/app/pid"), timeout=30)
    assert (fresh.status_code, fresh.text) == (200, str(new_daemon.pid))

    if rotation == "Off":
        # The stable socket: the new daemon takes the request while the old one is still busy.
        response = keep_alive.getresponse()
        assert (response.status, response.read()) == (200, str(new_daemon.pid).encode())
        assert socket_paths(inst) == [old_socket]
    open(os.path.join(workdir, "release"), "w").close()
    holder.join(60)
    assert (held[0].status_code, held[0].text) == (200, str(old_daemon.pid))
    if rotation == "On":
        # Its own generation's daemon, on its own generation's socket, after the restart.
        response = keep_alive.getresponse()
        assert (response.status, response.read()) == (200, str(old_daemon.pid).encode()), \
            inst.error_log()[-3000:]
    keep_alive.close()

    # Once the old Apache child is gone, only the new generation's socket and daemon remain.
    wait_for(lambda: len(socket_paths(inst)) == 1, 20, message="one socket")
    wait_for(lambda: [d.pid for d in daemons_of(inst)] == [new_daemon.pid], 30,
             message="the old daemon process to exit")


# -- load across graceful restarts --------------------------------------------------------------

@pytest.mark.parametrize("rotation", ["On", "Off"])
def test_closed_loop_load_across_five_graceful_restarts_loses_no_request(apache, workdir,
                                                                        rotation):
    # More clients than daemon threads: at every restart, requests wait in the backlog of the
    # socket that the old generation's Apache children use.
    inst = apache(site_conf(workdir, rotation, processes=1, threads=2))
    inst.start()
    wait_for_daemons(inst, 1)
    with ClosedLoop(inst.url("/app/busy"), clients=8, new_connection_each_time=True) as load:
        load.wait_for_more(10)
        for _ in range(5):
            graceful_and_reload(inst)
            load.wait_for_more(20)
    assert load.failures() == [], inst.error_log()[-5000:]
    wait_for(lambda: len(socket_paths(inst)) == 1, 30,
             message="the sockets of the earlier generations to go")
    wait_for_daemons(inst, 1, timeout=30)
