"""How dask-backed data is persisted during a write."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import dask


@runtime_checkable
class ParallelWriteBackend(Protocol):
    """Persists delayed dask writes; plugins supply their own through ``sdp_parallel_write_backend``.

    Attributes
    ----------
    name
        Short name shown in logs and the demo.
    """

    name: str

    def compute(self, *collections: Any) -> None:
        """Run the delayed writes ``collections`` (dask collections or ``dask.delayed`` objects) to completion."""


class DaskComputeBackend:
    """The default backend: ``dask.compute`` on whatever scheduler is active (a ``dask.distributed`` client too)."""

    name = "dask"

    def compute(self, *collections: Any) -> None:
        """Compute the delayed writes on the active scheduler."""
        dask.compute(*collections)
