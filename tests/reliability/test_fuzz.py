"""The fuzz targets of fuzz/, run for a bounded time: the CI step of the coverage-guided fuzzing.

- The packet target (fuzz/packet_fuzzer.py, atheris) fuzzes the daemon's request-packet parser
  and compares the pure-Python twin with the Cython core on every input, so it covers both cores
  whichever WSGID_PUREPYTHON says; the head target (fuzz/head_fuzzer.c, libFuzzer with address
  and undefined-behaviour sanitizers) fuzzes the module's response-head parser, which does not
  depend on the core either. Both therefore run in the first pass of the suite only (the Cython
  one) and are skipped in the WSGID_PUREPYTHON=1 pass: running them twice would find nothing
  new for twice the time.
- Each run starts with the committed seed corpus (fuzz/corpus/), so every input that once
  crashed and was added there is replayed first. Fuzzing longer: `fuzz/run SECONDS`.
- A test that proves the harness can fail: the head target built against a parser that lets a
  CR through must abort on the committed corpus.
Total time in CI: about 55 s.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUZZ = REPO / "fuzz"
RUN = FUZZ / "run"
PACKET_SECONDS = 30
HEAD_SECONDS = 15

pytestmark = [
    pytest.mark.bad_input,
    pytest.mark.skipif(
        os.environ.get("WSGID_PUREPYTHON", "") not in ("", "0"),
        reason="fuzzing runs in the first pass only: the packet target compares both cores "
               "itself and the head target does not depend on the core",
    ),
]


def fuzz_run(work, *args, timeout):
    env = dict(os.environ, FUZZ_WORK=str(work), PYTHON=sys.executable)
    return subprocess.run([str(RUN), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=REPO)


def explain_finding(result, work):
    """The failure text: libFuzzer's report and each crashing input's bytes."""
    crashes = sorted(Path(work).glob("crash-*"))
    found = "\n".join(f"{c.name}: {c.read_bytes()[:300]!r}" for c in crashes)
    return (f"fuzz/run exited {result.returncode}\n--- inputs found (fix, then add to "
            f"fuzz/corpus/):\n{found or 'none written'}\n--- output (end):\n"
            f"{result.stderr[-6000:]}{result.stdout[-2000:]}")


def executed_units(output):
    match = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="module")
def requirements():
    if shutil.which("clang") is None:
        pytest.fail("clang is missing: scripts/install-system-packages installs clang and "
                    "libFuzzer (libclang-rt-dev)", pytrace=False)
    probe = subprocess.run([sys.executable, "-c", "import atheris"], capture_output=True)
    if probe.returncode != 0:
        pytest.fail(f"atheris is not installed for {sys.executable}: make venv installs it",
                    pytrace=False)


def test_packet_parser_fuzzing_finds_no_difference_and_no_crash(requirements, tmp_path):
    result = fuzz_run(tmp_path, str(PACKET_SECONDS), "packet", timeout=PACKET_SECONDS + 120)
    assert result.returncode == 0, explain_finding(result, tmp_path)
    # atheris runs thousands of inputs a second here: a few hundred means it did not fuzz.
    assert executed_units(result.stderr) > 1000, result.stderr[-3000:]


def test_head_parser_fuzzing_finds_no_sanitizer_report_and_no_inconsistency(requirements,
                                                                             tmp_path):
    result = fuzz_run(tmp_path, str(HEAD_SECONDS), "head", timeout=HEAD_SECONDS + 120)
    assert result.returncode == 0, explain_finding(result, tmp_path)
    assert executed_units(result.stderr) > 10000, result.stderr[-3000:]


def test_head_fuzzer_catches_a_parser_that_lets_cr_through(requirements, tmp_path):
    """The properties are real: a parser that accepts CR in values fails on the seed corpus."""
    source = (REPO / "cmodule" / "wsgid_wire.c").read_text()
    allowing_cr = "return c == '\\t' || c == '\\r' || (c >= 0x20 && c != 0x7f);"
    broken = source.replace("return c == '\\t' || (c >= 0x20 && c != 0x7f);", allowing_cr)
    assert broken != source, "is_field_char changed shape: update this test"
    (tmp_path / "cmodule").mkdir()
    (tmp_path / "cmodule" / "wsgid_wire.c").write_text(broken)
    binary = tmp_path / "head_fuzzer_broken"
    build = subprocess.run(
        ["clang", "-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-I",
         str(REPO / "cmodule"), str(FUZZ / "head_fuzzer.c"),
         str(tmp_path / "cmodule" / "wsgid_wire.c"), str(REPO / "cmodule" / "wsgid_frames.c"),
         "-o", str(binary)],
        capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    replay = subprocess.run(
        [str(binary), "-runs=0", f"-artifact_prefix={tmp_path}/crash-",
         str(FUZZ / "corpus" / "head")],
        capture_output=True, text=True, timeout=60)
    assert replay.returncode != 0
    assert "property failed" in replay.stderr, replay.stderr[-3000:]
