"""The SpatialData <-> multiview-stitcher bridge: affines, pixel centres, placement of the fused element."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spatialdata import SpatialData
from spatialdata.models import Image2DModel
from spatialdata.transformations import Affine, get_transformation

from spatialdata_plugins.stitch import fuse_sdata_images, synthetic_tiles
from spatialdata_plugins.stitch._bridge import (
    Tile,
    matrix_to_transformation,
    spacing_origin_affine,
    world_matrix_from_physical,
)

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)
positive = st.floats(min_value=1e-2, max_value=1e2)


def _matrix(scale, translation, angle):
    c, s = np.cos(angle), np.sin(angle)
    m = np.eye(3)
    m[:2, :2] = np.array([[c, -s], [s, c]]) @ np.diag(scale)
    m[:2, 2] = translation
    return m


def test_axis_aligned_tile_keeps_spacing_and_origin_at_the_pixel_centre():
    m = _matrix([0.5, 2.0], [10.0, -3.0], 0.0)
    spacing, origin, affine = spacing_origin_affine(m)
    np.testing.assert_allclose(spacing, [0.5, 2.0])
    # pixel 0's centre is at intrinsic 0.5: world = 0.5 * scale + translation
    np.testing.assert_allclose(origin, [10.25, -2.0])
    np.testing.assert_allclose(affine, np.eye(3))


@settings(max_examples=60, deadline=None)
@given(st.tuples(positive, positive), st.tuples(finite, finite), st.floats(min_value=-np.pi, max_value=np.pi))
def test_bridge_round_trip_of_any_similarity(scale, translation, angle):
    m = _matrix(scale, translation, angle)
    spacing, origin, affine = spacing_origin_affine(m)
    tile = Tile("t", "images", ("y", "x"), None, [(None, m)], np.dtype("uint8"))
    np.testing.assert_allclose(world_matrix_from_physical(tile, affine), m, atol=1e-9 * (1 + np.abs(m).max()))
    # every pixel centre lands where spatialdata puts it
    i = np.array([3.0, 7.0])
    sd = m @ np.r_[i + 0.5, 1]
    mvs = affine @ np.r_[origin + spacing * i, 1]
    np.testing.assert_allclose(mvs, sd, atol=1e-6 * (1 + np.abs(sd).max()))


def test_matrix_to_transformation_is_scale_translation_when_axis_aligned():
    t = matrix_to_transformation(_matrix([2.0, 3.0], [1.0, 4.0], 0.0), ("y", "x"))
    assert [type(x).__name__ for x in t.transformations] == ["Scale", "Translation"]
    assert isinstance(matrix_to_transformation(_matrix([1.0, 1.0], [0, 0], 0.3), ("y", "x")), Affine)


@pytest.mark.parametrize(("pixel_size", "origin"), [(1.0, 0.0), (0.5, 100.0)])
def test_fused_image_is_the_original_without_half_pixel_shift(pixel_size, origin):
    sdata, truth = synthetic_tiles(grid=(2, 2), tile_size=64, jitter=0.0, pixel_size=pixel_size, origin=origin, seed=2)
    fused = fuse_sdata_images(sdata, "tile_*", progress=False)
    m = get_transformation(fused, "global").to_affine_matrix(("y", "x"), ("y", "x"))
    np.testing.assert_allclose(np.diag(m)[:2], [pixel_size, pixel_size])
    start = (m[:2, 2] - origin) / pixel_size
    np.testing.assert_allclose(start, truth.offsets["tile_0_0"], atol=1e-9)
    y0, x0 = truth.offsets["tile_0_0"].astype(int)
    values = fused.values[0]
    expected = truth.image[0, y0 : y0 + values.shape[0], x0 : x0 + values.shape[1]]
    # integer positions: resampling reproduces the pixels (up to float32 blending rounding of 1 grey level), while
    # a half-pixel shift would change them by thousands on this texture
    np.testing.assert_allclose(values.astype(float), expected.astype(float), atol=1)


def test_rotated_tile_is_placed_by_its_affine():
    rng = np.random.default_rng(0)
    data = rng.integers(0, 1000, size=(1, 20, 30)).astype(np.uint16)
    # rotate by 90 degrees: intrinsic (y, x) -> world (x, -y) shifted so it stays positive
    rot = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 20.0], [0.0, 0.0, 1.0]])
    image = Image2DModel.parse(
        data,
        dims=("c", "y", "x"),
        transformations={"global": Affine(rot, input_axes=("y", "x"), output_axes=("y", "x"))},
    )
    fused = fuse_sdata_images(SpatialData(images={"a": image}), ["a"], interpolation_order=0, progress=False)
    assert fused.shape == (1, 30, 20)
    m = get_transformation(fused, "global").to_affine_matrix(("y", "x"), ("y", "x"))
    np.testing.assert_allclose(m, np.eye(3), atol=1e-9)
    np.testing.assert_array_equal(fused.values[0], np.rot90(data[0], k=-1))  # fused[Y, X] = data[19 - X, Y]
