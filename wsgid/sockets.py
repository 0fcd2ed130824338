"""Daemon group sockets: bind and own the listener, identify and check peers.

Rules:
- This is the only module of wsgid that creates a listening socket (docs/design.md, contract 3). The
  supervisor binds each group's socket once and keeps it for the group's whole life; daemon
  processes inherit it across fork() and only ever accept on it.
- A socket is born private: it is bound under umask 0177 (mode 0600) and, when running as root,
  chowned (never through a symlink) to the socket owner (the Apache child user, or
  socket-user=) and the daemon's gid. Only that owner can connect through the file system.
- A path that exists is removed only when it is a socket that nobody listens on; a regular file is
  never deleted, and a socket that stays live for STALE_SOCKET_WAIT means another supervisor
  owns that group.
- The listener is non-blocking (O_NONBLOCK is shared by every process that inherited it): many
  daemon processes wait on it, and all but one of them lose each accept() race.
- Python's sockets are close-on-exec already (PEP 446); nothing here makes one inheritable,
  because daemon processes are forked, never exec'd.
- Peers are checked again with SO_PEERCRED: the socket owner, the daemon's own uid and root may
  talk to a daemon; anyone else is refused with one log line.
- Each group socket has a health twin (health_socket_path), bound the same way by the
  supervisor, where mod_wsgid's `wsgid-health` handler asks about the group (health.py).
- Accepted connections are the core's Connection (wsgid/_core_conn.pxi says why not a Python
  socket).
"""

import os
import socket
import stat
import time

from wsgid import log

logger = log.get_logger("sockets")

# sizeof(sun_path) - 1 on Linux: the longest socket path bind() accepts with its NUL. The daemon
# sockets (config.py) and the control socket (control.py) are held to it.
SOCKET_PATH_MAX = 107
SOCKET_MODE = 0o600
STALE_SOCKET_WAIT = 5.0   # seconds a live socket at our path may take to go away


# The health twin of a group socket (health.py): "hc", as mod_proxy_hcheck says "health
# check", replacing a ".sock" ending: no longer than the socket path, so a path that fits has a
# twin that fits (cmodule/wsgid_health.c says the same).
GROUP_SOCKET_SUFFIX = ".sock"
HEALTH_SUFFIX = ".hc"


def health_socket_path(path):
    """The twin of the group socket `path`: its `.sock` ending (the one managed mode and
    WSGISocketPrefix give) replaced by `.hc`; else `.hc` added, which config.py leaves room
    for."""
    if path.endswith(GROUP_SOCKET_SUFFIX):
        path = path[:-len(GROUP_SOCKET_SUFFIX)]
    return path + HEALTH_SUFFIX


class ListenerError(Exception):
    """A group's socket could not be bound; str(e) says which path, why, and what to do."""


def bind_listener(path, backlog, owner_uid, owner_gid):
    """Create, bind and listen on the unix stream socket of one daemon group."""
    _remove_stale_socket(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old_umask = os.umask(0o777 ^ SOCKET_MODE)   # born 0600: never open to others
        try:
            listener.bind(path)
        finally:
            os.umask(old_umask)
        set_owner(path, owner_uid, owner_gid)
        listener.listen(backlog)
        listener.setblocking(False)
    except OSError as exc:
        listener.close()
        raise ListenerError(f"cannot listen on {path}: {exc.strerror or exc}; check that the "
                            "directory exists and is writable by the supervisor "
                            "(WSGISocketPrefix sets it)") from exc
    return listener


def set_owner(path, owner_uid, owner_gid):
    """As root, the owner that may connect (also used when a reload changes it).

    The mode is already 0600 (bound under umask 0177); the path is never followed, so a
    symlink put in its place between bind() and here gets nothing."""
    if os.geteuid() == 0:
        os.chown(path, owner_uid, owner_gid, follow_symlinks=False)


def set_backlog(listener, backlog):
    """Change the queue length of a socket that is already listening (Linux allows re-listen)."""
    listener.listen(backlog)


def remove_socket_file(path):
    """Remove a group's socket file if it is (still) a socket; never touch anything else."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _remove_stale_socket(path):
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ListenerError(f"cannot listen on {path}: the path exists and is not a socket; "
                            "remove it or choose another WSGISocketPrefix")
    # Daemon processes of a supervisor that was killed may hold the socket open for a moment
    # while they exit; a listener that stays alive belongs to another supervisor.
    deadline = time.monotonic() + STALE_SOCKET_WAIT
    while someone_listens(path):
        if time.monotonic() >= deadline:
            raise ListenerError(f"cannot listen on {path}: another process is serving on it; "
                                "is another wsgid supervisor running with the same "
                                "configuration?")
        time.sleep(0.1)
    os.unlink(path)   # nobody listens: left behind by a supervisor that was killed


def someone_listens(path):
    """Whether a process listens on the unix socket at `path` (a socket file left behind by a
    killed process has no listener). Never waits: a listener that does not accept fills its
    backlog, and a blocking connect() would then wait for it forever; a full backlog (EAGAIN)
    still means someone listens."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(path)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        probe.close()
    return True


def allowed_peer_uids(socket_uid):
    """Who may talk to a daemon process: the socket owner, the daemon itself, and root."""
    return frozenset({socket_uid, os.getuid(), 0})


def refuse(listener, allowed_uids, conn, uid):
    """Close a connection whose peer (uid; -1 when unknown) may not use the socket, with one
    log line. The daemons' accept loop (core.AcceptLoop) and the supervisor's 503 answerer
    (backoff_answer.py) call it."""
    if uid == -1:
        logger.error("closed a connection on %s: cannot read the peer's credentials",
                     _name_of(listener))
    else:
        logger.error("refused a connection from uid %d on %s: only uids %s may connect",
                     uid, _name_of(listener), ", ".join(str(u) for u in sorted(allowed_uids)))
    conn.close()


def _name_of(listener):
    try:
        return listener.getsockname() or "the daemon socket"
    except OSError:
        return "the daemon socket"
