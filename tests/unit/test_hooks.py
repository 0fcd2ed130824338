"""hooks.py and the hook path of connection.py: a daemon answers hook calls as docs/protocol.md
("Hook calls") says.

The configurations are real ones, parsed by wsgid.config, and the hook scripts are real scripts
written to tmp_path, loaded by the group's real ScriptLoader. The connection tests send packets
from tests/support/wire.py over a real socketpair to a real RequestHandler.
"""

import hashlib
import logging
import socket
import sys
import threading
import time

import pytest

from tests.support.wire import recv_until_eof, uwsgi_packet
from wsgid import config as wsgid_config
from wsgid.connection import RequestHandler
from wsgid.hooks import HookRunner
from wsgid.loader import ScriptLoader, module_name
from wsgid.answers import GATEWAY_TIMEOUT_RESPONSE_504

UNPRIVILEGED = 4242
LOGGER = "wsgid.hooks"

HOOK_SCRIPT = """
import sys
seen = []

def allow_access(environ, host):
    seen.append((environ, host))
    return RESULT

def check_password(environ, user, password):
    seen.append((environ, user, password))
    return RESULT

def get_realm_hash(environ, user, realm):
    seen.append((environ, user, realm))
    return RESULT

def groups_for_user(environ, user):
    seen.append((environ, user))
    return RESULT

RESULT = None
"""


@pytest.fixture(autouse=True)
def _forget_loaded_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("_wsgid_"):
            del sys.modules[name]


@pytest.fixture(autouse=True)
def _capture(caplog):
    caplog.set_level(logging.DEBUG, logger="wsgid")


def write(path, text=HOOK_SCRIPT):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def parse_config(tmp_path, lines, group_options=""):
    text = (f"WSGISocketPrefix {tmp_path}/wsgid\n"
            f"WSGIDaemonProcess g socket-timeout=20 {group_options}\nWSGIDaemonProcess h\n"
            + "".join(line + "\n" for line in lines))
    return wsgid_config.parse(text, source=str(tmp_path / "daemon.conf"),
                              running_ids=(UNPRIVILEGED, UNPRIVILEGED))


def make_runner(tmp_path, lines, group="g"):
    config = parse_config(tmp_path, lines)
    loader = ScriptLoader(config, group)
    return HookRunner(config, group, loader), loader


def hook_call(hook, script, **extra):
    """The variables of a hook packet, as mod_wsgid sends them (values as the daemon decodes
    them: latin-1 text)."""
    environ = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/private/page?x=1",
               "SCRIPT_NAME": "", "PATH_INFO": "/private/page", "SERVER_NAME": "example.org",
               "SERVER_PORT": "80", "REMOTE_ADDR": "192.0.2.7",
               "wsgid.hook": hook, "wsgid.hook_script": script,
               "wsgid.process_group": "g", "wsgid.application_group": "",
               "wsgid.request_id": "req-1"}
    environ.update(extra)
    return environ


def parse_answer(answer):
    """(status line, [(name, value)]) of an answer, checking its framing."""
    assert answer.endswith(b"\r\n\r\n") and answer.count(b"\r\n\r\n") == 1
    status, *lines = answer[:-4].decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines]
    assert ("Content-Length", "0") in headers
    return status, [h for h in headers if h[0] != "Content-Length"]


def result_of(answer):
    status, headers = parse_answer(answer)
    assert status == "HTTP/1.1 200 OK"
    assert headers[0][0] == "Wsgid-Hook-Result"
    return headers[0][1], headers[1:]


def module_of(loader, script, application_group=""):
    return loader.loaded()[(script, application_group)]


def hook_errors(caplog):
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]


def run_with_result(tmp_path, directive, hook, result, **extra):
    """Answer one `hook` call whose function returns `result`; (result, headers, module)."""
    script = write(tmp_path / "hook.py", HOOK_SCRIPT.replace("RESULT = None",
                                                             f"RESULT = {result}"))
    runner, loader = make_runner(tmp_path, [f"{directive} {script}"])
    answer = runner.answer(hook_call(hook, script, **extra))
    return (*result_of(answer), module_of(loader, script) if loader.loaded() else None)


# -- allow_access ------------------------------------------------------------------------------

