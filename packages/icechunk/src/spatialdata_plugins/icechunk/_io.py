"""Reading SpatialData from an icechunk snapshot, and writing element changes into a writable session."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import dask
import icechunk
import zarr

from spatialdata_plugins.core import ElementWriteError, Location
from spatialdata_plugins.core import read as core_read
from spatialdata_plugins.icechunk._parallel import IcechunkForkBackend, is_dask_raster, scale_arrays, zeros_placeholder
from spatialdata_plugins.icechunk._repo import describe, open_repository, readonly_session

SESSION_KEY = "icechunk_session"


@dataclass
class IcechunkLocation(Location):
    """An icechunk session as a core :class:`~spatialdata_plugins.core.Location` (a key-value zarr store).

    A session the plugin opened itself (``owned``) is *transactional*: it is its own staging area, the core's write
    pipeline writes into it in place, :meth:`publish` is the commit and :meth:`discard` drops every change. A
    session the user passed is theirs to commit: the core then stages a replacement elsewhere and copies it in, as
    for any key-value store.
    """

    owned: bool = False
    commit_message: str = "Write SpatialData"
    commit_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self) -> icechunk.Session:
        """The session."""
        return self.extra[SESSION_KEY]

    @property
    def repository(self) -> icechunk.Repository | None:
        """The repository, when known."""
        return self.extra.get("icechunk_repository")

    @property
    def transactional(self) -> bool:
        """Whether this location commits (and discards) its own session."""
        return self.owned

    @property
    def writable(self) -> bool:
        """Whether the session accepts writes."""
        return not self.session.read_only

    def identity(self) -> tuple[Any, ...]:
        """Repository and branch of a writable session, repository and snapshot of a read-only one.

        A read-only session never names the same data as a writable one: what is read from a snapshot stays
        readable whatever is committed, so an element read from a branch can be written back to it.
        """
        repo = self.repository
        where = repr(repo.storage) if repo is not None else f"session-{id(self.session)}"
        if self.session.read_only:
            return ("icechunk", where, "snapshot", self.session.snapshot_id)
        return ("icechunk", where, "branch", self.session.branch)

    def staging(self, replace: bool) -> Location:
        """An owned session is its own staging area (a full write replaces its root group)."""
        return self if self.owned else super().staging(replace)

    def element_staging(self) -> Location:
        """Elements are written in place in an owned session (nothing is visible before the commit)."""
        return self if self.owned else super().element_staging()

    def publish(self, staged: Location) -> None:
        """Commit an owned session; afterwards this location reads the new snapshot."""
        if not self.owned:
            super().publish(staged)
            return
        snapshot = self.session.commit(self.commit_message, metadata=self.commit_metadata or None)
        self.pin(snapshot)

    def pin(self, snapshot: str) -> None:
        """Point this location at a read-only session of ``snapshot`` (after a commit)."""
        repo = self.repository
        if repo is None:
            return
        branch = self.session.branch
        session = repo.readonly_session(snapshot_id=snapshot)
        self.store = session.store
        self.extra[SESSION_KEY] = session
        self.extra["icechunk_snapshot"] = snapshot
        self.extra["icechunk_branch"] = branch
        self.url = f"icechunk {describe(repo)} @ snapshot {snapshot}"
        self.source = session
        self.owned = False

    def discard(self) -> None:
        """Drop every uncommitted change of an owned session."""
        if not self.owned:
            super().discard()
            return
        with contextlib.suppress(icechunk.IcechunkError):
            self.session.discard_changes()


def session_location(
    session: icechunk.Session, repo: icechunk.Repository | None = None, *, owned: bool = False
) -> IcechunkLocation:
    """A core :class:`~spatialdata_plugins.core.Location` for an icechunk session (a key-value store).

    Parameters
    ----------
    session
        The session.
    repo
        Its repository (for messages, and to read the new snapshot after a commit).
    owned
        Whether the caller lets the location commit and discard the session (the core's write pipeline then
        writes into it in place); a session the user passed is never owned.

    Returns
    -------
    IcechunkLocation
        The location.
    """
    where = describe(repo) if repo is not None else "icechunk"
    at = f"branch {session.branch}" if session.branch and not session.read_only else f"snapshot {session.snapshot_id}"
    return IcechunkLocation(
        store=session.store,
        kind="store",
        url=f"icechunk {where} @ {at}",
        source=session,
        extra={SESSION_KEY: session, "icechunk_repository": repo},
        owned=owned,
    )


def read(
    repo: Any,
    *,
    branch: str | None = None,
    tag: str | None = None,
    snapshot: str | None = None,
    selection: list[str] | tuple[str, ...] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Read the SpatialData of a branch tip (default ``main``), a tag or a snapshot.

    Elements are lazy (dask-backed images, labels and points) and pinned to the snapshot read: later commits do not
    change them, so an element can be read, changed and written back in a transaction.

    Parameters
    ----------
    repo
        An :class:`icechunk.Repository`, or anything :func:`open_repository` accepts (path, ``s3://`` URL).
    branch, tag, snapshot
        At most one; ``branch="main"`` when none is given.
    selection
        Element types or names to read (``None``: all).
    storage_options
        S3 options when ``repo`` is a URL.

    Returns
    -------
    spatialdata_plugins.core.SpatialData
        The object; ``sdata.location.extra["icechunk_snapshot"]`` is the snapshot id read.

    Raises
    ------
    NotARepositoryError
        No icechunk repository at ``repo``.
    RefNotFoundError
        Unknown branch, tag or snapshot.
    """
    repo = open_repository(repo, storage_options=storage_options)
    session = readonly_session(repo, branch=branch, tag=tag, snapshot=snapshot)
    location = session_location(session, repo)
    location.extra["icechunk_snapshot"] = session.snapshot_id
    location.extra["icechunk_branch"] = branch if branch is not None else (None if tag or snapshot else "main")
    return core_read(location, selection=selection)


