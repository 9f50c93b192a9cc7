"""Vectorised Morton (Z-order) codes, box-to-code-range decomposition and a counter-based random generator."""

from __future__ import annotations

import numpy as np

#: bits per axis of the finest grid: 2D codes use 48 bits, 3D codes 60 bits
FINEST = {2: 24, 3: 20}

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _part1by1(v: np.ndarray) -> np.ndarray:
    """Spread the low 32 bits of ``v`` so that one zero bit separates them."""
    x = v.astype(np.uint64) & np.uint64(0x00000000FFFFFFFF)
    x = (x | (x << np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    x = (x | (x << np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    x = (x | (x << np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    x = (x | (x << np.uint64(2))) & np.uint64(0x3333333333333333)
    x = (x | (x << np.uint64(1))) & np.uint64(0x5555555555555555)
    return x


def _part1by2(v: np.ndarray) -> np.ndarray:
    """Spread the low 21 bits of ``v`` so that two zero bits separate them."""
    x = v.astype(np.uint64) & np.uint64(0x1FFFFF)
    x = (x | (x << np.uint64(32))) & np.uint64(0x1F00000000FFFF)
    x = (x | (x << np.uint64(16))) & np.uint64(0x1F0000FF0000FF)
    x = (x | (x << np.uint64(8))) & np.uint64(0x100F00F00F00F00F)
    x = (x | (x << np.uint64(4))) & np.uint64(0x10C30C30C30C30C3)
    x = (x | (x << np.uint64(2))) & np.uint64(0x1249249249249249)
    return x


_LUT = {
    2: _part1by1(np.arange(256, dtype=np.uint64)),
    3: _part1by2(np.arange(256, dtype=np.uint64)),
}


def _spread(v: np.ndarray, dim: int) -> np.ndarray:
    """Spread the bits of ``v`` for ``dim``-D interleaving, one byte at a time through a lookup table."""
    v = np.asarray(v)
    lut = _LUT[dim]
    bits = 32 if dim == 2 else 21
    out = lut[(v & 0xFF).astype(np.intp)]
    hi = int(v.max(initial=0)) if v.size else 0
    for k in range(1, -(-bits // 8)):
        if hi >> (8 * k) == 0:
            break
        out |= lut[((v >> (8 * k)) & 0xFF).astype(np.intp)] << np.uint64(8 * k * dim)
    return out


def morton(cells: list[np.ndarray]) -> np.ndarray:
    """Morton code of integer cell coordinates (x first: x is the lowest bit of every group)."""
    dim = len(cells)
    if dim not in (2, 3):
        raise ValueError(f"Morton codes need 2 or 3 axes, got {dim}")
    out = _spread(cells[0], dim)
    for i in range(1, dim):
        out |= _spread(cells[i], dim) << np.uint64(i)
    return out


def unmorton(codes: np.ndarray, dim: int, bits: int) -> list[np.ndarray]:
    """Integer cell coordinates of Morton ``codes`` of ``bits`` bits per axis (the inverse of :func:`morton`)."""
    codes = np.asarray(codes, dtype=np.uint64)
    out = [np.zeros(len(codes), dtype=np.int64) for _ in range(dim)]
    for b in range(bits):
        for i in range(dim):
            out[i] |= ((codes >> np.uint64(b * dim + i)) & np.uint64(1)).astype(np.int64) << b
    return out


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a fast, well-mixed 64-bit hash (counter-based random numbers)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def point_random(row_ids: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """Reproducible 64-bit random numbers for global row ids (independent of how the rows are partitioned)."""
    key = splitmix64(np.asarray([(seed * 0x632BE59BD9B4E019 + stream * 0x8CB92BA72F3D8DD7) & 0xFFFFFFFFFFFFFFFF]))
    with np.errstate(over="ignore"):
        return splitmix64(row_ids.astype(np.uint64) ^ key[0])


def to_unit(bits: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1) from 64-bit random integers."""
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def box_code_ranges(lo: list[int], hi: list[int], level: int, max_ranges: int = 4096) -> np.ndarray:
    """Morton code ranges ``[start, stop)`` covering the cell box ``lo <= cell <= hi`` (inclusive) at ``level``.

    The grid is decomposed like a quadtree (octree in 3D): nodes fully inside the box give one range each, nodes
    partly inside are split further. If splitting would give more than ``max_ranges`` nodes, the partial nodes are
    kept whole (a superset; the caller filters points exactly). Adjacent ranges are merged.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` uint64 array of sorted, disjoint ranges.
    """
    dim = len(lo)
    lo_a = np.asarray(lo, dtype=np.int64)
    hi_a = np.asarray(hi, dtype=np.int64)
    starts: list[np.ndarray] = []
    stops: list[np.ndarray] = []
    # nodes: (prefix code, origin cell per axis) at depth d; a node spans 2**(level-d) cells per axis
    prefixes = np.zeros(1, dtype=np.uint64)
    origins = np.zeros((1, dim), dtype=np.int64)
    child = np.arange(1 << dim, dtype=np.uint64)
    bits = np.stack([(np.arange(1 << dim) >> a) & 1 for a in range(dim)], axis=1)
    for depth in range(level + 1):
        span = 1 << (level - depth)
        node_hi = origins + span - 1
        disjoint = np.any((node_hi < lo_a) | (origins > hi_a), axis=1)
        inside = np.all((origins >= lo_a) & (node_hi <= hi_a), axis=1)
        shift = np.uint64(dim * (level - depth))
        partial = ~disjoint & ~inside
        stop_here = depth == level or int(partial.sum()) * (1 << dim) > max_ranges
        take = (inside | partial) if stop_here else inside
        if take.any():
            p = prefixes[take]
            starts.append(p << shift)
            stops.append((p + np.uint64(1)) << shift)
        prefixes, origins = prefixes[partial], origins[partial]
        if stop_here or len(prefixes) == 0:
            break
        prefixes = ((prefixes[:, None] << np.uint64(dim)) | child[None, :]).ravel()
        origins = (origins[:, None, :] + (bits * (span // 2))[None, :, :]).reshape(-1, dim)
    if not starts:
        return np.zeros((0, 2), dtype=np.uint64)
    a = np.concatenate(starts)
    b = np.concatenate(stops)
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    # merge touching or overlapping ranges (nodes are disjoint, so only touching ones merge)
    run_end = np.maximum.accumulate(b)
    brk = np.ones(len(a), dtype=bool)
    brk[1:] = a[1:] > run_end[:-1]
    first = np.flatnonzero(brk)
    last = np.concatenate([first[1:], [len(a)]]) - 1
    return np.stack([a[first], run_end[last]], axis=1).astype(np.uint64)


def coarsen_ranges(ranges: np.ndarray, shift_bits: int) -> np.ndarray:
    """The Morton code ranges of the parent cells ``shift_bits`` bits up of sorted, disjoint ``ranges``.

    Every cell of a coarser level that contains a cell of ``ranges`` is covered (and no other), so the box ranges of
    every level follow from those of the finest level queried, with one decomposition instead of one per level.
    """
    if len(ranges) == 0 or shift_bits == 0:
        return ranges
    s = np.uint64(shift_bits)
    a = ranges[:, 0] >> s
    b = ((ranges[:, 1] - np.uint64(1)) >> s) + np.uint64(1)
    run_end = np.maximum.accumulate(b)
    brk = np.ones(len(a), dtype=bool)
    brk[1:] = a[1:] > run_end[:-1]
    first = np.flatnonzero(brk)
    last = np.concatenate([first[1:], [len(a)]]) - 1
    return np.stack([a[first], run_end[last]], axis=1).astype(np.uint64)
