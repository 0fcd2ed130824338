"""Fixtures shared by the integration tests that live in tests/support/."""

from tests.support.express import express, pid_script, write_script  # noqa: F401
