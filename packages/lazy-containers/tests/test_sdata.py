"""Attach, access, cache, detach, materialize, write and read back through the core's SpatialData."""

from __future__ import annotations

import json
import logging

import geopandas as gpd
import pytest
import spatialdata
import zarr
from lazy_containers_testfiles import POINTS_MAPPING

from spatialdata_plugins.core import SpatialData, read, write
from spatialdata_plugins.lazy_containers import (
    LINKS_GROUP,
    OMETiffImageContainer,
    ParquetPointsContainer,
    ParquetShapesContainer,
    read_links,
)


def linked(files):
    sdata = SpatialData()
    sdata.attach(ParquetShapesContainer(files.path("cells.parquet"), key="cells"))
    sdata.attach(ParquetPointsContainer(files.path("transcripts.parquet"), key="tx", columns=POINTS_MAPPING))
    sdata.attach(OMETiffImageContainer(files.path("image.ome.tif"), key="img"))
    return sdata


def test_the_issue_example(files, tmp_path):
    container = ParquetShapesContainer(location=files.path("cells.parquet"), key="cells")
    sdata = SpatialData()
    sdata.attach(container)
    assert f"'cells': [lazy] ParquetShapes @ {files.path('cells.parquet')}" in repr(sdata)
    assert "[lazy]" in repr(container)
    cells = sdata["cells"]
    assert isinstance(cells, gpd.GeoDataFrame) and sdata.shapes["cells"] is cells
    assert "[loaded]" in repr(container) and "[lazy] ParquetShapes" not in repr(sdata)
    sdata.write(tmp_path / "out.zarr")
    # the materialised data is not copied: only the link
    assert not (tmp_path / "out.zarr" / "shapes").exists()
    links = read_links(zarr.open_group(tmp_path / "out.zarr", mode="r"))
    assert links["cells"]["type"] == "ParquetShapes" and links["cells"]["location"] == files.path("cells.parquet")
    back = read(tmp_path / "out.zarr")
    assert back.is_lazy("cells") and isinstance(back.attached["cells"], ParquetShapesContainer)
    assert len(back["cells"]) == len(files.polygons) and not back.is_lazy("cells")


def test_attach_does_no_io(tmp_path):
    sdata = SpatialData()
    for i in range(50):  # none of these files exists: attach must not look
        sdata.attach(ParquetShapesContainer(tmp_path / f"missing{i}.parquet"))
        sdata.attach(ParquetPointsContainer(f"s3://no-such-bucket/p{i}.parquet"))
    assert len(sdata.unresolved_names()) == 100
    assert "missing7" in repr(sdata)


def test_cache_detach_and_materialize(files):
    sdata = linked(files)
    assert all(sdata.is_lazy(n) for n in ("cells", "tx", "img"))
    tx = sdata["tx"]
    assert sdata["tx"] is tx and not sdata.is_lazy("tx")
    assert sdata.materialize("cells", progress=False) == ["cells"]
    assert sdata.materialize(progress=False) == ["img"]
    assert sdata.images["img"].shape == files.image.shape
    container = sdata.detach("img")
    assert isinstance(container, OMETiffImageContainer) and "img" not in sdata and "img" not in sdata.images
    # attaching it again starts lazy again, loading gives the same data
    sdata.attach(container)
    assert sdata.is_lazy("img")


def test_write_keeps_links_lazy_and_plain_spatialdata_reads_the_store(files, tmp_path, synthetic_sdata):
    shapes, points = set(synthetic_sdata.shapes), set(synthetic_sdata.points)
    sdata = SpatialData.from_spatialdata(synthetic_sdata)
    sdata.attach(ParquetShapesContainer(files.path("cells.parquet"), key="linked_cells"))
    sdata.attach(ParquetPointsContainer(files.path("transcripts.parquet"), key="linked_tx", columns=POINTS_MAPPING))
    sdata["linked_tx"]  # accessed: still written as a link
    write(sdata, tmp_path / "mixed.zarr")
    logging.getLogger("ome_zarr").setLevel(logging.ERROR)
    plain = spatialdata.read_zarr(tmp_path / "mixed.zarr")
    assert set(plain.shapes) == shapes  # links ignored, regular elements intact
    assert set(plain.points) == points
    back = read(tmp_path / "mixed.zarr")
    assert back.is_lazy("linked_cells") and back.is_lazy("linked_tx")
    assert not back.is_lazy("cells")
    assert back.attached["linked_tx"].columns == POINTS_MAPPING
    # the fingerprint recorded at first access or at write travels with the link
    assert back.attached["linked_cells"].fingerprint["size"] == (files.root / "cells.parquet").stat().st_size
    assert back["linked_tx"].compute().shape[0] == len(files.points)


