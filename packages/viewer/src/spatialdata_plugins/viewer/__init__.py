"""View a SpatialData store in Neuroglancer, points streamed from the points index as the user zooms.

``view(sdata_or_path, ...)`` (and ``spatialdata-plugins view PATH``) serves the store's images, labels, shapes and
indexed points in neuroglancer's precomputed formats from a local server and opens neuroglancer (bundled with its
PyPI package) on them.
"""

from importlib.metadata import PackageNotFoundError, version

import lazy_loader

# heavy modules load on first use (every ``spatialdata-plugins`` command imports each plugin package): the public
# names are declared once, in ``__init__.pyi``, which type checkers read and lazy_loader turns into __getattr__
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]

try:
    __version__ = version("spatialdata-plugins-viewer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"
