"""Exact point-to-boundary distances with a uniform-grid broad phase, compiled with numba.

Every contour's boundary is a set of straight segments. Each segment is registered in every cell of a per-contour
uniform grid that it passes through. The distance from a point to a contour is then found by visiting the grid
cells in square rings of growing Chebyshev radius around the point's cell and stopping once the next ring cannot
hold anything closer than the best segment found (or than the search radius ``rmax``). Every segment that can be
the nearest one is visited, so the distance is exact: the minimum over segments of the point-to-segment distance.

The kernels are ``nogil`` and serial: dask runs one partition per thread, and numba's own thread pool is not safe to
enter from several threads at once.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_JIT = {"nogil": True, "cache": True, "fastmath": False}


@numba.njit(**_JIT)
def _segment_distance_sq(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx = bx - ax
    dy = by - ay
    wx = px - ax
    wy = py - ay
    length_sq = dx * dx + dy * dy
    t = 0.0
    if length_sq > 0.0:
        t = (wx * dx + wy * dy) / length_sq
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
    ex = wx - t * dx
    ey = wy - t * dy
    return ex * ex + ey * ey


@numba.njit(**_JIT)
def _register_segments(
    ax, ay, bx, by, seg_start, gx0, gy0, gsize, gnx, gny, cell_offset, counts, fill, out, count_only
):
    n_contours = seg_start.shape[0] - 1
    for k in range(n_contours):
        c = gsize[k]
        half_diag_sq = 0.5 * c * c * (1.0 + 1e-9)  # (c * sqrt(2) / 2) ** 2, with a tolerance
        for s in range(seg_start[k], seg_start[k + 1]):
            i0 = max(math.floor((min(ax[s], bx[s]) - gx0[k]) / c) - 1, 0)
            i1 = min(math.floor((max(ax[s], bx[s]) - gx0[k]) / c) + 1, gnx[k] - 1)
            j0 = max(math.floor((min(ay[s], by[s]) - gy0[k]) / c) - 1, 0)
            j1 = min(math.floor((max(ay[s], by[s]) - gy0[k]) / c) + 1, gny[k] - 1)
            for j in range(j0, j1 + 1):
                cy = gy0[k] + (j + 0.5) * c
                for i in range(i0, i1 + 1):
                    cx = gx0[k] + (i + 0.5) * c
                    if _segment_distance_sq(cx, cy, ax[s], ay[s], bx[s], by[s]) <= half_diag_sq:
                        g = cell_offset[k] + j * gnx[k] + i
                        if count_only:
                            counts[g] += 1
                        else:
                            out[fill[g]] = s
                            fill[g] += 1


@numba.njit(**_JIT)
def build_segment_grids(ax, ay, bx, by, seg_start, gx0, gy0, gsize, gnx, gny, cell_offset):
    """Register every segment of every contour in the cells of that contour's grid it passes through.

    A cell holds a segment when the segment comes within half a cell diagonal of the cell centre, which includes
    every cell the segment passes through. Returns ``(cell_start, cell_segments)``: a CSR layout where the segments
    of global cell ``g`` are ``cell_segments[cell_start[g]:cell_start[g + 1]]``.
    """
    total_cells = cell_offset[seg_start.shape[0] - 1]
    counts = np.zeros(total_cells, dtype=np.int64)
    dummy = np.zeros(1, dtype=np.int64)
    _register_segments(ax, ay, bx, by, seg_start, gx0, gy0, gsize, gnx, gny, cell_offset, counts, dummy, dummy, True)
    cell_start = np.zeros(total_cells + 1, dtype=np.int64)
    for g in range(total_cells):
        cell_start[g + 1] = cell_start[g] + counts[g]
    cell_segments = np.empty(cell_start[total_cells], dtype=np.int64)
    fill = cell_start[:-1].copy()
    _register_segments(
        ax, ay, bx, by, seg_start, gx0, gy0, gsize, gnx, gny, cell_offset, counts, fill, cell_segments, False
    )
    return cell_start, cell_segments


@numba.njit(**_JIT)
def _nearest_distance(
    px, py, k, rmax, ax, ay, bx, by, gx0, gy0, gsize, gnx, gny, cell_offset, cell_start, cell_segs, cell_ring
):
    c = gsize[k]
    nx = gnx[k]
    ny = gny[k]
    fx = (px - gx0[k]) / c
    fy = (py - gy0[k]) / c
    ci = math.floor(fx)
    cj = math.floor(fy)
    if ci < 0 or cj < 0 or ci >= nx or cj >= ny:
        return np.inf
    # distance from the point to the edges of its own cell: cells of ring r are at least (r - 1) * c + edge away
    fx -= ci
    fy -= cj
    edge = c * min(min(fx, 1.0 - fx), min(fy, 1.0 - fy))
    # rings closer than cell_ring hold no segment (chessboard distance to the nearest occupied cell)
    first = cell_ring[cell_offset[k] + cj * nx + ci]
    if first >= 1 and (first - 1) * c + edge > rmax:
        return np.inf
    best = np.inf
    rmax_sq = rmax * rmax
    max_ring = int(rmax / c) + 2
    for r in range(first, max_ring + 1):
        if r >= 1:
            reach = (r - 1) * c + edge
            reach_sq = reach * reach
            if reach_sq > best or reach_sq > rmax_sq:
                break
        for dj in range(-r, r + 1):
            j = cj + dj
            if j < 0 or j >= ny:
                continue
            step = 1 if (dj == -r or dj == r or r == 0) else 2 * r
            di = -r
            while di <= r:
                i = ci + di
                if 0 <= i < nx:
                    g = cell_offset[k] + j * nx + i
                    for p in range(cell_start[g], cell_start[g + 1]):
                        s = cell_segs[p]
                        d = _segment_distance_sq(px, py, ax[s], ay[s], bx[s], by[s])
                        if d < best:
                            best = d
                di += step
    if best > rmax_sq:
        return np.inf
    return math.sqrt(best)


@numba.njit(**_JIT)
def _lookup_cell(px, py, lx0, ly0, lsize, lnx, lny):
    i = math.floor((px - lx0) / lsize)
    j = math.floor((py - ly0) / lsize)
    if i < 0 or j < 0 or i >= lnx or j >= lny:
        return -1
    return j * lnx + i


@numba.njit(**_JIT)
def point_contour_distances(
    x,
    y,
    rmax,
    bbox,
    lx0,
    ly0,
    lsize,
    lnx,
    lny,
    lookup_start,
    lookup_contours,
    ax,
    ay,
    bx,
    by,
    gx0,
    gy0,
    gsize,
    gnx,
    gny,
    cell_offset,
    cell_start,
    cell_segs,
    cell_ring,
):
    """Unsigned distance from each point to each contour whose boundary is within ``rmax`` of it.

    ``bbox[k]`` is contour ``k``'s bounding box grown by ``rmax``; the lookup grid lists, per cell, the contours
    whose grown box overlaps it. Returns ``(point_index, contour_index, distance)`` for every pair with a distance
    at most ``rmax``.
    """
    n = x.shape[0]
    counts = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        g = _lookup_cell(x[i], y[i], lx0, ly0, lsize, lnx, lny)
        if g < 0:
            continue
        for q in range(lookup_start[g], lookup_start[g + 1]):
            k = lookup_contours[q]
            if bbox[k, 0] <= x[i] <= bbox[k, 2] and bbox[k, 1] <= y[i] <= bbox[k, 3]:
                counts[i + 1] += 1
    for i in range(n):
        counts[i + 1] += counts[i]
    m = counts[n]
    out_point = np.empty(m, dtype=np.int64)
    out_contour = np.empty(m, dtype=np.int32)
    out_distance = np.empty(m, dtype=np.float64)
    w = 0
    for i in range(n):
        if counts[i + 1] == counts[i]:
            continue
        g = _lookup_cell(x[i], y[i], lx0, ly0, lsize, lnx, lny)
        for q in range(lookup_start[g], lookup_start[g + 1]):
            k = lookup_contours[q]
            if bbox[k, 0] <= x[i] <= bbox[k, 2] and bbox[k, 1] <= y[i] <= bbox[k, 3]:
                d = _nearest_distance(
                    x[i],
                    y[i],
                    k,
                    rmax,
                    ax,
                    ay,
                    bx,
                    by,
                    gx0,
                    gy0,
                    gsize,
                    gnx,
                    gny,
                    cell_offset,
                    cell_start,
                    cell_segs,
                    cell_ring,
                )
                if d <= rmax:
                    out_point[w] = i
                    out_contour[w] = k
                    out_distance[w] = d
                    w += 1
    return out_point[:w], out_contour[:w], out_distance[:w]


@numba.njit(**_JIT)
def _register_boxes(bbox, lx0, ly0, lsize, lnx, lny, counts, fill, out, count_only):
    for k in range(bbox.shape[0]):
        i0 = max(math.floor((bbox[k, 0] - lx0) / lsize), 0)
        i1 = min(math.floor((bbox[k, 2] - lx0) / lsize), lnx - 1)
        j0 = max(math.floor((bbox[k, 1] - ly0) / lsize), 0)
        j1 = min(math.floor((bbox[k, 3] - ly0) / lsize), lny - 1)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                g = j * lnx + i
                if count_only:
                    counts[g] += 1
                else:
                    out[fill[g]] = k
                    fill[g] += 1


@numba.njit(**_JIT)
def build_lookup(bbox, lx0, ly0, lsize, lnx, lny):
    """CSR of contours per lookup cell: the contours whose grown bounding box overlaps the cell."""
    total = lnx * lny
    counts = np.zeros(total, dtype=np.int64)
    dummy = np.zeros(1, dtype=np.int64)
    _register_boxes(bbox, lx0, ly0, lsize, lnx, lny, counts, dummy, dummy, True)
    start = np.zeros(total + 1, dtype=np.int64)
    for g in range(total):
        start[g + 1] = start[g] + counts[g]
    contours = np.empty(start[total], dtype=np.int64)
    fill = start[:-1].copy()
    _register_boxes(bbox, lx0, ly0, lsize, lnx, lny, counts, fill, contours, False)
    return start, contours
