"""The text of a server root's generated files, from the templates in templates/.

Rules:
- Templates are string.Template files (`${name}` placeholders) so that Apache's own `%{...}`
  syntax passes through untouched; a placeholder without a value is an error (substitute, not
  safe_substitute), so a template and this module cannot drift apart silently. In the shell
  template apachectl, `$$` is the shell's own `$`.
- Every value put into httpd.conf is either a number, a name checked by resolve.py, or a path
  quoted by conf_path(); a path with a control character or a double quote is refused, since it
  could end the directive and start another. Paths inside rewrite rules also go through
  rewrite_path(), since mod_rewrite expands `$` and `%` in them.
- Static files are mapped with mod_rewrite in server context, not with Alias: mod_rewrite maps
  a URL before mod_wsgid's `WSGIScriptAlias /` sees it, whatever order the other modules take.
- This module computes text only: serverroot.py decides where it goes.
"""

from __future__ import annotations

import math
import mimetypes
import os
import re
import shlex
import string

from wsgid.express.settings import MPMS

TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

# Modules start-server needs besides mod_wsgid. Some Apache builds compile a few of them in
# (Debian: unixd and log_config), so each is loaded only where its file exists and it is not
# already there.
REQUIRED_MODULES = ("unixd", "authz_core", "log_config")
# Modules only some options need, with the option that needs each.
STATIC_FILE_MODULES = ("mime", "rewrite")       # --document-root, --url-alias
# Where --enable-docs serves wsgid's documentation (mod_wsgi-express's URL for mod_wsgi's).
DOCS_URL = "/__wsgi__/docs"
COMPRESSION_MODULES = ("filter", "deflate")     # --compress-responses

COMPRESSED_TYPES = ("text/plain", "text/html", "text/css", "text/xml", "text/javascript",
                    "application/javascript", "application/xhtml+xml", "application/json")

COMMON_LOG_FORMAT = r'"%h %l %u %t \"%r\" %>s %b"'
COMBINED_LOG_FORMAT = r'"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""'


class UnsafePath(ValueError):
    """A path that cannot be written into httpd.conf safely; str() says which and why."""


def conf_path(path: str) -> str:
    """`path` ready to go between double quotes in httpd.conf."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path) or '"' in path:
        raise UnsafePath(f"the path {path!r} contains a control character or a double quote, "
                         "which httpd.conf cannot hold; rename or move it")
    return path


def conf_text(text: str) -> str:
    """`text` as one double-quoted argument of httpd.conf (resolve.py refused control
    characters): a backslash and a double quote are escaped, as Apache's parser reads them."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rewrite_path(path: str) -> str:
    """`path` for a RewriteRule substitution or RewriteCond test: `$` and `%` stay literal."""
    return re.sub(r"([$%])", r"\\\1", conf_path(path))


def _template(name: str) -> string.Template:
    with open(os.path.join(TEMPLATES_DIR, name), encoding="utf-8") as f:
        return string.Template(f.read())


def mpm_module(settings, modules_dir: str) -> str:
    """The MPM Apache runs: the first of event, worker, prefork (of --server-mpm's, if given)
    that `modules_dir` has, as mod_wsgi-express chooses; else the first wanted, which
    serverroot.check_modules_exist then reports missing."""
    wanted = [name for name in MPMS if not settings.server_mpms or name in settings.server_mpms]
    return next((name for name in wanted
                 if os.path.exists(os.path.join(modules_dir, f"mod_mpm_{name}.so"))), wanted[0])


