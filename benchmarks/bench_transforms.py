"""Transforms benchmark (``BENCHMARKS.md``, "Transforms").

An affine, a 5-step sequence of linear steps (scale, translation, rotation, mapAxis, translation) and a
``byDimension`` (a 1D scale and a 2D rotation on disjoint axes) applied to 10M seeded 3D points, as numpy arrays and
as dask arrays (1M-row chunks, threaded scheduler), by:

- this plugin, step by step (``apply``) and collapsed into one matrix (``simplify(...).apply``);
- ``transformnd`` with its own ``Affine``, ``TransformSequence`` and ``ByDimension`` (dask arrays through
  ``map_blocks``);
- ``spatialdata.transformations``: the same transformation applied with ``spatialdata.transform`` to a 3D points
  element (a dask DataFrame, one partition per 1M points), then computed.

Every implementation's output is checked against ``points @ A[:, :-1].T + A[:, -1]`` for the affine and against
ours step by step for the others. Every round also copies the points with numpy (one thread,
the memory-bandwidth limit), so every time is given as a ratio to that copy in the same rounds: absolute rates on a
shared machine move by 3-4x between runs, ratios much less. Rows are labelled with their threads: ours and
transformnd on one thread (BLAS limited with threadpoolctl, ours with ``apply(..., threads=1)``) and on the
machine's threads (our default, BLAS's default), spatialdata on the threaded dask scheduler. Timings are interleaved
(every candidate once per round, ``--rounds`` rounds): medians with min-max.

Targets: the affine within 1.3x of the numpy copy; at least 2x transformnd with the same threads; sequences
collapsed to one matrix.

Run::

    uv run --all-packages --group bench python benchmarks/bench_transforms.py [--quick] [--plot PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import dask
import dask.array as da
import numpy as np
from tqdm.auto import tqdm

from spatialdata_plugins.transforms import (
    Affine,
    ByDimension,
    ByDimensionItem,
    MapAxis,
    Rotation,
    Scale,
    Sequence,
    Transformation,
    Translation,
    simplify,
    to_spatialdata,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import interleaved, load, ratio, spread, target, targets_table

AXES = ("z", "y", "x")
CHUNK = 1_000_000


def make_points(n: int, seed: int = 0) -> np.ndarray:
    """Seeded 3D points, uniform in a 10,000^3 box."""
    return np.random.default_rng(seed).uniform(0, 10_000, size=(n, 3))


def make_workloads(seed: int = 0) -> dict[str, Transformation]:
    """The three transformations of the benchmark, seeded."""
    from scipy.spatial.transform import Rotation as ScipyRotation

    rng = np.random.default_rng(seed)
    rot = ScipyRotation.random(random_state=seed).as_matrix()
    affine = Affine(np.hstack([rot @ np.diag(rng.uniform(0.5, 2, 3)), rng.uniform(-100, 100, (3, 1))]))
    sequence = Sequence(
        [
            Scale(rng.uniform(0.5, 2, 3)),
            Translation(rng.uniform(-100, 100, 3)),
            Rotation(rot),
            MapAxis([2, 0, 1]),
            Translation(rng.uniform(-100, 100, 3)),
        ]
    )
    angle = rng.uniform(0, 2 * np.pi)
    rot2 = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    by_dimension = ByDimension(
        [ByDimensionItem(Scale([2.5]), [0], [0]), ByDimensionItem(Rotation(rot2), [1, 2], [2, 1])]
    )
    return {"affine": affine, "sequence (5 steps)": sequence, "byDimension": by_dimension}


def to_transformnd(t: Transformation) -> Any:
    """The same transformation with transformnd's own types."""
    import transformnd.transforms as tt
    from transformnd import TransformSequence

    if isinstance(t, Affine):
        return tt.Affine(t.to_affine())
    if isinstance(t, Scale):
        return tt.Scale(t.scale)
    if isinstance(t, Translation):
        return tt.Translate(t.translation)
    if isinstance(t, Rotation):
        return tt.Affine(t.to_affine())
    if isinstance(t, MapAxis):
        return tt.MapAxis(list(t.map_axis))
    if isinstance(t, Sequence):
        return TransformSequence([to_transformnd(s) for s in t.transformations])
    if isinstance(t, ByDimension):
        subs = [
            tt.SubTransform(to_transformnd(i.transformation), i.input_axes, i.output_axes) for i in t.transformations
        ]
        return tt.ByDimension(subs)
    raise TypeError(type(t))


