"""Shapes served as a precomputed annotation collection: circles as ellipsoids, polygons as outline segments."""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialdata_plugins.viewer._points import PLANE_Z
from spatialdata_plugins.viewer._precomputed import annotation_info, encode_annotation, encode_annotations, record_dtype


def _outline_segments(geometry: Any) -> np.ndarray:
    """Every edge of the rings of a (multi)polygon or the segments of a (multi)line: an ``(n, 4)`` array."""
    import shapely

    parts: list[np.ndarray] = []
    for ring in shapely.get_parts(shapely.boundary(geometry) if geometry.geom_type.endswith("Polygon") else geometry):
        for line in shapely.get_parts(ring):
            xy = np.asarray(line.coords)[:, :2]
            if len(xy) >= 2:
                parts.append(np.hstack([xy[:-1], xy[1:]]))
    return np.vstack(parts) if parts else np.zeros((0, 4))


class ShapesSource:
    """A shapes element served as one annotation collection (one spatial level holding every annotation).

    Circles (points with a ``radius`` column) become ellipsoids, other points points, and polygons and lines the
    segments of their outlines (neuroglancer's annotation types have no polygon); every annotation has a ``shape``
    property, the row number of its geometry.

    Parameters
    ----------
    element
        A GeoDataFrame validated by ``spatialdata.models.ShapesModel``.
    name
        The element's name.
    """

    def __init__(self, element: Any, name: str) -> None:
        import shapely

        self.name = name
        geoms = np.asarray(element.geometry.values)
        kinds = shapely.get_type_id(geoms)
        self.properties = [{"id": "shape", "type": "uint32", "description": f"row of {name!r}"}]
        if len(geoms) and np.all(kinds == 0):  # points
            xy = np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)])
            if "radius" in element.columns:
                self.annotation_type = "ELLIPSOID"
                r = np.asarray(element["radius"], dtype=np.float64)
                geometry = np.column_stack([xy, np.full(len(xy), PLANE_Z), r, r, np.full(len(xy), 0.5)])
                lo, hi = (xy - r[:, None]).min(axis=0), (xy + r[:, None]).max(axis=0)
            else:
                self.annotation_type = "POINT"
                geometry = np.column_stack([xy, np.full(len(xy), PLANE_Z)])
                lo, hi = xy.min(axis=0), xy.max(axis=0)
            rows = np.arange(len(xy))
        else:
            self.annotation_type = "LINE"
            segs, rows_l = [], []
            for row, geom in enumerate(geoms):
                if geom is None or geom.is_empty or geom.geom_type == "Point":
                    continue
                s = _outline_segments(geom)
                segs.append(s)
                rows_l.append(np.full(len(s), row))
            seg = np.vstack(segs) if segs else np.zeros((0, 4))
            rows = np.concatenate(rows_l) if rows_l else np.zeros(0, np.int64)
            z = np.full(len(seg), PLANE_Z)
            geometry = np.column_stack([seg[:, 0], seg[:, 1], z, seg[:, 2], seg[:, 3], z])
            pts = np.vstack([seg[:, :2], seg[:, 2:]]) if len(seg) else np.zeros((1, 2))
            lo, hi = pts.min(axis=0), pts.max(axis=0)
        self.dtype = record_dtype(self.annotation_type, 3, self.properties)
        self.records = np.zeros(len(geometry), dtype=self.dtype)
        self.records["geometry"] = geometry
        self.records["shape"] = rows
        self.lower = [float(lo[0]), float(lo[1]), 0.0]
        self.upper = [float(max(hi[0], lo[0] + 1e-6)) + 1e-6, float(max(hi[1], lo[1] + 1e-6)) + 1e-6, 1.0]

    def info(self) -> dict[str, Any]:
        """The collection's ``info``: one spatial level of one cell."""
        size = [u - lo for u, lo in zip(self.upper, self.lower, strict=True)]
        level = {"key": "spatial0", "grid_shape": [1, 1, 1], "chunk_size": size, "limit": max(len(self.records), 1)}
        return annotation_info(self.annotation_type, self.lower, self.upper, [level], self.properties)

    def chunk(self, level: int, i: int, j: int) -> bytes:
        """The only spatial chunk, ``0_0_0`` of level 0 (every annotation, in a seeded random order)."""
        if (level, i, j) != (0, 0, 0):
            return encode_annotations(np.zeros(0, self.dtype), np.zeros(0, np.uint64))
        order = np.random.default_rng(0).permutation(len(self.records))
        return encode_annotations(self.records[order], order.astype(np.uint64))

    def by_id(self, annotation_id: int) -> bytes | None:
        """The single-annotation encoding of annotation ``annotation_id``."""
        if not 0 <= annotation_id < len(self.records):
            return None
        return encode_annotation(self.records[annotation_id])
