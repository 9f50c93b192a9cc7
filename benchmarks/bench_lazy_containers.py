"""Lazy containers benchmark (``BENCHMARKS.md``, "Lazy containers").

1. Attaching 1,000 containers reads zero bytes and takes under 50 ms.
2. The first access of a linked file costs at most 1.1x a direct read of the same file with the library a user would
   call (geopandas, pandas, tifffile, anndata), measured in the same run; median of at least 3 runs per type
   (5 by default), direct and linked runs interleaved.

For types that load lazily (Parquet points, TIFF images and labels are dask-backed), the table shows the first access
(the element ready to use) and the first access followed by ``compute()`` (all the data in memory, what the direct
read gives); the target is checked on the latter.

Run ``uv run --frozen --inexact --all-packages python benchmarks/bench_lazy_containers.py`` (``--quick`` for a
smoke run).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Sizes:
    """How big the synthetic files are."""

    polygons: int
    points: int
    image: int
    cells: int
    genes: int


FULL = Sizes(polygons=50_000, points=2_000_000, image=4096, cells=20_000, genes=500)
QUICK = Sizes(polygons=200, points=2_000, image=128, cells=100, genes=20)


def write_files(root: Path, sizes: Sizes, seed: int = 0) -> dict[str, Path]:
    """Write one seeded synthetic file of every built-in kind into ``root``."""
    import anndata as ad
    import geopandas as gpd
    import pandas as pd
    import shapely
    import tifffile

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    xy = rng.uniform(0, 10_000, (sizes.polygons, 2))
    polygons = gpd.GeoDataFrame(
        {"cell_type": pd.Categorical(rng.choice(["T", "B", "epi"], sizes.polygons))},
        geometry=shapely.buffer(shapely.points(xy), rng.uniform(3, 8, sizes.polygons), quad_segs=4),
    )
    paths = {"parquet_shapes": root / "cells.parquet", "geojson_shapes": root / "cells.geojson"}
    polygons.to_parquet(paths["parquet_shapes"])
    polygons.iloc[: max(1, sizes.polygons // 10)].to_file(paths["geojson_shapes"], driver="GeoJSON")
    genes = np.array([f"gene{i:03d}" for i in range(300)])
    points = pd.DataFrame(
        {
            "x_location": rng.uniform(0, 10_000, sizes.points),
            "y_location": rng.uniform(0, 10_000, sizes.points),
            "z_location": rng.uniform(0, 20, sizes.points),
            "feature_name": pd.Categorical(rng.choice(genes, sizes.points)),
            "cell_id": rng.integers(0, sizes.polygons, sizes.points),
        }
    )
    paths["parquet_points"] = root / "transcripts.parquet"
    paths["csv_points"] = root / "transcripts.csv"
    points.to_parquet(paths["parquet_points"])
    points.iloc[: max(1, sizes.points // 4)].to_csv(paths["csv_points"], index=False)
    n = sizes.image
    image = rng.integers(0, 4000, (3, n, n), dtype=np.uint16)
    paths["ome_tiff_image"] = root / "image.ome.tif"
    tile = min(512, n)
    tifffile.imwrite(paths["ome_tiff_image"], image, ome=True, metadata={"axes": "CYX"}, tile=(tile, tile))
    paths["tiff_labels"] = root / "labels.tif"
    tifffile.imwrite(paths["tiff_labels"], rng.integers(0, 5000, (n, n), dtype=np.uint32), tile=(tile, tile))
    table = ad.AnnData(
        rng.poisson(1.0, (sizes.cells, sizes.genes)).astype(np.float32),
        obs=pd.DataFrame(
            {"region": pd.Categorical(["cells"] * sizes.cells), "cell_id": np.arange(sizes.cells)},
            index=[f"c{i}" for i in range(sizes.cells)],
        ),
    )
    paths["h5ad_table"] = root / "table.h5ad"
    paths["zarr_table"] = root / "table.zarr"
    table.write_h5ad(paths["h5ad_table"])
    table.write_zarr(paths["zarr_table"])
    return paths


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _bytes_read() -> int | None:
    """Bytes this process read through read syscalls so far (Linux ``/proc/self/io``), or ``None``."""
    try:
        with open("/proc/self/io") as fh:
            for line in fh:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def bench_attach(paths: dict[str, Path], n: int = 1000, repeats: int = 5) -> dict[str, Any]:
    """Build ``n`` containers (cycling over every built-in type) and attach them; times and bytes read."""
    from spatialdata_plugins.core import SpatialData

    makers = _makers(paths)
    kinds = list(makers)

    def build() -> list[Any]:
        return [makers[kinds[i % len(kinds)]](f"{kinds[i % len(kinds)]}_{i}") for i in range(n)]

    def attach(containers: list[Any]) -> SpatialData:
        sdata = SpatialData()
        for container in containers:
            sdata.attach(container)
        return sdata

    attach(build())  # warm imports
    # reading /proc/self/io is itself a read: measure that cost on an empty interval and subtract it
    b0 = _bytes_read()
    b1 = _bytes_read()
    before = _bytes_read()
    sdata = attach(build())
    after = _bytes_read()
    if before is not None and after is not None and b0 is not None and b1 is not None:
        after -= b1 - b0
    assert len(sdata.unresolved_names()) == n
    built = [build() for _ in range(repeats)]
    attach_times = []
    for containers in built:
        gc.collect()
        t0 = time.perf_counter()
        attach(containers)
        attach_times.append(time.perf_counter() - t0)
    return {
        "n": n,
        "seconds": statistics.median(attach_times),
        "build_and_attach_seconds": _median_time(lambda: attach(build()), repeats),
        "bytes_read": None if before is None else after - before,
    }


def _makers(paths: dict[str, Path]) -> dict[str, Callable[[str], Any]]:
    from spatialdata_plugins import lazy_containers as lc

    mapping = {"x": "x_location", "y": "y_location", "gene": "feature_name"}
    annotation = {"region": "cells", "region_key": "region", "instance_key": "cell_id"}
    return {
        "parquet_shapes": lambda k: lc.ParquetShapesContainer(paths["parquet_shapes"], key=k),
        "geojson_shapes": lambda k: lc.GeoJSONShapesContainer(paths["geojson_shapes"], key=k),
        "parquet_points": lambda k: lc.ParquetPointsContainer(paths["parquet_points"], key=k, columns=mapping),
        "parquet_points (lazy=True)": lambda k: lc.ParquetPointsContainer(
            paths["parquet_points"], key=k, columns=mapping, lazy=True
        ),
        "csv_points": lambda k: lc.CSVPointsContainer(paths["csv_points"], key=k, columns=mapping),
        "ome_tiff_image": lambda k: lc.OMETiffImageContainer(paths["ome_tiff_image"], key=k),
        "tiff_labels": lambda k: lc.TiffLabelsContainer(paths["tiff_labels"], key=k),
        "h5ad_table": lambda k: lc.H5ADTableContainer(paths["h5ad_table"], key=k, **annotation),
        "zarr_table": lambda k: lc.ZarrTableContainer(paths["zarr_table"], key=k, **annotation),
    }


def _direct_readers(paths: dict[str, Path]) -> dict[str, Callable[[], Any]]:
    import anndata as ad
    import geopandas as gpd
    import pandas as pd
    import tifffile

    return {
        "parquet_shapes": lambda: gpd.read_parquet(paths["parquet_shapes"]),
        "geojson_shapes": lambda: gpd.read_file(paths["geojson_shapes"]),
        "parquet_points": lambda: pd.read_parquet(paths["parquet_points"]),
        "parquet_points (lazy=True)": lambda: pd.read_parquet(paths["parquet_points"]),
        "csv_points": lambda: pd.read_csv(paths["csv_points"]),
        "ome_tiff_image": lambda: tifffile.imread(paths["ome_tiff_image"]),
        "tiff_labels": lambda: tifffile.imread(paths["tiff_labels"]),
        "h5ad_table": lambda: ad.read_h5ad(paths["h5ad_table"]),
        "zarr_table": lambda: ad.read_zarr(paths["zarr_table"]),
    }


_LAZY_KINDS = {"parquet_points (lazy=True)", "ome_tiff_image", "tiff_labels"}


def _compute(element: Any) -> Any:
    data = getattr(element, "data", None)
    if data is not None and hasattr(data, "compute"):
        return data.compute()
    return element.compute() if hasattr(element, "compute") else element


def bench_first_access(paths: dict[str, Path], repeats: int = 3) -> list[dict[str, Any]]:
    """Per type: median time of a direct read and of a container's first access (and + compute when lazy)."""
    from spatialdata_plugins.core import SpatialData

    makers = _makers(paths)
    direct = _direct_readers(paths)
    rows = []
    for kind, maker in makers.items():
        direct[kind]()  # warm the page cache and imports, for both sides alike

        def access(maker: Callable[[str], Any] = maker) -> Any:
            sdata = SpatialData()
            sdata.attach(maker("el"))
            return sdata["el"]

        def access_compute(access: Callable[[], Any] = access) -> Any:
            return _compute(access())

        access()
        # interleaved runs, so that a change of load on a shared machine hits both sides alike
        runs: dict[str, list[float]] = {"direct": [], "access": [], "full": []}
        for _ in range(repeats):
            runs["direct"].append(_median_time(direct[kind], 1))
            runs["access"].append(_median_time(access, 1))
            if kind in _LAZY_KINDS:
                runs["full"].append(_median_time(access_compute, 1))
        t_direct = statistics.median(runs["direct"])
        t_access = statistics.median(runs["access"])
        t_full = statistics.median(runs["full"]) if kind in _LAZY_KINDS else t_access
        rows.append(
            {
                "type": kind,
                "size_mb": _size(paths[kind.split(" ")[0]]) / 1e6,
                "direct_s": t_direct,
                "access_s": t_access,
                "access_compute_s": t_full,
                "ratio": t_full / t_direct,
                "lazy": kind in _LAZY_KINDS,
            }
        )
    return rows


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def run(quick: bool = False, repeats: int = 3, workdir: str | None = None) -> dict[str, Any]:
    """Write the files, run both parts, return the results (``{"attach": ..., "access": [...]}``)."""
    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="bench-lazy-", dir=workdir) as tmp:
        paths = write_files(Path(tmp), sizes)
        attach = bench_attach(paths, n=1000, repeats=max(repeats, 5))
        access = bench_first_access(paths, repeats=repeats)
    return {"attach": attach, "access": access, "sizes": sizes}


