"""Errors of the transforms plugin, rooted in the core's :class:`~spatialdata_plugins.core.SpatialDataPluginError`."""

from __future__ import annotations

from spatialdata_plugins.core import SpatialDataPluginError


class TransformationError(SpatialDataPluginError, ValueError):
    """Malformed or contradictory transformation metadata; the message names the transformation and the field."""


class UnknownTransformationTypeError(TransformationError):
    """A ``type`` that is not one of the RFC-5 transformation types."""


class NotInvertibleError(TransformationError):
    """The inverse of a transformation was needed but it has no closed-form inverse (and no ``bijection``)."""


class ParameterArrayError(TransformationError):
    """A parameter or field array given by ``path`` is missing, unreadable or of the wrong shape."""


class CoordinateSystemNotFoundError(SpatialDataPluginError, KeyError):
    """A coordinate system that is not in the transformation graph (or whose name is ambiguous)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class NoTransformationPathError(TransformationError):
    """Two coordinate systems of a graph are not connected by any chain of transformations."""


class UnsupportedConversionError(TransformationError):
    """A transformation that spatialdata cannot represent (fields, projections, non-spatial axes...)."""


class RotationPrecisionWarning(UserWarning):
    """A ``rotation`` matrix accepted although it is orthonormal only to limited precision (it is used as written)."""
