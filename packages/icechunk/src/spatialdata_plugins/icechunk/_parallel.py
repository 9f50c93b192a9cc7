"""The fork/merge write backend: dask-backed rasters written in parallel into one icechunk session."""

from __future__ import annotations

from typing import Any

import dask
import dask.array as da
import icechunk
import icechunk.dask
import zarr
from xarray import DataArray, DataTree


def distributed_client() -> Any:
    """The active ``dask.distributed`` client, or ``None``."""
    try:
        from distributed import get_client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return None
    try:
        return get_client()
    except ValueError:
        return None


class IcechunkForkBackend:
    """Persist dask writes into an icechunk session through ``Session.fork()`` and ``Session.merge()``.

    A writable session cannot be sent to ``dask.distributed`` workers; a fork can. :meth:`store` writes dask arrays
    into zarr arrays of the session with :func:`icechunk.dask.store_dask` on a fork (every worker writes its chunks
    and returns its change set), then merges the change sets back into the session, which is committed once by the
    caller. This implements the core's :class:`~spatialdata_plugins.core.ParallelWriteBackend` protocol.

    Parameters
    ----------
    session
        The writable session the transaction commits.
    mode
        ``"auto"``: rasters go through fork/merge when a ``dask.distributed`` client is active and are written
        directly into the session otherwise (threads share the session, no fork needed); ``"fork"``: always
        fork/merge; ``"direct"``: never.
    """

    name = "icechunk-fork"

    def __init__(self, session: icechunk.Session, mode: str = "auto") -> None:
        if mode not in ("auto", "fork", "direct"):
            raise ValueError(f"parallel mode must be 'auto', 'fork' or 'direct', got {mode!r}")
        self.session = session
        self.mode = mode
        self.forks_merged = 0

    @property
    def uses_fork(self) -> bool:
        """Whether rasters are written through fork/merge now."""
        if self.mode == "auto":
            return distributed_client() is not None
        return self.mode == "fork"

    def compute(self, *collections: Any) -> None:
        """Compute delayed writes on the active scheduler (the protocol's generic entry point)."""
        dask.compute(*collections)

    def store(self, sources: list[da.Array], targets: list[zarr.Array]) -> None:
        """Write dask arrays into zarr arrays of the session through a fork, then merge the fork back.

        Parameters
        ----------
        sources
            Dask arrays; rechunked to the chunk grid of their target when needed.
        targets
            Zarr arrays opened on ``session.store`` (created with their final metadata).
        """
        fork = self.session.fork()
        fork_targets = [zarr.open_array(fork.store, path=t.path, mode="r+") for t in targets]
        aligned = [
            s if s.chunks == _grid(s.shape, t.chunks) else s.rechunk(t.chunks)
            for s, t in zip(sources, targets, strict=True)
        ]
        merged = icechunk.dask.store_dask(sources=aligned, targets=fork_targets)
        self.session.merge(merged)
        self.forks_merged += 1


def _grid(shape: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """The dask chunks tuple of a regular zarr chunk grid."""
    out = []
    for size, step in zip(shape, chunks, strict=True):
        full, rest = divmod(size, step)
        out.append((step,) * full + ((rest,) if rest else ()))
    return tuple(out)


def scale_arrays(element: DataArray | DataTree) -> list[da.Array]:
    """The dask arrays of a raster element, finest scale first."""
    if isinstance(element, DataArray):
        return [element.data]
    arrays = []
    for key in sorted(element.children, key=lambda k: int(k.removeprefix("scale"))):
        ds = element[key].ds
        arrays.append(next(iter(ds.data_vars.values())).data)
    return arrays


def is_dask_raster(element: Any) -> bool:
    """Whether every scale of an image or labels element is a dask array."""
    if not isinstance(element, DataArray | DataTree):
        return False
    try:
        return all(isinstance(a, da.Array) for a in scale_arrays(element))
    except (StopIteration, ValueError):
        return False


def zeros_placeholder(element: DataArray | DataTree) -> DataArray | DataTree:
    """The same element with every scale's data replaced by lazy zeros of the same shape, chunks and dtype.

    Written with spatialdata's writer, it creates all metadata and arrays; zarr 3 skips chunks equal to the fill
    value, so no pixel is stored until the fork writes the real data.
    """
    if isinstance(element, DataArray):
        return element.copy(data=da.zeros(element.shape, chunks=element.data.chunks, dtype=element.dtype))

    def _zero(ds: Any) -> Any:
        return ds.map(lambda v: v.copy(data=da.zeros(v.shape, chunks=v.data.chunks, dtype=v.dtype)))

    return element.map_over_datasets(_zero)
