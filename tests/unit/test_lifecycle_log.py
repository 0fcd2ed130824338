"""The one-line log format of wsgid (log.py): prefix, Apache level words, groups, tracebacks."""

import io
import logging
import os

import pytest

from wsgid import log


@pytest.fixture
def stream():
    logger = logging.getLogger("wsgid")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    out = io.StringIO()
    log.setup("debug", stream=out)
    yield out
    log.set_process_group(None)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def test_a_line_has_the_level_the_pid_and_the_message(stream):
    log.get_logger("supervisor").warning("socket %s gone", "/x.sock")
    assert stream.getvalue() == f"[wsgid:warn] [pid {os.getpid()}] socket /x.sock gone\n"


def test_a_group_logger_names_the_group(stream):
    log.group_logger("example").error("boom")
    assert stream.getvalue() == f"[wsgid:error] [pid {os.getpid()}] [group example] boom\n"


def test_a_daemon_process_names_its_group_on_every_line(stream):
    log.set_process_group("shop")
    logging.getLogger("wsgid.request").info("served")
    assert stream.getvalue() == f"[wsgid:info] [pid {os.getpid()}] [group shop] served\n"


def test_every_traceback_line_carries_the_prefix(stream):
    try:
        raise ValueError("bad value")
    except ValueError:
        log.group_logger("example").exception("request failed")
    lines = stream.getvalue().splitlines()
    prefix = f"[wsgid:error] [pid {os.getpid()}] [group example] "
    assert len(lines) > 3
    assert all(line.startswith(prefix) for line in lines)
    assert lines[0] == prefix + "request failed"
    assert lines[-1] == prefix + "ValueError: bad value"


def test_setup_twice_installs_one_handler(stream):
    log.setup("info", stream=stream)
    log.get_logger().info("once")
    log.get_logger().debug("not shown at info")
    assert stream.getvalue().count("once") == 1
    assert "not shown" not in stream.getvalue()
