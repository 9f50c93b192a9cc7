"""Every built-in container type reads real files, locally and from the S3 test server, into valid elements."""

from __future__ import annotations

import json

import dask.array as da
import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from lazy_containers_testfiles import BUILTIN_CASES
from spatialdata.models import get_table_keys
from spatialdata.transformations import Scale, get_transformation
from xarray import DataArray

from spatialdata_plugins.core import SpatialData
from spatialdata_plugins.lazy_containers import (
    CSVPointsContainer,
    H5ADTableContainer,
    LazyContainer,
    OMETiffImageContainer,
    ParquetPointsContainer,
    ParquetShapesContainer,
    TiffImageContainer,
    get_container_type,
)


def check_element(type_name, element, files):
    """The element holds exactly the file's data, as the right spatialdata element."""
    if type_name in ("ParquetShapes", "GeoJSONShapes"):
        assert isinstance(element, gpd.GeoDataFrame)
        assert len(element) == len(files.polygons)
        expected = files.polygons.geometry.set_axis(element.index).set_crs(element.crs, allow_override=True)
        assert element.geometry.geom_equals(expected).all()
    elif type_name in ("ParquetPoints", "CSVPoints"):
        assert isinstance(element, dd.DataFrame)
        got = element.compute()
        np.testing.assert_allclose(got["x"].to_numpy(), files.points["x_location"].to_numpy())
        np.testing.assert_allclose(got["y"].to_numpy(), files.points["y_location"].to_numpy())
        assert "z" not in got.columns  # only x and y were mapped: 2D points
        assert got["feature_name"].dtype.name == "category"
        assert (got["feature_name"].astype(str).to_numpy() == files.points["feature_name"].to_numpy()).all()
        assert element["feature_name"].cat.known
        assert element.attrs["spatialdata_attrs"]["feature_key"] == "feature_name"
    elif type_name in ("OMETiffImage", "TiffImage"):
        assert isinstance(element, DataArray) and isinstance(element.data, da.Array)
        expected = files.image if type_name == "OMETiffImage" else files.image[:1]
        assert element.dims == ("c", "y", "x") and element.shape == expected.shape
        np.testing.assert_array_equal(element.data.compute(), expected)
        if type_name == "OMETiffImage":
            assert list(element.coords["c"].values) == ["DAPI", "CD3", "CD20"]
    elif type_name == "TiffLabels":
        assert isinstance(element, DataArray) and element.dims == ("y", "x")
        np.testing.assert_array_equal(element.data.compute(), files.labels)
    else:
        assert isinstance(element, AnnData)
        np.testing.assert_array_equal(np.asarray(element.X), files.table.X)
        assert get_table_keys(element) == ("cells", "region", "instance_id")


@pytest.mark.parametrize(("type_name", "file", "kwargs"), BUILTIN_CASES, ids=[c[0] for c in BUILTIN_CASES])
def test_builtin_type_local(files, type_name, file, kwargs):
    container = get_container_type(type_name)(files.path(file), key="el", **kwargs)
    sdata = SpatialData()
    sdata.attach(container)
    assert f"'el': [lazy] {type_name} @ {files.path(file)}" in repr(sdata)
    element = sdata["el"]
    check_element(type_name, element, files)
    assert sdata["el"] is element  # cached
    assert container.loaded and container.fingerprint["size"] > 0
    assert "[loaded]" in repr(container)
    # the JSON link rebuilds an equal container
    again = LazyContainer.from_json(container.to_json())
    assert type(again) is type(container) and again == container


@pytest.mark.s3
@pytest.mark.parametrize(("type_name", "file", "kwargs"), BUILTIN_CASES, ids=[c[0] for c in BUILTIN_CASES])
def test_builtin_type_s3(files, s3_files, type_name, file, kwargs):
    url = f"{s3_files['data']}/{file}"
    container = get_container_type(type_name)(url, key="el", storage_options=s3_files["storage_options"], **kwargs)
    assert container.location == url
    sdata = SpatialData()
    sdata.attach(container)
    check_element(type_name, sdata["el"], files)
    fp = container.fingerprint
    assert fp["size"] > 0 and "mtime" in fp
    # credentials are used but never serialised
    spec = json.loads(container.to_json())
    assert spec["storage_options"]["endpoint_url"] == s3_files["storage_options"]["endpoint_url"]
    assert "key" not in spec["storage_options"] and "secret" not in spec["storage_options"]


