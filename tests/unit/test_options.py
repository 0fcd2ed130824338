"""The option table and WSGIDaemonProcess parsing (wsgid/options.py).

Who the supervisor runs as is passed in (`running_ids`), so the root and non-root rules are
both checked whoever runs the suite. Users and groups are real entries of this machine.
"""

import grp
import os
import pwd
import sys

import pytest

from wsgid.errors import ConfigError
from wsgid.options import (
    GROUP_NAME_MAX, OPTION_BY_NAME, OPTIONS, check_group_name, cli_options, expand_display_name,
    SECONDS_MAX, is_own_prefix, parse_daemon_process, reference_markdown, site_packages_dir,
)

ROOT = (0, 0)

# Every option mod_wsgi 4.6.8 accepts in WSGIDaemonProcess (src/server/mod_wsgi.c,
# wsgi_add_daemon_process): the table must declare each one.
MOD_WSGI_46_OPTIONS = {
    "user", "group", "supplementary-groups", "processes", "threads", "umask", "chroot", "home",
    "lang", "locale", "python-home", "python-path", "python-eggs", "stack-size",
    "maximum-requests", "startup-timeout", "shutdown-timeout", "deadlock-timeout",
    "inactivity-timeout", "request-timeout", "graceful-timeout", "eviction-timeout",
    "restart-interval", "connect-timeout", "socket-timeout", "queue-timeout", "listen-backlog",
    "display-name", "send-buffer-size", "receive-buffer-size", "header-buffer-size",
    "response-buffer-size", "response-socket-timeout", "socket-user", "script-user",
    "script-group", "cpu-time-limit", "cpu-priority", "memory-limit", "virtual-memory-limit",
    "server-metrics", "newrelic-config-file", "newrelic-environment",
}

IMPLEMENTED_IN_ISSUE_2 = {
    "processes", "threads", "display-name", "user", "group", "home", "python-path",
    "python-home", "lang", "locale", "socket-user", "listen-backlog", "connect-timeout",
    "socket-timeout",
}
# The daemon process lifecycle: limits, recycling, timeouts and process setup.
IMPLEMENTED_IN_ISSUE_3 = {
    "maximum-requests", "restart-interval", "inactivity-timeout", "request-timeout",
    "startup-timeout", "deadlock-timeout", "graceful-timeout", "eviction-timeout",
    "shutdown-timeout", "queue-timeout", "cpu-time-limit", "memory-limit", "virtual-memory-limit",
    "umask", "supplementary-groups", "cpu-priority",
}
# The rest of mod_wsgi's options, all but chroot.
IMPLEMENTED_LATER = {
    "stack-size", "python-eggs", "send-buffer-size", "receive-buffer-size",
    "header-buffer-size", "response-buffer-size", "response-socket-timeout", "script-user",
    "script-group", "server-metrics", "newrelic-config-file", "newrelic-environment",
}
# wsgid's own: what mod_wsgi does by other means (a <VirtualHost>'s ErrorLog), as an option
# that external mode's files can use too.
WSGID_OPTIONS = {"error-log"}
IMPLEMENTED = IMPLEMENTED_IN_ISSUE_2 | IMPLEMENTED_IN_ISSUE_3 | IMPLEMENTED_LATER | WSGID_OPTIONS


def _unprivileged_users():
    preferred = [entry for entry in pwd.getpwall() if entry.pw_name == "www-data"]
    others = sorted((entry for entry in pwd.getpwall()
                     if entry.pw_uid != 0 and entry.pw_name != "www-data"),
                    key=lambda entry: entry.pw_uid)
    return preferred + others


@pytest.fixture(scope="module")
def apache_user():
    """The user that plays the Apache child user: www-data where it exists."""
    users = _unprivileged_users()
    if not users:
        pytest.skip("this machine has no unprivileged user")
    return users[0]


@pytest.fixture(scope="module")
def other_user(apache_user):
    """An unprivileged user other than the Apache one, whose home directory exists."""
    for entry in _unprivileged_users():
        if entry.pw_uid != apache_user.pw_uid and entry.pw_gid != 0 \
                and os.path.isdir(entry.pw_dir):
            return entry
    pytest.skip("this machine has no second unprivileged user with a home directory")


