"""Print the results: one table per app and concurrency, ratios against the reference contender.

Rules:
- A cell that was not measured says why in words (not served, failed its check, failed to
  start), never a zero that could be read as a measurement.
- Ratios are req/s divided by the reference's req/s in the same table (same app, same
  concurrency, same run); without a measured reference the ratio column shows "-".
"""

from dataclasses import dataclass
from typing import Optional

MIB = 1024 * 1024


@dataclass
class Cell:
    load: Optional[object] = None      # load.LoadResult
    rss: int = 0                       # bytes, the app processes together
    manager_rss: int = 0               # bytes, the supervisor / master
    app_processes: int = 0
    cpu_us: float = 0.0                # the server processes' CPU time per request
    note: str = ""                     # why there is no measurement


def median_cell(cells):
    """Of one contender's rounds of a cell, the round with the median req/s (the lower one of
    the middle two for an even count); a cell never measured keeps its note."""
    measured = sorted((c for c in cells if c.load is not None), key=lambda c: c.load.rate)
    if not measured:
        return cells[0]
    return measured[(len(measured) - 1) // 2]


def _mib(value, present):
    return f"{value / MIB:.1f}" if present else "-"


def format_table(title, cells, order, reference):
    """cells: {contender name: Cell}; order: contender names in display order."""
    ref = cells.get(reference)
    ref_rate = ref.load.rate if ref and ref.load and ref.load.rate else None
    header = ("contender", "req/s", "p50 ms", "p99 ms", "errors", "MB/s", "cpu us",
              "rss MiB", "mgr MiB", f"vs {reference}")
    rows = []
    for name in order:
        cell = cells.get(name)
        if cell is None:
            continue
        if cell.load is None:
            rows.append((name, cell.note))
            continue
        load = cell.load
        ratio = f"{load.rate / ref_rate:.2f}x" if ref_rate else "-"
        rows.append((name, f"{load.rate:.0f}", f"{load.p50_ms:.2f}", f"{load.p99_ms:.2f}",
                     str(load.errors), f"{load.bytes / load.seconds / 1e6:.1f}",
                     f"{cell.cpu_us:.0f}", _mib(cell.rss, cell.app_processes),
                     _mib(cell.manager_rss, cell.manager_rss), ratio))
    widths = [max([len(header[i])] + [len(r[i]) for r in rows if len(r) == len(header)])
              for i in range(len(header))]
    lines = [title, "  ".join(h.rjust(w) if i else h.ljust(w)
                              for i, (h, w) in enumerate(zip(header, widths)))]
    for row in rows:
        if len(row) != len(header):
            lines.append(f"{row[0].ljust(widths[0])}  ({row[1]})")
        else:
            lines.append("  ".join(v.rjust(w) if i else v.ljust(w)
                                   for i, (v, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)
