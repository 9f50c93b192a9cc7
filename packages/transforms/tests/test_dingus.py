"""The conformance command, run as a real subprocess against hierarchies written to temporary directories."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import zarr

from spatialdata_plugins.transforms.dingus import main


def dingus(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spatialdata_plugins.transforms.dingus", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def scene(tmp_path_factory, load_example, make_image, space):
    """The spec's stitching scene plus a scene-level rotated system and a non-invertible field edge."""
    path = tmp_path_factory.mktemp("dingus") / "scene.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    attrs = load_example("scene/scene_stitching.json")["attributes"]
    scene = attrs["ome"]["scene"]
    scene["coordinateSystems"].append({"name": "rotated", "axes": scene["coordinateSystems"][0]["axes"]})
    scene["coordinateSystems"].append({"name": "warped", "axes": scene["coordinateSystems"][0]["axes"]})
    scene["coordinateTransformations"].append(
        {"type": "rotation", "rotation": [[0, -1], [1, 0]], "input": {"name": "world"}, "output": {"name": "rotated"}}
    )
    scene["coordinateTransformations"].append(
        {
            "type": "displacements",
            "path": "coordinateTransformations/warp",
            "input": {"name": "world"},
            "output": {"name": "warped"},
        }
    )
    root.create_array("coordinateTransformations/warp", shape=(3, 3, 2), dtype="float64")[...] = np.ones((3, 3, 2))
    root.attrs.update(attrs)
    for k in range(4):
        make_image(root, f"tile_{k}", space("physical", "xy"), {"type": "scale", "scale": [2, 3]})
    return str(path)


def test_forward_prints_exactly_the_coordinates(scene):
    out = dingus(scene, "tile_1#physical", "world", "[[1, 2], [3, 4]]")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout) == {"coordinates": [[1.0, 350.0], [3.0, 352.0]]}
    assert out.stdout.strip().startswith('{"coordinates": ')


def test_inverse_multi_hop_and_leading_options(scene):
    out = dingus("--verbose", "-x", "1", scene, "rotated", "tile_2#physical", "[[0, 0]]")
    assert out.returncode == 0, out.stdout + out.stderr
    # rotated (0, 0) -> world (0, 0) -> tile_2 physical (0 - 276, 0 - 0)
    assert json.loads(out.stdout) == {"coordinates": [[-276.0, 0.0]]}
    arrays = dingus(scene, "tile_0/s0", "rotated", "[[1, 1]]")
    # array (1, 1) -> physical (2, 3) -> world (2, 3) -> rotated (-3, 2)
    assert json.loads(arrays.stdout) == {"coordinates": [[-3.0, 2.0]]}


def test_failure_as_a_subprocess(scene):
    out = dingus("--opt", scene, "world", "nowhere", "[[1, 2]]")
    assert out.returncode == 1
    assert "unknown coordinate system 'nowhere'" in json.loads(out.stdout)["message"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("world", "nowhere", "[[1, 2]]"), "unknown coordinate system 'nowhere'"),
        (("physical", "world", "[[1, 2]]"), "ambiguous"),
        (("warped", "world", "[[1, 2]]"), "would have to be inverted"),
        (("world", "rotated", "[[1, 2"), "not valid JSON"),
        (("world", "rotated", "[[1, 2, 3]]"), "have 3 values each but world has 2 axes"),
        (("world", "rotated", '[[1, "a"]]'), "is not a finite number"),
        (("world", "rotated", "{}"), "JSON array of arrays"),
    ],
)
def test_failures_exit_non_zero_with_a_message(scene, args, message, capsys):
    # the same code path as the subprocess, in process to keep the suite fast
    assert main([scene, *args]) == 1
    assert message in json.loads(capsys.readouterr().out)["message"]


def test_not_a_scene(tmp_path, capsys):
    assert main([str(tmp_path / "missing.zarr"), "a", "b", "[[1]]"]) == 1
    assert "message" in json.loads(capsys.readouterr().out)
    assert main(["only", "three", "args"]) != 0
    assert main([str(tmp_path), "a", "b", "[]"]) == 1  # an empty directory is no scene


def test_non_invertible_forward_works_in_process(scene, capsys):
    assert main([scene, "world", "warped", "[[0.5, 0.5]]"]) == 0
    assert json.loads(capsys.readouterr().out) == {"coordinates": [[1.5, 1.5]]}


def test_cli_subcommand(scene):
    """``spatialdata-plugins transforms dingus|graph``, added to a command group by the plugin's hook."""
    import click
    from click.testing import CliRunner

    from spatialdata_plugins.transforms import _plugin

    @click.group()
    def cli() -> None:
        pass

    _plugin.sdp_register_commands(cli)
    runner = CliRunner()
    out = runner.invoke(cli, ["transforms", "dingus", "--flag", scene, "world", "rotated", "[[1, 2]]"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"coordinates": [[-2.0, 1.0]]}
    bad = runner.invoke(cli, ["transforms", "dingus", scene, "world", "nowhere", "[[1, 2]]"])
    assert bad.exit_code == 1 and "nowhere" in json.loads(bad.output)["message"]
    graph = runner.invoke(cli, ["transforms", "graph", scene])
    assert graph.exit_code == 0 and "tile_3#physical" in graph.output and "world -> rotated: rotation" in graph.output
    as_json = runner.invoke(cli, ["transforms", "graph", "--json", scene])
    assert json.loads(as_json.output)["coordinateSystems"][0]["name"] == "rotated"
