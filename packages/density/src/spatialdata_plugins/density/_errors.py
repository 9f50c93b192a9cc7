"""Errors of the density plugin, rooted in the core's hierarchy."""

from __future__ import annotations

from spatialdata_plugins.core import InvalidArgumentError, SpatialDataPluginError


class DensityError(SpatialDataPluginError):
    """Root of the density plugin's errors."""


class InvalidContourError(DensityError, ValueError):
    """A contour that cannot be used: empty, not polygonal, an open line, or invalid with repair switched off."""


class CoordinateSystemError(DensityError, ValueError):
    """Points, contours or domain cannot be brought into one coordinate system."""


class DomainError(DensityError, ValueError):
    """The tissue domain is unusable: not polygonal or a mask, or it does not overlap the analysed region."""


class DensityArgumentError(DensityError, InvalidArgumentError):
    """A parameter that cannot work: a zero or negative width or bandwidth, no rings, an unknown column."""
