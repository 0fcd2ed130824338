"""Apache's error log as wsgid writes into it, through real Apaches: every line in Apache's
format and read by Logstash's stock HTTPD24_ERRORLOG pattern; LogLevel (also per module)
honoured by wsgid and by the application's logging; print and wsgi.errors at `error` with the
request's client; a site's ErrorLogFormat, with the request's log id, applied to wsgid's lines.

Three Apaches serve tests/apps/logs.wsgi: one as the suite configures them (LogLevel info, the
default format), one at `LogLevel info wsgi:warn`, one with an ErrorLogFormat of Apache's
documentation.
"""

import re

import pytest
import requests

from tests.support.apache import APPS, ApacheInstance, wait_for
from tests.support.error_log import parse

SITE = """
{extra}
WSGIDaemonProcess logs processes=1 threads=4
WSGIScriptAlias / "{apps}/logs.wsgi" process-group=logs application-group=%{{GLOBAL}}
"""
REFERER = "http://shop.example/cart"
# Apache's own example of ErrorLogFormat (its core documentation), with the pid
LOG_ID_FORMAT = "[%{cu}t] [%-m:%l] [R:%L] [C:%{C}L] [pid %P] %M"


def started(extra="", **kwargs):
    inst = ApacheInstance(SITE.format(extra=extra, apps=APPS), **kwargs)
    try:
        inst.start()
    except BaseException:
        inst.cleanup()
        raise
    return inst


@pytest.fixture(scope="module")
def default():
    inst = started()
    yield inst
    inst.cleanup()


@pytest.fixture(scope="module")
def quiet():
    inst = started(log_level="info wsgi:warn")
    yield inst
    inst.cleanup()


@pytest.fixture(scope="module")
def log_ids():
    inst = started(extra=f'ErrorLogFormat "{LOG_ID_FORMAT}"')
    yield inst
    inst.cleanup()


def visit(inst, path):
    """Request `path`; return (its request id, its lines of the error log, once written)."""
    answer = requests.get(inst.url(path), headers={"Referer": REFERER}, timeout=10)
    assert answer.status_code == 200, inst.error_log()[-3000:]
    request_id = answer.text
    # the daemon writes its lines before it answers; they may take a moment to be in the file
    marker = "printed to stdout" if path == "/print" else "stock of item"
    wait_for(lambda: marker in inst.error_log(), 10, message=f"the lines of {path}")
    return request_id, inst.error_log().splitlines()


def request_lines(lines, needle):
    return [line for line in lines if needle in line]


def test_every_line_of_the_error_log_is_read_by_logstashs_pattern(default):
    visit(default, "/print")
    visit(default, "/logging")
    lines = default.error_log().splitlines()
    unreadable = [line for line in lines if parse(line) is None]
    assert not unreadable
    # Apache's lines, mod_wsgid's, the supervisor's, the daemon's and the application's
    modules = {parse(line)["module"] for line in lines}
    assert {"wsgi", "mpm_event", "core"} <= modules
    serving = wait_for(lambda: request_lines(default.error_log().splitlines(),
                                             "daemon process serving as uid"), 10,
                       message="the daemon's serving line")
    assert all(parse(line)["loglevel"] == "info" for line in serving)
    assert all("] wsgid (group logs): daemon process serving" in line for line in serving)


def test_print_and_wsgi_errors_land_at_error_with_the_client_and_the_referer(default):
    _, lines = visit(default, "/print")
    for text in ("printed to stderr", "printed to stdout", "written to wsgi.errors"):
        [line] = request_lines(lines, text)[-1:]
        fields = parse(line)
        assert fields["module"] == "wsgi" and fields["loglevel"] == "error", line
        assert fields["clientip"] == "127.0.0.1" and int(fields["clientport"]) > 0, line
        assert line.endswith(f"] {text}, referer: {REFERER}"), line


def test_logging_records_land_at_their_own_level(default):
    _, lines = visit(default, "/logging")
    [placed] = request_lines(lines, "order 17 placed")[-1:]
    [low] = request_lines(lines, "stock of item 4 is low")[-1:]
    assert parse(placed)["loglevel"] == "info" and parse(low)["loglevel"] == "warn"
    assert not request_lines(lines, "debug record")
    # the traceback of log.exception(): every line an error line of the same request
    start = max(index for index, line in enumerate(lines) if "charging order 17 failed" in line)
    traceback = lines[start:start + 4]
    assert all(parse(line)["loglevel"] == "error" and parse(line)["clientip"] == "127.0.0.1"
               for line in traceback), traceback
    assert any("Traceback (most recent call last):" in line for line in traceback)


def test_loglevel_per_module_holds_for_wsgid_and_the_application(quiet):
    _, lines = visit(quiet, "/logging")
    visit(quiet, "/print")
    lines = quiet.error_log().splitlines()
    # LogLevel info wsgi:warn: Apache's own info lines stay, wsgid's and the application's go
    assert request_lines(lines, "AH00490")      # mpm_event's info line: Server built
    assert not request_lines(lines, "daemon process serving")
    assert not request_lines(lines, "order 17 placed")
    assert request_lines(lines, "stock of item 4 is low")
    assert request_lines(lines, "printed to stderr")


def test_the_sites_error_log_format_and_the_request_log_id(log_ids):
    request_id, lines = visit(log_ids, "/print")
    [line] = request_lines(lines, "printed to stderr")[-1:]
    stamp = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\]"
    assert re.fullmatch(stamp + rf" \[wsgi:error\] \[R:{re.escape(request_id)}\] "
                        r"\[C:[^\]]+\] \[pid \d+\] printed to stderr", line), line
    # wsgid's lines outside a request drop the request fields, as Apache's do (this one may
    # follow the first request's lines: the process serves as soon as it is ready)
    [serving] = wait_for(lambda: request_lines(log_ids.error_log().splitlines(),
                                               "daemon process serving"), 10,
                         message="the daemon's serving line")[:1]
    assert re.fullmatch(stamp + r" \[wsgi:info\] \[pid \d+\] wsgid \(group logs\): "
                                r"daemon process serving .*", serving), serving
    # and Apache's own lines have the same shape
    [built] = request_lines(lines, "AH00490")
    assert re.fullmatch(stamp + r" \[mpm_event:info\] \[pid \d+\] AH00490: .*", built), built
