"""``transaction``: all-or-nothing, multi-element SpatialData writes as one icechunk commit."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

import icechunk
import spatialdata
import zarr
from dask.base import tokenize

from spatialdata_plugins.core import (
    ELEMENT_TYPES,
    ElementWriteError,
    InvalidArgumentError,
    SpatialData,
    Update,
    apply_update,
    elements_and_attached,
    stored_elements,
    validate_elements,
)
from spatialdata_plugins.core import write as core_write
from spatialdata_plugins.icechunk._errors import NestedTransactionError, TransactionConflictError
from spatialdata_plugins.icechunk._io import session_location
from spatialdata_plugins.icechunk._parallel import IcechunkForkBackend
from spatialdata_plugins.icechunk._repo import (
    DEFAULT_BRANCH,
    describe,
    open_repository,
    repo_key,
    require_writable,
    writable_session,
)

METADATA_KEY = "spatialdata_plugins"

_active = threading.local()
_ICECHUNK_FIRST_SNAPSHOT = "1CECHNKREP0F1RSTCMT0"  # every icechunk repository starts with this id
MAX_REPLAYS = 3
# conflicts that, on a container group (``/labels``...), only mean both commits added or removed elements in it
_MERGEABLE = (icechunk.ConflictType.ZarrMetadataDoubleUpdate, icechunk.ConflictType.NewNodeConflictsWithExistingNode)


def _active_keys() -> set[str]:
    keys = getattr(_active, "keys", None)
    if keys is None:
        keys = _active.keys = set()
    return keys


#: ``attrs`` keys of a points dataframe that spatialdata stores (the transformations and ``spatialdata_attrs``).
_STORED_FRAME_ATTRS = ("transform", "spatialdata_attrs")


def _fingerprint(element: Any) -> str:
    """A cheap token that changes when an element is modified in place (data, columns, transformations).

    Dask-backed data is identified by its graph name (no data is read); in-memory frames and arrays are hashed.
    """
    from anndata import AnnData

    try:
        if isinstance(element, AnnData):
            return tokenize(
                element.X,
                element.obs,
                element.var,
                dict(element.obsm),
                dict(element.layers),
                dict(element.varm),
                repr(element.uns),
            )
        if hasattr(element, "geometry"):  # GeoDataFrame: hash geometry as WKB plus the other columns
            import shapely

            rest = element.drop(columns=element.geometry.name)
            return tokenize(shapely.to_wkb(element.geometry.values), rest, repr(element.attrs))
        if hasattr(element, "children") and hasattr(element, "subtree"):  # DataTree
            return tokenize(
                [
                    (node.path, {k: (v.data, repr(v.attrs)) for k, v in node.ds.data_vars.items()})
                    for node in element.subtree
                ]
            )
        if hasattr(element, "dims") and hasattr(element, "data"):  # DataArray
            return tokenize(element.data, repr(element.attrs), {k: element.coords[k].values for k in element.coords})
        # dask DataFrame: its graph name, and the attrs that are stored with it (transformations, feature and
        # instance keys); other keys (a plugin's in-memory marker) are not stored and need no rewrite
        attrs = getattr(element, "attrs", None) or {}
        return tokenize(element, repr({k: attrs.get(k) for k in _STORED_FRAME_ATTRS}))
    except Exception:  # an unhashable exotic attribute: fall back to identity only
        return f"id-{id(element)}"


@dataclass
class Changes:
    """What a transaction changed.

    Attributes
    ----------
    added
        Names of new elements.
    replaced
        Names of elements that were replaced or modified in place.
    deleted
        Names of removed elements.
    attrs_changed
        Whether ``SpatialData.attrs`` changed.
    element_types
        ``{name: element_type}`` of the added and replaced elements (and of the deleted ones, as they were).
    refreshed
        Names of elements left as stored whose plugin parts were stored again (a points index built on them).
    """

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    attrs_changed: bool = False
    element_types: dict[str, str] = field(default_factory=dict)
    refreshed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether nothing changed."""
        return not (self.added or self.replaced or self.deleted or self.attrs_changed or self.refreshed)

    @property
    def elements(self) -> list[str]:
        """Every element name touched, sorted."""
        return sorted({*self.added, *self.replaced, *self.deleted, *self.refreshed})

    def as_metadata(self) -> dict[str, Any]:
        """The JSON block stored in the commit metadata under ``"spatialdata_plugins"``."""
        return {
            "added": sorted(self.added),
            "replaced": sorted(self.replaced),
            "deleted": sorted(self.deleted),
            "attrs_changed": self.attrs_changed,
            "element_types": dict(sorted(self.element_types.items())),
            "refreshed": sorted(self.refreshed),
        }


