"""The daemon's interpreter settings (wsgid/interpreter.py), the server-wide directives that
carry them (config.py), and the supervisor's re-exec for WSGIPythonOptimize/HashSeed."""

import os
import signal
import sys
import textwrap
import types

import pytest

from wsgid import config, interpreter
from wsgid.config import ServerSettings
from wsgid.errors import ConfigError
from wsgid.loader import ScriptForbidden, ScriptLoader, module_name
from wsgid.supervisor import interpreter_flag_changes, reexec_argv


def parse(text, tmp_path):
    return config.parse(textwrap.dedent(text), str(tmp_path / "f.conf"), running_ids=(0, 0))


# -- config.py ---------------------------------------------------------------------------------

def test_server_directives_are_read_case_insensitively(tmp_path):
    settings = parse("""
        wsgipythonoptimize 2
        WSGIPythonHashSeed random
        WSGIDontWriteBytecode ON
        WSGIPythonWarnings ignore::DeprecationWarning
        WSGIPythonWarnings error
        WSGIRestrictStdin off
        WSGIRestrictStdout On
        WSGIRestrictSignal oFF
        WSGIDestroyInterpreter Off
        WSGIVerboseDebugging On
        WSGIServerMetrics On
        WSGINewRelicConfigFile /etc/newrelic.ini
        WSGINewRelicEnvironment staging
        WSGICaseSensitivity Off
        WSGIAcceptMutex flock
        """, tmp_path).server
    assert settings == ServerSettings(
        python_optimize=2, python_hash_seed="random", dont_write_bytecode=True,
        python_warnings=("ignore::DeprecationWarning", "error"), restrict_stdin=False,
        restrict_stdout=True, restrict_signal=False, destroy_interpreter=False,
        verbose_debugging=True, server_metrics=True, newrelic_config_file="/etc/newrelic.ini",
        newrelic_environment="staging", case_sensitivity=False, accept_mutex="flock")


def test_server_defaults_are_mod_wsgis(tmp_path):
    settings = parse("", tmp_path).server
    assert (settings.restrict_stdin, settings.restrict_stdout, settings.restrict_signal,
            settings.destroy_interpreter, settings.case_sensitivity) == (True, False, True,
                                                                        True, True)
    assert settings.python_optimize is None and settings.python_hash_seed is None


def test_a_server_directive_given_again_takes_the_later_value_as_in_apache(tmp_path):
    config = parse("WSGIRestrictStdin On\nWSGIRestrictStdin Off\n", tmp_path)
    assert config.server.restrict_stdin is False


@pytest.mark.parametrize("line, words", [
    ("WSGIPythonOptimize 3", "from 0 to 2"),
    ("WSGIPythonHashSeed 4294967296", "'random' or a whole number from 0 to 4294967295"),
    ("WSGIPythonHashSeed -1", "'random' or a whole number"),
    ("WSGIRestrictSignal yes", "must be On or Off"),
    ("WSGIPythonHome /no/such/dir/wsgid", "does not exist"),
    ("WSGIPythonWarnings shout", "not an action"),
    ("WSGIPythonWarnings ignore::NoSuchWarning", "not a built-in warning category"),
    ("WSGIPythonWarnings ignore::Warning::x", "line number"),
    ("WSGINewRelicConfigFile newrelic.ini", "absolute path"),
    ("WSGIServerMetrics", "takes 1 argument"),
])
def test_server_directive_mistakes_name_directive_value_line_and_fix(tmp_path, line, words):
    with pytest.raises(ConfigError) as info:
        parse(line, tmp_path)
    error = info.value
    assert error.directive == line.split()[0]
    assert words in error.problem and error.fix
    assert error.source.endswith("f.conf") and error.line >= 1


def test_python_home_and_server_metrics_and_newrelic_are_group_defaults(tmp_path):
    parsed = parse(f"""
        WSGIApacheUser nobody nogroup
        WSGISocketPrefix {tmp_path}/s
        WSGIPythonHome {tmp_path}
        WSGIServerMetrics On
        WSGINewRelicConfigFile /etc/nr.ini
        WSGIDaemonProcess a
        WSGIDaemonProcess b python-home={sys.base_prefix} server-metrics=Off
        """, tmp_path)
    a, b = parsed.groups["a"].options, parsed.groups["b"].options
    assert (a["python-home"], a["server-metrics"], a["newrelic-config-file"]) == \
        (str(tmp_path), True, "/etc/nr.ini")
    assert (b["python-home"], b["server-metrics"]) == (sys.base_prefix, False)


