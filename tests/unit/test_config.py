"""The daemon configuration file (wsgid/config.py): syntax, every directive and its errors.

Who the supervisor runs as is passed in (`running_ids`) where the answer depends on it; the
check_file tests use the real identity and configurations that are valid for any user.
"""

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from wsgid.config import (
    DEFAULT_CALLABLE, DIRECTIVES, SOCKET_PATH_MAX, check_file, format_directive, load,
    match_target, parse, split_words, statements,
)
from wsgid.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
ROOT = (0, 0)


@pytest.fixture(scope="module")
def apache_user():
    """The user that plays the Apache child user: www-data (Debian) where it exists."""
    for name in ("www-data", "nobody", "daemon"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip("this machine has no www-data, nobody or daemon user")


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "app.wsgi"
    path.write_text("def application(environ, start_response):\n    pass\n")
    return path


@pytest.fixture
def conf(apache_user, script, tmp_path):
    """parse() of a small valid file plus `extra` lines; extra may use {script} and {tmp}."""

    def make(extra="", header=True, running_ids=ROOT):
        lines = []
        if header:
            lines += [f"WSGIApacheUser {apache_user.pw_uid} {apache_user.pw_gid}",
                      f"WSGISocketPrefix {tmp_path}/wsgid"]
        lines.append(extra.format(script=script, tmp=tmp_path))
        return parse("\n".join(lines) + "\n", "site.conf", running_ids=running_ids)

    return make


def refused(make, extra, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        make(extra, **kw)
    return info.value


# -- syntax ------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, words", [
    ("WSGIDaemonProcess a processes=2", ["WSGIDaemonProcess", "a", "processes=2"]),
    ("  X   a\tb  ", ["X", "a", "b"]),
    ('X "a b" c', ["X", "a b", "c"]),
    ("X 'a b'", ["X", "a b"]),
    ('X python-path="/a b:/c"', ["X", "python-path=/a b:/c"]),
    ("X display-name='(wsgi: x)'", ["X", "display-name=(wsgi: x)"]),
    (r'X "say \"hi\""', ["X", 'say "hi"']),
    (r"X 'it\'s'", ["X", "it's"]),
    (r'X "back\\slash"', ["X", "back\\slash"]),
    (r'X "keep\n"', ["X", "keep\\n"]),
    (r"X C:\dir", ["X", "C:\\dir"]),
    ('X "" b', ["X", "", "b"]),
    ('X "it\'s"', ["X", "it's"]),
    ("X a # a comment", ["X", "a"]),
    ("X a#b user=#33", ["X", "a#b", "user=#33"]),
    ("X #33 #44 #", ["X", "#33", "#44"]),
    ("X a\t#\tcomment", ["X", "a"]),
    ('X "#not a comment"', ["X", "#not a comment"]),
])
def test_split_words(line, words):
    assert split_words(line, "f", 1) == words


@pytest.mark.parametrize("line", ['X "open', "X 'open", 'X key="open'])
def test_unclosed_quote_is_an_error_with_its_line(line):
    with pytest.raises(ConfigError) as info:
        split_words(line, "f.conf", 9)
    assert str(info.value).startswith("f.conf:9: X: ")
    assert "quote is not closed" in info.value.problem


def test_statements_skip_comments_and_blank_lines_and_join_continuations():
    text = ("# a comment\n"
            "\n"
            "   # an indented comment\n"
            "First a \\\n"
            "   b \\\n"
            "c\n"
            "Second x\\\n"
            "y\n"
            "Third z \\\n")
    found = [(statement.words, statement.line) for statement in statements(text, "f")]
    assert found == [(["First", "a", "b", "c"], 4),
                     (["Second", "x", "y"], 7),
                     (["Third", "z"], 9)]


@pytest.mark.parametrize("value", [
    "plain", "two words", 'a "quoted" word', "it's", "back\\slash", "trailing\\", "#hash",
    "key=a b", "", "tab\there", "%{GROUP}", "user=#33",
])
def test_format_directive_round_trips_through_the_parser(value):
    line = format_directive("WSGIDaemonProcess", "g", value)
    assert split_words(line, "f", 1) == ["WSGIDaemonProcess", "g", value]


def test_format_directive_refuses_line_breaks():
    with pytest.raises(ValueError):
        format_directive("WSGIDaemonProcess", "g", "display-name=a\nb")


def test_only_newlines_end_lines():
    text = 'A "x\u2028y"\r\nB z\r\n'
    assert [statement.words for statement in statements(text)] == [["A", "x\u2028y"], ["B", "z"]]


def test_continuation_and_quotes_in_a_whole_file(conf, tmp_path):
    (tmp_path / "lib one").mkdir()
    config = conf('WSGIDaemonProcess site processes=3 \\\n'
                  '    python-path="{tmp}/lib one" \\\n'
                  "    display-name='site %{{GROUP}}'\n")
    group = config.groups["site"]
    assert group.options["processes"] == 3
    assert group.options["python-path"] == [f"{tmp_path}/lib one"]
    assert group.display_name() == "site site"


def test_errors_carry_file_and_line_of_the_directive(conf):
    error = refused(conf, "\n\nWSGIDaemonProcess site \\\n  processes=0\n")
    # The header is two lines, then two blank lines: the directive starts on line 5.
    assert str(error).startswith("site.conf:5: WSGIDaemonProcess site: option 'processes'")


