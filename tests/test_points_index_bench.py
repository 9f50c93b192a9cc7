"""Smoke test of the points index benchmark: it runs on tiny data, checks its answers row for row and counts bytes
on the path it times."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_points_index.py")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_points_index", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def result(bench, tmp_path_factory):
    return bench.run_dataset(20_000, "clustered", rounds=1, workdir=str(tmp_path_factory.mktemp("pi")))


def test_benchmark_runs_on_tiny_data(bench, result, tmp_path):
    assert [b["layout"] for b in result["builds"]][:3] == [
        "spatialdata write",
        "ours (index build)",
        "js-morton (compute + write)",
    ]
    layouts = {q["layout"].split(" (")[0] for q in result["queries"]}
    assert layouts == {"ours", *bench.BASELINES}
    # every layout's answer equals the brute force row for row, and ours read the same bytes on both paths
    assert all(q["ok"] for q in result["queries"])
    assert all(q["same_bytes_both_paths"] for q in result["queries"] if q["layout"] == "ours")
    # storage is everything kept: the element and the index
    ours = result["builds"][1]
    assert ours["size"] == result["builds"][0]["size"] + ours["index_size"]
    table = bench.markdown([result])
    assert "| Q3 | ours |" in table
    rows = bench.targets([result])
    assert {r["benchmark"].split(": ")[1] for r in rows} == {
        "Q3 time", "Q3 bytes", "Q1 time", "Q1 bytes", "Q4 bytes", "storage", "build"
    }  # fmt: skip
    assert all(isinstance(r["met"], bool) and r["load"] >= 0 for r in rows)
    bench.plot([result], str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 0


def test_row_for_row_check_sees_a_wrong_answer(bench):
    df = bench.make_points(2_000, "uniform")
    q = {**bench.QUERIES["Q3"], "frac": 0.5}
    truth = bench.canonical(df[bench.brute_force(df, q, None, None)])
    answer = df[bench.brute_force(df, q, None, None)]
    assert bench.same_rows(answer.sample(frac=1, random_state=0), truth)  # order does not matter
    moved = answer.copy()
    moved.iloc[0, moved.columns.get_loc("x")] += 0.5
    assert not bench.same_rows(moved, truth)  # the same count, one coordinate off
    other_genes = answer.copy()
    other_genes["gene"] = other_genes["gene"].cat.codes.map(lambda c: bench.CATEGORIES[(c + 1) % len(bench.CATEGORIES)])
    assert not bench.same_rows(other_genes, truth)  # the same coordinates, the genes off
    assert not bench.same_rows(answer.iloc[1:], truth)


def test_js_morton_query_matches_brute_force(bench, tmp_path):
    import dask.dataframe as dd

    df = bench.make_points(30_000, "clustered")
    path = str(tmp_path / "m.parquet")
    bench.write_js_morton(dd.from_pandas(df, npartitions=2), path)
    for qid in ("Q1", "Q3"):
        q = {**bench.QUERIES[qid], "frac": 0.1 if qid == "Q3" else None}
        got = bench.js_morton_query(path, q)
        assert bench.same_rows(got, bench.canonical(df[bench.brute_force(df, q, None, None)]))


def test_morton_ranges_cover_the_box(bench):
    from spatialdata_js_util.points import morton_code_2d

    rng = np.random.default_rng(0)
    ux, uy = (1000, 1400), (30000, 30100)
    ranges = bench._morton_ranges(ux, uy, max_cells=64)
    x = rng.integers(ux[0], ux[1] + 1, 5000)
    y = rng.integers(uy[0], uy[1] + 1, 5000)
    codes = morton_code_2d(pd.Series(x), pd.Series(y)).astype(np.uint64)
    inside = ((codes[:, None] >= ranges[:, 0]) & (codes[:, None] <= ranges[:, 1])).any(axis=1)
    assert inside.all() and len(ranges) <= 64


def test_bytes_are_counted_on_the_timed_path(bench, tmp_path):
    """rchar around the local (``os.pread``) query equals what the CountingStore path counts, opening included."""
    import _common  # the benchmarks' helpers (on the path once the benchmark is loaded)
    import dask.dataframe as dd

    from spatialdata_plugins.points_index import build_points_index

    df = bench.make_points(50_000, "clustered")
    path = str(tmp_path / "i.zarr")
    index = build_points_index(dd.from_pandas(df, npartitions=2), target=path, feature_key="gene", progress=False)
    mid = (index.n_levels - 1) // 2
    for qid, q in bench.QUERIES.items():
        q = {**q, "_mid": mid}
        bench.ours_query(path, q, mid)  # first use: imports
        _, _, local_bytes = _common.measured_call(lambda q=q: bench.ours_query(path, q, mid))
        _, query_bytes, open_bytes = bench.ours_query(path, q, mid, count=True)
        assert local_bytes == query_bytes + open_bytes > 0, qid


def test_answer_bytes(bench):
    assert bench.answer_bytes(pd.DataFrame({"x": [], "y": []})) == 0
    frame = bench.make_points(1000, "uniform")
    assert 0 < bench.answer_bytes(frame) < 1000 * 10


@pytest.mark.scale
def test_100m_build_out_of_core_under_4gib(bench, tmp_path):
    """The 100M-point build from parquet runs out of core in a child process with peak RSS under 4 GiB."""
    info = bench.scale_run(100_000_000, str(tmp_path))
    assert sum(info["levels"]) == 100_000_000
    assert info["peak_rss_gib"] < 4.0