def modules_for(settings, modules_dir: str) -> tuple:
    """Every Apache module (by short name) the configuration of `settings` uses."""
    modules = (f"mpm_{mpm_module(settings, modules_dir)}",) + REQUIRED_MODULES
    if settings.request_read_timeout:
        modules += ("reqtimeout",)
    if settings.https is not None:
        # its hosts inherit the main server's rewrite rules (static files)
        modules += ("ssl", "socache_shmcb", "rewrite")
        if settings.https.hsts_policy:
            modules += ("headers",)
    if settings.http2:
        modules += ("http2",)
    if (settings.server_name and settings.allow_localhost) or settings.server_status:
        modules += ("authz_host",)      # Require local
    if settings.setenv or settings.passenv:
        modules += ("env",)
    if settings.server_status:
        modules += ("status",)
    if settings.auth_user_script:
        modules += ("authn_core", "authz_user",
                    "auth_basic" if settings.auth_type == "Basic" else "auth_digest")
    if (settings.https is not None and settings.https.only) or (
            settings.server_name or "").lower().startswith("www."):
        modules += ("rewrite", "alias")
    if settings.serves_files or settings.handlers:
        modules += STATIC_FILE_MODULES
    if settings.rewrite_rules:
        modules += ("rewrite",)
    if settings.serves_files and settings.maps_directories:
        modules += ("dir",)             # DirectoryIndex, and the '/' a directory URL needs
        if settings.directory_listing:
            modules += ("autoindex",)
    if settings.docs_directory is not None:
        modules += ("dir", "autoindex")
    if settings.compress_responses:
        modules += COMPRESSION_MODULES
    if settings.proxy_mount_points or settings.proxy_virtual_hosts:
        modules += ("proxy", "proxy_http", "headers", "rewrite")
        if settings.proxies_to_https:
            modules += ("ssl",)
    return modules


def load_module_lines(modules_dir: str, modules=REQUIRED_MODULES) -> str:
    lines = []
    for name in modules:
        so = os.path.join(modules_dir, f"mod_{name}.so")
        if os.path.exists(so):
            lines.append(f"<IfModule !{name}_module>\n"
                         f'    LoadModule {name}_module "{conf_path(so)}"\n'
                         f"</IfModule>")
    return "\n".join(lines)


def mpm_lines(settings, mpm: str) -> str:
    """The MPM's sizing directives, by mod_wsgi-express's rules: --max-clients (by default
    10 + max(10, 1.5 x the daemons' threads), never fewer than those), and the shares
    --initial-workers, --minimum-spare-workers and --maximum-spare-workers of it that Apache
    starts with and keeps idle: in threads for event and worker, in processes for prefork."""
    capacity = settings.processes * settings.threads
    if settings.max_clients is not None:
        max_clients = max(settings.max_clients, capacity)
    else:
        max_clients = 10 + max(10, int(1.5 * capacity))
    if mpm == "prefork":
        initial, minimum, maximum = worker_shares(settings, initial=0.05, maximum=0.1)
        return "\n".join([
            f"ServerLimit {max_clients}", f"MaxRequestWorkers {max_clients}",
            f"StartServers {max(1, int(initial * max_clients))}",
            f"MinSpareServers {max(1, int(minimum * max_clients))}",
            f"MaxSpareServers {max(1, int(maximum * max_clients))}"])
    sizes = thread_mpm_sizing(settings, max_clients)
    return "\n".join([
        f"StartServers {sizes['start_servers']}", f"ServerLimit {sizes['server_limit']}",
        f"ThreadLimit {sizes['threads_per_child']}",
        f"ThreadsPerChild {sizes['threads_per_child']}",
        f"MaxRequestWorkers {sizes['max_request_workers']}",
        f"MinSpareThreads {sizes['min_spare_threads']}",
        f"MaxSpareThreads {sizes['max_spare_threads']}"])


def worker_shares(settings, *, initial: float, maximum: float) -> tuple:
    """(--initial-workers, --minimum-spare-workers, --maximum-spare-workers), each given or
    its default for the MPM: `initial`, the initial share, `maximum`."""
    started = initial if settings.initial_workers is None else settings.initial_workers
    return (started,
            started if settings.minimum_spare_workers is None
            else settings.minimum_spare_workers,
            maximum if settings.maximum_spare_workers is None
            else settings.maximum_spare_workers)


def thread_mpm_sizing(settings, max_clients: int) -> dict:
    """The event and worker MPMs' sizes for `max_clients`: children of at most about 20
    threads."""
    initial, minimum, maximum = worker_shares(settings, initial=0.2, maximum=0.6)
    per_child = int(max_clients / (int(max_clients / 20) + 1)) if max_clients > 20 else 10
    server_limit = math.ceil(max_clients / per_child)
    min_spare = max(per_child, int(minimum * server_limit) * per_child)
    return {
        "server_limit": server_limit,
        "start_servers": max(1, int(initial * server_limit)),
        "threads_per_child": per_child,
        "max_request_workers": server_limit * per_child,
        "min_spare_threads": min_spare,
        # these MPMs want MaxSpareThreads >= MinSpareThreads + ThreadsPerChild (they would
        # raise it themselves, with a warning at every start)
        "max_spare_threads": max(min_spare + per_child,
                                 int(maximum * server_limit) * per_child),
    }


