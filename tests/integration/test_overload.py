"""Overload through a real Apache: a daemon group whose only thread is busy and whose listen
backlog is full.

One daemon process with one thread and listen-backlog=2; a request holds that thread (hold.wsgi)
while more clients arrive than the backlog holds. The clients that find the backlog full get 503
once connect-timeout has passed, with one log line that says the backlog was full; the ones that
got into the backlog are served when the thread is free (200), or get 504 when queue-timeout
passed while they waited. Never a 500, and every request ends within a bound.
"""

import os
import shutil
import threading
import time

import pytest
import requests

from tests.support.apache import shared_tmpdir, wait_for
from tests.support.procs import queued_on, wait_for_daemons

CONNECT_TIMEOUT = 1
QUEUE_TIMEOUT = 1
BACKLOG = 2
CLIENTS = 8
REQUEST_BOUND = 30        # seconds: no request may take longer than this

SITE = """
WSGIDaemonProcess busy processes=1 threads=1 listen-backlog={backlog} \
    connect-timeout={connect_timeout} {options}
WSGIScriptAlias /app "{{apps}}/hold.wsgi" process-group=busy
SetEnv HOLD_DIR "{hold_dir}"
"""


class Overload:
    """A site with one busy thread, and the outcome of each client: (status, seconds)."""

    def __init__(self, apache, options):
        self.hold_dir = shared_tmpdir()
        os.chmod(self.hold_dir, 0o777)       # the daemon user writes the 'held' mark here
        self.inst = apache(SITE.format(backlog=BACKLOG, connect_timeout=CONNECT_TIMEOUT,
                                       options=options, hold_dir=self.hold_dir),
                           extra_modules=("env",))
        self.inst.start()
        wait_for_daemons(self.inst, 1)
        run = os.path.join(self.inst.root, "run")
        [self.socket_path] = [os.path.join(run, name) for name in os.listdir(run)
                              if name.endswith(".sock")]
        self.results = {}
        self._lock = threading.Lock()

    def fetch(self, name, path):
        started = time.monotonic()
        try:
            status = requests.get(self.inst.url(path), timeout=REQUEST_BOUND).status_code
        except requests.RequestException as exc:   # shown by the assertions
            status = repr(exc)
        with self._lock:
            self.results[name] = (status, time.monotonic() - started)

    def finished_clients(self):
        with self._lock:
            return {name: outcome for name, outcome in self.results.items() if name != "hold"}

    def run(self, hold_at_least=0.0):
        """Hold the thread, send CLIENTS requests, release once every client has either given
        up or sits in the backlog (and at least hold_at_least seconds after they started)."""
        assert requests.get(self.inst.url("/app/quick"), timeout=10).status_code == 200
        holder = threading.Thread(target=self.fetch, args=("hold", "/app/hold"))
        holder.start()
        wait_for(lambda: os.path.exists(os.path.join(self.hold_dir, "held")), 15,
                 message="the /hold request to take the only thread")
        self.log_before = self.inst.error_log()
        launched = time.monotonic()
        clients = [threading.Thread(target=self.fetch, args=(i, "/app/quick"))
                   for i in range(CLIENTS)]
        for thread in clients:
            thread.start()
        try:
            wait_for(lambda: len(self.finished_clients()) + (queued_on(self.socket_path) or 0)
                     == CLIENTS and time.monotonic() - launched > hold_at_least,
                     CONNECT_TIMEOUT + hold_at_least + 15,
                     message="every client to give up or wait in the backlog")
            self.queued_at_release = queued_on(self.socket_path)
        finally:
            open(os.path.join(self.hold_dir, "release"), "w").close()
            for thread in [holder] + clients:
                thread.join(REQUEST_BOUND + 5)
        assert not any(t.is_alive() for t in [holder] + clients), "a request hung"
        return self.finished_clients()

    def new_log(self):
        return self.inst.error_log()[len(self.log_before):]

    def cleanup(self):
        shutil.rmtree(self.hold_dir, ignore_errors=True)


@pytest.fixture
def overload(apache):
    made = []

    def make(options=""):
        site = Overload(apache, options)
        made.append(site)
        return site

    yield make
    for site in made:
        site.cleanup()


def check_503s(site, outcomes):
    """The 503 answers: after connect-timeout, each with one log line naming the full backlog."""
    refused = [seconds for status, seconds in outcomes.values() if status == 503]
    assert refused, f"no client found the backlog full: {outcomes}"
    for seconds in refused:
        assert CONNECT_TIMEOUT * 0.9 <= seconds < CONNECT_TIMEOUT + 5, outcomes
    lines = [line for line in site.new_log().splitlines() if "answering 503" in line]
    assert len(lines) == len(refused), site.new_log()
    for line in lines:
        assert f"group 'busy' socket {site.socket_path}" in line, line
        assert "listen backlog full" in line, line
        assert f"connect-timeout {CONNECT_TIMEOUT} s" in line, line
    return len(refused)


def test_full_backlog_gives_503_after_connect_timeout_and_queued_requests_are_served(overload):
    site = overload()
    outcomes = site.run()
    statuses = sorted(status for status, _ in outcomes.values())
    assert set(statuses) <= {200, 503}, outcomes
    refused = check_503s(site, outcomes)
    served = statuses.count(200)
    # Exactly the connections that waited in the backlog were served once the thread was free.
    assert served == site.queued_at_release == CLIENTS - refused, outcomes
    assert 1 <= served <= BACKLOG + 1, outcomes
    assert site.results["hold"][0] == 200
    assert "answering 500" not in site.new_log()
    assert '" 500 ' not in site.inst.access_log()
    # The group serves again once the burst is over.
    assert requests.get(site.inst.url("/app/quick"), timeout=10).status_code == 200


def test_queued_past_queue_timeout_gives_504_and_the_rest_503(overload):
    site = overload(f"queue-timeout={QUEUE_TIMEOUT}")
    outcomes = site.run(hold_at_least=QUEUE_TIMEOUT + 0.5)
    statuses = sorted(status for status, _ in outcomes.values())
    assert set(statuses) <= {503, 504}, outcomes
    refused = check_503s(site, outcomes)
    timed_out = statuses.count(504)
    assert timed_out == site.queued_at_release == CLIENTS - refused, outcomes
    assert 1 <= timed_out <= BACKLOG + 1, outcomes
    log = site.new_log()
    assert log.count("queue-timeout: GET /app/quick") == timed_out, log
    assert site.results["hold"][0] == 200
    assert "answering 500" not in log
    assert '" 500 ' not in site.inst.access_log()
