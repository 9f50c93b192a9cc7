"""Multiscale, chunked spatial index for SpatialData points: read only what a query needs.

The index follows neuroglancer's precomputed-annotation spatial index: levels from coarse to fine over a grid
that doubles per level, each level a seeded random subsample of the points that remain. It is stored beside the
points element (``points/<name>/points_index``) and queried by box, genes and resolution with byte-range reads.
"""

from typing import TYPE_CHECKING

from spatialdata_plugins.core import lazy_exports
from spatialdata_plugins.points_index._errors import (
    CorruptIndexError,
    IndexNotFoundError,
    PointsIndexError,
    StaleIndexError,
    UnknownGeneError,
)

# The build and query functions import dask.dataframe, pyarrow and zarr: they load on first use, so that loading the
# plugin's entry point (every ``spatialdata-plugins`` command does) stays cheap.
_LAZY = {
    "bounding_box_query": "_api",
    "build_points_index": "_api",
    "index_info": "_api",
    "open_points_index": "_api",
    "points_fingerprint": "_api",
    "query_points": "_api",
    "PointsIndex": "_reader",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


if TYPE_CHECKING:
    from spatialdata_plugins.points_index._api import (
        bounding_box_query,
        build_points_index,
        index_info,
        open_points_index,
        points_fingerprint,
        query_points,
    )
    from spatialdata_plugins.points_index._reader import PointsIndex

__version__ = "0.1.0"

__all__ = [
    "CorruptIndexError",
    "IndexNotFoundError",
    "PointsIndex",
    "PointsIndexError",
    "StaleIndexError",
    "UnknownGeneError",
    "__version__",
    "bounding_box_query",
    "build_points_index",
    "index_info",
    "open_points_index",
    "points_fingerprint",
    "query_points",
]
