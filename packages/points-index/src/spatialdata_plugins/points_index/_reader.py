"""Reading the points index: box and gene queries that fetch only the byte ranges they need."""

from __future__ import annotations

import asyncio
import difflib
import functools
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import zarr
from zarr.abc.store import RangeByteRequest, Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from spatialdata_plugins.points_index._build import ATTRS_KEY, FORMAT_NAME, FORMAT_VERSION, INDEX_GROUP, quantize
from spatialdata_plugins.points_index._directory import decode_cell_record, decode_gene_record, range_requests
from spatialdata_plugins.points_index._errors import (
    CorruptIndexError,
    IndexNotFoundError,
    InvalidArgumentError,
    UnknownGeneError,
)
from spatialdata_plugins.points_index._morton import box_code_ranges, coarsen_ranges, morton, unmorton

MAX_CONCURRENCY = 32
BLOCK_CACHE = 1 << 16
"""Decoded cell-directory blocks kept by an opened index (a viewer serving many tiles reuses them)."""
COALESCE_BYTES = 0
"""Default: byte ranges of a column separated by at most this many bytes are read as one request."""
MAX_REQUESTS: int | str | None = "auto"
"""Default request cap: ``"auto"`` is no cap on stores with synchronous reads (local directories, memory: a request
costs microseconds) and ``REMOTE_MAX_REQUESTS`` on the others (object stores, icechunk: a request costs a round
trip)."""
REMOTE_MAX_REQUESTS = 64
"""At most this many byte-range requests per column and batched read on stores without synchronous reads."""


def supports_sync_reads(store: Store) -> bool:
    """Whether ``store`` serves synchronous reads (zarr's ``SupportsSyncStore``: local directories, memory).

    Such stores answer a byte-range read in microseconds; going through the event loop and a thread per request
    would cost far more than the read itself, so :func:`fetch_ranges` reads them in the calling thread.
    """
    try:
        from zarr.abc.store import SupportsSyncStore
    except ImportError:  # pragma: no cover - zarr < 3.2
        return False
    return isinstance(store, SupportsSyncStore) and bool(getattr(store, "_supports_sync_io", True))


def _range(start: int, stop: int) -> RangeByteRequest | None:
    return None if stop < 0 else RangeByteRequest(start, stop)


def _checked(key: str, start: int, stop: int, buf: Any, missing_ok: bool = False) -> bytes | None:
    if buf is None and missing_ok:
        return None
    if buf is None:
        raise CorruptIndexError(f"the index chunk {key!r} is missing")
    data = buf.to_bytes()
    if stop >= 0 and len(data) != stop - start:
        raise CorruptIndexError(f"the index chunk {key!r} is truncated")
    return data


def _local_root(store: Store) -> str | None:
    """The directory of a zarr ``LocalStore`` (its keys are files under it), else ``None``."""
    from zarr.storage import LocalStore

    return str(store.root) if isinstance(store, LocalStore) else None


def _pread_ranges(root: str, requests: list[tuple[str, int, int]], missing_ok: bool) -> list[Any]:
    """Byte ranges of the files of a local store: one ``open`` per file and one ``os.pread`` per range.

    zarr's ``LocalStore`` opens, seeks and closes the file for every range (through ``pathlib``), which costs more
    than the read itself for the small ranges of a box query; the bytes read are the same.
    """
    import os

    fds: dict[str, int | None] = {}
    out: list[Any] = []
    pread = os.pread
    try:
        for key, start, stop in requests:
            fd = fds.get(key, -1)
            if fd == -1:
                try:
                    fd = fds[key] = os.open(os.path.join(root, key), os.O_RDONLY)
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    fd = fds[key] = None
            if fd is None:
                out.append(_checked(key, start, stop, None, missing_ok))
                continue
            if stop < 0:
                start, stop = 0, os.fstat(fd).st_size
            data = pread(fd, stop - start, start)
            if len(data) != stop - start:
                raise CorruptIndexError(f"the index chunk {key!r} is truncated")
            out.append(data)
    finally:
        for fd in fds.values():
            if fd is not None:
                os.close(fd)
    return out


def fetch_ranges(store: Store, requests: list[tuple[str, int, int]], missing_ok: bool = False) -> list[Any]:
    """Fetch byte ranges ``(key, start, stop)`` (``stop=-1``: the whole object).

    A missing key or a short read is an error, unless ``missing_ok`` (then its entry is ``None``).

    Local directories are read with ``os.pread`` (one open per file), other stores with synchronous reads (memory)
    in the calling thread, the others (object stores, icechunk) concurrently through the event loop, at most
    ``MAX_CONCURRENCY`` requests at a time.
    """
    root = _local_root(store)
    if requests and root is not None:
        return _pread_ranges(root, requests, missing_ok)
    if requests and supports_sync_reads(store):
        try:
            proto = default_buffer_prototype()
            return [
                _checked(k, s, e, store.get_sync(k, prototype=proto, byte_range=_range(s, e)), missing_ok)
                for k, s, e in requests
            ]
        except NotImplementedError:  # a wrapper whose inner store is asynchronous only
            pass

    async def one(sem: asyncio.Semaphore, key: str, start: int, stop: int) -> bytes:
        async with sem:
            buf = await store.get(key, prototype=default_buffer_prototype(), byte_range=_range(start, stop))
        return _checked(key, start, stop, buf, missing_ok)

    async def run() -> list[bytes]:
        sem = asyncio.Semaphore(MAX_CONCURRENCY)
        return list(await asyncio.gather(*(one(sem, k, s, e) for k, s, e in requests)))

    return sync(run()) if requests else []


byte_range_requests = range_requests
"""Requests for bytes ``[start, stop)`` of an uncompressed 1-D uint8 zarr array, split at its chunks."""