def client_protection(settings) -> dict:
    """Keep-alive, the request body limit and mod_reqtimeout's RequestReadTimeout."""
    lines = []
    if settings.request_read_timeout:
        lines.append(f"RequestReadTimeout {settings.request_read_timeout}")
    return {
        "keep_alive": "On" if settings.keep_alive_timeout > 0 else "Off",
        "keep_alive_timeout": max(settings.keep_alive_timeout, 1),
        "limit_request_body": settings.limit_request_body,
        "server_backlog": settings.server_backlog,
        "request_read_timeout": "\n".join(lines),
        "timeout": option_value(settings.timeout),
    }


def option_value(value) -> str:
    """A daemon option's value as WSGIDaemonProcess takes it: 60.0 is `60`, 0.5 is `0.5`."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def option_word(name: str, value) -> str:
    """`name=value` as one argument of WSGIDaemonProcess (quoted: a locale or a path may hold
    spaces; the option table refuses control characters, and a quote is refused here)."""
    text = option_value(value)
    if '"' in text or "\\" in text:
        raise UnsafePath(f"the value {text!r} of {name}= has a double quote or a backslash, "
                         "which httpd.conf cannot hold here; choose another")
    return f'"{name}={text}"' if any(ch.isspace() for ch in text) else f"{name}={text}"


def daemon_paths(settings) -> str:
    """The home= and python-path= options shared by every daemon group of the server."""
    python_path = ":".join(conf_path(path) for path in settings.python_path)
    return f'"home={conf_path(settings.working_directory)}" "python-path={python_path}"'


def daemon_options(settings) -> str:
    """The application group's options after processes= and threads=, a few to a line."""
    words = [option_word(name, value) for name, value in settings.daemon_options]
    if settings.server_metrics:
        words.append("server-metrics=On")
    lines = [" ".join(words[start:start + 4]) for start in range(0, len(words), 4)]
    return " \\\n    ".join([daemon_paths(settings), *lines])


def log_target(settings, path: str, terminal: str) -> str:
    """Where a log goes, as ErrorLog and CustomLog take it: the terminal, or log_file()."""
    if settings.log_to_terminal:
        return terminal
    return log_file(settings, path)


def log_file(settings, path: str) -> str:
    """The file PATH, or with --rotate-logs a pipe to rotatelogs writing
    PATH.YYYY-MM-DD-HH_MM_SS files of at most --max-log-size megabytes (mod_wsgi-express's
    names); as ErrorLog, CustomLog and error-log= take it."""
    if settings.rotate_logs:
        return (f"|{shlex.quote(settings.rotatelogs_executable)} "
                f"{shlex.quote(conf_path(path) + '.%Y-%m-%d-%H_%M_%S')} "
                f"{settings.max_log_size}M")
    return conf_path(path)


def access_log_lines(settings, root) -> str:
    if not settings.access_log:
        return ""
    target = log_target(settings, root.access_log, "/dev/stdout")
    nickname = settings.access_log_format
    lines = [f"LogFormat {COMMON_LOG_FORMAT} common", f"LogFormat {COMBINED_LOG_FORMAT} combined"]
    if nickname not in ("common", "combined"):
        lines.append(f"LogFormat {conf_text(nickname)} custom")
        nickname = "custom"
    return "\n".join(lines + [f'CustomLog "{target}" {nickname}']) + "\n"


