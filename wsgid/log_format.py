"""Apache's ErrorLogFormat language, for the lines the supervisor and the daemon processes write.

mod_wsgid passes the main server's `ErrorLogFormat` on to the supervisor (an external
configuration file may have one too), so that wsgid's lines have the shape the site gave
Apache's; without one, DEFAULT_FORMAT is Apache's own default written in the language.

The language, as Apache's core reads it (docs/operations.md, "Logs"):
- `%X` or `%{ARG}X` is an item; `%%` a percent sign; between `%` and the letter may come a
  number (the item is written only for lines at least that verbose, 7 = debug), `-` (an empty
  item is written as `-`) and `+` (an empty item drops the whole line).
- An unescaped space starts a new field, and `% ` starts one without writing a space; `\\ ` is a
  space that does not. An item with no value and no `-` drops its whole field: `[client\\ %a]`
  vanishes from lines written outside a request.
- `%M` is the message. Items about the request (`%a`, `%L`, `%{Referer}i`, ...) take their
  values from the environ of the request the writing thread serves; those about Apache's own
  state that a daemon cannot know (`%k`, `%{name}n`, `%E`) are empty, so their fields drop.

Rules: one parse per format (parse() gives the items; Line renders one line from them); an
unknown item letter is a ValueError that names it, as Apache's message does.
"""

import os
import time

# Apache's default format (server/log.c writes it in C; this is the same in the language).
DEFAULT_FORMAT = r"[%{u}t] [%-m:%l] [pid %P:tid %T] %7F: %E: [client\ %a] %M% ,\ referer:\ %{Referer}i"

# Apache's level words in the order of their numbers (http_log.h: APLOG_EMERG 0 to APLOG_TRACE8
# 15), the one list of them on the Python side (log.py maps them to stdlib levels).
LEVEL_WORDS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
               *(f"trace{n}" for n in range(1, 9)))
LEVEL_NUMBERS = {word: number for number, word in enumerate(LEVEL_WORDS)}

_KNOWN = set("aAeEFiklLmMnPtTvV")


class Item:
    """One piece of a format: literal text (letter None) or an item."""

    __slots__ = ("text", "letter", "arg", "field_start", "required", "hyphen", "min_level")

    def __init__(self):
        self.text = ""
        self.letter = None
        self.arg = None
        self.field_start = False
        self.required = False
        self.hyphen = False
        self.min_level = 0


def parse(fmt):
    """The items of an ErrorLogFormat string. Raises ValueError naming what is wrong."""
    items = []
    at = 0
    while at < len(fmt):
        item = Item()
        if fmt[at] == "%" and fmt[at + 1:at + 2] == " ":
            item.field_start = True       # `% `: a field starts, nothing is written
            at += 2
            if at >= len(fmt):
                items.append(item)
                break
        elif fmt[at] == " ":
            item.field_start = True
        if fmt[at] == "%":
            at = _parse_item(fmt, at + 1, item)
        else:
            at = _parse_text(fmt, at, item)
        items.append(item)
    return items


def _parse_item(fmt, at, item):
    while at < len(fmt):
        char = fmt[at]
        if char == "%" and item.letter is None and item.arg is None:
            item.text = "%"
            return at + 1
        if char == "{":
            end = fmt.find("}", at + 1)
            if end < 0:
                raise ValueError(f"'{fmt[at:]}' has no closing brace")
            item.arg = fmt[at + 1:end]
            at = end + 1
        elif char == "+":
            item.required = True
            at += 1
        elif char == "-":
            item.hyphen = True
            at += 1
        elif char.isdigit():
            end = at
            while end < len(fmt) and fmt[end].isdigit():
                end += 1
            item.min_level = int(fmt[at:end])
            at = end
        elif char in _KNOWN:
            item.letter = char
            return at + 1
        else:
            raise ValueError(f"Unrecognized error log format string '%{char}'")
    raise ValueError("missing format character at end of string")


_ESCAPES = {"r": "\r", "n": "\n", "t": "\t"}


def _parse_text(fmt, at, item):
    """Literal text up to the next item or the next space that is not the first character."""
    out = []
    at_start = True
    while at < len(fmt) and fmt[at] != "%" and (fmt[at] != " " or at_start):
        char = fmt[at]
        if char == "\\":
            following = fmt[at + 1:at + 2]
            if not following:
                out.append("\\")
                at += 1
                continue
            out.append(_ESCAPES.get(following, following))
            at += 2
            continue
        if char != " ":
            at_start = False
        out.append(char)
        at += 1
    item.text = "".join(out)
    return at


class Line:
    """What one log line's items are made of."""

    __slots__ = ("created", "module", "level", "pid", "tid", "source", "environ")

    def __init__(self, created, module, level, pid, tid, source, environ):
        self.created = created    # epoch seconds
        self.module = module      # 'wsgi'
        self.level = level        # an Apache level word
        self.pid = pid
        self.tid = tid
        self.source = source      # 'daemon.py(228)'
        self.environ = environ    # the request's environ, or None

    def value(self, item):
        letter = item.letter
        environ = self.environ
        if letter == "t":
            return _time(self.created, item.arg or "")
        if letter == "m":
            return self.module
        if letter == "l":
            return self.level
        if letter == "P":
            return str(self.pid)
        if letter == "T":
            return str(self.tid)
        if letter == "F":
            return self.source
        if environ is None:
            return ""          # every other item is about the request being served
        if letter == "a":
            address = environ.get("REMOTE_ADDR")
            return f"{address}:{environ.get('REMOTE_PORT', '0')}" if address else ""
        if letter == "A":
            address = environ.get("SERVER_ADDR")
            return f"{address}:{environ.get('SERVER_PORT', '0')}" if address else ""
        if letter == "L":
            if item.arg in ("c", "C"):
                return environ.get("mod_wsgi.connection_id") or ""
            return environ.get("wsgid.request_id") or ""
        if letter == "i":
            return _header(environ, item.arg or "")
        if letter == "e":
            value = environ.get(item.arg or "")
            return value if isinstance(value, str) else ""
        if letter in "vV":
            return environ.get("SERVER_NAME") or ""
        return ""              # %E %k %n: what only Apache knows


def render(items, line, message):
    """One log line, or None when a required (`%+`) item is empty (the line is not written)."""
    out = []
    length_at_field = 0
    skipping = False
    level_number = LEVEL_NUMBERS.get(line.level, 7)
    for item in items:
        if item.field_start:
            if skipping:
                skipping = False
            else:
                length_at_field = len(out)
        if item.letter == "M":
            out.append(message)
            continue
        if skipping:
            continue
        if item.min_level > level_number:
            del out[length_at_field:]
            skipping = True
            continue
        value = item.text if item.letter is None else line.value(item)
        if value:
            out.append(value)
        elif item.required:
            return None
        elif item.hyphen:
            out.append("-")
        else:
            del out[length_at_field:]
            skipping = True
    return "".join(out)


def _time(created, options):
    seconds = int(created)
    local = time.localtime(seconds)
    micro = f".{int((created - seconds) * 1_000_000):06d}" if "u" in options else ""
    if "c" in options:
        return time.strftime("%Y-%m-%d %H:%M:%S", local) + micro
    return time.strftime("%a %b %d %H:%M:%S", local) + micro + time.strftime(" %Y", local)


def _header(environ, name):
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    value = environ.get(key)
    return value if isinstance(value, str) else ""


def source_of(pathname, lineno):
    """`file(line)`, as Apache's %F writes it."""
    return f"{os.path.basename(pathname)}({lineno})"
