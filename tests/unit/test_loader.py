"""loader.py: only configured scripts load, one module per (script, application group).

The configurations are real ones, parsed by wsgid.config from text, with scripts in tmp_path.
"""

import hashlib
import os
import sys
import threading

import pytest

from wsgid import config as wsgid_config
from wsgid import loader as loader_module
from wsgid.loader import (
    CallableNotFound,
    NoDefaultScript,
    ScriptLoader,
    ScriptLoadError,
    ScriptRefused,
    module_name,
)

UNPRIVILEGED = 4242

APP_SCRIPT = """
loaded_as = __name__
script_file = __file__
requests = []

def application(environ, start_response):
    requests.append(1)
    start_response("200 OK", [])
    return [b"main"]

def other(environ, start_response):
    start_response("200 OK", [])
    return [b"other"]

not_callable = 42
"""


def make_loader(tmp_path, alias_lines, group="g", extra=""):
    text = (f"WSGISocketPrefix {tmp_path}/wsgid\nWSGIDaemonProcess g\nWSGIDaemonProcess h\n{extra}"
            + "".join(line + "\n" for line in alias_lines))
    # Users do not matter to the loader: parse as an unprivileged supervisor would.
    parsed = wsgid_config.parse(text, source=str(tmp_path / "daemon.conf"),
                                running_ids=(UNPRIVILEGED, UNPRIVILEGED))
    return ScriptLoader(parsed, group)


def write(path, text=APP_SCRIPT):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def request(script=None, **extra):
    environ = {"REQUEST_METHOD": "GET", "SERVER_NAME": "example.org", "SERVER_PORT": "8080",
               "SCRIPT_NAME": "/app"}
    if script is not None:
        environ["SCRIPT_FILENAME"] = script
    environ.update(extra)
    return environ


@pytest.fixture(autouse=True)
def _forget_loaded_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("_wsgid_"):
            del sys.modules[name]


# -- one module per (script, application group) ------------------------------------------------

