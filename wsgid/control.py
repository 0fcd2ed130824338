"""The supervisor's control socket: what `wsgid status` asks, and the status snapshot it gets.

The socket is the daemon configuration file's absolute path + CONTROL_SUFFIX
(`/run/apache2/wsgid.1234.conf.control` in managed mode, `/etc/wsgid/site.conf.control` for
`wsgid supervise --config /etc/wsgid/site.conf`), so that `wsgid status --config FILE` finds it
without reading FILE. The conversation: the client sends one line, `status`; the supervisor
answers one JSON document (`snapshot()`, keys in docs/operations.md, "wsgid status") and closes.

Rules:
- Only the supervisor's own user and root may ask: the socket is bound mode 0600 (umask 0177,
  never a chmod that could follow a symlink) in a directory that only its owner (root or the
  supervisor's user) can write to, or that is sticky; and each connection's SO_PEERCRED uid is
  checked again (`peer_allowed`). A refused connection is closed with one log line.
- Serving never stalls the supervisor's single-threaded loop: the listener and every client are
  non-blocking and served from that loop's poll(); a request longer than MAX_REQUEST is refused;
  a client that has not sent its line and read its answer within CLIENT_DEADLINE is dropped
  (one log line); at most MAX_CLIENTS are served at once, more wait in the listen queue.
- A problem with the control socket (path too long, unsafe directory, bind failure) is logged
  as one error line that names the fix, and the supervisor runs on without it: status is for
  looking, and must never keep a site from being served.
- The file is the supervisor's: a stale one left by a dead supervisor (nobody listens on it),
  or a symlink planted there, is unlinked (never followed) before the bind; a live one (another
  supervisor of the same file) or anything that is not a socket is left alone. At exit the
  file is removed only if it is still the socket this supervisor bound.
- RSS and CPU time are read here, by the supervisor, when the snapshot is taken: the daemon
  processes are its unreaped children, so their pids cannot have been reused by another
  process, and a client talking to the socket directly gets the whole picture.
"""

import errno
import json
import os
import select
import socket
import stat
import struct

from wsgid import log
from wsgid.sockets import SOCKET_PATH_MAX, someone_listens

logger = log.get_logger("control")

CONTROL_SUFFIX = ".control"
STATUS_REQUEST = "status"

MAX_REQUEST = 64         # bytes, newline included: `status` is 7
CLIENT_DEADLINE = 2.0    # seconds from accept to the last byte of the answer
MAX_CLIENTS = 8          # served at once; the others wait in the listen queue

SNAPSHOT_VERSION = 1     # the "version" key of the document `wsgid status --json` prints

_UCRED = struct.Struct("3i")   # struct ucred: pid_t pid, uid_t uid, gid_t gid


class ControlError(Exception):
    """The control socket cannot be used; str(e) says why and what to do."""


def control_socket_path(config_path):
    """Where the supervisor of this daemon configuration file listens for `wsgid status`."""
    return os.path.abspath(config_path) + CONTROL_SUFFIX


def check_path_length(path, managed):
    """Raise ControlError when `path` does not fit a unix socket address."""
    length = len(os.fsencode(path))
    if length > SOCKET_PATH_MAX:
        fix = ("set WSGISocketPrefix to a shorter path (the generated configuration file, and "
               "so its control socket, lives next to the daemon sockets)" if managed else
               "move the configuration file to a directory with a shorter path")
        raise ControlError(f"the control socket path {path} is {length} bytes, longer than the "
                           f"{SOCKET_PATH_MAX} a unix socket path may have; {fix}")


def directory_problem(directory, st, own_uid):
    """Why the directory (with lstat result `st`) may not hold the control socket, or None.

    Someone else who could write there could put their own socket in its place and answer the
    `wsgid status` of root. Sticky directories (like /tmp) are safe: nobody else can remove or
    rename the supervisor's socket there.
    """
    if not stat.S_ISDIR(st.st_mode):
        return f"{directory} is not a directory"
    if st.st_uid not in (0, own_uid):
        return f"{directory} belongs to uid {st.st_uid}, neither root nor this supervisor"
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        return f"{directory} is writable by other users (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def peer_allowed(peer_uid, own_uid):
    """Who may ask for the status: root and the supervisor's own (effective) uid."""
    return peer_uid in (0, own_uid)


def peer_credentials(conn):
    """(pid, uid, gid) of the process at the other end of a connected unix socket."""
    return _UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))


