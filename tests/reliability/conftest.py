"""The reliability suite's shared plumbing: categories of cases and the measured figures.

Every test here carries one category marker, which `make reliability` counts in its table:
- ``bad_input``: hostile or malformed input (packets, HTTP, application output) that must be
  refused or delivered exactly, with the daemon surviving;
- ``fault``: a fault (a killed process, a broken application, a vanished client) that must be
  survived.

Tests that measure something the table reports (requests lost during restarts, recovery time,
descriptor and memory growth) hand the number to the ``figures`` fixture. When the environment
variable WSGID_FIGURES names a file, the outcomes and the figures of the run are written there as
JSON at the end of the session; `python -m tests.reliability.report FILE` prints the table.
Without it (the ordinary `make test`) nothing is written and the tests assert the same targets.
"""

import json
import os

import pytest

CATEGORIES = ("bad_input", "fault")

_outcomes = {}   # test node id -> (category, outcome)
_figures = {}    # figure name -> list of recorded values


def pytest_configure(config):
    for category in CATEGORIES:
        config.addinivalue_line("markers", f"{category}: a reliability case counted as "
                                           f"'{category}' in the figures table")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/reliability/" not in item.nodeid.replace(os.sep, "/"):
            continue
        if not any(item.get_closest_marker(c) for c in CATEGORIES):
            raise pytest.UsageError(f"{item.nodeid} has no category marker; mark it with one "
                                    f"of {', '.join(CATEGORIES)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    category = next((c for c in CATEGORIES if item.get_closest_marker(c)), None)
    if category is None:
        return
    # A test passes only when setup, call and teardown all passed.
    previous = _outcomes.get(item.nodeid, (category, "passed"))[1]
    if report.failed:
        _outcomes[item.nodeid] = (category, "failed")
    elif report.skipped and report.when != "teardown":
        _outcomes[item.nodeid] = (category, "skipped")
    else:
        _outcomes[item.nodeid] = (category, previous)


class Figures:
    """What a test measured, for the table: record(name, value) once per measurement."""

    def record(self, name, value):
        _figures.setdefault(name, []).append(value)


@pytest.fixture
def figures():
    return Figures()


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("WSGID_FIGURES")
    if not path:
        return
    with open(path, "w") as out:
        json.dump({"outcomes": _outcomes, "figures": _figures}, out, indent=1, sort_keys=True)
