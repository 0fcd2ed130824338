"""From start-server's option values to ServerSettings: defaults worked out, combinations checked.

Rules:
- resolve_settings() checks every value that settings.py's click types could not check alone
  (paths that must exist, names that become part of the configuration, options that depend on
  each other) and raises SettingsError with one message that names the option and the fix.
- It reads the file system but writes nothing: serverroot.py acts on its result.
- Every path in ServerSettings is absolute; every name in it is one that httpd.conf and the
  generated files can hold as it is (render.py still quotes paths).
"""

from __future__ import annotations

import grp
import importlib.util
import ipaddress
import keyword
import locale
import os
import pwd
import re
import shutil
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from wsgid import paths
from wsgid.errors import ConfigError
from wsgid.express.settings import DEFAULTS, EXPRESS_DAEMON_FLAGS, MPMS
from wsgid.log_format import parse as parse_log_format
from wsgid.options import OPTION_BY_NAME, SECONDS_MAX, check_group_name

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
WELCOME_SCRIPT = os.path.join(PACKAGE_DIR, "welcome.wsgi")

# Who the Apache children and the daemons run as when start-server runs as root and no --user is
# given: the first of these that exists (Debian/Ubuntu, then RHEL/Fedora, then the fallback).
ROOT_DEFAULT_USERS = ("www-data", "apache", "nobody")

# Addresses that mean "every interface": the printed URL then names localhost instead.
WILDCARD_HOSTS = ("0.0.0.0", "::", "*")

# The daemon options start-server writes into the application's WSGIDaemonProcess: (the
# command line's dest, the option's name there), in the table's order.
DAEMON_OPTIONS = tuple((flag.replace("-", "_"), option)
                       for flag, option, _, _ in EXPRESS_DAEMON_FLAGS) + (
    ("python_eggs", "python-eggs"), ("newrelic_config_file", "newrelic-config-file"),
    ("newrelic_environment", "newrelic-environment"))

SERVICE_GROUP_PREFIX = "service:"

# URL paths of --url-alias: what a path segment may hold without percent-encoding.
URL_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+/?")
SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
# fnmatch characters: a file alias is granted with <Files NAME>, where they would be patterns.
WILDCARD_CHARS = set("*?[]\\")


class SettingsError(Exception):
    """A start-server option value that cannot work; str() is the whole message for the user."""


@dataclass(frozen=True)
class UrlAlias:
    url: str                 # starts with '/', no trailing '/' (unless it is a file's URL)
    path: str                # absolute
    is_directory: bool


@dataclass(frozen=True)
class Https:
    """--https-port and what goes with it; every path absolute and existing."""

    port: int
    certificate: str
    key: str
    chain: Optional[str] = None
    ca_certificates: Optional[str] = None     # client certificates are asked for
    verify_client_urls: tuple = ()            # only under these URLs (else everywhere)
    environment: bool = False                 # SSLOptions +StdEnvVars
    only: bool = False                        # plain HTTP redirects to HTTPS
    hsts_policy: Optional[str] = None


@dataclass(frozen=True)
class ServiceScript:
    name: str
    path: str                # absolute
    run_user: Optional[str] = None     # --service-user (root only); None: the server's
    run_group: Optional[str] = None    # --service-group
    log_file: Optional[str] = None     # --service-log-file: a file name in the log directory

    @property
    def group(self) -> str:
        return SERVICE_GROUP_PREFIX + self.name


@dataclass(frozen=True)
class Debugging:
    """--debug-mode and the tools that imply it (wsgid/debugging.py); directories absolute,
    set when their tool is on."""

    debugger: bool = False
    debugger_startup: bool = False
    profiler_directory: Optional[str] = None
    coverage_directory: Optional[str] = None
    recorder_directory: Optional[str] = None
    gdb_executable: Optional[str] = None    # set when --enable-gdb


