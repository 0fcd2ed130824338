"""start-server's options, declared once, and how their values become ServerSettings.

Rules:
- Every option of `wsgid start-server` / `wsgid setup-server` is one row of
  START_SERVER_OPTIONS. cli.py builds the click options from the rows and docs/express.md lists
  the same rows; add an option here and nowhere else. (The daemon options among them will later
  come from wsgid/options.py, the table of WSGIDaemonProcess options.)
- Defaults that depend on the machine (server root, user, group) are computed in
  resolve_settings(), not written into the table, so the table stays plain data; their help text
  says how they are computed.
- resolve_settings() checks every value and raises SettingsError with one message that names
  the option and the fix. It writes nothing: serverroot.py acts on its result.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import click

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
WELCOME_SCRIPT = os.path.join(PACKAGE_DIR, "welcome.wsgi")

# Who the Apache children and the daemons run as when start-server runs as root and no --user is
# given: the first of these that exists (Debian/Ubuntu, then RHEL/Fedora, then the fallback).
ROOT_DEFAULT_USERS = ("www-data", "apache", "nobody")

# Addresses that mean "every interface": the printed URL then names localhost instead.
WILDCARD_HOSTS = ("0.0.0.0", "::", "*")

LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug")


class SettingsError(Exception):
    """A start-server option value that cannot work; str() is the whole message for the user."""


@dataclass(frozen=True)
class ExpressOption:
    """One command-line option of start-server/setup-server.

    `default` None with a `computed` text means resolve_settings() works the default out;
    `computed` is how the help and the docs describe it.
    """

    name: str
    type: Any
    default: Any
    help: str
    metavar: Optional[str] = None
    computed: Optional[str] = None
    is_flag: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def default_text(self) -> str:
        """The default as --help and docs/express.md state it."""
        if self.computed:
            return self.computed
        if self.is_flag:
            return "off"
        return str(self.default)


START_SERVER_OPTIONS = (
    ExpressOption("host", str, "127.0.0.1", metavar="ADDRESS",
                  help="Address Apache listens on; 0.0.0.0 or :: to listen on every interface."),
    ExpressOption("port", click.IntRange(1, 65535), 8000, metavar="NUMBER",
                  help="TCP port Apache listens on."),
    ExpressOption("processes", click.IntRange(min=1), 1, metavar="NUMBER",
                  help="Daemon processes serving the application."),
    ExpressOption("threads", click.IntRange(min=1), 5, metavar="NUMBER",
                  help="Request threads in each daemon process."),
    ExpressOption("server-root", click.Path(file_okay=False), None, metavar="DIRECTORY",
                  computed="$TMPDIR/wsgid-HOST:PORT:UID (/tmp when TMPDIR is unset)",
                  help="Directory for the generated httpd.conf, apachectl, logs and daemon "
                       "sockets."),
    ExpressOption("user", str, None, metavar="NAME",
                  computed="www-data when run as root, else the current user",
                  help="User the Apache children and daemon processes run as; only root can "
                       "choose it."),
    ExpressOption("group", str, None, metavar="NAME",
                  computed="the primary group of the user",
                  help="Group the Apache children and daemon processes run as; only root can "
                       "choose it."),
    ExpressOption("log-level", click.Choice(LOG_LEVELS), "warn", metavar="LEVEL",
                  help="Apache LogLevel of the error log (" + ", ".join(LOG_LEVELS) + ")."),
    ExpressOption("setup-only", bool, False, is_flag=True,
                  help="Write the server root (as setup-server does) and exit without starting "
                       "Apache."),
)


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server root is generated from, with every default worked out."""

    script: str               # absolute path of the WSGI script (the welcome page by default)
    host: str
    port: int
    processes: int
    threads: int
    server_root: str          # absolute path
    user: Optional[str]       # Apache User/Group: set only when running as root
    group: Optional[str]
    log_level: str

    @property
    def daemon_group(self) -> str:
        """The WSGIDaemonProcess group name (mod_wsgi-express names it the same way)."""
        return f"localhost:{self.port}"

    @property
    def listen(self) -> str:
        """The argument of Apache's Listen directive."""
        if self.host == "*":
            return str(self.port)
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    @property
    def server_name(self) -> str:
        return f"{self.url_host}:{self.port}"

    @property
    def url_host(self) -> str:
        if self.host in WILDCARD_HOSTS:
            return "localhost"
        if ":" in self.host:
            return f"[{self.host}]"
        return self.host

    @property
    def url(self) -> str:
        return f"http://{self.url_host}:{self.port}/"


