"""Partial reads of points and shapes read only the byte ranges they need, on every kind of store."""

from __future__ import annotations

import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
import pytest
import zarr
from fsspec.implementations.local import LocalFileOpener, LocalFileSystem
from spatialdata.models import PointsModel

from spatialdata_plugins.core import SpatialData, read, read_element, write
from spatialdata_plugins.core.testing import CountingStore


class _CountingFile(LocalFileOpener):
    def read(self, *args, **kwargs):
        data = super().read(*args, **kwargs)
        type(self.fs).bytes_read += len(data)
        return data

    def readinto(self, b):
        n = super().readinto(b)
        type(self.fs).bytes_read += n or 0
        return n


class CountingFileSystem(LocalFileSystem):
    """A local filesystem reached through its own URL scheme, counting the bytes read from files."""

    protocol = "countingfile"
    bytes_read = 0
    cachable = False

    def _open(self, path, mode="rb", block_size=None, **kwargs):
        path = self._strip_protocol(path)
        if "r" in mode:
            return _CountingFile(path, mode, fs=self, **kwargs)
        return super()._open(path, mode, block_size=block_size, **kwargs)


fsspec.register_implementation("countingfile", CountingFileSystem, clobber=True)


def _points_sdata(n: int = 400_000, seed: int = 0) -> SpatialData:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.uniform(0, 1000, n),
            "y": rng.uniform(0, 1000, n),
            "gene": pd.Categorical(rng.choice([f"g{i}" for i in range(50)], n)),
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.normal(size=n),
            "d": rng.normal(size=n),
        }
    )
    points = PointsModel.parse(dd.from_pandas(df, npartitions=2), feature_key="gene")
    return SpatialData(points={"transcripts": points})


def test_memory_store_column_read_is_partial():
    inner = zarr.storage.MemoryStore()
    write(_points_sdata(), inner)
    total = zarr.open_group(inner, mode="r")["points/transcripts"].attrs["spatialdata_plugins"]["nbytes"]

    counting = CountingStore(inner)
    read_element(counting, "transcripts").compute()
    assert counting.bytes_read >= total, "the counter sees every byte of a full read"
    counting.bytes_read = 0
    x = read_element(counting, "transcripts", columns=["x"]).compute()
    assert list(x.columns) == ["x"] and len(x) == 400_000
    assert counting.bytes_read < 0.35 * total, (counting.bytes_read, total)

    # column projection on the full lazy object reads only that column too
    counting.bytes_read = 0
    sdata = read(counting)
    after_open = counting.bytes_read
    assert after_open < 0.05 * total, "opening reads metadata and parquet footers only"
    y_sum = sdata["transcripts"]["y"].sum().compute()
    assert y_sum == pytest.approx(sdata["transcripts"].compute()["y"].sum())
    assert counting.bytes_read - after_open < 1.5 * total  # the full compute above read everything once


def test_memory_store_projection_alone_is_partial():
    inner = zarr.storage.MemoryStore()
    write(_points_sdata(), inner)
    total = zarr.open_group(inner, mode="r")["points/transcripts"].attrs["spatialdata_plugins"]["nbytes"]
    counting = CountingStore(inner)
    sdata = read(counting)
    counting.bytes_read = 0
    sdata["transcripts"]["x"].sum().compute()
    assert counting.bytes_read < 0.35 * total, (counting.bytes_read, total)


def test_memory_store_row_group_filter_skips_row_groups():
    """Sorted data: a filter on x only reads the row groups whose statistics overlap."""
    inner = zarr.storage.MemoryStore()
    sdata = _points_sdata(n=1_000_000)
    df = sdata["transcripts"].compute().sort_values("x").reset_index(drop=True)
    sdata = SpatialData(
        points={"transcripts": PointsModel.parse(dd.from_pandas(df, npartitions=1), feature_key="gene")}
    )
    write(sdata, inner)
    total = zarr.open_group(inner, mode="r")["points/transcripts"].attrs["spatialdata_plugins"]["nbytes"]
    counting = CountingStore(inner)
    part = read_element(counting, "transcripts", filters=[("x", "<", 100.0)]).compute()
    assert len(part) == int((df["x"] < 100.0).sum())
    assert (part["x"] < 100.0).all()
    assert counting.bytes_read < 0.5 * total, (counting.bytes_read, total)


def test_fsspec_column_read_is_partial(tmp_path):
    url = f"countingfile://{tmp_path}/x.zarr"
    write(_points_sdata(), url, storage_options={"auto_mkdir": True})
    total = sum(p.stat().st_size for p in (tmp_path / "x.zarr" / "points").rglob("*.parquet"))
    CountingFileSystem.bytes_read = 0
    read_element(url, "transcripts").compute()
    assert CountingFileSystem.bytes_read >= 0.9 * total, "the counter sees a full read"
    CountingFileSystem.bytes_read = 0
    x = read_element(url, "transcripts", columns=["x"]).compute()
    assert len(x) == 400_000
    assert CountingFileSystem.bytes_read < 0.35 * total, (CountingFileSystem.bytes_read, total)


def test_shapes_column_read_is_partial(synthetic_sdata):
    inner = zarr.storage.MemoryStore()
    import geopandas as gpd
    from shapely import Point
    from spatialdata.models import ShapesModel

    rng = np.random.default_rng(0)
    n = 50_000
    gdf = gpd.GeoDataFrame(
        {
            "geometry": [Point(x, y) for x, y in rng.uniform(0, 100, (n, 2))],
            "radius": rng.uniform(1, 2, n),
            "score": rng.normal(size=n),
            "other": rng.normal(size=n),
        }
    )
    # small chunks: a partial read is rounded up to whole chunks, so the granularity must be finer than a column
    write(SpatialData(shapes={"cells": ShapesModel.parse(gdf)}), inner, chunk_bytes=64 * 1024)
    total = zarr.open_group(inner, mode="r")["shapes/cells"].attrs["spatialdata_plugins"]["nbytes"]
    counting = CountingStore(inner)
    read_element(counting, "cells")
    assert counting.bytes_read >= total
    counting.bytes_read = 0
    back = read_element(counting, "cells", columns=["geometry", "score"])
    assert list(back.columns) == ["geometry", "score"] and len(back) == n
    # geometry and score are 60% of the file; the rest is chunk rounding and the footer
    assert counting.bytes_read < 0.7 * total, (counting.bytes_read, total)


def test_filter_on_a_column_not_read():
    inner = zarr.storage.MemoryStore()
    sdata = _points_sdata(n=20_000)
    write(sdata, inner)
    expected = sdata["transcripts"].compute()
    expected = expected.loc[expected["gene"] == "g3", ["x"]]
    got = read_element(inner, "transcripts", columns=["x"], filters=[("gene", "==", "g3")]).compute()
    assert list(got.columns) == ["x"]
    assert np.array_equal(np.sort(got["x"].to_numpy()), np.sort(expected["x"].to_numpy()))