@pytest.fixture(scope="module")
def unprivileged_group(apache_user):
    return grp.getgrgid(apache_user.pw_gid)


def parse(*words, apache=None, running_ids=ROOT, apache_ids="default"):
    if apache_ids == "default":
        apache_ids = (apache.pw_uid, apache.pw_gid)
    return parse_daemon_process(["g", *words], "test.conf", 7, apache_ids=apache_ids,
                                running_ids=running_ids)[1]


def refused(*words, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(*words, **kw)
    return info.value


def assert_names_option_and_fix(error: ConfigError, option: str):
    message = str(error)
    assert message.startswith("test.conf:7: WSGIDaemonProcess g: ")
    assert f"'{option}'" in message or f"{option}=" in message
    assert error.option == option
    assert error.fix.strip()
    assert "Fix: " in message and "\n" not in message


@pytest.fixture
def venv_dir(tmp_path):
    """A directory laid out like a virtual environment of the running Python."""
    home = tmp_path / "venv"
    os.makedirs(site_packages_dir(str(home)))
    return home


# -- the table ---------------------------------------------------------------------------------

def test_table_declares_every_mod_wsgi_46_option_once():
    names = [option.name for option in OPTIONS]
    assert len(names) == len(set(names))
    assert set(names) == MOD_WSGI_46_OPTIONS | WSGID_OPTIONS
    assert set(OPTION_BY_NAME) == MOD_WSGI_46_OPTIONS | WSGID_OPTIONS


def test_every_option_but_chroot_is_implemented():
    assert {option.name for option in OPTIONS if option.implemented} == IMPLEMENTED
    assert MOD_WSGI_46_OPTIONS - IMPLEMENTED == {"chroot"}


def test_every_row_has_one_sentence_of_help_and_an_example():
    for option in OPTIONS:
        assert option.help.endswith("."), option.name
        assert option.help[0].isupper(), option.name
        assert option.example, option.name


def test_cli_options_are_implemented_and_flags_are_named_after_the_option():
    rows = cli_options()
    assert {"processes", "threads"} <= {option.name for option in rows}
    for option in rows:
        assert option.implemented
        assert option.cli_flag == "--" + option.name


def test_defaults_of_implemented_options(apache_user):
    values = parse(apache=apache_user)
    assert set(values) == IMPLEMENTED
    assert values["processes"] == 1
    assert values["threads"] == 15
    assert values["display-name"] == "(wsgi:g)"
    assert values["listen-backlog"] == 100
    assert values["connect-timeout"] == 15.0 and isinstance(values["connect-timeout"], float)
    assert values["socket-timeout"] == 60.0
    assert values["python-path"] == []
    for name in ("home", "python-home", "lang", "locale", "socket-user", "umask",
                 "script-user", "script-group", "python-eggs", "newrelic-config-file",
                 "newrelic-environment", "error-log"):
        assert values[name] is None, name
    for name in ("stack-size", "send-buffer-size", "receive-buffer-size",
                 "header-buffer-size", "response-buffer-size", "response-socket-timeout"):
        assert values[name] == 0, name
    assert values["server-metrics"] is False
    # The lifecycle defaults the issue names: deadlock 300 s, graceful 15 s, shutdown 5 s;
    # every other limit is off.
    assert (values["deadlock-timeout"], values["graceful-timeout"], values["shutdown-timeout"]) \
        == (300.0, 15.0, 5.0)
    for name in ("maximum-requests", "restart-interval", "inactivity-timeout", "request-timeout",
                 "startup-timeout", "eviction-timeout", "queue-timeout", "cpu-time-limit",
                 "memory-limit", "virtual-memory-limit", "cpu-priority"):
        assert values[name] == 0, name
    assert tuple(values["supplementary-groups"]) == ()


def test_defaults_are_not_shared_between_parses(apache_user):
    parse(apache=apache_user)["python-path"].append("/changed")
    assert parse(apache=apache_user)["python-path"] == []


# -- good values -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [("1", 1), ("4", 4), ("+3", 3)])
def test_processes_accepts_whole_numbers_from_1(apache_user, raw, expected):
    assert parse(f"processes={raw}", apache=apache_user)["processes"] == expected


@pytest.mark.parametrize("raw, expected", [("0", 0), ("1", 1), ("15", 15), ("65533", 65533)])
def test_threads_accepts_0_service_mode_up_to_mod_wsgi_limit(apache_user, raw, expected):
    assert parse(f"threads={raw}", apache=apache_user)["threads"] == expected


@pytest.mark.parametrize("raw, expected", [
    ("%{GROUP}", "(wsgi:g)"),
    ("web-%{GROUP}", "web-g"),
    ("plain name", "plain name"),
    ("(wsgi:custom)", "(wsgi:custom)"),
])
def test_display_name_expands_group(apache_user, raw, expected):
    assert parse(f"display-name={raw}", apache=apache_user)["display-name"] == expected


def test_user_and_group_by_name_and_number(apache_user, unprivileged_group):
    by_name = parse(f"user={apache_user.pw_name}", f"group={unprivileged_group.gr_name}",
                    apache=apache_user)
    by_number = parse(f"user=#{apache_user.pw_uid}", f"group=#{unprivileged_group.gr_gid}",
                      apache=apache_user)
    assert by_name["user"] == by_number["user"] == apache_user.pw_uid
    assert by_name["group"] == by_number["group"] == unprivileged_group.gr_gid


def test_home_python_path_and_python_home_accept_existing_directories(
        apache_user, tmp_path, venv_dir):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    values = parse(f"home={tmp_path}", f"python-path={first}:{second}:",
                   f"python-home={venv_dir}", apache=apache_user)
    assert values["home"] == str(tmp_path)
    assert values["python-path"] == [str(first), str(second)]
    assert values["python-home"] == str(venv_dir)


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="the suite does not run in a venv")
def test_python_home_accepts_the_running_virtual_environment(apache_user):
    assert parse(f"python-home={sys.prefix}", apache=apache_user)["python-home"] == sys.prefix


