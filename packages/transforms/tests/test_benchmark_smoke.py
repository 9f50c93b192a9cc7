"""The benchmark's core function on tiny data, so that it cannot rot (no timing assertions)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_transforms.py"


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks/ is not part of this checkout")
def test_benchmark_runs_on_tiny_data():
    spec = importlib.util.spec_from_file_location("bench_transforms", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.run_benchmark(n_points=3000, rounds=1, progress=False)
    table = module.format_table(rows, 3000)
    assert "| affine | transforms (one matrix) | numpy | 1 thread |" in table
    assert {r["impl"] for r in rows} >= {"transformnd", "spatialdata.transformations", "transforms (step by step)"}
    assert {r["threads"] for r in rows if r["impl"] == "transformnd"} >= {"1 thread"}
    targets = module.targets(rows, 3000)
    assert len(targets) == 4 and all(isinstance(t["met"], bool) for t in targets)
