"""Parquet-in-zarr version 2: points stored as several parquet files (one per dask partition), read as one."""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import zarr
from spatialdata.models import PointsModel

from spatialdata_plugins.core import SpatialData, info, read, read_element, write
from spatialdata_plugins.core._elements import write_points_part
from spatialdata_plugins.core.testing import CountingStore


def _serial_parts_writer(calls: list[int]):
    """A ``points_parts_writer`` writing each dask partition as its own part, here in this process."""

    def store_parts(group, partitions, schema, chunk_bytes):
        calls.append(len(partitions))
        frames = dask.compute(*partitions, scheduler="synchronous")
        return [write_points_part(group, f"parquet.{i}", [f], schema, chunk_bytes) for i, f in enumerate(frames)]

    return store_parts


def _points(n: int, npartitions: int, seed: int = 0, named_index: bool = False, wide: bool = False) -> dd.DataFrame:
    rng = np.random.default_rng(seed)
    extra = {c: rng.normal(size=n) for c in "abcd"} if wide else {}
    df = pd.DataFrame(
        {
            "x": rng.uniform(0, 1000, n),
            "y": rng.uniform(0, 1000, n),
            "gene": pd.Categorical(rng.choice(["b", "a", "c"], n), categories=["c", "b", "a"]),
            "score": rng.normal(size=n).astype("float32"),
            **extra,
        },
        index=pd.RangeIndex(10, 10 + n, name="cell_id" if named_index else None),
    )
    return PointsModel.parse(dd.from_pandas(df, npartitions=npartitions), feature_key="gene")


@pytest.mark.parametrize("named_index", [False, True])
def test_parts_round_trip_equal_to_single_file(named_index):
    points = _points(30_000, 3, named_index=named_index)
    single, parted = zarr.storage.MemoryStore(), zarr.storage.MemoryStore()
    write(SpatialData(points={"p": points}), single)
    calls: list[int] = []
    write(SpatialData(points={"p": points}), parted, points_parts_writer=_serial_parts_writer(calls))
    assert calls == [3]

    block = zarr.open_group(parted, mode="r")["points/p"].attrs["spatialdata_plugins"]
    assert block["version"] == 2 and [p["array"] for p in block["parts"]] == ["parquet.0", "parquet.1", "parquet.2"]
    assert [p["rows"] for p in block["parts"]] == [10_000, 10_000, 10_000]
    assert block["nbytes"] == sum(p["nbytes"] for p in block["parts"])
    assert block["categories"] == {"gene": ["c", "b", "a"]}
    v1 = zarr.open_group(single, mode="r")["points/p"].attrs["spatialdata_plugins"]
    assert v1["version"] == 1 and v1["array"] == "parquet" and "parts" not in v1  # the default stays version 1

    expected = points.compute()
    got = read(parted)["p"]
    assert got.npartitions == 3  # one partition per row group per part
    pd.testing.assert_frame_equal(got.compute(), expected)
    assert got["gene"].cat.known and list(got["gene"].cat.categories) == ["c", "b", "a"]
    assert dict(got.dtypes) == dict(expected.dtypes)
    assert got.attrs["spatialdata_attrs"] == points.attrs["spatialdata_attrs"]
    pd.testing.assert_frame_equal(read(single)["p"].compute(), expected)


def test_parts_columns_filters_and_info():
    points = _points(60_000, 4)
    store = zarr.storage.MemoryStore()
    write(SpatialData(points={"p": points}), store, points_parts_writer=_serial_parts_writer([]))
    expected = points.compute()

    x = read_element(store, "p", columns=["x"]).compute()
    pd.testing.assert_frame_equal(x, expected[["x"]])
    few = read_element(store, "p", columns=["gene"], filters=[("score", ">", 1.5)]).compute()
    pd.testing.assert_frame_equal(few, expected.loc[expected["score"] > 1.5, ["gene"]])

    entry = next(e for e in info(store)["elements"] if e["name"] == "p")
    assert entry["rows"] == 60_000 and entry["encoding"] == "parquet-in-zarr"
    assert entry["columns"] == ["x", "y", "gene", "score"]


def test_parts_column_read_is_partial_and_opening_reads_one_footer():
    store = zarr.storage.MemoryStore()
    points = _points(400_000, 2, wide=True)
    write(SpatialData(points={"p": points}), store, points_parts_writer=_serial_parts_writer([]))
    total = zarr.open_group(store, mode="r")["points/p"].attrs["spatialdata_plugins"]["nbytes"]
    counting = CountingStore(store)
    read(counting)
    # one footer (at most two 256 KiB chunks) and zarr metadata: the row-group counts of the parts are recorded
    assert counting.bytes_read < 3 * 262_144 < total / 8
    lazy = read(counting)["p"]
    counting.bytes_read = 0
    assert lazy["x"].sum().compute() == pytest.approx(points["x"].sum().compute())
    assert counting.bytes_read < 0.35 * total, (counting.bytes_read, total)


def test_parts_with_an_empty_partition():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 2.0]})
    frame = dd.from_pandas(df, npartitions=1)
    points = PointsModel.parse(dd.concat([frame, frame[frame["x"] > 10]]))  # a second, empty partition
    assert points.npartitions == 2
    store = zarr.storage.MemoryStore()
    write(SpatialData(points={"p": points}), store, points_parts_writer=_serial_parts_writer([]))
    pd.testing.assert_frame_equal(read_element(store, "p").compute(), df)