def request_handling_lines(settings) -> str:
    """How requests are handled: mod_wsgid's directives, the environment, error pages and
    the status page."""
    lines = [f"WSGIMapHEADToGET {settings.map_head_to_get}"]
    if settings.debugging:
        # the daemons keep start-server's terminal (wsgid/interpreter.py)
        lines.append("WSGIRestrictStdin Off")
    if settings.orphan_interpreter:
        lines.append("WSGIDestroyInterpreter Off")
    if settings.disable_reloading:
        lines.append("WSGIScriptReloading Off")
    for url in settings.ignore_activity:
        lines += [f'<Location "{url}">', "    WSGIIgnoreActivity On", "</Location>"]
    if settings.chunked_request:
        lines.append("WSGIChunkedRequest On")
    if settings.error_override:
        lines.append("WSGIErrorOverride On")
    if settings.trusted_proxy_headers:
        lines.append("WSGITrustedProxyHeaders " + " ".join(settings.trusted_proxy_headers))
    if settings.trusted_proxies:
        lines.append("WSGITrustedProxies " + " ".join(settings.trusted_proxies))
    if settings.verbose_debugging:
        lines.append("WSGIVerboseDebugging On")
    for status, document in settings.error_documents:
        lines.append(f"ErrorDocument {status} {conf_text(document)}")
    for name, value in settings.setenv:
        lines.append(f"SetEnv {name} {conf_text(value)}")
    for name in settings.passenv:
        lines.append(f"PassEnv {name}")
    if settings.server_status:
        lines += ["ExtendedStatus On", "<Location /server-status>",
                  "    SetHandler server-status", "    Require local", "</Location>"]
    return "\n".join(lines + hook_lines(settings)) + "\n"


def hook_lines(settings) -> list:
    """--host-access-script and --auth-*-script: Apache's access and authentication steps for
    the whole site, answered by the scripts in the application's daemon group."""
    group = f"process-group={settings.daemon_group} application-group=%{{GLOBAL}}"
    lines = []
    if settings.host_access_script:
        lines += ["<Location />",
                  f"    WSGIAccessScript {conf_text(settings.host_access_script)} {group}",
                  "</Location>"]
    if settings.auth_user_script:
        kind = settings.auth_type
        lines += ["<Location />", f"    AuthType {kind}",
                  f"    AuthName {conf_text(settings.main_server_name)}",
                  f"    Auth{kind}Provider wsgi",
                  f"    WSGIAuthUserScript {conf_text(settings.auth_user_script)} {group}"]
        require = ["    <RequireAll>", "        Require valid-user"]
        if settings.auth_group_script:
            lines.append(f"    WSGIAuthGroupScript {conf_text(settings.auth_group_script)} "
                         f"{group}")
            require.append(f"        Require wsgi-group {conf_text(settings.auth_group)}")
        lines += require + ["    </RequireAll>", "</Location>"]
    return lines


def static_file_lines(settings, root) -> str:
    """--rewrite-rules, --url-alias and --document-root: the user's rewrite rules, then the
    files Apache serves before the application sees the URL.

    A URL alias maps its URL (a directory alias: everything under it too); the document root
    maps a URL only when it names a file there (or, with --directory-index or a static site, a
    directory), so the application serves every other URL, as with mod_wsgi-express.
    """
    if not settings.serves_files and not settings.rewrite_rules:
        return ""
    lines = [""]
    if settings.rewrite_rules:
        lines += [f"# --rewrite-rules {settings.rewrite_rules}", "RewriteEngine On",
                  f'Include "{conf_path(settings.rewrite_rules)}"']
    if not settings.serves_files:
        return "\n".join(lines) + "\n"
    lines += ["# Files Apache serves itself: mod_rewrite maps these URLs to files before",
              "# mod_wsgid's WSGIScriptAlias could take them.",
              f'TypesConfig "{conf_path(root.mime_types)}"',
              "RewriteEngine On"]
    if settings.enable_sendfile:
        lines.append("EnableSendfile On")
    for alias in settings.url_aliases:
        url = re.escape(alias.url)
        target = rewrite_path(alias.path)
        lines.append(f"# --url-alias {alias.url} {alias.path}")
        if alias.is_directory:
            lines += [f'RewriteRule "^{url}(/.*)?$" "{target}$1" [L]',
                      f'<Directory "{conf_path(alias.path)}">',
                      *directory_lines(settings, index=False),
                      "</Directory>"]
        else:
            lines += [f'RewriteRule "^{url}$" "{target}" [L]',
                      f'<Directory "{conf_path(os.path.dirname(alias.path))}">',
                      f'    <Files "{conf_path(os.path.basename(alias.path))}">',
                      "        Require all granted",
                      "    </Files>",
                      "</Directory>"]
    if settings.docs_directory is not None:
        target = rewrite_path(settings.docs_directory)
        lines += [f"# --enable-docs: wsgid's documentation at {DOCS_URL}/",
                  f'RewriteRule "^{re.escape(DOCS_URL)}(/.*)?$" "{target}$1" [L]',
                  f'<Directory "{conf_path(settings.docs_directory)}">',
                  "    AllowOverride None", "    Require all granted",
                  "    Options +Indexes", "    DirectoryIndex disabled",
                  "    IndexOptions Charset=UTF-8",
                  '    AddType "text/plain; charset=utf-8" .md',
                  "</Directory>"]
    if settings.document_root is not None:
        target = rewrite_path(settings.document_root)
        if settings.maps_directories:
            what, conditions = "its files and directories", [
                f'RewriteCond "{target}$1" -f [OR]', f'RewriteCond "{target}$1" -d']
        else:
            what, conditions = "its files", [f'RewriteCond "{target}$1" -f']
        rest = ", the application serves the rest" if settings.has_application else ""
        lines += [f"# --document-root {settings.document_root}: {what}{rest}",
                  *conditions,
                  f'RewriteRule "^(/.*)$" "{target}$1" [L]',
                  f'<Directory "{conf_path(settings.document_root)}">',
                  *directory_lines(settings, index=True),
                  "</Directory>"]
    return "\n".join(lines) + "\n"


