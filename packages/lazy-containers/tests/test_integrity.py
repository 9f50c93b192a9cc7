"""Integrity: a fingerprint recorded at link time; access warns or raises when the target changed."""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

from spatialdata_plugins.core import SpatialData, read, write
from spatialdata_plugins.lazy_containers import (
    LinkChangedError,
    LinkChangedWarning,
    ParquetShapesContainer,
    ZarrTableContainer,
    set_default_on_change,
)


@pytest.fixture
def cells(files, tmp_path):
    path = tmp_path / "cells.parquet"
    shutil.copy(files.path("cells.parquet"), path)
    return path


def touch_changed(path, files):
    """Rewrite the file with other content (one polygon fewer) and a later mtime."""
    files.polygons.iloc[:-1].to_parquet(path)
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 10))


@pytest.fixture(autouse=True)
def reset_policy():
    yield
    set_default_on_change(None)


def test_warns_by_default_and_loads_the_new_data(cells, files, tmp_path):
    c = ParquetShapesContainer(cells)
    fp = c.pin()
    assert fp["size"] == cells.stat().st_size and fp["mtime"] == pytest.approx(cells.stat().st_mtime)
    touch_changed(cells, files)
    assert c.changes()
    with pytest.warns(LinkChangedWarning, match=r"ParquetShapes container 'cells' @ .*changed since it was linked"):
        assert len(c.load()) == len(files.polygons) - 1


def test_raise_policy_keeps_the_link_lazy(cells, files):
    c = ParquetShapesContainer(cells, on_change="raise")
    c.pin()
    touch_changed(cells, files)
    sdata = SpatialData()
    sdata.attach(c)
    with pytest.raises(LinkChangedError, match="size"):
        sdata["cells"]
    assert sdata.is_lazy("cells")
    c.pin()  # accept the new version
    assert len(sdata["cells"]) == len(files.polygons) - 1


def test_default_policy_from_function_and_environment(cells, files, monkeypatch):
    c = ParquetShapesContainer(cells)
    c.pin()
    touch_changed(cells, files)
    set_default_on_change("raise")
    with pytest.raises(LinkChangedError):
        c.load()
    set_default_on_change(None)
    monkeypatch.setenv("SPATIALDATA_PLUGINS_LAZY_ON_CHANGE", "ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.load()


def test_fingerprint_recorded_at_first_access_or_write_travels_with_the_store(cells, files, tmp_path):
    sdata = SpatialData()
    sdata.attach(ParquetShapesContainer(cells, on_change="raise"))
    assert sdata.attached["cells"].fingerprint is None  # attach does no IO
    write(sdata, tmp_path / "s.zarr")  # the write records it
    touch_changed(cells, files)
    back = read(tmp_path / "s.zarr")
    with pytest.raises(LinkChangedError):
        back["cells"]
    assert back.is_lazy("cells")


def test_checksum_detects_same_size_same_mtime_rewrites(files, tmp_path):
    path = tmp_path / "c.parquet"
    shutil.copy(files.path("cells.parquet"), path)
    c = ParquetShapesContainer(path, integrity="checksum", on_change="raise")
    assert "sha256" in c.pin()
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes, same mtime: only the checksum sees it
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(LinkChangedError, match="sha256"):
        c.load()


def test_checksum_accepts_same_content_with_a_new_mtime(files, tmp_path):
    """With a checksum, the content decides: the same bytes written again (new mtime) are not a change."""
    path = tmp_path / "c.parquet"
    shutil.copy(files.path("cells.parquet"), path)
    c = ParquetShapesContainer(path, integrity="checksum", on_change="raise")
    c.pin()
    path.write_bytes(path.read_bytes())
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 100))
    assert c.changes() == []
    assert len(c.load()) == len(files.polygons)


def test_integrity_none_does_no_check(cells, files):
    c = ParquetShapesContainer(cells, integrity="none", on_change="raise")
    c.load()
    assert c.fingerprint is None
    touch_changed(cells, files)
    c.load()


def test_directory_targets_are_fingerprinted(files, tmp_path):
    shutil.copytree(files.path("table.zarr"), tmp_path / "t.zarr")
    c = ZarrTableContainer(tmp_path / "t.zarr", on_change="raise")
    fp = c.pin()
    assert fp["files"] > 3
    files.table[:5].write_zarr(tmp_path / "t.zarr")
    with pytest.raises(LinkChangedError):
        c.load()


def test_s3_fingerprint_has_etag(files, s3_files):
    import s3fs

    url = f"{s3_files['data']}/cells.parquet"
    c = ParquetShapesContainer(url, storage_options=s3_files["storage_options"], on_change="raise")
    assert c.pin()["etag"]
    fs = s3fs.S3FileSystem(**s3_files["storage_options"])
    fs.put(files.path("circles.parquet"), url)
    with pytest.raises(LinkChangedError):
        c.load()
