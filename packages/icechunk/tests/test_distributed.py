"""Dask-backed images, labels and points written by a ``dask.distributed`` cluster through fork/merge, one commit."""

from __future__ import annotations

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import zarr
from spatialdata.models import Image2DModel, Labels2DModel, PointsModel
from spatialdata.testing import assert_elements_are_identical

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import InvalidArgumentError, SpatialData

# the points below have a shuffled index on purpose (it must come back as written)
pytestmark = pytest.mark.filterwarnings("ignore:The index of the dataframe is not monotonic:UserWarning")


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _dask_elements():
    rng = da.random.RandomState(3)
    pixels = rng.random((2, 300, 260), chunks=(1, 128, 128)).astype("float32")
    labels = (rng.random((300, 260), chunks=(100, 100)) * 50).astype("int32")
    points = PointsModel.parse(
        __import__("dask.dataframe", fromlist=["from_pandas"]).from_pandas(
            __import__("pandas").DataFrame({"x": np.arange(1000.0), "y": np.arange(1000.0)[::-1]}), npartitions=4
        )
    )
    return {
        "image": Image2DModel.parse(pixels, dims=("c", "y", "x"), chunks=(1, 128, 128)),
        "pyramid": Image2DModel.parse(pixels, dims=("c", "y", "x"), scale_factors=[2, 2], chunks=(1, 64, 64)),
        "labels": Labels2DModel.parse(labels, dims=("y", "x")),
        "points": points,
    }


def test_distributed_fork_merge_write_is_one_commit(client, repo):
    elements = _dask_elements()
    before = len(sdi.log(repo))
    sdata = SpatialData()
    with sdi.transaction(sdata, repo, message="cluster write", progress=False) as tx:
        for name, element in elements.items():
            sdata[name] = element
    assert tx.forked_elements == ["image", "pyramid", "labels", "points"]  # all of them went through fork/merge
    assert tx.forks_merged >= 4  # one per raster, at least one for the points partitions
    assert len(sdi.log(repo)) == before + 1
    back = sdi.read(repo)
    for name, element in elements.items():
        assert_elements_are_identical(element, back[name])
    # the workers really ran the writes: the cluster ran icechunk's change-set tasks
    prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any("ice-changeset" in p for p in prefixes), prefixes
    assert any("write_points_part_in_fork" in p or "write-points-part-in-fork" in p for p in prefixes), prefixes


def test_failed_distributed_write_commits_nothing(client, repo):
    def explode(block):
        raise ValueError("a worker failed")

    bad = Image2DModel.parse(
        da.zeros((1, 256, 256), chunks=(1, 128, 128), dtype="float32").map_blocks(explode, dtype="float32"),
        dims=("c", "y", "x"),
    )
    tip = repo.lookup_branch("main")
    sdata = SpatialData()
    with pytest.raises(Exception, match="a worker failed"):
        with sdi.transaction(sdata, repo, message="fails on a worker", progress=False):
            sdata["good"] = _dask_elements()["labels"]
            sdata["bad"] = bad
    assert repo.lookup_branch("main") == tip
    assert len(sdata.labels) == 0 and len(sdata.images) == 0


def test_fork_mode_without_a_cluster(repo):
    element = _dask_elements()["image"]
    sdata = SpatialData()
    with sdi.transaction(sdata, repo, message="threads", parallel="fork", progress=False) as tx:
        sdata["image"] = element
    assert tx.forks_merged == 1
    assert_elements_are_identical(element, sdi.read(repo)["image"])

    # points: direct (one parquet file, version 1) or one part per partition in fork mode (threads, no cluster)
    points = _multi_partition_points(1_000, 3)
    with sdi.transaction(sdata, repo, message="points direct", parallel="direct", progress=False) as tx:
        sdata["points"] = points
    assert tx.forked_elements == [] and _points_block(repo, "points")["version"] == 1
    sdata = sdi.read(repo)
    with sdi.transaction(sdata, repo, message="points forked", parallel="fork", progress=False) as tx:
        sdata["points"] = _multi_partition_points(2_000, 4, seed=1)
    assert tx.forked_elements == ["points"]
    block = _points_block(repo, "points")
    assert block["version"] == 2 and len(block["parts"]) == 4
    group = zarr.open_group(repo.readonly_session("main").store, mode="r")["points/points"]
    assert sorted(group.array_keys()) == ["parquet.0", "parquet.1", "parquet.2", "parquet.3"]  # v1 array removed
    _assert_points_equal(sdi.read(repo)["points"], _multi_partition_points(2_000, 4, seed=1))
    with pytest.raises(InvalidArgumentError, match="parallel must be"):
        sdi.transaction(sdata, repo, message="bad mode", parallel="sometimes")