def directory_lines(settings, *, index: bool) -> list:
    """What a directory of static files allows: .htaccess (--allow-override), the handlers of
    --add-handler, and for the document root its index page and listing."""
    overrides = " ".join(settings.allow_override) or "None"
    lines = [f"    AllowOverride {overrides}", "    Require all granted"]
    for number, (extension, _) in enumerate(settings.handlers, 1):
        lines.append(f"    AddHandler {handler_name(number)} {extension}")
    if index and settings.directory_index:
        lines.append(f"    DirectoryIndex {conf_text(settings.directory_index)}")
    if index and settings.directory_listing:
        lines.append("    Options +Indexes")
    return lines


def handler_name(number: int) -> str:
    """The Apache handler of the `number`th --add-handler (WSGIHandlerScript's NAME)."""
    return f"wsgi-resource-{number}"


def compression_lines(settings) -> str:
    if not settings.compress_responses:
        return ""
    return ("\n# --compress-responses\n"
            f"AddOutputFilterByType DEFLATE {' '.join(COMPRESSED_TYPES)}\n")


def application_lines(settings, root) -> dict:
    """The application's daemon group, its WSGIScriptAlias at --mount-point and the
    --add-handler scripts; a static site has none of them (and no group unless a hook or a
    handler script needs one)."""
    target = f"process-group={settings.daemon_group} application-group=%{{GLOBAL}}"
    group = script_alias = script_directory = ""
    if settings.has_daemon_group:
        group = (f"WSGIDaemonProcess {settings.daemon_group} processes={settings.processes} "
                 f"threads={settings.threads} \\\n    {daemon_options(settings)}\n")
    if settings.has_application:
        script = application_script(settings, root)
        served = root.debug_script if settings.debugging else script
        script_alias = (f'WSGIScriptAlias {settings.mount_point} "{conf_path(served)}" '
                        f"{target}\n")
        script_directory = "".join(
            f'<Directory "{conf_path(directory)}">\n'
            "    AllowOverride None\n    Require all granted\n</Directory>\n"
            for directory in dict.fromkeys(os.path.dirname(path) for path in (script, served)))
    if settings.debugging:
        # Loaded when the daemon process starts: the tools are on before the application loads
        # (and --debugger-startup stops there).
        script_alias += ("# --debug-mode: the application runs under wsgid/debugging.py\n"
                         f'WSGIImportScript "{conf_path(root.debug_script)}" {target}\n')
    if settings.reload_on_changes:
        script_alias += ("# --reload-on-changes: each daemon process watches its modules\n"
                         f'WSGIImportScript "{conf_path(root.reloader_script)}" {target}\n')
    for number, (extension, path) in enumerate(settings.handlers, 1):
        script_alias += (f"# --add-handler {extension} {path}\n"
                         f'WSGIHandlerScript {handler_name(number)} "{conf_path(path)}" '
                         f"{target}\n")
    return {"daemon_group_lines": group, "script_alias": script_alias,
            "script_directory": script_directory}