@pytest.mark.parametrize("returned, expected", [("True", "allow"), ("False", "deny"),
                                                ("None", "decline")])
def test_allow_access_results(tmp_path, caplog, returned, expected):
    result, headers, module = run_with_result(tmp_path, "WSGIAccessScript", "allow_access",
                                              returned, **{"wsgid.hook_host": "client.example"})
    assert (result, headers) == (expected, [])
    (environ, host), = module.seen
    assert host == "client.example"
    assert hook_errors(caplog) == []


def test_allow_access_without_a_host_gets_none(tmp_path):
    _, _, module = run_with_result(tmp_path, "WSGIAccessScript", "allow_access", "True")
    assert module.seen[0][1] is None


@pytest.mark.parametrize("returned", ["1", "'yes'", "[]"])
def test_allow_access_other_values_are_an_error_with_one_log_line(tmp_path, caplog, returned):
    result, headers, _ = run_with_result(tmp_path, "WSGIAccessScript", "allow_access", returned)
    assert (result, headers) == ("error", [])
    (record,) = hook_errors(caplog)
    message = record.getMessage()
    assert message.startswith(f"WSGIAccessScript {tmp_path / 'hook.py'}: ")
    assert "allow_access() must return True, False or None" in message
    assert "GET /private/page?x=1 (request req-1)" in message
    assert record.exc_info is None


# -- the environ -------------------------------------------------------------------------------

def test_the_environ_is_the_packets_without_hook_keys_plus_the_daemons(tmp_path):
    _, _, module = run_with_result(
        tmp_path, "WSGIAuthUserScript", "check_password", "True",
        **{"wsgid.hook_user": "alice", "wsgid.hook_password": "s3cret", "CONTENT_LENGTH": "12",
           "mod_wsgi.request_id": "req-1", "HTTP_HOST": "example.org"})
    environ, user, password = module.seen[0]
    assert (user, password) == ("alice", "s3cret")
    assert not [key for key in environ if key.startswith("wsgid.hook")]
    assert "s3cret" not in repr(environ)
    assert environ["HTTP_HOST"] == "example.org" and environ["REMOTE_ADDR"] == "192.0.2.7"
    assert environ["mod_wsgi.process_group"] == "g"
    assert environ["mod_wsgi.application_group"] == ""
    assert environ["mod_wsgi.request_id"] == "req-1"
    assert environ["wsgi.input"].read() == b""
    assert "CONTENT_LENGTH" not in environ  # no body comes with a hook call


def test_the_daemon_base_environ_reaches_the_script(tmp_path):
    script = write(tmp_path / "hook.py", HOOK_SCRIPT.replace("RESULT = None", "RESULT = True"))
    config = parse_config(tmp_path, [f"WSGIAccessScript {script}"])
    handler = RequestHandler(config, "g")
    environ = hook_call("allow_access", script)
    environ.update(handler.base_environ)
    handler.hooks.answer(environ)
    seen_environ = module_of(handler.loader, script).seen[0][0]
    assert seen_environ["wsgi.errors"] is handler.errors
    assert seen_environ["wsgi.version"] == (1, 0)


# -- check_password ----------------------------------------------------------------------------

@pytest.mark.parametrize("returned, expected, headers", [
    ("True", "granted", []),
    ("False", "denied", []),
    ("None", "not-found", []),
    ("'bob'", "granted", [("Wsgid-Hook-User", "bob")]),
])
def test_check_password_results(tmp_path, caplog, returned, expected, headers):
    assert run_with_result(tmp_path, "WSGIAuthUserScript", "check_password", returned,
                           **{"wsgid.hook_user": "alice", "wsgid.hook_password": "pw"})[:2] \
        == (expected, headers)
    assert hook_errors(caplog) == []


@pytest.mark.parametrize("returned, words", [
    ("''", "returned an empty user name"),
    ("1", "must return True, False, None or a user name (str), not a int"),
    ("b'bob'", "not a bytes"),
    ("'bo\\nb'", "a user name with control characters"),
])
def test_check_password_wrong_values_are_errors(tmp_path, caplog, returned, words):
    result, _, _ = run_with_result(tmp_path, "WSGIAuthUserScript", "check_password", returned,
                                   **{"wsgid.hook_user": "alice",
                                      "wsgid.hook_password": "topsecret"})
    assert result == "error"
    (record,) = hook_errors(caplog)
    assert words in record.getMessage() and "check_password()" in record.getMessage()


