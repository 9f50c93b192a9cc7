"""Points served as a neuroglancer precomputed annotation collection, straight from the points index.

The index's levels are neuroglancer's spatial-index levels (level ``l``: a ``2**l`` grid per axis over the index's
bounding cube), so a spatial chunk ``i_j_0`` of level ``l`` is one directory entry of the index: one row range. A
chunk request reads the directory record holding the cell (cached), then the byte ranges of that row range of the
coordinate and gene columns, and nothing else. Annotation ids are the rows' positions in the index's storage order,
so ``by_id/<id>`` reads one row.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from spatialdata_plugins.viewer._precomputed import annotation_info, encode_annotation, encode_annotations, record_dtype

#: the z coordinate given to 2D points: the middle of the one-voxel-thick slab the 2D images occupy
PLANE_Z = 0.5

#: decoded directory records kept in memory (each 1,024 entries, 24 kB)
RECORD_CACHE = 4096


def _morton2(i: int, j: int) -> int:
    """Morton code of cell ``(i, j)`` (x is the lowest bit of every pair, as the index stores it)."""
    code = 0
    for b in range(max(i.bit_length(), j.bit_length())):
        code |= ((i >> b) & 1) << (2 * b) | ((j >> b) & 1) << (2 * b + 1)
    return code


def _read_range(store: Any, key: str, start: int, stop: int) -> bytes:
    """Bytes ``[start, stop)`` of ``key`` (``stop=-1``: to the end) through the zarr store's public interface."""
    from zarr.abc.store import RangeByteRequest
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    byte_range = None if stop < 0 else RangeByteRequest(start, stop)
    buf = sync(store.get(key, prototype=default_buffer_prototype(), byte_range=byte_range))
    if buf is None:
        raise FileNotFoundError(f"the points index has no {key!r}")
    return buf.to_bytes()


