"""A daemon group's own error log, through a real Apache: a group defined in a <VirtualHost>
with an ErrorLog of its own writes there, as under mod_wsgi (a file relative to ServerRoot, and
a piped log whose logger the supervisor keeps running), a group of a virtual host without one
writes to the main error log, and a log file moved away by a rotation is followed at Apache's
graceful restart.

One Apache serves all three groups; the rotation comes last.
"""

import os
import signal

import psutil
import pytest
import requests

from tests.support.apache import ApacheInstance, wait_for
from tests.support.express import write_file

APP = """\
import os
import sys


def application(environ, start_response):
    name = environ["SERVER_NAME"]
    marker = environ["QUERY_STRING"]
    environ["wsgi.errors"].write("wsgi.errors of %s %s\\n" % (name, marker))
    print("printed by %s %s" % (name, marker))
    os.write(2, ("written to descriptor 2 by %s %s\\n" % (name, marker)).encode())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""

SITE = """
<Directory "{root}/app">
    Require all granted
</Directory>
<VirtualHost 127.0.0.1:{port}>
    ServerName files.test
    ErrorLog logs/files_error.log
    WSGIDaemonProcess files processes=1 threads=2
    WSGIScriptAlias / "{root}/app/app.wsgi" process-group=files application-group=%{{GLOBAL}}
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName piped.test
    ErrorLog "|$exec /bin/cat >> {root}/logs/piped_error.log"
    WSGIDaemonProcess piped processes=1 threads=2
    WSGIScriptAlias / "{root}/app/app.wsgi" process-group=piped application-group=%{{GLOBAL}}
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName main.test
    WSGIDaemonProcess main processes=1 threads=2
    WSGIScriptAlias / "{root}/app/app.wsgi" process-group=main application-group=%{{GLOBAL}}
</VirtualHost>
"""


@pytest.fixture(scope="module")
def site():
    inst = ApacheInstance("")
    write_file(os.path.join(inst.root, "app", "app.wsgi"), APP)
    inst.write_config(SITE.format(port=inst.port, root=inst.root))
    try:
        inst.start()
        yield inst
    finally:
        inst.stop()
        inst.kill_leftovers()
        inst.cleanup()


def read(inst, name):
    try:
        with open(os.path.join(inst.root, "logs", name), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def visit(inst, host, marker):
    answer = requests.get(inst.url(f"/?{marker}"), headers={"Host": host}, timeout=10)
    assert answer.status_code == 200, inst.error_log()[-3000:]
    return int(answer.text)


def lines_of(host, marker):
    return [f"wsgi.errors of {host} {marker}", f"printed by {host} {marker}",
            f"written to descriptor 2 by {host} {marker}"]


def wait_for_lines(inst, log_name, host, marker):
    expected = lines_of(host, marker)
    wait_for(lambda: all(line in read(inst, log_name) for line in expected), 10,
             message=f"{expected} in {log_name}:\n{read(inst, log_name)[-2000:]}")


def test_each_group_writes_to_the_error_log_of_its_virtual_host(site):
    daemon = {host: visit(site, host, "first") for host in ("files.test", "piped.test",
                                                            "main.test")}
    wait_for_lines(site, "files_error.log", "files.test", "first")
    wait_for_lines(site, "piped_error.log", "piped.test", "first")
    wait_for_lines(site, "error_log", "main.test", "first")
    # and nowhere else
    for host, others in (("files.test", ("error_log", "piped_error.log")),
                         ("piped.test", ("error_log", "files_error.log")),
                         ("main.test", ("files_error.log", "piped_error.log"))):
        for other in others:
            assert not [line for line in lines_of(host, "first") if line in read(site, other)]
    # The daemon's own lines go with it; the supervisor's about the group stay in the main log.
    assert f"[pid {daemon['files.test']}:" in read(site, "files_error.log")
    assert f"[pid {daemon['files.test']}:" not in read(site, "error_log")
    assert "wsgid (group files): listening on" in read(site, "error_log")


def command_line(process):
    """What ps shows for it; "" for one that is gone (or a zombie) meanwhile."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def test_a_piped_logger_that_exits_is_started_again_on_the_same_pipe(site):
    supervisor = next(p for p in site.processes() if "wsgid-supervisor" in command_line(p))
    logger, = [p for p in supervisor.children() if "cat" in command_line(p)]
    logger.send_signal(signal.SIGKILL)
    wait_for(lambda: [p for p in supervisor.children() if "cat" in command_line(p)
                      and p.pid != logger.pid], 10, message="the piped logger to be restarted")
    # the daemon process, unchanged, writes on: nothing it wrote meanwhile is lost
    visit(site, "piped.test", "after-restart")
    wait_for_lines(site, "piped_error.log", "piped.test", "after-restart")
    assert "piped logger was killed by SIGKILL; starting it again" in site.error_log()
    assert psutil.pid_exists(supervisor.pid)


def test_a_rotated_log_file_is_followed_at_a_graceful_restart(site):
    logs = os.path.join(site.root, "logs")
    os.rename(os.path.join(logs, "files_error.log"), os.path.join(logs, "files_error.log.1"))
    site.graceful()
    wait_for(lambda: visit(site, "files.test", "after-rotation"), 10, message="files.test")
    wait_for_lines(site, "files_error.log", "files.test", "after-rotation")
    assert "after-rotation" not in read(site, "files_error.log.1")


def test_a_rotated_main_error_log_is_followed_at_a_graceful_restart(site):
    """Last: the main log moves away as logrotate moves it, then Apache restarts gracefully."""
    logs = os.path.join(site.root, "logs")
    os.rename(os.path.join(logs, "error_log"), os.path.join(logs, "error_log.1"))
    site.graceful()
    visit(site, "main.test", "after-main-rotation")
    wait_for_lines(site, "error_log", "main.test", "after-main-rotation")
    assert "after-main-rotation" not in read(site, "error_log.1")
