"""`wsgid status` against running supervisors: managed by a real Apache, and external.

`wsgid status` runs as a user would run it (`python -m wsgid status`, a subprocess of the
interpreter running the tests) and is checked against what psutil sees of the process tree and
against the requests the test sent. The counts travel on the daemons' heartbeats (about every
second), so the tests poll `wsgid status` until they show up, with a deadline.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
import requests

from tests.support.apache import APPS, shared_tmpdir, wait_for
from tests.support.procs import daemons_of, supervisor_of, wait_for_daemons

ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody")
root_only = pytest.mark.skipif(not ROOT, reason="needs root: acting as another uid")

SITE = """
WSGIDaemonProcess busy processes=2 threads=2
WSGIDaemonProcess quiet processes=1 threads=1
WSGIScriptAlias /busy "{{apps}}/hold.wsgi" process-group=busy
WSGIScriptAlias /quiet "{{apps}}/echo.wsgi" process-group=quiet
SetEnv HOLD_DIR "{hold_dir}"
"""


def run_status(*args, user=None):
    """`wsgid status ARGS` as a user runs it: (exit status, stdout, stderr)."""
    kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    done = subprocess.run([sys.executable, "-m", "wsgid", "status", *args],
                          capture_output=True, text=True, timeout=60, **kwargs)
    return done.returncode, done.stdout, done.stderr


def status_json(*args):
    code, out, err = run_status("--json", *args)
    document = json.loads(out)
    assert code == (1 if document["errors"] else 0), err
    return document


def groups_of(document, supervisor_pid):
    """{group name: group} of the supervisor with that pid in a `--json` document."""
    [supervisor] = [s for s in document["supervisors"] if s["pid"] == supervisor_pid]
    return {group["name"]: group for group in supervisor["groups"]}


def pids(group):
    return sorted(p["pid"] for p in group["daemon_processes"])


def total(group, key):
    values = [p[key] for p in group["daemon_processes"]]
    return None if None in values else sum(values)


class Site:
    """An Apache with the two groups of SITE, started, and its supervisor's config file."""

    def __init__(self, apache):
        self.hold_dir = shared_tmpdir()
        os.chmod(self.hold_dir, 0o777)          # the daemon user writes the 'held' mark here
        self.inst = apache(SITE.format(hold_dir=self.hold_dir), extra_modules=("env",))
        self.inst.start()
        wait_for_daemons(self.inst, 3)
        self.supervisor = supervisor_of(self.inst)
        self.config = os.path.join(self.inst.root, "run", f"wsgid.{self.inst.pid()}.conf")

    def get(self, path):
        answer = requests.get(self.inst.url(path), timeout=30)
        assert answer.status_code == 200, self.inst.error_log()[-3000:]
        return answer.text

    def status_when(self, condition, message, *args):
        """Poll `wsgid status --json --config` until condition(groups) holds; the groups."""
        def check():
            groups = groups_of(status_json("--config", self.config, *args), self.supervisor.pid)
            return groups if condition(groups) else None
        return wait_for(check, 20, interval=0.2, message=message)

    def cleanup(self):
        open(os.path.join(self.hold_dir, "release"), "w").close()
        shutil.rmtree(self.hold_dir, ignore_errors=True)


@pytest.fixture
def site(apache):
    made = Site(apache)
    yield made
    made.cleanup()


def test_status_json_shows_each_group_with_its_processes_and_the_requests_served(site):
    for _ in range(5):
        assert site.get("/busy/quick") == "quick\n"
    for _ in range(3):
        assert site.get("/quiet/hello") == "Hello, world!\n"

    groups = site.status_when(lambda g: total(g["busy"], "requests_served") == 5 and
                              total(g["quiet"], "requests_served") == 3,
                              "5 + 3 requests served in wsgid status")
    assert set(groups) == {"busy", "quiet"}
    busy, quiet = groups["busy"], groups["quiet"]
    assert (busy["processes"], busy["threads"], quiet["processes"], quiet["threads"]) == \
        (2, 2, 1, 1)
    assert (len(busy["daemon_processes"]), len(quiet["daemon_processes"])) == (2, 1)
    assert sorted(pids(busy) + pids(quiet)) == sorted(p.pid for p in daemons_of(site.inst))
    assert busy["socket"].endswith(".busy.sock") and os.path.exists(busy["socket"])
    for process in busy["daemon_processes"] + quiet["daemon_processes"]:
        real = psutil.Process(process["pid"])
        assert process["state"] in ("starting", "running") and process["ready"] is True
        assert process["active_requests"] == 0
        assert 0 < process["rss"] and process["cpu_time"] >= 0
        assert abs(process["rss"] - real.memory_info().rss) < 50 * 2 ** 20
        assert abs(process["uptime"] - (time.time() - real.create_time())) < 5


def test_a_held_request_shows_as_active_until_it_ends(site):
    held = threading.Thread(target=site.get, args=("/busy/hold",))
    held.start()
    wait_for(lambda: os.path.exists(os.path.join(site.hold_dir, "held")), 15,
             message="the request to be held")
    groups = site.status_when(lambda g: total(g["busy"], "active_requests") == 1,
                              "one active request in group busy")
    assert total(groups["quiet"], "active_requests") == 0
    open(os.path.join(site.hold_dir, "release"), "w").close()
    held.join(30)
    site.status_when(lambda g: total(g["busy"], "active_requests") == 0 and
                     total(g["busy"], "requests_served") == 1,
                     "the held request finished")