def test_user_and_password_are_utf8_both_ways_as_in_mod_wsgi(tmp_path):
    sent_user = "jürgen".encode("utf-8").decode("latin-1")  # the packet's bytes, as decoded
    sent_password = "pässwörd".encode("utf-8").decode("latin-1")
    result, headers, module = run_with_result(
        tmp_path, "WSGIAuthUserScript", "check_password", "'Jürgen Müller'",
        **{"wsgid.hook_user": sent_user, "wsgid.hook_password": sent_password})
    assert module.seen[0][1:] == ("jürgen", "pässwörd")
    assert result == "granted"
    assert headers == [("Wsgid-Hook-User", "Jürgen Müller".encode("utf-8").decode("latin-1"))]


def test_a_password_that_is_not_utf8_is_an_error_that_does_not_show_it(tmp_path, caplog):
    result, _, module = run_with_result(
        tmp_path, "WSGIAuthUserScript", "check_password", "True",
        **{"wsgid.hook_user": "alice", "wsgid.hook_password": "caf\xe9-secret"})
    assert result == "error"
    assert module is None  # refused before the script was even loaded
    (record,) = hook_errors(caplog)
    assert "the password that the client sent is not UTF-8 text" in record.getMessage()
    assert "secret" not in caplog.text


def test_an_exception_is_logged_once_with_its_traceback_and_never_the_password(tmp_path, caplog):
    script = write(tmp_path / "auth.py", """
def check_password(environ, user, password):
    users = {"alice": "other"}
    return users[user + "-missing"] == password
""")
    runner, _ = make_runner(tmp_path, [f"WSGIAuthUserScript {script}"])
    answer = runner.answer(hook_call("check_password", script,
                                     **{"wsgid.hook_user": "alice",
                                        "wsgid.hook_password": "hunter2"}))
    assert result_of(answer) == ("error", [])
    records = [r for r in caplog.records if r.name.startswith("wsgid")]
    assert len(records) == 1
    (record,) = records
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert isinstance(record.exc_info[1], KeyError)
    message = record.getMessage()
    assert message.startswith(f"WSGIAuthUserScript {script}: check_password() raised KeyError")
    assert "(request req-1)" in message
    assert "hunter2" not in caplog.text
    assert "users[user + \"-missing\"]" in caplog.text  # the traceback is in the log


def test_a_missing_user_in_the_packet_is_an_error(tmp_path, caplog):
    result, _, _ = run_with_result(tmp_path, "WSGIAuthUserScript", "check_password", "True",
                                   **{"wsgid.hook_password": "pw"})
    assert result == "error"
    (record,) = hook_errors(caplog)
    assert "the check_password() call has no user name (wsgid.hook_user)" in record.getMessage()


# -- get_realm_hash ----------------------------------------------------------------------------

DIGEST = hashlib.md5(b"alice:private:pw").hexdigest()


@pytest.mark.parametrize("returned, expected, headers", [
    (f"'{DIGEST}'", "found", [("Wsgid-Hook-Hash", DIGEST)]),
    (f"b'{DIGEST}'", "found", [("Wsgid-Hook-Hash", DIGEST)]),
    ("None", "not-found", []),
])
def test_get_realm_hash_results(tmp_path, returned, expected, headers):
    result, got_headers, module = run_with_result(
        tmp_path, "WSGIAuthUserScript", "get_realm_hash", returned,
        **{"wsgid.hook_user": "alice", "wsgid.hook_realm": "private"})
    assert (result, got_headers) == (expected, headers)
    assert module.seen[0][1:] == ("alice", "private")


@pytest.mark.parametrize("returned, words", [
    ("True", "must return None or the hash as str or bytes, not a bool"),
    ("'\\u20ac'", "characters outside latin-1"),
])
def test_get_realm_hash_wrong_values_are_errors(tmp_path, caplog, returned, words):
    result, _, _ = run_with_result(tmp_path, "WSGIAuthUserScript", "get_realm_hash", returned,
                                   **{"wsgid.hook_user": "alice", "wsgid.hook_realm": "r"})
    assert result == "error"
    (record,) = hook_errors(caplog)
    assert words in record.getMessage()


