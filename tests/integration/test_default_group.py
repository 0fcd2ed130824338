"""Scripts that mod_wsgi would run inside Apache (embedded mode), through a real Apache: a
WSGIScriptAlias or a hook script that no WSGIProcessGroup and no process-group= gives a daemon
group runs in wsgid's default daemon group, which exists only when such a script does;
WSGIRestrictEmbedded On refuses them with 500, as mod_wsgi does (docs/porting.md).
"""

import pytest
import requests

from tests.support.apache import wait_for
from tests.support.procs import daemons_of, wait_for_daemons

pytestmark = pytest.mark.apache

EMBEDDED = """
WSGIScriptAlias /app "{apps}/echo.wsgi"
"""


def titles(inst):
    return sorted(" ".join(p.cmdline()).strip() for p in daemons_of(inst))


def test_a_script_without_a_group_is_served_by_the_default_group(apache):
    inst = apache(EMBEDDED)
    inst.start()
    wait_for_daemons(inst, 1)
    r = requests.get(inst.url("/app/environ"), timeout=10)
    assert r.status_code == 200, inst.error_log()[-2000:]
    assert r.json()["mod_wsgi.process_group"] == "wsgid-default"
    assert titles(inst) == ["(wsgi:wsgid-default)"]


def test_the_default_group_is_announced_once_with_the_script_and_the_way_out(apache):
    inst = apache(EMBEDDED)
    inst.start()
    (line,) = [line for line in inst.error_log().splitlines() if "default daemon group" in line]
    assert "WSGIScriptAlias /app at " in line and "httpd.conf:" in line
    assert "'wsgid-default' (processes=1 threads=15)" in line
    assert "WSGIProcessGroup" in line and "WSGIRestrictEmbedded On" in line


def test_no_default_group_when_every_script_has_one(apache):
    inst = apache("""
WSGIDaemonProcess site processes=1 threads=2
WSGIScriptAlias /a "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /b "{apps}/echo.wsgi"
WSGIScriptAlias /c "{apps}/echo.wsgi"
<Location /b>
    WSGIProcessGroup site
</Location>
<Directory "{apps}">
    WSGIProcessGroup site
</Directory>
""")
    inst.start()
    wait_for_daemons(inst, 1)
    # A daemon sets its title right after the fork: wait for it, the test is about the group.
    wait_for(lambda: titles(inst) == ["(wsgi:site)"], 10, message="the daemon's title")
    assert "default daemon group" not in inst.error_log()
    for url in ("/a/hello", "/b/hello", "/c/hello"):
        assert requests.get(inst.url(url), timeout=10).text == "Hello, world!\n"


def test_a_group_defined_but_never_selected_leaves_the_script_to_the_default_group(apache):
    # Fedora's bodhi configuration does this: mod_wsgi then runs the script embedded.
    inst = apache("WSGIDaemonProcess unused processes=1 threads=1\n" + EMBEDDED)
    inst.start()
    wait_for_daemons(inst, 2)
    r = requests.get(inst.url("/app/environ"), timeout=10)
    assert r.json()["mod_wsgi.process_group"] == "wsgid-default"


def test_the_default_group_name_steps_aside_for_a_group_of_that_name(apache):
    inst = apache("WSGIDaemonProcess wsgid-default processes=1 threads=1\n"
                  'WSGIScriptAlias /mine "{apps}/echo.wsgi" process-group=wsgid-default\n'
                  + EMBEDDED)
    inst.start()
    wait_for_daemons(inst, 2)
    assert requests.get(inst.url("/app/environ"), timeout=10).json()[
        "mod_wsgi.process_group"] == "wsgid-default-2"
    assert requests.get(inst.url("/mine/environ"), timeout=10).json()[
        "mod_wsgi.process_group"] == "wsgid-default"


def test_restrict_embedded_on_refuses_a_script_without_a_group_as_mod_wsgi_does(apache):
    inst = apache("WSGIRestrictEmbedded On\n" + EMBEDDED)
    inst.start()
    assert titles(inst) == []
    r = requests.get(inst.url("/app/hello"), timeout=10)
    assert r.status_code == 500
    (line,) = [line for line in inst.error_log().splitlines()
               if "no daemon process group for /app/hello" in line]
    assert "WSGIRestrictEmbedded On" in line


HOOKS = """
WSGIDaemonProcess site processes=1 threads=2
WSGIScriptAlias /app "{apps}/echo.wsgi"
<Location /app>
    WSGIAccessScript "{apps}/hooks.wsgi"
    WSGIDispatchScript "{apps}/hooks_dispatch.wsgi"
</Location>
"""


def test_hook_scripts_without_a_group_run_in_the_default_group(apache):
    inst = apache(HOOKS)
    inst.start()
    wait_for_daemons(inst, 2)
    r = requests.get(inst.url("/app/environ?trace=1"), timeout=10)
    assert r.status_code == 200, inst.error_log()[-2000:]
    assert "hook allow_access ran in wsgid-default/" in inst.error_log()
    denied = requests.get(inst.url("/app/hello?access=deny"), timeout=10)
    assert denied.status_code == 403


def test_a_dispatch_script_without_a_group_chooses_the_group_per_request(apache):
    # mod_wsgi runs it embedded and lets it name the daemon group of each request.
    inst = apache(HOOKS)
    inst.start()
    wait_for_daemons(inst, 2)
    chosen = requests.get(inst.url("/app/environ?to=site"), timeout=10).json()
    assert chosen["mod_wsgi.process_group"] == "site"
    left = requests.get(inst.url("/app/environ"), timeout=10).json()
    assert left["mod_wsgi.process_group"] == "wsgid-default"
    callable_ = requests.get(inst.url("/app/hello?callable=other_callable"), timeout=10)
    assert callable_.text == "other callable\n"
