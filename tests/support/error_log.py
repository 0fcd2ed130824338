"""Reading Apache's error log in tests, where wsgid's lines are in Apache's format (log.py):
the marks that find one process's or one group's lines, and Logstash's stock grok pattern
(tests/data/log_patterns) that reads a line into its fields."""

import re
from pathlib import Path

PATTERNS = Path(__file__).resolve().parents[1] / "data" / "log_patterns"
_GROUP = re.compile(r"\] wsgid \(group ([^)]*)\): ")


def pid_mark(pid):
    """What every line of process `pid` contains (Apache's `[pid N:tid T]`)."""
    return f"[pid {pid}:tid "


def group_mark(group):
    """What starts the message of a wsgid line about group `group`."""
    return f"wsgid (group {group}): "


def group_of(line):
    """The group a wsgid line speaks for, or None."""
    found = _GROUP.search(line)
    return found.group(1) if found else None


_grok = None


def parse(line):
    """The fields Logstash's HTTPD24_ERRORLOG pattern reads from `line`, or None."""
    global _grok
    if _grok is None:
        from pygrok import Grok
        _grok = Grok("%{HTTPD24_ERRORLOG}", custom_patterns_dir=str(PATTERNS))
    return _grok.match(line)
