"""The index written with the element (core write hook) on directories, S3, memory and icechunk stores."""

from __future__ import annotations

import os

import fsspec
import numpy as np
import pytest
from pi_helpers import CountingFS, brute, make_points, sdata_with_points
from zarr.storage import LocalStore, MemoryStore

from spatialdata_plugins.core import ElementWriteError, Location, read, write
from spatialdata_plugins.core.testing import CountingStore
from spatialdata_plugins.points_index import (
    IndexNotFoundError,
    StaleIndexError,
    bounding_box_query,
    build_points_index,
    open_points_index,
    query_points,
)

BOX = (400, 400, 450, 460)


@pytest.fixture(scope="module")
def df():
    return make_points(60_000, seed=5, n_genes=40)


def _check(frame, df, bbox=None, genes=None):
    assert sorted(frame.index) == sorted(brute(df, bbox, genes))


def test_local_write_read_query(plugin, df, tmp_path):
    import spatialdata

    sdata = sdata_with_points(df)
    assert build_points_index(sdata, "transcripts") is None  # not stored yet: built at write
    path = tmp_path / "data.zarr"
    write(sdata, path)
    assert (path / "points" / "transcripts" / "points_index" / "zarr.json").exists()
    back = read(path)
    _check(query_points(back, "transcripts", bbox=BOX), df, BOX)
    _check(
        query_points(str(path), "transcripts", bbox=BOX, genes=["gene_01", "gene_07"]), df, BOX, ["gene_01", "gene_07"]
    )
    # plain spatialdata reads the points exactly as before
    plain = spatialdata.read_zarr(path)
    a = plain.points["transcripts"].compute()
    b = back.points["transcripts"].compute()
    assert a.equals(b)
    assert a.drop(columns=[]).sort_index()[["x", "y"]].equals(df[["x", "y"]])


def test_small_box_reads_a_small_fraction(plugin, df, tmp_path):
    path = tmp_path / "data.zarr"
    write(sdata_with_points(df), path, points_index=True)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path / "points") for f in fs)
    counting = CountingStore(LocalStore(str(path), read_only=True))
    cfs = CountingFS(fsspec.filesystem("file"))
    loc = Location(store=counting, kind="local", fs=cfs, root=str(path), url=str(path))
    index = open_points_index(loc, "transcripts")
    opened = counting.bytes_read + cfs.bytes_read
    counting.bytes_read = 0
    got = index.query(BOX, columns=["x", "y", "gene"])
    _check(got, df, BOX)
    answer = len(got) * (4 + 4 + 1)
    assert counting.bytes_read < 4 * answer + 64 * 1024  # the answer, a few edge cells and directory chunks
    assert counting.bytes_read + opened < total / 20
    # a gene query on a coarse preview reads almost nothing
    counting.bytes_read = 0
    index.query(genes=["gene_02"], max_level=2)
    assert counting.bytes_read < 16 * 1024


def test_s3(plugin, df, s3_bucket):
    url = f"{s3_bucket['url']}/data.zarr"
    so = s3_bucket["storage_options"]
    write(sdata_with_points(df), url, storage_options=so, points_index=["transcripts"])
    _check(query_points(url, "transcripts", bbox=BOX, storage_options=so), df, BOX)
    loc = read(url, storage_options=so).location
    counting = CountingStore(loc.store)
    cloc = Location(store=counting, kind="fsspec", fs=CountingFS(loc.fs), root=loc.root, url=url)
    index = open_points_index(cloc, "transcripts")
    counting.bytes_read = 0
    got = index.query(BOX)
    _check(got, df, BOX)
    assert 0 < counting.bytes_read < 200 * 1024


def test_memory_store_and_counting(plugin, df):
    store = CountingStore(MemoryStore())
    write(sdata_with_points(df), store, points_index=True)
    back = read(store)
    assert back.points["transcripts"].attrs.get("points_index") is not None
    index = open_points_index(store, "transcripts")
    store.bytes_read = 0
    got = index.query(BOX, genes=["gene_03"])
    _check(got, df, BOX, ["gene_03"])
    assert store.bytes_read < 64 * 1024


