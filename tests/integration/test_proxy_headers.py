"""WSGITrustedProxyHeaders and WSGITrustedProxies through a real Apache, as mod_wsgi applies
them (docs/porting.md): a trusted peer's listed headers set REMOTE_ADDR, the scheme, the host
and SCRIPT_NAME; every other header of a listed kind, and all of them from a peer that is not a
trusted proxy, are removed before the application sees the request.
"""

import pytest
import requests

from tests.support.apache import ApacheInstance

pytestmark = pytest.mark.apache

SITE = """
WSGIDaemonProcess site processes=1 threads=2
WSGIScriptAlias /trusted "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /untrusted "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /chain "{apps}/echo.wsgi" process-group=site
WSGIScriptAlias /plain "{apps}/echo.wsgi" process-group=site
<Location /trusted>
    WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto X-Forwarded-Host X-Script-Name
</Location>
<Location /untrusted>
    WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto
    WSGITrustedProxies 10.0.0.0/8
</Location>
<Location /chain>
    WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-HTTPS
    WSGITrustedProxies 127.0.0.1 192.0.2.0/24
</Location>
"""

PROXIED = {"X-Forwarded-For": "203.0.113.7, 198.51.100.2", "X-Real-IP": "192.0.2.99",
           "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example",
           "X-Script-Name": "/shop"}


@pytest.fixture(scope="module")
def site():
    inst = ApacheInstance(SITE)
    try:
        inst.start()
        yield inst
    finally:
        inst.cleanup()


def environ(site, path, headers):
    r = requests.get(site.url(path), headers=headers, timeout=10)
    assert r.status_code == 200, site.error_log()[-2000:]
    return r.json()


def test_a_trusted_peers_listed_headers_set_the_request_as_the_proxy_saw_it(site):
    seen = environ(site, "/trusted/environ", PROXIED)
    assert seen["REMOTE_ADDR"] == "203.0.113.7"            # the first entry: the client
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["HTTP_HOST"] == "shop.example"
    assert seen["SCRIPT_NAME"] == "/shop"
    assert seen["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 198.51.100.2"
    assert "HTTP_X_REAL_IP" not in seen                     # same kind, not listed: removed


def test_a_peer_that_is_not_a_trusted_proxy_loses_the_listed_kinds_of_header(site):
    seen = environ(site, "/untrusted/environ", PROXIED)
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["wsgi.url_scheme"] == "http"
    for removed in ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_X_FORWARDED_PROTO"):
        assert removed not in seen
    assert seen["HTTP_X_FORWARDED_HOST"] == "shop.example"  # a kind not listed: left alone


def test_forwarded_for_skips_trusted_proxies_from_its_end(site):
    seen = environ(site, "/chain/environ",
                   {"X-Forwarded-For": "203.0.113.7, 192.0.2.10", "X-Forwarded-HTTPS": "on"})
    assert seen["REMOTE_ADDR"] == "203.0.113.7"
    assert seen["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 192.0.2.10"
    assert seen["wsgi.url_scheme"] == "https"
    # the last entry is no trusted proxy: it is the client, and the list keeps only it
    seen = environ(site, "/chain/environ", {"X-Forwarded-For": "203.0.113.7, 198.51.100.9"})
    assert seen["REMOTE_ADDR"] == "198.51.100.9"
    assert seen["HTTP_X_FORWARDED_FOR"] == "198.51.100.9"


def test_without_the_directives_headers_reach_the_application_as_sent(site):
    seen = environ(site, "/plain/environ", PROXIED)
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 198.51.100.2"
    assert seen["wsgi.url_scheme"] == "http"


@pytest.mark.parametrize("line, message", [
    ("WSGITrustedProxies 10.0.0.0/8 proxy.example",
     "WSGITrustedProxies: 'proxy.example' is not an IP address or network"),
    ("WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Prot",
     "WSGITrustedProxyHeaders: 'X-Forwarded-Prot' is not a proxy header it knows"),
])
def test_a_bad_value_fails_configtest_naming_the_directive(apache, line, message):
    inst = apache(line + "\n")
    rc, output = inst.configtest()
    assert rc != 0 and message in output, output
