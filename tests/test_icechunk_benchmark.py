"""Smoke test of the icechunk benchmark's functions on tiny data (so the script cannot rot); no timing asserted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("spatialdata_plugins.icechunk")

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_icechunk.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_icechunk", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_functions_on_tiny_data(tmp_path):
    bench = _load()
    sdata = bench.blobs_sdata(length=64, n_points=100, n_shapes=5)
    assert bench.write_plain(sdata, tmp_path) > 0
    seconds, forks = bench.write_transaction(sdata, tmp_path, parallel="fork")
    assert seconds > 0 and forks >= 2  # image and labels went through fork/merge
    image = bench.dask_image(gib=0.001, chunk=64)
    assert image.dtype == "float32" and image.shape[0] == 2
    text = bench.table(
        {"plain": 1.0, "icechunk": 1.2, "runs": 3},
        {"nbytes": 2**30, "shape": (2, 1, 1), "plain": 2.0, "icechunk": 4.0, "forks": 1, "runs": 3},
    )
    assert "| 1.20x | <= 1.5x | yes |" in text and "0.25 GiB/s" in text


def test_benchmark_points_on_tiny_data(tmp_path):
    bench = _load()
    points = bench.dask_points(rows=3_000, npartitions=3)
    assert points.npartitions == 3 and len(points) == 3_000 and points["gene"].cat.known
    from spatialdata_plugins.core import SpatialData

    sdata = SpatialData(points={"transcripts": points})
    assert bench.write_transaction(sdata, tmp_path, parallel="direct")[1] == 0
    seconds, forks = bench.write_transaction(sdata, tmp_path, parallel="fork")
    assert seconds > 0 and forks >= 1
    text = bench.table(None, None, {"rows": 2_000_000, "npartitions": 4, "direct": 4.0, "fork": 2.0, "forks": 4})
    assert "| 2.0M rows, 4 partitions" in text and "| 0.50x | 4 |" in text
