"""Coalesced, batched byte-range reads: same rows as uncoalesced reads, bounded bytes and request counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pi_helpers import brute

from spatialdata_plugins.core import InvalidArgumentError
from spatialdata_plugins.core.testing import CountingStore
from spatialdata_plugins.points_index import _reader, open_points_index
from spatialdata_plugins.points_index._reader import coalesce_runs, runs_to_positions


@st.composite
def sorted_runs(draw):
    lengths = draw(st.lists(st.integers(1, 20), min_size=0, max_size=40))
    gaps = draw(st.lists(st.integers(0, 50), min_size=len(lengths), max_size=len(lengths)))
    starts, ends, pos = [], [], 0
    for ln, gp in zip(lengths, gaps, strict=True):
        pos += gp
        starts.append(pos)
        pos += ln
        ends.append(pos)
    return np.asarray(starts, np.int64), np.asarray(ends, np.int64)


@settings(max_examples=200, deadline=None)
@given(runs=sorted_runs(), gap=st.integers(0, 60), max_runs=st.one_of(st.none(), st.integers(1, 10)))
def test_coalesce_runs_covers_the_runs_and_only_merges_allowed_gaps(runs, gap, max_runs):
    starts, ends = runs
    ms, me = coalesce_runs(starts, ends, gap, max_runs)
    if len(starts) == 0:
        assert len(ms) == 0
        return
    # merged runs are sorted, disjoint, and cover every original row
    assert np.all(me > ms) and np.all(ms[1:] > me[:-1])
    cover = set(runs_to_positions(ms, me).tolist())
    assert set(runs_to_positions(starts, ends).tolist()) <= cover
    # extra rows read are exactly the merged gaps: never more than the sum of the runs plus the gaps between them
    assert int((me - ms).sum()) <= int((ends - starts).sum() + (starts[1:] - ends[:-1]).sum())
    if max_runs is None:
        # every remaining break is a gap larger than ``gap``; every merged gap is at most ``gap``
        assert len(ms) == 1 + int(np.count_nonzero(starts[1:] - ends[:-1] > gap))
    else:
        assert len(ms) <= max(max_runs, 1)


def _counting(index_path, **kw):
    from zarr.storage import LocalStore

    store = CountingStore(LocalStore(index_path, read_only=True))
    return store, open_points_index(store, verify=False, **kw)


@pytest.mark.parametrize(
    ("bbox", "genes"),
    [((100, 100, 400, 300), None), (None, ["gene_03"]), ((0, 0, 1000, 1000), ["gene_01", "gene_05"]), (None, None)],
)
def test_coalesced_reads_return_the_same_rows(standalone_index, points_df, monkeypatch, bbox, genes):
    path = str(standalone_index.store.root)
    calls: list[int] = []
    orig = _reader.fetch_ranges

    def spy(store, requests, **kw):
        if all(stop >= 0 for _, _, stop in requests):  # column ranges (whole chunks are metadata/directory)
            calls.append(len(requests))
        return orig(store, requests, **kw)

    monkeypatch.setattr(_reader, "fetch_ranges", spy)
    frames, nbytes, most = [], [], []
    for kw in ({"coalesce_bytes": 0, "max_requests": None}, {"coalesce_bytes": 4096}, {"max_requests": 2}):
        store, index = _counting(path, **kw)
        store.bytes_read = 0
        calls.clear()
        frames.append(index.query(bbox, genes, include_level=True))
        nbytes.append(store.bytes_read)
        most.append(max(calls, default=0))
    plain = frames[0]
    assert sorted(plain.index) == sorted(brute(points_df, bbox, genes))
    for other in frames[1:]:
        # exactly the same rows, values and order
        assert other.index.equals(plain.index)
        assert other.equals(plain)
    # coalescing never reads fewer bytes (it adds gaps) and a request cap bounds the requests per column
    assert nbytes[1] >= nbytes[0] and nbytes[2] >= nbytes[0]
    n_cols = len(plain.columns) + 1  # the requested columns and the index
    chunks = -(-standalone_index.n_rows // standalone_index.rows_per_chunk)
    assert most[2] <= n_cols * 2 * chunks


def test_read_columns_bytes_bounded_by_runs_plus_gaps(standalone_index):
    path = str(standalone_index.store.root)
    spec = standalone_index._by_name["x"]
    itemsize = np.dtype(spec["dtype"]).itemsize
    starts = np.asarray([3, 40, 41 + 10, 300], np.int64)
    ends = np.asarray([10, 45, 70, 301], np.int64)
    ref = None
    for gap_bytes in (0, 8 * itemsize, 10_000):
        store, index = _counting(path, coalesce_bytes=gap_bytes, max_requests=None)
        store.bytes_read = 0
        (vals,) = index.read_columns([spec], starts, ends)
        ms, me = coalesce_runs(starts, ends, gap_bytes // itemsize)
        assert store.bytes_read == int((me - ms).sum()) * itemsize
        assert store.bytes_read <= int((ends[-1] - starts[0]) * itemsize)
        ref = vals if ref is None else ref
        np.testing.assert_array_equal(vals, ref)
    assert len(ref) == int((ends - starts).sum())


def test_bad_coalescing_options(standalone_index):
    path = str(standalone_index.store.root)
    with pytest.raises(InvalidArgumentError, match="coalesce_bytes"):
        _counting(path, coalesce_bytes=-1)
    with pytest.raises(InvalidArgumentError, match="max_requests"):
        _counting(path, max_requests=0)


class _AsyncOnlyCountingStore(CountingStore):
    """Counts bytes like ``CountingStore`` but declares no synchronous reads (as an object store or icechunk)."""

    _supports_sync_io = False


@pytest.mark.parametrize(
    ("bbox", "genes", "kw"),
    [
        ((100, 100, 400, 300), None, {}),
        ((250, 0, 260, 1000), ["gene_03", "gene_07"], {}),
        (None, ["gene_01"], {"max_level": 2}),
        ((0, 0, 1000, 1000), None, {"target_count": 500}),
    ],
)
def test_local_sync_and_async_read_paths_agree(standalone_index, points_df, bbox, genes, kw):
    """The local ``pread`` path, zarr's synchronous reads and the asynchronous path return the same rows and bytes."""
    from zarr.storage import LocalStore

    path = str(standalone_index.store.root)
    local = open_points_index(LocalStore(path, read_only=True), verify=False)
    sync_store = CountingStore(LocalStore(path, read_only=True))
    sync = open_points_index(sync_store, verify=False, max_requests=None)
    async_store = _AsyncOnlyCountingStore(LocalStore(path, read_only=True))
    asynchronous = open_points_index(async_store, verify=False, max_requests=None)
    assert _reader._local_root(local.store) == path
    assert _reader.supports_sync_reads(sync_store) and not _reader.supports_sync_reads(async_store)
    # "auto" request cap: none where a request is cheap, 64 where it is a round trip
    assert local.max_requests is None
    assert open_points_index(async_store, verify=False).max_requests == _reader.REMOTE_MAX_REQUESTS
    sync_store.bytes_read = async_store.bytes_read = 0
    frames = [ix.query(bbox, genes, include_level=True, **kw) for ix in (local, sync, asynchronous)]
    assert len(frames[0]) > 0
    for other in frames[1:]:
        assert other.equals(frames[0])
    assert sync_store.bytes_read == async_store.bytes_read > 0
    if not kw:  # uncapped: exactly the brute-force answer
        assert sorted(frames[0].index) == sorted(brute(points_df, bbox, genes))


def test_opening_reads_only_the_index_metadata(standalone_index, points_df):
    """Opening reads the two group documents and nothing else; a query reads directories and columns lazily."""
    from zarr.storage import LocalStore

    path = str(standalone_index.store.root)
    keys: list[str] = []

    class Logging(CountingStore):
        def get_sync(self, key, *, prototype=None, byte_range=None):
            keys.append(key)
            return super().get_sync(key, prototype=prototype, byte_range=byte_range)

    index = open_points_index(Logging(LocalStore(path, read_only=True)), verify=False)
    assert len(keys) <= 3 and all(k.endswith("zarr.json") for k in keys), keys
    n_open = len(keys)
    index.query((100, 100, 400, 300), ["gene_03"])
    # the only document a query reads is the gene names' array metadata (once)
    docs = [k for k in keys[n_open:] if k.endswith("zarr.json")]
    assert all("/categories/" in k for k in docs) and len(docs) <= 1, docs
    assert any("/directory/" in k for k in keys[n_open:])
    assert index.genes == [str(g) for g in points_df["gene"].cat.categories]
