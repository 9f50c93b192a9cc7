"""Every plugin with every other, through every write path, on every kind of store.

Rows are what the plugins put into a SpatialData (a lazy link, a points index, a link that is indexed, a fused stitch
image, a density table, an image whose RFC-5 transformations the transforms plugin reads); columns are the write
paths (``write``, ``add_element``, ``SpatialData.write``, ``sdi.write``, ``sdi.transaction``) on the stores they
apply to (a local directory, S3 on the moto server the tests start, a zarr ``MemoryStore``, an icechunk
repository). Each cell writes, reads back through the core (or the icechunk plugin), and checks against an
independent answer: the source data, a brute-force box query of the points, plain spatialdata for rasters.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import spatialdata
import zarr
from spatialdata.models import Image2DModel, PointsModel, ShapesModel
from spatialdata.transformations import Affine, Scale, Sequence, Translation, get_transformation

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import SpatialData, add_element, element_type_of, read, write
from spatialdata_plugins.lazy_containers import ParquetPointsContainer, ParquetShapesContainer
from spatialdata_plugins.points_index import build_points_index, open_points_index

STORES = ["local", "s3", "memory", "icechunk"]
PATHS = ["write", "add_element", "SpatialData.write", "sdi.write", "sdi.transaction"]
ICECHUNK_ONLY = {"sdi.write", "sdi.transaction"}
ROWS = ["lazy_link", "points_index", "indexed_link", "stitch", "density", "rfc5_image"]
BOX = (20.0, 30.0, 70.0, 90.0)


# ------------------------------------------------------------------------------------------------ data


def _points_frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.uniform(0, 100, n).astype("float32"),
            "y": rng.uniform(0, 100, n).astype("float32"),
            "gene": pd.Categorical(rng.choice(["a", "b", "c", "d"], n)),
        }
    )


def _base_sdata() -> SpatialData:
    """What every store holds before the row's elements are added (``add_element`` and transactions need it)."""
    image = Image2DModel.parse(np.arange(2 * 16 * 16, dtype="uint16").reshape(2, 16, 16), dims=("c", "y", "x"))
    return SpatialData(images={"base": image})


@pytest.fixture(scope="module")
def linked_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("linked")
    shapes = gpd.GeoDataFrame({"cell": np.arange(5)}, geometry=gpd.points_from_xy(np.arange(5.0), np.arange(5.0)))
    shapes["radius"] = 1.5
    shapes.to_parquet(root / "cells.parquet")
    _points_frame(seed=1).to_parquet(root / "linked_points.parquet")
    return root


@pytest.fixture(scope="module")
def fused_image():
    pytest.importorskip("multiview_stitcher")
    import dask

    from spatialdata_plugins.stitch import fuse_sdata_images, synthetic_tiles

    tiles, _ = synthetic_tiles(grid=(1, 2), tile_size=48, jitter=0.0, seed=3)
    with dask.config.set(scheduler="threads"):
        fused = fuse_sdata_images(tiles, coordinate_system="global", progress=False)
        return Image2DModel.parse(
            fused.compute().data,
            dims=fused.dims,
            transformations=get_transformation(fused, get_all=True),
        )


@pytest.fixture(scope="module")
def density_table():
    from spatialdata_plugins.density import density_table, ring_density

    rng = np.random.default_rng(5)
    pts = PointsModel.parse(pd.DataFrame({"x": rng.uniform(0, 100, 3000), "y": rng.uniform(0, 100, 3000)}))
    square = ShapesModel.parse(
        gpd.GeoDataFrame(geometry=gpd.GeoSeries.from_wkt(["POLYGON((30 30,70 30,70 70,30 70,30 30))"]))
    )
    sdata = SpatialData(points={"pts": pts}, shapes={"tissue": square})
    result = ring_density(sdata, points="pts", contours="tissue", ring_width=5.0, n_rings_in=2, n_rings_out=2)
    return density_table(result, contours="tissue")