def _state(sdata: spatialdata.SpatialData) -> dict[str, tuple[str | None, Any, str]]:
    """``{name: (element_type, object, token)}``; attached objects (lazy links) have type ``None``.

    An attached object is identified by the object itself: attaching another one under its name is a replacement,
    and accessing it (which loads its data) changes nothing that is stored.
    """
    return {
        name: (element_type, obj, _fingerprint(obj) if element_type is not None else f"attached-{id(obj)}")
        for element_type, name, obj in elements_and_attached(sdata)
    }


def _stored_type(element_type: str | None, obj: Any) -> str:
    """The element type recorded in the commit metadata (an attached object's own, when it declares one)."""
    return element_type or str(getattr(obj, "element_type", None) or "attached")


def _repository_of(sdata: spatialdata.SpatialData) -> icechunk.Repository | None:
    """The repository ``sdata`` was read from or last committed to, if any."""
    extra = getattr(getattr(sdata, "location", None), "extra", None) or {}
    repo = extra.get("icechunk_repository")
    return repo if isinstance(repo, icechunk.Repository) else None


class Transaction:
    """All-or-nothing changes to a SpatialData on an icechunk branch; use it through :func:`transaction`.

    Attributes
    ----------
    repo
        The repository.
    branch
        The branch committed to.
    session
        The writable session (created on entry, on the branch tip).
    base_snapshot
        Snapshot id of the branch tip when the transaction started.
    snapshot_id
        Id of the commit made on exit (``None`` before exit, or when nothing changed).
    changes
        The :class:`Changes` found on exit.
    forks_merged
        How many fork change sets were merged (dask-backed rasters and points under ``dask.distributed``): one per
        raster element, one per points partition.
    forked_elements
        Names of the elements written through fork/merge.
    replays
        How many times the changes were written again on a newer branch tip because a concurrent commit only
        collided on element-container metadata (see :func:`transaction`, ``rebase``).
    """

    def __init__(
        self,
        sdata: spatialdata.SpatialData,
        repo: Any = None,
        *,
        message: str | None = None,
        branch: str | None = None,
        metadata: dict[str, Any] | None = None,
        rebase: bool = True,
        parallel: str = "auto",
        allow_empty: bool = False,
        progress: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        **write_options: Any,
    ) -> None:
        if not isinstance(sdata, spatialdata.SpatialData):
            raise InvalidArgumentError(f"transaction() needs a spatialdata.SpatialData, got {type(sdata).__name__}")
        if message is not None and (not isinstance(message, str) or not message.strip()):
            raise InvalidArgumentError("the commit message must be a non-empty string (or leave it out)")
        if repo is None:
            repo = _repository_of(sdata)
            if repo is None:
                raise InvalidArgumentError(
                    "this SpatialData was not read from (or committed to) an icechunk repository: pass the "
                    "repository, transaction(sdata, repo), or read it with spatialdata_plugins.icechunk.read(repo)"
                )
        self.sdata = sdata
        self._given_session: icechunk.Session | None = None
        if isinstance(repo, icechunk.Session):
            require_writable(repo)
            if branch is not None and branch != repo.branch:
                raise InvalidArgumentError(f"the session is on branch {repo.branch!r}, not {branch!r}")
            self._given_session = repo
            self.repo: icechunk.Repository | None = None
            self.branch = repo.branch
        else:
            self.repo = open_repository(repo, storage_options=storage_options)
            self.branch = branch or _branch_read_from(sdata, self.repo) or DEFAULT_BRANCH
        if parallel not in ("auto", "fork", "direct"):
            raise InvalidArgumentError(f"parallel must be 'auto', 'fork' or 'direct', got {parallel!r}")
        self.message = message or ""
        self._default_message = message is None
        self.metadata = dict(metadata or {})
        self.rebase = rebase
        self.parallel = parallel
        self.allow_empty = allow_empty
        self.progress = progress
        self.write_options = write_options
        self.session: icechunk.Session | None = None
        self.base_snapshot: str | None = None
        self.snapshot_id: str | None = None
        self.changes: Changes | None = None
        self.forks_merged = 0
        self.forked_elements: list[str] = []
        self.replays = 0
        self._keys: list[str] = []
        self._before: dict[str, tuple[str | None, Any, str]] = {}
        self._attrs_before: dict[str, Any] = {}
        self._previous_transaction: Any = None

    # -------------------------------------------------------------------------------------------- context

    def __enter__(self) -> Transaction:
        session = self._given_session
        keys = _active_keys()
        if session is None:
            assert self.repo is not None
            repo_id = repo_key(self.repo)
            if repo_id in keys:
                raise self._nested_error()
            session = writable_session(self.repo, self.branch)
        else:
            repo_id = None
        # a session does not tell which repository it belongs to: identify the branch state it starts from too, so
        # that a session of a repository with an open transaction (or the reverse) counts as nested. Ids are random,
        # except the fixed first snapshot of every icechunk repository, which identifies nothing.
        state_id = None
        if session.snapshot_id != _ICECHUNK_FIRST_SNAPSHOT:
            state_id = f"state-{session.branch}@{session.snapshot_id}"
            if state_id in keys:
                raise self._nested_error()
        self._keys = [k for k in (repo_id, state_id, f"session-{id(session)}") if k is not None]
        if self._keys[-1] in keys:
            raise self._nested_error()
        self.session = session
        self.base_snapshot = session.snapshot_id
        self._before = _state(self.sdata)
        self._attrs_before = copy.deepcopy(dict(self.sdata.attrs))
        keys.update(self._keys)
        if isinstance(self.sdata, SpatialData):
            # operations that store something beside an element (a points index) on this read-only snapshot
            # defer their work to this transaction (SpatialData.request_write)
            self._previous_transaction = self.sdata.open_transaction
            self.sdata.open_transaction = self
            self.sdata.take_requested_writes()
        return self

    def _nested_error(self) -> NestedTransactionError:
        return NestedTransactionError(
            f"a transaction on {self._where()} is already open in this thread; nested transactions on the same "
            "repository are not supported: make the changes in the outer transaction"
        )

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        try:
            if exc is not None:
                self._rollback_sdata()
                self._discard()
                return False
            self._commit()
            return False
        finally:
            _active_keys().difference_update(self._keys)
            self._keys = []
            if isinstance(self.sdata, SpatialData):
                self.sdata.open_transaction = self._previous_transaction

    # -------------------------------------------------------------------------------------------- internals

    def _where(self) -> str:
        return describe(self.repo) if self.repo is not None else "this icechunk session"

    def _diff(self) -> tuple[Changes, Update]:
        after = _state(self.sdata)
        requested = self.sdata.take_requested_writes() if isinstance(self.sdata, SpatialData) else set()
        refresh = self.sdata.take_requested_refreshes() if isinstance(self.sdata, SpatialData) else set()
        changes = Changes()
        update = Update()
        for name, (element_type, obj, token) in after.items():
            old = self._before.get(name)
            if old is None:
                changes.added.append(name)
            elif old[1] is not obj or old[0] != element_type or old[2] != token or name in requested:
                changes.replaced.append(name)
            else:
                continue
            update.writes.append((element_type, name, obj))
            changes.element_types[name] = _stored_type(element_type, obj)
        for name, (element_type, obj, _) in self._before.items():
            if name not in after:
                changes.deleted.append(name)
                update.deletes.append(name)
                changes.element_types[name] = _stored_type(element_type, obj)
        # left as stored, only the plugins' parts stored again (SpatialData.request_write(name, rewrite=False))
        for name in sorted(refresh - update.written - update.deleted):
            if name in after:
                changes.refreshed.append(name)
                update.refreshes.append(name)
        changes.attrs_changed = tokenize(self._attrs_before) != tokenize(dict(self.sdata.attrs))
        update.attrs = dict(self.sdata.attrs) if changes.attrs_changed else None
        return changes, update

    def _commit(self) -> None:
        assert self.session is not None
        changes, update = self._diff()
        self.changes = changes
        if self._default_message:
            self.message = _describe_changes(changes)
        if changes.empty and not self.allow_empty:
            self._discard()
            return
        try:
            validate_elements(update.writes)
            backend = self._apply(update)
            self.forks_merged = backend.forks_merged
            self.forked_elements = list(backend.forked_elements)
            metadata = {**self.metadata, METADATA_KEY: changes.as_metadata()}
            # never commit after an error: a failed write can leave debris in the session
            self.snapshot_id = self._do_commit(metadata, changes, update)
        except BaseException as exc:
            self._rollback_sdata()
            self._discard()
            if isinstance(exc, Exception) and not isinstance(exc, TransactionConflictError):
                raise ElementWriteError(
                    f"transaction {self.message!r} on {self._where()} failed, nothing was committed "
                    f"(branch {self.branch!r} stays at {self.base_snapshot}): {exc}"
                ) from exc
            raise
        self._point_sdata_at_commit()

    def _do_commit(self, metadata: dict[str, Any], changes: Changes, update: Update) -> str:
        assert self.session is not None
        while True:
            try:
                if self.rebase:
                    return self.session.commit(
                        self.message,
                        metadata=metadata,
                        rebase_with=icechunk.ConflictDetector(),
                        allow_empty=self.allow_empty,
                    )
                return self.session.commit(self.message, metadata=metadata, allow_empty=self.allow_empty)
            except (icechunk.RebaseFailedError, icechunk.ConflictError) as exc:
                replayable, overlap = self._replayable(exc, changes)
                if replayable:
                    self._replay(update)
                    continue
                conflicting = overlap or _conflicting_elements(exc) or changes.elements
                pending = {
                    "written": {name: element for _, name, element in update.writes},
                    "deleted": list(changes.deleted),
                    "attrs": update.attrs,
                }
                how = "" if self.rebase else " (rebase=False: any concurrent commit conflicts)"
                raise TransactionConflictError(
                    f"transaction {self.message!r} conflicts with a commit made to branch {self.branch!r} of "
                    f"{self._where()} since it started{how}: both changed {conflicting}. Nothing of this transaction "
                    "was committed and the other commit is kept; read the branch again and re-apply the changes "
                    "(they are in this error's .pending)",
                    elements=conflicting,
                    pending=pending,
                ) from exc

    def _replayable(self, exc: BaseException, changes: Changes) -> tuple[bool, list[str]]:
        """Whether a failed rebase only collided on element-container metadata (e.g. both added labels).

        True when every conflict icechunk reports is on a container group (``/labels``, ``/images``...) and no
        commit since the transaction started touched an element this transaction changes, nor the root
        attributes if this transaction changes them (checked on the whole history since the start, not only on
        the commit the rebase stopped at). Also returns the elements both changed, found that way.
        """
        conflicts = list(getattr(exc, "conflicts", None) or [])
        if (
            not self.rebase
            or self.repo is None
            or self._given_session is not None
            or self.replays >= MAX_REPLAYS
            or not isinstance(exc, icechunk.RebaseFailedError)
            or not conflicts
        ):
            return False, []
        if not all(
            str(getattr(c, "path", "")).strip("/") in ELEMENT_TYPES and any(c.conflict_type == t for t in _MERGEABLE)
            for c in conflicts
        ):
            return False, []
        from spatialdata_plugins.icechunk._history import _touched

        tip = self.repo.lookup_branch(self.branch)
        touched, root_changed = _touched(self.repo.diff(from_snapshot_id=self.base_snapshot, to_snapshot_id=tip))
        overlap = sorted(touched & set(changes.elements))
        if root_changed and changes.attrs_changed:
            overlap.append("attrs")
        return not overlap, overlap

    def _replay(self, update: Update) -> None:
        """Write the same changes again into a new session on the branch tip (container metadata is merged there).

        spatialdata's writers add each new labels element to the OME-NGFF ``labels`` list they find on the tip, and
        the core's incremental update keeps that list equal to the labels stored
        (:func:`~spatialdata_plugins.core.sync_labels_list`), so the other commit's additions and this one's end up
        in the list together.
        """
        assert self.repo is not None and self.session is not None
        try:
            self.session.discard_changes()
        except icechunk.IcechunkError:
            pass
        self.session = writable_session(self.repo, self.branch)
        backend = self._apply(update)
        self.forks_merged += backend.forks_merged
        self.replays += 1

    def _apply(self, update: Update) -> IcechunkForkBackend:
        """Write the transaction's update into its session through the core's write pipeline (no commit here)."""
        assert self.session is not None
        backend = IcechunkForkBackend(self.session, self.parallel)
        location = session_location(self.session, self.repo, owned=True)
        options = {**self.write_options, "parallel_backend": backend, "progress": self.progress}
        apply_update(location, self.sdata, update, options=options, progress=self.progress)
        return backend

    def _discard(self) -> None:
        if self.session is not None and self._given_session is None:
            try:
                self.session.discard_changes()
            except icechunk.IcechunkError:
                pass

    def _rollback_sdata(self) -> None:
        """Put back the elements, attached objects and attrs ``sdata`` held when the transaction started."""
        sdata = self.sdata
        for name, (element_type, obj, _) in _state(sdata).items():
            old = self._before.get(name)
            if old is not None and old[0] == element_type and old[1] is obj:
                continue
            if element_type is None:
                sdata.detach(name)  # type: ignore[attr-defined]
            else:
                del getattr(sdata, element_type)[name]
        now = _state(sdata)
        for name, (element_type, obj, _) in self._before.items():
            if name in now:
                continue
            if element_type is None:
                sdata.attach(obj, name)  # type: ignore[attr-defined]
            else:
                getattr(sdata, element_type)[name] = obj
        sdata.attrs = copy.deepcopy(self._attrs_before)

    def _point_sdata_at_commit(self) -> None:
        from spatialdata_plugins.core import SpatialData as CoreSpatialData

        if self.snapshot_id is None or not isinstance(self.sdata, CoreSpatialData) or self.repo is None:
            return
        session = self.repo.readonly_session(snapshot_id=self.snapshot_id)
        location = session_location(session, self.repo)
        location.extra["icechunk_snapshot"] = self.snapshot_id
        location.extra["icechunk_branch"] = self.branch
        self.sdata.location = location


