"""Fixtures of the unit tests.

`caplog` also sees wsgid's log records after log.setup() stopped them propagating.
`core` is the wire core this run tests: the Cython module wsgid._core, or its pure-Python twin
wsgid._core_py when WSGID_PUREPYTHON is set (the suite runs once with each, so each core test
runs once per core); `request_path` is the request path of the same run, compiled or run from
its source. In the Cython run the compiled modules must be built (`make build`): a missing
build fails these tests, it is not skipped, because then the suite would silently test the
pure-Python core twice. `both_cores` is for the tests that compare the two wire cores.
"""

import importlib
import logging
import os

import pytest

CORE_MODULES = ("wsgid._core", "wsgid._core_py")
PURE_PYTHON_RUN = os.environ.get("WSGID_PUREPYTHON", "") not in ("", "0")


def import_core(name):
    try:
        return importlib.import_module(name)
    except ImportError as error:
        pytest.fail(f"cannot import {name} ({error}); build it first: make build", pytrace=False)


@pytest.fixture(scope="session")
def core():
    """The wire-core module of this run."""
    return import_core(CORE_MODULES[PURE_PYTHON_RUN])


@pytest.fixture(scope="session")
def request_path():
    """The request-path module of this run: compiled, or run from its source."""
    if PURE_PYTHON_RUN:
        from wsgid.core import uncompiled
        return uncompiled("wsgid.request_path")
    module = import_core("wsgid.request_path")
    if not module.COMPILED:
        pytest.fail("wsgid/request_path.py is not compiled; build it first: make build",
                    pytrace=False)
    return module


@pytest.fixture
def both_cores():
    """(cython, python): for tests that compare the two implementations. They run once, in the
    Cython run: the pure-Python run would repeat them unchanged."""
    if PURE_PYTHON_RUN:
        pytest.skip("compares the two wire cores; runs in the Cython run")
    return tuple(import_core(name) for name in CORE_MODULES)


@pytest.fixture
def caplog(caplog):
    """caplog, also when log.setup() has made the 'wsgid' logger stop propagating."""
    logger = logging.getLogger("wsgid")
    propagate, logger.propagate = logger.propagate, True
    caplog.set_level(logging.INFO, logger="wsgid")
    yield caplog
    logger.propagate = propagate
