"""Fixtures of the unit tests.

`core` runs a test once on each wire-core implementation: the Cython module wsgid._core and its
pure-Python twin wsgid._core_py, imported directly (not through wsgid.core, which picks one).
The Cython module must be built (`make build`); a missing build fails these tests, it is not
skipped, because then the suite would silently test one implementation.
"""

import importlib

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
