"""start-server's option table and resolve_settings(): defaults, checks and their messages.

Pure logic on real files in tmp_path; no Apache. The integration tests (test_express*.py) show
each option in effect.
"""

import os
import pwd
import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from wsgid.express import serverroot
from wsgid.express.cli import setup_server, start_server
from wsgid.express.resolve import SettingsError, resolve_settings
from wsgid.express.settings import (EXPRESS_DAEMON_FLAGS, GROUPS, START_SERVER_OPTIONS,
                                    DaemonOptionValue)
from wsgid.options import OPTION_BY_NAME, SECONDS_MAX

DOCS = Path(__file__).resolve().parents[2] / "docs" / "express.md"


def values(**given):
    """Option values by dest as click hands them over: the table's defaults, then `given`."""
    result = {row.dest: (() if row.multiple else row.default) for row in START_SERVER_OPTIONS}
    result.update(given)
    return result


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "app" / "app.wsgi"
    path.parent.mkdir()
    path.write_text("def application(environ, start_response): pass\n")
    return str(path)


def resolve(script, **given):
    return resolve_settings(script, values(**given), uid=1000 if os.getuid() else 0,
                            environ={"TMPDIR": "/tmp"}, cwd="/")


# --- the table --------------------------------------------------------------------------------

def test_every_row_has_a_known_group_and_states_its_default():
    for row in START_SERVER_OPTIONS:
        assert row.group in GROUPS, row.name
        assert row.default_text, row.name


# mod_wsgi-express 5.0.2's defaults where they differ from WSGIDaemonProcess's
EXPRESS_DEFAULTS = {"startup-timeout": 15.0, "deadlock-timeout": 60.0, "request-timeout": 60.0,
                    "queue-timeout": 45.0}


def test_daemon_options_take_default_and_check_from_the_daemon_option_table():
    by_name = {row.name: row for row in START_SERVER_OPTIONS}
    for flag, option, _, _ in EXPRESS_DAEMON_FLAGS:
        row = by_name[flag]
        assert row.type.option is OPTION_BY_NAME[option]
        assert row.help == OPTION_BY_NAME[option].help
        assert row.default == EXPRESS_DEFAULTS.get(flag, OPTION_BY_NAME[option].default), flag
    # mod_wsgi-express's other daemon defaults are WSGIDaemonProcess's own
    assert (by_name["connect-timeout"].default, by_name["socket-timeout"].default,
            by_name["graceful-timeout"].default, by_name["shutdown-timeout"].default,
            by_name["daemon-backlog"].default) == (15.0, 60.0, 15.0, 5.0, 100)
    assert by_name["daemon-backlog"].type.option is OPTION_BY_NAME["listen-backlog"]
    assert by_name["working-directory"].type.option is OPTION_BY_NAME["home"]


def test_a_daemon_option_value_is_converted_and_refused_as_in_an_apache_config():
    value_type = DaemonOptionValue("request-timeout")
    assert value_type.convert("2.5", None, None) == 2.5
    with pytest.raises(click.BadParameter) as refused:
        value_type.convert("-1", None, None)
    assert OPTION_BY_NAME["request-timeout"].kind.describe in str(refused.value)


def test_help_groups_the_options_under_headings_with_their_defaults():
    text = CliRunner().invoke(start_server, ["--help"], terminal_width=200).output
    headings = [line[:-1] for line in text.splitlines() if line.endswith(":") and
                not line.startswith(" ")]
    assert headings == list(GROUPS) + ["Other"]
    for row in START_SERVER_OPTIONS:
        assert row.flag in text
    assert "[default: 60]" in text and "[default: the server root]" in text


def test_setup_server_has_no_start_only_options():
    text = CliRunner().invoke(setup_server, ["--help"], terminal_width=200).output
    assert "--isatty" not in text and "--setup-only" not in text
    assert "--compress-responses" in text


