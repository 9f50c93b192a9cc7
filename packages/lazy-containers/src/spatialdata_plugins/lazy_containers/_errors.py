"""Errors and warnings of the lazy-containers plugin, rooted in the core hierarchy."""

from __future__ import annotations

from spatialdata_plugins.core import SpatialDataPluginError


class LazyContainerError(SpatialDataPluginError):
    """Root of the errors raised by lazy containers."""


class InvalidContainerError(LazyContainerError, ValueError):
    """A container was built with arguments that cannot work, or a stored link is malformed."""


class LinkTargetNotFoundError(LazyContainerError, FileNotFoundError):
    """The file or URL a container points to does not exist (raised at access time)."""


class ContainerLoadError(LazyContainerError, ValueError):
    """The target exists but could not be read as the container's kind of file."""


class ColumnMappingError(ContainerLoadError):
    """A column mapping names columns the file does not have."""


class ContainerValidationError(ContainerLoadError):
    """The data was read but does not pass the ``spatialdata.models`` validation of its element type."""


class LinkChangedError(LazyContainerError, RuntimeError):
    """The target changed since its fingerprint was recorded (``on_change="raise"``)."""


class LinkChangedWarning(UserWarning):
    """The target changed since its fingerprint was recorded (``on_change="warn"``, the default)."""


class UnknownContainerTypeError(LazyContainerError, LookupError):
    """A store links an element with a container type that no installed package provides."""
