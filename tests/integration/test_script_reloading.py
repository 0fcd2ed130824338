"""Script reloading (WSGIScriptReloading On, mod_wsgi's default) through a real Apache: a
changed WSGI script file answers the next request with the new code, and every request after,
while the daemon processes that had the old version loaded are replaced (docs/porting.md,
docs/protocol.md "Script reloading"); also a request whose body the module cannot keep (over
64 KiB, or chunked), which waits behind the body gate. WSGIHandlerScript and hook scripts are
reloaded too; WSGIScriptReloading Off keeps the old code until a restart.
"""

import concurrent.futures
import os
import re
import shutil
import threading
import time

import pytest
import requests

from tests.support.apache import ApacheInstance, shared_tmpdir, wait_for
from tests.support.procs import daemons_of

pytestmark = pytest.mark.apache

SCRIPT = """\
import os
VERSION = {version!r}

def application(environ, start_response):
    body = "{{}} {{}} {{}}".format(VERSION, os.getpid(),
                                   environ.get("mod_wsgi.script_reloading"))
    size = int(environ.get("CONTENT_LENGTH") or 0)
    if environ.get("QUERY_STRING") == "unread":
        pass     # answers without reading the body
    elif size:
        body += " read {{}}".format(len(environ["wsgi.input"].read(size)))
    elif environ.get("wsgi.input_terminated") and "HTTP_TRANSFER_ENCODING" in environ:
        body += " read {{}}".format(len(environ["wsgi.input"].read()))   # a chunked body
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(data)))])
    return [data]

handle_request = application    # as a WSGIHandlerScript, mod_wsgi calls this one
"""

# A WSGIAccessScript: version v1 lets everyone in, any other version no one.
ACCESS_SCRIPT = """\
VERSION = {version!r}

def allow_access(environ, host):
    return VERSION == "v1"
"""

# process-group= with application-group= preloads the script (as in mod_wsgi): every process
# has the first version loaded before it takes a request.
SITE = """
WSGIDaemonProcess reload processes=2 threads=4
<Directory "{dir}">
    Require all granted
</Directory>
WSGIScriptAlias /get "{dir}/get.wsgi" process-group=reload application-group=%{GLOBAL}
WSGIScriptAlias /post "{dir}/post.wsgi" process-group=reload application-group=%{GLOBAL}
WSGIScriptAlias /big "{dir}/big.wsgi" process-group=reload application-group=%{GLOBAL}
WSGIScriptAlias /load "{dir}/load.wsgi" process-group=reload application-group=%{GLOBAL}
WSGIScriptAlias /off "{dir}/off.wsgi" process-group=reload application-group=%{GLOBAL}
<Location /off>
    WSGIScriptReloading Off
</Location>
<Location /big>
    WSGIChunkedRequest On
</Location>
WSGIHandlerScript reload-handler "{dir}/handler.wsgi" process-group=reload
WSGIScriptAlias /guarded "{dir}/guarded.wsgi" process-group=reload application-group=%{GLOBAL}
<Location /guarded>
    WSGIAccessScript "{dir}/access.wsgi" process-group=reload
</Location>
Alias /pages "{dir}/pages"
<Directory "{dir}/pages">
    SetHandler reload-handler
    Require all granted
</Directory>
"""
NAMES = ("get", "post", "big", "load", "off", "handler", "guarded", "access")


class Site:
    def __init__(self):
        self.dir = shared_tmpdir()
        self.generation = 0
        for name in NAMES:
            self.write(name, "v1")
        os.mkdir(os.path.join(self.dir, "pages"))
        os.chmod(os.path.join(self.dir, "pages"), 0o755)
        with open(os.path.join(self.dir, "pages", "index.page"), "w") as page:
            page.write("a page the handler script serves\n")
        os.chmod(os.path.join(self.dir, "pages", "index.page"), 0o644)
        self.inst = ApacheInstance(SITE.replace("{dir}", self.dir), extra_modules=("alias",))

    def write(self, name, version):
        """Replace the script with `version`, as a deploy tool does (a new file renamed over
        the old one); its mtime moves on by a whole second each time, so that the change never
        hides inside the file system's timestamp granularity."""
        path = os.path.join(self.dir, f"{name}.wsgi")
        with open(path + ".new", "w") as f:
            template = ACCESS_SCRIPT if name == "access" else SCRIPT
            f.write(template.format(version=version))
        os.chmod(path + ".new", 0o644)
        self.generation += 1
        stamp = time.time_ns() + self.generation * 1_000_000_000
        os.utime(path + ".new", ns=(stamp, stamp))
        os.rename(path + ".new", path)

    def get(self, name, **kwargs):
        url = "/pages/index.page" if name == "handler" else f"/{name}/"
        r = requests.request(kwargs.pop("method", "GET"), self.inst.url(url),
                             timeout=30, **kwargs)
        assert r.status_code == 200, (r.status_code, self.inst.error_log()[-3000:])
        version, pid, reloading, *rest = r.text.split()
        return version, int(pid), reloading, rest

    def daemon_pids(self):
        return {p.pid for p in daemons_of(self.inst)}

    def ready_pids(self):
        """The live daemon processes that have said they serve (their scripts are preloaded)."""
        serving = {int(pid) for pid in re.findall(
            r"\[pid (\d+):tid \d+\] wsgid \(group reload\): daemon process serving", self.inst.error_log())}
        live = self.daemon_pids()
        return live if live <= serving else set()

    def wait_for_two_daemons(self):
        """Both daemon processes, once both serve: what they loaded, they loaded by now."""
        return wait_for(lambda: (lambda pids: pids if len(pids) == 2 else None)(
            self.ready_pids()), 30, message="two daemon processes serving")


