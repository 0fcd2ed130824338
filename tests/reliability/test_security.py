"""Security of daemon groups: who may connect, what a socket path may hold, who the daemons are.

All of it against `wsgid supervise` without Apache, as root, with two daemon groups that run as
two system users made for this module (and removed after it):
- alpha: user wsgid-t-alpha, no supplementary-groups= (so, as under mod_wsgi, the user's own
  groups in the group database, here including wsgid-t-extra), a python-path= with a .pth file;
- beta: user wsgid-t-beta with supplementary-groups=adm,staff (exactly those).
What must hold:
- sockets are mode 0600 and owned by the Apache user; another uid is kept out by the file mode
  and, should the mode be wrong, by the daemon's SO_PEERCRED check;
- a file, a symlink (to a file, to a directory, or dangling) or a live socket planted at a
  socket path is never followed, removed or chowned; only a dead socket is replaced;
- every daemon process's real, effective, saved and file-system ids and its groups are the
  configured ones, it has no capabilities, its application cannot get root back, and code that
  runs at start-up (.pth files) already runs as the daemon user;
- when the drop fails (the supervisor lacks CAP_SETUID or CAP_SETGID, or setuid would keep
  the capabilities), the process exits 4 and nothing is served;
- one group's application cannot connect to the other's socket, read its processes'
  environment or signal them, and holds no descriptor of the other's listener.
"""

import grp
import json
import os
import pwd
import socket
import stat
import subprocess

import pytest

from tests.support.apache import APPS, wait_for
from tests.support.error_log import group_mark
from tests.support.procfs import identity
from tests.support.procs import run_as
from tests.support.rawclient import exchange
from tests.support.supervised import SupervisedGroups, apache_user
from tests.support.wire import uwsgi_packet

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: users, privilege drop")

PROBE = os.path.join(APPS, "probe.wsgi")
ALPHA, BETA, EXTRA_GROUP = "wsgid-t-alpha", "wsgid-t-beta", "wsgid-t-extra"

RECORD_UID_PTH = ("import os; open(os.path.join({markers!r}, 'pth-ran-as-%d-in-%d' "
                  "% (os.geteuid(), os.getpid())), 'w').close()\n")


def _run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def _remove_test_accounts():
    for user in (ALPHA, BETA):
        if _exists(pwd.getpwnam, user):
            _run("userdel", user)
        if _exists(grp.getgrnam, user):
            _run("groupdel", user)
    if _exists(grp.getgrnam, EXTRA_GROUP):
        _run("groupdel", EXTRA_GROUP)


def _exists(lookup, name):
    try:
        lookup(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def accounts():
    """Two system users, each with its own group; alpha is also a member of EXTRA_GROUP."""
    _remove_test_accounts()     # left over by a run that was killed
    try:
        _run("groupadd", "--system", EXTRA_GROUP)
        for user in (ALPHA, BETA):
            _run("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/",
                 "--shell", "/usr/sbin/nologin", user)
        _run("usermod", "--append", "--groups", EXTRA_GROUP, ALPHA)
        yield {user: pwd.getpwnam(user) for user in (ALPHA, BETA)}
    finally:
        _remove_test_accounts()


@pytest.fixture(scope="module")
def isolated(accounts):
    sup = SupervisedGroups("wsgid-security-")
    sup.markers = os.path.join(sup.directory, "markers")
    pth_dir = os.path.join(sup.directory, "pth")
    for directory, mode in ((sup.markers, 0o777), (pth_dir, 0o755)):
        os.mkdir(directory)
        os.chmod(directory, mode)
    with open(os.path.join(pth_dir, "record_uid.pth"), "w") as f:
        f.write(RECORD_UID_PTH.format(markers=sup.markers))
    os.chmod(os.path.join(pth_dir, "record_uid.pth"), 0o644)
    sup.add_group("alpha", PROBE, f"processes=2 threads=2 user={ALPHA} group={ALPHA} "
                                  f"python-path={pth_dir}")
    sup.add_group("beta", PROBE, f"processes=1 threads=2 user={BETA} group={BETA} "
                                 "supplementary-groups=adm,staff")
    try:
        sup.start()
        sup.daemons_serving(3)
        yield sup
    finally:
        sup.cleanup()


def daemons_of_group(sup, group):
    """The live daemon processes of one group (the supervisor logs which group each is)."""
    log = sup.log()
    started = {line.rsplit(" ", 1)[1] for line in log.splitlines()
               if group_mark(group) + "started daemon process " in line}
    return [p for p in sup.daemons() if str(p.pid) in started]


def probe(sup, group, query):
    """Ask the probe script of `group` (as the Apache user); its JSON answer."""
    packet = uwsgi_packet({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/",
                           "QUERY_STRING": query, "SERVER_NAME": "x", "SERVER_PORT": "80",
                           "SERVER_PROTOCOL": "HTTP/1.1"})
    user = apache_user()
    reply = run_as(user.pw_uid, user.pw_gid, exchange, sup.socket_path(group), packet)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), reply[:300]
    return json.loads(body)


