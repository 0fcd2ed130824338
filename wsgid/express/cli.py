"""`wsgid start-server` and `wsgid setup-server`: thin click adapters over the express launcher.

The options come from settings.START_SERVER_OPTIONS, one row each; nothing here declares an
option by hand. --help prints them under the rows' group headings. Every problem found before
Apache starts is a click error of one line (exit 1).
"""

from __future__ import annotations

import sys

import click

from wsgid.express.resolve import SettingsError, resolve_settings
from wsgid.express.settings import GROUPS, MOD_WSGI_EXPRESS_FLAGS, REFUSED, START_SERVER_OPTIONS


def _click_option(row):
    help_text = f"{row.help}  [default: {row.default_text}]"
    if row.negative:
        return click.option(f"{row.flag}/--{row.negative}", row.dest, default=row.default,
                            help=help_text)
    if row.is_flag:
        return click.option(row.flag, row.dest, is_flag=True, default=row.default,
                            help=help_text)
    return click.option(row.flag, *(f"--{alias}" for alias in row.aliases), row.dest,
                        type=row.type, default=row.default, metavar=row.metavar,
                        help=help_text, multiple=row.multiple, nargs=row.nargs)


def express_options(*, start_only: bool):
    """Decorator adding the table's options (in table order) to a click command."""

    def decorate(command):
        for row in reversed(START_SERVER_OPTIONS):
            if row.start_only and not start_only:
                continue
            command = _click_option(row)(command)
        return command

    return decorate


class OneLineUsageError(click.ClickException):
    """A bad command line, told in one line (click's own adds the usage and a hint)."""

    exit_code = 2


class ExpressCommand(click.Command):
    """A click command whose --help lists the options under the table's group headings, and
    whose command-line mistakes are one line, like every other startup failure."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.NoSuchOption as exc:
            name = exc.option_name.lstrip("-")
            if name in REFUSED:
                raise OneLineUsageError(f"{exc.option_name} (mod_wsgi-express) is not for wsgid: "
                                        f"{REFUSED[name]}.") from None
            if name in MOD_WSGI_EXPRESS_FLAGS:
                raise OneLineUsageError(
                    f"{exc.option_name} is a mod_wsgi-express option that wsgid {info_name} "
                    "does not have yet (docs/express.md lists the ones it has)") from None
            raise OneLineUsageError(f"{exc.format_message()} (`wsgid {info_name} --help` lists "
                                    "the options)") from None
        except click.UsageError as exc:
            raise OneLineUsageError(f"{exc.format_message()} (`wsgid {info_name} --help` lists "
                                    "the options)") from None

    def format_options(self, ctx, formatter):
        group_of = {row.dest: row.group for row in START_SERVER_OPTIONS}
        sections = {group: [] for group in GROUPS}
        other = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is None:
                continue
            sections.get(group_of.get(param.name), other).append(record)
        for group in GROUPS:
            if sections[group]:
                with formatter.section(group):
                    formatter.write_dl(sections[group])
        if other:
            with formatter.section("Other"):
                formatter.write_dl(other)


def _prepare(command: str, script, values):
    from wsgid.express.serverroot import prepare

    try:
        settings = resolve_settings(script, values)
        root, install = prepare(settings, command=command)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    return settings, root, install


def _log_lines(settings, root) -> list:
    error_log = "standard error" if settings.log_to_terminal else root.error_log
    lines = [f"  Error log:     {error_log}"]
    if settings.access_log:
        access_log = "standard output" if settings.log_to_terminal else root.access_log
        lines.append(f"  Access log:    {access_log}")
    return lines


def _debug_lines(debugging) -> list:
    if debugging is None:
        return []
    tools = [name for name, on in (("pdb post-mortem", debugging.debugger),
                                   ("pdb at startup", debugging.debugger_startup),
                                   ("under gdb", debugging.gdb_executable)) if on]
    lines = ["  Debug mode:    one process, one thread, no timeouts, no reloading"
             + (f"; {', '.join(tools)}" if tools else "")]
    for name, path in (("Profiler", debugging.profiler_directory),
                       ("Coverage", debugging.coverage_directory),
                       ("Recorder", debugging.recorder_directory)):
        if path is not None:
            lines.append(f"  {name + ':':<15}{path}")
    return lines


def _echo_setup(command: str, settings, root) -> None:
    click.echo(f"wsgid {command}: server root {root.path} for {settings.url}")
    click.echo(f"  Configuration: {root.httpd_conf}")
    click.echo(f"  Start:         {root.apachectl} start")
    click.echo(f"  Stop:          {root.apachectl} stop")
    for line in _log_lines(settings, root):
        click.echo(line)


def _echo_banner(settings, root, *, isatty: bool) -> None:
    stop = "Ctrl-C stops the server" if isatty else "SIGTERM stops the server"
    click.echo(f"wsgid start-server: serving {settings.url}  ({stop})")
    if settings.application_type == "module":
        click.echo(f"  Application:   {settings.script}:{settings.callable_object} (module)")
    elif settings.application_type == "static":
        click.echo(f"  Files:         {settings.script} (static, no application)")
    else:
        kind = " (Paste Deploy)" if settings.application_type == "paste" else ""
        click.echo(f"  Script:        {settings.script}{kind}")
    if settings.mount_point != "/":
        click.echo(f"  Mount point:   {settings.mount_point}")
    if settings.has_daemon_group:
        click.echo(f"  Daemons:       {settings.processes} process(es) x {settings.threads} "
                   f"thread(s), group {settings.daemon_group}")
    for service in settings.service_scripts:
        click.echo(f"  Service:       {service.path}, group {service.group}")
    for line in _debug_lines(settings.debugging):
        click.echo(line)
    click.echo(f"  Server root:   {root.path}")
    for line in _log_lines(settings, root):
        click.echo(line)
    sys.stdout.flush()


@click.command("start-server", cls=ExpressCommand)
@click.argument("script", required=False)
@express_options(start_only=True)
def start_server(script, **values):
    """Run Apache httpd in the foreground in front of the WSGI SCRIPT.

    SCRIPT is a WSGI script file, or with --application-type module a dotted module name.
    Without SCRIPT it serves a welcome page. Ctrl-C stops Apache, the supervisor and the daemon
    processes; SIGHUP and SIGUSR1 restart Apache (plain and graceful).
    """
    from wsgid.express.runner import (apache_environ, check_listen_address, exec_apache,
                                      run_foreground)

    settings, root, install = _prepare("start-server", script, values)
    if values["setup_only"]:
        _echo_setup("start-server", settings, root)
        return
    try:
        check_listen_address(settings)
        env = apache_environ(settings, root, install.modules_dir)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    how = (root.startup_log if settings.startup_log else None, settings.process_name)
    isatty = values["isatty"]
    if isatty is None:
        isatty = sys.stdin is not None and sys.stdin.isatty()
    _echo_banner(settings, root, isatty=isatty)
    if not isatty:
        exec_apache(install.httpd, root.httpd_conf, *how, env=env)
    sys.exit(run_foreground(install.httpd, root.httpd_conf, *how, env=env))


@click.command("setup-server", cls=ExpressCommand)
@click.argument("script", required=False)
@express_options(start_only=False)
def setup_server(script, **values):
    """Write a server root for the WSGI SCRIPT (httpd.conf and an apachectl script) and exit.

    Then `SERVER_ROOT/apachectl start|stop|restart|graceful|configtest` controls that Apache.
    """
    settings, root, _ = _prepare("setup-server", script, values)
    _echo_setup("setup-server", settings, root)
