"""Every transformation type, forward and inverse, 2D and 3D, against numbers worked by hand from the spec."""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import pytest

from spatialdata_plugins.transforms import (
    Affine,
    Bijection,
    ByDimension,
    ByDimensionItem,
    Identity,
    MapAxis,
    NotInvertibleError,
    Rotation,
    Scale,
    Sequence,
    TransformationError,
    Translation,
    parse_transformation,
)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=0, atol=1e-12)


def test_identity_example(example):
    t = parse_transformation(example("identity.json"))
    assert isinstance(t, Identity)
    close(t.apply([[1, 2]]), [[1, 2]])
    close(t.inverse().apply([[1, 2]]), [[1, 2]])
    assert t.inverse().input.name == "out" and t.inverse().output.name == "in"
    close(Identity().apply([[1, 2, 3]]), [[1, 2, 3]])  # 3D


def test_map_axis_examples(example):
    same = parse_transformation(example("mapAxis1.json", 0))
    perm = parse_transformation(example("mapAxis1.json", 1))
    # (j, i) = (1, 2): "equivalent to identity" gives x = i, y = j; "permutation" gives x = j, y = i
    close(same.apply([[1, 2]]), [[1, 2]])
    close(perm.apply([[1, 2]]), [[2, 1]])
    close(perm.inverse().apply([[2, 1]]), [[1, 2]])
    # 3D: output axis i takes input axis map_axis[i]
    t3 = MapAxis([2, 0, 1])
    close(t3.apply([[10, 20, 30]]), [[30, 10, 20]])
    close(t3.inverse().apply([[30, 10, 20]]), [[10, 20, 30]])


def test_project_axis_examples(example):
    up = parse_transformation(example("projectAxis.json"))
    # (i, j) = (3, 4) -> (c, z, y, x) = (0, 0, 3, 4)
    close(up.apply([[3, 4]]), [[0, 0, 3, 4]])
    close(up.inverse().apply([[0, 0, 3, 4]]), [[3, 4]])  # only creates axes: dropping them inverts it
    both = parse_transformation(example("projectAxis2.json"))
    # (c, i, j) = (5, 3, 4) -> (z, y, x) = (0, 3, 4)
    close(both.apply([[5, 3, 4]]), [[0, 3, 4]])
    with pytest.raises(NotInvertibleError, match="drops input axes"):
        both.inverse()


def test_translation_examples(example):
    t = parse_transformation(example("translation.json"))
    # x = i + 9 ... with (j, i) = (1, 2): y = 1 + 9, x = 2 - 1.42
    close(t.apply([[1, 2]]), [[10, 0.58]])
    close(t.inverse().apply([[10, 0.58]]), [[1, 2]])
    t3 = Translation([1, -2, 0.5])
    close(t3.apply([[0, 0, 0], [1, 1, 1]]), [[1, -2, 0.5], [2, -1, 1.5]])
    close(t3.inverse().apply([[1, -2, 0.5]]), [[0, 0, 0]])


def test_scale_examples(example):
    t = parse_transformation(example("scale.json"))
    # y = 2 * j, x = 3.12 * i
    close(t.apply([[1, 2]]), [[2, 6.24]])
    close(t.inverse().apply([[2, 6.24]]), [[1, 2]])
    discrete = parse_transformation(example("scale_with_discrete.json"))
    close(discrete.apply([[1, 1, 1]]), [[1, 3.12, 2]])  # 3D, the channel factor is 1
    close(discrete.inverse().apply([[1, 3.12, 2]]), [[1, 1, 1]])
    with pytest.raises(NotInvertibleError, match="zero"):
        Scale([1.0, 0.0]).inverse()


def test_affine_examples(example):
    t = parse_transformation(example("affine2d2d.json"))
    # y = 1*j + 2*i + 3, x = 4*j + 5*i + 6 with (j, i) = (1, 2)
    close(t.apply([[1, 2]]), [[8, 20]])
    close(t.inverse().apply([[8, 20]]), [[1, 2]])
    ch = parse_transformation(example("affine2d2d_with_channel.json"))
    # (k, j, i) = (2, 1, 1): c = k, y = j + 2i + 3, x = 4j + 5i + 6
    close(ch.apply([[2, 1, 1]]), [[2, 6, 15]])
    close(ch.inverse().apply([[2, 6, 15]]), [[2, 1, 1]])


def test_affine_2d_to_3d(example):
    # the matrix-transformation rule (translation in the last column) applied to the spec's 2D -> 3D example:
    # (i, j) = (1, 2): z = 1*i + 0*j + 0, y = 2*i + 3*j + 4, x = 5*i + 6*j + 7
    t = parse_transformation(example("affine2d3d.json"))
    assert (t.ndim_in, t.ndim_out) == (2, 3)
    close(t.apply([[1, 2]]), [[1, 12, 24]])
    with pytest.raises(NotInvertibleError, match="2D to 3D"):
        t.inverse()