# -- groups_for_user ---------------------------------------------------------------------------

@pytest.mark.parametrize("returned, groups", [
    ("['staff', b'admins']", ["staff", "admins"]),
    ("[]", []),
    ("(g for g in ('a', 'b'))", ["a", "b"]),
    ("{'only'}", ["only"]),
])
def test_groups_for_user_results(tmp_path, returned, groups):
    result, headers, module = run_with_result(tmp_path, "WSGIAuthGroupScript",
                                              "groups_for_user", returned,
                                              **{"wsgid.hook_user": "alice"})
    assert result == "groups"
    assert headers == [("Wsgid-Hook-Group", group) for group in groups]
    assert module.seen[0][1] == "alice"


@pytest.mark.parametrize("returned, words", [
    ("'staff'", "returned one str; it must return an iterable of group names"),
    ("b'staff'", "returned one bytes"),
    ("None", "must return an iterable of group names (str or bytes), not a NoneType"),
    ("['ok', 3]", "group names as str or bytes, not int"),
    ("['a\\r\\nSet-Cookie: x']", "a group name with control characters"),
])
def test_groups_for_user_wrong_values_are_errors(tmp_path, caplog, returned, words):
    result, headers, _ = run_with_result(tmp_path, "WSGIAuthGroupScript", "groups_for_user",
                                         returned, **{"wsgid.hook_user": "alice"})
    assert (result, headers) == ("error", [])
    (record,) = hook_errors(caplog)
    assert words in record.getMessage()


def test_groups_that_fail_while_iterated_are_an_error_with_the_traceback(tmp_path, caplog):
    script = write(tmp_path / "groups.py", """
def groups_for_user(environ, user):
    yield "staff"
    raise RuntimeError("directory server down")
""")
    runner, _ = make_runner(tmp_path, [f"WSGIAuthGroupScript {script}"])
    answer = runner.answer(hook_call("groups_for_user", script, **{"wsgid.hook_user": "a"}))
    assert result_of(answer) == ("error", [])
    (record,) = hook_errors(caplog)
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "iterating the groups that groups_for_user() returned raised RuntimeError" in \
        record.getMessage()


# -- dispatch ----------------------------------------------------------------------------------

DISPATCH_SCRIPT = """
calls = []

def process_group(environ):
    calls.append(("process_group", environ))
    return "h"

def application_group(environ):
    calls.append(("application_group", environ))
    return b"shop"

def callable_object(environ):
    calls.append(("callable_object", environ))
    return None
"""


def test_dispatch_calls_each_defined_function_with_one_environ(tmp_path):
    script = write(tmp_path / "dispatch.py", DISPATCH_SCRIPT)
    runner, loader = make_runner(tmp_path, [f"WSGIDispatchScript {script}"])
    answer = runner.answer(hook_call("dispatch", script, **{"HTTP_HOST": "shop.example"}))
    assert result_of(answer) == ("dispatch", [("Wsgid-Hook-Process-Group", "h"),
                                              ("Wsgid-Hook-Application-Group", "shop")])
    calls = module_of(loader, script).calls
    assert [name for name, _ in calls] == ["process_group", "application_group",
                                           "callable_object"]
    assert calls[0][1] is calls[1][1] is calls[2][1]
    assert calls[0][1]["HTTP_HOST"] == "shop.example"


def test_a_dispatch_script_without_functions_answers_dispatch_alone(tmp_path, caplog):
    script = write(tmp_path / "dispatch.py", "nothing = None\n")
    runner, _ = make_runner(tmp_path, [f"WSGIDispatchScript {script}"])
    assert result_of(runner.answer(hook_call("dispatch", script))) == ("dispatch", [])
    assert hook_errors(caplog) == []


@pytest.mark.parametrize("body, words", [
    ("def callable_object(environ):\n    return 42\n",
     "callable_object() must return a name (str) or None, not a int"),
    ("def process_group(environ):\n    return 'caf\\u0119'\n", "characters outside latin-1"),
    ("def application_group(environ):\n    raise LookupError('no such host')\n",
     "application_group() raised LookupError"),
    ("process_group = 'h'\n", "process_group in the dispatch script is a str, not a function"),
])
def test_dispatch_errors(tmp_path, caplog, body, words):
    script = write(tmp_path / "dispatch.py", body)
    runner, _ = make_runner(tmp_path, [f"WSGIDispatchScript {script}"])
    assert result_of(runner.answer(hook_call("dispatch", script))) == ("error", [])
    (record,) = hook_errors(caplog)
    assert record.getMessage().startswith(f"WSGIDispatchScript {script}: ")
    assert words in record.getMessage()


