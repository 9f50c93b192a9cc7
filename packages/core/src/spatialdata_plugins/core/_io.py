"""``read`` and ``write`` of SpatialData over any zarr store, orchestrated through the plugin hooks."""

from __future__ import annotations

import os
import warnings
from typing import Any, cast

import dask.array as da
import dask.dataframe as dd
import spatialdata
import zarr
from dask.utils import key_split
from xarray import DataArray, DataTree
from zarr.errors import GroupNotFoundError

from spatialdata_plugins.core._defaults import element_type_of
from spatialdata_plugins.core._errors import (
    ElementNotFoundError,
    ElementReadError,
    ElementWriteError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotAStoreError,
    NotSpatialDataError,
    PublishError,
    StaleMetadataError,
    StoreExistsError,
    StoreNotFoundError,
    UnsafeOverwriteError,
    UnsupportedElementError,
    UnsupportedTargetError,
)
from spatialdata_plugins.core._location import ELEMENT_TYPES, Location
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


_BAD_FILE_ERRORS: tuple[type[BaseException], ...] = (KeyError, OSError, ValueError)  # zarr, JSON, pyarrow: ValueError


def _bad_files_mode(on_bad_files: Any) -> str:
    mode = getattr(on_bad_files, "value", on_bad_files)  # spatialdata's BadFileHandleMethod enum, or its value
    if mode not in ("error", "warn"):
        raise InvalidArgumentError(f"on_bad_files must be 'error' or 'warn', got {on_bad_files!r}")
    return str(mode)


def _open_spatialdata_root(location: Location, consolidated: bool = True) -> zarr.Group:
    # an empty SpatialData (its root group and metadata, no element) counts as nothing for writing over it, but
    # reads as an empty SpatialData
    if not location.exists() and not _is_empty_spatialdata(location):
        raise StoreNotFoundError(f"no SpatialData store at {location.url}: nothing exists there")
    try:
        root = zarr.open_group(
            store=location.store, path=location.path or None, mode="r", use_consolidated=None if consolidated else False
        )
    except (GroupNotFoundError, FileNotFoundError, KeyError, ValueError) as exc:
        if consolidated and _is_group_without_consolidated(location):
            raise StaleMetadataError(
                f"the consolidated metadata of {location.url} does not match the store ({exc}). Reconsolidate it "
                "(zarr.consolidate_metadata, or spatialdata's SpatialData.read(path, reconsolidate_metadata=True)), "
                "or write the store again"
            ) from exc
        raise NotSpatialDataError(f"{location.url} is not a zarr group, so not a SpatialData store ({exc})") from exc
    attrs = root.attrs.asdict()
    if "spatialdata_attrs" not in attrs and not any(t in root for t in ELEMENT_TYPES):
        raise NotSpatialDataError(
            f"{location.url} is a zarr group but not a SpatialData store: no 'spatialdata_attrs' and no "
            f"{'/'.join(ELEMENT_TYPES)} groups"
        )
    return root


def _is_empty_spatialdata(location: Location) -> bool:
    try:
        root = zarr.open_group(store=location.store, path=location.path or None, mode="r", use_consolidated=False)
    except Exception:
        return False
    return "spatialdata_attrs" in root.attrs


def _is_group_without_consolidated(location: Location) -> bool:
    try:
        zarr.open_group(store=location.store, path=location.path or None, mode="r", use_consolidated=False)
    except Exception:
        return False
    return True


def _element_names(root: zarr.Group, element_type: str) -> list[str]:
    """Names of the elements of a type, as listed by ``root`` (consolidated metadata, when it has them)."""
    if element_type not in root:
        return []
    return sorted(name for name, _ in root[element_type].groups() if not name.startswith("."))


def _element_group(location: Location, element_type: str, name: str) -> zarr.Group:
    """The element's group, opened from its own metadata (never from the consolidated copy, which may be stale)."""
    return zarr.open_group(
        store=location.store, path=location.key(element_type, name), mode="r", use_consolidated=False
    )


def _read_one(location: Location, element_type: str, name: str, options: dict[str, Any]) -> Any:
    return get_registry().hook.sdp_read_element(
        location=location,
        group=_element_group(location, element_type, name),
        element_type=element_type,
        name=name,
        options=options,
    )


def _skip_or_raise(exc: BaseException, where: str, location: Location, mode: str) -> None:
    """``on_bad_files``: raise ``exc`` as an :class:`ElementReadError` naming ``where``, or warn as spatialdata does."""
    if mode == "warn":
        detail = exc.args[0] if exc.args else exc
        warnings.warn(f"{where}: {type(exc).__name__}: {detail}", UserWarning, stacklevel=3)
        return
    if isinstance(exc, ElementReadError):
        raise exc
    raise ElementReadError.wrap(exc, where, location.url) from exc


