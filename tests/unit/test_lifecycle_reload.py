"""Which groups a reload keeps, starts, restarts and stops (supervisor.plan_reload).

The configurations are real parsed files (wsgid.config.parse); only the comparison is under test.
"""

import pytest

from wsgid.config import parse
from wsgid.supervisor import ReloadPlan, group_fingerprint, plan_reload


@pytest.fixture
def make_config(tmp_path):
    script = tmp_path / "app.wsgi"
    script.write_text("def application(environ, start_response):\n    pass\n")
    other_script = tmp_path / "other.wsgi"
    other_script.write_text(script.read_text())

    def make(text):
        text = text.replace("SCRIPT", str(script)).replace("OTHER", str(other_script))
        return parse("WSGIApacheUser 33 33\n" + f"WSGISocketPrefix {tmp_path}/wsgid\n" + text,
                     running_ids=(0, 0))
    return make


def running(config):
    return {name: group_fingerprint(config, name) for name in config.groups}


BASE = """\
WSGIDaemonProcess a processes=2
WSGIDaemonProcess b threads=4
WSGIScriptAlias /a SCRIPT process-group=a
WSGIScriptAlias /b SCRIPT process-group=b
"""


def test_the_same_file_keeps_every_group(make_config):
    plan = plan_reload(running(make_config(BASE)), make_config(BASE))
    assert plan == ReloadPlan(keep=("a", "b"))


def test_a_changed_option_restarts_only_that_group(make_config):
    changed = BASE.replace("processes=2", "processes=3")
    plan = plan_reload(running(make_config(BASE)), make_config(changed))
    assert plan == ReloadPlan(keep=("b",), restart=("a",))


def test_a_changed_socket_path_restarts_the_group(make_config, tmp_path):
    moved = BASE + f"WSGIDaemonSocket b {tmp_path}/moved.sock\n"
    plan = plan_reload(running(make_config(BASE)), make_config(moved))
    assert plan == ReloadPlan(keep=("a",), restart=("b",))


def test_a_changed_script_of_a_group_restarts_that_group(make_config):
    changed = BASE.replace("/b SCRIPT", "/b OTHER")
    plan = plan_reload(running(make_config(BASE)), make_config(changed))
    assert plan == ReloadPlan(keep=("a",), restart=("b",))


def test_a_changed_callable_restarts_every_group(make_config):
    changed = BASE + "WSGICallableObject app\n"
    plan = plan_reload(running(make_config(BASE)), make_config(changed))
    assert plan == ReloadPlan(restart=("a", "b"))


def test_added_and_removed_groups_start_and_stop(make_config):
    new = """\
WSGIDaemonProcess a processes=2
WSGIDaemonProcess c
WSGIScriptAlias /a SCRIPT process-group=a
WSGIScriptAlias /c SCRIPT process-group=c
"""
    plan = plan_reload(running(make_config(BASE)), make_config(new))
    assert plan == ReloadPlan(keep=("a",), start=("c",), stop=("b",))


def test_a_new_import_script_of_a_group_restarts_that_group(make_config):
    preloading = BASE + "WSGIImportScript OTHER process-group=b application-group=%{GLOBAL}\n"
    plan = plan_reload(running(make_config(BASE)), make_config(preloading))
    assert plan == ReloadPlan(keep=("a",), restart=("b",))