# -- only configured scripts run ---------------------------------------------------------------

def test_an_unconfigured_script_is_refused_and_never_loaded(tmp_path, caplog):
    configured = write(tmp_path / "access.py")
    stranger = write(tmp_path / "stranger.py")
    runner, loader = make_runner(tmp_path, [f"WSGIAccessScript {configured}"])
    assert result_of(runner.answer(hook_call("allow_access", stranger))) == ("error", [])
    assert loader.loaded() == {}
    (record,) = hook_errors(caplog)
    message = record.getMessage()
    assert "refused allow_access(): no WSGIAccessScript names it" in message
    assert f"`WSGIAccessScript {stranger}`" in message


def test_a_script_of_another_directive_is_refused(tmp_path, caplog):
    script = write(tmp_path / "auth.py")
    runner, loader = make_runner(tmp_path, [f"WSGIAuthUserScript {script}"])
    assert result_of(runner.answer(hook_call("allow_access", script))) == ("error", [])
    assert loader.loaded() == {}
    assert "it is configured as WSGIAuthUserScript, not as WSGIAccessScript" in \
        hook_errors(caplog)[0].getMessage()


def test_a_script_of_another_group_is_refused(tmp_path, caplog):
    script = write(tmp_path / "access.py")
    runner, loader = make_runner(tmp_path, [f"WSGIAccessScript {script} process-group=h"])
    assert result_of(runner.answer(hook_call("allow_access", script))) == ("error", [])
    assert loader.loaded() == {}
    message = hook_errors(caplog)[0].getMessage()
    assert "configured with WSGIAccessScript process-group=h" in message
    assert "not 'g'" in message and "process-group=g would allow it" in message


def test_the_configured_spelling_is_loaded(tmp_path):
    script = write(tmp_path / "hooks" / "access.py",
                   HOOK_SCRIPT.replace("RESULT = None", "RESULT = True"))
    runner, loader = make_runner(tmp_path, [f"WSGIAccessScript {script}"])
    spelled = str(tmp_path / "hooks" / "." / ".." / "hooks" / "access.py")
    assert result_of(runner.answer(hook_call("allow_access", spelled)))[0] == "allow"
    assert set(loader.loaded()) == {(script, "")}


@pytest.mark.parametrize("process_group", ["g", "%{ENV:HOOK_GROUP}"])
def test_a_script_for_this_group_or_any_group_runs(tmp_path, process_group):
    script = write(tmp_path / "access.py", HOOK_SCRIPT.replace("RESULT = None", "RESULT = True"))
    runner, _ = make_runner(tmp_path, [
        f"WSGIAccessScript {script} process-group={process_group}"])
    assert result_of(runner.answer(hook_call("allow_access", script)))[0] == "allow"


@pytest.mark.parametrize("extra, words", [
    ({"wsgid.hook": "run_anything"}, "unknown hook 'run_anything' in wsgid.hook"),
    ({"wsgid.hook_script": ""}, "the allow_access() call names no script"),
])
def test_malformed_hook_calls_are_errors(tmp_path, caplog, extra, words):
    script = write(tmp_path / "access.py")
    runner, loader = make_runner(tmp_path, [f"WSGIAccessScript {script}"])
    assert result_of(runner.answer(hook_call("allow_access", script, **extra))) == ("error", [])
    assert loader.loaded() == {}
    (record,) = hook_errors(caplog)
    assert words in record.getMessage()


def test_a_script_that_fails_to_load_is_one_error_with_its_traceback(tmp_path, caplog):
    script = write(tmp_path / "broken.py", "import no_such_module_for_wsgid_hooks\n")
    runner, _ = make_runner(tmp_path, [f"WSGIAccessScript {script}"])
    assert result_of(runner.answer(hook_call("allow_access", script))) == ("error", [])
    records = [r for r in caplog.records if r.name.startswith("wsgid")]
    assert len(records) == 1
    assert isinstance(records[0].exc_info[1], ModuleNotFoundError)
    assert "cannot run allow_access()" in records[0].getMessage()
    assert "raised ModuleNotFoundError while loading" in records[0].getMessage()