def spatialdata_runner(t: Transformation, points: np.ndarray) -> Callable[[], np.ndarray]:
    """``spatialdata.transform`` of a 3D points element with the equivalent spatialdata transformation."""
    import dask.dataframe as dd
    import pandas as pd
    from spatialdata import transform
    from spatialdata.models import PointsModel
    from spatialdata.transformations import set_transformation

    frame = pd.DataFrame(points[:, ::-1], columns=["x", "y", "z"])
    element = PointsModel.parse(dd.from_pandas(frame, chunksize=CHUNK))
    set_transformation(element, to_spatialdata(t, AXES), "target")

    def run() -> np.ndarray:
        out = transform(element, to_coordinate_system="target")
        return out[["z", "y", "x"]].compute().to_numpy()

    return run


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Limit BLAS and the dask scheduler to ``n`` threads (``None``: the defaults, 2 on the benchmark machine).

    Our numpy path takes its threads as ``apply(..., threads=n)``.
    """
    if n is None:
        yield
        return
    with blas_controller().limit(limits=n), dask.config.set(scheduler="threads", num_workers=n):
        yield


@cache
def blas_controller() -> Any:
    """One threadpoolctl controller: ``threadpool_limits()`` inspects the loaded libraries on every call (1-10 ms,
    which would be timed with every row), a controller once."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def limited(fn: Callable[[], Any], n: int | None) -> Callable[[], Any]:
    """``fn`` run with at most ``n`` threads (see :func:`threads`)."""

    def run() -> Any:
        with threads(n):
            return fn()

    return run


def run_benchmark(n_points: int = 10_000_000, rounds: int = 5, seed: int = 0, progress: bool = True) -> list[dict]:
    """Every implementation on every workload, interleaved with a numpy copy of the same points in each round.

    Returns one row per (workload, implementation, backend, threads) with its times, median and ratio to the copy.
    """
    points = make_points(n_points, seed)
    lazy = da.from_array(points, chunks=(CHUNK, 3))
    rows: list[dict] = []
    workloads = make_workloads(seed)
    n_threads = min(os.cpu_count() or 1, 4)
    multi = f"{n_threads} threads"
    bar = tqdm(total=len(workloads), disable=not progress, desc="transforms benchmark")
    for name, t in workloads.items():
        if isinstance(t, Affine):  # the straightforward formula, independent of our code
            expected = points @ t.affine[:, :-1].T + t.affine[:, -1]
        else:
            expected = t.apply(points)
        flat = simplify(t, 3)
        tnd = to_transformnd(t)
        candidates: dict[tuple[str, str, str], Callable[[], Any]] = {
            ("numpy copy", "numpy", "1 thread"): points.copy,
            ("transforms (one matrix)", "numpy", multi): limited(lambda flat=flat: flat.apply(points), None),
            ("transforms (one matrix)", "numpy", "1 thread"): limited(
                lambda flat=flat: flat.apply(points, threads=1), 1
            ),
            ("transforms (step by step)", "numpy", multi): limited(lambda t=t: t.apply(points), None),
            ("transformnd", "numpy", f"BLAS {multi}"): limited(lambda tnd=tnd: tnd.apply(points), None),
            ("transformnd", "numpy", "1 thread"): limited(lambda tnd=tnd: tnd.apply(points), 1),
            ("transforms (one matrix)", "dask", multi): limited(lambda flat=flat: flat.apply(lazy).compute(), None),
            ("transformnd", "dask", multi): limited(
                lambda tnd=tnd: lazy.map_blocks(tnd.apply, dtype=np.float64, chunks=(lazy.chunks[0], (3,))).compute(),
                None,
            ),
            ("spatialdata.transformations", "dask", multi): limited(spatialdata_runner(t, points), None),
        }
        if isinstance(t, Affine):  # "one matrix" and "step by step" are the same thing for an affine
            candidates.pop(("transforms (step by step)", "numpy", multi))
        with dask.config.set(scheduler="threads"):
            raw = interleaved({"|".join(k): fn for k, fn in candidates.items()}, rounds)
        copy = raw["numpy copy|numpy|1 thread"]
        for key, entry in raw.items():
            impl, backend, nthreads = key.split("|")
            if impl != "numpy copy":
                np.testing.assert_allclose(entry["result"], expected, rtol=1e-9, atol=1e-6)
            rows.append(
                {
                    "workload": name,
                    "impl": impl,
                    "backend": backend,
                    "threads": nthreads,
                    **{k: entry[k] for k in ("times", "median", "min", "max", "runs")},
                    "vs_copy": entry["median"] / copy["median"],
                    "load": load(),
                }
            )
        bar.update(1)
    bar.close()
    for row in rows:
        row["mpts"] = n_points / row["median"] / 1e6
        same = [
            r
            for r in rows
            if r["workload"] == row["workload"]
            and r["backend"] == row["backend"]
            and r["impl"] == "transformnd"
            and (r["threads"] == "1 thread") == (row["threads"] == "1 thread")
        ]
        row["vs_tnd"] = same[0]["median"] / row["median"] if same else None
    return rows


