"""Contour-aware density profiles (rings and kernel-smoothed signed distance) for SpatialData."""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from spatialdata_plugins.core import lazy_exports

# numba, shapely and dask take seconds to import: the public names load on first use, so that the plugin module
# (imported by every ``spatialdata-plugins`` command) stays cheap.
_LAZY = {
    "ring_density": "_density",
    "smooth_density_by_distance": "_density",
    "density_table": "_table",
    "plot_density_profile": "_plot",
    "CoordinateSystemError": "_errors",
    "DensityArgumentError": "_errors",
    "DensityError": "_errors",
    "DomainError": "_errors",
    "InvalidContourError": "_errors",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


if TYPE_CHECKING:
    from spatialdata_plugins.density._density import ring_density, smooth_density_by_distance
    from spatialdata_plugins.density._errors import (
        CoordinateSystemError,
        DensityArgumentError,
        DensityError,
        DomainError,
        InvalidContourError,
    )
    from spatialdata_plugins.density._plot import plot_density_profile
    from spatialdata_plugins.density._table import density_table

try:
    __version__ = version("spatialdata-plugins-density")
except PackageNotFoundError:  # pragma: no cover - source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "CoordinateSystemError",
    "DensityArgumentError",
    "DensityError",
    "DomainError",
    "InvalidContourError",
    "__version__",
    "density_table",
    "plot_density_profile",
    "ring_density",
    "smooth_density_by_distance",
]
