"""Transactions: one commit for many element changes, rollback on errors, in-place changes, every element type."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from spatialdata.models import ShapesModel
from spatialdata.testing import assert_elements_are_identical, assert_spatial_data_objects_are_identical
from spatialdata.transformations import Scale, get_transformation, set_transformation

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import ElementWriteError, SpatialData, hookimpl


def _tip(repo):
    return repo.lookup_branch("main")


def _names(sdata):
    return sorted(name for _, name, _ in sdata.gen_elements())


def test_write_and_read_back_every_element_type(filled_repo, small_sdata):
    back = sdi.read(filled_repo)
    assert_spatial_data_objects_are_identical(small_sdata, back)
    assert back.attrs == small_sdata.attrs
    assert back.location.extra["icechunk_snapshot"] == _tip(filled_repo)


def test_transaction_commits_adds_replacements_deletions_and_attrs_once(filled_repo, small_sdata):
    before = _tip(filled_repo)
    n_commits = len(sdi.log(filled_repo))
    sdata = sdi.read(filled_repo)
    new_cells = ShapesModel.parse(small_sdata["cells"].iloc[:3].copy())
    with sdi.transaction(sdata, filled_repo, message="segmentation v2", metadata={"run": 7}, progress=False) as tx:
        sdata["cells_subset"] = new_cells
        sdata["image"] = sdata["image"] * 2
        del sdata["regions"]
        sdata.attrs["step"] = "segmented"
    assert len(sdi.log(filled_repo)) == n_commits + 1
    assert tx.base_snapshot == before and tx.snapshot_id == _tip(filled_repo)
    assert (tx.changes.added, tx.changes.replaced, tx.changes.deleted) == (["cells_subset"], ["image"], ["regions"])
    head = sdi.log(filled_repo, limit=1)[0]
    assert head.message == "segmentation v2" and head.metadata["run"] == 7
    assert (head.added, head.replaced, head.deleted, head.attrs_changed) == (
        ["cells_subset"],
        ["image"],
        ["regions"],
        True,
    )
    back = sdi.read(filled_repo)
    assert_spatial_data_objects_are_identical(sdata, back)
    assert back.attrs["step"] == "segmented"
    np.testing.assert_allclose(back["image"].values, small_sdata["image"].values * 2)
    # the previous commit is still readable as it was
    assert_spatial_data_objects_are_identical(small_sdata, sdi.read(filled_repo, snapshot=before))


@pytest.mark.parametrize("name", ["image", "image_multiscale", "cell_labels", "transcripts", "cells", "table"])
def test_every_element_type_is_added_replaced_and_deleted(repo, small_sdata, name):
    element = small_sdata[name]
    sdata = SpatialData()
    with sdi.transaction(sdata, repo, message=f"add {name}", progress=False):
        sdata[name] = element
    assert_elements_are_identical(element, sdi.read(repo)[name])
    sdata = sdi.read(repo)
    with sdi.transaction(sdata, repo, message=f"replace {name}", progress=False) as tx:
        sdata[name] = small_sdata[name] if name != "cells" else ShapesModel.parse(small_sdata["cells"].iloc[:2].copy())
    assert tx.changes.replaced == [name]
    assert_elements_are_identical(sdata[name], sdi.read(repo)[name])
    with sdi.transaction(sdata, repo, message=f"delete {name}", progress=False) as tx:
        del sdata[name]
    assert tx.changes.deleted == [name]
    assert name not in sdi.read(repo)


def test_exception_inside_rolls_back_repository_and_object(filled_repo, small_sdata):
    before = _tip(filled_repo)
    sdata = sdi.read(filled_repo)
    elements = {name: el for _, name, el in sdata.gen_elements()}
    attrs = dict(sdata.attrs)
    with pytest.raises(RuntimeError, match="analysis crashed"):
        with sdi.transaction(sdata, filled_repo, message="never", progress=False):
            del sdata["cells"]
            sdata["image"] = sdata["image"] + 1
            sdata["extra"] = ShapesModel.parse(small_sdata["regions"].copy())
            sdata.attrs["half"] = "done"
            raise RuntimeError("analysis crashed")
    assert _tip(filled_repo) == before
    assert _names(sdata) == sorted(elements)
    assert all(sdata[name] is el for name, el in elements.items())
    assert dict(sdata.attrs) == attrs
    assert_spatial_data_objects_are_identical(small_sdata, sdi.read(filled_repo))


class _FailingWriter:
    """A plugin whose writer writes part of an element and then fails."""

    @hookimpl(tryfirst=True)
    def sdp_write_element(self, sdata, location, root, element_type, name, element, options):
        if name != "broken":
            return None
        group = root.require_group(element_type).require_group(name)
        group.create_array("debris", shape=(4,), dtype="uint8")[:] = 1
        raise OSError("disk full while writing 'broken'")


def test_failed_write_commits_nothing_and_leaves_no_debris(filled_repo, small_sdata, sdp_register):
    sdp_register(_FailingWriter(), name="failing-writer")
    before = _tip(filled_repo)
    sdata = sdi.read(filled_repo)
    with pytest.raises(ElementWriteError, match="disk full") as info:
        with sdi.transaction(sdata, filled_repo, message="fails", progress=False):
            sdata["broken"] = ShapesModel.parse(small_sdata["regions"].copy())
            del sdata["cells"]
    assert "nothing was committed" in str(info.value)
    assert _tip(filled_repo) == before
    assert "broken" not in sdata and "cells" in sdata
    # the next, successful transaction publishes no debris of the failed one
    with sdi.transaction(sdata, filled_repo, message="ok", progress=False):
        sdata.attrs["after"] = 1
    root = zarr.open_group(filled_repo.readonly_session(branch="main").store, mode="r")
    assert "broken" not in root["shapes"]
    small_sdata.attrs["after"] = 1
    assert_spatial_data_objects_are_identical(small_sdata, sdi.read(filled_repo))


def test_failed_write_names_the_element_and_says_nothing_was_committed(filled_repo):
    import dask.array as da
    from spatialdata.models import Image2DModel

    def fail(block):
        raise OSError("device error")  # a low-level error that does not say which element was written

    data = da.zeros((1, 16, 16), chunks=(1, 8, 8), dtype="float32").map_blocks(fail, dtype="float32")
    before = _tip(filled_repo)
    sdata = sdi.read(filled_repo)
    with pytest.raises(ElementWriteError, match="device error") as info:
        with sdi.transaction(sdata, filled_repo, message="fails", progress=False):
            sdata["unreadable"] = Image2DModel.parse(data, dims=("c", "y", "x"))
            del sdata["cells"]
    assert "images element 'unreadable'" in str(info.value) and "nothing was committed" in str(info.value)
    assert _tip(filled_repo) == before and "unreadable" not in sdata and "cells" in sdata


def test_invalid_element_is_refused_before_writing(filled_repo, small_sdata):
    before = _tip(filled_repo)
    sdata = sdi.read(filled_repo)
    with pytest.raises(ElementWriteError, match="'cells'"):
        with sdi.transaction(sdata, filled_repo, message="invalid", progress=False):
            sdata.shapes["cells"].attrs.pop("transform")  # no transformations: spatialdata refuses it
    assert _tip(filled_repo) == before


def test_in_place_changes_are_detected(filled_repo):
    sdata = sdi.read(filled_repo)
    with sdi.transaction(sdata, filled_repo, message="in place", progress=False) as tx:
        sdata["table"].obs["cluster"] = "a"
        sdata["cells"]["radius"] = sdata["cells"]["radius"] * 2
        set_transformation(sdata["image"], Scale([2.0, 2.0], axes=("x", "y")), to_coordinate_system="scaled")
    assert sorted(tx.changes.replaced) == ["cells", "image", "table"]
    back = sdi.read(filled_repo)
    assert (back["table"].obs["cluster"] == "a").all()
    np.testing.assert_allclose(back["cells"]["radius"], sdata["cells"]["radius"])
    assert isinstance(get_transformation(back["image"], "scaled"), Scale)


def test_nothing_changed_makes_no_commit(filled_repo):
    before = _tip(filled_repo)
    sdata = sdi.read(filled_repo)
    with sdi.transaction(sdata, filled_repo, message="noop", progress=False) as tx:
        _ = sdata["image"]
    assert tx.changes.empty and tx.snapshot_id is None and _tip(filled_repo) == before
    with sdi.transaction(sdata, filled_repo, message="empty on purpose", allow_empty=True, progress=False) as tx:
        pass
    assert tx.snapshot_id == _tip(filled_repo) != before


def test_lazy_element_read_from_the_repository_can_be_overwritten(filled_repo, small_sdata):
    sdata = sdi.read(filled_repo)
    with sdi.transaction(sdata, filled_repo, message="derive", progress=False):
        sdata["image"] = sdata["image"] + 10  # lazily reads the snapshot that is being replaced
        sdata["transcripts"] = sdata["transcripts"]  # same object: not rewritten
    np.testing.assert_allclose(sdi.read(filled_repo)["image"].values, small_sdata["image"].values + 10)


def test_transaction_on_a_writable_session(filled_repo):
    session = filled_repo.writable_session("main")
    sdata = sdi.read(filled_repo)
    with sdi.transaction(sdata, session, message="through a session", progress=False) as tx:
        del sdata["regions"]
    assert tx.snapshot_id == _tip(filled_repo)
    assert "regions" not in sdi.read(filled_repo)


def test_branch_transactions_leave_main_alone(filled_repo):
    main_tip = _tip(filled_repo)
    sdi.create_branch(filled_repo, "experiment")
    sdata = sdi.read(filled_repo, branch="experiment")
    with sdi.transaction(sdata, filled_repo, branch="experiment", message="try", progress=False):
        del sdata["cells"]
    assert _tip(filled_repo) == main_tip
    assert "cells" not in sdi.read(filled_repo, branch="experiment")
    assert "cells" in sdi.read(filled_repo, branch="main")