# -- the example of docs/internals.md ----------------------------------------------------------

def test_the_generated_file_format(apache_user, script, tmp_path):
    socket = tmp_path / "wsgid.1234.0.example.sock"
    text = (
        "# Generated by mod_wsgid for Apache pid 1234, generation 0\n"
        f"WSGIApacheUser {apache_user.pw_uid} {apache_user.pw_gid}   # uid gid of the children\n"
        "WSGIDaemonProcess example processes=2 threads=15 display-name=%{GROUP}\n"
        f"WSGIDaemonSocket example {socket}\n"
        f"WSGIScriptAlias / {script} process-group=example application-group=%{{GLOBAL}}\n"
        "WSGICallableObject application\n"
    )
    config = parse(text, "gen.conf", running_ids=ROOT)
    assert config.source == "gen.conf"
    assert (config.apache_uid, config.apache_gid) == (apache_user.pw_uid, apache_user.pw_gid)
    assert config.socket_prefix is None
    assert config.callable_object == "application"
    assert list(config.groups) == ["example"]
    group = config.groups["example"]
    assert group.name == "example"
    assert group.options["processes"] == 2 and group.options["threads"] == 15
    assert group.display_name() == "(wsgi:example)"
    assert group.socket_path == str(socket)
    assert group.socket_uid == apache_user.pw_uid
    assert (group.uid, group.gid) == (apache_user.pw_uid, apache_user.pw_gid)
    assert group.multiprocess
    (alias,) = config.aliases
    assert (alias.url, alias.target, alias.process_group, alias.application_group,
            alias.is_dir) == ("/", str(script), "example", "%{GLOBAL}", False)


# -- WSGIDaemonProcess -------------------------------------------------------------------------

def test_user_root_fails(conf):
    error = refused(conf, "WSGIDaemonProcess x user=root")
    assert str(error).startswith("site.conf:3: WSGIDaemonProcess x: option 'user' names root")
    assert "must not run as root" in error.problem


def test_user_www_data_passes_as_root(conf):
    try:
        www_data = pwd.getpwnam("www-data")
    except KeyError:
        pytest.skip("no www-data user on this machine")
    config = conf("WSGIDaemonProcess x user=www-data", running_ids=ROOT)
    assert config.groups["x"].uid == www_data.pw_uid


def test_apache_user_is_the_default_as_root_even_when_written_after_the_group(
        apache_user, tmp_path):
    text = (f"WSGIDaemonProcess x\n"
            f"WSGISocketPrefix {tmp_path}/w\n"
            f"WSGIApacheUser {apache_user.pw_name} #{apache_user.pw_gid}\n")
    group = parse(text, "f", running_ids=ROOT).groups["x"]
    assert (group.uid, group.gid) == (apache_user.pw_uid, apache_user.pw_gid)


def test_not_as_root_the_daemons_run_as_the_supervisor(conf, apache_user):
    me = (apache_user.pw_uid, apache_user.pw_gid)
    group = conf("WSGIDaemonProcess x", running_ids=me).groups["x"]
    assert (group.uid, group.gid) == me


def test_groups_keep_file_order_and_duplicates_are_refused(conf):
    config = conf("WSGIDaemonProcess b\nWSGIDaemonProcess a\nWSGIDaemonProcess c")
    assert list(config.groups) == ["b", "a", "c"]
    error = refused(conf, "WSGIDaemonProcess a\nWSGIDaemonProcess a threads=2")
    assert "already defined on line 3" in error.problem
    assert error.line == 4


def test_unimplemented_option_in_a_file_is_refused(conf):
    error = refused(conf, "WSGIDaemonProcess x chroot=/srv/jail")
    assert "does not support option 'chroot' yet" in str(error)


def test_multiprocess_follows_mod_wsgi(conf):
    config = conf("WSGIDaemonProcess one\nWSGIDaemonProcess explicit processes=1\n"
                  "WSGIDaemonProcess many processes=3")
    assert not config.groups["one"].multiprocess
    assert config.groups["explicit"].multiprocess
    assert config.groups["many"].multiprocess


# -- sockets -----------------------------------------------------------------------------------

def test_socket_derived_from_the_prefix(conf, tmp_path):
    assert conf("WSGIDaemonProcess x").groups["x"].socket_path == f"{tmp_path}/wsgid.x.sock"


def test_socket_named_by_wsgidaemonsocket_wins(conf):
    config = conf("WSGIDaemonProcess x\nWSGIDaemonSocket x /run/other.sock")
    assert config.groups["x"].socket_path == "/run/other.sock"


def test_group_without_any_socket_is_an_error(apache_user):
    with pytest.raises(ConfigError) as info:
        parse(f"WSGIApacheUser {apache_user.pw_uid} {apache_user.pw_gid}\nWSGIDaemonProcess x",
              "f", running_ids=ROOT)
    assert "has no socket" in info.value.problem
    assert "WSGIDaemonSocket x PATH" in info.value.fix and "WSGISocketPrefix" in info.value.fix


def test_socket_owner(conf, apache_user):
    config = conf("WSGIDaemonProcess a\nWSGIDaemonProcess b socket-user=root")
    assert config.groups["a"].socket_uid == apache_user.pw_uid
    assert config.groups["b"].socket_uid == 0


