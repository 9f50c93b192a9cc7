"""Smoke test of the points index benchmark: its core function runs on tiny data and checks its own answers."""

from __future__ import annotations

import importlib.util
import os

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_points_index.py")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_points_index", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_on_tiny_data(bench, tmp_path):
    result = bench.run_dataset(20_000, "clustered", repeat=1, workdir=str(tmp_path))
    assert {b["layout"] for b in result["builds"]} >= {"spatialdata write", "ours"}
    ours = [q for q in result["queries"] if q["layout"] == "ours"]
    assert [q["query"] for q in ours] == list(bench.QUERIES)
    assert all(q["ok"] for q in result["queries"] if "full res" not in q["layout"])
    table = bench.markdown([result])
    assert "| Q3 | ours |" in table
    bench.plot([result], str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 0


def test_answer_bytes(bench):
    import pandas as pd

    assert bench.answer_bytes(pd.DataFrame({"x": [], "y": []})) == 0
    frame = bench.make_points(1000, "uniform")
    assert 0 < bench.answer_bytes(frame) < 1000 * 10


@pytest.mark.scale
def test_100m_build_out_of_core_under_4gib(bench, tmp_path):
    """The 100M-point build from parquet runs out of core in a child process with peak RSS under 4 GiB."""
    info = bench.scale_run(100_000_000, str(tmp_path))
    assert sum(info["levels"]) == 100_000_000
    assert info["peak_rss_gib"] < 4.0