def read(
    target: Any,
    *,
    storage_options: dict[str, Any] | None = None,
    selection: list[str] | tuple[str, ...] | None = None,
    on_bad_files: str = "error",
) -> SpatialData:
    """Read a SpatialData store from a local path, an fsspec URL or any zarr v3 store.

    Images and labels stay dask-backed and points stay dask DataFrames, as with :func:`spatialdata.read_zarr`.
    Each element is read through the ``sdp_read_element`` hook, then ``sdp_after_read`` lets plugins attach what
    they stored beside the elements. Consolidated metadata, when the store has it, only lists the elements: each
    element is read from its own metadata.

    Parameters
    ----------
    target
        ``"data.zarr"``, ``"s3://bucket/data.zarr"``, a ``zarr.storage.MemoryStore``, a zarr group, or an object a
        plugin understands.
    storage_options
        Filesystem options for URLs (``{"endpoint_url": ..., "key": ..., "secret": ...}`` for S3).
    selection
        Element types (``"images"``, ``"points"``...) or element names to read; ``None`` reads everything.
    on_bad_files
        ``"error"`` (default): a missing or corrupt element raises :class:`ElementReadError` naming it (also an
        instance of the underlying error, as with spatialdata). ``"warn"``: such an element is skipped with a
        ``UserWarning`` and the rest is read.

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
    StaleMetadataError
        The consolidated metadata does not match the store.
    ElementReadError
        An element is missing or corrupt (``on_bad_files="error"``).

    Examples
    --------
    >>> from spatialdata_plugins.core import read  # doctest: +SKIP
    >>> sdata = read("s3://bucket/data.zarr", storage_options={"anon": True})  # doctest: +SKIP
    """
    mode = _bad_files_mode(on_bad_files)
    if isinstance(selection, str):
        selection = [selection]
    location = open_location(target, "r", storage_options)
    root = _open_spatialdata_root(location)
    _warn_old_container_format(root)
    hook = get_registry().hook
    wanted = set(selection) if selection else None
    found: dict[str, dict[str, Any]] = {t: {} for t in ELEMENT_TYPES}
    to_attach: dict[str, Any] = {}
    for element_type in ELEMENT_TYPES:
        try:
            names = _element_names(root, element_type)
        except _BAD_FILE_ERRORS as exc:
            _skip_or_raise(exc, element_type, location, mode)
            continue
        for name in names:
            if wanted is not None and element_type not in wanted and name not in wanted:
                continue
            try:
                value = _read_one(location, element_type, name, {})
            except _BAD_FILE_ERRORS as exc:
                _skip_or_raise(exc, f"{element_type}/{name}", location, mode)
                continue
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


def _warn_old_container_format(root: zarr.Group) -> None:
    version = (root.attrs.get("spatialdata_attrs") or {}).get("version")  # type: ignore[union-attr]
    if version == "0.1":
        warnings.warn(
            "SpatialData is not stored in the most current format. If you want to use Zarr v3, please write the "
            "store to a new location using `sdata.write()`.",
            UserWarning,
            stacklevel=3,
        )


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
            try:
                return _read_one(location, element_type, name, {"columns": columns, "filters": filters})
            except _BAD_FILE_ERRORS as exc:
                _skip_or_raise(exc, f"{element_type}/{name}", location, "error")
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
            f"Cannot overwrite. The target path of the write operation is in use. Details: the target path contains "
            f"one or more files that Dask use for backing elements in the SpatialData object: refusing to overwrite "
            f"{location.url}, the lazily loaded elements {lazy} are read from it. Write to another location, or load "
            "them into memory first (for example sdata[name] = sdata[name].compute())"
        )


#: Keyword arguments of ``spatialdata.SpatialData.write`` that :func:`write` takes under the same name.
SPATIALDATA_WRITE_KEYWORDS = (
    "overwrite",
    "consolidate_metadata",
    "update_sdata_path",
    "sdata_formats",
    "shapes_geometry_encoding",
    "raster_compressor",
)


def _check_plugin_options(options: dict[str, Any]) -> None:
    """Refuse keywords that neither the core nor any installed plugin takes (``sdp_write_options``)."""
    if not options:
        return
    known = {"chunk_bytes", "points_parts_writer", "parallel_backend"}
    answers = cast(list[Any], get_registry().hook.sdp_write_options())  # not firstresult: one list per plugin
    for names in answers:
        known.update(names or ())
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidArgumentTypeError(
            f"write() got unexpected keyword argument(s) {unknown}; it takes {list(SPATIALDATA_WRITE_KEYWORDS)}, "
            f"storage_options, progress and the options of the installed plugins: {sorted(known)}"
        )


def _parse_formats(sdata_formats: Any) -> dict[str, Any]:
    from spatialdata._io.format import _parse_formats as spatialdata_parse_formats

    try:
        return dict(spatialdata_parse_formats(sdata_formats))
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"sdata_formats: {exc}") from exc


