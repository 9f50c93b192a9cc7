"""Concurrent transactions (rebase or a clear conflict), and the same on S3 (the moto server of the core fixtures)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import zarr
from spatialdata.testing import assert_spatial_data_objects_are_identical

import spatialdata_plugins.icechunk as sdi


def _race(repo, first_change, second_change, **tx_kwargs):
    """Two threads open transactions on the same tip; the second commits while the first is still open."""
    started, second_done = threading.Barrier(2), threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        sdata = sdi.read(repo)
        try:
            with sdi.transaction(sdata, repo, message="first", progress=False, **tx_kwargs) as tx:
                started.wait()
                first_change(sdata)
                second_done.wait(60)
            results["first"] = tx.snapshot_id
        except Exception as exc:
            results["first"] = exc

    def second() -> None:
        sdata = sdi.read(repo)
        try:
            with sdi.transaction(sdata, repo, message="second", progress=False, **tx_kwargs) as tx:
                started.wait()
                second_change(sdata)
            results["second"] = tx.snapshot_id
        except Exception as exc:
            results["second"] = exc
        finally:
            second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def _check_disjoint_rebase(repo, small_sdata):
    base = repo.lookup_branch("main")
    results = _race(repo, lambda s: s.__delitem__("regions"), lambda s: s.__setitem__("image", s["image"] * 2))
    assert isinstance(results["first"], str) and isinstance(results["second"], str), results
    log = sdi.log(repo, limit=3)
    assert [c.message for c in log[:2]] == ["first", "second"]
    assert log[1].parent_id == base and log[0].parent_id == log[1].id  # rebased on top of the other
    back = sdi.read(repo)
    assert "regions" not in back
    np.testing.assert_allclose(back["image"].values, small_sdata["image"].values * 2)


def _check_same_element_conflict(repo, small_sdata):
    results = _race(
        repo, lambda s: s.__setitem__("image", s["image"] + 1), lambda s: s.__setitem__("image", s["image"] * 5)
    )
    assert isinstance(results["second"], str)
    error = results["first"]
    assert isinstance(error, sdi.TransactionConflictError), error
    assert error.elements == ["image"] and "image" in error.pending["written"]
    assert "conflicts" in str(error) and "'image'" in str(error)
    head = sdi.log(repo, limit=1)[0]
    assert head.message == "second"  # the other commit is kept, nothing of the first one landed
    np.testing.assert_allclose(sdi.read(repo)["image"].values, small_sdata["image"].values * 5)


def test_disjoint_transactions_both_commit(filled_repo, small_sdata):
    _check_disjoint_rebase(filled_repo, small_sdata)


def test_same_element_conflicts_and_nothing_is_lost(filled_repo, small_sdata):
    _check_same_element_conflict(filled_repo, small_sdata)


def test_rebase_off_refuses_any_concurrent_commit(filled_repo):
    results = _race(filled_repo, lambda s: s.__delitem__("regions"), lambda s: s.__delitem__("cells"), rebase=False)
    assert isinstance(results["second"], str)
    assert isinstance(results["first"], sdi.TransactionConflictError)
    assert "rebase=False" in str(results["first"])
    assert "regions" in sdi.read(filled_repo)


@pytest.mark.s3
def test_s3_repository_round_trip_and_concurrency(s3_bucket, small_sdata):
    url = f"{s3_bucket['url']}/analysis.icechunk"
    options = s3_bucket["storage_options"]  # fsspec-style names, translated for icechunk
    with pytest.raises(sdi.NotARepositoryError):
        sdi.open_repository(url, storage_options=options)
    repo = sdi.open_repository(url, create=True, storage_options=options)
    sdi.write(small_sdata, repo, message="initial data", progress=False)
    assert_spatial_data_objects_are_identical(small_sdata, sdi.read(url, storage_options=options))
    # moto honours the conditional writes (If-Match / If-None-Match) icechunk's commits rely on: a stale commit
    # is detected and rebased, and a real conflict is refused
    _check_disjoint_rebase(repo, small_sdata)
    small_sdata["image"] = small_sdata["image"] * 2
    _check_same_element_conflict(repo, small_sdata)
    _check_concurrent_labels_additions(repo)
    sdi.create_tag(repo, "published")
    assert sdi.list_tags(url, storage_options=options) == {"published": repo.lookup_branch("main")}
    explicit = {
        "endpoint_url": options["endpoint_url"],
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "region": "us-east-1",
    }
    assert sdi.log(url, storage_options=explicit, limit=1)[0].message == "first"  # the labels race


def _check_concurrent_labels_additions(repo):
    # OME-NGFF lists the labels in the attributes of the labels group, which both change: the first transaction
    # is written again on the tip, where the list holds both (more cases in test_concurrent_additions.py)
    results = _race(
        repo,
        lambda s: s.__setitem__("labels_a", s["cell_labels"].copy()),
        lambda s: s.__setitem__("labels_b", s["cell_labels"].copy()),
    )
    assert isinstance(results["second"], str) and isinstance(results["first"], str), results
    back = sdi.read(repo)
    assert "labels_a" in back and "labels_b" in back
    listed = zarr.open_group(repo.readonly_session("main").store, mode="r")["labels"].attrs["ome"]["labels"]
    assert sorted(listed) == sorted(back.labels)


def test_concurrent_labels_additions_both_commit(filled_repo):
    _check_concurrent_labels_additions(filled_repo)