def test_lang_locale_and_socket_user(apache_user):
    values = parse("lang=en_US.UTF-8", "locale=C.UTF-8", f"socket-user={apache_user.pw_name}",
                   apache=apache_user)
    assert values["lang"] == "en_US.UTF-8"
    assert values["locale"] == "C.UTF-8"
    assert values["socket-user"] == apache_user.pw_uid


def test_socket_user_may_be_root(apache_user):
    # The socket's owner is who may connect; root owning it takes no privilege from anyone.
    assert parse("socket-user=root", apache=apache_user)["socket-user"] == 0


@pytest.mark.parametrize("raw", ["1", "100", "65535"])
def test_listen_backlog_range(apache_user, raw):
    assert parse(f"listen-backlog={raw}", apache=apache_user)["listen-backlog"] == int(raw)


@pytest.mark.parametrize("name", ["connect-timeout", "socket-timeout"])
@pytest.mark.parametrize("raw, expected", [("15", 15.0), ("0.5", 0.5), (".25", 0.25)])
def test_timeouts_are_float_seconds(apache_user, name, raw, expected):
    value = parse(f"{name}={raw}", apache=apache_user)[name]
    assert value == expected and isinstance(value, float)


@pytest.mark.parametrize("word, name, expected", [
    ("maximum-requests=1000", "maximum-requests", 1000),
    ("restart-interval=3600", "restart-interval", 3600.0),
    ("inactivity-timeout=0.5", "inactivity-timeout", 0.5),
    ("request-timeout=60", "request-timeout", 60.0),
    ("startup-timeout=15", "startup-timeout", 15.0),
    ("deadlock-timeout=0", "deadlock-timeout", 0.0),
    ("graceful-timeout=0", "graceful-timeout", 0.0),
    ("eviction-timeout=30", "eviction-timeout", 30.0),
    ("shutdown-timeout=2.5", "shutdown-timeout", 2.5),
    ("queue-timeout=45", "queue-timeout", 45.0),
    ("cpu-time-limit=2", "cpu-time-limit", 2.0),
    ("memory-limit=536870912", "memory-limit", 536870912),
    ("virtual-memory-limit=1073741824", "virtual-memory-limit", 1073741824),
    ("cpu-priority=5", "cpu-priority", 5),
    ("cpu-priority=-20", "cpu-priority", -20),
])
def test_lifecycle_options_accept_their_values(apache_user, word, name, expected):
    assert parse(word, apache=apache_user)[name] == expected


