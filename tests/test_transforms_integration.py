"""Integration of the transforms plugin: real entry-point discovery, the core CLI, dask.distributed, the demo."""

from __future__ import annotations

import json
import subprocess
import sys

import dask.array as da
import numpy as np
import pytest
import zarr


def test_entry_point_is_discovered_and_loaded():
    from spatialdata_plugins.core import list_plugins

    info = {p.name: p for p in list_plugins()}["transforms"]
    assert info.loaded, info
    assert {"sdp_read_element", "sdp_register_commands", "sdp_demo"} <= set(info.hooks)


@pytest.fixture
def scene(tmp_path):
    root = zarr.open_group(tmp_path / "scene.zarr", mode="w", zarr_format=3)
    for name, offset in (("a", [0.0, 0.0]), ("b", [100.0, 50.0])):
        g = root.create_group(name)
        g.create_array("s0", shape=(4, 4), dtype="uint8")
        g.attrs["ome"] = {
            "version": "0.6rc0",
            "multiscales": [
                {
                    "coordinateSystems": [{"name": "physical", "axes": [{"name": "y"}, {"name": "x"}]}],
                    "datasets": [
                        {
                            "path": "s0",
                            "coordinateTransformations": [
                                {
                                    "type": "scale",
                                    "scale": [0.5, 0.5],
                                    "input": {"path": "s0"},
                                    "output": {"name": "physical"},
                                }
                            ],
                        }
                    ],
                }
            ],
        }
        del offset
    root.attrs["ome"] = {
        "version": "0.6rc0",
        "scene": {
            "coordinateSystems": [{"name": "world", "axes": [{"name": "y"}, {"name": "x"}]}],
            "coordinateTransformations": [
                {
                    "type": "translation",
                    "translation": [0, 0],
                    "input": {"path": "a", "name": "physical"},
                    "output": {"name": "world"},
                },
                {
                    "type": "translation",
                    "translation": [100, 50],
                    "input": {"path": "b", "name": "physical"},
                    "output": {"name": "world"},
                },
            ],
        },
    }
    return tmp_path / "scene.zarr"


def test_core_cli_runs_the_dingus_through_the_hook(scene):
    code = "import sys; from spatialdata_plugins.core import cli_main; cli_main(sys.argv[1:])"
    out = subprocess.run(
        [sys.executable, "-c", code, "transforms", "dingus", "--verbose", str(scene), "b#physical", "a/s0", "[[0, 0]]"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    # b physical (0, 0) -> world (100, 50) -> a physical (100, 50) -> a array (200, 100)
    assert json.loads(out.stdout) == {"coordinates": [[200.0, 100.0]]}


def test_dask_points_on_a_distributed_cluster(scene):
    from dask.distributed import Client, LocalCluster

    from spatialdata_plugins.transforms import read_scene

    graph = read_scene(scene)
    pts = np.random.default_rng(0).uniform(0, 10, size=(20_000, 2))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            lazy = graph.transform(da.from_array(pts, chunks=(5000, 2)), "b#physical", "a#physical")
            result = client.compute(lazy).result()
    np.testing.assert_allclose(result, pts + np.array([100.0, 50.0]))


def test_demo_step(tmp_path):
    from spatialdata_plugins.core import get_plugin_manager, synthetic_sdata

    sdp_demo = get_plugin_manager().get_plugin("transforms").sdp_demo  # the plugin module as registered

    lines: list[str] = []
    sdp_demo(sdata=synthetic_sdata(seed=0, n_points=100), workdir=str(tmp_path), echo=lines.append)
    assert any("OME-Zarr 0.6rc0 scene" in line for line in lines)
    assert any("collapsed to one affine" in line for line in lines)