def test_socket_owner_without_apache_user_is_the_supervisors_user(tmp_path, apache_user):
    me = (apache_user.pw_uid, apache_user.pw_gid)
    config = parse(f"WSGISocketPrefix {tmp_path}/w\nWSGIDaemonProcess a", "f", running_ids=me)
    assert config.groups["a"].socket_uid == os.getuid()


@pytest.mark.parametrize("extra, words", [
    ("WSGIDaemonSocket nope /run/x.sock", "no WSGIDaemonProcess defines the group 'nope'"),
    ("WSGIDaemonProcess x\nWSGIDaemonSocket x run/x.sock", "is not absolute"),
    ("WSGIDaemonProcess x\nWSGIDaemonSocket x /run/a.sock\nWSGIDaemonSocket x /run/b.sock",
     "already has a socket"),
    ("WSGIDaemonProcess x\nWSGIDaemonSocket x", "takes 2 arguments, got 1"),
    ("WSGIDaemonProcess a\nWSGIDaemonProcess b\nWSGIDaemonSocket a /run/s.sock\n"
     "WSGIDaemonSocket b /run/s.sock", "share the socket"),
])
def test_wsgidaemonsocket_errors(conf, extra, words):
    error = refused(conf, extra)
    assert words in error.problem
    assert error.directive.startswith("WSGIDaemonSocket")


def test_unknown_socket_group_lists_the_defined_ones(conf):
    error = refused(conf, "WSGIDaemonProcess one\nWSGIDaemonProcess two\n"
                          "WSGIDaemonSocket three /run/x.sock")
    assert "(one, two)" in error.fix


def test_socket_path_at_the_limit_passes_and_one_byte_more_fails(conf):
    at_limit = "/" + "s" * (SOCKET_PATH_MAX - 1 - len(".sock")) + ".sock"
    assert conf(f"WSGIDaemonProcess x\nWSGIDaemonSocket x {at_limit}") \
        .groups["x"].socket_path == at_limit
    error = refused(conf, f"WSGIDaemonProcess x\nWSGIDaemonSocket x /s{at_limit[1:]}")
    assert f"is {SOCKET_PATH_MAX + 1} bytes, longer than the limit of {SOCKET_PATH_MAX}" \
        in error.problem
    assert "WSGISocketPrefix" in error.fix


def test_a_socket_path_where_another_groups_health_socket_goes_is_refused(conf):
    error = refused(conf, "WSGIDaemonProcess a\nWSGIDaemonSocket a /run/w/a.sock\n"
                          "WSGIDaemonProcess b\nWSGIDaemonSocket b /run/w/a.hc")
    assert error.directive == "WSGIDaemonSocket b"
    assert "'/run/w/a.hc' of group 'b' is where the health socket of group 'a' goes" \
        in error.problem
    assert error.line == 6      # the header's 2 lines, then the 4th of these


def test_a_socket_path_without_sock_leaves_room_for_its_health_socket(conf):
    # PATH.hc is the health socket of PATH (health.py): 3 bytes more must fit too
    fits = "/" + "s" * (SOCKET_PATH_MAX - 1 - len(".hc"))
    assert conf(f"WSGIDaemonProcess x\nWSGIDaemonSocket x {fits}").groups["x"].socket_path \
        == fits
    error = refused(conf, f"WSGIDaemonProcess x\nWSGIDaemonSocket x {fits}s")
    assert error.directive == "WSGIDaemonSocket x"
    assert f"'{fits}s.hc' of group 'x' would be {SOCKET_PATH_MAX + 1} bytes" in error.problem
    assert "end the socket path in .sock" in error.fix


def test_prefix_too_long_for_a_group_names_wsgisocketprefix(apache_user):
    prefix = "/" + "p" * 100
    with pytest.raises(ConfigError) as info:
        parse(f"WSGIApacheUser {apache_user.pw_uid} {apache_user.pw_gid}\n"
              f"WSGISocketPrefix {prefix}\nWSGIDaemonProcess group", "f", running_ids=ROOT)
    assert info.value.directive == "WSGISocketPrefix"
    assert info.value.line == 2
    assert f"{prefix}.group.sock" in info.value.problem


@pytest.mark.parametrize("extra, words", [
    ("WSGISocketPrefix relative/prefix", "not an absolute path"),
    ("WSGISocketPrefix /a /b", "takes 1 argument, got 2"),
])
def test_wsgisocketprefix_errors(apache_user, extra, words):
    with pytest.raises(ConfigError) as info:
        parse(extra, "f", running_ids=ROOT)
    assert words in info.value.problem
    assert info.value.directive == "WSGISocketPrefix"


# -- WSGIApacheUser ----------------------------------------------------------------------------

@pytest.mark.parametrize("extra, words", [
    ("WSGIApacheUser 33", "takes 2 arguments, got 1"),
    ("WSGIApacheUser no-such-user-wsgid 33", "unknown user 'no-such-user-wsgid'"),
    ("WSGIApacheUser #2999999 0", "uid 2999999"),
    ("WSGIApacheUser 0 no-such-group-wsgid", "unknown group 'no-such-group-wsgid'"),
])
def test_wsgiapacheuser_errors(conf, extra, words):
    error = refused(conf, extra, header=False)
    assert words in error.problem
    assert error.directive == "WSGIApacheUser"
    assert "WSGIApacheUser" in error.fix or "getent" in error.fix