# -- sockets ---------------------------------------------------------------------------------------

@pytest.mark.bad_input
@pytest.mark.parametrize("group", ["alpha", "beta"])
def test_a_daemon_socket_is_mode_0600_and_owned_by_the_apache_user(isolated, group):
    st = os.lstat(isolated.socket_path(group))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == apache_user().pw_uid


@pytest.mark.bad_input
@pytest.mark.parametrize("stranger", ["nobody", ALPHA])
def test_another_uid_is_kept_out_by_the_file_mode(isolated, stranger):
    """Neither an unrelated user nor another group's daemon user gets through the file mode."""
    who = pwd.getpwnam(stranger)
    with pytest.raises(PermissionError):
        run_as(who.pw_uid, who.pw_gid, exchange, isolated.socket_path("beta"), b"")


@pytest.mark.bad_input
def test_another_group_s_daemon_user_is_refused_by_the_peer_check_when_the_mode_is_wrong(
        isolated):
    path = isolated.socket_path("beta")
    alpha = pwd.getpwnam(ALPHA)
    before = len(isolated.log())
    os.chmod(path, 0o666)      # an administrator's mistake that SO_PEERCRED must catch
    try:
        reply = run_as(alpha.pw_uid, alpha.pw_gid, exchange, path,
                       uwsgi_packet({"QUERY_STRING": "probe=environ"}))
    finally:
        os.chmod(path, 0o600)
    assert reply in (b"", "reset")
    wait_for(lambda: f"refused a connection from uid {alpha.pw_uid}" in isolated.log()[before:],
             5, message="the refusal log line")
    assert len(isolated.log()[before:].splitlines()) == 1


# What a test plants at a socket path before the supervisor starts; each returns a description
# of the thing the supervisor must leave exactly as it was.

def plant_file(path, work):
    with open(path, "w") as f:
        f.write("not a socket\n")
    return path


def plant_directory(path, work):
    os.mkdir(path)
    return path


def plant_symlink_to_file(path, work):
    target = os.path.join(work, "precious-file")
    with open(target, "w") as f:
        f.write("precious\n")
    os.symlink(target, path)
    return target


def plant_symlink_to_directory(path, work):
    target = os.path.join(work, "precious-dir")
    os.mkdir(target)
    os.symlink(target, path)
    return target


def plant_dangling_symlink(path, work):
    os.symlink(os.path.join(work, "never-created"), path)
    return path


PLANTED = {"a regular file": plant_file, "a directory": plant_directory,
           "a symlink to a file": plant_symlink_to_file,
           "a symlink to a directory": plant_symlink_to_directory,
           "a dangling symlink": plant_dangling_symlink}


def snapshot(path):
    """Everything about `path` (and what a symlink there points to) that must not change."""
    st = os.lstat(path)
    seen = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode),
            "owner": (st.st_uid, st.st_gid), "inode": st.st_ino}
    if stat.S_ISLNK(st.st_mode):
        seen["link"] = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            seen["content"] = f.read()
    return seen