def test_a_script_without_the_function_is_an_error(tmp_path, caplog):
    script = write(tmp_path / "access.py", "def allow(environ, host):\n    return True\n")
    runner, _ = make_runner(tmp_path, [f"WSGIAccessScript {script}"])
    assert result_of(runner.answer(hook_call("allow_access", script))) == ("error", [])
    assert "the script defines no allow_access() function, which WSGIAccessScript needs" in \
        hook_errors(caplog)[0].getMessage()


# -- loading: the WSGI scripts' modules and application groups --------------------------------

def test_a_hook_script_shares_the_module_of_the_same_wsgi_script(tmp_path):
    script = write(tmp_path / "site.wsgi", HOOK_SCRIPT.replace("RESULT = None", "RESULT = True")
                   + "def application(environ, start_response):\n    return []\n")
    runner, loader = make_runner(tmp_path, [f"WSGIScriptAlias / {script} process-group=g",
                                            f"WSGIAccessScript {script}"])
    application = loader.application_for({"SCRIPT_FILENAME": script,
                                          "wsgid.application_group": ""})
    runner.answer(hook_call("allow_access", script))
    assert sys.modules[application.__module__].seen  # the hook ran in that very module
    assert len(loader.loaded()) == 1


def test_each_application_group_runs_its_own_copy(tmp_path):
    script = write(tmp_path / "access.py", HOOK_SCRIPT.replace("RESULT = None", "RESULT = True"))
    runner, loader = make_runner(tmp_path, [f"WSGIAccessScript {script}"])
    runner.answer(hook_call("allow_access", script, **{"wsgid.application_group": "shop"}))
    runner.answer(hook_call("allow_access", script))
    no_group = hook_call("allow_access", script)
    del no_group["wsgid.application_group"]  # a missing name means %{GLOBAL}
    runner.answer(no_group)
    assert set(loader.loaded()) == {(script, "shop"), (script, "")}
    shop = module_of(loader, script, "shop")
    assert shop.__name__ == module_name(script, "shop")
    assert [e["mod_wsgi.application_group"] for e, _ in shop.seen] == ["shop"]
    assert len(module_of(loader, script).seen) == 2


# -- the connection: a hook packet over a real socket -------------------------------------------

BLOCKING_SCRIPT = """
import threading
entered = threading.Event()
release = threading.Event()

def allow_access(environ, host):
    entered.set()
    release.wait(30)
    return True
"""

EVENTS_SCRIPT = """
from wsgid import api
events = []
api.subscribe_events(lambda name, **payload: events.append(name))

def allow_access(environ, host):
    return True

def application(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
"""


def serve_in_thread(handler):
    """A connected socketpair whose daemon end a handler thread serves; (client, thread)."""
    client, daemon_end = socket.socketpair()
    client.settimeout(10)
    thread = threading.Thread(target=handler.handle, args=(daemon_end,), daemon=True)
    thread.start()
    return client, thread


def test_a_hook_packet_is_answered_without_reading_a_body(tmp_path):
    script = write(tmp_path / "access.py", HOOK_SCRIPT.replace("RESULT = None", "RESULT = False"))
    handler = RequestHandler(parse_config(tmp_path, [f"WSGIAccessScript {script}"]), "g")
    client, thread = serve_in_thread(handler)
    # CONTENT_LENGTH promises a body that never comes, and the client does not half-close:
    # a daemon that read a body would wait for socket-timeout (20s) instead of answering.
    client.sendall(uwsgi_packet(hook_call("allow_access", script, CONTENT_LENGTH="100")))
    answer = recv_until_eof(client)
    thread.join(10)
    assert not thread.is_alive()
    assert result_of(answer) == ("deny", [])
    client.close()


