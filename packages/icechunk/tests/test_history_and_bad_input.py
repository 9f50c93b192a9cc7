"""History (log, branches, tags, time travel, diff) and bad input: clear errors, nothing written."""

from __future__ import annotations

import os

import pytest
import zarr
from spatialdata.testing import assert_spatial_data_objects_are_identical

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import InvalidArgumentError, SpatialData, SpatialDataPluginError, StoreExistsError


def _commit(repo, message, change):
    sdata = sdi.read(repo)
    with sdi.transaction(sdata, repo, message=message, progress=False) as tx:
        change(sdata)
    return tx.snapshot_id


def test_log_branches_tags_and_time_travel(filled_repo, small_sdata):
    first = filled_repo.lookup_branch("main")
    assert sdi.create_tag(filled_repo, "v1") == first
    second = _commit(filled_repo, "drop regions", lambda s: s.__delitem__("regions"))
    sdi.create_branch(filled_repo, "old", tag="v1")
    log = sdi.log(filled_repo)
    assert [c.message for c in log[:2]] == ["drop regions", "initial data"]
    assert log[0].id == second and log[0].parent_id == first and log[0].deleted == ["regions"]
    assert log[1].added == sorted(n for _, n, _ in small_sdata.gen_elements())
    assert [c.id for c in sdi.log(filled_repo, tag="v1", limit=1)] == [first]
    assert sdi.list_tags(filled_repo) == {"v1": first}
    assert sdi.list_branches(filled_repo) == {"main": second, "old": first}
    for kwargs in ({"tag": "v1"}, {"snapshot": first}, {"branch": "old"}):
        assert_spatial_data_objects_are_identical(small_sdata, sdi.read(filled_repo, **kwargs))
    assert "regions" not in sdi.read(filled_repo, branch="main")


def test_diff_by_element_linear_reverse_and_diverged(filled_repo):
    base = filled_repo.lookup_branch("main")
    sdi.create_branch(filled_repo, "side")
    _commit(filled_repo, "main work", lambda s: (s.__delitem__("regions"), s.attrs.update(k=1)))
    side = sdi.read(filled_repo, branch="side")
    with sdi.transaction(side, filled_repo, branch="side", message="side work", progress=False):
        side["image"] = side["image"] * 3
        side["cells_copy"] = side["cells"].copy()
    d = sdi.diff(filled_repo, base, "main")
    assert (d.added, d.deleted, d.modified, d.attrs_changed) == ([], ["regions"], [], True)
    back = sdi.diff(filled_repo, "main", base)
    assert (back.added, back.deleted) == (["regions"], [])
    diverged = sdi.diff(filled_repo, "main", "side")
    assert diverged.added == ["cells_copy", "regions"]
    assert diverged.modified == ["image"] and diverged.attrs_changed
    assert diverged.element_types["image"] == "images"
    assert sdi.diff(filled_repo, "main", "main").empty


def test_log_of_commits_made_without_the_plugin(filled_repo):
    session = filled_repo.writable_session("main")
    root = zarr.open_group(session.store, mode="r+")
    del root["shapes"]["regions"]
    session.commit("plain icechunk commit")
    head = sdi.log(filled_repo, limit=1)[0]
    assert head.message == "plain icechunk commit" and head.deleted == ["regions"]


