"""Building the multiscale points index: vectorised, seeded, out of core.

The algorithm (see ``docs/points-index.md``):

1. statistics pass: row count per partition, bounds, categories of string columns;
2. one counting pass per level: the number of *remaining* points per cell of the level's grid gives
   ``maxCount``; every remaining point is kept at that level with probability ``p = min(1, limit / maxCount)``
   (neuroglancer's rule). With one uniform number ``u`` per point, "kept at level l" is ``c[l-1] <= u < c[l]``
   where ``c[l] = 1 - prod(1 - p[k], k <= l)``, which is the same distribution as independent draws per level;
3. a directory pass: rows per (level, cell);
4. a spill pass: every partition writes its rows, with their directory entry, gene code and a random rank, into
   Arrow files per bucket (a contiguous range of directory entries of a few million rows);
5. a sort-and-write pass: every bucket is sorted by (entry, gene, rank) in memory and appended to the column
   arrays, whose rows are therefore ordered by (level, cell Morton code, gene, random rank).

Only one bucket and a few partitions are in memory at a time; the per-partition passes run through dask (any
scheduler, ``dask.distributed`` included).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import zarr
from tqdm.auto import tqdm
from zarr.codecs import BloscCodec

from spatialdata_plugins.points_index._directory import (
    BLOB_CHUNK,
    TABLE_CHUNK,
    encode_cell_directory,
    encode_gene_directory,
)
from spatialdata_plugins.points_index._errors import InvalidArgumentError, PointsIndexError
from spatialdata_plugins.points_index._morton import FINEST, morton, point_random, to_unit

FORMAT_NAME = "spatialdata-plugins-points-index"
FORMAT_VERSION = 3
ATTRS_KEY = "points_index"
INDEX_GROUP = "points_index"
DENSE_CELLS = 1 << 22
BATCH = 8


def _compressor() -> list[Any]:
    return [BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")]


DIR_BLOB_CHUNK = BLOB_CHUNK


def quantize(values: np.ndarray, lo: float, scale: float, finest: int) -> np.ndarray:
    """Cell index on the finest grid: ``floor((v - lo) * scale)`` clipped to the grid (half-open cells)."""
    q = np.floor((np.asarray(values, dtype=np.float64) - lo) * scale)
    return np.clip(q, 0, (1 << finest) - 1).astype(np.uint64)


def fine_codes(frame: pd.DataFrame, axes: list[str], lo: list[float], scale: float, finest: int) -> np.ndarray:
    """Morton codes of the rows of ``frame`` on the finest grid."""
    return morton([quantize(frame[a].to_numpy(), lo[i], scale, finest) for i, a in enumerate(axes)])


def _smallest_int(lo: int, hi: int) -> str:
    for dt in ("int8", "int16", "int32", "int64"):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return dt
    return "int64"


# ------------------------------------------------------------------------------------------ per partition


def _stats(frame: pd.DataFrame, axes: list[str], string_cols: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(frame), "lo": [], "hi": [], "nan": [], "uniques": {}}
    for a in axes:
        v = frame[a].to_numpy(dtype=np.float64)
        out["nan"].append(int(np.count_nonzero(~np.isfinite(v))))
        out["lo"].append(float(np.nanmin(v)) if len(v) else np.inf)
        out["hi"].append(float(np.nanmax(v)) if len(v) else -np.inf)
    for c in string_cols:
        col = frame.index.to_series() if c == "__index__" else frame[c]
        out["uniques"][c] = pd.unique(col.dropna().astype(str))
    if pd.api.types.is_integer_dtype(frame.index.dtype) and len(frame):
        out["index_range"] = (int(frame.index.min()), int(frame.index.max()))
    return out


def _uniform(n: int, offset: int, seed: int) -> np.ndarray:
    return to_unit(point_random(np.arange(offset, offset + n, dtype=np.uint64), seed, 0))


def _prep_path(workdir: str, pid: int, field: str) -> str:
    return os.path.join(workdir, f"prep_{field}_{pid:06d}.npy")


def _histogram_level(geo: dict[str, Any]) -> int:
    """The finest level whose cells are counted densely (at most ``DENSE_CELLS`` cells)."""
    return min(geo["finest"], (DENSE_CELLS.bit_length() - 1) // geo["dim"])


def _prepare(frame, offset, pid, geo, seed, workdir) -> np.ndarray:
    """Compute the finest Morton code and the uniform draw of every row once; keep them on disk for the passes.

    Two contiguous arrays (not one array of records), so that a pass reading only the draws reads half the bytes.
    Returns the points per cell of the histogram level (:func:`_histogram_level`), from which the counts of every
    coarser level follow by summing children.
    """
    codes = fine_codes(frame, geo["axes"], geo["lo"], geo["scale"], geo["finest"])
    np.save(_prep_path(workdir, pid, "code"), codes)
    np.save(_prep_path(workdir, pid, "u"), _uniform(len(frame), offset, seed))
    level = _histogram_level(geo)
    cells = (codes >> np.uint64(geo["dim"] * (geo["finest"] - level))).astype(np.intp)
    return np.bincount(cells, minlength=1 << (geo["dim"] * level))


def _load_prep(workdir: str, pid: int, field: str) -> np.ndarray:
    return np.load(_prep_path(workdir, pid, field), mmap_mode="r")


def _count_taken(pid, workdir, geo, level, c_prev) -> np.ndarray:
    """Points per cell of ``level`` (dense) among those already taken by the coarser levels (``u < c_prev``)."""
    u = np.asarray(_load_prep(workdir, pid, "u"))
    codes = np.asarray(_load_prep(workdir, pid, "code"))[u < c_prev]
    codes = codes >> np.uint64(geo["dim"] * (geo["finest"] - level))
    return np.bincount(codes.astype(np.intp), minlength=1 << (geo["dim"] * level))


def _count_remaining(pid, workdir, geo, level, c_prev) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    codes = np.asarray(_load_prep(workdir, pid, "code"))
    if c_prev > 0:
        codes = codes[np.asarray(_load_prep(workdir, pid, "u")) >= c_prev]
    codes = codes >> np.uint64(geo["dim"] * (geo["finest"] - level))
    ncell = 1 << (geo["dim"] * level)
    if ncell <= DENSE_CELLS:
        return np.bincount(codes.astype(np.intp), minlength=ncell)
    return np.unique(codes, return_counts=True)


def _levels_and_codes(pid, workdir, geo, thresholds) -> tuple[np.ndarray, np.ndarray]:
    u = np.asarray(_load_prep(workdir, pid, "u"))
    # the number of thresholds <= u, capped at the last level: one vectorised comparison per level (4x faster
    # than a binary search per point for the dozen levels an index has)
    level = np.zeros(len(u), dtype=np.uint8)
    for t in np.asarray(thresholds)[: len(thresholds) - 1]:
        level += u >= t
    level = level.astype(np.int64)
    codes = np.asarray(_load_prep(workdir, pid, "code")) >> (geo["dim"] * (geo["finest"] - level)).astype(np.uint64)
    return level, codes


def _bits(max_value: int) -> int:
    """Bits needed for the integers ``0 .. max_value``."""
    return max(int(max_value).bit_length(), 1)


def _directory_counts(pid, workdir, geo, thresholds) -> dict[int, Any]:
    """Rows per (level, cell) of one partition.

    A dense ``bincount`` per level with at most ``DENSE_CELLS`` cells, sparse ``(codes, counts)`` beyond (no sort
    of the whole partition).
    """
    level, codes = _levels_and_codes(pid, workdir, geo, thresholds)
    order = np.argsort(level.astype(np.uint8), kind="stable")  # a radix sort on one byte
    bounds = np.searchsorted(level[order], np.arange(len(thresholds) + 1))
    out: dict[int, Any] = {}
    for lv in range(len(thresholds)):
        c = codes[order[bounds[lv] : bounds[lv + 1]]]
        if not len(c):
            continue
        ncell = 1 << (geo["dim"] * lv)
        if ncell <= DENSE_CELLS:
            out[lv] = np.bincount(c.astype(np.intp), minlength=ncell)
        else:
            u, n = np.unique(c, return_counts=True)
            out[lv] = (u, n.astype(np.int64))
    return out


def _column_values(frame: pd.DataFrame, spec: dict[str, Any]) -> np.ndarray:
    col = frame.index.to_series() if spec["name"] == "__index__" and spec["role"] == "index" else frame[spec["name"]]
    if spec["kind"] in ("categorical", "string"):
        values = col.astype(str).where(col.notna(), None) if spec["kind"] == "string" else col
        codes = pd.Categorical(values, categories=spec["_categories"]).codes
        return codes.astype(spec["dtype"])
    if spec["kind"] == "bool":
        return col.to_numpy(dtype=bool)
    return col.to_numpy(dtype=spec["dtype"])


def spill_key(entry_rel: np.ndarray, gene: np.ndarray, rank: np.ndarray, entry_bits: int, gene_bits: int) -> np.ndarray:
    """The packed ``uint64`` storage-order key ``(entry within its bucket, gene + 1, top bits of the rank)``."""
    rank_bits = 64 - entry_bits - gene_bits
    key = np.asarray(entry_rel).astype(np.uint64)
    np.left_shift(key, np.uint64(64 - entry_bits), out=key)
    g = np.asarray(gene).astype(np.int64)
    g += 1
    g = g.view(np.uint64)
    np.left_shift(g, np.uint64(rank_bits), out=g)
    key |= g
    key |= np.right_shift(np.asarray(rank, dtype=np.uint64), np.uint64(64 - rank_bits))
    return key


def _sort_order(key: np.ndarray, free_bits: int) -> np.ndarray:
    """An order of ``key`` (``uint64``) that sorts it up to its lowest bits, ties kept in input order.

    ``numpy.sort`` of values (vectorised) is several times faster than ``argsort``. The position of every key
    replaces its lowest bits (at most ``free_bits``, the rank bits of :func:`spill_key`), so sorting the values
    gives the order. Keys equal but for those bits stay in input order: the writer's stable sort of the full keys
    finishes the order (runs then arrive nearly sorted). Falls back to a stable ``argsort`` when the positions do
    not fit.
    """
    n = len(key)
    pos_bits = _bits(max(n - 1, 0))
    if pos_bits > free_bits:
        return np.argsort(key, kind="stable")
    low = np.uint64((1 << pos_bits) - 1)
    packed = key & ~low
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    return (packed & low).astype(np.intp)


def _spill(
    frame, offset, pid, geo, seed, thresholds, dirs, bucket_starts, specs, gene_spec, workdir, key_bits, keep=False
) -> dict[int, pa.Table | str]:
    """Split a partition into its buckets, each ordered by the packed key; return ``{bucket: table or file}``.

    With ``keep`` the tables are returned (the caller and the tasks share memory: threads of one process), otherwise
    they are written to Arrow IPC files in ``workdir/spill`` and their paths returned.
    """
    level, codes = _levels_and_codes(pid, workdir, geo, thresholds)
    # dense levels: the entry of a cell is one lookup in a table of all dense levels' cells; sparse levels: a search
    lut, lut_offset = dirs["lut"], dirs["lut_offset"]
    dense = lut_offset[level] >= 0
    entry = np.empty(len(frame), dtype=np.int64)
    entry[dense] = lut[lut_offset[level[dense]] + codes[dense].astype(np.int64)]
    for lv in np.unique(level[~dense]):
        sel = level == lv
        d = dirs[int(lv)]
        entry[sel] = d["entry_offset"] + np.searchsorted(d["codes"], codes[sel])
    arrays = {spec["array"]: _column_values(frame, spec) for spec in specs}
    gene = arrays[gene_spec["array"]].astype(np.int32) if gene_spec is not None else np.zeros(len(frame), np.int32)
    rank = point_random(np.arange(offset, offset + len(frame), dtype=np.uint64), seed, 1)
    bucket = np.searchsorted(bucket_starts, entry, side="right") - 1
    if key_bits is None:  # the entry and the gene are not in a packed key: keep them (and the rank) as columns
        arrays.update({"__entry": entry, "__gene": gene, "__rank": rank})
    small = np.uint16 if len(bucket_starts) <= np.iinfo(np.uint16).max else np.int64
    order = np.argsort(bucket.astype(small), kind="stable")  # a radix sort when the bucket fits in 16 bits
    bounds = np.searchsorted(bucket[order], np.arange(len(bucket_starts) + 1))
    written: dict[int, pa.Table | str] = {}
    if not keep:
        os.makedirs(os.path.join(workdir, "spill"), exist_ok=True)
    for b in range(len(bucket_starts)):
        s, e = bounds[b], bounds[b + 1]
        if s == e:
            continue
        idx = order[s:e]
        cols = {}
        if key_bits is not None:
            # rows of the bucket in storage order already (sorted here, in parallel; merged by the writer)
            key = spill_key(entry[idx] - bucket_starts[b], gene[idx], rank[idx], *key_bits)
            within = _sort_order(key, 64 - sum(key_bits))
            idx = idx[within]
            cols["__key"] = key[within]
        cols.update({k: v[idx] for k, v in arrays.items()})
        table = pa.table(cols)
        if keep:
            written[b] = table
            continue
        path = os.path.join(workdir, "spill", f"b{b:06d}_p{pid:06d}.arrow")
        with ipc.new_file(path, table.schema) as w:
            w.write_table(table)
        written[b] = path
    return written


# ------------------------------------------------------------------------------------------ driver


IN_MEMORY_SPILL_BYTES = 1 << 30
"""Spilled buckets up to this size stay in memory when the build runs on threads of this process."""


def _local_scheduler() -> bool:
    """Whether dask computes in this process (threaded or synchronous scheduler, no distributed client)."""
    import dask.local
    import dask.threaded
    from dask.base import get_scheduler

    scheduler = get_scheduler(collections=[dask.delayed(0)])  # what dask.compute of delayed tasks would use
    return scheduler in (dask.threaded.get, dask.local.get_sync)


def _partitions(ddf: dd.DataFrame, columns: list[str] | None) -> list[Any]:
    sub = ddf if columns is None else ddf[columns]
    return list(sub.to_delayed())


def _run(
    tasks: list[Callable[[], Any]], combine: Callable[[Any], None], desc: str, progress: bool | None, batch: int
) -> None:
    with tqdm(total=len(tasks), desc=desc, unit="part", disable=None if progress is None else not progress) as bar:
        for i in range(0, len(tasks), batch):
            for result in dask.compute(*tasks[i : i + batch]):
                combine(result)
            bar.update(min(batch, len(tasks) - i))


def _merge_sparse(acc: tuple[np.ndarray, np.ndarray] | None, new: tuple[np.ndarray, np.ndarray]):
    if acc is None:
        return new
    codes = np.concatenate([acc[0], new[0]])
    counts = np.concatenate([acc[1], new[1]])
    uniq, inv = np.unique(codes, return_inverse=True)
    return uniq, np.bincount(inv, weights=counts).astype(np.int64)


class _ColumnWriter:
    """Append values to a 1-D zarr array in whole chunks."""

    def __init__(self, array: zarr.Array, rows_per_chunk: int) -> None:
        self.array = array
        self.rows = rows_per_chunk
        self.pos = 0
        self.buf: list[np.ndarray] = []
        self.nbuf = 0

    def append(self, values: np.ndarray) -> None:
        self.buf.append(values)
        self.nbuf += len(values)
        if self.nbuf >= self.rows:
            data = np.concatenate(self.buf)
            full = (len(data) // self.rows) * self.rows
            self.array[self.pos : self.pos + full] = data[:full]
            self.pos += full
            self.buf, self.nbuf = [data[full:]], len(data) - full

    def close(self) -> None:
        if self.nbuf:
            data = np.concatenate(self.buf)
            self.array[self.pos : self.pos + len(data)] = data
            self.pos += len(data)
        self.buf, self.nbuf = [], 0


def column_specs(meta: pd.DataFrame, axes: list[str], feature_key: str | None) -> list[dict[str, Any]]:
    """Describe how every column (and the index) of the points is stored."""
    specs = []
    names = list(axes) + [c for c in meta.columns if c not in axes]
    for i, name in enumerate(names):
        dtype = meta[name].dtype
        spec: dict[str, Any] = {"name": str(name), "role": "column", "array": f"c{i}", "original_dtype": str(dtype)}
        if isinstance(dtype, pd.CategoricalDtype):
            spec["kind"] = "categorical"
        elif pd.api.types.is_bool_dtype(dtype):
            spec["kind"], spec["dtype"] = "bool", "bool"
        elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_extension_array_dtype(dtype):
            spec["kind"], spec["dtype"] = "numeric", str(np.dtype(dtype))
        elif pd.api.types.is_numeric_dtype(dtype):
            spec["kind"], spec["dtype"] = "numeric", "float64"
        else:
            spec["kind"] = "string"
        specs.append(spec)
    idx = meta.index
    ispec: dict[str, Any] = {
        "name": "__index__",
        "role": "index",
        "index_name": idx.name,
        "array": "index",
        "original_dtype": str(idx.dtype),
    }
    ispec["kind"] = "numeric" if pd.api.types.is_integer_dtype(idx.dtype) else "string"
    specs.append(ispec)
    if feature_key is not None and feature_key not in names:
        raise InvalidArgumentError(f"feature_key {feature_key!r} is not a column of the points (columns: {names})")
    return specs


@dataclass
class _BuildOptions:
    """The knobs of a build (see :func:`build_index`), passed on to its later passes as one object."""

    points_per_chunk: int
    seed: int
    rows_per_chunk: int
    bucket_rows: int
    fingerprint: dict[str, Any] | None
    extra: dict[str, Any] | None
    progress: bool | None


def build_index(
    ddf: dd.DataFrame,
    parent: zarr.Group,
    *,
    axes: list[str],
    feature_key: str | None,
    points_per_chunk: int = 64,
    seed: int = 0,
    rows_per_chunk: int = 1 << 20,
    bucket_rows: int = 4_000_000,
    fingerprint: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    temp_dir: str | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Build the index of ``ddf`` into ``parent[INDEX_GROUP]``; an existing index is replaced only on success.

    Returns
    -------
    dict
        The index metadata written.
    """
    if points_per_chunk < 1:
        raise InvalidArgumentError(f"points_per_chunk must be at least 1, got {points_per_chunk}")
    if rows_per_chunk < 1024:
        raise InvalidArgumentError(f"rows_per_chunk must be at least 1024, got {rows_per_chunk}")
    dim = len(axes)
    if dim not in FINEST:
        raise InvalidArgumentError(f"points must have 2 or 3 spatial axes, got {axes}")
    missing = [a for a in axes if a not in ddf.columns]
    if missing:
        raise InvalidArgumentError(f"the points have no column(s) {missing} for the axes {axes}")
    specs = column_specs(ddf._meta, axes, feature_key)
    parts = _partitions(ddf, None)
    string_cols = [s["name"] for s in specs if s["kind"] == "string"]
    unknown_cats = [
        s["name"]
        for s in specs
        if s["kind"] == "categorical" and not ddf[s["name"]].cat.known  # type: ignore[union-attr]
    ]

    # 1. statistics
    stats: list[dict[str, Any]] = []
    _run(
        [dask.delayed(_stats)(p, axes, string_cols + unknown_cats) for p in parts],
        stats.append,
        "points index: statistics",
        progress,
        BATCH,
    )
    lengths = [s["n"] for s in stats]
    n = int(sum(lengths))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if lengths else np.zeros(0, np.int64)
    nan = int(sum(sum(s["nan"]) for s in stats))
    if nan:
        raise InvalidArgumentError(f"{nan} points have a missing or infinite coordinate in {axes}; drop them first")
    for spec in specs:
        if spec["kind"] == "categorical" and spec["name"] not in unknown_cats:
            spec["_categories"] = list(ddf._meta[spec["name"]].cat.categories)
        elif spec["kind"] in ("categorical", "string"):
            uniq = np.concatenate([s["uniques"][spec["name"]] for s in stats]) if stats else np.zeros(0, object)
            spec["_categories"] = sorted(set(uniq.tolist()))
        if spec["kind"] in ("categorical", "string"):
            spec["dtype"] = _smallest_int(-1, max(len(spec["_categories"]) - 1, 0))
        if spec["role"] == "index" and spec["kind"] == "numeric":
            ranges = [s["index_range"] for s in stats if "index_range" in s]
            lo_i = min((r[0] for r in ranges), default=0)
            hi_i = max((r[1] for r in ranges), default=0)
            spec["dtype"] = _smallest_int(lo_i, hi_i)
    lo = [min((s["lo"][i] for s in stats), default=0.0) for i in range(dim)] if n else [0.0] * dim
    hi = [max((s["hi"][i] for s in stats), default=1.0) for i in range(dim)] if n else [1.0] * dim
    side = max(max(h - lo_ for lo_, h in zip(lo, hi, strict=True)), 1e-9) * (1 + 1e-9) + 1e-12
    finest = FINEST[dim]
    geo = {"axes": axes, "lo": lo, "side": side, "scale": float((1 << finest) / side), "finest": finest, "dim": dim}
    xy_parts = _partitions(ddf, list(axes))
    workdir = tempfile.mkdtemp(prefix="sdp-points-index-", dir=temp_dir)
    try:
        return _build_rest(
            parent,
            parts,
            xy_parts,
            offsets,
            n,
            geo,
            specs,
            feature_key,
            workdir,
            _BuildOptions(
                points_per_chunk,
                seed,
                rows_per_chunk,
                bucket_rows,
                fingerprint,
                extra,
                progress,
            ),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _build_rest(
    parent: zarr.Group,
    parts: list[Any],
    xy_parts: list[Any],
    offsets: np.ndarray,
    n: int,
    geo: dict[str, Any],
    specs: list[dict[str, Any]],
    feature_key: str | None,
    workdir: str,
    opts: _BuildOptions,
) -> dict[str, Any]:
    """The passes of :func:`build_index` after the statistics (cell codes, levels, directory, spill, sort and write)."""
    axes, dim, finest = geo["axes"], geo["dim"], geo["finest"]
    seed, points_per_chunk, progress = opts.seed, opts.points_per_chunk, opts.progress
    hist: list[np.ndarray] = []

    def add_hist(res: np.ndarray) -> None:
        if hist:
            hist[0] += res
        else:
            hist.append(res)

    _run(
        [
            dask.delayed(_prepare)(p, int(o), i, geo, seed, workdir)
            for i, (p, o) in enumerate(zip(xy_parts, offsets, strict=True))
        ],
        add_hist,
        "points index: cell codes",
        progress,
        BATCH,
    )
    hist_level = _histogram_level(geo)
    pids = list(range(len(xy_parts)))

    # 2. one counting pass per level
    thresholds: list[float] = []
    probs: list[float] = []
    c_prev = 0.0
    remaining = n
    with tqdm(desc="points index: levels", unit="level", disable=None if progress is None else not progress) as bar:
        for level in range(finest + 1):
            if remaining == 0:
                break
            acc: dict[str, Any] = {"dense": None, "sparse": None}

            def combine(res: Any, acc: dict[str, Any] = acc) -> None:
                if isinstance(res, tuple):
                    acc["sparse"] = _merge_sparse(acc["sparse"], res)
                else:
                    acc["dense"] = res if acc["dense"] is None else acc["dense"] + res

            if level == 0:  # one cell holding every point: no pass needed
                counts = np.asarray([n], dtype=np.int64)
            elif level <= hist_level and c_prev <= 0.5 and hist:
                # most points remain: all points per cell (children of the histogram summed) minus the few taken
                tasks = [dask.delayed(_count_taken)(pid, workdir, geo, level, c_prev) for pid in pids]
                _run(tasks, combine, f"points index: level {level}", False, BATCH)
                counts = hist[0].reshape(1 << (dim * level), -1).sum(axis=1) - acc["dense"]
            else:
                tasks = [dask.delayed(_count_remaining)(pid, workdir, geo, level, c_prev) for pid in pids]
                _run(tasks, combine, f"points index: level {level}", False, BATCH)
                counts = acc["dense"] if acc["dense"] is not None else acc["sparse"][1]
            remaining = int(counts.sum())
            if remaining == 0:
                break
            max_count = int(counts.max())
            p = 1.0 if (max_count <= points_per_chunk or level == finest) else points_per_chunk / max_count
            probs.append(p)
            c_prev = 1.0 if p >= 1.0 else 1.0 - (1.0 - c_prev) * (1.0 - p)
            thresholds.append(c_prev)
            bar.update(1)
            if p >= 1.0:
                break
    if not thresholds:
        thresholds, probs = [1.0], [1.0]
    thresholds[-1] = 1.0 + 1e-9  # every point ends in some level
    thr = np.asarray(thresholds)

    # 3. directory: rows per (level, cell)
    dir_acc: dict[int, Any] = {}

    def combine_dir(res: dict[int, Any]) -> None:
        for lv, part in res.items():
            if isinstance(part, tuple):
                dir_acc[lv] = _merge_sparse(dir_acc.get(lv), part)
            else:
                dir_acc[lv] = part if lv not in dir_acc else dir_acc[lv] + part

    _run(
        [dask.delayed(_directory_counts)(pid, workdir, geo, thr) for pid in pids],
        combine_dir,
        "points index: directory",
        progress,
        BATCH,
    )
    n_levels = len(thresholds)
    dirs: dict[int, dict[str, Any]] = {}
    entry_offset = 0
    row = 0
    for lv in range(n_levels):
        acc = dir_acc.get(lv, (np.zeros(0, np.uint64), np.zeros(0, np.int64)))
        if isinstance(acc, tuple):
            codes, counts = acc
        else:
            codes = np.flatnonzero(acc).astype(np.uint64)
            counts = acc[codes.astype(np.intp)].astype(np.int64)
        starts = row + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if len(counts) else counts
        dirs[lv] = {
            "codes": codes.astype(np.uint64),
            "counts": counts.astype(np.int64),
            "starts": np.asarray(starts, dtype=np.int64),
            "entry_offset": entry_offset,
            "row_start": row,
        }
        entry_offset += len(codes)
        row += int(counts.sum())
    if row != n:
        raise PointsIndexError(f"internal error: the directory holds {row} rows, the points {n}")
    all_counts = np.concatenate([dirs[lv]["counts"] for lv in range(n_levels)]) if n_levels else np.zeros(0)
    # buckets: consecutive directory entries of about bucket_rows rows
    cum = np.cumsum(all_counts)
    bucket_starts = [0]
    target = opts.bucket_rows
    while len(cum) and target < cum[-1]:
        e = int(np.searchsorted(cum, target, side="left")) + 1
        if e >= len(cum):
            break
        bucket_starts.append(e)
        target = int(cum[e - 1]) + opts.bucket_rows
    bucket_starts_a = np.asarray(bucket_starts, dtype=np.int64)
    gene_spec = next((s for s in specs if s["name"] == feature_key and s["role"] == "column"), None)
    if gene_spec is not None and gene_spec["kind"] not in ("categorical", "string"):
        raise InvalidArgumentError(
            f"the feature column {feature_key!r} must be categorical or text, not {gene_spec['original_dtype']}"
        )

    # 4. spill, 5. sort and write, into a new version group; the previous index stays until the switch
    index_group = parent.require_group(INDEX_GROUP)
    version = f"v-{uuid.uuid4().hex[:12]}"
    try:
        small_dirs: dict[Any, Any] = {}
        lut_offset = np.full(len(dirs), -1, dtype=np.int64)
        luts, at = [], 0
        for lv, d in sorted(dirs.items()):
            ncell = 1 << (dim * lv)
            if ncell <= DENSE_CELLS:
                lut = np.full(ncell, -1, dtype=np.int64)
                lut[d["codes"].astype(np.intp)] = d["entry_offset"] + np.arange(len(d["codes"]), dtype=np.int64)
                luts.append(lut)
                lut_offset[lv] = at
                at += ncell
            else:
                small_dirs[lv] = {"codes": d["codes"], "entry_offset": d["entry_offset"]}
        small_dirs["lut"] = np.concatenate(luts) if luts else np.zeros(0, np.int64)
        small_dirs["lut_offset"] = lut_offset
        # the packed sort key needs the entries of a bucket and the genes to leave at least 16 bits of the rank
        bucket_ends = np.concatenate([bucket_starts_a[1:], [len(all_counts)]])
        entry_bits = _bits(int(np.max(bucket_ends - bucket_starts_a, initial=1)))
        n_genes_ = len(gene_spec["_categories"]) if gene_spec is not None else 1
        gene_bits = _bits(n_genes_ + 1)
        key_bits = (entry_bits, gene_bits) if entry_bits + gene_bits <= 48 else None
        # one graph key for the (large) lookup tables, shared by the spill tasks instead of copied into each
        dirs_key = dask.delayed(small_dirs, name=f"points-index-dirs-{uuid.uuid4().hex}", traverse=False)
        # the spilled buckets stay in memory when the tasks run in this process and they are small enough
        row_bytes = sum(np.dtype(spec["dtype"]).itemsize for spec in specs) + (8 if key_bits else 24)
        keep = _local_scheduler() and n * row_bytes <= IN_MEMORY_SPILL_BYTES
        by_bucket: dict[int, list[pa.Table | str]] = {}

        def collect(res: dict[int, pa.Table | str]) -> None:
            for b, item in res.items():  # partitions in order: the writer's stable merge keeps it
                by_bucket.setdefault(b, []).append(item)

        _run(
            [
                dask.delayed(_spill)(
                    p, int(o), i, geo, seed, thr, dirs_key, bucket_starts_a, specs, gene_spec, workdir, key_bits, keep
                )
                for i, (p, o) in enumerate(zip(parts, offsets, strict=True))
            ],
            collect,
            "points index: spill",
            progress,
            BATCH,
        )
        vgroup = index_group.create_group(version)
        meta = _write_version(
            vgroup,
            by_bucket,
            n,
            dirs,
            bucket_starts_a,
            all_counts,
            specs,
            dim,
            opts.rows_per_chunk,
            progress,
            gene_spec,
            key_bits,
        )
    except BaseException:
        try:
            if version in index_group:
                del index_group[version]
        except Exception:
            pass
        raise
    meta.update(
        {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "n_rows": n,
            "dim": dim,
            "axes": list(axes),
            "finest": finest,
            "lo": [float(v) for v in geo["lo"]],
            "scale": geo["scale"],
            "side": float(geo["side"]),
            "points_per_chunk": int(points_per_chunk),
            "seed": int(seed),
            "rows_per_chunk": int(opts.rows_per_chunk),
            "feature_key": feature_key,
            "probabilities": [float(p) for p in probs],
            "fingerprint": opts.fingerprint or {},
        }
    )
    meta.update(opts.extra or {})
    for spec in meta["columns"]:
        spec.pop("_categories", None)
    vgroup.attrs[ATTRS_KEY] = json.loads(json.dumps(meta, default=_json_default))
    previous = index_group.attrs.get(ATTRS_KEY, {}).get("current")
    index_group.attrs[ATTRS_KEY] = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "current": version}
    if previous and previous != version and previous in index_group:
        try:
            del index_group[previous]
        except Exception:
            pass
    return meta


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in the index metadata")