def service_group_lines(settings, root) -> str:
    """A threads=0 daemon group per --service-script, running its script for the server's life;
    with --service-log-file its log is a file of its own (error-log=), as mod_wsgi-express
    gives it one (there, a <VirtualHost>'s ErrorLog)."""
    lines = []
    for service in settings.service_scripts:
        who = "".join(f" {option}={name}" for option, name in
                      (("user", service.run_user), ("group", service.run_group)) if name)
        if service.log_file:
            who += " " + option_word("error-log", log_file(
                settings, os.path.join(root.log_directory, service.log_file)))
        lines += ["",
                  f"# --service-script {service.name} {service.path}",
                  f"WSGIDaemonProcess {service.group} threads=0{who} {daemon_paths(settings)}",
                  f'WSGIImportScript "{conf_path(service.path)}" process-group={service.group} '
                  "application-group=%{GLOBAL}"]
    return "\n".join(lines)


def site_lines(settings, root) -> str:
    """--https-port, --server-name, --http2: the listeners and virtual hosts.

    Every virtual host serves what the main server configures (the application, the files):
    their settings are inherited, mod_rewrite's rules with `RewriteOptions Inherit`. With
    --server-name, the default host of each port refuses other host names (403), as
    mod_wsgi-express's does; without it, the HTTPS port serves every name."""
    https = settings.https
    lines = []
    if settings.http2:
        lines += ["", "# --http2", "Protocols h2 h2c http/1.1"]
    if https is not None:
        lines += ["", f"# --https-port {https.port}", f"Listen {settings.listen_on(https.port)}",
                  f'SSLSessionCache "shmcb:{conf_path(root.ssl_session_cache)}(512000)"']
        if https.ca_certificates is not None:
            # mod_ssl acts on these on HTTPS connections only
            for url in sorted(https.verify_client_urls or ("/",), reverse=True):
                lines += [f'<Location "{url}">', "    SSLVerifyClient require",
                          "    SSLVerifyDepth 1", "</Location>"]
    redirect = ([] if https is None or not https.only else
                ["    RewriteEngine On", "    RewriteCond %{HTTPS} !=on",
                 f"    RewriteRule ^ https://%{{SERVER_NAME}}:{https.port}%{{REQUEST_URI}} "
                 "[R=302,L]"])
    if settings.server_name is None:
        if redirect:
            lines += ["", "# --https-only: plain HTTP redirects to HTTPS",
                      *(line.strip() for line in redirect)]
        if https is not None:
            lines += ["", f"<VirtualHost _default_:{https.port}>", *_ssl_lines(https),
                      "</VirtualHost>"]
        return "\n".join(lines) + "\n"
    ports = [(settings.port, [])] + ([] if https is None else [(https.port, _ssl_lines(https))])
    names = [f"    ServerName {settings.server_name}"]
    if settings.server_aliases:
        names.append("    ServerAlias " + " ".join(settings.server_aliases))
    refuse = ["    <Location />", "        Require all denied" if not settings.allow_localhost
              else "        Require local", "    </Location>"]
    for port, ssl in ports:
        scheme = "http" if not ssl else "https"
        lines += ["", f"# --server-name {settings.server_name} on port {port}: other names "
                  "are refused", f"<VirtualHost _default_:{port}>", *refuse, *ssl,
                  "</VirtualHost>",
                  f"<VirtualHost *:{port}>", *names, *ssl, *(redirect if not ssl else []),
                  "</VirtualHost>"]
        if settings.server_name.lower().startswith("www."):
            parent = settings.server_name[4:]
            lines += [f"<VirtualHost *:{port}>", f"    ServerName {parent}",
                      f"    Redirect permanent / {scheme}://{settings.server_name}:{port}/",
                      *ssl, "</VirtualHost>"]
    return "\n".join(lines) + "\n"