def format_table(rows: list[dict], n_points: int) -> str:
    """The markdown table of the rows."""
    lines = [
        f"{n_points:,} 3D points; every row interleaved with a numpy copy of the same points in the same rounds; "
        f"medians of {rows[0]['runs']} rounds (min-max). Speed-up vs transformnd: same backend and same threads.",
        "",
        "| workload | implementation | backend | threads | s, median (min-max) | time / numpy copy | "
        "M points/s | speed-up vs transformnd |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        vs_tnd = ratio(r["vs_tnd"]) if r.get("vs_tnd") and r["impl"].startswith("transforms ") else ""
        lines.append(
            f"| {r['workload']} | {r['impl']} | {r['backend']} | {r['threads']} | {spread(r, 1, 3)} | "
            f"{ratio(r['vs_copy'])} | {r['mpts']:,.0f} | {vs_tnd} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict], n_points: int) -> list[dict]:
    """Affine <= 1.3x a numpy copy in the same run; >= 2x transformnd (same threads)."""

    def find(impl: str, single: bool) -> dict:
        return next(
            r
            for r in rows
            if r["workload"] == "affine"
            and r["impl"] == impl
            and r["backend"] == "numpy"
            and (r["threads"] == "1 thread") == single
        )

    out = []
    label = f"transforms affine ({n_points / 1e6:g}M 3D points, numpy)"
    for single in (False, True):
        ours = find("transforms (one matrix)", single)
        row = target(
            f"{label}, ours on {ours['threads']}",
            "<= 1.3x a numpy copy (1 thread) in the same run",
            f"{ratio(ours['vs_copy'])} ({ours['median']:.3f} s vs {find('numpy copy', True)['median']:.3f} s)",
            ours["vs_copy"] <= 1.3,
        )
        row["load"] = ours["load"]
        out.append(row)
    for single in (False, True):
        ours, tnd = find("transforms (one matrix)", single), find("transformnd", single)
        row = target(
            f"{label}, {ours['threads']} each",
            ">= 2x transformnd",
            f"{ratio(ours['vs_tnd'])} ({ours['median']:.3f} s vs {tnd['median']:.3f} s)",
            ours["vs_tnd"] >= 2,
        )
        row["load"] = ours["load"]
        out.append(row)
    return out


def plot(rows: list[dict], path: str) -> None:
    """A bar chart of the time of every row relative to the numpy copy in the same rounds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['workload']}: {r['impl']} [{r['backend']}, {r['threads']}]" for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1))
    ax.barh(range(len(rows)), [r["vs_copy"] for r in rows], color="tab:blue")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.3, color="tab:red", linestyle="--", label="target: affine <= 1.3x a numpy copy")
    ax.set_xlabel("time / numpy copy of the same points (same rounds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(quick: bool = False, plot_dir: str | None = None, n: int | None = None, rounds: int | None = None) -> dict:
    """The runner's entry point."""
    n = n or (200_000 if quick else 10_000_000)
    rows = run_benchmark(n, rounds or 5, progress=False)
    plots = []
    if plot_dir:
        path = os.path.join(plot_dir, "transforms.png")
        plot(rows, path)
        plots.append(path)
    return {"targets": targets(rows, n), "tables": {"table": format_table(rows, n)}, "plots": plots, "raw": rows}


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 points (smoke run)")
    parser.add_argument("--points", type=int, default=None, help="number of points (default 10M)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median; at least 5)")
    parser.add_argument("--plot", default=None, help="write a bar chart to this path")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args()
    n = args.points or (200_000 if args.quick else 10_000_000)
    rows = run_benchmark(n, max(args.rounds, 5), progress=not args.no_progress)
    print(format_table(rows, n))
    print(targets_table(targets(rows, n)))
    if args.plot:
        plot(rows, args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