# What --debug-mode sets aside of the application group's options, as mod_wsgi-express's debug
# mode does (its application runs inside a single Apache process there): nothing may end or
# recycle a process or a request while it waits at a pdb prompt.
DEBUG_MODE_SET_ASIDE = ("maximum-requests", "startup-timeout", "restart-interval",
                        "cpu-time-limit", "deadlock-timeout", "inactivity-timeout",
                        "request-timeout", "socket-timeout", "queue-timeout",
                        "response-socket-timeout")


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server root is generated from, with every default worked out."""

    script: str               # script and paste types: the absolute path (welcome.wsgi by
                              # default); module type: the dotted module name; static type:
                              # the document root
    application_type: str     # one of settings.APPLICATION_TYPES
    callable_object: str
    host: str
    port: int
    processes: int
    threads: int
    server_root: str
    socket_directory: str     # where the daemon sockets go (the server root by default)
    user: Optional[str]       # Apache User/Group: set only when running as root
    group: Optional[str]
    log_level: str
    working_directory: str    # the daemons' home=
    python_path: tuple        # the daemons' python-path= entries, in order
    daemon_options: tuple     # (option name, value) for WSGIDaemonProcess, in DAEMON_OPTIONS
                              # order, then lang= and locale=
    # Apache's Timeout, which mod_wsgi-express sets from --socket-timeout too (the group's own
    # socket-timeout= differs in debug mode)
    timeout: float = OPTION_BY_NAME["socket-timeout"].default
    compress_responses: bool = False
    server_metrics: bool = False
    # Apache's capacity: None where mod_wsgi-express works the value out (render.mpm_lines)
    max_clients: Optional[int] = None
    initial_workers: Optional[float] = None
    minimum_spare_workers: Optional[float] = None
    maximum_spare_workers: Optional[float] = None
    server_backlog: int = DEFAULTS["server_backlog"]
    keep_alive_timeout: int = DEFAULTS["keep_alive_timeout"]
    limit_request_body: int = DEFAULTS["limit_request_body"]
    request_read_timeout: str = ""    # mod_reqtimeout's RequestReadTimeout; "" none
    https: Optional[Https] = None
    server_name: Optional[str] = None   # name-based: only this host (and the aliases)
    server_aliases: tuple = ()
    allow_localhost: bool = False
    http2: bool = False
    # how requests are handled (mod_wsgid's and the core's directives)
    chunked_request: bool = False
    map_head_to_get: str = DEFAULTS["map_head_to_get"]
    error_override: bool = False
    error_documents: tuple = ()         # (status, document)
    trusted_proxy_headers: tuple = ()
    trusted_proxies: tuple = ()
    setenv: tuple = ()                  # (name, value)
    passenv: tuple = ()
    # logging
    access_log_format: str = DEFAULTS["access_log_format"]
    error_log_format: Optional[str] = None
    verbose_debugging: bool = False
    server_status: bool = False
    # hook scripts, run in the application's daemon group
    host_access_script: Optional[str] = None
    auth_user_script: Optional[str] = None
    auth_type: str = DEFAULTS["auth_type"]
    auth_group_script: Optional[str] = None
    auth_group: str = DEFAULTS["auth_group"]
    # where things are
    log_directory: Optional[str] = None    # None: the server root
    error_log_name: str = DEFAULTS["error_log_name"]
    access_log_name: str = DEFAULTS["access_log_name"]
    startup_log: bool = False
    startup_log_name: str = DEFAULTS["startup_log_name"]
    pid_file: Optional[str] = None         # None: httpd.pid in the server root
    httpd_executable: Optional[str] = None
    modules_directory: Optional[str] = None
    mime_types: Optional[str] = None       # None: one written into the server root
    process_name: Optional[str] = None
    disable_reloading: bool = False
    orphan_interpreter: bool = False       # WSGIDestroyInterpreter Off
    reload_on_changes: bool = False        # never with disable_reloading
    ignore_activity: tuple = ()            # URL paths
    include_files: tuple = ()              # absolute paths, included last
    document_root: Optional[str] = None
    url_aliases: tuple = ()   # UrlAlias
    docs_directory: Optional[str] = None   # --enable-docs: served at DOCS_URL
    mount_point: str = "/"                 # no trailing '/' (except the root itself)
    handlers: tuple = ()                   # (extension with its '.', absolute script path)
    rewrite_rules: Optional[str] = None
    directory_index: Optional[str] = None
    directory_listing: bool = False
    allow_override: tuple = ()             # AllowOverride words; () is None
    enable_sendfile: bool = False
    proxy_mount_points: tuple = ()         # (URL path, target URL)
    proxy_virtual_hosts: tuple = ()        # (host name, target URL)
    server_mpms: tuple = ()                # --server-mpm as given, () for any
    envvars_script: Optional[str] = None   # None: SERVER_ROOT/envvars
    shell_executable: str = "/bin/sh"
    rotate_logs: bool = False              # never with log_to_terminal
    max_log_size: int = DEFAULTS["max_log_size"]
    rotatelogs_executable: Optional[str] = None   # set when rotate_logs
    service_scripts: tuple = ()   # ServiceScript
    access_log: bool = False
    log_to_terminal: bool = False
    debugging: Optional[Debugging] = None   # None: not in debug mode

    @property
    def daemon_group(self) -> str:
        """The WSGIDaemonProcess group name (mod_wsgi-express names it the same way)."""
        return f"localhost:{self.port}"

    @property
    def has_application(self) -> bool:
        """False for --application-type static: Apache serves files and nothing else."""
        return self.application_type != "static"

    @property
    def has_daemon_group(self) -> bool:
        """The application's group runs when something needs Python: the application, a
        --add-handler script, or a hook script."""
        return (self.has_application or bool(self.handlers) or self.host_access_script
                is not None or self.auth_user_script is not None)

    @property
    def daemon_groups(self) -> tuple:
        """Every daemon group of the server: the application's, then the service scripts'."""
        return ((self.daemon_group,) if self.has_daemon_group else ()) + tuple(
            s.group for s in self.service_scripts)

    @property
    def serves_files(self) -> bool:
        return (self.document_root is not None or bool(self.url_aliases)
                or self.docs_directory is not None)

    @property
    def proxies_to_https(self) -> bool:
        """Whether a --proxy-* target is an https:// site (mod_ssl then speaks to it)."""
        return any(target.startswith("https:") for _, target in
                   self.proxy_mount_points + self.proxy_virtual_hosts)

    @property
    def maps_directories(self) -> bool:
        """Whether a directory URL of the document root is the directory's (its index page
        or listing) rather than the application's: as mod_wsgi-express decides it."""
        return self.directory_index is not None or not self.has_application

    @property
    def listen(self) -> str:
        """The argument of Apache's Listen directive."""
        return self.listen_on(self.port)

    def listen_on(self, port: int) -> str:
        """The argument of a Listen directive for `port` on --host."""
        if self.host == "*":
            return str(port)
        if ":" in self.host:
            return f"[{self.host}]:{port}"
        return f"{self.host}:{port}"

    @property
    def main_server_name(self) -> str:
        """The main server's ServerName (the virtual hosts of --server-name have their own)."""
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
                     uid: Optional[int] = None,
                     cwd: Optional[str] = None) -> ServerSettings:
    """Turn the command line (SCRIPT and the option values by dest) into ServerSettings."""
    uid = os.getuid() if uid is None else uid
    cwd = os.getcwd() if cwd is None else cwd
    entry_point = values.get("entry_point")
    if entry_point is not None:
        if script is not None and script != entry_point:
            raise SettingsError(f"SCRIPT {script} and --entry-point {entry_point} name two "
                                "applications: give one of them.")
        script = entry_point
    # no --host: every interface, as mod_wsgi-express listens (`Listen PORT`)
    host = "*" if values.get("host") is None else values["host"].strip()
    if not host or any(ch.isspace() for ch in host) or "/" in host:
        raise SettingsError(f"--host '{values['host']}' is not an address: give an IP address or "
                            "host name such as 127.0.0.1, or leave it out for every interface.")
    port = values["port"]
    server_root = os.path.abspath(values.get("server_root") or default_server_root(
        "localhost" if host == "*" else host, port, uid, environ))
    user, group = _apache_user_and_group(values.get("user"), values.get("group"), uid)

    application_type = values.get("application_type") or "script"
    document_root = values.get("document_root")
    welcome_page = script is None and application_type == "script"
    if application_type == "module":
        script = _module_name(script)
        beside = values.get("working_directory") or cwd
    elif application_type == "static":
        # mod_wsgi-express's order: --document-root, else SCRIPT, else the current directory
        document_root = document_root or script or cwd
        script = _existing_directory("SCRIPT (--application-type static)", document_root)
        beside = values.get("working_directory") or cwd
    else:
        script = _script_path(script, application_type)
        beside = os.path.dirname(script)
    working_directory = values.get("working_directory") or beside
    debugging = _debugging(values, server_root, application_type)
    daemon_options = tuple((option, values[dest]) for dest, option in DAEMON_OPTIONS
                           if values.get(dest) is not None)
    if debugging is not None:
        daemon_options = tuple((option, value) for option, value in daemon_options
                               if option not in DEBUG_MODE_SET_ASIDE) + (
                                   ("socket-timeout", SECONDS_MAX),)

    return ServerSettings(
        script=script,
        application_type=application_type,
        callable_object=_callable_object(values.get("callable_object") or "application"),
        host=host,
        port=port,
        processes=1 if debugging else values["processes"],
        threads=1 if debugging else values["threads"],
        server_root=server_root,
        socket_directory=os.path.abspath(values.get("socket_path") or server_root),
        user=user,
        group=group,
        log_level=values.get("log_level") or "warn",
        working_directory=working_directory,
        python_path=_python_path(beside, values.get("python_path") or ()),
        daemon_options=daemon_options + _locale_options(
            values.get("locale") or values.get("lang"), environ),
        timeout=values.get("socket_timeout") or OPTION_BY_NAME["socket-timeout"].default,
        compress_responses=bool(values.get("compress_responses")),
        server_metrics=bool(values.get("server_metrics")),
        max_clients=values.get("max_clients"),
        initial_workers=values.get("initial_workers"),
        minimum_spare_workers=values.get("minimum_spare_workers"),
        maximum_spare_workers=values.get("maximum_spare_workers"),
        server_backlog=values["server_backlog"],
        keep_alive_timeout=values["keep_alive_timeout"],
        limit_request_body=values["limit_request_body"],
        request_read_timeout=request_read_timeout(values),
        https=_https(values, port),
        server_name=_host_name("--server-name", values.get("server_name")),
        server_aliases=tuple(_host_name("--server-alias", alias, wildcards=True)
                             for alias in values.get("server_alias") or ()),
        allow_localhost=bool(values.get("allow_localhost")),
        http2=bool(values.get("http2")),
        chunked_request=bool(values.get("chunked_request")),
        map_head_to_get={"auto": "Auto", "on": "On", "off": "Off"}[
            values["map_head_to_get"].lower()],
        error_override=bool(values.get("error_override")),
        error_documents=_error_documents(values.get("error_document") or ()),
        trusted_proxy_headers=tuple(_token("--trust-proxy-header", header)
                                    for header in values.get("trust_proxy_header") or ()),
        trusted_proxies=tuple(_network(address) for address in values.get("trust_proxy") or ()),
        setenv=tuple((_env_name("--setenv", name), _text("--setenv " + name, value))
                     for name, value in values.get("setenv") or ()),
        passenv=tuple(_env_name("--passenv", name) for name in values.get("passenv") or ()),
        access_log_format=_text("--access-log-format", values["access_log_format"]),
        error_log_format=_error_log_format(values.get("error_log_format")),
        verbose_debugging=bool(values.get("verbose_debugging")),
        server_status=bool(values.get("server_status")),
        **_hook_scripts(values),
        log_directory=_absolute(values.get("log_directory")),
        error_log_name=_file_name("--error-log-name", values["error_log_name"]),
        access_log_name=_file_name("--access-log-name", values["access_log_name"]),
        startup_log=bool(values.get("startup_log")),
        startup_log_name=_file_name("--startup-log-name", values["startup_log_name"]),
        pid_file=_absolute(values.get("pid_file")),
        httpd_executable=_absolute(values.get("httpd_executable")),
        modules_directory=_absolute(values.get("modules_directory")),
        mime_types=_absolute(values.get("mime_types")),
        process_name=_text("--process-name", values["process_name"])
        if values.get("process_name") else None,
        # --disable-reloading (and debug mode) turns off every kind of reloading, as in
        # mod_wsgi-express
        disable_reloading=bool(values.get("disable_reloading")) or debugging is not None,
        reload_on_changes=bool(values.get("reload_on_changes"))
        and not values.get("disable_reloading") and debugging is None,
        ignore_activity=tuple(_url_path("--ignore-activity", url)
                              for url in values.get("ignore_activity") or ()),
        include_files=tuple(os.path.abspath(path) for path in values.get("include_file") or ()),
        document_root=_document_root(document_root),
        url_aliases=_url_aliases(values.get("url_alias") or ()),
        docs_directory=_docs_directory(values.get("enable_docs"), welcome_page=welcome_page),
        mount_point=_mount_point(values.get("mount_point") or "/"),
        handlers=_handlers(values.get("add_handler") or ()),
        rewrite_rules=_absolute(values.get("rewrite_rules")),
        directory_index=_file_name("--directory-index", values["directory_index"])
        if values.get("directory_index") else None,
        directory_listing=bool(values.get("directory_listing")),
        allow_override=_allow_override(values.get("allow_override") or ()),
        enable_sendfile=bool(values.get("enable_sendfile")),
        proxy_mount_points=_proxy_mount_points(values.get("proxy_mount_point") or ()),
        proxy_virtual_hosts=tuple(
            (_host_name("--proxy-virtual-host", host), _proxy_target(
                f"--proxy-virtual-host {host}", target))
            for host, target in values.get("proxy_virtual_host") or ()),
        server_mpms=tuple(values.get("server_mpm") or ()),
        envvars_script=_absolute(values.get("envvars_script")),
        shell_executable=_shell(values.get("shell_executable")),
        **_log_rotation(values),
        service_scripts=_service_scripts(values.get("service_script") or (),
                                         users=values.get("service_user") or (),
                                         groups=values.get("service_group") or (),
                                         log_files=values.get("service_log_file") or (),
                                         uid=uid),
        orphan_interpreter=bool(values.get("orphan_interpreter")),
        access_log=bool(values.get("access_log")),
        log_to_terminal=bool(values.get("log_to_terminal")),
        debugging=debugging,
    )


