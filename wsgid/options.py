"""The one table of WSGIDaemonProcess options: parsing, validation, CLI flags and the docs.

Every option of mod_wsgi 4.6's `WSGIDaemonProcess` is declared here exactly once, as a row of
OPTIONS. The row drives everything else: `parse_daemon_process` validates and converts a
directive's arguments with it, the express launcher builds its command-line flags from the rows
marked `cli`, and `reference_markdown` (through tools/gen_config_docs.py) writes the option
reference in docs/configuration.md.

Rules:
- The one option wsgid does not implement (chroot) is declared with mod_wsgi's default and
  `implemented=False`; using it is a ConfigError that says so. Nothing is silently ignored.
- Some defaults come from server-wide directives of the same file (WSGIPythonHome,
  WSGIServerMetrics, WSGINewRelicConfigFile, WSGINewRelicEnvironment): config.py passes them
  as `defaults` to parse_daemon_process.
- Every refusal is a ConfigError naming the directive, the option and the fix.
- A value's Python type is fixed by its kind: whole numbers are int, times are float seconds,
  users and groups are resolved to uid/gid ints, path lists are list[str].
"""

from __future__ import annotations

import difflib
import grp
import os
import pwd
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from wsgid.errors import ConfigError

DIRECTIVE = "WSGIDaemonProcess"

# A group name becomes part of a socket file name whose whole path must fit sun_path (108
# bytes); 64 leaves room for a reasonable prefix and the pid/generation parts.
GROUP_NAME_MAX = 64

# mod_wsgi keeps per-thread state in a table indexed by a 16-bit number with two values reserved.
THREADS_MAX = 0xFFFF - 2

# Byte sizes that C code receives as an int (mod_wsgi reads them with atoi; mod_wsgid and
# setsockopt take an int): larger values are refused rather than wrapped.
C_INT_MAX = 2**31 - 1

# The longest duration any option of kind seconds stands for: a larger value is accepted and
# clamped to this. 2**31 - 1 seconds (68 years) is the largest value mod_wsgi's own parsing
# (atoi into an int) can hold, fits the C module's microsecond counters (int64) and every
# Python wait (threading.TIMEOUT_MAX), so both sides of wsgid read a value the same way.
SECONDS_MAX = float(C_INT_MAX)


class InvalidValue(Exception):
    """Raised by a kind's converter: `problem` follows "option 'NAME' ", `fix` may be None."""

    def __init__(self, problem: str, fix: Optional[str] = None):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Kind:
    """How an option's value is written and converted.

    `describe` completes "must be ..." in messages and fills the docs' value column;
    `convert` turns the text into the Python value or raises InvalidValue.
    """

    describe: str
    convert: Callable[[str], Any]


def _got(raw: str) -> str:
    return f"got '{raw}'"


