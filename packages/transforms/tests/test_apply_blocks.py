"""The one-pass application of affines, rotations, scales and translations, against independent formulas.

Oracles: exact rational arithmetic (``fractions``) on every coordinate, numpy's straightforward
``x @ A[:, :-1].T + A[:, -1]``, ``transformnd`` and ``spatialdata.transform``. The documented tolerance of an affine is
the rounding of a length-``N`` dot product plus one addition: ``|computed - exact| <= gamma * (|A| @ |x, 1|)`` with
``gamma = (N + 1) u / (1 - (N + 1) u)``, ``u = 2**-53``, so two correct results differ by at most twice that.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation as ScipyRotation

from spatialdata_plugins.transforms import (
    Affine,
    ByDimension,
    ByDimensionItem,
    MapAxis,
    Rotation,
    Scale,
    Sequence,
    TransformationError,
    Translation,
    _blocks,
    simplify,
    to_spatialdata,
)

U = 2.0**-53
DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint16]


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 rows, tasks of 3 blocks and threads from 10 rows, so that small inputs cross every boundary."""
    monkeypatch.setattr(_blocks, "BLOCK_ROWS", 7)
    monkeypatch.setattr(_blocks, "TASK_ROWS", 21)
    monkeypatch.setattr(_blocks, "PARALLEL_ROWS", 10)


def gamma(n: int) -> float:
    return n * U / (1 - n * U)