def test_icechunk_repository(plugin, df, tmp_path):
    import icechunk  # in this package's test group: this test must run, not skip

    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "repo")))
    session = repo.writable_session("main")
    write(sdata_with_points(df), session.store, points_index=True)
    session.commit("points with index")
    ro = repo.readonly_session(branch="main")
    _check(query_points(ro.store, "transcripts", bbox=BOX, genes=["gene_04"]), df, BOX, ["gene_04"])


def test_rewrite_keeps_the_index(plugin, df, tmp_path):
    write(sdata_with_points(df), tmp_path / "a.zarr", points_index=True)
    back = read(tmp_path / "a.zarr")
    write(back, tmp_path / "b.zarr")  # the marker set at read rebuilds the index at the new place
    _check(query_points(str(tmp_path / "b.zarr"), "transcripts", bbox=BOX), df, BOX)


def test_build_on_a_stored_sdata_and_replace(plugin, df, tmp_path):
    path = tmp_path / "a.zarr"
    write(sdata_with_points(df), path)
    with pytest.raises(IndexNotFoundError):
        query_points(str(path), "transcripts", bbox=BOX)
    back = read(path)
    first = build_points_index(back, "transcripts", points_per_chunk=16, progress=False)
    second = build_points_index(back, "transcripts", points_per_chunk=128, progress=False)
    assert first.path != second.path
    versions = [k for k in os.listdir(path / "points" / "transcripts" / "points_index") if k.startswith("v-")]
    assert versions == [second.path.rsplit("/", 1)[-1]]  # the old version was removed after the switch
    _check(query_points(back, "transcripts", bbox=BOX), df, BOX)


def test_failed_build_keeps_the_previous_index(plugin, df, tmp_path, monkeypatch):
    from spatialdata_plugins.points_index import _build

    path = tmp_path / "a.zarr"
    write(sdata_with_points(df), path, points_index=True)
    before = query_points(str(path), "transcripts", bbox=BOX)

    def boom(*args, **kwargs):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(_build, "_write_version", boom)
    with pytest.raises(OSError, match="injected"):
        build_points_index(read(path), "transcripts", progress=False)
    after = query_points(str(path), "transcripts", bbox=BOX)
    assert after.equals(before)
    versions = [k for k in os.listdir(path / "points" / "transcripts" / "points_index") if k.startswith("v-")]
    assert len(versions) == 1
    # a failing index build fails the whole write, and the previous store stays readable
    with pytest.raises(ElementWriteError):
        write(
            read(path).points["transcripts"].compute().pipe(lambda d: sdata_with_points(d)),
            path,
            overwrite=True,
            points_index=True,
        )
    assert query_points(str(path), "transcripts", bbox=BOX).equals(before)


def test_stale_index_is_detected(plugin, df, tmp_path):
    import shutil

    import dask.dataframe as dd
    import spatialdata

    path = tmp_path / "a.zarr"
    write(sdata_with_points(df), path, points_index=True)
    # another tool rewrites the points (same rows, one value changed); the index beside them is untouched
    target = path / "points" / "transcripts" / "points.parquet"
    changed = df.copy()
    changed.loc[0, "x"] = float(df.x.iloc[1])
    shutil.rmtree(target)
    dd.from_pandas(changed, npartitions=2).to_parquet(str(target))
    with pytest.raises(StaleIndexError, match="rebuild"):
        query_points(str(path), "transcripts", bbox=BOX, verify="full")
    # fewer rows: the cheap default check (listing and parquet footers) sees it
    changed = changed.iloc[:-10]
    shutil.rmtree(target)
    dd.from_pandas(changed, npartitions=2).to_parquet(str(target))
    assert len(spatialdata.read_zarr(path).points["transcripts"]) == len(changed)
    with pytest.raises(StaleIndexError, match="rebuild"):
        query_points(str(path), "transcripts", bbox=BOX)
    # the stale check can be skipped knowingly, and a rebuild fixes it
    # (the stale index then answers from its own copy: the points as they were when it was built)
    stale = query_points(str(path), "transcripts", bbox=BOX, verify=False)
    _check(stale, df, BOX)
    np.testing.assert_array_equal(stale["x"].to_numpy(), df.loc[stale.index, "x"].to_numpy())
    build_points_index(read(path), "transcripts", progress=False)
    _check(query_points(str(path), "transcripts", bbox=BOX), changed, BOX)