def test_singular_affine_is_not_invertible():
    with pytest.raises(NotInvertibleError, match="singular"):
        Affine([[1, 2, 0], [2, 4, 0]]).inverse()


def test_rotation_examples(example):
    t = parse_transformation(example("rotation.json"))
    # column vector (j, i) = (1, 2): y = 0*j - 1*i = -2, x = 1*j + 0*i = 1
    close(t.apply([[1, 2]]), [[-2, 1]])
    close(t.inverse().apply([[-2, 1]]), [[1, 2]])
    # 3D: 90 degrees about the last axis
    r3 = Rotation(np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]))
    close(r3.apply([[1, 2, 3]]), [[-2, 1, 3]])
    close(r3.inverse().apply([[-2, 1, 3]]), [[1, 2, 3]])
    c, s = math.cos(0.3), math.sin(0.3)
    r = Rotation(np.array([[c, -s], [s, c]]))
    close(r.apply([[1, 0]]), [[c, s]])


def test_sequence_example(example):
    t = parse_transformation(example("sequence.json"))
    # x = (i + 0.1) * 2, y = (j + 0.9) * 3 in the text; with the parameters' axis order (j, i) = (1, 2):
    # first axis (1 + 0.1) * 2 = 2.2, second axis (2 + 0.9) * 3 = 8.7
    close(t.apply([[1, 2]]), [[2.2, 8.7]])
    close(t.inverse().apply([[2.2, 8.7]]), [[1, 2]])
    t3 = Sequence([Scale([2, 2, 2]), Translation([1, 0, -1]), MapAxis([2, 1, 0])])
    close(t3.apply([[1, 2, 3]]), [[5, 4, 3]])
    close(t3.inverse().apply([[5, 4, 3]]), [[1, 2, 3]])


def test_sequence_with_non_invertible_step():
    t = Sequence([Scale([2, 2]), Affine([[1, 0, 0], [0, 1, 0], [1, 1, 0]])])
    close(t.apply([[1, 2]]), [[2, 4, 6]])
    with pytest.raises(NotInvertibleError, match="a step is not invertible"):
        t.inverse()


def test_by_dimension_examples(example):
    t = parse_transformation(example("byDimension1.json"))
    # (j, i) = (1, 2): y = 2 * j = 2, x = i - 1 = 1
    close(t.apply([[1, 2]]), [[2, 1]])
    close(t.inverse().apply([[2, 1]]), [[1, 2]])
    t2 = parse_transformation(example("byDimension2.json"))
    # (l, j, k, i) = (9, 1, 2, 3): z = 2 * j = 2, y = i + 0.5 = 3.5, x = k + 1.5 = 3.5
    close(t2.apply([[9, 1, 2, 3]]), [[2, 3.5, 3.5]])
    with pytest.raises(NotInvertibleError):
        t2.inverse()  # axis l is lost


def test_by_dimension_3d_permuting():
    t = ByDimension(
        [
            ByDimensionItem(Scale([10.0]), [2], [0]),
            ByDimensionItem(Translation([1.0, 2.0]), [0, 1], [1, 2]),
        ]
    )
    close(t.apply([[1, 2, 3]]), [[30, 2, 4]])
    close(t.inverse().apply([[30, 2, 4]]), [[1, 2, 3]])


def test_bijection_uses_the_given_inverse():
    forward = Affine([[0, 0, 5], [0, 0, 5]])  # constant: not invertible by itself
    inverse = Translation([-1, -1])
    b = Bijection(forward, inverse)
    close(b.apply([[1, 2]]), [[5, 5]])
    close(b.inverse().apply([[5, 5]]), [[4, 4]])
    assert b.inverse().inverse().forward is forward


def test_dask_in_dask_out():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(1000, 3))
    t = Sequence([Scale([1, 2, 3]), Rotation(np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])), Translation([1, 1, 1])])
    lazy = t.apply(da.from_array(pts, chunks=(128, 3)))
    assert isinstance(lazy, da.Array) and lazy.chunks[0] == da.from_array(pts, chunks=(128, 3)).chunks[0]
    close(lazy.compute(), t.apply(pts))
    # several column chunks are merged, the output width follows the transformation
    wide = Affine([[1, 0, 0, 0], [0, 1, 0, 0]]).apply(da.from_array(pts, chunks=(100, 1)))
    assert wide.shape == (1000, 2)
    close(wide.compute(), pts[:, :2])


def test_single_point_and_lists():
    close(Scale([2, 3]).apply([1, 1]), [2, 3])
    out = Translation([1, 1]).apply(np.array([[0, 0]], dtype=np.int32))
    assert out.dtype == np.float64


def test_wrong_point_dimension_is_an_error():
    with pytest.raises(TransformationError, match="expects 2D points"):
        Scale([2, 3]).apply([[1, 2, 3]])
    with pytest.raises(TransformationError, match=r"\(N, D\)"):
        Scale([2, 3]).apply(np.zeros((2, 2, 2)))