def default_server_root(host: str, port: int, uid: int, environ: Mapping[str, str]) -> str:
    """`wsgid-HOST:PORT:UID` under $TMPDIR, or under /tmp when TMPDIR is unset or empty."""
    tmpdir = environ.get("TMPDIR") or "/tmp"
    return os.path.join(os.path.abspath(tmpdir), f"wsgid-{host}:{port}:{uid}")


def resolve_settings(script: Optional[str], values: Mapping[str, Any], *,
                     environ: Mapping[str, str] = os.environ,
                     uid: Optional[int] = None) -> ServerSettings:
    """Turn the command line (script and option values by dest) into ServerSettings."""
    uid = os.getuid() if uid is None else uid
    host = values["host"].strip()
    if not host or any(ch.isspace() for ch in host) or "/" in host:
        raise SettingsError(f"--host '{values['host']}' is not an address: give an IP address or "
                            "host name such as 127.0.0.1, or 0.0.0.0 for every interface.")
    port = values["port"]
    server_root = values.get("server_root") or default_server_root(host, port, uid, environ)
    user, group = _apache_user_and_group(values.get("user"), values.get("group"), uid)
    return ServerSettings(
        script=_script_path(script),
        host=host,
        port=port,
        processes=values["processes"],
        threads=values["threads"],
        server_root=os.path.abspath(server_root),
        user=user,
        group=group,
        log_level=values.get("log_level") or "warn",
    )


def _script_path(script: Optional[str]) -> str:
    if script is None:
        return WELCOME_SCRIPT
    path = os.path.abspath(script)
    if not os.path.exists(path):
        raise SettingsError(f"SCRIPT {script} does not exist: give the path of a WSGI script file "
                            "(or no SCRIPT for the welcome page).")
    if not os.path.isfile(path):
        raise SettingsError(f"SCRIPT {script} is not a file: give the path of a WSGI script file, "
                            "for example app.wsgi defining `application`.")
    return path


def _apache_user_and_group(user: Optional[str], group: Optional[str],
                           uid: int) -> tuple[Optional[str], Optional[str]]:
    """Apache's User and Group when started as root; (None, None) otherwise.

    As an ordinary user Apache cannot switch users, so --user/--group naming anyone else is
    refused rather than ignored.
    """
    if uid != 0:
        me = pwd.getpwuid(uid)
        if user is not None and user not in (me.pw_name, str(uid)):
            raise SettingsError(f"--user {user}: only root can run the server as another user "
                                f"(you are {me.pw_name}); drop --user or start as root.")
        if group is not None and _group_id(group, "--group") != me.pw_gid:
            raise SettingsError(f"--group {group}: only root can run the server as another group; "
                                "drop --group or start as root.")
        return None, None

    if user is None:
        user = next((name for name in ROOT_DEFAULT_USERS if _user_exists(name)), None)
        if user is None:
            raise SettingsError("no unprivileged user to run Apache children and daemons as (tried "
                                + ", ".join(ROOT_DEFAULT_USERS) + "): give one with --user.")
    try:
        entry = pwd.getpwnam(user) if not user.isdigit() else pwd.getpwuid(int(user))
    except KeyError:
        raise SettingsError(f"--user {user}: no such user; give an existing unprivileged user "
                            "such as www-data.") from None
    if entry.pw_uid == 0:
        raise SettingsError(f"--user {user}: Apache children and daemon processes must not run as "
                            "root; give an unprivileged user such as www-data.")
    gid = entry.pw_gid if group is None else _group_id(group, "--group")
    if gid == 0:
        raise SettingsError(f"--group {group}: Apache children and daemon processes must not run "
                            "as group root; give an unprivileged group such as www-data.")
    return entry.pw_name, grp.getgrgid(gid).gr_name


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_id(group: str, option: str) -> int:
    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise SettingsError(f"{option} {group}: no such group; give an existing group such as "
                            "www-data.") from None
