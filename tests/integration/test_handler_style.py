"""Handler-style deployments through a real Apache: `AddHandler wsgi-script .wsgi` or
`SetHandler wsgi-script` with `Options ExecCGI` in a <Directory> (or in .htaccess), reached
through Alias or DocumentRoot, the group chosen by WSGIProcessGroup there; and
WSGIHandlerScript, whose handle_request() serves the files mapped to its handler name
(docs/porting.md).

The daemons load such a script only from a <Directory> the configuration lets run them
(WSGIScriptDirectory in the daemon file); every script here writes a marker when imported, so
"never loaded" is observed, not assumed.
"""

import os
import pwd

import pytest
import requests

from tests.support.apache import APACHE_USER, RUNNING_AS_ROOT, ApacheInstance
from tests.support.procs import run_as, wait_for_daemons
from tests.support.wire import unix_exchange, uwsgi_packet

pytestmark = pytest.mark.apache

SCRIPT = """\
import os
with open(os.path.join({marks!r}, {name!r} + "." + str(os.getpid())), "w"):
    pass


def application(environ, start_response):
    body = "{name} " + environ["mod_wsgi.process_group"] + " " + environ["SCRIPT_NAME"] + " " \\
        + environ.get("PATH_INFO", "") + "\\n"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
"""

# A WSGIHandlerScript: mod_wsgi calls handle_request() with the mapped file as SCRIPT_FILENAME.
PAGE_HANDLER = """\
def handle_request(environ, start_response):
    with open(environ["SCRIPT_FILENAME"]) as f:
        page = f.read()
    body = (environ["mod_wsgi.process_group"] + " " + environ["mod_wsgi.handler_script"]
            + " " + page)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
"""

