"""The `wsgid` commands: thin click adapters over the package's entry points.

cli.main() runs them (cli.py: the plain `wsgid supervise` command line is read there without
importing this module, so that click is not in the supervisor nor in its daemon processes).
Each command imports what it needs when it runs, so `wsgid check-config` (which Apache runs on
every configuration load) starts fast and the supervisor loads nothing it does not use.
"""

import sys

import click


class _Commands(click.Group):
    """The commands; start-server and setup-server import the express launcher only when they
    are asked for, so that the supervisor (and every daemon process forked from it) and
    check-config do not carry it."""

    EXPRESS = {"start-server": "start_server", "setup-server": "setup_server"}

    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *self.EXPRESS])

    def get_command(self, ctx, name):
        if name in self.EXPRESS:
            from wsgid.express import cli as express_cli

            return getattr(express_cli, self.EXPRESS[name])
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wsgid")
def cli():
    """Run WSGI applications behind Apache httpd in daemon process groups."""


@cli.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Daemon configuration file (WSGIDaemonProcess and friends, Apache syntax).")
@click.option("--managed-by", type=int, default=None, metavar="PID",
              help="Pid of the Apache parent that started this supervisor; exit when it dies.")
def supervise(config_path, managed_by):
    """Bind each daemon group's socket and run its daemon processes."""
    from wsgid.supervisor import main as supervisor_main

    sys.exit(supervisor_main(config_path, managed_by))


@cli.command()
@click.option("--config", "config_path", default=None,
              # Only its path matters (FILE.control): the file itself may be unreadable to us.
              type=click.Path(dir_okay=False, readable=False),
              help="Ask only the supervisor of this daemon configuration file (default: every "
                   "running supervisor you may ask).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document (keys: docs/operations.md) instead of tables.")
def status(config_path, as_json):
    """Show each daemon group's processes: pid, state, uptime, requests, memory, CPU time.

    Asks running supervisors through their control socket, which only their own user and
    root may use. Exit status 0 when every supervisor found answered, else 1.
    """
    from wsgid.status import main as status_main

    sys.exit(status_main(config_path, as_json, echo=click.echo,
                         echo_error=lambda line: click.echo(line, err=True)))


@cli.command("check-config")
@click.argument("config_path", type=click.Path(dir_okay=False))
def check_config(config_path):
    """Validate a daemon configuration file; print what is wrong and how to fix it."""
    from wsgid.config import check_file

    sys.exit(check_file(config_path))


@cli.command("module-config")
def module_config():
    """Print the lines to paste into an Apache configuration to load mod_wsgid.

    The module is loaded as `wsgi_module`, mod_wsgi's name, so that `<IfModule wsgi_module>`
    holds as well as `<IfModule mod_wsgi.c>` (the module's own name) in a ported configuration.
    """
    from wsgid.paths import module_path, python_executable

    click.echo(f'LoadModule wsgi_module "{module_path()}"')
    click.echo(f'WSGIPythonExecutable "{python_executable()}"')


@cli.command("module-location")
def module_location():
    """Print the path of this installation's mod_wsgid.so (mod_wsgi-express module-location)."""
    from wsgid.paths import module_path

    click.echo(module_path())


@cli.command("install-module")
@click.option("--modules-directory", type=click.Path(file_okay=False), default=None,
              metavar="DIRECTORY",
              help="Where to copy mod_wsgid.so (default: the modules directory of the Apache "
                   "wsgid was built for).")
def install_module(modules_directory):
    """Copy mod_wsgid.so into Apache's modules directory and print the lines that load it.

    As mod_wsgi-express install-module does: the module then stays loadable from a path that
    does not change with the Python environment, and the printed lines go into the Apache
    configuration. WSGIPythonExecutable still names this environment's interpreter, which runs
    the supervisor and the daemons.
    """
    from wsgid.paths import install_module as install, python_executable

    try:
        target = install(modules_directory)
    except OSError as exc:
        raise click.ClickException(f"cannot install mod_wsgid.so: {exc}; give a directory you may "
                                   "write with --modules-directory, or run as root.") from None
    click.echo(f'LoadModule wsgi_module "{target}"')
    click.echo(f'WSGIPythonExecutable "{python_executable()}"')
