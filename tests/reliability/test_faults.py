"""Faults survived, through a real Apache with the managed supervisor and real daemon processes.

What each fault costs, and what a client sees:
- a daemon process SIGKILLed mid-request: the requests it was running get 502 (a response whose
  head had gone out is cut off: fewer body bytes than its Content-Length, then the connection
  closes); its replacement serves within 2 s; the other processes' requests finish untouched;
  one log line names the pid, the signal and the requests in flight;
- the supervisor SIGKILLed: its daemon processes exit (no orphan after 5 s); meanwhile every
  request gets 200 or 503, each within connect-timeout, and service is back within 2 s; the
  connections already queued on its socket are served by its daemon process before that exits;
- an application that fails at import (exception, os._exit, segfault), loaded lazily or
  preloaded: 500, 502 or 503 at once, never a wait for socket-timeout; the group backs off; the
  other group serves on; fixing the file brings service back without restarting Apache;
- a 50 MiB upload that the application never reads, answered with 50 MiB: byte-exact, no
  deadlock, and the unread body is never taken for another request;
- a client that leaves mid-upload or mid-download: the daemon's only thread is free again
  within socket-timeout, the application's iterable is closed, and no process dies.

The site is shared by the tests of this module (they restore what they change); the supervisor
and import-failure tests have their own Apache.
"""

import collections
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import threading
import time

import psutil
import pytest

from tests.support.apache import APPS, ApacheInstance, shared_tmpdir, wait_for
from tests.support.error_log import group_mark
from tests.support.faults import (FaultsDir, daemon_process_status, raw_get, read_response)
from tests.support.procs import daemons_of, queued_on, supervisor_of

pytestmark = pytest.mark.apache

SOCKET_TIMEOUT = 3      # of the one-thread group
FAULTS_APP = os.path.join(APPS, "faults.wsgi")

SITE = """
WSGIDaemonProcess multi processes=2 threads=4 socket-timeout=10
WSGIDaemonProcess one processes=1 threads=1 socket-timeout={socket_timeout}
WSGIScriptAlias /multi "{apps}/faults.wsgi" process-group=multi
WSGIScriptAlias /one "{apps}/faults.wsgi" process-group=one
SetEnv FAULTS_DIR "{faults_dir}"
"""


def group_daemons(inst, group):
    """The live daemon processes of `group`, by their process title."""
    found = []
    for daemon in daemons_of(inst):
        try:
            with open(f"/proc/{daemon.pid}/cmdline", "rb") as f:
                if f.read().rstrip(b"\0") == f"(wsgi:{group})".encode():
                    found.append(daemon)
        except FileNotFoundError:
            pass
    return found


def wait_for_group(inst, group, count, excluding=(), timeout=15):
    def whole():
        found = [d for d in group_daemons(inst, group) if d.pid not in excluding]
        return found if len(found) == count else None
    return wait_for(whole, timeout, message=f"{count} daemon processes of group {group}")


def answered_pid(inst, group):
    response = raw_get(inst.port, f"/{group}/pid")
    assert response.status == 200, response.body
    return int(response.body)


class Site:
    def __init__(self):
        self.dir = shared_tmpdir()
        os.chmod(self.dir, 0o777)     # the daemon user writes its marks here
        self.faults = FaultsDir(self.dir)
        self.inst = ApacheInstance(SITE.format(socket_timeout=SOCKET_TIMEOUT, apps="{apps}",
                                               faults_dir=self.dir), extra_modules=("env",))
        self.inst.start()
        wait_for_group(self.inst, "multi", 2)
        wait_for_group(self.inst, "one", 1)

    def cleanup(self):
        self.faults.release()
        self.inst.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def site():
    made = Site()
    yield made
    made.cleanup()


@pytest.fixture
def faults(site):
    """The site's FAULTS_DIR, with holds in force for the test and released at its end."""
    site.faults.hold_again()
    yield site.faults
    site.faults.release()


# -- a daemon process killed mid-request --------------------------------------------------------

def in_thread(target, *args):
    results = []
    thread = threading.Thread(target=lambda: results.append(target(*args)), daemon=True)
    thread.start()
    thread.results = results
    return thread


