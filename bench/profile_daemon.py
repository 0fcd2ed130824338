"""Where a wsgid daemon process spends its time: sample one under wrk load with py-spy.

    build/venv/bin/pip install py-spy
    build/venv/bin/python bench/profile_daemon.py --app hello --seconds 10 -o /tmp/hello.txt

Starts the `wsgid` contender (bench/contenders.py: the same Apache and 2 x 8 daemons as the
benchmark), puts it under wrk load, records one daemon process with `py-spy record --format raw
--gil` (needs ptrace: run it as root), stops everything it started, and prints the share of
samples per function: "self" (the function itself was on top of the stack) and "total" (it was
anywhere on the stack). With --gil only a thread holding the GIL is sampled, so the shares are of
the Python CPU time of the process: a thread blocked in a system call (poll, recv, send) has
released the GIL and is not in them; `--wall` samples every thread instead (waits included).
It also prints the CPU time (user + system) all daemon processes used per request while wrk ran:
the cost that the shares divide up, and the number to compare before and after a change; and the
daemon threads' context switches per request, which counts GIL hand-offs and hardly depends on
what else the machine is doing.

`--cost-only` skips py-spy and prints only the costs per request (CPU split into user and
system time, context switches), which can then be compared between contenders: `--contender
mod_wsgi` or `uwsgi` measures their daemon processes the same way (with `--bench-venv`, as
`make bench` makes it). It also prints the CPU per request of Apache's own processes (its
parent and children; the supervisor and daemons that Apache starts are not counted there), the
module's side of the cost; then the managers' (wsgid's supervisor, uWSGI's master, Granian's
main process), wrk's, and the whole machine's busy CPU time per request, whose remainder is
what no process of the test was charged with (the kernel's threads, interrupts).

Rules: a measurement tool, not a test; loopback only; every process it starts is stopped by pid.
"""

import argparse
import collections
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import contenders  # noqa: E402
import load  # noqa: E402
import workloads  # noqa: E402

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="hello", help="bench app (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10, help="sampled seconds")
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    parser.add_argument("--pure-python", action="store_true", help="profile the wsgid-py twin")
    parser.add_argument("--contender", default=None,
                        help="with --cost-only: measure this bench contender's daemons instead "
                             "(mod_wsgi, uwsgi, wsgid, wsgid-py)")
    parser.add_argument("--cost-only", action="store_true",
                        help="no py-spy: only the CPU time and context switches per request")
    parser.add_argument("--bench-venv", default="build/bench-venv",
                        help="the virtualenv with mod_wsgi and uWSGI (default: %(default)s)")
    parser.add_argument("--wall", action="store_true",
                        help="sample every thread, not only the one holding the GIL")
    parser.add_argument("--top", type=int, default=30, help="functions to print")
    parser.add_argument("-o", "--output", help="also keep py-spy's raw stacks in this file")
    return parser.parse_args(argv)


def py_spy():
    found = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(found):
        raise SystemExit("py-spy is not installed: build/venv/bin/pip install py-spy")
    return found


def read_raw(path):
    """[(stack frames outermost first, count)] from py-spy's raw (collapsed) output."""
    stacks = []
    with open(path, encoding="utf-8", errors="replace") as raw:
        for line in raw:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def shares(stacks):
    selfs, totals = collections.Counter(), collections.Counter()
    busy = 0
    for frames, count in stacks:
        frames = [f for f in frames if not f.startswith("thread ") and not f.startswith("process ")]
        if not frames:
            continue
        busy += count
        selfs[frames[-1]] += count
        for frame in set(frames):
            totals[frame] += count
    return selfs, totals, busy


def report(stacks, top):
    selfs, totals, busy = shares(stacks)
    print(f"samples: {busy}")
    if not busy:
        return
    print(f"\n{'self %':>7}  function (file:line)")
    for frame, count in selfs.most_common(top):
        print(f"{100 * count / busy:7.1f}  {frame}")
    print(f"\n{'total %':>7}  function (file:line)")
    for frame, count in totals.most_common(top):
        print(f"{100 * count / busy:7.1f}  {frame}")


