"""Concurrent transactions adding elements of one type under different names both commit (issue item 3).

Labels are the hard case: OME-NGFF keeps the list of labels in the attributes of the ``labels`` group, which both
commits change; the transaction then writes its changes again on the new tip, where the list holds both.
"""

from __future__ import annotations

import threading
from typing import Any

import anndata
import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
import zarr
from shapely.geometry import Point
from spatialdata.models import Image2DModel, Labels2DModel, PointsModel, ShapesModel, TableModel

import spatialdata_plugins.icechunk as sdi


def _element(kind: str, value: int) -> Any:
    if kind == "labels":
        return Labels2DModel.parse(np.full((24, 24), value, dtype="int32"), dims=("y", "x"))
    if kind == "images":
        return Image2DModel.parse(np.full((1, 16, 16), value, dtype="float32"), dims=("c", "y", "x"))
    if kind == "points":
        frame = pd.DataFrame({"x": np.arange(5.0) + value, "y": np.arange(5.0)})
        return PointsModel.parse(dd.from_pandas(frame, npartitions=1))
    if kind == "shapes":
        return ShapesModel.parse(gpd.GeoDataFrame({"radius": [1.0 + value]}, geometry=[Point(value, value)]))
    return TableModel.parse(anndata.AnnData(X=np.full((3, 2), value, dtype="float32")))


def _labels_list(repo) -> list[str]:
    root = zarr.open_group(repo.readonly_session("main").store, mode="r")
    return list(root["labels"].attrs["ome"]["labels"])


class _Held:
    """A transaction opened on the current tip in a thread, kept open until :meth:`finish`."""

    def __init__(self, repo, change, **tx_kwargs) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.tx: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(repo, change), kwargs=tx_kwargs)
        self.thread.start()
        assert self.entered.wait(60)

    def _run(self, repo, change, **tx_kwargs) -> None:
        sdata = sdi.read(repo)
        try:
            with sdi.transaction(sdata, repo, message="held", progress=False, **tx_kwargs) as tx:
                self.tx = tx
                change(sdata)
                self.entered.set()
                self.release.wait(60)
        except BaseException as exc:
            self.error = exc
        finally:
            self.entered.set()

    def finish(self) -> None:
        self.release.set()
        self.thread.join(120)
        assert not self.thread.is_alive()


def _commit(repo, message: str, change) -> str:
    sdata = sdi.read(repo)
    with sdi.transaction(sdata, repo, message=message, progress=False) as tx:
        change(sdata)
    return tx.snapshot_id


def test_concurrent_labels_additions_both_commit(filled_repo):
    base = filled_repo.lookup_branch("main")
    held = _Held(filled_repo, lambda s: s.__setitem__("a", _element("labels", 1)))
    other = _commit(filled_repo, "add b", lambda s: s.__setitem__("b", _element("labels", 2)))
    held.finish()
    assert held.error is None, held.error
    assert held.tx.replays == 1  # the labels list collided: written again on the tip
    log = sdi.log(filled_repo, limit=3)
    assert [c.id for c in log[:2]] == [held.tx.snapshot_id, other] and log[1].parent_id == base
    assert log[0].added == ["a"]
    back = sdi.read(filled_repo)
    assert int(back["a"].values.max()) == 1 and int(back["b"].values.max()) == 2
    assert "cell_labels" in back.labels
    assert sorted(_labels_list(filled_repo)) == ["a", "b", "cell_labels"]  # the union, each name once


def test_concurrent_additions_of_other_types_both_commit(filled_repo):
    kinds = ["images", "points", "shapes", "tables"]

    def add(suffix: str, value: int):
        def change(sdata) -> None:
            for kind in kinds:
                sdata[f"{kind}_{suffix}"] = _element(kind, value)

        return change

    held = _Held(filled_repo, add("a", 1))
    other = _commit(filled_repo, "add b", add("b", 2))
    held.finish()
    assert held.error is None, held.error
    assert held.tx.replays == 0  # no shared metadata: icechunk's rebase alone
    assert sdi.log(filled_repo, limit=2)[1].id == other
    back = sdi.read(filled_repo)
    for kind in kinds:
        assert f"{kind}_a" in back and f"{kind}_b" in back, kind
    assert float(back["images_a"].values.max()) == 1.0 and float(back["images_b"].values.max()) == 2.0


def test_labels_deletion_and_concurrent_addition_both_commit(filled_repo):
    held = _Held(filled_repo, lambda s: s.__delitem__("cell_labels"))
    _commit(filled_repo, "add b", lambda s: s.__setitem__("b", _element("labels", 2)))
    held.finish()
    assert held.error is None, held.error
    back = sdi.read(filled_repo)
    assert "cell_labels" not in back and "b" in back
    assert _labels_list(filled_repo) == ["b"]  # the deleted name leaves the list


def test_replaced_labels_are_listed_once(filled_repo):
    _commit(filled_repo, "replace", lambda s: s.__setitem__("cell_labels", _element("labels", 4)))
    assert _labels_list(filled_repo) == ["cell_labels"]


def test_same_labels_name_added_twice_conflicts_and_nothing_is_lost(filled_repo):
    held = _Held(filled_repo, lambda s: s.__setitem__("a", _element("labels", 1)))
    other = _commit(filled_repo, "add a too", lambda s: s.__setitem__("a", _element("labels", 2)))
    held.finish()
    assert isinstance(held.error, sdi.TransactionConflictError), held.error
    assert "a" in held.error.elements and "a" in held.error.pending["written"]
    assert filled_repo.lookup_branch("main") == other
    assert int(sdi.read(filled_repo)["a"].values.max()) == 2  # the other commit is kept
    assert _labels_list(filled_repo).count("a") == 1


def test_replay_refused_when_a_later_commit_touched_the_same_element(filled_repo):
    """The rebase stops at the first conflicting commit (labels list only); a later one wrote the same name."""
    held = _Held(filled_repo, lambda s: s.__setitem__("a", _element("labels", 1)))
    _commit(filled_repo, "add b", lambda s: s.__setitem__("b", _element("labels", 2)))
    last = _commit(filled_repo, "add a", lambda s: s.__setitem__("a", _element("labels", 3)))
    held.finish()
    assert isinstance(held.error, sdi.TransactionConflictError), held.error
    assert held.tx.replays == 0 and held.error.elements == ["a"]  # found in the history, not in the rebase's report
    assert filled_repo.lookup_branch("main") == last
    assert int(sdi.read(filled_repo)["a"].values.max()) == 3


def test_rebase_false_never_replays(filled_repo):
    held = _Held(filled_repo, lambda s: s.__setitem__("a", _element("labels", 1)), rebase=False)
    other = _commit(filled_repo, "add b", lambda s: s.__setitem__("b", _element("labels", 2)))
    held.finish()
    assert isinstance(held.error, sdi.TransactionConflictError)
    assert filled_repo.lookup_branch("main") == other