def parse_request(received):
    """What a client asks, from the bytes it sent so far: (request, None) once a complete line
    is there, (None, None) while more may come, (None, words) for a request that is refused."""
    line, newline, _ = received.partition(b"\n")
    if not newline:
        if len(received) >= MAX_REQUEST:
            return None, f"a request line longer than {MAX_REQUEST} bytes"
        return None, None
    try:
        request = line.decode("ascii").strip()
    except UnicodeDecodeError:
        return None, f"a request that is not ASCII ({line[:20]!r})"
    if request != STATUS_REQUEST:
        return None, f"an unknown request {request[:20]!r} (the one request is " \
                     f"'{STATUS_REQUEST}')"
    return request, None


# -- the snapshot ---------------------------------------------------------------------------------

def process_usage(pid):
    """(resident memory in bytes, CPU seconds user + system) of a process, (None, None) if it
    cannot be read (it is exiting: a zombie waiting to be reaped)."""
    import psutil   # here, not at the top: daemon processes are forked without it (memory)
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            cpu = proc.cpu_times()
            return proc.memory_info().rss, round(cpu.user + cpu.system, 2)
    except psutil.Error:
        return None, None


def process_snapshot(handle, now, usage=process_usage):
    """One daemon process, from its handle (process.py) and the kernel."""
    rss, cpu_time = usage(handle.pid)
    return {
        "pid": handle.pid,
        "slot": handle.slot,
        "state": handle.state.value,
        "ready": handle.ready,
        "uptime": round(handle.uptime(now), 1),
        "requests_served": handle.requests_served,
        "active_requests": handle.active_requests,
        "rss": rss,
        "cpu_time": cpu_time,
        "silent_for": round(now - handle.last_heard, 1),
        "stop_reason": handle.stop_reason or handle.recycle_reason,
    }


def group_snapshot(role, group, now, usage=process_usage):
    """One group: `role` is 'current' (in the configuration), 'held' (left it, still serving
    older Apache children) or 'retiring' (left it, waiting for its processes to exit)."""
    options = group.spec.options
    return {
        "name": group.name,
        "role": role,
        "socket": group.socket_path,
        "processes": options["processes"],
        "threads": options["threads"],
        "daemon_processes": [process_snapshot(handle, now, usage)
                             for handle in group.processes()],
    }


def snapshot(supervisor, groups_by_role, now, usage=process_usage):
    """The answer to `status`: `supervisor` is a dict of the supervisor's own keys (pid,
    config, managed_by, uptime, stopping), groups_by_role [(role, Group)]."""
    document = dict(supervisor)
    document["groups"] = [group_snapshot(role, group, now, usage)
                          for role, group in groups_by_role]
    return document


# -- the server -----------------------------------------------------------------------------------

class _Client:
    """One accepted connection: reading its request line, then writing the answer."""

    def __init__(self, conn, pid, deadline):
        self.conn = conn
        self.pid = pid
        self.deadline = deadline
        self.received = b""
        self.answer = None     # the bytes still to send, once the request is answered


