"""``spatialdata-plugins demo``: the end-to-end example on local, embedded defaults."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable

import zarr


def run_demo(
    workdir: str | None = None,
    n_points: int = 20_000,
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, object]:
    """Build a synthetic SpatialData, write it locally and in memory, read it back and check it, run plugin steps.

    Parameters
    ----------
    workdir
        Directory to write into; a new temporary directory when ``None``.
    n_points
        Number of synthetic transcript points.
    progress
        Progress bars on or off (``None``: only on a terminal).
    echo
        Where report lines go.

    Returns
    -------
    dict
        What the demo produced: ``{"workdir", "store", "elements"}``.
    """
    import spatialdata
    from spatialdata.testing import assert_spatial_data_objects_are_identical

    from spatialdata_plugins.core import __version__
    from spatialdata_plugins.core._cli import format_info
    from spatialdata_plugins.core._info import info
    from spatialdata_plugins.core._io import read, write
    from spatialdata_plugins.core._registry import get_registry, list_plugins
    from spatialdata_plugins.core._synthetic import synthetic_sdata

    workdir = workdir or tempfile.mkdtemp(prefix="spatialdata-plugins-demo-")
    os.makedirs(workdir, exist_ok=True)
    echo(f"spatialdata-plugins {__version__} demo (spatialdata {spatialdata.__version__})")
    loaded = [p.name for p in list_plugins() if p.loaded]
    echo(f"plugins loaded: {', '.join(loaded)}")

    sdata = synthetic_sdata(seed=0, n_points=n_points)
    names = [name for _, name, _ in sdata.gen_elements()]
    echo(f"1. built a synthetic SpatialData with {len(names)} elements: {', '.join(names)}")

    store = os.path.join(workdir, "demo.zarr")
    t0 = time.perf_counter()
    write(sdata, store, overwrite=True, progress=progress)
    echo(f"2. wrote it with spatialdata_plugins.core.write to {store} ({time.perf_counter() - t0:.2f} s)")

    back = read(store)
    logging.getLogger("ome_zarr").setLevel(logging.ERROR)  # ome-zarr's reader logs harmless notes on labels
    plain = spatialdata.read_zarr(store)
    assert_spatial_data_objects_are_identical(plain, back)
    echo("3. read it back with spatialdata_plugins.core.read: identical to plain spatialdata.read_zarr")

    memory = zarr.storage.MemoryStore()
    write(back, memory, progress=progress)
    from_memory = read(memory)
    assert_spatial_data_objects_are_identical(back, from_memory)
    echo("4. wrote it to an in-memory zarr v3 store (points and shapes as parquet-in-zarr) and read it back: identical")

    echo("5. the store, summarised from metadata only (spatialdata-plugins info):")
    for line in format_info(info(store)).splitlines():
        echo(f"   {line}")

    get_registry().hook.sdp_demo(sdata=back, workdir=workdir, echo=echo)
    echo(f"done. output written under {workdir}")
    return {"workdir": workdir, "store": store, "elements": names}
