"""Apache's ErrorLogFormat language (log_format.py): fields that drop when empty, escapes,
modifiers, the default format, and the formats of Apache's own documentation."""

import time

import pytest

from wsgid import log_format
from wsgid.log_format import DEFAULT_FORMAT, Line, parse, render

CREATED = time.mktime((2026, 12, 7, 15, 20, 10, 0, 0, -1)) + 0.123456
REQUEST = {"REMOTE_ADDR": "192.0.2.10", "REMOTE_PORT": "51234", "SERVER_ADDR": "127.0.0.1",
           "SERVER_PORT": "8080", "SERVER_NAME": "shop.example",
           "HTTP_REFERER": "http://shop.example/cart", "HTTP_USER_AGENT": "curl/8.5.0",
           "wsgid.request_id": "Z1x2y3", "mod_wsgi.connection_id": "C9c8",
           "UNIQUE_ID": "abc"}


def line(level="info", environ=None, source="daemon.py(228)"):
    return Line(CREATED, "wsgi", level, 123, 456, source, environ)


def rendered(fmt, message="daemon process serving", **kwargs):
    return render(parse(fmt), line(**kwargs), message)


def test_the_default_format_outside_a_request_is_apaches_default_line():
    assert rendered(DEFAULT_FORMAT) == \
        "[Mon Dec 07 15:20:10.123456 2026] [wsgi:info] [pid 123:tid 456] daemon process serving"


def test_the_default_format_in_a_request_adds_the_client_and_the_referer():
    assert rendered(DEFAULT_FORMAT, "oops", level="error", environ=REQUEST) == (
        "[Mon Dec 07 15:20:10.123456 2026] [wsgi:error] [pid 123:tid 456] "
        "[client 192.0.2.10:51234] oops, referer: http://shop.example/cart")


def test_the_default_format_names_the_source_line_from_debug_on():
    assert rendered(DEFAULT_FORMAT, "detail", level="debug").endswith(
        "[pid 123:tid 456] daemon.py(228): detail")
    assert rendered(DEFAULT_FORMAT, "detail", level="trace3").endswith(
        "[pid 123:tid 456] daemon.py(228): detail")


def test_apaches_documented_example_with_log_ids():
    # the ErrorLogFormat example of Apache's core documentation
    fmt = r"[%{uc}t] [%-m:%-l] [R:%L] [C:%{C}L] %7F: %E: %M"
    assert rendered(fmt, "hello", environ=REQUEST) == \
        "[2026-12-07 15:20:10.123456] [wsgi:info] [R:Z1x2y3] [C:C9c8] hello"
    # outside a request the log-id fields drop
    assert rendered(fmt, "hello") == "[2026-12-07 15:20:10.123456] [wsgi:info] hello"


def test_items_about_the_request():
    fmt = r"%a|%A|%{User-Agent}i|%{UNIQUE_ID}e|%v|%V|%L|%{c}L|%M"
    assert rendered(fmt, "m", environ=REQUEST) == \
        "192.0.2.10:51234|127.0.0.1:8080|curl/8.5.0|abc|shop.example|shop.example|Z1x2y3|C9c8|m"


def test_an_empty_item_drops_its_field_or_writes_a_hyphen_or_drops_the_line():
    assert rendered(r"[%t] [x\ %k] %M", "m") == "[Mon Dec 07 15:20:10 2026] m"
    assert rendered(r"[%t] [%-k] %M", "m") == "[Mon Dec 07 15:20:10 2026] [-] m"
    assert rendered(r"%+L %M", "m") is None
    assert rendered(r"%+L %M", "m", environ=REQUEST) == "Z1x2y3 m"


def test_percent_space_starts_a_field_without_a_space_and_escapes_are_apaches():
    assert rendered(r"%M% [%L]", "m") == "m"
    assert rendered(r"%M% [%L]", "m", environ=REQUEST) == "m[Z1x2y3]"
    assert rendered(r"a\tb\ c%%d %M", "m") == "a\tb c%d m"


def test_a_level_threshold_keeps_an_item_to_verbose_lines():
    assert rendered(r"[%4P] %M", "m", level="warn") == "[123] m"
    assert rendered(r"[%4P] %M", "m", level="debug") == "[123] m"
    # a less verbose line drops the field (what follows keeps its separator, as in Apache)
    assert rendered(r"[%4P] %M", "m", level="error") == " m"


@pytest.mark.parametrize("fmt, problem", [
    ("%Q %M", "Unrecognized error log format string '%Q'"),
    ("%M %{x", "no closing brace"),
    ("%M %-", "missing format character"),
])
def test_a_wrong_format_is_refused_with_apaches_words(fmt, problem):
    with pytest.raises(ValueError, match=problem):
        parse(fmt)


def test_the_source_is_written_as_apache_writes_it():
    assert log_format.source_of("/srv/wsgid/daemon.py", 228) == "daemon.py(228)"