def test_key_defaults_to_file_stem_and_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = ParquetShapesContainer("cells.parquet")
    assert c.key == "cells" and c.location == str(tmp_path / "cells.parquet")
    assert ParquetShapesContainer("s3://b/dir/nuclei.parquet").key == "nuclei"
    assert ParquetShapesContainer(f"file://{tmp_path}/a.parquet").location == str(tmp_path / "a.parquet")


def test_transformation_and_coordinate_system(files):
    scale = Scale([0.5, 0.5], axes=("x", "y"))
    c = ParquetShapesContainer(
        files.path("cells.parquet"), key="cells", coordinate_system="microns", transformation=scale
    )
    element = c.load()
    assert get_transformation(element, "microns") == scale
    again = LazyContainer.from_dict(json.loads(c.to_json()))
    assert again.transformation == scale and again.coordinate_system == "microns"
    image = OMETiffImageContainer(files.path("image.ome.tif"), coordinate_system="microns", transformation=scale).load()
    assert get_transformation(image, "microns") == scale


def test_points_with_z_instance_and_default_columns(files, tmp_path):
    c = ParquetPointsContainer(
        files.path("transcripts.parquet"),
        columns={
            "x": "x_location",
            "y": "y_location",
            "z": "z_location",
            "gene": "feature_name",
            "instance": "cell_id",
        },
    )
    points = c.load()
    assert {"x", "y", "z"} <= set(points.columns)
    assert points.attrs["spatialdata_attrs"]["instance_key"] == "cell_id"
    np.testing.assert_allclose(points["z"].compute().to_numpy(), files.points["z_location"].to_numpy())
    # columns already named x and y need no mapping; a tab-separated file needs sep
    renamed = files.points.rename(columns={"x_location": "x", "y_location": "y"})
    renamed.to_csv(tmp_path / "plain.tsv", sep="\t", index=False)
    got = CSVPointsContainer(tmp_path / "plain.tsv", sep="\t").load().compute()
    np.testing.assert_allclose(got["x"].to_numpy(), renamed["x"].to_numpy())
    assert "feature_name" in got.columns and "qv" in got.columns


def test_shapes_circles_with_radius(files):
    from spatialdata_plugins.lazy_containers import ContainerValidationError

    path = files.path("circles.parquet")
    with pytest.raises(ContainerValidationError, match="circles"):
        ParquetShapesContainer(path).load()  # points without a radius are not valid shapes
    assert (ParquetShapesContainer(path, radius="r").load()["radius"] == 2.5).all()
    assert (ParquetShapesContainer(path, radius=4).load()["radius"] == 4.0).all()


def test_h5ad_backed_and_own_annotation(files, tmp_path):
    table = H5ADTableContainer(files.path("table.h5ad"), backed=True).load()
    assert table.isbacked
    from spatialdata.models import TableModel

    annotated = TableModel.parse(files.table.copy(), region="cells", region_key="region", instance_key="instance_id")
    annotated.write_h5ad(tmp_path / "annotated.h5ad")
    got = H5ADTableContainer(tmp_path / "annotated.h5ad").load()
    assert get_table_keys(got) == ("cells", "region", "instance_id")


def test_tiff_pyramid_level_series_and_dims(tmp_path):
    rng = np.random.default_rng(1)
    full = rng.integers(0, 255, (2, 64, 64), dtype=np.uint8)
    with tifffile_writer(tmp_path / "pyramid.ome.tif") as tif:
        options = {"tile": (32, 32), "photometric": "minisblack", "metadata": {"axes": "CYX"}}
        tif.write(full, subifds=1, **options)
        tif.write(full[:, ::2, ::2], subfiletype=1, **options)
    level1 = OMETiffImageContainer(tmp_path / "pyramid.ome.tif", level=1).load()
    assert level1.shape == (2, 32, 32)
    np.testing.assert_array_equal(level1.data.compute(), full[:, ::2, ::2])
    # a volume with a time axis of size 1: T is dropped, Z kept, an image 3D
    volume = rng.integers(0, 255, (1, 4, 32, 32), dtype=np.uint8)
    import tifffile

    tifffile.imwrite(tmp_path / "vol.ome.tif", volume, ome=True, metadata={"axes": "TZYX"})
    element = OMETiffImageContainer(tmp_path / "vol.ome.tif").load()
    assert element.dims == ("c", "z", "y", "x") and element.shape == (1, 4, 32, 32)
    # explicit dims for a file whose axes tifffile cannot name
    tifffile.imwrite(tmp_path / "q.tif", volume[0], metadata=None)
    element = TiffImageContainer(tmp_path / "q.tif", dims=["c", "y", "x"]).load()
    assert element.shape == (4, 32, 32)