def format_table(result: dict[str, Any]) -> str:
    """Render the results as markdown."""
    a = result["attach"]
    bytes_read = "n/a (no /proc/self/io)" if a["bytes_read"] is None else f"{a['bytes_read']}"
    no_bytes = a["bytes_read"] == 0
    lines = [
        "| measure | value | target | met |",
        "|---|---|---|---|",
        f"| attach {a['n']} containers: time (median) | {1000 * a['seconds']:.1f} ms | < 50 ms | "
        f"{'yes' if a['seconds'] < 0.05 else 'no'} |",
        f"| build and attach {a['n']} containers: time (median) | {1000 * a['build_and_attach_seconds']:.1f} ms | "
        f"< 50 ms | {'yes' if a['build_and_attach_seconds'] < 0.05 else 'no'} |",
        f"| build and attach {a['n']} containers: bytes read | {bytes_read} | 0 | {'yes' if no_bytes else 'no'} |",
        "",
        "| type | file MB | direct read s | first access s | first access + compute s | ratio | target <= 1.1x |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["access"]:
        full = f"{r['access_compute_s']:.4f}" if r["lazy"] else "(not lazy)"
        lines.append(
            f"| {r['type']} | {r['size_mb']:.1f} | {r['direct_s']:.4f} | {r['access_s']:.4f} | {full} | "
            f"{r['ratio']:.2f} | {'yes' if r['ratio'] <= 1.1 else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny files, a smoke run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (median; at least 3)")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    os.environ.setdefault("SPATIALDATA_PLUGINS_LAZY_ON_CHANGE", "warn")
    result = run(quick=args.quick, repeats=args.repeats)
    s = result["sizes"]
    print(
        f"Lazy containers: {s.polygons} polygons, {s.points} points, {s.image}x{s.image}x3 uint16 image, "
        f"{s.cells}x{s.genes} table; median of {args.repeats} runs\n"
    )
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
