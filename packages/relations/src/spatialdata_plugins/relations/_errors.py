"""Errors of the relations plugin, rooted in the core hierarchy (each also the matching builtin)."""

from __future__ import annotations

from spatialdata_plugins.core import ElementNotFoundError, InvalidArgumentError, SpatialDataPluginError


class RelationsError(SpatialDataPluginError):
    """Root of the errors raised by the relations plugin."""


class RelationArgumentError(RelationsError, InvalidArgumentError):
    """An argument that cannot work (unknown method, predicate or ``how``, wrong element type...); nothing recorded."""


class RelationTargetNotFoundError(RelationsError, ElementNotFoundError):
    """An element or table named in a call (or in a stored link) does not exist."""


class KeyColumnError(RelationArgumentError):
    """A key column is missing, or has duplicates where the method needs unique keys."""


class CoordinateSystemError(RelationArgumentError):
    """Two elements share no coordinate system, so they cannot be joined spatially."""


class RelationNotFoundError(RelationsError, LookupError):
    """No link (and no legacy ``region`` annotation) relates the element and the table."""


class StaleRelationError(RelationsError, RuntimeError):
    """A spatial link was evaluated on inputs that changed since; pass ``recompute=True`` to evaluate it again."""
