"""wsgid's log lines (log.py): Apache's error-log format, read back by Logstash's stock grok
pattern; level words and LogLevel; groups, requests and tracebacks; what the application
writes."""

import io
import logging
import os
import re
import sys
import threading
import time

import pytest

from tests.support import error_log
from wsgid import log


def parse(line):
    """A line as Logstash reads it (the stock HTTPD24_ERRORLOG pattern), or a failure."""
    fields = error_log.parse(line)
    assert fields is not None, f"not an Apache 2.4 error-log line: {line!r}"
    return fields


@pytest.fixture
def stream():
    logger = logging.getLogger("wsgid")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    out = io.StringIO()
    log.setup("debug", stream=out)
    yield out
    log.set_process_group(None)
    log.set_request_lookup(None)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def test_a_line_reads_as_apaches_with_time_module_level_pid_and_thread(stream):
    before = time.time()
    log.get_logger("supervisor").warning("socket %s gone", "/x.sock")
    [line] = stream.getvalue().splitlines()
    fields = parse(line)
    assert fields["module"] == "wsgi" and fields["loglevel"] == "warn"
    assert fields["pid"] == str(os.getpid()) and fields["tid"] == str(threading.get_native_id())
    assert fields["errorcode"] == "wsgid" and fields["message"] == "socket /x.sock gone"
    stamp = time.strptime(fields["timestamp"].split(".")[0] + " " + fields["timestamp"][-4:],
                          "%a %b %d %H:%M:%S %Y")
    assert abs(time.mktime(stamp) - before) < 5
    # Apache's own shape: microseconds, a zero-padded day
    assert re.fullmatch(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.\d{6} \d{4}", fields["timestamp"])


def test_a_group_logger_names_the_group(stream):
    log.group_logger("example").error("boom")
    fields = parse(stream.getvalue().rstrip("\n"))
    assert fields["errorcode"] == "wsgid (group example)" and fields["message"] == "boom"
    assert fields["loglevel"] == "error"


def test_a_daemon_process_names_its_group_on_every_line(stream):
    log.set_process_group("shop")
    logging.getLogger("wsgid.request").info("served")
    assert parse(stream.getvalue().rstrip("\n"))["errorcode"] == "wsgid (group shop)"


def test_debug_lines_name_their_source_line_as_apaches_do(stream):
    log.get_logger().debug("detail")
    line = stream.getvalue().rstrip("\n")
    assert re.search(r"\] test_lifecycle_log\.py\(\d+\): wsgid: detail$", line)
    assert parse(line)["loglevel"] == "debug"


def test_every_traceback_line_carries_the_prefix(stream):
    try:
        raise ValueError("bad value")
    except ValueError:
        log.group_logger("example").exception("request failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) > 3
    parsed = [parse(line) for line in lines]
    assert {fields["pid"] for fields in parsed} == {str(os.getpid())}
    assert parsed[0]["message"] == "request failed"
    assert parsed[-1]["message"] == "ValueError: bad value"


def test_a_line_written_while_serving_a_request_names_its_client_and_referer(stream):
    environ = {"REMOTE_ADDR": "192.0.2.10", "REMOTE_PORT": "51234",
               "HTTP_REFERER": "http://shop.example/cart"}
    log.set_request_lookup(lambda: environ)
    logging.getLogger(log.APPLICATION_LOGGER).error("first\nsecond")
    lines = stream.getvalue().splitlines()
    first, second = (parse(line) for line in lines)
    assert (first["clientip"], first["clientport"]) == ("192.0.2.10", "51234")
    # as on Apache's own request lines, and on each line as mod_wsgi writes them
    assert lines[0].endswith(" [client 192.0.2.10:51234] first, referer: http://shop.example/cart")
    assert lines[1].endswith(" [client 192.0.2.10:51234] second, referer: http://shop.example/cart")
    # what the application writes has no wsgid tag, as mod_wsgi writes it
    assert second["clientip"] == "192.0.2.10"


def test_text_from_a_client_cannot_start_a_line_of_its_own(stream):
    log.get_logger().error("bad path %s", "/x\r\n[Mon Jan 01 00:00:00.000000 2024] [core:crit] forged")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(parse(line)["module"] == "wsgi" for line in lines)


def test_setup_twice_installs_one_handler(stream):
    log.setup("info", stream=stream)
    log.get_logger().info("once")
    log.get_logger().debug("not shown at info")
    assert stream.getvalue().count("once") == 1
    assert "not shown" not in stream.getvalue()


# -- levels -------------------------------------------------------------------------------------

@pytest.mark.parametrize("level, word", [
    (logging.CRITICAL, "crit"), (logging.ERROR, "error"), (logging.WARNING, "warn"),
    (25, "notice"), (logging.INFO, "info"), (logging.DEBUG, "debug"), (5, "trace5"),
    (60, "alert"), (45, "error"),
])
def test_level_words_are_apaches(level, word):
    assert log.level_word(level) == word


@pytest.mark.parametrize("text, level", [
    ("warn", "warn"), ("INFO", "info"), ("warn wsgi:debug", "debug"),
    ("error ssl:trace3 wsgid:info", "info"), ("wsgi:info warn", "info"), ("crit core:debug", "crit"),
])
def test_loglevel_gives_the_wsgi_modules_level(text, level):
    assert log.parse_log_level(text) == level


@pytest.mark.parametrize("text", ["", "loud", "warn wsgi:loud", "ssl:nope"])
def test_a_wrong_loglevel_is_refused(text):
    with pytest.raises(ValueError):
        log.parse_log_level(text)


def test_apply_settings_filters_wsgids_lines(stream):
    log.apply_settings("warn")
    log.get_logger().info("hidden")
    log.get_logger().warning("shown")
    assert "hidden" not in stream.getvalue() and "shown" in stream.getvalue()


def test_apply_settings_gives_wsgids_lines_the_error_log_format(stream):
    log.apply_settings("info", "[%{cu}t] [%-m:%l] [R:%L] [pid %P] %M")
    log.set_request_lookup(lambda: {"wsgid.request_id": "Z1x2y3", "REMOTE_ADDR": "192.0.2.1"})
    log.set_process_group("shop")
    log.get_logger().info("served")
    line = stream.getvalue().rstrip("\n")
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\] \[wsgi:info\] "
                        rf"\[R:Z1x2y3\] \[pid {os.getpid()}\] wsgid \(group shop\): served", line)


