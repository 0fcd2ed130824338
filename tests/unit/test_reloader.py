"""wsgid/reloader.py's change detection, on real module files."""

import importlib
import os
import sys
import time

import pytest

from wsgid import reloader


@pytest.fixture
def module(tmp_path, monkeypatch):
    path = tmp_path / "watched_module.py"
    path.write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("watched_module")
    yield path
    sys.modules.pop("watched_module", None)


def first_scan(seen):
    """A scan by a reloader started now, after every module file was written: it records."""
    assert reloader.changed(seen, time.time_ns()) is None
    return seen


def test_a_later_scan_finds_nothing_unchanged(module):
    seen = first_scan({})
    assert str(module) in seen
    assert reloader.changed(seen, 0) is None


def test_a_changed_module_file_is_found_by_name(module):
    seen = first_scan({})
    module.write_text("VALUE = 22\n")        # another size
    assert reloader.changed(seen, 0) == (str(module), "watched_module")


def test_a_touched_module_file_is_found(module):
    seen = first_scan({})
    info = os.stat(module)
    os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    assert reloader.changed(seen, 0) == (str(module), "watched_module")


def test_a_removed_module_file_is_found(module):
    seen = first_scan({})
    module.unlink()
    assert reloader.changed(seen, 0) == (str(module), "watched_module")


def test_a_file_first_seen_modified_after_start_counts_as_changed(module):
    # imported, then edited before the reloader's first scan: the edit is not missed
    started_before_the_edit = os.stat(module).st_mtime_ns - 1
    assert reloader.changed({}, started_before_the_edit) == (str(module), "watched_module")


def test_a_file_with_a_future_mtime_is_not_a_change_on_first_sight(module):
    info = os.stat(module)
    os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns + 3600 * 10**9))
    seen = {}
    assert reloader.changed(seen, info.st_mtime_ns - 1) is None
    assert str(module) in seen
