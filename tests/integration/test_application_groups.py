"""Application groups through a real Apache: which name the module computes for each form of
WSGIApplicationGroup / application-group=, and that each name gets its own loaded copy of the
script in the daemon process.

The expansions are mod_wsgi 4.6's (docs/configuration.md, "Application groups"):
  %{GLOBAL}    ''                                   (wsgid's default)
  %{SERVER}    ServerName of the virtual host, plus ':port' unless the port is 80 or 443
  %{HOST}      the Host header's name (lowercase), plus ':port' unless 80 or 443; without a
               Host header the ServerName
  %{RESOURCE}  %{SERVER} + '|' + SCRIPT_NAME, lowercased, repeated slashes collapsed
  %{ENV:VAR}   VAR from the request's notes, its environment (SetEnv) or Apache's own process
               environment; a value that is itself an expansion (other than %{ENV:...}) is
               expanded; an unset VAR leaves the name '%{ENV:VAR}' as it is
  anything else, as written
The port is the one the client asked for (Host header), as Apache's UseCanonicalName Off gives it.

One daemon process with two threads serves everything, so every copy of the script lives in the
same process and its counter shows whether a request found an existing copy or loaded a new one.
"""

import json
import os

import pytest
import requests

from tests.support.apache import APPS, ApacheInstance, free_port
from tests.support.procs import wait_for_daemons
from tests.support.wire import raw_http
from wsgid.loader import module_name

SCRIPT = os.path.join(APPS, "application_groups.wsgi")

SITE = """
Listen 127.0.0.1:{second_port}
WSGIDaemonProcess groups processes=1 threads=2
WSGIProcessGroup groups

WSGIScriptAlias /global "{apps}/application_groups.wsgi"
WSGIScriptAlias /explicit-global "{apps}/application_groups.wsgi" application-group=%{{GLOBAL}}
WSGIScriptAlias /server "{apps}/application_groups.wsgi" application-group=%{{SERVER}}
WSGIScriptAlias /host "{apps}/application_groups.wsgi" application-group=%{{HOST}}
WSGIScriptAlias /resource "{apps}/application_groups.wsgi" application-group=%{{RESOURCE}}
WSGIScriptAlias /Mixed/Case "{apps}/application_groups.wsgi" application-group=%{{RESOURCE}}
WSGIScriptAlias /literal "{apps}/application_groups.wsgi" application-group=shared-name
WSGIScriptAlias /literal-too "{apps}/application_groups.wsgi" application-group=shared-name
WSGIScriptAlias /env "{apps}/application_groups.wsgi" application-group=%{{ENV:APP_GROUP}}
WSGIScriptAlias /env-indirect "{apps}/application_groups.wsgi" application-group=%{{ENV:APP_GROUP}}
WSGIScriptAlias /env-unset "{apps}/application_groups.wsgi" application-group=%{{ENV:WSGID_TEST_NEVER_SET}}
WSGIScriptAlias /env-process "{apps}/application_groups.wsgi" application-group=%{{ENV:WSGID_TEST_APACHE_ENV}}
WSGIScriptAlias /by-directive "{apps}/application_groups.wsgi"

<Location /env>
    SetEnv APP_GROUP from-setenv
</Location>
<Location /env-indirect>
    SetEnv APP_GROUP %{{SERVER}}
</Location>
<Location /by-directive>
    WSGIApplicationGroup by-directive
</Location>

<VirtualHost 127.0.0.1:{port}>
    ServerName 127.0.0.1:{port}
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName alpha.test
    ServerAlias *.alpha.test
</VirtualHost>
"""

APACHE_PROCESS_ENV_VALUE = "from-apache-process-env"


@pytest.fixture(scope="module")
def site():
    """One Apache for the whole module (the tests only read): two ports, two virtual hosts."""
    second_port = free_port()
    os.environ["WSGID_TEST_APACHE_ENV"] = APACHE_PROCESS_ENV_VALUE  # inherited by httpd
    inst = ApacheInstance("")
    try:
        inst.write_config(SITE.format(port=inst.port, second_port=second_port, apps="{apps}"),
                          extra_modules=("env",))
        inst.start()
        inst.second_port = second_port
        wait_for_daemons(inst, 1)
        yield inst
    finally:
        os.environ.pop("WSGID_TEST_APACHE_ENV", None)
        inst.cleanup()


def ask(site, path, host=None, port=None):
    """GET path on port (default: the first) with this Host header; the app's JSON answer."""
    port = port or site.port
    headers = {"Host": host} if host is not None else {}
    r = requests.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)
    assert r.status_code == 200, (path, host, r.status_code, site.error_log()[-3000:])
    return r.json()


def group_of(site, path, host=None, port=None):
    answer = ask(site, path, host, port)
    # The module's name reaches the application, mod_wsgi's environ key and the API unchanged.
    assert answer["environ_group"] == answer["mod_wsgi_group"] == answer["api_group"], answer
    return answer["environ_group"]


def ask_http10_without_host(site, path):
    """An HTTP/1.0 request with no Host header: the status and the JSON body."""
    return raw_http(site.port, f"GET {path} HTTP/1.0\r\n\r\n".encode("ascii"))


# -- the name each form expands to ----------------------------------------------------------------

def test_the_default_and_global_are_the_empty_name(site):
    me = f"127.0.0.1:{site.port}"
    assert group_of(site, "/global", me) == ""
    assert group_of(site, "/explicit-global", me) == ""
    assert group_of(site, "/global/with/path/info", "www.alpha.test:8000") == ""


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1:{port}", "127.0.0.1:{port}"),
    ("www.alpha.test:{port}", "alpha.test:{port}"),      # the ServerName, not the Host header
    ("other.alpha.test:{port}", "alpha.test:{port}"),
    ("alpha.test:80", "alpha.test"),                     # 80 and 443 are left out
    ("www.alpha.test:443", "alpha.test"),
    ("www.alpha.test:8443", "alpha.test:8443"),          # the port the client asked for
])
def test_server_is_the_virtual_hosts_server_name_and_port(site, host, expected):
    assert group_of(site, "/server", host.format(port=site.port)) == \
        expected.format(port=site.port)


