"""Helpers shared by the benchmark scripts: interleaved timing, bytes read, formatting, target rows.

Every benchmark module exposes ``run(quick: bool, plot_dir: str | None) -> dict`` with

- ``targets``: rows ``{"benchmark", "target", "measured", "met", "load", "note"}`` (``met`` is True, False or None
  for a figure that is reported, not judged);
- ``tables``: ``{name: markdown}``, written to ``docs/_static/benchmarks/<module>-<name>.md`` by ``run.py``;
- ``plots``: the image files it saved;
- ``raw``: everything measured, for the JSON results file.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def load() -> float:
    """The machine's 1-minute load average now (``os.getloadavg``)."""
    return round(os.getloadavg()[0], 2)


def _proc_io() -> tuple[int, int]:
    """``rchar`` now and the size of the ``/proc/self/io`` text just read (its own read counts in the next value)."""
    with open("/proc/self/io", "rb") as f:
        text = f.read()
    for line in text.splitlines():
        if line.startswith(b"rchar:"):
            return int(line.split()[1]), len(text)
    raise RuntimeError("no rchar in /proc/self/io")  # pragma: no cover - Linux only


def rchar() -> int:
    """Bytes this process read through read syscalls so far, every thread (``/proc/self/io``, ``rchar``).

    ``read``, ``pread`` and ``readv`` all count, so a reader's real path (zarr's file reads, ``os.pread``, pyarrow's
    random-access reads) is measured as it runs; the page cache does not hide anything from it.
    """
    return _proc_io()[0]


def measured_call(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    """Run ``fn`` once: its result, wall seconds and bytes read by the process meanwhile (the timed path itself).

    The read of ``/proc/self/io`` before the call is counted in the value after it; its size (which grows with the
    digits of the counters) is subtracted, so an empty call measures 0.
    """
    r0, own = _proc_io()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    return out, seconds, rchar() - r0 - own


def interleaved(
    candidates: dict[str, Callable[[], Any]], rounds: int, between: Callable[[], None] | None = None
) -> dict[str, dict[str, Any]]:
    """Run every candidate once per round, in turn (ours, baseline, ours, baseline...), for ``rounds`` rounds.

    Returns per candidate: the last result, every time and byte count, their median and spread.
    """
    out: dict[str, dict[str, Any]] = {k: {"times": [], "bytes": []} for k in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            result, seconds, nbytes = measured_call(fn)
            out[name]["times"].append(seconds)
            out[name]["bytes"].append(nbytes)
            out[name]["result"] = result
            if between is not None:
                between()
    for v in out.values():
        v.update(summary(v["times"]))
    return out


def summary(times: Sequence[float]) -> dict[str, float]:
    """Median, min and max of a list of times."""
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": len(times)}


def spread(entry: dict[str, Any], scale: float = 1.0, digits: int = 2) -> str:
    """``median (min-max)`` of a timing entry, times ``scale``."""
    f = f"{{:,.{digits}f}}"
    return f"{f.format(entry['median'] * scale)} ({f.format(entry['min'] * scale)}-{f.format(entry['max'] * scale)})"


def sig2(value: float) -> str:
    """Two significant digits, trailing zero kept ("0.64", "0.050", "1.0", "1.5", "73", "150", "1,200")."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == 0:
        return "0"
    rounded = float(f"{value:.2g}")
    if abs(rounded) >= 10:
        return f"{rounded:,.0f}"
    decimals = 1 - math.floor(math.log10(abs(rounded)))
    return f"{rounded:.{decimals}f}"


def ratio(value: float) -> str:
    """A ratio as ``sig2`` with an ``x``: below 1 it stays below 1 (a slowdown is printed as such)."""
    return f"{sig2(value)}x"


def target(
    benchmark: str, target_text: str, measured: str, met: bool | None, note: str = "", **extra: Any
) -> dict[str, Any]:
    """One row of the targets table, with the machine load at the time it is recorded."""
    return {
        "benchmark": benchmark,
        "target": target_text,
        "measured": measured,
        "met": met,
        "load": load(),
        "note": note,
        **extra,
    }


def met_text(met: bool | None) -> str:
    """``met`` / ``NOT met`` / ``reported``."""
    return "reported" if met is None else ("met" if met else "**NOT met**")


def targets_table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of target rows."""
    lines = ["| benchmark | target | measured | met | load |", "|---|---|---|---|---|"]
    for r in rows:
        measured = r["measured"] + (f" ({r['note']})" if r.get("note") else "")
        lines.append(f"| {r['benchmark']} | {r['target']} | {measured} | {met_text(r['met'])} | {r['load']:.1f} |")
    return "\n".join(lines)


def mb(v: float) -> str:
    """Bytes as kB or MB."""
    return f"{v / 1e6:,.2f} MB" if v >= 1e5 else f"{v / 1e3:,.1f} kB"