def test_the_script_loads_as_a_module_named_by_the_hash_of_its_path(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    application = loader.application_for(request(script))
    module = sys.modules[application.__module__]
    expected = "_wsgid_" + hashlib.md5(script.encode()).hexdigest()
    assert module_name(script, "") == expected == module.loaded_as
    assert module.script_file == script
    assert loader.application_for(request(script)) is application  # loaded once


def test_each_application_group_gets_its_own_copy(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    global_app = loader.application_for(request(script, **{"wsgid.application_group": ""}))
    first = loader.application_for(request(script, **{"wsgid.application_group": "first"}))
    second = loader.application_for(request(script, **{"wsgid.application_group": "second"}))
    modules = {sys.modules[app.__module__] for app in (global_app, first, second)}
    assert len(modules) == 3
    first([], lambda *a: None)
    assert [len(m.requests) for m in modules].count(1) == 1  # globals are not shared
    assert loader.application_for(
        request(script, **{"wsgid.application_group": "first"})) is first


def test_the_alias_application_group_applies_when_the_request_names_none(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [
        f"WSGIScriptAlias / {script} process-group=g application-group=%{{SERVER}}"])
    loader.application_for(request(script))
    assert set(loader.loaded()) == {(script, "example.org:8080")}


def test_global_application_group_is_the_empty_name(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [
        f"WSGIScriptAlias / {script} process-group=g application-group=%{{GLOBAL}}"])
    loader.application_for(request(script))
    assert set(loader.loaded()) == {(script, "")}


def test_concurrent_first_requests_load_the_script_once(tmp_path):
    marker = tmp_path / "loads.log"
    script = write(tmp_path / "slow.wsgi", f"""
import time
with open({str(marker)!r}, "a") as log:
    log.write("loaded\\n")
time.sleep(0.2)  # widen the window in which other threads arrive
def application(environ, start_response):
    return []
""")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    barrier = threading.Barrier(8)
    results = []

    def first_request():
        barrier.wait()
        results.append(loader.application_for(request(script)))

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 8 and len(set(results)) == 1
    assert marker.read_text() == "loaded\n"


# -- the callable --------------------------------------------------------------------------------

def test_the_request_can_name_another_callable(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    app = loader.application_for(request(script, **{"wsgid.callable_object": "other"}))
    assert app.__name__ == "other"


def test_wsgicallableobject_is_the_default_callable(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"],
                         extra="WSGICallableObject other\n")
    assert loader.application_for(request(script)).__name__ == "other"


def test_a_missing_callable_names_the_script_and_the_callable(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    with pytest.raises(CallableNotFound) as caught:
        loader.application_for(request(script, **{"wsgid.callable_object": "missing"}))
    assert script in str(caught.value) and "'missing'" in str(caught.value)
    assert caught.value.status == 500


def test_a_callable_that_is_not_callable_is_an_error(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    with pytest.raises(CallableNotFound, match="'not_callable' in WSGI script .* is a int"):
        loader.application_for(request(script, **{"wsgid.callable_object": "not_callable"}))


@pytest.mark.parametrize("name", ["os.system", "a b", "", "import", "__import__('os')"])
def test_a_callable_name_must_be_an_identifier(tmp_path, name):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    if name == "":
        # An empty name means "not given": the default callable serves.
        assert loader.application_for(
            request(script, **{"wsgid.callable_object": name})).__name__ == "application"
        return
    with pytest.raises(CallableNotFound, match="not a Python identifier"):
        loader.application_for(request(script, **{"wsgid.callable_object": name}))
    assert loader.loaded() == {}


# -- only configured scripts load -----------------------------------------------------------------

def test_a_script_that_is_not_configured_is_refused_with_404(tmp_path):
    configured = write(tmp_path / "app.wsgi")
    stranger = write(tmp_path / "stranger.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {configured} process-group=g"])
    with pytest.raises(ScriptRefused) as caught:
        loader.application_for(request(stranger))
    assert caught.value.status == 404 and stranger in str(caught.value)
    assert loader.loaded() == {}


def test_a_script_of_another_process_group_is_refused(tmp_path):
    mine = write(tmp_path / "mine.wsgi")
    theirs = write(tmp_path / "theirs.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /m {mine} process-group=g",
                                    f"WSGIScriptAlias /t {theirs} process-group=h"])
    with pytest.raises(ScriptRefused):
        loader.application_for(request(theirs))
    loader.application_for(request(mine))


def test_another_spelling_of_a_file_target_loads_the_configured_path(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    loader.application_for(request(str(tmp_path / "sub" / ".." / "app.wsgi")))
    assert set(loader.loaded()) == {(script, "")}


def test_a_file_inside_a_directory_target_loads(tmp_path):
    directory = tmp_path / "scripts"
    script = write(directory / "one.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /s/ {directory}/ process-group=g"])
    loader.application_for(request(script))
    assert set(loader.loaded()) == {(os.path.realpath(script), "")}


def test_dot_dot_out_of_a_directory_target_is_refused(tmp_path):
    directory = tmp_path / "scripts"
    write(directory / "one.wsgi")
    secret = write(tmp_path / "secret.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /s/ {directory}/ process-group=g"])
    with pytest.raises(ScriptRefused):
        loader.application_for(request(f"{directory}/../secret.wsgi"))
    with pytest.raises(ScriptRefused):
        loader.application_for(request(secret))
    assert loader.loaded() == {}


def test_a_symlink_out_of_a_directory_target_is_refused(tmp_path):
    directory = tmp_path / "scripts"
    write(directory / "one.wsgi")
    outside = write(tmp_path / "outside.wsgi")
    os.symlink(outside, directory / "escape.wsgi")
    os.symlink(tmp_path, directory / "up")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /s/ {directory}/ process-group=g"])
    with pytest.raises(ScriptRefused):
        loader.application_for(request(str(directory / "escape.wsgi")))
    with pytest.raises(ScriptRefused):
        loader.application_for(request(str(directory / "up" / "outside.wsgi")))
    assert loader.loaded() == {}


def test_a_file_inside_a_directory_target_replaced_by_a_symlink_out_is_refused_next(tmp_path):
    # Directory matches are not remembered per spelling: the file system is asked every time.
    directory = tmp_path / "scripts"
    script = write(directory / "one.wsgi")
    outside = write(tmp_path / "outside.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /s/ {directory}/ process-group=g"])
    assert loader.resolve(request(script))[0] == os.path.realpath(script)
    os.remove(script)
    os.symlink(outside, script)
    with pytest.raises(ScriptRefused):
        loader.resolve(request(script))


def test_file_target_spellings_are_remembered_up_to_a_bound(tmp_path, monkeypatch):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    monkeypatch.setattr(loader_module, "SPELLING_CACHE_SIZE", 2)
    spellings = [f"{tmp_path}/{'./' * n}app.wsgi" for n in range(1, 5)]
    for spelling in spellings:
        assert loader.resolve(request(spelling))[0] == script
    assert list(loader._file_alias_spellings) == spellings[:2]
    # A remembered spelling still answers the configured path; an unknown one is still refused.
    assert loader.resolve(request(spellings[0]))[0] == script
    with pytest.raises(ScriptRefused):
        loader.resolve(request(str(tmp_path / "other.wsgi")))


def test_a_directory_with_a_common_prefix_is_not_inside_the_target(tmp_path):
    directory = tmp_path / "scripts"
    write(directory / "one.wsgi")
    neighbour = write(tmp_path / "scripts-old" / "one.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /s/ {directory}/ process-group=g"])
    with pytest.raises(ScriptRefused):
        loader.application_for(request(neighbour))


