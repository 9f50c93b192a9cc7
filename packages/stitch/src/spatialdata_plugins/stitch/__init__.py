"""Register and fuse tiled SpatialData images with multiview-stitcher."""

from importlib.metadata import PackageNotFoundError, version

from spatialdata_plugins.stitch._errors import (
    NoOverlapError,
    NoTilesMatchedError,
    RegistrationError,
    StitchError,
    TileMismatchError,
)
from spatialdata_plugins.stitch._stitch import fuse_sdata_images, label_fusion, register_sdata_images
from spatialdata_plugins.stitch._synthetic import TileTruth, synthetic_tiles

try:
    __version__ = version("spatialdata-plugins-stitch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

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
