"""`wsgid status`: find running supervisors, ask each through its control socket, show the answer.

With `--config FILE` it asks the supervisor of FILE (its control socket is FILE + ".control",
control.py). Without, it looks for them: processes titled `wsgid-supervisor ...` (or, while
one starts, still running `... wsgid supervise ...`) that run as the caller's user (all of them
for root), and the control socket each one listens on (from the kernel's table of its unix
sockets, so managed supervisors, whose title does not name their file, are found too).

Rules:
- Every problem is one line naming the supervisor or socket and the fix; the exit status is 0
  when every supervisor found answered, else 1. `--json` prints one document either way
  (keys in docs/operations.md, "wsgid status"; the problems are in its "errors" list).
- The client is bounded like the server: one connect, one request line, an answer of at most
  MAX_ANSWER bytes within ASK_TIMEOUT.
"""

import json
import os
import pwd
import socket
import time

import psutil

from wsgid.control import (CONTROL_SUFFIX, SNAPSHOT_VERSION, STATUS_REQUEST, ControlError,
                           check_path_length, control_socket_path)

ASK_TIMEOUT = 5.0
MAX_ANSWER = 16 * 1024 * 1024

SUPERVISOR_TITLE = "wsgid-supervisor"

ROLE_WORDS = {
    "current": "",
    "held": " (held: left the configuration, serves older Apache children)",
    "retiring": " (retiring: left the configuration)",
}


class StatusError(Exception):
    """A supervisor could not be asked; str(e) says why and what to do."""


# -- asking one supervisor --------------------------------------------------------------------

def ask(path, timeout=ASK_TIMEOUT):
    """The status document of the supervisor listening on `path`; StatusError if none."""
    try:
        check_path_length(path, managed=False)
    except ControlError as exc:
        raise StatusError(str(exc)) from exc
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(STATUS_REQUEST.encode("ascii") + b"\n")
            answer = _read_answer(sock, deadline)
        except FileNotFoundError as exc:
            raise StatusError(f"no control socket at {path}: no wsgid supervisor runs with "
                              "that configuration file (`wsgid supervise --config FILE` "
                              "starts one)") from exc
        except ConnectionRefusedError as exc:
            raise StatusError(f"nobody listens on {path}: the supervisor that made it is "
                              "gone") from exc
        except (ConnectionResetError, BrokenPipeError):
            answer = b""        # closed on us before answering: refused, as below
        except PermissionError as exc:
            raise StatusError(f"permission denied on {path}: only its owner "
                              f"({_owner_of(path)}) and root may ask; run wsgid status as "
                              "that user or as root") from exc
        except socket.timeout as exc:
            raise StatusError(f"the supervisor at {path} did not answer within "
                              f"{timeout:.0f}s") from exc
        except OSError as exc:
            raise StatusError(f"cannot ask the supervisor at {path}: "
                              f"{exc.strerror or exc}") from exc
    if not answer:
        raise StatusError(f"the supervisor at {path} closed the connection without an answer: "
                          f"it answers only root and its own user ({_owner_of(path)}); run "
                          "wsgid status as that user or as root (its log says whom it refused)")
    try:
        document = json.loads(answer)
    except ValueError as exc:
        raise StatusError(f"the answer on {path} is not a wsgid status document") from exc
    if not isinstance(document, dict) or "error" in document:
        reason = document.get("error") if isinstance(document, dict) else None
        raise StatusError(f"the supervisor at {path} refused the request: {reason}")
    return document


def _read_answer(sock, deadline):
    parts, size = [], 0
    while True:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        data = sock.recv(65536)
        if not data:
            return b"".join(parts)
        size += len(data)
        if size > MAX_ANSWER:
            raise StatusError(f"the answer is larger than {MAX_ANSWER} bytes")
        parts.append(data)


def _owner_of(path):
    try:
        uid = os.stat(path).st_uid
    except OSError:
        return "the supervisor's user"
    return _user_name(uid)


def _user_name(uid):
    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"


# -- finding supervisors ------------------------------------------------------------------------

def is_supervisor_command(argv):
    """Does this command line (/proc/PID/cmdline) belong to a wsgid supervisor?"""
    if not argv:
        return False
    if argv[0].startswith(SUPERVISOR_TITLE):
        return True
    # Before it sets its title: `python -m wsgid supervise ...` or `.../bin/wsgid supervise ...`.
    return any(word == "supervise" and os.path.basename(argv[i - 1]) == "wsgid"
               for i, word in enumerate(argv[1:4], start=1))


