"""``spatialdata-plugins stitch PATH --elements ... --out NAME`` on real stores (local and S3)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import spatialdata
from click.testing import CliRunner
from spatialdata.transformations import get_transformation

import spatialdata_plugins.stitch._plugin as plugin
from spatialdata_plugins.core import build_cli, read, write
from spatialdata_plugins.core import cli_main as main
from spatialdata_plugins.stitch import synthetic_tiles


@pytest.fixture
def store(tmp_path):
    sdata, truth = synthetic_tiles(grid=(2, 2), tile_size=64, jitter=0.0, labels=True, seed=1)
    path = tmp_path / "tiles.zarr"
    write(sdata, path, progress=False)
    return path, truth


@pytest.fixture
def cli(sdp_register):
    sdp_register(plugin, name="stitch")
    return build_cli()


def _run(cli, *args):
    return CliRunner().invoke(cli, ["stitch", *map(str, args), "--no-progress"], catch_exceptions=False)


def _fails(capsys, *args):
    """Run through the real entry point, which prints errors of the hierarchy and exits with status 2."""
    with pytest.raises(SystemExit) as info:
        main(["stitch", *map(str, args), "--no-progress"])
    assert info.value.code == 2
    return capsys.readouterr().err


def test_cli_adds_the_fused_element_and_leaves_the_rest(cli, store):
    path, truth = store
    before = {
        name: np.asarray(el["scale0"]["image"] if hasattr(el, "children") else el)
        for name, el in spatialdata.read_zarr(path).images.items()
    }
    result = _run(cli, path, "-e", "tile_*", "--out", "fused")
    assert result.exit_code == 0, result.output
    assert "fused 4 tiles" in result.output
    plain = spatialdata.read_zarr(path)  # plain spatialdata reads the store, with the new element
    assert set(plain.images) == {*before, "fused"}
    fused = plain.images["fused"]
    level0 = fused["scale0"]["image"]
    m = get_transformation(fused, "global").to_affine_matrix(("y", "x"), ("y", "x"))
    y0, x0 = (m[:2, 2]).astype(int)
    expected = truth.image[:, y0 : y0 + level0.shape[1], x0 : x0 + level0.shape[2]]
    np.testing.assert_allclose(level0.values.astype(float), expected.astype(float), atol=1)
    for name, values in before.items():
        np.testing.assert_array_equal(np.asarray(plain.images[name]), values)
    # labels too, through the core reader
    assert _run(cli, path, "-e", "labels_*", "-o", "fused_labels", "--single-scale").exit_code == 0
    back = read(path)
    assert set(np.unique(back["fused_labels"].values)) <= set(np.unique(truth.labels))


def test_cli_takes_several_names_after_one_elements_option_or_comma_separated(cli, store):
    path, _ = store
    result = _run(cli, path, "--elements", "tile_0_0", "tile_0_1", "--out", "top", "--single-scale")
    assert result.exit_code == 0, result.output
    assert "fused 2 tiles (tile_0_0, tile_0_1)" in result.output
    result = _run(cli, path, "-e", "tile_0_0,tile_1_0", "-o", "left", "--single-scale")
    assert result.exit_code == 0, result.output
    assert "fused 2 tiles (tile_0_0, tile_1_0)" in result.output
    images = read(path).images
    assert images["top"].sizes["x"] > images["tile_0_0"].sizes["x"] == images["top"].sizes["y"]
    assert images["left"].sizes["y"] > images["tile_0_0"].sizes["y"] == images["left"].sizes["x"]


def test_cli_refuses_to_overwrite_unless_asked_and_never_a_tile(cli, store, capsys):
    path, _ = store
    assert _run(cli, path, "-e", "tile_0_0", "-e", "tile_0_1", "-o", "fused", "--single-scale").exit_code == 0
    first = read(path)["fused"].shape
    assert "already exists" in _fails(capsys, path, "-e", "tile_*", "-o", "fused")
    assert _run(cli, path, "-e", "tile_*", "-o", "fused", "--single-scale", "--overwrite").exit_code == 0
    assert read(path)["fused"].shape != first
    assert "computed from it" in _fails(capsys, path, "-e", "tile_*", "-o", "tile_0_0", "--overwrite")
    assert "no image or labels element matched" in _fails(capsys, path, "-e", "fov_*", "-o", "x")
    assert "x" not in read(path)


def test_cli_on_s3(cli, s3_bucket):
    sdata, _ = synthetic_tiles(grid=(1, 2), tile_size=48, jitter=0.0, seed=2)
    url = f"{s3_bucket['url']}/tiles.zarr"
    write(sdata, url, storage_options=s3_bucket["storage_options"], progress=False)
    # -s values that are valid JSON are parsed as JSON (nested client_kwargs, booleans)
    options = [
        x
        for k, v in s3_bucket["storage_options"].items()
        for x in ("-s", f"{k}={v if isinstance(v, str) else json.dumps(v)}")
    ]
    result = CliRunner().invoke(cli, ["stitch", url, "-e", "tile_*", "-o", "fused", "--no-progress", *options])
    assert result.exit_code == 0, result.output
    back = read(url, storage_options=s3_bucket["storage_options"])
    assert {"tile_0_0", "tile_0_1", "fused"} <= set(back.images)
