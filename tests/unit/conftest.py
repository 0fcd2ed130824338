"""Fixtures of the unit tests.

`caplog` also sees wsgid's log records after log.setup() stopped them propagating.
`core` runs a test once on each wire-core implementation: the Cython module wsgid._core and its
pure-Python twin wsgid._core_py, imported directly (not through wsgid.core, which picks one).
The Cython module must be built (`make build`); a missing build fails these tests, it is not
skipped, because then the suite would silently test one implementation.
"""

import importlib
import logging

import pytest

CORE_MODULES = ("wsgid._core", "wsgid._core_py")


def import_core(name):
    try:
        return importlib.import_module(name)
    except ImportError as error:
        pytest.fail(f"cannot import {name} ({error}); build it first: make build", pytrace=False)


@pytest.fixture(params=CORE_MODULES, ids=["cython", "python"])
def core(request):
    """One wire-core implementation module."""
    return import_core(request.param)


@pytest.fixture
def both_cores():
    """(cython, python): for tests that compare the two implementations."""
    return tuple(import_core(name) for name in CORE_MODULES)


@pytest.fixture
def caplog(caplog):
    """caplog, also when log.setup() has made the 'wsgid' logger stop propagating."""
    logger = logging.getLogger("wsgid")
    propagate, logger.propagate = logger.propagate, True
    caplog.set_level(logging.INFO, logger="wsgid")
    yield caplog
    logger.propagate = propagate
