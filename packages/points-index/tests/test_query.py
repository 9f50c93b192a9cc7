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
    blob = version / "directory" / "blob" / "c" / "0"
    good = blob.read_bytes()
    blob.write_bytes(good[:-7])  # truncated
    with pytest.raises(CorruptIndexError, match="truncated|directory"):
        open_points_index(str(path)).query()
    damaged = bytearray(good)
    damaged[len(good) // 2 : len(good) // 2 + 64] = bytes(64)  # zeroed bytes inside one record
    blob.write_bytes(bytes(damaged))
    with pytest.raises(CorruptIndexError, match="directory"):
        open_points_index(str(path)).query()
    blob.write_bytes(good)
    assert len(open_points_index(str(path)).query()) == len(points_df)
    table = version / "directory" / "records" / "c" / "0"
    good_table = table.read_bytes()
    table.write_bytes(good_table[:-8])  # the record table (fences, byte offsets) cut short
    with pytest.raises(CorruptIndexError, match="record table"):
        open_points_index(str(path))
    table.write_bytes(good_table)
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


@pytest.mark.parametrize("codec", ["blosc", "gzip"])
def test_format_1_directory_is_still_read(tmp_path, points_df, codec):
    """An index written with format version 1 (directory as two chunked zarr arrays, fences in the metadata) answers
    like the same index in format 2; blosc chunks are decoded by the reader, others through zarr."""
    import zarr
    from zarr.codecs import GzipCodec

    from spatialdata_plugins.points_index import build_points_index, open_points_index
    from spatialdata_plugins.points_index._build import _compressor

    path = tmp_path / "v1.zarr"
    built = build_points_index(points_df, target=str(path), feature_key="gene", progress=False, points_per_chunk=16)
    v2 = open_points_index(str(path))
    queries = [((100, 100, 400, 300), None), ((0, 0, 1000, 1000), ["gene_03"]), (None, None)]
    expected = [v2.query(box, genes, include_level=True) for box, genes in queries]
    # rewrite the directory as format 1
    n_records = int(v2.meta["directory"]["n_records"])
    deltas, counts = v2._read_records(list(range(n_records)))
    vgroup = zarr.open_group(str(path), path=built.path, mode="r+")
    meta = dict(vgroup.attrs["points_index"])
    ch = int(meta["directory"]["entries_per_record"])
    compressors = _compressor() if codec == "blosc" else [GzipCodec()]
    for key, values, dtype in (("dcodes", deltas, "uint64"), ("counts", counts, "uint32")):
        flat = np.concatenate(values).astype(dtype)
        arr = vgroup["directory"].create_array(
            key, shape=flat.shape, chunks=(ch,), dtype=dtype, compressors=compressors
        )
        arr[:] = flat
    levels = []
    for lmeta in meta["levels"]:
        first, n = int(lmeta["first_chunk"]), -(-int(lmeta["entries"]) // ch)
        lmeta = dict(lmeta)
        lmeta["fences"] = [int(v) for v in v2._records[first : first + n, 0]]
        lmeta["fence_rows"] = [int(v) for v in v2._records[first : first + n, 1]]
        levels.append(lmeta)
    meta.update({"levels": levels, "version": 1})
    del meta["directory"]
    del vgroup["directory/blob"], vgroup["directory/records"]
    vgroup.attrs["points_index"] = meta
    v1 = open_points_index(str(path))
    assert v1._blob is None
    for (box, genes), want in zip(queries, expected, strict=True):
        assert v1.query(box, genes, include_level=True).equals(want)


def test_preview_levels_read_no_gene_column(tmp_path, points_df):
    """The preview (gene codes of the coarse levels, read on opening) gives the same answers as the stored column,
    and a gene query of those levels reads only coordinate and index bytes; a damaged preview is detected."""
    from zarr.storage import LocalStore

    from spatialdata_plugins.core.testing import CountingStore
    from spatialdata_plugins.points_index import build_points_index, open_points_index

    with_preview = build_points_index(
        points_df, target=str(tmp_path / "p.zarr"), feature_key="gene", progress=False, preview_rows=6000
    )
    without = build_points_index(
        points_df, target=str(tmp_path / "n.zarr"), feature_key="gene", progress=False, preview_rows=0
    )
    assert 0 < with_preview.preview_levels < with_preview.n_levels and without.preview_levels == 0
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = np.sort(rng.uniform(-50, 1050, 2)), np.sort(rng.uniform(-50, 1050, 2))
        genes = [f"gene_{g:02d}" for g in rng.choice(30, int(rng.integers(1, 5)), replace=False)]
        for kw in ({}, {"max_level": with_preview.preview_levels - 1}, {"target_count": 200}):
            got = with_preview.query((a[0], b[0], a[1], b[1]), genes, include_level=True, **kw)
            ref = without.query((a[0], b[0], a[1], b[1]), genes, include_level=True, **kw)
            assert got.equals(ref)
            if not kw:
                assert sorted(got.index) == sorted(brute(points_df, (a[0], b[0], a[1], b[1]), genes))

    keys: list[str] = []

    class Logging(CountingStore):
        def get_sync(self, key, *, prototype=None, byte_range=None):
            keys.append(key)
            return super().get_sync(key, prototype=prototype, byte_range=byte_range)

    index = open_points_index(Logging(LocalStore(str(tmp_path / "p.zarr"), read_only=True)), verify=False)
    n_open = len(keys)
    gene_array = next(c["array"] for c in index.columns if c["name"] == "gene")
    got = index.query((200, 200, 800, 800), ["gene_01", "gene_02"], max_level=index.preview_levels - 1)
    assert len(got) > 0 and set(got["gene"]) <= {"gene_01", "gene_02"}
    read = keys[n_open:]
    assert read and not any(f"/columns/{gene_array}/" in k or "/directory/" in k for k in read), read

    version = tmp_path / "p.zarr" / "points_index" / with_preview.path.rsplit("/", 1)[-1]
    chunk = version / "directory" / "preview" / "c" / "0"
    good = chunk.read_bytes()
    chunk.write_bytes(good[: len(good) // 2])
    with pytest.raises(CorruptIndexError, match="preview"):
        open_points_index(str(tmp_path / "p.zarr"))
    chunk.write_bytes(good)
    assert len(open_points_index(str(tmp_path / "p.zarr")).query()) == len(points_df)