def proxy_lines(settings) -> str:
    """--proxy-mount-point and --proxy-virtual-host: mod_proxy passes those requests on, with
    X-Forwarded-Port and X-Forwarded-Scheme (mod_proxy adds X-Forwarded-For, -Host, -Server)."""
    if not (settings.proxy_mount_points or settings.proxy_virtual_hosts):
        return ""
    forwarded = ['RequestHeader set X-Forwarded-Port "expr=%{SERVER_PORT}"',
                 'RequestHeader set X-Forwarded-Scheme "expr=%{REQUEST_SCHEME}"']
    lines = [""]
    if settings.proxies_to_https:
        lines.append("SSLProxyEngine On")
    for url, target in settings.proxy_mount_points:
        if url.endswith("/"):
            target = target if target.endswith("/") else target + "/"
        lines += [f"# --proxy-mount-point {url} {target}",
                  f'ProxyPass "{url}" "{target}"', f'ProxyPassReverse "{url}" "{target}"',
                  f'<Location "{url}">', *("    " + line for line in forwarded), "</Location>"]
        if url.endswith("/"):
            lines += ["RewriteEngine On",
                      f'RewriteRule "^{re.escape(url.rstrip("/"))}$" "{url}" [R=302,L]']
    if settings.proxy_virtual_hosts and settings.server_name is None:
        # Apache's first virtual host of a port answers the names no other one has: make it
        # one that serves what the main server does, not the first proxied name.
        lines += [f"<VirtualHost _default_:{settings.port}>", "    RewriteEngine On",
                  "    RewriteOptions Inherit", "</VirtualHost>"]
    for host, target in settings.proxy_virtual_hosts:
        target = target if target.endswith("/") else target + "/"     # ProxyPass / wants it
        lines += [f"# --proxy-virtual-host {host} {target}", f"<VirtualHost *:{settings.port}>",
                  f"    ServerName {host}", f'    ProxyPass / "{target}"',
                  f'    ProxyPassReverse / "{target}"', *("    " + line for line in forwarded),
                  "</VirtualHost>"]
    return "\n".join(lines) + "\n"


def _ssl_lines(https) -> list:
    """What each HTTPS virtual host says (it also inherits the main server's rewrite rules)."""
    lines = ["    SSLEngine On",
             f'    SSLCertificateFile "{conf_path(https.certificate)}"',
             f'    SSLCertificateKeyFile "{conf_path(https.key)}"']
    if https.chain:
        lines.append(f'    SSLCertificateChainFile "{conf_path(https.chain)}"')
    if https.ca_certificates:
        lines.append(f'    SSLCACertificateFile "{conf_path(https.ca_certificates)}"')
    if https.environment:
        lines.append("    SSLOptions +StdEnvVars")
    if https.hsts_policy:
        lines.append(f'    Header always set Strict-Transport-Security "{https.hsts_policy}"')
    lines += ["    RewriteEngine On", "    RewriteOptions Inherit"]
    return lines


def application_script(settings, root) -> str:
    """The script WSGIScriptAlias serves: SCRIPT, or for a module or a Paste Deploy file the
    generated script that loads it."""
    if settings.application_type == "module":
        return root.module_script
    if settings.application_type == "paste":
        return root.paste_script
    return settings.script


def render_httpd_conf(settings, root, *, command: str, httpd: str, modules_dir: str,
                      wsgid_module: str, python_executable: str) -> str:
    """httpd.conf for `settings` (ServerSettings) laid out as `root` (serverroot.ServerRoot)."""
    if settings.user is not None:
        user_and_group = f"User {settings.user}\nGroup {settings.group}\n"
    else:
        user_and_group = ""
    mpm = mpm_module(settings, modules_dir)
    values = {
        "command": command,
        "url": settings.url,
        "server_root": conf_path(root.path),
        "pid_file": conf_path(root.pid_file),
        "server_name": settings.main_server_name,
        "listen": settings.listen,
        "user_and_group": user_and_group,
        "load_modules": load_module_lines(modules_dir, modules_for(settings, modules_dir)),
        "mpm": mpm,
        "mpm_sizing": mpm_lines(settings, mpm),
        "wsgid_module": conf_path(wsgid_module),
        "error_log": log_target(settings, root.error_log, "/dev/stderr"),
        "log_level": settings.log_level,
        "access_log": access_log_lines(settings, root),
        "document_root": conf_path(settings.document_root or root.document_root),
        "static_files": static_file_lines(settings, root),
        "compression": compression_lines(settings),
        "python_executable": conf_path(python_executable),
        "socket_prefix": conf_path(root.socket_prefix),
        "callable_object": settings.callable_object,
        **application_lines(settings, root),
        "service_groups": service_group_lines(settings, root),
        "sites": site_lines(settings, root) + proxy_lines(settings),
        "include_files": "".join(f'# --include-file\nInclude "{conf_path(path)}"\n'
                                 for path in settings.include_files),
        "request_handling": request_handling_lines(settings),
        "error_log_format": (f"ErrorLogFormat {conf_text(settings.error_log_format)}\n"
                             if settings.error_log_format else ""),
        **client_protection(settings),
    }
    return _template("httpd.conf").substitute(values)