def test_file_wide_directives_may_appear_once(conf, tmp_path):
    error = refused(conf, "WSGIApacheUser 0 0")
    assert "appears twice (first on line 1)" in error.problem
    error = refused(conf, "WSGICallableObject app\nWSGICallableObject other")
    assert "appears twice (first on line 3)" in error.problem


# -- WSGIScriptAlias ---------------------------------------------------------------------------

def test_script_alias_options(conf, script, tmp_path):
    config = conf("WSGIDaemonProcess site\n"
                  "WSGIScriptAlias /app {script} process-group=site application-group=shop\n"
                  "WSGIScriptAlias /dir/ {tmp}/ application-group=%{{ENV:APP}}\n"
                  "WSGIScriptAlias / {script}")
    app, directory, root = config.aliases
    assert (app.url, app.target, app.process_group, app.application_group, app.is_dir) == \
        ("/app", str(script), "site", "shop", False)
    assert directory.is_dir and directory.target == f"{tmp_path}/"
    assert directory.process_group is None and directory.application_group == "%{ENV:APP}"
    assert root.process_group is None and root.application_group is None


def test_scripts_for_group_are_its_own_and_the_undelegated_ones(conf, script):
    config = conf("WSGIDaemonProcess a\nWSGIDaemonProcess b\n"
                  "WSGIScriptAlias /a {script} process-group=a\n"
                  "WSGIScriptAlias /b {script} process-group=b\n"
                  "WSGIScriptAlias /any {script}")
    assert [alias.url for alias in config.scripts_for_group("a")] == ["/a", "/any"]
    assert [alias.url for alias in config.scripts_for_group("b")] == ["/b", "/any"]


def test_missing_script_names_directive_path_and_fix(conf, tmp_path):
    missing = tmp_path / "gone.wsgi"
    error = refused(conf, f"WSGIScriptAlias / {missing}")
    assert error.directive == "WSGIScriptAlias"
    assert str(missing) in error.problem and "does not exist" in error.problem
    assert "create the script or correct the path" in error.fix
    assert str(error).startswith("site.conf:3: WSGIScriptAlias: ")


def test_process_group_naming_no_group(conf):
    error = refused(conf, "WSGIDaemonProcess site\n"
                          "WSGIScriptAlias / {script} process-group=stie")
    assert "process-group=stie names no defined group" in error.problem
    assert "(site)" in error.fix
    assert error.line == 4


def test_process_group_with_no_groups_defined(conf):
    error = refused(conf, "WSGIScriptAlias / {script} process-group=site")
    assert "add a WSGIDaemonProcess" in error.fix


def test_process_group_global_is_refused_since_there_is_no_embedded_mode(conf):
    error = refused(conf, "WSGIScriptAlias / {script} process-group=%{{GLOBAL}}")
    assert "not supported" in error.problem and "embedded mode" in error.fix


@pytest.mark.parametrize("value", ["%{GLOBAL}", "%{SERVER}", "%{HOST}", "%{RESOURCE}",
                                   "%{ENV:X}", "name", "name with %", "%{GROUP}", "%{ENV:}",
                                   "%{ENV:X", "%{"])
def test_application_group_values(conf, value):
    escaped = value.replace("{", "{{").replace("}", "}}")
    config = conf(f"WSGIScriptAlias / {{script}} \"application-group={escaped}\"")
    assert config.aliases[0].application_group == value


@pytest.mark.parametrize("extra, words", [
    ("WSGIScriptAlias /", "takes a URL and a target, got 1"),
    ("WSGIScriptAlias app {script}", "does not start with '/'"),
    ("WSGIScriptAlias / app.wsgi", "is not an absolute path"),
    ("WSGIScriptAlias / {script} callable-objekt=app", "unknown option 'callable-objekt=app'"),
    ("WSGIScriptAlias / {script} callable-object=1app", "is not a Python identifier"),
    ("WSGIScriptAlias / {script} pass-authorization=yes", "must be On or Off"),
    ("WSGIScriptAlias / {script} process-group", "unknown option 'process-group'"),
    ("WSGIDaemonProcess a\nWSGIScriptAlias / {script} process-group=a process-group=a",
     "'process-group' is given twice"),
    ("WSGIScriptAlias / {script} application-group=", "application-group= is empty"),
])
def test_wsgiscriptalias_errors(conf, extra, words):
    error = refused(conf, extra)
    assert words in error.problem
    assert error.directive == "WSGIScriptAlias"
    assert error.fix


# -- WSGIImportScript and service groups (threads=0) ------------------------------------------

IMPORT = "WSGIImportScript {script} process-group={group} application-group={app}"


def import_line(group="site", app="%{{GLOBAL}}", script="{script}"):
    return IMPORT.format(script=script, group=group, app=app)


