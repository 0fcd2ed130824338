"""`wsgid start-server` and `wsgid setup-server`: thin click adapters over the express launcher.

The options come from settings.START_SERVER_OPTIONS, one row each; nothing here declares an
option by hand. Every problem found before Apache starts is a click error of one line (exit 1).
"""

from __future__ import annotations

import sys

import click

from wsgid.express.settings import START_SERVER_OPTIONS, SettingsError, resolve_settings

# Options that only make sense for start-server (setup-server never starts Apache).
START_ONLY = ("setup-only",)


def express_options(*, exclude=()):
    """Decorator adding the table's options (in table order) to a click command."""

    def decorate(command):
        for row in reversed(START_SERVER_OPTIONS):
            if row.name in exclude:
                continue
            help_text = f"{row.help}  [default: {row.default_text}]"
            if row.is_flag:
                option = click.option(row.flag, row.dest, is_flag=True, default=row.default,
                                      help=help_text)
            else:
                option = click.option(row.flag, row.dest, type=row.type, default=row.default,
                                      metavar=row.metavar, help=help_text)
            command = option(command)
        return command

    return decorate


def _prepare(command: str, script, values):
    from wsgid.express.serverroot import prepare

    try:
        settings = resolve_settings(script, values)
        root, install = prepare(settings, command=command)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    return settings, root, install


def _echo_setup(command: str, settings, root) -> None:
    click.echo(f"wsgid {command}: server root {root.path} for {settings.url}")
    click.echo(f"  Configuration: {root.httpd_conf}")
    click.echo(f"  Start:         {root.apachectl} start")
    click.echo(f"  Stop:          {root.apachectl} stop")
    click.echo(f"  Error log:     {root.error_log}")


def _echo_banner(settings, root) -> None:
    click.echo(f"wsgid start-server: serving {settings.url}  (Ctrl-C stops the server)")
    click.echo(f"  Script:        {settings.script}")
    click.echo(f"  Daemons:       {settings.processes} process(es) x {settings.threads} "
               f"thread(s), group {settings.daemon_group}")
    click.echo(f"  Server root:   {root.path}")
    click.echo(f"  Error log:     {root.error_log}")
    sys.stdout.flush()


@click.command("start-server")
@click.argument("script", required=False)
@express_options()
def start_server(script, **values):
    """Run Apache httpd in the foreground in front of the WSGI SCRIPT.

    Without SCRIPT it serves a welcome page. Ctrl-C stops Apache, the supervisor and the daemon
    processes; SIGHUP and SIGUSR1 restart Apache (plain and graceful).
    """
    from wsgid.express.runner import check_listen_address, run_foreground

    settings, root, install = _prepare("start-server", script, values)
    if values["setup_only"]:
        _echo_setup("start-server", settings, root)
        return
    try:
        check_listen_address(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    _echo_banner(settings, root)
    sys.exit(run_foreground(install.httpd, root.httpd_conf))


@click.command("setup-server")
@click.argument("script", required=False)
@express_options(exclude=START_ONLY)
def setup_server(script, **values):
    """Write a server root for the WSGI SCRIPT (httpd.conf and an apachectl script) and exit.

    Then `SERVER_ROOT/apachectl start|stop|restart|graceful|configtest` controls that Apache.
    """
    settings, root, _ = _prepare("setup-server", script, values)
    _echo_setup("setup-server", settings, root)
