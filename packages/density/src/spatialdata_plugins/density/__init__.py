"""Contour-aware density profiles (rings and kernel-smoothed signed distance) for SpatialData."""

from importlib.metadata import PackageNotFoundError, version

import lazy_loader

# heavy modules load on first use (every ``spatialdata-plugins`` command imports each plugin package): the public
# names are declared once, in ``__init__.pyi``, which type checkers read and lazy_loader turns into __getattr__
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]

try:
    __version__ = version("spatialdata-plugins-density")
except PackageNotFoundError:  # pragma: no cover - source tree without metadata
    __version__ = "0+unknown"
