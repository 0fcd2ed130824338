"""Finding wsgid's processes (and the queue of a daemon socket) under an Apache instance, and
acting as another uid.

The supervisor is the child of the Apache parent that is not an Apache binary (it is the Python
interpreter); the daemon processes are its children. This does not depend on process titles, so
the tests that check titles prove something.
"""

import os
import pickle
import subprocess

import psutil

from tests.support.apache import wait_for


def supervisor_of(apache):
    """The live wsgid supervisor process under this Apache, or None."""
    parent_pid = apache.pid()
    if parent_pid is None:
        return None
    try:
        parent = psutil.Process(parent_pid)
        for child in parent.children():
            if os.path.basename(child.exe()) != os.path.basename(apache.httpd) \
                    and child.status() != psutil.STATUS_ZOMBIE:
                return child
    except psutil.NoSuchProcess:
        return None
    return None


def daemons_of(apache):
    """The live daemon processes (children of the supervisor)."""
    sup = supervisor_of(apache)
    if sup is None:
        return []
    try:
        return [p for p in sup.children() if p.status() != psutil.STATUS_ZOMBIE]
    except psutil.NoSuchProcess:
        return []


def wait_for_daemons(apache, count, timeout=15):
    return wait_for(lambda: (lambda d: d if len(d) == count else None)(daemons_of(apache)),
                    timeout, message=f"{count} daemon processes")


def listening_queue(path):
    """(connections queued, backlog) of the listening unix socket at path, as the kernel
    reports them (ss: Recv-Q and Send-Q of a listening socket), or None when none listens
    there."""
    out = subprocess.run(["ss", "-xlnH"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if path in fields:
            return int(fields[2]), int(fields[3])
    return None


def tcp_listen_backlog(port):
    """The backlog of the listening TCP socket on `port` (ss: Send-Q of a listening socket), or
    None when none listens there."""
    out = subprocess.run(["ss", "-tlnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        return int(line.split()[2])
    return None


def queued_on(path):
    """How many connections wait in the accept queue of the listening unix socket at path,
    or None when none listens there."""
    queue = listening_queue(path)
    return None if queue is None else queue[0]


def run_as(uid, gid, func, *args):
    """Run func(*args) in a forked child that has switched to uid/gid; return its result.

    The result (or the exception it raised) comes back pickled over a pipe. Used to act as the
    Apache child user or as a stranger against a daemon socket.
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            outcome = ("ok", func(*args))
        except BaseException as exc:  # the parent re-raises it
            outcome = ("error", exc)
        with os.fdopen(wfd, "wb") as w:
            pickle.dump(outcome, w)
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as r:
        data = r.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "error":
        raise value
    return value
