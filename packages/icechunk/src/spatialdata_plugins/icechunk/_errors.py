"""Errors of the icechunk plugin, all in the core's hierarchy (and subclasses of the matching builtin)."""

from __future__ import annotations

from typing import Any

from spatialdata_plugins.core import InvalidArgumentError, SpatialDataPluginError, StoreNotFoundError


class NotARepositoryError(StoreNotFoundError):
    """The path or URL holds no icechunk repository (and ``create=True`` was not given)."""


class RefNotFoundError(SpatialDataPluginError, KeyError):
    """An unknown branch, tag or snapshot id."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ReadOnlySessionError(InvalidArgumentError):
    """A transaction or write was asked of a read-only session (opened on a tag or snapshot, or ``readonly``)."""


class NestedTransactionError(InvalidArgumentError):
    """A transaction was opened on a repository that already has an open transaction in this thread."""


class TransactionConflictError(SpatialDataPluginError, RuntimeError):
    """Another writer committed changes to the same elements first; nothing of this transaction was committed.

    Attributes
    ----------
    elements
        Names of the elements (or ``"attrs"``) both writers changed.
    pending
        What this transaction would have written: ``{"written": {name: element}, "deleted": [names],
        "attrs": dict or None}``, so the work can be re-applied in a new transaction on fresh data.
    """

    def __init__(self, message: str, elements: list[str], pending: dict[str, Any]) -> None:
        super().__init__(message)
        self.elements = elements
        self.pending = pending
