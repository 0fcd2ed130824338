"""An externally supervised daemon group (`wsgid supervise --config FILE`, as under systemd)
reached by mod_wsgid through `WSGIDaemonSocket NAME PATH` in Apache's configuration, beside a
group Apache's own supervisor runs.

The external supervisor's file names its own scripts (daemons run only what their configuration
names); Apache's lines for that group are not passed to Apache's supervisor.
"""

import os
import signal

import psutil
import pytest
import requests

from tests.support.apache import APPS, wait_for
from tests.support.external import external_supervisor
from tests.support.procs import wait_for_daemons

pytestmark = pytest.mark.apache


@pytest.fixture
def external():
    """`wsgid supervise --config FILE` with one group 'ext' serving echo.wsgi at /ext."""
    with external_supervisor("ext", os.path.join(APPS, "echo.wsgi"), url="/ext") as sup:
        yield sup


SITE = """
WSGIDaemonSocket ext {sock} connect-timeout=2
WSGIDaemonProcess managed processes=1 threads=2
WSGIScriptAlias /ext "{apps}/echo.wsgi" process-group=ext
WSGIScriptAlias /managed "{apps}/echo.wsgi" process-group=managed
"""


def test_apache_routes_to_an_external_group_and_its_own_side_by_side(apache, external):
    inst = apache(SITE.replace("{sock}", external.sock))
    inst.start()
    wait_for_daemons(inst, 1)

    ext = wait_for(lambda: (lambda r: r if r.status_code == 200 else None)(
        requests.get(inst.url("/ext/environ"), timeout=10)), 15, message="a 200 from 'ext'")
    assert ext.json()["wsgid.process_group"] == "ext"
    ext_pid = int(requests.get(inst.url("/ext/pid"), timeout=10).text)
    assert psutil.Process(ext_pid).ppid() == external.pid

    managed = requests.get(inst.url("/managed/environ"), timeout=10)
    assert managed.status_code == 200
    assert managed.json()["wsgid.process_group"] == "managed"
    managed_pid = int(requests.get(inst.url("/managed/pid"), timeout=10).text)
    assert psutil.Process(managed_pid).ppid() != external.pid

    # Without its supervisor the group is unreachable: 503 after connect-timeout, one line.
    external.send_signal(signal.SIGTERM)
    external.wait(timeout=30)
    before = len(inst.error_log())
    assert requests.get(inst.url("/ext/hello"), timeout=10).status_code == 503
    lines = [line for line in inst.error_log()[before:].splitlines() if "mod_wsgid" in line]
    assert len(lines) == 1 and "group 'ext'" in lines[0], lines
    assert requests.get(inst.url("/managed/hello"), timeout=10).status_code == 200


@pytest.mark.parametrize("lines, problem", [
    ("WSGIDaemonSocket ext relative.sock", "WSGIDaemonSocket NAME /absolute/socket/path"),
    ("WSGIDaemonSocket ext /tmp/x.sock threads=2", "unknown option 'threads=2'"),
    ("WSGIDaemonSocket ext /tmp/x.sock\nWSGIDaemonProcess ext", "already defined"),
    ("WSGIDaemonSocket ext /tmp/" + "x" * 120 + ".sock", "longer than the 107"),
    ("WSGIDaemonSocket ext /tmp/x.sock\nWSGIProcessGroup other", "no WSGIDaemonProcess defines"),
])
def test_configtest_refuses_a_bad_external_group(apache, lines, problem):
    inst = apache(lines + "\n")
    status, output = inst.configtest()
    assert status != 0
    assert problem in output, output
