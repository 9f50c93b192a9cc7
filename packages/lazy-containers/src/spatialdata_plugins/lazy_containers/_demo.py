"""The lazy-containers step of ``spatialdata-plugins demo``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any


def run_demo_step(sdata: Any, workdir: str, echo: Callable[[str], None]) -> None:
    """Export two elements to plain files, link them, access them, write the links and read them back.

    Parameters
    ----------
    sdata
        The demo's SpatialData (it needs a shapes element and a points element).
    workdir
        Directory to write the files and the store into.
    echo
        Prints a line of the demo's report.
    """
    from spatialdata_plugins.core import SpatialData, read
    from spatialdata_plugins.lazy_containers import ParquetPointsContainer, ParquetShapesContainer

    shapes_name = next(iter(sdata.shapes), None)
    points_name = next(iter(sdata.points), None)
    if shapes_name is None or points_name is None:
        echo("lazy-containers: the demo data has no shapes or points, skipped")
        return
    folder = os.path.join(workdir, "lazy-containers")
    os.makedirs(folder, exist_ok=True)
    shapes_file = os.path.join(folder, f"{shapes_name}.parquet")
    points_file = os.path.join(folder, f"{points_name}.parquet")
    shapes = sdata.shapes[shapes_name].copy()
    shapes.attrs = {}  # spatialdata's transformations live in attrs; plain GeoParquet cannot hold them
    shapes.to_parquet(shapes_file)
    points = sdata.points[points_name].compute()
    points.attrs = {}
    points.to_parquet(points_file)
    feature = sdata.points[points_name].attrs.get("spatialdata_attrs", {}).get("feature_key")

    linked = SpatialData()
    t0 = time.perf_counter()
    linked.attach(ParquetShapesContainer(shapes_file, key="linked_shapes"))
    mapping = {"gene": feature} if feature else {}
    linked.attach(ParquetPointsContainer(points_file, key="linked_points", columns=mapping))
    echo(f"lazy-containers: attached 2 links in {1000 * (time.perf_counter() - t0):.1f} ms, no IO:")
    for line in repr(linked).splitlines()[-2:]:
        echo(f"   {line.strip()}")
    n_shapes = len(linked["linked_shapes"])
    n_points = len(linked["linked_points"])
    echo(f"lazy-containers: first access loaded {n_shapes} shapes and {n_points} points, validated by spatialdata")
    store = os.path.join(folder, "links.zarr")
    linked.write(store, overwrite=True, progress=False)
    back = read(store)
    lazy = [name for name in ("linked_shapes", "linked_points") if back.is_lazy(name)]
    echo(f"lazy-containers: wrote {store} with the links only; read back, still lazy: {', '.join(lazy)}")