def find_supervisors():
    """([(pid, control socket path)] of the supervisors the caller may ask, [errors]).

    An error is a dict: pid, control_socket (or None) and message.
    """
    candidates = {}
    for proc in psutil.process_iter(["pid", "ppid", "cmdline", "uids"]):
        info = proc.info
        if info["uids"] is not None and is_supervisor_command(info["cmdline"] or []):
            candidates[info["pid"]] = proc
    found, errors, others = [], [], []
    own_uid = os.geteuid()
    for pid, proc in sorted(candidates.items()):
        if proc.info["ppid"] in candidates:
            continue    # a daemon process forked a moment ago still has its parent's title
        uid = proc.info["uids"].effective
        if own_uid != 0 and uid != own_uid:
            others.append(f"pid {pid} ({_user_name(uid)})")
            continue
        try:
            paths = sorted({conn.laddr for conn in proc.net_connections(kind="unix")
                            if conn.laddr and conn.laddr.endswith(CONTROL_SUFFIX)})
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            errors.append(_error(pid, None, f"cannot see the sockets of supervisor pid {pid} "
                                            f"({_user_name(uid)}); run wsgid status as that "
                                            "user or as root"))
            continue
        if not paths:
            errors.append(_error(pid, None, f"supervisor pid {pid} has no control socket: it "
                                            "is starting, or its log says why it has none"))
        found += [(pid, path) for path in paths]
    if not found and not errors:
        if others:
            errors.append(_error(None, None, "no wsgid supervisor of yours is running; found "
                                             f"{', '.join(others)}: run wsgid status as that "
                                             "user or as root"))
        else:
            errors.append(_error(None, None, "no wsgid supervisor is running"))
    return found, errors


def _error(pid, path, message):
    return {"pid": pid, "control_socket": path, "message": message}


def collect(config_path=None):
    """The `--json` document: every supervisor's answer and every problem met."""
    if config_path is not None:
        targets, errors = [(None, control_socket_path(config_path))], []
    else:
        targets, errors = find_supervisors()
    supervisors = []
    for pid, path in targets:
        try:
            supervisors.append(ask(path))
        except StatusError as exc:
            errors.append(_error(pid, path, str(exc)))
    return {"version": SNAPSHOT_VERSION, "supervisors": supervisors, "errors": errors}


# -- showing it -----------------------------------------------------------------------------------

def format_duration(seconds):
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def format_bytes(count):
    if count is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024


def format_cpu(seconds):
    if seconds is None:
        return "-"
    return f"{seconds:.2f}s" if seconds < 60 else format_duration(seconds)


def _count(value):
    return "-" if value is None else str(value)


COLUMNS = (   # heading, right-aligned?, value
    ("PID", True, lambda p: str(p["pid"])),
    ("STATE", False, lambda p: p["state"] + ("" if p["ready"] or p["state"] != "running"
                                             else " (not ready)")),
    ("UPTIME", True, lambda p: format_duration(p["uptime"])),
    ("SERVED", True, lambda p: _count(p["requests_served"])),
    ("ACTIVE", True, lambda p: _count(p["active_requests"])),
    ("RSS", True, lambda p: format_bytes(p["rss"])),
    ("CPU", True, lambda p: format_cpu(p["cpu_time"])),
)


def format_table(processes):
    """The lines of one group's table, columns aligned, indented by two spaces."""
    rows = [[heading for heading, _, _ in COLUMNS]]
    rows += [[value(p) for _, _, value in COLUMNS] for p in processes]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        cells = [cell.rjust(width) if right else cell.ljust(width)
                 for cell, width, (_, right, _) in zip(row, widths, COLUMNS)]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def format_supervisor(document):
    managed = document.get("managed_by")
    how = f"managed by Apache pid {managed}" if managed is not None else "external"
    lines = [f"wsgid supervisor pid {document['pid']} ({how}), up "
             f"{format_duration(document['uptime'])}"
             f"{', stopping' if document.get('stopping') else ''}: {document['config']}"]
    for group in document["groups"]:
        count = len(group["daemon_processes"])
        lines.append("")
        lines.append(f"group {group['name']}{ROLE_WORDS.get(group['role'], '')}: "
                     f"{count} process{'' if count == 1 else 'es'} on {group['socket']} "
                     f"(processes={group['processes']} threads={group['threads']})")
        lines += format_table(group["daemon_processes"])
    return lines


def render_text(document):
    """The human output of a collect() document: (stdout text, [error lines for stderr])."""
    blocks = ["\n".join(format_supervisor(s)) for s in document["supervisors"]]
    errors = [f"wsgid status: {error['message']}" for error in document["errors"]]
    return "\n\n".join(blocks), errors


def main(config_path=None, as_json=False, echo=print, echo_error=None):
    """Run `wsgid status`; return the exit status."""
    document = collect(config_path)
    if as_json:
        echo(json.dumps(document, indent=2))
    else:
        text, errors = render_text(document)
        if text:
            echo(text)
        for line in errors:
            (echo_error or echo)(line)
    return 1 if document["errors"] else 0
