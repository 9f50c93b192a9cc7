"""Run every benchmark; write one JSON results file and the markdown tables and plots the docs include.

Usage::

    uv run --all-packages --group bench python benchmarks/run.py            # full run, sizes of BENCHMARKS.md
    uv run --all-packages --group bench python benchmarks/run.py --quick    # CI smoke run, small sizes
    uvx nox -s bench [-- --quick | --only points-index,density | --skip stitch | --long]

Results go to ``benchmarks/results/results-<UTC time>[-quick].json`` (not committed); ``--render RESULTS_JSON``
writes the tables and plots again from such a file without measuring anything. A full run also writes the
generated tables and plots to ``docs/_static/benchmarks/`` (committed; the docs pages include them, nothing there
is typed by hand); a quick run writes them beside its results file unless ``--docs`` says where. Every target row
holds the target, the measured value, met or not, and the machine's 1-minute load average when it was measured.
``--long`` adds the cases that take many minutes: icechunk's 2 GiB image and 20M-row points on a 2-worker cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import load, met_text, ratio, target, targets_table  # noqa: E402

DOCS_OUT = ROOT / "docs" / "_static" / "benchmarks"
RESULTS = HERE / "results"


# ------------------------------------------------------------------------------------------ adapters


def _points_index(quick: bool, plot_dir: str, long: bool) -> dict[str, Any]:
    import bench_points_index

    return bench_points_index.run(quick=quick, plot_dir=plot_dir)


def _density(quick: bool, plot_dir: str, long: bool) -> dict[str, Any]:
    import bench_density

    return bench_density.run(quick=quick, plot_dir=plot_dir)


def _transforms(quick: bool, plot_dir: str, long: bool) -> dict[str, Any]:
    import bench_transforms

    return bench_transforms.run(quick=quick, plot_dir=plot_dir)


def _icechunk(quick: bool, plot_dir: str, long: bool) -> dict[str, Any]:
    import bench_icechunk

    return bench_icechunk.run(quick=quick, plot_dir=plot_dir, cases="blobs,image,points" if long else "blobs")


def _stitch(quick: bool, plot_dir: str, long: bool) -> dict[str, Any]:
    import bench_stitch

    if quick:
        rows = bench_stitch.run([(2, 2)], tile_size=128, jitter=3.0, repeats=5)
    else:
        rows = bench_stitch.run([(2, 2), (3, 3), (4, 4)], tile_size=512, jitter=4.0, repeats=5)
    return {"targets": _stitch_targets(rows), "tables": {"table": bench_stitch.table(rows)}, "plots": [], "raw": rows}


def _stitch_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    targets = []
    for r in rows:
        label = f"stitch {r['tiles']} tiles of {r['tile_size']} px"
        targets.append(
            target(
                f"{label}: registration",
                "error <= 0.5 px",
                f"{r['registration_error_px']:.2f} px",
                r["registration_error_px"] <= 0.5,
            )
        )
        targets.append(
            target(
                f"{label}: fusion",
                "within 10% of multiview-stitcher's `fuse` (same tiles, same run)",
                f"{ratio(r['ratio'])} ({r['fuse_ours_s']:.2f} s vs {r['fuse_direct_s']:.2f} s, medians of 5)",
                r["ratio"] <= 1.10,
            )
        )
    return targets


def _lazy_containers(quick: bool, plot_dir: str, long: bool) -> dict[str, Any]:
    import bench_lazy_containers

    os.environ.setdefault("SPATIALDATA_PLUGINS_LAZY_ON_CHANGE", "warn")
    # 15 interleaved rounds: the first accesses take 0.1 to 0.5 s and a shared machine moves single runs by 2x
    result = bench_lazy_containers.run(quick=quick, repeats=5 if quick else 15)
    result["sizes"] = vars(result["sizes"])
    return {
        "targets": _lazy_targets(result),
        "tables": {"table": bench_lazy_containers.format_table(result)},
        "plots": [],
        "raw": result,
    }


def _direct_way(row: dict[str, Any]) -> str:
    """Which direct read a lazy row was compared with, when the user has more than one (eager, lazy)."""
    return f" ({row['direct_way']} direct read)" if len(row.get("direct_ways", {})) > 1 else ""


def _lazy_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    a = result["attach"]
    targets = [
        target(f"lazy containers: attach {a['n']}", "< 50 ms", f"{a['seconds'] * 1e3:.1f} ms", a["seconds"] < 0.05),
        target(
            f"lazy containers: build and attach {a['n']}",
            "reads 0 bytes",
            f"{a['bytes_read']} bytes",
            a["bytes_read"] == 0,
        ),
    ]
    for r in result["access"]:
        targets.append(
            target(
                f"lazy containers: first access, {r['type']}",
                "<= 1.1x a direct read of the same file",
                f"{ratio(r['ratio'])} ({r['access_compute_s']:.3f} s vs {r['direct_s']:.3f} s"
                f"{_direct_way(r)}, medians of {result.get('repeats', 5)})",
                r["ratio"] <= 1.1,
            )
        )
    return targets


def _relations(quick: bool, plot_dir: str, long: bool) -> dict[str, Any]:
    import bench_relations

    rows = bench_relations.run(n=20_000 if quick else 1_000_000, repeats=5)
    return {
        "targets": _relations_targets(rows),
        "tables": {"table": bench_relations.table(rows)},
        "plots": [],
        "raw": rows,
    }


def _relations_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    targets = []
    for r in rows:
        judged = r.get("target", True)
        kind = "" if not judged else (" (a later query: views kept)" if r.get("warm") else "")
        targets.append(
            target(
                f"relations {r['case']} ({r['n']:,})",
                f"no slower than {r['baseline']} + 10%, same result{kind}"
                if judged
                else f"reported beside the target: vs {r['baseline']}",
                f"{ratio(r['ratio'])} ({r['ours_s']:.2f} s vs {r['theirs_s']:.2f} s, medians of 5; "
                f"peak {r['ours_mb']:.0f} MB vs {r['theirs_mb']:.0f} MB; same: {r['same_result']})",
                (r["ratio"] <= 1.10 and r["same_result"]) if judged else None,
            )
        )
    return targets


def _viewer(quick: bool, plot_dir: str, long: bool) -> dict[str, Any]:
    # the viewer benchmark drives a real browser; it runs as its own process and prints its raw measurements
    import subprocess

    import bench_viewer

    cmd = [sys.executable, str(HERE / "bench_viewer.py"), "--json", *(["--quick"] if quick else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    raw = json.loads(out.strip().splitlines()[-1])
    return {"targets": bench_viewer.targets(raw), "tables": {"table": bench_viewer.table(raw)}, "plots": [], "raw": raw}


BENCHMARKS: dict[str, Callable[[bool, str, bool], dict[str, Any]]] = {
    "points-index": _points_index,
    "density": _density,
    "transforms": _transforms,
    "icechunk": _icechunk,
    "lazy-containers": _lazy_containers,
    "stitch": _stitch,
    "relations": _relations,
    "viewer": _viewer,
}


# ------------------------------------------------------------------------------------------ rendering from raw


def _render_points_index(raw: Any, plot_dir: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import bench_points_index

    datasets = [r for r in raw if "kind" in r]
    bench_points_index.plot(datasets, str(plot_dir / "points-index.png"))
    return {"tables": bench_points_index.markdown(datasets)}, bench_points_index.targets(datasets)


def _render_density(raw: Any, plot_dir: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import bench_density

    bench_density.plot(raw, str(plot_dir / "density.png"))
    return {"table": bench_density.table(raw)}, bench_density.targets(raw)


def _render_transforms(raw: Any, plot_dir: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import bench_transforms

    n = round(raw[0]["mpts"] * raw[0]["median"] * 1e6)
    bench_transforms.plot(raw, str(plot_dir / "transforms.png"))
    return {"table": bench_transforms.format_table(raw, n)}, bench_transforms.targets(raw, n)


def _render_icechunk(raw: Any, plot_dir: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import bench_icechunk

    tables = {"table": bench_icechunk.table(raw["blobs"], raw["image"], raw["points"])}
    return tables, bench_icechunk.targets(raw["blobs"], raw["image"])


def _render_stitch(raw: Any, plot_dir: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import bench_stitch

    return {"table": bench_stitch.table(raw)}, _stitch_targets(raw)


def _render_lazy_containers(raw: Any, plot_dir: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import bench_lazy_containers

    return {"table": bench_lazy_containers.format_table(raw)}, _lazy_targets(raw)


def _render_relations(raw: Any, plot_dir: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import bench_relations

    return {"table": bench_relations.table(raw)}, _relations_targets(raw)


def _render_viewer(raw: Any, plot_dir: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    import bench_viewer

    return {"table": bench_viewer.table(raw)}, bench_viewer.targets(raw)


RENDER: dict[str, Callable[[Any, Path], tuple[dict[str, str], list[dict[str, Any]]]]] = {
    "points-index": _render_points_index,
    "density": _render_density,
    "transforms": _render_transforms,
    "icechunk": _render_icechunk,
    "lazy-containers": _render_lazy_containers,
    "stitch": _render_stitch,
    "relations": _render_relations,
    "viewer": _render_viewer,
}


def merge(results_files: list[Path]) -> dict[str, Any]:
    """One results document from several runs: every benchmark as measured in the last file that holds it.

    Each benchmark keeps the file, start time, mode and load of the run that measured it (the generated headers
    name them), so benchmarks run one at a time (``--only``) can be rendered together.
    """
    merged: dict[str, Any] | None = None
    for f in results_files:
        results = json.loads(Path(f).read_text())
        for entry in results["benchmarks"].values():
            entry.setdefault("run", {k: results[k] for k in ("file", "started", "quick", "machine")})
        if merged is None:
            merged = results
        else:
            merged["benchmarks"].update(results["benchmarks"])
            merged["load_start"] = max(merged["load_start"], results["load_start"])
            merged["load_end"] = max(merged["load_end"], results["load_end"])
    if merged is None:
        raise ValueError("no results file given")
    # the runner's order, whatever the order of the files
    order = {name: i for i, name in enumerate(BENCHMARKS)}
    merged["benchmarks"] = dict(sorted(merged["benchmarks"].items(), key=lambda kv: order.get(kv[0], len(order))))
    merged["file"] = ", ".join(sorted({e["run"]["file"] for e in merged["benchmarks"].values()}))
    merged["quick"] = any(e["run"]["quick"] for e in merged["benchmarks"].values())
    return merged


def render(results_files: list[Path], out_dir: Path) -> None:
    """Write the tables, target rows and plots again from results files' raw measurements (nothing is measured
    again; the target rows keep the load recorded when they were measured). Several files are merged with
    :func:`merge`."""
    results = merge(results_files)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, entry in results["benchmarks"].items():
        if "error" not in entry and name in RENDER:
            entry["tables"], rows = RENDER[name](entry["raw"], out_dir)
            # the same rows from the same measurements; the load is the one recorded when they were measured
            if [r["benchmark"] for r in rows] == [r["benchmark"] for r in entry["targets"]]:
                for new, old in zip(rows, entry["targets"], strict=True):
                    new["load"] = old["load"]
                entry["targets"] = rows
    write_outputs(results, out_dir)


# ------------------------------------------------------------------------------------------ output


def _header(results: dict[str, Any], name: str | None = None) -> str:
    entry = results["benchmarks"].get(name, {}) if name else {}
    run = entry.get("run", results)
    mode = "quick mode: small sizes, a smoke run, not the reported figures" if run["quick"] else "full run"
    if entry:
        span = (
            f"load {entry['load_start']:.1f} at the start, {entry['load_end']:.1f} at the end, {entry['seconds']:.0f} s"
        )
    else:
        span = f"load {results['load_start']:.1f} at the start, {results['load_end']:.1f} at the end"
    runs = sorted({e["run"]["started"] for e in results["benchmarks"].values() if "run" in e})
    when = (
        f"Run of {run['started']} UTC"
        if entry or len(runs) <= 1
        else f"Runs of {', '.join(runs)} UTC (one per benchmark)"
    )
    if not entry and len(runs) > 1:
        span = f"highest load {results['load_start']:.1f} at a start, {results['load_end']:.1f} at an end"
    return (
        f"<!-- generated by benchmarks/run.py from {run['file']}: do not edit by hand -->\n\n"
        f"{when} ({mode}) on {results['machine']['cpus']} cores, {span}.\n"
    )


def write_outputs(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """The targets table and one markdown file per benchmark (tables and its target rows)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    rows = [r for b in results["benchmarks"].values() for r in b.get("targets", [])]
    failed = [
        f"- **{n}** failed: `{b['error'].splitlines()[-1]}`" for n, b in results["benchmarks"].items() if "error" in b
    ]
    text = _header(results) + "\n" + targets_table(rows) + "\n" + ("\n" + "\n".join(failed) + "\n" if failed else "")
    (out_dir / "targets.md").write_text(text)
    written.append(out_dir / "targets.md")
    for name, b in results["benchmarks"].items():
        if "error" in b:
            body = f"This benchmark failed in this run: `{b['error'].splitlines()[-1]}`\n"
        else:
            body = "\n\n".join(b["tables"].values()) + "\n\nTargets:\n\n" + targets_table(b["targets"]) + "\n"
        path = out_dir / f"{name}.md"
        path.write_text(_header(results, name) + "\n" + body)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 1 if any failed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run for CI")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    ap.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    ap.add_argument("--long", action="store_true", help="add the cases that take many minutes")
    ap.add_argument("--results", default=str(RESULTS), help="directory of the JSON results file")
    ap.add_argument("--docs", default=None, help="where the tables and plots go (full run: docs/_static/benchmarks)")
    ap.add_argument(
        "--render",
        nargs="+",
        default=None,
        metavar="RESULTS_JSON",
        help="only write the tables and plots again (several files: each benchmark from the last file holding it)",
    )
    args = ap.parse_args(argv)
    if args.render:
        render([Path(f) for f in args.render], Path(args.docs) if args.docs else DOCS_OUT)
        return 0
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        ap.error(f"unknown benchmarks: {sorted(unknown)}")
    names = [n for n in names if n not in set(args.skip.split(","))]
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    results_file = results_dir / f"results-{stamp}.json"
    out_dir = Path(args.docs) if args.docs else (results_dir / stamp if args.quick else DOCS_OUT)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        import psutil

        memory = psutil.virtual_memory().total
    except ImportError:  # pragma: no cover - psutil is in the bench group
        memory = None
    results: dict[str, Any] = {
        "file": results_file.relative_to(ROOT).as_posix() if results_file.is_relative_to(ROOT) else str(results_file),
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "quick": args.quick,
        "long": args.long,
        "machine": {"cpus": os.cpu_count(), "memory_bytes": memory, "platform": platform.platform()},
        "python": sys.version.split()[0],
        "load_start": load(),
        "load_end": load(),
        "benchmarks": {},
    }
    for name in names:
        print(f"== {name}", flush=True)
        entry: dict[str, Any] = {"load_start": load()}
        t0 = time.perf_counter()
        try:
            entry.update(BENCHMARKS[name](args.quick, str(out_dir), args.long))
            entry["plots"] = [Path(p).name for p in entry.get("plots", [])]
        except Exception:
            entry["error"] = traceback.format_exc()
            print(entry["error"], file=sys.stderr, flush=True)
        entry["seconds"] = time.perf_counter() - t0
        entry["load_end"] = load()
        results["benchmarks"][name] = entry
        for row in entry.get("targets", []):
            print(f"  {row['benchmark']}: {row['measured']} -> {met_text(row['met'])} (load {row['load']:.1f})")
        results["load_end"] = load()
        # after every benchmark, so that a long run interrupted later keeps what it measured
        results_file.write_text(json.dumps(results, indent=1, default=str))
        write_outputs(results, out_dir)
    print(f"results: {results_file}\ntables and plots: {out_dir}")
    return 1 if any("error" in b for b in results["benchmarks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
