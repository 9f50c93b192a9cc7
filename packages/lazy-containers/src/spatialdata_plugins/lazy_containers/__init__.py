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
from typing import TYPE_CHECKING

from spatialdata_plugins.core import lazy_exports
from spatialdata_plugins.lazy_containers._base import (
    LazyContainer,
    get_default_on_change,
    set_default_on_change,
)
from spatialdata_plugins.lazy_containers._containers import (
    CSVPointsContainer,
    GeoJSONShapesContainer,
    H5ADTableContainer,
    OMETiffImageContainer,
    ParquetPointsContainer,
    ParquetShapesContainer,
    TiffImageContainer,
    TiffLabelsContainer,
    ZarrTableContainer,
)
from spatialdata_plugins.lazy_containers._errors import (
    ColumnMappingError,
    ContainerLoadError,
    ContainerValidationError,
    InvalidContainerError,
    LazyContainerError,
    LinkChangedError,
    LinkChangedWarning,
    LinkTargetNotFoundError,
    UnknownContainerTypeError,
)
from spatialdata_plugins.lazy_containers._types import (
    ENTRY_POINT_GROUP,
    ContainerTypeInfo,
    UnresolvedContainer,
    container_types,
    get_container_type,
    refresh_container_types,
    register_container_type,
    unregister_container_type,
)

# the link store reads and writes zarr, whose import takes about half a second: it loads on first use, so that
# loading the plugin (every ``spatialdata-plugins`` command) stays cheap
__getattr__, __dir__ = lazy_exports(__name__, {"LINKS_GROUP": "_links", "read_links": "_links"}, globals())

if TYPE_CHECKING:
    from spatialdata_plugins.lazy_containers._links import LINKS_GROUP, read_links

try:
    __version__ = version("spatialdata-plugins-lazy-containers")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "ENTRY_POINT_GROUP",
    "LINKS_GROUP",
    "CSVPointsContainer",
    "ColumnMappingError",
    "ContainerLoadError",
    "ContainerTypeInfo",
    "ContainerValidationError",
    "GeoJSONShapesContainer",
    "H5ADTableContainer",
    "InvalidContainerError",
    "LazyContainer",
    "LazyContainerError",
    "LinkChangedError",
    "LinkChangedWarning",
    "LinkTargetNotFoundError",
    "OMETiffImageContainer",
    "ParquetPointsContainer",
    "ParquetShapesContainer",
    "TiffImageContainer",
    "TiffLabelsContainer",
    "UnknownContainerTypeError",
    "UnresolvedContainer",
    "ZarrTableContainer",
    "__version__",
    "container_types",
    "get_container_type",
    "get_default_on_change",
    "read_links",
    "refresh_container_types",
    "register_container_type",
    "set_default_on_change",
    "unregister_container_type",
]
