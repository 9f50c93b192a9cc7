"""Every OME-NGFF RFC-5 coordinate transformation for SpatialData, with a conformance command.

Parse and write the twelve transformation types of OME-Zarr 0.6rc0 (and the RFC-5 draft forms), apply them to
numpy and dask coordinates, invert them, collapse linear chains into one matrix, build the transformation graph of
a scene, and convert to and from ``spatialdata.transformations``.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from spatialdata_plugins.core import lazy_exports
from spatialdata_plugins.transforms._errors import (
    CoordinateSystemNotFoundError,
    NotInvertibleError,
    NoTransformationPathError,
    ParameterArrayError,
    RotationPrecisionWarning,
    TransformationError,
    UnknownTransformationTypeError,
    UnsupportedConversionError,
)
from spatialdata_plugins.transforms._model import (
    INTERPOLATION_ORDER,
    ROTATION_ATOL,
    ROTATION_WARN_ATOL,
    Affine,
    Axis,
    Bijection,
    ByDimension,
    ByDimensionItem,
    Coordinates,
    CoordinateSystem,
    CoordinateSystemRef,
    Displacements,
    Identity,
    MapAxis,
    ProjectAxis,
    Rotation,
    Scale,
    Sequence,
    Transformation,
    Translation,
    VectorField,
    compose,
    parse_transformation,
    rotation_deviation,
    simplify,
)

# the scene graph, the OME-Zarr IO and the spatialdata bridge import zarr and spatialdata, which takes about half a
# second: they load on first use, so that loading the plugin (every ``spatialdata-plugins`` command) stays cheap
_LAZY = {
    "OME_VERSION": "_graph",
    "OME_VERSIONS": "_graph",
    "NodeKey": "_graph",
    "TransformGraph": "_graph",
    "read_scene": "_io",
    "write_rfc5_image": "_io",
    "write_scene": "_io",
    "write_spatialdata_scene": "_io",
    "element_to_multiscales": "_spatialdata",
    "from_spatialdata": "_spatialdata",
    "read_rfc5_raster": "_spatialdata",
    "read_scene_images": "_spatialdata",
    "to_spatialdata": "_spatialdata",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

if TYPE_CHECKING:
    from spatialdata_plugins.transforms._graph import OME_VERSION, OME_VERSIONS, NodeKey, TransformGraph
    from spatialdata_plugins.transforms._io import read_scene, write_rfc5_image, write_scene, write_spatialdata_scene
    from spatialdata_plugins.transforms._spatialdata import (
        element_to_multiscales,
        from_spatialdata,
        read_rfc5_raster,
        read_scene_images,
        to_spatialdata,
    )

try:
    __version__ = version("spatialdata-plugins-transforms")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "INTERPOLATION_ORDER",
    "OME_VERSION",
    "OME_VERSIONS",
    "ROTATION_ATOL",
    "ROTATION_WARN_ATOL",
    "Affine",
    "Axis",
    "Bijection",
    "ByDimension",
    "ByDimensionItem",
    "CoordinateSystem",
    "CoordinateSystemNotFoundError",
    "CoordinateSystemRef",
    "Coordinates",
    "Displacements",
    "Identity",
    "MapAxis",
    "NoTransformationPathError",
    "NodeKey",
    "NotInvertibleError",
    "ParameterArrayError",
    "ProjectAxis",
    "Rotation",
    "RotationPrecisionWarning",
    "Scale",
    "Sequence",
    "TransformGraph",
    "Transformation",
    "TransformationError",
    "Translation",
    "UnknownTransformationTypeError",
    "UnsupportedConversionError",
    "VectorField",
    "__version__",
    "compose",
    "element_to_multiscales",
    "from_spatialdata",
    "parse_transformation",
    "read_rfc5_raster",
    "read_scene",
    "read_scene_images",
    "rotation_deviation",
    "simplify",
    "to_spatialdata",
    "write_rfc5_image",
    "write_scene",
    "write_spatialdata_scene",
]
