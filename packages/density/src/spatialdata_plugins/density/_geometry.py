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
from scipy import ndimage
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
    """Everything the distance kernel needs: segments of all contours, per-contour grids, a contour lookup grid."""

    rmax: float
    arrays: dict[str, Any]
    polygons: list[BaseGeometry]

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
        parts, part_owner = shapely.get_parts(np.asarray(polygons, dtype=object), return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        ring_owner = part_owner[ring_part]
        coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
        same_ring = coord_ring[1:] == coord_ring[:-1]
        seg_a = coords[:-1][same_ring]
        seg_b = coords[1:][same_ring]
        seg_owner = ring_owner[coord_ring[:-1][same_ring]]
        order = np.argsort(seg_owner, kind="stable")
        seg_a, seg_b, seg_owner = seg_a[order], seg_b[order], seg_owner[order]
        n = len(polygons)
        seg_start = np.searchsorted(seg_owner, np.arange(n + 1)).astype(np.int64)

        bounds = shapely.bounds(np.asarray(polygons, dtype=object))
        grown = bounds + np.array([-rmax, -rmax, rmax, rmax])
        side = np.maximum(grown[:, 2] - grown[:, 0], grown[:, 3] - grown[:, 1])
        # Cells of about a quarter of the search radius keep the ring search short; at most ~512 cells a side.
        gsize = np.maximum(np.maximum(rmax / 4.0, side / 512.0), 1e-9 * np.maximum(side, 1.0))
        gx0 = grown[:, 0] - gsize
        gy0 = grown[:, 1] - gsize
        gnx = (np.ceil((grown[:, 2] - gx0) / gsize) + 2).astype(np.int64)
        gny = (np.ceil((grown[:, 3] - gy0) / gsize) + 2).astype(np.int64)
        cell_offset = np.concatenate([[0], np.cumsum(gnx * gny)]).astype(np.int64)
        ax, ay = np.ascontiguousarray(seg_a[:, 0]), np.ascontiguousarray(seg_a[:, 1])
        bx, by = np.ascontiguousarray(seg_b[:, 0]), np.ascontiguousarray(seg_b[:, 1])
        cell_start, cell_segs = _kernels.build_segment_grids(
            ax, ay, bx, by, seg_start, gx0, gy0, gsize, gnx, gny, cell_offset
        )

        # chessboard distance (in cells) from every cell to the nearest cell holding a segment of the same contour
        cell_ring = np.empty(cell_offset[-1], dtype=np.int64)
        occupied = np.diff(cell_start) > 0
        for k in range(n):
            sl = slice(cell_offset[k], cell_offset[k + 1])
            occ = occupied[sl].reshape(gny[k], gnx[k])
            cell_ring[sl] = ndimage.distance_transform_cdt(~occ, metric="chessboard").ravel() if occ.any() else 1 << 40

        lx0, ly0 = grown[:, 0].min(), grown[:, 1].min()
        lside = max(grown[:, 2].max() - lx0, grown[:, 3].max() - ly0)
        lsize = max(lside / 256.0, 1e-9 * max(lside, 1.0))
        lnx = int(np.ceil((grown[:, 2].max() - lx0) / lsize)) + 1
        lny = int(np.ceil((grown[:, 3].max() - ly0) / lsize)) + 1
        lookup_start, lookup_contours = _kernels.build_lookup(grown, lx0, ly0, lsize, lnx, lny)
        arrays = {
            "bbox": np.ascontiguousarray(grown),
            "lx0": float(lx0),
            "ly0": float(ly0),
            "lsize": float(lsize),
            "lnx": lnx,
            "lny": lny,
            "lookup_start": lookup_start,
            "lookup_contours": lookup_contours,
            "ax": ax,
            "ay": ay,
            "bx": bx,
            "by": by,
            "gx0": gx0,
            "gy0": gy0,
            "gsize": gsize,
            "gnx": gnx,
            "gny": gny,
            "cell_offset": cell_offset,
            "cell_start": cell_start,
            "cell_segs": cell_segs,
            "cell_ring": cell_ring,
        }
        return cls(rmax=float(rmax), arrays=arrays, polygons=[ready(p) for p in polygons])

    def signed_distances(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Signed distance (negative inside) of every point to every contour whose boundary is within ``rmax``.

        Parameters
        ----------
        x, y
            Point coordinates (float64).

        Returns
        -------
        tuple of arrays
            ``(point_index, contour_index, signed_distance)``, one entry per (point, contour) pair within ``rmax``.
        """
        a = self.arrays
        point, contour, dist = _kernels.point_contour_distances(
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            self.rmax,
            a["bbox"],
            a["lx0"],
            a["ly0"],
            a["lsize"],
            a["lnx"],
            a["lny"],
            a["lookup_start"],
            a["lookup_contours"],
            a["ax"],
            a["ay"],
            a["bx"],
            a["by"],
            a["gx0"],
            a["gy0"],
            a["gsize"],
            a["gnx"],
            a["gny"],
            a["cell_offset"],
            a["cell_start"],
            a["cell_segs"],
            a["cell_ring"],
        )
        order = np.argsort(contour, kind="stable")
        point, contour, dist = point[order], contour[order], dist[order]
        bounds = np.searchsorted(contour, np.arange(len(self.polygons) + 1))
        inside = np.zeros(len(point), dtype=bool)
        for k, polygon in enumerate(self.polygons):
            lo, hi = bounds[k], bounds[k + 1]
            if hi > lo:
                inside[lo:hi] = shapely.contains_xy(ready(polygon), x[point[lo:hi]], y[point[lo:hi]])
        return point, contour, np.where(inside, -dist, dist)


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
