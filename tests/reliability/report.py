"""Print the reliability figures table from one or more runs of the reliability suite.

    python -m tests.reliability.report RUN.json [RUN.json ...]

Each RUN.json is what tests/reliability/conftest.py writes when WSGID_FIGURES names a file (one
per core: `make reliability` runs the suite on the Cython core and on the pure-Python twin). The
table has one column per run; its rows are the figures docs/reliability.md reports, each with
its target. The numbers are read from the run, never computed here beyond counting and medians.
"""

import json
import os
import statistics
import sys


def load(path):
    with open(path) as source:
        run = json.load(source)
    run["name"] = os.path.splitext(os.path.basename(path))[0]
    return run


def cases(run, category):
    outcomes = [outcome for cat, outcome in run["outcomes"].values() if cat == category]
    passed = outcomes.count("passed")
    skipped = outcomes.count("skipped")
    text = f"{passed} of {len(outcomes) - skipped} passed"
    return text + (f" ({skipped} skipped)" if skipped else "")


def total(run, name):
    values = run["figures"].get(name)
    return sum(values) if values else None


def restarts(run):
    sent, lost = total(run, "restart_requests_total"), total(run, "restart_requests_lost")
    return "not measured" if sent is None else f"{lost} of {sent}"


def recovery(run):
    values = run["figures"].get("recovery_seconds")
    if not values:
        return "not measured"
    return (f"median {statistics.median(values):.2f} s, worst {max(values):.2f} s "
            f"({len(values)} kills)")


def after_bad_packets(run):
    sent = total(run, "bad_packets_sent")
    if sent is None:
        return "not measured"
    return (f"{sent} packets: fds {total(run, 'bad_packets_fd_delta'):+d}, threads "
            f"{total(run, 'bad_packets_thread_delta'):+d}, RSS "
            f"{total(run, 'bad_packets_rss_delta_kib'):+d} KiB")


ROWS = (
    ("bad-input cases", lambda run: cases(run, "bad_input"), "all pass"),
    ("faults survived", lambda run: cases(run, "fault"), "all pass"),
    ("requests lost in 5 graceful restarts under load", restarts, "0 of >= 10000"),
    ("recovery after a daemon is killed", recovery, "<= 2 s"),
    ("change after 10,000 bad packets", after_bad_packets, "0 fds, 0 threads, <= 512 KiB"),
)


def table(runs):
    header = ["figure"] + [run["name"] for run in runs] + ["target"]
    rows = [[label] + [value(run) for run in runs] + [target] for label, value, target in ROWS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv):
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    print(table([load(path) for path in argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
