"""Density benchmark: ``ring_density`` and ``smooth_density_by_distance`` against shapely with STRtree pruning.

10M uniformly scattered points with a ``gene`` column (50 genes) in a 10,000 x 10,000 extent around 25 wobbly
polygon contours (400 vertices each); grouped by gene (``genes="gene"``), the configuration that is timed is the one
that is checked. Baselines, in the same run:

- **pruned shapely** (what a user would write): per 1M-point partition, on 2 threads like ours, an ``STRtree`` of
  the contours' boundaries queried with ``predicate="dwithin"`` (the analysed reach) gives the candidate
  (point, contour) pairs; ``shapely.distance`` to the boundary, ``contains_xy`` for the sign, then the bins per
  contour and gene; areas from ``shapely.buffer`` (same ``quad_segs``); for smoothing the fine-bin counts and areas
  are smoothed with a Gaussian weight matrix written here (not the plugin's ``smooth_counts``). Its counts, areas
  and densities are compared with ours value for value;
- **direct shapely** (second row): every point against every contour, timed on a random subsample and extrapolated
  linearly (the full run takes tens of minutes); its counts equal ours on that subsample.

Ours and the pruned baseline are timed interleaved (``--rounds``, at least 5 in a full run): medians with min-max.

Run: ``uv run --all-packages --group bench python benchmarks/bench_density.py [--quick] [--plot PATH]``;
``benchmarks/run.py`` runs it with the others.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import interleaved, load, ratio, spread, summary, target, targets_table

RING_WIDTH, N_IN, N_OUT = 20.0, 5, 5
BANDWIDTH, GRID = 10.0, np.linspace(-100.0, 100.0, 101)
QUAD_SEGS = 64
KERNEL_CUTOFF = 4.0  # the documented cut of the smoothing kernel (4 bandwidths)
PARTITION = 1_000_000


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


def smooth_edges() -> np.ndarray:
    """The documented fine bins of the smoothing: step h/10 over the output grid plus 4h on each side."""
    fine = BANDWIDTH / 10
    lo, hi = GRID.min() - KERNEL_CUTOFF * BANDWIDTH, GRID.max() + KERNEL_CUTOFF * BANDWIDTH
    return lo + np.arange(int(np.ceil((hi - lo) / fine)) + 1) * fine


def pruned_counts(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int, contours: list, edges: np.ndarray, threads: int = 2
) -> np.ndarray:
    """Counts per (contour, gene, bin) of signed distances, candidates pruned by an STRtree (``dwithin``).

    Points go by partitions of 1M on ``threads`` threads (shapely releases the GIL), as a user would map partitions.
    """
    boundaries = np.array([c.boundary for c in contours], dtype=object)
    tree = shapely.STRtree(boundaries)
    for c in contours:
        shapely.prepare(c)
    reach = float(np.max(np.abs(edges)))
    n_c, n_b = len(contours), len(edges) - 1

    def one(lo: int) -> np.ndarray:
        hi = min(lo + PARTITION, len(x))
        px, py = x[lo:hi], y[lo:hi]
        pts = shapely.points(px, py)
        pi, ci = tree.query(pts, predicate="dwithin", distance=reach)
        d = shapely.distance(pts[pi], boundaries[ci])
        inside = np.zeros(len(pi), dtype=bool)
        for k, c in enumerate(contours):
            m = ci == k
            inside[m] = shapely.contains_xy(c, px[pi[m]], py[pi[m]])
        signed = np.where(inside, -d, d)
        band = np.searchsorted(edges, signed, side="right") - 1
        ok = (band >= 0) & (band < n_b)
        flat = (ci[ok] * n_groups + codes[lo:hi][pi[ok]]) * n_b + band[ok]
        return np.bincount(flat, minlength=n_c * n_groups * n_b)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(pool.map(one, range(0, len(x), PARTITION)))
    return np.sum(parts, axis=0).reshape(n_c, n_groups, n_b)


def buffer_areas(contours: list, levels: np.ndarray) -> np.ndarray:
    """Area of ``buffer(contour, level)`` for every contour and level (shapely, same ``quad_segs`` as ours)."""
    return np.array([shapely.area(shapely.buffer(c, levels, quad_segs=QUAD_SEGS)) for c in contours])


def baseline_rings(points: pd.DataFrame, contours: list, genes: list[str]) -> dict[str, np.ndarray]:
    """Rings by the pruned baseline: counts (contour, gene + all, ring), areas (contour, ring), densities."""
    edges = np.arange(-N_IN, N_OUT + 1) * RING_WIDTH
    codes = points["gene"].cat.codes.to_numpy()
    counts = pruned_counts(points["x"].to_numpy(), points["y"].to_numpy(), codes, len(genes), contours, edges)
    counts = np.concatenate([counts, counts.sum(axis=1, keepdims=True)], axis=1)
    areas = np.diff(buffer_areas(contours, edges), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(areas[:, None, :] > 0, counts / areas[:, None, :], np.nan)
    return {"count": counts, "area": areas, "density": density}


def baseline_smooth(points: pd.DataFrame, contours: list, genes: list[str]) -> dict[str, np.ndarray]:
    """Smoothed profiles by the pruned baseline: kernel sums of fine-bin counts and areas, written here."""
    edges = smooth_edges()
    codes = points["gene"].cat.codes.to_numpy()
    counts = pruned_counts(points["x"].to_numpy(), points["y"].to_numpy(), codes, len(genes), contours, edges)
    counts = np.concatenate([counts, counts.sum(axis=1, keepdims=True)], axis=1).astype(np.float64)
    d_area = np.clip(np.diff(buffer_areas(contours, edges), axis=1), 0.0, None)
    mids = (edges[:-1] + edges[1:]) / 2
    num = np.empty((*counts.shape[:2], len(GRID)))
    den = np.empty((len(contours), len(GRID)))
    for gi, d in enumerate(GRID):  # one output distance at a time: the Gaussian weights of the fine bins near it
        u = (d - mids) / BANDWIDTH
        w = np.exp(-0.5 * u * u) * (np.abs(u) <= KERNEL_CUTOFF)
        num[:, :, gi] = counts @ w
        den[:, gi] = d_area @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        density = num / den[:, None, :]
    return {"weighted_count": num, "effective_area": den, "density": density}


def ours_arrays(frame: pd.DataFrame, value_cols: list[str], axis_col: str, genes: list[str], n_c: int) -> dict:
    """Our result frame as arrays (contour, group in ``genes + ["all"]``, bin), pooled rows left out."""
    per = frame[frame["contour"] != "pooled"]
    c = per["contour"].astype(int).to_numpy()
    g = pd.Index([*genes, "all"]).get_indexer(per["group"])
    b = pd.Index(np.unique(per[axis_col])).get_indexer(per[axis_col])
    out = {}
    for col in value_cols:
        arr = np.full((n_c, len(genes) + 1, b.max() + 1), np.nan)
        arr[c, g, b] = per[col].to_numpy()
        out[col] = arr
    return out


def compare(ours: dict, base: dict, exact: tuple[str, ...], close: tuple[str, ...]) -> dict[str, Any]:
    """Value-for-value agreement of ours and the baseline (exact for counts, 1e-9 relative for the rest)."""
    report: dict[str, Any] = {}
    for col in exact:
        a, b = ours[col], base[col]
        report[col] = {"differing": int(np.sum(a != b)), "max_abs_diff": float(np.nanmax(np.abs(a - b)))}
    for col in close:
        a, b = ours[col], np.broadcast_to(base[col], ours[col].shape)
        both = np.isfinite(a) & np.isfinite(b)
        rel = np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-300)
        report[col] = {
            "differing": int(
                np.sum(~np.isclose(a[both], b[both], rtol=1e-9, atol=1e-9)) + np.sum(np.isfinite(a) != np.isfinite(b))
            ),
            "max_rel_diff": float(rel.max()) if rel.size else 0.0,
        }
    report["same"] = all(v["differing"] == 0 for v in report.values() if isinstance(v, dict))
    return report


def run_case(n_points: int, n_contours: int, n_sub: int, rounds: int, progress: bool = False) -> list[dict]:
    """Time ours and the pruned baseline interleaved on all points, the direct one on a subsample; compare."""
    from spatialdata.models import PointsModel

    from spatialdata_plugins.density import ring_density, smooth_density_by_distance

    points_df, contours = make_data(n_points, n_contours)
    genes = list(points_df["gene"].cat.categories)
    # a dask DataFrame without divisions, as read from a store
    ddf = dd.from_pandas(points_df, npartitions=max(1, n_points // PARTITION), sort=False)
    points = PointsModel.parse(ddf, feature_key="gene")
    rng = np.random.default_rng(1)
    sub = points_df.iloc[np.sort(rng.choice(n_points, size=min(n_sub, n_points), replace=False))]

    def ours_rings(pts: Any = points) -> pd.DataFrame:
        return ring_density(
            points=pts, contours=contours, ring_width=RING_WIDTH, n_rings_in=N_IN, n_rings_out=N_OUT, genes="gene",
            progress=progress,
        )  # fmt: skip

    def ours_smooth(pts: Any = points) -> pd.DataFrame:
        return smooth_density_by_distance(
            points=pts, contours=contours, bandwidth=BANDWIDTH, grid=GRID, genes="gene", progress=progress
        )

    t0 = time.perf_counter()
    ours_rings(sub)  # compiles (or loads) the numba kernels of both functions
    ours_smooth(sub)
    warm = time.perf_counter() - t0

    rows = []
    cases = (
        ("ring_density", ours_rings, baseline_rings, np.arange(-N_IN, N_OUT + 1) * RING_WIDTH),
        ("smooth_density_by_distance", ours_smooth, baseline_smooth, smooth_edges()),
    )
    for name, ours, baseline, edges in cases:
        with dask.config.set(scheduler="threads", num_workers=2):
            raw = interleaved(
                {"ours": ours, "pruned": lambda baseline=baseline: baseline(points_df, contours, genes)}, rounds
            )
        mine, base = raw["ours"]["result"], raw["pruned"]["result"]
        if name == "ring_density":
            arrays = ours_arrays(mine, ["count", "area", "density"], "ring", genes, n_contours)
            arrays["area"] = arrays["area"][:, 0, :]
            check = compare(arrays, base, exact=("count",), close=("area", "density"))
        else:
            arrays = ours_arrays(mine, ["weighted_count", "effective_area", "density"], "distance", genes, n_contours)
            arrays["effective_area"] = arrays["effective_area"][:, 0, :]
            base_d = np.where(np.isnan(arrays["density"]), np.nan, base["density"])  # ours masks thin areas
            check = compare(
                arrays, {**base, "density": base_d}, exact=(), close=("weighted_count", "effective_area", "density")
            )
        # the direct approach on a subsample, extrapolated; its counts (all genes) equal ours on that subsample
        direct_times = []
        for _ in range(max(1, rounds // 2)):
            t0 = time.perf_counter()
            direct = direct_counts(sub["x"].to_numpy(), sub["y"].to_numpy(), contours, edges)
            direct_times.append(time.perf_counter() - t0)
        sub_mine = ours(sub)
        sub_all = sub_mine[(sub_mine["contour"] != "pooled") & (sub_mine["group"] == "all")]
        if name == "ring_density":
            got = sub_all.sort_values(["contour", "ring"], key=_natural)["count"].to_numpy()
            direct_same = bool(np.array_equal(got, direct.ravel()))
        else:
            mids = (edges[:-1] + edges[1:]) / 2
            u = (GRID[:, None] - mids[None, :]) / BANDWIDTH
            w = np.exp(-0.5 * u * u) * (np.abs(u) <= KERNEL_CUTOFF)
            got = sub_all.sort_values(["contour", "distance"], key=_natural)["weighted_count"].to_numpy()
            direct_same = bool(np.allclose(got, (direct @ w.T).ravel(), rtol=1e-9, atol=1e-9))
        direct_summary = summary(direct_times)
        direct_full = {k: (v * n_points / len(sub) if k != "runs" else v) for k, v in direct_summary.items()}
        rows.append(
            {
                "function": name,
                "points": n_points,
                "contours": n_contours,
                "genes": len(genes),
                "ours": {k: raw["ours"][k] for k in ("times", "median", "min", "max", "runs")},
                "pruned": {k: raw["pruned"][k] for k in ("times", "median", "min", "max", "runs")},
                "direct_extrapolated": direct_full,
                "direct_subsample": len(sub),
                "speedup_pruned": raw["pruned"]["median"] / raw["ours"]["median"],
                "speedup_direct": direct_full["median"] / raw["ours"]["median"],
                "check_pruned": check,
                "same_as_pruned": check["same"],
                "same_as_direct_on_subsample": direct_same,
                "warmup_s": warm,
                "load": load(),
            }
        )
    return rows


def _natural(col: pd.Series) -> pd.Series:
    return col.astype(int) if col.name == "contour" else col


def table(rows: list[dict]) -> str:
    """Markdown table of the results."""
    lines = [
        "| function | points x contours (genes) | ours s, median (min-max) | pruned shapely s | speed-up | "
        "same values as pruned | direct shapely s (extrapolated) | speed-up | same counts as direct (subsample) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['function']} | {r['points']:,} x {r['contours']} ({r['genes']}) | {spread(r['ours'])} "
            f"| {spread(r['pruned'])} | {ratio(r['speedup_pruned'])} | {'yes' if r['same_as_pruned'] else 'NO'} "
            f"| {r['direct_extrapolated']['median']:,.0f} (n={r['direct_subsample']:,}) | {ratio(r['speedup_direct'])} "
            f"| {'yes' if r['same_as_direct_on_subsample'] else 'NO'} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[dict]:
    """The target rows: >= 10x the pruned baseline, under 10 s, the same numbers."""
    out = []
    for r in rows:
        sp = r["speedup_pruned"]
        ok = sp >= 10 and r["ours"]["median"] < 10 and r["same_as_pruned"]
        row = target(
            f"density {r['function']} ({r['points'] / 1e6:g}M points x {r['contours']} contours)",
            ">= 10x faster than STRtree-pruned shapely, < 10 s, same numbers",
            f"{ratio(sp)} ({r['ours']['median']:.2f} s vs {r['pruned']['median']:.2f} s; "
            f"same numbers: {'yes' if r['same_as_pruned'] else 'no'})",
            ok,
        )
        row["load"] = r["load"]
        out.append(row)
    return out


def plot(rows: list[dict], path: str) -> None:
    """Bar chart of ours, the pruned and the direct baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    names = [r["function"] for r in rows]
    xs = np.arange(len(rows))
    ax.bar(xs - 0.27, [r["ours"]["median"] for r in rows], 0.27, label="ours")
    ax.bar(xs, [r["pruned"]["median"] for r in rows], 0.27, label="shapely, STRtree-pruned")
    ax.bar(xs + 0.27, [r["direct_extrapolated"]["median"] for r in rows], 0.27, label="shapely, direct (extrapolated)")
    ax.set_yscale("log")
    ax.set_xticks(xs, names)
    ax.set_ylabel("seconds (median)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(quick: bool = False, plot_dir: str | None = None, n: int | None = None, rounds: int | None = None) -> dict:
    """The runner's entry point."""
    n = n or (200_000 if quick else 10_000_000)
    rows = run_case(n, 25, 20_000 if quick else 100_000, rounds or 5)
    plots = []
    if plot_dir:
        path = os.path.join(plot_dir, "density.png")
        plot(rows, path)
        plots.append(path)
    return {"targets": targets(rows), "tables": {"table": table(rows)}, "plots": plots, "raw": rows}


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke version (200k points)")
    parser.add_argument("--plot", metavar="PATH", help="save a bar chart")
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.points or (200_000 if args.quick else 10_000_000)
    rows = run_case(n, 25, 20_000 if args.quick else 100_000, args.rounds)
    print(f"numba warm-up (first call, compile or cache load): {rows[0]['warmup_s']:.1f} s, not in the timings")
    print(table(rows))
    print(targets_table(targets(rows)))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
