"""Registration and fusion on synthetic tiles with known offsets and perturbed stage positions."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from spatialdata.models import Image2DModel, Labels2DModel, get_model
from spatialdata.transformations import get_transformation

from spatialdata_plugins.stitch import fuse_sdata_images, register_sdata_images, synthetic_tiles


def _translation(transformation, axes=("y", "x")):
    return transformation.to_affine_matrix(axes, axes)[: len(axes), len(axes)]


def _placed(fused, truth, axes=("y", "x")):
    """The fused image's values and the window of the original image it covers (from its transformation)."""
    m = get_transformation(fused, "global").to_affine_matrix(axes, axes)
    start = (m[: len(axes), len(axes)] - truth.origin) / truth.pixel_size
    np.testing.assert_allclose(start, np.round(start), atol=1e-6)
    values = fused.values
    window = tuple(slice(round(s), round(s) + n) for s, n in zip(start, values.shape[-len(axes) :], strict=True))
    return values, window


def test_registration_error_is_at_most_half_a_pixel(tiles):
    sdata, truth = tiles
    before = {n: get_transformation(sdata.images[n], "global") for n in sdata.images}
    refined = register_sdata_images(sdata, "tile_*", channel="DAPI", progress=False)
    stage_errors = [np.abs(truth.stage[n] - truth.offsets[n]).max() for n in refined]
    errors = [np.abs(_translation(t) - truth.offsets[n]).max() for n, t in refined.items()]
    assert max(stage_errors) > 2.0  # the perturbation is real
    assert max(errors) <= 0.5, errors
    # the reference (first) tile stays where it was; the input is not modified
    np.testing.assert_allclose(_translation(refined["tile_0_0"]), truth.stage["tile_0_0"])
    for name in sdata.images:
        assert get_transformation(sdata.images[name], "global") == before[name]


def test_rigid_registration_of_translated_tiles_finds_no_rotation(tiles):
    sdata, truth = tiles
    refined = register_sdata_images(sdata, "tile_*", transform="rigid", registration_passes=1, progress=False)
    for name, t in refined.items():
        m = t.to_affine_matrix(("y", "x"), ("y", "x"))
        np.testing.assert_allclose(m[:2, :2], np.eye(2), atol=5e-3)  # rotation below 0.3 degrees
        assert np.abs(m[:2, 2] - truth.offsets[name]).max() <= 0.75


def test_register_and_fuse_matches_the_original_in_the_overlap(tiles):
    sdata, truth = tiles
    fused = fuse_sdata_images(sdata, "tile_*", register=True, update_transformations=True, progress=False)
    assert isinstance(fused.data, da.Array)  # lazy until asked
    assert get_model(fused) is Image2DModel
    assert list(fused.coords["c"].values) == ["DAPI"]
    values, window = _placed(fused, truth)
    original = truth.image[(slice(None), *window)].astype(float)
    values = values.astype(float)
    # overlap of the four tiles around the grid centre (where blending mixes tiles)
    step = int(truth.offsets["tile_1_1"][0] - truth.offsets["tile_0_0"][0])
    centre = (slice(step - 4, step + 30), slice(step - 4, step + 30))
    diff = np.abs(values[0][centre] - original[0][centre])
    assert np.corrcoef(values[0][centre].ravel(), original[0][centre].ravel())[0, 1] > 0.99
    assert np.median(diff) < 0.02 * np.ptp(original), np.median(diff)
    # update_transformations wrote the refined placement to the tiles
    for name in sdata.images:
        assert np.abs(_translation(get_transformation(sdata.images[name], "global")) - truth.offsets[name]).max() <= 0.5


def test_without_registration_the_stage_positions_are_used(exact_tiles):
    sdata, truth = exact_tiles
    fused = fuse_sdata_images(sdata, ["tile_0_0", "tile_0_1", "tile_1_0", "tile_1_1"], progress=False)
    assert list(fused.coords["c"].values) == ["DAPI", "GFP"]
    values, window = _placed(fused, truth)
    np.testing.assert_allclose(values.astype(float), truth.image[(slice(None), *window)].astype(float), atol=1)


@pytest.mark.parametrize("method", ["max", "average", "weighted_average"])
def test_fusion_methods(exact_tiles, method):
    sdata, truth = exact_tiles
    fused = fuse_sdata_images(sdata, "tile_*", fusion_method=method, progress=False)
    values, window = _placed(fused, truth)
    # exact positions: every method gives back the original
    np.testing.assert_allclose(values.astype(float), truth.image[(slice(None), *window)].astype(float), atol=1)


def test_labels_are_fused_without_new_ids(exact_tiles):
    sdata, truth = exact_tiles
    fused = fuse_sdata_images(sdata, "labels_*", progress=False)
    assert get_model(fused) is Labels2DModel
    assert fused.dtype == np.uint32
    values, window = _placed(fused, truth)
    np.testing.assert_array_equal(values, truth.labels[window])


