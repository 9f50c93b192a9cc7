"""Rotations given with limited precision: accepted within ROTATION_ATOL, warned about, inverted exactly.

Oracles: scipy's rotations (exact matrices to round), and ome-zarr-models' reference ``transform_point`` of the same
matrix as an ``affine`` (its ``rotation`` model refuses rounded matrices, its ``affine`` applies them as written).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ome_zarr_models.v06.coordinate_transforms import Affine as ModelsAffine
from scipy.spatial.transform import Rotation as ScipyRotation

from spatialdata_plugins.transforms import (
    ROTATION_ATOL,
    ROTATION_WARN_ATOL,
    Rotation,
    RotationPrecisionWarning,
    TransformationError,
    parse_transformation,
    rotation_deviation,
    simplify,
)

SUITE_MATRIX = [[0.17, -0.985], [0.985, 0.17]]  # the published conformance suite's rotation, three decimals


def _rounded_rotation(seed: int, ndim: int, decimals: int) -> np.ndarray:
    if ndim == 2:
        angle = np.random.default_rng(seed).uniform(0, 2 * np.pi)
        r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    else:
        r = ScipyRotation.random(random_state=seed).as_matrix()
    return np.round(r, decimals)


def _models_affine(r: np.ndarray) -> ModelsAffine:
    return ModelsAffine(affine=tuple((*row, 0.0) for row in r.tolist()))


def test_the_documented_constants():
    assert ROTATION_ATOL == 1e-3
    assert ROTATION_WARN_ATOL == 1e-6


def test_the_suites_matrix_is_accepted_with_a_warning_and_used_as_written():
    with pytest.warns(RotationPrecisionWarning, match=r"field 'rotation' is orthonormal only to 0.000438"):
        t = parse_transformation({"type": "rotation", "rotation": SUITE_MATRIX, "input": "in", "output": "out"})
    points = np.array([[-1.0, -1.0], [1.0, 1.0], [2.0, 2.0], [3.5, -7.25]])
    expected = np.array([_models_affine(np.array(SUITE_MATRIX)).transform_point(tuple(p)) for p in points])
    np.testing.assert_allclose(t.apply(points), expected, rtol=0, atol=1e-15)
    # the suite's expected values for its first three points (conformance.toml of case 'rotation')
    np.testing.assert_allclose(t.apply(points[:3]), [[0.815, -1.155], [-0.815, 1.155], [-1.63, 2.31]], atol=1e-12)


def test_the_inverse_of_a_rounded_rotation_undoes_it():
    with pytest.warns(RotationPrecisionWarning):
        t = Rotation(np.array(SUITE_MATRIX))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inverting warns no second time
        inv = t.inverse()
    expected = np.array(_models_affine(np.array(SUITE_MATRIX)).get_inverse().affine)[:, :2]
    np.testing.assert_allclose(inv.rotation, expected, rtol=1e-14, atol=1e-15)
    points = np.array([[0.815, -1.155], [-1.63, 2.31]])
    # the suite's case 'rotation_inverse' expects [[-1, -1], [2, 2]] within an absolute 1e-6: the transpose
    # (the inverse of an exact rotation) would be 8.75e-4 off
    np.testing.assert_allclose(inv.apply(points), [[-1.0, -1.0], [2.0, 2.0]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(simplify(inv).apply(t.apply(points)), points, atol=1e-12)


def test_exact_rotations_do_not_warn_and_invert_by_transpose():
    r = ScipyRotation.from_euler("zyx", [10, 20, 30], degrees=True).as_matrix()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = Rotation(r)
        assert rotation_deviation(r) < 1e-15
        np.testing.assert_array_equal(t.inverse().rotation, r.T)
    quarter = Rotation(np.array([[0.0, -1.0], [1.0, 0.0]]))
    np.testing.assert_array_equal(quarter.inverse().rotation, [[0.0, 1.0], [-1.0, 0.0]])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ndim=st.sampled_from([2, 3]))
def test_rotations_rounded_to_four_decimals_are_always_accepted(seed, ndim):
    r = _rounded_rotation(seed, ndim, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RotationPrecisionWarning)
        t = Rotation(r)
    p = np.random.default_rng(seed).uniform(-100, 100, (5, ndim))
    expected = np.array([_models_affine(r).transform_point(tuple(q)) for q in p])
    np.testing.assert_allclose(t.apply(p), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.inverse().apply(t.apply(p)), p, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_2d_rotations_rounded_to_three_decimals_are_always_accepted(seed):
    r = _rounded_rotation(seed, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RotationPrecisionWarning)
        Rotation(r)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1.0, 0.1], [0.0, 1.0]], r"field 'rotation' is not orthonormal: it changes lengths by up to 0\.0512"),
        ([[1.01, 0.0], [0.0, 1.01]], r"field 'rotation' is not orthonormal: it changes lengths by up to 0\.01 "),
        ([[2.0, 0.0], [0.0, 0.5]], r"field 'rotation' is not orthonormal"),
        ([[1.0, 0.0], [0.0, -1.0]], r"field 'rotation' must have determinant 1, got -1 \(a reflection\)"),
        ([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], r"field 'rotation' must have determinant 1, got -1"),
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], r"field 'rotation' must be a square N x N matrix"),
        # 45 degrees with two decimals: 0.41 % longer ((2 x 0.71²)^½ = 1.00409)
        ([[0.71, -0.71], [0.71, 0.71]], r"changes lengths by up to 0\.00409 .*more than the tolerance 0\.001"),
    ],
    ids=["shear", "scale-1.01", "scale", "reflection", "axis-swap", "not-square", "two-decimals"],
)
def test_clearly_wrong_matrices_are_refused_naming_the_field(matrix, message):
    with pytest.raises(TransformationError, match=message):
        parse_transformation({"type": "rotation", "rotation": matrix, "name": "r"})


def test_the_tolerances_are_adjustable():
    nearly = np.array([[1.0, 1e-7], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Rotation(nearly)  # 5e-8 off: below ROTATION_WARN_ATOL
    with pytest.raises(TransformationError, match="tolerance 1e-09"):
        Rotation(nearly, atol=1e-9)
    with pytest.warns(RotationPrecisionWarning, match="more than 1e-09"):
        Rotation(nearly, warn_atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Rotation(np.array(SUITE_MATRIX), warn_atol=1e-3)
