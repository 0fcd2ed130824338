"""The C side of the wire protocol: compiles tests/c/test_wire.c with cmodule/wsgid_wire.c alone
(no Apache, no APR) and runs it.

The C test holds the golden bytes of the uwsgi encoder (65535-byte vars block accepted, 65536
refused, no size ever wrapped) and the response head parser cases (split heads, bare LF, bad
status line, bad header name, control characters in values, heads over 64 KiB).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CMODULE = REPO / "cmodule"
TEST_SOURCE = REPO / "tests" / "c" / "test_wire.c"


@pytest.fixture(scope="module")
def test_wire_binary(tmp_path_factory):
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (cc) on PATH: install build-essential")
    binary = tmp_path_factory.mktemp("cwire") / "test_wire"
    cmd = [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(CMODULE),
           str(TEST_SOURCE), str(CMODULE / "wsgid_wire.c"), "-o", str(binary)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"compiling the C wire test failed:\n{result.stderr}"
    return binary


def test_wire_encoder_and_head_parser_pass_their_c_unit_tests(test_wire_binary):
    result = subprocess.run([str(test_wire_binary)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"C wire tests failed:\n{result.stdout}{result.stderr}"
    assert "0 failed" in result.stdout
