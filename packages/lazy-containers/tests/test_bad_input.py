"""Bad input: clear errors naming the container, location and problem; the object stays usable, the link lazy."""

from __future__ import annotations

import pytest
from lazy_containers_testfiles import POINTS_MAPPING

from spatialdata_plugins.core import SpatialData, SpatialDataPluginError
from spatialdata_plugins.lazy_containers import (
    ColumnMappingError,
    ContainerLoadError,
    ContainerValidationError,
    CSVPointsContainer,
    GeoJSONShapesContainer,
    H5ADTableContainer,
    InvalidContainerError,
    LazyContainer,
    LinkTargetNotFoundError,
    OMETiffImageContainer,
    ParquetPointsContainer,
    ParquetShapesContainer,
    TiffImageContainer,
    TiffLabelsContainer,
    ZarrTableContainer,
)


def assert_fails_and_stays_lazy(container, error, *words):
    sdata = SpatialData()
    sdata.attach(container)
    with pytest.raises(error) as info:
        sdata[container.key]
    text = str(info.value)
    assert isinstance(info.value, SpatialDataPluginError)
    assert container.type_name in text and repr(container.key) in text and container.location in text, text
    for word in words:
        assert word in text, text
    # nothing was cached, the link is still lazy, and the object still works
    assert sdata.is_lazy(container.key) and not container.loaded
    assert container.key in repr(sdata)
    sdata.detach(container.key)
    return info.value


@pytest.mark.parametrize(
    "make",
    [
        lambda p: ParquetShapesContainer(p / "nope.parquet", key="cells"),
        lambda p: GeoJSONShapesContainer(p / "nope.geojson", key="cells"),
        lambda p: ParquetPointsContainer(p / "nope.parquet", key="tx"),
        lambda p: CSVPointsContainer(p / "nope.csv", key="tx"),
        lambda p: OMETiffImageContainer(p / "nope.ome.tif", key="img"),
        lambda p: TiffLabelsContainer(p / "nope.tif", key="lab"),
        lambda p: H5ADTableContainer(p / "nope.h5ad", key="t"),
        lambda p: ZarrTableContainer(p / "nope.zarr", key="t"),
    ],
)
def test_missing_file(tmp_path, make):
    err = assert_fails_and_stays_lazy(make(tmp_path), LinkTargetNotFoundError, "does not exist")
    assert isinstance(err, FileNotFoundError)


def test_missing_file_on_s3(s3_bucket):
    c = ParquetShapesContainer(f"{s3_bucket['url']}/nope.parquet", storage_options=s3_bucket["storage_options"])
    assert_fails_and_stays_lazy(c, LinkTargetNotFoundError)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda f: ParquetShapesContainer(f.path("transcripts.csv"), key="cells"), ["cannot be read as ParquetShapes"]),
        (lambda f: ParquetShapesContainer(f.path("transcripts.parquet"), key="cells"), ["ParquetShapes"]),
        (lambda f: GeoJSONShapesContainer(f.path("notes.txt"), key="cells"), ["GeoJSONShapes"]),
        (lambda f: ParquetPointsContainer(f.path("image.ome.tif"), key="tx"), ["ParquetPoints"]),
        (lambda f: TiffImageContainer(f.path("cells.parquet"), key="img"), ["TiffImage"]),
        (lambda f: OMETiffImageContainer(f.path("plain.tif"), key="img"), ["without OME metadata"]),
        (lambda f: H5ADTableContainer(f.path("cells.parquet"), key="t"), ["H5ADTable"]),
        (lambda f: ZarrTableContainer(f.path("cells.parquet"), key="t"), ["ZarrTable"]),
        (lambda f: OMETiffImageContainer(f.path("image.ome.tif"), key="img", series=3), ["series 3"]),
        (lambda f: OMETiffImageContainer(f.path("image.ome.tif"), key="img", level=2), ["level 2"]),
    ],
)
def test_file_of_the_wrong_kind(files, make, words):
    err = assert_fails_and_stays_lazy(make(files), ContainerLoadError, *words)
    assert isinstance(err, ValueError)


def test_directories_of_the_wrong_kind_are_not_reported_missing(files, tmp_path):
    """An existing directory is a file of the wrong kind, not a missing target."""
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    err = assert_fails_and_stays_lazy(ZarrTableContainer(empty, key="t"), ContainerLoadError, "not a zarr store")
    assert not isinstance(err, LinkTargetNotFoundError)
    err = assert_fails_and_stays_lazy(H5ADTableContainer(empty, key="t"), ContainerLoadError, "ZarrTableContainer")
    assert not isinstance(err, LinkTargetNotFoundError)


