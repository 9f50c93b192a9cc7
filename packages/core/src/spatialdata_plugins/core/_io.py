"""``read`` and ``write`` of SpatialData over any zarr store, orchestrated through the plugin hooks."""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import dask.dataframe as dd
import spatialdata
import zarr
from dask.utils import key_split
from tqdm.auto import tqdm
from xarray import DataArray, DataTree
from zarr.errors import GroupNotFoundError, ZarrUserWarning
from zarr.storage import LocalStore

from spatialdata_plugins.core._defaults import element_type_of
from spatialdata_plugins.core._elements import ELEMENT_TYPES
from spatialdata_plugins.core._errors import (
    ElementNotFoundError,
    ElementWriteError,
    NotSpatialDataError,
    PublishError,
    StoreExistsError,
    StoreNotFoundError,
    UnsafeOverwriteError,
    UnsupportedElementError,
    UnsupportedTargetError,
)
from spatialdata_plugins.core._location import Location, copy_keys, delete_prefix
from spatialdata_plugins.core._registry import get_registry
from spatialdata_plugins.core._spatialdata import SpatialData


def open_location(target: Any, mode: str = "r", storage_options: dict[str, Any] | None = None) -> Location:
    """Resolve ``target`` into a :class:`Location` through ``sdp_open_store``.

    Parameters
    ----------
    target
        Local path, fsspec URL, zarr store or group, or an object a plugin understands.
    mode
        ``"r"`` or ``"w"``.
    storage_options
        Filesystem options (credentials, ``endpoint_url``...).

    Returns
    -------
    Location
        The resolved location.

    Raises
    ------
    UnsupportedTargetError
        If no plugin understands ``target``.
    """
    if isinstance(target, Location):
        return target
    location = get_registry().hook.sdp_open_store(target=target, mode=mode, storage_options=storage_options)
    if location is None:
        raise UnsupportedTargetError(
            f"cannot open {target!r} ({type(target).__name__}): give a local path, an fsspec URL such as "
            "s3://bucket/x.zarr, a zarr store or group, or install the plugin that understands this object"
        )
    return location


# ---------------------------------------------------------------------------------------------------- reading


def _open_spatialdata_root(location: Location) -> zarr.Group:
    if not location.exists():
        raise StoreNotFoundError(f"no SpatialData store at {location.url}: nothing exists there")
    try:
        root = location.open_root("r")
    except (GroupNotFoundError, FileNotFoundError, KeyError, ValueError) as exc:
        raise NotSpatialDataError(f"{location.url} is not a zarr group, so not a SpatialData store ({exc})") from exc
    attrs = root.attrs.asdict()
    if "spatialdata_attrs" not in attrs and not any(t in root for t in ELEMENT_TYPES):
        raise NotSpatialDataError(
            f"{location.url} is a zarr group but not a SpatialData store: no 'spatialdata_attrs' and no "
            f"{'/'.join(ELEMENT_TYPES)} groups"
        )
    return root


def _element_names(root: zarr.Group, element_type: str) -> list[str]:
    if element_type not in root:
        return []
    return sorted(name for name, _ in root[element_type].groups() if not name.startswith("."))


def _read_one(location: Location, root: zarr.Group, element_type: str, name: str, options: dict[str, Any]) -> Any:
    return get_registry().hook.sdp_read_element(
        location=location, group=root[element_type][name], element_type=element_type, name=name, options=options
    )


def read(
    target: Any,
    *,
    storage_options: dict[str, Any] | None = None,
    selection: list[str] | tuple[str, ...] | None = None,
) -> SpatialData:
    """Read a SpatialData store from a local path, an fsspec URL or any zarr v3 store.

    Images and labels stay dask-backed and points stay dask DataFrames, as with :func:`spatialdata.read_zarr`.
    Each element is read through the ``sdp_read_element`` hook, then ``sdp_after_read`` lets plugins attach what
    they stored beside the elements.

    Parameters
    ----------
    target
        ``"data.zarr"``, ``"s3://bucket/data.zarr"``, a ``zarr.storage.MemoryStore``, a zarr group, or an object a
        plugin understands.
    storage_options
        Filesystem options for URLs (``{"endpoint_url": ..., "key": ..., "secret": ...}`` for S3).
    selection
        Element types (``"images"``, ``"points"``...) or element names to read; ``None`` reads everything.

    Returns
    -------
    SpatialData
        A :class:`spatialdata_plugins.core.SpatialData`.

    Raises
    ------
    StoreNotFoundError
        Nothing exists at ``target``.
    NotSpatialDataError
        ``target`` exists but is not a SpatialData store.

    Examples
    --------
    >>> from spatialdata_plugins.core import read  # doctest: +SKIP
    >>> sdata = read("s3://bucket/data.zarr", storage_options={"anon": True})  # doctest: +SKIP
    """
    location = open_location(target, "r", storage_options)
    root = _open_spatialdata_root(location)
    hook = get_registry().hook
    wanted = set(selection) if selection else None
    found: dict[str, dict[str, Any]] = {t: {} for t in ELEMENT_TYPES}
    to_attach: dict[str, Any] = {}
    for element_type in ELEMENT_TYPES:
        for name in _element_names(root, element_type):
            if wanted is not None and element_type not in wanted and name not in wanted:
                continue
            value = _read_one(location, root, element_type, name, {})
            if element_type_of(value) is None:
                to_attach[name] = value
            else:
                found[element_type][name] = value
    attrs = root.attrs.asdict()
    attrs.pop("spatialdata_attrs", None)
    sdata = SpatialData(**found, attrs=attrs)
    for name, obj in to_attach.items():
        sdata.attach(obj, name)
    sdata.location = location
    if location.kind == "local":
        sdata.path = Path(location.root)  # type: ignore[arg-type]
    hook.sdp_after_read(
        sdata=sdata, location=location, root=root, selection=frozenset(wanted) if wanted is not None else None
    )
    return sdata