def _branch_read_from(sdata: spatialdata.SpatialData, repo: icechunk.Repository) -> str | None:
    """The branch ``sdata`` was read from (or last committed to) if that was on ``repo``, else ``None``."""
    extra = getattr(getattr(sdata, "location", None), "extra", None) or {}
    source = extra.get("icechunk_repository")
    branch = extra.get("icechunk_branch")
    if branch and isinstance(source, icechunk.Repository) and repo_key(source) == repo_key(repo):
        return str(branch)
    return None


def _describe_changes(changes: Changes) -> str:
    """A commit message listing what changed (used when the transaction was given none)."""
    parts = [
        f"{verb} {', '.join(sorted(names))}"
        for verb, names in (
            ("add", changes.added),
            ("replace", changes.replaced),
            ("delete", changes.deleted),
            ("refresh", changes.refreshed),
        )
        if names
    ]
    if changes.attrs_changed:
        parts.append("update attrs")
    return "; ".join(parts) or "no changes"


def _conflicting_elements(exc: BaseException) -> list[str]:
    names: set[str] = set()
    for conflict in getattr(exc, "conflicts", None) or []:
        path = getattr(conflict, "path", "") or ""
        parts = [p for p in str(path).split("/") if p]
        if len(parts) >= 2:
            names.add(parts[1])
        elif parts:
            names.add(f"{parts[0]} (group metadata)")  # e.g. the list of labels OME-NGFF keeps on the labels group
        else:
            names.add("attrs")
    return sorted(names)


