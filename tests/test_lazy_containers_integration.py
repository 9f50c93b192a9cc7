"""Integration: lazy links with every installed plugin loaded through the real entry-point registry."""

from __future__ import annotations

import logging

import spatialdata
from click.testing import CliRunner
from spatialdata.testing import assert_elements_are_identical

from spatialdata_plugins.core import SpatialData, build_cli, list_plugins, read, write
from spatialdata_plugins.lazy_containers import ParquetPointsContainer, ParquetShapesContainer


def test_links_round_trip_with_all_plugins(tmp_path, synthetic_sdata):
    assert any(p.name == "lazy-containers" and p.loaded for p in list_plugins())
    cells = synthetic_sdata.shapes["cells"].copy()
    cells.attrs = {}
    cells.to_parquet(tmp_path / "cells.parquet")
    points = synthetic_sdata.points["transcripts"].compute()
    points.attrs = {}
    points.to_parquet(tmp_path / "transcripts.parquet")
    sdata = SpatialData.from_spatialdata(synthetic_sdata)
    sdata.attach(ParquetShapesContainer(tmp_path / "cells.parquet", key="linked_cells"))
    sdata.attach(ParquetPointsContainer(tmp_path / "transcripts.parquet", key="linked_tx", columns={"gene": "gene"}))
    write(sdata, tmp_path / "s.zarr")
    back = read(tmp_path / "s.zarr")
    assert back.is_lazy("linked_cells") and back.is_lazy("linked_tx")
    assert_elements_are_identical(back["linked_cells"], back["cells"])
    assert len(back["linked_tx"].compute()) == len(points)
    logging.getLogger("ome_zarr").setLevel(logging.ERROR)
    plain = spatialdata.read_zarr(tmp_path / "s.zarr")
    assert "linked_cells" not in plain and "cells" in plain
    # the command comes through the sdp_register_commands hook of the real registry
    result = CliRunner().invoke(build_cli(), ["lazy", "list", str(tmp_path / "s.zarr"), "--check"])
    assert result.exit_code == 0, result.output
    assert "linked_cells" in result.output and "ok" in result.output
