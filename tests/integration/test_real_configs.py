"""Real mod_wsgi configurations (tests/data/mod_wsgi_configs) under wsgid.

Each corpus file is rewritten into a sandbox by tests/support/real_configs.py (its docstring has
the rules), with mod_wsgi's LoadModule replaced by `wsgid module-config`, then:

- test_configtest: `httpd -t` on it must pass, as it does with mod_wsgi;
- test_serves (a small set, each showing something the others do not): Apache is started on
  it, and the URL the configuration hands to a WSGI script must answer 200 with the body of
  the hello script the harness wrote at that script's path.

KNOWN_FAILURES is the one table of what fails today because wsgid does not yet do what mod_wsgi
does; each entry is strict, so when the feature lands the test XPASSes, fails, and the entry
must go. REFUSED_BY_MOD_WSGI lists corpus files that mod_wsgi itself refuses (they are kept
because real projects ship them): wsgid must refuse them too, with the given words.
"""

import pytest
import requests

from tests.support import real_configs
from tests.support.apache import wait_for

pytestmark = pytest.mark.apache

# (test, corpus name) -> the wsgid error message it fails with today, shortened.
KNOWN_FAILURES = {
}

# Corpus name -> words the refusal must contain (mod_wsgi 4.x: "Invalid option to WSGI script
# alias definition." for request-timeout= on WSGIScriptAlias).
REFUSED_BY_MOD_WSGI = {
    "weblate": "WSGIScriptAlias: unknown option 'request-timeout=600'",
    "weblate-path": "WSGIScriptAlias: unknown option 'request-timeout=600'",
}

# Corpus name -> the URL to request. Each shows something the others do not.
SERVED = {
    # Alias + <Location> SetHandler wsgi-script delegated to a daemon group, python-home=.
    "devstack-keystone": "/identity",
    # home=, an absolute WSGISocketPrefix, a sub-URL, a vhost on port 80 with no Listen.
    "devstack-horizon": "/dashboard",
    # A daemon group named 127.0.0.1, <VirtualHost 0.0.0.0:80>, relative ErrorLog, user mapping.
    "fedora-copr-keygen": "/",
    # WSGIProcessGroup inside <Directory>, python-home=, no VirtualHost.
    "pgadmin4-debian": "/pgadmin4",
    # An SSL virtual host (mod_ssl loaded by the file's own Debian LoadModule line).
    "kolla-keystone-tls": "/",
    # <VirtualHost 127.0.0.1:8080> with python-home= and <Directory /> granted.
    "ckan-deployment": "/",
    # WSGIImportScript preloading the served script, options as puppet sorts them.
    "puppetlabs-apache-wsgi": "/",
    # python-path= with two directories, process-group= on WSGIScriptAlias, a sub-URL.
    "django-modwsgi-daemon": "/mysite",
    # <VirtualHost *> (no port), user=/group= of accounts this machine lacks.
    "flask-modwsgi": "/",
    # Embedded mode: WSGIScriptAlias with no process group, to a script path ending in "/".
    "reviewboard": "/",
    # A relative WSGISocketPrefix run/wsgi (ServerRoot-relative, as on Red Hat).
    "fedora-ipsilon": "/idp",
    # display-name="httpd other": a quoted option value with a blank; eleven daemon groups.
    "fedora-copr-frontend": "/",
    # WSGIRestrictStdout, WSGIRestrictSignal and friends: the daemons' Python settings.
    "fedora-bodhi": "/",
}


def _marks(test, name):
    reason = KNOWN_FAILURES.get((test, name))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def _params(test, names):
    return [pytest.param(n, marks=_marks(test, n), id=n) for n in names]


def test_known_failures_name_corpus_files():
    names = set(real_configs.names())
    assert {n for _, n in KNOWN_FAILURES} <= names
    assert set(REFUSED_BY_MOD_WSGI) <= names
    assert set(SERVED) <= names
    assert not set(REFUSED_BY_MOD_WSGI) & {n for _, n in KNOWN_FAILURES}


@pytest.fixture
def sandbox():
    made = []

    def make(name):
        sb = real_configs.build(name)
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.cleanup()


@pytest.mark.parametrize(
    "name", _params("configtest", [n for n in real_configs.names()
                                   if n not in REFUSED_BY_MOD_WSGI]))
def test_configtest(sandbox, name):
    sb = sandbox(name)
    status, output = sb.instance.configtest()
    assert status == 0, f"httpd -t failed for {name}:\n{output}"


@pytest.mark.parametrize("name", sorted(REFUSED_BY_MOD_WSGI))
def test_configtest_refuses_what_mod_wsgi_refuses(sandbox, name):
    sb = sandbox(name)
    status, output = sb.instance.configtest()
    assert status != 0, f"httpd -t accepted {name}, which mod_wsgi refuses"
    assert REFUSED_BY_MOD_WSGI[name] in output


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("name", _params("serves", sorted(SERVED)))
def test_serves(sandbox, name):
    sb = sandbox(name)
    url = SERVED[name]
    route = sb.route(url)
    assert route is not None, f"no WSGI route for {url} in {sb.routes}"
    sb.instance.start()
    port = sb.port_for(route)
    scheme = "https" if port in sb.tls_ports else "http"
    target = f"{scheme}://127.0.0.1:{port}{url}"

    def answered():
        # A tuple, because a Response is false when its status is an error.
        try:
            return (requests.get(target, timeout=10, verify=False),)
        except requests.ConnectionError:
            return None

    (r,) = wait_for(answered, 30, interval=0.1, message=f"{target} to answer")
    expected = real_configs.hello_body(route.script, sb.root)
    assert (r.status_code, r.text) == (200, expected), \
        f"GET {target}: {r.status_code}\n{r.text[:500]}\n{sb.logs()}"
    sb.instance.stop()