def test_the_directory_itself_and_missing_files_are_refused(tmp_path):
    directory = tmp_path / "scripts"
    write(directory / "one.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /s/ {directory}/ process-group=g"])
    for path in (str(directory), str(directory / "missing.wsgi")):
        with pytest.raises(ScriptRefused):
            loader.application_for(request(path))


# -- requests that choose no script ----------------------------------------------------------------

@pytest.mark.parametrize("script_filename", [None, "", "proxy:uwsgi://localhost/hello"])
def test_a_request_without_a_script_choice_gets_the_groups_one_script(tmp_path, script_filename):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    loader.application_for(request(script_filename))
    assert set(loader.loaded()) == {(script, "")}


def test_without_a_script_choice_two_scripts_are_no_default(tmp_path):
    one = write(tmp_path / "one.wsgi")
    two = write(tmp_path / "two.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /1 {one} process-group=g",
                                    f"WSGIScriptAlias /2 {two}"])
    with pytest.raises(NoDefaultScript) as caught:
        loader.application_for(request())
    message = str(caught.value)
    assert "exactly one WSGIScriptAlias" in message and one in message and two in message
    assert caught.value.status == 500


def test_without_a_script_choice_a_directory_target_is_no_default(tmp_path):
    directory = tmp_path / "scripts"
    write(directory / "one.wsgi")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias /s/ {directory}/ process-group=g"])
    with pytest.raises(NoDefaultScript):
        loader.application_for(request())


# -- scripts that fail to load --------------------------------------------------------------------

def test_a_script_that_raises_while_loading_is_retried_on_the_next_request(tmp_path):
    path = tmp_path / "app.wsgi"
    script = write(path, "raise ImportError('no such dependency')\n")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    with pytest.raises(ScriptLoadError) as caught:
        loader.application_for(request(script))
    assert isinstance(caught.value.__cause__, ImportError) and script in str(caught.value)
    assert module_name(script, "") not in sys.modules and loader.loaded() == {}
    write(path)
    assert loader.application_for(request(script)).__name__ == "application"


def test_a_script_with_a_syntax_error_is_a_load_error(tmp_path):
    script = write(tmp_path / "app.wsgi", "def application(:\n")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    with pytest.raises(ScriptLoadError, match="cannot compile"):
        loader.application_for(request(script))


def test_a_script_that_exits_while_loading_is_a_load_error(tmp_path):
    script = write(tmp_path / "app.wsgi", "import sys\nsys.exit(1)\n")
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    with pytest.raises(ScriptLoadError, match="SystemExit"):
        loader.application_for(request(script))


def test_a_script_deleted_after_configuration_is_a_load_error(tmp_path):
    path = tmp_path / "app.wsgi"
    script = write(path)
    loader = make_loader(tmp_path, [f"WSGIScriptAlias / {script} process-group=g"])
    path.unlink()
    with pytest.raises(ScriptLoadError, match="cannot read"):
        loader.application_for(request(script))


# -- WSGIImportScript: preload ------------------------------------------------------------------

def recording_script(path, log, name):
    """A script that appends its name to log when its module code runs."""
    return write(path, f"""
with open({str(log)!r}, "a") as log:
    log.write({name!r} + "\\n")
def application(environ, start_response):
    start_response("200 OK", [])
    return [{name!r}.encode()]
""")


def test_preload_runs_the_groups_import_scripts_in_file_order(tmp_path):
    log = tmp_path / "loads.log"
    first = recording_script(tmp_path / "first.py", log, "first")
    second = recording_script(tmp_path / "second.py", log, "second")
    theirs = recording_script(tmp_path / "theirs.py", log, "theirs")
    loader = make_loader(tmp_path, [
        f"WSGIImportScript {second} process-group=g application-group=%{{GLOBAL}}",
        f"WSGIImportScript {theirs} process-group=h application-group=%{{GLOBAL}}",
        f"WSGIImportScript {first} process-group=g application-group=tasks"])
    modules = loader.preload()
    assert log.read_text() == "second\nfirst\n"
    assert set(loader.loaded()) == {(second, ""), (first, "tasks")}
    assert [m.__name__ for m in modules] == [module_name(second, ""), module_name(first, "tasks")]
    loader.preload()
    assert log.read_text() == "second\nfirst\n"   # once per (script, application group)


