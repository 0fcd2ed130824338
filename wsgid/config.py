"""The daemon configuration file: what `wsgid supervise --config FILE` runs.

The file uses Apache's directive syntax (docs/internals.md, docs/configuration.md): one directive
a line; lines whose first word starts with `#` are comments, and so is the rest of a line after
an unquoted `#` followed by whitespace; arguments are split on whitespace; double or single
quotes group an argument
(also after `=`, as in `python-path="/a b"`), and inside quotes a backslash escapes the quote
character or a backslash; a `\\` at the end of a line continues the directive on the next line.

Rules:
- Only the directives of DIRECTIVES may appear; anything else is an error that names it.
- The order of directives does not matter: WSGIApacheUser and WSGISocketPrefix apply to the whole
  file, and references to groups are checked once all groups are known. The one exception: a
  group's WSGIImportScript scripts are loaded (or run, threads=0) in file order.
- The hook script directives (WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript,
  WSGIDispatchScript) may repeat a script: Apache writes one line for every place the directive
  appears (one per <Directory>, say), and equal lines are kept once. Their process-group= follows
  the aliases' rules (a defined group with threads, or %{ENV:VAR} for any group).
- Every mistake is a ConfigError with file, line, directive and fix (wsgid/errors.py).
"""

from __future__ import annotations

import keyword
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterator, List, Optional, Tuple

from wsgid.errors import ConfigError
from wsgid.log import DEFAULT_LOG_LEVEL, parse_log_level
from wsgid.log_format import parse as parse_log_format
from wsgid.options import (ABSOLUTE_PATH, ON_OFF, PYTHON_HOME, TEXT, InvalidValue, Kind,
                           lookup_group, lookup_user, parse_daemon_process, whole_number)
from wsgid.sockets import GROUP_SOCKET_SUFFIX, SOCKET_PATH_MAX, health_socket_path

DEFAULT_CALLABLE = "application"
GLOBAL_APPLICATION_GROUP = "%{GLOBAL}"
REQUEST_EXPANSIONS = ("%{SERVER}", "%{HOST}", "%{RESOURCE}")


def is_callable_name(name: str) -> bool:
    """Can `name` name a callable of a script (WSGICallableObject, callable-object=)?"""
    return name.isidentifier() and not keyword.iskeyword(name)


def is_request_expansion(value: str) -> bool:
    """Whether an application-group value is one that mod_wsgid expands per request
    (`%{SERVER}`, `%{HOST}`, `%{RESOURCE}`, `%{ENV:VAR}`).  Any other `%{...}` is a
    literal name, as in mod_wsgi."""
    return value in REQUEST_EXPANSIONS or (
        value.startswith("%{ENV:") and value.endswith("}") and len(value) > len("%{ENV:}"))


@dataclass
class DaemonGroup:
    """One WSGIDaemonProcess group, with everything resolved that its processes need."""

    name: str
    options: dict             # parse_daemon_process values: every implemented option
    socket_path: Optional[str]
    socket_uid: int           # the socket's owner: socket-user, else the Apache user, else us
    uid: int                  # who the daemon processes run as
    gid: int
    explicit: FrozenSet[str] = frozenset()  # the options the directive wrote out

    def display_name(self) -> str:
        """The process title, `%{GROUP}` already expanded."""
        return self.options["display-name"]

    @property
    def multiprocess(self) -> bool:
        """wsgi.multiprocess, as mod_wsgi sets it: an explicit processes= counts even if 1."""
        return "processes" in self.explicit or self.options["processes"] > 1


@dataclass
class ScriptAlias:
    """One WSGIScriptAlias: a URL mount point and the script (or directory of scripts) behind it.

    Also one WSGIScriptAliasMatch: `url` is then its regular expression (matched by mod_wsgid,
    never here). When its target uses `$N`, the target names many scripts: `target_dir` is the
    directory they must all lie in (real paths) and `target_paths` matches the paths the
    substitution can make, and files inside them.
    """

    url: str
    target: str
    process_group: Optional[str]
    application_group: Optional[str]
    is_dir: bool
    is_match: bool = False
    target_dir: Optional[str] = None
    target_paths: Optional["re.Pattern[str]"] = None
    callable_object: Optional[str] = None       # callable-object=: this alias's callable name
    pass_authorization: Optional[bool] = None   # pass-authorization=: read by mod_wsgid
    # A target written as FILE/EXTRA where FILE is an existing file (Apache's path walk stops
    # there): `target` is FILE and this is '/EXTRA', the start of every request's PATH_INFO.
    extra_path_info: str = ""

    # WSGIScriptDirectory (written by mod_wsgid): a <Directory> where AddHandler/SetHandler
    # wsgi-script with Options ExecCGI may map scripts; `url` is "" and `target` the directory.
    is_handler_directory: bool = False

    @property
    def directive(self) -> str:
        if self.is_handler_directory:
            return "WSGIScriptDirectory"
        return "WSGIScriptAliasMatch" if self.is_match else "WSGIScriptAlias"


def match_target(target: str) -> Tuple[str, Optional["re.Pattern[str]"]]:
    """Read a WSGIScriptAliasMatch target the way Apache's ap_pregsub does: `$0`..`$9` are
    substitutions, a backslash makes the next character literal.

    Returns the literal text before the first substitution and, if there is one, a pattern
    for every path the substitution can make (any text for each `$N`), optionally followed by
    `/...` (a file inside a substituted directory); else (the unescaped target, None).
    """
    literal: List[str] = []
    parts: List[str] = []
    prefix: Optional[str] = None
    index = 0
    while index < len(target):
        ch = target[index]
        if ch == "$" and index + 1 < len(target) and target[index + 1].isdigit():
            if prefix is None:
                prefix = "".join(literal)
            parts.append(re.escape("".join(literal)) + "(.*)")
            literal = []
            index += 2
            continue
        if ch == "\\" and index + 1 < len(target):
            index += 1
            ch = target[index]
        literal.append(ch)
        index += 1
    if prefix is None:
        return "".join(literal), None
    parts.append(re.escape("".join(literal)))
    return prefix, re.compile("".join(parts) + "(?:/.+)?", re.DOTALL)


ALIAS_OPTIONS = ("process-group", "application-group", "callable-object", "pass-authorization")
_OPTION_VALUES = {"pass-authorization": "On|Off"}


