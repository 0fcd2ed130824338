"""Compile a C test program of tests/c/ with the cmodule/ sources it exercises (plain C: no
Apache, no APR), for the unit tests that run C code."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CMODULE = REPO / "cmodule"
C_TESTS = REPO / "tests" / "c"


def compile_c_program(directory, program, *sources_under_test):
    """tests/c/<program>.c built with cmodule/<source>... into `directory`; the binary's path."""
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (cc) on PATH: install build-essential", pytrace=False)
    binary = Path(directory) / program
    cmd = [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(CMODULE),
           str(C_TESTS / f"{program}.c"), *(str(CMODULE / s) for s in sources_under_test),
           "-o", str(binary)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"compiling {program}.c failed:\n{result.stderr}"
    return binary