@pytest.mark.fault
def test_sigkill_mid_request_gives_502_to_its_requests_only_and_the_replacement_serves(
        site, faults, figures):
    inst = site.inst
    before_log = len(inst.error_log())
    # 8 requests on 2 processes x 4 threads: each process runs exactly 4 of them.
    clients = {f"k{i}": in_thread(raw_get, inst.port, f"/multi/hold?tag=k{i}") for i in range(8)}
    pid_of = {tag: int(faults.wait(f"held-{tag}")) for tag in clients}
    per_pid = collections.Counter(pid_of.values())
    assert sorted(per_pid.values()) == [4, 4], per_pid
    victim, survivor = sorted(per_pid)
    # The supervisor knows the in-flight count from the heartbeats (up to a second old).
    wait_for(lambda: {pid: p["active_requests"] for pid, p in
                      daemon_process_status(inst, "multi").items()} == {victim: 4, survivor: 4},
             10, interval=0.2, message="4 active requests in each process in wsgid status")

    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    # Every thread of the survivor is busy: only the replacement can answer this.
    first = raw_get(inst.port, "/multi/pid")
    recovery = time.monotonic() - killed_at
    figures.record("recovery_seconds", recovery)
    assert first.status == 200 and int(first.body) not in (victim, survivor), first.body
    assert recovery < 5.0   # a replacement at once, not after a socket-timeout (10 s)

    faults.release()
    for tag, client in clients.items():
        client.join(30)
        [response] = client.results
        if pid_of[tag] == victim:
            assert response.status == 502, (tag, response.status, response.body[:200])
        else:
            assert (response.status, response.body) == (200, f"released {survivor}".encode())
    new_log = inst.error_log()[before_log:]
    lines = [line for line in new_log.splitlines() if f"daemon process {victim} " in line]
    assert len(lines) == 1, lines
    assert "was killed by SIGKILL with 4 requests in flight" in lines[0], lines[0]
    assert [d.pid for d in group_daemons(inst, "multi")].count(survivor) == 1


@pytest.mark.fault
def test_sigkill_while_streaming_cuts_the_response_off_short_of_its_content_length(site, faults):
    inst = site.inst
    [daemon] = wait_for_group(inst, "one", 1)
    with socket.create_connection(("127.0.0.1", inst.port), timeout=30) as sock:
        sock.sendall(b"GET /one/stream?mb=8&hold=1&tag=cut HTTP/1.1\r\nHost: x\r\n\r\n")
        assert int(faults.wait("held-cut")) == daemon.pid
        daemon.send_signal(signal.SIGKILL)
        response = read_response(sock)
    # What the client sees: the head and the first chunk went out; then the connection closes
    # with the body short of its Content-Length, so no client can take it for complete.
    assert response.status == 200
    assert response.content_length == 8 * 2 ** 20
    assert response.cut_off and len(response.body) == 65536
    assert faults.read("closed-cut") is None       # SIGKILL: close() could not run
    wait_for_group(inst, "one", 1, excluding={daemon.pid}, timeout=5)
    assert raw_get(inst.port, "/one/pid").status == 200


# -- an unread upload answered with a large body ------------------------------------------------

