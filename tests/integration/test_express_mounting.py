"""start-server's mounting and static-site options, observed through a real Apache and daemons:
--mount-point, --directory-index, --directory-listing, --allow-override, --add-handler,
--rewrite-rules, --enable-sendfile, --socket-prefix, and --application-type static and paste.

One server carries every option the tests only read; the static site and the Paste Deploy
application need a server each (they change what the server runs).
"""

import glob
import os
import signal
import stat
import subprocess

import pytest
import requests

from wsgid import paths
from tests.support.apache import shared_tmpdir, wait_for
from tests.support.express import ExpressServer, write_file as write

SHOW_PATH = """\
def application(environ, start_response):
    body = "%s|%s" % (environ["SCRIPT_NAME"], environ["PATH_INFO"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
"""

# An --add-handler script in mod_wsgi's form: handle_request() serves SCRIPT_FILENAME (which,
# as under mod_wsgi, may name a file that does not exist: the script decides).
UPPERCASE_HANDLER = """\
import os


def handle_request(environ, start_response):
    if not os.path.isfile(environ["SCRIPT_FILENAME"]):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such note"]
    with open(environ["SCRIPT_FILENAME"], "rb") as f:
        body = f.read().upper()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""

# One that defines a WSGI application instead, as mod_wsgi-express's handler scripts may.
REVERSING_APPLICATION = """\
def application(environ, start_response):
    with open(environ["SCRIPT_FILENAME"], "rb") as f:
        body = f.read().strip()[::-1]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""

# Server-context rules: one redirect, one internal rewrite into the mounted application.
REWRITE_RULES = """\
RewriteRule ^/?old-page$ /app/new-page [R=301,L]
RewriteRule ^/?shortcut$ /app/long/way [PT,L]
"""

BIG_FILE_SIZE = 256 * 1024    # well over Apache's smallest sendfile() (256 bytes)


class Site:
    """The files the shared server's options point at."""

    def __init__(self):
        self.top = shared_tmpdir("wsgid-express-mounting-")
        self.app = os.path.join(self.top, "app", "show_path.wsgi")
        self.docs = os.path.join(self.top, "docs")
        self.sockets = os.path.join(self.top, "sockets")
        self.upper = os.path.join(self.top, "app", "upper.py")
        self.reverse = os.path.join(self.top, "app", "reverse.py")
        self.rules = os.path.join(self.top, "rewrite.conf")
        write(self.app, SHOW_PATH)
        write(self.upper, UPPERCASE_HANDLER)
        write(self.reverse, REVERSING_APPLICATION)
        write(self.rules, REWRITE_RULES)
        write(os.path.join(self.docs, "index.html"), "the front page\n")
        write(os.path.join(self.docs, "listed", "one.txt"), "one\n")
        write(os.path.join(self.docs, "listed", "two.txt"), "two\n")
        write(os.path.join(self.docs, "indexed", "index.html"), "an index page\n")
        write(os.path.join(self.docs, "notes", "readme.md"), "# read me\n")
        write(os.path.join(self.docs, "notes", "word.rev"), "stressed\n")
        # FileInfo directives in .htaccess take effect only with --allow-override FileInfo
        write(os.path.join(self.docs, "typed", ".htaccess"), "AddType text/x-wsgid-test .thing\n")
        write(os.path.join(self.docs, "typed", "a.thing"), "a thing\n")
        write(os.path.join(self.docs, "big.bin"), "x" * BIG_FILE_SIZE)

    def args(self):
        return ["--mount-point", "app",               # mod_wsgi-express adds the '/'
                "--document-root", self.docs,
                "--directory-index", "index.html",
                "--directory-listing",
                "--allow-override", "FileInfo",
                "--add-handler", ".md", self.upper,
                "--add-handler", "rev", self.reverse,  # the '.' is optional, as in AddHandler
                "--rewrite-rules", self.rules,
                "--enable-sendfile",
                "--enable-docs",
                "--socket-prefix", self.sockets]


@pytest.fixture(scope="module")
def site():
    made = Site()
    yield made
    subprocess.run(["rm", "-rf", made.top], check=False)


@pytest.fixture(scope="module")
def server(site):
    started = ExpressServer(site.args(), script=site.app)
    try:
        response = started.wait_until_serving("/app/")
        assert response.status_code == 200, started.diagnostics()
        yield started
    finally:
        started.cleanup()


def get(server, path, **kw):
    return requests.get(server.url(path), timeout=10, allow_redirects=False, **kw)


def test_mount_point_is_the_applications_script_name(server):
    assert get(server, "/app").text == "/app|"
    assert get(server, "/app/a/b").text == "/app|/a/b"
    assert get(server, "/application").status_code == 404     # a prefix of a segment is not it
    assert get(server, "/elsewhere").status_code == 404       # outside it: files only


def test_directory_index_serves_a_directorys_index_page(server):
    front = get(server, "/")
    assert front.status_code == 200 and front.text == "the front page\n"
    assert get(server, "/indexed/").text == "an index page\n"
    slash = get(server, "/indexed")
    assert slash.status_code == 301
    assert slash.headers["Location"] == server.url("/indexed/")