@pytest.mark.parametrize("cls", [ParquetPointsContainer, CSVPointsContainer])
def test_column_mapping_that_does_not_match(files, cls):
    name = "transcripts.parquet" if cls is ParquetPointsContainer else "transcripts.csv"
    bad = {**POINTS_MAPPING, "gene": "gene_symbol"}
    assert_fails_and_stays_lazy(cls(files.path(name), key="tx", columns=bad), ColumnMappingError, "'gene_symbol'")
    # the default x/y mapping does not fit a file with x_location/y_location either
    assert_fails_and_stays_lazy(cls(files.path(name), key="tx"), ColumnMappingError, "x -> 'x'", "x_location")


def test_table_annotation_columns_that_do_not_match(files):
    c = H5ADTableContainer(files.path("table.h5ad"), key="t", region="cells", region_key="sample", instance_key="id")
    assert_fails_and_stays_lazy(c, ColumnMappingError, "'sample'")


def test_data_that_fails_the_spatialdata_model(files, tmp_path):
    import numpy as np
    import tifffile

    assert_fails_and_stays_lazy(
        ParquetShapesContainer(files.path("circles.parquet"), key="c"), ContainerValidationError, "not a valid"
    )
    tifffile.imwrite(tmp_path / "float_labels.tif", np.random.default_rng(0).random((16, 16), dtype=np.float32))
    assert_fails_and_stays_lazy(
        TiffLabelsContainer(tmp_path / "float_labels.tif", key="lab"), ContainerValidationError, "integer"
    )
    assert_fails_and_stays_lazy(
        OMETiffImageContainer(files.path("image.ome.tif"), key="img", channel_names=["a", "b"]),
        ContainerValidationError,
        "2 channel names for 3 channels",
    )
    assert_fails_and_stays_lazy(
        TiffLabelsContainer(files.path("image.ome.tif"), key="lab"), ContainerLoadError, "one channel"
    )
    tifffile.imwrite(tmp_path / "t.tif", np.zeros((3, 2, 8, 8), np.uint8), metadata={"axes": "TCYX"})
    assert_fails_and_stays_lazy(TiffImageContainer(tmp_path / "t.tif", key="img"), ContainerLoadError, "'T' of size 3")


def test_bad_constructor_arguments(files):
    with pytest.raises(InvalidContainerError, match="column mapping keys"):
        ParquetPointsContainer("a.parquet", columns={"gene_name": "g"})
    with pytest.raises(InvalidContainerError, match=r"\['a'\] for more than one role"):
        CSVPointsContainer("a.csv", columns={"x": "a", "y": "a"})
    with pytest.raises(InvalidContainerError, match="key must be"):
        ParquetShapesContainer("a.parquet", key="")
    with pytest.raises(InvalidContainerError, match="location"):
        ParquetShapesContainer("")
    with pytest.raises(InvalidContainerError, match="transformation"):
        ParquetShapesContainer("a.parquet", transformation="scale 2")
    with pytest.raises(InvalidContainerError, match="on_change"):
        ParquetShapesContainer("a.parquet", on_change="explode")
    with pytest.raises(InvalidContainerError, match="together"):
        H5ADTableContainer("t.h5ad", region="cells")
    with pytest.raises(InvalidContainerError, match="backed=True needs a local file"):
        H5ADTableContainer("s3://b/t.h5ad", backed=True)
    with pytest.raises(InvalidContainerError, match="not a JSON"):
        LazyContainer.from_json("{nope")
    with pytest.raises(InvalidContainerError, match="needs 'type' and 'location'"):
        LazyContainer.from_dict({"type": "ParquetShapes"})
    with pytest.raises(InvalidContainerError, match="cannot rebuild"):
        LazyContainer.from_dict({"type": "ParquetShapes", "location": "a.parquet", "params": {"colour": "red"}})


def test_malformed_link_in_a_store_still_opens(files, tmp_path):
    import zarr

    from spatialdata_plugins.core import read, write
    from spatialdata_plugins.lazy_containers import UnknownContainerTypeError
    from spatialdata_plugins.lazy_containers._links import write_links

    sdata = SpatialData()
    sdata.attach(ParquetShapesContainer(files.path("cells.parquet"), key="cells"))
    write(sdata, tmp_path / "s.zarr")
    root = zarr.open_group(tmp_path / "s.zarr", mode="a")
    good = sdata.attached["cells"].to_dict()
    write_links(root, {"cells": good, "broken": {"type": "ParquetShapes", "location": "x", "params": {"bad": 1}}})
    zarr.consolidate_metadata(tmp_path / "s.zarr")
    back = read(tmp_path / "s.zarr")
    assert len(back["cells"]) == len(files.polygons)
    with pytest.raises(UnknownContainerTypeError, match="stored link is invalid"):
        back["broken"]