def test_docs_list_every_option_with_its_default():
    docs = DOCS.read_text()
    for row in START_SERVER_OPTIONS:
        line = next((line for line in docs.splitlines() if line.startswith(f"| `{row.usage}`")),
                    None)
        assert line is not None, f"docs/express.md has no row for {row.usage}"
        assert row.default_text.split(" ")[0].strip("$") in line, line


# --- resolve_settings -------------------------------------------------------------------------

def test_script_defaults(script):
    settings = resolve(script)
    app_dir = os.path.dirname(script)
    assert settings.working_directory == app_dir
    assert settings.python_path == (app_dir,)
    assert settings.socket_directory == settings.server_root
    options = dict(settings.daemon_options)
    assert options["request-timeout"] == 60.0 and options["queue-timeout"] == 45.0
    assert options["startup-timeout"] == 15.0 and options["listen-backlog"] == 100
    assert "python-eggs" not in options
    assert not settings.serves_files and not settings.compress_responses


def test_working_directory_and_python_path(script, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    settings = resolve(script, working_directory=str(tmp_path), python_path=([str(lib)],))
    assert settings.working_directory == str(tmp_path)
    assert settings.python_path == (os.path.dirname(script), str(lib))


def test_module_type_defaults_to_the_current_directory():
    settings = resolve("mysite.wsgi", application_type="module")
    assert settings.script == "mysite.wsgi"
    assert settings.working_directory == "/" and settings.python_path == ("/",)


@pytest.mark.parametrize("name", ["mysite/wsgi.py", "my site", "pkg.class", "1pkg", ""])
def test_module_type_refuses_what_is_not_a_module_name(name):
    with pytest.raises(SettingsError, match="is not a module name|needs SCRIPT"):
        resolve(name or None, application_type="module")


def test_callable_object_must_be_a_python_name(script):
    with pytest.raises(SettingsError, match="--callable-object 'my-app' is not a Python name"):
        resolve(script, callable_object="my-app")


def test_missing_script_names_it(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        resolve(str(tmp_path / "nope.wsgi"))


def test_url_aliases(script, tmp_path):
    (tmp_path / "static").mkdir()
    (tmp_path / "robots.txt").write_text("")
    settings = resolve(script, url_alias=(("/static/", str(tmp_path / "static")),
                                          ("/robots.txt", str(tmp_path / "robots.txt"))))
    assert [(a.url, a.is_directory) for a in settings.url_aliases] == [
        ("/static", True), ("/robots.txt", False)]
    assert settings.serves_files


@pytest.mark.parametrize("url, target, message", [
    ("static", "dir", "the URL must be a path"),
    ("/", "dir", "use --document-root"),
    ("/a b", "dir", "the URL must be a path"),
    ("/x", "missing", "does not exist"),
    ("/x", "star*.txt", "reads as a pattern"),
])
def test_bad_url_alias_names_the_option(script, tmp_path, url, target, message):
    (tmp_path / "dir").mkdir()
    (tmp_path / "star*.txt").write_text("")
    with pytest.raises(SettingsError) as refused:
        resolve(script, url_alias=((url, str(tmp_path / target)),))
    assert str(refused.value).startswith(f"--url-alias {url} ")
    assert message in str(refused.value)


def test_the_same_url_aliased_twice_is_refused(script, tmp_path):
    with pytest.raises(SettingsError, match="aliased twice"):
        resolve(script, url_alias=(("/s", str(tmp_path)), ("/s/", str(tmp_path))))


def test_document_root_must_be_a_directory(script, tmp_path):
    with pytest.raises(SettingsError, match="--document-root .* does not exist"):
        resolve(script, document_root=str(tmp_path / "missing"))


def test_service_scripts(script, tmp_path):
    task = tmp_path / "task.py"
    task.write_text("")
    settings = resolve(script, service_script=(("tasks", str(task)),))
    assert settings.service_scripts[0].group == "service:tasks"
    assert settings.daemon_groups == (settings.daemon_group, "service:tasks")


@pytest.mark.parametrize("name, path, message", [
    ("my tasks", "task.py", "NAME must be letters"),
    ("tasks", "missing.py", "does not exist"),
    ("x" * 70, "task.py", "longer than 64 bytes"),
])
def test_bad_service_script_names_the_option(script, tmp_path, name, path, message):
    (tmp_path / "task.py").write_text("")
    with pytest.raises(SettingsError) as refused:
        resolve(script, service_script=((name, str(tmp_path / path)),))
    assert str(refused.value).startswith("--service-script ")
    assert message in str(refused.value)


def test_a_service_name_used_twice_is_refused(script, tmp_path):
    (tmp_path / "task.py").write_text("")
    task = str(tmp_path / "task.py")
    with pytest.raises(SettingsError, match="used twice"):
        resolve(script, service_script=(("t", task), ("t", task)))


@pytest.mark.parametrize("given, mounted", [
    ("/", "/"), ("app", "/app"), ("/app/", "/app"), ("//a/b//", "/a/b"), ("", "/")])
def test_mount_point_is_a_url_path_as_mod_wsgi_express_takes_it(script, given, mounted):
    assert resolve(script, mount_point=given).mount_point == mounted


def test_a_mount_point_that_is_not_a_url_path_is_refused(script):
    with pytest.raises(SettingsError, match="--mount-point /my app: give a URL path"):
        resolve(script, mount_point="my app")


@pytest.mark.parametrize("words, chosen", [
    (("fileinfo",), ("FileInfo",)), (("AuthConfig", "Indexes"), ("AuthConfig", "Indexes")),
    (("Options=Indexes,MultiViews",), ("Options=Indexes,MultiViews",)),
    (("Nonfatal=Unknown", "Limit"), ("Nonfatal=Unknown", "Limit")), (("None",), ())])
def test_allow_override_takes_apaches_words(script, words, chosen):
    assert resolve(script, allow_override=words).allow_override == chosen


@pytest.mark.parametrize("words", [("Everything",), ("None", "FileInfo"), ("Nonfatal",),
                                   ("FileInfo=x",), ("Options=Indexes MultiViews",)])
def test_bad_allow_override_names_the_option(script, words):
    with pytest.raises(SettingsError, match="--allow-override"):
        resolve(script, allow_override=words)


def test_add_handler_extensions_get_their_dot_and_are_unique(script, tmp_path):
    handler = str(tmp_path / "h.py")
    (tmp_path / "h.py").write_text("")
    settings = resolve(script, add_handler=(("md", handler), (".txt", handler)))
    assert settings.handlers == ((".md", handler), (".txt", handler))
    with pytest.raises(SettingsError, match=r"\.MD has a handler already"):
        resolve(script, add_handler=(("md", handler), (".MD", handler)))
    with pytest.raises(SettingsError, match="--add-handler \\*md"):
        resolve(script, add_handler=(("*md", handler),))


def test_static_type_serves_a_directory_without_a_daemon_group(tmp_path):
    settings = resolve(str(tmp_path), application_type="static")
    assert settings.document_root == settings.script == str(tmp_path)
    assert not settings.has_application and settings.daemon_groups == ()
    assert settings.maps_directories
    # --document-root wins over SCRIPT, as in mod_wsgi-express; a hook script needs the group
    other = tmp_path / "other"
    other.mkdir()
    hook = tmp_path / "access.py"
    hook.write_text("")
    settings = resolve(str(tmp_path), application_type="static", document_root=str(other),
                       host_access_script=str(hook))
    assert settings.document_root == str(other)
    assert settings.daemon_groups == (settings.daemon_group,)


def test_paste_type_needs_an_ini_file(tmp_path):
    with pytest.raises(SettingsError, match="--application-type paste needs SCRIPT: give a "
                                            "Paste Deploy configuration file"):
        resolve(None, application_type="paste")
    with pytest.raises(SettingsError, match="does not exist: give the path of a Paste Deploy"):
        resolve(str(tmp_path / "missing.ini"), application_type="paste")


@pytest.mark.parametrize("option, pair, message", [
    ("proxy_mount_point", ("/api", "ftp://x"), "TARGET must be an http:// or https:// URL"),
    ("proxy_mount_point", ("api", "http://x/"), "give a URL path such as /api"),
    ("proxy_mount_point", ("/a b", "http://x/"), "give a URL path"),
    ("proxy_virtual_host", ("bad host", "http://x/"), "--proxy-virtual-host"),
    ("proxy_virtual_host", ("ok.test", 'http://x/"'), "TARGET must be")])
def test_bad_proxy_options_name_the_option(script, option, pair, message):
    with pytest.raises(SettingsError, match=message):
        resolve(script, **{option: (pair,)})


def test_a_url_proxied_twice_is_refused(script):
    with pytest.raises(SettingsError, match="/api/ is proxied twice"):
        resolve(script, proxy_mount_point=(("/api", "http://a/"), ("/api/", "http://b/")))


def test_rotate_logs_finds_rotatelogs_and_log_to_terminal_wins(script, tmp_path):
    settings = resolve(script, rotate_logs=True, max_log_size=2)
    assert settings.rotate_logs and settings.max_log_size == 2
    assert os.access(settings.rotatelogs_executable, os.X_OK)
    assert not resolve(script, rotate_logs=True, log_to_terminal=True).rotate_logs
    not_executable = tmp_path / "rotatelogs"
    not_executable.write_text("")
    with pytest.raises(SettingsError, match="--rotate-logs needs Apache's rotatelogs"):
        resolve(script, rotate_logs=True, rotatelogs_executable=str(not_executable))


def test_service_user_and_group_name_a_service_script_and_need_root(tmp_path):
    task = tmp_path / "task.py"
    task.write_text("")
    script = str(task)
    with pytest.raises(SettingsError, match="--service-user other nobody: there is no "
                                            "--service-script other"):
        resolve_settings(None, values(service_script=(("tasks", script),),
                                      service_user=(("other", "nobody"),)), uid=0, cwd="/")
    with pytest.raises(SettingsError, match="only root can run a service as another user"):
        resolve_settings(None, values(service_script=(("tasks", script),),
                                      service_user=(("tasks", "nobody"),)),
                         uid=pwd.getpwnam("nobody").pw_uid, cwd="/")
    with pytest.raises(SettingsError, match="--service-user tasks no-such-user: no such user"):
        resolve_settings(None, values(service_script=(("tasks", script),),
                                      service_user=(("tasks", "no-such-user"),)), uid=0, cwd="/")
    settings = resolve_settings(None, values(service_script=(("tasks", script),),
                                             service_user=(("tasks", "nobody"),),
                                             service_group=(("tasks", "nogroup"),)),
                                uid=0, cwd="/")
    assert (settings.service_scripts[0].run_user,
            settings.service_scripts[0].run_group) == ("nobody", "nogroup")


def test_service_log_file_names_a_service_and_a_file_name_and_needs_no_root(tmp_path):
    task = tmp_path / "task.py"
    task.write_text("")
    scripts = (("tasks", str(task)),)
    with pytest.raises(SettingsError, match="--service-log-file other x.log: there is no "
                                            "--service-script other"):
        resolve_settings(None, values(service_script=scripts,
                                      service_log_file=(("other", "x.log"),)), uid=1000, cwd="/")
    with pytest.raises(SettingsError, match="--service-log-file tasks 'logs/x.log' is not a "
                                            "file name"):
        resolve_settings(None, values(service_script=scripts,
                                      service_log_file=(("tasks", "logs/x.log"),)),
                         uid=1000, cwd="/")
    settings = resolve_settings(None, values(service_script=scripts,
                                             service_log_file=(("tasks", "tasks.log"),)),
                                uid=1000, cwd="/")
    assert settings.service_scripts[0].log_file == "tasks.log"


# --- startup failures before anything is written ----------------------------------------------

def test_apache_not_installed_is_one_line_saying_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(serverroot.paths, "httpd_binary", lambda: str(tmp_path / "httpd"))
    result = CliRunner().invoke(start_server, ["--server-root", str(tmp_path / "root")])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert re.search(r"Apache httpd .*httpd is not there: install Apache", result.output)
    assert not (tmp_path / "root").exists()


def test_the_daemons_locale_is_chosen_as_mod_wsgi_express_chooses_it(script):
    def locale_of(environ, **given):
        settings = resolve_settings(script, values(**given), uid=1000 if os.getuid() else 0,
                                    environ={"TMPDIR": "/tmp", **environ}, cwd="/")
        options = dict(settings.daemon_options)
        assert options["lang"] == options["locale"]
        return options["locale"]

    assert locale_of({}, locale="de_DE.UTF-8") == "de_DE.UTF-8"
    assert locale_of({}, lang="fr_FR.UTF-8") == "fr_FR.UTF-8"
    # inherited: used when the C library has it (C.UTF-8 always is on Debian)
    assert locale_of({"LANG": "C.UTF-8"}) == "C.UTF-8"
    assert locale_of({"LC_ALL": "C.UTF-8", "LANG": "xx_YY.UTF-8"}) == "C.UTF-8"
    # one it does not have counts as C
    assert locale_of({"LANG": "xx_YY.UTF-8"}) in ("en_US.UTF-8", "C.UTF-8")
    # C (a service manager's) becomes a UTF-8 locale the C library has: Debian always has C.UTF-8
    assert locale_of({}) in ("en_US.UTF-8", "C.UTF-8")
    assert locale_of({"LANG": "POSIX"}) in ("en_US.UTF-8", "C.UTF-8")


def test_request_read_timeout_is_written_as_mod_wsgi_express_writes_it(script):
    assert resolve(script).request_read_timeout == "header=15-30,MinRate=500 body=15,MinRate=500"
    assert resolve(script, header_max_timeout=0, body_timeout=0,
                   header_min_rate=0).request_read_timeout == "header=15"
    assert resolve(script, header_timeout=0, body_timeout=20, body_max_timeout=60,
                   body_min_rate=0).request_read_timeout == "body=20-60"
    assert resolve(script, header_timeout=0, body_timeout=0).request_read_timeout == ""


@pytest.fixture
def pair(tmp_path):
    """A certificate and key file (their content does not matter to resolve_settings)."""
    for suffix in ("crt", "key"):
        (tmp_path / f"site.{suffix}").write_text("PEM\n")
    return str(tmp_path / "site")


@pytest.mark.parametrize("given, named", [
    ({"https_port": 8443}, "needs the server's certificate and its key"),
    ({"ssl_certificate_file": "X.crt"}, "--ssl-certificate-file is about HTTPS"),
    ({"https_only": True}, "--https-only is about HTTPS"),
    ({"https_port": 8000, "ssl_certificate": "STEM"}, "is also --port"),
    ({"https_port": 8443, "ssl_certificate": "STEM", "hsts_policy": "max-age=1"},
     "--hsts-policy needs --https-only"),
    ({"https_port": 8443, "ssl_certificate": "STEM", "ssl_verify_client": ("/admin",)},
     "needs --ssl-ca-certificate-file"),
    ({"https_port": 8443, "ssl_certificate": "STEM", "https_only": True,
      "hsts_policy": 'max-age=1"; x'}, "is not a Strict-Transport-Security value"),
    ({"https_port": 8443, "ssl_certificate": "STEM-missing"}, "does not exist"),
    ({"server_name": "www.example.com:80"}, "is not a host name"),
    ({"server_alias": ("bad name",)}, "is not a host name"),
])
def test_https_and_host_name_mistakes_are_refused_with_the_option_named(script, pair, given,
                                                                       named):
    values_given = {key: (value.replace("STEM", pair) if isinstance(value, str) else value)
                    for key, value in given.items()}
    if "ssl_certificate_file" in values_given:
        values_given["ssl_certificate_file"] = pair + ".crt"
    with pytest.raises(SettingsError, match=re.escape(named)):
        resolve(script, **values_given)


def test_https_settings_from_the_certificate_stem(script, pair):
    settings = resolve(script, https_port=8443, ssl_certificate=pair, https_only=True,
                       hsts_policy="max-age=600; includeSubDomains", server_name="www.a.test",
                       server_alias=("*.a.test",))
    https = settings.https
    assert (https.port, https.certificate, https.key) == (8443, pair + ".crt", pair + ".key")
    assert https.only and https.hsts_policy == "max-age=600; includeSubDomains"
    assert (settings.server_name, settings.server_aliases) == ("www.a.test", ("*.a.test",))
    assert resolve(script).https is None


@pytest.mark.parametrize("given, named", [
    ({"error_document": (("200", "/ok.html"),)}, "STATUS must be an error status"),
    ({"trust_proxy": ("10.0.0.300",)}, "is not an address or network"),
    ({"trust_proxy_header": ("X Forwarded",)}, "is not a header name"),
    ({"setenv": (("1BAD", "x"),)}, "is not a variable name"),
    ({"setenv": (("GOOD", "a\nb"),)}, "has a control character"),
    ({"passenv": ("A-B",)}, "is not a variable name"),
    ({"error_log_format": "%Q %M"}, "Unrecognized error log format string '%Q'"),
])
def test_request_and_logging_option_mistakes_name_the_option(script, given, named):
    with pytest.raises(SettingsError, match=re.escape(named)):
        resolve(script, **given)


def test_request_and_logging_options(script):
    settings = resolve(script, map_head_to_get="on", error_document=(("404", "/404.html"),),
                       trust_proxy=("10.0.0.0/8",), trust_proxy_header=("X-Forwarded-For",),
                       setenv=(("MODE", 'say "hi"'),), passenv=("HOME",),
                       error_log_format="[%{u}t] %M")
    assert settings.map_head_to_get == "On"
    assert settings.error_documents == ((404, "/404.html"),)
    assert settings.setenv == (("MODE", 'say "hi"'),)
    assert settings.error_log_format == "[%{u}t] %M"


def test_an_auth_group_script_needs_an_auth_user_script(script, tmp_path):
    groups = tmp_path / "groups.py"
    groups.write_text("def groups_for_user(environ, user):\n    return []\n")
    with pytest.raises(SettingsError, match="--auth-group-script needs --auth-user-script"):
        resolve(script, auth_group_script=str(groups))
    settings = resolve(script, auth_user_script=str(groups), auth_type="digest")
    assert (settings.auth_type, settings.auth_group) == ("Digest", "wsgi")


def test_every_mod_wsgi_express_option_is_in_the_table_refused_or_told_not_there_yet():
    from wsgid.express.settings import MOD_WSGI_EXPRESS_FLAGS, REFUSED
    names = {row.name for row in START_SERVER_OPTIONS} | {
        alias for row in START_SERVER_OPTIONS for alias in row.aliases}
    assert len(MOD_WSGI_EXPRESS_FLAGS) == 143 and set(REFUSED) <= set(MOD_WSGI_EXPRESS_FLAGS)
    assert not set(REFUSED) & names
    missing = [name for name in MOD_WSGI_EXPRESS_FLAGS if name not in names | set(REFUSED)]
    # what docs/express.md says is still to come, and nothing else
    docs = DOCS.read_text()
    for name in missing:
        assert f"`--{name}`" in docs.split("### Not yet", 1)[1], name


@pytest.mark.parametrize("args, says", [
    (["--embedded-mode"], "--embedded-mode (mod_wsgi-express) is not for wsgid: wsgid runs"),
    (["--with-php5"], "serve PHP with Apache's own PHP setup"),
    (["--thread", "3"], "Did you mean '--threads'?"),
])
def test_a_mod_wsgi_express_option_not_here_is_told_in_one_line(args, says):
    result = CliRunner().invoke(start_server, args)
    assert result.exit_code == 2 and says in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_newrelic_options_reach_the_daemon_group(script, tmp_path):
    ini = tmp_path / "newrelic.ini"
    ini.write_text("[newrelic]\n")
    options = dict(resolve(script, newrelic_config_file=str(ini),
                           newrelic_environment="staging").daemon_options)
    assert (options["newrelic-config-file"], options["newrelic-environment"]) == \
        (str(ini), "staging")


def test_debug_mode_is_one_process_one_thread_without_timeouts_or_reloading(script):
    plain = resolve(script, processes=4, threads=8, reload_on_changes=True)
    settings = resolve(script, processes=4, threads=8, reload_on_changes=True, debug_mode=True,
                       request_timeout=5.0, socket_timeout=30.0)
    assert (plain.processes, plain.threads, plain.debugging) == (4, 8, None)
    assert (settings.processes, settings.threads) == (1, 1)
    assert settings.disable_reloading and not settings.reload_on_changes
    options = dict(settings.daemon_options)
    for name in ("startup-timeout", "deadlock-timeout", "request-timeout", "queue-timeout"):
        assert name in dict(plain.daemon_options) and name not in options, name
    assert options["socket-timeout"] == SECONDS_MAX     # Apache waits at a pdb prompt
    # Apache's own Timeout (client I/O) stays --socket-timeout
    assert settings.timeout == 30.0
    assert settings.debugging.profiler_directory is None


def test_each_debug_tool_implies_debug_mode_and_has_its_directory(script, tmp_path):
    settings = resolve(script, debugger_startup=True, enable_profiler=True,
                       enable_recorder=True, recorder_directory=str(tmp_path / "rec"),
                       coverage_directory=str(tmp_path / "ignored"))
    debugging = settings.debugging
    assert (settings.processes, debugging.debugger, debugging.debugger_startup) == (1, True, True)
    assert debugging.profiler_directory == os.path.join(settings.server_root, "pstats")
    assert debugging.recorder_directory == str(tmp_path / "rec")
    # a directory without its tool does nothing, as in mod_wsgi-express
    assert debugging.coverage_directory is None
    assert resolve(script, profiler_directory=str(tmp_path)).debugging is None


@pytest.mark.parametrize("given, named", [
    (dict(enable_profiler=True, orphan_interpreter=True), "--enable-profiler writes its report"),
    (dict(enable_coverage=True, orphan_interpreter=True), "--orphan-interpreter skips"),
    (dict(debug_mode=True, application_type="static"), "--debug-mode debugs the application"),
])
def test_debug_mode_combinations_that_cannot_work_are_refused(script, given, named):
    if given.get("application_type") == "static":
        script = os.path.dirname(script)
    with pytest.raises(SettingsError, match=re.escape(named)):
        resolve(script, **given)


def test_enable_gdb_finds_gdb_or_says_how_to_get_it(script, tmp_path, monkeypatch):
    settings = resolve(script, enable_gdb=True)
    assert settings.debugging.gdb_executable == shutil.which("gdb")
    assert settings.threads == 1
    own = tmp_path / "my-gdb"
    own.write_text("#!/bin/sh\n")
    own.chmod(0o755)
    assert resolve(script, enable_gdb=True,
                   gdb_executable=str(own)).debugging.gdb_executable == str(own)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(SettingsError, match="--enable-gdb needs gdb, which is not on PATH: "
                                            "install it"):
        resolve(script, enable_gdb=True)


def test_enable_coverage_without_coverage_py_says_how_to_install_it(script, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "coverage" else real(name, *a))
    with pytest.raises(SettingsError, match=r"--enable-coverage needs coverage\.py .*pip "
                                            r"install coverage"):
        resolve(script, enable_coverage=True)