def _docs_directory(enabled: bool, *, welcome_page: bool) -> Optional[str]:
    """--enable-docs, which mod_wsgi-express also turns on for its welcome page (no SCRIPT)."""
    if not enabled and not welcome_page:
        return None
    found = paths.documentation_directory()
    if found is None and enabled:
        raise SettingsError("--enable-docs: wsgid's documentation is not installed with this "
                            "wsgid (no docs/ beside the package, nor share/doc/wsgid); install "
                            "wsgid from its source tree, or leave --enable-docs out.")
    return found


def _debugging(values: Mapping[str, Any], server_root: str,
               application_type: str) -> Optional[Debugging]:
    """Debug mode: asked for, or implied by a tool that needs it (as in mod_wsgi-express, where
    a tool's directory alone does nothing)."""
    tools = ("enable_debugger", "debugger_startup", "enable_profiler", "enable_coverage",
             "enable_recorder", "enable_gdb")
    if not values.get("debug_mode") and not any(values.get(tool) for tool in tools):
        return None
    named = "--debug-mode" if values.get("debug_mode") else "--" + next(
        tool for tool in tools if values.get(tool)).replace("_", "-")
    if application_type == "static":
        raise SettingsError(f"{named} debugs the application, and --application-type static "
                            "has none: leave one of them out.")
    if values.get("enable_coverage") and importlib.util.find_spec("coverage") is None:
        raise SettingsError(f"--enable-coverage needs coverage.py in the Python that runs the "
                            f"daemons ({paths.python_executable()}): install it there (pip "
                            "install coverage), or leave --enable-coverage out.")
    reports = [flag for flag in ("--enable-profiler", "--enable-coverage")
               if values.get(flag[2:].replace("-", "_"))]
    if reports and values.get("orphan_interpreter"):
        raise SettingsError(f"{reports[0]} writes its report as the daemon process ends, in an "
                            "atexit callback, which --orphan-interpreter skips: leave one of "
                            "them out.")

    gdb = None
    if values.get("enable_gdb"):
        gdb = os.path.abspath(values.get("gdb_executable") or shutil.which("gdb") or "gdb")
        if not os.access(gdb, os.X_OK):
            raise SettingsError("--enable-gdb needs gdb, which is not on PATH: install it (gdb "
                                "on Debian/Ubuntu and RHEL/Fedora) or name it with "
                                "--gdb-executable.")

    def directory(tool, default):
        if not values.get("enable_" + tool):
            return None
        return os.path.abspath(values.get(tool + "_directory") or
                               os.path.join(server_root, default))

    return Debugging(
        debugger=bool(values.get("enable_debugger") or values.get("debugger_startup")),
        debugger_startup=bool(values.get("debugger_startup")),
        profiler_directory=directory("profiler", "pstats"),
        coverage_directory=directory("coverage", "htmlcov"),
        recorder_directory=directory("recorder", "archive"),
        gdb_executable=gdb)


HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")
HOST_PATTERN = re.compile(r"[A-Za-z0-9*?.-]+")
# What a Strict-Transport-Security value may hold (directives, '=', ';', digits, quotes no).
HSTS_POLICY = re.compile(r"[A-Za-z0-9=;. -]+")


def _host_name(option: str, name: Optional[str], *, wildcards: bool = False) -> Optional[str]:
    if name is None:
        return None
    if not (HOST_PATTERN if wildcards else HOST_NAME).fullmatch(name):
        allowed = "letters, digits, '-', '.' and the wildcards * ?" if wildcards else \
            "letters, digits, '-' and '.', without a port"
        raise SettingsError(f"{option} {name} is not a host name: give one of {allowed}, such "
                            "as www.example.com.")
    return name


def _https(values: Mapping[str, Any], port: int) -> Optional[Https]:
    """--https-port and the options that go with it, checked together."""
    https_port = values.get("https_port")
    certificate = values.get("ssl_certificate_file")
    key = values.get("ssl_certificate_key_file")
    stem = values.get("ssl_certificate")
    if stem:
        if certificate or key:
            raise SettingsError("--ssl-certificate names both files (STEM.crt and STEM.key): "
                                "give it, or --ssl-certificate-file and "
                                "--ssl-certificate-key-file, not both.")
        certificate, key = stem + ".crt", stem + ".key"
        for path in (certificate, key):
            if not os.path.isfile(path):
                raise SettingsError(f"--ssl-certificate {stem}: {path} does not exist; give the "
                                    "common part of the names of the .crt and .key files.")
    tied = [flag for flag, given in (
        ("--ssl-certificate-file", certificate), ("--ssl-certificate-key-file", key),
        ("--ssl-certificate-chain-file", values.get("ssl_certificate_chain_file")),
        ("--ssl-ca-certificate-file", values.get("ssl_ca_certificate_file")),
        ("--ssl-verify-client", values.get("ssl_verify_client")),
        ("--ssl-environment", values.get("ssl_environment")),
        ("--https-only", values.get("https_only")),
        ("--hsts-policy", values.get("hsts_policy"))) if given]
    if https_port is None:
        if tied:
            raise SettingsError(f"{tied[0]} is about HTTPS: give --https-port too (and the "
                                "certificate with its key).")
        return None
    if https_port == port:
        raise SettingsError(f"--https-port {https_port} is also --port: give HTTPS a port of "
                            "its own, such as 8443.")
    if not certificate or not key:
        raise SettingsError(f"--https-port {https_port} needs the server's certificate and its "
                            "key: give --ssl-certificate-file and --ssl-certificate-key-file (or "
                            "--ssl-certificate STEM for STEM.crt and STEM.key).")
    verify_urls = tuple(values.get("ssl_verify_client") or ())
    for url in verify_urls:
        if not URL_PATH.fullmatch(url):
            raise SettingsError(f"--ssl-verify-client {url}: give a URL path such as /admin.")
    if verify_urls and not values.get("ssl_ca_certificate_file"):
        raise SettingsError("--ssl-verify-client needs --ssl-ca-certificate-file: the CA "
                            "certificates that client certificates are checked against.")
    policy = values.get("hsts_policy")
    if policy is not None:
        if not values.get("https_only"):
            raise SettingsError("--hsts-policy needs --https-only: browsers are told to use "
                                "HTTPS only where plain HTTP redirects to it.")
        if not HSTS_POLICY.fullmatch(policy):
            raise SettingsError(f"--hsts-policy {policy!r} is not a Strict-Transport-Security "
                                "value: give one such as 'max-age=63072000; includeSubDomains'.")
    return Https(port=https_port, certificate=_absolute(certificate), key=_absolute(key),
                 chain=_absolute(values.get("ssl_certificate_chain_file")),
                 ca_certificates=_absolute(values.get("ssl_ca_certificate_file")),
                 verify_client_urls=verify_urls,
                 environment=bool(values.get("ssl_environment")),
                 only=bool(values.get("https_only")), hsts_policy=policy)