def test_daemon_process_values_may_be_quoted(tmp_path):
    home = tmp_path / "my app"
    home.mkdir()
    parsed = parse(f"""
        WSGIApacheUser nobody nogroup
        WSGISocketPrefix {tmp_path}/s
        WSGIDaemonProcess a home="{home}" display-name='x y' \\
            python-path="{home}:/srv/lib"
        """, tmp_path)
    options = parsed.groups["a"].options
    assert options["home"] == str(home)
    assert options["display-name"] == "x y"
    assert options["python-path"] == [str(home), "/srv/lib"]


def test_script_alias_to_a_path_below_a_file_serves_the_file(tmp_path):
    script = tmp_path / "app.wsgi"
    script.write_text("def application(environ, start_response): pass\n")
    parsed = parse(f"""
        WSGIApacheUser nobody nogroup
        WSGISocketPrefix {tmp_path}/s
        WSGIDaemonProcess a
        WSGIScriptAlias /x {script}/extra/info process-group=a callable-object=app \\
            pass-authorization=On
        """, tmp_path)
    (alias,) = parsed.aliases
    assert (alias.target, alias.extra_path_info) == (str(script), "/extra/info")
    assert (alias.callable_object, alias.pass_authorization) == ("app", True)
    loader = ScriptLoader(parsed, "a")
    for spelled in (str(script), f"{script}/extra/info"):
        assert loader.resolve({"SCRIPT_FILENAME": spelled})[0] == str(script)


# -- loader.py ---------------------------------------------------------------------------------

def test_case_insensitive_module_names():
    assert module_name("/srv/App.wsgi", "", case_sensitive=False) == \
        module_name("/srv/app.wsgi", "")
    assert module_name("/srv/App.wsgi", "") != module_name("/srv/app.wsgi", "")


def _loader_with(tmp_path, options):
    script = tmp_path / "app.wsgi"
    script.write_text("application = None\n")
    parsed = parse(f"""
        WSGIApacheUser nobody nogroup
        WSGISocketPrefix {tmp_path}/s
        WSGIDaemonProcess a {options}
        WSGIScriptAlias /x {script} process-group=a
        """, tmp_path)
    return ScriptLoader(parsed, "a"), str(script)


def test_script_user_checks_the_owner_and_who_may_write(tmp_path):
    me = os.getuid()
    loader, script = _loader_with(tmp_path, f"script-user=#{me}")
    os.chmod(script, 0o644)
    os.chmod(tmp_path, 0o755)
    loader.check_script_owner(script)
    os.chmod(script, 0o664)
    with pytest.raises(ScriptForbidden, match="writable by its group"):
        loader.check_script_owner(script)
    os.chmod(script, 0o644)
    os.chmod(tmp_path, 0o757)
    with pytest.raises(ScriptForbidden, match="parent directory .* writable by everyone"):
        loader.check_script_owner(script)
    os.chmod(tmp_path, 0o755)


def test_script_user_refuses_another_owner(tmp_path):
    loader, script = _loader_with(tmp_path, "script-user=nobody")
    with pytest.raises(ScriptForbidden, match="not script-user=nobody") as info:
        loader.check_script_owner(script)
    assert info.value.status == 403


# -- interpreter.py ----------------------------------------------------------------------------

def test_restricted_stream_refuses_every_use():
    stream = interpreter.Restricted("sys.stdin", "WSGIRestrictStdin")
    for use in (lambda: stream.read(), lambda: stream.fileno(), lambda: stream.closed):
        with pytest.raises(OSError, match="sys.stdin access restricted by wsgid.*"
                                          "WSGIRestrictStdin Off"):
            use()


def test_signal_intercept_ignores_registration_in_the_daemon(caplog):
    intercept = interpreter.SignalIntercept(signal.signal, os.getpid())

    def handler(signum, frame):
        pass

    before = signal.getsignal(signal.SIGWINCH)
    assert intercept(signal.SIGWINCH, handler) is handler
    assert signal.getsignal(signal.SIGWINCH) is before
    assert "signal.signal(SIGWINCH, ...) by the application" in caplog.text


def test_signal_intercept_lets_a_forked_child_through():
    calls = []
    intercept = interpreter.SignalIntercept(lambda *a: calls.append(a) or "old", -1)
    assert intercept(signal.SIGWINCH, signal.SIG_DFL) == "old" and calls


def test_newrelic_is_initialized_with_file_and_environment(tmp_path, monkeypatch):
    package = tmp_path / "newrelic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "agent.py").write_text("calls = []\n"
                                      "def initialize(*args):\n    calls.append(args)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("newrelic", "newrelic.agent"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    interpreter.initialize_newrelic("/etc/newrelic.ini", "staging")
    assert sys.modules["newrelic.agent"].calls == [("/etc/newrelic.ini", "staging")]


