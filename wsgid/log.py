"""Logging for the supervisor and the daemon processes.

Every event is one line on stderr, which is Apache's error log in managed mode:

    [wsgid:info] [pid 123] [group example] daemon process 124 started

Rules:
- All of wsgid logs under the stdlib logger 'wsgid' (and children such as 'wsgid.request');
  `setup()` gives that tree one stderr handler and is safe to call again.
- The group comes from the record (`group_logger(name)` adds it, for the supervisor, which speaks
  for many groups) or from the process (`set_process_group(name)`, in a daemon process).
- A traceback continues on following lines that repeat the same prefix, so that grepping the
  error log for a pid or a group finds the whole event.
- Level words are Apache's (debug, info, warn, error, crit), so the lines sit well in its log.
"""

import logging
import sys

LOGGER_NAME = "wsgid"

_APACHE_LEVEL_WORDS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "crit",
}

_LEVELS_BY_WORD = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "crit": logging.CRITICAL,
    "critical": logging.CRITICAL,
}


class LineFormatter(logging.Formatter):
    """`[wsgid:LEVEL] [pid N] [group G] message`, one prefixed line per line of the event."""

    def __init__(self):
        super().__init__()
        self.process_group = None

    def format(self, record):
        level = _APACHE_LEVEL_WORDS.get(record.levelno, record.levelname.lower())
        group = getattr(record, "group", None) or self.process_group
        prefix = f"[wsgid:{level}] [pid {record.process}]"
        if group:
            prefix += f" [group {group}]"
        lines = record.getMessage().splitlines() or [""]
        if record.exc_info:
            lines += self.formatException(record.exc_info).splitlines()
        if record.stack_info:
            lines += self.formatStack(record.stack_info).splitlines()
        return "\n".join(f"{prefix} {line}" for line in lines)


class _WsgidHandler(logging.StreamHandler):
    """Marks the handler setup() installed, so that a second setup() replaces it."""


def setup(level="info", stream=None):
    """Send the 'wsgid' logger tree to stderr (or stream) in the one-line format."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if isinstance(handler, _WsgidHandler):
            logger.removeHandler(handler)
    handler = _WsgidHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LineFormatter())
    logger.addHandler(handler)
    logger.setLevel(_LEVELS_BY_WORD[level] if isinstance(level, str) else level)
    # The application may configure the root logger; wsgid's lines must not appear twice.
    logger.propagate = False
    return logger


def set_process_group(name):
    """In a daemon process: every line from now on names this group."""
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        if isinstance(handler.formatter, LineFormatter):
            handler.formatter.process_group = name


def group_logger(group_name, name=LOGGER_NAME):
    """A logger whose lines name the group: for code that speaks for one of several groups."""
    return logging.LoggerAdapter(logging.getLogger(name), {"group": group_name})


def get_logger(suffix=None):
    """The 'wsgid' logger, or one of its children ('wsgid.supervisor', ...)."""
    return logging.getLogger(LOGGER_NAME if not suffix else f"{LOGGER_NAME}.{suffix}")
