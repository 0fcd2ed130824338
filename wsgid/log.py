"""Logging for the supervisor and the daemon processes: lines in Apache's error-log format.

Every event is one line on stderr, which is Apache's error log in managed mode, in the shape of
Apache's own lines: its default format, or the main server's `ErrorLogFormat`
(`apply_settings()`, rendered by log_format.py), so that the lines of Apache, of mod_wsgid and
of wsgid read alike and one parser (grok's HTTPD24_ERRORLOG, fluentd's apache_error) reads them
all. In the default format:

    [Mon Dec 07 15:20:10.123456 2026] [wsgi:info] [pid 123:tid 124] wsgid (group site): daemon process 124 started
    [Mon Dec 07 15:20:11.000042 2026] [wsgi:error] [pid 124:tid 130] [client 127.0.0.1:51234] Traceback (most recent call last):

Rules:
- The module word is `wsgi`: mod_wsgid registers with Apache as mod_wsgi.c, so that is what its
  own lines and `LogLevel wsgi:LEVEL` say; wsgid's lines say the same.
- All of wsgid logs under the stdlib logger 'wsgid' (and children such as 'wsgid.request');
  `setup()` gives that tree one stderr handler and is safe to call again. Its messages start
  with `wsgid: `, or `wsgid (group G): ` where they speak for a group (Apache puts its `AHnnnnn: `
  code there). The group comes from the record (`group_logger(name)`, for the supervisor, which
  speaks for many groups) or from the process (`set_process_group(name)`, in a daemon process).
- What the application writes (wsgi.errors, print to sys.stderr or sys.stdout, and logging
  records that reach no handler of its own) goes through `APPLICATION_LOGGER` and is written as
  it is, with no tag, as mod_wsgi writes it: print and wsgi.errors at `error`, a logging record
  at its own level.
- The level is Apache's `LogLevel` for the wsgi module (`apply_settings()`); records below it
  are not written. Level words are Apache's (trace1..8, debug, info, notice, warn, error, crit,
  alert, emerg); at debug and below a line names its source file and line, as Apache's do.
- In a daemon process, a line written by a thread that is serving a request carries the request's
  `[client ADDR:PORT]` and `, referer: R` at the end, as Apache's request lines do, and the
  format's request items (`%L`, the log id, ...) have their values (`set_request_lookup()` tells
  the formatter how to find the request).
- A multi-line event (a traceback) is written as several lines, each formatted in full as
  mod_wsgi writes each line of a traceback, so that grepping the error log for a pid or a
  request finds the whole event, and nothing an application or a client sends can begin a line
  of its own.
"""

import logging
import sys
import threading

from wsgid import log_format

LOGGER_NAME = "wsgid"
# The logger that carries what the application itself writes: lines without wsgid's tag.
APPLICATION_LOGGER = "wsgid.application"
# Apache's name for mod_wsgid's log lines and LogLevel (the module registers as mod_wsgi.c).
APACHE_MODULE = "wsgi"
# Apache's default LogLevel, for a configuration that names none (external mode without one).
DEFAULT_LOG_LEVEL = "warn"

# Apache's levels (log_format.LEVEL_WORDS) as stdlib logging levels: a record is written when
# its level is at least the LogLevel's. The ones between stdlib's (notice, alert, emerg, traceN)
# get levels of their own in the gaps.
_STDLIB_LEVELS = (70, 60, logging.CRITICAL, logging.ERROR, logging.WARNING, 25, logging.INFO,
                  logging.DEBUG, *(logging.DEBUG - n for n in range(1, 9)))
APACHE_LEVELS = dict(zip(log_format.LEVEL_WORDS, _STDLIB_LEVELS, strict=True))
_WORDS_BY_LEVEL = sorted(((level, word) for word, level in APACHE_LEVELS.items()), reverse=True)


