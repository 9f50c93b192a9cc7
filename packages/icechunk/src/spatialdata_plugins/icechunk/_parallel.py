"""The fork/merge write backend: dask-backed rasters and points written in parallel into one icechunk session."""

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
    caller. :meth:`store_points` does the same for the partitions of a points element: every task computes one
    partition and writes it, as a complete parquet file, into a new array of the fork (parquet-in-zarr version 2,
    ``docs/format.md``). This implements the core's :class:`~spatialdata_plugins.core.ParallelWriteBackend`
    protocol.

    Parameters
    ----------
    session
        The writable session the transaction commits.
    mode
        ``"auto"``: rasters and points go through fork/merge when a ``dask.distributed`` client is active, and
        are written directly into the session otherwise (threads share the session, no fork needed; points as one
        parquet file); ``"fork"``: always fork/merge; ``"direct"``: never.

    Attributes
    ----------
    forks_merged
        How many fork change sets were merged into the session: one per raster element, one per points partition.
    forked_elements
        Names of the elements written through forks, in order.
    """

    name = "icechunk-fork"

    def __init__(self, session: icechunk.Session, mode: str = "auto") -> None:
        if mode not in ("auto", "fork", "direct"):
            raise ValueError(f"parallel mode must be 'auto', 'fork' or 'direct', got {mode!r}")
        self.session = session
        self.mode = mode
        self.forks_merged = 0
        self.forked_elements: list[str] = []

    @property
    def uses_fork(self) -> bool:
        """Whether dask-backed rasters and points are written through fork/merge now."""
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

    def store_points(
        self, group: zarr.Group, partitions: list[Any], schema: Any, chunk_bytes: int
    ) -> list[dict[str, Any]]:
        """Write the partitions of a points element into a fork, one parquet file each, and merge the fork back.

        The core's ``points_parts_writer`` (see :func:`spatialdata_plugins.core.write_points_part`): one task
        per partition, computed where the partition is (a ``dask.distributed`` worker), writes array
        ``parquet.<i>`` of ``group`` in its copy of one fork of the session and returns it with the part's entry.

        Parameters
        ----------
        group
            The element group, created in the session.
        partitions
            The partitions (``dask.delayed`` pandas DataFrames, ``DataFrame.to_delayed()``).
        schema
            The parquet schema of every part.
        chunk_bytes
            Chunk size of the part arrays.

        Returns
        -------
        list of dict
            The parts' entries ``{"array", "nbytes", "rows", "row_groups"}``, in partition order.
        """
        fork = self.session.fork()
        tasks = [
            dask.delayed(_write_points_part_in_fork, pure=False)(
                fork, group.path, f"parquet.{i}", partition, schema, chunk_bytes
            )
            for i, partition in enumerate(partitions)
        ]
        # Without a dask.distributed client the tasks would be threads sharing one fork: they gain nothing over the
        # direct write, and concurrent writes from threads into one icechunk session are where icechunk has had
        # deadlocks (earth-mover/icechunk#560; one CI run here hung in this path). The parts are then written one
        # after the other; on a cluster every worker writes its own copy of the fork.
        scheduler = None if distributed_client() is not None else "synchronous"
        results = dask.compute(*tasks, scheduler=scheduler)
        # threads of one process share the fork object: merge each distinct change set once
        forks = list({id(f): f for f, _ in results}.values())
        self.session.merge(*forks)
        self.forks_merged += len(forks)
        return [part for _, part in results]


def _write_points_part_in_fork(
    fork: icechunk.ForkSession, path: str, name: str, frame: Any, schema: Any, chunk_bytes: int
) -> tuple[icechunk.ForkSession, dict[str, Any]]:
    """Run in a worker: write one partition as a parquet file into array ``name`` of group ``path`` of the fork."""
    from spatialdata_plugins.core import write_points_part

    group = zarr.open_group(fork.store, path=path, mode="r+")
    return fork, write_points_part(group, name, [frame], schema, chunk_bytes)


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