def _rfc5_image():
    image = Image2DModel.parse(np.arange(3 * 8 * 10, dtype="uint8").reshape(3, 8, 10), dims=("c", "y", "x"))
    rotation = Affine(
        np.array([[0.0, -1.0, 5.0], [1.0, 0.0, 2.0], [0.0, 0.0, 1.0]]), input_axes=("x", "y"), output_axes=("x", "y")
    )
    chain = Sequence([Scale([0.5, 2.0], axes=("x", "y")), rotation, Translation([1.0, -3.0], axes=("x", "y"))])
    spatialdata.transformations.set_transformation(
        image, {"global": chain, "microns": Scale([2.0, 2.0], axes=("x", "y"))}, set_all=True
    )
    return image


def _row_content(row: str, linked_files, fused_image, density_table) -> dict:
    """``{name: element or lazy container}`` the row adds, plus ``_index`` (names to index)."""
    if row == "lazy_link":
        return {"linked_cells": ParquetShapesContainer(linked_files / "cells.parquet", key="linked_cells")}
    if row == "points_index":
        return {"transcripts": PointsModel.parse(_points_frame(), feature_key="gene"), "_index": ["transcripts"]}
    if row == "indexed_link":
        return {
            "linked_points": ParquetPointsContainer(linked_files / "linked_points.parquet", key="linked_points"),
            "_index": ["linked_points"],
        }
    if row == "stitch":
        return {"fused": fused_image}
    if row == "density":
        return {"density": density_table}
    if row == "rfc5_image":
        return {"rotated": _rfc5_image()}
    raise AssertionError(row)


# ------------------------------------------------------------------------------------------------ stores


class Store:
    """One store of one kind: how to name it for the core, read it back, and (icechunk) commit to it."""

    def __init__(self, kind: str, tmp_path, s3_bucket=None):
        self.kind = kind
        self.options = None
        if kind == "local":
            self.target = tmp_path / "data.zarr"
        elif kind == "s3":
            self.target = f"{s3_bucket['url']}/data.zarr"
            self.options = s3_bucket["storage_options"]
        elif kind == "memory":
            self.target = zarr.storage.MemoryStore()
        else:
            self.repo = sdi.open_repository(tmp_path / "repo.icechunk", create=True)
            self.target = None

    def core_target(self):
        """What the core's write/add_element take: for icechunk a writable session the test commits."""
        if self.kind == "icechunk":
            self.session = self.repo.writable_session("main")
            return self.session
        return self.target

    def done(self, message: str) -> None:
        if self.kind == "icechunk":
            self.session.commit(message)

    def read(self):
        if self.kind == "icechunk":
            return sdi.read(self.repo)
        return read(self.target, storage_options=self.options)


def _write_base(store: Store) -> None:
    base = _base_sdata()
    if store.kind == "icechunk":
        sdi.write(base, store.repo, message="base")
    else:
        write(base, store.target, storage_options=store.options)


def _put(sdata: SpatialData, name: str, value) -> None:
    if isinstance(value, (ParquetShapesContainer, ParquetPointsContainer)):
        sdata.attach(value, name)
    else:
        getattr(sdata, _type_of(value))[name] = value


def _type_of(value) -> str:
    return element_type_of(value)


def _write_row(path: str, store: Store, content: dict) -> None:
    index = content.get("_index", [])
    items = {k: v for k, v in content.items() if k != "_index"}
    if path in ("write", "SpatialData.write", "sdi.write"):
        sdata = _base_sdata()
        for name, value in items.items():
            _put(sdata, name, value)
        for name in index:
            build_points_index(sdata, name, progress=False)  # not stored yet: marks it, built at the write
        if path == "write":
            write(sdata, store.core_target(), storage_options=store.options)
            store.done("write")
        elif path == "SpatialData.write":
            sdata.write(store.core_target(), storage_options=store.options)
            store.done("SpatialData.write")
        else:
            sdi.write(sdata, store.repo, message="sdi.write")
        return
    _write_base(store)
    if path == "add_element":
        for name, value in items.items():
            if name in index:
                holder = SpatialData()
                _put(holder, name, value)
                build_points_index(holder, name, progress=False)
                value = holder[name] if not isinstance(value, ParquetPointsContainer) else value
                if isinstance(value, ParquetPointsContainer):
                    # a link is added as a link; its index is built on the stored object afterwards
                    add_element(store.core_target(), name, value, storage_options=store.options)
                    store.done("add link")
                    back = store.read()
                    if store.kind == "icechunk":
                        with sdi.transaction(back):
                            build_points_index(back, name, progress=False)
                    else:
                        build_points_index(back, name, progress=False)
                    continue
            add_element(store.core_target(), name, value, storage_options=store.options)
            store.done(f"add {name}")
        return
    assert path == "sdi.transaction"
    sdata = sdi.read(store.repo)
    with sdi.transaction(sdata):
        for name, value in items.items():
            _put(sdata, name, value)
        for name in index:
            build_points_index(sdata, name, progress=False)


