"""Public names of ``spatialdata_plugins.lazy_containers`` (read by type checkers, and at run time by lazy_loader)."""

from ._base import (
    LazyContainer as LazyContainer,
)
from ._base import (
    get_default_on_change as get_default_on_change,
)
from ._base import (
    set_default_on_change as set_default_on_change,
)
from ._containers import (
    CSVPointsContainer as CSVPointsContainer,
)
from ._containers import (
    GeoJSONShapesContainer as GeoJSONShapesContainer,
)
from ._containers import (
    H5ADTableContainer as H5ADTableContainer,
)
from ._containers import (
    OMETiffImageContainer as OMETiffImageContainer,
)
from ._containers import (
    ParquetPointsContainer as ParquetPointsContainer,
)
from ._containers import (
    ParquetShapesContainer as ParquetShapesContainer,
)
from ._containers import (
    TiffImageContainer as TiffImageContainer,
)
from ._containers import (
    TiffLabelsContainer as TiffLabelsContainer,
)
from ._containers import (
    ZarrTableContainer as ZarrTableContainer,
)
from ._errors import (
    ColumnMappingError as ColumnMappingError,
)
from ._errors import (
    ContainerLoadError as ContainerLoadError,
)
from ._errors import (
    ContainerValidationError as ContainerValidationError,
)
from ._errors import (
    InvalidContainerError as InvalidContainerError,
)
from ._errors import (
    LazyContainerError as LazyContainerError,
)
from ._errors import (
    LinkChangedError as LinkChangedError,
)
from ._errors import (
    LinkChangedWarning as LinkChangedWarning,
)
from ._errors import (
    LinkTargetNotFoundError as LinkTargetNotFoundError,
)
from ._errors import (
    UnknownContainerTypeError as UnknownContainerTypeError,
)
from ._links import (
    LINKS_GROUP as LINKS_GROUP,
)
from ._links import (
    read_links as read_links,
)
from ._types import (
    ENTRY_POINT_GROUP as ENTRY_POINT_GROUP,
)
from ._types import (
    ContainerTypeInfo as ContainerTypeInfo,
)
from ._types import (
    UnresolvedContainer as UnresolvedContainer,
)
from ._types import (
    container_types as container_types,
)
from ._types import (
    get_container_type as get_container_type,
)
from ._types import (
    refresh_container_types as refresh_container_types,
)
from ._types import (
    register_container_type as register_container_type,
)
from ._types import (
    unregister_container_type as unregister_container_type,
)

__version__: str