def leading_file(path: str) -> Optional[str]:
    """The longest leading part of `path` (whole segments) that is an existing file, or None:
    where Apache's path walk stops, the rest of the path becoming PATH_INFO."""
    parts = path.split("/")
    for end in range(len(parts) - 1, 1, -1):
        candidate = "/".join(parts[:end])
        if os.path.isfile(candidate):
            return candidate
        if os.path.exists(candidate):
            return None     # an existing directory: the missing part is not below a file
    return None


@dataclass(frozen=True)
class ImportScript:
    """One WSGIImportScript: a script the group's daemon processes load when they start.

    In a group with threads, the script is preloaded before the process accepts requests; in a
    service group (threads=0) it is what the process runs (wsgid/service.py).
    """

    path: str
    process_group: str
    application_group: str    # `%{GLOBAL}` or a literal name: no per-request expansion here


@dataclass(frozen=True)
class HandlerScript:
    """One WSGIHandlerScript: a script whose handle_request() serves the files Apache maps to
    handler `name` (mod_wsgid names it in wsgid.handler_script; the requested file is
    SCRIPT_FILENAME). A daemon runs only the handler scripts its configuration names."""

    name: str
    path: str
    process_group: Optional[str]      # None: any group may run it
    application_group: Optional[str]
    callable_object: str = "handle_request"   # mod_wsgi's entry point of a handler script


HOOK_DIRECTIVES: Tuple[str, ...] = (
    "WSGIAccessScript", "WSGIAuthUserScript", "WSGIAuthGroupScript", "WSGIDispatchScript")


@dataclass(frozen=True)
class HookScript:
    """One hook script directive: a script whose functions mod_wsgid has a daemon group call for
    Apache's access, authentication, authorization or dispatch step (docs/protocol.md, "Hook
    calls")."""

    directive: str                    # one of HOOK_DIRECTIVES
    path: str                         # as written: the hook packet names the script this way
    process_group: Optional[str]      # None: any group may run it (unset, or %{ENV:VAR})
    application_group: Optional[str]  # as written; mod_wsgid sends the expanded name


@dataclass(frozen=True)
class ServerSettings:
    """The server-wide Python directives of the file (mod_wsgi's WSGIPython*, WSGIRestrict*,
    ...), each as mod_wsgi's daemon mode reads it; None where a directive is absent and its
    meaning depends on that (the interpreter's own flags stay as they are)."""

    python_home: Optional[str] = None           # WSGIPythonHome: default python-home=
    python_optimize: Optional[int] = None       # WSGIPythonOptimize 0|1|2
    python_hash_seed: Optional[str] = None      # WSGIPythonHashSeed: 'random' or digits
    dont_write_bytecode: bool = False           # WSGIDontWriteBytecode
    python_warnings: Tuple[str, ...] = ()       # WSGIPythonWarnings, in file order
    restrict_stdin: bool = True                 # WSGIRestrictStdin (mod_wsgi: On)
    restrict_stdout: bool = False               # WSGIRestrictStdout (wsgid: Off, as mod_wsgi)
    restrict_signal: bool = True                # WSGIRestrictSignal
    destroy_interpreter: bool = True            # WSGIDestroyInterpreter: atexit at the exit
    verbose_debugging: bool = False             # WSGIVerboseDebugging
    server_metrics: bool = False                # WSGIServerMetrics: default server-metrics=
    newrelic_config_file: Optional[str] = None  # WSGINewRelicConfigFile
    newrelic_environment: Optional[str] = None  # WSGINewRelicEnvironment
    case_sensitivity: bool = True               # WSGICaseSensitivity (Off: fold script paths)
    accept_mutex: Optional[str] = None          # WSGIAcceptMutex: accepted, no effect
    log_level: str = DEFAULT_LOG_LEVEL          # LogLevel, for the wsgi module (log.py)
    error_log_format: Optional[str] = None      # ErrorLogFormat; None: Apache's default
    error_log: Optional[str] = None             # ErrorLog: the supervisor's stderr, a file

    def group_defaults(self) -> Dict[str, object]:
        """The WSGIDaemonProcess option defaults these directives set."""
        return {"python-home": self.python_home, "server-metrics": self.server_metrics,
                "newrelic-config-file": self.newrelic_config_file,
                "newrelic-environment": self.newrelic_environment}


@dataclass(frozen=True)
class ApacheServer:
    """What mod_wsgid tells the daemons of the Apache that runs them (WSGIApacheServer, managed
    mode only): the values of mod_wsgi's `apache` module (api.py)."""

    description: str          # ap_get_server_description(): 'Apache/2.4.57 (Debian)'
    version: Tuple[int, int, int]
    mpm_name: str
    build_date: str
    maximum_processes: int
    threads_per_process: int


@dataclass
class Config:
    """A parsed and validated daemon configuration file."""

    groups: Dict[str, DaemonGroup]   # in file order
    aliases: List[ScriptAlias]
    apache_uid: Optional[int]
    apache_gid: Optional[int]
    socket_prefix: Optional[str]
    callable_object: str = DEFAULT_CALLABLE
    source: str = "<config>"
    import_scripts: List[ImportScript] = field(default_factory=list)   # in file order
    hook_scripts: List[HookScript] = field(default_factory=list)       # in file order, no repeats
    server: ServerSettings = field(default_factory=ServerSettings)
    handler_scripts: List[HandlerScript] = field(default_factory=list)   # in file order
    # WSGIHookDirectory: <Directory> trees whose .htaccess files may name access, user and group
    # scripts (AllowOverride AuthConfig); a script inside one may run as such a hook.
    hook_directories: List[str] = field(default_factory=list)
    # WSGIDefaultGroup: the group mod_wsgid starts for what mod_wsgi would run inside Apache,
    # which may serve every script (a request there has no group of its own to keep to).
    default_group: Optional[str] = None
    # WSGIApacheServer: the Apache that runs the daemons (None in external mode: any may).
    apache: Optional[ApacheServer] = None

    def scripts_for_group(self, name: str) -> List[ScriptAlias]:
        """The aliases a group may serve: those delegated to it and those naming no group (all
        of them, for the default group)."""
        if name == self.default_group:
            return list(self.aliases)
        return [alias for alias in self.aliases if alias.process_group in (None, name)]

    def import_scripts_for(self, name: str) -> List[ImportScript]:
        """The group's WSGIImportScript scripts, in file order."""
        return [script for script in self.import_scripts if script.process_group == name]

    def handler_scripts_for(self, name: str) -> List[HandlerScript]:
        """The WSGIHandlerScript scripts a group may run (all of them, for the default group)."""
        return [script for script in self.handler_scripts
                if name == self.default_group or script.process_group in (None, name)]

    def hook_scripts_for(self, name: str) -> List[HookScript]:
        """The hook scripts a group may run: those delegated to it and those naming no group (all
        of them, for the default group)."""
        if name == self.default_group:
            return list(self.hook_scripts)
        return [script for script in self.hook_scripts if script.process_group in (None, name)]