def write_raster_forked(
    location: Location, root: zarr.Group, element_type: str, name: str, element: Any, options: dict[str, Any]
) -> bool | None:
    """``sdp_write_element`` for dask-backed images and labels on icechunk: metadata first, pixels via fork/merge.

    Returns ``None`` (let the default writer do it) unless the location is an icechunk session whose backend
    uses fork/merge now.
    """
    backend = options.get("parallel_backend")
    if (
        element_type not in ("images", "labels")
        or SESSION_KEY not in location.extra
        or not isinstance(backend, IcechunkForkBackend)
        or not backend.uses_fork
        or not is_dask_raster(element)
    ):
        return None
    from spatialdata_plugins.core import default_write_element, raster_multiscales

    # spatialdata's writer creates the groups, arrays and OME-NGFF metadata; zeros are not stored (fill value), and
    # the synchronous scheduler keeps the writable session in this process
    with dask.config.set(scheduler="synchronous"):
        default_write_element(location, root, element_type, name, zeros_placeholder(element), options)
    group = root[element_type][name]
    _, multiscales = raster_multiscales(group)
    targets = [group[d["path"]] for d in multiscales["datasets"]]
    sources = scale_arrays(element)
    if len(sources) != len(targets):
        raise ElementWriteError(f"{name!r}: {len(sources)} scales in the element but {len(targets)} were written")
    backend.store(sources, targets)
    backend.forked_elements.append(name)
    return True


def write_points_forked(
    location: Location, root: zarr.Group, element_type: str, name: str, element: Any, options: dict[str, Any]
) -> bool | None:
    """``sdp_write_element`` for dask-backed points on icechunk: every partition written by a worker into a fork.

    The core writes the element (group, metadata, categories) as parquet-in-zarr version 2, one parquet file per
    dask partition; the partitions go through :meth:`IcechunkForkBackend.store_points`. Returns ``None`` (the
    default writer streams one file) unless the location is an icechunk session whose backend uses fork/merge now.
    """
    import dask.dataframe as dd

    backend = options.get("parallel_backend")
    if (
        element_type != "points"
        or SESSION_KEY not in location.extra
        or not isinstance(backend, IcechunkForkBackend)
        or not backend.uses_fork
        or not isinstance(element, dd.DataFrame)
    ):
        return None
    from spatialdata_plugins.core import default_write_element

    default_write_element(
        location, root, element_type, name, element, {**options, "points_parts_writer": backend.store_points}
    )
    backend.forked_elements.append(name)
    return True
