"""Smoke test of the density benchmark's core function on tiny data (keeps the script from rotting; not timed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

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


def test_benchmark_runs_and_counts_agree(bench, tmp_path):
    rows = bench.run(n_points=20_000, n_contours=4, n_sub=2_000, repeats=1)
    assert [r["function"] for r in rows] == ["ring_density", "smooth_density_by_distance"]
    assert all(r["same_counts"] for r in rows)
    text = bench.table(rows)
    assert text.startswith("| function |") and "ring_density" in text
    bench.plot(rows, str(tmp_path / "bench.png"))
    assert (tmp_path / "bench.png").stat().st_size > 0


def test_direct_counts_match_ours_on_a_known_case(bench):
    import numpy as np
    import shapely

    x = np.array([0.0, 5.0, 15.0, 25.0])
    y = np.zeros(4)
    counts = bench.direct_counts(x, y, [shapely.box(-10, -10, 10, 10)], np.array([-20.0, -10.0, 0.0, 10.0, 20.0]))
    # signed distances -10 (the centre), -5, +5, +15 in bands [-20, -10), [-10, 0), [0, 10), [10, 20)
    np.testing.assert_array_equal(counts, [[0, 2, 1, 1]])