def test_ome_tiff_physical_size_becomes_a_scale(tmp_path):
    import tifffile
    from spatialdata.transformations import Identity, Sequence, Translation

    from spatialdata_plugins.core import read
    from spatialdata_plugins.lazy_containers import ContainerLoadError, TiffLabelsContainer

    rng = np.random.default_rng(5)
    meta = {"axes": "CZYX", "PhysicalSizeZ": 2.0, "PhysicalSizeY": 0.25, "PhysicalSizeX": 0.2125}
    tifffile.imwrite(
        tmp_path / "v.ome.tif", rng.integers(0, 255, (3, 4, 20, 30), dtype=np.uint8), ome=True, metadata=meta
    )
    # off by default: pixels, as spatialdata's readers do
    assert isinstance(get_transformation(OMETiffImageContainer(tmp_path / "v.ome.tif").load()), Identity)
    element = OMETiffImageContainer(tmp_path / "v.ome.tif", physical_size=True).load()
    scale = get_transformation(element)
    assert isinstance(scale, Scale) and scale.axes == ("z", "y", "x")
    np.testing.assert_allclose(scale.scale, [2.0, 0.25, 0.2125])
    # applied before the container's own transformation, and kept through a store round trip
    shift = Translation([10.0, 5.0], axes=("x", "y"))
    sdata = SpatialData()
    sdata.attach(OMETiffImageContainer(tmp_path / "v.ome.tif", key="v", physical_size=True, transformation=shift))
    sdata.write(tmp_path / "o.zarr")
    both = get_transformation(read(tmp_path / "o.zarr")["v"])
    assert isinstance(both, Sequence) and isinstance(both.transformations[0], Scale)
    # a pyramid level: the pixel size times the downsampling
    full = rng.integers(0, 255, (64, 64), dtype=np.uint8)
    with tifffile_writer(tmp_path / "p.ome.tif") as tif:
        tif.write(full, subifds=1, tile=(32, 32), metadata={"axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
        tif.write(full[::2, ::2], subfiletype=1, tile=(32, 32))
    level1 = TiffLabelsContainer(tmp_path / "p.ome.tif", level=1, physical_size=True).load()
    np.testing.assert_allclose(get_transformation(level1).scale, [1.0, 1.0])
    # asked for, but the file has no pixel sizes: a clear error
    tifffile.imwrite(tmp_path / "plain.tif", full)
    with pytest.raises(ContainerLoadError, match="PhysicalSize"):
        TiffImageContainer(tmp_path / "plain.tif", physical_size=True).load()


@pytest.mark.parametrize("depth", [3, 6])
def test_plain_tiff_stack_as_labels_is_a_volume(tmp_path, depth):
    """Labels have no channels: the unnamed leading axis of a plain TIFF stack (QYX, or SYX up to 4) is z."""
    import tifffile

    from spatialdata_plugins.lazy_containers import TiffLabelsContainer

    volume = np.random.default_rng(depth).integers(0, 9, (depth, 16, 24), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", volume)
    element = TiffLabelsContainer(tmp_path / "stack.tif").load()
    assert element.dims == ("z", "y", "x")
    np.testing.assert_array_equal(element.data.compute(), volume)


def test_tiff_from_a_writable_fsspec_file(tmp_path):
    """fsspec memory files are writable handles; tifffile's store must still open read-only."""
    import io
    import uuid

    import fsspec
    import tifffile

    buffer = io.BytesIO()
    data = np.arange(2 * 10 * 12, dtype=np.uint16).reshape(2, 10, 12)
    tifffile.imwrite(buffer, data, ome=True, metadata={"axes": "CYX", "Channel": {"Name": ["a", "b"]}})
    path = f"/lazy-{uuid.uuid4().hex}/i.ome.tif"
    fs = fsspec.filesystem("memory")
    fs.pipe(path, buffer.getvalue())
    try:
        element = OMETiffImageContainer(f"memory://{path}").load()
        assert list(element.coords["c"].values) == ["a", "b"]
        np.testing.assert_array_equal(element.data.compute(), data)
    finally:
        fs.rm(path)


def tifffile_writer(path):
    import tifffile

    return tifffile.TiffWriter(path, ome=True)


def test_points_read_lazily(files, monkeypatch):
    from dask.utils import key_split

    from spatialdata_plugins.lazy_containers import _containers

    path = files.path("transcripts.parquet")
    mapping = {"x": "x_location", "y": "y_location"}
    lazy = ParquetPointsContainer(path, columns=mapping, lazy=True).load()
    # no gene column: nothing was computed, the points are a graph of parquet reads
    assert "read_parquet" in {key_split(k) for k in dict(lazy.__dask_graph__())}
    eager = ParquetPointsContainer(path, columns=mapping, lazy=False).load()
    assert "read_parquet" not in {key_split(k) for k in dict(eager.__dask_graph__())}
    pd.testing.assert_frame_equal(lazy.compute(), eager.compute())
    # by default: by file size
    assert not ParquetPointsContainer(path).read_lazily()
    monkeypatch.setattr(_containers, "LAZY_POINTS_BYTES", 10)
    assert ParquetPointsContainer(path).read_lazily()
    with_gene = ParquetPointsContainer(path, columns={**mapping, "gene": "feature_name"}).load()
    assert with_gene["feature_name"].cat.known
    assert list(with_gene["feature_name"].cat.categories) == sorted(files.points["feature_name"].unique())


def test_tiff_chunks_group_tiles():
    from spatialdata_plugins.lazy_containers._containers import _aggregate_chunks

    assert _aggregate_chunks((3, 4096, 4096), (1, 512, 512), 2) == (1, 2048, 2048)
    assert _aggregate_chunks((3, 100, 80), (1, 64, 64), 2) == (1, 100, 80)
    assert _aggregate_chunks((20000, 300), (16, 300), 1) == (20000, 300)  # strips grow along y, up to the height


def test_points_equal_what_points_model_parse_makes(tmp_path):
    # the oracle is spatialdata's own parser on the same frame; its column order (coordinates, feature, the rest)
    # is the file's order here, so the two elements must be identical, task names included (dask checks they are
    # short, readable keys)
    from spatialdata.models import PointsModel
    from spatialdata.testing import assert_elements_are_identical

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"px": rng.uniform(0, 10, 300), "py": rng.uniform(0, 10, 300), "gene": rng.choice(["a", "b", "c"], 300)}
    )
    frame.to_parquet(tmp_path / "p.parquet")
    expected = PointsModel.parse(
        pd.read_parquet(tmp_path / "p.parquet"), coordinates={"x": "px", "y": "py"}, feature_key="gene"
    )
    for lazy in (False, True):
        container = ParquetPointsContainer(
            tmp_path / "p.parquet", columns={"x": "px", "y": "py", "gene": "gene"}, lazy=lazy
        )
        assert_elements_are_identical(container.load(), expected)


def test_points_load_stats_the_target_once(files, monkeypatch):
    # the size that decides between a lazy and an eager read comes from the integrity check's fingerprint: one stat
    # (one HEAD request on an object store) per load, not two
    from spatialdata_plugins.lazy_containers import _base

    calls = []
    real = _base.fingerprint

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(_base, "fingerprint", counting)
    container = ParquetPointsContainer(
        files.path("transcripts.parquet"), columns={"x": "x_location", "y": "y_location"}
    )
    container.load()
    assert len(calls) == 1
    # outside a load the container asks again (the file may have changed since)
    assert not container.read_lazily() and len(calls) == 1  # the fingerprint recorded by the load is used
    container.fingerprint = None
    container.read_lazily()
    assert len(calls) == 2
