"""Hypothesis properties: inverse of forward is the identity, simplify gives the same points, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation as ScipyRotation

from spatialdata_plugins.transforms import (
    Affine,
    ByDimension,
    ByDimensionItem,
    Identity,
    MapAxis,
    Rotation,
    Scale,
    Sequence,
    Transformation,
    Translation,
    parse_transformation,
    simplify,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
nonzero = st.floats(0.1, 10, allow_nan=False).flatmap(lambda v: st.sampled_from([v, -v]))


@st.composite
def linear_step(draw, ndim: int) -> Transformation:
    kind = draw(st.sampled_from(["identity", "mapAxis", "translation", "scale", "affine", "rotation"]))
    if kind == "identity":
        return Identity()
    if kind == "mapAxis":
        return MapAxis(draw(st.permutations(list(range(ndim)))))
    if kind == "translation":
        return Translation(draw(st.lists(finite, min_size=ndim, max_size=ndim)))
    if kind == "scale":
        return Scale(draw(st.lists(nonzero, min_size=ndim, max_size=ndim)))
    if kind == "rotation":
        seed = draw(st.integers(0, 2**32 - 1))
        if ndim == 2:
            angle = np.random.default_rng(seed).uniform(0, 2 * np.pi)
            return Rotation(np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]))
        return Rotation(ScipyRotation.random(random_state=seed).as_matrix())
    # a well-conditioned affine: rotation times positive scales plus an offset
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(ndim, ndim)))
    linear = q @ np.diag(rng.uniform(0.5, 2.0, size=ndim))
    return Affine(np.hstack([linear, rng.uniform(-10, 10, size=(ndim, 1))]))


@st.composite
def transformation(draw, ndim: int, depth: int = 2) -> Transformation:
    if depth == 0:
        return draw(linear_step(ndim))
    kind = draw(st.sampled_from(["step", "sequence", "byDimension"]))
    if kind == "step":
        return draw(linear_step(ndim))
    if kind == "sequence":
        return Sequence(draw(st.lists(transformation(ndim, depth - 1), min_size=1, max_size=5)))
    # byDimension: split a permutation of the axes into two groups, each with a 1D or 2D child
    axes = draw(st.permutations(list(range(ndim))))
    cut = draw(st.integers(1, ndim - 1))
    out = draw(st.permutations(list(range(ndim))))
    items = []
    for ins, outs in ((axes[:cut], out[:cut]), (axes[cut:], out[cut:])):
        items.append(ByDimensionItem(draw(transformation(len(ins), 0)) if len(ins) > 1 else draw(_one_d()), ins, outs))
    return ByDimension(items)


@st.composite
def _one_d(draw) -> Transformation:
    return draw(st.sampled_from([Scale([draw(nonzero)]), Translation([draw(finite)]), Identity()]))


points = st.integers(2, 3).flatmap(
    lambda ndim: st.tuples(
        st.just(ndim),
        st.lists(st.lists(finite, min_size=ndim, max_size=ndim), min_size=1, max_size=20),
    )
)


@SETTINGS
@given(data=st.data(), pts=points)
def test_inverse_of_forward_is_identity(data, pts):
    ndim, coords = pts
    t = data.draw(transformation(ndim))
    x = np.asarray(coords)
    y = t.apply(x)
    np.testing.assert_allclose(t.inverse().apply(y), x, atol=1e-6 * (1 + np.abs(x).max() + np.abs(y).max()))


@SETTINGS
@given(data=st.data(), pts=points)
def test_simplify_gives_the_same_points_with_one_matrix(data, pts):
    ndim, coords = pts
    t = data.draw(transformation(ndim))
    x = np.asarray(coords)
    flat = simplify(t, ndim)
    assert isinstance(flat, Affine)
    y = t.apply(x)
    np.testing.assert_allclose(flat.apply(x), y, atol=1e-9 * (1 + np.abs(y).max()))


@SETTINGS
@given(data=st.data(), ndim=st.integers(2, 3))
def test_json_round_trip_is_lossless(data, ndim):
    t = data.draw(transformation(ndim))
    text = json.dumps(t.to_dict())
    back = parse_transformation(text)
    assert back.to_dict() == t.to_dict()
    assert json.dumps(back.to_dict()) == text
    x = np.arange(ndim * 4, dtype=float).reshape(4, ndim)
    np.testing.assert_array_equal(back.apply(x), t.apply(x))  # floats survive JSON exactly