def exact_affine(matrix: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``matrix @ [x, 1]`` for every row, computed exactly with fractions and rounded once to float64."""
    a = [[Fraction(float(v)) for v in row] for row in matrix]
    out = np.empty((x.shape[0], matrix.shape[0]))
    for i, row in enumerate(x.astype(np.float64)):
        p = [Fraction(float(v)) for v in row] + [Fraction(1)]
        for j, coefficients in enumerate(a):
            out[i, j] = float(sum(c * v for c, v in zip(coefficients, p, strict=True)))
    return out


def assert_within_dot_rounding(got: np.ndarray, expected: np.ndarray, matrix: np.ndarray, x: np.ndarray, k=1.0):
    """``|got - expected| <= k * gamma(N + 1) * (|A| @ |x, 1|)`` element by element (plus one ulp of the result)."""
    xh = np.hstack([np.abs(x.astype(np.float64)), np.ones((x.shape[0], 1))])
    bound = k * gamma(matrix.shape[1]) * (xh @ np.abs(matrix).T) + np.spacing(np.abs(expected))
    assert got.shape == expected.shape
    np.testing.assert_array_less(np.abs(got - expected), bound + np.finfo(np.float64).tiny)


def random_affine(rng, m: int, n: int) -> np.ndarray:
    return np.hstack([rng.normal(size=(m, n)) * 10.0 ** rng.integers(-3, 4, size=(m, n)), rng.normal(size=(m, 1))])


def layouts(x: np.ndarray) -> dict[str, np.ndarray]:
    """The same points C-ordered, Fortran-ordered, as a strided row view and with reversed columns put back."""
    wide = np.repeat(x, 2, axis=0)
    return {
        "C": np.ascontiguousarray(x),
        "F": np.asfortranarray(x),
        "rows strided": wide[::2],
        "columns reversed": np.ascontiguousarray(x[:, ::-1])[:, ::-1],
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "rows strided", "columns reversed"])
@pytest.mark.parametrize("threads", [1, 3])
def test_affine_matches_exact_arithmetic_any_dtype_and_layout(small_blocks, dtype, layout, threads):
    rng = np.random.default_rng(0)
    matrix = random_affine(rng, 3, 3)
    x = layouts((rng.uniform(-1000, 1000, size=(50, 3))).astype(dtype))[layout]
    got = Affine(matrix).apply(x, threads=threads)
    assert got.dtype == np.float64 and got.flags.c_contiguous and got.shape == (50, 3)
    assert_within_dot_rounding(got, exact_affine(matrix, x), matrix, x)
    # numpy's straightforward formula (x is converted exactly: every dtype here fits in float64)
    assert_within_dot_rounding(got, x.astype(np.float64) @ matrix[:, :-1].T + matrix[:, -1], matrix, x, k=2.0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.integers(0, 60),
    n=st.integers(1, 5),
    m=st.integers(1, 5),
    dtype=st.sampled_from([np.float64, np.float32]),
    layout=st.sampled_from(["C", "F", "rows strided"]),
    threads=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_affine_property(small_blocks, rows, n, m, dtype, layout, threads, seed):
    rng = np.random.default_rng(seed)
    matrix = random_affine(rng, m, n)
    x = layouts((rng.normal(size=(rows, n)) * 10.0 ** rng.integers(-6, 7, size=(rows, n))).astype(dtype))[layout]
    got = Affine(matrix).apply(x, threads=threads)
    assert got.shape == (rows, m) and got.dtype == np.float64
    assert_within_dot_rounding(got, exact_affine(matrix, x), matrix, x)


def test_affine_large_input_on_threads_matches_numpy_formula():
    """The default block sizes and several threads on 600,000 points (float64 and float32)."""
    rng = np.random.default_rng(1)
    matrix = random_affine(rng, 3, 3)
    x = rng.uniform(0, 10_000, size=(600_000, 3))
    for points in (x, x.astype(np.float32), np.asfortranarray(x)):
        got = Affine(matrix).apply(points, threads=2)
        expected = points.astype(np.float64) @ matrix[:, :-1].T + matrix[:, -1]
        assert_within_dot_rounding(got, expected, matrix, points, k=2.0)
        sample = rng.integers(0, len(x), 200)
        assert_within_dot_rounding(got[sample], exact_affine(matrix, points[sample]), matrix, points[sample])


def test_input_is_left_alone_and_not_returned(small_blocks):
    x = np.random.default_rng(2).normal(size=(40, 3))
    before = x.copy()
    for t in (Affine(np.eye(3, 4)), Scale([1.0, 1.0, 1.0]), Translation([0.0, 0.0, 0.0]), Rotation(np.eye(3))):
        out = t.apply(x, threads=2)
        np.testing.assert_array_equal(out, before)
        assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "rows strided"])
def test_scale_and_translation_are_exactly_the_elementwise_operations(small_blocks, dtype, layout):
    rng = np.random.default_rng(3)
    x = layouts(rng.uniform(-500, 500, size=(45, 3)).astype(dtype))[layout]
    s, t = rng.normal(size=3), rng.normal(size=3)
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(Scale(s).apply(x, threads=2), x64 * s)
    np.testing.assert_array_equal(Translation(t).apply(x, threads=2), x64 + t)


def test_rotation_matches_exact_arithmetic(small_blocks):
    rng = np.random.default_rng(4)
    r = ScipyRotation.random(random_state=4).as_matrix()
    x = rng.uniform(-1e4, 1e4, size=(50, 3)).astype(np.float32)
    got = Rotation(r).apply(x, threads=3)
    matrix = np.hstack([r, np.zeros((3, 1))])
    assert_within_dot_rounding(got, exact_affine(matrix, x), matrix, x)


def test_non_finite_points_give_what_the_formula_gives(small_blocks):
    rng = np.random.default_rng(5)
    matrix = random_affine(rng, 3, 3)
    x = rng.normal(size=(30, 3))
    x[3, 1], x[11, 0], x[20, 2] = np.nan, np.inf, -np.inf
    with np.errstate(invalid="ignore"):  # inf * 0 in the product, as in the formula; honoured by the worker threads
        got = Affine(matrix).apply(x, threads=2)
        expected = x @ matrix[:, :-1].T + matrix[:, -1]
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        Affine(matrix).apply(x, threads=2)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12)
    # a scale keeps the other coordinates of a point with an infinity (no 0 * inf from a matrix product)
    np.testing.assert_array_equal(Scale([2.0, 3.0, 4.0]).apply(x, threads=2), x * [2.0, 3.0, 4.0])


def test_non_square_affines(small_blocks):
    rng = np.random.default_rng(6)
    for m, n in ((2, 3), (3, 2), (1, 4), (4, 1)):
        matrix = random_affine(rng, m, n)
        x = rng.normal(size=(33, n)).astype(np.float32)
        assert_within_dot_rounding(Affine(matrix).apply(x, threads=2), exact_affine(matrix, x), matrix, x)


def test_empty_and_single_points():
    matrix = np.array([[0.0, -1.0, 10.0], [1.0, 0.0, 0.0]])
    assert Affine(matrix).apply(np.empty((0, 2), dtype=np.float32)).shape == (0, 2)
    np.testing.assert_array_equal(Affine(matrix).apply(np.array([1, 2], dtype=np.int32)), [8.0, 1.0])
    np.testing.assert_array_equal(Scale([2.0, 3.0]).apply([[1, 2]]), [[2.0, 6.0]])


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_threads_is_a_clear_error(threads):
    with pytest.raises(TransformationError, match="threads must be a positive integer"):
        Affine(np.eye(2, 3)).apply(np.zeros((3, 2)), threads=threads)


def test_threads_are_used_only_when_asked_and_large_enough(monkeypatch):
    started = []

    class Recording(_blocks.ThreadPoolExecutor):
        def __init__(self, workers, **kwargs):
            started.append(workers)
            super().__init__(workers, **kwargs)

    monkeypatch.setattr(_blocks, "ThreadPoolExecutor", Recording)
    monkeypatch.setattr(_blocks, "PARALLEL_ROWS", 100)
    x = np.ones((200, 3))
    Affine(np.eye(3, 4)).apply(x, threads=1)
    Affine(np.eye(3, 4)).apply(x[:50], threads=3)
    assert started == []
    Affine(np.eye(3, 4)).apply(x, threads=3)
    assert started == [3]


def test_dask_chunks_run_on_one_thread_each_and_match_numpy(small_blocks, monkeypatch):
    rng = np.random.default_rng(7)
    matrix = random_affine(rng, 3, 3)
    x = rng.uniform(0, 100, size=(100, 3)).astype(np.float32)
    lazy = da.from_array(x, chunks=(30, 2))

    def no_threads(*args, **kwargs):
        raise AssertionError("a dask chunk started its own threads")

    monkeypatch.setattr(_blocks, "ThreadPoolExecutor", no_threads)
    with dask.config.set(scheduler="threads"):
        got = Affine(matrix).apply(lazy).compute()
    assert got.dtype == np.float64
    assert_within_dot_rounding(got, exact_affine(matrix, x), matrix, x)


def test_thread_limit_is_per_context():
    """A limit set in one thread does not leak into another (dask workers, user thread pools)."""
    seen = {}

    def probe(name):
        seen[name] = _blocks._THREADS.get()

    with _blocks.thread_limit(1):
        other = threading.Thread(target=probe, args=("other",))
        other.start()
        other.join()
        probe("inside")
    probe("after")
    assert seen == {"other": None, "inside": 1, "after": None}


def test_collapsed_sequence_and_by_dimension_match_transformnd():
    """Random affines, a 5-step sequence and a byDimension, collapsed, against transformnd's own types."""
    import transformnd.transforms as tt
    from transformnd import TransformSequence

    rng = np.random.default_rng(8)
    x = rng.uniform(0, 10_000, size=(300_000, 3))
    rot = ScipyRotation.random(random_state=8).as_matrix()
    s, t1, t2 = rng.uniform(0.5, 2, 3), rng.uniform(-100, 100, 3), rng.uniform(-100, 100, 3)
    sequence = Sequence([Scale(s), Translation(t1), Rotation(rot), MapAxis([2, 0, 1]), Translation(t2)])
    theirs = TransformSequence(
        [
            tt.Scale(s),
            tt.Translate(t1),
            tt.Affine(np.vstack([np.hstack([rot, np.zeros((3, 1))]), [0, 0, 0, 1]])),
            tt.MapAxis([2, 0, 1]),
            tt.Translate(t2),
        ]
    )
    flat = simplify(sequence)
    assert isinstance(flat, Affine)
    np.testing.assert_allclose(flat.apply(x, threads=2), theirs.apply(x), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(sequence.apply(x), theirs.apply(x), rtol=1e-12, atol=1e-9)

    angle = rng.uniform(0, 2 * np.pi)
    rot2 = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    by_dim = ByDimension([ByDimensionItem(Scale([2.5]), [0], [0]), ByDimensionItem(Rotation(rot2), [1, 2], [2, 1])])
    theirs = tt.ByDimension(
        [
            tt.SubTransform(tt.Scale([2.5]), [0], [0]),
            tt.SubTransform(tt.Affine(np.vstack([np.hstack([rot2, np.zeros((2, 1))]), [0, 0, 1]])), [1, 2], [2, 1]),
        ]
    )
    np.testing.assert_allclose(simplify(by_dim).apply(x.astype(np.float32)), theirs.apply(x.astype(np.float32)))

    for seed in range(5):
        matrix = random_affine(np.random.default_rng(seed), 3, 3)
        np.testing.assert_allclose(
            Affine(matrix).apply(x, threads=2),
            tt.Affine(np.vstack([matrix, [0, 0, 0, 1]])).apply(x),
            rtol=1e-12,
            atol=1e-9,
        )


def test_affine_matches_spatialdata_transform():
    """The same affine through ``spatialdata.transform`` of a 3D points element."""
    import dask.dataframe as dd
    import pandas as pd
    from spatialdata import transform
    from spatialdata.models import PointsModel
    from spatialdata.transformations import set_transformation

    rng = np.random.default_rng(9)
    matrix = random_affine(rng, 3, 3)
    x = rng.uniform(0, 1000, size=(5000, 3))  # columns z, y, x
    element = PointsModel.parse(dd.from_pandas(pd.DataFrame(x[:, ::-1], columns=["x", "y", "z"]), npartitions=3))
    set_transformation(element, to_spatialdata(Affine(matrix), ("z", "y", "x")), "target")
    theirs = transform(element, to_coordinate_system="target")[["z", "y", "x"]].compute().to_numpy()
    np.testing.assert_allclose(Affine(matrix).apply(x), theirs, rtol=1e-12, atol=1e-9)