SITE = """
TypesConfig /etc/mime.types
WSGIDaemonProcess site processes=1 threads=2
WSGIDaemonProcess other processes=1 threads=2

DocumentRoot "{work}/docroot"
<Directory "{work}/docroot">
    Options +ExecCGI
    AddHandler wsgi-script .wsgi
    Require all granted
</Directory>

Alias /h "{work}/handler"
<Directory "{work}/handler">
    Options ExecCGI
    AddHandler wsgi-script .wsgi
    WSGIProcessGroup site
    Require all granted
</Directory>

Alias /set "{work}/sethandler"
<Directory "{work}/sethandler">
    Options +ExecCGI
    SetHandler wsgi-script
    WSGIProcessGroup other
    Require all granted
</Directory>

Alias /ht "{work}/htaccess"
<Directory "{work}/htaccess">
    AllowOverride FileInfo Options
    WSGIProcessGroup site
    Require all granted
</Directory>

WSGIHandlerScript page-handler "{work}/page_handler.py" process-group=other
Alias /pages "{work}/pages"
<Directory "{work}/pages">
    AddHandler page-handler .page
    Require all granted
</Directory>

Alias /noexec "{work}/noexec"
<Directory "{work}/noexec">
    AddHandler wsgi-script .wsgi
    WSGIProcessGroup site
    Require all granted
</Directory>
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture(scope="module")
def site():
    inst = ApacheInstance("", extra_modules=("alias", "mime"))
    try:
        work = os.path.join(inst.root, "work")   # removed with the instance
        marks = os.path.join(work, "marks")
        os.mkdir(work)
        os.chmod(work, 0o755)
        for sub in ("handler", "sethandler", "htaccess", "noexec", "pages", "docroot", "marks"):
            os.mkdir(os.path.join(work, sub))
            os.chmod(os.path.join(work, sub), 0o777 if sub == "marks" else 0o755)
        for sub, name in (("handler", "app.wsgi"), ("handler", "second.wsgi"),
                          ("sethandler", "any.py"), ("htaccess", "ht.wsgi"),
                          ("noexec", "hidden.wsgi"), ("docroot", "root.wsgi")):
            write(os.path.join(work, sub, name), SCRIPT.format(marks=marks, name=name))
        write(os.path.join(work, "handler", "notes.txt"), "plain text\n")
        write(os.path.join(work, "page_handler.py"), PAGE_HANDLER)
        write(os.path.join(work, "pages", "index.page"), "a page of markup\n")
        write(os.path.join(work, "htaccess", ".htaccess"),
              "Options +ExecCGI\nAddHandler wsgi-script .wsgi\n")
        inst.write_config(SITE.replace("{work}", work), extra_modules=("alias", "mime"))
        inst.start()
        wait_for_daemons(inst, 3)   # site, other, and wsgid-default for the DocumentRoot
        inst.work, inst.marks = work, marks
        yield inst
    finally:
        inst.cleanup()


def get(site, path):
    return requests.get(site.url(path), timeout=10)


def loaded(site, name):
    return any(mark.startswith(name + ".") for mark in os.listdir(site.marks))


def test_addhandler_in_a_directory_with_execcgi_serves_the_script_in_its_group(site):
    r = get(site, "/h/app.wsgi/more/path")
    assert r.status_code == 200, site.error_log()[-2000:]
    assert r.text == "app.wsgi site /h/app.wsgi /more/path\n"
    assert get(site, "/h/second.wsgi").text == "second.wsgi site /h/second.wsgi \n"


def test_a_script_under_documentroot_with_no_group_runs_in_the_default_group(site):
    r = get(site, "/root.wsgi/x")
    assert r.status_code == 200, site.error_log()[-2000:]
    assert r.text == "root.wsgi wsgid-default /root.wsgi /x\n"


def test_other_files_of_the_directory_are_served_by_apache_as_before(site):
    assert get(site, "/h/notes.txt").text == "plain text\n"


def test_sethandler_maps_every_file_and_its_group_is_the_sections(site):
    r = get(site, "/set/any.py")
    assert r.status_code == 200, site.error_log()[-2000:]
    assert r.text == "any.py other /set/any.py \n"


def test_htaccess_can_turn_a_directory_into_a_handler_directory(site):
    r = get(site, "/ht/ht.wsgi")
    assert r.status_code == 200, site.error_log()[-2000:]
    assert r.text == "ht.wsgi site /ht/ht.wsgi \n"


def test_without_execcgi_the_script_is_refused_403_and_never_loaded(site):
    r = get(site, "/noexec/hidden.wsgi")
    assert r.status_code == 403
    assert "Options ExecCGI is off in this directory" in site.error_log()
    assert not loaded(site, "hidden.wsgi")


def test_the_daemon_configuration_names_only_the_directories_that_can_run_scripts(site):
    run = os.path.join(site.root, "run")
    (conf,) = [n for n in os.listdir(run) if n.endswith(".conf")]
    with open(os.path.join(run, conf)) as f:
        lines = [line for line in f if line.startswith("WSGIScriptDirectory")]
    work = site.work
    assert sorted(lines) == sorted([
        f"WSGIScriptDirectory {work}/docroot\n",
        f"WSGIScriptDirectory {work}/handler process-group=site\n",
        f"WSGIScriptDirectory {work}/htaccess process-group=site\n",
        f"WSGIScriptDirectory {work}/sethandler process-group=other\n",
    ])


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="needs root to act as the Apache user")
def test_a_forged_packet_cannot_load_a_script_outside_the_handler_directories(site):
    # Sent straight to the daemon socket as the Apache user, with no Apache checks before.
    run = os.path.join(site.root, "run")
    (path,) = [os.path.join(run, n) for n in os.listdir(run) if n.endswith(".site.sock")]

    def status(script_filename):
        packet = uwsgi_packet({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/",
                               "SERVER_NAME": "x", "SERVER_PORT": "80",
                               "SERVER_PROTOCOL": "HTTP/1.1",
                               "SCRIPT_FILENAME": script_filename})
        user = pwd.getpwnam(APACHE_USER)
        reply = run_as(user.pw_uid, user.pw_gid, unix_exchange, path, packet)
        return int(reply.split(b" ", 2)[1])

    assert status(f"{site.work}/handler/app.wsgi") == 200
    assert status(f"{site.work}/noexec/hidden.wsgi") == 404
    assert status(f"{site.work}/handler/../noexec/hidden.wsgi") == 404
    assert not loaded(site, "hidden.wsgi")


def test_a_handler_script_serves_the_files_mapped_to_its_name(site):
    r = get(site, "/pages/index.page")
    assert r.status_code == 200, site.error_log()[-2000:]
    assert r.text == f"other {site.work}/page_handler.py a page of markup\n"


@pytest.mark.skipif(not RUNNING_AS_ROOT, reason="needs root to act as the Apache user")
def test_a_forged_packet_cannot_name_a_handler_script_the_configuration_does_not(site):
    run = os.path.join(site.root, "run")
    (path,) = [os.path.join(run, n) for n in os.listdir(run) if n.endswith(".other.sock")]
    user = pwd.getpwnam(APACHE_USER)

    def status(handler):
        packet = uwsgi_packet({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/",
                               "SERVER_NAME": "x", "SERVER_PORT": "80",
                               "SERVER_PROTOCOL": "HTTP/1.1",
                               "SCRIPT_FILENAME": f"{site.work}/pages/index.page",
                               "wsgid.handler_script": handler})
        reply = run_as(user.pw_uid, user.pw_gid, unix_exchange, path, packet)
        return int(reply.split(b" ", 2)[1])

    assert status(f"{site.work}/page_handler.py") == 200
    assert status(f"{site.work}/noexec/hidden.wsgi") == 404
    assert not loaded(site, "hidden.wsgi")
