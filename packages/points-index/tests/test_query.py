"""Queries: exact answers (property-based against brute force), resolution caps, target counts, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pi_helpers import brute

from spatialdata_plugins.core import InvalidArgumentError
from spatialdata_plugins.points_index import CorruptIndexError, UnknownGeneError

coord = st.floats(min_value=-100, max_value=1100, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=coord, b=coord, c=coord, d=coord, ngenes=st.integers(0, 3))
def test_box_and_gene_queries_match_brute_force(standalone_index, points_df, a, b, c, d, ngenes):
    bbox = (min(a, b), min(c, d), max(a, b), max(c, d))
    genes = None if ngenes == 0 else [f"gene_{g:02d}" for g in range(0, 3 * ngenes, 3)]
    got = standalone_index.query(bbox, genes)
    assert sorted(got.index) == sorted(brute(points_df, bbox, genes))


def test_boundary_points_are_excluded(standalone_index, points_df):
    # a box whose edges pass exactly through stored points: strict inequalities exclude them
    x0, y0 = float(points_df.x.iloc[10]), float(points_df.y.iloc[10])
    x1, y1 = float(points_df.x.iloc[20]), float(points_df.y.iloc[20])
    bbox = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    got = standalone_index.query(bbox)
    assert 10 not in got.index and 20 not in got.index
    assert sorted(got.index) == sorted(brute(points_df, bbox))


def test_resolution_caps_follow_the_levels(standalone_index):
    full = standalone_index.query(include_level=True)
    for lv in range(standalone_index.n_levels):
        capped = standalone_index.query(max_level=lv, genes=["gene_03"], include_level=True)
        expect = full[(full["level"] <= lv) & (full["gene"] == "gene_03")]
        assert sorted(capped.index) == sorted(expect.index)
        only = standalone_index.query(level=lv, bbox=(0, 0, 500, 500))
        exp = full[(full["level"] == lv) & (full.x > 0) & (full.x < 500) & (full.y > 0) & (full.y < 500)]
        assert sorted(only.index) == sorted(exp.index)


def test_columns_and_output(standalone_index, points_df):
    got = standalone_index.query((0, 0, 200, 200), columns=["x"])
    assert list(got.columns) == ["x"]
    from spatialdata_plugins.points_index import query_points

    lazy = query_points(standalone_index, bbox=(0, 0, 200, 200), output="dask")
    assert len(lazy.compute()) == len(brute(points_df, (0, 0, 200, 200)))


@pytest.mark.parametrize("target", [50, 400, 3000])
def test_target_count(standalone_index, points_df, target):
    bbox = (100, 100, 700, 700)
    got = standalone_index.query(bbox, target_count=target, include_level=True)
    truth = set(brute(points_df, bbox))
    assert set(got.index) <= truth  # a subsample of the answer, never other rows
    assert 0.4 * target <= len(got) <= 2.0 * target
    # whole coarse levels first: every level but the last one used is complete in the box
    full = standalone_index.query(bbox, include_level=True)
    top = got["level"].max()
    for lv in range(top):
        assert (got["level"] == lv).sum() == (full["level"] == lv).sum()
    assert standalone_index.query(bbox, target_count=0).shape[0] == 0


def test_target_count_with_genes(standalone_index, points_df):
    bbox = (0, 0, 1000, 1000)
    got = standalone_index.query(bbox, genes=["gene_05"], target_count=100)
    assert set(got.index) <= set(brute(points_df, bbox, ["gene_05"]))
    assert 30 <= len(got) <= 250


def test_empty_answers(standalone_index):
    assert len(standalone_index.query((300, 300, 300, 400))) == 0  # zero width: nothing is strictly inside
    assert len(standalone_index.query((2000, 2000, 3000, 3000))) == 0  # outside the data
    assert len(standalone_index.query((-50, -50, -10, -10))) == 0
    assert len(standalone_index.query(genes=[])) == 0
    empty = standalone_index.query((2000, 2000, 3000, 3000))
    assert list(empty.columns) == ["x", "y", "gene", "score"]


def test_bad_queries(standalone_index):
    with pytest.raises(InvalidArgumentError, match="inverted"):
        standalone_index.query((500, 0, 100, 100))
    with pytest.raises(UnknownGeneError, match="gene_1x") as info:
        standalone_index.query(genes=["gene_01", "gene_1x"])
    assert isinstance(info.value, KeyError)
    with pytest.raises(InvalidArgumentError, match="beyond the index"):
        standalone_index.query(max_level=standalone_index.n_levels)
    with pytest.raises(InvalidArgumentError, match="beyond the index"):
        standalone_index.query(level=-1)
    with pytest.raises(InvalidArgumentError, match="bbox"):
        standalone_index.query((1, 2, 3))
    with pytest.raises(InvalidArgumentError, match="NaN"):
        standalone_index.query((np.nan, 0, 1, 1))
    with pytest.raises(InvalidArgumentError, match="unknown column"):
        standalone_index.query(columns=["nope"])
    with pytest.raises(InvalidArgumentError, match="axis"):
        standalone_index.query({"q": (0, 1)})


def test_corrupt_index(tmp_path, points_df):
    import os
    import shutil

    import zarr

    from spatialdata_plugins.points_index import build_points_index, open_points_index

    path = tmp_path / "c.zarr"
    idx = build_points_index(points_df, target=str(path), feature_key="gene", progress=False)
    version = path / "points_index" / idx.path.rsplit("/", 1)[-1]
    # a damaged or lost directory record or column chunk is detected, never read as zeros
    for part in ("blob", "genes/blob"):
        blob = version / "directory" / part / "c" / "0"
        good = blob.read_bytes()
        blob.write_bytes(good[:-7])  # truncated
        with pytest.raises(CorruptIndexError, match="truncated|directory"):
            index = open_points_index(str(path))
            index.query()
            for g in range(30):
                index.query(genes=[f"gene_{g:02d}"])
        damaged = bytearray(good)
        for at in range(0, len(good) - 8, max(len(good) // 16, 1)):  # zeroed bytes inside records
            damaged[at : at + 8] = bytes(8)
        blob.write_bytes(bytes(damaged))
        with pytest.raises(CorruptIndexError, match="directory"):
            index = open_points_index(str(path))
            index.query()
            for g in range(30):
                index.query(genes=[f"gene_{g:02d}"])
        blob.write_bytes(good)
    assert len(open_points_index(str(path)).query()) == len(points_df)
    for part in ("blocks", "genes/table"):
        table = version / "directory" / part / "c" / "0"
        good_table = table.read_bytes()
        table.write_bytes(good_table[:-8])  # a directory table cut short
        with pytest.raises(CorruptIndexError, match="truncated"):
            open_points_index(str(path)).query(genes=[f"gene_{g:02d}" for g in range(30)])
        table.write_bytes(good_table)
    blob = version / "directory" / "blob" / "c" / "0"
    shutil.rmtree(version / "columns" / "c0" / "c")
    with pytest.raises(CorruptIndexError, match="missing"):
        open_points_index(str(path)).query(genes=["gene_00"], max_level=0)
    os.remove(blob)
    with pytest.raises(CorruptIndexError, match="missing"):
        open_points_index(str(path)).query()
    g = zarr.open_group(str(path / "points_index"), mode="r+")
    g.attrs["points_index"] = {"current": "v-missing"}
    with pytest.raises(CorruptIndexError, match="missing"):
        open_points_index(str(path))
    g.attrs["points_index"] = {"nothing": 1}
    with pytest.raises(CorruptIndexError):
        open_points_index(str(path))


def test_older_format_asks_for_a_rebuild(tmp_path, points_df):
    """An index of an older format version (2) is refused with an error saying to rebuild it."""
    import zarr

    from spatialdata_plugins.points_index import build_points_index, open_points_index

    path = tmp_path / "old.zarr"
    built = build_points_index(points_df, target=str(path), feature_key="gene", progress=False)
    vgroup = zarr.open_group(str(path), path=built.path, mode="r+")
    meta = dict(vgroup.attrs["points_index"])
    meta["version"] = 2
    vgroup.attrs["points_index"] = meta
    with pytest.raises(CorruptIndexError, match="version 2.*rebuild"):
        open_points_index(str(path))


def test_gene_directory_answers_and_reads(tmp_path, points_df):
    """Gene queries (answered from the gene directory where it is cheaper) give exactly the rows of the unfiltered
    query's answer with those genes, at every level cap; a whole-extent gene query reads no gene column."""
    from zarr.storage import LocalStore

    from spatialdata_plugins.core.testing import CountingStore
    from spatialdata_plugins.points_index import build_points_index, open_points_index

    index = build_points_index(
        points_df, target=str(tmp_path / "p.zarr"), feature_key="gene", progress=False, points_per_chunk=16
    )
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = np.sort(rng.uniform(-50, 1050, 2)), np.sort(rng.uniform(-50, 1050, 2))
        box = (a[0], b[0], a[1], b[1])
        genes = [f"gene_{g:02d}" for g in rng.choice(30, int(rng.integers(1, 5)), replace=False)]
        for kw in ({}, {"max_level": int(rng.integers(0, index.n_levels))}, {"level": index.n_levels - 1}):
            every = index.query(box, include_level=True, **kw)
            want = every[every["gene"].isin(genes)]
            got = index.query(box, genes, include_level=True, **kw)
            assert sorted(got.index) == sorted(want.index)
            if not kw:
                assert sorted(got.index) == sorted(brute(points_df, box, genes))
        got = index.query(box, genes, target_count=200)
        assert set(got.index) <= set(brute(points_df, box, genes))

    keys: list[str] = []

    class Logging(CountingStore):
        def get_sync(self, key, *, prototype=None, byte_range=None):
            keys.append(key)
            return super().get_sync(key, prototype=prototype, byte_range=byte_range)

    opened = open_points_index(Logging(LocalStore(str(tmp_path / "p.zarr"), read_only=True)), verify=False)
    gene_array = next(c["array"] for c in opened.columns if c["name"] == "gene")
    got = opened.query(genes=["gene_01"])
    assert sorted(got.index) == sorted(brute(points_df, None, ["gene_01"]))
    assert not any(f"/columns/{gene_array}/" in k for k in keys), keys
    assert any("/directory/genes/" in k for k in keys)
