"""The `wsgid` entry point: `supervise` read without click, everything else through click."""

import subprocess
import sys

import pytest

from wsgid import cli, commands


def run_wsgid(*args, code=""):
    """Run cli.main() with argv `wsgid ARGS` in a fresh interpreter, then `code` at exit."""
    program = ("import atexit, sys\n"
               f"atexit.register(lambda: exec({code!r}))\n"
               f"sys.argv = ['wsgid', *{list(args)!r}]\n"
               "from wsgid.cli import main\n"
               "main()\n")
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args, expected", [
    (["supervise", "--config", "/etc/wsgid.conf"], ("/etc/wsgid.conf", None)),
    (["supervise", "--config=/etc/wsgid.conf"], ("/etc/wsgid.conf", None)),
    (["supervise", "--config", "d.conf", "--managed-by", "42"], ("d.conf", 42)),
    (["supervise", "--managed-by=42", "--config", "d.conf"], ("d.conf", 42)),
])
def test_the_plain_supervise_command_line_is_read_without_click(args, expected):
    assert cli.supervise_arguments(args) == expected


@pytest.mark.parametrize("args", [
    [],
    ["status"],
    ["supervise"],
    ["supervise", "--help"],
    ["supervise", "--config"],
    ["supervise", "--config", "--managed-by", "42"],
    ["supervise", "--config", "a.conf", "--config", "b.conf"],
    ["supervise", "--config", "d.conf", "--managed-by", "apache"],
    ["supervise", "--config", "d.conf", "--verbose"],
    ["supervise", "--config", "d.conf", "extra"],
    ["supervise", "--config="],
])
def test_anything_else_is_left_to_click(args):
    assert cli.supervise_arguments(args) is None


def test_a_directory_as_the_configuration_file_is_left_to_click(tmp_path):
    assert cli.supervise_arguments(["supervise", "--config", str(tmp_path)]) is None


def test_the_options_read_without_click_are_the_click_commands_options():
    params = commands.supervise.params
    assert sorted(opt for p in params for opt in p.opts) == sorted(cli.SUPERVISE_OPTIONS)
    # In the order supervisor.main takes them.
    assert [p.name for p in params] == ["config_path", "managed_by"]
    assert cli.SUPERVISE in commands.cli.commands


def test_the_supervisor_does_not_import_click(tmp_path):
    missing = str(tmp_path / "missing.conf")
    done = run_wsgid("supervise", "--config", missing,
                     code="print('click loaded:', 'click' in sys.modules)")
    assert done.returncode == 2
    assert "missing.conf" in done.stderr
    assert "click loaded: False" in done.stdout


def test_help_and_mistakes_get_clicks_messages():
    done = run_wsgid("supervise", "--help")
    assert done.returncode == 0
    assert "Usage: wsgid supervise" in done.stdout
    done = run_wsgid("supervise", "--config", "d.conf", "--managed-by", "apache")
    assert done.returncode == 2
    assert "'apache' is not a valid integer" in done.stderr
