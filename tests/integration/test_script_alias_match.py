"""WSGIScriptAliasMatch through a real Apache: `$N` choosing the script, SCRIPT_NAME/PATH_INFO
split where the match ends, the preload of a target without `$N`, and traversal attempts that
must load nothing outside the target's directory.

Every script writes a marker file when it is imported (its name, pid and time), so "nothing was
loaded" is observed, not assumed.
"""

import os
import pwd
import re
import shutil
import time

import pytest
import requests

from tests.support.apache import APACHE_USER, RUNNING_AS_ROOT, shared_tmpdir, wait_for
from tests.support.procs import daemons_of, run_as, wait_for_daemons
from tests.support.wire import raw_http, unix_exchange, uwsgi_packet

pytestmark = pytest.mark.apache

SCRIPT = """\
import json, os, time
NAME = {name!r}
with open(os.path.join({marks!r}, NAME + "." + str(os.getpid())), "w") as f:
    f.write(repr(time.time()))
IMPORTS = globals().get("IMPORTS", 0) + 1

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({{"name": NAME, "pid": os.getpid(), "imports": IMPORTS,
                        "script_name": environ["SCRIPT_NAME"],
                        "path_info": environ["PATH_INFO"]}}).encode()]
"""

SITE = """
<Directory "{work}">
    Require all granted
</Directory>
WSGIDaemonProcess site processes=1 threads=4
WSGIScriptAliasMatch ^/apps/([^/]+) "{work}/apps/$1.wsgi" process-group=site
WSGIScriptAliasMatch ^/dots/a(.*)b "{work}/apps/$1/secret.wsgi" process-group=site
WSGIScriptAliasMatch ^/pre "{work}/pre.wsgi" process-group=site application-group=%{{GLOBAL}}
WSGIScriptAlias /plain "{work}/plain.wsgi" process-group=site application-group=%{{GLOBAL}}
WSGIScriptAlias /lazy "{work}/lazy.wsgi" process-group=site
"""


def write_script(path, name, marks):
    with open(path, "w") as f:
        f.write(SCRIPT.format(name=name, marks=marks))


