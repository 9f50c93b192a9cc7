"""The benchmark's core function runs on tiny data (so it cannot rot); no timing is asserted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_stitch.py"


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks/ is not part of an installed package")
def test_benchmark_runs_on_tiny_tiles():
    spec = importlib.util.spec_from_file_location("bench_stitch", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run([(1, 2)], tile_size=64, jitter=2.0, repeats=1)
    assert rows[0]["tiles"] == 2
    assert rows[0]["registration_error_px"] < rows[0]["stage_error_px"]  # tiny tiles: only a sanity check
    assert "| 2 | 64 |" in bench.table(rows)
