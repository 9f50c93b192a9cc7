"""Points served as a neuroglancer precomputed annotation collection, straight from the points index.

The index's levels are neuroglancer's spatial-index levels (level ``l``: a ``2**l`` grid per axis over the index's
bounding cube), so a spatial chunk ``i_j_0`` of level ``l`` is one cell of the index: one row range. Everything is
read through the index's public grid API (:meth:`~spatialdata_plugins.points_index.PointsIndex.cell_rows`,
:meth:`~spatialdata_plugins.points_index.PointsIndex.read_rows`): a chunk request reads the directory block holding
the cell (cached by the index), then that row range of the coordinate and gene columns, and nothing else; the viewer
does not know the index's on-disk format. Annotation ids are the rows' positions in the index's storage order, so
``by_id/<id>`` reads one row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialdata_plugins.viewer._precomputed import annotation_info, encode_annotation, encode_annotations, record_dtype

#: the z coordinate given to 2D points: the middle of the one-voxel-thick slab the 2D images occupy
PLANE_Z = 0.5


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
        self._xy = list(index.axes)
        self._gene = index.feature_key
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
        lo, hi = index.bounds
        self.extent = hi[0] - lo[0]

    # ------------------------------------------------------------------ info

    def info(self) -> dict[str, Any]:
        """The collection's ``info``: one spatial level per index level, a ``gene`` enum property."""
        levels = []
        for row in self.index.level_summary().itertuples():
            n = self.index.grid_shape(row.level)[0]
            size = self.index.cell_size(row.level)
            levels.append(
                {
                    "key": f"spatial{row.level}",
                    "grid_shape": [n, n, 1],
                    "chunk_size": [size, size, 1.0],
                    "limit": max(min(int(row.max_count), self.index.points_per_chunk), 1),
                }
            )
        lo, hi = self.index.bounds
        return annotation_info("POINT", [lo[0], lo[1], 0.0], [hi[0], hi[1], 1.0], levels, self.properties)

    # ------------------------------------------------------------------ cells

    def cell_rows(self, level: int, i: int, j: int) -> tuple[int, int]:
        """Row range ``[start, stop)`` of cell ``(i, j)`` of ``level`` (empty when the cell holds no point)."""
        if not 0 <= level < self.index.n_levels:
            return 0, 0
        starts, stops = self.index.cell_rows(level, [i, j])
        return int(starts[0]), int(stops[0])

    # ------------------------------------------------------------------ encodings

    def _records_of(self, start: int, stop: int) -> np.ndarray:
        columns = [*self._xy, *([self._gene] if self._gene is not None else [])]
        frame = self.index.read_rows([start], [stop], columns, codes=True)
        out = np.zeros(stop - start, dtype=self.dtype)
        out["geometry"][:, 0] = frame[self._xy[0]].to_numpy()
        out["geometry"][:, 1] = frame[self._xy[1]].to_numpy()
        out["geometry"][:, 2] = PLANE_Z
        if self._gene is not None:
            out["gene"] = frame[self._gene].to_numpy()
        return out

    def chunk(self, level: int, i: int, j: int) -> bytes:
        """The encoded spatial chunk ``i_j_0`` of ``level``, its points in a seeded random order."""
        start, stop = self.cell_rows(level, i, j)
        if stop <= start:
            return encode_annotations(np.zeros(0, self.dtype), np.zeros(0, np.uint64))
        records = self._records_of(start, stop)
        ids = np.arange(start, stop, dtype=np.uint64)
        # rows of a cell are stored by gene; neuroglancer draws a prefix of a chunk, so the order must be random
        order = np.random.default_rng([self.index.seed, level, i, j]).permutation(stop - start)
        return encode_annotations(records[order], ids[order])

    def by_id(self, annotation_id: int) -> bytes | None:
        """The single-annotation encoding of row ``annotation_id``, or ``None`` if there is no such row."""
        if not 0 <= annotation_id < self.index.n_rows:
            return None
        return encode_annotation(self._records_of(annotation_id, annotation_id + 1)[0])
