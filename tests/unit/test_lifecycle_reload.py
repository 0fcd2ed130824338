"""Which groups a reload keeps, starts, restarts and stops (supervisor.plan_reload), and which
groups leaving the configuration are held for older Apache children and when they retire.

The configurations are real parsed files (wsgid.config.parse / load) and the sockets are real;
fork, the clock and the Apache children are fakes, except in the tests of ApacheChildren, which
watch real processes.
"""

import os
import signal
import subprocess
import sys

import pytest

from tests.support.lifecycle import FakeFork
from wsgid import config as config_file
from wsgid.channel import READY, Message
from wsgid.config import parse
from wsgid.held_groups import OLD_CHILDREN_CHECK, OLD_CHILDREN_WAIT, ApacheChildren
from wsgid.supervisor import ReloadPlan, Supervisor, group_fingerprint, plan_reload


@pytest.fixture
def make_config(tmp_path):
    script = tmp_path / "app.wsgi"
    script.write_text("def application(environ, start_response):\n    pass\n")
    other_script = tmp_path / "other.wsgi"
    other_script.write_text(script.read_text())

    def make(text):
        text = text.replace("SCRIPT", str(script)).replace("OTHER", str(other_script))
        return parse("WSGIApacheUser 33 33\n" + f"WSGISocketPrefix {tmp_path}/wsgid\n" + text,
                     running_ids=(0, 0))
    return make


def running(config):
    return {name: group_fingerprint(config, name) for name in config.groups}


BASE = """\
WSGIDaemonProcess a processes=2
WSGIDaemonProcess b threads=4
WSGIScriptAlias /a SCRIPT process-group=a
WSGIScriptAlias /b SCRIPT process-group=b
"""


def test_the_same_file_keeps_every_group(make_config):
    plan = plan_reload(running(make_config(BASE)), make_config(BASE))
    assert plan == ReloadPlan(keep=("a", "b"))


def test_a_changed_option_restarts_only_that_group(make_config):
    changed = BASE.replace("processes=2", "processes=3")
    plan = plan_reload(running(make_config(BASE)), make_config(changed))
    assert plan == ReloadPlan(keep=("b",), restart=("a",))


def test_a_changed_socket_path_restarts_the_group(make_config, tmp_path):
    moved = BASE + f"WSGIDaemonSocket b {tmp_path}/moved.sock\n"
    plan = plan_reload(running(make_config(BASE)), make_config(moved))
    assert plan == ReloadPlan(keep=("a",), restart=("b",))


def test_a_changed_script_of_a_group_restarts_that_group(make_config):
    changed = BASE.replace("/b SCRIPT", "/b OTHER")
    plan = plan_reload(running(make_config(BASE)), make_config(changed))
    assert plan == ReloadPlan(keep=("a",), restart=("b",))


def test_a_new_hook_script_for_a_group_restarts_that_group(make_config):
    # its running processes would refuse the new script's hook calls
    changed = BASE + "WSGIAccessScript OTHER process-group=a\n"
    plan = plan_reload(running(make_config(BASE)), make_config(changed))
    assert plan == ReloadPlan(keep=("b",), restart=("a",))


def test_a_changed_callable_restarts_every_group(make_config):
    changed = BASE + "WSGICallableObject app\n"
    plan = plan_reload(running(make_config(BASE)), make_config(changed))
    assert plan == ReloadPlan(restart=("a", "b"))


def test_added_and_removed_groups_start_and_stop(make_config):
    new = """\
WSGIDaemonProcess a processes=2
WSGIDaemonProcess c
WSGIScriptAlias /a SCRIPT process-group=a
WSGIScriptAlias /c SCRIPT process-group=c
"""
    plan = plan_reload(running(make_config(BASE)), make_config(new))
    assert plan == ReloadPlan(keep=("a",), start=("c",), stop=("b",))


def test_a_new_import_script_of_a_group_restarts_that_group(make_config):
    preloading = BASE + "WSGIImportScript OTHER process-group=b application-group=%{GLOBAL}\n"
    plan = plan_reload(running(make_config(BASE)), make_config(preloading))
    assert plan == ReloadPlan(keep=("a",), restart=("b",))


# -- groups leaving the configuration: held for older Apache children, then retired ----------


class FakeApacheChildren:
    """Stands in for ApacheChildren: `running_pids` is what is alive now, each child started
    at the time its pid says."""

    def __init__(self, *pids):
        self.running_pids = set(pids)

    def listed(self):
        return {pid: float(pid) for pid in self.running_pids}

    def running(self, known):
        return {pid: start for pid, start in known.items() if pid in self.running_pids}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


ROTATED = """\
WSGIApacheUser {uid} {gid}
WSGIDaemonProcess site processes=1
WSGIDaemonSocket site {dir}/wsgid.1.{generation}.site.sock
WSGIScriptAlias / {dir}/app.wsgi process-group=site
"""


@pytest.fixture
def managed(tmp_path):
    """A started supervisor on generation 1's configuration, with Apache children 501 and 502."""
    (tmp_path / "app.wsgi").write_text("def application(environ, start_response):\n    pass\n")
    config_path = tmp_path / "wsgid.1.conf"
    clock, fork, children = Clock(), FakeFork(), FakeApacheChildren(501, 502)
    # As root the daemons may not run as root: the Apache user is then nobody.
    apache_ids = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())

    def write(generation, text=ROTATED):
        config_path.write_text(text.format(uid=apache_ids[0], gid=apache_ids[1], dir=tmp_path,
                                           generation=generation))

    write(1)
    sup = Supervisor(str(config_path), config_file.load(str(config_path)), managed_by=1,
                     clock=clock, apache_children=children, spawn=fork)
    for name in sup.config.groups:
        sup.groups[name] = sup._new_group(sup.config, name)
        sup.groups[name].start(clock.now)
        sup.groups[name].tick(clock.now)
    yield sup, write, clock, fork, children
    sup._close_listeners(set(sup.listeners))