def test_umask_is_octal(apache_user):
    assert parse("umask=0027", apache=apache_user)["umask"] == 0o027


def test_supplementary_groups_resolve_to_gids(apache_user, unprivileged_group):
    values = parse(f"supplementary-groups={unprivileged_group.gr_name}", apache=apache_user)
    assert list(values["supplementary-groups"]) == [unprivileged_group.gr_gid]


# -- bad values --------------------------------------------------------------------------------

@pytest.mark.parametrize("option, raw", [
    ("processes", "0"), ("processes", "-1"), ("processes", "abc"), ("processes", ""),
    ("processes", "1.5"), ("processes", "1e3"), ("processes", "2x"),
    ("threads", "-1"), ("threads", "65534"), ("threads", "many"),
    ("display-name", ""), ("display-name", "a\x01b"),
    ("lang", ""), ("locale", ""), ("locale", "en\nUS"),
    ("listen-backlog", "0"), ("listen-backlog", "65536"), ("listen-backlog", "x"),
    ("connect-timeout", "0"), ("connect-timeout", "-1"), ("connect-timeout", "abc"),
    ("connect-timeout", "nan"), ("connect-timeout", "inf"), ("connect-timeout", "1e3"),
    ("socket-timeout", "0"), ("socket-timeout", "0.0"), ("socket-timeout", "ten"),
    ("maximum-requests", "-1"), ("maximum-requests", "many"), ("request-timeout", "-2"),
    ("graceful-timeout", "soon"), ("cpu-priority", "21"), ("cpu-priority", "-21"),
    ("umask", "999"), ("umask", "rwx"), ("memory-limit", "1G"), ("queue-timeout", "x"),
])
def test_bad_value_names_option_value_and_fix(apache_user, option, raw):
    error = refused(f"{option}={raw}", apache=apache_user)
    assert_names_option_and_fix(error, option)
    assert f"got '{raw}'" in error.problem
    assert f"{option}=" in error.fix  # the fix shows how to write it


@pytest.mark.parametrize("raw", ["root", "#0"])
def test_user_root_is_refused_with_a_reason(apache_user, raw):
    error = refused(f"user={raw}", apache=apache_user)
    assert_names_option_and_fix(error, "user")
    assert "must not run as root" in error.problem
    assert "unprivileged user" in error.fix


@pytest.mark.parametrize("raw", ["root", "#0"])
def test_group_root_is_refused(apache_user, raw):
    error = refused(f"group={raw}", apache=apache_user)
    assert_names_option_and_fix(error, "group")
    assert "root" in error.problem


@pytest.mark.parametrize("option", ["user", "socket-user"])
@pytest.mark.parametrize("raw, words", [
    ("no-such-user-wsgid", "unknown user 'no-such-user-wsgid'"),
    ("#2999999", "uid 2999999"),
    ("#abc", "user name or #uid"),
    ("", "empty"),
])
def test_unknown_users_are_refused(apache_user, option, raw, words):
    error = refused(f"{option}={raw}", apache=apache_user)
    assert_names_option_and_fix(error, option)
    assert words in error.problem


@pytest.mark.parametrize("raw, words", [
    ("no-such-group-wsgid", "unknown group 'no-such-group-wsgid'"),
    ("#2999999", "gid 2999999"),
    ("", "empty"),
])
def test_unknown_groups_are_refused(apache_user, raw, words):
    error = refused(f"group={raw}", apache=apache_user)
    assert_names_option_and_fix(error, "group")
    assert words in error.problem


@pytest.mark.parametrize("option", ["home", "python-home"])
def test_directory_options_refuse_relative_missing_and_files(apache_user, tmp_path, option):
    a_file = tmp_path / "file"
    a_file.write_text("")
    for raw, words in [("relative/dir", "absolute path"),
                       (str(tmp_path / "missing"), "does not exist"),
                       (str(a_file), "is not a directory")]:
        error = refused(f"{option}={raw}", apache=apache_user)
        assert_names_option_and_fix(error, option)
        assert words in error.problem