def _categories_array(group: zarr.Group, name: str, categories: list[Any]) -> None:
    values = np.asarray(categories)
    if values.dtype.kind in "OUS":
        values = np.asarray([str(v) for v in categories], dtype=object)
        arr = group.create_array(name, shape=values.shape, dtype=str, chunks=(max(len(values), 1),))
    else:
        arr = group.create_array(
            name, shape=values.shape, dtype=values.dtype, chunks=(max(len(values), 1),), compressors=_compressor()
        )
    if len(values):
        arr[:] = values
    return int(arr.chunks[0])


def _append_sorted(writers: dict[str, _ColumnWriter], specs: list[dict[str, Any]], table: pa.Table, order: Any) -> None:
    """Append the columns of a bucket, in storage order, to the column writers."""
    for spec in specs:
        writers[spec["array"]].append(table.column(spec["array"]).to_numpy(zero_copy_only=False)[order])


def _write_buckets(
    writers: dict[str, _ColumnWriter],
    specs: list[dict[str, Any]],
    by_bucket: dict[int, list[pa.Table | str]],
    bucket_starts: np.ndarray,
    all_counts: np.ndarray,
    key_bits: tuple[int, int] | None,
    progress: bool | None,
    runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    collect_runs: bool,
) -> None:
    """Merge every bucket's spill files into storage order, append its columns and collect its (cell, gene) runs.

    The columns of a bucket are gathered and written by one background thread while this thread reads and sorts
    the next bucket (numpy's gathers and the file writes release the GIL); one bucket is in flight at a time.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="points-index-writer") as pool:
        in_flight: Future[None] | None = None
        row = 0
        for b in tqdm(
            range(len(bucket_starts)),
            desc="points index: sort and write",
            unit="bucket",
            disable=None if progress is None else not progress,
        ):
            items = by_bucket.pop(b, [])
            if not items:
                continue
            tables = []
            for item in items:
                if isinstance(item, pa.Table):
                    tables.append(item)
                    continue
                with ipc.open_file(item) as r:
                    tables.append(r.read_all())
                os.remove(item)
            del items
            table = pa.concat_tables(tables)
            del tables
            e0 = int(bucket_starts[b])
            e1 = int(bucket_starts[b + 1]) if b + 1 < len(bucket_starts) else len(all_counts)
            if "__key" in table.column_names and key_bits is not None:
                # every spill file is sorted by the packed key: the stable sort (timsort) merges the sorted runs; the
                # entry and the gene of every row are in the key's top bits
                key = table.column("__key").to_numpy()
                order = np.argsort(key, kind="stable")
                key = key[order]
                entry_bits, gene_bits = key_bits
                top = key >> np.uint64(64 - entry_bits - gene_bits)  # (entry, gene + 1): one value per run
                del key
                brk = np.flatnonzero(np.diff(top)) + 1
                firsts = np.concatenate([[0], brk]).astype(np.int64)
                top = top[firsts]
                entry = e0 + (top >> np.uint64(gene_bits)).astype(np.int64)
                gene = (top & np.uint64((1 << gene_bits) - 1)).astype(np.int64) - 1
                del top
            else:  # more genes or entries than the packed key holds: sort on the full keys
                entry = table.column("__entry").to_numpy()
                gene = table.column("__gene").to_numpy()
                order = np.lexsort((table.column("__rank").to_numpy(), gene, entry))
                entry, gene = entry[order], gene[order]
                brk = np.flatnonzero((np.diff(entry) != 0) | (np.diff(gene) != 0)) + 1
                firsts = np.concatenate([[0], brk]).astype(np.int64)
                entry, gene = entry[firsts].astype(np.int64), gene[firsts].astype(np.int64)
            n_bucket = len(order)
            run_len = np.diff(np.concatenate([firsts, [n_bucket]]))
            got = np.bincount(entry - e0, weights=run_len, minlength=e1 - e0).astype(np.int64)
            expected = all_counts[e0:e1]
            if not np.array_equal(got, expected):
                raise PointsIndexError("internal error: the spilled rows do not match the directory counts")
            if in_flight is not None:
                in_flight.result()
            in_flight = pool.submit(_append_sorted, writers, specs, table, order)
            # the (cell, gene) runs of the bucket, compactly, for the gene directory (starts follow from the counts)
            if collect_runs:
                runs.append(
                    (
                        entry.astype(np.uint32 if len(all_counts) < 1 << 32 else np.int64),
                        gene.astype(np.int16 if int(gene.max(initial=0)) < 1 << 15 else np.int32),
                        run_len.astype(np.uint32 if n_bucket < 1 << 32 else np.int64),
                    )
                )
            row += n_bucket
        if in_flight is not None:
            in_flight.result()


def _write_version(
    vgroup: zarr.Group,
    by_bucket: dict[int, list[pa.Table | str]],
    n: int,
    dirs: dict[int, dict[str, Any]],
    bucket_starts: np.ndarray,
    all_counts: np.ndarray,
    specs: list[dict[str, Any]],
    dim: int,
    rows_per_chunk: int,
    progress: bool | None,
    gene_spec: dict[str, Any] | None = None,
    key_bits: tuple[int, int] | None = None,
) -> dict[str, Any]:
    chunk = max(min(rows_per_chunk, n), 1)
    n_genes = len(gene_spec["_categories"]) if gene_spec is not None else 1
    cols = vgroup.create_group("columns")
    cats = vgroup.create_group("categories")
    writers = {}
    for spec in specs:
        arr = cols.create_array(
            spec["array"],
            shape=(n,),
            chunks=(chunk,),
            dtype=spec["dtype"],
            compressors=None,
            fill_value=0,
            config={"write_empty_chunks": True},
        )
        writers[spec["array"]] = _ColumnWriter(arr, chunk)
        if spec["kind"] in ("categorical", "string"):
            _categories_array(cats, spec["array"], spec["_categories"])
    dgroup = vgroup.create_group("directory")
    runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    _write_buckets(
        writers, specs, by_bucket, bucket_starts, all_counts, key_bits, progress, runs, gene_spec is not None
    )
    for w in writers.values():
        w.close()
    levels_meta, directory = _write_cell_directory(dgroup, dirs, dim, n)
    if gene_spec is not None:
        directory["genes"] = _write_gene_directory(dgroup, dirs, runs, n_genes)
    return {"levels": levels_meta, "columns": specs, "directory": directory}


def _even_chunk(n: int, largest: int) -> int:
    """A chunk size of at most ``largest`` that splits ``n`` items evenly (zarr stores the last chunk in full)."""
    k = max(-(-n // largest), 1)
    return max(-(-n // k), 1)


def _table_array(group: zarr.Group, name: str, values: np.ndarray) -> int:
    """An uncompressed uint64 table, so that a range of entries is an exact byte range."""
    arr = group.create_array(
        name,
        shape=(len(values),),
        chunks=(_even_chunk(len(values), TABLE_CHUNK),),
        dtype="uint64",
        compressors=None,
        fill_value=0,
        config={"write_empty_chunks": True},
    )
    if len(values):
        arr[:] = values
    return int(arr.chunks[0])


def _blob_array(group: zarr.Group, name: str, records: list[bytes]) -> int:
    """Concatenated records as an uncompressed uint8 array; returns its chunk size in bytes."""
    blob = np.frombuffer(b"".join(records), dtype=np.uint8)
    arr = group.create_array(
        name,
        shape=(len(blob),),
        chunks=(_even_chunk(len(blob), DIR_BLOB_CHUNK),),
        dtype="uint8",
        compressors=None,
        fill_value=0,
        config={"write_empty_chunks": True},
    )
    if len(blob):
        arr[:] = blob
    return int(arr.chunks[0])


def _write_cell_directory(
    dgroup: zarr.Group, dirs: dict[int, dict[str, Any]], dim: int, n: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write the cell directory (see :mod:`._directory`); return the levels' metadata and the directory's."""
    levels_meta: list[dict[str, Any]] = []
    tables: list[np.ndarray] = []
    records: list[bytes] = []
    first_block, offset = 0, 0
    for lv in sorted(dirs):
        d = dirs[lv]
        bits, rows, offsets, recs, widths = encode_cell_directory(d["codes"], d["counts"], int(d["row_start"]), lv, dim)
        tables.append(np.stack([rows, offsets + np.uint64(offset)], axis=1).ravel())
        records.append(recs)
        offset += len(recs)
        levels_meta.append(
            {
                "level": lv,
                "rows": [int(d["row_start"]), int(d["row_start"] + d["counts"].sum())],
                "entries": len(d["codes"]),
                "max_count": int(d["counts"].max(initial=0)),
                "block_bits": bits,
                "first_block": first_block,
                "record_widths": widths,
            }
        )
        first_block += len(rows)  # the level's blocks and its closing entry
    table_chunk = _table_array(dgroup, "blocks", np.concatenate(tables) if tables else np.zeros(0, np.uint64))
    chunk = _blob_array(dgroup, "blob", records)
    return levels_meta, {
        "encoding": "blocks",
        "blocks": "directory/blocks",
        "blob": "directory/blob",
        "table_chunk": table_chunk,
        "blob_chunk": chunk,
    }