def render_module_script(settings, *, command: str) -> str:
    """The WSGI script that serves `--application-type module`'s module."""
    return _template("module.wsgi").substitute({
        "command": command,
        "module": settings.script,
        "callable": settings.callable_object,
    })


def render_reloader_script(*, command: str) -> str:
    """The import script that starts wsgid/reloader.py in each daemon process."""
    return _template("reloader.py").substitute({"command": command})


def render_paste_script(settings, *, command: str) -> str:
    """The WSGI script that serves `--application-type paste`'s configuration file."""
    return _template("paste.wsgi").substitute({
        "command": command,
        "config": repr("config:" + settings.script),
        "callable": settings.callable_object,
    })


def render_debug_script(settings, root, *, command: str) -> str:
    """The WSGI script of the application in debug mode: the real one under the debug tools."""
    debugging = settings.debugging
    return _template("debug.wsgi").substitute({
        "command": command,
        "callable": settings.callable_object,
        "callable_repr": repr(settings.callable_object),
        "script": repr(application_script(settings, root)),
        "debugger": debugging.debugger,
        "debugger_startup": debugging.debugger_startup,
        "profiler_directory": repr(debugging.profiler_directory),
        "coverage_directory": repr(debugging.coverage_directory),
        "recorder_directory": repr(debugging.recorder_directory),
        "gdb_executable": repr(debugging.gdb_executable),
    })


def render_mime_types() -> str:
    """A mime.types file (Apache's TypesConfig) from Python's table of types, one type a line."""
    extensions_by_type = {}
    for extension, mime_type in sorted(mimetypes.MimeTypes().types_map[True].items()):
        extensions_by_type.setdefault(mime_type, []).append(extension.lstrip("."))
    return "".join(f"{mime_type} {' '.join(extensions)}\n"
                   for mime_type, extensions in sorted(extensions_by_type.items()))


def apache_environment(settings, root, modules_dir: str) -> dict:
    """The variables mod_wsgi-express's apachectl exports for Apache (and so for an
    --include-file's `${MOD_WSGI_SERVER_ROOT}` or an envvars script): the same here, for
    start-server and apachectl alike."""
    return {
        "MOD_WSGI_SERVER_ROOT": root.path,
        "MOD_WSGI_LISTENER_HOST": "" if settings.host == "*" else settings.host,
        "MOD_WSGI_HTTP_PORT": str(settings.port),
        "MOD_WSGI_HTTPS_PORT": str(settings.https.port) if settings.https else "",
        "MOD_WSGI_MODULES_DIRECTORY": modules_dir,
        "MOD_WSGI_USER": settings.user or "",
        "MOD_WSGI_GROUP": settings.group or "",
        "MOD_WSGI_WORKING_DIRECTORY": settings.working_directory,
    }


def render_envvars(settings) -> str:
    """SERVER_ROOT/envvars with --envvars-script: it sources that script."""
    return ("# Generated by wsgid for --envvars-script: sourced before Apache starts.\n"
            f". {shlex.quote(settings.envvars_script)}\n")


def render_apachectl(settings, root, *, command: str, httpd: str, modules_dir: str) -> str:
    """The apachectl shell script of `root`: start, stop, restart, graceful, configtest."""
    exports = "\n".join(f"{name}={shlex.quote(value)}; export {name}" for name, value in
                        apache_environment(settings, root, modules_dir).items())
    return _template("apachectl").substitute({
        "command": command,
        "shell": settings.shell_executable,
        "httpd": shlex.quote(httpd),
        "conf": shlex.quote(root.httpd_conf),
        "exports": exports,
        "envvars": shlex.quote(root.envvars),
    })