@pytest.mark.parametrize("raw", ["", ":", "relative"])
def test_python_path_refuses_empty_and_relative(apache_user, raw):
    assert_names_option_and_fix(refused(f"python-path={raw}", apache=apache_user),
                                "python-path")


def test_python_path_keeps_entries_that_do_not_exist_or_are_files(apache_user, tmp_path):
    # As mod_wsgi: added anyway; the daemon warns when it starts (daemon.py).
    a_file = tmp_path / "lib.zip"
    a_file.write_text("")
    raw = f"python-path={tmp_path}:{tmp_path}/gone:{a_file}"
    assert parse(raw, apache=apache_user)["python-path"] == [
        str(tmp_path), f"{tmp_path}/gone", str(a_file)]


def test_python_home_is_any_existing_directory(apache_user, tmp_path, venv_dir):
    # A venv, this Python's own prefix, anything else (a warning at daemon start).
    for home in (venv_dir, sys.base_prefix, tmp_path):
        assert parse(f"python-home={home}", apache=apache_user)["python-home"] == str(home)
    error = refused(f"python-home={tmp_path}/gone", apache=apache_user)
    assert_names_option_and_fix(error, "python-home")


def test_python_home_of_this_interpreter_adds_nothing():
    assert is_own_prefix(sys.base_prefix) and is_own_prefix(sys.base_prefix + "/")
    assert not is_own_prefix("/srv")


def test_script_user_and_script_group_exclude_each_other(apache_user):
    error = refused("script-user=root", "script-group=root", apache=apache_user)
    assert "both given" in error.problem and "only one" in error.fix
    assert parse("script-user=#0", apache=apache_user)["script-user"] == 0


@pytest.mark.parametrize("raw, expected", [
    ("2147483647", 2147483647.0), ("99999999999999999999", SECONDS_MAX), ("0.5", 0.5)])
def test_large_seconds_are_clamped_not_refused(apache_user, raw, expected):
    values = parse(f"socket-timeout={raw}", f"response-socket-timeout={raw}",
                   apache=apache_user)
    assert values["socket-timeout"] == values["response-socket-timeout"] == expected


@pytest.mark.parametrize("words, option", [
    ("header-buffer-size=8191", "header-buffer-size"),
    ("response-buffer-size=65535", "response-buffer-size"),
    ("send-buffer-size=511", "send-buffer-size"),
    ("receive-buffer-size=2147483648", "receive-buffer-size"),
    ("stack-size=-1", "stack-size"),
    ("server-metrics=yes", "server-metrics"),
])
def test_buffer_sizes_follow_mod_wsgis_limits(apache_user, words, option):
    assert_names_option_and_fix(refused(words, apache=apache_user), option)


def test_buffer_sizes_and_zero(apache_user):
    values = parse("header-buffer-size=8192", "response-buffer-size=0",
                   "send-buffer-size=512", "stack-size=524288", "server-metrics=on",
                   apache=apache_user)
    assert (values["header-buffer-size"], values["response-buffer-size"],
            values["send-buffer-size"], values["stack-size"], values["server-metrics"]) == \
        (8192, 0, 512, 524288, True)


def test_server_wide_defaults_apply_only_where_the_option_is_not_given(apache_user, tmp_path):
    defaults = {"python-home": str(tmp_path), "server-metrics": True}
    values = parse_daemon_process(["g"], "test.conf", 7, running_ids=ROOT, defaults=defaults,
                                  apache_ids=(apache_user.pw_uid, apache_user.pw_gid))[1]
    assert values["python-home"] == str(tmp_path) and values["server-metrics"] is True
    values = parse_daemon_process(["g", "server-metrics=Off"], "test.conf", 7,
                                  running_ids=ROOT, defaults=defaults,
                                  apache_ids=(apache_user.pw_uid, apache_user.pw_gid))[1]
    assert values["server-metrics"] is False


# -- the directive's shape ---------------------------------------------------------------------

@pytest.mark.parametrize("typo, suggestion", [
    ("proceses", "processes"), ("thread", "threads"), ("display_name", "display-name"),
    ("python_path", "python-path"), ("maximum-request", "maximum-requests"),
])
def test_unknown_option_suggests_the_closest(apache_user, typo, suggestion):
    error = refused(f"{typo}=1", apache=apache_user)
    assert f"unknown option '{typo}'" in error.problem
    assert f"did you mean '{suggestion}'" in error.fix


