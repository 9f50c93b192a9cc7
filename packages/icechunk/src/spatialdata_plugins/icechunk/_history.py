"""History of a SpatialData repository: commits, branches, tags, and differences by element."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import icechunk
import zarr

from spatialdata_plugins.core import InvalidArgumentError
from spatialdata_plugins.core import stored_elements as elements_on_disk
from spatialdata_plugins.icechunk._repo import (
    describe,
    open_repository,
    readonly_session,
    resolve_ref,
)
from spatialdata_plugins.icechunk._transaction import METADATA_KEY


@dataclass
class Commit:
    """One commit of a repository, as listed by :func:`log`.

    Attributes
    ----------
    id
        Snapshot id.
    parent_id
        Id of the parent snapshot (``None`` for the repository's first snapshot).
    time
        When it was written (UTC).
    message
        Commit message.
    added, replaced, deleted
        Element names changed by the commit.
    attrs_changed
        Whether the SpatialData attrs changed.
    metadata
        The commit's full metadata.
    refreshed
        Elements left as stored whose plugin parts (a points index) the commit stored again.
    """

    id: str
    parent_id: str | None
    time: dt.datetime
    message: str
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    attrs_changed: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    refreshed: list[str] = field(default_factory=list)

    @property
    def elements(self) -> list[str]:
        """Every element name the commit touched."""
        return sorted({*self.added, *self.replaced, *self.deleted, *self.refreshed})

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (time as ISO 8601)."""
        out = asdict(self)
        out["time"] = self.time.isoformat()
        return out


@dataclass
class ElementDiff:
    """Differences between two snapshots, by element (:func:`diff`).

    Attributes
    ----------
    a, b
        Snapshot ids compared (from ``a`` to ``b``).
    added
        Elements in ``b`` but not in ``a``.
    deleted
        Elements in ``a`` but not in ``b``.
    modified
        Elements in both whose data or metadata differ.
    attrs_changed
        Whether the SpatialData attrs differ.
    element_types
        ``{name: element_type}`` of every element listed.
    """

    a: str
    b: str
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    attrs_changed: bool = False
    element_types: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether the snapshots hold the same SpatialData."""
        return not (self.added or self.deleted or self.modified or self.attrs_changed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return asdict(self)


def _metadata(info: icechunk.SnapshotInfo) -> dict[str, Any]:
    try:
        return dict(info.metadata)
    except (TypeError, ValueError):
        return {}


def log(
    repo: Any,
    *,
    branch: str | None = None,
    tag: str | None = None,
    snapshot: str | None = None,
    limit: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[Commit]:
    """List the commits leading to a branch tip (default ``main``), tag or snapshot, newest first.

    Which elements a commit changed comes from the metadata that :func:`transaction` and :func:`write` store; for
    commits made by other tools it is computed from icechunk's diff against the parent.

    Parameters
    ----------
    repo
        Repository, path or URL.
    branch, tag, snapshot
        At most one; ``branch="main"`` when none is given.
    limit
        At most this many commits.
    storage_options
        S3 options when ``repo`` is a URL.

    Returns
    -------
    list of Commit
        Newest first.
    """
    repo = open_repository(repo, storage_options=storage_options)
    session = readonly_session(repo, branch=branch, tag=tag, snapshot=snapshot)
    out: list[Commit] = []
    for info in repo.ancestry(snapshot_id=session.snapshot_id):
        if limit is not None and len(out) >= limit:
            break
        meta = _metadata(info)
        commit = Commit(
            id=info.id,
            parent_id=info.parent_id,
            time=info.written_at,
            message=info.message,
            metadata=meta,
        )
        block = meta.get(METADATA_KEY)
        if isinstance(block, dict) and "added" in block:
            commit.added = list(block.get("added", []))
            commit.replaced = list(block.get("replaced", []))
            commit.deleted = list(block.get("deleted", []))
            commit.attrs_changed = bool(block.get("attrs_changed", False))
            commit.refreshed = list(block.get("refreshed", []))
        elif info.parent_id is not None and not (isinstance(block, dict) and block.get("initialise")):
            d = diff(repo, info.parent_id, info.id)
            commit.added, commit.deleted, commit.replaced = d.added, d.deleted, d.modified
            commit.attrs_changed = d.attrs_changed
        out.append(commit)
    return out


def _elements_at(repo: icechunk.Repository, snapshot_id: str) -> tuple[dict[str, str], dict[str, Any]]:
    session = repo.readonly_session(snapshot_id=snapshot_id)
    try:
        root = zarr.open_group(session.store, mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        return {}, {}
    attrs = root.attrs.asdict()
    attrs.pop("spatialdata_attrs", None)
    return elements_on_disk(root), attrs


def _touched(d: icechunk.Diff) -> tuple[set[str], bool]:
    """Element names touched by an icechunk diff, and whether the root group changed."""
    paths: set[str] = set()
    for attr in ("new_groups", "new_arrays", "deleted_groups", "deleted_arrays", "updated_groups", "updated_arrays"):
        paths |= {str(p) for p in getattr(d, attr)}
    paths |= {str(p) for p in d.updated_chunks}
    for pair in getattr(d, "moved_nodes", []) or []:
        paths |= {str(p) for p in pair}
    names = set()
    root_changed = False
    for path in paths:
        parts = [p for p in path.split("/") if p]
        if not parts:
            root_changed = True
        elif len(parts) >= 2:
            names.add(parts[1])
    return names, root_changed


def _ancestors(repo: icechunk.Repository, snapshot_id: str) -> list[str]:
    return [info.id for info in repo.ancestry(snapshot_id=snapshot_id)]


def diff(repo: Any, a: str, b: str, *, storage_options: dict[str, Any] | None = None) -> ElementDiff:
    """Compare two versions of a repository element by element.

    Parameters
    ----------
    repo
        Repository, path or URL.
    a, b
        Branch names, tag names or snapshot ids (tried in that order); the diff goes from ``a`` to ``b``. The two
        need not be on one line of history: for diverged branches both are compared with their common ancestor.
    storage_options
        S3 options when ``repo`` is a URL.

    Returns
    -------
    ElementDiff
        Added, deleted and modified elements, and whether the attrs changed.

    Raises
    ------
    RefNotFoundError
        ``a`` or ``b`` is no branch, tag or snapshot.
    """
    repo = open_repository(repo, storage_options=storage_options)
    sa, sb = resolve_ref(repo, a), resolve_ref(repo, b)
    elements_a, attrs_a = _elements_at(repo, sa)
    elements_b, attrs_b = _elements_at(repo, sb)
    out = ElementDiff(a=sa, b=sb)
    out.added = sorted(set(elements_b) - set(elements_a))
    out.deleted = sorted(set(elements_a) - set(elements_b))
    out.attrs_changed = attrs_a != attrs_b
    out.element_types = {n: elements_b.get(n) or elements_a[n] for n in {*elements_a, *elements_b}}
    if sa == sb:
        return out
    touched: set[str] = set()
    ancestors_b = _ancestors(repo, sb)
    if sa in ancestors_b:
        touched, _ = _touched(repo.diff(from_snapshot_id=sa, to_snapshot_id=sb))
    else:
        ancestors_a = _ancestors(repo, sa)
        if sb in ancestors_a:
            touched, _ = _touched(repo.diff(from_snapshot_id=sb, to_snapshot_id=sa))
        else:
            common = next((s for s in ancestors_a if s in set(ancestors_b)), None)
            if common is None:  # pragma: no cover - every snapshot descends from the repository's first one
                raise InvalidArgumentError(f"snapshots {sa} and {sb} share no history")
            touched = _touched(repo.diff(from_snapshot_id=common, to_snapshot_id=sa))[0]
            touched |= _touched(repo.diff(from_snapshot_id=common, to_snapshot_id=sb))[0]
    out.modified = sorted(n for n in touched if n in elements_a and n in elements_b and elements_a[n] == elements_b[n])
    # an element that changed type under the same name is reported as modified too
    out.modified = sorted(
        {*out.modified, *(n for n in elements_a if n in elements_b and elements_a[n] != elements_b[n])}
    )
    return out


def _source(repo: icechunk.Repository, branch: str | None, tag: str | None, snapshot: str | None) -> str:
    given = [v for v in (branch, tag, snapshot) if v is not None]
    if len(given) > 1:
        raise InvalidArgumentError("give at most one of branch, tag, snapshot as the starting point")
    return readonly_session(repo, branch=branch, tag=tag, snapshot=snapshot).snapshot_id


def create_branch(
    repo: Any,
    name: str,
    *,
    branch: str | None = None,
    tag: str | None = None,
    snapshot: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Create branch ``name`` at a branch tip (default ``main``), a tag or a snapshot; return its snapshot id.

    Raises
    ------
    InvalidArgumentError
        A branch of that name exists already, or the name is empty.
    RefNotFoundError
        The starting point does not exist.
    """
    repo = open_repository(repo, storage_options=storage_options)
    if not name or not isinstance(name, str):
        raise InvalidArgumentError("give the new branch a name")
    if name in repo.list_branches():
        raise InvalidArgumentError(f"branch {name!r} already exists in {describe(repo)}")
    snapshot_id = _source(repo, branch, tag, snapshot)
    repo.create_branch(name, snapshot_id)
    return snapshot_id


def create_tag(
    repo: Any,
    name: str,
    *,
    branch: str | None = None,
    tag: str | None = None,
    snapshot: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Tag a branch tip (default ``main``), another tag or a snapshot as ``name``; return the snapshot id.

    Raises
    ------
    InvalidArgumentError
        A tag of that name exists already (tags never move), or the name is empty.
    RefNotFoundError
        The starting point does not exist.
    """
    repo = open_repository(repo, storage_options=storage_options)
    if not name or not isinstance(name, str):
        raise InvalidArgumentError("give the tag a name")
    if name in repo.list_tags():
        raise InvalidArgumentError(f"tag {name!r} already exists in {describe(repo)}; tags never move")
    snapshot_id = _source(repo, branch, tag, snapshot)
    try:
        repo.create_tag(name, snapshot_id)
    except icechunk.IcechunkError as exc:  # a tag deleted earlier cannot be re-created
        raise InvalidArgumentError(f"cannot create tag {name!r}: {exc}") from exc
    return snapshot_id


def list_branches(repo: Any, *, storage_options: dict[str, Any] | None = None) -> dict[str, str]:
    """``{branch: tip snapshot id}``."""
    repo = open_repository(repo, storage_options=storage_options)
    return {name: repo.lookup_branch(name) for name in sorted(repo.list_branches())}


def list_tags(repo: Any, *, storage_options: dict[str, Any] | None = None) -> dict[str, str]:
    """``{tag: snapshot id}``."""
    repo = open_repository(repo, storage_options=storage_options)
    return {name: repo.lookup_tag(name) for name in sorted(repo.list_tags())}
