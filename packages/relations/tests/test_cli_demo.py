"""The ``relations`` CLI group, its registration through the entry point, and the demo step."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from spatialdata_plugins.core import write
from spatialdata_plugins.relations import _plugin as plugin_module
from spatialdata_plugins.relations import annotate_by_table, get_element_mapping
from spatialdata_plugins.relations._cli import relations_group
from spatialdata_plugins.relations._demo import run_demo_step


@pytest.fixture
def store(sdp_register, sdata, tmp_path):
    sdp_register(plugin_module, name="relations")
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    get_element_mapping(sdata, "nuclei", "cell_table")
    path = tmp_path / "s.zarr"
    write(sdata, path, progress=False)
    return path


def test_list_command(store):
    result = CliRunner().invoke(relations_group, ["list", str(store)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert set(lines) == {"cells--cell_table", "nuclei--cell_table", "cells--table"}
    assert "evaluated" in lines["nuclei--cell_table"] and "legacy" in lines["cells--table"]
    rows = json.loads(CliRunner().invoke(relations_group, ["list", str(store), "--json"]).output)
    assert {r["id"]: r["cardinality"] for r in rows}["cells--cell_table"] == "1:1"


def test_validate_command(store):
    result = CliRunner().invoke(relations_group, ["validate", str(store), "--json"])
    assert result.exit_code == 0, result.output
    issues = json.loads(result.output)
    assert {i["kind"] for i in issues} >= {"orphan-rows"}
    assert not [i for i in issues if i["severity"] == "error"]


def test_validate_command_fails_on_errors(sdp_register, sdata, tmp_path):
    sdp_register(plugin_module, name="relations")
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    sdata.shapes["cells"] = sdata["cells"].drop(columns="cell_id")
    write(sdata, tmp_path / "bad.zarr", progress=False)
    result = CliRunner().invoke(relations_group, ["validate", str(tmp_path / "bad.zarr")])
    assert result.exit_code == 1
    assert "missing-column" in result.output and "element_on='cell_id'" in result.output


def test_relations_group_is_registered_through_the_entry_point(store):
    exe = os.path.join(os.path.dirname(sys.executable), "spatialdata-plugins")
    result = subprocess.run([exe, "relations", "list", str(store)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "nuclei--cell_table" in result.stdout


def test_demo_step(synthetic_sdata, tmp_path, sdp_register):
    sdp_register(plugin_module, name="relations")
    lines: list[str] = []
    run_demo_step(synthetic_sdata, str(tmp_path), lines.append)
    text = "\n".join(lines)
    assert "cells--table (legacy, 1:1)" in text, text
    assert "busiest cell is cell_" in text
    assert "'nuclei--table': 'evaluated'" in text and "validate: 0 errors" in text
