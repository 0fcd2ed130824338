"""The access, authentication, authorization and dispatch hooks through a real Apache.

WSGIAccessScript (allow_access), WSGIAuthUserScript as the 'wsgi' provider of AuthBasicProvider
(check_password) and AuthDigestProvider (get_realm_hash), WSGIAuthGroupScript behind
`Require wsgi-group` (groups_for_user), and WSGIDispatchScript (process_group,
application_group, callable_object): each one's allow, deny, not-found and raising cases, with
the status the client gets and what the error log says. The scripts run in a daemon group
(docs/protocol.md, "Hook calls"): which one is checked too. A raising hook leaves exactly one
traceback in the error log and no other line about that request (the mod_wsgi 4.6 bug items).

tests/apps/hooks.wsgi and hooks_dispatch.wsgi do what the request asks (see their docstrings);
tests/apps/hooks_app.wsgi answers with the user and where it ran.
"""

import os

import pytest
import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from tests.support.apache import APPS, ApacheInstance, wait_for
from tests.support.procs import wait_for_daemons

pytestmark = pytest.mark.apache

SITE = """
WSGIDaemonProcess hooks processes=1 threads=4
WSGIDaemonProcess other processes=1 threads=2
WSGIProcessGroup hooks

WSGIScriptAlias /app "{apps}/hooks_app.wsgi"
WSGIScriptAlias /other-app "{apps}/hooks_app.wsgi" process-group=other
Alias /files "{apps}"

<Location /app/access>
    WSGIAccessScript "{apps}/hooks.wsgi"
</Location>
<Location /other-app/access>
    WSGIAccessScript "{apps}/hooks.wsgi"
</Location>
<Location /app/access-elsewhere>
    WSGIAccessScript "{apps}/hooks.wsgi" process-group=other application-group=hook-copy
</Location>
<Location /files>
    WSGIAccessScript "{apps}/hooks.wsgi"
</Location>
<Location /app/no-group>
    WSGIProcessGroup %{GLOBAL}
    WSGIAccessScript "{apps}/hooks.wsgi"
</Location>

<Location /app/basic>
    AuthType Basic
    AuthName "wsgid basic"
    AuthBasicProvider wsgi
    WSGIAuthUserScript "{apps}/hooks.wsgi"
    Require valid-user
</Location>
<Location /app/digest>
    AuthType Digest
    AuthName "wsgid digest"
    AuthDigestDomain /app/digest
    AuthDigestProvider wsgi
    WSGIAuthUserScript "{apps}/hooks.wsgi"
    Require valid-user
</Location>
<Location /app/group>
    AuthType Basic
    AuthName "wsgid groups"
    AuthBasicProvider wsgi
    WSGIAuthUserScript "{apps}/hooks.wsgi"
    WSGIAuthGroupScript "{apps}/hooks.wsgi"
    Require wsgi-group secret-agents
</Location>
<Location /app/no-group-script>
    AuthType Basic
    AuthName "wsgid groups"
    AuthBasicProvider wsgi
    WSGIAuthUserScript "{apps}/hooks.wsgi"
    Require wsgi-group secret-agents
</Location>

<Location /app/dispatch>
    WSGIDispatchScript "{apps}/hooks_dispatch.wsgi"
</Location>
"""

AUTH_MODULES = ("alias", "authn_core", "authz_user", "auth_basic", "auth_digest")


@pytest.fixture(scope="module")
def site():
    """One Apache for the module: the tests only make requests and read the logs."""
    inst = ApacheInstance("")
    try:
        inst.write_config(SITE, extra_modules=AUTH_MODULES)
        inst.start()
        wait_for_daemons(inst, 3)   # hooks, other, and wsgid-default (/app/no-group)
        # the tests count the log lines a request adds: the start-up lines must be in first
        wait_for(lambda: inst.error_log().count("daemon process serving") == 3, 15,
                 message="the three daemon processes to log that they serve")
        yield inst
    finally:
        inst.cleanup()


def get(site, path, **kwargs):
    return requests.get(site.url(path), timeout=10, **kwargs)


def log_of(site, request):
    """Make the request; return its response and what the error log gained meanwhile (the
    daemon and the module write their lines before they answer)."""
    before = len(site.error_log())
    response = request()
    return response, site.error_log()[before:]


