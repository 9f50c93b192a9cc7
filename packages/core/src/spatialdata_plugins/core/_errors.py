"""The exception hierarchy shared by the core and every plugin."""

from __future__ import annotations


class SpatialDataPluginError(Exception):
    """Root of every error raised by spatialdata-plugins packages."""


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; the core and the other plugins keep working."""


class StoreNotFoundError(SpatialDataPluginError, FileNotFoundError):
    """The path, URL or store given to read or inspect does not exist."""


class UnsupportedTargetError(SpatialDataPluginError, ValueError):
    """No plugin can turn the given target (path, URL scheme, object) into a zarr store."""


class NotSpatialDataError(SpatialDataPluginError, ValueError):
    """The store exists but does not hold a SpatialData object."""


class ElementNotFoundError(SpatialDataPluginError, KeyError):
    """An element name that does not exist in the SpatialData object or store."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class StoreExistsError(SpatialDataPluginError, FileExistsError):
    """Writing over an existing store or element without ``overwrite=True``."""


class UnsafeOverwriteError(SpatialDataPluginError, ValueError):
    """Overwriting a store that backs lazily loaded data which is being written."""


class ElementWriteError(SpatialDataPluginError, RuntimeError):
    """Writing an element failed; the previous store is left as it was."""


class UnsupportedElementError(SpatialDataPluginError, TypeError):
    """No plugin knows how to write or resolve an object of this type."""


class ElementExistsError(SpatialDataPluginError, ValueError):
    """Attaching or adding an element under a name that is already taken."""


class InvalidArgumentError(SpatialDataPluginError, ValueError):
    """An argument that cannot work, such as an attach without a name or a write without a target."""


class PublishError(SpatialDataPluginError, OSError):
    """The final swap of a completed write into place failed; the message says where the complete copy is."""


class ReadOnlyLocationError(SpatialDataPluginError, PermissionError):
    """A write to a location that only reads (an icechunk snapshot, a store opened read-only)."""