# ------------------------------------------------------------------------------------------------ checks


def _brute_force_box(frame: pd.DataFrame) -> pd.DataFrame:
    x0, y0, x1, y1 = BOX
    inside = (frame.x >= x0) & (frame.x < x1) & (frame.y >= y0) & (frame.y < y1)
    return frame[inside].sort_values(["x", "y"]).reset_index(drop=True)


def _check_row(row: str, back: SpatialData, content: dict, linked_files) -> None:
    assert "base" in back.images  # what was stored before is still there
    if row == "lazy_link":
        assert back.is_lazy("linked_cells"), "the link must stay a link"
        expected = gpd.read_parquet(linked_files / "cells.parquet")
        got = back["linked_cells"]
        np.testing.assert_allclose(got.geometry.x.to_numpy(), expected.geometry.x.to_numpy())
    elif row in ("points_index", "indexed_link"):
        name = "transcripts" if row == "points_index" else "linked_points"
        if row == "indexed_link":
            assert back.is_lazy(name), "the indexed link must stay a link"
            frame = pd.read_parquet(linked_files / "linked_points.parquet")
        else:
            frame = _points_frame()
        index = open_points_index(back, name)
        got = index.query(BOX)
        got = pd.DataFrame({"x": np.asarray(got["x"]), "y": np.asarray(got["y"])}).sort_values(["x", "y"])
        expected = _brute_force_box(frame)
        np.testing.assert_array_equal(got["x"].to_numpy(), expected["x"].to_numpy())
        np.testing.assert_array_equal(got["y"].to_numpy(), expected["y"].to_numpy())
    elif row == "stitch":
        np.testing.assert_array_equal(back["fused"].data.compute(), content["fused"].data)
        assert (
            get_transformation(back["fused"], get_all=True).keys()
            == get_transformation(content["fused"], get_all=True).keys()
        )
    elif row == "density":
        table = back["density"]
        np.testing.assert_allclose(np.asarray(table.X), np.asarray(content["density"].X))
        assert list(table.obs_names) == list(content["density"].obs_names)
    elif row == "rfc5_image":
        from spatialdata_plugins.transforms import from_spatialdata

        img = back["rotated"]
        np.testing.assert_array_equal(img.data.compute(), content["rotated"].data)
        for cs in ("global", "microns"):
            want = get_transformation(content["rotated"], cs).to_affine_matrix(("x", "y"), ("x", "y"))
            got = get_transformation(img, cs).to_affine_matrix(("x", "y"), ("x", "y"))
            np.testing.assert_allclose(got, want)
            # the transforms plugin places points where spatialdata's matrix does (its own RFC-5 conversion)
            xy = np.array([[0.0, 0.0], [1.0, 2.0], [9.5, 7.5]])
            rfc5 = from_spatialdata(get_transformation(img, cs), ("x", "y"))
            np.testing.assert_allclose(np.asarray(rfc5.apply(xy)), xy @ want[:2, :2].T + want[:2, 2], atol=1e-12)


CASES = [
    pytest.param(row, path, store, id=f"{row}-{path}-{store}")
    for row in ROWS
    for path in PATHS
    for store in STORES
    if (path in ICECHUNK_ONLY) <= (store == "icechunk")
]


@pytest.mark.parametrize(("row", "path", "store_kind"), CASES)
def test_composition(row, path, store_kind, tmp_path, request, linked_files):
    fused = request.getfixturevalue("fused_image") if row == "stitch" else None
    table = request.getfixturevalue("density_table") if row == "density" else None
    s3 = request.getfixturevalue("s3_bucket") if store_kind == "s3" else None
    store = Store(store_kind, tmp_path, s3)
    content = _row_content(row, linked_files, fused, table)
    _write_row(path, store, content)
    back = store.read()
    _check_row(row, back, content, linked_files)
