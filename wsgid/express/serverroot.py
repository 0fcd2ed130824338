"""The server root on disk: its layout, the checks before anything is written, the files.

A server root holds everything one express server needs:

    httpd.conf   generated Apache configuration        apachectl   control script
    error_log    Apache's (and the supervisor's) log    httpd.pid   Apache's pid file
    htdocs/      an empty DocumentRoot                  wsgi.*      daemon sockets and the
                                                                    daemon configuration
Rules:
- Every problem is found before the first file is written (the directories may exist by then:
  the daemon user's access to the server root is checked on the real directory), and reported
  as one SettingsError that names the option (or the missing part) and the fix.
- Directories are mode 0755: the Apache children (www-data when started as root) must reach the
  daemon sockets inside. A server root that exists must be a real directory owned by whoever
  runs the command: a directory under /tmp that someone else made could hand them our config.
- Files are written to a temporary name and renamed, so Apache never reads half a file.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from dataclasses import dataclass

from wsgid import paths
from wsgid.express.render import UnsafePath, render_apachectl, render_httpd_conf
from wsgid.express.settings import ServerSettings, SettingsError

# sizeof(sun_path) - 1 on Linux: the longest path a unix socket can be bound at.
SUN_PATH_MAX = 107

DEFAULT_PID_MAX = 4194304  # the kernel's ceiling, when /proc does not say


@dataclass(frozen=True)
class ApacheInstall:
    """The installed parts a server root points at."""

    httpd: str
    modules_dir: str
    wsgid_module: str
    python_executable: str


class ServerRoot:
    """Where each file of a server root lives."""

    def __init__(self, path: str):
        self.path = path

    def _in_root(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def httpd_conf(self) -> str:
        return self._in_root("httpd.conf")

    @property
    def apachectl(self) -> str:
        return self._in_root("apachectl")

    @property
    def error_log(self) -> str:
        return self._in_root("error_log")

    @property
    def pid_file(self) -> str:
        return self._in_root("httpd.pid")

    @property
    def document_root(self) -> str:
        return self._in_root("htdocs")

    @property
    def socket_prefix(self) -> str:
        return self._in_root("wsgi")

    def longest_socket_path(self, group: str) -> str:
        """The daemon socket path with the widest Apache pid (rotation Off; docs/internals.md)."""
        widest_pid = "9" * len(str(_pid_max() - 1))
        return f"{self.socket_prefix}.{widest_pid}.{group}.sock"


def find_install() -> ApacheInstall:
    """The Apache binary, its modules and mod_wsgid, or a SettingsError saying what to build."""
    try:
        install = ApacheInstall(httpd=paths.httpd_binary(),
                                modules_dir=paths.apache_modules_dir(),
                                wsgid_module=paths.module_path(),
                                python_executable=paths.python_executable())
    except paths.NotBuilt as exc:
        raise SettingsError(str(exc)) from None
    if not os.access(install.httpd, os.X_OK):
        raise SettingsError(f"Apache httpd {install.httpd} is not there: install Apache "
                            "(apache2 on Debian/Ubuntu, httpd on RHEL/Fedora) and rebuild wsgid.")
    return install


def prepare(settings: ServerSettings, *, command: str) -> tuple[ServerRoot, ApacheInstall]:
    """Check everything, then create the server root and write httpd.conf and apachectl."""
    install = find_install()
    root = ServerRoot(settings.server_root)
    check_socket_path_fits(root, settings.daemon_group)
    try:
        conf_text = render_httpd_conf(settings, root, command=command, httpd=install.httpd,
                                      modules_dir=install.modules_dir,
                                      wsgid_module=install.wsgid_module,
                                      python_executable=install.python_executable)
        apachectl_text = render_apachectl(root, command=command, httpd=install.httpd)
    except UnsafePath as exc:
        raise SettingsError(f"{exc} (or choose another --server-root).") from None
    make_directories(root)
    if settings.user is not None:
        check_apache_user_can_read(settings, install, root)
    _write(root.httpd_conf, conf_text, 0o644)
    _write(root.apachectl, apachectl_text, 0o755)
    return root, install


def check_socket_path_fits(root: ServerRoot, group: str) -> None:
    longest = root.longest_socket_path(group)
    if len(longest.encode()) > SUN_PATH_MAX:
        raise SettingsError(
            f"--server-root {root.path} is too long: the daemon socket path {longest} would be "
            f"{len(longest.encode())} bytes, over the {SUN_PATH_MAX}-byte limit of a unix socket "
            "path; choose a shorter --server-root, for example /tmp/wsgid.")


def make_directories(root: ServerRoot) -> None:
    try:
        os.makedirs(root.path, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"cannot create --server-root {root.path}: {exc.strerror}; choose "
                            "another --server-root.") from None
    st = os.lstat(root.path)
    if os.path.islink(root.path) or not os.path.isdir(root.path):
        raise SettingsError(f"--server-root {root.path} exists and is not a directory; remove it "
                            "or choose another --server-root.")
    if st.st_uid != os.geteuid():
        raise SettingsError(f"--server-root {root.path} belongs to uid {st.st_uid}, not to you; "
                            "remove it or choose another --server-root.")
    os.chmod(root.path, 0o755)
    os.makedirs(root.document_root, exist_ok=True)
    os.chmod(root.document_root, 0o755)


def check_apache_user_can_read(settings: ServerSettings, install: ApacheInstall,
                               root: ServerRoot) -> None:
    """Started as root, the daemons run as settings.user: make sure that user reaches its files.

    Asked of the kernel as that user (`test -r` runs access(2) under its uid and groups), so
    ACLs and group memberships count exactly as they will for the daemons.
    """
    wants = (
        ("-r", settings.script, "the WSGI script"),
        ("-x", install.python_executable, "the Python interpreter wsgid is installed in"),
        ("-r", os.path.join(paths.PACKAGE_DIR, "__init__.py"), "the wsgid package"),
        ("-x", root.path, "the server root"),
    )
    entry = pwd.getpwnam(settings.user)
    gid = grp.getgrnam(settings.group).gr_gid
    groups = os.getgrouplist(entry.pw_name, gid)
    for test_flag, path, what in wants:
        ok = subprocess.run(["test", test_flag, path], user=entry.pw_uid, group=gid,
                            extra_groups=groups, check=False).returncode == 0
        if not ok:
            raise SettingsError(
                f"the daemon processes run as {settings.user}, who cannot reach {what} at {path}: "
                f"make it and its parent directories readable by {settings.user}, or choose "
                "--user (and, for the interpreter, install wsgid in a Python that user can read, "
                "such as a virtualenv made from /usr/bin/python3).")


def _pid_max() -> int:
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return int(f.read())
    except (OSError, ValueError):
        return DEFAULT_PID_MAX


def _write(path: str, text: str, mode: int) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
