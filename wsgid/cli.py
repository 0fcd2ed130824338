"""The `wsgid` command line: main(), the entry point of the `wsgid` script and `python -m wsgid`.

Rules:
- The commands are click adapters (commands.py); main() hands them the command line, with one
  exception: `wsgid supervise --config FILE [--managed-by PID]`, the command line that the
  Apache module and the systemd unit run, is read here, without importing click. Every daemon
  process is forked from the supervisor and carries each module the supervisor imported; click
  and what it imports (uuid, datetime, gettext, ...) would be about 1.8 MiB of every daemon's
  RSS (bench/README.md, "Memory").
- Only that form is read here, and only with values click would accept: anything else (--help,
  an unknown or repeated option, a missing value, a PID that is not a number, a directory as
  FILE) goes to click, so help and error messages are always click's. The options read here are
  the click command's (tests/unit/test_cli.py holds the two together).
"""

import os
import sys

SUPERVISE = "supervise"
SUPERVISE_OPTIONS = ("--config", "--managed-by")


def main():
    plain = supervise_arguments(sys.argv[1:])
    if plain is not None:
        from wsgid.supervisor import main as supervisor_main

        sys.exit(supervisor_main(*plain))
    from wsgid.commands import cli

    cli(prog_name="wsgid")


def supervise_arguments(args):
    """(config_path, managed_by) when args are `supervise --config FILE [--managed-by PID]`, the
    options in any order, each as `--name VALUE` or `--name=VALUE`; None for anything else."""
    if not args or args[0] != SUPERVISE:
        return None
    values = {}
    rest = iter(args[1:])
    for arg in rest:
        name, equals, value = arg.partition("=")
        if name not in SUPERVISE_OPTIONS or name in values:
            return None
        if not equals:
            value = next(rest, None)
            if value is None or value.startswith("-"):
                return None
        values[name] = value
    config_path = values.get("--config")
    # click.Path(dir_okay=False) refuses an existing directory.
    if not config_path or os.path.isdir(config_path):
        return None
    managed_by = values.get("--managed-by")
    if managed_by is not None:
        try:
            managed_by = int(managed_by)    # what click's INT does
        except ValueError:
            return None
    return config_path, managed_by
