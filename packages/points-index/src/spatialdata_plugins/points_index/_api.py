"""Public functions: build, open and query points indexes, and a ``bounding_box_query``-style convenience."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd
import zarr

from spatialdata_plugins.points_index._build import (
    ATTRS_KEY,
    FORMAT_NAME,
    FORMAT_VERSION,
    INDEX_GROUP,
    build_index,
    content_fingerprint,
)
from spatialdata_plugins.points_index._errors import (
    ElementNotFoundError,
    IndexNotFoundError,
    InvalidArgumentError,
    PointsIndexError,
)
from spatialdata_plugins.points_index._reader import (
    COALESCE_BYTES,
    MAX_REQUESTS,
    PointsIndex,
    byte_range_requests,
    check_fingerprint,
    fetch_ranges,
    read_json,
)

MARKER = "points_index"
LINKED_INDEX_GROUP = "spatialdata_plugins/points_index"
BUILD_OPTIONS = (
    "feature_key",
    "points_per_chunk",
    "seed",
    "rows_per_chunk",
    "bucket_rows",
)


# ------------------------------------------------------------------------------------------ fingerprints


def _blob_footer(store: Any, array: zarr.Array) -> tuple[int, bytes]:
    size = int(array.shape[0])
    chunk = int(array.chunks[0])
    key = array.path

    def read(start: int, stop: int) -> bytes:
        return b"".join(fetch_ranges(store, byte_range_requests(key, chunk, start, stop)))

    if size < 12:
        return size, read(0, size)
    tail = read(size - 8, size)
    flen = int.from_bytes(tail[:4], "little")
    if tail[4:] != b"PAR1" or flen + 8 > size:
        return size, tail
    return size, read(size - 8 - flen, size)


def points_fingerprint(location: Any, element_group: zarr.Group, name: str, full: bool = False) -> dict[str, Any]:
    """Fingerprint of the stored points of element ``name``.

    ``hash`` covers (file name, size, parquet footer) of every file: footers hold the row counts, the byte
    offsets, sizes and statistics of every column chunk, so almost any rewrite changes it, and checking it costs
    a listing and the footers. A rewrite that changes values without changing any size or statistic escapes
    it; ``full=True`` adds ``content``, a SHA-256 of every byte of the points (costs a full read).

    Parameters
    ----------
    location
        The location of the store.
    element_group
        The points element group.
    name
        The element name.
    full
        Also hash the whole content.

    Returns
    -------
    dict
        ``{"hash", "n_files", "n_bytes"}`` and ``"content"`` when ``full``.
    """
    import hashlib

    content = hashlib.sha256() if full else None
    from spatialdata_plugins.core import is_blob_encoded

    parts: list[tuple[str, int, bytes]] = []
    if is_blob_encoded(element_group):
        try:  # one parquet file (encoding version 1) or one per part (version 2, written in parallel)
            from spatialdata_plugins.core import blob_parts

            names = [str(p["array"]) for p in blob_parts(element_group)]
        except ImportError:  # pragma: no cover - a core without multi-part points
            from spatialdata_plugins.core import BLOB_ARRAY

            names = [BLOB_ARRAY]
        for array_name in names:
            try:
                array = element_group[array_name]
            except KeyError as exc:
                raise PointsIndexError(
                    f"the parquet-in-zarr array {array_name!r} of points {name!r} is missing"
                ) from exc
            size, footer = _blob_footer(element_group.store, array)
            parts.append((array_name, size, footer))
            if content is not None:
                step = int(array.chunks[0])
                for start in range(0, size, step):
                    content.update(np.asarray(array[start : min(start + step, size)]).tobytes())
    elif location.file_like:
        fs = location.fs
        path = location.file_path("points", name, "points.parquet")
        if not fs.exists(path):
            raise PointsIndexError(f"the points file {path} of element {name!r} does not exist")
        files = fs.find(path, detail=True) if fs.isdir(path) else {path: fs.info(path)}
        for fpath, info in sorted(files.items()):
            size = int(info.get("size") or 0)
            rel = fpath[len(str(path)) :].lstrip("/\\") or "."
            if not fpath.endswith(".parquet") and not rel.startswith("_"):
                continue
            footer = b""
            if size >= 12:
                tail = fs.cat_file(fpath, start=size - 8, end=size)
                flen = int.from_bytes(tail[:4], "little")
                footer = fs.cat_file(fpath, start=max(size - 8 - flen, 0), end=size) if tail[4:] == b"PAR1" else tail
            parts.append((rel, size, footer))
            if content is not None:
                content.update(rel.encode())
                for start in range(0, size, 1 << 24):
                    content.update(fs.cat_file(fpath, start=start, end=min(start + (1 << 24), size)))
    else:
        raise PointsIndexError(f"cannot find the stored points of element {name!r} in {location}")
    out = {"hash": content_fingerprint(parts), "n_files": len(parts), "n_bytes": int(sum(p[1] for p in parts))}
    if content is not None:
        out["content"] = content.hexdigest()
    return out


# ------------------------------------------------------------------------------------------ helpers


def _is_sdata(obj: Any) -> bool:
    import spatialdata

    return isinstance(obj, spatialdata.SpatialData)


def _is_linked(sdata: Any, name: str) -> bool:
    """Whether ``name`` is an attached object (a lazy link) of a plugin-aware SpatialData."""
    is_attached = getattr(sdata, "is_attached", None)
    return bool(is_attached(name)) if callable(is_attached) else False


def _points_of(sdata: Any, name: str | None) -> tuple[str, Any]:
    if name is None:
        names = list(sdata.points)
        if len(names) != 1:
            raise InvalidArgumentError(f"name the points element: the SpatialData has {names or 'no points'}")
        name = names[0]
    if name not in sdata.points and _is_linked(sdata, name):
        sdata[name]  # a lazy link: load it (the link stays attached, and is written as a link)
    if name not in sdata.points:
        raise ElementNotFoundError(f"no points element {name!r}; the SpatialData has points {list(sdata.points)}")
    return name, sdata.points[name]


def linked_index_path(location: Any, name: str) -> str:
    """Store path of the parent group of the index of a lazily linked points element ``name``.

    A linked element has no group of its own in the store (it is a link): its index lives under the plugins'
    group, ``spatialdata_plugins/points_index/<name>``, as a standalone index.
    """
    return "/".join(p for p in ((location.path or "").strip("/"), LINKED_INDEX_GROUP, name) if p)


def build_linked_into_location(
    location: Any, name: str, element: Any, options: dict[str, Any], progress: bool | None = None
) -> dict[str, Any]:
    """Build the index of a lazily linked points element (loaded data ``element``) into ``location``."""
    from spatialdata.models import get_axes_names

    group = zarr.open_group(store=location.store, path=linked_index_path(location, name), mode="a", zarr_format=3)
    params = {k: options[k] for k in BUILD_OPTIONS if k in options and k != "feature_key"}
    return build_index(
        element,
        group,
        axes=list(get_axes_names(element)),
        feature_key=options.get("feature_key", _feature_key(element)),
        fingerprint={"standalone": True, "linked": True},
        extra={"element": name},
        progress=progress,
        temp_dir=options.get("temp_dir"),
        **params,
    )


def _location_of(sdata: Any, mode: str) -> Any:
    from spatialdata_plugins.core import open_location

    loc = getattr(sdata, "location", None)
    if loc is not None:
        if mode == "r":
            return loc
        source = loc.source if loc.source is not None else loc.url
        if isinstance(source, str | bytes) or hasattr(source, "__fspath__"):
            return open_location(source, "w", loc.storage_options)
        if isinstance(source, zarr.Group | zarr.abc.store.Store) and getattr(loc.store, "read_only", False):
            return open_location(loc.store.with_read_only(False), "w", None)
        return loc
    path = getattr(sdata, "path", None)
    if path is not None:
        return open_location(path, mode, None)
    return None


def _feature_key(element: Any) -> str | None:
    return (element.attrs.get("spatialdata_attrs") or {}).get("feature_key")


def _axes(columns: Sequence[str], axes: Sequence[str] | None) -> list[str]:
    if axes is not None:
        return list(axes)
    return [a for a in ("x", "y", "z") if a in columns]


def _element_group(location: Any, name: str, mode: str = "r") -> zarr.Group:
    try:
        return zarr.open_group(
            store=location.store, path=f"{location.path}/points/{name}".strip("/"), mode=mode, use_consolidated=False
        )
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as exc:
        raise ElementNotFoundError(f"no points element {name!r} in {location}") from exc


def has_points_index(location: Any, name: str) -> bool:
    """Whether the points element ``name`` stored at ``location`` has an index."""
    from zarr.core.sync import sync

    key = f"{location.path}/points/{name}/{INDEX_GROUP}/zarr.json".strip("/")
    return bool(sync(location.store.exists(key)))


def build_into_location(
    location: Any, name: str, options: dict[str, Any], progress: bool | None = None
) -> dict[str, Any]:
    """Build the index of the stored points element ``name`` beside it (used by the write hook and the CLI)."""
    from spatialdata.models import get_axes_names

    from spatialdata_plugins.core import read_element

    element = read_element(location, name)
    group = _element_group(location, name, mode="r+")
    feature_key = options.get("feature_key", _feature_key(element))
    fingerprint = points_fingerprint(location, group, name, full=True)
    params = {k: options[k] for k in BUILD_OPTIONS if k in options and k != "feature_key"}
    meta = build_index(
        element,
        group,
        axes=list(get_axes_names(element)),
        feature_key=feature_key,
        fingerprint=fingerprint | {"n_rows": None},
        extra={"element": name},
        progress=progress,
        temp_dir=options.get("temp_dir"),
        **params,
    )
    _fix_fingerprint_rows(group, meta)
    return meta


def _fix_fingerprint_rows(parent: zarr.Group, meta: dict[str, Any]) -> None:
    index_group = parent[INDEX_GROUP]
    head = dict(index_group.attrs[ATTRS_KEY])
    vgroup = index_group[head["current"]]
    stored = dict(vgroup.attrs[ATTRS_KEY])
    stored["fingerprint"] = dict(stored.get("fingerprint") or {}) | {"n_rows": stored["n_rows"]}
    vgroup.attrs[ATTRS_KEY] = stored
    head["n_rows"] = stored["n_rows"]
    head["n_levels"] = len(stored["levels"])
    head["params"] = {
        "feature_key": stored.get("feature_key"),
        "points_per_chunk": stored["points_per_chunk"],
        "seed": stored["seed"],
    }
    index_group.attrs[ATTRS_KEY] = head
    meta["fingerprint"] = stored["fingerprint"]


# ------------------------------------------------------------------------------------------ public API


def build_points_index(
    data: Any,
    name: str | None = None,
    *,
    target: Any = None,
    feature_key: str | None = None,
    axes: Sequence[str] | None = None,
    points_per_chunk: int = 64,
    seed: int = 0,
    rows_per_chunk: int = 1 << 20,
    bucket_rows: int = 4_000_000,
    storage_options: dict[str, Any] | None = None,
    temp_dir: str | None = None,
    progress: bool | None = None,
) -> PointsIndex | None:
    """Build a multiscale spatial index of points (neuroglancer's precomputed-annotation scheme).

    Level 0 is the coarsest: a ``1 x 1`` grid over the bounding cube of the points, and every level doubles the
    grid per axis. At every level each remaining point is kept with probability ``min(1, points_per_chunk /
    maxCount)`` (``maxCount``: most remaining points in one cell of the level), so every level is a random,
    density-preserving preview of what remains, every point is in exactly one level and the levels together hold
    all points. Rows are stored ordered by (level, cell Morton code, gene, random rank), with a directory
    (level, cell) -> rows; inside a cell every gene's run is in random order, so a prefix of it is a random
    subsample.

    Parameters
    ----------
    data
        A SpatialData object (``name`` names the points element), or a pandas or dask DataFrame of points
        (then ``target`` is required).
    name
        The points element. Optional when there is only one.
    target
        Where to write. For a SpatialData read from (or written to) a store, default is that store: the index
        goes beside the element, ``points/<name>/points_index``. For a SpatialData that is not stored yet, the
        element is marked and the index is built when it is written with
        :func:`spatialdata_plugins.core.write`. For a DataFrame: a path, URL, zarr store or group that receives
        a standalone index.
    feature_key
        The gene column. Default: the element's ``feature_key``.
    axes
        Coordinate columns of a DataFrame (default ``x, y`` and ``z`` if present).
    points_per_chunk
        Neuroglancer's ``limit``: the most points any cell of a level receives (the read unit of a query).
    seed
        Seed of the sampling; the same seed and points give the same index.
    rows_per_chunk
        Rows per zarr chunk of the column arrays (files on disk; queries read byte ranges inside them).
    bucket_rows
        Rows sorted in memory at a time during the build (the out-of-core granularity).
    storage_options
        fsspec options for a URL ``target``.
    temp_dir
        Directory for the spill files of the build (default: the system temporary directory).
    progress
        Show tqdm progress bars (``None``: only on a terminal).

    Returns
    -------
    PointsIndex or None
        The opened index, or ``None`` when the index will be built at the next write.

    Raises
    ------
    ElementNotFoundError
        ``name`` is not a points element.
    InvalidArgumentError
        Bad parameters, missing coordinates (NaN) or a feature column that is not categorical.
    """
    from spatialdata_plugins.core import ReadOnlyLocationError, open_location

    options = {
        "points_per_chunk": points_per_chunk,
        "seed": seed,
        "rows_per_chunk": rows_per_chunk,
        "bucket_rows": bucket_rows,
        "temp_dir": temp_dir,
    }
    if feature_key is not None:
        options["feature_key"] = feature_key
    if _is_sdata(data):
        name, element = _points_of(data, name)
        marker = {k: v for k, v in options.items() if k != "temp_dir"}
        location = open_location(target, "w", storage_options) if target is not None else _location_of(data, "w")
        if location is None:
            element.attrs[MARKER] = marker
            return None
        if not location.writable:
            if target is None and getattr(data, "open_transaction", None) is not None:
                # a read-only snapshot inside a transaction: the commit builds the index from the stored element
                # and stores it (the element itself is not written again unless something else changed it)
                element.attrs[MARKER] = marker
                data.request_write(name, rewrite=False)
                return None
            raise ReadOnlyLocationError(
                f"cannot build the index of {name!r}: {location} is read-only. Build it inside a transaction on "
                "the object (with spatialdata_plugins.icechunk.transaction(sdata): build_points_index(sdata, "
                f"{name!r})), which commits it, or write the SpatialData to a writable store first"
            )
        if _is_linked(data, name) and target is None:
            build_linked_into_location(location, name, element, options, progress)
            element.attrs[MARKER] = marker
            return PointsIndex.from_path(location.store, linked_index_path(location, name))
        if target is not None and not has_points_element(location, name):
            raise InvalidArgumentError(f"{target!r} holds no points element {name!r}: write the SpatialData first")
        build_into_location(location, name, options, progress)
        element.attrs[MARKER] = marker
        return PointsIndex.from_group(_element_group(location, name))
    if isinstance(data, pd.DataFrame):
        ddf = dd.from_pandas(data, chunksize=1 << 21, sort=False)
    elif isinstance(data, dd.DataFrame):
        ddf = data
    else:
        raise InvalidArgumentError(
            f"build_points_index takes a SpatialData or a pandas/dask DataFrame, not {type(data).__name__}"
        )
    if target is None:
        raise InvalidArgumentError(
            "a DataFrame needs target=... (path, URL, zarr store or group) to write the index to"
        )
    if feature_key is None:
        feature_key = _feature_key(ddf)
    location = open_location(target, "w", storage_options)
    root = zarr.open_group(store=location.store, path=location.path or None, mode="a", zarr_format=3)
    meta = build_index(
        ddf,
        root,
        axes=_axes(list(ddf.columns), axes),
        feature_key=feature_key,
        points_per_chunk=points_per_chunk,
        seed=seed,
        rows_per_chunk=rows_per_chunk,
        bucket_rows=bucket_rows,
        fingerprint={"standalone": True},
        temp_dir=temp_dir,
        progress=progress,
    )
    del meta
    return PointsIndex.from_group(root)


def has_points_element(location: Any, name: str) -> bool:
    """Whether ``location`` holds a points element ``name``."""
    from zarr.core.sync import sync

    key = f"{location.path}/points/{name}/zarr.json".strip("/")
    return bool(sync(location.store.exists(key)))


def open_points_index(
    data: Any,
    name: str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
    verify: bool | str = True,
    coalesce_bytes: int = COALESCE_BYTES,
    max_requests: int | str | None = MAX_REQUESTS,
) -> PointsIndex:
    """Open a points index once, to run many queries on it (its metadata is cached).

    Parameters
    ----------
    data
        A SpatialData read from a store, a path, URL, zarr store or group, or a
        :class:`~spatialdata_plugins.core.Location`.
    name
        The points element; ``None`` for a standalone index written from a DataFrame (or the only element).
    storage_options
        fsspec options for URLs.
    verify
        Check that the points did not change since the index was built: ``True`` compares the listing and the
        parquet footers (cheap), ``"full"`` also a hash of every byte of the points, ``False`` skips the check.
    coalesce_bytes
        Byte ranges of a column closer than this are fetched as one request (fewer requests, a few more bytes).
    max_requests
        At most this many byte-range requests per column and read; beyond it, the ranges with the smallest gaps
        between them are merged. ``None`` for no limit (then every run of rows is its own request); ``"auto"``
        (default) for no limit on local directories and memory stores and 64 on object stores and icechunk.

    Returns
    -------
    PointsIndex
        The opened index.

    Raises
    ------
    IndexNotFoundError
        There is no index.
    StaleIndexError
        The points changed after the index was built.
    CorruptIndexError
        The index is malformed.
    """
    from spatialdata_plugins.core import open_location

    if isinstance(data, PointsIndex):
        return data
    if _is_sdata(data):
        name, _ = _points_of(data, name)
        location = _location_of(data, "r")
        if location is None:
            raise IndexNotFoundError(
                f"the SpatialData is not stored, so points {name!r} have no index yet: write it with "
                "spatialdata_plugins.core.write after build_points_index"
            )
    else:
        location = open_location(data, "r", storage_options)
    base = (location.path or "").strip("/")
    if _is_sdata(data) and name is not None and _is_linked(data, name):
        linked = linked_index_path(location, name)
        if read_json(location.store, f"{linked}/{INDEX_GROUP}/zarr.json") is None:
            raise IndexNotFoundError(f"the linked points {name!r} have no index in {location}")
        return PointsIndex.from_path(location.store, linked, coalesce_bytes, max_requests)
    if name is None:
        if read_json(location.store, f"{base}/{INDEX_GROUP}/zarr.json".strip("/")) is not None:
            return PointsIndex.from_path(location.store, base, coalesce_bytes, max_requests)  # a standalone index
        root = zarr.open_group(store=location.store, path=location.path or None, mode="r", use_consolidated=False)
        names = list(root["points"]) if "points" in root else []
        if len(names) != 1:
            raise InvalidArgumentError(f"name the points element: {location} has {names or 'no points'}")
        name = names[0]
    element_path = f"{base}/points/{name}".strip("/")
    if read_json(location.store, f"{element_path}/zarr.json") is None:
        raise ElementNotFoundError(f"no points element {name!r} in {location}")
    index = PointsIndex.from_path(location.store, element_path, coalesce_bytes, max_requests)
    if verify:
        full = verify == "full"
        group = _element_group(location, name)
        check_fingerprint(index, lambda: points_fingerprint(location, group, name, full=full))
    return index


def query_points(
    data: Any,
    name: str | None = None,
    *,
    bbox: Any = None,
    genes: Any = None,
    level: int | None = None,
    max_level: int | None = None,
    columns: Sequence[str] | None = None,
    target_count: int | None = None,
    include_level: bool = False,
    output: str = "pandas",
    storage_options: dict[str, Any] | None = None,
    verify: bool | str = True,
) -> pd.DataFrame | dd.DataFrame:
    """Query indexed points by box, genes and resolution, reading little more than the answer.

    Parameters
    ----------
    data
        A SpatialData read from a store, an opened :class:`PointsIndex`, or a path, URL, zarr store or group.
    name
        The points element (``None`` for a standalone index or the only element).
    bbox
        ``(xmin, ymin, xmax, ymax)`` (3D: ``(xmin, ymin, zmin, xmax, ymax, zmax)``), ``((mins), (maxs))`` or
        ``{axis: (min, max)}`` in the points' intrinsic coordinates. A point is inside when ``min < v < max`` on
        every axis (spatialdata's strict inequalities). ``None``: everything. A box of zero width or outside the
        data gives an empty result; an inverted box raises.
    genes
        A gene name or a list of names (values of the feature column); ``None``: all genes. Unknown names raise
        :class:`UnknownGeneError`.
    level
        Only this level (0 is the coarsest).
    max_level
        Levels 0 to ``max_level`` (a resolution cap); default: all levels.
    columns
        Columns to return (default all); the index of the points is always restored.
    target_count
        About this many points: whole levels from the coarsest while the estimated count in the box stays below
        it, then the same-fraction prefix of every (cell, gene) run of the next level (a random subsample).
    include_level
        Add a ``level`` column.
    output
        ``"pandas"`` or ``"dask"`` (a one-partition dask DataFrame of the same rows).
    storage_options
        fsspec options for URLs.
    verify
        Check that the points did not change since the index was built (see :func:`open_points_index`).

    Returns
    -------
    pandas.DataFrame or dask.dataframe.DataFrame
        The matching points, ordered by level, cell and gene.

    Raises
    ------
    IndexNotFoundError, StaleIndexError, CorruptIndexError, UnknownGeneError, InvalidArgumentError
        See :mod:`spatialdata_plugins.points_index`.
    """
    if output not in ("pandas", "dask"):
        raise InvalidArgumentError(f"output must be 'pandas' or 'dask', got {output!r}")
    index = open_points_index(data, name, storage_options=storage_options, verify=verify)
    frame = index.query(
        bbox,
        genes,
        level=level,
        max_level=max_level,
        columns=columns,
        target_count=target_count,
        include_level=include_level,
    )
    return dd.from_pandas(frame, npartitions=1) if output == "dask" else frame


def bounding_box_query(
    data: Any,
    name: str,
    axes: Sequence[str],
    min_coordinate: Sequence[float],
    max_coordinate: Sequence[float],
    target_coordinate_system: str = "global",
    *,
    genes: Any = None,
    max_level: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> dd.DataFrame | None:
    """``spatialdata.bounding_box_query`` for indexed points: same arguments, same result, far less IO.

    The box is given in ``target_coordinate_system``; points strictly inside it (``min < v < max``, as spatialdata
    0.8 documents and implements for points) are returned as a points element (dask DataFrame) in their
    intrinsic coordinates, with their transformations, or ``None`` when nothing matches. Scalings and
    translations map the box into intrinsic coordinates exactly; other affine transformations query the
    intrinsic box around the transformed corners and then test every candidate in the target system.

    Parameters
    ----------
    data
        A SpatialData read from a store, or a path, URL or zarr store.
    name
        The points element.
    axes
        Axes of the box, e.g. ``("x", "y")``.
    min_coordinate, max_coordinate
        Box corners in ``target_coordinate_system``.
    target_coordinate_system
        Coordinate system of the box.
    genes
        Optional gene filter (see :func:`query_points`).
    max_level
        Optional resolution cap (see :func:`query_points`).
    storage_options
        fsspec options for URLs.

    Returns
    -------
    dask.dataframe.DataFrame or None
        The points inside the box, parsed with ``spatialdata.models.PointsModel``.
    """
    from spatialdata.models import PointsModel
    from spatialdata.transformations import get_transformation

    from spatialdata_plugins.core import read_element

    if _is_sdata(data):
        _, element = _points_of(data, name)
    else:
        element = read_element(data, name, storage_options=storage_options)
    transformations = get_transformation(element, get_all=True)
    if target_coordinate_system not in transformations:
        raise InvalidArgumentError(
            f"points {name!r} are not in coordinate system {target_coordinate_system!r} "
            f"(they are in {sorted(transformations)})"
        )
    axes = list(axes)
    mins = np.asarray(min_coordinate, dtype=float)
    maxs = np.asarray(max_coordinate, dtype=float)
    if mins.shape != (len(axes),) or maxs.shape != (len(axes),):
        raise InvalidArgumentError(f"min_coordinate and max_coordinate need one value per axis {axes}")
    if np.any(mins > maxs):
        raise InvalidArgumentError(f"the box is inverted: min {mins.tolist()} > max {maxs.tolist()}")
    index = open_points_index(data, name, storage_options=storage_options)
    intr = index.axes
    if any(a not in intr for a in axes):
        raise InvalidArgumentError(f"box axes {axes} do not match the points' axes {intr}")
    t = transformations[target_coordinate_system]
    m = np.asarray(t.to_affine_matrix(input_axes=tuple(intr), output_axes=tuple(intr)), dtype=float)
    lin = m[:-1, :-1]
    box_lo = np.full(len(intr), -np.inf)
    box_hi = np.full(len(intr), np.inf)
    for a, lo_, hi_ in zip(axes, mins, maxs, strict=True):
        box_lo[intr.index(a)], box_hi[intr.index(a)] = lo_, hi_
    diagonal = np.allclose(lin, np.diag(np.diagonal(lin)))
    if diagonal and np.all(np.diagonal(lin) != 0):
        s, tr = np.diagonal(lin), m[:-1, -1]
        a_, b_ = (box_lo - tr) / s, (box_hi - tr) / s
        qlo, qhi = np.minimum(a_, b_), np.maximum(a_, b_)
        frame = index.query(
            {ax: (qlo[i], qhi[i]) for i, ax in enumerate(intr) if not (math.isinf(qlo[i]) and math.isinf(qhi[i]))},
            genes,
            max_level=max_level,
        )
    else:
        finite = np.isfinite(box_lo) & np.isfinite(box_hi)
        if not finite.all():
            frame = index.query(None, genes, max_level=max_level)
        else:
            corners = (
                np.array(np.meshgrid(*[[box_lo[i], box_hi[i]] for i in range(len(intr))])).reshape(len(intr), -1).T
            )
            inv = np.linalg.inv(m)
            pts = corners @ inv[:-1, :-1].T + inv[:-1, -1]
            frame = index.query(
                {ax: (pts[:, i].min() - 1e-9, pts[:, i].max() + 1e-9) for i, ax in enumerate(intr)},
                genes,
                max_level=max_level,
            )
        coords = frame[intr].to_numpy(dtype=float) @ lin.T + m[:-1, -1]
        keep = np.all((coords > box_lo) & (coords < box_hi), axis=1)
        frame = frame[keep]
    if len(frame) == 0:
        return None
    return PointsModel.parse(
        dd.from_pandas(frame, npartitions=1),
        transformations={k: v for k, v in transformations.items()},
        feature_key=index.feature_key,
    )


def index_info(index: PointsIndex) -> dict[str, Any]:
    """A summary of an opened index (levels, rows, sizes), as printed by ``points-index info``."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "rows": index.n_rows,
        "axes": index.axes,
        "feature_key": index.feature_key,
        "levels": [
            {
                "level": lv["level"],
                "rows": int(lv["rows"][1] - lv["rows"][0]),
                "cells": lv["entries"],
                "max_per_cell": lv.get("max_count"),
            }
            for lv in index.levels
        ],
        "points_per_chunk": index.meta.get("points_per_chunk"),
        "seed": index.meta.get("seed"),
    }