class PointsSource:
    """A points element's index, served as a precomputed annotation collection.

    Parameters
    ----------
    index
        An opened :class:`spatialdata_plugins.points_index.PointsIndex` (2D).
    name
        The points element's name (shown in the viewer).
    """

    def __init__(self, index: Any, name: str) -> None:
        if index.dim != 2:
            raise NotImplementedError(f"points {name!r} have {index.dim} axes; the viewer serves 2D points")
        self.index = index
        self.name = name
        specs = {c["name"]: c for c in index.columns if c["role"] == "column"}
        self._xy = [specs[a] for a in index.axes]
        self._gene = specs.get(index.feature_key) if index.feature_key else None
        self.genes = [str(g) for g in index.genes] if self._gene is not None else []
        gene_type = "uint16" if len(self.genes) <= 1 << 16 else "uint32"
        self.properties: list[dict[str, Any]] = []
        if self._gene is not None:
            self.properties.append(
                {
                    "id": "gene",
                    "type": gene_type,
                    "description": f"{index.feature_key} of the point",
                    "enum_values": list(range(len(self.genes))),
                    "enum_labels": self.genes,
                }
            )
        self.dtype = record_dtype("POINT", 3, self.properties)
        self.extent = (1 << index.finest) / index.scale
        self._records: np.ndarray | None = None
        self._decoded: OrderedDict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        directory = index.meta.get("directory") or {}
        if directory.get("encoding") != "blob":
            raise NotImplementedError("the viewer reads points indexes of format version 2 (directory blob)")
        self._directory = directory

    # ------------------------------------------------------------------ info

    def info(self) -> dict[str, Any]:
        """The collection's ``info``: one spatial level per index level, a ``gene`` enum property."""
        ppc = int(self.index.meta.get("points_per_chunk") or 64)
        levels = []
        for lv in self.index.levels:
            n = 1 << int(lv["level"])
            limit = min(int(lv.get("max_count") or ppc), ppc) if lv.get("max_count") is not None else ppc
            levels.append(
                {
                    "key": f"spatial{lv['level']}",
                    "grid_shape": [n, n, 1],
                    "chunk_size": [self.extent / n, self.extent / n, 1.0],
                    "limit": max(limit, 1),
                }
            )
        lo = self.index.lo
        return annotation_info(
            "POINT", [lo[0], lo[1], 0.0], [lo[0] + self.extent, lo[1] + self.extent, 1.0], levels, self.properties
        )

    # ------------------------------------------------------------------ directory

    def _record_table(self) -> np.ndarray:
        if self._records is None:  # one small chunk; two threads reading it at once read the same bytes
            key = f"{self.index.path}/{self._directory['records']}/c/0"
            table = np.frombuffer(_read_range(self.index.store, key, 0, -1), dtype="<u8")
            self._records = table.reshape(-1, 3)
        return self._records

    def _record(self, k: int, level: dict[str, Any], j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Directory record ``k`` (entry ``j`` of its level) decoded: cell codes, first rows, row counts."""
        import numcodecs

        with self._lock:
            if k in self._decoded:
                self._decoded.move_to_end(k)
                return self._decoded[k]
        # read without the lock: concurrent chunk requests of other records must not wait for this one
        table = self._record_table()
        start, stop = int(table[k, 2]), int(table[k + 1, 2])
        chunk = int(self._directory["blob_chunk"])
        base = f"{self.index.path}/{self._directory['array']}/c"
        pieces = []
        for c in range(start // chunk, (stop - 1) // chunk + 1):
            a, b = max(start, c * chunk) - c * chunk, min(stop, (c + 1) * chunk) - c * chunk
            pieces.append(_read_range(self.index.store, f"{base}/{c}", a, b))
        rec = np.frombuffer(numcodecs.blosc.decompress(b"".join(pieces)), dtype="<u8")
        half = len(rec) // 2
        width = int(level["dir_chunk"])
        n = min(width, int(level["entries"]) - j * width)
        codes = np.uint64(table[k, 0]) + np.cumsum(rec[:half][:n], dtype=np.uint64)
        counts = rec[half:][:n].astype(np.int64)
        starts = int(table[k, 1]) + np.cumsum(counts) - counts
        with self._lock:
            self._decoded[k] = (codes, starts, counts)
            while len(self._decoded) > RECORD_CACHE:
                self._decoded.popitem(last=False)
        return codes, starts, counts

    def cell_rows(self, level: int, i: int, j: int) -> tuple[int, int]:
        """Row range ``[start, stop)`` of cell ``(i, j)`` of ``level`` (empty when the cell holds no point)."""
        if not 0 <= level < self.index.n_levels or not (0 <= i < 1 << level and 0 <= j < 1 << level):
            return 0, 0
        lv = self.index.levels[level]
        if int(lv["entries"]) == 0:
            return 0, 0
        code = np.uint64(_morton2(i, j))
        table = self._record_table()
        first = int(lv["first_chunk"])
        n_records = -(-int(lv["entries"]) // int(lv["dir_chunk"]))
        fences = table[first : first + n_records, 0]
        r = int(np.searchsorted(fences, code, side="right")) - 1
        if r < 0:
            return 0, 0
        codes, starts, counts = self._record(first + r, lv, r)
        pos = int(np.searchsorted(codes, code))
        if pos >= len(codes) or codes[pos] != code:
            return 0, 0
        return int(starts[pos]), int(starts[pos] + counts[pos])

    # ------------------------------------------------------------------ encodings

    def _records_of(self, start: int, stop: int) -> np.ndarray:
        specs = [*self._xy, *([self._gene] if self._gene is not None else [])]
        cols = self.index.read_columns(specs, np.asarray([start]), np.asarray([stop]))
        out = np.zeros(stop - start, dtype=self.dtype)
        out["geometry"][:, 0] = cols[0]
        out["geometry"][:, 1] = cols[1]
        out["geometry"][:, 2] = PLANE_Z
        if self._gene is not None:
            out["gene"] = cols[2]
        return out

    def chunk(self, level: int, i: int, j: int) -> bytes:
        """The encoded spatial chunk ``i_j_0`` of ``level``, its points in a seeded random order."""
        start, stop = self.cell_rows(level, i, j)
        if stop <= start:
            return encode_annotations(np.zeros(0, self.dtype), np.zeros(0, np.uint64))
        records = self._records_of(start, stop)
        ids = np.arange(start, stop, dtype=np.uint64)
        # rows of a cell are stored by gene; neuroglancer draws a prefix of a chunk, so the order must be random
        order = np.random.default_rng([int(self.index.meta.get("seed") or 0), level, i, j]).permutation(stop - start)
        return encode_annotations(records[order], ids[order])

    def by_id(self, annotation_id: int) -> bytes | None:
        """The single-annotation encoding of row ``annotation_id``, or ``None`` if there is no such row."""
        if not 0 <= annotation_id < self.index.n_rows:
            return None
        return encode_annotation(self._records_of(annotation_id, annotation_id + 1)[0])
