"""Drive load with wrk and read back what it measured; check one answer before measuring.

Rules:
- wrk runs for a bounded duration with a fixed number of connections and 2 threads (one per
  core); its numbers come from bench/wrk_report.lua's one-line JSON summary, not from scraping
  its human-readable output.
- Errors are wrk's socket errors (connect, read, write, timeout) plus its status errors
  (responses >= 400); the correctness of the body is checked once per contender and workload
  by `check_answer` before any load, because wrk does not look at bodies.
"""

import http.client
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT_SCRIPT = os.path.join(HERE, "wrk_report.lua")
WRK_THREADS = 2
MARKER = "BENCH-RESULT "


@dataclass
class LoadResult:
    requests: int
    seconds: float
    bytes: int
    socket_errors: int
    status_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self):
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self):
        return self.socket_errors + self.status_errors


def wrk_binary():
    return shutil.which("wrk")


def wrk_command(url, workload, connections, seconds):
    """wrk's command line and environment for one run of `workload` (its upload included)."""
    env = dict(os.environ)
    env.pop("BENCH_UPLOAD_BYTES", None)
    if workload.upload_bytes:
        env["BENCH_UPLOAD_BYTES"] = str(workload.upload_bytes)
    threads = min(WRK_THREADS, connections)
    cmd = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
           "-s", REPORT_SCRIPT, url]
    return cmd, env


def run_wrk(url, workload, connections, seconds):
    """One wrk run; returns a LoadResult, or raises RuntimeError with wrk's own words."""
    cmd, env = wrk_command(url, workload, connections, seconds)
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    line = next((l for l in res.stdout.splitlines() if l.startswith(MARKER)), None)
    if res.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({res.returncode}): {res.stdout}{res.stderr}")
    raw = json.loads(line[len(MARKER):])
    return LoadResult(
        requests=raw["requests"], seconds=raw["duration_us"] / 1e6, bytes=raw["bytes"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        status_errors=raw["status"], p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000)


def check_answer(url, workload, expected_body, timeout=30):
    """None when the contender answers this workload with 200 and the expected bytes, else why."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        body = workload.upload_body() if workload.upload_bytes else None
        headers = {"Content-Type": "application/octet-stream"} if body else {}
        conn.request(workload.method, parts.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    except OSError as exc:
        return f"{workload.method} {parts.path}: {exc}"
    finally:
        conn.close()
    if response.status != 200:
        return f"{workload.method} {parts.path}: status {response.status}: {data[:200]!r}"
    if data != expected_body:
        return (f"{workload.method} {parts.path}: {len(data)} bytes that differ from the "
                f"expected {len(expected_body)} (starts {data[:60]!r})")
    return None
