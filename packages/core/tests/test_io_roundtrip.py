"""Round trips against plain spatialdata 0.8, in both directions, on local, S3 and in-memory stores."""

from __future__ import annotations

import dask.array as da
import dask.dataframe as dd
import pytest
import spatialdata
import zarr
from spatialdata.testing import assert_spatial_data_objects_are_identical

from spatialdata_plugins.core import SpatialData, read, write


def _assert_lazy(sdata: spatialdata.SpatialData) -> None:
    for name, image in sdata.images.items():
        arrays = [image.data] if hasattr(image, "data") else [n.ds["image"].data for n in image.subtree if n.ds]
        assert all(isinstance(a, da.Array) for a in arrays), name
    for name, points in sdata.points.items():
        assert isinstance(points, dd.DataFrame), name


def _plain(sdata: spatialdata.SpatialData) -> spatialdata.SpatialData:
    return spatialdata.SpatialData(
        images=sdata.images,
        labels=sdata.labels,
        points=sdata.points,
        shapes=sdata.shapes,
        tables=sdata.tables,
        attrs=sdata.attrs,
    )


def test_local_write_read_by_plain_spatialdata(tmp_path, synthetic_sdata):
    out = tmp_path / "out.zarr"
    write(synthetic_sdata, out)
    plain = spatialdata.read_zarr(out)
    assert_spatial_data_objects_are_identical(synthetic_sdata, plain)
    assert plain.attrs == synthetic_sdata.attrs
    # and byte-for-byte what spatialdata itself stores, element by element
    reference = tmp_path / "reference.zarr"
    _plain(synthetic_sdata).write(reference)
    assert_spatial_data_objects_are_identical(spatialdata.read_zarr(reference), plain)


def test_blobs_round_trip_matches_spatialdata_own_write(tmp_path):
    """spatialdata's own blobs dataset (transformations over a subset of axes, multiscale labels, ...)."""
    from spatialdata.datasets import blobs

    sdata = blobs()
    write(sdata, tmp_path / "ours.zarr")
    sdata.write(tmp_path / "theirs.zarr")
    assert_spatial_data_objects_are_identical(
        spatialdata.read_zarr(tmp_path / "theirs.zarr"), spatialdata.read_zarr(tmp_path / "ours.zarr")
    )
    assert_spatial_data_objects_are_identical(
        spatialdata.read_zarr(tmp_path / "theirs.zarr"), read(tmp_path / "ours.zarr")
    )


def test_plain_spatialdata_store_reads_back_unchanged(tmp_path, synthetic_sdata):
    out = tmp_path / "plain.zarr"
    _plain(synthetic_sdata).write(out)
    ours = read(out)
    assert isinstance(ours, SpatialData)
    assert_spatial_data_objects_are_identical(spatialdata.read_zarr(out), ours)
    assert ours.attrs == synthetic_sdata.attrs
    _assert_lazy(ours)
    assert str(ours.path) == str(out)


def test_memory_store_round_trip(tmp_path, synthetic_sdata):
    store = zarr.storage.MemoryStore()
    write(synthetic_sdata, store)
    back = read(store)
    assert_spatial_data_objects_are_identical(synthetic_sdata, back)
    assert back.attrs == synthetic_sdata.attrs
    _assert_lazy(back)
    # what was read from a key-value store writes on anywhere else (categories, index, dtypes survive)
    write(back, tmp_path / "from_memory.zarr")
    assert_spatial_data_objects_are_identical(synthetic_sdata, spatialdata.read_zarr(tmp_path / "from_memory.zarr"))
    # no loose parquet can exist in a key-value store: points and shapes are parquet-in-zarr
    root = zarr.open_group(store, mode="r")
    assert root["points"]["transcripts"].attrs["spatialdata_plugins"]["encoding"] == "parquet-in-zarr"
    assert root["shapes"]["cells"]["parquet"].dtype == "uint8"


def test_zarr_group_inside_store_round_trip(synthetic_sdata):
    store = zarr.storage.MemoryStore()
    outer = zarr.open_group(store, mode="w")
    inner = outer.require_group("nested/sample1")
    write(synthetic_sdata, inner)
    back = read(zarr.open_group(store, path="nested/sample1", mode="r"))
    assert_spatial_data_objects_are_identical(synthetic_sdata, back)


def test_local_store_object_uses_standard_layout(tmp_path, synthetic_sdata):
    out = tmp_path / "viastore.zarr"
    write(synthetic_sdata, zarr.storage.LocalStore(str(out)))
    assert (out / "points" / "transcripts" / "points.parquet").exists()
    assert_spatial_data_objects_are_identical(synthetic_sdata, spatialdata.read_zarr(out))


@pytest.mark.s3
def test_s3_round_trip(s3_bucket, synthetic_sdata):
    url = f"{s3_bucket['url']}/x.zarr"
    so = s3_bucket["storage_options"]
    write(synthetic_sdata, url, storage_options=so)
    back = read(url, storage_options=so)
    assert_spatial_data_objects_are_identical(synthetic_sdata, back)
    assert back.attrs == synthetic_sdata.attrs
    _assert_lazy(back)
    import s3fs

    fs = s3fs.S3FileSystem(**so)
    # the standard spatialdata layout: loose parquet beside the zarr keys
    assert fs.exists(f"{s3_bucket['bucket']}/x.zarr/points/transcripts/points.parquet")
    assert fs.exists(f"{s3_bucket['bucket']}/x.zarr/shapes/cells/shapes.parquet")


@pytest.mark.s3
def test_s3_store_written_by_plain_spatialdata_reads_back(tmp_path, s3_bucket, synthetic_sdata):
    """A store written by plain spatialdata (locally, it cannot write to S3) and uploaded reads back from S3."""
    import s3fs

    local = tmp_path / "plain.zarr"
    spatialdata.SpatialData(
        images=synthetic_sdata.images,
        points=synthetic_sdata.points,
        shapes=synthetic_sdata.shapes,
        tables=synthetic_sdata.tables,
    ).write(local)
    so = s3_bucket["storage_options"]
    fs = s3fs.S3FileSystem(**so)
    fs.put(str(local), f"{s3_bucket['bucket']}/plain.zarr", recursive=True)
    back = read(f"{s3_bucket['url']}/plain.zarr", storage_options=so)
    assert_spatial_data_objects_are_identical(spatialdata.read_zarr(local), back)


def test_selection_reads_only_requested(tmp_path, synthetic_sdata):
    out = tmp_path / "sel.zarr"
    write(synthetic_sdata, out)
    only_points = read(out, selection=["points"])
    assert list(only_points.points) == ["transcripts"]
    assert not only_points.images and not only_points.shapes
    by_name = read(out, selection=["cells", "image"])
    assert set(by_name.shapes) == {"cells"} and set(by_name.images) == {"image"}


def test_named_points_index_survives_memory_round_trip():
    import pandas as pd
    from spatialdata.models import PointsModel

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0]}, index=pd.Index([10, 20, 30], name="pid"))
    sdata = SpatialData(points={"p": PointsModel.parse(dd.from_pandas(df, npartitions=1))})
    store = zarr.storage.MemoryStore()
    write(sdata, store)
    back = read(store)["p"].compute()
    assert back.index.name == "pid" and list(back.index) == [10, 20, 30] and list(back.columns) == ["x", "y"]
