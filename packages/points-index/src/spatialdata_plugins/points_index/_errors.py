"""Errors of the points-index plugin (all from the core's hierarchy)."""

from __future__ import annotations

from spatialdata_plugins.core import ElementNotFoundError, InvalidArgumentError, SpatialDataPluginError


class PointsIndexError(SpatialDataPluginError):
    """Root of the errors of the points-index plugin."""


class IndexNotFoundError(PointsIndexError, FileNotFoundError):
    """The points element (or the standalone target) has no points index."""


class StaleIndexError(PointsIndexError, RuntimeError):
    """The points changed after the index was built: the index must be rebuilt before it is used."""


class CorruptIndexError(PointsIndexError, ValueError):
    """The index metadata or arrays are missing, malformed or inconsistent."""


class UnknownGeneError(InvalidArgumentError, KeyError):
    """Gene names that the indexed points do not contain."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


__all__ = [
    "CorruptIndexError",
    "ElementNotFoundError",
    "IndexNotFoundError",
    "InvalidArgumentError",
    "PointsIndexError",
    "StaleIndexError",
    "UnknownGeneError",
]