# -- syntax ------------------------------------------------------------------------------------

@dataclass
class Statement:
    """One directive as written: its words (directive name first) and the line it starts on."""

    words: List[str]
    line: int

    @property
    def name(self) -> str:
        return self.words[0]


_QUOTES = ("\"", "'")


def split_words(text: str, source: str, line: int) -> List[str]:
    """Split one logical line into arguments (see the module docstring for the rules)."""
    words: List[str] = []
    current: List[str] = []
    in_word = False
    quote: Optional[str] = None
    index = 0
    while index < len(text):
        ch = text[index]
        if quote is not None:
            if ch == "\\" and index + 1 < len(text) and text[index + 1] in (quote, "\\"):
                current.append(text[index + 1])
                index += 2
                continue
            if ch == quote:
                quote = None
            else:
                current.append(ch)
        elif ch.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        elif ch == "#" and not in_word and (index + 1 == len(text) or text[index + 1].isspace()):
            # A trailing comment needs the space: `#33` is mod_wsgi's way to write a uid.
            break
        elif ch in _QUOTES:
            quote, in_word = ch, True
        else:
            current.append(ch)
            in_word = True
        index += 1
    if quote is not None:
        directive = words[0] if words else "".join(current)
        raise ConfigError(directive or "configuration", f"a {quote} quote is not closed",
                          f"close the quote with {quote} on the same line", source, line)
    if in_word:
        words.append("".join(current))
    return words


def statements(text: str, source: str = "<config>") -> Iterator[Statement]:
    """The directives of a configuration text, comments and blank lines left out."""
    # Only LF (and CRLF) end a line: str.splitlines would also split on characters such as
    # U+2028 inside a quoted value.
    lines = text.replace("\r\n", "\n").split("\n")
    index = 0
    while index < len(lines):
        first_line = index + 1
        logical = lines[index]
        index += 1
        if logical.lstrip().startswith("#"):
            continue
        # A trailing backslash joins the next line; a space keeps the two lines' words apart.
        while logical.rstrip().endswith("\\") and index < len(lines):
            logical = logical.rstrip()[:-1] + " " + lines[index]
            index += 1
        if logical.rstrip().endswith("\\"):
            logical = logical.rstrip()[:-1]
        words = split_words(logical, source, first_line)
        if words:
            yield Statement(words, first_line)