def _tree(root):
    """Every file under ``root`` with its content."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def test_not_a_repository(tmp_path, small_sdata):
    missing = tmp_path / "missing.icechunk"
    with pytest.raises(sdi.NotARepositoryError, match="create=True"):
        sdi.open_repository(missing)
    with pytest.raises(FileNotFoundError):  # the builtin still catches it
        sdi.read(str(missing))
    assert not missing.exists()
    plain = tmp_path / "plain.zarr"
    from spatialdata_plugins.core import write

    write(small_sdata, plain, progress=False)
    before = _tree(plain)
    with pytest.raises(sdi.NotARepositoryError, match="exists but is not an icechunk repository"):
        sdi.open_repository(plain)
    with pytest.raises(sdi.NotARepositoryError, match="must be empty"):
        sdi.open_repository(plain, create=True)
    assert _tree(plain) == before  # untouched: same files, same bytes
    from spatialdata_plugins.core import read

    assert_spatial_data_objects_are_identical(small_sdata, read(plain))  # still a spatialdata store
    with pytest.raises(InvalidArgumentError, match="unsupported URL"):
        sdi.open_repository("gs://bucket/x")
    with pytest.raises(InvalidArgumentError, match="icechunk"):
        sdi.open_repository(42)


def test_unknown_refs(filled_repo):
    with pytest.raises(sdi.RefNotFoundError, match="no branch 'nope'.*branches: \\['main'\\]"):
        sdi.read(filled_repo, branch="nope")
    with pytest.raises(sdi.RefNotFoundError, match="no tag 'v9'"):
        sdi.read(filled_repo, tag="v9")
    with pytest.raises(sdi.RefNotFoundError, match="no snapshot"):
        sdi.read(filled_repo, snapshot="1234567890ABCDEFGHJK")
    with pytest.raises(KeyError):
        sdi.read(filled_repo, snapshot="not-an-id")
    with pytest.raises(sdi.RefNotFoundError, match="'nope' is no branch"):
        sdi.diff(filled_repo, "main", "nope")
    with pytest.raises(sdi.RefNotFoundError):
        sdi.log(filled_repo, tag="nope")
    with pytest.raises(sdi.RefNotFoundError):
        sdi.create_branch(filled_repo, "x", tag="nope")
    with pytest.raises(InvalidArgumentError, match="at most one"):
        sdi.read(filled_repo, branch="main", tag="v1")
    before = sdi.list_branches(filled_repo)
    with pytest.raises(sdi.RefNotFoundError, match="no branch 'nope'"):
        with sdi.transaction(SpatialData(), filled_repo, branch="nope", message="x"):
            pytest.fail("the block must not run")
    assert sdi.list_branches(filled_repo) == before


def test_existing_refs_are_not_moved(filled_repo):
    sdi.create_tag(filled_repo, "v1")
    with pytest.raises(InvalidArgumentError, match="tags never move"):
        sdi.create_tag(filled_repo, "v1")
    with pytest.raises(InvalidArgumentError, match="already exists"):
        sdi.create_branch(filled_repo, "main")


def test_transaction_on_read_only_session(filled_repo):
    tip = filled_repo.lookup_branch("main")
    for session in (filled_repo.readonly_session(branch="main"), filled_repo.readonly_session(snapshot_id=tip)):
        with pytest.raises(sdi.ReadOnlySessionError, match="read-only"):
            sdi.transaction(sdi.read(filled_repo), session, message="x")
    assert filled_repo.lookup_branch("main") == tip


def test_nested_transactions_on_the_same_repository(filled_repo, repo_path):
    tip = filled_repo.lookup_branch("main")
    sdata = sdi.read(filled_repo)
    other = sdi.open_repository(repo_path)  # a second object on the same storage counts as the same repository
    with pytest.raises(sdi.NestedTransactionError, match="already open"):
        with sdi.transaction(sdata, filled_repo, message="outer", progress=False):
            del sdata["regions"]
            with sdi.transaction(sdata, other, message="inner", progress=False):
                pass
    assert filled_repo.lookup_branch("main") == tip and "regions" in sdata
    with sdi.transaction(sdata, filled_repo, message="after", progress=False):  # the lock was released
        del sdata["regions"]
    assert filled_repo.lookup_branch("main") != tip


def test_nested_transaction_given_a_session_of_the_same_repository(filled_repo):
    tip = filled_repo.lookup_branch("main")
    sdata = sdi.read(filled_repo)
    session = filled_repo.writable_session("main")
    with pytest.raises(sdi.NestedTransactionError, match="already open"):
        with sdi.transaction(sdata, filled_repo, message="outer", progress=False):
            del sdata["regions"]
            with sdi.transaction(sdata, session, message="inner", progress=False):
                del sdata["cells"]
    assert filled_repo.lookup_branch("main") == tip and "regions" in sdata and "cells" in sdata
    with pytest.raises(sdi.NestedTransactionError, match="already open"):  # the other way round
        with sdi.transaction(sdata, filled_repo.writable_session("main"), message="outer", progress=False):
            del sdata["regions"]
            with sdi.transaction(sdata, filled_repo, message="inner", progress=False):
                del sdata["cells"]
    assert filled_repo.lookup_branch("main") == tip and "regions" in sdata and "cells" in sdata
    with sdi.transaction(sdata, session, message="after", progress=False):  # the locks were released
        del sdata["regions"]
    assert filled_repo.lookup_branch("main") != tip


def test_transaction_commits_to_the_branch_sdata_was_read_from(filled_repo):
    main_tip = filled_repo.lookup_branch("main")
    sdi.create_branch(filled_repo, "dev")
    sdata = sdi.read(filled_repo, branch="dev")
    with sdi.transaction(sdata, filled_repo, message="on dev", progress=False) as tx:
        del sdata["regions"]
    assert tx.branch == "dev" and filled_repo.lookup_branch("dev") == tx.snapshot_id
    assert filled_repo.lookup_branch("main") == main_tip  # main is not touched by a change made on dev data
    with sdi.transaction(sdata, filled_repo, message="again on dev", progress=False) as tx:  # still dev after commit
        del sdata["cells"]
    assert filled_repo.lookup_branch("dev") == tx.snapshot_id and filled_repo.lookup_branch("main") == main_tip
    assert "regions" in sdi.read(filled_repo) and "regions" not in sdi.read(filled_repo, branch="dev")
    with sdi.transaction(sdata, filled_repo, message="explicit", branch="main", progress=False) as tx:
        sdata.attrs["explicit"] = True
    assert filled_repo.lookup_branch("main") == tx.snapshot_id


def test_bad_arguments(filled_repo, small_sdata):
    with pytest.raises(InvalidArgumentError, match="message"):
        sdi.transaction(small_sdata, filled_repo, message="")
    with pytest.raises(InvalidArgumentError, match="SpatialData"):
        sdi.transaction({"a": 1}, filled_repo, message="x")
    with pytest.raises(StoreExistsError, match="overwrite=True"):
        sdi.write(small_sdata, filled_repo)
    with pytest.raises(InvalidArgumentError, match="unknown S3 storage option"):
        sdi.open_repository("s3://bucket/x", storage_options={"colour": "red"})
    assert issubclass(sdi.TransactionConflictError, SpatialDataPluginError)


def test_write_overwrite_replaces_everything_in_one_commit(filled_repo, small_sdata):
    smaller = SpatialData(shapes={"cells": small_sdata["cells"]}, attrs={"only": "cells"})
    sdi.write(smaller, filled_repo, overwrite=True, message="replace all", progress=False)
    back = sdi.read(filled_repo)
    assert_spatial_data_objects_are_identical(smaller, back)
    head = sdi.log(filled_repo, limit=1)[0]
    assert head.replaced == ["cells"] and "image" in head.deleted
