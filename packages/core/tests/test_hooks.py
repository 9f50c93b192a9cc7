"""Each hook, exercised by a real plugin object on a fresh registry."""

from __future__ import annotations

import dask
import pytest
import spatialdata
import zarr
from spatialdata.testing import assert_spatial_data_objects_are_identical

from spatialdata_plugins.core import (
    DaskComputeBackend,
    ElementWriteError,
    Location,
    hookimpl,
    read,
    write,
)
from spatialdata_plugins.core._location import open_zarr_object


class Box:
    """An object only a plugin understands (as an icechunk repository is for the icechunk plugin)."""

    def __init__(self) -> None:
        self.store = zarr.storage.MemoryStore()


def test_sdp_open_store_lets_a_plugin_understand_new_targets(sdp_register, synthetic_sdata):
    class BoxPlugin:
        @hookimpl
        def sdp_open_store(self, target, mode, storage_options):
            if isinstance(target, Box):
                location = open_zarr_object(target.store, mode)
                location.url = "box://"
                return location
            return None

    sdp_register(BoxPlugin(), name="box")
    box = Box()
    location = write(synthetic_sdata, box)
    assert isinstance(location, Location) and location.url == "box://"
    assert_spatial_data_objects_are_identical(synthetic_sdata, read(box))


def test_sdp_read_element_can_take_over_reading(tmp_path, sdp_register, synthetic_sdata):
    class Upper:
        @hookimpl
        def sdp_read_element(self, location, group, element_type, name, options):
            if element_type == "shapes" and name == "cells":
                from spatialdata_plugins.core._elements import read_shapes

                shapes = read_shapes(location, group, name)
                shapes["flag"] = True
                return shapes
            return None

    write(synthetic_sdata, tmp_path / "x.zarr")
    sdp_register(Upper(), name="upper")
    back = read(tmp_path / "x.zarr")
    assert back["cells"]["flag"].all()
    assert "flag" not in back["regions"].columns


def test_sdp_after_write_adds_artefacts_plain_spatialdata_ignores(tmp_path, sdp_register, synthetic_sdata):
    class Artefact:
        @hookimpl
        def sdp_after_write(self, sdata, location, root, options):
            extra = root.require_group("plugins").require_group("artefact")
            extra.attrs["elements"] = sorted(name for _, name, _ in sdata.gen_elements())

    sdp_register(Artefact(), name="artefact")
    out = tmp_path / "x.zarr"
    write(synthetic_sdata, out)
    assert "transcripts" in zarr.open_group(out, mode="r")["plugins/artefact"].attrs["elements"]
    assert_spatial_data_objects_are_identical(synthetic_sdata, spatialdata.read_zarr(out))


def test_sdp_after_write_failure_keeps_previous_store(tmp_path, sdp_register, synthetic_sdata):
    out = tmp_path / "x.zarr"
    write(synthetic_sdata, out)

    class Broken:
        @hookimpl
        def sdp_after_write(self, sdata, location, root, options):
            raise RuntimeError("artefact failed")

    sdp_register(Broken(), name="broken-artefact")
    with pytest.raises(ElementWriteError, match="artefact failed"):
        write(synthetic_sdata.subset(["image"]), out, overwrite=True)
    assert_spatial_data_objects_are_identical(synthetic_sdata, read(out))


def test_sdp_parallel_write_backend_persists_dask_writes(tmp_path, sdp_register, synthetic_sdata):
    class CountingBackend(DaskComputeBackend):
        name = "counting"

        def __init__(self):
            self.calls = 0

        def compute(self, *collections):
            self.calls += 1
            dask.compute(*collections)

    backend = CountingBackend()

    class BackendPlugin:
        @hookimpl
        def sdp_parallel_write_backend(self, location):
            return backend

    sdp_register(BackendPlugin(), name="backend")
    write(synthetic_sdata, tmp_path / "x.zarr")
    assert backend.calls == 1  # the points element
    assert_spatial_data_objects_are_identical(synthetic_sdata, read(tmp_path / "x.zarr"))


def test_write_and_read_on_a_distributed_cluster(tmp_path, synthetic_sdata):
    import distributed  # in the core's test group: this test must run, not skip

    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        write(synthetic_sdata, tmp_path / "x.zarr")
        back = read(tmp_path / "x.zarr")
        assert len(back["transcripts"].compute()) == len(synthetic_sdata["transcripts"].compute())
    assert_spatial_data_objects_are_identical(synthetic_sdata, spatialdata.read_zarr(tmp_path / "x.zarr"))


def test_a_refresh_runs_after_write_for_an_element_left_as_stored(tmp_path, sdp_register, synthetic_sdata):
    """``Update.refreshes``: the loop writes nothing for the name, ``sdp_after_write`` sees it as affected."""
    from spatialdata_plugins.core import SpatialData, Update, apply_update, open_location

    seen = []

    class Recorder:
        @hookimpl
        def sdp_after_write(self, sdata, location, root, options, update):
            seen.append({n: (update.touches(n), update.affects(n)) for n in ("transcripts", "cells")})

    out = tmp_path / "x.zarr"
    write(synthetic_sdata, out)
    parquet = sorted((out / "points" / "transcripts").rglob("*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in parquet]
    sdp_register(Recorder(), name="recorder")
    sdata = read(out)
    sdata.request_write("transcripts", rewrite=False)
    assert sdata.take_requested_writes() == set()
    update = Update(refreshes=sorted(sdata.take_requested_refreshes()))
    apply_update(open_location(out, "r+"), SpatialData.from_spatialdata(sdata), update)
    assert seen == [{"transcripts": (False, True), "cells": (False, False)}]
    assert [p.stat().st_mtime_ns for p in parquet] == stamps  # the element was not written again
    assert_spatial_data_objects_are_identical(synthetic_sdata, spatialdata.read_zarr(out))