def _multi_partition_points(n: int, npartitions: int, seed: int = 0) -> dd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.uniform(0, 500, n),
            "y": rng.uniform(0, 500, n),
            "gene": pd.Categorical(rng.choice(["Cd4", "Actb", "Gapdh"], n), categories=["Gapdh", "Cd4", "Actb"]),
            "count": rng.integers(0, 9, n).astype("int16"),
        },
        index=pd.Index(rng.permutation(n) + 7, dtype="int64"),
    )
    return PointsModel.parse(dd.from_pandas(frame, npartitions=npartitions, sort=False), feature_key="gene")


def _points_block(repo, name):
    group = zarr.open_group(repo.readonly_session("main").store, mode="r")["points"][name]
    return group.attrs["spatialdata_plugins"]


def _assert_points_equal(got, expected):
    got_frame, expected_frame = got.compute(), expected.compute()
    pd.testing.assert_frame_equal(got_frame, expected_frame)  # values, index, dtypes (category order too)
    assert list(got["gene"].cat.categories) == ["Gapdh", "Cd4", "Actb"] and got["gene"].cat.known
    assert got.attrs["spatialdata_attrs"] == expected.attrs["spatialdata_attrs"]


@pytest.fixture(scope="module")
def process_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_points_through_forks_on_a_process_cluster(process_client, repo):
    """Workers in other processes write the partitions into pickled forks; the client merges them: one commit."""
    from distributed import get_client

    assert get_client() is process_client
    points = _multi_partition_points(12_000, 6)
    labels = _dask_elements()["labels"]
    before = repo.lookup_branch("main")
    sdata = SpatialData()
    with sdi.transaction(sdata, repo, message="points and labels on a cluster", progress=False) as tx:
        sdata["transcripts"] = points
        sdata["cells"] = labels
    assert sorted(tx.forked_elements) == ["cells", "transcripts"]
    assert tx.forks_merged == 6 + 1  # every partition came back from a worker process as its own change set
    log = sdi.log(repo, limit=2)
    assert log[0].id == tx.snapshot_id and log[0].parent_id == before  # one commit
    block = _points_block(repo, "transcripts")
    assert block["version"] == 2 and [p["rows"] for p in block["parts"]] == [2_000] * 6
    back = sdi.read(repo)
    assert back["transcripts"].npartitions == 6
    _assert_points_equal(back["transcripts"], points)
    assert_elements_are_identical(labels, back["cells"])
    prefixes = process_client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any("write_points_part_in_fork" in p or "write-points-part-in-fork" in p for p in prefixes), prefixes


def test_failed_points_partition_on_a_worker_commits_nothing(process_client, filled_repo):
    def explode(frame):
        if len(frame) and frame["x"].min() >= 0:
            raise ValueError("a partition failed on a worker")
        return frame

    points = _multi_partition_points(3_000, 3)
    bad = points.map_partitions(explode, meta=points._meta)
    bad.attrs.update(points.attrs)  # PointsModel.parse would compute the partitions (and fail) already
    tip = filled_repo.lookup_branch("main")
    sdata = sdi.read(filled_repo)
    original = sdata["transcripts"]
    with pytest.raises(Exception, match="a partition failed on a worker"):
        with sdi.transaction(sdata, filled_repo, message="fails on a worker", progress=False):
            sdata["transcripts"] = bad  # replaces the stored points: the old ones must survive
            sdata["cells_copy"] = sdata["cells"]
    assert filled_repo.lookup_branch("main") == tip
    assert sdata["transcripts"] is original and "cells_copy" not in sdata
    back = sdi.read(filled_repo)
    assert "cells_copy" not in back
    pd.testing.assert_frame_equal(back["transcripts"].compute(), original.compute())


@pytest.mark.s3
def test_points_and_image_through_forks_on_s3(process_client, s3_bucket):
    """Worker processes write into forks of a session on S3 (the moto server): the pickled forks reach the bucket."""
    from distributed import get_client

    assert get_client() is process_client  # the writes below go to worker processes
    options = s3_bucket["storage_options"]
    url = f"{s3_bucket['url']}/forks.icechunk"
    repo = sdi.open_repository(url, create=True, storage_options=options)
    points = _multi_partition_points(3_000, 3)
    image = _dask_elements()["image"]
    sdata = SpatialData()
    with sdi.transaction(sdata, repo, message="s3 forks", progress=False) as tx:
        sdata["transcripts"] = points
        sdata["image"] = image
    assert sorted(tx.forked_elements) == ["image", "transcripts"]
    back = sdi.read(url, storage_options=options)
    _assert_points_equal(back["transcripts"], points)
    assert_elements_are_identical(image, back["image"])