def level_word(levelno):
    """The Apache word for a stdlib level: the most severe Apache level it reaches."""
    for level, word in _WORDS_BY_LEVEL:
        if levelno >= level:
            return word
    return "trace8"


def parse_log_level(text):
    """The level a LogLevel value gives the wsgi module: `LEVEL`, or `LEVEL wsgi:LEVEL ...`
    (a per-module level for mod_wsgi's name, or mod_wsgid's, wins). Raises ValueError."""
    level = None
    for word in text.split():
        module, _, module_level = word.rpartition(":")
        if module and module not in (APACHE_MODULE, "wsgid", f"mod_{APACHE_MODULE}.c"):
            if module_level.lower() not in APACHE_LEVELS:
                raise ValueError(f"'{module_level}' is not a log level")
            continue      # another module's level
        if module_level.lower() not in APACHE_LEVELS:
            raise ValueError(f"'{module_level}' is not a log level")
        if module or level is None:
            level = module_level.lower()
    if level is None:
        raise ValueError("it names no level")
    return level


class ApacheFormatter(logging.Formatter):
    """One record as lines in Apache's error-log format (see the module docstring)."""

    def __init__(self):
        super().__init__()
        self.process_group = None
        self.request_lookup = None   # () -> the environ this thread serves, or None
        self.items = log_format.parse(log_format.DEFAULT_FORMAT)

    def format(self, record):
        environ = self.request_lookup() if self.request_lookup is not None else None
        line = log_format.Line(record.created, APACHE_MODULE, level_word(record.levelno),
                               record.process, threading.get_native_id(),
                               log_format.source_of(record.pathname, record.lineno), environ)
        tag = ""
        if not record.name.startswith(APPLICATION_LOGGER) and \
                record.name.startswith(LOGGER_NAME):
            group = getattr(record, "group", None) or self.process_group
            tag = f"wsgid (group {group}): " if group else "wsgid: "
        lines = record.getMessage().splitlines() or [""]
        if record.exc_info:
            lines += self.formatException(record.exc_info).splitlines()
        if record.stack_info:
            lines += self.formatStack(record.stack_info).splitlines()
        out = [log_format.render(self.items, line, tag + text) for text in lines]
        # a `%+` item that is empty drops the line, as in Apache
        return "\n".join(text for text in out if text is not None)


class _WsgidHandler(logging.StreamHandler):
    """Marks the handler setup() installed, so that a second setup() replaces it."""


def _formatters():
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        if isinstance(handler.formatter, ApacheFormatter):
            yield handler.formatter


def setup(level="info", stream=None):
    """Send the 'wsgid' logger tree to stderr (or stream) in Apache's format."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if isinstance(handler, _WsgidHandler):
            logger.removeHandler(handler)
    handler = _WsgidHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(ApacheFormatter())
    logger.addHandler(handler)
    logger.setLevel(APACHE_LEVELS[level] if isinstance(level, str) else level)
    # The application may configure the root logger; wsgid's lines must not appear twice.
    logger.propagate = False
    return logger


def apply_settings(level, error_log_format=None):
    """The configuration's LogLevel (an Apache word) and ErrorLogFormat (None: Apache's
    default) for wsgid's lines from now on."""
    logging.getLogger(LOGGER_NAME).setLevel(APACHE_LEVELS[level])
    items = log_format.parse(error_log_format or log_format.DEFAULT_FORMAT)
    for formatter in _formatters():
        formatter.items = items


def set_process_group(name):
    """In a daemon process: every wsgid line from now on names this group."""
    for formatter in _formatters():
        formatter.process_group = name


def set_request_lookup(lookup):
    """In a daemon process: `lookup()` gives the environ of the request the calling thread
    serves (None outside one), for the `[client ...]` part of its lines."""
    for formatter in _formatters():
        formatter.request_lookup = lookup


def group_logger(group_name, name=LOGGER_NAME):
    """A logger whose lines name the group: for code that speaks for one of several groups."""
    return logging.LoggerAdapter(logging.getLogger(name), {"group": group_name})


