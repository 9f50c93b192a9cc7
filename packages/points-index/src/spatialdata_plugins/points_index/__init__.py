"""Multiscale, chunked spatial index for SpatialData points: read only what a query needs.

The index follows neuroglancer's precomputed-annotation spatial index: levels from coarse to fine over a grid
that doubles per level, each level a seeded random subsample of the points that remain. It is stored beside the
points element (``points/<name>/points_index``) and queried by box, genes and resolution with byte-range reads.
"""

import lazy_loader

# heavy modules load on first use (every ``spatialdata-plugins`` command imports each plugin package): the public
# names are declared once, in ``__init__.pyi``, which type checkers read and lazy_loader turns into __getattr__
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]

__version__ = "0.1.0"