def test_directory_listing_lists_a_directory_without_an_index(server):
    listing = get(server, "/listed/")
    assert listing.status_code == 200
    assert "Index of /listed" in listing.text
    assert 'href="one.txt"' in listing.text and 'href="two.txt"' in listing.text


def test_allow_override_lets_htaccess_set_file_info(server):
    response = get(server, "/typed/a.thing")
    assert response.status_code == 200 and response.text == "a thing\n"
    assert response.headers["Content-Type"] == "text/x-wsgid-test"


def test_add_handler_serves_files_of_its_extension_through_the_script(server):
    page = get(server, "/notes/readme.md")
    assert page.status_code == 200 and page.text == "# READ ME\n"
    assert get(server, "/notes/word.rev").text == "desserts"   # a script's `application`
    missing = get(server, "/notes/missing.md")             # the script's answer, as mod_wsgi
    assert missing.status_code == 404 and missing.text == "no such note"


def test_rewrite_rules_see_every_request_first(server):
    moved = get(server, "/old-page")
    assert moved.status_code == 301
    assert moved.headers["Location"] == server.url("/app/new-page")
    assert get(server, "/shortcut").text == "/app|/long/way"


def test_socket_prefix_is_where_the_daemon_sockets_are(server, site):
    sockets = glob.glob(os.path.join(site.sockets, f"wsgi.*.localhost:{server.port}.sock"))
    assert len(sockets) == 1, os.listdir(site.sockets)
    assert stat.S_ISSOCK(os.stat(sockets[0]).st_mode)


def test_enable_sendfile_sends_static_files_with_sendfile(server):
    """strace on Apache's children: the file goes out in sendfile() calls."""
    children = [p.pid for p in server.apache_parent().children() if p.name() in
                ("apache2", "httpd")]
    trace = subprocess.Popen(["strace", "-f", "-e", "trace=sendfile", "-o", "/dev/stdout",
                              *(arg for pid in children for arg in ("-p", str(pid)))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        attached = []
        # strace says "Process N attached" on standard error once per thread it traces
        wait_for(lambda: "attached" in (attached.append(trace.stderr.readline()) or
                                        attached[-1]), 20, message="strace to attach")
        response = get(server, "/big.bin")
        assert response.status_code == 200 and len(response.content) == BIG_FILE_SIZE
    finally:
        trace.send_signal(signal.SIGINT)
        output, _ = trace.communicate(timeout=20)
    sent = [line for line in output.splitlines() if "sendfile(" in line]
    assert sent, output[-2000:]


# --- servers of their own -----------------------------------------------------------------

def test_enable_docs_serves_wsgids_documentation_as_text(server):
    docs = paths.documentation_directory()
    listing = get(server, "/__wsgi__/docs/")
    assert listing.status_code == 200
    assert all(name in listing.text for name in os.listdir(docs) if name.endswith(".md"))
    page = get(server, "/__wsgi__/docs/express.md")
    assert page.headers["Content-Type"] == "text/plain; charset=utf-8"
    with open(os.path.join(docs, "express.md"), "rb") as f:
        assert page.content == f.read()
    bare = get(server, "/__wsgi__/docs")
    assert bare.status_code == 301 and bare.headers["Location"].endswith("/__wsgi__/docs/")
    # the rest is the application's still
    assert get(server, "/app/__wsgi__").status_code == 200


def test_static_application_type_serves_a_directory_and_runs_no_daemons():
    top = shared_tmpdir("wsgid-express-static-")
    write(os.path.join(top, "site", "hello.txt"), "hello\n")
    write(os.path.join(top, "site", "sub", "x.txt"), "x\n")
    server = ExpressServer(["--application-type", "static", "--directory-listing"],
                           script=os.path.join(top, "site"))
    try:
        assert server.wait_until_serving("/hello.txt").text == "hello\n"
        listing = get(server, "/sub/")
        assert listing.status_code == 200 and 'href="x.txt"' in listing.text
        assert get(server, "/nothing-here").status_code == 404
        assert server.daemons() == []                 # no daemon group: nothing needs Python
        assert "WSGIDaemonProcess" not in open(os.path.join(server.server_root,
                                                            "httpd.conf")).read()
        assert "Files:" in server.output() and "(static, no application)" in server.output()
    finally:
        server.cleanup()
        subprocess.run(["rm", "-rf", top], check=False)


PASTE_INI = """\
[app:main]
use = call:pasteapp:make_app
greeting = hello from paste
"""

PASTE_APP = """\
def make_app(global_config, greeting):
    def application(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [greeting.encode()]
    return application
"""


def test_paste_application_type_loads_the_ini_file_with_paste_deploy():
    top = shared_tmpdir("wsgid-express-paste-")
    write(os.path.join(top, "pasteapp.py"), PASTE_APP)   # beside the .ini: first on sys.path
    write(os.path.join(top, "development.ini"), PASTE_INI)
    server = ExpressServer(["--application-type", "paste"],
                           script=os.path.join(top, "development.ini"))
    try:
        response = server.wait_until_serving("/")
        assert response.status_code == 200, server.diagnostics()
        assert response.text == "hello from paste"
        assert "(Paste Deploy)" in server.output()
    finally:
        server.cleanup()
        subprocess.run(["rm", "-rf", top], check=False)
