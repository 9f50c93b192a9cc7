"""Dask-backed images and labels written by a ``dask.distributed`` cluster through fork/merge sessions, one commit."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from spatialdata.models import Image2DModel, Labels2DModel, PointsModel
from spatialdata.testing import assert_elements_are_identical

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import InvalidArgumentError, SpatialData


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
    assert tx.forks_merged == 3  # image, pyramid and labels went through fork/merge
    assert len(sdi.log(repo)) == before + 1
    back = sdi.read(repo)
    for name, element in elements.items():
        assert_elements_are_identical(element, back[name])
    # the workers really ran the writes: the cluster ran icechunk's change-set tasks
    prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any("ice-changeset" in p for p in prefixes), prefixes


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
    with pytest.raises(InvalidArgumentError, match="parallel must be"):
        sdi.transaction(sdata, repo, message="bad mode", parallel="sometimes")
