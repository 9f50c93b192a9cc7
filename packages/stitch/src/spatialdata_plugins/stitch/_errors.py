"""Errors of the stitch plugin, rooted in the core's hierarchy."""

from __future__ import annotations

from spatialdata_plugins.core import ElementNotFoundError, SpatialDataPluginError


class StitchError(SpatialDataPluginError):
    """Root of every error raised by the stitch plugin."""


class NoTilesMatchedError(StitchError, ElementNotFoundError):
    """No image or labels element matched the names or pattern given as ``elements``."""


class TileMismatchError(StitchError, ValueError):
    """The selected tiles cannot be stitched together: mixed kinds, dimensions, channels or coordinate systems."""


class NoOverlapError(StitchError, ValueError):
    """Registration was asked for but some tiles do not overlap any other tile."""


class RegistrationError(StitchError, RuntimeError):
    """multiview-stitcher could not register the tiles."""
