"""The ``lazy`` CLI group, its registration through the hook, and the demo step."""

from __future__ import annotations

import json
import os
import shutil

from click.testing import CliRunner

from spatialdata_plugins.core import SpatialData, build_cli, write
from spatialdata_plugins.lazy_containers import ParquetShapesContainer, UnresolvedContainer
from spatialdata_plugins.lazy_containers._cli import lazy
from spatialdata_plugins.lazy_containers._demo import run_demo_step


def test_lazy_group_is_registered_on_the_cli():
    result = CliRunner().invoke(build_cli(), ["lazy", "--help"])
    assert result.exit_code == 0 and "types" in result.output and "list" in result.output


def test_types_command():
    result = CliRunner().invoke(lazy, ["types"])
    assert result.exit_code == 0, result.output
    assert "ParquetShapes" in result.output and "TiffLabels" in result.output
    rows = json.loads(CliRunner().invoke(lazy, ["types", "--json"]).output)
    assert {"name": "H5ADTable", "element_type": "tables"}.items() <= next(
        r for r in rows if r["name"] == "H5ADTable"
    ).items()


def test_list_and_check_command(files, tmp_path):
    shutil.copy(files.path("cells.parquet"), tmp_path / "cells.parquet")
    shutil.copy(files.path("cells.parquet"), tmp_path / "gone.parquet")
    sdata = SpatialData()
    sdata.attach(ParquetShapesContainer(tmp_path / "cells.parquet", key="cells"))
    sdata.attach(ParquetShapesContainer(tmp_path / "gone.parquet", key="gone"))
    sdata.attach(UnresolvedContainer({"type": "Mystery", "location": "/x", "key": "m", "distribution": "mystery-pkg"}))
    write(sdata, tmp_path / "s.zarr")
    os.remove(tmp_path / "gone.parquet")
    files.polygons.iloc[:2].to_parquet(tmp_path / "cells.parquet")
    result = CliRunner().invoke(lazy, ["list", str(tmp_path / "s.zarr"), "--check"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "changed: size" in lines["cells"]
    assert lines["gone"].endswith("missing")
    assert "type not installed (needs mystery-pkg)" in lines["m"]
    rows = json.loads(CliRunner().invoke(lazy, ["list", str(tmp_path / "s.zarr"), "--json"]).output)
    assert [r["name"] for r in rows] == ["cells", "gone", "m"] and "status" not in rows[0]
    missing = CliRunner().invoke(lazy, ["list", str(tmp_path / "nothing.zarr")])
    assert missing.exit_code != 0 and "no SpatialData store" in str(missing.exception)


def test_demo_step(synthetic_sdata, tmp_path):
    lines = []
    run_demo_step(synthetic_sdata, str(tmp_path), lines.append)
    text = "\n".join(lines)
    assert "still lazy: linked_shapes, linked_points" in text, text
    assert "[lazy] ParquetShapes" in text
