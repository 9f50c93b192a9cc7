"""Reading SpatialData from an icechunk snapshot, and writing element changes into a writable session."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import dask
import icechunk
import zarr
from tqdm.auto import tqdm
from zarr.errors import ZarrUserWarning

from spatialdata_plugins.core import ElementWriteError, Location, get_registry
from spatialdata_plugins.core import read as core_read
from spatialdata_plugins.icechunk._parallel import IcechunkForkBackend, is_dask_raster, scale_arrays, zeros_placeholder
from spatialdata_plugins.icechunk._repo import ELEMENT_TYPES, describe, open_repository, readonly_session

SESSION_KEY = "icechunk_session"


def session_location(session: icechunk.Session, repo: icechunk.Repository | None = None) -> Location:
    """A core :class:`~spatialdata_plugins.core.Location` for an icechunk session (a key-value store)."""
    where = describe(repo) if repo is not None else "icechunk"
    at = f"branch {session.branch}" if session.branch and not session.read_only else f"snapshot {session.snapshot_id}"
    return Location(
        store=session.store,
        kind="store",
        url=f"icechunk {where} @ {at}",
        source=session,
        extra={SESSION_KEY: session, "icechunk_repository": repo},
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


def elements_on_disk(root: zarr.Group) -> dict[str, str]:
    """``{name: element_type}`` of the elements stored below a SpatialData root group."""
    out: dict[str, str] = {}
    for element_type in ELEMENT_TYPES:
        if element_type in root:
            for name, _ in root[element_type].groups():
                if not name.startswith("."):
                    out[name] = element_type
    return out


@contextlib.contextmanager
def _quiet_zarr() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ZarrUserWarning)
        yield


def validate_elements(writes: dict[str, tuple[str, Any]]) -> None:
    """Validate elements with ``spatialdata.models`` before anything is written.

    Raises
    ------
    ElementWriteError
        Naming the first invalid element.
    """
    from spatialdata.models import TableModel, validate_element

    for name, (element_type, element) in writes.items():
        try:
            if element_type == "tables":
                TableModel().validate(element)
            else:
                validate_element(element)
        except Exception as exc:
            raise ElementWriteError(
                f"element {name!r} ({element_type}) is not valid, nothing was committed: {exc}"
            ) from exc


def apply_changes(
    session: icechunk.Session,
    sdata: Any,
    *,
    writes: dict[str, tuple[str, Any]],
    deletes: list[str],
    attrs: dict[str, Any] | None,
    repo: icechunk.Repository | None = None,
    parallel: str = "auto",
    progress: bool | None = None,
    options: dict[str, Any] | None = None,
) -> IcechunkForkBackend:
    """Write element changes into a writable session (nothing is committed here).

    Parameters
    ----------
    session
        Writable session.
    sdata
        The SpatialData the elements belong to (passed to the write hooks).
    writes
        ``{name: (element_type, element)}`` to add or replace.
    deletes
        Names of elements to remove.
    attrs
        New root attributes (``SpatialData.attrs``), or ``None`` to leave them.
    repo
        The repository (for messages).
    parallel
        ``"auto"``, ``"fork"`` or ``"direct"``: how dask-backed rasters and points are written (see
        :class:`~spatialdata_plugins.icechunk.IcechunkForkBackend`).
    progress
        Progress bar over the elements; ``None``: only on a terminal.
    options
        Extra writer options for the hooks (``raster_compressor``, ``chunk_bytes``...).

    Returns
    -------
    IcechunkForkBackend
        The backend used (it counts the forks merged).
    """
    from spatialdata._io.format import CurrentSpatialDataContainerFormat

    hook = get_registry().hook
    location = session_location(session, repo)
    backend = IcechunkForkBackend(session, parallel)
    opts: dict[str, Any] = {
        "consolidate_metadata": False,
        "shapes_geometry_encoding": None,
        "raster_compressor": None,
        **(options or {}),
        "parallel_backend": backend,
    }
    with _quiet_zarr():
        root = zarr.open_group(session.store, mode="a", zarr_format=3)
        fmt = CurrentSpatialDataContainerFormat()
        base_attrs = {"spatialdata_attrs": {"version": fmt.spatialdata_format_version} | fmt.attrs_to_dict()}
        if "spatialdata_attrs" not in root.attrs:
            root.attrs.put(base_attrs | (attrs or {}))
        elif attrs is not None:
            root.attrs.put(base_attrs | attrs)
        stored = elements_on_disk(root)
        for name in [*deletes, *writes]:
            if name in stored:
                del root[stored[name]][name]
        for name, (element_type, element) in tqdm(
            writes.items(),
            desc=f"writing to {location.url}",
            unit="element",
            disable=None if progress is None else not progress,
        ):
            try:
                handled = hook.sdp_write_element(
                    sdata=sdata,
                    location=location,
                    root=root,
                    element_type=element_type,
                    name=name,
                    element=element,
                    options=opts,
                )
            except ElementWriteError:
                raise
            except Exception as exc:  # name the element that failed
                raise ElementWriteError(f"writing {element_type} element {name!r} failed: {exc}") from exc
            if not handled:
                raise ElementWriteError(f"no installed plugin wrote element {name!r} ({element_type})")
        if any(t == "labels" for t, _ in writes.values()) or any(stored.get(n) == "labels" for n in deletes):
            sync_labels_list(root)
    return backend


def sync_labels_list(root: zarr.Group) -> None:
    """Make the OME-NGFF ``labels`` list of the ``labels`` group name exactly the labels elements stored.

    spatialdata appends a name when it writes labels and never removes one: a deleted labels element would stay
    listed and a replaced one be listed twice. The order of the names still listed is kept; new ones follow.
    """
    if "labels" not in root:
        return
    group = root["labels"]
    present = {name for name, _ in group.groups() if not name.startswith(".")}
    ome = dict(group.attrs.get("ome") or {})
    listed = list(ome.get("labels") or [])
    names = list(dict.fromkeys(n for n in listed if n in present)) + sorted(present - set(listed))
    if names != listed:
        ome["labels"] = names
        group.attrs["ome"] = ome


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
    from spatialdata_plugins.core._elements import raster_multiscales, write_element

    # spatialdata's writer creates the groups, arrays and OME-NGFF metadata; zeros are not stored (fill value), and
    # the synchronous scheduler keeps the writable session in this process
    with dask.config.set(scheduler="synchronous"):
        write_element(location, root, element_type, name, zeros_placeholder(element), options)
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
    from spatialdata_plugins.core._elements import write_element

    write_element(location, root, element_type, name, element, {**options, "points_parts_writer": backend.store_points})
    backend.forked_elements.append(name)
    return True
