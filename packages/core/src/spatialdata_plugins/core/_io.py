"""``read`` and ``write`` of SpatialData over any zarr store, orchestrated through the plugin hooks."""

from __future__ import annotations

import os
from typing import Any

import dask.array as da
import dask.dataframe as dd
import spatialdata
import zarr
from dask.utils import key_split
from xarray import DataArray, DataTree
from zarr.errors import GroupNotFoundError

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
from spatialdata_plugins.core._location import Location
from spatialdata_plugins.core._pipeline import apply_update, update_of, validate_elements
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


def _open_spatialdata_root(location: Location, consolidated: bool = True) -> zarr.Group:
    if not location.exists():
        raise StoreNotFoundError(f"no SpatialData store at {location.url}: nothing exists there")
    try:
        root = zarr.open_group(
            store=location.store, path=location.path or None, mode="r", use_consolidated=None if consolidated else False
        )
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
    if location.local_path is not None:
        sdata.path = location.local_path
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
    root = _open_spatialdata_root(location, consolidated=False)  # one element: its own metadata
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
    root = location.backing_root()
    if root is not None:
        from spatialdata._io._utils import get_dask_backing_files

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
    update = update_of(sdata)
    validate_elements(update.writes)
    options = {
        "consolidate_metadata": consolidate_metadata,
        "shapes_geometry_encoding": shapes_geometry_encoding,
        "raster_compressor": raster_compressor,
        "progress": progress,
        **plugin_options,
    }
    staged = location.staging(replace=exists)
    try:
        apply_update(staged, sdata, update, options=options, progress=progress)
        location.publish(staged)
    except PublishError:
        raise  # the staged copy is the only complete one left: keep it
    except BaseException as exc:
        staged.discard()
        if isinstance(exc, Exception) and not isinstance(exc, UnsupportedElementError):
            state = "was left as it was" if exists else "was not created"
            raise ElementWriteError(f"writing to {location.url} failed, the store {state}: {exc}") from exc
        raise
    if isinstance(sdata, SpatialData):
        sdata.location = location
    if location.local_path is not None:
        sdata.path = location.local_path
    return location
