"""What one request costs each side, counted rather than timed: instructions and system calls.

    build/venv/bin/python bench/profile_requests.py --contender wsgid --app hello
    build/venv/bin/python bench/profile_requests.py --contender granian --app json --syscalls

Starts one bench contender (bench/contenders.py: the same Apache, app and 2 x 8 backend as
`make bench`), sends it requests with `ab` (a stock client, keep-alive), and divides what it
counts by the requests served. Each count is split by side:

- `apache`: Apache's parent and children (mod_wsgid, mod_proxy_http or mod_proxy_uwsgi);
- `backend`: the processes that run the application (wsgid's daemons, Granian's or uWSGI's
  workers).
- `manager`: the process that manages the backend (wsgid's supervisor, Granian's main
  process, uWSGI's master): nothing, per request, when all is well.

Instructions (the default): every server process runs under `valgrind --tool=callgrind`, and
each writes its instruction count when it exits. Two runs differ only in their request count
(`--requests` and a fifth of it); each idles to the same `--seconds` after its load began, so
start-up, stop and idle work (heartbeats, Apache's maintenance) cancel out in the difference,
which is divided by the difference of the requests served: the calls of Apache's
`ap_process_async_request` in its children's counts. Instruction counts do not move with the
machine's speed the way CPU time does on a shared VM, so small differences can be trusted.
Valgrind runs a process's threads one at a time: the counts are of work done, not of waiting.
(Switching collection on and off in running processes is not used: vgdb cannot reach a
valgrind'd process that has changed its user, as Apache's children and the daemons have.)

`--syscalls`: no valgrind; `strace -f -c` is attached to each side's processes while ab sends
exactly `--requests` requests, and its table is divided by that number. `futex` counts GIL and
lock hand-offs, which strace's slowness makes more frequent than they are at full speed.

Rules: a measurement tool, not a test; loopback only; every process it starts is stopped by pid.
"""

import argparse
import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import contenders  # noqa: E402
import load  # noqa: E402
import workloads  # noqa: E402

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contender", default="wsgid", help="bench contender (default: wsgid)")
    parser.add_argument("--app", default="hello", help="bench app (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=2000,
                        help="counted requests (instructions: the larger run's; the other "
                             "has a fifth)")
    parser.add_argument("--seconds", type=int, default=90,
                        help="instructions: each run's window from the start of its load; "
                             "must outlast the larger run's requests under valgrind")
    parser.add_argument("--warmup", type=int, default=500, help="requests before counting")
    parser.add_argument("--concurrency", type=int, default=4, help="ab's -c")
    parser.add_argument("--syscalls", action="store_true",
                        help="count system calls with strace instead of instructions")
    parser.add_argument("--bench-venv", default="build/bench-venv",
                        help="the virtualenv with mod_wsgi, uWSGI and Granian "
                             "(default: %(default)s)")
    parser.add_argument("--top", type=int, default=12, help="system calls to list per side")
    return parser.parse_args(argv)


def ab_body(workload, scratch):
    """ab's options that send the workload's upload, if it has one."""
    if not workload.upload_bytes:
        return []
    body = os.path.join(scratch, "upload.bin")
    with open(body, "wb") as f:
        f.write(workload.upload_body())
    return ["-p", body, "-T", "application/octet-stream"]


def run_ab(url, workload, requests, concurrency, scratch):
    """Send exactly `requests` requests with ab (keep-alive); fail unless all of them got 2xx."""
    cmd = ["ab", "-q", "-k", "-n", str(requests), "-c", str(concurrency), "-s", "120"]
    cmd += ab_body(workload, scratch)
    res = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=3600)
    done = re.search(r"Complete requests:\s+(\d+)", res.stdout)
    failed = re.search(r"Failed requests:\s+(\d+)", res.stdout)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", res.stdout)
    if (res.returncode != 0 or not done or int(done.group(1)) != requests
            or int(failed.group(1)) or non2xx):
        raise SystemExit(f"ab did not get {requests} good answers:\n{res.stdout}{res.stderr}")