def test_bounding_box_query_matches_spatialdata(plugin, df, tmp_path):
    import spatialdata
    from spatialdata.transformations import Affine, Scale, Sequence, Translation, set_transformation

    sdata = sdata_with_points(df)
    points = sdata.points["transcripts"]
    set_transformation(
        points, Sequence([Scale([2.0, 0.5], axes=("x", "y")), Translation([10, -5], axes=("x", "y"))]), "scaled"
    )
    theta = 0.3
    rot = Affine(
        np.array([[np.cos(theta), -np.sin(theta), 5], [np.sin(theta), np.cos(theta), 7], [0, 0, 1]]),
        input_axes=("x", "y"),
        output_axes=("x", "y"),
    )
    set_transformation(points, rot, "rotated")
    path = tmp_path / "t.zarr"
    write(sdata, path, points_index=True)
    back = read(path)
    for cs, lo, hi in (
        ("global", [300, 200], [420, 330]),
        ("scaled", [600, 100], [900, 250]),
        ("rotated", [200, 300], [500, 560]),
    ):
        ours = bounding_box_query(back, "transcripts", ("x", "y"), lo, hi, cs)
        ref = spatialdata.bounding_box_query(back.points["transcripts"], ("x", "y"), lo, hi, cs)
        assert sorted(ours.compute().index) == sorted(ref.compute().index)
        from spatialdata.transformations import get_transformation

        assert set(get_transformation(ours, get_all=True)) == {"global", "scaled", "rotated"}
    assert bounding_box_query(back, "transcripts", ("x", "y"), [5000, 5000], [6000, 6000]) is None


def test_points_written_in_parts_are_indexed_and_fingerprinted(plugin, df):
    """Points stored as several parquet parts (parquet-in-zarr version 2, written by parallel writers) get an
    index whose fingerprint covers every part: changing one part makes the index stale."""
    from spatialdata_plugins.core import write_points_part

    def parts_writer(group, partitions, schema, chunk_bytes):  # sequential here; icechunk runs it on workers
        return [
            write_points_part(group, f"parquet.{i}", [p.compute()], schema, chunk_bytes)
            for i, p in enumerate(partitions)
        ]

    store = MemoryStore()
    write(sdata_with_points(df), store, points_index=True, points_parts_writer=parts_writer)
    back = read(store)
    import zarr

    group = zarr.open_group(store, path="points/transcripts", mode="r")
    assert len(group.attrs["spatialdata_plugins"]["parts"]) == back.points["transcripts"].npartitions > 1
    index = open_points_index(store, "transcripts")
    _check(index.query(BOX, genes=["gene_03"]), df, BOX, ["gene_03"])
    # rewrite the last part with one row fewer: the index is stale, not silently used
    rw = zarr.open_group(store, path="points/transcripts", mode="r+")
    last = len(rw.attrs["spatialdata_plugins"]["parts"]) - 1
    frame = back.points["transcripts"].partitions[last].compute().iloc[:-1]
    from spatialdata_plugins.core import points_blob_schema

    del rw[f"parquet.{last}"]
    write_points_part(rw, f"parquet.{last}", [frame], points_blob_schema(frame), 256 * 1024)
    with pytest.raises(StaleIndexError):
        open_points_index(store, "transcripts")