def test_unknown_option_without_a_close_match_points_to_the_docs(apache_user):
    error = refused("frobnicate=1", apache=apache_user)
    assert "did you mean" not in error.fix
    assert "docs/configuration.md" in error.fix


@pytest.mark.parametrize("word", ["processes", "=2", "threads:4"])
def test_word_without_equals_is_refused(apache_user, word):
    error = refused(word, apache=apache_user)
    assert f"'{word}' is not an option=value pair" in error.problem
    assert "name=value" in error.fix


def test_repeated_option_is_refused(apache_user):
    error = refused("processes=1", "threads=2", "processes=2", apache=apache_user)
    assert "'processes' is given twice" in error.problem
    assert error.option == "processes"


@pytest.mark.parametrize("option", [option for option in OPTIONS if not option.implemented],
                         ids=lambda option: option.name)
def test_unimplemented_option_is_refused_not_ignored(apache_user, option):
    error = refused(f"{option.name}={option.example}", apache=apache_user)
    assert f"wsgid does not support option '{option.name}' yet" in error.problem
    assert f"remove {option.name}=" in error.fix
    assert error.option == option.name


def test_missing_group_name():
    with pytest.raises(ConfigError) as info:
        parse_daemon_process([], "test.conf", 3)
    assert "group name is missing" in info.value.problem


@pytest.mark.parametrize("name", ["example", "bob:1", "my-app_2.0", "A9", "x" * GROUP_NAME_MAX])
def test_group_names_mod_wsgi_allows(name):
    check_group_name(name)


@pytest.mark.parametrize("name, words", [
    ("", "empty"),
    ("a b", "whitespace"),
    ("a\tb", "whitespace"),
    ("a/b", "'/'"),
    ("%{GLOBAL}", "starts with '%'"),
    (".hidden", "starts with '.'"),
    ("x" * (GROUP_NAME_MAX + 1), f"longer than {GROUP_NAME_MAX}"),
    ("processes=2", "group name is missing"),
])
def test_group_names_that_cannot_be_a_socket_name_part(name, words):
    with pytest.raises(ConfigError) as info:
        check_group_name(name, "test.conf", 2)
    assert words in info.value.problem
    assert str(info.value).startswith("test.conf:2: WSGIDaemonProcess: ")


def test_expand_display_name_follows_mod_wsgi():
    assert expand_display_name("%{GROUP}", "site") == "(wsgi:site)"
    assert expand_display_name("%{GROUP}-worker", "site") == "site-worker"
    assert expand_display_name("static", "site") == "static"


def test_parse_value_for_another_directive_names_it():
    with pytest.raises(ConfigError) as info:
        OPTION_BY_NAME["processes"].parse_value("many", directive="wsgid start-server")
    assert str(info.value).startswith("wsgid start-server: option 'processes' must be")


# -- who the daemons run as --------------------------------------------------------------------

def test_as_root_the_apache_user_is_the_default(apache_user):
    values = parse(apache=apache_user, running_ids=ROOT)
    assert (values["user"], values["group"]) == (apache_user.pw_uid, apache_user.pw_gid)
    assert values["home"] is None  # the Apache user keeps the supervisor's directory


def test_as_root_an_explicit_user_gets_the_apache_group_like_mod_wsgi(apache_user, other_user):
    values = parse(f"user={other_user.pw_name}", apache=apache_user, running_ids=ROOT)
    assert values["user"] == other_user.pw_uid
    assert values["group"] == apache_user.pw_gid
    assert values["home"] == other_user.pw_dir  # like mod_wsgi: the user's home directory


def test_an_explicit_home_wins_over_the_users_home(apache_user, other_user, tmp_path):
    values = parse(f"user={other_user.pw_name}", f"home={tmp_path}", apache=apache_user)
    assert values["home"] == str(tmp_path)


def test_as_root_without_apache_user_an_explicit_user_gets_its_primary_group(other_user):
    values = parse(f"user={other_user.pw_name}", apache_ids=None, running_ids=ROOT)
    assert (values["user"], values["group"]) == (other_user.pw_uid, other_user.pw_gid)