def machine_busy_seconds():
    """CPU seconds all cores spent on anything but idling, so far."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def context_switches(processes):
    """Voluntary + involuntary context switches of every thread of `processes` so far.

    A thread that gives up the GIL while another wants it costs a switch away and one back, so
    this counts GIL hand-offs as well as waits; unlike CPU time it hardly moves with the load
    of the machine."""
    total = 0
    for proc in processes:
        for task in os.listdir(f"/proc/{proc.pid}/task"):
            try:
                with open(f"/proc/{proc.pid}/task/{task}/status") as status:
                    for line in status:
                        if "ctxt_switches:" in line:  # voluntary_... and nonvoluntary_...
                            total += int(line.split()[-1])
            except FileNotFoundError:
                pass  # a thread that ended meanwhile
    return total


def wrk_requests(output):
    """The request count of bench/wrk_report.lua's summary line, or 0."""
    for line in output.splitlines():
        if line.startswith(load.MARKER):
            return json.loads(line[len(load.MARKER):])["requests"]
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.contender and not args.cost_only:
        raise SystemExit("--contender needs --cost-only (py-spy samples wsgid's daemons only)")
    spy = None if args.cost_only else py_spy()
    if not load.wrk_binary():
        raise SystemExit("wrk is not installed")
    workload = workloads.by_names([args.app])[0]
    name = args.contender or ("wsgid-py" if args.pure_python else "wsgid")
    cls = contenders.by_names([name])[0]
    run_dir, app_file, static_dir = workloads.prepare_run_dir("wsgid-profile-")
    contender = None
    try:
        contender = cls(run_dir, app_file, static_dir, os.path.abspath(args.bench_venv))
        why = contender.unavailable()
        if why:
            raise SystemExit(why)
        contender.start()
        url = contender.url(workload.path)
        load.check_answer(url, workload, workload.expected_body())
        daemons, managers = contender.backend()
        if not daemons:
            raise SystemExit(f"no {name} daemon process found")
        backend_pids = {p.pid for p in daemons + managers}
        apache = [p for p in contender.apache.processes() if p.pid not in backend_pids]
        pid = daemons[0].pid
        raw = args.output or os.path.join(run_dir, "stacks.txt")
        # the same wrk as the benchmark's, an upload's POST body included
        cmd, env = load.wrk_command(url, workload, args.connections, args.seconds + 3)
        wrk = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        # wrk's whole run is counted (its request count covers all of it), warm-up included.
        cpu_before = contenders.cpu_seconds(daemons)
        apache_before = sum(contenders.cpu_seconds(apache))
        managers_before = sum(contenders.cpu_seconds(managers))
        machine_before = machine_busy_seconds()
        # wrk is the only child reaped meanwhile: its CPU time joins RUSAGE_CHILDREN
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        switches_before = context_switches(daemons)
        try:
            time.sleep(1.5)  # let the load reach a steady state before sampling
            if spy is not None:
                subprocess.run([spy, "record", "--pid", str(pid), "--duration", str(args.seconds),
                                "--rate", str(args.rate), "--format", "raw", "--threads",
                                "--nonblocking", "-o", raw] + ([] if args.wall else ["--gil"]),
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            output, _ = wrk.communicate(timeout=args.seconds + 60)
        machine_used = machine_busy_seconds() - machine_before
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk_used = (children_after.ru_utime + children_after.ru_stime
                    - children_before.ru_utime - children_before.ru_stime)
        # wrk's threads sleep in epoll_wait until a response is ready: fewer switches per
        # request when answers come in bursts, more when they come one at a time
        wrk_switches = (children_after.ru_nvcsw + children_after.ru_nivcsw
                        - children_before.ru_nvcsw - children_before.ru_nivcsw)
        user_after, system_after = contenders.cpu_seconds(daemons)
        apache_used = sum(contenders.cpu_seconds(apache)) - apache_before
        managers_used = sum(contenders.cpu_seconds(managers)) - managers_before
        user, system = user_after - cpu_before[0], system_after - cpu_before[1]
        switches = context_switches(daemons) - switches_before
        print(f"{name} daemon pid {pid}, app {args.app}, {args.connections} connections, "
              + (f"{args.seconds + 3}s, no sampling" if spy is None
                 else f"{args.seconds}s at {args.rate} Hz"))
        requests = wrk_requests(output)
        for line in output.splitlines():
            if "Requests/sec" in line:
                print("wrk:", line.strip())
        if requests:
            print(f"daemon CPU per request (all {len(daemons)} daemons"
                  f"{'' if spy is None else ', py-spy running'}): "
                  f"{1e6 * (user + system) / requests:.0f} us "
                  f"(user {1e6 * user / requests:.0f}, system {1e6 * system / requests:.0f})")
            print(f"daemon context switches per request (all threads): "
                  f"{switches / requests:.1f}")
            print(f"Apache CPU per request (parent and {len(apache) - 1} children): "
                  f"{1e6 * apache_used / requests:.0f} us")
            rest = machine_used - (user + system) - apache_used - managers_used - wrk_used
            print(f"machine CPU per request: {1e6 * machine_used / requests:.0f} us "
                  f"(managers {1e6 * managers_used / requests:.0f}, "
                  f"wrk {1e6 * wrk_used / requests:.0f}, "
                  f"no process of the test {1e6 * rest / requests:.0f})")
            print(f"wrk context switches per request: {wrk_switches / requests:.2f}")
        if spy is not None:
            report(read_raw(raw), args.top)
    finally:
        if contender is not None:
            contender.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