def test_newrelic_missing_is_one_warning(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "newrelic", None)   # import fails
    interpreter.initialize_newrelic("/etc/newrelic.ini", None)
    assert caplog.text.count("the newrelic package cannot be imported") == 1


def test_destroy_interpreter_runs_or_skips_atexit(monkeypatch):
    ran = []
    monkeypatch.setattr(interpreter.atexit, "_run_exitfuncs", lambda: ran.append(1))
    interpreter.finish(ServerSettings(destroy_interpreter=False))
    assert ran == []
    interpreter.finish(ServerSettings())
    assert ran == [1]


# -- the supervisor's re-exec ------------------------------------------------------------------

def _flags(optimize=0, ignore_environment=0):
    return types.SimpleNamespace(optimize=optimize, ignore_environment=ignore_environment)


def test_flag_changes_compare_with_the_running_interpreter():
    wanted = ServerSettings(python_optimize=1, python_hash_seed="7")
    assert [what for what, _ in interpreter_flag_changes(wanted, _flags(), {})] == \
        ["optimize level", "hash seed"]
    assert interpreter_flag_changes(wanted, _flags(1), {"PYTHONHASHSEED": "7"}) == []
    assert interpreter_flag_changes(ServerSettings(python_hash_seed="random"), _flags(), {}) == []
    assert interpreter_flag_changes(ServerSettings(), _flags(2), {"PYTHONHASHSEED": "3"}) == []


@pytest.mark.parametrize("argv, level, expected", [
    (["/v/python", "-m", "wsgid", "supervise"], 1, ["/v/python", "-O", "-m", "wsgid", "supervise"]),
    (["/v/python", "-OOu", "-W", "error", "-m", "wsgid"], 0,
     ["/v/python", "-u", "-W", "error", "-m", "wsgid"]),
    (["/v/python", "-O", "/v/bin/wsgid", "supervise"], 2,
     ["/v/python", "-OO", "/v/bin/wsgid", "supervise"]),
])
def test_reexec_argv_replaces_only_the_optimize_flags(argv, level, expected):
    assert reexec_argv(ServerSettings(python_optimize=level), argv, 0) == expected


# -- the descriptors the supervisor hands its daemons ------------------------------------------

SETTLE = """
import os, sys
from wsgid.interpreter import settle_standard_descriptors
kept = settle_standard_descriptors(sys.argv[1] == "On")
print(kept, os.isatty(0), os.path.samestat(os.fstat(1), os.fstat(2)), file=sys.stderr)
"""


@pytest.mark.parametrize("restrict, stdin_is_tty, said", [
    ("Off", True, "True True False"),     # the terminal stays: stdin and stdout
    ("On", True, "False False True"),     # /dev/null, and stdout joins the error log
    ("Off", False, "False False True"),   # not a terminal: the same
])
def test_the_supervisor_keeps_apaches_terminal_only_with_restrict_stdin_off(
        tmp_path, restrict, stdin_is_tty, said):
    import subprocess
    master, slave = os.openpty()
    log = tmp_path / "error_log"
    try:
        with open(log, "w") as errors:
            subprocess.run([sys.executable, "-c", SETTLE, restrict], check=True,
                           stdin=slave if stdin_is_tty else subprocess.PIPE, stdout=slave,
                           stderr=errors)
    finally:
        os.close(master)
        os.close(slave)
    assert log.read_text().split() == said.split()


def test_error_log_names_the_supervisors_file_and_must_be_absolute(tmp_path):
    assert parse("ErrorLog /var/log/wsgid/error.log\n", tmp_path).server.error_log == \
        "/var/log/wsgid/error.log"
    assert parse("", tmp_path).server.error_log is None
    with pytest.raises(ConfigError, match="ErrorLog: the value must be an absolute path"):
        parse("ErrorLog logs/error.log\n", tmp_path)


def test_following_the_main_log_moves_stderr_to_the_file_the_path_names_now(tmp_path):
    import subprocess
    script = textwrap.dedent("""
        import os, sys
        from wsgid.group_log import follow_main_log
        path = sys.argv[1]
        print(follow_main_log(path), flush=True)        # the same file: nothing to do
        os.rename(path, path + ".1")                   # what logrotate does
        print(follow_main_log(path), flush=True)        # stderr, and stdout joined to it, move
        os.write(2, b"after\\n")
        print("printed", flush=True)
    """)
    log = tmp_path / "error.log"
    with open(log, "w") as errors:
        subprocess.run([sys.executable, "-c", script, str(log)], stdout=errors, stderr=errors,
                       check=True)
    assert (tmp_path / "error.log.1").read_text() == "False\n"
    assert log.read_text() == "True\nafter\nprinted\n"