def test_server_on_another_listening_port_names_that_port(site):
    p2 = site.second_port
    assert group_of(site, "/server", f"127.0.0.1:{p2}", port=p2) == f"127.0.0.1:{p2}"


@pytest.mark.parametrize("host, expected", [
    ("www.alpha.test:{port}", "www.alpha.test:{port}"),
    ("WWW.Alpha.TEST:{port}", "www.alpha.test:{port}"),  # Apache lowercases the host name
    ("other.alpha.test:{port}", "other.alpha.test:{port}"),
    ("www.alpha.test:80", "www.alpha.test"),
    ("www.alpha.test:443", "www.alpha.test"),
    ("127.0.0.1:{port}", "127.0.0.1:{port}"),
])
def test_host_is_the_host_header_and_port(site, host, expected):
    assert group_of(site, "/host", host.format(port=site.port)) == expected.format(port=site.port)


def test_host_without_a_host_header_is_the_server_name(site):
    status, body = ask_http10_without_host(site, "/host")
    assert status.endswith(b" 200 OK"), (status, body)
    assert json.loads(body)["environ_group"] == f"127.0.0.1:{site.port}"


def test_resource_is_server_and_script_name(site):
    me = f"127.0.0.1:{site.port}"
    assert group_of(site, "/resource", me) == f"{me}|/resource"
    # PATH_INFO is not part of it: one copy for the whole mount.
    assert group_of(site, "/resource/a/b", me) == f"{me}|/resource"
    assert group_of(site, "/resource", f"www.alpha.test:{site.port}") == \
        f"alpha.test:{site.port}|/resource"
    assert group_of(site, "/resource", "alpha.test:80") == "alpha.test|/resource"


def test_resource_script_name_is_lowercased_with_single_slashes(site):
    # mod_wsgi lowercases SCRIPT_NAME in %{RESOURCE}; repeated slashes are collapsed.
    me = f"127.0.0.1:{site.port}"
    assert group_of(site, "/Mixed//Case/x", me) == f"{me}|/mixed/case"


def test_literal_names_are_used_as_written_and_shared(site):
    me = f"127.0.0.1:{site.port}"
    assert group_of(site, "/literal", me) == "shared-name"
    assert group_of(site, "/literal-too", me) == "shared-name"


def test_application_group_directive_in_a_location(site):
    assert group_of(site, "/by-directive", f"127.0.0.1:{site.port}") == "by-directive"


def test_env_takes_the_request_environment_from_setenv(site):
    assert group_of(site, "/env", f"127.0.0.1:{site.port}") == "from-setenv"


def test_env_whose_value_is_an_expansion_is_expanded(site):
    # mod_wsgi expands a value that is itself %{SERVER}, %{HOST}, ... (not another %{ENV:...}).
    assert group_of(site, "/env-indirect", f"www.alpha.test:{site.port}") == \
        f"alpha.test:{site.port}"


def test_env_falls_back_to_apaches_process_environment(site):
    assert group_of(site, "/env-process", f"127.0.0.1:{site.port}") == APACHE_PROCESS_ENV_VALUE


def test_env_of_an_unset_variable_keeps_the_name_as_written(site):
    # mod_wsgi: an unset variable leaves '%{ENV:NAME}' itself as the (literal) group name, so an
    # application does not silently fall into the main interpreter's copy.
    assert group_of(site, "/env-unset", f"127.0.0.1:{site.port}") == "%{ENV:WSGID_TEST_NEVER_SET}"


# -- each name has its own loaded copy ------------------------------------------------------------

def test_each_application_group_has_its_own_copy_of_the_script(site):
    p1, p2 = site.port, site.second_port
    cases = [  # (path, Host, port): three pairs of requests per distinct group
        ("/literal", f"127.0.0.1:{p1}", p1),
        ("/server", f"www.alpha.test:{p1}", p1),
        ("/server", f"127.0.0.1:{p2}", p2),
        ("/host", f"one.alpha.test:{p1}", p1),
        ("/host", f"two.alpha.test:{p1}", p1),
        ("/resource", f"127.0.0.1:{p1}", p1),
    ]
    first = [ask(site, path, host, port) for path, host, port in cases]
    second = [ask(site, path, host, port) for path, host, port in cases]
    pids = {a["pid"] for a in first + second}
    assert len(pids) == 1, "the test needs one daemon process"

    groups = [a["environ_group"] for a in first]
    assert len(set(groups)) == len(cases), groups
    modules = [a["module"] for a in first]
    assert len(set(modules)) == len(cases), "two groups shared one loaded copy"
    for answer in first:
        # The copy's module name is the loader's name for (script, group).
        assert answer["module"] == module_name(SCRIPT, answer["environ_group"])
    for before, after in zip(first, second):
        # The same group finds the same copy again, which counted exactly one more request.
        assert after["environ_group"] == before["environ_group"]
        assert after["module"] == before["module"]
        assert after["copy_requests"] == before["copy_requests"] + 1


def test_groups_do_not_share_module_globals_with_the_global_copy(site):
    me = f"127.0.0.1:{site.port}"
    global_before = ask(site, "/global", me)["copy_requests"]
    for _ in range(3):
        ask(site, "/by-directive", me)
    assert ask(site, "/global", me)["copy_requests"] == global_before + 1
    assert ask(site, "/global", me)["module"] == module_name(SCRIPT, "")
