"""Smoke test of the density benchmark on tiny data (keeps the script from rotting; nothing timed is asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_density.py"


@pytest.fixture
def bench():
    spec = importlib.util.spec_from_file_location("bench_density", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_density"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_density", None)


def test_benchmark_runs_and_values_agree(bench, tmp_path):
    rows = bench.run_case(n_points=20_000, n_contours=4, n_sub=2_000, rounds=1)
    assert [r["function"] for r in rows] == ["ring_density", "smooth_density_by_distance"]
    assert all(r["same_as_pruned"] and r["same_as_direct_on_subsample"] for r in rows)
    assert rows[0]["check_pruned"]["count"]["differing"] == 0
    text = bench.table(rows)
    assert text.startswith("| function |") and "ring_density" in text
    targets = bench.targets(rows)
    assert len(targets) == 2 and all(isinstance(t["met"], bool) for t in targets)
    bench.plot(rows, str(tmp_path / "bench.png"))
    assert (tmp_path / "bench.png").stat().st_size > 0


def test_direct_counts_on_a_known_case(bench):
    import shapely

    x = np.array([0.0, 5.0, 15.0, 25.0])
    y = np.zeros(4)
    counts = bench.direct_counts(x, y, [shapely.box(-10, -10, 10, 10)], np.array([-20.0, -10.0, 0.0, 10.0, 20.0]))
    # signed distances -10 (the centre), -5, +5, +15 in bands [-20, -10), [-10, 0), [0, 10), [10, 20)
    np.testing.assert_array_equal(counts, [[0, 2, 1, 1]])


def test_pruned_counts_on_a_known_case(bench):
    import shapely

    x = np.array([0.0, 5.0, 15.0, 25.0, 500.0])
    y = np.zeros(5)
    codes = np.array([0, 1, 0, 1, 0])
    counts = bench.pruned_counts(
        x, y, codes, 2, [shapely.box(-10, -10, 10, 10)], np.array([-20.0, -10.0, 0.0, 10.0, 20.0])
    )
    # gene 0: -10 and +5; gene 1: -5 and +15; the far point is pruned
    np.testing.assert_array_equal(counts, [[[0, 1, 1, 0], [0, 1, 0, 1]]])


def test_compare_sees_a_difference(bench):
    a = {"count": np.array([[1, 2]]), "area": np.array([1.0, 2.0])}
    assert bench.compare(a, a, exact=("count",), close=("area",))["same"]
    b = {"count": np.array([[1, 3]]), "area": np.array([1.0, 2.0 + 1e-6])}
    report = bench.compare(a, b, exact=("count",), close=("area",))
    assert not report["same"] and report["count"]["differing"] == 1 and report["area"]["differing"] == 1