def _write_gene_directory(
    dgroup: zarr.Group,
    dirs: dict[int, dict[str, Any]],
    runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_genes: int,
) -> dict[str, Any]:
    """Write the gene directory (see :mod:`._directory`): the (cell, gene) runs of every level, gene-major.

    The runs (about one per point on the fine levels) are kept as narrow arrays, and their records are encoded a
    group of genes at a time, so that the sort's memory is that of one group (the out-of-core build's bound).
    """

    def column(i: int) -> np.ndarray:
        out = np.concatenate([r[i] for r in runs]) if runs else np.zeros(0, np.uint32)
        for r in runs:  # free the pieces as soon as they are copied
            r[i] = None
        return out

    runs_l = [list(r) for r in runs]
    runs.clear()
    runs = runs_l  # type: ignore[assignment]
    entry, gene, count = column(0), column(1), column(2)
    del runs_l
    # runs arrive in storage order and tile the rows: their first rows are the running sum of their counts
    total = int(count.sum(dtype=np.int64))
    start = np.empty(len(count), dtype=np.uint32 if total < 1 << 32 else np.int64)
    if len(count):
        start[0] = 0
        np.cumsum(count[:-1], dtype=start.dtype, out=start[1:])
    entry_offsets = np.asarray([int(dirs[lv]["entry_offset"]) for lv in sorted(dirs)], dtype=np.int64)
    codes_all = np.concatenate([dirs[lv]["codes"] for lv in sorted(dirs)]) if dirs else np.zeros(0, np.uint64)
    if len(gene) and (gene.min() < 0 or gene.max() >= n_genes):
        raise PointsIndexError("internal error: a gene code is outside the categories")
    n_levels = len(entry_offsets)
    records: list[bytes] = []
    group = max(1, (1 << 22) * n_genes // max(len(gene), 1))  # about 4M runs per group
    for g0 in range(0, n_genes, group):
        g1 = min(g0 + group, n_genes)
        sel = np.flatnonzero((gene >= g0) & (gene < g1))
        # a stable sort by gene keeps every gene's runs in storage (level, code) order
        order = sel[np.argsort(gene[sel], kind="stable")]
        del sel
        per_gene = np.bincount(gene[order] - g0, minlength=g1 - g0)
        ent = entry[order]
        firsts = np.concatenate([[0], np.cumsum(per_gene)])
        bounds = np.concatenate(
            [firsts[k] + np.searchsorted(ent[firsts[k] : firsts[k + 1]], entry_offsets) for k in range(g1 - g0)]
            + [firsts[-1:]]
        )
        records += encode_gene_directory(codes_all[ent], start[order], count[order], bounds)
        del order, ent
    if len(records) != n_genes * n_levels:
        raise PointsIndexError("internal error: the gene directory has the wrong number of records")
    sizes = np.asarray([len(r) for r in records], dtype=np.int64)
    gg = dgroup.create_group("genes")
    table_chunk = _table_array(gg, "table", np.concatenate([[0], np.cumsum(sizes)]).astype(np.uint64))
    chunk = _blob_array(gg, "blob", records)
    return {
        "table": "directory/genes/table",
        "blob": "directory/genes/blob",
        "table_chunk": table_chunk,
        "blob_chunk": chunk,
        "n_genes": int(n_genes),
    }


def content_fingerprint(parts: Iterable[tuple[str, int, bytes]]) -> str:
    """A hash of (name, size, footer bytes) of the files holding the points."""
    h = hashlib.sha256()
    for name, size, footer in sorted(parts):
        h.update(name.encode())
        h.update(str(size).encode())
        h.update(footer)
    return h.hexdigest()
