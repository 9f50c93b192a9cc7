"""Public names of ``spatialdata_plugins.core`` (read by type checkers, and at run time by lazy_loader)."""

from ._add import add_element as add_element
from ._blob import (
    BLOB_ARRAY as BLOB_ARRAY,
)
from ._blob import (
    blob_parts as blob_parts,
)
from ._blob import (
    is_blob_encoded as is_blob_encoded,
)
from ._blob import (
    open_blob as open_blob,
)
from ._cli import (
    build_cli as build_cli,
)
from ._cli import (
    cli_main as cli_main,
)
from ._cli import (
    parse_storage_options as parse_storage_options,
)
from ._cli import (
    storage_option as storage_option,
)
from ._defaults import element_type_of as element_type_of
from ._elements import (
    default_read_element as default_read_element,
)
from ._elements import (
    default_write_element as default_write_element,
)
from ._elements import (
    points_blob_schema as points_blob_schema,
)
from ._elements import (
    raster_multiscales as raster_multiscales,
)
from ._elements import (
    write_points_part as write_points_part,
)
from ._errors import (
    ElementExistsError as ElementExistsError,
)
from ._errors import (
    ElementNotFoundError as ElementNotFoundError,
)
from ._errors import (
    ElementReadError as ElementReadError,
)
from ._errors import (
    ElementWriteError as ElementWriteError,
)
from ._errors import (
    InvalidArgumentError as InvalidArgumentError,
)
from ._errors import (
    InvalidArgumentTypeError as InvalidArgumentTypeError,
)
from ._errors import (
    NotAStoreError as NotAStoreError,
)
from ._errors import (
    NotSpatialDataError as NotSpatialDataError,
)
from ._errors import (
    PluginLoadWarning as PluginLoadWarning,
)
from ._errors import (
    PublishError as PublishError,
)
from ._errors import (
    ReadOnlyLocationError as ReadOnlyLocationError,
)
from ._errors import (
    SpatialDataPluginError as SpatialDataPluginError,
)
from ._errors import (
    StaleMetadataError as StaleMetadataError,
)
from ._errors import (
    StoreExistsError as StoreExistsError,
)
from ._errors import (
    StoreNotFoundError as StoreNotFoundError,
)
from ._errors import (
    UnsafeOverwriteError as UnsafeOverwriteError,
)
from ._errors import (
    UnsupportedElementError as UnsupportedElementError,
)
from ._errors import (
    UnsupportedTargetError as UnsupportedTargetError,
)
from ._info import info as info
from ._io import (
    open_location as open_location,
)
from ._io import (
    read as read,
)
from ._io import (
    read_element as read_element,
)
from ._io import (
    write as write,
)
from ._lazy import lazy_exports as lazy_exports
from ._location import (
    ELEMENT_TYPES as ELEMENT_TYPES,
)
from ._location import (
    FsspecLocation as FsspecLocation,
)
from ._location import (
    LocalLocation as LocalLocation,
)
from ._location import (
    Location as Location,
)
from ._location import (
    TemporaryLocation as TemporaryLocation,
)
from ._parallel import (
    DaskComputeBackend as DaskComputeBackend,
)
from ._parallel import (
    ParallelWriteBackend as ParallelWriteBackend,
)
from ._pipeline import (
    Update as Update,
)
from ._pipeline import (
    apply_update as apply_update,
)
from ._pipeline import (
    elements_and_attached as elements_and_attached,
)
from ._pipeline import (
    stored_elements as stored_elements,
)
from ._pipeline import (
    sync_labels_list as sync_labels_list,
)
from ._pipeline import (
    update_of as update_of,
)
from ._pipeline import (
    validate_elements as validate_elements,
)
from ._pipeline import (
    write_element_through_hook as write_element_through_hook,
)
from ._pipeline import (
    write_root_attrs as write_root_attrs,
)
from ._registry import (
    PluginInfo as PluginInfo,
)
from ._registry import (
    Registry as Registry,
)
from ._registry import (
    get_plugin_manager as get_plugin_manager,
)
from ._registry import (
    get_registry as get_registry,
)
from ._registry import (
    list_plugins as list_plugins,
)
from ._spatialdata import SpatialData as SpatialData
from ._state import plugin_state as plugin_state
from ._synthetic import synthetic_sdata as synthetic_sdata
from .hookspecs import hookimpl as hookimpl

__version__: str
