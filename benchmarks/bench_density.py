"""Density benchmark: ``ring_density`` and ``smooth_density_by_distance`` against the direct shapely approach.

10M uniformly scattered points (with a ``gene`` column) in a 10,000 x 10,000 extent around 25 wobbly polygon
contours (400 vertices each). The direct approach computes ``shapely.distance`` from every point to every contour's
boundary and ``shapely.contains_xy`` for the sign, then bins; it is run on a random subsample in the same run and
extrapolated linearly to all points (the full direct run would take tens of minutes). On that subsample the counts
of both approaches are asserted equal.

Run::

    uv run --frozen --inexact --all-packages python benchmarks/bench_density.py [--quick] [--plot PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import shapely

RING_WIDTH, N_IN, N_OUT = 20.0, 5, 5
BANDWIDTH, GRID = 10.0, np.linspace(-100.0, 100.0, 101)


def make_data(n_points: int, n_contours: int, extent: float = 10_000.0, n_genes: int = 50, seed: int = 0):
    """Seeded points (x, y, gene) and wobbly polygon contours on a regular layout."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_contours)))
    spacing = extent / side
    contours = []
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    for i in range(n_contours):
        cx, cy = spacing * (i % side + 0.5), spacing * (i // side + 0.5)
        r = spacing * rng.uniform(0.15, 0.3)
        rr = r * (1 + 0.2 * np.sin(rng.integers(3, 7) * t + rng.uniform(0, 6)) + 0.05 * np.cos(11 * t))
        contours.append(shapely.Polygon(np.c_[cx + rr * np.cos(t), cy + rr * np.sin(t)]))
    genes = pd.Categorical.from_codes(rng.integers(0, n_genes, n_points), [f"g{i:03d}" for i in range(n_genes)])
    xy = rng.uniform(0, extent, size=(n_points, 2))
    points = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "gene": genes})
    return points, contours


def direct_counts(x: np.ndarray, y: np.ndarray, contours: list, edges: np.ndarray) -> np.ndarray:
    """The direct approach: shapely distance from every point to every contour, sign by containment, then bins."""
    pts = shapely.points(x, y)
    out = np.zeros((len(contours), len(edges) - 1), dtype=np.int64)
    for k, polygon in enumerate(contours):
        d = shapely.distance(pts, polygon.boundary)
        signed = np.where(shapely.contains_xy(polygon, x, y), -d, d)
        band = np.searchsorted(edges, signed, side="right") - 1
        ok = (band >= 0) & (band < len(edges) - 1)
        out[k] = np.bincount(band[ok], minlength=len(edges) - 1)
    return out


def _median_time(fn, repeats: int, cpu: list | None = None) -> tuple[float, Any]:
    times, cpus, result = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if cpu is not None:
        cpu.append(statistics.median(cpus))
    return statistics.median(times), result


