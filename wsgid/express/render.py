"""The text of a server root's generated files, from the templates in templates/.

Rules:
- Templates are string.Template files (`${name}` placeholders) so that Apache's own `%{...}`
  syntax passes through untouched; a placeholder without a value is an error (substitute, not
  safe_substitute), so a template and this module cannot drift apart silently. In the shell
  template apachectl, `$$` is the shell's own `$`.
- Every value put into httpd.conf is either a number, a name checked by settings.py, or a path
  quoted by conf_path(); a path with a control character or a double quote is refused, since it
  could end the directive and start another.
- This module computes text only: serverroot.py decides where it goes.
"""

from __future__ import annotations

import math
import os
import shlex
import string

TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

# Modules start-server needs besides mod_wsgid. Some Apache builds compile a few of them in
# (Debian: unixd and log_config), so each is loaded only where its file exists and it is not
# already there.
REQUIRED_MODULES = ("mpm_event", "unixd", "authz_core", "log_config")

APACHE_THREADS_PER_CHILD = 25


class UnsafePath(ValueError):
    """A path that cannot be written into httpd.conf safely; str() says which and why."""


def conf_path(path: str) -> str:
    """`path` ready to go between double quotes in httpd.conf."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path) or '"' in path:
        raise UnsafePath(f"the path {path!r} contains a control character or a double quote, "
                         "which httpd.conf cannot hold; rename or move it")
    return path


def _template(name: str) -> string.Template:
    with open(os.path.join(TEMPLATES_DIR, name), encoding="utf-8") as f:
        return string.Template(f.read())


def load_module_lines(modules_dir: str) -> str:
    lines = []
    for name in REQUIRED_MODULES:
        so = os.path.join(modules_dir, f"mod_{name}.so")
        if os.path.exists(so):
            lines.append(f"<IfModule !{name}_module>\n"
                         f'    LoadModule {name}_module "{conf_path(so)}"\n'
                         f"</IfModule>")
    return "\n".join(lines)


def mpm_sizing(processes: int, threads: int) -> dict:
    """ServerLimit and friends for the event MPM: room for twice the daemons' capacity."""
    wanted = max(2 * processes * threads, APACHE_THREADS_PER_CHILD)
    server_limit = math.ceil(wanted / APACHE_THREADS_PER_CHILD)
    workers = server_limit * APACHE_THREADS_PER_CHILD
    return {
        "server_limit": server_limit,
        "threads_per_child": APACHE_THREADS_PER_CHILD,
        "max_request_workers": workers,
        # The event MPM wants MaxSpareThreads >= MinSpareThreads + ThreadsPerChild.
        "max_spare_threads": max(workers, 2 * APACHE_THREADS_PER_CHILD),
    }


def render_httpd_conf(settings, root, *, command: str, httpd: str, modules_dir: str,
                      wsgid_module: str, python_executable: str) -> str:
    """httpd.conf for `settings` (ServerSettings) laid out as `root` (serverroot.ServerRoot)."""
    if settings.user is not None:
        user_and_group = f"User {settings.user}\nGroup {settings.group}\n"
    else:
        user_and_group = ""
    values = {
        "command": command,
        "url": settings.url,
        "server_root": conf_path(root.path),
        "pid_file": conf_path(root.pid_file),
        "server_name": settings.server_name,
        "listen": settings.listen,
        "user_and_group": user_and_group,
        "load_modules": load_module_lines(modules_dir),
        "wsgid_module": conf_path(wsgid_module),
        "error_log": conf_path(root.error_log),
        "log_level": settings.log_level,
        "document_root": conf_path(root.document_root),
        "script_directory": conf_path(os.path.dirname(settings.script)),
        "python_executable": conf_path(python_executable),
        "socket_prefix": conf_path(root.socket_prefix),
        "daemon_group": settings.daemon_group,
        "processes": settings.processes,
        "threads": settings.threads,
        "script": conf_path(settings.script),
        **mpm_sizing(settings.processes, settings.threads),
    }
    return _template("httpd.conf").substitute(values)


def render_apachectl(root, *, command: str, httpd: str) -> str:
    """The apachectl shell script of `root`: start, stop, restart, graceful, configtest."""
    return _template("apachectl").substitute({
        "command": command,
        "httpd": shlex.quote(httpd),
        "conf": shlex.quote(root.httpd_conf),
    })
