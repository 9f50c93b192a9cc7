"""Lazy containers benchmark (``BENCHMARKS.md``, "Lazy containers").

1. Attaching 1,000 containers reads zero bytes and takes under 50 ms.
2. The first access of a linked file costs at most 1.1x a direct read of the same file, measured in the same run;
   median of at least 3 runs per type (5 by default, the runner's full run takes 15), direct and linked runs
   interleaved in a new (seeded) random order every round.

The direct read is what a user writes to get the same SpatialData element without a link: the file's library
(geopandas, pandas, tifffile, anndata) and then the ``spatialdata.models`` parser with the same arguments the
container uses, for example ``PointsModel.parse(pd.read_parquet(path), coordinates=..., feature_key=...)``,
``Image2DModel.parse(tifffile.imread(path), dims=..., c_coords=<OME channel names>, chunks=<the container's
chunks>)`` (single scale, as the container gives) or ``TableModel.parse(anndata.read_h5ad(path), region=...,
region_key=..., instance_key=...)``. Both sides therefore do the same work: read the file, build the element,
validate it. Where the container's element is lazy, the user has two ways, both timed: read into memory and parse
(``"eager"``), or parse the library's lazy reader (``"lazy"``: ``dask.dataframe.read_parquet``, tifffile's zarr
store with ``dask.array.from_zarr``); the faster one is the baseline. Before timing, both elements are checked
equal (values, columns, dtypes, transformations, attributes); a benchmark that compared different objects would
fail there. The library read alone (no element) is timed in the same rounds and shown for reference, not used for
the target. The table gives the medians and, in brackets, the fastest and slowest run.

For types that load lazily (Parquet points with ``lazy=True``, TIFF images and labels are dask-backed), the table
shows the first access (the element ready to use) and the first access followed by ``compute()`` of its data; the
target is checked on the latter against the direct read followed by the same ``compute()`` (spatialdata's parser
makes every image and points element dask-backed, so the direct side's data is also one ``compute()`` away).

Run ``uv run --frozen --inexact --all-packages python benchmarks/bench_lazy_containers.py`` (``--quick`` for a
smoke run).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
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

    mapping, annotation = _MAPPING, _ANNOTATION
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


_MAPPING = {"x": "x_location", "y": "y_location", "gene": "feature_name"}
_ANNOTATION = {"region": "cells", "region_key": "region", "instance_key": "cell_id"}


def _library_readers(paths: dict[str, Path]) -> dict[str, Callable[[], Any]]:
    """The file's library alone, without building an element (a reference column of the table)."""
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