def read_element(
    target: Any,
    name: str,
    *,
    columns: list[str] | None = None,
    filters: Any = None,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Read one element; for points and shapes read only the columns and row groups asked for.

    Parameters
    ----------
    target
        As for :func:`read`.
    name
        Element name.
    columns
        Points or shapes columns to read (``None``: all).
    filters
        Pyarrow filter expressions on points or shapes (for example ``[("gene", "==", "ACTB")]``); row groups whose
        statistics exclude the filter are never read.
    storage_options
        Filesystem options.

    Returns
    -------
    object
        The element.

    Raises
    ------
    ElementNotFoundError
        If the store has no element ``name``.
    """
    location = open_location(target, "r", storage_options)
    root = _open_spatialdata_root(location)
    for element_type in ELEMENT_TYPES:
        if name in _element_names(root, element_type):
            return _read_one(location, root, element_type, name, {"columns": columns, "filters": filters})
    available = [n for t in ELEMENT_TYPES for n in _element_names(root, t)]
    raise ElementNotFoundError(f"{location.url} has no element named {name!r}; available: {available}")


# ---------------------------------------------------------------------------------------------------- writing


_IO_TASK_PREFIXES = ("read-parquet", "read_parquet", "from-zarr", "original-from-zarr")


def _task_prefixes(collection: Any) -> set[str]:
    graph = collection.__dask_graph__()
    layers = getattr(graph, "layers", None)
    keys = layers.keys() if layers else dict(graph).keys()
    return {key_split(k) for k in keys}


def _reads_from_storage(element: Any) -> bool:
    """Whether computing the element reads from a store (a dask graph with parquet or zarr read tasks)."""
    if isinstance(element, dd.DataFrame):
        collections = [element]
    elif isinstance(element, DataArray):
        collections = [element.data] if isinstance(element.data, da.Array) else []
    elif isinstance(element, DataTree):
        collections = [
            node.ds[v].data
            for node in element.subtree
            for v in node.ds.data_vars
            if isinstance(node.ds[v].data, da.Array)
        ]
    else:
        return False
    return any(p.startswith(_IO_TASK_PREFIXES) for c in collections for p in _task_prefixes(c))


def _check_not_backing(sdata: spatialdata.SpatialData, location: Location) -> None:
    """Refuse to overwrite a store that lazily loaded elements of ``sdata`` still read from."""
    lazy = [name for _, name, el in sdata.gen_elements() if _reads_from_storage(el)]
    if not lazy:
        return
    same_source = (
        isinstance(sdata, SpatialData)
        and sdata.location is not None
        and (sdata.location.identity() == location.identity())
    )
    backing_inside = False
    if location.kind == "local":
        from spatialdata._io._utils import get_dask_backing_files

        root = os.path.realpath(location.root or "")
        for f in get_dask_backing_files(sdata):
            real = os.path.realpath(f)
            if real == root or real.startswith(root + os.sep):
                backing_inside = True
                break
    if same_source or backing_inside:
        raise UnsafeOverwriteError(
            f"refusing to overwrite {location.url}: the lazily loaded elements {lazy} are read from it. Write to "
            "another location, or load them into memory first (for example sdata[name] = sdata[name].compute())"
        )


def _validate(sdata: spatialdata.SpatialData) -> None:
    from spatialdata.models import TableModel, validate_element

    for element_type, name, element in sdata._gen_elements(include_tables=True):
        try:
            if element_type == "tables":
                TableModel().validate(element)
            else:
                validate_element(element)
        except Exception as exc:
            raise ElementWriteError(
                f"element {name!r} ({element_type}) is not valid, nothing was written: {exc}"
            ) from exc


def _staging_location(location: Location) -> Location:
    """A fresh, empty location to stage a replacement of ``location`` in."""
    from spatialdata_plugins.core._location import open_local, open_url

    tag = f".sdp-staging-{uuid.uuid4().hex[:12]}"
    if location.kind == "local":
        assert location.root is not None
        parent, base = os.path.split(location.root.rstrip(os.sep))
        return open_local(os.path.join(parent, f".{base}{tag}"), "w")
    if location.kind == "fsspec":
        assert location.fs is not None and location.root is not None
        parent, base = posixpath.split(location.root.rstrip("/"))
        protocol = location.fs.protocol if isinstance(location.fs.protocol, str) else location.fs.protocol[0]
        return open_url(f"{protocol}://{posixpath.join(parent, f'.{base}{tag}')}", "w", location.storage_options)
    # key-value stores: stage on local disk, encoded as on the target (parquet-in-zarr), then copy the keys over
    tmp = tempfile.mkdtemp(prefix="sdp-staging-")
    return Location(store=LocalStore(tmp), kind="store", url=f"staging for {location.url}", extra={"tmpdir": tmp})


def _remove(location: Location) -> None:
    """Delete everything at ``location`` (best effort, used for staging areas and failed fresh writes)."""
    with contextlib.suppress(Exception):
        if location.kind == "local" and location.root and os.path.exists(location.root):
            shutil.rmtree(location.root)
        elif location.kind == "fsspec" and location.fs is not None and location.fs.exists(location.root):
            location.fs.rm(location.root, recursive=True)
        elif location.kind == "store":
            if "tmpdir" in location.extra:
                shutil.rmtree(location.extra["tmpdir"], ignore_errors=True)
            else:
                delete_prefix(location.store, location.path)


def _publish(staged: Location, location: Location) -> None:
    """Replace ``location`` by the fully written ``staged`` location."""
    if location.kind == "local":
        assert location.root is not None and staged.root is not None
        backup = f"{location.root.rstrip(os.sep)}.sdp-old-{uuid.uuid4().hex[:12]}"
        os.replace(location.root, backup)
        try:
            os.replace(staged.root, location.root)
        except BaseException:
            os.replace(backup, location.root)
            raise
        shutil.rmtree(backup, ignore_errors=True)
    else:
        # object stores have no rename and key-value stores no swap: the old store is removed only once the new
        # one is complete, and if moving it into place fails the complete copy is kept and named in the error
        try:
            if location.kind == "fsspec":
                assert location.fs is not None
                location.fs.rm(location.root, recursive=True)
                location.fs.mv(staged.root, location.root, recursive=True)
            else:
                delete_prefix(location.store, location.path)
                copy_keys(staged.store, "", location.store, location.path)
        except Exception as exc:
            raise PublishError(
                f"the new store was written completely to {staged.url or staged.extra.get('tmpdir')}, but moving "
                f"it to {location.url} failed ({exc}); the old store was already removed, copy the new one over"
            ) from exc
        _remove(staged)


def _iter_writes(sdata: spatialdata.SpatialData) -> Iterator[tuple[str | None, str, Any]]:
    for element_type, name, element in sdata._gen_elements(include_tables=True):
        yield element_type, name, element
    if isinstance(sdata, SpatialData):
        for name in sdata.unresolved_names():
            yield None, name, sdata.attached[name]


@contextlib.contextmanager
def _quiet_zarr() -> Iterator[None]:
    # parquet files beside zarr keys and zarr v3 consolidated metadata are by design here, as in spatialdata
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ZarrUserWarning)
        yield


def write_element_through_hook(
    sdata: spatialdata.SpatialData | None,
    location: Location,
    root: zarr.Group,
    element_type: str | None,
    name: str,
    element: Any,
    options: dict[str, Any],
) -> None:
    """Write one element with the first plugin whose ``sdp_write_element`` takes it; raise if none does."""
    handled = get_registry().hook.sdp_write_element(
        sdata=sdata,
        location=location,
        root=root,
        element_type=element_type,
        name=name,
        element=element,
        options=options,
    )
    if not handled:
        raise UnsupportedElementError(
            f"no installed plugin can write {name!r} (a {type(element).__module__}.{type(element).__name__})"
        )


def _write_into(
    sdata: spatialdata.SpatialData, location: Location, options: dict[str, Any], progress: bool | None
) -> None:
    from spatialdata._io.format import CurrentSpatialDataContainerFormat

    hook = get_registry().hook
    root = zarr.open_group(store=location.store, path=location.path or None, mode="w", zarr_format=3)
    sdata.write_attrs(zarr_group=root, sdata_format=CurrentSpatialDataContainerFormat())
    options = dict(options)
    options.setdefault("parallel_backend", hook.sdp_parallel_write_backend(location=location))
    writes = list(_iter_writes(sdata))
    for element_type, name, element in tqdm(
        writes, desc=f"writing {location.url}", unit="element", disable=None if progress is None else not progress
    ):
        write_element_through_hook(sdata, location, root, element_type, name, element, options)
    hook.sdp_after_write(sdata=sdata, location=location, root=root, options=options)
    # stores without consolidated metadata (icechunk keeps its own, versioned metadata) are simply not consolidated
    if options.get("consolidate_metadata", True) and getattr(location.store, "supports_consolidated_metadata", True):
        zarr.consolidate_metadata(location.store, path=location.path or None, zarr_format=3)


def write(
    sdata: spatialdata.SpatialData,
    target: Any,
    *,
    overwrite: bool = False,
    storage_options: dict[str, Any] | None = None,
    consolidate_metadata: bool = True,
    shapes_geometry_encoding: str | None = None,
    raster_compressor: dict[str, int] | None = None,
    progress: bool | None = None,
    **plugin_options: Any,
) -> Location:
    """Write a SpatialData object to a local path, an fsspec URL or any zarr v3 store.

    On local paths and fsspec URLs the result is spatialdata's standard layout, which plain
    :func:`spatialdata.read_zarr` reads. On key-value stores (``MemoryStore``, icechunk) points and shapes are stored
    as parquet-in-zarr (``docs/format.md``). Each element goes through the ``sdp_write_element`` hook.

    The write is all or nothing for the user: a new store that fails half-way is removed, and an existing store
    (``overwrite=True``) is replaced only after the new one was written completely next to it.

    Parameters
    ----------
    sdata
        A :class:`spatialdata.SpatialData` (plain or the plugin-aware subclass).
    target
        Path, URL, zarr store or group, or an object a plugin understands.
    overwrite
        Replace an existing store at ``target``.
    storage_options
        Filesystem options for URLs.
    consolidate_metadata
        Write zarr consolidated metadata (fast opening on object stores).
    shapes_geometry_encoding
        ``"WKB"`` or ``"geoarrow"`` GeoParquet geometry encoding; ``None`` uses spatialdata's setting.
    raster_compressor
        For example ``{"zstd": 5}``; ``None`` uses spatialdata's default (lz4).
    progress
        Show a progress bar; ``None`` shows one only on a terminal.
    **plugin_options
        Options for plugin write hooks.

    Returns
    -------
    Location
        Where the data was written.

    Raises
    ------
    StoreExistsError
        ``target`` exists and ``overwrite`` is false.
    UnsafeOverwriteError
        ``target`` backs lazily loaded elements of ``sdata``.
    ElementWriteError
        An element is invalid or a writer failed; the previous state of ``target`` is kept.

    Examples
    --------
    >>> from spatialdata_plugins.core import write  # doctest: +SKIP
    >>> write(sdata, "s3://bucket/x.zarr", storage_options={"endpoint_url": "http://127.0.0.1:9000"})  # doctest: +SKIP
    """
    if not isinstance(sdata, spatialdata.SpatialData):
        raise UnsupportedElementError(f"write() needs a spatialdata.SpatialData, got {type(sdata).__name__}")
    location = open_location(target, "w", storage_options)
    exists = location.exists()
    if exists and not overwrite:
        raise StoreExistsError(f"{location.url} already exists; pass overwrite=True to replace it")
    if exists:
        _check_not_backing(sdata, location)
    _validate(sdata)
    options = {
        "consolidate_metadata": consolidate_metadata,
        "shapes_geometry_encoding": shapes_geometry_encoding,
        "raster_compressor": raster_compressor,
        **plugin_options,
    }
    staged = _staging_location(location) if exists else location
    try:
        with _quiet_zarr():
            _write_into(sdata, staged, options, progress)
        if staged is not location:
            _publish(staged, location)
    except PublishError:
        raise  # the staged copy is the only complete one left: keep it
    except BaseException as exc:
        _remove(staged)
        if isinstance(exc, Exception) and not isinstance(exc, ElementWriteError | UnsupportedElementError):
            state = "was left as it was" if exists else "was not created"
            raise ElementWriteError(f"writing to {location.url} failed, the store {state}: {exc}") from exc
        raise
    if isinstance(sdata, SpatialData):
        sdata.location = location
    if location.kind == "local":
        sdata.path = Path(location.root)  # type: ignore[arg-type]
    return location