def quote_argument(value: str) -> str:
    """`value` written so that split_words gives it back unchanged (for generated files)."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"a directive argument cannot contain a line break: {value!r}")
    if value and not any(ch.isspace() or ch in "\"'\\#" for ch in value):
        return value
    return "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\""


def format_directive(name: str, *args: str) -> str:
    """One directive line, each argument quoted as needed."""
    return " ".join([name, *(quote_argument(arg) for arg in args)])


# -- directives --------------------------------------------------------------------------------

class _Builder:
    """Collects the directives of one file and resolves them into a Config."""

    def __init__(self, source: str, running_ids: Optional[Tuple[int, int]]):
        self.source = source
        self.running_ids = running_ids
        self.apache_ids: Optional[Tuple[int, int]] = None
        self.apache: Optional[ApacheServer] = None
        self.socket_prefix: Optional[str] = None
        self.callable_object = DEFAULT_CALLABLE
        self.default_group: Optional[Tuple[str, int]] = None   # WSGIDefaultGroup, its line
        self.handler_scripts: List[Tuple[HandlerScript, int]] = []
        self.hook_directories: List[str] = []
        self.groups: Dict[str, DaemonGroup] = {}
        self.group_lines: Dict[str, int] = {}
        self.sockets: Dict[str, Tuple[str, int]] = {}
        self.aliases: List[Tuple[ScriptAlias, int]] = []
        self.import_scripts: List[Tuple[ImportScript, int]] = []
        self.hook_scripts: List[Tuple[HookScript, int]] = []
        self.seen_once: Dict[str, int] = {}
        self.server: Dict[str, object] = {}     # ServerSettings field -> value
        self.python_warnings: List[str] = []

    def error(self, statement: Statement, problem: str, fix: str,
              directive: Optional[str] = None) -> ConfigError:
        return ConfigError(directive or statement.name, problem, fix, self.source, statement.line)

    def expect_args(self, statement: Statement, count: int, usage: str) -> List[str]:
        args = statement.words[1:]
        if len(args) != count:
            plural = "s" if count != 1 else ""
            raise self.error(statement, f"takes {count} argument{plural}, got {len(args)}",
                             f"write {usage}")
        return args

    def only_once(self, statement: Statement) -> None:
        earlier = self.seen_once.get(statement.name)
        if earlier is not None:
            raise self.error(statement, f"appears twice (first on line {earlier})",
                             "keep one of the two lines")
        self.seen_once[statement.name] = statement.line

    # Directives that apply to the whole file, read before the others.

    def apache_user(self, statement: Statement) -> None:
        self.only_once(statement)
        uid_text, gid_text = self.expect_args(statement, 2, "WSGIApacheUser UID GID, "
                                                            "e.g. WSGIApacheUser 33 33")
        try:
            uid = lookup_user(uid_text)
            gid = lookup_group(gid_text)
        except InvalidValue as bad:
            raise self.error(statement, f"the Apache user or group {bad.problem}",
                             bad.fix or "write WSGIApacheUser UID GID with an existing user "
                                        "and group, e.g. WSGIApacheUser 33 33") from None
        self.apache_ids = (uid, gid)

    def socket_prefix_directive(self, statement: Statement) -> None:
        self.only_once(statement)
        (prefix,) = self.expect_args(statement, 1, "WSGISocketPrefix PATH")
        if not prefix.startswith("/"):
            raise self.error(statement, f"the socket prefix '{prefix}' is not an absolute path",
                             "write the full path, e.g. WSGISocketPrefix /run/wsgid/app")
        self.socket_prefix = prefix

    def default_group_directive(self, statement: Statement) -> None:
        """WSGIDefaultGroup NAME (written by mod_wsgid, docs/porting.md): NAME serves what
        mod_wsgi would run inside Apache, so it may load every script of the file."""
        self.only_once(statement)
        (name,) = self.expect_args(statement, 1, "WSGIDefaultGroup GROUP")
        self.default_group = (name, statement.line)

    def callable_object_directive(self, statement: Statement) -> None:
        self.only_once(statement)
        (name,) = self.expect_args(statement, 1, "WSGICallableObject NAME")
        if not is_callable_name(name):
            raise self.error(statement, f"'{name}' is not a Python identifier",
                             "name the callable in the script, e.g. WSGICallableObject "
                             "application")
        self.callable_object = name

    def server_setting(self, statement: Statement) -> None:
        """One of SERVER_DIRECTIVES: one argument, converted by its kind. Given again, the
        later line wins, as in Apache (and mod_wsgi): a distribution's default and a site's
        own setting may both be in the configuration."""
        attribute, kind, usage = SERVER_DIRECTIVES[statement.name]
        (raw,) = self.expect_args(statement, 1, f"{statement.name} {usage}")
        try:
            self.server[attribute] = kind.convert(raw)
        except InvalidValue as bad:
            raise self.error(statement, f"the value {bad.problem}",
                             bad.fix or f"write {statement.name} {usage}, e.g. "
                                        f"{statement.name} {SERVER_EXAMPLES[statement.name]}"
                             ) from None

    def log_level_directive(self, statement: Statement) -> None:
        """LogLevel LEVEL [MODULE:LEVEL ...], as in Apache: the level of the wsgi module's
        lines (mod_wsgid writes the one Apache gives it; a later line wins)."""
        usage = "LogLevel LEVEL [wsgi:LEVEL], e.g. LogLevel info or LogLevel warn wsgi:debug"
        if len(statement.words) < 2:
            raise self.error(statement, "takes a level", f"write {usage}")
        try:
            self.server["log_level"] = parse_log_level(" ".join(statement.words[1:]))
        except ValueError as bad:
            raise self.error(statement, f"the value {bad}",
                             f"write {usage}; the levels are emerg, alert, crit, error, warn, "
                             "notice, info, debug and trace1 to trace8") from None

    def error_log_format_directive(self, statement: Statement) -> None:
        """ErrorLogFormat FORMAT, as in Apache: the shape of wsgid's lines (log_format.py). The
        once-per-connection and once-per-request formats (`ErrorLogFormat connection|request
        FORMAT`) are about Apache's own connections: accepted, not used."""
        usage = 'ErrorLogFormat "[%{u}t] [%-m:%l] [pid %P] [R:%L] %M"'
        args = statement.words[1:]
        if len(args) == 2 and args[0].lower() in ("connection", "request"):
            return
        if len(args) != 1:
            raise self.error(statement, f"takes one format, got {len(args)} arguments",
                             f"quote the format: {usage}")
        try:
            parse_log_format(args[0])
        except ValueError as bad:
            raise self.error(statement, f"the format '{args[0]}' is wrong: {bad}",
                             f"write it as for Apache, e.g. {usage}") from None
        self.server["error_log_format"] = args[0]

    def apache_server(self, statement: Statement) -> None:
        """WSGIApacheServer DESCRIPTION VERSION MPM BUILD-DATE PROCESSES THREADS, written by
        mod_wsgid."""
        self.only_once(statement)
        usage = ('WSGIApacheServer "Apache/2.4.57 (Debian)" 2.4.57 event '
                 '"2023-10-21T13:41:49" 16 25')
        description, version, mpm, built, processes, threads = self.expect_args(
            statement, 6, usage)
        parts = version.split(".")
        if len(parts) != 3 or not all(part.isdigit() for part in parts) \
                or not processes.isdigit() or not threads.isdigit():
            raise self.error(statement, f"'{version} {processes} {threads}' is not a version "
                                        "and two counts", f"write {usage}")
        self.apache = ApacheServer(description, tuple(int(part) for part in parts), mpm, built,
                                   int(processes), int(threads))

    def python_warnings_directive(self, statement: Statement) -> None:
        # May repeat, as -W may: the filters apply in file order, the last one winning.
        (spec,) = self.expect_args(statement, 1, "WSGIPythonWarnings "
                                                 "ACTION[:MESSAGE[:CATEGORY[:MODULE[:LINE]]]]")
        problem = warning_option_problem(spec)
        if problem is not None:
            raise self.error(statement, f"'{spec}' is not a warning filter: {problem}",
                             "write it as for python -W, e.g. WSGIPythonWarnings "
                             "ignore::DeprecationWarning")
        self.python_warnings.append(spec)

    def server_settings(self) -> ServerSettings:
        return ServerSettings(python_warnings=tuple(self.python_warnings), **self.server)

    # Directives read once the file-wide ones are known.

    def daemon_process(self, statement: Statement) -> None:
        name, values = parse_daemon_process(statement.words[1:], self.source, statement.line,
                                            apache_ids=self.apache_ids,
                                            running_ids=self.running_ids,
                                            defaults=self.server_settings().group_defaults())
        if name in self.groups:
            raise self.error(statement, f"the group '{name}' is already defined on line "
                                        f"{self.group_lines[name]}",
                             "give each WSGIDaemonProcess its own name")
        explicit = frozenset(word.partition("=")[0] for word in statement.words[2:])
        socket_uid = values["socket-user"]
        if socket_uid is None:
            socket_uid = self.apache_ids[0] if self.apache_ids is not None else os.getuid()
        self.groups[name] = DaemonGroup(name=name, options=values, socket_path=None,
                                        socket_uid=socket_uid, uid=values["user"],
                                        gid=values["group"], explicit=explicit)
        self.group_lines[name] = statement.line

    def daemon_socket(self, statement: Statement) -> None:
        name, path = self.expect_args(statement, 2, "WSGIDaemonSocket GROUP PATH")
        directive = f"WSGIDaemonSocket {name}"
        if name not in self.groups:
            raise self.error(statement, f"no WSGIDaemonProcess defines the group '{name}'",
                             self.defined_groups_fix(), directive)
        if name in self.sockets:
            raise self.error(statement, f"the group already has a socket (line "
                                        f"{self.sockets[name][1]})",
                             "keep one WSGIDaemonSocket line per group", directive)
        if not path.startswith("/"):
            raise self.error(statement, f"the socket path '{path}' is not absolute",
                             "write the full path of the socket", directive)
        self.sockets[name] = (path, statement.line)

    def script_alias(self, statement: Statement) -> None:
        self.add_alias(statement, is_match=False)

    def script_alias_match(self, statement: Statement) -> None:
        self.add_alias(statement, is_match=True)

    def handler_script(self, statement: Statement) -> None:
        usage = ("WSGIHandlerScript NAME SCRIPT [process-group=NAME] "
                 "[application-group=NAME]")
        args = statement.words[1:]
        if len(args) < 2 or "=" in args[0] or "=" in args[1]:
            raise self.error(statement, "the handler name and the script path are needed",
                             f"write {usage}")
        name, path, *extra = args
        self.check_script_file(statement, path)
        options = self.group_options(statement, extra)
        if options.get("application-group") is not None:
            self.check_application_group(statement, options["application-group"])
        self.handler_scripts.append((HandlerScript(
            name=name, path=path, process_group=options.get("process-group") or None,
            application_group=options.get("application-group")), statement.line))

    def hook_directory(self, statement: Statement) -> None:
        """WSGIHookDirectory DIR (written by mod_wsgid): .htaccess files in DIR may name
        WSGIAccessScript, WSGIAuthUserScript and WSGIAuthGroupScript scripts inside it."""
        (path,) = self.expect_args(statement, 1, "WSGIHookDirectory DIRECTORY")
        if not path.startswith("/"):
            raise self.error(statement, "the directory must be an absolute path",
                             "write WSGIHookDirectory /absolute/directory")
        self.hook_directories.append(path)

    def script_directory(self, statement: Statement) -> None:
        """WSGIScriptDirectory DIR [process-group=NAME] (written by mod_wsgid from the
        <Directory> sections where handler-mapped scripts may run, docs/porting.md): the scripts
        inside DIR, by real path, are configured scripts like those of a directory alias."""
        args = statement.words[1:]
        usage = "WSGIScriptDirectory DIRECTORY [process-group=NAME]"
        if not args or not args[0].startswith("/"):
            raise self.error(statement, "the first argument must be an absolute directory",
                             f"write {usage}")
        path, *extra = args
        options = self.group_options(statement, extra, ("process-group",))
        if not os.path.isdir(path):
            # Apache accepts a <Directory> that does not exist; nothing can be loaded from it.
            return
        self.aliases.append((ScriptAlias(url="", target=path,
                                         process_group=options.get("process-group") or None,
                                         application_group=None, is_dir=True,
                                         is_handler_directory=True), statement.line))

    def add_alias(self, statement: Statement, is_match: bool) -> None:
        args = statement.words[1:]
        first = "REGEX" if is_match else "URL"
        usage = (f"{statement.name} {first} TARGET [process-group=NAME] [application-group=NAME] "
                 "[callable-object=NAME] [pass-authorization=On|Off]")
        if len(args) < 2:
            raise self.error(statement, f"takes a {first} and a target, got {len(args)} "
                                        "argument(s)", f"write {usage}")
        url, target, *extra = args
        if not is_match and not url.startswith("/"):
            raise self.error(statement, f"the URL '{url}' does not start with '/'",
                             f"write the URL path where the application is mounted, e.g. "
                             f"WSGIScriptAlias / {target}")
        if not target.startswith("/"):
            raise self.error(statement, f"the target '{target}' is not an absolute path",
                             "write the full path of the WSGI script file")
        target_dir, target_paths = None, None
        if is_match:
            literal, target_paths = match_target(target)
            if target_paths is None:
                target = literal
            else:
                target_dir = literal[:literal.rfind("/")]
                if not target_dir:
                    raise self.error(statement, f"the target '{target}' substitutes into the "
                                                "root directory, so a URL could name any file",
                                     "put the $N part below the directory that holds the "
                                     "scripts, e.g. /srv/wsgi/$1.wsgi")
                if not os.path.isdir(target_dir):
                    raise self.error(statement, f"the directory '{target_dir}' of the target "
                                                f"'{target}' does not exist",
                                     "create it or correct the target")
        extra_path_info = ""
        if target_paths is None:
            if target.endswith("/") and os.path.isfile(target.rstrip("/")):
                # mod_wsgi serves the file (Review Board's `WSGIScriptAlias "/" ".../x.wsgi/"`):
                # mod_wsgid maps the URL to the file and the rest, like any file target.
                target = target.rstrip("/")
            if not os.path.exists(target):
                script = leading_file(target)
                if script is None:
                    raise self.error(statement, f"the WSGI script '{target}' does not exist",
                                     "create the script or correct the path")
                # As Apache's path walk: the file is the script, the rest is PATH_INFO.
                target, extra_path_info = script, target[len(script):]
        options = self.group_options(statement, extra, ALIAS_OPTIONS)
        callable_object = options.get("callable-object")
        if callable_object is not None and not is_callable_name(callable_object):
            raise self.error(statement, f"callable-object={callable_object} is not a Python "
                                        "identifier",
                             "name the callable in the script, e.g. callable-object=application")
        pass_authorization = None
        if "pass-authorization" in options:
            try:
                pass_authorization = ON_OFF.convert(options["pass-authorization"])
            except InvalidValue:
                raise self.error(statement, "pass-authorization= must be On or Off, got "
                                            f"'{options['pass-authorization']}'",
                                 "write pass-authorization=On or pass-authorization=Off"
                                 ) from None
        alias = ScriptAlias(url=url, target=target,
                            process_group=options.get("process-group"),
                            application_group=options.get("application-group"),
                            is_dir=target_paths is None and os.path.isdir(target),
                            is_match=is_match, target_dir=target_dir, target_paths=target_paths,
                            callable_object=callable_object,
                            pass_authorization=pass_authorization,
                            extra_path_info=extra_path_info)
        if alias.application_group is not None:
            self.check_application_group(statement, alias.application_group)
        self.aliases.append((alias, statement.line))

    def group_options(self, statement: Statement, words: List[str],
                      allowed: Tuple[str, ...] = ("process-group", "application-group")
                      ) -> Dict[str, str]:
        """The options of a script directive: process-group= and application-group=, and for
        the aliases also callable-object= and pass-authorization= (`allowed`)."""
        options: Dict[str, str] = {}
        for word in words:
            key, sep, value = word.partition("=")
            if key not in allowed or not sep:
                raise self.error(statement, f"unknown option '{word}'",
                                 "the options are " + ", ".join(
                                     f"{name}={_OPTION_VALUES.get(name, 'NAME')}"
                                     for name in allowed))
            if key in options:
                raise self.error(statement, f"option '{key}' is given twice", f"keep one {key}=")
            options[key] = value
        return options

    def check_application_group(self, statement: Statement, value: str) -> None:
        if value == "":
            raise self.error(statement, "application-group= is empty",
                             "write application-group=%{GLOBAL} or a name")
        # Any other value is a name: a `%{...}` that is none of the expansions
        # (`%{GROUP}`, written for `%{GLOBAL}`) is a literal name, as in
        # mod_wsgi, and mod_wsgid sends it to the daemons unexpanded.

    def import_script(self, statement: Statement) -> None:
        usage = "WSGIImportScript SCRIPT process-group=NAME application-group=%{GLOBAL}"
        args = statement.words[1:]
        if not args or args[0].partition("=")[0] in ("process-group", "application-group"):
            raise self.error(statement, "the script path is missing", f"write {usage}")
        path, *extra = args
        options = self.group_options(statement, extra)
        for key, value in options.items():
            if not value:
                raise self.error(statement, f"{key}= is empty", f"write {usage}")
        for key, what in (("process-group", "the daemon group whose processes load the script"),
                          ("application-group", "the application group the script is loaded "
                                                "into")):
            if key not in options:
                # As in mod_wsgi: both are required, nothing is guessed.
                raise self.error(statement, f"{key}= is missing", f"name {what}: write {usage}")
        application_group = options["application-group"]
        if is_request_expansion(application_group):
            raise self.error(statement, f"application-group={application_group} is not "
                                        "supported here: an import script is loaded when the "
                                        "process starts, before any request could expand it",
                             "write application-group=%{GLOBAL} or a plain name")
        self.check_script_file(statement, path)
        script = ImportScript(path=path, process_group=options["process-group"],
                              application_group=application_group)
        self.import_scripts.append((script, statement.line))

    def check_script_file(self, statement: Statement, path: str) -> None:
        """The script of WSGIImportScript or a hook directive is an existing file."""
        if not path.startswith("/"):
            raise self.error(statement, f"the script '{path}' is not an absolute path",
                             "write the full path of the script file")
        if not os.path.isfile(path):
            problem = "is a directory" if os.path.isdir(path) else "does not exist"
            raise self.error(statement, f"the script '{path}' {problem}",
                             "name an existing Python script file, or correct the path")

    def hook_script(self, statement: Statement) -> None:
        usage = f"{statement.name} SCRIPT [process-group=NAME] [application-group=NAME]"
        args = statement.words[1:]
        if not args or args[0].partition("=")[0] in ("process-group", "application-group"):
            raise self.error(statement, "the script path is missing", f"write {usage}")
        path, *extra = args
        options = self.group_options(statement, extra)
        if options.get("process-group") == "":
            raise self.error(statement, "process-group= is empty",
                             "name the daemon group that runs the script, or leave the option "
                             "out to let any group run it")
        if "application-group" in options:
            self.check_application_group(statement, options["application-group"])
        self.check_script_file(statement, path)
        script = HookScript(directive=statement.name, path=path,
                            process_group=options.get("process-group"),
                            application_group=options.get("application-group"))
        self.hook_scripts.append((script, statement.line))

    def defined_groups_fix(self) -> str:
        if self.groups:
            names = ", ".join(self.groups)
            return f"name one of the defined groups ({names}) or add a WSGIDaemonProcess for it"
        return "add a WSGIDaemonProcess line that defines the group"

    # Cross-checks once everything is read.

    def finish(self) -> Config:
        for alias, line in self.aliases:
            group_name = alias.process_group
            if group_name is None or group_name in self.groups:
                continue
            if group_name.startswith("%{ENV:") and group_name.endswith("}"):
                # mod_wsgid picks the group per request (and checks it is one this server may
                # use): any group may be asked to serve the alias.
                alias.process_group = None
                continue
            where = Statement([alias.directive], line)
            if group_name.startswith("%{"):
                raise self.error(where, f"process-group={group_name} is not supported",
                                 "name a WSGIDaemonProcess group: wsgid runs every application "
                                 "in a daemon group (there is no embedded mode)")
            raise self.error(where, f"process-group={group_name} names no defined group",
                             self.defined_groups_fix())
        if self.default_group is not None and self.default_group[0] not in self.groups:
            raise self.error(Statement(["WSGIDefaultGroup"], self.default_group[1]),
                             f"the group '{self.default_group[0]}' is not defined",
                             f"define it with WSGIDaemonProcess {self.default_group[0]}")
        for handler, line in self.handler_scripts:
            if handler.process_group is not None and handler.process_group not in self.groups:
                raise self.error(Statement(["WSGIHandlerScript"], line),
                                 f"process-group={handler.process_group} names no defined "
                                 "group", self.defined_groups_fix())
        self.check_import_scripts()
        self.check_service_groups()
        hook_scripts = self.checked_hook_scripts()
        paths: Dict[str, str] = {}
        for name, group in self.groups.items():
            group.socket_path = self.socket_path_for(name)
            other = paths.get(group.socket_path)
            if other is not None:
                raise ConfigError(f"WSGIDaemonSocket {name}",
                                  f"the groups '{other}' and '{name}' share the socket "
                                  f"'{group.socket_path}'",
                                  "give each group its own socket path", self.source,
                                  self.sockets.get(name, (None, self.group_lines[name]))[1])
            paths[group.socket_path] = name
        # a group socket where another group's health socket goes (health.py) could not be bound
        for name, group in self.groups.items():
            other = paths.get(health_socket_path(group.socket_path))
            if other is not None:
                raise ConfigError(f"WSGIDaemonSocket {other}",
                                  f"the socket '{self.groups[other].socket_path}' of group "
                                  f"'{other}' is where the health socket of group '{name}' goes",
                                  "give the group a socket path that does not end in .hc",
                                  self.source,
                                  self.sockets.get(other, (None, self.group_lines[other]))[1])
        return Config(groups=self.groups, aliases=[alias for alias, _ in self.aliases],
                      apache_uid=self.apache_ids[0] if self.apache_ids else None,
                      apache_gid=self.apache_ids[1] if self.apache_ids else None,
                      socket_prefix=self.socket_prefix, callable_object=self.callable_object,
                      source=self.source,
                      import_scripts=[script for script, _ in self.import_scripts],
                      hook_scripts=hook_scripts, server=self.server_settings(),
                      default_group=self.default_group[0] if self.default_group else None,
                      handler_scripts=[script for script, _ in self.handler_scripts],
                      hook_directories=list(self.hook_directories), apache=self.apache)

    def check_import_scripts(self) -> None:
        for script, line in self.import_scripts:
            group_name = script.process_group
            if group_name in self.groups:
                continue
            where = Statement(["WSGIImportScript"], line)
            if group_name.startswith("%{"):
                raise self.error(where, f"process-group={group_name} is not supported",
                                 "name a WSGIDaemonProcess group: wsgid has no embedded mode, so "
                                 "an import script runs in a daemon group")
            raise self.error(where, f"process-group={group_name} names no defined group",
                             self.defined_groups_fix())

    def checked_hook_scripts(self) -> List[HookScript]:
        """The hook scripts with their groups checked, %{ENV:VAR} read as 'any group', and
        repeated lines kept once."""
        scripts: List[HookScript] = []
        for script, line in self.hook_scripts:
            group_name = script.process_group
            where = Statement([script.directive], line)
            if group_name is not None and group_name.startswith("%{"):
                if not (group_name.startswith("%{ENV:") and group_name.endswith("}")):
                    raise self.error(where, f"process-group={group_name} is not supported",
                                     "name a WSGIDaemonProcess group, or %{ENV:VARIABLE}: wsgid "
                                     "runs hook scripts in a daemon group (there is no embedded "
                                     "mode)")
                # mod_wsgid picks the group per request: any group may be asked to run it.
                script = HookScript(script.directive, script.path, None,
                                    script.application_group)
            elif group_name is not None and group_name not in self.groups:
                raise self.error(where, f"process-group={group_name} names no defined group",
                                 self.defined_groups_fix())
            elif group_name is not None and self.groups[group_name].options["threads"] == 0:
                raise self.error(where, f"process-group={group_name} names a service group "
                                        "(threads=0), which has no request threads to run "
                                        "hook calls",
                                 "name a group with threads, or give "
                                 f"'{group_name}' request threads")
            if script not in scripts:
                scripts.append(script)
        return scripts

    def check_service_groups(self) -> None:
        """A threads=0 group runs its import scripts and nothing else (docs/configuration.md)."""
        for name, group in self.groups.items():
            if group.options["threads"] != 0:
                continue
            where = Statement(["WSGIDaemonProcess"], self.group_lines[name])
            scripts = [(s, line) for s, line in self.import_scripts if s.process_group == name]
            if not scripts:
                raise self.error(where, f"threads=0 makes '{name}' a service group, which "
                                        "serves no requests and runs its WSGIImportScript "
                                        "scripts, but no WSGIImportScript names it: the group "
                                        "has nothing to run",
                                 f"add WSGIImportScript SCRIPT process-group={name} "
                                 "application-group=%{GLOBAL}, or give the group request "
                                 "threads (threads=15)", f"WSGIDaemonProcess {name}")
            for script, line in scripts:
                if script.application_group != GLOBAL_APPLICATION_GROUP:
                    raise self.error(Statement(["WSGIImportScript"], line),
                                     f"application-group={script.application_group} in the "
                                     f"service group '{name}' (threads=0): a service script "
                                     "runs in the main interpreter",
                                     "write application-group=%{GLOBAL}")
            for alias, line in self.aliases:
                if alias.process_group == name:
                    raise self.error(Statement([alias.directive], line),
                                     f"process-group={name} (from the alias or the "
                                     "WSGIProcessGroup of its server) sends requests to a "
                                     "service group (threads=0), which has no request threads "
                                     "to serve them",
                                     "delegate the alias to a group with threads, or give "
                                     f"'{name}' request threads")

    def socket_path_for(self, name: str) -> str:
        """The group's socket: its WSGIDaemonSocket, else `<WSGISocketPrefix>.<NAME>.sock`."""
        if name in self.sockets:
            path, line = self.sockets[name]
            directive, fix = f"WSGIDaemonSocket {name}", "use a shorter WSGISocketPrefix"
        elif self.socket_prefix is not None:
            path = f"{self.socket_prefix}.{name}{GROUP_SOCKET_SUFFIX}"
            line = self.seen_once["WSGISocketPrefix"]
            directive, fix = "WSGISocketPrefix", "use a shorter WSGISocketPrefix (or group name)"
        else:
            raise ConfigError(f"WSGIDaemonProcess {name}", "the group has no socket",
                              f"add WSGIDaemonSocket {name} PATH, or WSGISocketPrefix PATH "
                              f"(the socket is then PATH.{name}.sock)", self.source,
                              self.group_lines[name])
        length = len(os.fsencode(path))
        if length > SOCKET_PATH_MAX:
            raise ConfigError(directive, f"the socket path '{path}' of group '{name}' is "
                                         f"{length} bytes, longer than the limit of "
                                         f"{SOCKET_PATH_MAX}", fix, self.source, line)
        twin = health_socket_path(path)
        if len(os.fsencode(twin)) > SOCKET_PATH_MAX:
            # only a path that does not end in .sock has a longer twin
            raise ConfigError(directive, f"the health socket '{twin}' of group '{name}' would "
                                         f"be {len(os.fsencode(twin))} bytes, longer than the "
                                         f"limit of {SOCKET_PATH_MAX}",
                                         "end the socket path in .sock (its health socket "
                                         "then replaces .sock with .hc), or shorten it",
                                         self.source, line)
        return path


