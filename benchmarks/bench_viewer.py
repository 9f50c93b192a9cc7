"""Viewer benchmark: bytes served to the browser per view of N indexed points (see docs/viewer.md).

Data: N points in 2D, x/y float32 in a 10,000 x 10,000 extent, 1,000 genes of similar frequency, uniformly placed
(``--clustered``: around cell-like centres), written with spatialdata-plugins and indexed (``points_per_chunk``
64, the default).

Every view is loaded by a fresh headless Chromium (neuroglancer's client, 1024 x 1024 canvas, the points layer
only), so nothing is cached; the data server logs every request it answers. Measured per view: annotation chunks
requested, their levels, bytes served, and the wall time until neuroglancer reports the view complete. Baselines in
the same run: the same points in neuroglancer's single-level precomputed layout (what its Python
``AnnotationWriter`` writes: every point in one chunk, which a client must fetch whole for any view), and the
points element's parquet bytes (what a viewer without an index reads).

Run: ``uv run --frozen --all-packages python benchmarks/bench_viewer.py [--n 10000000] [--quick] [--repeat 3]``.
Needs ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

EXTENT = 10_000.0
CANVAS = 1024


def make_store(n: int, clustered: bool, path: str) -> None:
    import dask.dataframe as dd
    import pandas as pd
    from spatialdata.models import PointsModel
    from spatialdata.transformations import Identity

    from spatialdata_plugins.core import SpatialData, write

    rng = np.random.default_rng(0)
    if clustered:
        centres = rng.uniform(0, EXTENT, size=(n // 200 + 1, 2))
        xy = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 15, size=(n, 2))
        xy = np.clip(xy, 0, EXTENT - 1e-3)
    else:
        xy = rng.uniform(0, EXTENT, size=(n, 2))
    genes = pd.Categorical.from_codes(rng.integers(0, 1000, n), [f"gene_{g:04d}" for g in range(1000)])
    df = pd.DataFrame({"x": xy[:, 0].astype("float32"), "y": xy[:, 1].astype("float32"), "gene": genes})
    points = PointsModel.parse(
        dd.from_pandas(df, npartitions=max(1, n // 2_000_000)),
        feature_key="gene",
        transformations={"global": Identity()},
    )
    write(SpatialData(points={"transcripts": points}), path, points_index=True)


def views() -> dict[str, tuple[tuple[float, float], float]]:
    """View name -> (centre, width in data units), on a CANVAS-pixel canvas."""
    c = EXTENT / 2
    return {
        "zoomed out (whole extent)": ((c, c), EXTENT),
        "central 10%": ((c, c), EXTENT / 10),
        "central 2%": ((c, c), EXTENT / 50),
        "central 0.5%": ((c, c), EXTENT / 200),
    }


def run_view(session, info: dict, centre, width) -> dict:
    """Load one view in a fresh browser; what the data server sent for it."""
    from neuroglancer.webdriver import Webdriver

    from spatialdata_plugins.viewer import CHROMIUM_FLAGS, annotation_chunk_bounds

    with session.viewer.txn() as s:
        s.position = [centre[0], centre[1], 0.5]
        s.cross_section_scale = width / CANVAS
        s.show_axis_lines = False
    session.log.clear()
    flags = [f for f in CHROMIUM_FLAGS if f != "--headless=new"] + [f"--user-data-dir={tempfile.mkdtemp()}"]
    t0 = time.perf_counter()
    with Webdriver(
        session.viewer,
        headless=True,
        browser_binary_path=shutil.which("chromium"),
        extra_command_line_args=flags,
        window_size=(CANVAS + 64, CANVAS + 64),
        print_logs=False,
    ) as driver:
        driver.sync()
        session.viewer.screenshot()
        elapsed = time.perf_counter() - t0
    chunks = session.log.annotation_chunks("transcripts")
    # the part of the data space the canvas shows (a square canvas: width x width around the centre)
    vlo = np.asarray(centre, dtype=float) - width / 2
    vhi = np.asarray(centre, dtype=float) + width / 2
    outside = 0
    for r in chunks:
        _, lo, hi = annotation_chunk_bounds(info, r.part)
        if not (np.all(lo < vhi) and np.all(hi > vlo)):
            outside += 1
    levels = sorted({annotation_chunk_bounds(info, r.part)[0] for r in chunks})
    return {
        "chunks": len(chunks),
        "bytes": sum(r.nbytes for r in chunks),
        "levels": levels,
        "outside": outside,
        "seconds": elapsed,
    }


def measure(n: int, repeat: int, clustered: bool = False, workdir: str | None = None) -> dict:
    """Write and index ``n`` points, load every view ``repeat`` times in fresh browsers; the raw measurements."""
    os.environ.setdefault("SE_OFFLINE", "true")
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        raise SystemExit("the viewer benchmark needs chromium and chromium-driver")

    from spatialdata_plugins.viewer import view

    workdir = workdir or tempfile.mkdtemp(prefix="bench-viewer-")
    path = os.path.join(workdir, f"points-{n}-{'clustered' if clustered else 'uniform'}.zarr")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        make_store(n, clustered, path)
        print(f"wrote and indexed {n:,} points in {time.perf_counter() - t0:.1f} s: {path}", file=sys.stderr)
    parquet = sum(
        os.path.getsize(os.path.join(r, f))
        for r, _, files in os.walk(os.path.join(path, "points", "transcripts", "points.parquet"))
        for f in files
    )
    one_level = 8 + n * (16 + 8)  # x, y, z float32 + uint16 gene + padding, then a uint64 id per point

    session = view(path, points="transcripts")
    with session.viewer.config_state.txn() as c:
        c.show_ui_controls = False
        c.show_panel_borders = False
        c.viewer_size = [CANVAS, CANVAS]
    source = session.server.sources["points"]["transcripts"]
    info = source.info()
    level_rows = [int(v) for v in source.index.level_rows()]
    out = []
    try:
        for name, (centre, width) in views().items():
            runs = [run_view(session, info, centre, width) for _ in range(repeat)]
            out.append({"view": name, "centre": list(centre), "width": width, "runs": runs})
    finally:
        session.stop()
    return {
        "n": n,
        "kind": "clustered" if clustered else "uniform",
        "repeat": repeat,
        "canvas": CANVAS,
        "level_rows": level_rows,
        "parquet_bytes": parquet,
        "one_level_bytes": one_level,
        "views": out,
    }


def table(raw: dict) -> str:
    """The markdown table of a :func:`measure` result."""
    lines = [
        f"N = {raw['n']:,} {raw['kind']} points, 1,000 genes, canvas {raw['canvas']} px, medians of {raw['repeat']} "
        f"fresh browsers; the index's levels hold {', '.join(f'{v:,}' for v in raw['level_rows'])} points.",
        "",
        "| view | levels fetched | chunks | chunks outside the view | bytes served | spread | vs one-level layout "
        "| vs parquet | time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in raw["views"]:
        runs = v["runs"]
        b = [r["bytes"] for r in runs]
        t = [r["seconds"] for r in runs]
        levels = runs[-1]["levels"]
        lv = f"{levels[0]}-{levels[-1]}" if levels else "-"
        mb = statistics.median(b)
        lines.append(
            f"| {v['view']} | {lv} | {int(statistics.median(r['chunks'] for r in runs)):,} | "
            f"{max(r['outside'] for r in runs)} | {mb / 1e6:.2f} MB | {(max(b) - min(b)) / 1e3:.1f} kB | "
            f"{mb / raw['one_level_bytes']:.2g}x | {mb / raw['parquet_bytes']:.2g}x | "
            f"{statistics.median(t):.1f} (min {min(t):.1f}, max {max(t):.1f}) |"
        )
    ol, pq = raw["one_level_bytes"], raw["parquet_bytes"]
    lines.append(
        f"| baseline: one-level precomputed layout (AnnotationWriter) | 0 | 1 | | {ol / 1e6:.2f} MB | | 1x | "
        f"{ol / pq:.2g}x | |"
    )
    lines.append(f"| baseline: the points element's parquet | | | | {pq / 1e6:.2f} MB | | {pq / ol:.2g}x | 1x | |")
    return "\n".join(lines)


COARSE_LIMIT = 4_000_000  # "a few MB"


def targets(raw: dict) -> list[dict]:
    """The target rows: zoomed out, whole coarse levels only, a few MB at most; zoomed in, only overlapping chunks."""
    from _common import target

    rows = []
    for v in raw["views"]:
        runs = v["runs"]
        worst = max(r["bytes"] for r in runs)
        if v["width"] >= EXTENT:
            levels = runs[-1]["levels"]
            prefix = levels == list(range(len(levels)))
            rows.append(
                target(
                    f"viewer {raw['n']:,} {raw['kind']} points: {v['view']}",
                    f"whole coarse levels only, at most {COARSE_LIMIT / 1e6:.0f} MB served",
                    f"levels {levels[0]}-{levels[-1]} ({'a prefix' if prefix else 'NOT a prefix'}), "
                    f"{worst / 1e6:.2f} MB (largest of {len(runs)})",
                    prefix and worst <= COARSE_LIMIT,
                )
            )
        else:
            outside = max(r["outside"] for r in runs)
            rows.append(
                target(
                    f"viewer {raw['n']:,} {raw['kind']} points: {v['view']}",
                    "only chunks overlapping the view",
                    f"{outside} of {max(r['chunks'] for r in runs)} chunks outside the view, "
                    f"{worst / 1e6:.2f} MB served",
                    outside == 0,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1M points, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clustered", action="store_true")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--json", action="store_true", help="print the raw measurements as JSON (for the runner)")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat = 1_000_000, 1
    raw = measure(args.n, args.repeat, args.clustered, args.workdir)
    if args.json:
        print(json.dumps(raw))
    else:
        print(table(raw))


if __name__ == "__main__":
    main()