def test_write_materialize_copies_the_data(files, tmp_path):
    sdata = linked(files)
    sdata["cells"]
    write(sdata, tmp_path / "copy.zarr", materialize=True)
    plain = spatialdata.read_zarr(tmp_path / "copy.zarr")
    assert set(plain.shapes) == {"cells"} and set(plain.points) == {"tx"} and set(plain.images) == {"img"}
    assert len(plain.points["tx"].compute()) == len(files.points)
    assert LINKS_GROUP not in zarr.open_group(tmp_path / "copy.zarr", mode="r")
    assert read(tmp_path / "copy.zarr").attached == {}
    # the object itself keeps its links
    assert sdata.is_lazy("img")


def test_materialize_without_links_writes_data(files, tmp_path):
    sdata = linked(files)
    sdata.materialize(["cells"], keep_links=False, progress=False)
    write(sdata, tmp_path / "x.zarr")
    back = read(tmp_path / "x.zarr")
    assert not back.is_attached("cells") and len(back.shapes["cells"]) == len(files.polygons)
    assert back.is_lazy("tx") and back.is_lazy("img")


def test_links_on_a_key_value_store_and_on_s3(files, s3_bucket):
    sdata = linked(files)
    memory = zarr.storage.MemoryStore()
    write(sdata, memory)
    assert read(memory).unresolved_names() == ["cells", "tx", "img"]
    url = f"{s3_bucket['url']}/links.zarr"
    write(sdata, url, storage_options=s3_bucket["storage_options"])
    back = read(url, storage_options=s3_bucket["storage_options"])
    assert set(back.unresolved_names()) == {"cells", "tx", "img"}
    assert back["img"].shape == files.image.shape


def test_link_format_is_plain_json(files, tmp_path):
    sdata = linked(files)
    write(sdata, tmp_path / "s.zarr")
    meta = json.loads((tmp_path / "s.zarr" / "spatialdata_plugins" / "lazy_containers" / "zarr.json").read_text())
    links = meta["attributes"]["links"]
    assert meta["attributes"]["format_version"] == 1
    assert links["tx"]["params"]["columns"] == POINTS_MAPPING
    assert links["tx"]["distribution"] == "spatialdata-plugins-lazy-containers"
    assert links["img"]["element_type"] == "images"


def test_rewriting_a_read_store_keeps_links(files, tmp_path):
    sdata = linked(files)
    write(sdata, tmp_path / "a.zarr")
    back = read(tmp_path / "a.zarr")
    back["cells"]
    back.write(overwrite=True)
    again = read(tmp_path / "a.zarr")
    assert set(again.unresolved_names()) == {"cells", "tx", "img"}
    del again["tx"]  # deleting an attached name detaches it
    again.write(tmp_path / "b.zarr")
    assert set(read(tmp_path / "b.zarr").unresolved_names()) == {"cells", "img"}


def test_element_and_link_with_the_same_name(files, tmp_path, synthetic_sdata):
    write(synthetic_sdata, tmp_path / "s.zarr")
    from spatialdata_plugins.lazy_containers._links import write_links

    root = zarr.open_group(tmp_path / "s.zarr", mode="a")
    write_links(root, {"cells": ParquetShapesContainer(files.path("cells.parquet"), key="cells").to_dict()})
    zarr.consolidate_metadata(tmp_path / "s.zarr")
    with pytest.warns(UserWarning, match="link is ignored"):
        back = read(tmp_path / "s.zarr")
    assert not back.is_attached("cells")


def test_read_selection_applies_to_links(files, tmp_path):
    """``read(selection=...)`` attaches only the links whose name or element type was selected."""
    write(linked(files), tmp_path / "linked.zarr")
    everything = read(tmp_path / "linked.zarr")
    assert {"cells", "tx", "img"} <= set(everything.attached)
    only_points = read(tmp_path / "linked.zarr", selection=["points"])
    assert set(only_points.attached) == {"tx"} and only_points.is_lazy("tx")
    by_name = read(tmp_path / "linked.zarr", selection=["img", "cells"])
    assert set(by_name.attached) == {"img", "cells"}
    assert not read(tmp_path / "linked.zarr", selection=["tables"]).attached
