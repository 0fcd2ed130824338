"""The server root on disk: its layout, the checks before anything is written, the files.

A server root holds everything one express server needs:

    httpd.conf   generated Apache configuration        apachectl   control script
    envvars      sourced before Apache starts (kept between runs unless --envvars-script)
    reloader.py  with --reload-on-changes: starts wsgid/reloader.py in each daemon process
    debug.wsgi   with --debug-mode: the application under wsgid/debugging.py's tools
    error_log    Apache's (and the supervisor's) log    httpd.pid   Apache's pid file
    access_log   with --access-log                      htdocs/     an empty DocumentRoot
    mime.types   with static files (TypesConfig)        module.wsgi with --application-type
    wsgi.*       daemon sockets and the daemon                      module: imports the module
                 configuration (or under --socket-path) paste.wsgi  with --application-type
                                                                    paste: loads the .ini file
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
import stat
import subprocess
from dataclasses import dataclass
from typing import Optional

from wsgid import paths
from wsgid.express.render import (UnsafePath, modules_for, render_apachectl, render_envvars,
                                  render_debug_script, render_httpd_conf, render_mime_types,
                                  render_module_script, render_paste_script,
                                  render_reloader_script)
from wsgid.express.resolve import ServerSettings, SettingsError

# The option that makes Apache need each module that not every Apache installs.
MODULE_NEEDED_BY = {
    "mime": "--document-root/--url-alias/--add-handler",
    "rewrite": "--document-root/--url-alias/--https-port/--rewrite-rules",
    "dir": "--directory-index/--application-type static/--enable-docs",
    "autoindex": "--directory-listing/--enable-docs",
    "filter": "--compress-responses",
    "deflate": "--compress-responses",
    "reqtimeout": "--header-timeout/--body-timeout",
    "ssl": "--https-port",
    "socache_shmcb": "--https-port",
    "headers": "--hsts-policy/--proxy-mount-point/--proxy-virtual-host",
    "http2": "--http2",
    "authz_host": "--allow-localhost/--server-status",
    "env": "--setenv/--passenv",
    "status": "--server-status",
    "authn_core": "--auth-user-script",
    "authz_user": "--auth-user-script",
    "auth_basic": "--auth-user-script",
    "auth_digest": "--auth-type Digest",
    "alias": "--server-name www.NAME",
    "mpm_event": "--server-mpm event",
    "mpm_worker": "--server-mpm worker",
    "mpm_prefork": "--server-mpm prefork",
    "proxy": "--proxy-mount-point/--proxy-virtual-host",
    "proxy_http": "--proxy-mount-point/--proxy-virtual-host",
}

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

    def __init__(self, path: str, socket_directory: Optional[str] = None, *,
                 log_directory: Optional[str] = None, error_log_name: str = "error_log",
                 access_log_name: str = "access_log", startup_log_name: str = "startup_log",
                 pid_file: Optional[str] = None, mime_types: Optional[str] = None):
        self.path = path
        self.socket_directory = socket_directory or path
        self.log_directory = log_directory or path
        self._names = (error_log_name, access_log_name, startup_log_name)
        self._pid_file = pid_file
        self._mime_types = mime_types

    @classmethod
    def for_settings(cls, settings) -> "ServerRoot":
        return cls(settings.server_root, settings.socket_directory,
                   log_directory=settings.log_directory, error_log_name=settings.error_log_name,
                   access_log_name=settings.access_log_name,
                   startup_log_name=settings.startup_log_name, pid_file=settings.pid_file,
                   mime_types=settings.mime_types)

    @property
    def writes_mime_types(self) -> bool:
        """Whether the server root holds the MIME types file (no --mime-types)."""
        return self._mime_types is None

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
        return os.path.join(self.log_directory, self._names[0])

    @property
    def access_log(self) -> str:
        return os.path.join(self.log_directory, self._names[1])

    @property
    def startup_log(self) -> str:
        return os.path.join(self.log_directory, self._names[2])

    @property
    def mime_types(self) -> str:
        return self._mime_types or self._in_root("mime.types")

    @property
    def module_script(self) -> str:
        return self._in_root("module.wsgi")

    @property
    def reloader_script(self) -> str:
        return self._in_root("reloader.py")

    @property
    def debug_script(self) -> str:
        return self._in_root("debug.wsgi")

    @property
    def envvars(self) -> str:
        return self._in_root("envvars")

    @property
    def paste_script(self) -> str:
        return self._in_root("paste.wsgi")

    @property
    def ssl_session_cache(self) -> str:
        return self._in_root("ssl_scache")

    @property
    def pid_file(self) -> str:
        return self._pid_file or self._in_root("httpd.pid")

    @property
    def document_root(self) -> str:
        return self._in_root("htdocs")

    @property
    def socket_prefix(self) -> str:
        return os.path.join(self.socket_directory, "wsgi")

    def longest_socket_path(self, group: str) -> str:
        """The daemon socket path with the widest Apache pid (rotation Off; docs/internals.md)."""
        widest_pid = "9" * len(str(_pid_max() - 1))
        return f"{self.socket_prefix}.{widest_pid}.{group}.sock"


def find_install(settings=None) -> ApacheInstall:
    """The Apache binary, its modules and mod_wsgid, or a SettingsError saying what to build;
    --httpd-executable and --modules-directory choose the first two."""
    try:
        install = ApacheInstall(httpd=getattr(settings, "httpd_executable", None)
                                or paths.httpd_binary(),
                                modules_dir=getattr(settings, "modules_directory", None)
                                or paths.apache_modules_dir(),
                                wsgid_module=paths.module_path(),
                                python_executable=paths.python_executable())
    except paths.NotBuilt as exc:
        raise SettingsError(str(exc)) from None
    if not os.access(install.httpd, os.X_OK):
        raise SettingsError(f"Apache httpd {install.httpd} is not there: install Apache "
                            "(apache2 on Debian/Ubuntu, httpd on RHEL/Fedora) and rebuild wsgid.")
    return install


def prepare(settings: ServerSettings, *, command: str) -> tuple[ServerRoot, ApacheInstall]:
    """Check everything, then create the server root and write its files."""
    install = find_install(settings)
    check_modules_exist(settings, install)
    root = ServerRoot.for_settings(settings)
    for group in settings.daemon_groups:
        check_socket_path_fits(root, group, socket_path_given=settings.socket_directory
                               != settings.server_root)
    try:
        files = [(root.httpd_conf, render_httpd_conf(
                     settings, root, command=command, httpd=install.httpd,
                     modules_dir=install.modules_dir, wsgid_module=install.wsgid_module,
                     python_executable=install.python_executable), 0o644),
                 (root.apachectl, render_apachectl(settings, root, command=command,
                                                   httpd=install.httpd,
                                                   modules_dir=install.modules_dir), 0o755)]
    except UnsafePath as exc:
        raise SettingsError(f"{exc} (or choose another --server-root).") from None
    if settings.application_type == "module":
        files.append((root.module_script, render_module_script(settings, command=command), 0o644))
    if settings.reload_on_changes:
        files.append((root.reloader_script, render_reloader_script(command=command), 0o644))
    if settings.application_type == "paste":
        files.append((root.paste_script, render_paste_script(settings, command=command), 0o644))
    if settings.debugging:
        files.append((root.debug_script, render_debug_script(settings, root, command=command),
                      0o644))
    if settings.envvars_script is not None:
        files.append((root.envvars, render_envvars(settings), 0o644))
    elif not os.path.exists(root.envvars):
        # as mod_wsgi-express: an empty one to edit, which later runs keep
        files.append((root.envvars, "", 0o644))
    if settings.serves_files and root.writes_mime_types:
        files.append((root.mime_types, render_mime_types(), 0o644))
    make_directories(root)
    make_debug_directories(settings)
    if settings.user is not None:
        check_apache_user_can_read(settings, install, root)
    for path, text, mode in files:
        _write(path, text, mode)
    return root, install


def check_modules_exist(settings: ServerSettings, install: ApacheInstall) -> None:
    """Every module an option needs is in this Apache: a file in its modules, or compiled in."""
    missing = [name for name in modules_for(settings, install.modules_dir)
               if name in MODULE_NEEDED_BY
               and not os.path.exists(os.path.join(install.modules_dir, f"mod_{name}.so"))]
    if not missing:
        return
    listed = subprocess.run([install.httpd, "-l"], capture_output=True, text=True,
                            check=False).stdout
    for name in missing:
        if f"mod_{name}.c" not in listed:
            raise SettingsError(
                f"{MODULE_NEEDED_BY[name]} needs Apache's mod_{name}, which {install.httpd} does "
                f"not have (no mod_{name}.so in {install.modules_dir}): install it, or leave "
                f"{MODULE_NEEDED_BY[name]} out.")


def check_socket_path_fits(root: ServerRoot, group: str, *, socket_path_given: bool) -> None:
    longest = root.longest_socket_path(group)
    if len(longest.encode()) <= SUN_PATH_MAX:
        return
    problem = (f"the daemon socket path {longest} would be {len(longest.encode())} bytes, over "
               f"the {SUN_PATH_MAX}-byte limit of a unix socket path")
    if socket_path_given:
        raise SettingsError(f"--socket-path {root.socket_directory} is too long: {problem}; "
                            "choose a shorter --socket-path, for example /tmp/wsgid.")
    raise SettingsError(f"--server-root {root.path} is too long: {problem}; give --socket-path "
                        "with a short directory for the sockets (for example /tmp/wsgid), or "
                        "choose a shorter --server-root.")


def make_directories(root: ServerRoot) -> None:
    _make_own_directory(root.path, "--server-root")
    try:
        os.makedirs(root.log_directory, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"cannot create --log-directory {root.log_directory}: "
                            f"{exc.strerror}; choose another.") from None
    os.makedirs(root.document_root, exist_ok=True)
    os.chmod(root.document_root, 0o755)
    if root.socket_directory != root.path:
        _make_socket_directory(root.socket_directory)


def make_debug_directories(settings: ServerSettings) -> None:
    """The report directories of the debug tools, writable by the daemon user."""
    debugging = settings.debugging
    if debugging is None:
        return
    for option, path in (("--profiler-directory", debugging.profiler_directory),
                         ("--coverage-directory", debugging.coverage_directory),
                         ("--recorder-directory", debugging.recorder_directory)):
        if path is None:
            continue
        try:
            os.makedirs(path, exist_ok=True)
            if settings.user is not None:
                os.chown(path, pwd.getpwnam(settings.user).pw_uid,
                         grp.getgrnam(settings.group).gr_gid)
        except OSError as exc:
            raise SettingsError(f"cannot create {option} {path} for the daemon processes: "
                                f"{exc.strerror}; choose another.") from None


def _make_own_directory(path: str, option: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"cannot create {option} {path}: {exc.strerror}; choose "
                            f"another {option}.") from None
    st = os.lstat(path)
    if os.path.islink(path) or not os.path.isdir(path):
        raise SettingsError(f"{option} {path} exists and is not a directory; remove it "
                            f"or choose another {option}.")
    if st.st_uid != os.geteuid():
        raise SettingsError(f"{option} {path} belongs to uid {st.st_uid}, not to you; "
                            f"remove it or choose another {option}.")
    os.chmod(path, 0o755)


def _make_socket_directory(path: str) -> None:
    """--socket-path: ours (made 0755), or root's and not writable by others, or sticky like /tmp.

    Anyone who may replace files in it could put their own socket where Apache connects.
    """
    if not os.path.exists(path):
        _make_own_directory(path, "--socket-path")
        return
    if not os.path.isdir(path):
        raise SettingsError(f"--socket-path {path} exists and is not a directory; choose "
                            "another --socket-path.")
    st = os.stat(path)
    if st.st_uid == os.geteuid():
        os.chmod(path, st.st_mode | 0o755)
        return
    others_may_replace = st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX
    if st.st_uid != 0 or others_may_replace:
        raise SettingsError(f"--socket-path {path} belongs to uid {st.st_uid} and others may "
                            "replace files in it; choose a directory of your own, or one that "
                            "does not exist yet.")


def check_apache_user_can_read(settings: ServerSettings, install: ApacheInstall,
                               root: ServerRoot) -> None:
    """Started as root, the daemons run as settings.user: make sure that user reaches its files.

    Asked of the kernel as that user (`test -r` runs access(2) under its uid and groups), so
    ACLs and group memberships count exactly as they will for the daemons.
    """
    wants = []
    if settings.application_type in ("script", "paste"):
        wants.append(("-r", settings.script, "the WSGI script" if settings.application_type
                      == "script" else "the Paste Deploy configuration file"))
    wants += [("-r", path, f"the --add-handler {extension} script")
              for extension, path in settings.handlers]
    wants += [
        ("-x", install.python_executable, "the Python interpreter wsgid is installed in"),
        ("-r", os.path.join(paths.PACKAGE_DIR, "__init__.py"), "the wsgid package"),
        ("-x", root.path, "the server root"),
        ("-x", root.socket_directory, "the --socket-path directory"),
        ("-x", settings.working_directory, "the working directory"),
    ]
    wants += [("-x", path, "a --python-path directory") for path in settings.python_path[1:]]
    wants += [("-r", s.path, f"the --service-script {s.name}") for s in settings.service_scripts]
    wants += [("-r", a.path, f"the --url-alias {a.url}") for a in settings.url_aliases]
    if settings.document_root is not None:
        wants.append(("-x", settings.document_root, "the --document-root"))
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