def sides_of(contender):
    """{side: [pid, ...]} of the contender's server processes now."""
    backend, managers = contender.backend()
    backend_pids = {p.pid for p in backend}
    # (under valgrind a wsgid daemon keeps its supervisor's command line, so it is in both)
    manager_pids = {p.pid for p in managers} - backend_pids
    # Apache's own processes; an embedded contender's children are its backend.
    apache = [p.pid for p in contender.apache.processes()
              if p.pid not in backend_pids | manager_pids]
    return {"apache": apache, "backend": sorted(backend_pids), "manager": sorted(manager_pids)}


@contextlib.contextmanager
def running(cls, workload, args, with_callgrind=False):
    """The contender started (under callgrind, each process writing its counts into the
    scratch directory) and answering right; yields (contender, url, scratch directory).
    Everything it started is stopped and its directories removed afterwards."""
    run_dir, app_file, static_dir = workloads.prepare_run_dir("wsgid-count-")
    scratch = tempfile.mkdtemp(prefix="wsgid-count-out-")
    os.chmod(scratch, 0o777)  # the Apache children and daemons write their counts here
    contender = cls(run_dir, app_file, static_dir, os.path.abspath(args.bench_venv))
    try:
        why = contender.unavailable()
        if why:
            raise SystemExit(why)
        if with_callgrind:
            contender.wrapper = callgrind_wrapper(scratch)
        contender.start()
        url = contender.url(workload.path)
        # (under valgrind the first answer can take minutes)
        load.check_answer(url, workload, workload.expected_body(), timeout=600)
        yield contender, url, scratch
    finally:
        contender.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


# -- instructions ---------------------------------------------------------------------------

def callgrind_wrapper(out_dir):
    return ["valgrind", "--tool=callgrind", "--trace-children=yes", "--separate-threads=no",
            f"--callgrind-out-file={out_dir}/cg.%p",
            # valgrind's own messages to a file: Apache daemonizes, and a copy of the launcher's
            # stderr held open by valgrind would keep `httpd -k start`'s caller waiting
            f"--log-file={out_dir}/valgrind.%p.log"]


def read_dump(path, counted_functions):
    """(instructions, calls of any of counted_functions) in one callgrind output file."""
    names = {}
    total = calls = 0
    callee = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
            elif line.startswith(("fn=", "cfn=")):
                # "cfn=(7) name" the first time a name is used, "cfn=(7)" after that
                key, _, name = line.rstrip("\n").partition("=")[2].partition(" ")
                if name:
                    names[key] = name
                callee = names.get(key) if line.startswith("cfn=") else None
            elif line.startswith("calls=") and callee in counted_functions:
                calls += int(line[6:].split()[0])
    return total, calls


# Apache calls one of these once per request it reads (the event MPM the first, the others the
# second); never for a subrequest or an internal redirect
REQUEST_FUNCTIONS = ("ap_process_async_request", "ap_process_request")


def instructions_of_run(cls, workload, args, requests):
    """One run under callgrind: start, `requests` requests, then idle until --seconds after
    the load began, stop. Returns ({side: instructions}, requests Apache served), counted over
    the processes' whole lives (each writes its counts when it exits)."""
    with running(cls, workload, args, with_callgrind=True) as (contender, url, scratch):
        sides = sides_of(contender)
        began = time.monotonic()
        run_ab(url, workload, requests, args.concurrency, scratch)
        left = args.seconds - (time.monotonic() - began)
        if left < 0:
            raise SystemExit(f"{requests} requests took longer than --seconds {args.seconds}")
        # Idle for the rest of the window, so that both runs idle as long (heartbeats, Apache's
        # maintenance) and only the request count differs between them.
        time.sleep(left)
        contender.stop()   # each process writes its counts as it exits
        per_pid = {}
        for path in glob.glob(os.path.join(scratch, "cg.*")):
            pid = os.path.basename(path).split(".")[1]
            if pid.isdigit():
                per_pid[int(pid)] = read_dump(path, REQUEST_FUNCTIONS)
        missing = [pid for pids in sides.values() for pid in pids if pid not in per_pid]
        if missing:
            raise SystemExit(f"no callgrind counts from processes {missing} in {scratch}")
        served = sum(per_pid[pid][1] for pid in sides["apache"])
        return {side: sum(per_pid[pid][0] for pid in pids)
                for side, pids in sides.items()}, served


