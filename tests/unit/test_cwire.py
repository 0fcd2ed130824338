"""The C side of the wire protocol: compiles each C unit test of tests/c/ with the one cmodule/
source it tests (no Apache, no APR) and runs it.

- test_wire.c: the golden bytes of the uwsgi encoder (65535-byte vars block accepted, 65536
  refused, no size ever wrapped) and the response head parser cases (split heads, bare LF, bad
  status line, bad header name, control characters in values, heads over 64 KiB).
- test_frames.c: the reader of framed response bodies (split at every byte, no end frame,
  bytes after it, the largest frame length).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CMODULE = REPO / "cmodule"
C_TESTS = REPO / "tests" / "c"


def compiled(tmp_path, test_name, source_under_test):
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (cc) on PATH: install build-essential")
    binary = tmp_path / test_name
    cmd = [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(CMODULE),
           str(C_TESTS / f"{test_name}.c"), str(CMODULE / source_under_test), "-o", str(binary)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"compiling {test_name}.c failed:\n{result.stderr}"
    return binary


@pytest.mark.parametrize("test_name, source_under_test", [
    ("test_wire", "wsgid_wire.c"),
    ("test_frames", "wsgid_frames.c"),
])
def test_c_unit_tests_pass(tmp_path, test_name, source_under_test):
    binary = compiled(tmp_path, test_name, source_under_test)
    result = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{test_name} failed:\n{result.stdout}{result.stderr}"
    assert " 0 failed" in result.stdout