def _convert_hash_seed(raw: str) -> str:
    # what PYTHONHASHSEED accepts (mod_wsgi's range), as the text to put there
    if raw.lower() == "random":
        return "random"
    if not raw.isdigit() or int(raw) > 4294967295:
        raise InvalidValue(f"must be {HASH_SEED.describe}, got '{raw}'")
    return str(int(raw))


HASH_SEED = Kind("'random' or a whole number from 0 to 4294967295", _convert_hash_seed)


# Server-wide directives of mod_wsgi that mod_wsgid passes on as written:
# name -> (ServerSettings field, kind of its one argument, usage).
SERVER_DIRECTIVES: Dict[str, Tuple[str, Kind, str]] = {
    "WSGIPythonHome": ("python_home", PYTHON_HOME, "DIRECTORY"),
    "WSGIPythonOptimize": ("python_optimize", whole_number(0, 2), "0|1|2"),
    "WSGIPythonHashSeed": ("python_hash_seed", HASH_SEED, "random|NUMBER"),
    "WSGIDontWriteBytecode": ("dont_write_bytecode", ON_OFF, "On|Off"),
    "WSGIRestrictStdin": ("restrict_stdin", ON_OFF, "On|Off"),
    "WSGIRestrictStdout": ("restrict_stdout", ON_OFF, "On|Off"),
    "WSGIRestrictSignal": ("restrict_signal", ON_OFF, "On|Off"),
    "WSGIDestroyInterpreter": ("destroy_interpreter", ON_OFF, "On|Off"),
    "WSGIVerboseDebugging": ("verbose_debugging", ON_OFF, "On|Off"),
    "WSGIServerMetrics": ("server_metrics", ON_OFF, "On|Off"),
    "WSGINewRelicConfigFile": ("newrelic_config_file", ABSOLUTE_PATH, "PATH"),
    "WSGINewRelicEnvironment": ("newrelic_environment", TEXT, "NAME"),
    "WSGICaseSensitivity": ("case_sensitivity", ON_OFF, "On|Off"),
    "WSGIAcceptMutex": ("accept_mutex", TEXT, "NAME"),
    "ErrorLog": ("error_log", ABSOLUTE_PATH, "PATH"),
}
SERVER_EXAMPLES = {
    **{name: "On" for name, (_, kind, _) in SERVER_DIRECTIVES.items() if kind is ON_OFF},
    "WSGIPythonHome": "/srv/venv", "WSGIPythonOptimize": "1", "WSGIPythonHashSeed": "random",
    "WSGINewRelicConfigFile": "/etc/newrelic.ini", "WSGINewRelicEnvironment": "production",
    "WSGIAcceptMutex": "default", "ErrorLog": "/var/log/wsgid/error.log",
}

