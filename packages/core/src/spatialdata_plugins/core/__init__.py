"""spatialdata-plugins core: the plugin registry, IO over any zarr store, and the command line."""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from spatialdata_plugins.core._errors import (
    ElementExistsError,
    ElementNotFoundError,
    ElementWriteError,
    InvalidArgumentError,
    NotSpatialDataError,
    PluginLoadWarning,
    PublishError,
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
    "info": "_info",
    "open_location": "_io",
    "read": "_io",
    "read_element": "_io",
    "write": "_io",
    "Location": "_location",
    "DaskComputeBackend": "_parallel",
    "ParallelWriteBackend": "_parallel",
    "SpatialData": "_spatialdata",
    "synthetic_sdata": "_synthetic",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


if TYPE_CHECKING:
    from spatialdata_plugins.core._add import add_element
    from spatialdata_plugins.core._info import info
    from spatialdata_plugins.core._io import open_location, read, read_element, write
    from spatialdata_plugins.core._location import Location
    from spatialdata_plugins.core._parallel import DaskComputeBackend, ParallelWriteBackend
    from spatialdata_plugins.core._spatialdata import SpatialData
    from spatialdata_plugins.core._synthetic import synthetic_sdata

try:
    __version__ = version("spatialdata-plugins-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "DaskComputeBackend",
    "ElementExistsError",
    "ElementNotFoundError",
    "ElementWriteError",
    "InvalidArgumentError",
    "Location",
    "NotSpatialDataError",
    "ParallelWriteBackend",
    "PluginInfo",
    "PluginLoadWarning",
    "PublishError",
    "Registry",
    "SpatialData",
    "SpatialDataPluginError",
    "StoreExistsError",
    "StoreNotFoundError",
    "UnsafeOverwriteError",
    "UnsupportedElementError",
    "UnsupportedTargetError",
    "__version__",
    "add_element",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "info",
    "lazy_exports",
    "list_plugins",
    "open_location",
    "read",
    "read_element",
    "synthetic_sdata",
    "write",
]