@pytest.fixture
def work():
    """apps/one.wsgi and apps/two.wsgi (the $1 targets), pre.wsgi (preloaded), and outside the
    apps directory secret.wsgi, which apps/escape.wsgi links to."""
    root = shared_tmpdir()
    marks = os.path.join(root, "marks")
    os.mkdir(marks)
    os.chmod(marks, 0o777)           # the daemon user writes the markers
    os.mkdir(os.path.join(root, "apps"))
    os.chmod(os.path.join(root, "apps"), 0o755)
    for name in ("one", "two"):
        write_script(os.path.join(root, "apps", name + ".wsgi"), name, marks)
    write_script(os.path.join(root, "pre.wsgi"), "pre", marks)
    write_script(os.path.join(root, "plain.wsgi"), "plain", marks)
    write_script(os.path.join(root, "lazy.wsgi"), "lazy", marks)
    write_script(os.path.join(root, "secret.wsgi"), "secret", marks)
    os.symlink(os.path.join(root, "secret.wsgi"), os.path.join(root, "apps", "escape.wsgi"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def markers(work, name):
    return sorted(n for n in os.listdir(os.path.join(work, "marks"))
                  if n.startswith(name + "."))


@pytest.fixture
def site(apache, work):
    inst = apache(SITE.format(work=work))
    inst.start()
    wait_for_daemons(inst, 1)
    return inst


def raw_get(inst, target):
    """The status Apache answers to the request target exactly as given."""
    status_line, _ = raw_http(inst.port, f"GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
                              .encode("latin-1"))
    return int(status_line.split(b" ", 2)[1])


def test_dollar_one_chooses_the_script_and_script_name_ends_where_the_match_ends(site):
    one = requests.get(site.url("/apps/one/x/y"), timeout=10)
    two = requests.get(site.url("/apps/two"), timeout=10)
    assert one.status_code == 200, site.error_log()[-2000:]
    assert (one.json()["name"], one.json()["script_name"], one.json()["path_info"]) == \
        ("one", "/apps/one", "/x/y")
    assert two.status_code == 200
    assert (two.json()["name"], two.json()["script_name"], two.json()["path_info"]) == \
        ("two", "/apps/two", "")


def test_a_target_without_dollar_n_and_both_options_is_preloaded(site, work):
    # The import side effect happens with no request sent at all.
    (daemon,) = daemons_of(site)
    wait_for(lambda: markers(work, "pre"), 15, message="the preload marker")
    assert markers(work, "pre") == [f"pre.{daemon.pid}"]
    with open(os.path.join(work, "marks", f"pre.{daemon.pid}")) as f:
        imported_at = float(f.read())
    sent_at = time.time()
    r = requests.get(site.url("/pre/z"), timeout=10)
    assert r.status_code == 200
    assert imported_at < sent_at
    # The first request finds it loaded: same process, imported once.
    assert r.json() == {"name": "pre", "pid": daemon.pid, "imports": 1,
                        "script_name": "/pre", "path_info": "/z"}
    # ... because the module told the daemons to, in the generated configuration.
    with open(os.path.join(site.root, "run", f"wsgid.{site.pid()}.conf")) as f:
        generated = f.read()
    assert f"WSGIImportScript {work}/pre.wsgi process-group=site " \
           "application-group=%{GLOBAL}" in generated
    assert f"WSGIScriptAliasMatch ^/apps/([^/]+) {work}/apps/$1.wsgi process-group=site" \
        in generated


def test_a_plain_script_alias_with_both_options_is_preloaded_too(site, work):
    """As since mod_wsgi 3.0: WSGIScriptAlias with process-group= and application-group=."""
    (daemon,) = daemons_of(site)
    wait_for(lambda: markers(work, "plain"), 15, message="the preload marker")
    assert markers(work, "plain") == [f"plain.{daemon.pid}"]
    # Without application-group= the script loads on its first request only.
    assert markers(work, "lazy") == []
    r = requests.get(site.url("/plain"), timeout=10)
    assert r.json()["imports"] == 1
    assert requests.get(site.url("/lazy"), timeout=10).status_code == 200
    assert markers(work, "lazy") == [f"lazy.{daemon.pid}"]


def test_a_target_with_dollar_n_is_not_preloaded(site, work):
    wait_for(lambda: markers(work, "pre"), 15, message="the preload marker")
    assert markers(work, "one") == [] and markers(work, "two") == []
    assert requests.get(site.url("/apps/one"), timeout=10).status_code == 200
    assert len(markers(work, "one")) == 1


@pytest.mark.parametrize("target", [
    "/apps/../secret.wsgi",          # Apache removes the dot segment: no alias matches
    "/apps/%2e%2e/secret",           # ... also when the dots are encoded
    "/apps/..%2Fsecret",             # an encoded slash is refused by Apache itself
    "/apps/secret%00",               # so is an encoded NUL
    "/dots/a..b",                    # $1 is '..': the module refuses the path it makes
    "/dots/a%2e%2eb",                # the same with encoded dots
    "/apps/escape",                  # a symlink in the target directory that points outside
])
def test_traversal_attempts_are_refused_and_load_nothing(site, work, target):
    status = raw_get(site, target)
    assert status in (403, 404), (target, status)
    # The daemon is alive and serving, and no script outside apps/ was ever imported.
    assert requests.get(site.url("/apps/two"), timeout=10).status_code == 200
    assert markers(work, "secret") == []


def test_refusals_by_the_module_are_one_log_line_each(site, work):
    before = site.error_log()
    assert raw_get(site, "/dots/a..b") == 404
    assert raw_get(site, "/apps/escape") == 404
    new = site.error_log()[len(before):]
    lines = [line for line in new.splitlines() if "WSGIScriptAliasMatch at" in line]
    assert len(lines) == 2, new
    assert "'.' or '..' segment" in lines[0]
    assert re.search(r"resolves to \S*/secret\.wsgi, outside \S*/apps", lines[1]), lines[1]
    assert markers(work, "secret") == []


def test_an_unknown_script_name_is_404(site, work):
    assert requests.get(site.url("/apps/nosuch"), timeout=10).status_code == 404
    assert markers(work, "secret") == []


def daemon_status(inst, script_filename):
    """The status a daemon answers to a packet that names script_filename, sent straight to
    its socket as the Apache user: what a forged packet gets, with no Apache checks before."""
    run = os.path.join(inst.root, "run")
    (path,) = [os.path.join(run, n) for n in os.listdir(run) if n.endswith(".sock")]
    packet = uwsgi_packet({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/",
                           "SERVER_NAME": "x", "SERVER_PORT": "80",
                           "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_FILENAME": script_filename})
    user = pwd.getpwnam(APACHE_USER)
    reply = run_as(user.pw_uid, user.pw_gid, unix_exchange, path, packet)
    return int(reply.split(b" ", 2)[1])


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="needs root to act as the Apache user")
def test_the_daemon_itself_accepts_only_files_the_match_can_make(site, work):
    with open(os.path.join(work, "apps", "helper.py"), "w") as f:
        f.write("raise SystemExit('helper.py must never be imported')\n")
    assert daemon_status(site, f"{work}/apps/one.wsgi") == 200
    for forged in (f"{work}/secret.wsgi",            # outside the target directory
                   f"{work}/apps/../secret.wsgi",    # the same, spelled from inside
                   f"{work}/apps/escape.wsgi",       # has the target's form, links outside
                   f"{work}/apps/helper.py"):        # inside, but not of the form $1.wsgi
        assert daemon_status(site, forged) == 404, forged
    assert markers(work, "secret") == []
    assert "helper.py must never be imported" not in site.error_log()


CONFIGTEST_CASES = [
    ('WSGIScriptAliasMatch "^/(" "{work}/apps/$1.wsgi"\n', "is not a valid regular expression"),
    ('WSGIScriptAliasMatch ^/(.*) "/$1"\n', "substitutes into the root directory"),
    ('WSGIScriptAliasMatch ^/(.*) relative/$1.wsgi\n', "absolute TARGET"),
    ('WSGIScriptAliasMatch ^/(.*) "{work}/apps/$1.wsgi" request-timeout=5\n',
     "WSGIScriptAliasMatch: unknown option 'request-timeout=5'"),
    ('WSGIScriptAliasMatch ^/(.*) "{work}/apps/$1.wsgi" process-group=nosuch\n',
     "WSGIScriptAliasMatch process-group=nosuch"),
    ('WSGIScriptAliasMatch ^/(.*) "{work}/missing/$1.wsgi" process-group=site\n',
     "does not exist"),
]


@pytest.mark.parametrize("line,message", CONFIGTEST_CASES)
def test_configuration_mistakes_fail_configtest(apache, work, line, message):
    inst = apache("WSGIDaemonProcess site processes=1 threads=1\n" + line.format(work=work))
    rc, output = inst.configtest()
    assert rc != 0, output
    assert message in output, output
    assert "WSGIScriptAliasMatch" in output
