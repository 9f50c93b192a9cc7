"""Register and fuse tiled SpatialData images with multiview-stitcher."""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from spatialdata_plugins.stitch._errors import (
    NoOverlapError,
    NoTilesMatchedError,
    RegistrationError,
    StitchError,
    TileMismatchError,
)

try:
    __version__ = version("spatialdata-plugins-stitch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

from spatialdata_plugins.core import lazy_exports

# The stitching functions import xarray, dask and spatialdata: they load on first use, so that loading the plugin's
# entry point (every ``spatialdata-plugins`` command does) stays cheap.
_LAZY = {
    "fuse_sdata_images": "_stitch",
    "label_fusion": "_stitch",
    "register_sdata_images": "_stitch",
    "TileTruth": "_synthetic",
    "synthetic_tiles": "_synthetic",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


if TYPE_CHECKING:
    from spatialdata_plugins.stitch._stitch import fuse_sdata_images, label_fusion, register_sdata_images
    from spatialdata_plugins.stitch._synthetic import TileTruth, synthetic_tiles

__all__ = [
    "NoOverlapError",
    "NoTilesMatchedError",
    "RegistrationError",
    "StitchError",
    "TileMismatchError",
    "TileTruth",
    "__version__",
    "fuse_sdata_images",
    "label_fusion",
    "register_sdata_images",
    "synthetic_tiles",
]