def _ome_channel_names(tif: Any) -> list[str] | None:
    """Channel names of the first image of the OME-XML, read with the standard library's XML parser."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(tif.ome_metadata)
    pixels = next(el for el in root.iter() if el.tag.endswith("}Pixels"))
    names = [ch.get("Name") for ch in pixels if ch.tag.endswith("}Channel")]
    return names if names and all(names) else None


def _direct_readers(
    paths: dict[str, Path], chunks: dict[str, tuple[int, ...]]
) -> dict[str, dict[str, Callable[[], Any]]]:
    """What a user writes to get the same element without a link: the library, then the model's ``parse``.

    Per type, the ways a user could do it: ``"eager"`` (read into memory, then parse) and, where the element is
    dask-backed and read lazily by the container, also ``"lazy"`` (the library's lazy reader, then parse). The
    benchmark takes the faster one. ``chunks`` holds the chunk shape of the container's raster elements, so that
    both images are chunked alike.
    """
    import anndata as ad
    import dask.array as da
    import dask.dataframe as dd
    import geopandas as gpd
    import pandas as pd
    import tifffile
    import zarr
    from spatialdata.models import Image2DModel, Labels2DModel, PointsModel, ShapesModel, TableModel

    coordinates = {"x": _MAPPING["x"], "y": _MAPPING["y"]}
    gene = _MAPPING["gene"]

    def image_eager() -> Any:
        with tifffile.TiffFile(paths["ome_tiff_image"]) as tif:
            array = tif.asarray()
            names = _ome_channel_names(tif)
        return Image2DModel.parse(array, dims=("c", "y", "x"), c_coords=names, chunks=chunks["ome_tiff_image"])

    def tiff_lazy(kind: str) -> tuple[Any, Any]:
        # the file stays open: the dask array reads from it when computed
        tif = tifffile.TiffFile(paths[kind])
        array = zarr.open_array(tif.series[0].aszarr(), mode="r")
        return tif, da.from_zarr(array, chunks=chunks[kind])

    def image_lazy() -> Any:
        tif, array = tiff_lazy("ome_tiff_image")
        return Image2DModel.parse(array, dims=("c", "y", "x"), c_coords=_ome_channel_names(tif))

    def labels_lazy() -> Any:
        return Labels2DModel.parse(tiff_lazy("tiff_labels")[1], dims=("y", "x"))

    def points(frame: Any) -> Any:
        return PointsModel.parse(frame, coordinates=coordinates, feature_key=gene)

    return {
        "parquet_shapes": {"eager": lambda: ShapesModel.parse(gpd.read_parquet(paths["parquet_shapes"]))},
        "geojson_shapes": {"eager": lambda: ShapesModel.parse(gpd.read_file(paths["geojson_shapes"]))},
        "parquet_points": {"eager": lambda: points(pd.read_parquet(paths["parquet_points"]))},
        "parquet_points (lazy=True)": {
            "eager": lambda: points(pd.read_parquet(paths["parquet_points"])),
            "lazy": lambda: points(dd.read_parquet(paths["parquet_points"])),
        },
        "csv_points": {"eager": lambda: points(pd.read_csv(paths["csv_points"]))},
        "ome_tiff_image": {"eager": image_eager, "lazy": image_lazy},
        "tiff_labels": {
            "eager": lambda: Labels2DModel.parse(
                tifffile.imread(paths["tiff_labels"]), dims=("y", "x"), chunks=chunks["tiff_labels"]
            ),
            "lazy": labels_lazy,
        },
        "h5ad_table": {"eager": lambda: TableModel.parse(ad.read_h5ad(paths["h5ad_table"]), **_ANNOTATION)},
        "zarr_table": {"eager": lambda: TableModel.parse(ad.read_zarr(paths["zarr_table"]), **_ANNOTATION)},
    }


def check_same_element(kind: str, ours: Any, theirs: Any) -> None:
    """Raise ``AssertionError`` unless the container's element and the direct read's are the same element.

    Points are compared as computed frames with the columns in the same order (``PointsModel.parse`` moves unmapped
    columns around; the order carries no meaning), every other element with ``spatialdata.testing``.
    """
    import pandas as pd
    from spatialdata.testing import assert_elements_are_identical
    from spatialdata.transformations import get_transformation

    if hasattr(ours, "npartitions"):
        assert sorted(ours.columns) == sorted(theirs.columns), (kind, list(ours.columns), list(theirs.columns))
        a = ours.compute()
        b = theirs.compute()[list(a.columns)]
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_categorical=True)
        key = "spatialdata_attrs"  # feature and instance keys
        assert (ours.attrs[key] if key in ours.attrs else None) == (theirs.attrs[key] if key in theirs.attrs else None)
        assert get_transformation(ours, get_all=True) == get_transformation(theirs, get_all=True), kind
        return
    assert_elements_are_identical(ours, theirs)


_LAZY_KINDS = {"parquet_points (lazy=True)", "ome_tiff_image", "tiff_labels"}


def _compute(element: Any) -> Any:
    data = getattr(element, "data", None)
    if data is not None and hasattr(data, "compute"):
        return data.compute()
    return element.compute() if hasattr(element, "compute") else element


def bench_first_access(
    paths: dict[str, Path], repeats: int = 3, kinds: list[str] | None = None
) -> list[dict[str, Any]]:
    """Per type: median times of the direct read and of a container's first access (each + compute when lazy).

    The two elements are checked equal first (:func:`check_same_element`); the library read alone is timed in the
    same rounds as a reference. ``kinds`` restricts the run to some types (all by default).
    """
    import logging

    from spatialdata_plugins.core import SpatialData

    makers = _makers(paths)
    library = _library_readers(paths)
    rows = []
    # PointsModel.parse of a lazy frame logs a warning about computing the gene categories on every call: the
    # direct read does that work (as the container does), the console need not show it 20 times
    logging.getLogger("spatialdata._logging").setLevel(logging.ERROR)  # the logger spatialdata sets up
    for kind, maker in makers.items():
        if kinds is not None and kind not in kinds:
            continue

        def access(maker: Callable[[str], Any] = maker) -> Any:
            sdata = SpatialData()
            sdata.attach(maker("el"))
            return sdata["el"]

        ours = access()  # also warms the page cache and the imports, for both sides alike
        # the direct read chunks its image as the container does
        chunks = {kind: tuple(c[0] for c in ours.data.chunks)} if kind in ("ome_tiff_image", "tiff_labels") else {}
        directs = _direct_readers(paths, chunks)[kind]
        for direct in directs.values():
            check_same_element(kind, ours, direct())
        lazy = kind in _LAZY_KINDS
        candidates: dict[str, Callable[[], Any]] = {}
        for name, direct in directs.items():
            candidates[f"direct {name}"] = (lambda direct=direct: _compute(direct())) if lazy else direct
        candidates["access"] = access
        candidates["library"] = library[kind]
        if lazy:
            candidates["full"] = lambda access=access: _compute(access())
        # interleaved runs, so that a change of load on a shared machine hits both sides alike, in a new order every
        # round: a run is faster after one that freed a lot of memory (the allocator keeps it), so a fixed order
        # favours whoever follows the big eager reads
        runs: dict[str, list[float]] = {name: [] for name in candidates}
        order = list(candidates)
        shuffle = random.Random(f"{kind}-order").shuffle
        for _ in range(repeats):
            shuffle(order)
            for name in order:
                runs[name].append(_median_time(candidates[name], 1))
        med = {name: statistics.median(times) for name, times in runs.items()}
        best = min(directs, key=lambda name: med[f"direct {name}"])  # the best alternative a user has
        t_direct = med[f"direct {best}"]
        t_full = med["full"] if lazy else med["access"]
        rows.append(
            {
                "type": kind,
                "size_mb": _size(paths[kind.split(" ")[0]]) / 1e6,
                "direct_s": t_direct,
                "direct_way": best,
                "direct_ways": {name: med[f"direct {name}"] for name in directs},
                "library_s": med["library"],
                "access_s": med["access"],
                "access_compute_s": t_full,
                "ratio": t_full / t_direct,
                "lazy": lazy,
                "spread": {name: [min(times), max(times)] for name, times in runs.items()},
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
    return {"attach": attach, "access": access, "sizes": sizes, "repeats": repeats}


def _range(times: list[float] | None) -> str:
    """`` [min-max]`` of a candidate's runs (empty for results recorded before the spread was kept)."""
    return f" [{times[0]:.3f}-{times[1]:.3f}]" if times else ""


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
        "| type | file MB | direct read (+ compute if lazy) s | first access s | first access + compute s | ratio "
        "| target <= 1.1x "
        "| library read alone s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["access"]:
        full = f"{r['access_compute_s']:.4f}" if r["lazy"] else "(not lazy)"
        access = f"{r['access_s']:.4f}"
        spread = r.get("spread", {})
        library = f"{r['library_s']:.4f}{_range(spread.get('library'))}" if "library_s" in r else "(not measured)"
        way = f" ({r['direct_way']})" if len(r.get("direct_ways", {})) > 1 else ""
        direct = f"{r['direct_s']:.4f}{way}{_range(spread.get(f'direct {r.get("direct_way")}'))}"
        ours = _range(spread.get("full" if r["lazy"] else "access"))
        lines.append(
            f"| {r['type']} | {r['size_mb']:.1f} | {direct} | {access}{'' if r['lazy'] else ours} | {full}"
            f"{ours if r['lazy'] else ''} | "
            f"{r['ratio']:.2f} | {'yes' if r['ratio'] <= 1.1 else 'no'} | {library} |"
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