def test_status_without_config_finds_the_managed_supervisor(site):
    # Other supervisors may be running on this machine; ours must be among those found.
    document = status_json()
    groups = groups_of(document, site.supervisor.pid)
    [ours] = [s for s in document["supervisors"] if s["pid"] == site.supervisor.pid]
    assert ours["managed_by"] == site.inst.pid()
    assert ours["config"] == site.config
    assert ours["control_socket"] == site.config + ".control"
    assert len(groups["busy"]["daemon_processes"]) == 2
    assert len(groups["quiet"]["daemon_processes"]) == 1


def test_the_human_output_names_each_group_and_its_pids(site):
    code, out, err = run_status("--config", site.config)
    assert code == 0, err
    assert f"wsgid supervisor pid {site.supervisor.pid} (managed by Apache pid " \
           f"{site.inst.pid()})" in out
    lines = out.splitlines()
    for name, count, threads in (("busy", 2, 2), ("quiet", 1, 1)):
        [header] = [line for line in lines if line.startswith(f"group {name}:")]
        process_word = "processes" if count > 1 else "process"
        assert f"{count} {process_word} on " in header
        assert f"(processes={count} threads={threads})" in header
    table_pids = {int(line.split()[0]) for line in lines if line.strip()[:1].isdigit()}
    assert table_pids == {p.pid for p in daemons_of(site.inst)}


def test_the_control_socket_is_private_and_goes_with_apache(site):
    path = site.config + ".control"
    st = os.lstat(path)
    assert oct(st.st_mode & 0o777) == oct(0o600) and st.st_uid == site.supervisor.uids().effective
    site.inst.stop()
    assert not os.path.exists(path)
    code, _, err = run_status("--config", site.config)
    assert code == 1 and "no control socket at" in err


@root_only
def test_another_user_is_refused_by_the_socket_mode_and_by_the_peer_check(site):
    path = site.config + ".control"
    code, _, err = run_status("--config", site.config, user=NOBODY)
    assert code == 1
    assert f"permission denied on {path}: only its owner (user root) and root may ask" in err

    # Past the file mode (which only root can open up), the supervisor still checks the uid.
    os.chmod(path, 0o666)
    try:
        code, _, err = run_status("--config", site.config, user=NOBODY)
    finally:
        os.chmod(path, 0o600)
    assert code == 1 and "closed the connection without an answer" in err
    refusals = [line for line in site.inst.error_log().splitlines()
                if "refused a connection from pid" in line]
    assert len(refusals) == 1 and f"uid {NOBODY.pw_uid}" in refusals[0]
    assert supervisor_of(site.inst).pid == site.supervisor.pid      # and it serves on
    assert status_json("--config", site.config)["errors"] == []


# -- external mode ------------------------------------------------------------------------------

@pytest.fixture
def external():
    """`wsgid supervise --config FILE` for one group of 2 processes, started directly."""
    directory = shared_tmpdir("wsgid-status-")
    config = os.path.join(directory, "site.conf")
    socket_path = os.path.join(directory, "site.sock")
    lines = []
    if ROOT:
        www = pwd.getpwnam("www-data")
        lines.append(f"WSGIApacheUser {www.pw_uid} {www.pw_gid}")
    lines += ["WSGIDaemonProcess site processes=2 threads=3",
              f"WSGIDaemonSocket site {socket_path}",
              f"WSGIScriptAlias / {APPS}/echo.wsgi process-group=site"]
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    log = open(os.path.join(directory, "supervisor.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "wsgid", "supervise", "--config", config],
                            stdout=log, stderr=subprocess.STDOUT)
    seen = set()

    def daemons():
        try:
            found = [p for p in psutil.Process(proc.pid).children()
                     if p.status() != psutil.STATUS_ZOMBIE]
        except psutil.NoSuchProcess:
            return []
        seen.update(p.pid for p in found)
        return found

    yield proc, config, daemons
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    for pid in seen:
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass
    shutil.rmtree(directory, ignore_errors=True)


def test_status_of_an_external_supervisor_by_its_config_file(external):
    proc, config, daemons = external
    wait_for(lambda: len(daemons()) == 2, 15, message="2 daemon processes")

    def answered():
        document = status_json("--config", config)
        return document if not document["errors"] else None
    document = wait_for(answered, 15, interval=0.2, message="the supervisor to answer")
    [supervisor] = document["supervisors"]
    assert supervisor["pid"] == proc.pid and supervisor["managed_by"] is None
    assert supervisor["config"] == config and supervisor["stopping"] is False
    [group] = supervisor["groups"]
    assert (group["name"], group["role"], group["processes"], group["threads"]) == \
        ("site", "current", 2, 3)
    assert pids(group) == sorted(p.pid for p in daemons())

    code, out, err = run_status("--config", config)
    assert code == 0, err
    assert f"wsgid supervisor pid {proc.pid} (external)" in out
    assert "group site: 2 processes on " in out
    for daemon in daemons():
        assert f"  {daemon.pid}  " in out

    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    assert not os.path.exists(config + ".control")
