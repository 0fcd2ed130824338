"""wsgid's benchmark: each contender behind the same Apache, loaded by wrk, one table per app.

Run it with the interpreter wsgid is installed in (`make bench` does, after setting up the bench
virtualenv with mod_wsgi and uWSGI):

    build/venv/bin/python bench/run.py --quick               # a few seconds per cell
    build/venv/bin/python bench/run.py --only wsgid,mod_wsgi --apps hello,json

Rules:
- One contender runs at a time: start it, check each app's answer, then for each app and
  concurrency a warm-up run of wrk (discarded) and a measured run; then stop it and every process
  it started, by pid. Everything lives in one private directory under /tmp, removed at the end.
- A full run has several rounds (--rounds): every contender is measured once per round, the
  order of the contenders turning by one each round, and each cell of the tables is the round
  with the median req/s. On a shared 2-core machine a whole run drifts by tens of percent; a
  drift that lasts a round is then seen by every contender in turn, and a spike lands in one
  round, which the median drops.
- Only loopback: every server listens on 127.0.0.1 (or a unix socket in the private directory).
- Benchmarks are measurements, not assertions: a missed target is reported, never an exit code.
  The exit code is non-zero only when nothing could be measured or a contender failed to start.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import contenders  # noqa: E402
import load  # noqa: E402
import table  # noqa: E402
import workloads  # noqa: E402

REPO = os.path.dirname(HERE)
DEFAULT_BENCH_VENV = os.path.join(REPO, "build", "bench-venv")
FULL = {"warmup": 2, "duration": 6, "connections": "16,64", "rounds": 3}
QUICK = {"warmup": 1, "duration": 3, "connections": "16", "rounds": 1}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark wsgid against mod_wsgi daemon mode, uWSGI behind "
                    "mod_proxy_uwsgi and Apache static files, all behind the same Apache.")
    parser.add_argument("--quick", action="store_true",
                        help=f"development run: {QUICK['warmup']}s warm-up, "
                             f"{QUICK['duration']}s per cell, {QUICK['connections']} connections")
    parser.add_argument("--warmup", type=int, help="seconds of discarded load before each cell")
    parser.add_argument("--duration", type=int, help="measured seconds per cell")
    parser.add_argument("--rounds", type=int,
                        help="times every cell is measured, contenders in turning order; the "
                             "median round is shown")
    parser.add_argument("--connections", help="comma-separated wrk concurrencies, e.g. 16,64")
    parser.add_argument("--only", default=",".join(contenders.DEFAULT),
                        help="comma-separated contenders (default: %(default)s; also: wsgid-py, "
                             "wsgid on its pure-Python core)")
    parser.add_argument("--apps", default=",".join(w.name for w in workloads.WORKLOADS),
                        help="comma-separated apps (default: %(default)s)")
    parser.add_argument("--bench-venv", default=DEFAULT_BENCH_VENV,
                        help="virtualenv with mod_wsgi and uwsgi (bench/setup-env makes it)")
    parser.add_argument("--backend-nice", type=int, metavar="N",
                        help="run every contender's backend threads at niceness N (what "
                             "cpu-priority= does; negative needs root); default: unchanged")
    parser.add_argument("--json", metavar="FILE", help="also write every measurement to FILE")
    parser.add_argument("--keep", action="store_true",
                        help="keep the private directory (configs, logs) for inspection")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    args.warmup = mode["warmup"] if args.warmup is None else args.warmup
    args.duration = mode["duration"] if args.duration is None else args.duration
    args.rounds = mode["rounds"] if args.rounds is None else args.rounds
    try:
        args.connections = [int(c) for c in (args.connections or mode["connections"]).split(",")]
    except ValueError:
        parser.error("--connections takes comma-separated integers, e.g. 16,64")
    if (args.duration < 1 or args.warmup < 0 or args.rounds < 1
            or any(c < 1 for c in args.connections)):
        parser.error("--duration and --rounds must be >= 1, --warmup >= 0, --connections >= 1")
    args.contenders = contenders.by_names([n for n in args.only.split(",") if n])
    args.workloads = workloads.by_names([n for n in args.apps.split(",") if n])
    return args


def _terminate_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what it started."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def _output(cmd):
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (res.stdout + res.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"


def describe_setup(args):
    from wsgid import paths
    apache = _output([paths.httpd_binary(), "-v"]).splitlines()[0]
    venv_python = os.path.join(args.bench_venv, "bin", "python")
    versions = _output([venv_python, "-c",
                        "import importlib.metadata as m; "
                        "print('mod_wsgi', m.version('mod_wsgi'), '/ uWSGI', m.version('uWSGI'))"])
    env = {k: v for k, v in os.environ.items() if k != "WSGID_PUREPYTHON"}
    core = subprocess.run([sys.executable, "-c", "from wsgid import core; print(core.IMPLEMENTATION)"],
                          capture_output=True, text=True, env=env).stdout.strip()
    return [
        f"machine: {platform.node()}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start, niceness {os.nice(0)}",
        f"server: {apache}, event MPM, 2 x 64 threads; backends {contenders.PROCESSES} "
        f"processes x {contenders.THREADS} threads",
        f"versions: {versions}; wsgid core: {core}",
        f"wrk: {load.WRK_THREADS} threads, {args.warmup}s warm-up + {args.duration}s measured "
        f"per cell, connections {','.join(map(str, args.connections))}; {args.rounds} "
        f"round(s), each cell the median round" + (" (--quick)" if args.quick else "")
        + (f"; backends at nice {args.backend_nice}" if args.backend_nice is not None else ""),
    ]


def renice_backend(contender, niceness):
    """Every thread of the contender's backend processes at `niceness`: Linux schedules threads,
    so each one is set (a thread started later would keep its process's niceness)."""
    daemons, _ = contender.backend()
    for proc in daemons:
        try:
            threads = os.listdir(f"/proc/{proc.pid}/task")
        except FileNotFoundError:
            continue  # gone since backend() listed it
        for tid in threads:
            try:
                os.setpriority(os.PRIO_PROCESS, int(tid), niceness)
            except ProcessLookupError:
                pass  # the thread ended since the listing


def measure_contender(contender, args, expected, results, progress):
    """Start one contender, check its answers, run every cell it serves, stop it."""
    reason = contender.unavailable()
    if reason:
        for w in args.workloads:
            for c in args.connections:
                results[(w.name, c)][contender.name] = table.Cell(note=f"not run: {reason}")
        progress(f"{contender.name}: not run: {reason}")
        return True
    progress(f"{contender.name}: starting ({contender.description})")
    try:
        contender.start()
        for w in args.workloads:
            cells = [(w.name, c) for c in args.connections]
            if not contender.serves(w):
                for key in cells:
                    results[key][contender.name] = table.Cell(note="n/a: no static twin")
                continue
            problem = load.check_answer(contender.url(w.path), w, expected[w.name])
            if problem:
                progress(f"{contender.name}: wrong answer, not measured: {problem}")
                for key in cells:
                    results[key][contender.name] = table.Cell(note=f"wrong answer: {problem}")
                continue
            for c in args.connections:
                url = contender.url(w.path)
                if args.backend_nice is not None:
                    renice_backend(contender, args.backend_nice)
                if args.warmup:
                    load.run_wrk(url, w, c, args.warmup)
                servers = contender.server_processes()
                cpu_before = sum(contenders.cpu_seconds(servers))
                result = load.run_wrk(url, w, c, args.duration)
                cpu_used = sum(contenders.cpu_seconds(servers)) - cpu_before
                rss, manager_rss, n = contender.memory()
                results[(w.name, c)][contender.name] = table.Cell(
                    result, rss, manager_rss, n,
                    cpu_us=1e6 * cpu_used / result.requests if result.requests else 0.0)
                progress(f"{contender.name}: {w.name} c={c}: {result.rate:.0f} req/s, "
                         f"p99 {result.p99_ms:.2f} ms, {result.errors} errors")
        return True
    except RuntimeError as exc:
        progress(f"{contender.name}: failed: {exc}")
        for w in args.workloads:
            for c in args.connections:
                results[(w.name, c)].setdefault(contender.name, table.Cell(note=f"failed: {exc}"))
        return False
    finally:
        contender.stop()


def to_json(setup, results, rounds):
    out = {"setup": setup, "cells": []}
    for (app, c), cells in results.items():
        for name, cell in cells.items():
            row = {"app": app, "connections": c, "contender": name, "note": cell.note,
                   "round_req_per_s": [r.load.rate for r in rounds[(app, c)][name] if r.load]}
            if cell.load is not None:
                row.update(req_per_s=cell.load.rate, p50_ms=cell.load.p50_ms,
                           p99_ms=cell.load.p99_ms, errors=cell.load.errors,
                           bytes=cell.load.bytes, seconds=cell.load.seconds,
                           rss_bytes=cell.rss, manager_rss_bytes=cell.manager_rss,
                           server_cpu_us_per_request=cell.cpu_us,
                           app_processes=cell.app_processes)
            out["cells"].append(row)
    return out


def main(argv=None):
    args = parse_args(argv)
    if not load.wrk_binary():
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does)")
    _terminate_on_sigterm()
    setup = describe_setup(args)
    print("\n".join(setup), flush=True)
    expected = {w.name: w.expected_body() for w in args.workloads}
    results = {(w.name, c): {} for w in args.workloads for c in args.connections}

    def progress(message):
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    run_dir, app_file, static_dir = workloads.prepare_run_dir("wsgid-bench-")
    all_started = True
    rounds = {key: {} for key in results}   # (app, c) -> {contender: [Cell, one per round]}
    try:
        for number in range(args.rounds):
            turn = number % len(args.contenders)
            if args.rounds > 1:
                progress(f"round {number + 1} of {args.rounds}")
            for cls in args.contenders[turn:] + args.contenders[:turn]:
                contender = cls(run_dir, app_file, static_dir, args.bench_venv)
                measured = {key: {} for key in results}
                all_started &= measure_contender(contender, args, expected, measured, progress)
                for key, cells in measured.items():
                    for name, cell in cells.items():
                        rounds[key].setdefault(name, []).append(cell)
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    for key, cells in rounds.items():
        results[key] = {name: table.median_cell(samples) for name, samples in cells.items()}

    order = [c.name for c in args.contenders]
    titles = {w.name: w.title for w in args.workloads}
    for (app, c), cells in results.items():
        print()
        print(table.format_table(f"== {titles[app]}, {c} connections", cells, order,
                                 contenders.REFERENCE))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(to_json(setup, results, rounds), f, indent=1)
    measured = any(cell.load for cells in results.values() for cell in cells.values())
    return 0 if measured and all_started else 1


if __name__ == "__main__":
    sys.exit(main())
