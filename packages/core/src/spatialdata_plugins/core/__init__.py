"""spatialdata-plugins core: the plugin registry, IO over any zarr store, and the command line."""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from spatialdata_plugins.core._errors import (
    ElementExistsError,
    ElementNotFoundError,
    ElementReadError,
    ElementWriteError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotAStoreError,
    NotSpatialDataError,
    PluginLoadWarning,
    PublishError,
    ReadOnlyLocationError,
    SpatialDataPluginError,
    StoreExistsError,
    StoreNotFoundError,
    UnsafeOverwriteError,
    UnsupportedElementError,
    UnsupportedTargetError,
)
from spatialdata_plugins.core._lazy import lazy_exports
from spatialdata_plugins.core._registry import (
    PluginInfo,
    Registry,
    get_plugin_manager,
    get_registry,
    list_plugins,
)
from spatialdata_plugins.core.hookspecs import hookimpl

# IO and the SpatialData class import spatialdata, dask and geopandas, which takes seconds: they load on first use,
# so that ``spatialdata-plugins --help`` and ``plugins`` start fast and a plugin module can import the core cheaply.
_LAZY = {
    "add_element": "_add",
    "BLOB_ARRAY": "_blob",
    "blob_parts": "_blob",
    "is_blob_encoded": "_blob",
    "open_blob": "_blob",
    "build_cli": "_cli",
    "cli_main": "_cli",
    "parse_storage_options": "_cli",
    "storage_option": "_cli",
    "element_type_of": "_defaults",
    "default_read_element": "_elements",
    "default_write_element": "_elements",
    "points_blob_schema": "_elements",
    "raster_multiscales": "_elements",
    "write_points_part": "_elements",
    "info": "_info",
    "open_location": "_io",
    "StaleMetadataError": "_errors",
    "read": "_io",
    "read_element": "_io",
    "write": "_io",
    "FsspecLocation": "_location",
    "LocalLocation": "_location",
    "Location": "_location",
    "TemporaryLocation": "_location",
    "DaskComputeBackend": "_parallel",
    "ParallelWriteBackend": "_parallel",
    "Update": "_pipeline",
    "apply_update": "_pipeline",
    "elements_and_attached": "_pipeline",
    "stored_elements": "_pipeline",
    "sync_labels_list": "_pipeline",
    "update_of": "_pipeline",
    "validate_elements": "_pipeline",
    "write_element_through_hook": "_pipeline",
    "write_root_attrs": "_pipeline",
    "SpatialData": "_spatialdata",
    "synthetic_sdata": "_synthetic",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


if TYPE_CHECKING:
    from spatialdata_plugins.core._add import add_element
    from spatialdata_plugins.core._blob import BLOB_ARRAY, blob_parts, is_blob_encoded, open_blob
    from spatialdata_plugins.core._cli import build_cli, cli_main, parse_storage_options, storage_option
    from spatialdata_plugins.core._defaults import element_type_of
    from spatialdata_plugins.core._elements import (
        default_read_element,
        default_write_element,
        points_blob_schema,
        raster_multiscales,
        write_points_part,
    )
    from spatialdata_plugins.core._errors import StaleMetadataError
    from spatialdata_plugins.core._info import info
    from spatialdata_plugins.core._io import open_location, read, read_element, write
    from spatialdata_plugins.core._location import FsspecLocation, LocalLocation, Location, TemporaryLocation
    from spatialdata_plugins.core._parallel import DaskComputeBackend, ParallelWriteBackend
    from spatialdata_plugins.core._pipeline import (
        Update,
        apply_update,
        elements_and_attached,
        stored_elements,
        sync_labels_list,
        update_of,
        validate_elements,
        write_element_through_hook,
        write_root_attrs,
    )
    from spatialdata_plugins.core._spatialdata import SpatialData
    from spatialdata_plugins.core._synthetic import synthetic_sdata

try:
    __version__ = version("spatialdata-plugins-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "BLOB_ARRAY",
    "DaskComputeBackend",
    "ElementExistsError",
    "ElementNotFoundError",
    "ElementReadError",
    "ElementWriteError",
    "FsspecLocation",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "LocalLocation",
    "Location",
    "NotAStoreError",
    "NotSpatialDataError",
    "ParallelWriteBackend",
    "PluginInfo",
    "PluginLoadWarning",
    "PublishError",
    "ReadOnlyLocationError",
    "Registry",
    "SpatialData",
    "SpatialDataPluginError",
    "StaleMetadataError",
    "StoreExistsError",
    "StoreNotFoundError",
    "TemporaryLocation",
    "UnsafeOverwriteError",
    "UnsupportedElementError",
    "UnsupportedTargetError",
    "Update",
    "__version__",
    "add_element",
    "apply_update",
    "blob_parts",
    "build_cli",
    "cli_main",
    "default_read_element",
    "default_write_element",
    "element_type_of",
    "elements_and_attached",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "info",
    "is_blob_encoded",
    "lazy_exports",
    "list_plugins",
    "open_blob",
    "open_location",
    "parse_storage_options",
    "points_blob_schema",
    "raster_multiscales",
    "read",
    "read_element",
    "storage_option",
    "stored_elements",
    "sync_labels_list",
    "synthetic_sdata",
    "update_of",
    "validate_elements",
    "write",
    "write_element_through_hook",
    "write_points_part",
    "write_root_attrs",
]