def transaction(
    sdata: spatialdata.SpatialData,
    repo: Any = None,
    *,
    message: str | None = None,
    branch: str | None = None,
    metadata: dict[str, Any] | None = None,
    rebase: bool = True,
    parallel: str = "auto",
    allow_empty: bool = False,
    progress: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    **write_options: Any,
) -> Transaction:
    """Make element adds, replacements, deletions and attrs changes on ``sdata`` one icechunk commit.

    Inside the ``with`` block change ``sdata`` as usual (``sdata["cells"] = shapes``, ``del sdata["old"]``,
    ``sdata.attach(link)`` for a lazy link,
    ``sdata.attrs["step"] = 2``, in-place changes of in-memory tables and shapes). On normal exit the changes are
    found by comparing every element (identity and a content token) and the attrs with their state on entry, written
    into a writable session and committed once, with ``message`` and metadata listing what changed. If the block
    raises, or writing fails, nothing is committed, the branch stays where it was and ``sdata`` gets back the
    elements and attrs it had on entry (in-place edits of an element object are not undone: the repository never
    sees them).

    Everything is written through the core's write pipeline (:func:`spatialdata_plugins.core.apply_update`), so
    every plugin's write hooks run as in a full write: lazy links stay links, a points index requested inside the
    block (``build_points_index(sdata, name)`` on the read-only snapshot) is built and committed with the rest.

    Parameters
    ----------
    sdata
        The SpatialData to change, typically from :func:`read` on the same branch.
    repo
        An :class:`icechunk.Repository`, a path or URL (opened with :func:`open_repository`), or a writable
        :class:`icechunk.Session` (the transaction commits it). Default: the repository ``sdata`` was read from
        with :func:`read` (or last committed to); required only for an object that has none.
    message
        Commit message. Default: a list of what changed (``"add cells; delete old"``).
    branch
        Branch to commit to. Default: the branch ``sdata`` was read from with :func:`read` on this repository (a
        SpatialData read from ``branch="dev"`` commits to ``dev``), else ``"main"``.
    metadata
        Extra JSON commit metadata; the plugin adds ``{"spatialdata_plugins": {"added", "replaced", "deleted",
        "attrs_changed", "element_types"}}``.
    rebase
        If another writer committed to the branch meanwhile, rebase onto it when the two commits touch different
        elements (icechunk's ``ConflictDetector``); same elements (or both the attrs) raise
        :class:`TransactionConflictError`. When the only collision is on the metadata of an element container
        (both added labels, whose OME-NGFF list lives in the ``labels`` group), the changes are written again on
        the new tip, where the list holds both (up to 3 times; ``tx.replays`` counts them). ``rebase=False``
        refuses any concurrent commit.
    parallel
        ``"auto"`` (default): dask-backed images, labels and points are written through fork/merge sessions
        when a ``dask.distributed`` client is active (points then as parquet-in-zarr version 2, one parquet file
        per partition); ``"fork"`` always, ``"direct"`` never.
    allow_empty
        Commit even when nothing changed.
    progress
        Progress bar over the elements written; ``None``: only on a terminal, ``False``: off.
    storage_options
        S3 options when ``repo`` is a URL.
    **write_options
        Writer options passed to the element write hooks (``raster_compressor``, ``chunk_bytes``...).

    Returns
    -------
    Transaction
        The context manager; after exit ``tx.snapshot_id`` is the new commit and ``tx.changes`` what changed.

    Raises
    ------
    NestedTransactionError
        A transaction on the same repository is already open in this thread.
    ReadOnlySessionError
        ``repo`` is a read-only session.
    RefNotFoundError
        ``branch`` does not exist.
    TransactionConflictError
        A concurrent commit changed the same elements (on exit; nothing committed).
    ElementWriteError
        An element is invalid or could not be written (on exit; nothing committed).

    Examples
    --------
    >>> import spatialdata_plugins.icechunk as sdi  # doctest: +SKIP
    >>> sdata = sdi.read("analysis.icechunk")  # doctest: +SKIP
    >>> with sdi.transaction(sdata) as tx:  # doctest: +SKIP
    ...     sdata["cells"] = shapes
    ...     del sdata["old_cells"]
    >>> tx.snapshot_id  # doctest: +SKIP
    """
    return Transaction(
        sdata,
        repo,
        message=message,
        branch=branch,
        metadata=metadata,
        rebase=rebase,
        parallel=parallel,
        allow_empty=allow_empty,
        progress=progress,
        storage_options=storage_options,
        **write_options,
    )


