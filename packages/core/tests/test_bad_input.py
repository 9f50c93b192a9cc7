"""Bad input: clear errors from the project's hierarchy, and nothing on disk changes."""

from __future__ import annotations

import hashlib
import os

import pytest
import spatialdata
import zarr
from spatialdata.testing import assert_spatial_data_objects_are_identical

from spatialdata_plugins.core import (
    ElementNotFoundError,
    ElementWriteError,
    NotSpatialDataError,
    SpatialDataPluginError,
    StoreExistsError,
    StoreNotFoundError,
    UnsafeOverwriteError,
    UnsupportedTargetError,
    hookimpl,
    read,
    read_element,
    synthetic_sdata,
    write,
)


def _tree_digest(path) -> str:
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(os.path.relpath(p, path).encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def _siblings(path) -> list[str]:
    return sorted(os.listdir(os.path.dirname(path)))


def test_missing_path(tmp_path):
    with pytest.raises(StoreNotFoundError, match="nothing exists"):
        read(tmp_path / "nope.zarr")
    assert issubclass(StoreNotFoundError, FileNotFoundError)


def test_unknown_url_scheme():
    with pytest.raises(UnsupportedTargetError, match="unknown URL scheme"):
        read("nosuchscheme://bucket/x.zarr")


def test_unsupported_object():
    with pytest.raises(UnsupportedTargetError, match="cannot open"):
        read(42)


def test_store_that_is_not_spatialdata(tmp_path):
    plain = tmp_path / "plain.zarr"
    g = zarr.open_group(plain, mode="w")
    g.create_array("x", shape=(3,), dtype="i4")
    with pytest.raises(NotSpatialDataError, match="not a SpatialData store"):
        read(plain)
    not_zarr = tmp_path / "dir"
    not_zarr.mkdir()
    (not_zarr / "readme.txt").write_text("hello")
    with pytest.raises(NotSpatialDataError):
        read(not_zarr)


def test_element_that_does_not_exist(tmp_path, synthetic_sdata):
    out = tmp_path / "x.zarr"
    write(synthetic_sdata, out)
    with pytest.raises(ElementNotFoundError, match="no element named 'nope'.*transcripts"):
        read_element(out, "nope")
    sdata = read(out)
    with pytest.raises(ElementNotFoundError, match="nope"):
        sdata["nope"]
    with pytest.raises(KeyError):  # still a KeyError for code written against spatialdata
        sdata["nope"]


def test_write_over_existing_without_overwrite(tmp_path, synthetic_sdata):
    out = tmp_path / "x.zarr"
    write(synthetic_sdata, out)
    before = _tree_digest(out)
    with pytest.raises(StoreExistsError, match="overwrite=True"):
        write(synthetic_sdata, out)
    assert _tree_digest(out) == before
    store = zarr.storage.MemoryStore()
    write(synthetic_sdata, store)
    with pytest.raises(StoreExistsError):
        write(synthetic_sdata, store)


def test_overwrite_replaces(tmp_path, synthetic_sdata):
    out = tmp_path / "x.zarr"
    write(synthetic_sdata, out)
    other = synthetic_sdata.subset(["image", "cells"])
    write(other, out, overwrite=True)
    back = spatialdata.read_zarr(out)
    assert set(back.images) == {"image"} and set(back.shapes) == {"cells"} and not back.points
    assert _siblings(out) == ["x.zarr"], "no staging or backup directory is left behind"


def test_overwrite_store_backing_lazy_data(tmp_path, synthetic_sdata):
    out = tmp_path / "x.zarr"
    write(synthetic_sdata, out)
    before = _tree_digest(out)
    lazy = read(out)
    with pytest.raises(UnsafeOverwriteError, match="lazily loaded"):
        write(lazy, out, overwrite=True)
    # plain spatialdata objects whose dask graphs read from the store are caught too
    plain_lazy = spatialdata.read_zarr(out)
    with pytest.raises(UnsafeOverwriteError):
        write(plain_lazy, out, overwrite=True)
    assert _tree_digest(out) == before
    store = zarr.storage.MemoryStore()
    write(synthetic_sdata, store)
    with pytest.raises(UnsafeOverwriteError):
        write(read(store), store, overwrite=True)


class _FailingWriter:
    """A plugin whose write hook fails on one element, half-way through a write."""

    def __init__(self, fail_on: str) -> None:
        self.fail_on = fail_on
        self.calls: list[str] = []

    @hookimpl
    def sdp_write_element(self, sdata, location, root, element_type, name, element, options):
        self.calls.append(name)
        if name == self.fail_on:
            raise RuntimeError(f"injected failure while writing {name}")


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_failed_overwrite_leaves_previous_store_readable(tmp_path, kind, sdp_register):
    old = synthetic_sdata(seed=1)
    target = tmp_path / "x.zarr" if kind == "local" else zarr.storage.MemoryStore()
    write(old, target)
    before = _tree_digest(target) if kind == "local" else None
    failing = _FailingWriter(fail_on="cells")
    sdp_register(failing, name="failing-writer")
    new = synthetic_sdata(seed=2)
    with pytest.raises(ElementWriteError, match="injected failure.*left as it was|left as it was.*injected"):
        write(new, target, overwrite=True)
    assert "transcripts" in failing.calls, "the failure happened after other elements were written"
    if kind == "local":
        assert _tree_digest(target) == before
        assert _siblings(target) == ["x.zarr"]
    assert_spatial_data_objects_are_identical(old, read(target))


def test_failed_fresh_write_leaves_nothing(tmp_path, sdp_register):
    sdp_register(_FailingWriter(fail_on="table"), name="failing-writer")
    out = tmp_path / "new.zarr"
    with pytest.raises(ElementWriteError, match="was not created"):
        write(synthetic_sdata(), out)
    assert not out.exists()


def test_invalid_element_writes_nothing(tmp_path, synthetic_sdata):
    out = tmp_path / "x.zarr"
    synthetic_sdata.points["transcripts"].attrs.pop("transform")  # break the element
    with pytest.raises(ElementWriteError, match="transcripts"):
        write(synthetic_sdata, out)
    assert not out.exists()


def test_errors_share_one_root():
    for cls in (
        StoreNotFoundError,
        UnsupportedTargetError,
        NotSpatialDataError,
        ElementNotFoundError,
        StoreExistsError,
        UnsafeOverwriteError,
        ElementWriteError,
    ):
        assert issubclass(cls, SpatialDataPluginError)
