"""`SetHandler wsgid-health` through a real Apache: 200 while the group in scope has a process
ready, 503 with the state while it starts or backs off, 503 `down` when no supervisor answers;
never the application (docs/operations.md, "Health").

One Apache with three groups: `site` (healthy), `slow` (its preload waits for a file the test
creates, so it is starting for exactly as long as the test says) and `broken` (its preload raises,
so its starts fail and it backs off); and an external group whose supervisor is not running.
"""

import os
import shutil

import pytest
import requests

from tests.support.apache import APPS, ApacheInstance, shared_tmpdir, wait_for
from tests.support.external import external_supervisor

pytestmark = pytest.mark.apache

# A preload that waits (bounded) for the test's go: the group is starting until then.
SLOW_PRELOAD = """
import os, time
go = os.path.join(os.path.dirname(__file__), "go")
deadline = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.05)

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slow"]
"""

BROKEN_PRELOAD = "raise RuntimeError('this application cannot be imported')\n"

CONF = """
<Directory "{dir}">
    Require all granted
</Directory>
WSGIDaemonProcess site processes=1 threads=2
WSGIScriptAlias /app "{apps}/echo.wsgi" process-group=site
WSGIDaemonProcess slow processes=1 threads=1
WSGIScriptAlias /slow "{dir}/slow.wsgi" process-group=slow application-group=%{{GLOBAL}}
WSGIDaemonProcess broken processes=1 threads=1
WSGIScriptAlias /broken "{dir}/broken.wsgi" process-group=broken application-group=%{{GLOBAL}}
WSGIDaemonSocket gone {dir}/gone.sock connect-timeout=1
{locations}
"""

LOCATION = """<Location /healthz/{group}>
    SetHandler wsgid-health
    WSGIProcessGroup {group}
    Require all granted
</Location>"""


@pytest.fixture(scope="module")
def site():
    workdir = shared_tmpdir()
    os.chmod(workdir, 0o755)
    for name, text in (("slow.wsgi", SLOW_PRELOAD), ("broken.wsgi", BROKEN_PRELOAD)):
        with open(os.path.join(workdir, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(workdir, name), 0o644)
    locations = "\n".join(LOCATION.format(group=g) for g in ("site", "slow", "broken", "gone"))
    locations += ("\n<Location /healthz/none>\n    SetHandler wsgid-health\n"
                  "    Require all granted\n</Location>")
    inst = ApacheInstance(CONF.format(dir=workdir, apps=APPS, locations=locations))
    inst.dir = workdir
    inst.start()
    yield inst
    inst.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


def health(inst, group, method="GET"):
    r = requests.request(method, inst.url(f"/healthz/{group}"), timeout=10)
    is_json = r.content and r.headers.get("Content-Type") == "application/json"
    return r.status_code, (r.json() if is_json else None), r


def test_a_ready_group_is_200_with_its_counts_and_nothing_reaches_the_application(site):
    wait_for(lambda: health(site, "site")[0] == 200, 15, message="group 'site' ready")
    def served():
        return requests.get(site.url("/app/environ"), timeout=10).json()["mod_wsgi.total_requests"]
    before = served()
    status, doc, r = health(site, "site")
    assert status == 200
    assert doc == {"group": "site", "state": "ready", "processes": 1, "ready": 1,
                   "starting": 0, "stopping": 0}
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    assert int(r.headers["Content-Length"]) == len(r.content)
    # the daemon counted the two /app/environ requests, not the probe between them
    assert served() == before + 1


def test_head_has_the_status_without_a_body_and_other_methods_are_405(site):
    wait_for(lambda: health(site, "site")[0] == 200, 15, message="group 'site' ready")
    status, doc, r = health(site, "site", "HEAD")
    assert (status, r.content) == (200, b"")
    status, _, r = health(site, "site", "POST")
    assert status == 405 and "GET" in r.headers["Allow"]


def test_a_group_whose_preload_has_not_finished_is_503_starting_then_200(site):
    status, doc, _ = health(site, "slow")
    assert (status, doc["state"], doc["ready"], doc["starting"]) == (503, "starting", 0, 1)
    with open(os.path.join(site.dir, "go"), "w"):
        pass
    status, doc, _ = wait_for(lambda: (lambda h: h if h[0] == 200 else None)(
        health(site, "slow")), 30, message="group 'slow' ready once its preload ends")
    assert doc["state"] == "ready"


def test_a_group_whose_starts_keep_failing_is_503_backing_off_with_retry_after(site):
    status, doc, _ = wait_for(lambda: (lambda h: h if h[1]["state"] == "backing_off" else None)(
        health(site, "broken")), 30, message="group 'broken' backing off")
    assert status == 503 and doc["ready"] == 0
    assert 0 <= doc["retry_after"] <= 10


def test_no_supervisor_at_the_groups_socket_is_503_down_with_one_log_line(site):
    before = len(site.error_log())
    status, doc, _ = health(site, "gone")
    assert (status, doc) == (503, {"group": "gone", "state": "down"})
    lines = [line for line in site.error_log()[before:].splitlines() if "health:" in line]
    assert len(lines) == 1 and "no supervisor answers" in lines[0]
    assert f"{site.dir}/gone.hc" in lines[0]


def test_no_group_in_scope_is_a_500_naming_the_fix(site):
    before = len(site.error_log())
    assert requests.get(site.url("/healthz/none"), timeout=10).status_code == 500
    assert "WSGIProcessGroup" in site.error_log()[before:]


def test_an_external_supervisor_answers_on_the_twin_of_its_socket(apache):
    with external_supervisor("ext", os.path.join(APPS, "echo.wsgi"), url="/ext") as sup:
        inst = apache(f"WSGIDaemonSocket ext {sup.sock}\n" + LOCATION.format(group="ext"))
        inst.start()
        status, doc, _ = wait_for(lambda: (lambda h: h if h[0] == 200 else None)(
            health(inst, "ext")), 15, message="the external group ready")
        assert doc["state"] == "ready" and doc["group"] == "ext"
        assert os.path.exists(sup.sock[:-len(".sock")] + ".hc")
