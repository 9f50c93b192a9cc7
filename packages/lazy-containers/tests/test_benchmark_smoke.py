"""The benchmark's core functions run on tiny data (so the script cannot rot); no timing is asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_lazy_containers.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this checkout")
def test_benchmark_runs_on_tiny_data(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_lazy_containers", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_lazy_containers"] = bench  # dataclasses look their module up
    try:
        spec.loader.exec_module(bench)
    finally:
        del sys.modules["bench_lazy_containers"]
    sizes = bench.Sizes(polygons=20, points=200, image=32, cells=10, genes=5)
    paths = bench.write_files(tmp_path / "files", sizes)
    attach = bench.bench_attach(paths, n=50, repeats=1)
    assert attach["n"] == 50 and attach["bytes_read"] in (0, None)
    # the direct reads build the same elements as the containers (checked inside bench_first_access); the check
    # itself fails on elements that differ
    import pandas as pd
    from spatialdata.models import PointsModel

    frame = pd.read_parquet(paths["parquet_points"])
    coords = {"x": "x_location", "y": "y_location"}
    same = PointsModel.parse(frame, coordinates=coords, feature_key="feature_name")
    bench.check_same_element("points", same, PointsModel.parse(frame, coordinates=coords, feature_key="feature_name"))
    shifted = frame.assign(x_location=frame["x_location"] + 1)
    with pytest.raises(AssertionError):
        bench.check_same_element(
            "points", same, PointsModel.parse(shifted, coordinates=coords, feature_key="feature_name")
        )
    with pytest.raises(AssertionError):
        bench.check_same_element("points", same, PointsModel.parse(frame, coordinates=coords))
    rows = bench.bench_first_access(paths, repeats=1)
    assert {r["type"] for r in rows} >= {"parquet_shapes", "csv_points", "ome_tiff_image", "zarr_table"}
    assert all(r["direct_s"] > 0 and r["library_s"] > 0 for r in rows)
    table = bench.format_table({"attach": attach, "access": rows})
    assert "| parquet_shapes |" in table and "attach 50 containers" in table and attach["build_and_attach_seconds"] > 0
