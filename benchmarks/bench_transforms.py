"""Transforms benchmark (``BENCHMARKS.md``, "Transforms").

An affine, a 5-step sequence of linear steps (scale, translation, rotation, mapAxis, translation) and a
``byDimension`` (a 1D scale and a 2D rotation on disjoint axes) applied to 10M seeded 3D points, as numpy arrays and
as dask arrays (1M-row chunks, threaded scheduler), by:

- this plugin, step by step (``apply``) and collapsed into one matrix (``simplify(...).apply``);
- ``transformnd`` with its own ``Affine``, ``TransformSequence`` and ``ByDimension`` (dask arrays through
  ``map_blocks``);
- ``spatialdata.transformations``: the same transformation applied with ``spatialdata.transform`` to a 3D points
  element (a dask DataFrame, one partition per 1M points), then computed.

Every implementation's output is checked against ours. A ``numpy copy`` row gives the memory speed of the machine in
the same run. Target: the affine at least 50M points/s; sequences collapsed to one matrix.

Run::

    uv run --frozen --inexact --all-packages python benchmarks/bench_transforms.py [--quick] [--plot PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import dask
import dask.array as da
import numpy as np

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


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` runs and the last result."""
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        del t0
    return statistics.median(times), result


def run_benchmark(n_points: int = 10_000_000, repeats: int = 3, seed: int = 0, progress: bool = True) -> list[dict]:
    """Time every implementation on every workload; returns one row per (workload, implementation, backend)."""
    points = make_points(n_points, seed)
    lazy = da.from_array(points, chunks=(CHUNK, 3))
    rows: list[dict] = []
    secs, _ = timed(points.copy, repeats)
    rows.append({"workload": "(reference)", "impl": "numpy copy", "backend": "numpy", "s": secs})
    workloads = make_workloads(seed)
    try:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(workloads) * 7, disable=not progress, desc="transforms benchmark")
    except ImportError:  # pragma: no cover - tqdm comes with the core
        bar = None
    for name, t in workloads.items():
        expected = t.apply(points)
        flat = simplify(t, 3)
        tnd = to_transformnd(t)
        candidates: list[tuple[str, str, Callable[[], Any]]] = [
            ("transforms (one matrix)", "numpy", lambda flat=flat: flat.apply(points)),
            ("transforms (step by step)", "numpy", lambda t=t: t.apply(points)),
            ("transformnd", "numpy", lambda tnd=tnd: tnd.apply(points)),
            ("transforms (one matrix)", "dask", lambda flat=flat: flat.apply(lazy).compute()),
            ("transforms (step by step)", "dask", lambda t=t: t.apply(lazy).compute()),
            (
                "transformnd",
                "dask",
                lambda tnd=tnd: lazy.map_blocks(tnd.apply, dtype=np.float64, chunks=(lazy.chunks[0], (3,))).compute(),
            ),
            ("spatialdata.transformations", "dask", spatialdata_runner(t, points)),
        ]
        if isinstance(t, Affine):  # "one matrix" and "step by step" are the same thing for an affine
            candidates = [c for c in candidates if c[0] != "transforms (step by step)"]
            if bar is not None:
                bar.update(2)
        for impl, backend, fn in candidates:
            with dask.config.set(scheduler="threads"):
                secs, out = timed(fn, repeats)
            np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-6)
            rows.append({"workload": name, "impl": impl, "backend": backend, "s": secs})
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    for row in rows:
        row["mpts"] = n_points / row["s"] / 1e6
        same = [
            r
            for r in rows
            if r["workload"] == row["workload"] and r["backend"] == row["backend"] and r["impl"] == "transformnd"
        ]
        sd = [r for r in rows if r["workload"] == row["workload"] and r["impl"] == "spatialdata.transformations"]
        row["vs_tnd"] = same[0]["s"] / row["s"] if same else None
        row["vs_sd"] = sd[0]["s"] / row["s"] if sd else None
    return rows


def format_table(rows: list[dict], n_points: int) -> str:
    """The markdown table of the rows."""
    lines = [
        f"Transforms benchmark: {n_points:,} 3D points, median of the runs",
        "",
        "| workload | implementation | backend | median s | M points/s | speed-up vs transformnd (same backend) | "
        "speed-up vs spatialdata |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        vs_tnd = f"{r['vs_tnd']:.2f}x" if r.get("vs_tnd") else ""
        vs_sd = f"{r['vs_sd']:.2f}x" if r.get("vs_sd") else ""
        lines.append(
            f"| {r['workload']} | {r['impl']} | {r['backend']} | {r['s']:.3f} | {r['mpts']:.1f} | {vs_tnd} | {vs_sd} |"
        )
    affine = next(
        r for r in rows if r["workload"] == "affine" and r["backend"] == "numpy" and "one matrix" in r["impl"]
    )
    copy = next(r for r in rows if r["impl"] == "numpy copy")
    lines += [
        "",
        f"Target affine >= 50M points/s (numpy): {affine['mpts']:.1f}M points/s -> "
        f"{'met' if affine['mpts'] >= 50 else 'NOT met'} on this machine; "
        f"affine time / numpy copy time in the same run: {affine['s'] / copy['s']:.2f}.",
    ]
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    """A bar chart of M points/s per workload and implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['workload']}\n{r['impl']} [{r['backend']}]" for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1))
    ax.barh(range(len(rows)), [r["mpts"] for r in rows], color="tab:blue")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(50, color="tab:red", linestyle="--", label="target 50M points/s")
    ax.set_xlabel("M points/s")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 points, 3 runs (smoke run)")
    parser.add_argument("--points", type=int, default=None, help="number of points (default 10M)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median; at least 3)")
    parser.add_argument("--plot", default=None, help="write a bar chart to this path")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args()
    n = args.points or (200_000 if args.quick else 10_000_000)
    rows = run_benchmark(n, max(args.repeats, 3), progress=not args.no_progress)
    print(format_table(rows, n))
    if args.plot:
        plot(rows, args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
