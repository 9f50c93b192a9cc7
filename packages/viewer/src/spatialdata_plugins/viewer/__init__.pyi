"""Public names of ``spatialdata_plugins.viewer`` (read by type checkers, and at run time by lazy_loader)."""

from ._points import PointsSource as PointsSource
from ._precomputed import annotation_chunk_bounds as annotation_chunk_bounds
from ._raster import RasterSource as RasterSource
from ._server import (
    DataServer as DataServer,
)
from ._server import (
    ServedRequest as ServedRequest,
)
from ._server import (
    ServeLog as ServeLog,
)
from ._shapes import ShapesSource as ShapesSource
from ._view import (
    CHROMIUM_FLAGS as CHROMIUM_FLAGS,
)
from ._view import (
    ViewerSession as ViewerSession,
)
from ._view import (
    ViewerWarning as ViewerWarning,
)
from ._view import (
    gene_shader as gene_shader,
)
from ._view import (
    view as view,
)

__version__: str
