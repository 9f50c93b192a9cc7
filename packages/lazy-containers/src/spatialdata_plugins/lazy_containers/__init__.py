"""Soft links to external files, loaded into SpatialData elements on first access.

Examples
--------
>>> from spatialdata_plugins.core import SpatialData
>>> from spatialdata_plugins.lazy_containers import ParquetShapesContainer
>>> sdata = SpatialData()
>>> sdata.attach(ParquetShapesContainer("/data/cells.parquet", key="cells"))
'cells'
>>> sdata.is_lazy("cells")
True
"""

from importlib.metadata import PackageNotFoundError, version

import lazy_loader

# heavy modules load on first use (every ``spatialdata-plugins`` command imports each plugin package): the public
# names are declared once, in ``__init__.pyi``, which type checkers read and lazy_loader turns into __getattr__
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]

try:
    __version__ = version("spatialdata-plugins-lazy-containers")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"
