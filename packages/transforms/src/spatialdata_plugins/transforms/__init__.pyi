"""Public names of ``spatialdata_plugins.transforms`` (read by type checkers, and at run time by lazy_loader)."""

from ._errors import (
    CoordinateSystemNotFoundError as CoordinateSystemNotFoundError,
)
from ._errors import (
    NotInvertibleError as NotInvertibleError,
)
from ._errors import (
    NoTransformationPathError as NoTransformationPathError,
)
from ._errors import (
    ParameterArrayError as ParameterArrayError,
)
from ._errors import (
    RotationPrecisionWarning as RotationPrecisionWarning,
)
from ._errors import (
    TransformationError as TransformationError,
)
from ._errors import (
    UnknownTransformationTypeError as UnknownTransformationTypeError,
)
from ._errors import (
    UnsupportedConversionError as UnsupportedConversionError,
)
from ._graph import (
    OME_VERSION as OME_VERSION,
)
from ._graph import (
    OME_VERSIONS as OME_VERSIONS,
)
from ._graph import (
    NodeKey as NodeKey,
)
from ._graph import (
    TransformGraph as TransformGraph,
)
from ._io import (
    read_scene as read_scene,
)
from ._io import (
    write_rfc5_image as write_rfc5_image,
)
from ._io import (
    write_scene as write_scene,
)
from ._io import (
    write_spatialdata_scene as write_spatialdata_scene,
)
from ._model import (
    INTERPOLATION_ORDER as INTERPOLATION_ORDER,
)
from ._model import (
    ROTATION_ATOL as ROTATION_ATOL,
)
from ._model import (
    ROTATION_WARN_ATOL as ROTATION_WARN_ATOL,
)
from ._model import (
    Affine as Affine,
)
from ._model import (
    Axis as Axis,
)
from ._model import (
    Bijection as Bijection,
)
from ._model import (
    ByDimension as ByDimension,
)
from ._model import (
    ByDimensionItem as ByDimensionItem,
)
from ._model import (
    Coordinates as Coordinates,
)
from ._model import (
    CoordinateSystem as CoordinateSystem,
)
from ._model import (
    CoordinateSystemRef as CoordinateSystemRef,
)
from ._model import (
    Displacements as Displacements,
)
from ._model import (
    Identity as Identity,
)
from ._model import (
    MapAxis as MapAxis,
)
from ._model import (
    ProjectAxis as ProjectAxis,
)
from ._model import (
    Rotation as Rotation,
)
from ._model import (
    Scale as Scale,
)
from ._model import (
    Sequence as Sequence,
)
from ._model import (
    Transformation as Transformation,
)
from ._model import (
    Translation as Translation,
)
from ._model import (
    VectorField as VectorField,
)
from ._model import (
    compose as compose,
)
from ._model import (
    parse_transformation as parse_transformation,
)
from ._model import (
    rotation_deviation as rotation_deviation,
)
from ._model import (
    simplify as simplify,
)
from ._spatialdata import (
    element_to_multiscales as element_to_multiscales,
)
from ._spatialdata import (
    from_spatialdata as from_spatialdata,
)
from ._spatialdata import (
    read_rfc5_raster as read_rfc5_raster,
)
from ._spatialdata import (
    read_scene_images as read_scene_images,
)
from ._spatialdata import (
    to_spatialdata as to_spatialdata,
)

__version__: str