def run(n_points: int, n_contours: int, n_sub: int, repeats: int = 3, progress: bool = False) -> list[dict]:
    """Time ours on all points and the direct approach on a subsample; check equal counts on the subsample."""
    from spatialdata.models import PointsModel

    from spatialdata_plugins.density import ring_density, smooth_density_by_distance
    from spatialdata_plugins.density._density import KERNEL_CUTOFF
    from spatialdata_plugins.density._geometry import region_areas

    points_df, contours = make_data(n_points, n_contours)
    # a dask DataFrame without divisions, as read from a store (from_pandas(sort=True) would sort the index again
    # on every graph build, which is not part of either approach)
    ddf = dd.from_pandas(points_df, npartitions=max(1, n_points // 1_000_000), sort=False)
    points = PointsModel.parse(ddf, feature_key="gene")
    rng = np.random.default_rng(1)
    sub = points_df.iloc[np.sort(rng.choice(n_points, size=min(n_sub, n_points), replace=False))]
    ring_edges = np.arange(-N_IN, N_OUT + 1) * RING_WIDTH
    fine = BANDWIDTH / 10
    lo, hi = GRID.min() - KERNEL_CUTOFF * BANDWIDTH, GRID.max() + KERNEL_CUTOFF * BANDWIDTH
    smooth_edges = lo + np.arange(int(np.ceil((hi - lo) / fine)) + 1) * fine

    def ours_rings(pts: Any, genes: Any = "gene") -> pd.DataFrame:
        return ring_density(
            points=pts, contours=contours, ring_width=RING_WIDTH, n_rings_in=N_IN, n_rings_out=N_OUT, genes=genes,
            progress=progress,
        )  # fmt: skip

    def ours_smooth(pts: Any, genes: Any = "gene") -> pd.DataFrame:
        return smooth_density_by_distance(
            points=pts, contours=contours, bandwidth=BANDWIDTH, grid=GRID, genes=genes, progress=progress
        )

    t0 = time.perf_counter()
    ours_rings(sub, None)  # compiles (or loads) the numba kernels
    warm = time.perf_counter() - t0

    rows = []
    for name, ours, edges in (
        ("ring_density", ours_rings, ring_edges),
        ("smooth_density_by_distance", ours_smooth, smooth_edges),
    ):
        cpu: list[float] = []
        with dask.config.set(scheduler="threads", num_workers=2):
            t_ours, _ = _median_time(lambda ours=ours: ours(points), repeats, cpu)
        t_direct_sub, direct = _median_time(
            lambda edges=edges: direct_counts(sub["x"].to_numpy(), sub["y"].to_numpy(), contours, edges), repeats
        )
        t_areas, _ = _median_time(lambda edges=edges: region_areas(contours, edges), repeats)
        t_direct = t_direct_sub * n_points / len(sub) + t_areas
        # same numbers: counts of ours and direct on the subsample
        mine = ours(sub, None)
        per_contour = mine[(mine["contour"] != "pooled") & (mine["group"] == "all")]
        if name == "ring_density":
            got = per_contour.sort_values(["contour", "ring"], key=_natural)["count"].to_numpy()
            expected = direct.ravel()
            same = bool(np.array_equal(got, expected))
        else:
            from spatialdata_plugins.density._density import smooth_counts

            num, _, _ = smooth_counts(GRID, edges, direct.astype(float), np.zeros(direct.shape[1]), BANDWIDTH)
            got = per_contour.sort_values(["contour", "distance"], key=_natural)["weighted_count"].to_numpy()
            same = bool(np.allclose(got, num.ravel(), rtol=1e-12, atol=1e-9))
        if not same:
            raise AssertionError(f"{name}: counts differ between ours and the direct approach on the subsample")
        rows.append(
            {
                "function": name,
                "points": n_points,
                "contours": n_contours,
                "ours_s": t_ours,
                "ours_cpu_s": cpu[0],
                "direct_s": t_direct,
                "direct_subsample": len(sub),
                "speedup": t_direct / t_ours,
                "same_counts": same,
                "warmup_s": warm,
            }
        )
    return rows


def _natural(col: pd.Series) -> pd.Series:
    return col.astype(int) if col.name == "contour" else col


def table(rows: list[dict]) -> str:
    """Markdown table of the results."""
    lines = [
        "| function | points | contours | ours wall (s, median of 3) | ours CPU (s, all threads) | "
        "direct (s, extrapolated from subsample) | speedup | same counts on subsample | target >= 20x and < 10 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = r["speedup"] >= 20 and r["ours_s"] < 10
        lines.append(
            f"| {r['function']} | {r['points']:,} | {r['contours']} | {r['ours_s']:.2f} | {r['ours_cpu_s']:.2f} "
            f"| {r['direct_s']:.1f} "
            f"(n={r['direct_subsample']:,}) | {r['speedup']:.0f}x | {'yes' if r['same_counts'] else 'NO'} | "
            f"{'met' if ok else 'NOT met'} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    """Bar chart of ours vs direct."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = [r["function"] for r in rows]
    xs = np.arange(len(rows))
    ax.bar(xs - 0.2, [r["ours_s"] for r in rows], 0.4, label="ours")
    ax.bar(xs + 0.2, [r["direct_s"] for r in rows], 0.4, label="direct shapely (extrapolated)")
    ax.set_yscale("log")
    ax.set_xticks(xs, names)
    ax.set_ylabel("seconds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke version (200k points)")
    parser.add_argument("--plot", metavar="PATH", help="save a bar chart")
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--subsample", type=int, default=None)
    args = parser.parse_args()
    n = args.points or (200_000 if args.quick else 10_000_000)
    n_sub = args.subsample or (20_000 if args.quick else 100_000)
    import os

    load_before = os.getloadavg()[0]
    rows = run(n, 25, n_sub)
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after")
    print(f"numba warm-up (first call, compile or cache load): {rows[0]['warmup_s']:.1f} s, not in the timings")
    print(table(rows))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