class ControlServer:
    """The control socket of one supervisor, served from its loop: poll_events() for its poll,
    serve() with what poll() found ready, next_due() for its timeout, close() at exit.

    `describe(now)` gives the snapshot (without control_socket, which this adds). Until open()
    succeeds the server is inert: no descriptors, nothing to serve.
    """

    def __init__(self, path, describe, managed=False):
        self.path = path
        self.managed = managed
        self._describe = describe
        self._listener = None
        self._identity = None   # (st_dev, st_ino) of the socket file this server bound
        self._clients = {}      # fd -> _Client

    @property
    def listening(self):
        return self._listener is not None

    def open(self):
        """Bind the socket; on any problem log one error line and stay inert. True if bound."""
        try:
            check_path_length(self.path, self.managed)
            self._check_directory()
            self._remove_stale()
            self._bind()
        except ControlError as exc:
            logger.error("no control socket, so `wsgid status` cannot reach this supervisor: "
                         "%s", exc)
            return False
        logger.info("control socket %s: `wsgid status` may ask here", self.path)
        return True

    def _check_directory(self):
        directory = os.path.dirname(self.path)
        try:
            st = os.lstat(directory)
        except OSError as exc:
            raise ControlError(f"cannot look at {directory}: {exc.strerror or exc}") from exc
        problem = directory_problem(directory, st, os.geteuid())
        if problem:
            raise ControlError(f"{problem}; keep the configuration file in a directory that "
                               "only root or the supervisor's user can write to")

    def _remove_stale(self):
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if stat.S_ISSOCK(st.st_mode):
            if someone_listens(self.path):
                raise ControlError(f"another process listens on {self.path}: is another "
                                   "wsgid supervisor running with the same configuration file?")
        elif not stat.S_ISLNK(st.st_mode):
            raise ControlError(f"{self.path} exists and is not a socket; remove it")
        # A socket nobody listens on (its supervisor was killed), or a symlink: unlinking
        # removes the name itself, never what a symlink points to.
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ControlError(f"cannot remove the stale {self.path}: "
                               f"{exc.strerror or exc}") from exc

    def _bind(self):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            old_umask = os.umask(0o177)
            try:
                listener.bind(self.path)    # fails (EADDRINUSE) on anything put there since
            finally:
                os.umask(old_umask)
            listener.listen(MAX_CLIENTS)
            listener.setblocking(False)
            st = os.lstat(self.path)
        except OSError as exc:
            listener.close()
            raise ControlError(f"cannot listen on {self.path}: {exc.strerror or exc}") from exc
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.geteuid():
            listener.close()
            raise ControlError(f"{self.path} was replaced by something else right after the "
                               "bind; check who else writes to its directory")
        self._listener = listener
        self._identity = (st.st_dev, st.st_ino)

    def close(self):
        """Close every connection and the listener; remove the file if it is still ours."""
        for fd in list(self._clients):
            self._drop(fd)
        if self._listener is None:
            return
        self._listener.close()
        self._listener = None
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._identity:
                os.unlink(self.path)
        except FileNotFoundError:
            pass

    # -- the loop's side --------------------------------------------------------------------

    def poll_events(self):
        """[(fd, poll events)] to wait on: the listener while there is room for a client,
        each client for its request (POLLIN) or for room for its answer (POLLOUT)."""
        if self._listener is None:
            return []
        events = [(fd, select.POLLOUT if client.answer is not None else select.POLLIN)
                  for fd, client in self._clients.items()]
        if len(self._clients) < MAX_CLIENTS:
            events.append((self._listener.fileno(), select.POLLIN))
        return events

    def next_due(self):
        """The earliest client deadline, or None."""
        return min((client.deadline for client in self._clients.values()), default=None)

    def serve(self, ready_fds, now):
        """Do what can be done without blocking: accept, read, answer, drop the overdue."""
        if self._listener is None:
            return
        for fd in [fd for fd in self._clients if fd in ready_fds]:
            try:
                self._serve_client(fd, now)
            except Exception:
                # A bug here must cost one connection, never the supervisor.
                logger.exception("control socket %s: serving a connection failed", self.path)
                self._drop(fd)
        for fd, client in list(self._clients.items()):
            if now >= client.deadline:
                logger.warning("control socket %s: dropped the connection of pid %s, which did "
                               "not %s within %.0fs", self.path, client.pid,
                               "send a request" if client.answer is None else "read its answer",
                               CLIENT_DEADLINE)
                self._drop(fd)
        if self._listener.fileno() in ready_fds:
            self._accept(now)

    def _accept(self, now):
        while len(self._clients) < MAX_CLIENTS:
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    logger.error("control socket %s: accept failed: %s", self.path, exc)
                return      # out of descriptors: try again at the next wake-up
            try:
                pid, uid, _ = peer_credentials(conn)
            except OSError as exc:
                logger.error("control socket %s: closed a connection whose credentials cannot "
                             "be read: %s", self.path, exc.strerror or exc)
                conn.close()
                continue
            if not peer_allowed(uid, os.geteuid()):
                logger.error("control socket %s: refused a connection from pid %d, uid %d: "
                             "only root and uid %d may ask for the status", self.path, pid, uid,
                             os.geteuid())
                conn.close()
                continue
            conn.setblocking(False)
            self._clients[conn.fileno()] = _Client(conn, pid, now + CLIENT_DEADLINE)

    def _serve_client(self, fd, now):
        client = self._clients[fd]
        if client.answer is None:
            try:
                data = client.conn.recv(MAX_REQUEST - len(client.received))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._drop(fd)      # it went away without asking: nothing to say
                return
            client.received += data
            request, refusal = parse_request(client.received)
            if refusal is not None:
                logger.warning("control socket %s: refused %s from pid %d", self.path, refusal,
                               client.pid)   # and tells the client why
                client.answer = _encode({"error": refusal})
            elif request is not None:
                client.answer = _encode(self._status(now))
            else:
                return
        self._send(fd, client)

    def _status(self, now):
        document = self._describe(now)
        document["control_socket"] = self.path
        return document

    def _send(self, fd, client):
        try:
            sent = client.conn.send(client.answer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(fd)          # it went away before reading everything
            return
        client.answer = client.answer[sent:]
        if not client.answer:
            self._drop(fd)

    def _drop(self, fd):
        client = self._clients.pop(fd)
        client.conn.close()


def _encode(document):
    return json.dumps(document, separators=(",", ":")).encode("utf-8") + b"\n"