def write(
    sdata: spatialdata.SpatialData,
    repo: Any,
    *,
    message: str = "Write SpatialData",
    branch: str | None = None,
    overwrite: bool = False,
    metadata: dict[str, Any] | None = None,
    parallel: str = "auto",
    progress: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    **write_options: Any,
) -> str:
    """Write a whole SpatialData to a branch as one commit (all or nothing).

    Parameters
    ----------
    sdata
        The object to write.
    repo
        Repository, path or URL (see :func:`open_repository`; a missing local repository is created).
    message
        Commit message.
    branch
        Branch (default ``"main"``).
    overwrite
        Replace the elements already on the branch; without it a branch holding elements raises
        :class:`~spatialdata_plugins.core.StoreExistsError`.
    metadata
        Extra commit metadata.
    parallel
        See :func:`transaction`.
    progress
        Progress bar; ``None``: only on a terminal.
    storage_options
        S3 options when ``repo`` is a URL.
    **write_options
        Writer options for the element write hooks.

    Returns
    -------
    str
        The snapshot id of the commit.
    """
    from spatialdata_plugins.core import StoreExistsError, update_of

    repo = open_repository(repo, create=True, storage_options=storage_options)
    branch = branch or DEFAULT_BRANCH
    session = writable_session(repo, branch)
    location = session_location(session, repo, owned=True)
    try:
        stored = stored_elements(zarr.open_group(session.store, mode="r"))
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        stored = {}
    if stored and not overwrite:
        raise StoreExistsError(
            f"branch {branch!r} of {describe(repo)} already holds elements {sorted(stored)}; pass overwrite=True "
            "to replace them, or use transaction() to change some of them"
        )
    update = update_of(sdata)
    written = {name: _stored_type(t, obj) for t, name, obj in update.writes}
    changes = Changes(
        added=[n for n in written if n not in stored],
        replaced=[n for n in written if n in stored],
        deleted=[n for n in stored if n not in written],
        attrs_changed=True,
        element_types={**stored, **written},
    )
    location.commit_message = message
    location.commit_metadata = {**(metadata or {}), METADATA_KEY: changes.as_metadata()}
    backend = IcechunkForkBackend(session, parallel)
    try:
        core_write(sdata, location, overwrite=True, progress=progress, parallel_backend=backend, **write_options)
    finally:
        if location.owned:  # not committed: drop whatever the failed write left in the session
            location.discard()
    return str(location.extra["icechunk_snapshot"])