def test_import_scripts_are_kept_in_file_order_per_group(conf, tmp_path):
    other = tmp_path / "other.py"
    other.write_text("")
    config = conf("WSGIDaemonProcess site\nWSGIDaemonProcess svc threads=0\n"
                  + import_line(app="shop") + "\n"
                  + import_line(group="svc", script=str(other)) + "\n"
                  + import_line() + "\n")
    scripts = [(s.path, s.process_group, s.application_group) for s in config.import_scripts]
    assert [s[1:] for s in scripts] == [("site", "shop"), ("svc", "%{GLOBAL}"),
                                        ("site", "%{GLOBAL}")]
    assert [s.application_group for s in config.import_scripts_for("site")] == \
        ["shop", "%{GLOBAL}"]
    assert [s.path for s in config.import_scripts_for("svc")] == [str(other)]
    assert config.import_scripts_for("nosuch") == []


@pytest.mark.parametrize("value", ["%{GROUP}", "%{global}", "%{ENV:}", "%{"])
def test_import_script_takes_an_unknown_expansion_as_a_literal_name(conf, value):
    # As mod_wsgi does; only the per-request expansions are refused (below).
    escaped = value.replace("{", "{{").replace("}", "}}")
    config = conf("WSGIDaemonProcess site\n" + import_line(app=escaped))
    assert config.import_scripts_for("site")[0].application_group == value


def test_import_script_may_come_before_its_group(conf):
    config = conf(import_line() + "\nWSGIDaemonProcess site")
    assert config.import_scripts_for("site")[0].process_group == "site"


def test_import_script_is_not_a_script_alias(conf, script):
    config = conf("WSGIDaemonProcess site\n" + import_line())
    assert config.aliases == []
    assert config.scripts_for_group("site") == []


@pytest.mark.parametrize("extra, words, fix", [
    ("WSGIImportScript", "the script path is missing", "process-group=NAME"),
    ("WSGIImportScript process-group=site application-group=%{{GLOBAL}}",
     "the script path is missing", "WSGIImportScript SCRIPT"),
    ("WSGIImportScript {script} application-group=%{{GLOBAL}}", "process-group= is missing",
     "name the daemon group"),
    ("WSGIImportScript {script} process-group=site", "application-group= is missing",
     "name the application group"),
    ("WSGIImportScript {script} process-group=site application-group=%{{GLOBAL}} x=1",
     "unknown option 'x=1'", "the options are"),
    ("WSGIImportScript {script} process-group application-group=%{{GLOBAL}}",
     "unknown option 'process-group'", "the options are"),
    ("WSGIImportScript {script} process-group=site process-group=site "
     "application-group=%{{GLOBAL}}", "'process-group' is given twice", "keep one"),
    ("WSGIImportScript {script} process-group= application-group=%{{GLOBAL}}",
     "process-group= is empty", "WSGIImportScript SCRIPT"),
    ("WSGIImportScript app.py process-group=site application-group=%{{GLOBAL}}",
     "'app.py' is not an absolute path", "full path"),
    ("WSGIImportScript {tmp}/gone.py process-group=site application-group=%{{GLOBAL}}",
     "gone.py' does not exist", "correct the path"),
    ("WSGIImportScript {tmp} process-group=site application-group=%{{GLOBAL}}",
     "is a directory", "script file"),
    ("WSGIImportScript {script} process-group=site application-group=%{{SERVER}}",
     "application-group=%{SERVER} is not supported here", "%{GLOBAL} or a plain name"),
    ("WSGIImportScript {script} process-group=site application-group=%{{ENV:APP}}",
     "application-group=%{ENV:APP} is not supported here", "%{GLOBAL} or a plain name"),
    ("WSGIImportScript {script} process-group=site application-group=%{{HOST}}",
     "application-group=%{HOST} is not supported here", "%{GLOBAL} or a plain name"),
    ("WSGIImportScript {script} process-group=site application-group=%{{RESOURCE}}",
     "application-group=%{RESOURCE} is not supported here", "%{GLOBAL} or a plain name"),
    ("WSGIImportScript {script} process-group=stie application-group=%{{GLOBAL}}",
     "process-group=stie names no defined group", "(site)"),
    ("WSGIImportScript {script} process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}",
     "process-group=%{GLOBAL} is not supported", "no embedded mode"),
])
def test_import_script_errors(conf, extra, words, fix):
    error = refused(conf, "WSGIDaemonProcess site\n" + extra)
    assert error.directive == "WSGIImportScript"
    assert words in error.problem
    assert fix in error.fix
    assert error.line == 4


def test_service_group_without_import_script_has_nothing_to_run(conf):
    error = refused(conf, "WSGIDaemonProcess site\nWSGIDaemonProcess svc threads=0\n"
                          + import_line())
    assert error.directive == "WSGIDaemonProcess svc"
    assert error.line == 4
    assert "service group" in error.problem and "nothing to run" in error.problem
    assert "WSGIImportScript SCRIPT process-group=svc application-group=%{GLOBAL}" in error.fix


def test_service_scripts_must_use_the_global_application_group(conf):
    error = refused(conf, "WSGIDaemonProcess svc threads=0\n"
                          + import_line(group="svc") + "\n"
                          + import_line(group="svc", app="tasks"))
    assert error.directive == "WSGIImportScript"
    assert error.line == 5
    assert "application-group=tasks in the service group 'svc'" in error.problem
    assert "main interpreter" in error.problem
    assert "application-group=%{GLOBAL}" in error.fix