def count_instructions(cls, workload, args):
    """Two runs that differ only in their request count: the difference of their instructions
    divided by the difference of their requests is what a request costs, with start-up, stop
    and idle work cancelled out."""
    few, few_served = instructions_of_run(cls, workload, args, args.requests // 5)
    many, many_served = instructions_of_run(cls, workload, args, args.requests)
    requests = many_served - few_served
    print(f"\ninstructions per request (callgrind; runs of {few_served} and {many_served} "
          f"requests, ab -c {args.concurrency})")
    grand = 0
    for side in ("apache", "backend", "manager"):
        count = (many[side] - few[side]) / requests
        grand += count
        print(f"  {side:8} {count:12,.0f}")
    print(f"  {'total':8} {grand:12,.0f}")


# -- system calls ---------------------------------------------------------------------------

STRACE_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")


def count_syscalls(contender, url, workload, args, scratch):
    sides = sides_of(contender)
    tracers = {}
    for side in ("apache", "backend"):
        pids = sides[side]
        out = os.path.join(scratch, f"strace-{side}.txt")
        cmd = ["strace", "-f", "-c", "-o", out]
        for pid in pids:
            cmd += ["-p", str(pid)]
        tracers[side] = (subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True), out)
    for side, (tracer, _) in tracers.items():
        # strace says "Process N attached" for each thread before it counts anything
        line = tracer.stderr.readline()
        if "attached" not in line:
            raise SystemExit(f"strace on {side}: {line}")
    try:
        run_ab(url, workload, args.requests, args.concurrency, scratch)
    finally:
        for tracer, _ in tracers.values():
            tracer.send_signal(signal.SIGINT)
        for tracer, _ in tracers.values():
            tracer.communicate(timeout=60)
    print(f"\nsystem calls per request ({args.requests} requests, ab -c {args.concurrency})")
    for side, (_, out) in tracers.items():
        calls = {}
        with open(out) as f:
            for line in f:
                row = STRACE_ROW.match(line)
                if row and row.group(3) != "total":
                    calls[row.group(3)] = int(row.group(1))
        total = sum(calls.values())
        without_futex = total - calls.get("futex", 0)
        print(f"  {side}: {total / args.requests:.1f} ({without_futex / args.requests:.1f} "
              f"without futex)")
        for name, count in sorted(calls.items(), key=lambda kv: -kv[1])[:args.top]:
            if count / args.requests >= 0.05:
                print(f"      {name:16} {count / args.requests:6.2f}")


def main(argv=None):
    args = parse_args(argv)
    tool = "strace" if args.syscalls else "valgrind"
    if not shutil.which(tool) or not shutil.which("ab"):
        raise SystemExit(f"needs {tool} and ab (apache2-utils)")
    workload = workloads.by_names([args.app])[0]
    cls = contenders.by_names([args.contender])[0]
    print(f"{args.contender}, app {args.app}: {cls.description}")
    if not args.syscalls:
        count_instructions(cls, workload, args)
        return
    with running(cls, workload, args) as (contender, url, scratch):
        run_ab(url, workload, args.warmup, args.concurrency, scratch)
        count_syscalls(contender, url, workload, args, scratch)


if __name__ == "__main__":
    sys.exit(main())