_WARNING_ACTIONS = ("default", "always", "ignore", "module", "once", "error")


def warning_option_problem(spec: str) -> Optional[str]:
    """Why `spec` is not a -W option Python would accept, or None. A dotted category is not
    imported here (that would run application code in the supervisor): the daemon checks it."""
    parts = spec.split(":")
    if len(parts) > 5:
        return "it has more than 5 fields"
    action = parts[0].strip()
    if not any(known.startswith(action) for known in _WARNING_ACTIONS):
        return f"'{action}' is not an action ({', '.join(_WARNING_ACTIONS)})"
    category = parts[2].strip() if len(parts) > 2 else ""
    if category and "." not in category:
        import builtins
        found = getattr(builtins, category, None)
        if not (isinstance(found, type) and issubclass(found, Warning)):
            return f"'{category}' is not a built-in warning category"
    lineno = parts[4].strip() if len(parts) > 4 else ""
    if lineno and not lineno.isdigit():
        return f"the line number '{lineno}' is not a whole number >= 0"
    return None


# Canonical spelling, in the order the builder reads them (file-wide ones first).
_FILE_WIDE = {
    "WSGIApacheUser": _Builder.apache_user,
    "WSGIApacheServer": _Builder.apache_server,
    "LogLevel": _Builder.log_level_directive,
    "ErrorLogFormat": _Builder.error_log_format_directive,
    "WSGISocketPrefix": _Builder.socket_prefix_directive,
    "WSGICallableObject": _Builder.callable_object_directive,
    "WSGIPythonWarnings": _Builder.python_warnings_directive,
    **{directive: _Builder.server_setting for directive in SERVER_DIRECTIVES},
}
_PER_GROUP = {
    "WSGIDaemonProcess": _Builder.daemon_process,
    "WSGIDaemonSocket": _Builder.daemon_socket,
    "WSGIScriptAlias": _Builder.script_alias,
    "WSGIScriptAliasMatch": _Builder.script_alias_match,
    "WSGIImportScript": _Builder.import_script,
    "WSGIDefaultGroup": _Builder.default_group_directive,
    "WSGIScriptDirectory": _Builder.script_directory,
    "WSGIHandlerScript": _Builder.handler_script,
    "WSGIHookDirectory": _Builder.hook_directory,
    **{directive: _Builder.hook_script for directive in HOOK_DIRECTIVES},
}
DIRECTIVES: Tuple[str, ...] = tuple(_FILE_WIDE) + tuple(_PER_GROUP)
_CANONICAL = {name.lower(): name for name in DIRECTIVES}