def test_hook_calls_are_not_requests_but_count_as_activity(tmp_path):
    script = write(tmp_path / "site.wsgi", EVENTS_SCRIPT)
    config = parse_config(tmp_path, [f"WSGIScriptAlias / {script} process-group=g "
                                     "application-group=hooks-events",
                                     f"WSGIAccessScript {script}"])
    handler = RequestHandler(config, "g")
    before = handler.last_activity
    client, thread = serve_in_thread(handler)
    client.sendall(uwsgi_packet(hook_call("allow_access", script,
                                          **{"wsgid.application_group": "hooks-events"})))
    client.shutdown(socket.SHUT_WR)
    assert result_of(recv_until_eof(client)) == ("allow", [])
    thread.join(10)
    module = module_of(handler.loader, script, "hooks-events")
    assert module.events == []            # no event for a hook call
    assert handler.requests_finished == 0  # maximum-requests does not count it
    assert handler.last_activity > before
    assert handler.running() == []

    # The same module and application group do see a WSGI request's events.
    client, thread = serve_in_thread(handler)
    client.sendall(uwsgi_packet({"REQUEST_METHOD": "GET", "SCRIPT_FILENAME": script,
                                 "wsgid.application_group": "hooks-events",
                                 "wsgid.request_id": "req-2"}))
    client.shutdown(socket.SHUT_WR)
    assert recv_until_eof(client).endswith(b"\r\n\r\nok")
    thread.join(10)
    assert "request_started" in module.events
    assert handler.requests_finished == 1


def test_request_timeout_answers_a_hung_hook_504_and_nothing_else(tmp_path, caplog):
    script = write(tmp_path / "slow.py", BLOCKING_SCRIPT)
    handler = RequestHandler(parse_config(tmp_path, [f"WSGIAccessScript {script}"]), "g")
    client, thread = serve_in_thread(handler)
    client.sendall(uwsgi_packet(hook_call("allow_access", script)))
    client.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + 10
    while not handler.loader.loaded() and time.monotonic() < deadline:
        time.sleep(0.01)
    module = module_of(handler.loader, script)
    assert module.entered.wait(10)
    (running,) = handler.running()
    assert running.request_id == "req-1"
    assert handler.time_out("req-1") == "answered 504"
    answer = recv_until_eof(client)
    module.release.set()
    thread.join(10)
    assert not thread.is_alive()
    assert answer == GATEWAY_TIMEOUT_RESPONSE_504  # the late "allow" never follows it
    assert handler.running() == [] and handler.requests_finished == 0
    (timed_out,) = [r for r in caplog.records if r.getMessage().startswith("timed out")]
    assert "allow_access() hook call for GET /private/page?x=1 (request req-1)" in \
        timed_out.getMessage()


def test_a_bad_hook_call_leaves_the_connection_handler_serving(tmp_path, caplog):
    script = write(tmp_path / "access.py", HOOK_SCRIPT.replace("RESULT = None", "RESULT = True"))
    handler = RequestHandler(parse_config(tmp_path, [f"WSGIAccessScript {script}"]), "g")
    for hook, expected in (("no_such_hook", "error"), ("allow_access", "allow")):
        client, thread = serve_in_thread(handler)
        client.sendall(uwsgi_packet(hook_call(hook, script)))
        client.shutdown(socket.SHUT_WR)
        assert result_of(recv_until_eof(client)) == (expected, [])
        thread.join(10)
        client.close()
    assert len(hook_errors(caplog)) == 1


def test_a_script_named_in_htaccess_runs_only_from_inside_a_hook_directory(tmp_path):
    # WSGIHookDirectory: mod_wsgid names the <Directory> trees whose .htaccess may name access,
    # user and group scripts (AllowOverride AuthConfig); the script must lie inside one.
    inside = write(tmp_path / "site" / "auth" / "access.py")
    outside = write(tmp_path / "elsewhere" / "access.py")
    runner, _ = make_runner(tmp_path, [f"WSGIHookDirectory {tmp_path}/site"])
    # it ran: the script's RESULT (None) is a decline, not an error
    assert result_of(runner.answer(hook_call("allow_access", inside)))[0] == "decline"
    for refused in (outside, f"{tmp_path}/site/../elsewhere/access.py", inside + "\x00"):
        status, headers = parse_answer(runner.answer(hook_call("allow_access", refused)))
        assert ("Wsgid-Hook-Result", "error") in headers, refused
    # the dispatch script is no .htaccess directive: a hook directory does not allow it
    status, headers = parse_answer(runner.answer(hook_call("dispatch", inside)))
    assert ("Wsgid-Hook-Result", "error") in headers
