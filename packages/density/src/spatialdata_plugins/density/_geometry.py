"""Geometry: contour clean-up, the boundary index for exact distances, band areas, masks to polygons."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from spatialdata_plugins.density import _kernels
from spatialdata_plugins.density._errors import DomainError, InvalidContourError

#: Segments per quarter circle used when buffers approximate arcs (shapely's default is 16).
DEFAULT_QUAD_SEGS = 64


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the polygons of a geometry (``make_valid`` may return collections with lines or points)."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts)


def _closed_line_to_polygon(line: BaseGeometry, name: str) -> BaseGeometry:
    coords = np.asarray(line.coords)
    if len(coords) < 4 or not np.array_equal(coords[0], coords[-1]):
        raise InvalidContourError(
            f"contour {name!r} is an open line ({len(coords)} vertices, first != last); only closed lines "
            "(first vertex equal to the last) enclose an area. Close it or pass a polygon."
        )
    return shapely.Polygon(coords)


def normalise_contours(
    geometries: Sequence[BaseGeometry | None],
    names: Sequence[Any],
    *,
    radii: Sequence[float] | None = None,
    repair: bool = True,
    quad_segs: int = DEFAULT_QUAD_SEGS,
    what: str = "contour",
) -> list[BaseGeometry]:
    """Turn contours into valid polygons or multipolygons.

    Parameters
    ----------
    geometries
        Polygons, multipolygons, closed line strings or linear rings (and multi-lines of closed parts), or points
        with ``radii`` (circles, buffered with ``quad_segs`` segments per quarter circle).
    names
        The contour ids, used in error messages.
    radii
        Radii of circle contours (points), if any.
    repair
        Repair invalid (for example self-intersecting) polygons with :func:`shapely.make_valid` and warn; when
        ``False`` an invalid polygon raises :class:`InvalidContourError`.
    quad_segs
        Segments per quarter circle for circles.
    what
        What the geometries are, for messages.

    Returns
    -------
    list
        One valid, non-empty polygon or multipolygon per input.
    """
    if len(geometries) == 0:
        raise InvalidContourError(f"no {what}s given: the {what} element is empty")
    out = []
    repaired = []
    for i, (geom, name) in enumerate(zip(geometries, names, strict=True)):
        if geom is None or geom.is_empty:
            raise InvalidContourError(f"{what} {name!r} is empty; remove it or give it a geometry")
        kind = geom.geom_type
        if kind == "Point":
            radius = None if radii is None else float(radii[i])
            if radius is None or not np.isfinite(radius) or radius <= 0:
                raise InvalidContourError(f"{what} {name!r} is a point without a positive radius; it encloses no area")
            geom = geom.buffer(radius, quad_segs=quad_segs)
        elif kind in ("LineString", "LinearRing"):
            geom = _closed_line_to_polygon(geom, str(name))
        elif kind == "MultiLineString":
            geom = shapely.MultiPolygon([_closed_line_to_polygon(part, str(name)) for part in geom.geoms])
        elif kind not in ("Polygon", "MultiPolygon"):
            raise InvalidContourError(
                f"{what} {name!r} is a {kind}; use polygons, multipolygons, closed lines or circles"
            )
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            if not repair:
                raise InvalidContourError(
                    f"{what} {name!r} is not a valid polygon ({reason}); pass repair=True to fix it with "
                    "shapely.make_valid, or fix the geometry"
                )
            geom = _polygonal_part(shapely.make_valid(geom))
            repaired.append(f"{name!r} ({reason})")
        if geom.is_empty or geom.area <= 0:
            raise InvalidContourError(f"{what} {name!r} encloses no area")
        out.append(geom)
    if repaired:
        warnings.warn(
            f"repaired invalid {what}s with shapely.make_valid: {', '.join(repaired)}; check that the repaired "
            "shapes are what you meant",
            UserWarning,
            stacklevel=3,
        )
    return out


_PREPARE_LOCK = threading.Lock()


def ready(geometry: BaseGeometry) -> BaseGeometry:
    """Prepare ``geometry`` for point queries once, safely across threads, and return it.

    A GEOS prepared geometry builds its point-in-area index lazily, on the first query, and that lazy build is not
    thread-safe (libgeos/geos#825): dask tasks on threads that share a polygon and query it for the first time at
    the same moment can crash the process (one CI run here aborted that way). The first query is therefore made
    here, under a lock, before any concurrent use; every caller goes through this function.
    """
    with _PREPARE_LOCK:
        if not shapely.is_prepared(geometry):
            shapely.prepare(geometry)
            coords = shapely.get_coordinates(geometry)
            if len(coords):
                shapely.contains_xy(geometry, coords[0, 0], coords[0, 1])
                shapely.intersects_xy(geometry, coords[0, 0], coords[0, 1])
    return geometry


@dataclass
class BoundaryIndex:
    """Everything the distance kernel needs: segments of all contours, their trees, a contour lookup grid."""

    rmax: float
    arrays: dict[str, Any]
    polygons: list[BaseGeometry]

    #: The lookup grid has at most this many cells a side (its cells are at least ``rmax / 8`` wide).
    LOOKUP_CELLS = 512

    @classmethod
    def build(cls, polygons: Sequence[BaseGeometry], rmax: float) -> BoundaryIndex:
        """Index the boundaries of ``polygons`` for distance queries up to ``rmax``.

        Parameters
        ----------
        polygons
            Valid polygons or multipolygons.
        rmax
            Largest distance that will be asked for.

        Returns
        -------
        BoundaryIndex
            The index.
        """
        polygons = [ready(p) for p in polygons]
        parts, part_owner = shapely.get_parts(np.asarray(polygons, dtype=object), return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        ring_owner = part_owner[ring_part]
        coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
        # segments between consecutive vertices of a ring; repeated vertices (zero-length segments) change no distance
        keep = (coord_ring[1:] == coord_ring[:-1]) & np.any(coords[1:] != coords[:-1], axis=1)
        seg_a = coords[:-1][keep]
        seg_b = coords[1:][keep]
        seg_owner = ring_owner[coord_ring[:-1][keep]]
        # stable: the segments of a contour stay in ring order, so runs of them are connected pieces of the curve
        order = np.argsort(seg_owner, kind="stable")
        seg_a, seg_b, seg_owner = seg_a[order], seg_b[order], seg_owner[order]
        n = len(polygons)
        seg_start = np.searchsorted(seg_owner, np.arange(n + 1)).astype(np.int64)
        ax, ay = np.ascontiguousarray(seg_a[:, 0]), np.ascontiguousarray(seg_a[:, 1])
        bx, by = np.ascontiguousarray(seg_b[:, 0]), np.ascontiguousarray(seg_b[:, 1])
        n_leaves, node_offset, boxes = _kernels.build_trees(ax, ay, bx, by, seg_start, _kernels.LEAF_SIZE)

        bounds = shapely.bounds(np.asarray(polygons, dtype=object))
        grown = np.ascontiguousarray(bounds + np.array([-rmax, -rmax, rmax, rmax]))
        lx0, ly0 = grown[:, 0].min(), grown[:, 1].min()
        lside = max(grown[:, 2].max() - lx0, grown[:, 3].max() - ly0)
        lsize = max(lside / cls.LOOKUP_CELLS, rmax / 8.0, 1e-9 * max(lside, 1.0))
        lnx = int(np.ceil((grown[:, 2].max() - lx0) / lsize)) + 1
        lny = int(np.ceil((grown[:, 3].max() - ly0) / lsize)) + 1
        # half the cell diagonal, with a margin for the rounding of coordinates into cells
        scale = float(np.max(np.abs(grown)))
        half_diagonal = lsize * np.sqrt(0.5) * (1 + 1e-9) + 1e-12 * scale
        start, contours, centre_x, centre_y, centre_d_sq, run_start, run_lo, run_hi = _kernels.build_lookup(
            grown, lx0, ly0, lsize, lnx, lny, half_diagonal, float(rmax), ax, ay, bx, by, seg_start, n_leaves,
            node_offset, boxes,
        )  # fmt: skip
        # the side of every cell centre, from GEOS (exact); -1 for a centre on the boundary (no side to start from)
        centre_inside = np.full(len(contours), -1, dtype=np.int8)
        by_contour = np.argsort(contours, kind="stable")
        bounds_k = np.searchsorted(contours[by_contour], np.arange(n + 1))
        for k, polygon in enumerate(polygons):
            sel = by_contour[bounds_k[k] : bounds_k[k + 1]]
            inside = shapely.contains_xy(polygon, centre_x[sel], centre_y[sel])
            on_boundary = shapely.intersects_xy(polygon, centre_x[sel], centre_y[sel]) & ~inside
            centre_inside[sel] = np.where(on_boundary, -1, inside.astype(np.int8))
        # cells whose points can be on either side: the boundary comes within half a diagonal of the centre
        straddles = centre_d_sq <= half_diagonal * half_diagonal * (1 + 1e-9)
        arrays = {
            "lx0": float(lx0),
            "ly0": float(ly0),
            "lsize": float(lsize),
            "lnx": lnx,
            "lny": lny,
            "lookup_start": start,
            "lookup_contours": contours,
            "centre_x": centre_x,
            "centre_y": centre_y,
            "centre_inside": centre_inside,
            "straddles": straddles,
            "run_start": run_start,
            "run_lo": run_lo,
            "run_hi": run_hi,
            "ax": ax,
            "ay": ay,
            "bx": bx,
            "by": by,
            "dx": bx - ax,
            "dy": by - ay,
            "inv_length_sq": 1.0 / ((bx - ax) ** 2 + (by - ay) ** 2),  # no zero-length segments are kept
        }
        return cls(rmax=float(rmax), arrays=arrays, polygons=polygons)

    def pairs(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distance and side of every point for every contour whose boundary is within ``rmax`` of it.

        Parameters
        ----------
        x, y
            Point coordinates.

        Returns
        -------
        tuple of arrays
            ``(point_index, contour_index, distance, inside, contour_start)``, one entry per (point, contour) pair
            within ``rmax``, ordered by contour: the pairs of contour ``k`` are
            ``contour_start[k]:contour_start[k + 1]``. ``inside`` is ``shapely.contains_xy`` of the point (a point
            on the boundary is not inside); the kernel decides it where rounding cannot matter and GEOS decides the
            rest.
        """
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        point, contour, distance, side, contour_start = self.kernel_pairs(x, y)
        undecided = np.flatnonzero(side < 0)
        if len(undecided):
            owner = contour[undecided]
            for k in np.unique(owner):
                sel = undecided[owner == k]
                side[sel] = shapely.contains_xy(ready(self.polygons[k]), x[point[sel]], y[point[sel]])
        return point, contour, distance, side.view(bool), contour_start

    def kernel_pairs(
        self, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kernel's answer for :meth:`pairs`: ``inside`` is 1, 0, or -1 where rounding could decide the side.

        Parameters
        ----------
        x, y
            Point coordinates (contiguous float64).

        Returns
        -------
        tuple of arrays
            ``(point_index, contour_index, distance, inside, contour_start)``.
        """
        a = self.arrays
        return _kernels.point_contour_distances(
            x, y, self.rmax, a["lx0"], a["ly0"], a["lsize"], a["lnx"], a["lny"], a["lookup_start"],
            a["lookup_contours"], a["centre_x"], a["centre_y"], a["centre_inside"], a["straddles"], a["run_start"],
            a["run_lo"], a["run_hi"], a["ax"], a["ay"], a["bx"], a["by"], a["dx"], a["dy"], a["inv_length_sq"],
            len(self.polygons),
        )  # fmt: skip

    def signed_distances(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Signed distance (negative inside) of every point to every contour whose boundary is within ``rmax``.

        Parameters
        ----------
        x, y
            Point coordinates.

        Returns
        -------
        tuple of arrays
            ``(point_index, contour_index, signed_distance)``, one entry per (point, contour) pair within ``rmax``,
            ordered by contour.
        """
        point, contour, distance, inside, _ = self.pairs(x, y)
        return point, contour, np.where(inside, -distance, distance)


def region_areas(
    polygons: Sequence[BaseGeometry],
    levels: np.ndarray,
    domain: BaseGeometry | None = None,
    *,
    quad_segs: int = DEFAULT_QUAD_SEGS,
    threads: int = 2,
) -> np.ndarray:
    """Area of ``{p : signed_distance(p) < level}`` (clipped to the domain) for every contour and level.

    That region is ``buffer(contour, level)``: a dilation for positive levels, an erosion for negative ones.

    Parameters
    ----------
    polygons
        The contours.
    levels
        Increasing signed distances.
    domain
        Optional tissue polygon the regions are clipped to.
    quad_segs
        Segments per quarter circle for the buffers' arcs.
    threads
        Contours are buffered in parallel threads (shapely releases the GIL).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(polygons), len(levels))``.
    """
    levels = np.asarray(levels, dtype=np.float64)

    def one(polygon: BaseGeometry) -> np.ndarray:
        buffers = shapely.buffer(polygon, levels, quad_segs=quad_segs)
        if domain is None:
            return shapely.area(buffers)
        clip = shapely.intersection(domain, shapely.buffer(polygon, max(levels.max(), 0.0), quad_segs=quad_segs))
        if clip.is_empty:
            return np.zeros(len(levels))
        shapely.prepare(clip)
        return shapely.area(shapely.intersection(buffers, clip))

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return np.array(list(pool.map(one, polygons))).reshape(len(polygons), len(levels))


def mask_to_polygon(mask: np.ndarray) -> BaseGeometry:
    """Exact polygon of the non-zero pixels of a 2D mask; pixel ``(i, j)`` is ``[j, j+1] x [i, i+1]``.

    Runs of foreground pixels in each row become rectangles, merged with :func:`shapely.union_all`;
    holes stay holes.

    Parameters
    ----------
    mask
        2D array; non-zero is foreground.

    Returns
    -------
    shapely geometry
        A polygon or multipolygon (empty if the mask is empty).
    """
    m = np.asarray(mask) != 0
    if m.ndim != 2:
        raise DomainError(f"a domain mask must be 2D, got shape {m.shape}")
    padded = np.zeros((m.shape[0], m.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = m
    step = np.diff(padded, axis=1)
    rows_s, cols_s = np.nonzero(step == 1)
    _, cols_e = np.nonzero(step == -1)
    if len(rows_s) == 0:
        return shapely.Polygon()
    boxes = shapely.box(cols_s, rows_s, cols_e, rows_s + 1)
    return shapely.union_all(boxes)
