"""Graceful restarts under load lose no request: 5 `apachectl graceful` while at least 10,000
requests run through a real Apache, the managed supervisor and real daemon processes.

Half the client threads open a new connection per request (keep-alive off), half keep their
connection (keep-alive on). Every request must get a 200 with the body the application gives;
anything else (another status, a cut-off body, a connection error) counts as lost.

One policy, as HTTP/1.1 allows (RFC 9112 section 9.3.1, "Retrying Requests"): a kept-alive
connection may be closed by the server while a new request is on its way (Apache closes its idle
kept-alive connections when a graceful restart tells its old children to stop). A client that
sees such a connection end before a single byte of the response came back resends the
(idempotent) request on a new connection, as browsers and HTTP libraries do; those resends are
counted apart, not as lost. A connection that ends after part of a response is a loss.
"""

import http.client
import os
import shutil
import threading

import pytest

from tests.support.apache import shared_tmpdir, wait_for
from tests.support.procs import wait_for_daemons

pytestmark = pytest.mark.apache

TOTAL = 10_000
RESTARTS = 5

SITE = """
WSGIDaemonProcess site processes=2 threads=4
WSGIScriptAlias /app "{apps}/faults.wsgi" process-group=site
SetEnv FAULTS_DIR "{faults_dir}"
"""


class Client(threading.Thread):
    """GET /app/pid in a loop until stopped; counts answers by outcome."""

    def __init__(self, port, keep_alive, stop):
        super().__init__(daemon=True)
        self.port, self.keep_alive, self.stop = port, keep_alive, stop
        self.ok = 0
        self.lost = []              # (what happened) of every request that did not get its 200
        self.resent = 0             # kept-alive connections closed before any response byte
        self._conn = None

    def run(self):
        while not self.stop.is_set():
            try:
                outcome = self._one_request()
            except (OSError, http.client.HTTPException) as exc:
                outcome = repr(exc)
            if outcome == "ok":
                self.ok += 1
            else:
                self.lost.append(outcome)
                self._close()
        self._close()

    def _one_request(self):
        reused = self._conn is not None
        if not reused:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {} if self.keep_alive else {"Connection": "close"}
        try:
            self._conn.request("GET", "/app/pid", headers=headers)
            response = self._conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            # Closed by the server before any byte of the answer: resend on a new connection.
            self.resent += 1
            self._close()
            return self._one_request()
        body = response.read()
        if not self.keep_alive or response.will_close:
            self._close()
        if response.status != 200 or not body.isdigit():
            return f"{response.status} {body[:80]!r}"
        return "ok"

    def _close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def reloads(inst):
    return inst.error_log().count("wsgid: reloaded ")


@pytest.mark.fault
def test_five_graceful_restarts_under_load_lose_no_request(apache, figures):
    faults_dir = shared_tmpdir()
    os.chmod(faults_dir, 0o777)
    inst = apache(SITE.format(apps="{apps}", faults_dir=faults_dir), extra_modules=("env",))
    inst.start()
    wait_for_daemons(inst, 2)
    stop = threading.Event()
    clients = [Client(inst.port, keep_alive=i % 2 == 1, stop=stop) for i in range(6)]

    def answered():
        return sum(c.ok + len(c.lost) for c in clients)
    for client in clients:
        client.start()
    try:
        per_restart = TOTAL // (RESTARTS + 1)
        for restart in range(RESTARTS):
            wait_for(lambda: answered() >= per_restart * (restart + 1), 60,
                     message=f"{per_restart * (restart + 1)} requests answered")
            before = reloads(inst)
            inst.graceful()
            wait_for(lambda: reloads(inst) > before, 15, message="the supervisor to reload")
        wait_for(lambda: answered() >= TOTAL, 60, message=f"{TOTAL} requests answered")
    finally:
        stop.set()
        for client in clients:
            client.join(60)
    total = answered()
    lost = [outcome for client in clients for outcome in client.lost]
    figures.record("restart_requests_total", total)
    figures.record("restart_requests_lost", len(lost))
    resent = sum(c.resent for c in clients)
    assert reloads(inst) >= RESTARTS
    assert total >= TOTAL
    assert lost == [], (len(lost), lost[:10], f"{resent} resent", inst.error_log()[-3000:])
    # Both kinds of client took part.
    assert all(client.ok > 500 for client in clients), [c.ok for c in clients]
    shutil.rmtree(faults_dir, ignore_errors=True)