@pytest.fixture(scope="module")
def site():
    made = Site()
    try:
        made.inst.start()
        made.wait_for_two_daemons()
        yield made
    finally:
        made.inst.cleanup()
        shutil.rmtree(made.dir, ignore_errors=True)


def test_the_request_after_a_change_is_answered_by_the_new_code(site):
    old_pids = site.wait_for_two_daemons()
    assert site.get("get")[:1] == ("v1",)
    site.write("get", "v2")
    version, pid, reloading, _ = site.get("get")
    assert (version, reloading) == ("v2", "1")
    assert all(site.get("get")[0] == "v2" for _ in range(20))
    # The processes that had v1 loaded are replaced, one after the other (staggered).
    wait_for(lambda: not (site.daemon_pids() & old_pids) and len(site.daemon_pids()) == 2, 30,
             message=f"the daemon processes with the old script ({old_pids}) to go")
    log = site.inst.error_log()
    assert "changed since it was loaded" in log and "script_changed" in log


def test_a_changed_handler_script_answers_the_next_request_with_new_code(site):
    # mod_wsgi checks a WSGIHandlerScript's script for changes at each request too
    site.wait_for_two_daemons()
    assert site.get("handler")[:1] == ("v1",)
    site.write("handler", "v2")
    version, _, reloading, _ = site.get("handler")
    assert (version, reloading) == ("v2", "1")
    assert all(site.get("handler")[0] == "v2" for _ in range(10))


def test_a_changed_hook_script_decides_the_next_request(site):
    # mod_wsgi loads a changed hook script again; the daemon processes are not replaced for it
    site.wait_for_two_daemons()
    pids = site.daemon_pids()
    assert site.get("guarded")[0] == "v1"
    site.write("access", "v2")
    answer = requests.get(site.inst.url("/guarded/"), timeout=30)
    assert answer.status_code == 403, answer.status_code
    site.write("access", "v1")
    assert site.get("guarded")[0] == "v1"
    assert site.daemon_pids() == pids
    assert "access.wsgi changed since it was loaded: loaded it again" in site.inst.error_log()


def test_a_post_with_a_small_body_is_sent_again_whole_to_the_new_code(site):
    site.wait_for_two_daemons()
    assert site.get("post", method="POST", data=b"x" * 1000)[0] == "v1"
    site.write("post", "v2")
    version, _, _, rest = site.get("post", method="POST", data=b"y" * 60000)
    assert (version, rest) == ("v2", ["read", "60000"])


def test_a_body_too_large_to_keep_waits_for_a_process_with_the_new_code(site):
    # mod_wsgid holds a body it cannot keep until the daemon says go, which a process with the
    # old script never says: mod_wsgi's round trip, paid by these requests only
    site.wait_for_two_daemons()
    assert site.get("big", method="POST", data=b"z" * 100_000)[::3] == ("v1", ["read", "100000"])
    site.write("big", "v2")
    version, _, _, rest = site.get("big", method="POST", data=b"z" * 100_000)
    assert (version, rest) == ("v2", ["read", "100000"])
    # a chunked body, whose length nobody knows beforehand, the same
    site.write("big", "v3")
    version, _, _, rest = site.get("big", method="POST", data=iter([b"c" * 70_000, b"d" * 9]))
    assert (version, rest) == ("v3", ["read", "70009"])
    # an application that answers without reading the body: its answer may come right behind
    # the daemon's go, in one read of the module's
    answers = [site.get("big", method="POST", data=b"u" * 200_000, params="unread")
               for _ in range(5)]
    assert all(version == "v3" and rest == [] for version, _, _, rest in answers)
    assert "cannot send" not in site.inst.error_log()


def test_requests_under_load_during_a_change_all_succeed_and_none_after_it_is_old(site):
    site.wait_for_two_daemons()
    answers = []             # (started after the change, version), from every client
    lock = threading.Lock()
    changed = threading.Event()

    def client():
        # Until 150 requests have started after the change (bounded: 3000 in all).
        for _ in range(3000):
            with lock:
                if sum(after for after, _ in answers) >= 150:
                    return
            after = changed.is_set()
            version = site.get("load")[0]
            with lock:
                answers.append((after, version))

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        clients = [pool.submit(client) for _ in range(6)]
        wait_for(lambda: len(answers) >= 60, 30, message="load on the old code")
        site.write("load", "v2")
        changed.set()
        for c in clients:
            c.result()      # re-raises a failed request
    before = {version for after, version in answers if not after}
    after = {version for after, version in answers if after}
    assert before == {"v1"} or before == {"v1", "v2"}, before
    assert after == {"v2"}, after


def test_script_reloading_off_keeps_the_loaded_code(site):
    site.wait_for_two_daemons()
    pids = site.daemon_pids()
    assert site.get("off")[::2] == ("v1", "0")
    site.write("off", "v2")
    for _ in range(10):
        version, pid, reloading, _ = site.get("off")
        assert (version, reloading) == ("v1", "0")
    assert site.daemon_pids() == pids
