"""WSGIRestrictProcess and the virtual-host rule for daemon groups, through a real Apache.

A request whose process group (here chosen per request with %{ENV:GROUP}) is outside the
WSGIRestrictProcess in effect gets 500 with one log line, as in mod_wsgi; a literal group
outside it fails `httpd -t`. A group defined in one virtual host cannot serve another virtual
host with a different ServerName, also when the name only comes from the request.
"""

import pytest
import requests

from tests.support.apache import wait_for
from tests.support.procs import wait_for_daemons

pytestmark = pytest.mark.apache

GROUPS = """
WSGIDaemonProcess alpha processes=1 threads=2
WSGIDaemonProcess beta processes=1 threads=2
"""

PER_REQUEST = GROUPS + """
SetEnvIf X-Group "^(.+)$" GROUP=$1
WSGIScriptAlias /app "{apps}/echo.wsgi"
WSGIProcessGroup %{ENV:GROUP}
<Location /app>
    WSGIRestrictProcess alpha
</Location>
"""


def group_of(inst, group):
    return requests.get(inst.url("/app/environ"), headers={"X-Group": group}, timeout=10)


def test_a_group_inside_the_restriction_serves_and_one_outside_is_500_with_one_log_line(apache):
    inst = apache(PER_REQUEST, extra_modules=("setenvif",))
    inst.start()
    wait_for_daemons(inst, 2)
    allowed = group_of(inst, "alpha")
    assert allowed.status_code == 200, inst.error_log()[-2000:]
    assert allowed.json()["wsgid.process_group"] == "alpha"

    before = inst.error_log()
    refused = group_of(inst, "beta")
    assert refused.status_code == 500
    new = wait_for(lambda: inst.error_log()[len(before):], 5, message="the log line")
    lines = [line for line in new.splitlines() if "mod_wsgid" in line]
    assert len(lines) == 1, new
    assert "group 'beta'" in lines[0]
    assert "WSGIRestrictProcess at" in lines[0] and "allows only alpha" in lines[0]


def test_an_inner_restriction_replaces_the_outer_one(apache):
    inst = apache(PER_REQUEST + """
<Location /app/inner>
    WSGIRestrictProcess beta
</Location>
""", extra_modules=("setenvif",))
    inst.start()
    wait_for_daemons(inst, 2)
    inner = requests.get(inst.url("/app/inner"), headers={"X-Group": "beta"}, timeout=10)
    assert inner.status_code == 404          # echo.wsgi has no /inner page: beta served it
    assert "allows only" not in inst.error_log()
    outer = requests.get(inst.url("/app/inner"), headers={"X-Group": "alpha"}, timeout=10)
    assert outer.status_code == 500


def failed_configtest(inst):
    rc, output = inst.configtest()
    assert rc != 0, f"configtest passed but should have failed:\n{output}"
    return output


def test_a_literal_group_outside_the_servers_restriction_fails_configtest(apache):
    inst = apache(GROUPS + 'WSGIRestrictProcess alpha\n'
                           'WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=beta\n')
    output = failed_configtest(inst)
    assert "WSGIScriptAlias process-group=beta" in output
    assert "WSGIRestrictProcess at" in output and "httpd.conf:" in output
    assert "(allowed: alpha)" in output


def test_a_literal_group_outside_its_sections_restriction_fails_configtest(apache):
    inst = apache(GROUPS + 'WSGIScriptAlias /app "{apps}/echo.wsgi"\n'
                           "<Location /app>\n"
                           "    WSGIRestrictProcess alpha\n"
                           "    WSGIProcessGroup beta\n"
                           "</Location>\n")
    output = failed_configtest(inst)
    assert "WSGIProcessGroup beta" in output and "(allowed: alpha)" in output


def test_a_group_some_inner_restriction_allows_passes_configtest_and_serves(apache):
    inst = apache(GROUPS + 'WSGIRestrictProcess alpha\n'
                           'WSGIScriptAlias /app "{apps}/echo.wsgi"\n'
                           "<Location /app>\n"
                           "    WSGIRestrictProcess alpha beta\n"
                           "    WSGIProcessGroup beta\n"
                           "</Location>\n")
    rc, output = inst.configtest()
    assert rc == 0, output
    inst.start()
    wait_for_daemons(inst, 2)
    r = requests.get(inst.url("/app/environ"), timeout=10)
    assert r.status_code == 200
    assert r.json()["wsgid.process_group"] == "beta"


def test_restriction_needs_a_name(apache):
    output = failed_configtest(apache(GROUPS + "WSGIRestrictProcess\n"))
    assert "WSGIRestrictProcess" in output


VHOSTS = """
WSGIDaemonProcess shared processes=1 threads=2
<VirtualHost *>
    ServerName one.example
    WSGIDaemonProcess private processes=1 threads=2
    WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=private
</VirtualHost>
<VirtualHost *>
    ServerName two.example
    SetEnvIf X-Group "^(.+)$" GROUP=$1
    WSGIScriptAlias /app "{apps}/echo.wsgi"
    WSGIProcessGroup %{ENV:GROUP}
</VirtualHost>
"""


def test_a_group_of_another_virtual_host_is_refused_per_request(apache):
    inst = apache(VHOSTS, extra_modules=("setenvif",))
    inst.start()
    wait_for_daemons(inst, 2)

    def get(host, group=None):
        headers = {"Host": host}
        if group:
            headers["X-Group"] = group
        return requests.get(inst.url("/app/environ"), headers=headers, timeout=10)

    own = get("one.example")
    assert own.status_code == 200 and own.json()["wsgid.process_group"] == "private"
    # the main server's group may be used from any virtual host ...
    shared = get("two.example", "shared")
    assert shared.status_code == 200 and shared.json()["wsgid.process_group"] == "shared"
    # ... another virtual host's group may not
    before = inst.error_log()
    assert get("two.example", "private").status_code == 500
    new = inst.error_log()[len(before):]
    assert "group 'private'" in new and "this virtual host may use" in new