def read_json(store: Store, key: str) -> dict[str, Any] | None:
    """The JSON document at ``key`` (a ``zarr.json``), or ``None`` when it does not exist."""
    blob = fetch_ranges(store, [(key, 0, -1)], missing_ok=True)[0]
    if blob is None:
        return None
    try:
        doc = json.loads(blob)
    except ValueError as exc:
        raise CorruptIndexError(f"{key!r} is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CorruptIndexError(f"{key!r} is not a JSON object")
    return doc


@functools.lru_cache(maxsize=64)
def _categorical_dtype(categories: tuple[Any, ...]) -> pd.CategoricalDtype:
    """The pandas dtype of a categorical column, shared by every index opened with the same categories.

    Building the categories' string index costs about a millisecond for 1,000 genes, as much as opening an index; a
    viewer that opens the same index again (or many indexes of one gene panel) reuses it.
    """
    return pd.CategoricalDtype(pd.Index(list(categories)))


def runs_to_positions(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """All integers of the half-open runs ``[starts[i], ends[i])``, in order."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def coalesce_runs(
    starts: np.ndarray, ends: np.ndarray, gap: int, max_runs: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted, disjoint runs ``[starts, ends)`` separated by at most ``gap`` rows (``gap=0``: touching runs).

    With ``max_runs``, if more runs remain, the smallest gaps are merged too until at most ``max_runs`` remain
    (the fewest extra rows for that many requests).
    """
    if len(starts) <= 1:
        return starts, ends
    gaps = starts[1:] - ends[:-1]
    brk = gaps > max(int(gap), 0)
    if max_runs is not None and int(brk.sum()) + 1 > max(int(max_runs), 1):
        keep = max(int(max_runs), 1) - 1
        if keep == 0:
            brk[:] = False
        else:
            # break only at the ``keep`` largest gaps (ties broken by position, so exactly ``keep`` breaks)
            top = np.argpartition(-gaps, keep - 1)[:keep]
            brk = np.zeros(len(gaps), dtype=bool)
            brk[top] = True
    first = np.concatenate([[0], np.flatnonzero(brk) + 1])
    return starts[first], np.maximum.reduceat(ends, first)


def positions_to_runs(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of consecutive integers in a sorted array of positions."""
    if len(pos) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    brk = np.flatnonzero(np.diff(pos) != 1) + 1
    starts = pos[np.concatenate([[0], brk])]
    ends = pos[np.concatenate([brk - 1, [len(pos) - 1]])] + 1
    return starts.astype(np.int64), ends.astype(np.int64)


def _in_ranges(codes: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Which ``codes`` fall in one of the sorted, disjoint half-open ``ranges`` (rows ``[start, stop)``)."""
    if len(ranges) == 0 or len(codes) == 0:
        return np.zeros(len(codes), dtype=bool)
    i = np.searchsorted(ranges[:, 0], codes, side="right") - 1
    ok = i >= 0
    ok[ok] = codes[ok] < ranges[i[ok], 1]
    return ok


class PointsIndex:
    """An opened points index (metadata cached; data read on demand by :meth:`query`).

    Use :func:`spatialdata_plugins.points_index.open_points_index` to open one.

    Parameters
    ----------
    store
        The zarr store holding the index.
    group_path
        Path of the index version group inside ``store``.
    meta
        The index metadata (the group attributes).
    coalesce_bytes
        Byte ranges closer than this are read as one request (fewer requests, a few more bytes).
    max_requests
        At most this many byte-range requests per column and read: when a read would need more, the ranges
        separated by the smallest gaps are merged (answers scattered over the whole column, such as one gene at full
        resolution, are then read in a few large blocks). ``None``: no limit. ``"auto"`` (default): no limit on
        stores with synchronous reads (local directories, memory), 64 on the others (object stores, icechunk).
    """

    def __init__(
        self,
        store: Store,
        group_path: str,
        meta: dict[str, Any],
        coalesce_bytes: int = COALESCE_BYTES,
        max_requests: int | str | None = MAX_REQUESTS,
    ) -> None:
        self.store = store
        self.path = group_path.strip("/")
        self.meta = meta
        bad_cap = max_requests != "auto" and max_requests is not None
        if bad_cap and (isinstance(max_requests, bool | str) or int(max_requests) < 1):
            raise InvalidArgumentError(f"max_requests must be >= 1, None or 'auto', got {max_requests!r}")
        if int(coalesce_bytes) < 0:
            raise InvalidArgumentError(f"coalesce_bytes must be >= 0, got {coalesce_bytes}")
        self.coalesce_bytes = int(coalesce_bytes)
        if max_requests == "auto":
            local = _local_root(store) is not None or supports_sync_reads(store)
            max_requests = None if local else REMOTE_MAX_REQUESTS
        self.max_requests = None if max_requests is None else int(max_requests)
        self._block_cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._gene_cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._gene_table_cache: dict[tuple[int, int, int], np.ndarray] = {}
        self._cat_cache: dict[str, np.ndarray] = {}
        self._group: zarr.Group | None = None
        self._arrays: dict[str, zarr.Array] = {}
        self._metas: dict[str, dict[str, Any]] = {}
        self._dtype_cache: dict[str, pd.CategoricalDtype] = {}
        try:
            self.axes: list[str] = list(meta["axes"])
            self.levels: list[dict[str, Any]] = list(meta["levels"])
            self.columns: list[dict[str, Any]] = list(meta["columns"])
            self.n_rows = int(meta["n_rows"])
            self.finest = int(meta["finest"])
            self.dim = int(meta["dim"])
            self.lo = [float(v) for v in meta["lo"]]
            self.scale = float(meta["scale"])
            self.rows_per_chunk = max(min(int(meta["rows_per_chunk"]), self.n_rows), 1)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptIndexError(f"the points index at {self.path!r} has malformed metadata ({exc!r})") from exc
        if meta.get("format") != FORMAT_NAME:
            raise CorruptIndexError(f"{self.path!r} is not a points index (format {meta.get('format')!r})")
        if int(meta.get("version", -1)) != FORMAT_VERSION:
            raise CorruptIndexError(
                f"the points index at {self.path!r} has format version {meta.get('version')!r}; this version of "
                f"spatialdata-plugins-points-index reads version {FORMAT_VERSION} only: rebuild the index with "
                "build_points_index (or `spatialdata-plugins points-index build`)"
            )
        directory = meta.get("directory")
        if not isinstance(directory, dict) or directory.get("encoding") != "blocks":
            raise CorruptIndexError(f"the points index at {self.path!r} has no cell directory in its metadata")
        self.feature_key: str | None = meta.get("feature_key")
        self._by_name = {c["name"]: c for c in self.columns if c["role"] == "column"}
        self._index_spec = next(c for c in self.columns if c["role"] == "index")

    # ------------------------------------------------------------------ metadata

    @classmethod
    def from_group(
        cls, parent: zarr.Group, coalesce_bytes: int = COALESCE_BYTES, max_requests: int | str | None = MAX_REQUESTS
    ) -> PointsIndex:
        """Open the index stored under ``parent/points_index``."""
        return cls.from_path(parent.store, parent.path, coalesce_bytes, max_requests)

    @classmethod
    def from_path(
        cls,
        store: Store,
        parent_path: str,
        coalesce_bytes: int = COALESCE_BYTES,
        max_requests: int | str | None = MAX_REQUESTS,
    ) -> PointsIndex:
        """Open the index stored under ``<parent_path>/points_index`` of ``store``.

        Reads two small JSON documents (the index group's and the current version's ``zarr.json``), nothing else:
        the directories, the gene names and the columns are read when a query needs them.
        """
        index_path = f"{parent_path.strip('/')}/{INDEX_GROUP}".strip("/")
        head_doc = read_json(store, f"{index_path}/zarr.json")
        if head_doc is None or head_doc.get("node_type") != "group":
            raise IndexNotFoundError(f"no points index under {parent_path.strip('/') or '/'!r}")
        head = (head_doc.get("attributes") or {}).get(ATTRS_KEY)
        if not isinstance(head, dict) or "current" not in head:
            raise CorruptIndexError(f"{index_path!r} has no {ATTRS_KEY!r} attribute naming the current index")
        vpath = f"{index_path}/{head['current']}"
        vdoc = read_json(store, f"{vpath}/zarr.json")
        if vdoc is None or vdoc.get("node_type") != "group":
            raise CorruptIndexError(f"the index version {head['current']!r} named by {index_path!r} is missing")
        meta = (vdoc.get("attributes") or {}).get(ATTRS_KEY)
        if not isinstance(meta, dict):
            raise CorruptIndexError(f"{vpath!r} has no index metadata")
        return cls(store, vpath, meta, coalesce_bytes, max_requests)

    @property
    def group(self) -> zarr.Group:
        """The index version group."""
        if self._group is None:
            self._group = zarr.open_group(store=self.store, path=self.path, mode="r", use_consolidated=False)
        return self._group

    @property
    def n_levels(self) -> int:
        """Number of levels (level 0 is the coarsest)."""
        return len(self.levels)

    @property
    def fingerprint(self) -> dict[str, Any]:
        """Fingerprint of the points the index was built from."""
        return dict(self.meta.get("fingerprint") or {})

    def level_rows(self) -> list[int]:
        """Number of points in every level."""
        return [int(lv["rows"][1] - lv["rows"][0]) for lv in self.levels]

    def categories(self, column: str) -> np.ndarray:
        """Categories of a categorical or text column (read once, then cached)."""
        spec = self._index_spec if column == "__index__" else self._by_name.get(column)
        if spec is None or spec["kind"] not in ("categorical", "string"):
            raise InvalidArgumentError(f"{column!r} is not a categorical column of the index")
        if spec["array"] not in self._cat_cache:
            key = f"categories/{spec['array']}"
            shape = self._array_meta(key)["shape"]
            values = self._read_array_chunks(key, [0]) if shape and int(shape[0]) else [np.zeros(0, dtype=object)]
            if values is None:  # an encoding decoded by zarr only
                arr = self._array(key)
                values = [np.asarray(arr[:]) if arr.shape[0] else np.zeros(0, dtype=object)]
            self._cat_cache[spec["array"]] = values[0][: int(shape[0])] if shape else values[0]
        return self._cat_cache[spec["array"]]

    @property
    def genes(self) -> list[Any]:
        """The gene names (categories of the feature column), or ``[]`` without a feature column."""
        return [] if self.feature_key is None else list(self.categories(self.feature_key))

    def _array_meta(self, key: str) -> dict[str, Any]:
        """The ``zarr.json`` of an index array (read once per opened index)."""
        if key not in self._metas:
            doc = read_json(self.store, f"{self.path}/{key}/zarr.json")
            if doc is None or doc.get("node_type") != "array":
                raise CorruptIndexError(f"the index array {key!r} is missing")
            self._metas[key] = doc
        return self._metas[key]

    def _read_array_chunks(self, key: str, chunk_ids: list[int]) -> list[np.ndarray] | None:
        """Whole chunks of the 1-D index array ``key``, fetched in one batch and decoded here.

        The index writes its small arrays (directory, categories) with a few zarr v3 codecs (``bytes``, ``blosc``,
        ``zstd``, ``vlen-utf8``); their chunks are fetched like the column ranges (one batch, synchronous on local
        stores) and decoded with ``numcodecs``, much cheaper per chunk than a zarr selection. A missing chunk is the
        fill value (zarr does not store chunks equal to it). ``None`` when the array uses anything else: the caller
        then reads it through zarr.
        """
        return self._read_many([key], chunk_ids)[0] if self._decodable(key) else None

    def _decodable(self, key: str) -> bool:
        meta = self._array_meta(key)
        names = [c.get("name") for c in meta.get("codecs", [])]
        enc = meta.get("chunk_key_encoding", {})
        if enc.get("name") != "default" or enc.get("configuration", {}).get("separator", "/") != "/":
            return False
        if len(meta.get("shape", [])) != 1:
            return False
        if meta.get("data_type") == "string":
            return names[:1] == ["vlen-utf8"] and all(n in ("zstd", "blosc") for n in names[1:])
        endian = meta["codecs"][0].get("configuration", {}).get("endian", "little") if names else None
        return names[:1] == ["bytes"] and endian == "little" and all(n in ("zstd", "blosc") for n in names[1:])

    def _read_many(self, keys: list[str], chunk_ids: list[int]) -> list[list[np.ndarray]]:
        import numcodecs

        requests = [(f"{self.path}/{key}/c/{k}", 0, -1) for key in keys for k in chunk_ids]
        blobs = fetch_ranges(self.store, requests, missing_ok=True)
        out = []
        for i, key in enumerate(keys):
            meta = self._array_meta(key)
            chunk = int(meta["chunk_grid"]["configuration"]["chunk_shape"][0])
            is_str = meta.get("data_type") == "string"
            dtype = np.dtype(object) if is_str else np.dtype(str(meta["data_type"])).newbyteorder("<")
            decoded = []
            for blob in blobs[i * len(chunk_ids) : (i + 1) * len(chunk_ids)]:
                if blob is None:
                    fill = meta.get("fill_value", 0)
                    decoded.append(np.full(chunk, "" if is_str else fill, dtype=dtype))
                    continue
                try:
                    for codec in reversed(meta["codecs"][1:]):
                        blob = (numcodecs.blosc.decompress if codec["name"] == "blosc" else numcodecs.Zstd().decode)(
                            blob
                        )
                    decoded.append(
                        numcodecs.VLenUTF8().decode(blob) if is_str else np.frombuffer(blob, dtype=dtype)[:chunk]
                    )
                except (RuntimeError, ValueError, TypeError) as exc:
                    raise CorruptIndexError(f"a chunk of the index array {key!r} cannot be decoded ({exc})") from exc
            out.append(decoded)
        return out

    def _array(self, key: str) -> zarr.Array:
        """An index array, opened once (its metadata is read once per opened index)."""
        if key not in self._arrays:
            try:
                self._arrays[key] = zarr.open_array(
                    store=self.store, path=f"{self.path}/{key}", mode="r", zarr_format=3
                )
            except (FileNotFoundError, KeyError, zarr.errors.ArrayNotFoundError) as exc:
                raise CorruptIndexError(f"the index array {key!r} is missing") from exc
        return self._arrays[key]

    # ------------------------------------------------------------------ grid and rows (for viewers)

    @property
    def bounds(self) -> tuple[list[float], list[float]]:
        """The cube the grid of every level divides: ``(lower corner, upper corner)``, one value per axis.

        Level ``l`` divides it into ``2**l`` cells per axis; cells are half-open, ``[lo, hi)``.
        """
        side = (1 << self.finest) / self.scale
        return list(self.lo), [v + side for v in self.lo]

    @property
    def points_per_chunk(self) -> int:
        """The build's ``points_per_chunk``: the most points a cell receives on the levels that sample."""
        return int(self.meta.get("points_per_chunk") or 64)

    @property
    def seed(self) -> int:
        """The seed of the build's sampling."""
        return int(self.meta.get("seed") or 0)

    def grid_shape(self, level: int) -> tuple[int, ...]:
        """Number of cells per axis of ``level`` (``2**level`` on every axis).

        Parameters
        ----------
        level
            A level of the index, 0 (coarsest) to ``n_levels - 1``.

        Returns
        -------
        tuple of int
            The grid shape, one entry per axis (in the order of :attr:`axes`).
        """
        self._levels(int(level), None)
        return (1 << int(level),) * self.dim

    def cell_size(self, level: int) -> float:
        """Side of a cell of ``level`` in the points' coordinates (the same on every axis)."""
        self._levels(int(level), None)
        return (1 << (self.finest - int(level))) / self.scale

    def level_summary(self) -> pd.DataFrame:
        """One row per level: its number of points, of non-empty cells and the most points in one cell.

        Returns
        -------
        pandas.DataFrame
            Columns ``level``, ``rows``, ``cells``, ``max_count`` (from the index metadata; reads nothing).
        """
        return pd.DataFrame(
            {
                "level": [int(lv["level"]) for lv in self.levels],
                "rows": self.level_rows(),
                "cells": [int(lv["entries"]) for lv in self.levels],
                "max_count": [int(lv.get("max_count", 0)) for lv in self.levels],
            }
        )

    def cells(self, level: int, bbox: Any = None) -> pd.DataFrame:
        """The non-empty cells of ``level`` overlapping ``bbox``, with their rows.

        Parameters
        ----------
        level
            The level, 0 (coarsest) to ``n_levels - 1``.
        bbox
            A box as in :meth:`query` (``None``: every cell). A cell is returned when it overlaps the box; its
            points may lie outside it.

        Returns
        -------
        pandas.DataFrame
            One row per cell, in storage (Morton) order: its grid coordinates ``cell_<axis>`` (integers,
            ``0 .. 2**level - 1``), ``start`` (its first row in storage order) and ``count`` (its number of points).
            The cell's rows are ``start .. start + count - 1``; read them with :meth:`read_rows`.

        Examples
        --------
        >>> cells = index.cells(3, bbox=(0, 0, 500, 500))  # doctest: +SKIP
        >>> frame = index.read_rows(cells["start"], cells["start"] + cells["count"])  # doctest: +SKIP
        """
        levels = self._levels(int(level), None)
        blo, bhi = self._parse_bbox(bbox)
        upper = self.bounds[1]
        clo = [max(blo[i], self.lo[i]) for i in range(self.dim)]
        chi = [min(bhi[i], upper[i]) for i in range(self.dim)]
        names = [f"cell_{a}" for a in self.axes]
        if any(a > b for a, b in zip(clo, chi, strict=True)) or self.n_rows == 0:
            codes = np.zeros(0, np.uint64)
            starts = counts = np.zeros(0, np.int64)
        else:
            qlo = [int(quantize(np.asarray([clo[i]]), self.lo[i], self.scale, self.finest)[0]) for i in range(self.dim)]
            qhi = [int(quantize(np.asarray([chi[i]]), self.lo[i], self.scale, self.finest)[0]) for i in range(self.dim)]
            ranges = self._box_ranges(levels, qlo, qhi)[levels[0]]
            codes, starts, counts = self._cells_in(levels[0], ranges)
        coords = unmorton(codes, self.dim, int(level))
        data = dict(zip(names, coords, strict=True))
        data.update({"start": starts.astype(np.int64), "count": counts.astype(np.int64)})
        return pd.DataFrame(data)

    def cell_rows(self, level: int, cells: Any) -> tuple[np.ndarray, np.ndarray]:
        """The rows of given cells of ``level``: ``[starts[i], stops[i])`` (empty for an empty cell).

        Parameters
        ----------
        level
            The level, 0 (coarsest) to ``n_levels - 1``.
        cells
            Integer grid coordinates, shape ``(n, dim)`` (one row per cell, axes in the order of :attr:`axes`), or
            one cell as a sequence of ``dim`` integers. Coordinates outside the grid give empty ranges.

        Returns
        -------
        tuple of numpy.ndarray
            ``(starts, stops)``, int64, one entry per cell. Reads the directory blocks holding the cells (cached
            by the opened index), nothing else.
        """
        (lv,) = self._levels(int(level), None)
        arr = np.asarray(cells, dtype=np.int64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise InvalidArgumentError(f"cells must have shape (n, {self.dim}), got {np.shape(cells)}")
        inside = np.all((arr >= 0) & (arr < (1 << lv)), axis=1)
        starts = np.zeros(len(arr), np.int64)
        stops = np.zeros(len(arr), np.int64)
        if not inside.any() or int(self.levels[lv]["entries"]) == 0:
            return starts, stops
        codes = morton([arr[inside, i].astype(np.uint64) for i in range(self.dim)])
        ranges = np.unique(codes)
        ranges = np.stack([ranges, ranges + np.uint64(1)], axis=1)
        found, st, cnt = self._cells_in(lv, ranges)
        at = np.searchsorted(found, codes)
        hit = at < len(found)
        hit[hit] = found[at[hit]] == codes[hit]
        idx = np.flatnonzero(inside)
        starts[idx[hit]] = st[at[hit]]
        stops[idx[hit]] = st[at[hit]] + cnt[at[hit]]
        return starts, stops

    def read_rows(
        self, starts: Any, stops: Any, columns: Sequence[str] | None = None, *, codes: bool = False
    ) -> pd.DataFrame:
        """The values of rows ``[starts[i], stops[i])`` in storage order (e.g. the rows of some cells).

        Parameters
        ----------
        starts, stops
            Row ranges (from :meth:`cells` or :meth:`cell_rows`); empty ranges are skipped, overlapping ones are
            an error.
        columns
            Columns to read (default: every column of the points and their index); ``"__index__"`` names the
            points' own index.
        codes
            Return categorical and text columns as their integer codes (the positions in :meth:`categories`)
            instead of decoding them.

        Returns
        -------
        pandas.DataFrame
            The rows, indexed by their row number in storage order (name ``row``), in the order of the ranges
            sorted by start. The points' own index is the column ``__index__`` (when requested).
        """
        st = np.atleast_1d(np.asarray(starts, dtype=np.int64))
        en = np.atleast_1d(np.asarray(stops, dtype=np.int64))
        if st.shape != en.shape or st.ndim != 1:
            raise InvalidArgumentError("starts and stops must be 1-D and of the same length")
        if np.any(st > en) or np.any(st < 0) or np.any(en > self.n_rows):
            raise InvalidArgumentError(f"row ranges must satisfy 0 <= start <= stop <= {self.n_rows}")
        keep = en > st
        st, en = st[keep], en[keep]
        order = np.argsort(st, kind="stable")
        st, en = st[order], en[order]
        if np.any(st[1:] < en[:-1]):
            raise InvalidArgumentError("row ranges overlap")
        if columns is None:
            wanted = [*self._by_name, "__index__"]
        else:
            wanted = [columns] if isinstance(columns, str) else list(columns)
        unknown = [c for c in wanted if c not in self._by_name and c != "__index__"]
        if unknown:
            raise InvalidArgumentError(f"unknown column(s) {unknown}; the points have {list(self._by_name)}")
        specs = [self._index_spec if c == "__index__" else self._by_name[c] for c in wanted]
        values = self.read_columns(specs, st, en) if len(st) else [np.zeros(0, np.dtype(s["dtype"])) for s in specs]
        data = {}
        for spec, v in zip(specs, values, strict=True):
            name = "__index__" if spec["role"] == "index" else spec["name"]
            data[name] = v if codes and spec["kind"] in ("categorical", "string") else self._decode(spec, v)
        return pd.DataFrame(data, index=pd.Index(runs_to_positions(st, en), name="row"))

    # ------------------------------------------------------------------ directories (format 3, read lazily)

    def _fetch_pieces(self, items: list[tuple[str, int, int, int]]) -> list[bytes]:
        """Bytes ``[start, stop)`` of uncompressed 1-D arrays, ``(array key, chunk bytes, start, stop)``, one batch."""
        requests: list[tuple[str, int, int]] = []
        counts = []
        for key, chunk, start, stop in items:
            reqs = range_requests(f"{self.path}/{key}", chunk, start, stop)
            requests += reqs
            counts.append(len(reqs))
        blobs = fetch_ranges(self.store, requests)
        out, at = [], 0
        for n in counts:
            out.append(b"".join(blobs[at : at + n]))
            at += n
        return out

    def _table_item(self, key: str, chunk_entries: int, first: int, n: int) -> tuple[str, int, int, int]:
        return (key, int(chunk_entries) * 8, int(first) * 8, int(first + n) * 8)

    def _block_ranges(self, level: int, ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Runs ``[b0, b1)`` of the cell-directory blocks of ``level`` overlapping the Morton-code ``ranges``."""
        bits = np.uint64(int(self.levels[level]["block_bits"]))
        if len(ranges) == 0:
            z = np.zeros(0, np.int64)
            return z, z
        b0 = (ranges[:, 0] >> bits).astype(np.int64)
        b1 = ((ranges[:, 1] - np.uint64(1)) >> bits).astype(np.int64) + 1
        return coalesce_runs(b0, np.maximum.accumulate(b1), 0)

    def _load_blocks(self, wanted: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[tuple[int, int], Any]:
        """The decoded cell-directory blocks ``{level: (b0, b1) runs}``; those not cached are read (two batches).

        Returns ``{(level, block): (codes, first rows, counts)}`` for every wanted block.
        """
        d = self.meta["directory"]
        cache = self._block_cache
        if len(cache) > BLOCK_CACHE:  # a fresh dict: other threads keep the one they hold
            cache = self._block_cache = {}
        out: dict[tuple[int, int], Any] = {}
        todo: list[tuple[int, int, int]] = []
        for level, (b0, b1) in wanted.items():
            pos = runs_to_positions(b0, b1)
            missing = []
            for b in pos.tolist():
                hit = cache.get((level, b))
                if hit is None:
                    missing.append(b)
                else:
                    out[(level, b)] = hit
            missing = np.asarray(missing, dtype=np.int64)
            ms, me = positions_to_runs(missing)
            todo += [(level, int(s), int(e)) for s, e in zip(ms.tolist(), me.tolist(), strict=True)]
        if not todo:
            return out
        items = [
            self._table_item(
                d["blocks"], d["table_chunk"], 2 * (int(self.levels[lv]["first_block"]) + s), 2 * (e - s + 1)
            )
            for lv, s, e in todo
        ]
        tables = [np.frombuffer(raw, dtype="<u8").reshape(-1, 2) for raw in self._fetch_pieces(items)]
        blob_items, plans = [], []
        for (lv, s, e), table in zip(todo, tables, strict=True):
            rows, offs = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
            lrows = self.levels[lv]["rows"]
            if np.any(np.diff(rows) < 0) or np.any(np.diff(offs) < 0) or rows[0] < lrows[0] or rows[-1] > lrows[1]:
                raise CorruptIndexError(f"the cell directory table of level {lv} is inconsistent")
            plans.append((lv, s, e, rows, offs))
            if offs[-1] > offs[0]:
                blob_items.append((d["blob"], int(d["blob_chunk"]), int(offs[0]), int(offs[-1])))
        blobs = iter(self._fetch_pieces(blob_items))
        for lv, s, e, rows, offs in plans:
            data = next(blobs) if offs[-1] > offs[0] else b""
            widths = [int(w) for w in self.levels[lv]["record_widths"]]
            for i, b in enumerate(range(s, e)):
                piece = data[offs[i] - offs[0] : offs[i + 1] - offs[0]]
                out[(lv, b)] = cache[(lv, b)] = decode_cell_record(
                    piece, lv, int(self.levels[lv]["block_bits"]), b, int(rows[i]), int(rows[i + 1]), widths
                )
        return out

    def _cells_in(self, level: int, ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-empty cells of ``level`` inside the Morton-code ``ranges``: codes, first rows, row counts.

        Reads the blocks it needs (see :meth:`_load_blocks`) unless they are cached.
        """
        b0, b1 = self._block_ranges(level, ranges)
        blocks = self._load_blocks({level: (b0, b1)})
        parts = [blocks[(level, int(b))] for b in runs_to_positions(b0, b1).tolist()]
        if not parts:
            z = np.zeros(0, np.int64)
            return z.astype(np.uint64), z, z
        codes = np.concatenate([p[0] for p in parts])
        starts = np.concatenate([p[1] for p in parts])
        counts = np.concatenate([p[2] for p in parts])
        keep = _in_ranges(codes, ranges)
        return codes[keep], starts[keep], counts[keep]

    def _gene_tables(self, codes: np.ndarray, l0: int, l1: int) -> dict[int, np.ndarray]:
        """Byte offsets of the gene-directory records of ``codes`` for the levels ``l0..l1`` (and a closing one)."""
        g = self.meta["directory"]["genes"]
        todo = [int(c) for c in codes.tolist() if (int(c), l0, l1) not in self._gene_table_cache]
        if todo:
            n_levels = self.n_levels
            items = [self._table_item(g["table"], g["table_chunk"], c * n_levels + l0, l1 - l0 + 2) for c in todo]
            for c, raw in zip(todo, self._fetch_pieces(items), strict=True):
                offs = np.frombuffer(raw, dtype="<u8").astype(np.int64)
                if len(offs) != l1 - l0 + 2 or np.any(np.diff(offs) < 0):
                    raise CorruptIndexError(f"the gene directory table of gene {c} is inconsistent")
                self._gene_table_cache[(c, l0, l1)] = offs
        return {int(c): self._gene_table_cache[(int(c), l0, l1)] for c in codes.tolist()}

    def _load_gene_runs(self, codes: np.ndarray, levels: list[int], tables: dict[int, np.ndarray], l0: int) -> None:
        """Read and decode the gene-directory records of ``codes`` at ``levels`` (one byte range per gene)."""
        g = self.meta["directory"]["genes"]
        items, plans = [], []
        for c in codes.tolist():
            need = [lv for lv in sorted(levels) if (int(c), lv) not in self._gene_cache]
            if not need:
                continue
            offs = tables[int(c)]
            a, b = int(offs[need[0] - l0]), int(offs[need[-1] - l0 + 1])
            plans.append((int(c), need, a))
            if b > a:
                items.append((g["blob"], int(g["blob_chunk"]), a, b))
        blobs = iter(self._fetch_pieces(items))
        for c, need, a in plans:
            offs = tables[c]
            data = next(blobs) if int(offs[need[-1] - l0 + 1]) > a else b""
            for lv in need:
                piece = data[int(offs[lv - l0]) - a : int(offs[lv - l0 + 1]) - a]
                rows = (int(self.levels[lv]["rows"][0]), int(self.levels[lv]["rows"][1]))
                self._gene_cache[(c, lv)] = decode_gene_record(piece, c, lv, rows)

    def _gene_runs(
        self, level: int, codes: np.ndarray, ranges: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row runs ``[starts, ends)`` and gene codes of ``codes`` in the cells of ``level`` inside ``ranges``."""
        st, en, gs = [], [], []
        for c in codes.tolist():
            cc, s, n = self._gene_cache[(int(c), level)]
            keep = _in_ranges(cc, ranges)
            st.append(s[keep])
            en.append(s[keep] + n[keep])
            gs.append(np.full(int(keep.sum()), int(c), dtype=np.int64))
        if not st:
            z = np.zeros(0, np.int64)
            return z, z, z
        s, e, g = np.concatenate(st), np.concatenate(en), np.concatenate(gs)
        order = np.argsort(s, kind="stable")
        return s[order], e[order], g[order]

    # ------------------------------------------------------------------ raw reads

    def _column_key(self, spec: dict[str, Any]) -> str:
        return f"{self.path}/columns/{spec['array']}"

    def _read_column(self, spec: dict[str, Any], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Values of one stored column for the row runs ``[starts, ends)`` (concatenated in order)."""
        return self.read_columns([spec], starts, ends)[0]

    def read_columns(self, specs: list[dict[str, Any]], starts: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
        """Values of several stored columns for the sorted, disjoint row runs ``[starts, ends)``.

        All byte ranges of all columns are fetched in one concurrent batch. Runs whose gap is smaller than
        ``coalesce_bytes`` (in bytes of the column) are fetched as one range, and the gap rows are dropped again.
        """
        if not specs:
            return []
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        if len(starts) == 0:
            return [np.zeros(0, dtype=np.dtype(s["dtype"])) for s in specs]
        if int(ends.max()) > self.n_rows or int(starts.min()) < 0:
            raise CorruptIndexError("the directory points outside the stored rows")
        requests: list[tuple[str, int, int]] = []
        plans = []
        root = _local_root(self.store)
        local_data: list[bytes] = []
        for spec in specs:
            dtype = np.dtype(spec["dtype"])
            ms, me = coalesce_runs(starts, ends, self.coalesce_bytes // dtype.itemsize, self.max_requests)
            first = len(requests)
            if root is not None:  # local directory: one open per chunk file, a tight loop of preads
                local_data.append(self._pread_column(root, spec, ms, me))
            else:
                requests += self._requests(spec, ms, me)
            plans.append((dtype, ms, me, first, len(requests)))
        blobs = fetch_ranges(self.store, requests)
        out = []
        for i, (dtype, ms, me, a, b) in enumerate(plans):
            data = np.frombuffer(local_data[i] if root is not None else b"".join(blobs[a:b]), dtype=dtype)
            if len(ms) == len(starts):
                out.append(data)
                continue
            moff = np.concatenate([[0], np.cumsum(me - ms)[:-1]])
            which = np.searchsorted(ms, starts, side="right") - 1
            local = runs_to_positions(moff[which] + (starts - ms[which]), moff[which] + (ends - ms[which]))
            out.append(data[local])
        return out

    def _pieces(self, ms: np.ndarray, me: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split the row runs ``[ms, me)`` at chunk boundaries: chunk index, first and end row within the chunk."""
        R = self.rows_per_chunk
        k0 = ms // R
        k1 = (me - 1) // R
        npieces = k1 - k0 + 1
        rid = np.repeat(np.arange(len(ms)), npieces)
        k = k0[rid] + (np.arange(int(npieces.sum())) - np.repeat(np.cumsum(npieces) - npieces, npieces))
        ps = np.maximum(ms[rid], k * R) - k * R
        pe = np.minimum(me[rid], (k + 1) * R) - k * R
        return k, ps, pe

    def _pread_column(self, root: str, spec: dict[str, Any], ms: np.ndarray, me: np.ndarray) -> bytes:
        """The bytes of the row runs ``[ms, me)`` of a column of a local index (see :func:`_pread_ranges`)."""
        import os

        itemsize = np.dtype(spec["dtype"]).itemsize
        k, ps, pe = self._pieces(ms, me)
        base = os.path.join(root, self._column_key(spec), "c")
        out: list[bytes] = []
        pread = os.pread
        for kk in np.unique(k).tolist():
            sel = k == kk
            a = (ps[sel] * itemsize).tolist()
            n = ((pe[sel] - ps[sel]) * itemsize).tolist()
            try:
                fd = os.open(os.path.join(base, str(kk)), os.O_RDONLY)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
                raise CorruptIndexError(f"the index chunk {self._column_key(spec)}/c/{kk} is missing") from exc
            try:
                out += [pread(fd, length, start) for start, length in zip(a, n, strict=True)]
            finally:
                os.close(fd)
        data = b"".join(out)
        if len(data) != int((me - ms).sum()) * itemsize:
            raise CorruptIndexError(f"a chunk of the index column {spec['name']!r} is truncated")
        return data

    def _requests(self, spec: dict[str, Any], ms: np.ndarray, me: np.ndarray) -> list[tuple[str, int, int]]:
        """Byte-range requests ``(key, start, stop)`` of the row runs ``[ms, me)``, split at chunk boundaries."""
        itemsize = np.dtype(spec["dtype"]).itemsize
        base = self._column_key(spec)
        k, ps, pe = self._pieces(ms, me)  # every run becomes one piece per chunk it touches
        return [
            (f"{base}/c/{kk}", s * itemsize, e * itemsize)
            for kk, s, e in zip(k.tolist(), ps.tolist(), pe.tolist(), strict=True)
        ]

    # ------------------------------------------------------------------ planning

    def _parse_bbox(self, bbox: Any) -> tuple[list[float], list[float]]:
        lo = [-math.inf] * self.dim
        hi = [math.inf] * self.dim
        if bbox is None:
            return lo, hi
        if isinstance(bbox, dict):
            for axis, pair in bbox.items():
                if axis not in self.axes:
                    raise InvalidArgumentError(f"bbox names axis {axis!r}; the points have axes {self.axes}")
                i = self.axes.index(axis)
                lo[i], hi[i] = (float(v) for v in pair)
        else:
            values = list(bbox)
            if len(values) == 2 and all(isinstance(v, Sequence) and not isinstance(v, str) for v in values):
                mins, maxs = list(values[0]), list(values[1])
            elif len(values) == 2 * self.dim:
                mins, maxs = values[: self.dim], values[self.dim :]
            else:
                raise InvalidArgumentError(
                    f"bbox must be (min_{'_'.join(self.axes)}..., max...) with {2 * self.dim} numbers, "
                    f"((mins), (maxs)) or {{axis: (min, max)}}; got {bbox!r}"
                )
            if len(mins) != self.dim or len(maxs) != self.dim:
                raise InvalidArgumentError(
                    f"bbox needs {self.dim} minima and maxima for axes {self.axes}, got {bbox!r}"
                )
            lo, hi = [float(v) for v in mins], [float(v) for v in maxs]
        for i, axis in enumerate(self.axes):
            if math.isnan(lo[i]) or math.isnan(hi[i]):
                raise InvalidArgumentError(f"bbox has NaN on axis {axis!r}")
            if lo[i] > hi[i]:
                raise InvalidArgumentError(
                    f"bbox is inverted on axis {axis!r}: min {lo[i]} > max {hi[i]} (give minima first)"
                )
        return lo, hi

    def gene_codes(self, genes: Any) -> np.ndarray | None:
        """Codes of the requested gene names; raises :class:`UnknownGeneError` for names not in the index."""
        if genes is None:
            return None
        if self.feature_key is None:
            raise InvalidArgumentError("the index has no feature (gene) column; build it with feature_key=...")
        wanted = (
            [genes]
            if isinstance(genes, str) or not isinstance(genes, Sequence | set | np.ndarray | pd.Index)
            else list(genes)
        )
        cats = self.categories(self.feature_key)
        lookup = {str(c): i for i, c in enumerate(cats)}
        missing = [g for g in wanted if str(g) not in lookup]
        if missing:
            hints = []
            for g in missing[:5]:
                close = difflib.get_close_matches(str(g), list(lookup), n=3)
                if close:
                    hints.append(f"{g!r}: did you mean {', '.join(map(repr, close))}?")
            raise UnknownGeneError(
                f"{len(missing)} gene name(s) not in {self.feature_key!r}: {missing[:10]}"
                + (f" ({'; '.join(hints)})" if hints else "")
                + f"; the index has {len(cats)} genes"
            )
        return np.unique(np.asarray([lookup[str(g)] for g in wanted], dtype=np.int64))

    def _levels(self, level: int | None, max_level: int | None) -> list[int]:
        last = self.n_levels - 1
        for name, value in (("level", level), ("max_level", max_level)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
            if value < 0 or value > last:
                raise InvalidArgumentError(
                    f"{name}={value} is beyond the index: it has {self.n_levels} levels, 0 (coarsest) to {last}"
                )
        if level is not None and max_level is not None:
            raise InvalidArgumentError("give either level= or max_level=, not both")
        if level is not None:
            return [int(level)]
        return list(range((last if max_level is None else int(max_level)) + 1))

    # ------------------------------------------------------------------ query

    def query(
        self,
        bbox: Any = None,
        genes: Any = None,
        *,
        level: int | None = None,
        max_level: int | None = None,
        columns: Sequence[str] | None = None,
        target_count: int | None = None,
        include_level: bool = False,
    ) -> pd.DataFrame:
        """Return the points in ``bbox`` (strict inequalities, as spatialdata) with the given genes.

        See :func:`spatialdata_plugins.points_index.query_points` for the parameters.

        Returns
        -------
        pandas.DataFrame
            The matching points, ordered by level, cell and gene.
        """
        blo, bhi = self._parse_bbox(bbox)
        codes = self.gene_codes(genes)
        levels = self._levels(level, max_level)
        if columns is None:
            wanted = [c["name"] for c in self.columns if c["role"] == "column"]
        else:
            wanted = [columns] if isinstance(columns, str) else list(columns)
            unknown = [c for c in wanted if c not in self._by_name]
            if unknown:
                raise InvalidArgumentError(f"unknown column(s) {unknown}; the points have {list(self._by_name)}")
        if target_count is not None and (isinstance(target_count, bool) or int(target_count) < 0):
            raise InvalidArgumentError(f"target_count must be a non-negative integer, got {target_count!r}")
        empty = any(lo_ >= hi_ for lo_, hi_ in zip(blo, bhi, strict=True)) or self.n_rows == 0
        upper = [self.lo[i] + (1 << self.finest) / self.scale for i in range(self.dim)]
        empty = empty or any(bhi[i] <= self.lo[i] or blo[i] >= upper[i] for i in range(self.dim))
        if codes is not None and len(codes) == 0:
            empty = True
        if empty:
            return self._frame({}, np.zeros(0, np.int64), wanted, include_level, np.zeros(0, np.int16))
        qlo = [
            int(quantize(np.asarray([max(blo[i], self.lo[i])]), self.lo[i], self.scale, self.finest)[0])
            for i in range(self.dim)
        ]
        qhi = [
            int(quantize(np.asarray([min(bhi[i], upper[i])]), self.lo[i], self.scale, self.finest)[0])
            for i in range(self.dim)
        ]
        # one box decomposition at the finest level queried; the coarser levels' ranges are its parents
        ranges_of = self._box_ranges(levels, qlo, qhi)
        # gene queries: per level, the gene directory's runs when they are smaller than the cells' gene column
        gene_path = self._gene_path_levels(codes, levels, ranges_of) if codes is not None else {}
        self._load_blocks(
            {lv: self._block_ranges(lv, ranges_of[lv]) for lv in levels if lv not in gene_path and len(ranges_of[lv])}
        )
        plan: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None, int]] = []
        for lv in levels:
            if lv in gene_path:
                st, en, g = self._gene_runs(lv, codes, ranges_of[lv])
                plan.append((lv, st, en, g, len(st)))
            else:
                _, st, cnt = self._cells_in(lv, ranges_of[lv])
                plan.append((lv, st, st + cnt, None, len(st)))
        partial: dict[int, float] = {}
        if target_count is not None:
            plan, partial = self._choose_levels(plan, codes, blo, bhi, int(target_count))
        gene_spec = self._by_name.get(self.feature_key) if self.feature_key else None
        # 1. per level: row runs of the candidate cells, or of the wanted genes (gene directory)
        runs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        need_gene: list[tuple[int, np.ndarray, np.ndarray]] = []
        gvals_of: dict[int, np.ndarray] = {}
        for lv, st, en, g, _ in plan:
            if len(st) == 0:
                continue
            if g is not None:
                if lv in partial:
                    en = st + np.ceil((en - st) * partial[lv]).astype(np.int64)
                runs[lv] = (st, en)
                gvals_of[lv] = np.repeat(g, en - st)
            elif codes is not None or lv in partial:
                need_gene.append((lv, st, en))
            else:
                runs[lv] = (st, en)
        # 2. the gene column of the other filtered levels, all levels in one batched read
        if need_gene:
            gall = (
                self._read_column(
                    gene_spec, np.concatenate([r[1] for r in need_gene]), np.concatenate([r[2] for r in need_gene])
                )
                if gene_spec is not None
                else None
            )
            offset = 0
            for lv, st, en in need_gene:
                pos = runs_to_positions(st, en)
                gvals = None if gall is None else gall[offset : offset + len(pos)]
                offset += len(pos)
                keep = np.ones(len(pos), dtype=bool)
                if codes is not None and gvals is not None:
                    keep &= np.isin(gvals, codes)
                if lv in partial:
                    keep &= self._prefix_mask(pos, gvals, st, partial[lv])
                runs[lv] = positions_to_runs(pos[keep])
                if gvals is not None:
                    gvals_of[lv] = gvals[keep]
        order = sorted(lv for lv in runs if len(runs[lv][0]))
        if not order:
            return self._frame({}, np.zeros(0, np.int64), wanted, include_level, np.zeros(0, np.int16))
        st = np.concatenate([runs[lv][0] for lv in order])
        en = np.concatenate([runs[lv][1] for lv in order])
        pos = runs_to_positions(st, en)
        lev = np.concatenate([np.full(int((runs[lv][1] - runs[lv][0]).sum()), lv, dtype=np.int16) for lv in order])
        # values already read, aligned with ``pos`` (they are not read a second time)
        known: dict[str, np.ndarray] = {}
        if self.feature_key is not None and all(lv in gvals_of for lv in order):
            known[self.feature_key] = np.concatenate([gvals_of[lv] for lv in order])
        # 3. exact box test, one bounded axis after the other: the first axis is read for all candidate rows, every
        # further axis only for the rows still inside (boundary cells are read once per axis, not in full)
        bounded = [i for i in range(self.dim) if not (math.isinf(blo[i]) and math.isinf(bhi[i]))]
        for n_read, i in enumerate(bounded):
            if len(pos) == 0:
                break
            if n_read:
                st, en = positions_to_runs(pos)
            (v,) = self.read_columns([self._by_name[self.axes[i]]], st, en)
            keep = (v > blo[i]) & (v < bhi[i])
            known[self.axes[i]] = v
            pos, lev = pos[keep], lev[keep]
            known = {k: val[keep] for k, val in known.items()}
        # 4. the other requested columns and the index, for the answer's rows only, in one batched read
        rs, re_ = positions_to_runs(pos)
        rest = [name for name in wanted if name not in known]
        specs = [self._by_name[name] for name in rest] + [self._index_spec]
        values = dict(zip([*rest, "__index__"], self.read_columns(specs, rs, re_), strict=True))
        values.update({k: v for k, v in known.items() if k in wanted})
        return self._frame(values, pos, wanted, include_level, lev)

    def _prefix_mask(
        self, pos: np.ndarray, gvals: np.ndarray | None, cell_starts: np.ndarray, frac: float
    ) -> np.ndarray:
        """Keep the first ``ceil(frac * len)`` rows of every (cell, gene) run."""
        if len(pos) == 0:
            return np.zeros(0, dtype=bool)
        brk = np.zeros(len(pos), dtype=bool)
        brk[0] = True
        brk[1:] = np.diff(pos) != 1
        brk |= np.isin(pos, cell_starts)
        if gvals is not None:
            brk[1:] |= gvals[1:] != gvals[:-1]
        run_id = np.cumsum(brk) - 1
        run_start = np.flatnonzero(brk)
        run_len = np.diff(np.concatenate([run_start, [len(pos)]]))
        rank = np.arange(len(pos)) - run_start[run_id]
        return rank < np.ceil(run_len[run_id] * frac)

    def _choose_levels(self, plan, codes, blo, bhi, target):
        """Whole levels from the coarsest while the estimated count stays under ``target``, then a prefix."""
        n_genes = max(len(self.genes), 1) if self.feature_key else 1
        chosen, partial, acc = [], {}, 0.0
        for item in plan:
            lv, st, en, g, n_cells = item
            est = float((en - st).sum())
            if codes is not None and g is None:
                est *= len(codes) / n_genes
            est *= self._box_fraction(lv, n_cells, blo, bhi)
            if acc + est <= target:
                chosen.append(item)
                acc += est
                continue
            if est > 0 and target > acc:
                chosen.append(item)
                partial[lv] = (target - acc) / est
            break
        return chosen, partial

    def _box_ranges(self, levels: list[int], qlo: list[int], qhi: list[int]) -> dict[int, np.ndarray]:
        """Morton-code ranges of the box at every level (one decomposition at the deepest level, coarsened)."""
        deep = max((lv for lv in levels if int(self.levels[lv]["entries"])), default=None)
        if deep is None:
            return {lv: np.zeros((0, 2), np.uint64) for lv in levels}
        shift = self.finest - deep
        deep_ranges = box_code_ranges([q >> shift for q in qlo], [q >> shift for q in qhi], deep)
        return {
            lv: coarsen_ranges(deep_ranges, self.dim * (deep - lv))
            if int(self.levels[lv]["entries"])
            else np.zeros((0, 2), np.uint64)
            for lv in levels
        }

    def _gene_path_levels(self, codes: np.ndarray, levels: list[int], ranges_of: dict[int, np.ndarray]) -> set[int]:
        """The levels whose candidate rows are best found with the gene directory (its runs are then read).

        The gene directory costs its records of the wanted genes (their sizes are read first: 8 bytes per gene and
        level); the cell directory costs its block table and records over the box plus the gene column of the
        candidate rows, estimated from the share of the level's blocks the box covers.
        """
        genes = self.meta["directory"].get("genes")
        active = [lv for lv in levels if len(ranges_of[lv])]
        if genes is None or not active or self.feature_key is None:
            return set()
        l0, l1 = min(active), max(active)
        itemsize = np.dtype(self._by_name[self.feature_key]["dtype"]).itemsize
        cell_bytes = {}
        for lv in active:
            b0, b1 = self._block_ranges(lv, ranges_of[lv])
            n_blocks = 1 << (self.dim * lv - int(self.levels[lv]["block_bits"]))
            share = float((b1 - b0).sum()) / n_blocks
            rows = float(self.levels[lv]["rows"][1] - self.levels[lv]["rows"][0])
            cell_bytes[lv] = 16 * float((b1 - b0).sum() + len(b0)) + share * rows * (itemsize + 1)
        # the genes' table entries alone would cost more than the cell directory and gene column: do not ask
        cached = all((int(c), l0, l1) in self._gene_table_cache for c in codes.tolist())
        if not cached and 8 * len(codes) * (l1 - l0 + 2) >= sum(cell_bytes.values()):
            return set()
        tables = self._gene_tables(codes, l0, l1)
        chosen = set()
        for lv in active:
            gene_bytes = sum(int(t[lv - l0 + 1] - t[lv - l0]) for t in tables.values())
            if gene_bytes < cell_bytes[lv]:
                chosen.add(lv)
        if chosen:
            self._load_gene_runs(codes, sorted(chosen), tables, l0)
        return chosen

    def _box_fraction(self, level: int, n_cells: int, blo: list[float], bhi: list[float]) -> float:
        """Fraction of the candidate cells' volume inside the box (for count estimates)."""
        if n_cells == 0:
            return 0.0
        cell = (1 << (self.finest - level)) / self.scale
        frac = 1.0
        for i in range(self.dim):
            lo_i = max(blo[i], self.lo[i])
            hi_i = min(bhi[i], self.lo[i] + (1 << self.finest) / self.scale)
            first = math.floor((lo_i - self.lo[i]) / cell)
            last = math.floor((hi_i - self.lo[i]) / cell)
            span = (last - first + 1) * cell
            frac *= min(max((hi_i - lo_i) / span, 0.0), 1.0) if span > 0 else 1.0
        return frac

    def _frame(
        self,
        values: dict[str, np.ndarray],
        positions: np.ndarray,
        wanted: list[str],
        include_level: bool,
        lev: np.ndarray,
    ) -> pd.DataFrame:
        data = {}
        for name in wanted:
            spec = self._by_name[name]
            data[name] = self._decode(spec, values.get(name, np.zeros(0, dtype=spec["dtype"])))
        index = self._decode(self._index_spec, values.get("__index__", np.zeros(0, dtype=self._index_spec["dtype"])))
        frame = pd.DataFrame(data, index=pd.Index(index, name=self._index_spec.get("index_name")))
        if include_level:
            frame["level"] = lev.astype(np.int16)
        return frame

    def _decode(self, spec: dict[str, Any], raw: np.ndarray) -> Any:
        kind = spec["kind"]
        if kind == "categorical":
            column = "__index__" if spec["role"] == "index" else spec["name"]
            if column not in self._dtype_cache:
                self._dtype_cache[column] = _categorical_dtype(tuple(self.categories(column).tolist()))
            return pd.Categorical.from_codes(raw.astype(np.int64), dtype=self._dtype_cache[column], validate=False)
        if kind == "string":
            cats = self.categories("__index__" if spec["role"] == "index" else spec["name"])
            out = np.empty(len(raw), dtype=object)
            ok = raw >= 0
            out[ok] = cats[raw[ok]]
            out[~ok] = None
            return out
        try:
            return raw.astype(spec["original_dtype"])
        except TypeError:
            return pd.array(raw).astype(spec["original_dtype"])


def standalone_parent(group: zarr.Group) -> zarr.Group:
    """The group holding ``points_index``: the group itself (a standalone index)."""
    return group


def check_fingerprint(index: PointsIndex, current: Callable[[], dict[str, Any]] | None) -> None:
    """Raise :class:`StaleIndexError` when the points changed since the index was built."""
    from spatialdata_plugins.points_index._errors import StaleIndexError

    if current is None:
        return
    stored = index.fingerprint
    now = current()
    if not stored:
        raise StaleIndexError("the index has no fingerprint of its points; rebuild it with build_points_index")
    changed = stored.get("hash") != now.get("hash") or int(stored.get("n_rows") or -1) != index.n_rows
    if "content" in now and stored.get("content") != now["content"]:
        changed = True
    if changed:
        raise StaleIndexError(
            f"the points changed after the index was built (indexed: {stored.get('n_files')} file(s), "
            f"{stored.get('n_bytes')} bytes; now: {now.get('n_files')} file(s), {now.get('n_bytes')} bytes); "
            "rebuild it with build_points_index or `spatialdata-plugins points-index build`"
        )
