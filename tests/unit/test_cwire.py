"""The C side of the wire protocol: compiles each C unit test of tests/c/ with the one cmodule/
source it tests (no Apache, no APR) and runs it.

- test_wire.c: the golden bytes of the uwsgi encoder (65535-byte vars block accepted, 65536
  refused, no size ever wrapped) and the response head parser cases (split heads, bare LF, bad
  status line, bad header name, control characters in values, heads over 64 KiB).
- test_frames.c: the reader of framed response bodies (split at every byte, no end frame,
  bytes after it, the largest frame length).
"""

import subprocess

import pytest

from tests.support.cprogram import compile_c_program


@pytest.mark.parametrize("test_name, source_under_test", [
    ("test_wire", "wsgid_wire.c"),
    ("test_frames", "wsgid_frames.c"),
])
def test_c_unit_tests_pass(tmp_path, test_name, source_under_test):
    binary = compile_c_program(tmp_path, test_name, source_under_test)
    result = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{test_name} failed:\n{result.stdout}{result.stderr}"
    assert " 0 failed" in result.stdout