def test_a_preloaded_alias_target_is_not_loaded_again_by_its_first_request(tmp_path):
    log = tmp_path / "loads.log"
    script = recording_script(tmp_path / "app.wsgi", log, "app")
    (tmp_path / "sub").mkdir()
    other_spelling = str(tmp_path / "sub" / ".." / "app.wsgi")
    loader = make_loader(tmp_path, [
        f"WSGIScriptAlias / {script} process-group=g",
        f"WSGIImportScript {other_spelling} process-group=g application-group=%{{GLOBAL}}"])
    (preloaded,) = loader.preload()
    application = loader.application_for(request(script, **{"wsgid.application_group": ""}))
    assert sys.modules[application.__module__] is preloaded
    assert log.read_text() == "app\n"


def test_a_preloaded_named_application_group_serves_only_that_group(tmp_path):
    log = tmp_path / "loads.log"
    script = recording_script(tmp_path / "app.wsgi", log, "app")
    loader = make_loader(tmp_path, [
        f"WSGIScriptAlias / {script} process-group=g",
        f"WSGIImportScript {script} process-group=g application-group=shop"])
    (preloaded,) = loader.preload()
    shop = loader.application_for(request(script, **{"wsgid.application_group": "shop"}))
    assert sys.modules[shop.__module__] is preloaded and log.read_text() == "app\n"
    main = loader.application_for(request(script, **{"wsgid.application_group": ""}))
    assert sys.modules[main.__module__] is not preloaded and log.read_text() == "app\napp\n"


def test_a_file_in_a_directory_target_preloads_under_its_real_path(tmp_path):
    log = tmp_path / "loads.log"
    directory = tmp_path / "scripts"
    script = recording_script(directory / "one.wsgi", log, "one")
    os.symlink(directory, tmp_path / "link")
    loader = make_loader(tmp_path, [
        f"WSGIScriptAlias /s/ {directory}/ process-group=g",
        f"WSGIImportScript {tmp_path}/link/one.wsgi process-group=g "
        "application-group=%{GLOBAL}"])
    loader.preload()
    loader.application_for(request(script, **{"wsgid.application_group": ""}))
    assert set(loader.loaded()) == {(os.path.realpath(script), "")}
    assert log.read_text() == "one\n"


def test_an_import_script_does_not_become_servable(tmp_path):
    log = tmp_path / "loads.log"
    app = write(tmp_path / "app.wsgi")
    helper = recording_script(tmp_path / "helper.py", log, "helper")
    loader = make_loader(tmp_path, [
        f"WSGIScriptAlias / {app} process-group=g",
        f"WSGIImportScript {helper} process-group=g application-group=%{{GLOBAL}}"])
    loader.preload()
    with pytest.raises(ScriptRefused) as caught:
        loader.application_for(request(helper, **{"wsgid.application_group": ""}))
    assert caught.value.status == 404


def test_a_failing_import_script_stops_the_preload(tmp_path):
    log = tmp_path / "loads.log"
    broken = write(tmp_path / "broken.py", "raise RuntimeError('no database')\n")
    later = recording_script(tmp_path / "later.py", log, "later")
    loader = make_loader(tmp_path, [
        f"WSGIImportScript {broken} process-group=g application-group=%{{GLOBAL}}",
        f"WSGIImportScript {later} process-group=g application-group=%{{GLOBAL}}"])
    with pytest.raises(ScriptLoadError) as caught:
        loader.preload()
    assert broken in str(caught.value)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert not log.exists() and loader.loaded() == {}


def test_a_service_group_preloads_nothing(tmp_path):
    log = tmp_path / "loads.log"
    service = recording_script(tmp_path / "service.py", log, "service")
    loader = make_loader(tmp_path, [
        f"WSGIImportScript {service} process-group=s application-group=%{{GLOBAL}}"],
        group="s", extra="WSGIDaemonProcess s threads=0\n")
    assert loader.service_group
    assert loader.preload() == []
    assert not log.exists()


