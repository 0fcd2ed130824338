"""Errors that wsgid reports to the person who wrote the configuration.

Rules: a ConfigError is one line that says where (file and line, when known), which directive,
what is wrong, and how to fix it. It is printed as it is (never with a traceback): it is what
`apachectl configtest` and `wsgid check-config` show.
"""

from __future__ import annotations

from typing import Optional


def _one_line(text: str) -> str:
    # Values come from the user's file: a control character in one must not split the message
    # (or forge a second log line), so it is shown escaped.
    return "".join(ch if 32 <= ord(ch) != 127 else f"\\x{ord(ch):02x}" for ch in text)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


class ConfigError(Exception):
    """A mistake in the configuration, with the fix.

    `str(e)` is `<source>:<line>: <directive>: <problem>. Fix: <fix>.`; the parts are kept as
    attributes so that callers and tests can look at them one by one.
    """

    def __init__(self, directive: str, problem: str, fix: str,
                 source: Optional[str] = None, line: Optional[int] = None,
                 option: Optional[str] = None):
        self.directive = directive
        self.problem = problem
        self.fix = fix
        self.source = source
        self.line = line
        self.option = option  # the WSGIDaemonProcess option at fault, when there is one
        super().__init__(self.message())

    def located(self, source: Optional[str], line: Optional[int]) -> "ConfigError":
        """The same error, placed at `source:line` unless it already knows where it is."""
        if self.source is None and self.line is None:
            self.source, self.line = source, line
            self.args = (self.message(),)
        return self

    def message(self) -> str:
        where = ""
        if self.source is not None and self.line is not None:
            where = f"{self.source}:{self.line}: "
        elif self.source is not None:
            where = f"{self.source}: "
        problem = self.problem.strip().rstrip(".")
        return _one_line(f"{where}{self.directive}: {problem}. Fix: {_sentence(self.fix)}")

    def __str__(self) -> str:
        return self.message()