def _has_control_chars(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


# -- kinds -------------------------------------------------------------------------------------

def whole_number(minimum: int, maximum: Optional[int] = None, or_zero: bool = False) -> Kind:
    """An integer in [minimum, maximum]; with or_zero, 0 is allowed too (mod_wsgi's "default")."""
    if maximum is not None:
        describe = f"a whole number from {minimum} to {maximum}"
    else:
        describe = f"a whole number >= {minimum}"
    if or_zero:
        describe = f"0 (the default) or {describe}"

    def convert(raw: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", raw):
            raise InvalidValue(f"must be {describe}, {_got(raw)}")
        value = int(raw)
        if or_zero and value == 0:
            return 0
        if value < minimum or (maximum is not None and value > maximum):
            raise InvalidValue(f"must be {describe}, {_got(raw)}")
        return value

    return Kind(describe, convert)


def seconds(allow_zero: bool) -> Kind:
    """A duration in seconds, as float; whole or decimal (`2`, `0.5`), never negative; values
    above SECONDS_MAX mean SECONDS_MAX ("as good as never"). The module reads seconds with the
    same grammar (cmodule/wsgid_values.c; a test holds the two together)."""
    describe = "a number of seconds >= 0" if allow_zero else "a number of seconds > 0"

    def convert(raw: str) -> float:
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?|\.[0-9]+", raw):
            raise InvalidValue(f"must be {describe}, {_got(raw)}")
        value = float(raw)
        if value == 0 and not allow_zero:
            raise InvalidValue(f"must be {describe}, {_got(raw)}")
        return min(value, SECONDS_MAX)

    return Kind(describe, convert)


def _convert_text(raw: str) -> str:
    if raw == "" or _has_control_chars(raw):
        raise InvalidValue(f"must be {TEXT.describe}, {_got(raw)}")
    return raw


TEXT = Kind("a non-empty text without control characters", _convert_text)


def lookup_user(raw: str) -> int:
    """A user name, `#uid` (mod_wsgi's form) or a bare uid, resolved to a uid that exists."""
    if raw == "":
        raise InvalidValue("is empty", "write a user name or #uid")
    if not raw.startswith("#"):
        try:
            return pwd.getpwnam(raw).pw_uid
        except KeyError:
            if not raw.isdigit():
                raise InvalidValue(f"names the unknown user '{raw}'",
                                   "name a user that exists on this machine (see `getent passwd`)")
    number = raw[1:] if raw.startswith("#") else raw
    if not number.isdigit():
        raise InvalidValue(f"must be a user name or #uid, {_got(raw)}")
    try:
        return pwd.getpwuid(int(number)).pw_uid
    except (KeyError, OverflowError):
        raise InvalidValue(f"names uid {number}, which no user has",
                           "name a user that exists on this machine (see `getent passwd`)")


def lookup_group(raw: str) -> int:
    """A group name, `#gid` or a bare gid, resolved to a gid that exists."""
    if raw == "":
        raise InvalidValue("is empty", "write a group name or #gid")
    if not raw.startswith("#"):
        try:
            return grp.getgrnam(raw).gr_gid
        except KeyError:
            if not raw.isdigit():
                raise InvalidValue(f"names the unknown group '{raw}'",
                                   "name a group that exists on this machine (see `getent group`)")
    number = raw[1:] if raw.startswith("#") else raw
    if not number.isdigit():
        raise InvalidValue(f"must be a group name or #gid, {_got(raw)}")
    try:
        return grp.getgrgid(int(number)).gr_gid
    except (KeyError, OverflowError):
        raise InvalidValue(f"names gid {number}, which no group has",
                           "name a group that exists on this machine (see `getent group`)")


def user(allow_root: bool) -> Kind:
    """An existing user, as uid. Daemons never run as root, so `user=` refuses it."""

    def convert(raw: str) -> int:
        uid = lookup_user(raw)
        if uid == 0 and not allow_root:
            raise InvalidValue(
                f"names root{'' if raw == 'root' else f' ({raw})'}: daemon processes must not "
                "run as root",
                "pick an unprivileged user, e.g. user=www-data, or leave user= out to run the "
                "daemons as the Apache user")
        return uid

    return Kind("a user name or #uid" + ("" if allow_root else " (not root)"), convert)


def group(allow_root: bool) -> Kind:
    """An existing group, as gid; `group=` refuses root's group for the same reason as user=."""

    def convert(raw: str) -> int:
        gid = lookup_group(raw)
        if gid == 0 and not allow_root:
            raise InvalidValue(
                f"names the root group{'' if raw == 'root' else f' ({raw})'}: daemon processes "
                "must not run with root's group",
                "pick an unprivileged group, e.g. group=www-data, or leave group= out to use "
                "the Apache group")
        return gid

    return Kind("a group name or #gid" + ("" if allow_root else " (not root)"), convert)


def _convert_group_list(raw: str) -> List[int]:
    names = [name for name in raw.split(",") if name]
    if not names:
        raise InvalidValue(f"must be {GROUP_LIST.describe}, {_got(raw)}")
    return [lookup_group(name) for name in names]


GROUP_LIST = Kind("group names or #gids separated by ','", _convert_group_list)


def _convert_absolute_path(raw: str) -> str:
    if not raw.startswith("/") or _has_control_chars(raw):
        raise InvalidValue(f"must be {ABSOLUTE_PATH.describe}, {_got(raw)}",
                           "write the full path, starting with '/'")
    return raw


ABSOLUTE_PATH = Kind("an absolute path", _convert_absolute_path)


def _existing_directory(raw: str) -> str:
    path = _convert_absolute_path(raw)
    if not os.path.isdir(path):
        what = "is not a directory" if os.path.exists(path) else "does not exist"
        raise InvalidValue(f"names '{raw}', which {what}",
                           "create the directory or correct the path")
    return path


DIRECTORY = Kind("the absolute path of an existing directory", _existing_directory)


def _convert_error_log(raw: str) -> str:
    # As Apache's ErrorLog takes it, less syslog: a file, or `|command` (`|$command`) for a
    # piped log.
    if raw.startswith("|"):
        if not raw[1:].lstrip("$").strip() or _has_control_chars(raw):
            raise InvalidValue(f"names no command, {_got(raw)}",
                               "write error-log=\"|/usr/bin/rotatelogs /var/log/site.%Y%m%d "
                               "86400\"")
        return raw
    if raw.startswith("syslog"):
        raise InvalidValue("names syslog, which daemon groups do not write to",
                           "give a file, or a |command that writes to syslog (logger)")
    return _convert_absolute_path(raw)


ERROR_LOG = Kind("an absolute file path or |command", _convert_error_log)


def _convert_path_list(raw: str) -> List[str]:
    # Empty entries (a stray ':' at either end) mean nothing, as in PYTHONPATH. An entry that
    # does not exist (yet) is kept, as mod_wsgi keeps it: the daemon warns when it starts.
    entries = [entry for entry in raw.split(":") if entry]
    if not entries:
        raise InvalidValue(f"must be {PATH_LIST.describe}, {_got(raw)}")
    return [_convert_absolute_path(entry) for entry in entries]


PATH_LIST = Kind("absolute paths separated by ':'", _convert_path_list)


def site_packages_dir(python_home: str) -> str:
    """Where a virtual environment made with this Python keeps its packages."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return os.path.join(python_home, "lib", version, "site-packages")


def is_own_prefix(python_home: str) -> bool:
    """Is `python_home` the installation of the Python that runs wsgid (`/usr` for a system
    Python)? Its packages are already on sys.path: nothing to add."""
    home = os.path.realpath(python_home)
    return home in {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)}


PYTHON_HOME = Kind("the absolute path of an existing directory: a virtual environment of the "
                   "Python that runs wsgid, or that Python's own prefix", _existing_directory)


def _convert_umask(raw: str) -> int:
    if not re.fullmatch(r"0?[0-7]{1,3}", raw):
        raise InvalidValue(f"must be {UMASK.describe}, {_got(raw)}")
    return int(raw, 8)


UMASK = Kind("an octal number from 000 to 0777, such as 0022", _convert_umask)


def _convert_on_off(raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in ("on", "off"):
        raise InvalidValue(f"must be {ON_OFF.describe}, {_got(raw)}")
    return lowered == "on"


ON_OFF = Kind("On or Off", _convert_on_off)


# -- the table ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    """One WSGIDaemonProcess option: how it is written, checked, defaulted and documented."""

    name: str                  # as written in the directive, e.g. 'maximum-requests'
    kind: Kind
    default: Any               # the value used when the option is not given (immutable)
    help: str                  # one sentence for the docs and the CLI
    example: str               # a valid value, used in docs and fixes
    implemented: bool = True
    cli: bool = False          # offered as a flag by the express launcher (`--processes`)
    default_text: Optional[str] = None  # for defaults that depend on how wsgid is run

    @property
    def cli_flag(self) -> str:
        return "--" + self.name

    def parse_value(self, raw: str, directive: str = DIRECTIVE,
                    source: Optional[str] = None, line: Optional[int] = None) -> Any:
        """The converted value of `raw`, or a ConfigError naming this option and the fix."""
        try:
            return self.kind.convert(raw)
        except InvalidValue as bad:
            fix = bad.fix or f"write {self.name}= as {self.kind.describe}, " \
                             f"e.g. {self.name}={self.example}"
            raise ConfigError(directive, f"option '{self.name}' {bad.problem}", fix,
                              source, line, option=self.name) from None


_POSITIVE = whole_number(1)
_COUNT = whole_number(0)

OPTIONS: Tuple[Option, ...] = (
    # Implemented (issue 2).
    Option("processes", _POSITIVE, 1,
           "How many daemon processes the group runs.", "2", cli=True),
    Option("threads", whole_number(0, THREADS_MAX), 15,
           "How many request threads each daemon process runs; 0 makes each process a service "
           "that serves no requests.", "15", cli=True),
    Option("display-name", TEXT, "%{GROUP}",
           "The process name that ps shows: `%{GROUP}` on its own gives `(wsgi:NAME)`, and "
           "inside a longer value `%{GROUP}` is replaced by the group name.", "%{GROUP}",
           default_text="`%{GROUP}`, shown as `(wsgi:NAME)`"),
    Option("user", user(allow_root=False), None,
           "The user the daemon processes run as; switching user needs the supervisor to run "
           "as root, and root itself is refused.", "www-data", cli=True,
           default_text="the Apache child user when the supervisor runs as root, "
                        "else the supervisor's user"),
    Option("group", group(allow_root=False), None,
           "The primary group the daemon processes run as; root's group is refused.",
           "www-data", cli=True,
           default_text="the Apache child group when the supervisor runs as root (without "
                        "WSGIApacheUser: the user's primary group), else the supervisor's group"),
    Option("home", DIRECTORY, None,
           "The working directory of the daemon processes.", "/srv/app", cli=True,
           default_text="the daemon user's home directory when that user is not the Apache "
                        "user, else unchanged"),
    Option("python-path", PATH_LIST, (),
           "Directories added to `sys.path` the way `site.addsitedir` does (so `.pth` files "
           "in them count); one that does not exist or is a file is still added, with a "
           "warning when the daemon starts.", "/srv/app:/srv/lib", cli=True,
           default_text="none"),
    Option("python-home", PYTHON_HOME, None,
           "A virtual environment, made from the Python that runs wsgid, whose packages the "
           "daemon processes use; this Python's own prefix (such as `/usr`) adds nothing, "
           "and any other directory is a warning when the daemon starts.", "/srv/venv",
           default_text="`WSGIPythonHome`, else unset"),
    Option("lang", TEXT, None,
           "The `LANG` environment variable of the daemon processes.", "en_US.UTF-8", cli=True,
           default_text="inherited"),
    Option("locale", TEXT, None,
           "The `LC_ALL` environment variable (and C locale) of the daemon processes.",
           "en_US.UTF-8", cli=True, default_text="inherited"),
    Option("socket-user", user(allow_root=True), None,
           "The owner of the group's socket, the only user besides the daemons' own that may "
           "connect to it.", "www-data", default_text="the Apache child user"),
    Option("listen-backlog", whole_number(1, 65535), 100,
           "How many connections may wait on the group's socket for a daemon to accept them.",
           "100", cli=True),
    Option("connect-timeout", seconds(allow_zero=False), 15.0,
           "How long Apache keeps trying to connect to the group's socket before it answers "
           "503.", "15", cli=True),
    Option("socket-timeout", seconds(allow_zero=False), 60.0,
           "The limit on each read and write between Apache and a daemon process; a response "
           "head that does not arrive in time is a 504.", "60", cli=True,
           default_text="Apache's `Timeout` for the group's server (60 in external mode)"),

    Option("supplementary-groups", GROUP_LIST, (),
           "The supplementary groups of the daemon processes, exactly these, separated by "
           "commas.", "adm,staff",
           default_text="the user's groups in the group database, as mod_wsgi's initgroups()"),
    Option("umask", UMASK, None,
           "The umask of the daemon processes, in octal.", "0022",
           default_text="inherited"),
    # Declared with mod_wsgi 4.6's default; refused: wsgid does not implement it.
    Option("chroot", ABSOLUTE_PATH, None,
           "A directory the daemon processes are jailed in with chroot().", "/srv/jail",
           implemented=False),
    Option("script-user", user(allow_root=True), None,
           "Only WSGI and hook scripts owned by this user, in a directory owned by this user, "
           "neither writable by group or others, may run; others are refused (403).",
           "deploy"),
    Option("script-group", group(allow_root=True), None,
           "Only WSGI and hook scripts of this group, in a directory of this group, neither "
           "writable by others, may run; others are refused (403).", "deploy"),
    Option("error-log", ERROR_LOG, None,
           "The group's own error log, as Apache's ErrorLog takes it: a file, or `|command` "
           "for a piped log such as rotatelogs. The daemon processes write their lines, and "
           "everything the application writes, there; the supervisor's lines about the group "
           "stay in the main error log. mod_wsgid gives a group defined in a `<VirtualHost>` "
           "with an ErrorLog of its own that log, as mod_wsgi does.", "/var/log/apache2/site.log",
           default_text="the ErrorLog of the `<VirtualHost>` that defines the group, else the "
                        "main server's"),
    Option("python-eggs", ABSOLUTE_PATH, None,
           "The `PYTHON_EGG_CACHE` directory of the daemon processes.", "/srv/eggs"),
    Option("stack-size", whole_number(1, C_INT_MAX, or_zero=True), 0,
           "The stack size in bytes of each request thread; 0 keeps the system's.", "524288"),
    Option("maximum-requests", _COUNT, 0,
           "Recycle a daemon process once it has accepted this many requests, and accept no "
           "more (its replacement starts a little before); 0 never.", "1000"),
    Option("restart-interval", seconds(allow_zero=True), 0.0,
           "Recycle a daemon process after it has run this long; 0 never.", "3600"),
    Option("inactivity-timeout", seconds(allow_zero=True), 0.0,
           "Recycle a daemon process that has had no request for this long; 0 never.", "300"),
    Option("request-timeout", seconds(allow_zero=True), 0.0,
           "Recycle a daemon process whose requests run longer than this; 0 never.", "60"),
    Option("startup-timeout", seconds(allow_zero=True), 0.0,
           "Restart a daemon process that has not loaded its script within this time; 0 never.",
           "15"),
    Option("deadlock-timeout", seconds(allow_zero=True), 300.0,
           "Restart a daemon process whose Python interpreter has been stuck (GIL never "
           "released) this long.", "300"),
    Option("graceful-timeout", seconds(allow_zero=True), 15.0,
           "On a recycle, how long a daemon process may keep serving while waiting to become "
           "idle.", "15"),
    Option("eviction-timeout", seconds(allow_zero=True), 0.0,
           "On a graceful restart signal, how long a daemon process may wait to become idle; "
           "0 uses graceful-timeout.", "15"),
    Option("shutdown-timeout", seconds(allow_zero=True), 5.0,
           "How long a stopping daemon process may take before it is killed.", "5"),
    Option("queue-timeout", seconds(allow_zero=True), 0.0,
           "A request that waited longer than this for a daemon process gets 504; 0 never.",
           "45"),
    Option("send-buffer-size", whole_number(512, C_INT_MAX, or_zero=True), 0,
           "The send buffer size (SO_SNDBUF) of the daemon side of each connection, in bytes; "
           "0 keeps the system's.", "65536"),
    Option("receive-buffer-size", whole_number(512, C_INT_MAX, or_zero=True), 0,
           "The receive buffer size (SO_RCVBUF) of the daemon side of each connection, in "
           "bytes; 0 keeps the system's.", "65536"),
    Option("header-buffer-size", whole_number(8192, C_INT_MAX, or_zero=True), 0,
           "The largest response head (status line and headers) an application may send, in "
           "bytes; the daemons answer 500 to a larger one, and Apache accepts up to this "
           "much (0: 32768, mod_wsgi's default).", "65536"),
    Option("response-buffer-size", whole_number(65536, C_INT_MAX, or_zero=True), 0,
           "How many response bytes Apache reads from a daemon at once before it passes them "
           "to the client (0: the head limit plus 8 KiB).", "131072"),
    Option("response-socket-timeout", seconds(allow_zero=True), 0.0,
           "The limit on each write of the response to the client (0: Apache's `Timeout`).",
           "60"),
    Option("cpu-time-limit", seconds(allow_zero=True), 0.0,
           "Recycle a daemon process once it has used this much CPU time; 0 never.", "3600"),
    Option("cpu-priority", whole_number(-20, 20), 0,
           "The scheduling priority (nice value) of the daemon processes.", "5"),
    Option("memory-limit", _COUNT, 0,
           "Recycle a daemon process whose resident memory (RSS) exceeds this many bytes; "
           "0 none.", "536870912"),
    Option("virtual-memory-limit", _COUNT, 0,
           "The address space limit of a daemon process in bytes; 0 none.", "1073741824"),
    Option("server-metrics", ON_OFF, False,
           "Whether `mod_wsgi.server_metrics()` answers in the daemon processes (with what "
           "wsgid knows: the daemon process and its threads) or returns None.", "On",
           default_text="`WSGIServerMetrics`, else `Off`"),
    Option("newrelic-config-file", ABSOLUTE_PATH, None,
           "The New Relic agent configuration file: the daemon processes call "
           "`newrelic.agent.initialize()` with it before loading the application.",
           "/etc/newrelic.ini", default_text="`WSGINewRelicConfigFile`, else unset"),
    Option("newrelic-environment", TEXT, None,
           "The New Relic agent environment passed with newrelic-config-file.", "production",
           default_text="`WSGINewRelicEnvironment`, else unset"),
)

OPTION_BY_NAME: Dict[str, Option] = {option.name: option for option in OPTIONS}

IMPLEMENTED: Tuple[Option, ...] = tuple(option for option in OPTIONS if option.implemented)


def cli_options() -> Tuple[Option, ...]:
    """The options the express launcher offers as command-line flags."""
    return tuple(option for option in OPTIONS if option.cli)


# -- WSGIDaemonProcess -------------------------------------------------------------------------

def check_group_name(name: str, source: Optional[str] = None,
                     line: Optional[int] = None) -> None:
    """Refuse a group name that could not be part of a socket file name or would be ambiguous.
    The module refuses the same names (cmodule/wsgid_values.c; a test holds the two together)."""
    problem = None
    if name == "":
        problem, fix = "the group name is empty", "write WSGIDaemonProcess NAME [option=value ...]"
    elif "=" in name and name.split("=", 1)[0] in OPTION_BY_NAME:
        problem = f"the group name is missing ('{name}' is an option)"
        fix = f"write the name first: WSGIDaemonProcess NAME {name}"
    elif " " in name or _has_control_chars(name):
        problem = f"the group name '{name}' contains whitespace or control characters"
        fix = "use letters, digits and characters such as '-', '_', '.', ':'"
    elif "=" in name:
        problem = f"the group name '{name}' contains '='"
        fix = "leave '=' out: NAME=VALUE is how an option is written"
    elif "/" in name:
        problem = f"the group name '{name}' contains '/'"
        fix = "leave '/' out: the name is part of a socket file name"
    elif name.startswith(("%", ".")):
        problem = f"the group name '{name}' starts with '{name[0]}'"
        fix = "start the name with a letter or digit ('%{...}' names are expansions, " \
              "'.' makes a hidden file)"
    elif len(name.encode("utf-8")) > GROUP_NAME_MAX:
        problem = f"the group name '{name}' is longer than {GROUP_NAME_MAX} bytes"
        fix = "use a shorter name: it is part of the socket path, which must fit 107 bytes"
    if problem is not None:
        raise ConfigError(DIRECTIVE, problem, fix, source, line)


def expand_display_name(template: str, group_name: str) -> str:
    """mod_wsgi's rule (`%{GROUP}` alone is `(wsgi:NAME)`), plus `%{GROUP}` inside a value."""
    if template == "%{GROUP}":
        return f"(wsgi:{group_name})"
    return template.replace("%{GROUP}", group_name)


def _split_option(word: str, directive: str, source, line) -> Tuple[str, str]:
    name, sep, raw = word.partition("=")
    if not sep or not name:
        raise ConfigError(directive, f"'{word}' is not an option=value pair",
                          "write options as name=value, e.g. processes=2", source, line)
    return name, raw


def _unknown_option(name: str, directive: str, source, line) -> ConfigError:
    close = difflib.get_close_matches(name, list(OPTION_BY_NAME), n=1, cutoff=0.6)
    if close:
        fix = f"did you mean '{close[0]}'? The options are listed in docs/configuration.md"
    else:
        fix = "use one of the options listed in docs/configuration.md"
    return ConfigError(directive, f"unknown option '{name}'", fix, source, line, option=name)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"


def _resolve_identity(values: Dict[str, Any], apache_ids: Optional[Tuple[int, int]],
                      running_ids: Tuple[int, int], directive: str, source, line) -> None:
    """Fill values['user'] and values['group'] with who the daemon processes will run as.

    As root (like mod_wsgi): the options, else the Apache child user and group. Not as root a
    process cannot switch user, so an option naming someone else is an error, not ignored.
    """
    euid, egid = running_ids
    uid, gid = values["user"], values["group"]
    if euid == 0:
        if uid is None:
            if apache_ids is None:
                raise ConfigError(
                    directive, "no user for the daemon processes: the supervisor runs as root "
                               "and no Apache user is known (no WSGIApacheUser line)",
                    "add user=NAME (an unprivileged user) to the directive, or a "
                    "WSGIApacheUser UID GID line to the file", source, line, option="user")
            uid = apache_ids[0]
            if uid == 0:
                raise ConfigError(
                    directive, "the daemon processes would run as root (the Apache user is uid 0)",
                    "add user=NAME naming an unprivileged user", source, line, option="user")
        if gid is None:
            gid = apache_ids[1] if apache_ids is not None else pwd.getpwuid(uid).pw_gid
            if gid == 0:
                raise ConfigError(
                    directive, "the daemon processes would run with root's group (gid 0)",
                    "add group=NAME naming an unprivileged group", source, line, option="group")
    else:
        if uid is not None and uid != euid:
            raise ConfigError(
                directive, f"option 'user' asks for user {_user_name(uid)}, but the supervisor "
                           f"runs as {_user_name(euid)} and only root can switch user",
                "leave user= out (the daemons then run as the supervisor's user) or start the "
                "supervisor as root", source, line, option="user")
        if gid is not None and gid != egid:
            raise ConfigError(
                directive, f"option 'group' asks for gid {gid}, but the supervisor runs with "
                           f"gid {egid} and only root can switch group",
                "leave group= out or start the supervisor as root", source, line, option="group")
        uid, gid = euid, egid
    values["user"], values["group"] = uid, gid


def _resolve_home(values: Dict[str, Any], apache_ids: Optional[Tuple[int, int]],
                  directive: str, source, line) -> None:
    # mod_wsgi moves a daemon that runs as someone other than the Apache user into that
    # user's home directory; a home that does not exist is caught here rather than at fork.
    if values["home"] is not None or apache_ids is None or values["user"] == apache_ids[0]:
        return
    try:
        home = pwd.getpwuid(values["user"]).pw_dir
    except KeyError:
        return
    if not os.path.isdir(home):
        raise ConfigError(
            directive, f"the daemon user {_user_name(values['user'])} has the home directory "
                       f"'{home}', which does not exist, and no home= is given",
            "add home=DIR naming the daemons' working directory", source, line, option="home")
    values["home"] = home


def parse_daemon_process(args: Sequence[str], source: Optional[str] = None,
                         line: Optional[int] = None, *,
                         apache_ids: Optional[Tuple[int, int]] = None,
                         running_ids: Optional[Tuple[int, int]] = None,
                         defaults: Optional[Dict[str, Any]] = None
                         ) -> Tuple[str, Dict[str, Any]]:
    """Validate a WSGIDaemonProcess directive's arguments (group name first).

    Returns (name, values): values holds every implemented option, keyed by option name, with
    defaults filled and converted (see the module docstring). `apache_ids` is the Apache child
    (uid, gid) from WSGIApacheUser; `running_ids` the supervisor's (euid, egid), by default this
    process's; `defaults` replaces the table's default of the options it names (the server-wide
    directives' values, already converted). Raises ConfigError.
    """
    if not args:
        raise ConfigError(DIRECTIVE, "the group name is missing",
                          "write WSGIDaemonProcess NAME [option=value ...]", source, line)
    name = args[0]
    check_group_name(name, source, line)
    directive = f"{DIRECTIVE} {name}"

    given: Dict[str, Any] = {}
    for word in args[1:]:
        option_name, raw = _split_option(word, directive, source, line)
        option = OPTION_BY_NAME.get(option_name)
        if option is None:
            raise _unknown_option(option_name, directive, source, line)
        if option_name in given:
            raise ConfigError(directive, f"option '{option_name}' is given twice",
                              f"keep one {option_name}= and remove the other", source, line,
                              option=option_name)
        if not option.implemented:
            raise ConfigError(directive, f"wsgid does not support option '{option_name}' yet",
                              f"remove {option_name}={raw}; docs/configuration.md lists the "
                              "options wsgid supports", source, line, option=option_name)
        given[option_name] = option.parse_value(raw, directive, source, line)

    if "script-user" in given and "script-group" in given:
        # As mod_wsgi: one rule about who may have written the scripts, not two.
        raise ConfigError(directive, "options 'script-user' and 'script-group' are both given",
                          "keep one of them: mod_wsgi allows only one of script-user= and "
                          "script-group=", source, line, option="script-group")
    fallback = {option.name: option.default for option in IMPLEMENTED}
    fallback.update(defaults or {})
    values = {option.name: given.get(option.name, fallback[option.name])
              for option in IMPLEMENTED}
    # The table's defaults are immutable; callers get the same type as a written value.
    values["python-path"] = list(values["python-path"])
    values["display-name"] = expand_display_name(values["display-name"], name)
    if running_ids is None:
        running_ids = (os.geteuid(), os.getegid())
    _resolve_identity(values, apache_ids, running_ids, directive, source, line)
    _resolve_home(values, apache_ids, directive, source, line)
    return name, values


# -- docs --------------------------------------------------------------------------------------

def _format_default(option: Option) -> str:
    if option.default_text is not None:
        return option.default_text
    value = option.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`On`" if value else "`Off`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(options: Sequence[Option], default_heading: str) -> List[str]:
    rows = [f"| option | value | {default_heading} | meaning |", "|---|---|---|---|"]
    for option in options:
        rows.append("| " + " | ".join([
            f"`{option.name}`", _cell(option.kind.describe), _cell(_format_default(option)),
            _cell(option.help)]) + " |")
    return rows


def reference_markdown() -> str:
    """The option reference of docs/configuration.md, generated from OPTIONS."""
    lines = [
        "### Options wsgid supports",
        "",
        "Written `WSGIDaemonProcess NAME option=value ...`; each option at most once.",
        "",
        *_table(IMPLEMENTED, "default"),
        "",
        "### Options wsgid does not support",
        "",
        "mod_wsgi 4.6's remaining option, listed with mod_wsgi's default. Giving it is a "
        "configuration error that says wsgid does not support it: a setting is never silently "
        "ignored.",
        "",
        *_table([option for option in OPTIONS if not option.implemented], "mod_wsgi default"),
        "",
    ]
    return "\n".join(lines)
