"""View a SpatialData store in Neuroglancer, points streamed from the points index as the user zooms.

``view(sdata_or_path, ...)`` (and ``spatialdata-plugins view PATH``) serves the store's images, labels, shapes and
indexed points in neuroglancer's precomputed formats from a local server and opens neuroglancer (bundled with its
PyPI package) on them.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from spatialdata_plugins.core import lazy_exports

# the sources import numpy, zarr, spatialdata and neuroglancer: they load on first use, so that loading the plugin
# (every ``spatialdata-plugins`` command does) stays cheap
_LAZY = {
    "CHROMIUM_FLAGS": "_view",
    "ViewerSession": "_view",
    "ViewerWarning": "_view",
    "gene_shader": "_view",
    "view": "_view",
    "PointsSource": "_points",
    "RasterSource": "_raster",
    "ShapesSource": "_shapes",
    "DataServer": "_server",
    "ServeLog": "_server",
    "ServedRequest": "_server",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

if TYPE_CHECKING:
    from spatialdata_plugins.viewer._points import PointsSource
    from spatialdata_plugins.viewer._raster import RasterSource
    from spatialdata_plugins.viewer._server import DataServer, ServedRequest, ServeLog
    from spatialdata_plugins.viewer._shapes import ShapesSource
    from spatialdata_plugins.viewer._view import CHROMIUM_FLAGS, ViewerSession, ViewerWarning, gene_shader, view

try:
    __version__ = version("spatialdata-plugins-viewer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "CHROMIUM_FLAGS",
    "DataServer",
    "PointsSource",
    "RasterSource",
    "ServeLog",
    "ServedRequest",
    "ShapesSource",
    "ViewerSession",
    "ViewerWarning",
    "__version__",
    "gene_shader",
    "view",
]
