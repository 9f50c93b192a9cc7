"""Writer process for the SIGKILL crash test.

Run as ``python _crash_writer.py REPO``: the process imports everything once (slow on a busy machine), prints
``ready`` and then forks one writer child per ``go`` line read on stdin, printing ``pid <pid>``. A child commits
multi-element transactions in a loop, generation after generation, printing ``begin <g>`` before each one and
``commit <g>`` after it, until it is killed. The zygote never touches icechunk itself, so every child starts its
own icechunk runtime after the fork.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
from anndata import AnnData
from shapely import Point
from spatialdata.models import Image2DModel, Labels2DModel, PointsModel, ShapesModel, TableModel

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import SpatialData

SIZE = 128
N_POINTS = 4000
N_CELLS = 30


def expected(generation: int) -> dict[str, Any]:
    """The elements a commit of ``generation`` holds (deterministic)."""
    rng = np.random.default_rng(generation)
    image = rng.random((2, SIZE, SIZE), dtype=np.float32)
    labels = rng.integers(0, 100, size=(SIZE, SIZE), dtype=np.int32)
    points = pd.DataFrame({"x": rng.random(N_POINTS) * SIZE, "y": rng.random(N_POINTS) * SIZE})
    centres = rng.random((N_CELLS, 2)) * SIZE
    cells = gpd.GeoDataFrame(
        {"geometry": [Point(x, y) for x, y in centres], "radius": rng.random(N_CELLS) + 1.0},
        index=pd.Index([f"c{i}" for i in range(N_CELLS)]),
    )
    obs = pd.DataFrame(
        {"region": pd.Categorical(["cells"] * N_CELLS), "cell_id": list(cells.index)},
        index=[str(i) for i in range(N_CELLS)],
    )
    out = {
        "image": Image2DModel.parse(image, dims=("c", "y", "x"), chunks=(1, 64, 64)),
        "labels": Labels2DModel.parse(labels, dims=("y", "x"), chunks=(64, 64)),
        "points": PointsModel.parse(dd.from_pandas(points, npartitions=2)),
        "cells": ShapesModel.parse(cells),
        "table": TableModel.parse(
            AnnData(X=rng.random((N_CELLS, 4)).astype(np.float32), obs=obs),
            region="cells",
            region_key="region",
            instance_key="cell_id",
        ),
    }
    if generation % 2:
        out["odd_only"] = ShapesModel.parse(cells.iloc[:5].copy())
    return out


def generation_of(commit_metadata: dict[str, Any]) -> int:
    """The generation recorded in a commit's metadata (0 for commits without one)."""
    return int(commit_metadata.get("generation", 0))


def write_generation(repo: Any, sdata: SpatialData, generation: int) -> str:
    """One transaction replacing every element (and deleting or adding ``odd_only``) with ``generation``'s data."""
    new = expected(generation)
    with sdi.transaction(
        sdata, repo, message=f"generation {generation}", metadata={"generation": generation}, progress=False
    ) as tx:
        if "odd_only" in sdata and "odd_only" not in new:
            del sdata["odd_only"]
        for name, element in new.items():
            sdata[name] = element
        sdata.attrs["generation"] = generation
    return tx.snapshot_id


def _child(path: str) -> None:
    repo = sdi.open_repository(path)
    generation = generation_of(sdi.log(repo, limit=1)[0].metadata)
    sdata = sdi.read(repo)
    while True:
        generation += 1
        print(f"begin {generation}", flush=True)
        write_generation(repo, sdata, generation)
        print(f"commit {generation}", flush=True)


def main(path: str) -> None:
    """The zygote loop (see the module docstring)."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        pid = os.fork()
        if pid == 0:
            try:
                _child(path)
            finally:
                os._exit(1)
        print(f"pid {pid}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