def assert_one_traceback(log, message):
    """The raising hook's story is told once: one traceback ending in its exception, and no
    line of the module's own about it."""
    assert log.count("Traceback (most recent call last)") == 1, log
    assert log.count(f"RuntimeError: {message}") == 1, log
    assert "mod_wsgid:" not in log, log


# -- WSGIAccessScript ---------------------------------------------------------------------------

def test_access_allowed_serves_the_application(site):
    response = get(site, "/app/access?access=allow")
    assert response.status_code == 200
    assert response.json()["callable"] == "application"


def test_access_denied_is_403_with_one_log_line(site):
    response, log = log_of(site, lambda: get(site, "/app/access?access=deny"))
    assert response.status_code == 403
    lines = [line for line in log.splitlines() if "mod_wsgid" in line]
    assert len(lines) == 1, log
    assert "client denied by WSGIAccessScript" in lines[0] and "hooks.wsgi" in lines[0]


def test_access_declined_leaves_the_decision_to_apache(site):
    # None: the access hook has no opinion; `Require all granted` of the scripts' directory
    # lets the request through.
    response, log = log_of(site, lambda: get(site, "/app/access?access=decline"))
    assert response.status_code == 200
    assert "denied" not in log


def test_access_script_that_raises_is_500_with_one_traceback(site):
    response, log = log_of(site, lambda: get(site, "/app/access?access=raise"))
    assert response.status_code == 500
    assert_one_traceback(log, "allow_access exploded on purpose")
    assert "allow_access" in log and "hooks.wsgi" in log


def test_access_script_returning_another_type_is_500_with_one_log_line(site):
    response, log = log_of(site, lambda: get(site, "/app/access?access=wrong-type"))
    assert response.status_code == 500
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) == 1, log
    assert "allow_access" in lines[0] and "True, False or None" in lines[0]


def test_access_script_guards_static_files_too(site):
    allowed = get(site, "/files/hooks_dispatch.wsgi?access=allow")
    assert allowed.status_code == 200
    assert b"process_group" in allowed.content   # the file itself, served by Apache
    assert get(site, "/files/hooks_dispatch.wsgi?access=deny").status_code == 403


def test_the_host_argument_is_the_clients_address(site):
    # allow_access answers True only for a loopback host: the client here is 127.0.0.1.
    assert get(site, "/app/access?access=allow").status_code == 200


@pytest.mark.parametrize("path, expected", [
    ("/app/access?trace=1", "hook allow_access ran in hooks/"),              # WSGIProcessGroup
    ("/other-app/access?trace=1", "hook allow_access ran in other/"),        # the alias's group
    ("/app/access-elsewhere?trace=1", "hook allow_access ran in other/hook-copy"),  # options
])
def test_the_hook_runs_in_the_group_the_request_or_its_options_name(site, path, expected):
    response, log = log_of(site, lambda: get(site, path))
    assert response.status_code == 200
    assert any(line.endswith(expected) for line in log.splitlines()), log


def test_a_hook_with_no_group_in_scope_runs_in_the_default_group(site):
    # WSGIProcessGroup %{GLOBAL}: mod_wsgi runs the hook inside Apache; wsgid in its default
    # daemon group (tests/integration/test_default_group.py).
    response, log = log_of(site, lambda: get(site, "/app/no-group?trace=1"))
    assert response.status_code == 200, log
    assert any(line.endswith("hook allow_access ran in wsgid-default/") for line in
               log.splitlines()), log


# -- WSGIAuthUserScript, Basic ------------------------------------------------------------------

def test_basic_right_password_is_let_in_as_that_user(site):
    response = get(site, "/app/basic", auth=HTTPBasicAuth("spy", "secret"))
    assert response.status_code == 200
    assert response.json()["remote_user"] == "spy"
    assert response.json()["auth_type"] == "Basic"


def test_basic_wrong_password_is_401(site):
    assert get(site, "/app/basic", auth=HTTPBasicAuth("spy", "wrong")).status_code == 401