def parse(text: str, source: str = "<config>", *,
          running_ids: Optional[Tuple[int, int]] = None) -> Config:
    """Parse and validate a daemon configuration text. Raises ConfigError.

    `running_ids` is the supervisor's (euid, egid), by default this process's; tests pass
    another to check what a non-root supervisor would be told.
    """
    builder = _Builder(source, running_ids)
    ordered: List[Statement] = []
    origins: Dict[int, Tuple[str, int]] = {}
    pending_origin: Optional[Tuple[str, int]] = None
    for statement in statements(text, source):
        if statement.name.lower() == ORIGIN_DIRECTIVE.lower():
            pending_origin = _origin(statement, source)
            continue
        if pending_origin is not None:
            origins[statement.line] = pending_origin
            pending_origin = None
        canonical = _CANONICAL.get(statement.name.lower())
        if canonical is None:
            raise ConfigError(statement.name, "is not a directive of the daemon configuration "
                                              "file",
                              "the file may contain only " + ", ".join(DIRECTIVES)
                              + " (Apache-only directives belong in Apache's configuration)",
                              source, statement.line)
        # Directive names are case-insensitive in Apache; messages use the canonical spelling.
        statement.words[0] = canonical
        ordered.append(statement)
    try:
        for table in (_FILE_WIDE, _PER_GROUP):
            for statement in ordered:
                handler: Optional[Callable[[_Builder, Statement], None]] = table.get(statement.name)
                if handler is not None:
                    handler(builder, statement)
        return builder.finish()
    except ConfigError as error:
        # A generated file names where the user wrote each directive: point there instead.
        if error.source == source and error.line in origins:
            error.source, error.line = origins[error.line]
            error.args = (error.message(),)
        raise


