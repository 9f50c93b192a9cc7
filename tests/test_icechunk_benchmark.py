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


def test_both_writes_read_back_equal_on_tiny_data(tmp_path):
    bench = _load()
    sdata = bench.blobs_sdata(length=64, n_points=100, n_shapes=5)
    seconds, same = bench.write_plain(sdata, tmp_path, check=True)
    assert seconds > 0 and same is True
    seconds, forks, same = bench.write_transaction(sdata, tmp_path, parallel="fork", check=True)
    assert seconds > 0 and forks >= 2 and same is True  # image and labels went through fork/merge
    image = bench.dask_image(gib=0.001, chunk=64)
    assert image.dtype == "float32" and image.shape[0] == 2


def test_the_equality_check_sees_a_difference():
    bench = _load()
    a = bench.blobs_sdata(length=64, n_points=100, n_shapes=5)
    b = bench.blobs_sdata(length=64, n_points=100, n_shapes=5)
    assert bench.equal(a, b)
    b["blobs_image"] = b["blobs_image"] * 2
    assert not bench.equal(a, b)


def test_plain_write_goes_through_spatialdata_not_our_core(tmp_path, monkeypatch):
    """The baseline is ``spatialdata.SpatialData.write`` itself, even for a SpatialData of our core."""
    import spatialdata

    from spatialdata_plugins.core import SpatialData

    bench = _load()
    sdata = bench.blobs_sdata(length=64, n_points=100, n_shapes=5)
    ours = SpatialData(images={"image": sdata["blobs_image"]})
    calls = []
    original = spatialdata.SpatialData.write
    monkeypatch.setattr(
        spatialdata.SpatialData, "write", lambda self, *a, **k: (calls.append(type(self)), original(self, *a, **k))[1]
    )
    bench.write_plain(ours, tmp_path)
    assert calls == [spatialdata.SpatialData]


def test_tables():
    bench = _load()
    blobs = {"plain": 1.0, "icechunk": 1.2, "plain_times": [1.0] * 5, "icechunk_times": [1.2] * 5,
             "plain_equal": True, "icechunk_equal": True, "runs": 5, "load": 1.0}  # fmt: skip
    text = bench.table(blobs, None, {"rows": 2_000_000, "npartitions": 4, "direct": 4.0, "fork": 2.0, "forks": 4})
    assert "| 1.2x | <= 1.5x |" in text and "| 0.50x | 4 |" in text
    (row,) = bench.targets(blobs, None)
    assert row["met"] is True and row["measured"].startswith("1.2x")
    assert bench.targets({**blobs, "icechunk_equal": False}, None)[0]["met"] is False


def test_benchmark_points_on_tiny_data(tmp_path):
    bench = _load()
    points = bench.dask_points(rows=3_000, npartitions=3)
    assert points.npartitions == 3 and len(points) == 3_000 and points["gene"].cat.known
    from spatialdata_plugins.core import SpatialData

    sdata = SpatialData(points={"transcripts": points})
    assert bench.write_transaction(sdata, tmp_path, parallel="direct")[1] == 0
    seconds, forks, _ = bench.write_transaction(sdata, tmp_path, parallel="fork")
    assert seconds > 0 and forks >= 1