def ready_all(sup, now):
    for group in sup._all_groups():
        for handle in group.processes():
            group.handle_message(handle, Message(READY), now)


def told_to_stop(fork):
    return [pid for pid, signum in fork.signals if signum == signal.SIGUSR1]


def test_a_rotated_group_keeps_serving_the_old_children_until_they_exit(managed):
    sup, write, clock, fork, children = managed
    old = sup.groups["site"]
    write(2)
    sup.reload()
    assert sup.groups["site"] is not old
    assert sup.held.groups() == [old]
    assert sup.retiring == [] and told_to_stop(fork) == []
    assert sorted(sup.listeners) == sorted([old.socket_path, sup.groups["site"].socket_path])

    children.running_pids = {502}       # one old child is still there: still held
    clock.now += OLD_CHILDREN_CHECK
    sup._release_held_groups(clock.now)
    assert sup.held.groups() == [old]

    children.running_pids = set()
    clock.now += OLD_CHILDREN_CHECK
    sup._release_held_groups(clock.now)
    assert sup.held.groups() == [] and sup.retiring == [old]
    assert told_to_stop(fork) == old.pids()     # graceful_signal, as any retired group


def test_a_held_group_retires_after_old_children_wait_even_if_a_child_stays(managed):
    sup, write, clock, fork, children = managed
    old = sup.groups["site"]
    write(2)
    sup.reload()
    clock.now += OLD_CHILDREN_WAIT - 1
    sup._release_held_groups(clock.now)
    assert sup.held.groups() == [old]
    clock.now += 1
    sup._release_held_groups(clock.now)
    assert sup.held.groups() == [] and sup.retiring == [old]


def test_without_old_children_a_leaving_group_retires_at_once(managed):
    sup, write, clock, fork, children = managed
    children.running_pids = set()
    old = sup.groups["site"]
    write(2)
    sup.reload()
    assert sup.held.groups() == [] and sup.retiring == [old]


def test_a_changed_group_on_the_same_socket_retires_at_once(managed):
    """WSGISocketRotation Off: the new group serves the old children on the same socket."""
    sup, write, clock, fork, children = managed
    old = sup.groups["site"]
    write(1, ROTATED.replace("processes=1", "processes=2"))
    sup.reload()
    assert sup.held.groups() == [] and sup.retiring == [old]
    assert list(sup.listeners) == [old.socket_path]


def test_a_removed_group_is_held_too(managed):
    sup, write, clock, fork, children = managed
    old = sup.groups["site"]
    write(1, ROTATED.replace("site", "other"))
    sup.reload()
    assert list(sup.groups) == ["other"]
    assert sup.held.groups() == [old]


def test_each_generation_is_held_for_its_own_children(managed):
    sup, write, clock, fork, children = managed
    first = sup.groups["site"]
    write(2)
    sup.reload()
    second = sup.groups["site"]
    children.running_pids = {502, 601}    # 501 exited; 601 is a child of generation 2
    write(3)
    sup.reload()
    assert sup.held.groups() == [first, second]
    children.running_pids = {601}
    clock.now += OLD_CHILDREN_CHECK
    sup._release_held_groups(clock.now)
    assert sup.held.groups() == [second] and sup.retiring == [first]


def test_a_held_group_is_restarted_by_sigusr1_and_stopped_by_sigterm(managed):
    sup, write, clock, fork, children = managed
    old = sup.groups["site"]
    write(2)
    sup.reload()
    ready_all(sup, clock.now)
    sup.handle_sigusr1()
    assert len(old.processes()) == 2            # its replacement runs beside it
    sup.handle_sigterm()
    assert sup.held.groups() == [] and old in sup.retiring and old.stopping


# -- ApacheChildren: the list mod_wsgid writes, and real processes ------------------------------

@pytest.fixture
def child():
    """A real child of this process, standing in for an Apache child (this process: Apache)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_listed_children_are_those_of_the_file_that_run_as_children_of_apache(tmp_path, child):
    config_path = str(tmp_path / "wsgid.1.conf")
    with open(config_path + ".children", "w") as f:
        f.write(f"# written by mod_wsgid\n{child.pid}\n{os.getppid()}\n")
    watch = ApacheChildren(config_path, apache_pid=os.getpid())
    listed = watch.listed()
    assert list(listed) == [child.pid]          # our own parent is not a child of "Apache"
    assert watch.running(listed) == listed
    child.kill()
    child.wait()
    assert watch.running(listed) == {}


def test_a_reused_pid_is_not_the_child_that_was_listed(tmp_path, child):
    watch = ApacheChildren(str(tmp_path / "wsgid.1.conf"), apache_pid=os.getpid())
    assert watch.running({child.pid: 12.0}) == {}     # another start time: another process


def test_without_the_file_no_child_is_listed(tmp_path):
    assert ApacheChildren(str(tmp_path / "wsgid.1.conf"), apache_pid=os.getpid()).listed() == {}