@pytest.mark.parametrize("dtype", [np.uint32, np.int64, np.uint64])
def test_label_ids_beyond_float32_precision_survive(dtype):
    # multiview-stitcher resamples in float32, which holds integers exactly only up to 2**24
    from spatialdata import SpatialData
    from spatialdata.transformations import Scale, Sequence, Translation

    rng = np.random.default_rng(0)
    labels = np.repeat(np.repeat(rng.integers(2**24, 2**31, size=(12, 12)), 8, axis=0), 8, axis=1).astype(dtype)
    labels[:8, :8] = 0
    if np.dtype(dtype).itemsize == 8:
        labels[-8:, -8:] = 2**40 + 3
    tiles = {}
    for name, (y, x) in {"l0": (0, 0), "l1": (0, 40), "l2": (40, 0), "l3": (40, 40)}.items():
        shift = Translation([3 + y / 2, -2 + x / 2], axes=("y", "x"))
        placement = Sequence([Scale([0.5, 0.5], axes=("y", "x")), shift])
        tiles[name] = Labels2DModel.parse(
            labels[y : y + 56, x : x + 56], dims=("y", "x"), transformations={"global": placement}
        )
    fused = fuse_sdata_images(SpatialData(labels=tiles), "l*", progress=False)
    assert fused.dtype == dtype
    np.testing.assert_array_equal(fused.values, labels)
    np.testing.assert_allclose(_translation(get_transformation(fused, "global")), [3, -2])


def test_labels_at_subpixel_positions_keep_their_ids(tiles):
    sdata, truth = synthetic_tiles(grid=(2, 2), tile_size=64, jitter=2.5, labels=True, seed=5)
    fused = fuse_sdata_images(sdata, "labels_*", output_spacing=0.7, progress=False).values
    assert set(np.unique(fused)) <= set(np.unique(truth.labels))
    assert len(np.unique(fused)) > 10


def test_output_spacing_extent_and_multiscale(exact_tiles):
    sdata, truth = exact_tiles
    fused = fuse_sdata_images(
        sdata,
        "tile_*",
        output_spacing=2.0,
        output_extent={"y": (20.0, 120.0), "x": (10.0, 90.0)},
        multiscale=True,
        progress=False,
    )
    assert isinstance(fused, xr.DataTree)
    assert get_model(fused) is Image2DModel
    level0 = fused["scale0"].ds["image"]
    assert level0.shape == (2, 50, 40)
    m = get_transformation(fused, "global").to_affine_matrix(("y", "x"), ("y", "x"))
    np.testing.assert_allclose(m[:2, :2], 2 * np.eye(2))
    np.testing.assert_allclose(m[:2, 2], [20.0, 10.0])
    # the coarse pixel (i, j) averages original pixels 20 + 2i .. 20 + 2i + 1 (linear interpolation at the centre)
    expected = truth.image[0, 20:120, 10:90].astype(float).reshape(50, 2, 40, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(level0.values[0].astype(float), expected, atol=2)


def test_multiscale_tiles_and_explicit_scale_factors():
    sdata, truth = synthetic_tiles(grid=(2, 2), tile_size=96, jitter=0.0, multiscale=True, seed=4)
    assert isinstance(sdata.images["tile_0_0"], xr.DataTree)
    fused = fuse_sdata_images(sdata, "tile_*", multiscale=[2, 2], progress=False)
    assert list(fused.children) == ["scale0", "scale1", "scale2"]
    values = fused["scale0"].ds["image"]
    _, window = _placed(values, truth)
    np.testing.assert_allclose(values.values.astype(float), truth.image[(slice(None), *window)].astype(float), atol=1)
    # coarse input levels are used when the output is coarse
    coarse = fuse_sdata_images(sdata, "tile_*", output_spacing=2.0, progress=False)
    assert coarse.shape[1] == pytest.approx(values.shape[1] / 2, abs=1)


def test_3d_tiles():
    sdata, truth = synthetic_tiles(grid=(1, 2, 2), tile_size=(16, 48, 48), jitter=0.0, seed=6)
    fused = fuse_sdata_images(sdata, "tile_*", progress=False)
    assert fused.dims == ("c", "z", "y", "x")
    values, window = _placed(fused, truth, axes=("z", "y", "x"))
    np.testing.assert_allclose(values.astype(float), truth.image[(slice(None), *window)].astype(float), atol=1)


def test_3d_pyramid_of_a_thin_stack_keeps_its_planes():
    # a few z planes cannot be halved like the y/x plane (to_multiscale would refuse a factor of 2 on z)
    sdata, truth = synthetic_tiles(grid=(1, 1, 2), tile_size=(3, 160, 140), jitter=0.0, seed=6)
    fused = fuse_sdata_images(sdata, "tile_*", multiscale=True, progress=False)
    shapes = [fused[k].ds["image"].shape for k in fused.children]
    assert len(shapes) >= 2 and all(shape[1] == 3 for shape in shapes), shapes
    assert shapes[1][2:] == (shapes[0][2] // 2, shapes[0][3] // 2)
    values, window = _placed(fused["scale0"].ds["image"], truth, axes=("z", "y", "x"))
    np.testing.assert_allclose(values.astype(float), truth.image[(slice(None), *window)].astype(float), atol=1)


def test_fusion_on_a_distributed_cluster(exact_tiles):
    distributed = pytest.importorskip("distributed")
    sdata, truth = exact_tiles
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        fused = fuse_sdata_images(sdata, "tile_*", compute=True, progress=False)
    # computed: spatialdata's model wraps the in-memory result in a dask array of plain chunks, no fusion tasks left
    assert all(isinstance(v, np.ndarray) for v in fused.data.__dask_graph__().values())
    values, window = _placed(fused, truth)
    np.testing.assert_allclose(values.astype(float), truth.image[(slice(None), *window)].astype(float), atol=1)


@pytest.mark.scale
@pytest.mark.parametrize("grid", [(3, 3), (4, 4)])
def test_registration_error_on_larger_grids(grid):
    sdata, truth = synthetic_tiles(grid=grid, tile_size=256, jitter=4.0, seed=1)
    refined = register_sdata_images(sdata, progress=False)
    errors = [np.abs(_translation(t) - truth.offsets[n]).max() for n, t in refined.items()]
    assert max(errors) <= 0.5, errors
