"""Exact point-to-boundary distances with a bounding-volume hierarchy per contour, compiled with numba.

Every contour's boundary is a set of straight segments, stored in ring order. Consecutive runs of segments are the
leaves of a balanced binary tree (implicit, in heap order) whose nodes hold the bounding box of their segments;
because a run of consecutive segments is a connected piece of the curve, the boxes are tight. The distance from a
point to a contour is found by a depth-first descent that visits the nearer child first and skips every node whose
box is farther than the best segment found so far (or than the search radius ``rmax``). Every segment that can be
the nearest one is visited, so the distance is exact: the minimum over segments of the point-to-segment distance.

A uniform lookup grid over all contours lists, per cell, the contours whose boundary can be within ``rmax`` of a
point of the cell (tested at build time with the same descent from the cell centre), together with the segment
nearest to the centre. Points far from every boundary (outside every contour's reach, or deep inside one) are
therefore dismissed by one array read, and the nearest segment of the cell centre gives the descent a tight first
bound.

The kernels are ``nogil`` and serial: dask runs one partition per thread, and numba's own thread pool is not safe to
enter from several threads at once.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_JIT = {"nogil": True, "cache": True, "fastmath": False}

#: Segments per leaf of the trees.
LEAF_SIZE = 16
#: A node is skipped when its box is farther than the bound times this (a margin for rounding, so that a segment
#: whose computed distance ties the bound is never skipped).
_SLACK = 1.0 + 1e-9
#: Depth of the descent's stack: 2 entries per level of a tree of at most 2**60 leaves.
_STACK = 128


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
def _box_distance_sq(px: float, py: float, boxes: np.ndarray, node: int) -> float:
    dx = max(boxes[node, 0] - px, 0.0, px - boxes[node, 2])
    dy = max(boxes[node, 1] - py, 0.0, py - boxes[node, 3])
    return dx * dx + dy * dy


@numba.njit(**_JIT)
def build_trees(ax, ay, bx, by, seg_start, leaf_size):
    """Bounding boxes of the implicit segment tree of every contour.

    Contour ``k`` has ``n_leaves[k]`` leaves (a power of two, about ``n / leaf_size`` for its ``n`` segments); its
    nodes are ``boxes[node_offset[k] : node_offset[k] + 2 * n_leaves[k] - 1]`` in heap order (children of node
    ``i`` are ``2i + 1`` and ``2i + 2``; leaf ``j`` is node ``n_leaves[k] - 1 + j`` and holds segments
    ``seg_start[k] + j * n // n_leaves[k]`` up to ``seg_start[k] + (j + 1) * n // n_leaves[k]``).
    Returns ``(n_leaves, node_offset, boxes)`` with boxes ``(x0, y0, x1, y1)``.
    """
    n_contours = seg_start.shape[0] - 1
    n_leaves = np.empty(n_contours, dtype=np.int64)
    node_offset = np.zeros(n_contours + 1, dtype=np.int64)
    for k in range(n_contours):
        n = seg_start[k + 1] - seg_start[k]
        leaves = 1
        while leaves * leaf_size < n:
            leaves *= 2
        n_leaves[k] = leaves
        node_offset[k + 1] = node_offset[k] + 2 * leaves - 1
    boxes = np.empty((node_offset[n_contours], 4), dtype=np.float64)
    for k in range(n_contours):
        leaves = n_leaves[k]
        base = node_offset[k]
        s0 = seg_start[k]
        n = seg_start[k + 1] - s0
        for j in range(leaves):
            x0 = np.inf
            y0 = np.inf
            x1 = -np.inf
            y1 = -np.inf
            for s in range(s0 + (j * n) // leaves, s0 + ((j + 1) * n) // leaves):
                x0 = min(x0, ax[s], bx[s])
                y0 = min(y0, ay[s], by[s])
                x1 = max(x1, ax[s], bx[s])
                y1 = max(y1, ay[s], by[s])
            node = base + leaves - 1 + j
            boxes[node, 0] = x0
            boxes[node, 1] = y0
            boxes[node, 2] = x1
            boxes[node, 3] = y1
        for i in range(leaves - 2, -1, -1):
            node = base + i
            c1 = base + 2 * i + 1
            c2 = c1 + 1
            boxes[node, 0] = min(boxes[c1, 0], boxes[c2, 0])
            boxes[node, 1] = min(boxes[c1, 1], boxes[c2, 1])
            boxes[node, 2] = max(boxes[c1, 2], boxes[c2, 2])
            boxes[node, 3] = max(boxes[c1, 3], boxes[c2, 3])
    return n_leaves, node_offset, boxes


@numba.njit(**_JIT)
def _nearest(px, py, k, best, best_seg, bound, ax, ay, bx, by, seg_start, n_leaves, node_offset, boxes, stack, stack_d):
    """Squared distance from ``(px, py)`` to contour ``k`` and the segment attaining it.

    ``best`` is the squared distance to segment ``best_seg`` already known (``inf`` and ``-1`` if none); only nodes
    within ``min(best, bound)`` are visited, so a result above ``bound`` means "farther than ``bound``".
    """
    leaves = n_leaves[k]
    base = node_offset[k]
    s0 = seg_start[k]
    n = seg_start[k + 1] - s0
    cut = min(best, bound) * _SLACK
    d = _box_distance_sq(px, py, boxes, base)
    if d > cut:
        return best, best_seg
    stack[0] = 0
    stack_d[0] = d
    top = 1
    while top > 0:
        top -= 1
        if stack_d[top] > cut:
            continue
        i = stack[top]
        if i >= leaves - 1:
            j = i - (leaves - 1)
            for s in range(s0 + (j * n) // leaves, s0 + ((j + 1) * n) // leaves):
                d = _segment_distance_sq(px, py, ax[s], ay[s], bx[s], by[s])
                if d < best:
                    best = d
                    best_seg = s
                    cut = min(best, bound) * _SLACK
        else:
            c1 = 2 * i + 1
            d1 = _box_distance_sq(px, py, boxes, base + c1)
            d2 = _box_distance_sq(px, py, boxes, base + c1 + 1)
            # the nearer child goes on top of the stack, so it is visited first
            if d1 <= d2:
                if d2 <= cut:
                    stack[top] = c1 + 1
                    stack_d[top] = d2
                    top += 1
                if d1 <= cut:
                    stack[top] = c1
                    stack_d[top] = d1
                    top += 1
            else:
                if d1 <= cut:
                    stack[top] = c1
                    stack_d[top] = d1
                    top += 1
                if d2 <= cut:
                    stack[top] = c1 + 1
                    stack_d[top] = d2
                    top += 1
    return best, best_seg


@numba.njit(**_JIT)
def _grow(arr, size):
    if size < arr.shape[0]:
        return arr
    out = np.empty(2 * arr.shape[0] + 16, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@numba.njit(**_JIT)
def _segment_runs(
    px, py, k, radius_sq, ax, ay, bx, by, seg_start, n_leaves, node_offset, boxes, stack, run_lo, run_hi, m
):  # fmt: skip
    """Append the runs of consecutive segments of contour ``k`` within ``sqrt(radius_sq)`` of the point.

    Runs go to ``run_lo/run_hi`` from position ``m``, in increasing order; returns the arrays (grown if needed) and
    the new end.
    """
    leaves = n_leaves[k]
    base = node_offset[k]
    s0 = seg_start[k]
    n = seg_start[k + 1] - s0
    first = m
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        i = stack[top]
        if _box_distance_sq(px, py, boxes, base + i) > radius_sq:
            continue
        if i >= leaves - 1:
            j = i - (leaves - 1)
            for s in range(s0 + (j * n) // leaves, s0 + ((j + 1) * n) // leaves):
                if _segment_distance_sq(px, py, ax[s], ay[s], bx[s], by[s]) <= radius_sq:
                    if m > first and run_hi[m - 1] == s:
                        run_hi[m - 1] = s + 1
                    else:
                        run_lo = _grow(run_lo, m)
                        run_hi = _grow(run_hi, m)
                        run_lo[m] = s
                        run_hi[m] = s + 1
                        m += 1
        else:  # the left child (lower segments) on top: segments come out in increasing order
            stack[top] = 2 * i + 2
            stack[top + 1] = 2 * i + 1
            top += 2
    return run_lo, run_hi, m


@numba.njit(**_JIT)
def build_lookup(
    bbox, lx0, ly0, lsize, lnx, lny, half_diagonal, rmax, ax, ay, bx, by, seg_start, n_leaves, node_offset, boxes
):  # fmt: skip
    """Per lookup cell: the contours a point of the cell can be within ``rmax`` of, and their candidate segments.

    ``bbox[k]`` is contour ``k``'s bounding box grown by ``rmax``. With ``q`` the cell centre, ``r`` =
    ``half_diagonal`` (half the cell's diagonal, with a margin for the rounding of coordinates) and ``d`` the
    distance from ``q`` to contour ``k``, every point ``p`` of the cell is within ``d + r`` of the boundary, so its
    nearest segment is within ``d + 2r`` of ``q`` (and within ``rmax + r`` if ``p`` is within ``rmax``): those
    segments are the cell's candidates for ``k``, and ``k`` is listed only when ``d <= rmax + r``. Candidates are
    stored as runs of consecutive segment numbers.

    Returns ``(start, contours, centre_x, centre_y, centre_d_sq, run_start, run_lo, run_hi)``: the entries of cell
    ``g`` are ``start[g]:start[g+1]``; entry ``e`` is contour ``contours[e]`` at squared distance ``centre_d_sq[e]``
    from the cell centre ``(centre_x[e], centre_y[e])``, with candidate segments ``run_lo[u]:run_hi[u]`` for ``u``
    in ``run_start[e]:run_start[e + 1]``.
    """
    n_contours = bbox.shape[0]
    stack = np.empty(_STACK, dtype=np.int64)
    stack_d = np.empty(_STACK, dtype=np.float64)
    reach = rmax + half_diagonal
    reach_sq = reach * reach * _SLACK
    capacity = 16
    cell = np.empty(capacity, dtype=np.int64)
    contour = np.empty(capacity, dtype=np.int64)
    entry_runs = np.empty(capacity, dtype=np.int64)  # end of the entry's runs
    entry_d_sq = np.empty(capacity, dtype=np.float64)
    run_lo = np.empty(capacity, dtype=np.int64)
    run_hi = np.empty(capacity, dtype=np.int64)
    m = 0
    n_runs = 0
    for k in range(n_contours):
        i0 = max(math.floor((bbox[k, 0] - lx0) / lsize), 0)
        i1 = min(math.floor((bbox[k, 2] - lx0) / lsize), lnx - 1)
        j0 = max(math.floor((bbox[k, 1] - ly0) / lsize), 0)
        j1 = min(math.floor((bbox[k, 3] - ly0) / lsize), lny - 1)
        for j in range(j0, j1 + 1):
            cy = ly0 + (j + 0.5) * lsize
            for i in range(i0, i1 + 1):
                cx = lx0 + (i + 0.5) * lsize
                d_sq, _ = _nearest(
                    cx, cy, k, np.inf, -1, reach_sq, ax, ay, bx, by, seg_start, n_leaves, node_offset, boxes,
                    stack, stack_d,
                )  # fmt: skip
                if d_sq > reach_sq:
                    continue
                radius = min(math.sqrt(d_sq) + 2.0 * half_diagonal, reach)
                run_lo, run_hi, n_runs = _segment_runs(
                    cx, cy, k, radius * radius * _SLACK, ax, ay, bx, by, seg_start, n_leaves, node_offset, boxes,
                    stack, run_lo, run_hi, n_runs,
                )  # fmt: skip
                cell = _grow(cell, m)
                contour = _grow(contour, m)
                entry_runs = _grow(entry_runs, m)
                entry_d_sq = _grow(entry_d_sq, m)
                cell[m] = j * lnx + i
                contour[m] = k
                entry_runs[m] = n_runs
                entry_d_sq[m] = d_sq
                m += 1
    # order the entries by cell (counting sort), keeping each entry's runs
    total = lnx * lny
    start = np.zeros(total + 1, dtype=np.int64)
    for e in range(m):
        start[cell[e] + 1] += 1
    for g in range(total):
        start[g + 1] += start[g]
    fill = start[:-1].copy()
    order = np.empty(m, dtype=np.int64)
    for e in range(m):
        order[fill[cell[e]]] = e
        fill[cell[e]] += 1
    out_contour = np.empty(m, dtype=np.int64)
    out_d_sq = np.empty(m, dtype=np.float64)
    run_start = np.zeros(m + 1, dtype=np.int64)
    out_lo = np.empty(n_runs, dtype=np.int64)
    out_hi = np.empty(n_runs, dtype=np.int64)
    w = 0
    for r in range(m):
        e = order[r]
        out_contour[r] = contour[e]
        out_d_sq[r] = entry_d_sq[e]
        for u in range(entry_runs[e - 1] if e > 0 else 0, entry_runs[e]):
            out_lo[w] = run_lo[u]
            out_hi[w] = run_hi[u]
            w += 1
        run_start[r + 1] = w
    out_x = np.empty(m, dtype=np.float64)
    out_y = np.empty(m, dtype=np.float64)
    for r in range(m):
        g = cell[order[r]]
        i = g % lnx
        out_x[r] = lx0 + (i + 0.5) * lsize
        out_y[r] = ly0 + ((g - i) // lnx + 0.5) * lsize
    return start, out_contour, out_x, out_y, out_d_sq, run_start, out_lo, out_hi


#: Relative error bound of the floating-point orientation determinant (Shewchuk's ccwerrboundA is 3.3e-16; 3x that).
_ORIENT_BOUND = 1e-15


@numba.njit(**_JIT)
def _orientation(ax, ay, bx, by, cx, cy):
    """Sign of the orientation of ``(a, b, c)``: 1 if ``c`` is left of ``a -> b``, -1 if right, 0 if too close.

    Shewchuk's filtered ``orient2d``: outside the error bound the sign of the floating-point determinant is exact;
    inside it (0) rounding could decide, and the caller asks an exact predicate.
    """
    left = (ax - cx) * (by - cy)
    right = (ay - cy) * (bx - cx)
    det = left - right
    bound = _ORIENT_BOUND * (abs(left) + abs(right))
    if det > bound:
        return 1
    if det < -bound:
        return -1
    return 0


@numba.njit(**_JIT)
def _crossings(qx, qy, px, py, run_start, run_lo, run_hi, e, ax, ay, bx, by):
    """Parity of the crossings of the path ``q -> p`` with the candidate segments of entry ``e``.

    -1 when a segment touches the path or an orientation is too close to call (the caller then asks GEOS).
    """
    x0 = min(qx, px)
    x1 = max(qx, px)
    y0 = min(qy, py)
    y1 = max(qy, py)
    parity = 0
    for u in range(run_start[e], run_start[e + 1]):
        for s in range(run_lo[u], run_hi[u]):
            if max(ax[s], bx[s]) < x0 or min(ax[s], bx[s]) > x1 or max(ay[s], by[s]) < y0 or min(ay[s], by[s]) > y1:
                continue
            o1 = _orientation(ax[s], ay[s], bx[s], by[s], qx, qy)
            o2 = _orientation(ax[s], ay[s], bx[s], by[s], px, py)
            if o1 == 0 or o2 == 0:
                return -1
            if o1 == o2:
                continue
            o3 = _orientation(qx, qy, px, py, ax[s], ay[s])
            o4 = _orientation(qx, qy, px, py, bx[s], by[s])
            if o3 == 0 or o4 == 0:
                return -1
            if o3 != o4:
                parity ^= 1
    return parity


@numba.njit(**_JIT)
def _lookup_cell(px, py, lx0, ly0, lsize, lnx, lny):
    if not (px >= lx0 and py >= ly0):  # also false for NaN
        return -1
    i = math.floor((px - lx0) / lsize)
    j = math.floor((py - ly0) / lsize)
    if i >= lnx or j >= lny:
        return -1
    return j * lnx + i


@numba.njit(**_JIT)
def point_contour_distances(
    x, y, rmax, lx0, ly0, lsize, lnx, lny, lookup_start, lookup_contours, centre_x, centre_y, centre_inside, straddles,
    run_start, run_lo, run_hi, ax, ay, bx, by, dx, dy, inv_length_sq, n_contours,
):  # fmt: skip
    """Distance from each point to each contour whose boundary is within ``rmax`` of it, and the point's side.

    The distance is the minimum over the candidate segments of the point's lookup cell, which hold the nearest
    segment of every point within ``rmax`` (see :func:`build_lookup`). The side: a point is inside exactly when the
    cell centre is (``centre_inside[e]``, from GEOS) and the path from the centre to the point crosses the boundary
    an even number of times. Only cells that the boundary can pass through (``straddles[e]``) need the crossings,
    and every boundary segment crossing that path is a candidate (it comes within half a diagonal of the centre).

    Returns ``(point_index, contour_index, distance, inside, contour_start)`` for every pair with a distance at most
    ``rmax``, ordered by contour (the pairs of contour ``k`` are
    ``contour_start[k]:contour_start[k + 1]``); ``inside`` is 1 or 0, or -1 where rounding could decide it (the
    point is on the boundary or nearly, or the path grazes a vertex): those are left to an exact predicate.
    """
    n = x.shape[0]
    # candidates per contour, to lay the output out by contour
    offset = np.zeros(n_contours + 1, dtype=np.int64)
    # the points near a boundary, taken in the order of their lookup cells (a counting sort) so that the cells'
    # candidates stay in cache; their coordinates are gathered first, in a loop of independent loads
    per_cell = np.zeros(lnx * lny + 1, dtype=np.int64)
    for i in range(n):
        g = _lookup_cell(x[i], y[i], lx0, ly0, lsize, lnx, lny)
        if g >= 0 and lookup_start[g + 1] > lookup_start[g]:
            per_cell[g + 1] += 1
            for q in range(lookup_start[g], lookup_start[g + 1]):
                offset[lookup_contours[q] + 1] += 1
    for k in range(n_contours):
        offset[k + 1] += offset[k]
    for g in range(lnx * lny):
        per_cell[g + 1] += per_cell[g]
    near = np.empty(per_cell[lnx * lny], dtype=np.int64)
    for i in range(n):
        g = _lookup_cell(x[i], y[i], lx0, ly0, lsize, lnx, lny)
        if g >= 0 and lookup_start[g + 1] > lookup_start[g]:
            near[per_cell[g]] = i
            per_cell[g] += 1
    near_x = np.empty(near.shape[0], dtype=np.float64)
    near_y = np.empty(near.shape[0], dtype=np.float64)
    for r in range(near.shape[0]):
        near_x[r] = x[near[r]]
        near_y[r] = y[near[r]]
    fill = offset[:-1].copy()
    out_point = np.empty(offset[n_contours], dtype=np.int64)
    out_distance = np.empty(offset[n_contours], dtype=np.float64)
    out_inside = np.empty(offset[n_contours], dtype=np.int8)
    for r in range(near.shape[0]):
        i = near[r]
        px = near_x[r]
        py = near_y[r]
        g = _lookup_cell(px, py, lx0, ly0, lsize, lnx, lny)
        for q in range(lookup_start[g], lookup_start[g + 1]):
            best = np.inf
            for u in range(run_start[q], run_start[q + 1]):
                # branch-free form of _segment_distance_sq over a contiguous run (the compiler vectorises it)
                for s in range(run_lo[u], run_hi[u]):
                    wx = px - ax[s]
                    wy = py - ay[s]
                    t = min(max((wx * dx[s] + wy * dy[s]) * inv_length_sq[s], 0.0), 1.0)
                    ex = wx - t * dx[s]
                    ey = wy - t * dy[s]
                    best = min(best, ex * ex + ey * ey)
            d = math.sqrt(best)
            if d <= rmax:
                k = lookup_contours[q]
                side = centre_inside[q]
                if straddles[q] and side >= 0:
                    parity = _crossings(centre_x[q], centre_y[q], px, py, run_start, run_lo, run_hi, q, ax, ay, bx, by)
                    side = -1 if parity < 0 else side ^ parity
                out_point[fill[k]] = i
                out_distance[fill[k]] = d
                out_inside[fill[k]] = side
                fill[k] += 1
    # close the gaps left by candidates farther than rmax
    contour_start = np.zeros(n_contours + 1, dtype=np.int64)
    for k in range(n_contours):
        contour_start[k + 1] = contour_start[k] + fill[k] - offset[k]
    m = contour_start[n_contours]
    point = np.empty(m, dtype=np.int64)
    contour = np.empty(m, dtype=np.int32)
    distance = np.empty(m, dtype=np.float64)
    inside = np.empty(m, dtype=np.int8)
    for k in range(n_contours):
        w = contour_start[k]
        for r in range(offset[k], fill[k]):
            point[w] = out_point[r]
            contour[w] = k
            distance[w] = out_distance[r]
            inside[w] = out_inside[r]
            w += 1
    return point, contour, distance, inside, contour_start


@numba.njit(**_JIT)
def signed_bands(distance, inside, edges):
    """Band of every signed distance (``-distance`` where ``inside``): ``searchsorted(edges, d, "right") - 1``.

    Bands are half-open, ``[edges[b], edges[b + 1])``; distances outside ``[edges[0], edges[-1])`` (and NaN) get -1.
    """
    n_bands = edges.shape[0] - 1
    out = np.empty(distance.shape[0], dtype=np.int64)
    for r in range(distance.shape[0]):
        d = -distance[r] if inside[r] else distance[r]
        lo = 0
        hi = edges.shape[0]
        while lo < hi:  # first edge above d
            mid = (lo + hi) // 2
            if edges[mid] <= d:
                lo = mid + 1
            else:
                hi = mid
        b = lo - 1
        out[r] = b if 0 <= b < n_bands and d == d else -1
    return out


@numba.njit(**_JIT)
def add_counts(counts, contour_start, point, band, raw_codes, code_table):
    """Add the (point, contour) pairs to ``counts[contour, group, band]``; the last group counts every pair.

    The pairs of contour ``k`` are ``contour_start[k]:contour_start[k + 1]``; pairs with band -1 are skipped. A
    point's group is ``code_table[raw_codes[point]]`` (no group when the raw code or the group is negative, or when
    ``raw_codes`` is empty).
    """
    n_contours = counts.shape[0]
    every = counts.shape[1] - 1
    grouped = raw_codes.shape[0] > 0
    for k in range(n_contours):
        for r in range(contour_start[k], contour_start[k + 1]):
            b = band[r]
            if b < 0:
                continue
            counts[k, every, b] += 1
            if grouped:
                raw = raw_codes[point[r]]
                if raw >= 0:
                    g = code_table[raw]
                    if g >= 0:
                        counts[k, g, b] += 1


@numba.njit(**_JIT)
def kernel_sums(values, weights):
    """``values @ weights.T`` for 2D ``values`` ``(R, F)`` and kernel weights ``(G, F)``, skipping zero weights.

    The weights of an output are zero outside a contiguous run of fine bins (the kernel is cut), so only that run is
    summed; serial and without BLAS threads.
    """
    n_rows, n_fine = values.shape
    n_out = weights.shape[0]
    first = np.zeros(n_out, dtype=np.int64)
    last = np.zeros(n_out, dtype=np.int64)
    for g in range(n_out):
        lo = 0
        while lo < n_fine and weights[g, lo] == 0.0:
            lo += 1
        hi = n_fine
        while hi > lo and weights[g, hi - 1] == 0.0:
            hi -= 1
        first[g] = lo
        last[g] = hi
    out = np.zeros((n_rows, n_out), dtype=np.float64)
    for r in range(n_rows):
        for g in range(n_out):
            s = 0.0
            for f in range(first[g], last[g]):
                s += weights[g, f] * values[r, f]
            out[r, g] = s
    return out