def test_a_preloaded_script_subscribes_in_its_own_application_group(tmp_path):
    from wsgid import api
    script = write(tmp_path / "subscriber.py", """
import wsgid
from wsgid import api
def on_event(name, **payload):
    pass
api.subscribe_events(on_event)
SEEN_GROUP = wsgid.application_group
def application(environ, start_response):
    start_response("200 OK", [])
    return [b""]
""")
    loader = make_loader(tmp_path, [
        f"WSGIImportScript {script} process-group=g application-group=tasks"])
    (module,) = loader.preload()
    assert module.SEEN_GROUP == "tasks"
    assert api._group_state("tasks").event_callbacks == [module.on_event]
    assert module.on_event not in api._group_state("").event_callbacks


# -- WSGIScriptAliasMatch targets with $N: realpath containment plus the target's form ---------

def match_loader(tmp_path, target="{d}/$1.wsgi"):
    directory = tmp_path / "apps"
    directory.mkdir(exist_ok=True)
    line = f"WSGIScriptAliasMatch ^/apps/([^/]+) {target.format(d=directory)} process-group=g"
    return directory, make_loader(tmp_path, [line])


def test_a_file_the_match_can_make_loads_under_its_real_path(tmp_path):
    directory, loader = match_loader(tmp_path)
    one = write(directory / "one.wsgi")
    two = write(directory / "two.wsgi")
    assert loader.application_for(request(one))(request(), lambda *a: None) == [b"main"]
    loader.application_for(request(f"{directory}/./two.wsgi"))
    assert set(loader.loaded()) == {(os.path.realpath(one), ""), (os.path.realpath(two), "")}


def test_a_file_that_does_not_have_the_targets_form_is_refused(tmp_path):
    directory, loader = match_loader(tmp_path)
    helper = write(directory / "helper.py", "raise SystemExit('must not run')\n")
    with pytest.raises(ScriptRefused):
        loader.application_for(request(helper))
    assert loader.loaded() == {}


def test_dot_dot_out_of_a_match_target_is_refused(tmp_path):
    directory, loader = match_loader(tmp_path)
    write(tmp_path / "secret.wsgi")
    (directory / "sub").mkdir()
    for forged in (f"{directory}/../secret.wsgi", f"{directory}/sub/../../secret.wsgi",
                   str(tmp_path / "secret.wsgi")):
        with pytest.raises(ScriptRefused):
            loader.application_for(request(forged))
    assert loader.loaded() == {}


def test_a_symlink_out_of_a_match_target_is_refused_even_with_the_targets_form(tmp_path):
    directory, loader = match_loader(tmp_path)
    outside = write(tmp_path / "outside.wsgi")
    os.symlink(outside, directory / "escape.wsgi")
    os.symlink(tmp_path, directory / "up")
    for forged in (directory / "escape.wsgi", directory / "up" / "outside.wsgi"):
        with pytest.raises(ScriptRefused):
            loader.application_for(request(str(forged)))
    assert loader.loaded() == {}


def test_a_neighbour_directory_with_a_common_prefix_is_outside_the_match_target(tmp_path):
    directory, loader = match_loader(tmp_path, target="{d}/x$1.wsgi")
    neighbour = write(tmp_path / "apps-old" / "xone.wsgi")
    os.symlink(neighbour, directory / "xlink.wsgi")
    with pytest.raises(ScriptRefused):
        loader.application_for(request(neighbour))
    with pytest.raises(ScriptRefused):
        loader.application_for(request(str(directory / "xlink.wsgi")))


def test_a_file_inside_a_substituted_directory_loads(tmp_path):
    directory, loader = match_loader(tmp_path, target="{d}/$1")
    script = write(directory / "site" / "app.wsgi")
    loader.application_for(request(script))
    assert set(loader.loaded()) == {(os.path.realpath(script), "")}


def test_a_match_target_with_dollar_n_is_no_default_script(tmp_path):
    _, loader = match_loader(tmp_path)
    with pytest.raises(NoDefaultScript):
        loader.application_for(request())


def test_a_match_target_without_dollar_n_is_served_and_preloaded_like_a_file_alias(tmp_path):
    script = write(tmp_path / "app.wsgi")
    loader = make_loader(tmp_path, [
        f"WSGIScriptAliasMatch ^/(a|b) {script} process-group=g application-group=%{{GLOBAL}}"],
        extra=f"WSGIImportScript {script} process-group=g application-group=%{{GLOBAL}}\n")
    (module,) = loader.preload()
    assert loader.application_for(request(script)) is module.application
    assert loader.application_for(request()) is module.application
    assert len(loader.loaded()) == 1