# -- what the application writes ----------------------------------------------------------------

@pytest.fixture
def application_logging(stream, monkeypatch):
    """The daemon's set-up of the application's streams and logging, undone afterwards."""
    root = logging.getLogger()
    monkeypatch.setattr(logging, "lastResort", logging.lastResort)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    saved_level, saved_handlers = root.level, root.handlers[:]
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    yield stream
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_print_to_stderr_and_stdout_lands_as_error_lines(application_logging):
    log.capture_standard_streams(restrict_stdout=False)
    print("to stderr", file=sys.stderr)
    print("to", "stdout")
    sys.stdout.write("unfinished")
    sys.stdout.flush()
    parsed = [parse(line) for line in application_logging.getvalue().splitlines()]
    assert [(fields["loglevel"], fields["message"]) for fields in parsed] == [
        ("error", "to stderr"), ("error", "to stdout"), ("error", "unfinished")]
    assert sys.stderr.fileno() == 2 and not sys.stderr.isatty()


def test_logging_records_without_a_handler_land_at_their_own_level(application_logging):
    logging.getLogger().handlers[:] = []    # pytest's capture, added for the test's call
    log.route_application_logging("info")
    logging.getLogger("shop.views").info("order %d placed", 7)
    logging.getLogger("shop.views").debug("below LogLevel")
    logging.getLogger("shop").warning("stock low")
    parsed = [parse(line) for line in application_logging.getvalue().splitlines()]
    assert [(fields["loglevel"], fields["message"]) for fields in parsed] == [
        ("info", "order 7 placed"), ("warn", "stock low")]


def test_an_application_that_configures_logging_keeps_its_own(application_logging):
    logging.getLogger().handlers[:] = []    # pytest's capture, added for the test's call
    log.route_application_logging("info")
    own = io.StringIO()
    logging.basicConfig(stream=own, level=logging.DEBUG, format="%(levelname)s %(message)s")
    logging.getLogger("shop").debug("mine")
    assert own.getvalue() == "DEBUG mine\n" and "mine" not in application_logging.getvalue()