def _hook_scripts(values: Mapping[str, Any]) -> dict:
    """--host-access-script and the --auth-* options, checked together."""
    user_script, group_script = values.get("auth_user_script"), values.get("auth_group_script")
    if group_script and not user_script:
        raise SettingsError("--auth-group-script needs --auth-user-script: users are logged in "
                            "before their groups are asked for.")
    return {
        "host_access_script": _absolute(values.get("host_access_script")),
        "auth_user_script": _absolute(user_script),
        "auth_type": values["auth_type"].capitalize(),
        "auth_group_script": _absolute(group_script),
        "auth_group": _text("--auth-group", values["auth_group"]),
    }


def _proxy_target(where: str, target: str) -> str:
    if not PROXY_TARGET.fullmatch(target):
        raise SettingsError(f"{where} {target}: TARGET must be an http:// or https:// URL, such "
                            "as http://127.0.0.1:8080/.")
    return target


def _proxy_mount_points(pairs) -> tuple:
    mounts, urls = [], set()
    for url, target in pairs:
        where = f"--proxy-mount-point {url}"
        if not URL_PATH.fullmatch(url):
            raise SettingsError(f"{where} {target}: give a URL path such as /api (letters, "
                                "digits and - . _ ~).")
        _proxy_target(where, target)
        if url.rstrip("/") in urls:
            raise SettingsError(f"{where} {target}: {url} is proxied twice; keep one "
                                "--proxy-mount-point for it.")
        urls.add(url.rstrip("/"))
        mounts.append((url, target))
    return tuple(mounts)