def test_as_root_without_any_user_is_an_error():
    error = refused(apache_ids=None, running_ids=ROOT)
    assert "no user for the daemon processes" in error.problem
    assert "user=" in error.fix and "WSGIApacheUser" in error.fix


def test_as_root_an_apache_user_of_root_is_not_used_as_default():
    error = refused(apache_ids=(0, 0), running_ids=ROOT)
    assert "would run as root" in error.problem
    assert error.option == "user"


def test_as_root_an_apache_group_of_root_is_not_used_as_default(apache_user):
    error = refused(apache_ids=(apache_user.pw_uid, 0), running_ids=ROOT)
    assert "root's group" in error.problem
    assert error.option == "group"


def test_home_of_daemon_user_must_exist(apache_user):
    missing = [entry for entry in _unprivileged_users()
               if entry.pw_uid != apache_user.pw_uid and entry.pw_gid != 0
               and not os.path.isdir(entry.pw_dir)]
    if not missing:
        pytest.skip("no user without a home directory on this machine")
    error = refused(f"user={missing[0].pw_name}", apache=apache_user)
    assert "does not exist" in error.problem and "home=" in error.fix
    assert error.option == "home"


def test_not_as_root_the_daemons_run_as_the_supervisors_user(apache_user, other_user):
    me = (other_user.pw_uid, other_user.pw_gid)
    values = parse(apache=apache_user, running_ids=me)
    assert (values["user"], values["group"]) == me
    same = parse(f"user={other_user.pw_name}", f"group=#{other_user.pw_gid}",
                 apache=apache_user, running_ids=me)
    assert (same["user"], same["group"]) == me


def test_not_as_root_another_user_is_an_error_not_ignored(apache_user, other_user):
    me = (other_user.pw_uid, other_user.pw_gid)
    error = refused(f"user={apache_user.pw_name}", apache=apache_user, running_ids=me)
    assert "only root can switch user" in error.problem
    assert error.option == "user"


def test_not_as_root_another_group_is_an_error_not_ignored(apache_user, other_user):
    me = (other_user.pw_uid, other_user.pw_gid)
    others = [entry for entry in grp.getgrall() if entry.gr_gid not in (0, other_user.pw_gid)]
    if not others:
        pytest.skip("this machine has only one unprivileged group")
    error = refused(f"group={others[0].gr_name}", apache=apache_user, running_ids=me)
    assert "only root can switch group" in error.problem
    assert error.option == "group"


# -- docs --------------------------------------------------------------------------------------

def test_reference_lists_every_option_once_in_its_section():
    reference = reference_markdown()
    supported, _, unsupported = reference.partition("### Options wsgid does not support")
    for option in OPTIONS:
        row = f"| `{option.name}` |"
        section = supported if option.implemented else unsupported
        assert section.count(row) == 1, option.name
        assert reference.count(row) == 1, option.name


def test_reference_states_defaults():
    reference = reference_markdown()
    assert "| `processes` | a whole number >= 1 | `1` |" in reference
    assert "| `threads` | a whole number from 0 to 65533 | `15` |" in reference
    assert "| `shutdown-timeout` | a number of seconds >= 0 | `5` |" in reference
    assert "| `deadlock-timeout` | a number of seconds >= 0 | `300` |" in reference


@pytest.mark.parametrize("value", ["/var/log/site.log", "|/usr/bin/rotatelogs /l/s.%Y 86400",
                                   "|$cat >> /var/log/site.log"])
def test_error_log_takes_a_file_or_a_piped_command(apache_user, value):
    assert parse(f"error-log={value}", apache=apache_user)["error-log"] == value


@pytest.mark.parametrize("value, says", [
    ("logs/site.log", "must be an absolute path"),
    ("syslog:local1", "names syslog"),
    ("|", "names no command"),
    ("|$  ", "names no command"),
])
def test_error_log_mistakes_name_the_option_and_the_fix(apache_user, value, says):
    error = refused(f"error-log={value}", apache=apache_user)
    assert_names_option_and_fix(error, "error-log")
    assert says in str(error)