def test_basic_unknown_user_is_401_and_apache_says_not_found(site):
    response, log = log_of(site, lambda: get(site, "/app/basic",
                                             auth=HTTPBasicAuth("nobody-here", "x")))
    assert response.status_code == 401
    assert "nobody-here" in log and "not found" in log


def test_basic_without_credentials_asks_for_them(site):
    response = get(site, "/app/basic")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="wsgid basic"'


def test_basic_a_returned_name_becomes_the_user(site):
    response = get(site, "/app/basic", auth=HTTPBasicAuth("renamed", "pw"))
    assert response.status_code == 200
    assert response.json()["remote_user"] == "canonical-user"


def test_basic_check_password_that_raises_is_500_with_one_traceback(site):
    response, log = log_of(site, lambda: get(site, "/app/basic",
                                             auth=HTTPBasicAuth("boom", "x")))
    assert response.status_code == 500
    assert_one_traceback(log, "check_password exploded on purpose")


def test_basic_check_password_returning_another_type_is_500(site):
    response, log = log_of(site, lambda: get(site, "/app/basic",
                                             auth=HTTPBasicAuth("wrong-type", "x")))
    assert response.status_code == 500
    assert "check_password" in log and "mod_wsgid:" not in log


def test_the_password_never_reaches_the_log(site):
    _, log = log_of(site, lambda: get(site, "/app/basic",
                                      auth=HTTPBasicAuth("boom", "a-very-secret-pw")))
    assert "a-very-secret-pw" not in log


# -- WSGIAuthUserScript, Digest -----------------------------------------------------------------

def test_digest_right_password_is_let_in(site):
    response = get(site, "/app/digest", auth=HTTPDigestAuth("spy", "secret"))
    assert response.status_code == 200
    assert response.json()["remote_user"] == "spy"
    assert response.json()["auth_type"] == "Digest"


def test_digest_wrong_password_and_unknown_user_are_401(site):
    assert get(site, "/app/digest", auth=HTTPDigestAuth("spy", "wrong")).status_code == 401
    assert get(site, "/app/digest", auth=HTTPDigestAuth("nobody-here", "x")).status_code == 401


def test_digest_get_realm_hash_that_raises_is_500_with_one_traceback(site):
    # The first request only fetches the challenge; the second carries the user.
    response, log = log_of(site, lambda: get(site, "/app/digest",
                                             auth=HTTPDigestAuth("boom", "x")))
    assert response.status_code == 500
    assert_one_traceback(log, "get_realm_hash exploded on purpose")


# -- WSGIAuthGroupScript ------------------------------------------------------------------------

def test_group_member_is_let_in(site):
    response = get(site, "/app/group", auth=HTTPBasicAuth("spy", "secret"))
    assert response.status_code == 200
    assert response.json()["remote_user"] == "spy"


def test_group_non_member_is_refused_with_one_log_line(site):
    response, log = log_of(site, lambda: get(site, "/app/group",
                                             auth=HTTPBasicAuth("outsider", "pw")))
    assert response.status_code == 401
    lines = [line for line in log.splitlines() if "mod_wsgid" in line]
    assert len(lines) == 1, log
    assert "outsider" in lines[0] and "none of the required groups" in lines[0]


def test_group_lookup_that_raises_is_500_with_one_traceback(site):
    response, log = log_of(site, lambda: get(site, "/app/group",
                                             auth=HTTPBasicAuth("group-boom", "pw")))
    assert response.status_code == 500
    assert_one_traceback(log, "groups_for_user exploded on purpose")


def test_group_lookup_returning_a_string_is_500(site):
    response, log = log_of(site, lambda: get(site, "/app/group",
                                             auth=HTTPBasicAuth("wrong-type", "pw")))
    assert response.status_code in (401, 500)   # check_password returns 1 first: a wrong type
    assert "mod_wsgid:" not in log


def test_require_wsgi_group_without_a_group_script_is_500_naming_the_fix(site):
    response, log = log_of(site, lambda: get(site, "/app/no-group-script",
                                             auth=HTTPBasicAuth("spy", "secret")))
    assert response.status_code == 500
    assert "add WSGIAuthGroupScript" in log


# -- WSGIDispatchScript -------------------------------------------------------------------------