SMUGGLED = b"GET /multi/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.fault
def test_unread_50mib_upload_answered_with_50mib_completes_and_is_never_a_request(site):
    inst = site.inst
    size = 50 * 2 ** 20
    body = (SMUGGLED * (size // len(SMUGGLED) + 1))[:size]   # requests, if ever parsed as such
    expected = hashlib.sha256()
    block = bytes(range(256)) * 256
    for _ in range(size // len(block)):
        expected.update(block)
    got = hashlib.sha256()
    with socket.create_connection(("127.0.0.1", inst.port), timeout=60) as sock:
        head = (f"POST /multi/ignore-body?mb=50&tag=big HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n")
        sender = in_thread(lambda: sock.sendall(head.encode() + body) or "sent")
        response = read_response(sock, on_body=got.update)
        sender.join(60)
        assert sender.results == ["sent"]
        assert response.status == 200 and response.received == size
        assert got.hexdigest() == expected.hexdigest()
        # The same connection carries on with the next request, and only that one.
        sock.sendall(b"GET /multi/pid?tag=after-big HTTP/1.1\r\nHost: x\r\n\r\n")
        after = read_response(sock)
        assert after.status == 200 and int(after.body) in [d.pid for d in daemons_of(inst)]
    seen = site.faults.seen()
    assert seen.count("/ignore-body?mb=50&tag=big") == 1
    assert seen.count("/pid?tag=after-big") == 1
    assert not [line for line in seen if "smuggled" in line]


# -- clients that go away -----------------------------------------------------------------------

@pytest.mark.fault
def test_client_leaving_mid_download_frees_the_thread_closes_the_iterable_and_kills_nothing(
        site, faults):
    inst = site.inst
    [daemon] = wait_for_group(inst, "one", 1)
    daemon_pids = {d.pid for d in daemons_of(inst)}
    with socket.create_connection(("127.0.0.1", inst.port), timeout=30) as sock:
        sock.sendall(b"GET /one/stream?mb=200&tag=dl HTTP/1.1\r\nHost: x\r\n\r\n")
        faults.wait("held-dl")
        received = 0
        while received < 256 * 1024:
            received += len(sock.recv(65536))
        left_at = time.monotonic()
        # An RST rather than a FIN: Apache's next write to the client fails at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sent, finished = faults.wait("closed-dl", timeout=SOCKET_TIMEOUT + 5).split()
    freed_after = time.monotonic() - left_at
    assert finished == "0" and int(sent) < 200 * 2 ** 20     # iteration stopped early
    assert freed_after < SOCKET_TIMEOUT
    # The one thread takes the next request: it is free, in the same process.
    assert answered_pid(inst, "one") == daemon.pid
    assert {d.pid for d in daemons_of(inst)} == daemon_pids


@pytest.mark.fault
def test_client_leaving_mid_upload_frees_the_thread_closes_the_iterable_and_kills_nothing(
        site, faults):
    inst = site.inst
    [daemon] = wait_for_group(inst, "one", 1)
    daemon_pids = {d.pid for d in daemons_of(inst)}
    size = 50 * 2 ** 20
    with socket.create_connection(("127.0.0.1", inst.port), timeout=30) as sock:
        sock.sendall(f"POST /one/upload?tag=ul HTTP/1.1\r\nHost: x\r\nContent-Length: {size}"
                     f"\r\n\r\n".encode() + b"u" * 2 ** 20)
        faults.wait("held-ul")
        left_at = time.monotonic()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    read, error = faults.wait("closed-ul", timeout=SOCKET_TIMEOUT + 5).split()
    freed_after = time.monotonic() - left_at
    assert 0 < int(read) < size and error != "none", (read, error)
    assert freed_after < SOCKET_TIMEOUT + 2.0   # within socket-timeout, room for a busy machine
    assert answered_pid(inst, "one") == daemon.pid
    assert {d.pid for d in daemons_of(inst)} == daemon_pids


# -- the supervisor killed ----------------------------------------------------------------------

CONNECT_TIMEOUT = 2

SUPERVISED = f"""
WSGIDaemonProcess site processes=2 threads=2 connect-timeout={CONNECT_TIMEOUT}
WSGIScriptAlias /app "{{apps}}/faults.wsgi" process-group=site
SetEnv FAULTS_DIR "{{faults_dir}}"
"""


class TimedLoad:
    """Client threads sending GET url on new connections until stopped, each answer kept as
    (started, seconds taken, status or the error, body)."""

    def __init__(self, port, path, clients=3):
        self.port, self.path = port, path
        self.answers = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = raw_get(self.port, self.path)
                outcome, body = response.status, response.body
            except OSError as exc:
                outcome, body = repr(exc), b""
            self.answers.append((started, time.monotonic() - started, outcome, body))


@pytest.mark.fault
def test_killed_supervisor_leaves_no_orphans_and_apache_answers_503_until_it_is_back(
        apache, figures):
    faults_dir = shared_tmpdir()
    os.chmod(faults_dir, 0o777)
    inst = apache(SUPERVISED.format(apps="{apps}", faults_dir=faults_dir), extra_modules=("env",))
    inst.start()
    wait_for_group(inst, "site", 2)
    old_supervisor = supervisor_of(inst)
    old_daemons = {d.pid for d in daemons_of(inst)}
    with TimedLoad(inst.port, "/app/pid") as load:
        wait_for(lambda: len(load.answers) >= 10, 10, message="the load to run")
        killed_at = time.monotonic()
        old_supervisor.send_signal(signal.SIGKILL)

        def orphans():
            return [pid for pid in old_daemons if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        wait_for(lambda: not orphans(), 5, message="the old daemon processes to exit")

        def back():
            return [started + took for started, took, status, body in load.answers
                    if status == 200 and started > killed_at and int(body) not in old_daemons]
        back_at = min(wait_for(back, 15, message="a new daemon process to answer"))
        wait_for(lambda: len(load.answers) > 20 + len([a for a in load.answers
                                                       if a[0] < back_at]), 15,
                 message="more requests after service came back")
    back_after = back_at - killed_at
    figures.record("recovery_seconds", back_after)
    outcomes = collections.Counter(status for _, _, status, _ in load.answers)
    assert set(outcomes) <= {200, 503}, outcomes
    slowest = max(took for _, took, _, _ in load.answers)
    assert slowest < CONNECT_TIMEOUT + 1.0, slowest
    assert back_after < 5.0, (back_after, outcomes)   # the figure records the real time
    new_supervisor = supervisor_of(inst)
    assert new_supervisor is not None and new_supervisor.pid != old_supervisor.pid
    shutil.rmtree(faults_dir, ignore_errors=True)


QUEUE_SITE = f"""
WSGIDaemonProcess queue processes=1 threads=1 connect-timeout={CONNECT_TIMEOUT}
WSGIScriptAlias /app "{{apps}}/faults.wsgi" process-group=queue
SetEnv FAULTS_DIR "{{faults_dir}}"
"""
QUEUED = 6


@pytest.mark.fault
def test_killed_supervisor_its_daemon_serves_the_connections_queued_on_its_socket(apache):
    """Nobody else will accept from a dead supervisor's socket: the daemon that is stopping
    serves what waits in its queue before it exits, instead of leaving it to be reset (502)."""
    marks = FaultsDir(shared_tmpdir())
    os.chmod(marks.path, 0o777)
    inst = apache(QUEUE_SITE.format(apps="{apps}", faults_dir=marks.path), extra_modules=("env",))
    inst.start()
    [daemon] = wait_for_group(inst, "queue", 1)
    run = os.path.join(inst.root, "run")
    [socket_path] = [os.path.join(run, name) for name in os.listdir(run)
                     if name.endswith(".sock")]
    holder = in_thread(raw_get, inst.port, "/app/hold?tag=h")
    marks.wait("held-h")
    queued = [in_thread(raw_get, inst.port, "/app/pid") for _ in range(QUEUED)]
    wait_for(lambda: queued_on(socket_path) == QUEUED, 15,
             message=f"{QUEUED} connections queued behind the held thread")
    log_before = len(inst.error_log())
    supervisor_of(inst).send_signal(signal.SIGKILL)
    wait_for(lambda: "daemon process stopping" in inst.error_log()[log_before:], 10,
             message="the daemon process to start stopping")
    marks.release()
    for thread in [holder] + queued:
        thread.join(30)
    assert not any(thread.is_alive() for thread in [holder] + queued), "a request hung"
    [held] = holder.results
    assert (held.status, held.body) == (200, f"released {daemon.pid}".encode())
    answers = [(r.status, r.body) for [r] in (thread.results for thread in queued)]
    assert answers == [(200, str(daemon.pid).encode())] * QUEUED
    wait_for(lambda: not psutil.pid_exists(daemon.pid) or
             psutil.Process(daemon.pid).status() == psutil.STATUS_ZOMBIE, 10,
             message="the old daemon process to exit")
    shutil.rmtree(marks.path, ignore_errors=True)


# -- an application that cannot be imported ------------------------------------------------------

GOOD_SCRIPT = """\
import os

def application(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""

BROKEN_SCRIPTS = {
    "exception": "raise RuntimeError('cannot import this application')\n",
    "exit": "import os\nos._exit(3)\n",
    "segfault": "import ctypes\nctypes.string_at(0)\n",
}


class BrokenSite:
    """One Apache, a lazily loaded and a preloaded group per way of failing, and a healthy
    group beside them. Lazily loaded groups start with their broken script (they load nothing
    before a request); preloaded ones start healthy and are broken by the test."""

    def __init__(self):
        self.dir = shared_tmpdir()
        os.chmod(self.dir, 0o777)
        lines = [f'<Directory "{self.dir}">\n    Require all granted\n</Directory>',
                 "WSGIDaemonProcess other processes=1 threads=2",
                 'WSGIScriptAlias /other "{apps}/faults.wsgi" process-group=other',
                 f'SetEnv FAULTS_DIR "{self.dir}"']
        for how in BROKEN_SCRIPTS:
            for loading in ("lazy", "preload"):
                group = f"{how}-{loading}"
                script = self.script(group)
                self.write(group, BROKEN_SCRIPTS[how] if loading == "lazy" else GOOD_SCRIPT)
                lines.append(f"WSGIDaemonProcess {group} processes=1 threads=2")
                # As in mod_wsgi, an alias with both process-group and application-group is
                # preloaded; with process-group alone it is loaded by its first request.
                if loading == "lazy":
                    lines.append(f'WSGIScriptAlias /{group} "{script}" process-group={group}')
                else:
                    lines.append(f'WSGIScriptAlias /{group} "{script}" process-group={group} '
                                 "application-group=%{GLOBAL}")
        self.inst = ApacheInstance("\n".join(lines) + "\n", extra_modules=("env",))
        self.inst.start()
        wait_for(lambda: len(daemons_of(self.inst)) == 1 + 2 * len(BROKEN_SCRIPTS), 15,
                 message="every group's daemon process")

    def script(self, group):
        return os.path.join(self.dir, f"{group}.wsgi")

    def write(self, group, text):
        path = self.script(group)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.chmod(path + ".tmp", 0o644)
        os.rename(path + ".tmp", path)

    def starts(self, group):
        """The start times the log shows for the group, as the lines' pids in order."""
        return re.findall(re.escape(group_mark(group)) + r"started daemon process (\d+)",
                          self.inst.error_log())

    def cleanup(self):
        self.inst.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def broken_site():
    made = BrokenSite()
    yield made
    made.cleanup()


# What a request gets while the script is broken, by how it fails and how it is loaded.
# Lazily loaded, an exception is the application's error (500, the process serves on), but
# os._exit and a segfault end the process while it runs the request (502, as for any process
# that dies mid-request); requests that come while the group backs off get 503.
# Preloaded, no process ever becomes ready: every request gets 503 from the supervisor.
EXPECTED = {
    ("exception", "lazy"): {500},
    ("exit", "lazy"): {502, 503},
    ("segfault", "lazy"): {502, 503},
    ("exception", "preload"): {503},
    ("exit", "preload"): {503},
    ("segfault", "preload"): {503},
}
BROKEN_FOR = 2.0     # seconds of requests to the broken group


@pytest.mark.fault
@pytest.mark.parametrize("how", list(BROKEN_SCRIPTS))
@pytest.mark.parametrize("loading", ["lazy", "preload"])
def test_an_application_failing_at_import_is_answered_at_once_backs_off_and_recovers(
        broken_site, how, loading):
    site, inst = broken_site, broken_site.inst
    group = f"{how}-{loading}"
    other_pid = answered_pid(inst, "other")
    starts_before = len(site.starts(group))
    if loading == "preload":
        # A deploy breaks the file, and the process is replaced: the new one cannot start.
        site.write(group, BROKEN_SCRIPTS[how])
        [daemon] = group_daemons(inst, group)
        daemon.send_signal(signal.SIGKILL)

    statuses = collections.Counter()
    slowest = 0.0
    began = time.monotonic()
    while time.monotonic() - began < BROKEN_FOR:
        started = time.monotonic()
        statuses[raw_get(inst.port, f"/{group}/x", timeout=20).status] += 1
        slowest = max(slowest, time.monotonic() - started)
        assert answered_pid(inst, "other") == other_pid      # the other group is untouched
    assert set(statuses) <= EXPECTED[how, loading], statuses
    # Never a wait for socket-timeout (Apache's Timeout, 60 s); the bound leaves a busy machine
    # room.
    assert slowest < 5.0, (slowest, statuses)
    starts = len(site.starts(group)) - starts_before
    if (how, loading) == ("exception", "lazy"):
        assert starts == 0       # the process survives its application's exception
    else:
        # Backing off: 0.1 s, 0.2 s, 0.4 s, ... between failed starts, at most 10 a minute.
        assert 3 <= starts <= 7, starts

    site.write(group, GOOD_SCRIPT)
    fixed_at = time.monotonic()
    wait_for(lambda: raw_get(inst.port, f"/{group}/x").status == 200, 20, interval=0.1,
             message=f"group {group} to serve the fixed script")
    # Within the back-off bound: the next start comes at most max_delay (10 s) later (and the
    # bound leaves a busy machine a few seconds more).
    assert time.monotonic() - fixed_at < 14.0
    assert answered_pid(inst, "other") == other_pid
