"""Values a mod_wsgi configuration writes that mod_wsgi reads in its own way, through a real
Apache: what the application then sees must be what it saw under mod_wsgi (docs/porting.md,
"How values are read").

- `application-group=%{GROUP}` (an unknown `%{...}`, often a slip for `%{GLOBAL}`): mod_wsgi
  takes it as a literal name, and serves.
- `WSGIScriptAlias /x /path/app.wsgi/extra`: mod_wsgi sets the file name to the target plus the
  rest of the URL, and Apache's directory walk stops at the script file, so the part of the
  target after the file comes before the URL's own PATH_INFO.

One Apache serves every test here (module scope).
"""

import os
import shutil

import pytest
import requests

from tests.support.apache import ApacheInstance, shared_tmpdir
from tests.support.procs import wait_for_daemons

pytestmark = pytest.mark.apache

# Answers every path with what the application was told about it.
PATHS_SCRIPT = '''\
import json


def application(environ, start_response):
    body = json.dumps({key: environ.get(key) for key in (
        "SCRIPT_NAME", "PATH_INFO", "SCRIPT_FILENAME", "mod_wsgi.application_group",
        "wsgid.application_group")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

SITE = """
WSGIDaemonProcess site processes=1 threads=4
WSGIScriptAlias /group "{apps}/echo.wsgi" process-group=site application-group=%{GROUP}
WSGIScriptAlias /x "{sandbox}/paths.wsgi/extra" process-group=site
WSGIScriptAlias /y "{sandbox}/paths.wsgi" process-group=site
<Directory "{sandbox}">
    Require all granted
</Directory>
"""


@pytest.fixture(scope="module")
def sandbox():
    path = shared_tmpdir()
    try:
        with open(os.path.join(path, "paths.wsgi"), "w") as f:
            f.write(PATHS_SCRIPT)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def site(sandbox):
    inst = ApacheInstance(SITE.replace("{sandbox}", sandbox))
    try:
        inst.start()
        wait_for_daemons(inst, 1)
        yield inst
    finally:
        inst.cleanup()


def get(site, path):
    return requests.get(site.url(path), timeout=10)


# --- an unknown %{...} application group is a literal name --------------------------------

def test_an_unknown_expansion_in_application_group_serves(site):
    r = get(site, "/group/hello")
    assert (r.status_code, r.text) == (200, "Hello, world!\n")


def test_the_application_group_is_the_name_as_written(site):
    environ = get(site, "/group/environ").json()
    assert environ["mod_wsgi.application_group"] == "%{GROUP}"
    assert environ["wsgid.application_group"] == "%{GROUP}"


# --- a WSGIScriptAlias target that goes on past the script file --------------------------

def test_the_rest_of_the_target_comes_before_the_urls_path_info(site, sandbox):
    # mod_wsgi: r->filename = ".../paths.wsgi/extra" + "/hello"; the directory walk stops at
    # paths.wsgi and leaves "/extra/hello" as path_info; SCRIPT_NAME is what of the URL
    # path_info does not account for (ap_find_path_info): "/x".
    r = get(site, "/x/hello")
    assert r.status_code == 200, r.text
    seen = r.json()
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/x", "/extra/hello")
    assert seen["SCRIPT_FILENAME"] == os.path.join(sandbox, "paths.wsgi")


def test_the_mount_point_itself_gets_the_rest_of_the_target_as_path_info(site):
    seen = get(site, "/x").json()
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/x", "/extra")


def test_the_same_file_as_a_plain_target_has_no_extra_path_info(site):
    # The control: without the extra part, PATH_INFO is the URL's own rest.
    seen = get(site, "/y/hello").json()
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/y", "/hello")
