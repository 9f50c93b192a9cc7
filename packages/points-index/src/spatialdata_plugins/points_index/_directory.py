"""The two directories of a points index (format version 3): how they are encoded and decoded.

Cell directory
    Per level, the cells are grouped into *blocks* of ``2**block_bits`` consecutive Morton codes (64 cells: 8 x 8 in
    2D, 4 x 4 x 4 in 3D; fewer blocks on deep levels, at most ``2**20`` per level). A dense table
    (``directory/blocks``, uint64 pairs ``(first row, byte offset of the block's record)``, one pair per block of
    every level and one closing pair per level) locates every block without any other metadata: the blocks of a box
    are a few ranges of that table, read as exact byte ranges. A block's *record* (``directory/blob``) holds its
    non-empty cells as ``(code offset within the block, delta-coded; row count)`` pairs, uncompressed, in the
    narrowest byte widths that hold the level's values (``record_widths`` in the level's metadata, typically 1 + 1
    bytes per cell); an empty block has an empty record.

Gene directory
    Rows are stored ordered by (level, cell, gene, rank), so one gene is one contiguous run of rows per cell. For
    every (gene, level) a record holds that gene's runs in Morton order, ``[cell code deltas..., row start
    deltas..., row counts...]`` compressed with blosc/zstd, gene-major in ``directory/genes/blob``; the table
    ``directory/genes/table`` (uint64 byte offsets, index ``gene * n_levels + level``) locates them. One gene's
    runs of all levels are one contiguous byte range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spatialdata_plugins.points_index._errors import CorruptIndexError

BLOCK_BITS = 6
"""Morton-code bits of a block of the cell directory (64 cells)."""

MAX_BLOCK_TABLE_BITS = 20
"""At most ``2**20`` blocks per level: deeper (sparse) levels get larger blocks."""

BLOB_CHUNK = 1 << 22
"""Bytes per zarr chunk of the directory blobs."""

TABLE_CHUNK = 1 << 17
"""Entries (uint64) per zarr chunk of the directory tables."""


CELLS_PER_BLOCK = 16
"""Sparse levels get blocks large enough to hold about this many non-empty cells on average."""


def block_bits(level: int, dim: int, entries: int | None = None) -> int:
    """Morton-code bits of a cell-directory block of ``level`` with ``entries`` non-empty cells.

    64 cells per block on dense levels; on sparse levels (clustered points) larger blocks, so that the table (16
    bytes per block) stays small next to the records; at most ``2**20`` blocks per level.
    """
    total = dim * level
    bits = max(min(BLOCK_BITS, total), total - MAX_BLOCK_TABLE_BITS)
    if entries:
        sparse = math.ceil(math.log2(max(CELLS_PER_BLOCK * (1 << total) / entries, 1.0)))
        bits = max(bits, min(sparse, total))
    return bits


def _width(values: np.ndarray) -> int:
    """The narrowest unsigned byte width (1, 2, 4 or 8) that holds every value."""
    m = int(values.max(initial=0))
    return next(w for w in (1, 2, 4, 8) if m < 1 << (8 * w))


def _record_dtype(offset_width: int, count_width: int) -> np.dtype:
    return np.dtype([("d", f"<u{offset_width}"), ("c", f"<u{count_width}")])


def encode_cell_directory(
    codes: np.ndarray, counts: np.ndarray, row_start: int, level: int, dim: int
) -> tuple[int, np.ndarray, np.ndarray, bytes, list[int]]:
    """Encode the cell directory of one level.

    Parameters
    ----------
    codes, counts
        The level's non-empty cells (sorted Morton codes) and their row counts.
    row_start
        The level's first row.
    level, dim
        The level and the number of axes.

    Returns
    -------
    tuple
        ``(bits, rows, offsets, records, widths)``: the block bits; the first row of every block plus a closing
        value (``n_blocks + 1`` values); the byte offset of every block's record in ``records`` plus a closing
        value; the records (one per block, concatenated: per non-empty cell its code offset within the block,
        delta-coded, and its row count, in the level's fixed ``widths`` in bytes).
    """
    bits = block_bits(level, dim, len(codes))
    n_blocks = 1 << (dim * level - bits)
    blocks = (codes >> np.uint64(bits)).astype(np.int64)
    bounds = np.searchsorted(blocks, np.arange(n_blocks + 1))
    csum = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    rows = row_start + csum[bounds]
    offsets = codes & np.uint64((1 << bits) - 1)
    deltas = offsets.copy()
    if len(offsets):
        same = blocks[1:] == blocks[:-1]
        deltas[1:][same] = (offsets[1:] - offsets[:-1])[same]
    widths = [_width(deltas), _width(counts.astype(np.uint64))]
    pairs = np.empty(len(codes), dtype=_record_dtype(*widths))
    pairs["d"] = deltas
    pairs["c"] = counts
    return bits, rows.astype(np.uint64), (bounds * pairs.itemsize).astype(np.uint64), pairs.tobytes(), widths


def decode_cell_record(
    data: bytes, level: int, bits: int, block: int, row: int, next_row: int, widths: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one block record: the cells' Morton codes, first rows and row counts.

    The counts must add up to the rows between the block's first row and the next block's (``next_row``), and
    the codes must increase inside the block.
    """
    dtype = _record_dtype(*widths)
    if len(data) % dtype.itemsize:
        raise CorruptIndexError(f"the directory record of block {block} of level {level} is damaged")
    rec = np.frombuffer(data, dtype=dtype)
    offsets = np.cumsum(rec["d"], dtype=np.uint64)
    counts = rec["c"].astype(np.int64)
    if (
        int(counts.sum()) != next_row - row
        or (len(rec) and int(offsets[-1]) >= 1 << bits)
        or np.any(counts <= 0)
        or np.any(rec["d"][1:] == 0)
    ):
        raise CorruptIndexError(f"the directory record of block {block} of level {level} is inconsistent")
    codes = (np.uint64(block) << np.uint64(bits)) + offsets
    starts = row + np.cumsum(counts) - counts
    return codes, starts, counts


def _zstd() -> Any:
    import numcodecs

    return numcodecs.Zstd(level=3)


_ZSTD = _zstd()


def encode_gene_directory(codes: np.ndarray, starts: np.ndarray, counts: np.ndarray, bounds: np.ndarray) -> list[bytes]:
    """Encode the records of every (gene, level): runs ``bounds[k]:bounds[k + 1]`` of the gene-major run arrays.

    Every record holds its runs' cell codes, first rows and counts (sorted by code): three columns, the first two
    delta-coded, each in the narrowest unsigned width that holds it (a 3-byte header gives the widths), compressed
    with zstd. Empty records are ``b""``.
    """
    records = [b""] * (len(bounds) - 1)
    full = np.flatnonzero(np.diff(bounds))
    if len(full) == 0:
        return records
    firsts = bounds[full].astype(np.int64)
    cols = []
    for values in (codes.astype(np.uint64), starts.astype(np.uint64)):
        d = np.diff(values, prepend=np.zeros(1, np.uint64))
        d[firsts] = values[firsts]  # every record starts from absolute values
        cols.append(d)
    cols.append(counts.astype(np.uint64, copy=False))
    widths = []
    for c in cols:
        top = np.maximum.reduceat(c, firsts)
        widths.append(np.select([top < 1 << 8, top < 1 << 16, top < 1 << 32], [1, 2, 4], 8))
    zstd = _ZSTD
    wide = np.stack(widths, axis=1).tolist()
    for k, (s, e) in enumerate(zip(firsts.tolist(), bounds[full + 1].tolist(), strict=True)):
        w = wide[k]
        body = b"".join([bytes(w), *(cols[i][s:e].astype(f"<u{w[i]}").tobytes() for i in range(3))])
        records[int(full[k])] = zstd.encode(body)
    return records


def decode_gene_record(
    data: bytes, gene: int, level: int, rows: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the runs of one (gene, level): cell codes, first rows and counts; checked against the level's rows."""
    import numcodecs

    if not data:
        z = np.zeros(0, np.int64)
        return z.astype(np.uint64), z, z
    bad = CorruptIndexError(f"the gene directory of gene {gene}, level {level} is damaged")
    try:
        raw = bytes(numcodecs.Zstd().decode(data))
    except (RuntimeError, ValueError, TypeError) as exc:
        raise bad from exc
    widths = list(raw[:3])
    if len(raw) < 3 or any(w not in (1, 2, 4, 8) for w in widths) or (len(raw) - 3) % sum(widths):
        raise bad
    n = (len(raw) - 3) // sum(widths)
    cols, at = [], 3
    for w in widths:
        cols.append(np.frombuffer(raw, dtype=f"<u{w}", count=n, offset=at).astype(np.uint64))
        at += n * w
    codes = np.cumsum(cols[0], dtype=np.uint64)
    starts = np.cumsum(cols[1], dtype=np.uint64).astype(np.int64)
    counts = cols[2].astype(np.int64)
    if (
        np.any(counts <= 0)
        or (n and (int(starts[0]) < rows[0] or int(starts[-1] + counts[-1]) > rows[1]))
        or np.any(starts[1:] < starts[:-1] + counts[:-1])
    ):
        raise CorruptIndexError(f"the gene directory of gene {gene}, level {level} is inconsistent")
    return codes, starts, counts


def range_requests(array_key: str, chunk_bytes: int, start: int, stop: int) -> list[tuple[str, int, int]]:
    """Requests for bytes ``[start, stop)`` of an uncompressed 1-D zarr array, split at its chunks."""
    requests = []
    while start < stop:
        k = start // chunk_bytes
        end = min(stop, (k + 1) * chunk_bytes)
        requests.append((f"{array_key}/c/{k}", start - k * chunk_bytes, end - k * chunk_bytes))
        start = end
    return requests
