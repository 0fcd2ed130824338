"""start-server's options, declared once: the table that cli.py, --help and docs/express.md use.

Rules:
- Every option of `wsgid start-server` / `wsgid setup-server` is one row of
  START_SERVER_OPTIONS; cli.py builds the click options from the rows, --help prints them under
  their `group` heading, and docs/express.md lists the same rows. Add an option here and nowhere
  else.
- The daemon options (limits and timeouts of WSGIDaemonProcess) are not re-declared: their rows
  come from wsgid/options.py's table through daemon_option(), which takes the value check, the
  default and the help from there, so that one value is checked one way whether it is written in
  an Apache configuration or on the command line.
- Defaults that depend on the machine or on other options (server root, user, working
  directory, isatty) are None in the table and worked out by resolve.py; `computed` says how.
- This module declares; it checks only single values (click types). resolve.py checks the
  combination and turns it into ServerSettings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import click

from wsgid.options import OPTION_BY_NAME, InvalidValue

MPMS = ("event", "worker", "prefork")     # Apache's threaded MPMs first, as mod_wsgi-express

LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug")

APPLICATION_TYPES = ("script", "module", "paste", "static")

# --help headings, in the order they are printed.
GROUPS = ("Server", "HTTPS and host names", "Capacity and client protection", "Application",
          "Static files", "Daemon processes", "Logging", "Debugging", "Running")

HOSTS = "HTTPS and host names"
EXISTING_FILE = click.Path(exists=True, dir_okay=False)

# A share of the Apache workers: a fraction of --max-clients, as mod_wsgi-express takes it.
WORKER_SHARE = click.FloatRange(0.0, 1.0)


class DaemonOptionValue(click.ParamType):
    """The value of a WSGIDaemonProcess option, checked by wsgid/options.py's converter.

    A relative path is made absolute first (the table wants absolute paths, a command line is
    typed relative to where one stands).
    """

    def __init__(self, option_name: str, *, is_path: bool = False):
        self.option = OPTION_BY_NAME[option_name]
        self.name = option_name
        self.is_path = is_path

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value            # a default from the table, already converted
        raw = os.path.abspath(value) if self.is_path and value else value
        try:
            return self.option.kind.convert(raw)
        except InvalidValue as bad:
            flag = param.opts[0] if param is not None else self.name
            fix = bad.fix or f"for example {flag} {self.option.example}"
            self.fail(f"{bad.problem}; {fix}", param, ctx)


@dataclass(frozen=True)
class ExpressOption:
    """One command-line option of start-server/setup-server.

    `default` None with a `computed` text means resolve.py works the default out; `computed` is
    how --help and the docs describe it. `nargs` > 1 takes several words (`--url-alias URL
    PATH`); `multiple` makes the option repeatable (its value is then a tuple); `negative` is the
    name of the flag that turns an on/off option off. `start_only` options are not offered by
    setup-server, which never starts Apache.
    """

    name: str
    type: Any
    default: Any
    help: str
    group: str
    metavar: Optional[str] = None
    computed: Optional[str] = None
    is_flag: bool = False
    negative: Optional[str] = None
    multiple: bool = False
    nargs: int = 1
    start_only: bool = False
    aliases: tuple = ()       # other names mod_wsgi-express accepts for it (--ssl-port)

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def usage(self) -> str:
        """How the option is written, e.g. `--url-alias URL PATH` or `--isatty/--no-isatty`."""
        if self.negative:
            return f"{self.flag}/--{self.negative}"
        if self.is_flag:
            return self.flag
        return f"{self.flag} {self.metavar}"

    @property
    def default_text(self) -> str:
        """The default as --help and docs/express.md state it."""
        if self.computed:
            return self.computed
        if self.multiple:
            return "none"
        if self.is_flag:
            return "on" if self.default else "off"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)


# mod_wsgi-express's flags for WSGIDaemonProcess options, and the options of wsgid's table it has
# no flag for, by their name there: (flag, option, mod_wsgi-express's default where it differs
# from the option's, metavar). start-server writes every one into the application's group
# (resolve.py, DAEMON_OPTIONS), so the daemons run with mod_wsgi-express's values unless told.
EXPRESS_DAEMON_FLAGS = (
    ("maximum-requests", "maximum-requests", None, "NUMBER"),
    ("startup-timeout", "startup-timeout", 15.0, "SECONDS"),
    ("shutdown-timeout", "shutdown-timeout", None, "SECONDS"),
    ("restart-interval", "restart-interval", None, "SECONDS"),
    ("cpu-time-limit", "cpu-time-limit", None, "SECONDS"),
    ("graceful-timeout", "graceful-timeout", None, "SECONDS"),
    ("eviction-timeout", "eviction-timeout", None, "SECONDS"),
    ("deadlock-timeout", "deadlock-timeout", 60.0, "SECONDS"),
    ("inactivity-timeout", "inactivity-timeout", None, "SECONDS"),
    ("request-timeout", "request-timeout", 60.0, "SECONDS"),
    ("connect-timeout", "connect-timeout", None, "SECONDS"),
    ("socket-timeout", "socket-timeout", None, "SECONDS"),
    ("queue-timeout", "queue-timeout", 45.0, "SECONDS"),
    ("daemon-backlog", "listen-backlog", None, "NUMBER"),
    ("send-buffer-size", "send-buffer-size", None, "BYTES"),
    ("receive-buffer-size", "receive-buffer-size", None, "BYTES"),
    ("header-buffer-size", "header-buffer-size", None, "BYTES"),
    ("response-buffer-size", "response-buffer-size", None, "BYTES"),
    ("response-socket-timeout", "response-socket-timeout", None, "SECONDS"),
    # wsgid's, which mod_wsgi-express has no flag for
    ("memory-limit", "memory-limit", None, "BYTES"),
    ("virtual-memory-limit", "virtual-memory-limit", None, "BYTES"),
    ("cpu-priority", "cpu-priority", None, "NUMBER"),
    ("stack-size", "stack-size", None, "BYTES"),
)


def daemon_option(table_name: str, group: str, metavar: str, *, name: Optional[str] = None,
                  default: Any = None, is_path: bool = False, **fields) -> ExpressOption:
    """The row of the WSGIDaemonProcess option `table_name`, from wsgid/options.py's table.

    `name` is the command-line name where it differs from the option's (`--working-directory`
    sets `home=`); `default` overrides the table's where start-server follows mod_wsgi-express.
    """
    option = OPTION_BY_NAME[table_name]
    fields.setdefault("help", option.help)
    return ExpressOption(name or table_name, DaemonOptionValue(table_name, is_path=is_path),
                         option.default if default is None else default, group=group,
                         metavar=metavar, **fields)


START_SERVER_OPTIONS = (
    # -- Server ---------------------------------------------------------------------------------
    ExpressOption("host", str, None, group="Server", metavar="ADDRESS",
                  computed="every interface, as mod_wsgi-express",
                  help="Address Apache listens on; 127.0.0.1 keeps the server to this machine, "
                       "0.0.0.0 or :: to one address family."),
    ExpressOption("port", click.IntRange(1, 65535), 8000, group="Server", metavar="NUMBER",
                  help="TCP port Apache listens on."),
    ExpressOption("server-root", click.Path(file_okay=False), None, group="Server",
                  metavar="DIRECTORY",
                  computed="$TMPDIR/wsgid-HOST:PORT:UID (/tmp when TMPDIR is unset)",
                  help="Directory for the generated httpd.conf, apachectl, logs and daemon "
                       "sockets."),
    ExpressOption("socket-path", click.Path(file_okay=False), None, group="Server",
                  metavar="DIRECTORY", computed="the server root", aliases=("socket-prefix",),
                  help="Directory for the daemon sockets instead of the server root, for when "
                       "the server root makes the socket path too long."),
    ExpressOption("user", str, None, group="Server", metavar="NAME",
                  computed="www-data when run as root, else the current user",
                  help="User the Apache children and daemon processes run as; only root can "
                       "choose it."),
    ExpressOption("group", str, None, group="Server", metavar="NAME",
                  computed="the primary group of the user",
                  help="Group the Apache children and daemon processes run as; only root can "
                       "choose it."),
    ExpressOption("pid-file", click.Path(dir_okay=False), None, group="Server", metavar="PATH",
                  computed="httpd.pid in the server root",
                  help="Where Apache writes its parent's process id."),
    ExpressOption("httpd-executable", EXISTING_FILE, None, group="Server", metavar="PATH",
                  computed="the Apache wsgid was built for",
                  help="The Apache httpd binary to run."),
    ExpressOption("modules-directory", click.Path(exists=True, file_okay=False), None,
                  group="Server", metavar="DIRECTORY",
                  computed="that Apache's modules directory",
                  help="Where the Apache modules the configuration loads are."),
    ExpressOption("mime-types", EXISTING_FILE, None, group="Server", metavar="PATH",
                  computed="a mime.types written into the server root",
                  help="The MIME types file (TypesConfig) for the files Apache serves."),
    ExpressOption("process-name", str, None, group="Server", metavar="NAME",
                  computed="the httpd binary's path",
                  help="The name Apache's processes show in ps (their argv[0])."),
    ExpressOption("compress-responses", bool, False, group="Server", is_flag=True,
                  help="Compress responses (gzip, for clients that accept it) of the types "
                       "text/plain, text/html, text/css, text/xml, text/javascript, "
                       "application/javascript, application/xhtml+xml and application/json."),

    # -- HTTPS and host names -------------------------------------------------------------------
    ExpressOption("https-port", click.IntRange(1, 65535), None, group=HOSTS, metavar="NUMBER",
                  computed="none", aliases=("ssl-port",),
                  help="Also serve HTTPS on this port (needs a certificate and its key)."),
    ExpressOption("ssl-certificate-file", EXISTING_FILE, None, group=HOSTS, metavar="PATH",
                  computed="none", help="The server's certificate (PEM), for --https-port."),
    ExpressOption("ssl-certificate-key-file", EXISTING_FILE, None, group=HOSTS,
                  metavar="PATH", computed="none",
                  help="The private key of --ssl-certificate-file (PEM)."),
    ExpressOption("ssl-certificate", str, None, group=HOSTS, metavar="STEM", computed="none",
                  help="STEM.crt and STEM.key: the certificate and its key in one option."),
    ExpressOption("ssl-certificate-chain-file", EXISTING_FILE, None, group=HOSTS,
                  metavar="PATH", computed="none",
                  help="The certificates of the CAs between the server's and the root, sent "
                       "with it."),
    ExpressOption("ssl-ca-certificate-file", EXISTING_FILE, None, group=HOSTS,
                  metavar="PATH", computed="none",
                  help="CA certificates of the client certificates to accept: HTTPS clients "
                       "must present one (the whole site, or the --ssl-verify-client URLs)."),
    ExpressOption("ssl-verify-client", str, None, group=HOSTS, metavar="URL", multiple=True,
                  help="Ask for a client certificate only under this URL path instead of "
                       "everywhere; repeat for more."),
    ExpressOption("ssl-environment", bool, False, group=HOSTS, is_flag=True,
                  help="Give the application mod_ssl's SSL_* variables (the cipher, the client "
                       "certificate, ...)."),
    ExpressOption("https-only", bool, False, group=HOSTS, is_flag=True,
                  help="Redirect every plain HTTP request to HTTPS (needs --https-port)."),
    ExpressOption("hsts-policy", str, None, group=HOSTS, metavar="POLICY", computed="none",
                  help="With --https-only, the Strict-Transport-Security header of HTTPS "
                       "responses, such as max-age=63072000."),
    ExpressOption("http2", bool, False, group=HOSTS, is_flag=True,
                  help="Speak HTTP/2 too (h2 over HTTPS, h2c over plain HTTP; mod_http2)."),
    ExpressOption("server-name", str, None, group=HOSTS, metavar="HOSTNAME", computed="none",
                  help="Serve only requests for this host name (and the aliases); others get "
                       "403. A www. name also redirects its parent domain to it."),
    ExpressOption("server-alias", str, None, group=HOSTS, metavar="HOSTNAME", multiple=True,
                  help="Another host name to serve with --server-name, wildcards allowed; "
                       "repeat for more."),
    ExpressOption("allow-localhost", bool, False, group=HOSTS, is_flag=True,
                  help="With --server-name, still serve requests for localhost."),

    # -- Capacity and client protection ---------------------------------------------------------
    ExpressOption("max-clients", click.IntRange(min=1), None, group="Capacity and client protection",
                  metavar="NUMBER", computed="10 + max(10, 1.5 x processes x threads)",
                  help="The most client connections Apache serves at once (MaxRequestWorkers); "
                       "never fewer than processes x threads."),
    ExpressOption("initial-workers", WORKER_SHARE, None, group="Capacity and client protection",
                  metavar="FRACTION", computed="0.2",
                  help="The share of --max-clients Apache starts with (StartServers)."),
    ExpressOption("minimum-spare-workers", WORKER_SHARE, None,
                  group="Capacity and client protection", metavar="FRACTION",
                  computed="--initial-workers",
                  help="The share of --max-clients Apache keeps idle at least "
                       "(MinSpareThreads)."),
    ExpressOption("maximum-spare-workers", WORKER_SHARE, None,
                  group="Capacity and client protection", metavar="FRACTION", computed="0.6",
                  help="The share of --max-clients Apache keeps idle at most "
                       "(MaxSpareThreads)."),
    ExpressOption("server-backlog", click.IntRange(min=1), 500,
                  group="Capacity and client protection", metavar="NUMBER",
                  help="How many connections may wait for Apache to accept them "
                       "(ListenBacklog)."),
    ExpressOption("keep-alive-timeout", click.IntRange(min=0), 2,
                  group="Capacity and client protection", metavar="SECONDS",
                  help="How long Apache waits for the next request on a connection "
                       "(KeepAliveTimeout); 0 turns keep-alive off."),
    ExpressOption("limit-request-body", click.IntRange(min=0), 10485760,
                  group="Capacity and client protection", metavar="BYTES",
                  help="The largest request body Apache accepts; a larger one gets 413 "
                       "(LimitRequestBody); 0 no limit."),
    ExpressOption("header-timeout", click.IntRange(min=0), 15,
                  group="Capacity and client protection", metavar="SECONDS",
                  help="Time for a client to send the request headers, answered 408 when "
                       "over (mod_reqtimeout's RequestReadTimeout header=); 0 no limit."),
    ExpressOption("header-max-timeout", click.IntRange(min=0), 30,
                  group="Capacity and client protection", metavar="SECONDS",
                  help="The most --header-min-rate may extend --header-timeout to; 0 no "
                       "extension."),
    ExpressOption("header-min-rate", click.IntRange(min=0), 500,
                  group="Capacity and client protection", metavar="BYTES",
                  help="Each this many bytes of headers a second extend --header-timeout by "
                       "a second; 0 none."),
    ExpressOption("body-timeout", click.IntRange(min=0), 15,
                  group="Capacity and client protection", metavar="SECONDS",
                  help="Time for a client to send the request body, answered 408 when over "
                       "(RequestReadTimeout body=); 0 no limit."),
    ExpressOption("body-max-timeout", click.IntRange(min=0), 0,
                  group="Capacity and client protection", metavar="SECONDS",
                  help="The most --body-min-rate may extend --body-timeout to; 0 no upper "
                       "bound."),
    ExpressOption("body-min-rate", click.IntRange(min=0), 500,
                  group="Capacity and client protection", metavar="BYTES",
                  help="Each this many bytes of body a second extend --body-timeout by a "
                       "second; 0 none."),

    # -- Application ----------------------------------------------------------------------------
    ExpressOption("application-type", click.Choice(APPLICATION_TYPES), "script",
                  group="Application", metavar="TYPE",
                  help="What SCRIPT names: `script`, a WSGI script file; `module`, a dotted "
                       "module name (pkg.wsgi) imported with the --python-path entries; "
                       "`paste`, a Paste Deploy .ini file; `static`, no application: SCRIPT "
                       "(else --document-root, else the current directory) is a directory of "
                       "files Apache serves alone."),
    ExpressOption("entry-point", str, None, group="Application", metavar="SCRIPT",
                  computed="none",
                  help="SCRIPT given as an option (mod_wsgi-express's other way to name it)."),
    ExpressOption("callable-object", str, "application", group="Application", metavar="NAME",
                  help="Name of the WSGI application callable in SCRIPT."),
    ExpressOption("mount-point", str, "/", group="Application", metavar="URL",
                  help="The URL path the application answers under (its SCRIPT_NAME); "
                       "elsewhere only --document-root's files are served."),
    ExpressOption("add-handler", (str, EXISTING_FILE), None, group="Application",
                  metavar="EXTENSION SCRIPT", nargs=2, multiple=True,
                  help="Files ending in EXTENSION under --document-root (or a --url-alias "
                       "directory) are served by SCRIPT's handle_request(environ, "
                       "start_response), or its application, which finds the file in "
                       "SCRIPT_FILENAME (WSGIHandlerScript); repeat for more."),
    daemon_option("home", "Application", "DIRECTORY", name="working-directory", is_path=True,
                  computed="the script's directory (--application-type module: the current "
                           "directory)",
                  help="Working directory of the daemon processes."),
    ExpressOption("python-path", DaemonOptionValue("python-path", is_path=True), None,
                  group="Application", metavar="DIRECTORY", multiple=True,
                  help="Directory to add to the daemons' sys.path (after the script's or the "
                       "working directory); repeat for more."),
    ExpressOption("service-script", (str, click.Path(dir_okay=False)), None,
                  group="Application", metavar="NAME PATH", nargs=2, multiple=True,
                  help="Run the Python script PATH in a daemon process of its own (a threads=0 "
                       "group named service:NAME) for as long as the server runs; repeat for "
                       "more."),
    ExpressOption("service-user", (str, str), None, group="Application",
                  metavar="NAME USER", nargs=2, multiple=True,
                  help="Run --service-script NAME as USER instead of --user (root only)."),
    ExpressOption("service-group", (str, str), None, group="Application",
                  metavar="NAME GROUP", nargs=2, multiple=True,
                  help="Run --service-script NAME as GROUP instead of --group (root only)."),
    ExpressOption("service-log-file", (str, str), None, group="Application",
                  metavar="NAME FILE-NAME", nargs=2, multiple=True,
                  help="Write what --service-script NAME logs and prints to FILE-NAME in the "
                       "log directory (through rotatelogs with --rotate-logs) instead of the "
                       "error log."),

    ExpressOption("chunked-request", bool, False, group="Application", is_flag=True,
                  help="Accept request bodies sent chunked, without a Content-Length "
                       "(WSGIChunkedRequest On); otherwise they get 411."),
    ExpressOption("map-head-to-get", click.Choice(("Auto", "On", "Off"), case_sensitive=False),
                  "Auto", group="Application", metavar="Auto|On|Off",
                  help="Pass HEAD requests to the application as GET: when an output filter "
                       "may need the body (Auto), always (On) or never (WSGIMapHEADToGET)."),
    ExpressOption("error-override", bool, False, group="Application", is_flag=True,
                  help="Answer the application's error statuses (4xx, 5xx) with Apache's error "
                       "page for them (WSGIErrorOverride On)."),
    ExpressOption("error-document", (str, str), None, group="Application",
                  metavar="STATUS DOCUMENT", nargs=2, multiple=True,
                  help="Apache's answer for a status: a URL path, a full URL or a quoted "
                       "text (ErrorDocument; with --error-override also for the "
                       "application's); repeat for more."),
    ExpressOption("trust-proxy-header", str, None, group="Application", metavar="HEADER",
                  multiple=True,
                  help="Believe this header from a front proxy (X-Forwarded-For, "
                       "X-Forwarded-Proto, X-Forwarded-Host, ...: WSGITrustedProxyHeaders); "
                       "repeat for more."),
    ExpressOption("trust-proxy", str, None, group="Application", metavar="ADDRESS[/BITS]",
                  multiple=True,
                  help="Believe the trusted headers only from this proxy address or network "
                       "(WSGITrustedProxies); repeat for more."),
    ExpressOption("setenv", (str, str), None, group="Application", metavar="NAME VALUE",
                  nargs=2, multiple=True,
                  help="Set NAME to VALUE in each request's environ (SetEnv); repeat for "
                       "more."),
    ExpressOption("passenv", str, None, group="Application", metavar="NAME", multiple=True,
                  help="Pass start-server's environment variable NAME into each request's "
                       "environ (PassEnv); repeat for more."),

    ExpressOption("disable-reloading", bool, False, group="Application", is_flag=True,
                  help="Keep the loaded code when SCRIPT changes (WSGIScriptReloading Off); "
                       "by default a changed script is loaded again by new daemon processes."),
    ExpressOption("reload-on-changes", bool, False, group="Application", is_flag=True,
                  help="Restart a daemon process when the file of a module it imported "
                       "changes, so the next requests run the new code (not with "
                       "--disable-reloading)."),
    ExpressOption("ignore-activity", str, None, group="Application", metavar="URL",
                  multiple=True,
                  help="Requests under this URL path do not count as activity for "
                       "--inactivity-timeout (WSGIIgnoreActivity On), such as a health check; "
                       "repeat for more."),
    ExpressOption("include-file", EXISTING_FILE, None, group="Server", metavar="PATH",
                  multiple=True,
                  help="Apache configuration to include at the end of httpd.conf; repeat for "
                       "more."),
    ExpressOption("proxy-mount-point", (str, str), None, group="Server", metavar="URL TARGET",
                  nargs=2, multiple=True, aliases=("proxy-url-alias",),
                  help="Pass requests under the URL path URL to the web site TARGET (an http:// "
                       "or https:// URL), with X-Forwarded-* headers (mod_proxy); a URL ending "
                       "in '/' redirects the URL without it there; repeat for more."),
    ExpressOption("proxy-virtual-host", (str, str), None, group="Server",
                  metavar="HOSTNAME TARGET", nargs=2, multiple=True,
                  help="Pass every request for the host name HOSTNAME to the web site TARGET; "
                       "other names are served as usual; repeat for more."),
    ExpressOption("server-mpm", click.Choice(MPMS), None, group="Server", metavar="NAME",
                  multiple=True,
                  help="The Apache MPM to run (event, worker, prefork); given more than once, "
                       "the first of event, worker, prefork among them that this Apache has."),
    ExpressOption("envvars-script", EXISTING_FILE, None, group="Server", metavar="PATH",
                  computed="SERVER_ROOT/envvars (made empty if missing)",
                  help="A shell script sourced before Apache starts (by start-server and "
                       "apachectl): what it exports is the environment of Apache and the "
                       "daemons."),
    ExpressOption("shell-executable", EXISTING_FILE, None, group="Server", metavar="PATH",
                  computed="/bin/bash where installed, else /bin/sh",
                  help="The shell of apachectl, which also sources the envvars script."),
    ExpressOption("rewrite-rules", EXISTING_FILE, None, group="Server", metavar="PATH",
                  computed="none",
                  help="A file of mod_rewrite rules (RewriteCond, RewriteRule) applied to every "
                       "request before the files and the application see it."),
    ExpressOption("host-access-script", EXISTING_FILE, None, group="Application",
                  metavar="PATH", computed="none",
                  help="A script whose allow_access(environ, host) decides who may reach the "
                       "site (WSGIAccessScript)."),
    ExpressOption("auth-user-script", EXISTING_FILE, None, group="Application",
                  metavar="PATH", computed="none",
                  help="A script whose check_password(environ, user, password) (Basic) or "
                       "get_realm_hash(environ, user, realm) (Digest) lets users in "
                       "(WSGIAuthUserScript); the whole site then needs a login."),
    ExpressOption("auth-type", click.Choice(("Basic", "Digest"), case_sensitive=False),
                  "Basic", group="Application", metavar="Basic|Digest",
                  help="The HTTP authentication scheme of --auth-user-script."),
    ExpressOption("auth-group-script", EXISTING_FILE, None, group="Application",
                  metavar="PATH", computed="none",
                  help="A script whose groups_for_user(environ, user) names a user's groups "
                       "(WSGIAuthGroupScript): only members of --auth-group get in."),
    ExpressOption("auth-group", str, "wsgi", group="Application", metavar="NAME",
                  help="The group --auth-group-script must name for a user to get in."),

    # -- Static files ---------------------------------------------------------------------------
    ExpressOption("document-root", click.Path(file_okay=False), None, group="Static files",
                  metavar="DIRECTORY", computed="none",
                  help="Directory whose files Apache serves itself; every URL it has no file "
                       "for goes to the application."),
    ExpressOption("url-alias", (str, click.Path()), None, group="Static files",
                  metavar="URL PATH", nargs=2, multiple=True,
                  help="Serve the file or directory PATH at URL (before the application); "
                       "repeat for more."),
    ExpressOption("directory-index", str, None, group="Static files", metavar="NAME",
                  computed="none",
                  help="A directory URL of --document-root is its file NAME (index.html), "
                       "not the application's."),
    ExpressOption("directory-listing", bool, False, group="Static files", is_flag=True,
                  help="List the files of a static directory that has no index file "
                       "(--directory-index or --application-type static)."),
    ExpressOption("allow-override", str, None, group="Static files", metavar="TYPE",
                  multiple=True,
                  help=".htaccess files in --document-root and the --url-alias directories "
                       "may hold these kinds of directives (AllowOverride: FileInfo, "
                       "AuthConfig, Indexes, Limit, Options, All); repeat for more."),
    ExpressOption("enable-docs", bool, False, group="Static files", is_flag=True,
                  computed="off; on without SCRIPT",
                  help="Serve wsgid's documentation at /__wsgi__/docs/ (its Markdown files, "
                       "as text), as mod_wsgi-express serves mod_wsgi's."),
    ExpressOption("enable-sendfile", bool, False, group="Static files", is_flag=True,
                  help="Apache sends static files with sendfile() (EnableSendfile On); leave "
                       "off where the kernel or the file system does not support it."),

    # -- Daemon processes -----------------------------------------------------------------------
    ExpressOption("processes", click.IntRange(min=1), 1, group="Daemon processes",
                  metavar="NUMBER", help="Daemon processes serving the application."),
    ExpressOption("threads", click.IntRange(min=1), 5, group="Daemon processes",
                  metavar="NUMBER", help="Request threads in each daemon process."),
    *(daemon_option(option, "Daemon processes", metavar, name=flag, default=default)
      for flag, option, default, metavar in EXPRESS_DAEMON_FLAGS),
    ExpressOption("server-metrics", bool, False, group="Daemon processes", is_flag=True,
                  help="Let the application's mod_wsgi.server_metrics() answer "
                       "(server-metrics=On)."),
    ExpressOption("orphan-interpreter", bool, False, group="Daemon processes", is_flag=True,
                  help="At the end of a daemon process, skip the application's atexit "
                       "callbacks and the interpreter's cleanup (WSGIDestroyInterpreter Off)."),
    daemon_option("python-eggs", "Daemon processes", "DIRECTORY", is_path=True, computed="none"),
    daemon_option("newrelic-config-file", "Daemon processes", "PATH", is_path=True,
                  computed="none"),
    daemon_option("newrelic-environment", "Daemon processes", "NAME", computed="none"),
    daemon_option("locale", "Daemon processes", "NAME",
                  computed="--lang, else this process's locale; C, POSIX or one the system "
                           "lacks becomes en_US.UTF-8 (or C.UTF-8) where available",
                  help="Locale of the daemon processes (LC_ALL), as mod_wsgi-express chooses "
                       "it; also their LANG."),
    daemon_option("lang", "Daemon processes", "NAME", computed="--locale",
                  help="The same as --locale (mod_wsgi-express's older name)."),

    # -- Logging --------------------------------------------------------------------------------
    ExpressOption("log-level", click.Choice(LOG_LEVELS), "warn", group="Logging",
                  metavar="LEVEL",
                  help="Apache LogLevel of the error log (" + ", ".join(LOG_LEVELS) + ")."),
    ExpressOption("access-log", bool, False, group="Logging", is_flag=True,
                  help="Log every request, in Apache's common log format, to access_log in the "
                       "server root (to the terminal with --log-to-terminal)."),
    ExpressOption("access-log-format", str, "common", group="Logging", metavar="FORMAT",
                  help="The access log's LogFormat: common, combined, or a format of your "
                       "own."),
    ExpressOption("error-log-format", str, None, group="Logging", metavar="FORMAT",
                  computed="Apache's",
                  help="The error log's ErrorLogFormat, for Apache's lines and wsgid's."),
    ExpressOption("verbose-debugging", bool, False, group="Logging", is_flag=True,
                  help="The daemon processes log at debug level (WSGIVerboseDebugging On)."),
    ExpressOption("server-status", bool, False, group="Logging", is_flag=True,
                  help="Apache's status page (mod_status) at /server-status, for clients on "
                       "this machine."),
    ExpressOption("log-directory", click.Path(file_okay=False), None, group="Logging",
                  metavar="DIRECTORY", computed="the server root",
                  help="Directory for the error and access logs (and the startup log)."),
    ExpressOption("error-log-name", str, "error_log", group="Logging", metavar="NAME",
                  help="File name of the error log in the log directory."),
    ExpressOption("access-log-name", str, "access_log", group="Logging", metavar="NAME",
                  help="File name of the access log in the log directory."),
    ExpressOption("startup-log", bool, False, group="Logging", is_flag=True,
                  help="Write what Apache says while it starts to a file of its own (httpd "
                       "-E), not to the error log."),
    ExpressOption("startup-log-name", str, "startup_log", group="Logging", metavar="NAME",
                  help="File name of the startup log in the log directory."),
    ExpressOption("rotate-logs", bool, False, group="Logging", is_flag=True,
                  help="Write the error and access logs through Apache's rotatelogs: a new "
                       "file (NAME.YYYY-MM-DD-HH_MM_SS) each time one reaches --max-log-size."),
    ExpressOption("max-log-size", click.IntRange(min=1), 5, group="Logging", metavar="MB",
                  help="With --rotate-logs, the size in megabytes at which a log file is "
                       "rotated."),
    ExpressOption("rotatelogs-executable", EXISTING_FILE, None, group="Logging",
                  metavar="PATH", computed="rotatelogs on PATH, else beside httpd",
                  help="The rotatelogs program --rotate-logs pipes the logs through."),
    ExpressOption("log-to-terminal", bool, False, group="Logging", is_flag=True,
                  help="Write the error log to standard error, and the access log (with "
                       "--access-log) to standard output, instead of files in the server root."),

    # -- Debugging ------------------------------------------------------------------------------
    ExpressOption("debug-mode", bool, False, group="Debugging", is_flag=True,
                  help="One daemon process with one thread, whose sys.stdin and sys.stdout are "
                       "start-server's terminal (pdb.set_trace() works there); no timeout ends "
                       "its requests and nothing reloads. --processes, --threads and the "
                       "daemon timeouts are set aside."),
    ExpressOption("enable-debugger", bool, False, group="Debugging", is_flag=True,
                  help="An exception from the application opens pdb post-mortem on the "
                       "terminal; implies --debug-mode."),
    ExpressOption("debugger-startup", bool, False, group="Debugging", is_flag=True,
                  help="Also stop in pdb when the daemon process has loaded the application; "
                       "implies --enable-debugger."),
    ExpressOption("enable-profiler", bool, False, group="Debugging", is_flag=True,
                  help="Profile the application with cProfile (loading and every request) and "
                       "write a .pstats file when the daemon process ends; implies "
                       "--debug-mode."),
    ExpressOption("profiler-directory", click.Path(file_okay=False), None, group="Debugging",
                  metavar="DIRECTORY", computed="SERVER_ROOT/pstats",
                  help="Where --enable-profiler writes TIME-PID.pstats."),
    ExpressOption("enable-coverage", bool, False, group="Debugging", is_flag=True,
                  help="Measure which lines run (coverage.py, which must be installed) and "
                       "write an HTML report when the daemon process ends; implies "
                       "--debug-mode."),
    ExpressOption("coverage-directory", click.Path(file_okay=False), None, group="Debugging",
                  metavar="DIRECTORY", computed="SERVER_ROOT/htmlcov",
                  help="Where --enable-coverage writes its report (index.html)."),
    ExpressOption("enable-recorder", bool, False, group="Debugging", is_flag=True,
                  help="Record every request and its response in files (TIME-PID-N.iheaders, "
                       ".icontent, .oheaders, .ocontent and the exceptions, as mod_wsgi-express "
                       "names them); implies --debug-mode."),
    ExpressOption("recorder-directory", click.Path(file_okay=False), None, group="Debugging",
                  metavar="DIRECTORY", computed="SERVER_ROOT/archive",
                  help="Where --enable-recorder writes its files."),
    ExpressOption("enable-gdb", bool, False, group="Debugging", is_flag=True,
                  help="Run the daemon process under gdb on the terminal: a crash in C code "
                       "stops there, for bt (and py-bt); implies --debug-mode."),
    ExpressOption("gdb-executable", EXISTING_FILE, None, group="Debugging", metavar="PATH",
                  computed="gdb on PATH",
                  help="The gdb --enable-gdb runs."),

    # -- Running --------------------------------------------------------------------------------
    ExpressOption("isatty", bool, None, group="Running", is_flag=True, negative="no-isatty",
                  start_only=True, computed="on when standard input is a terminal",
                  help="Run Apache as a child process: Ctrl-C, SIGTERM, SIGHUP and SIGUSR1 are "
                       "passed on to it, and resizing the terminal (SIGWINCH) does not stop it. "
                       "Off: Apache replaces start-server (same pid), as a process manager or "
                       "container wants."),
    ExpressOption("setup-only", bool, False, group="Running", is_flag=True, start_only=True,
                  help="Write the server root (as setup-server does) and exit without starting "
                       "Apache."),
)


# The table's defaults by dest: what resolve.py's ServerSettings has when an option is not
# given (for code that builds ServerSettings without a command line).
DEFAULTS = {row.dest: row.default for row in START_SERVER_OPTIONS}

# Every option of mod_wsgi-express 5.0.2's start-server, by name: a command line that names one
# that start-server does not have gets a message saying so (cli.py), rather than click's "no
# such option". tests/unit/test_express_settings.py holds this list, the table above and
# REFUSED together.
MOD_WSGI_EXPRESS_FLAGS = (
    "application-type", "entry-point", "host", "port", "http2", "https-port", "ssl-port",
    "ssl-certificate-file", "ssl-certificate-key-file", "ssl-certificate",
    "ssl-ca-certificate-file", "ssl-verify-client", "ssl-certificate-chain-file",
    "ssl-environment", "https-only", "hsts-policy", "server-name", "server-alias",
    "allow-localhost", "processes", "threads", "max-clients", "initial-workers",
    "minimum-spare-workers", "maximum-spare-workers", "limit-request-body", "maximum-requests",
    "startup-timeout", "shutdown-timeout", "restart-interval", "cpu-time-limit",
    "graceful-timeout", "eviction-timeout", "deadlock-timeout", "inactivity-timeout",
    "ignore-activity", "request-timeout", "connect-timeout", "socket-timeout", "queue-timeout",
    "header-timeout", "header-max-timeout", "header-min-rate", "body-timeout",
    "body-max-timeout", "body-min-rate", "server-backlog", "daemon-backlog", "send-buffer-size",
    "receive-buffer-size", "header-buffer-size", "response-buffer-size",
    "response-socket-timeout", "enable-sendfile", "disable-reloading", "reload-on-changes",
    "user", "group", "callable-object", "map-head-to-get", "document-root", "directory-index",
    "directory-listing", "allow-override", "mount-point", "url-alias", "error-document",
    "error-override", "proxy-mount-point", "proxy-url-alias", "proxy-virtual-host",
    "trust-proxy-header", "trust-proxy", "keep-alive-timeout", "compress-responses",
    "server-metrics", "server-status", "host-access-script", "auth-user-script", "auth-type",
    "auth-group-script", "auth-group", "include-file", "rewrite-rules", "envvars-script",
    "lang", "locale", "setenv", "passenv", "working-directory", "pid-file", "server-root",
    "server-mpm", "log-directory", "log-level", "access-log", "startup-log",
    "verbose-debugging", "log-to-terminal", "access-log-format", "error-log-format",
    "error-log-name", "access-log-name", "startup-log-name", "rotate-logs", "max-log-size",
    "rotatelogs-executable", "python-path", "python-eggs", "shell-executable",
    "httpd-executable", "process-name", "modules-directory", "mime-types", "socket-prefix",
    "add-handler", "chunked-request", "with-newrelic", "with-newrelic-agent",
    "with-newrelic-platform", "newrelic-config-file", "newrelic-environment", "with-php5",
    "with-cgi", "service-script", "service-user", "service-group", "service-log-file",
    "orphan-interpreter", "embedded-mode", "enable-docs", "debug-mode", "enable-debugger",
    "debugger-startup", "enable-coverage", "coverage-directory", "enable-profiler",
    "profiler-directory", "enable-recorder", "recorder-directory", "enable-gdb",
    "gdb-executable", "setup-only",
)

# The mod_wsgi-express options start-server refuses, and why.
REFUSED = {
    "embedded-mode": "wsgid runs the application in daemon processes only (it has no Python "
                     "inside Apache); --processes and --threads size them",
    "with-newrelic": "start the New Relic agent with --newrelic-config-file",
    "with-newrelic-agent": "start the New Relic agent with --newrelic-config-file",
    "with-newrelic-platform": "New Relic's platform plugin is not part of wsgid",
    "with-php5": "wsgid serves Python applications; serve PHP with Apache's own PHP setup",
    "with-cgi": "wsgid serves Python applications; serve CGI scripts with Apache's mod_cgid",
}