def test_requests_cannot_be_delegated_to_a_service_group(conf):
    error = refused(conf, "WSGIDaemonProcess svc threads=0\n" + import_line(group="svc")
                    + "\nWSGIScriptAlias / {script} process-group=svc")
    assert error.directive == "WSGIScriptAlias"
    assert error.line == 5
    assert "no request threads" in error.problem


def test_a_service_group_with_its_script_is_valid(conf, script):
    config = conf("WSGIDaemonProcess svc threads=0 processes=2\n" + import_line(group="svc"))
    assert config.groups["svc"].options["threads"] == 0
    (service,) = config.import_scripts_for("svc")
    assert (service.path, service.application_group) == (str(script), "%{GLOBAL}")


def test_import_script_errors_name_the_users_file_through_the_config_origin(script, tmp_path):
    text = (f"WSGISocketPrefix {tmp_path}/wsgid\n"
            "WSGIDaemonProcess svc threads=0\n"
            "WSGIConfigOrigin /etc/apache2/sites-enabled/site.conf:7\n"
            f"WSGIImportScript {script} process-group=svc application-group=other\n")
    with pytest.raises(ConfigError) as caught:
        parse(text, "generated.conf", running_ids=(4242, 4242))
    assert str(caught.value).startswith("/etc/apache2/sites-enabled/site.conf:7: "
                                        "WSGIImportScript: application-group=other")


# -- hook scripts: WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript, WSGIDispatchScript -

HOOK_DIRECTIVES = ("WSGIAccessScript", "WSGIAuthUserScript", "WSGIAuthGroupScript",
                   "WSGIDispatchScript")


@pytest.mark.parametrize("directive", HOOK_DIRECTIVES)
def test_hook_script_options(conf, script, directive):
    config = conf(f"WSGIDaemonProcess site\nWSGIDaemonProcess other\n"
                  f"{directive} {{script}} process-group=site application-group=%{{{{SERVER}}}}\n"
                  f"{directive} {{script}}")
    assert [(s.directive, s.path, s.process_group, s.application_group)
            for s in config.hook_scripts] == [(directive, str(script), "site", "%{SERVER}"),
                                              (directive, str(script), None, None)]
    assert len(config.hook_scripts_for("site")) == 2
    assert [s.process_group for s in config.hook_scripts_for("other")] == [None]
    assert config.aliases == [] and config.import_scripts == []


@pytest.mark.parametrize("directive", HOOK_DIRECTIVES)
def test_hook_script_takes_an_unknown_expansion_as_a_literal_name(conf, directive):
    config = conf(f"WSGIDaemonProcess site\n"
                  f"{directive} {{script}} process-group=site application-group=%{{{{GROUP}}}}")
    assert config.hook_scripts[0].application_group == "%{GROUP}"


def test_hook_script_lines_repeated_by_apache_are_kept_once(conf, script):
    config = conf("WSGIDaemonProcess site\n"
                  + "WSGIAuthUserScript {script} process-group=site\n" * 3
                  + "WSGIAuthGroupScript {script} process-group=site\n")
    assert [s.directive for s in config.hook_scripts] == ["WSGIAuthUserScript",
                                                          "WSGIAuthGroupScript"]


def test_hook_script_with_env_process_group_may_run_in_any_group(conf):
    config = conf("WSGIDaemonProcess a\nWSGIDaemonProcess b\n"
                  "WSGIDispatchScript {script} process-group=%{{ENV:GROUP}}")
    assert config.hook_scripts[0].process_group is None
    assert config.hook_scripts_for("a") == config.hook_scripts_for("b") == config.hook_scripts


def test_hook_directive_names_are_case_insensitive(conf):
    config = conf("wsgiaccessscript {script}")
    assert config.hook_scripts[0].directive == "WSGIAccessScript"


@pytest.mark.parametrize("extra, words, fix", [
    ("{directive}", "the script path is missing", "SCRIPT [process-group=NAME]"),
    ("{directive} process-group=site", "the script path is missing", "SCRIPT"),
    ("{directive} hook.py", "is not an absolute path", "full path"),
    ("{directive} {tmp}/gone.py", "does not exist", "existing Python script"),
    ("{directive} {tmp}", "is a directory", "existing Python script"),
    ("{directive} {script} callable-object=x", "unknown option 'callable-object=x'",
     "process-group=NAME"),
    ("{directive} {script} process-group=", "process-group= is empty", "leave the option out"),
    ("{directive} {script} application-group=", "application-group= is empty", "%{GLOBAL}"),
    ("{directive} {script} process-group=stie", "process-group=stie names no defined group",
     "(site, svc)"),
    ("{directive} {script} process-group=%{{GLOBAL}}", "process-group=%{GLOBAL} is not supported",
     "no embedded mode"),
    ("{directive} {script} process-group=svc", "names a service group (threads=0)",
     "give 'svc' request threads"),
])
@pytest.mark.parametrize("directive", HOOK_DIRECTIVES)
def test_hook_script_errors(conf, directive, extra, words, fix):
    error = refused(conf, "WSGIDaemonProcess site\nWSGIDaemonProcess svc threads=0\n"
                          + import_line(group="svc") + "\n"
                          + extra.replace("{directive}", directive))
    assert error.directive == directive
    assert words in error.problem
    assert fix in error.fix
    assert error.line == 6