def _shell(given: Optional[str]) -> str:
    """--shell-executable, else bash where installed (as mod_wsgi-express), else /bin/sh."""
    if given:
        return os.path.abspath(given)
    return next((shell for shell in ("/bin/bash", "/bin/sh") if os.access(shell, os.X_OK)),
                "/bin/sh")


def _log_rotation(values: Mapping[str, Any]) -> dict:
    """--rotate-logs and its options; --log-to-terminal wins over it, as in mod_wsgi-express."""
    if not values.get("rotate_logs") or values.get("log_to_terminal"):
        return {}
    executable = values.get("rotatelogs_executable") or shutil.which("rotatelogs") or \
        os.path.join(paths.build_info().SBINDIR, "rotatelogs")
    if not os.access(executable, os.X_OK):
        raise SettingsError(f"--rotate-logs needs Apache's rotatelogs, which is not at "
                            f"{executable}: install it (apache2-utils on Debian/Ubuntu, httpd-tools "
                            "on RHEL/Fedora) or name it with --rotatelogs-executable.")
    if any(ch.isspace() for ch in executable):
        raise SettingsError(f"--rotatelogs-executable {executable}: the path has a space, which "
                            "a piped log command cannot hold; move it.")
    return {"rotate_logs": True, "max_log_size": values["max_log_size"],
            "rotatelogs_executable": os.path.abspath(executable)}


def _url_path(option: str, url: str) -> str:
    if not URL_PATH.fullmatch(url):
        raise SettingsError(f"{option} {url}: give a URL path such as /healthz.")
    return url


def _absolute(path: Optional[str]) -> Optional[str]:
    return os.path.abspath(path) if path else None


def _file_name(option: str, name: str) -> str:
    if "/" in name or name in (".", "..") or not name.strip():
        raise SettingsError(f"{option} {name!r} is not a file name: give a name without '/', "
                            "such as error_log (--log-directory says where).")
    return name