def get_logger(suffix=None):
    """The 'wsgid' logger, or one of its children ('wsgid.supervisor', ...)."""
    return logging.getLogger(LOGGER_NAME if not suffix else f"{LOGGER_NAME}.{suffix}")


# -- what the application writes ------------------------------------------------------------------

class ApplicationRecords(logging.Handler):
    """`logging.lastResort` in a daemon process: a record of the application's that no handler
    of its own took is written through wsgid's handler, at its own level (the stdlib's last
    resort would print it bare, and only from warning up)."""

    def emit(self, record):
        wsgid_logger = logging.getLogger(LOGGER_NAME)
        if record.levelno >= wsgid_logger.getEffectiveLevel():
            for handler in wsgid_logger.handlers:
                handler.handle(record)


def route_application_logging(level):
    """In a daemon process, before the application loads: its logging records reach the error
    log at their own level when it configures no handler, and the root logger starts at the
    LogLevel (an application that sets its own level or handlers keeps them)."""
    logging.lastResort = ApplicationRecords()
    root = logging.getLogger()
    if not root.handlers and root.level == logging.WARNING:   # the stdlib's default: untouched
        root.setLevel(APACHE_LEVELS[level])


# An unfinished line is written once it is this long, so that it cannot grow unbounded.
STREAM_LINE_LIMIT = 65536


class ApplicationStream:
    """A text stream whose lines go to the error log at `error` level, as the application wrote
    them: wsgi.errors, and in a daemon process sys.stderr and (unless WSGIRestrictStdout)
    sys.stdout too, as mod_wsgi's log object is all three.

    One instance serves every thread of the process, so each thread keeps its own unfinished
    line; flush() writes that line, and so does a line that grows past STREAM_LINE_LIMIT
    characters. `threads_with_pending` counts the threads that have an unfinished line, so that
    the request path calls flush() only when one may have (a thread's own write is always
    counted before its own check). fileno() is the error log's descriptor, for code that writes
    to it directly (faulthandler); such bytes get no prefix.
    """

    encoding = "utf-8"
    errors = "backslashreplace"
    closed = False

    def __init__(self, logger=None, name="wsgi.errors", fd=2):
        self._logger = logger if logger is not None else logging.getLogger(APPLICATION_LOGGER)
        self.name = name
        self._fd = fd
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self.threads_with_pending = 0

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"{self.name} takes str, not {type(text).__name__}")
        pending = getattr(self._local, "pending", "") + text
        *lines, rest = pending.split("\n")
        if len(rest) >= STREAM_LINE_LIMIT:
            lines.append(rest)
            rest = ""
        for line in lines:
            self._logger.error("%s", line)
        self._set_pending(rest)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pending = getattr(self._local, "pending", "")
        if pending:
            self._set_pending("")
            self._logger.error("%s", pending)

    def _set_pending(self, rest):
        had = bool(getattr(self._local, "pending", ""))
        self._local.pending = rest
        if had != bool(rest):
            with self._count_lock:
                self.threads_with_pending += 1 if rest else -1

    def fileno(self):
        return self._fd

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def isatty(self):
        return False

    def close(self):
        """Closing it would silence the error log for everyone: it only flushes, as mod_wsgi's
        log object does."""
        self.flush()


_application_stream = None


def application_stream():
    """This process's ApplicationStream (made on first use)."""
    global _application_stream
    if _application_stream is None:
        _application_stream = ApplicationStream()
    return _application_stream


def capture_standard_streams(restrict_stdout):
    """In a daemon process: sys.stderr, and sys.stdout unless it is restricted, become the
    application stream, so that print() lands in the error log as lines in Apache's format at
    `error` (bare lines before). Each line ends up where mod_wsgi puts it."""
    sys.stderr = application_stream()
    if not restrict_stdout:
        sys.stdout = application_stream()