# -- WSGICallableObject and unknown directives -------------------------------------------------

def test_callable_object_default_and_setting(conf):
    assert conf("").callable_object == DEFAULT_CALLABLE == "application"
    assert conf("WSGICallableObject app").callable_object == "app"


@pytest.mark.parametrize("name", ["not-an-identifier", "class", "1app"])
def test_callable_object_must_be_an_identifier(conf, name):
    error = refused(conf, f"WSGICallableObject {name}")
    assert "is not a Python identifier" in error.problem


@pytest.mark.parametrize("directive", ["WSGIProcessGroup x", "WSGIPythonPath /usr",
                                       "ServerName example.org"])
def test_unknown_directive_is_named_with_the_allowed_ones(conf, directive):
    error = refused(conf, directive)
    assert error.directive == directive.split()[0]
    assert "is not a directive of the daemon configuration file" in error.problem
    for allowed in DIRECTIVES:
        assert allowed in error.fix


def test_directive_names_are_case_insensitive(conf):
    config = conf("wsgidaemonprocess x processes=2\nWSGICALLABLEOBJECT app")
    assert config.groups["x"].options["processes"] == 2
    assert config.callable_object == "app"


# -- load and check_file -----------------------------------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def valid_file(tmp_path, script):
    # No user= and no WSGIApacheUser-dependent rule can fail for whoever runs the suite.
    who = "" if os.geteuid() != 0 else "WSGIApacheUser {0} {1}\n".format(
        *_first_unprivileged_ids())
    return _write(tmp_path / "daemon.conf",
                  f"{who}WSGISocketPrefix {tmp_path}/wsgid\n"
                  "WSGIDaemonProcess site processes=2\n"
                  f"WSGIScriptAlias / {script} process-group=site\n")


def _first_unprivileged_ids():
    for name in ("www-data", "nobody", "daemon"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    pytest.skip("no unprivileged user on this machine")


def test_load_reads_a_file_and_names_it_as_source(valid_file):
    config = load(valid_file)
    assert config.source == str(valid_file)
    assert config.groups["site"].options["processes"] == 2


def test_check_file_valid_returns_0_silently(valid_file, capsys):
    assert check_file(valid_file) == 0
    assert capsys.readouterr() == ("", "")


def test_check_file_invalid_prints_one_line_and_returns_1(tmp_path, capsys):
    bad = _write(tmp_path / "bad.conf", "WSGIDaemonProcess x user=root\n")
    assert check_file(bad) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"{bad}:1: WSGIDaemonProcess x: option 'user' names root")
    assert "Fix: " in err


def test_check_file_unreadable_and_not_utf8(tmp_path, capsys):
    assert check_file(tmp_path / "missing.conf") == 1
    assert "cannot read" in capsys.readouterr().err
    latin1 = tmp_path / "latin1.conf"
    latin1.write_bytes(b"# caf\xe9\n")
    assert check_file(latin1) == 1
    assert "is not UTF-8" in capsys.readouterr().err


def test_wsgid_check_config_command(valid_file, tmp_path):
    bad = _write(tmp_path / "bad.conf", "WSGIDaemonProcess x proceses=2\n")
    run = [sys.executable, "-m", "wsgid", "check-config"]
    good = subprocess.run(run + [str(valid_file)], capture_output=True, text=True, cwd=REPO)
    assert (good.returncode, good.stderr) == (0, "")
    failed = subprocess.run(run + [str(bad)], capture_output=True, text=True, cwd=REPO)
    assert failed.returncode == 1
    assert "unknown option 'proceses'" in failed.stderr
    assert "did you mean 'processes'" in failed.stderr
    assert "Traceback" not in failed.stderr


# -- docs --------------------------------------------------------------------------------------