# `WSGIConfigOrigin FILE:LINE` (generated files only): the next directive was written at
# FILE:LINE of Apache's configuration, so that messages name the user's file, not this one.
ORIGIN_DIRECTIVE = "WSGIConfigOrigin"


def _origin(statement: Statement, source: str) -> Tuple[str, int]:
    args = statement.words[1:]
    place, _, line = args[0].rpartition(":") if len(args) == 1 else ("", "", "")
    if not place or not line.isdigit():
        raise ConfigError(ORIGIN_DIRECTIVE, f"takes one FILE:LINE argument, got {args!r}",
                          "write e.g. WSGIConfigOrigin /etc/apache2/sites-enabled/site.conf:12",
                          source, statement.line)
    return place, int(line)


def load(path, *, running_ids: Optional[Tuple[int, int]] = None) -> Config:
    """Read and parse a daemon configuration file. Raises ConfigError, also when unreadable."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError("wsgid configuration", f"cannot read {source}: {exc.strerror}",
                          "check the path and that the supervisor's user may read the file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("wsgid configuration",
                          f"{source} is not UTF-8 text (byte {exc.start})",
                          "save the file as UTF-8")
    return parse(text, source, running_ids=running_ids)


def check_file(path) -> int:
    """`wsgid check-config FILE`: 0 if the file is valid, else 1 with one message on stderr."""
    try:
        load(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0
