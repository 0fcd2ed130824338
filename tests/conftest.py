"""Fixtures shared by the whole suite.

The suite runs inside the build virtualenv (`make test`), whose interpreter the Apache child user
can read; the integration tests give that interpreter to Apache through `wsgid module-config`.
"""

import pytest

from tests.support.apache import ApacheInstance


@pytest.fixture
def apache():
    """Factory: apache(conf_body, **kw) -> a configured (not yet started) ApacheInstance.

    Every instance made is stopped and its processes killed at teardown.
    """
    made = []

    def make(conf_body, **kw):
        inst = ApacheInstance(conf_body, **kw)
        made.append(inst)
        return inst

    yield make
    for inst in made:
        inst.cleanup()