def test_dispatch_returning_none_keeps_the_configuration(site):
    answer = get(site, "/app/dispatch").json()
    assert (answer["process_group"], answer["application_group"], answer["callable"]) == \
        ("hooks", "", "application")


def test_dispatch_chooses_the_process_group(site):
    assert get(site, "/app/dispatch?to=other").json()["process_group"] == "other"


def test_dispatch_chooses_the_application_group_and_callable(site):
    answer = get(site, "/app/dispatch?app=picked&callable=alternate").json()
    assert (answer["application_group"], answer["callable"]) == ("picked", "alternate")


def test_dispatch_that_raises_is_500_with_one_traceback(site):
    response, log = log_of(site, lambda: get(site, "/app/dispatch?raise=1"))
    assert response.status_code == 500
    assert_one_traceback(log, "process_group exploded on purpose")


def test_dispatch_to_an_undefined_group_is_500_with_one_log_line(site):
    response, log = log_of(site, lambda: get(site, "/app/dispatch?to=no-such-group"))
    assert response.status_code == 500
    lines = [line for line in log.splitlines() if "mod_wsgid" in line]
    assert len(lines) == 1, log
    assert "no-such-group" in lines[0] and "WSGIDispatchScript" in lines[0]


# -- configuration mistakes stop startup ------------------------------------------------------

@pytest.mark.parametrize("directive, problem", [
    ('WSGIAccessScript relative/hooks.wsgi', "absolute path"),
    ('WSGIAuthUserScript "{apps}/no-such-hooks.wsgi"', "does not exist"),
    ('WSGIAuthGroupScript "{apps}/hooks.wsgi" process-group=missing', "missing"),
    ('WSGIDispatchScript "{apps}/hooks.wsgi" callable-object=x', "unknown option"),
])
def test_configtest_refuses_a_bad_hook_directive(apache, directive, problem):
    inst = apache("WSGIDaemonProcess hooks processes=1 threads=1\nWSGIProcessGroup hooks\n"
                  f"<Location /x>\n    {directive}\n</Location>\n")
    status, output = inst.configtest()
    assert status != 0
    assert directive.split()[0] in output and problem in output, output


# -- hook scripts named in .htaccess -------------------------------------------------------------

HTACCESS_SITE = """
WSGIDaemonProcess site processes=1 threads=2
WSGIProcessGroup site
Alias /protected "{work}/protected"
Alias /elsewhere "{work}/elsewhere"
<Directory "{work}">
    AllowOverride AuthConfig
    Require all granted
</Directory>
"""


def test_an_htaccess_access_script_inside_its_directory_runs_as_in_mod_wsgi(apache):
    inst = apache("")
    work = os.path.join(inst.root, "work")
    os.mkdir(work)
    os.chmod(work, 0o755)
    for sub in ("protected", "elsewhere", "scripts"):
        os.mkdir(os.path.join(work, sub))
        os.chmod(os.path.join(work, sub), 0o755)
    with open(os.path.join(work, "scripts", "access.py"), "w") as f:
        f.write("def allow_access(environ, host):\n"
                "    return environ.get('QUERY_STRING') != 'deny'\n")
    for sub in ("protected", "elsewhere"):
        with open(os.path.join(work, sub, "page.txt"), "w") as f:
            f.write("page\n")
    with open(os.path.join(work, "protected", ".htaccess"), "w") as f:
        f.write(f"WSGIAccessScript {work}/scripts/access.py\n")
    # a script outside every directory whose .htaccess may name hooks
    with open(os.path.join(work, "elsewhere", ".htaccess"), "w") as f:
        f.write(f"WSGIAccessScript {APPS}/hooks.wsgi\n")
    inst.write_config(HTACCESS_SITE.replace("{work}", work), extra_modules=("alias",))
    inst.start()
    wait_for_daemons(inst, 1)
    assert requests.get(inst.url("/protected/page.txt"), timeout=10).text == "page\n"
    assert requests.get(inst.url("/protected/page.txt?deny"), timeout=10).status_code == 403
    refused = requests.get(inst.url("/elsewhere/page.txt"), timeout=10)
    assert refused.status_code == 500
    assert "whose AllowOverride allows AuthConfig" in inst.error_log()
