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
import os
import shutil
import statistics
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


def run_view(session, centre, width) -> dict:
    from neuroglancer.webdriver import Webdriver

    from spatialdata_plugins.viewer import CHROMIUM_FLAGS

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
    levels = sorted({int(r.part.split("/")[0][len("spatial") :]) for r in chunks})
    return {
        "chunks": len(chunks),
        "bytes": sum(r.nbytes for r in chunks),
        "levels": f"{levels[0]}-{levels[-1]}" if levels else "-",
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1M points, one repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clustered", action="store_true")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat = 1_000_000, 1
    os.environ.setdefault("SE_OFFLINE", "true")
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        raise SystemExit("the viewer benchmark needs chromium and chromium-driver")

    from spatialdata_plugins.viewer import view

    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-viewer-")
    path = os.path.join(workdir, f"points-{args.n}-{'clustered' if args.clustered else 'uniform'}.zarr")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        make_store(args.n, args.clustered, path)
        print(f"wrote and indexed {args.n:,} points in {time.perf_counter() - t0:.1f} s: {path}")
    parquet = sum(
        os.path.getsize(os.path.join(r, f))
        for r, _, files in os.walk(os.path.join(path, "points", "transcripts", "points.parquet"))
        for f in files
    )
    one_level = 8 + args.n * (16 + 8)  # x, y, z float32 + uint16 gene + padding, then a uint64 id per point

    session = view(path, points="transcripts")
    with session.viewer.config_state.txn() as c:
        c.show_ui_controls = False
        c.show_panel_borders = False
        c.viewer_size = [CANVAS, CANVAS]
    index = session.server.sources["points"]["transcripts"].index
    print(f"index: {index.n_levels} levels, points per level {index.level_rows()}")
    rows = []
    try:
        for name, (centre, width) in views().items():
            runs = [run_view(session, centre, width) for _ in range(args.repeat)]
            bytes_ = [r["bytes"] for r in runs]
            secs = [r["seconds"] for r in runs]
            rows.append(
                (
                    name,
                    runs[-1]["levels"],
                    int(statistics.median(r["chunks"] for r in runs)),
                    statistics.median(bytes_),
                    max(bytes_) - min(bytes_),
                    statistics.median(secs),
                    max(secs) - min(secs),
                )
            )
    finally:
        session.stop()

    print(
        f"\nN = {args.n:,} {'clustered' if args.clustered else 'uniform'} points, 1,000 genes, canvas {CANVAS} px, "
        f"medians of {args.repeat} fresh browsers"
    )
    print("| view | levels fetched | chunks | bytes served | spread | vs one-level layout | vs parquet | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, levels, chunks, b, spread, t, tspread in rows:
        print(
            f"| {name} | {levels} | {chunks:,} | {b / 1e6:.2f} MB | {spread / 1e3:.1f} kB | "
            f"{b / one_level:.4f}x | {b / parquet:.4f}x | {t:.1f} (± {tspread / 2:.1f}) |"
        )
    print(
        f"| baseline: one-level precomputed layout (AnnotationWriter) | 0 | 1 | {one_level / 1e6:.2f} MB | | 1x | "
        f"{one_level / parquet:.2f}x | |"
    )
    print(
        f"| baseline: the points element's parquet | | | {parquet / 1e6:.2f} MB | | {parquet / one_level:.2f}x | 1x | |"
    )


if __name__ == "__main__":
    main()
