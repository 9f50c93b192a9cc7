"""The build: levels, reproducibility, partition independence, dask.distributed, bad input."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pi_helpers import make_points

from spatialdata_plugins.core import InvalidArgumentError, SpatialDataPluginError
from spatialdata_plugins.points_index import build_points_index


def test_every_point_in_exactly_one_level(standalone_index, points_df):
    full = standalone_index.query(include_level=True)
    assert len(full) == len(points_df)
    assert full.index.is_unique
    assert set(full.index) == set(points_df.index)
    # every column round-trips exactly
    back = full.loc[points_df.index]
    for c in ("x", "y", "score"):
        np.testing.assert_array_equal(back[c].to_numpy(), points_df[c].to_numpy())
    assert back["gene"].astype(str).tolist() == points_df["gene"].astype(str).tolist()
    assert back["gene"].dtype == points_df["gene"].dtype
    # levels are coarse to fine: the per-level counts grow, the level column matches the stored layout
    rows = standalone_index.level_rows()
    assert sum(rows) == len(points_df)
    assert rows[0] <= 32 and rows[-1] > rows[0]
    assert (full["level"].value_counts().sort_index().tolist()) == [r for r in rows if r]


def test_coarse_levels_preview_the_density():
    df = make_points(30_000, clustered=True, seed=3)
    idx = build_points_index(df, target=None or _tmp(), feature_key="gene", progress=False, points_per_chunk=16)
    coarse = idx.query(max_level=min(3, idx.n_levels - 1))
    assert 0 < len(coarse) < len(df) / 5
    # the preview follows the clusters: its points are as close to a cluster centre as the data's points
    h_all, xe, ye = np.histogram2d(df.x, df.y, bins=8, range=[[0, 1000], [0, 1000]])
    h_c, _, _ = np.histogram2d(coarse.x, coarse.y, bins=[xe, ye])
    assert np.corrcoef(h_all.ravel(), h_c.ravel())[0, 1] > 0.8


_TMP: list = []


def _tmp() -> str:
    import tempfile

    d = tempfile.mkdtemp(prefix="sdp-pi-test-")
    _TMP.append(d)
    return f"{d}/idx.zarr"


def test_reproducible_and_partition_independent(points_df):
    a = build_points_index(points_df, target=_tmp(), feature_key="gene", progress=False, seed=7)
    b = build_points_index(
        dd.from_pandas(points_df, npartitions=5), target=_tmp(), feature_key="gene", progress=False, seed=7
    )
    c = build_points_index(points_df, target=_tmp(), feature_key="gene", progress=False, seed=8)
    qa, qb, qc = (i.query(include_level=True) for i in (a, b, c))
    assert qa.index.tolist() == qb.index.tolist()
    assert qa["level"].tolist() == qb["level"].tolist()
    assert qa.index.tolist() != qc.index.tolist()


def test_runs_are_in_random_order(standalone_index):
    # inside a (level, cell, gene) run rows are ordered by a random rank, not by position or coordinate
    full = standalone_index.query(include_level=True)
    last = full[full["level"] == full["level"].max()]
    assert not last["x"].is_monotonic_increasing
    assert not pd.Series(last.index).is_monotonic_increasing


def test_3d(tmp_path):
    df = make_points(8_000, dim=3, seed=1)
    idx = build_points_index(df, target=str(tmp_path / "i.zarr"), feature_key="gene", progress=False)
    assert idx.axes == ["x", "y", "z"]
    box = (100, 200, 300, 600, 700, 800)
    got = idx.query(box)
    from pi_helpers import brute

    assert sorted(got.index) == sorted(brute(df, box))


def test_small_buckets_and_chunks_give_the_same_index(points_df, tmp_path):
    """The out-of-core path (many buckets, many zarr chunks) stores exactly the same rows in the same order."""
    a = build_points_index(points_df, target=str(tmp_path / "a.zarr"), feature_key="gene", progress=False)
    b = build_points_index(
        dd.from_pandas(points_df, npartitions=7),
        target=str(tmp_path / "b.zarr"),
        feature_key="gene",
        progress=False,
        bucket_rows=1_000,
        rows_per_chunk=1_024,
    )
    assert a.query().index.tolist() == b.query().index.tolist()
    box = (100, 100, 400, 350)
    assert b.query(box, genes=["gene_01"]).index.tolist() == a.query(box, genes=["gene_01"]).index.tolist()


def test_dask_distributed_cluster(points_df, tmp_path):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        idx = build_points_index(
            dd.from_pandas(points_df, npartitions=4),
            target=str(tmp_path / "d.zarr"),
            feature_key="gene",
            progress=False,
            temp_dir=str(tmp_path),
        )
    ref = build_points_index(points_df, target=str(tmp_path / "r.zarr"), feature_key="gene", progress=False)
    assert idx.query().index.tolist() == ref.query().index.tolist()


def test_string_and_index_columns(tmp_path):
    df = make_points(3_000)
    df["cell_id"] = [f"cell_{i % 97}" if i % 11 else None for i in range(len(df))]
    df["flag"] = df["score"] > 0
    df.index = df.index + 10_000
    idx = build_points_index(df, target=str(tmp_path / "s.zarr"), feature_key="gene", progress=False)
    got = idx.query().loc[df.index]
    assert got["cell_id"].tolist() == df["cell_id"].tolist()
    assert got["flag"].tolist() == df["flag"].tolist()
    assert got.index.dtype == df.index.dtype


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.assign(x=d["x"].where(d.index != 5, np.nan)), "missing or infinite"),
        (lambda d: d.assign(gene=np.arange(len(d))), "categorical or text"),
        (lambda d: d.drop(columns=["y"]), "no column"),
    ],
)
def test_bad_points(tmp_path, mutate, match):
    df = mutate(make_points(500))
    with pytest.raises(InvalidArgumentError, match=match):
        build_points_index(df, target=str(tmp_path / "bad.zarr"), feature_key="gene", axes=["x", "y"], progress=False)


def test_bad_arguments(tmp_path, points_df):
    with pytest.raises(InvalidArgumentError, match="target"):
        build_points_index(points_df)
    with pytest.raises(InvalidArgumentError, match="points_per_chunk"):
        build_points_index(points_df, target=str(tmp_path / "x.zarr"), points_per_chunk=0)
    with pytest.raises(InvalidArgumentError, match="feature_key"):
        build_points_index(points_df, target=str(tmp_path / "y.zarr"), feature_key="nope")
    with pytest.raises(SpatialDataPluginError):
        build_points_index([1, 2, 3], target=str(tmp_path / "z.zarr"))


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(0, 300),
    entry_bits=st.integers(1, 24),
    gene_bits=st.integers(1, 24),
    seed=st.integers(0, 2**32 - 1),
)
def test_spill_key_orders_like_lexsort(n, entry_bits, gene_bits, seed):
    """The packed key sorts like (entry, gene, rank), the rank compared on its top bits; ties keep input order."""
    from spatialdata_plugins.points_index._build import spill_key

    rng = np.random.default_rng(seed)
    entry = rng.integers(0, 2**entry_bits, n)
    gene = rng.integers(-1, 2**gene_bits - 1, n)  # codes; -1 is a missing gene
    rank = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    key = spill_key(entry, gene, rank, entry_bits, gene_bits)
    top = rank >> np.uint64(entry_bits + gene_bits)
    expected = np.lexsort((np.arange(n), top, gene, entry))
    np.testing.assert_array_equal(np.argsort(key, kind="stable"), expected)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 2000), free_bits=st.integers(0, 16), spread=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_sort_order_sorts_up_to_the_free_bits(n, free_bits, spread, seed):
    """The value-sort order of the spill: keys sorted but for their lowest ``free_bits``, ties in input order; a stable
    sort of the keys in that order gives exactly the stable argsort of the keys (what the writer relies on)."""
    from spatialdata_plugins.points_index._build import _sort_order

    rng = np.random.default_rng(seed)
    key = rng.integers(0, 2**spread, n, dtype=np.uint64) << np.uint64(40)  # many ties in the high bits
    key |= rng.integers(0, 2**free_bits, n, dtype=np.uint64) if free_bits else np.uint64(0)
    order = _sort_order(key, free_bits)
    assert sorted(order.tolist()) == list(range(n))
    if n > 1 and (n - 1).bit_length() <= free_bits:
        low = np.uint64((1 << (n - 1).bit_length()) - 1)
        expected = np.lexsort((np.arange(n), key & ~low))
        np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(order[np.argsort(key[order], kind="stable")], np.argsort(key, kind="stable"))


def test_level_counts_from_the_histogram_match_a_full_pass(points_df, monkeypatch, tmp_path):
    """The coarse levels' counts come from the histogram of the cell codes minus the points already taken; the same
    levels as counting the remaining points of every level, and the same index."""
    from spatialdata_plugins.points_index import _build

    frame = dd.from_pandas(points_df, npartitions=3)
    a = build_points_index(frame, target=str(tmp_path / "a.zarr"), feature_key="gene", progress=False)
    monkeypatch.setattr(_build, "_histogram_level", lambda geo: 0)  # every level counted by a full pass
    b = build_points_index(frame, target=str(tmp_path / "b.zarr"), feature_key="gene", progress=False)
    assert a.meta["probabilities"] == b.meta["probabilities"] and a.level_rows() == b.level_rows()
    assert a.query(include_level=True).equals(b.query(include_level=True))


def test_spill_in_memory_or_on_disk_gives_the_same_index(points_df, monkeypatch, tmp_path):
    """Small builds on threads keep the spilled buckets in memory; through files (large builds, other processes)
    the index is the same, and no spill file is left behind."""
    from spatialdata_plugins.points_index import _build

    frame = dd.from_pandas(points_df, npartitions=4)
    a = build_points_index(frame, target=str(tmp_path / "a.zarr"), feature_key="gene", progress=False, bucket_rows=3000)
    monkeypatch.setattr(_build, "IN_MEMORY_SPILL_BYTES", 0)
    spilled: list[str] = []
    real_spill = _build._spill

    def spill(*args, **kwargs):
        out = real_spill(*args, **kwargs)
        spilled.extend(v for v in out.values() if isinstance(v, str))
        return out

    monkeypatch.setattr(_build, "_spill", spill)
    temp = tmp_path / "temp"
    temp.mkdir()
    b = build_points_index(
        frame, target=str(tmp_path / "b.zarr"), feature_key="gene", progress=False, bucket_rows=3000, temp_dir=str(temp)
    )
    assert len(spilled) > 4 and not any(temp.iterdir())
    assert a.query(include_level=True).equals(b.query(include_level=True))
