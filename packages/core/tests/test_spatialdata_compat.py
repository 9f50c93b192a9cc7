"""``read``/``write`` as drop-ins for spatialdata's ``read_zarr``/``SpatialData.write`` (issue 14), on local, S3 and
in-memory stores: never data that is not in the store, refusals where spatialdata refuses, spatialdata's keywords.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import spatialdata
import zarr
from spatialdata.models import Image2DModel
from spatialdata.testing import assert_spatial_data_objects_are_identical
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.errors import ArrayNotFoundError, GroupNotFoundError
from zarr.storage import FsspecStore, LocalStore, MemoryStore

from spatialdata_plugins.core import (
    ElementReadError,
    InvalidArgumentError,
    NotAStoreError,
    SpatialData,
    StaleMetadataError,
    StoreExistsError,
    UnsafeOverwriteError,
    read,
    write,
)

KINDS = ["local", "s3", "memory"]


@dataclass
class Target:
    """Where a test writes (``target``, ``storage_options``) and raw access to its keys (to damage a store)."""

    target: Any
    storage_options: dict[str, Any] | None
    raw: Any  # a zarr store over the same keys

    def get(self, key: str) -> bytes | None:
        buf = sync(self.raw.get(key, prototype=default_buffer_prototype()))
        return None if buf is None else buf.to_bytes()

    def put(self, key: str, data: bytes) -> None:
        sync(self.raw.set(key, default_buffer_prototype().buffer.from_bytes(data)))

    def delete(self, key: str) -> None:
        sync(self.raw.delete(key))

    def keys(self, prefix: str = "") -> list[str]:
        async def collect() -> list[str]:
            return [k async for k in self.raw.list_prefix(prefix)]

        return sorted(sync(collect()))

    def read(self, **kwargs: Any) -> SpatialData:
        return read(self.target, storage_options=self.storage_options, **kwargs)

    def write(self, sdata: spatialdata.SpatialData, **kwargs: Any) -> Any:
        return write(sdata, self.target, storage_options=self.storage_options, **kwargs)


@pytest.fixture(params=KINDS)
def store(request, tmp_path) -> Target:
    if request.param == "local":
        path = tmp_path / "data.zarr"
        path.mkdir()
        return Target(path, None, LocalStore(path))
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        url = f"{bucket['url']}/data.zarr"
        raw = FsspecStore.from_url(url, storage_options={**bucket["storage_options"], "asynchronous": True})
        return Target(url, bucket["storage_options"], raw)
    memory = MemoryStore()
    return Target(memory, None, memory)


def _image(values: float = 1.0, name_channels: tuple[str, ...] = ("r", "g", "b")) -> Any:
    data = np.full((3, 64, 64), values, dtype=np.float32)
    return Image2DModel.parse(data, dims=("c", "y", "x"), c_coords=list(name_channels))


def _sdata() -> spatialdata.SpatialData:
    from spatialdata_plugins.core import synthetic_sdata

    sdata = synthetic_sdata(seed=0)
    sdata.images["img"] = _image()
    return sdata


def _array_keys(store: Target, element: str) -> list[str]:
    return [k for k in store.keys(element + "/") if "/s0/" in k or k.endswith("/s0")]


# ------------------------------------------------------------------------------------------------ reading


def test_element_metadata_is_read_from_the_element_not_consolidated(store):
    store.write(_sdata())
    key = "images/img/zarr.json"
    meta = json.loads(store.get(key))
    meta["attributes"]["ome"]["omero"]["channels"] = [{"label": c} for c in ("first", "second", "third")]
    store.put(key, json.dumps(meta).encode())  # as spatialdata's write_channel_names does: no reconsolidation
    assert json.loads(store.get("zarr.json"))["consolidated_metadata"] is not None
    assert list(store.read()["img"].coords["c"].values) == ["first", "second", "third"]


def test_missing_array_raises_naming_the_element_instead_of_zeros(store):
    store.write(_sdata())
    for key in _array_keys(store, "images/img"):  # metadata and chunks gone; consolidated metadata still lists it
        store.delete(key)
    assert "images/img/s0" in json.dumps(json.loads(store.get("zarr.json"))["consolidated_metadata"])
    with pytest.raises(ElementReadError, match="images/img") as info:
        store.read()
    assert isinstance(info.value, ArrayNotFoundError)  # what spatialdata raises
    with pytest.warns(UserWarning, match="images/img: ArrayNotFoundError"):
        sdata = store.read(on_bad_files="warn")
    assert "img" not in sdata and "cells" in sdata and "transcripts" in sdata


def test_corrupt_array_metadata_raises_naming_the_element(store):
    store.write(_sdata())
    store.put("images/img/s0/zarr.json", b"")
    with pytest.raises(ElementReadError, match="images/img"):
        store.read()
    with pytest.warns(UserWarning, match="images/img"):
        assert "img" not in store.read(on_bad_files="warn")


def test_corrupt_points_parquet_raises_naming_the_element(store):
    sdata = _sdata()
    store.write(sdata)
    name = next(iter(sdata.points))
    parts = [k for k in store.keys(f"points/{name}/") if not k.endswith("zarr.json")]
    assert parts
    for key in parts:
        store.put(key, b"not parquet at all")
    with pytest.raises(ElementReadError, match=f"points/{name}"):
        store.read()
    with pytest.warns(UserWarning, match=f"points/{name}"):
        rest = store.read(on_bad_files="warn")
    assert name not in rest and "img" in rest


def test_consolidated_metadata_missing_an_element_points_to_reconsolidation(store):
    store.write(_sdata())
    meta = json.loads(store.get("zarr.json"))
    del meta["consolidated_metadata"]["metadata"]["images/img"]
    store.put("zarr.json", json.dumps(meta).encode())
    with pytest.raises(StaleMetadataError, match="[Rr]econsolidate") as info:
        store.read()
    assert isinstance(info.value, GroupNotFoundError)  # what spatialdata raises


def test_on_bad_files_is_checked(store):
    store.write(_sdata())
    with pytest.raises(ValueError, match="on_bad_files"):
        store.read(on_bad_files="ignore")
    with pytest.raises(TypeError):
        store.read(selectoin=["images"])


# ------------------------------------------------------------------------------------------------ writing


def test_overwrite_refuses_what_is_not_a_store_and_leaves_it(store):
    store.put("notes.txt", b"my notes")
    with pytest.raises(NotAStoreError, match="not be a Zarr store") as info:
        store.write(_sdata(), overwrite=True)
    assert isinstance(info.value, ValueError)
    assert store.keys() == ["notes.txt"] and store.get("notes.txt") == b"my notes"


def test_overwrite_refuses_a_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(NotAStoreError):
        write(_sdata(), notes, overwrite=True)
    assert notes.read_text() == "my notes"


def test_overwrite_replaces_a_store_and_writes_into_an_empty_directory(store):
    store.write(_sdata())  # into an empty directory (local) / prefix / store
    with pytest.raises(StoreExistsError, match="already exists") as info:
        store.write(_sdata())
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileExistsError)
    sdata = _sdata()
    sdata.images["img"] = _image(2.0)
    store.write(sdata, overwrite=True)
    assert float(store.read()["img"].data.max().compute()) == 2.0


@pytest.mark.parametrize("bad", ["", "has whitespace", "a/b", "."])
def test_invalid_element_names_are_refused_before_writing(store, bad):
    sdata = _sdata()
    sdata.images.data[bad] = _image()  # past spatialdata's own check at assignment
    with pytest.raises(InvalidArgumentError, match="Name (must|cannot)") as info:
        store.write(sdata)
    assert isinstance(info.value, ValueError)
    assert store.keys() == []


@pytest.mark.parametrize(
    ("compressor", "error", "match"),
    [
        ({"faulty": 8}, ValueError, "Compression must either"),
        ({"zstd": 10}, ValueError, "Compression must either|level"),
        ({"zstd": 5, "lz4": 5}, ValueError, "single"),
        ("zstd", TypeError, "Expected a dictionary"),
    ],
)
def test_raster_compressor_is_validated(store, compressor, error, match):
    with pytest.raises(error, match=match):
        store.write(_sdata(), raster_compressor=compressor)
    assert store.keys() == []


def test_raster_compressor_is_honoured(store):
    store.write(_sdata(), raster_compressor={"zstd": 7})
    codecs = json.loads(store.get("images/img/s0/zarr.json"))["codecs"]
    assert any(c["name"] == "zstd" and c["configuration"]["level"] == 7 for c in codecs)


def test_unknown_keywords_raise_type_error(store):
    with pytest.raises(TypeError, match="overwirte"):
        store.write(_sdata(), overwirte=True)
    assert store.keys() == []


def test_plugin_write_options_are_accepted(tmp_path, sdp_register):
    from spatialdata_plugins.core import hookimpl

    seen = {}

    class Plugin:
        @hookimpl
        def sdp_write_options(self):
            return ["my_option"]

        @hookimpl
        def sdp_after_write(self, sdata, location, root, options, update):
            seen["my_option"] = options.get("my_option")

    assert sdp_register(Plugin(), name="with-option").loaded
    write(_sdata(), tmp_path / "a.zarr", my_option=3)
    assert seen == {"my_option": 3}
    with pytest.raises(TypeError, match="my_optoin"):
        write(_sdata(), tmp_path / "b.zarr", my_optoin=3)


def test_unsafe_overwrite_is_a_value_error(tmp_path):
    write(_sdata(), tmp_path / "a.zarr")
    lazy = read(tmp_path / "a.zarr")
    with pytest.raises(UnsafeOverwriteError, match="backing elements") as info:
        write(lazy, tmp_path / "a.zarr", overwrite=True)
    assert isinstance(info.value, ValueError)


def test_update_sdata_path(tmp_path):
    sdata = _sdata()
    write(sdata, tmp_path / "a.zarr")
    write(sdata, tmp_path / "b.zarr", update_sdata_path=False)
    assert sdata.path == tmp_path / "a.zarr"
    write(sdata, tmp_path / "c.zarr")
    assert sdata.path == tmp_path / "c.zarr"


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_older_sdata_formats_are_written_and_read_by_spatialdata(kind, tmp_path, request):
    from spatialdata._io.format import SpatialDataContainerFormatV01

    sdata = _sdata()
    if kind == "local":
        target, options = tmp_path / "v01.zarr", None
    else:
        bucket = request.getfixturevalue("s3_bucket")
        target, options = f"{bucket['url']}/v01.zarr", bucket["storage_options"]
    write(sdata, target, storage_options=options, sdata_formats=SpatialDataContainerFormatV01())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "SpatialData is not stored in the most current format")
        ours = read(target, storage_options=options)
        if kind == "local":
            assert (tmp_path / "v01.zarr" / ".zgroup").exists()  # zarr v2
            assert_spatial_data_objects_are_identical(spatialdata.read_zarr(target), ours)
    assert_spatial_data_objects_are_identical(sdata, ours)


def test_sdata_formats_are_checked(store):
    with pytest.raises(ValueError, match="sdata_formats"):
        store.write(_sdata(), sdata_formats="v1")


# -------------------------------------------------------------------- spatialdata's incremental IO on what we read


def test_backing_files_are_per_element_and_spatialdata_safety_checks_hold(tmp_path):
    from spatialdata._io._utils import get_dask_backing_files

    path = tmp_path / "a.zarr"
    write(_sdata(), path)
    sdata = read(path)
    assert sdata.is_self_contained()
    assert get_dask_backing_files(sdata["img"]) == [str((path / "images" / "img").resolve())]
    with pytest.raises(ValueError, match="backing"):
        sdata.delete_element_from_disk("img")  # still in use
    assert float(sdata["img"].data.max().compute()) == 1.0


def test_spatialdata_incremental_writes_are_seen_by_read(tmp_path):
    from spatialdata.transformations import Scale, get_transformation, set_transformation

    path = tmp_path / "a.zarr"
    write(_sdata(), path)
    sdata = read(path)
    set_transformation(sdata["img"], Scale([2.0, 2.0], axes=("x", "y")), to_coordinate_system="global")
    sdata.write_transformations("img")
    sdata.set_channel_names("img", ["first", "second", "third"], write=True)
    again = read(path)
    assert isinstance(get_transformation(again["img"]), Scale)
    assert list(again["img"].coords["c"].values) == ["first", "second", "third"]
    # info describes the element from its own metadata too (spatialdata's incremental write did not reconsolidate)
    from spatialdata_plugins.core import info

    set_transformation(sdata["img"], Scale([3.0, 3.0], axes=("x", "y")), to_coordinate_system="aligned")
    sdata.write_transformations("img")
    (img,) = [e for e in info(path)["elements"] if e["name"] == "img"]
    theirs = get_transformation(spatialdata.read_zarr(path)["img"], get_all=True)
    assert sorted(img["coordinate_systems"]) == sorted(theirs) == ["aligned", "global"]
    new = SpatialData(images={"other": _image(3.0)})
    sdata.images["other"] = new["other"]
    sdata.write_element("other")
    assert float(read(path)["other"].data.max().compute()) == 3.0


def test_read_matches_spatialdata_on_a_damaged_local_store(tmp_path):
    """Plain spatialdata is the oracle: it raises, and so do we, with an error of the same class."""
    path = tmp_path / "a.zarr"
    write(_sdata(), path)
    for p in sorted((path / "images" / "img" / "s0").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    (path / "images" / "img" / "s0").rmdir()
    with pytest.raises(Exception) as theirs:
        spatialdata.read_zarr(path)
    with pytest.raises(type(theirs.value)):
        read(path)


def test_write_into_existing_empty_group_of_memory_store():
    store = MemoryStore()
    zarr.open_group(store=store, mode="w")
    write(_sdata(), store)
    assert "img" in read(store)


def test_element_read_error_for_a_missing_element_directory(tmp_path):
    path = tmp_path / "a.zarr"
    write(_sdata(), path)
    import shutil

    shutil.rmtree(path / "images" / "img")  # consolidated metadata still lists it
    with pytest.raises(ElementReadError, match="images/img") as info:
        read(path)
    assert isinstance(info.value, OSError)
    assert Path(path / "images").exists()


def test_add_element_into_a_zarr_v2_store_keeps_its_format(tmp_path):
    from spatialdata._io.format import SpatialDataContainerFormatV01

    from spatialdata_plugins.core import add_element

    path = tmp_path / "v01.zarr"
    write(_sdata(), path, sdata_formats=SpatialDataContainerFormatV01())
    add_element(path, "added", _image(4.0))
    assert (path / "images" / "added" / ".zattrs").exists()  # zarr v2, as the rest of the store
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "SpatialData is not stored in the most current format")
        assert float(spatialdata.read_zarr(path)["added"].data.max().compute()) == 4.0
        assert float(read(path)["added"].data.max().compute()) == 4.0


@pytest.mark.parametrize("bad", ["", "a/b", "has whitespace"])
def test_add_element_checks_the_name(store, bad):
    from spatialdata_plugins.core import add_element

    store.write(_sdata())
    before = store.keys()
    with pytest.raises(InvalidArgumentError, match="Name (must|cannot)"):
        add_element(store.target, bad, _image(), storage_options=store.storage_options)
    assert store.keys() == before


def test_an_empty_spatialdata_reads_back_empty(store):
    store.write(SpatialData())
    sdata = store.read()
    assert list(sdata.gen_elements()) == []