def test_configuration_docs_are_generated_from_the_option_table():
    result = subprocess.run([sys.executable, str(REPO / "tools" / "gen_config_docs.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_configuration_docs_contain_the_reference():
    from wsgid.options import reference_markdown

    assert reference_markdown() in (REPO / "docs" / "configuration.md").read_text()


def test_config_origin_makes_messages_name_the_users_file_and_line():
    text = ('WSGIConfigOrigin "/etc/apache2/sites-enabled/my site.conf:12"\n'
            "WSGIDaemonProcess site procesess=2\n")
    with pytest.raises(ConfigError) as caught:
        parse(text, "generated.conf")
    assert (caught.value.source, caught.value.line) == ("/etc/apache2/sites-enabled/my site.conf", 12)
    assert str(caught.value).startswith("/etc/apache2/sites-enabled/my site.conf:12: WSGIDaemonProcess")


def test_config_origin_applies_to_the_next_directive_only():
    text = ("WSGIApacheUser 33 33\n"
            "WSGIConfigOrigin /srv/a.conf:3\n"
            "WSGIDaemonProcess site\n"
            "WSGIDaemonProcess other procesess=2\n")
    with pytest.raises(ConfigError) as caught:
        parse(text, "generated.conf")
    assert (caught.value.source, caught.value.line) == ("generated.conf", 4)


@pytest.mark.parametrize("argument", ["/srv/a.conf", "/srv/a.conf:x", ":4"])
def test_config_origin_needs_file_colon_line(argument):
    with pytest.raises(ConfigError) as caught:
        parse(f"WSGIConfigOrigin {argument}\n", "generated.conf")
    assert caught.value.directive == "WSGIConfigOrigin"
    assert "FILE:LINE" in str(caught.value)


# -- WSGIScriptAliasMatch ------------------------------------------------------------------------

def test_script_alias_match_with_dollar_n_keeps_its_directory_and_path_form(conf, tmp_path):
    (tmp_path / "apps").mkdir()
    config = conf("WSGIDaemonProcess site\n"
                  "WSGIScriptAliasMatch ^/apps/([^/]+) {tmp}/apps/$1.wsgi process-group=site")
    (alias,) = config.aliases
    assert (alias.is_match, alias.directive, alias.url) == \
        (True, "WSGIScriptAliasMatch", "^/apps/([^/]+)")
    assert alias.target_dir == f"{tmp_path}/apps" and not alias.is_dir
    assert alias.target_paths.fullmatch(f"{tmp_path}/apps/one.wsgi")
    assert alias.target_paths.fullmatch(f"{tmp_path}/apps/sub/x.wsgi/inner.py")
    assert not alias.target_paths.fullmatch(f"{tmp_path}/apps/helper.py")
    assert not alias.target_paths.fullmatch(f"{tmp_path}/other/one.wsgi")
    assert config.scripts_for_group("site") == [alias]


def test_script_alias_match_without_dollar_n_is_a_plain_target(conf, script):
    config = conf(r"WSGIScriptAliasMatch ^/(a|b) {script} application-group=%{{GLOBAL}}")
    (alias,) = config.aliases
    assert (alias.target, alias.target_dir, alias.target_paths) == (str(script), None, None)
    # Preloading is mod_wsgid's job: it writes a WSGIImportScript line for such a target.
    assert config.import_scripts == []


def test_script_alias_match_takes_an_unknown_expansion_as_a_literal_name(conf, script):
    config = conf(r"WSGIScriptAliasMatch ^/(a|b) {script} application-group=%{{GROUP}}")
    assert config.aliases[0].application_group == "%{GROUP}"


@pytest.mark.parametrize("target, literal, paths", [
    ("/srv/$1.wsgi", "/srv/", ["/srv/x.wsgi", "/srv/.wsgi"]),
    (r"/srv/a\$1/$2", "/srv/a$1/", ["/srv/a$1/x"]),
    ("/srv/$1-$2.py", "/srv/", ["/srv/a-b.py", "/srv/a/b-c/d.py"]),
    ("/srv/x.wsgi", "/srv/x.wsgi", None),
    (r"/srv/price\$9.wsgi", "/srv/price$9.wsgi", None),
])
def test_match_target_reads_substitutions_like_apache(target, literal, paths):
    got_literal, pattern = match_target(target)
    assert got_literal == literal
    if paths is None:
        assert pattern is None
    else:
        assert all(pattern.fullmatch(p) for p in paths)


@pytest.mark.parametrize("extra, words", [
    ("WSGIScriptAliasMatch ^/x", "takes a REGEX and a target, got 1"),
    ("WSGIScriptAliasMatch ^/(.*) apps/$1.wsgi", "is not an absolute path"),
    ("WSGIScriptAliasMatch ^/(.*) /$1.wsgi", "substitutes into the root directory"),
    ("WSGIScriptAliasMatch ^/(.*) {tmp}/nosuch/$1.wsgi", "does not exist"),
    ("WSGIScriptAliasMatch ^/x {tmp}/nosuch.wsgi", "does not exist"),
    ("WSGIScriptAliasMatch ^/(.*) {tmp}/$1 callable=x", "unknown option"),
    ("WSGIScriptAliasMatch ^/(.*) {tmp}/$1 process-group=nosuch", "names no defined group"),
    ("WSGIScriptAliasMatch ^/(.*) {tmp}/$1 process-group=%{{GLOBAL}}", "is not supported"),
])
def test_wsgiscriptaliasmatch_errors(conf, extra, words):
    error = refused(conf, extra)
    assert words in error.problem
    assert error.directive == "WSGIScriptAliasMatch"
    assert error.fix


def test_wsgiscriptaliasmatch_cannot_send_requests_to_a_service_group(conf, script):
    error = refused(conf, f"WSGIDaemonProcess svc threads=0\n{import_line(group='svc')}\n"
                          "WSGIScriptAliasMatch ^/(.*) {tmp}/$1 process-group=svc")
    assert error.directive == "WSGIScriptAliasMatch" and "service group" in error.problem


def test_a_per_request_process_group_lets_every_group_serve_the_alias(conf):
    config = conf("WSGIDaemonProcess a\nWSGIDaemonProcess b\n"
                  "WSGIScriptAlias / {script} process-group=%{{ENV:GROUP}}")
    assert config.aliases[0].process_group is None
    assert config.scripts_for_group("a") == config.scripts_for_group("b") == config.aliases


def test_a_file_target_written_with_a_trailing_slash_is_that_file(conf, script):
    # Review Board's documented configuration writes WSGIScriptAlias "/" ".../reviewboard.wsgi/",
    # which mod_wsgi serves as the file.
    config = conf("WSGIDaemonProcess site\nWSGIScriptAlias / {script}/ process-group=site")
    (alias,) = config.aliases
    assert alias.target == str(script) and not alias.is_dir