@pytest.mark.bad_input
@pytest.mark.parametrize("planted", list(PLANTED))
def test_a_planted_path_is_never_followed_removed_or_chowned(planted):
    sup = SupervisedGroups("wsgid-planted-")
    try:
        sup.add_group("site", PROBE, "processes=1 threads=1")
        path = sup.socket_path("site")
        nobody = pwd.getpwnam("nobody")
        kept = PLANTED[planted](path, sup.directory)
        for thing in {path, kept}:
            if os.path.lexists(thing):
                os.chown(thing, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)
                if not os.path.islink(thing):
                    os.chmod(thing, 0o640 if os.path.isfile(thing) else 0o750)
        before = {thing: snapshot(thing) for thing in {path, kept} if os.path.lexists(thing)}
        sup.start(wait=False)
        assert sup.proc.wait(15) == 1
        assert f"cannot listen on {path}: the path exists and is not a socket" in sup.log()
        assert {thing: snapshot(thing) for thing in before} == before
        assert not os.path.lexists(os.path.join(sup.directory, "never-created"))
        assert sup.daemons() == []
    finally:
        sup.cleanup()


def listen_as(uid, gid, path):
    """A socket bound and listening at `path`, owned by uid/gid: another program's socket."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    os.chown(path, uid, gid)
    os.chmod(path, 0o660)
    return listener


@pytest.mark.bad_input
def test_a_live_foreign_socket_at_the_path_is_left_alone_and_a_dead_one_is_replaced():
    sup = SupervisedGroups("wsgid-planted-")
    try:
        sup.add_group("site", PROBE, "processes=1 threads=1")
        path = sup.socket_path("site")
        nobody = pwd.getpwnam("nobody")
        foreign = listen_as(nobody.pw_uid, nobody.pw_gid, path)
        before = snapshot(path)
        sup.start(wait=False)
        # It waits a few seconds for a live socket to go away (sockets.STALE_SOCKET_WAIT), then
        # gives up, even when the foreign listener never accepts (its backlog is full).
        assert sup.proc.wait(15) == 1
        assert "another process is serving on it" in sup.log()
        assert snapshot(path) == before
        # Once nobody listens it is a leftover: the supervisor replaces it with its own.
        foreign.close()
        sup.start()
        sup.daemons_serving(1)
        st = os.lstat(path)      # (the file system may give the new one the same inode number)
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, apache_user().pw_uid)
        assert group_mark("site") + f"listening on {path}" in sup.log()
    finally:
        sup.cleanup()


# -- who the daemon processes are ------------------------------------------------------------------

def expected_groups(user, configured):
    entry = pwd.getpwnam(user)
    if configured:
        return {grp.getgrnam(name).gr_gid for name in configured}
    return set(os.getgrouplist(user, entry.pw_gid))   # what initgroups() gives, as mod_wsgi


@pytest.mark.bad_input
@pytest.mark.parametrize("group, user, configured", [("alpha", ALPHA, ()),
                                                     ("beta", BETA, ("adm", "staff"))])
def test_every_daemon_process_has_exactly_the_configured_ids_and_no_capabilities(
        isolated, group, user, configured):
    entry = pwd.getpwnam(user)
    daemons = daemons_of_group(isolated, group)
    assert len(daemons) == (2 if group == "alpha" else 1)
    for daemon in daemons:
        ids = identity(daemon.pid)
        assert ids.uids == (entry.pw_uid,) * 4          # real, effective, saved, file system
        assert ids.gids == (entry.pw_gid,) * 4
        assert ids.groups == expected_groups(user, configured)
        assert (ids.effective_capabilities, ids.permitted_capabilities) == (0, 0)
    assert identity(isolated.proc.pid).uids[0] == 0     # only the supervisor stays root


@pytest.mark.bad_input
@pytest.mark.parametrize("group", ["alpha", "beta"])
def test_the_application_cannot_get_root_back(isolated, group):
    answer = probe(isolated, group, "probe=ids")
    assert answer["regain_root"] == {attempt: "PermissionError"
                                     for attempt in answer["regain_root"]}
    assert answer["status"]["CapEff"] == answer["status"]["CapPrm"] == "0" * 16


@pytest.mark.bad_input
def test_start_up_code_on_python_path_runs_as_the_daemon_user_never_as_root(isolated):
    alpha = pwd.getpwnam(ALPHA)
    ran = sorted(os.listdir(isolated.markers))
    pids = {str(p.pid) for p in daemons_of_group(isolated, "alpha")}
    assert {name.rsplit("-", 1)[1] for name in ran if name.startswith("pth-ran-as-")} >= pids
    assert {name.split("-")[3] for name in ran if name.startswith("pth-ran-as-")} \
        == {str(alpha.pw_uid)}


# -- a drop that fails ---------------------------------------------------------------------------

# Real ways for the switch to fail or to leave privileges behind: a supervisor run as root in a
# service manager or container that took capabilities away, or that set the securebit keeping
# capabilities across setuid().
FAILED_DROPS = {
    "no CAP_SETGID": (["setpriv", "--bounding-set", "-setgid", "--"],
                      "cannot switch to uid"),
    "no CAP_SETUID": (["setpriv", "--bounding-set", "-setuid", "--"], "cannot switch to uid"),
    "setuid keeps the capabilities": (["setpriv", "--securebits", "+no_setuid_fixup", "--"],
                                      "still privileged after switching"),
}


def reply_or_silence(path, payload):
    try:
        return exchange(path, payload, timeout=1.0)
    except socket.timeout:
        return "silence"


@pytest.mark.fault
@pytest.mark.parametrize("case", list(FAILED_DROPS))
def test_a_failed_privilege_drop_exits_4_and_serves_nothing(accounts, case):
    prefix, words = FAILED_DROPS[case]
    sup = SupervisedGroups("wsgid-failed-drop-")
    markers = os.path.join(sup.directory, "markers")
    os.mkdir(markers)
    os.chmod(markers, 0o777)
    try:
        sup.add_group("site", PROBE, f"processes=1 threads=1 user={ALPHA} group={ALPHA}")
        sup.start(command_prefix=prefix, env={"WSGID_PROBE_MARKERS": markers})
        failures = lambda: [line for line in sup.log().splitlines()  # noqa: E731
                            if "exited with status 4" in line]
        wait_for(lambda: len(failures()) >= 2, 15, message="two failed starts")
        assert words in sup.log()
        assert "daemon process serving" not in sup.log()
        user = apache_user()
        reply = run_as(user.pw_uid, user.pw_gid, reply_or_silence, sup.socket_path("site"),
                       uwsgi_packet({"QUERY_STRING": "probe=environ"}))
        # While the group backs off, the supervisor may answer 503 itself; the application
        # never answers, and was never even loaded.
        assert reply == "silence" or reply.startswith(b"HTTP/1.1 503 "), reply[:200]
        assert os.listdir(markers) == []
        assert sup.proc.poll() is None        # the supervisor itself carries on
    finally:
        sup.cleanup()


# -- two groups, two users -------------------------------------------------------------------------

@pytest.mark.bad_input
@pytest.mark.parametrize("attacker, victim", [("alpha", "beta"), ("beta", "alpha")])
def test_one_group_cannot_reach_the_other_s_socket_environment_or_processes(isolated, attacker,
                                                                            victim):
    victims = daemons_of_group(isolated, victim)
    for target in [p.pid for p in victims] + [isolated.proc.pid]:
        answer = probe(isolated, attacker,
                       f"probe=reach&pid={target}&socket={isolated.socket_path(victim)}")
        assert answer == {"read environ": "PermissionError", "signal": "PermissionError",
                          "connect": "PermissionError"}, (target, answer)


def listening_inode(path):
    with open("/proc/net/unix") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path and fields[3] == "00010000":  # listening
                return int(fields[6])
    raise AssertionError(f"no listening socket at {path}")


@pytest.mark.bad_input
@pytest.mark.parametrize("holder, other", [("alpha", "beta"), ("beta", "alpha")])
def test_a_daemon_process_holds_no_descriptor_of_another_group_s_listener(isolated, holder,
                                                                          other):
    own, foreign = (f"socket:[{listening_inode(isolated.socket_path(g))}]"
                    for g in (holder, other))
    for daemon in daemons_of_group(isolated, holder):
        fd_dir = f"/proc/{daemon.pid}/fd"
        links = {os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir)}
        assert own in links and foreign not in links


def read_environ_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read()


@pytest.mark.bad_input
def test_not_even_the_daemon_user_can_read_a_daemon_process_s_environment(isolated):
    """A process that switched users from root stays non-dumpable: /proc/PID/environ is root's."""
    alpha = pwd.getpwnam(ALPHA)
    for daemon in daemons_of_group(isolated, "alpha"):
        assert os.stat(f"/proc/{daemon.pid}/environ").st_uid == 0
        with pytest.raises(PermissionError):
            run_as(alpha.pw_uid, alpha.pw_gid, read_environ_of, daemon.pid)