def _check_compressor(raster_compressor: Any) -> None:
    from spatialdata._io._utils import _validate_compressor_args

    try:
        _validate_compressor_args(raster_compressor)
    except TypeError as exc:
        raise InvalidArgumentTypeError(f"raster_compressor: {exc}") from exc
    except ValueError as exc:
        raise InvalidArgumentError(f"raster_compressor: {exc}") from exc


def check_element_names(sdata: spatialdata.SpatialData) -> None:
    """Check element names (and table keys) with spatialdata's rules before anything is written.

    Raises
    ------
    InvalidArgumentError
        With spatialdata's message, listing every invalid name.
    """
    from spatialdata._core.validation import check_valid_name

    try:
        spatialdata.SpatialData._validate_all_elements(sdata)
        if isinstance(sdata, SpatialData):
            for name in sdata.attached:
                check_valid_name(name)
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"nothing was written: {exc}") from exc


def _refuse_non_store(location: Location) -> None:
    """``overwrite`` replaces only a SpatialData store: refuse a file, or a directory of something else."""
    try:
        root = zarr.open_group(store=location.store, path=location.path or None, mode="r", use_consolidated=False)
        is_store = "spatialdata_attrs" in root.attrs or any(t in root for t in ELEMENT_TYPES) or not list(root.keys())
    except Exception:
        is_store = False
    if not is_store:
        raise NotAStoreError(
            f"The target file path specified already exists, and it has been detected to not be a Zarr store. "
            f"Overwriting non-Zarr stores is not supported to prevent accidental data loss ({location.url} is not a "
            "SpatialData store; nothing was changed)"
        )


def write(
    sdata: spatialdata.SpatialData,
    target: Any,
    *,
    overwrite: bool = False,
    storage_options: dict[str, Any] | None = None,
    consolidate_metadata: bool = True,
    update_sdata_path: bool = True,
    sdata_formats: Any = None,
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
    (``overwrite=True``) is replaced only after the new one was written completely next to it. The keyword
    arguments of :meth:`spatialdata.SpatialData.write` are taken with the same meaning.

    Parameters
    ----------
    sdata
        A :class:`spatialdata.SpatialData` (plain or the plugin-aware subclass).
    target
        Path, URL, zarr store or group, or an object a plugin understands.
    overwrite
        Replace an existing SpatialData store at ``target`` (anything else there is refused and left untouched).
    storage_options
        Filesystem options for URLs.
    consolidate_metadata
        Write zarr consolidated metadata (fast opening on object stores).
    update_sdata_path
        Set ``sdata.path`` (local targets) and ``sdata.location`` to the target after the write.
    sdata_formats
        spatialdata's on-disk format versions (``SpatialDataContainerFormatV01()``, ``RasterFormatV02()``... or a
        list), as for :meth:`spatialdata.SpatialData.write`; ``None``: the current ones.
    shapes_geometry_encoding
        ``"WKB"`` or ``"geoarrow"`` GeoParquet geometry encoding; ``None`` uses spatialdata's setting.
    raster_compressor
        For example ``{"zstd": 5}``; ``None`` uses spatialdata's default (lz4). Validated as spatialdata does.
    progress
        Show a progress bar; ``None`` shows one only on a terminal.
    **plugin_options
        Options of the installed plugins' write hooks (see ``sdp_write_options``); any other keyword raises
        ``TypeError``.

    Returns
    -------
    Location
        Where the data was written.

    Raises
    ------
    InvalidArgumentTypeError
        An unknown keyword argument, or a ``raster_compressor`` that is no dict (a ``TypeError``).
    InvalidArgumentError
        An invalid element name, ``raster_compressor`` or ``sdata_formats`` (a ``ValueError``); nothing written.
    NotAStoreError
        ``target`` exists and is not a SpatialData store (a file, a directory of other files); it is untouched.
    StoreExistsError
        ``target`` is a store and ``overwrite`` is false.
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
    _check_plugin_options(plugin_options)
    formats = _parse_formats(sdata_formats)
    _check_compressor(raster_compressor)
    location = open_location(target, "w", storage_options)
    exists = location.exists()
    if exists:
        _refuse_non_store(location)
    if exists and not overwrite:
        raise StoreExistsError(
            f"The Zarr store already exists. Use `overwrite=True` to try overwriting the store ({location.url})"
        )
    if exists:
        _check_not_backing(sdata, location)
    check_element_names(sdata)
    update = update_of(sdata)
    validate_elements(update.writes)
    options = {
        "consolidate_metadata": consolidate_metadata,
        "shapes_geometry_encoding": shapes_geometry_encoding,
        "raster_compressor": raster_compressor,
        "sdata_formats": formats,
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
    if update_sdata_path:
        if isinstance(sdata, SpatialData):
            sdata.location = location
        if location.local_path is not None:
            sdata.path = location.local_path
    return location