PROXY_TARGET = re.compile(r"https?://[^\s\"'<>\\]+")
HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _text(option: str, value: str) -> str:
    """A value that httpd.conf will hold between double quotes (render.conf_text escapes)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise SettingsError(f"{option}: the value {value!r} has a control character, which "
                            "httpd.conf cannot hold; leave it out.")
    return value


def _token(option: str, name: str) -> str:
    if not HTTP_TOKEN.fullmatch(name):
        raise SettingsError(f"{option} {name!r} is not a header name: give one such as "
                            "X-Forwarded-For.")
    return name


def _env_name(option: str, name: str) -> str:
    if not ENV_NAME.fullmatch(name):
        raise SettingsError(f"{option} {name!r} is not a variable name: give letters, digits "
                            "and '_', such as DJANGO_SETTINGS_MODULE.")
    return name


def _network(address: str) -> str:
    try:
        ipaddress.ip_network(address, strict=False)
    except ValueError:
        raise SettingsError(f"--trust-proxy {address!r} is not an address or network: give one "
                            "such as 10.0.0.1 or 10.0.0.0/8.") from None
    return address


def _error_documents(pairs) -> tuple:
    documents = []
    for status, document in pairs:
        if not (status.isdigit() and len(status) == 3 and 400 <= int(status) <= 599):
            raise SettingsError(f"--error-document {status} {document}: STATUS must be an error "
                                "status from 400 to 599.")
        documents.append((int(status), _text(f"--error-document {status}", document)))
    return tuple(documents)


def _error_log_format(fmt: Optional[str]) -> Optional[str]:
    if fmt is None:
        return None
    try:
        parse_log_format(_text("--error-log-format", fmt))
    except ValueError as bad:
        raise SettingsError(f"--error-log-format {fmt!r}: {bad}; write it as for Apache's "
                            "ErrorLogFormat, e.g. '[%{u}t] [%-m:%l] [pid %P] %M'.") from None
    return fmt


def request_read_timeout(values: Mapping[str, Any]) -> str:
    """mod_reqtimeout's RequestReadTimeout from the six --header-*/--body-* options, as
    mod_wsgi-express writes it (`header=15-30,MinRate=500 body=15,MinRate=500`); "" when both
    timeouts are 0."""
    parts = []
    for stage in ("header", "body"):
        timeout = values.get(f"{stage}_timeout") or 0
        if timeout <= 0:
            continue
        text = f"{stage}={timeout}"
        if (values.get(f"{stage}_max_timeout") or 0) > 0:
            text += f"-{values[f'{stage}_max_timeout']}"
        if (values.get(f"{stage}_min_rate") or 0) > 0:
            text += f",MinRate={values[f'{stage}_min_rate']}"
        parts.append(text)
    return " ".join(parts)


def _locale_options(chosen: Optional[str], environ: Mapping[str, str]) -> tuple:
    """lang= and locale= of the daemons, as mod_wsgi-express chooses them: --locale (or
    --lang), else this process's locale; C or POSIX (what a service manager gives, and what
    leaves Python's file-name encoding at ASCII) becomes en_US.UTF-8, or C.UTF-8, where the
    C library has it. Better than mod_wsgi-express: an inherited locale the C library does not
    have counts as C too (the daemons would otherwise warn and run in C)."""
    if not chosen:
        chosen = next((environ[name] for name in ("LC_ALL", "LC_CTYPE", "LANG")
                       if environ.get(name)), "C")
        chosen = locale.normalize(chosen)
        if not _locale_exists(chosen):
            chosen = "C"
    if chosen.upper() in ("C", "POSIX"):
        chosen = next((name for name in ("en_US.UTF-8", "C.UTF-8") if _locale_exists(name)),
                      chosen)
    return (("lang", chosen), ("locale", chosen))


def _locale_exists(name: str) -> bool:
    previous = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, name)
        return True
    except locale.Error:
        return False
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)


def _script_path(script: Optional[str], application_type: str = "script") -> str:
    what = ("a WSGI script file, for example app.wsgi defining `application`"
            if application_type == "script" else "a Paste Deploy configuration file, for "
            "example development.ini")
    if script is None:
        if application_type == "script":
            return WELCOME_SCRIPT
        raise SettingsError(f"--application-type {application_type} needs SCRIPT: give {what}.")
    path = os.path.abspath(script)
    if not os.path.exists(path):
        raise SettingsError(f"SCRIPT {script} does not exist: give the path of {what}"
                            + (" (or no SCRIPT for the welcome page)."
                               if application_type == "script" else "."))
    if not os.path.isfile(path):
        raise SettingsError(f"SCRIPT {script} is not a file: give the path of {what}.")
    return path


# AllowOverride's words (Apache core); Options= and Nonfatal= take values after '='.
OVERRIDE_TYPES = ("All", "None", "AuthConfig", "FileInfo", "Indexes", "Limit", "Options")


def _allow_override(words) -> tuple:
    chosen = []
    for word in words:
        name = word.split("=", 1)[0]
        known = next((t for t in OVERRIDE_TYPES + ("Nonfatal",) if t.lower() == name.lower()),
                     None)
        takes_value = {"Options": ("=" in word), "Nonfatal": True}.get(known, False)
        if known is None or ("=" in word) != takes_value:
            raise SettingsError(f"--allow-override {word}: give one of "
                                + ", ".join(OVERRIDE_TYPES) + " (or Options=NAME,..., "
                                "Nonfatal=Override|Unknown|All), as AllowOverride takes them.")
        if any(not (ch.isalnum() or ch in "=,+-") for ch in word):
            raise SettingsError(f"--allow-override {word}: a type is letters, and for Options= "
                                "or Nonfatal= names separated by ','.")
        chosen.append(known + word[len(name):])
    if "None" in chosen and len(chosen) > 1:
        raise SettingsError("--allow-override None cannot go with other types: give None "
                            "alone, or the types to allow.")
    return () if chosen == ["None"] else tuple(chosen)


def _mount_point(url: str) -> str:
    """--mount-point as mod_wsgi-express takes it: a missing leading '/' is added; a trailing
    one is dropped (the application answers at the URL and under it)."""
    url = "/" + url.strip("/") if url.strip("/") else "/"
    if url != "/" and not URL_PATH.fullmatch(url):
        raise SettingsError(f"--mount-point {url}: give a URL path such as /app, made of "
                            "letters, digits and - . _ ~ (no spaces, quotes or %).")
    return url


EXTENSION = re.compile(r"\.?[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*")


def _handlers(pairs) -> tuple:
    handlers, extensions = [], set()
    for extension, path in pairs:
        if not EXTENSION.fullmatch(extension):
            raise SettingsError(f"--add-handler {extension} {path}: give a file name extension "
                                "such as .md (letters, digits, '-', '_', '+').")
        extension = extension if extension.startswith(".") else "." + extension
        if extension.lower() in extensions:
            raise SettingsError(f"--add-handler {extension} {path}: {extension} has a handler "
                                "already; keep one --add-handler for it.")
        extensions.add(extension.lower())
        handlers.append((extension, os.path.abspath(path)))
    return tuple(handlers)


def _module_name(script: Optional[str]) -> str:
    if script is None:
        raise SettingsError("--application-type module needs SCRIPT: give the dotted name of the "
                            "module that defines the application, such as mysite.wsgi.")
    if not DOTTED_NAME.fullmatch(script) or any(keyword.iskeyword(part)
                                                for part in script.split(".")):
        raise SettingsError(f"SCRIPT '{script}' is not a module name: with --application-type "
                            "module give a dotted Python module name such as mysite.wsgi (a file "
                            "path needs --application-type script).")
    return script


def _callable_object(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise SettingsError(f"--callable-object '{name}' is not a Python name: give the name the "
                            "script binds the WSGI application to, such as application.")
    return name


def _python_path(first: str, entries) -> tuple:
    """`first` (the script's or the working directory), then each --python-path, once each."""
    paths = [first]
    for entry in entries:
        # One --python-path may hold several directories separated by ':', as PYTHONPATH does.
        for path in (entry if isinstance(entry, (list, tuple)) else [entry]):
            if path not in paths:
                paths.append(path)
    for path in paths:
        if ":" in path:
            raise SettingsError(f"the directory {path} has a ':' in its name, which python-path= "
                                "cannot hold (':' separates its entries); rename or move it.")
    return tuple(paths)


def _existing_directory(option: str, path: Optional[str]) -> Optional[str]:
    if path is None:
        return None
    absolute = os.path.abspath(path)
    if not os.path.isdir(absolute):
        what = "is not a directory" if os.path.exists(absolute) else "does not exist"
        raise SettingsError(f"{option} {path} {what}: give an existing directory.")
    return absolute


def _document_root(path: Optional[str]) -> Optional[str]:
    directory = _existing_directory("--document-root", path)
    if directory is not None and "\\" in directory:
        raise SettingsError(f"--document-root {path}: the path has a backslash, which Apache's "
                            "rewrite rules cannot hold; rename or move it.")
    return directory


def _url_aliases(pairs) -> tuple:
    aliases, urls = [], set()
    for url, path in pairs:
        where = f"--url-alias {url} {path}"
        if not URL_PATH.fullmatch(url):
            raise SettingsError(f"{where}: the URL must be a path such as /static, made of "
                                "letters, digits and - . _ ~ (no spaces, quotes or %); use "
                                "--document-root to serve files at /.")
        absolute = os.path.abspath(path)
        if not os.path.exists(absolute):
            raise SettingsError(f"{where}: {path} does not exist; give an existing file or "
                                "directory.")
        is_directory = os.path.isdir(absolute)
        if not is_directory and WILDCARD_CHARS & set(os.path.basename(absolute)):
            raise SettingsError(f"{where}: the file name has one of * ? [ ] \\, which Apache "
                                "reads as a pattern; rename the file or alias its directory.")
        if "\\" in absolute:
            raise SettingsError(f"{where}: the path has a backslash, which Apache's rewrite "
                                "rules cannot hold; rename or move it.")
        url = url.rstrip("/") if is_directory else url
        if url in urls:
            raise SettingsError(f"{where}: {url} is aliased twice; keep one --url-alias for it.")
        urls.add(url)
        aliases.append(UrlAlias(url, absolute, is_directory))
    return tuple(aliases)


def _service_scripts(pairs, *, users=(), groups=(), log_files=(), uid: int = 0) -> tuple:
    scripts, names = [], set()
    chosen = {"--service-user": dict(users), "--service-group": dict(groups),
              "--service-log-file": dict(log_files)}
    for option, by_name in chosen.items():
        for name, who in by_name.items():
            if name not in {script_name for script_name, _ in pairs}:
                raise SettingsError(f"{option} {name} {who}: there is no --service-script "
                                    f"{name}; name one of the service scripts.")
            if option == "--service-log-file":
                _file_name(f"--service-log-file {name}", who)
            elif uid != 0:
                raise SettingsError(f"{option} {name} {who}: only root can run a service as "
                                    "another user or group; drop it or start as root.")
    for name, who in chosen["--service-user"].items():
        _user_id(who, f"--service-user {name}")
    for name, who in chosen["--service-group"].items():
        _group_id(who, f"--service-group {name}")
    for name, path in pairs:
        where = f"--service-script {name} {path}"
        if not SERVICE_NAME.fullmatch(name):
            raise SettingsError(f"{where}: NAME must be letters, digits, '-', '_' or '.' (it "
                                f"names the daemon group {SERVICE_GROUP_PREFIX}NAME), such as "
                                "tasks.")
        try:
            check_group_name(SERVICE_GROUP_PREFIX + name)
        except ConfigError as exc:
            raise SettingsError(f"{where}: NAME is part of the group name "
                                f"{SERVICE_GROUP_PREFIX}{name}, and {exc.problem}; {exc.fix}"
                                ) from None
        if name in names:
            raise SettingsError(f"{where}: the name {name} is used twice; give each service "
                                "script a name of its own.")
        names.add(name)
        absolute = os.path.abspath(path)
        if not os.path.isfile(absolute):
            what = "is not a file" if os.path.exists(absolute) else "does not exist"
            raise SettingsError(f"{where}: {path} {what}; give the path of a Python script.")
        scripts.append(ServiceScript(name, absolute, chosen["--service-user"].get(name),
                                     chosen["--service-group"].get(name),
                                     chosen["--service-log-file"].get(name)))
    return tuple(scripts)


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


def _user_id(user: str, option: str) -> int:
    try:
        return pwd.getpwuid(int(user)).pw_uid if user.isdigit() else pwd.getpwnam(user).pw_uid
    except KeyError:
        raise SettingsError(f"{option} {user}: no such user; give an existing user such as "
                            "www-data.") from None


def _group_id(group: str, option: str) -> int:
    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise SettingsError(f"{option} {group}: no such group; give an existing group such as "
                            "www-data.") from None
