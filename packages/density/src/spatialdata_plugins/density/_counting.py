"""Histograms of signed distance per contour, group and band, computed partition by partition with dask."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import dask
import numpy as np
import pandas as pd
import shapely
from dask.callbacks import Callback
from shapely.geometry.base import BaseGeometry

from spatialdata_plugins.density import _kernels
from spatialdata_plugins.density._geometry import BoundaryIndex, ready


@dataclass
class CountContext:
    """What a partition needs to count its points: the boundary index, band edges, domain and groups."""

    index: BoundaryIndex
    edges: np.ndarray
    domain: BaseGeometry | None
    group_column: str | None
    group_names: list[str]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(contours, groups + 1, bands)``; the last group is every point."""
        return len(self.index.polygons), len(self.group_names) + 1, len(self.edges) - 1


def _group_lookup(values: pd.Series, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Raw integer codes of ``values`` and a table from raw code to index in ``names`` (-1: not listed, missing).

    Categorical columns use their own codes (no row is converted); other columns are factorised once.
    """
    lookup = {name: i for i, name in enumerate(names)}
    if isinstance(values.dtype, pd.CategoricalDtype):
        table = np.array([lookup.get(str(c), -1) for c in values.cat.categories], dtype=np.int64)
        return values.cat.codes.to_numpy(), table  # code -1 (missing) is skipped by the kernel
    raw, uniques = pd.factorize(values.astype(object).where(values.notna(), None), use_na_sentinel=True)
    table = np.array([lookup.get(str(u), -1) for u in uniques], dtype=np.int64)
    return raw, table


def count_partition(part: pd.DataFrame, ctx: CountContext) -> np.ndarray:
    """Count the points of one partition per contour, group and signed-distance band.

    Bands are half-open, ``[edges[b], edges[b + 1])``; a point on a contour's boundary has distance 0 (outside).
    Points outside the domain are not counted.

    Parameters
    ----------
    part
        A pandas DataFrame with ``x``, ``y`` and, when grouping, the group column.
    ctx
        The counting context.

    Returns
    -------
    numpy.ndarray
        Integer counts of shape ``ctx.shape``.
    """
    counts = np.zeros(ctx.shape, dtype=np.int64)
    if len(part) == 0:
        return counts
    x = part["x"].to_numpy(dtype=np.float64)
    y = part["y"].to_numpy(dtype=np.float64)
    point, _, distance, inside, contour_start = ctx.index.pairs(x, y)
    band = _kernels.signed_bands(distance, inside, ctx.edges)
    if ctx.domain is not None:
        counted = np.flatnonzero(band >= 0)
        if len(counted):
            band[counted[~shapely.intersects_xy(ready(ctx.domain), x[point[counted]], y[point[counted]])]] = -1
    if ctx.group_column is not None:
        raw_codes, code_table = _group_lookup(part[ctx.group_column], ctx.group_names)
    else:
        raw_codes, code_table = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    _kernels.add_counts(counts, contour_start, point, band, raw_codes, code_table)
    return counts


def _distributed_client() -> Any:
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


#: Counts of this many partitions are added up by one task of the reduction tree.
_FAN_IN = 8


def _add_up(*arrays: np.ndarray) -> np.ndarray:
    total = arrays[0].copy()
    for a in arrays[1:]:
        total += a
    return total


def _sum_tree(tasks: list[Any]) -> Any:
    while len(tasks) > 1:
        tasks = [dask.delayed(_add_up)(*tasks[i : i + _FAN_IN]) for i in range(0, len(tasks), _FAN_IN)]
    return tasks[0]


class _TaskProgress(Callback):
    """Advance a tqdm bar when one of the given tasks finishes (dask's local schedulers)."""

    def __init__(self, keys: set[Any], bar: Any) -> None:
        super().__init__()
        self._keys = keys
        self._bar = bar

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if key in self._keys:
            self._bar.update(1)


def count_frame(frame: Any, ctx: CountContext, *, progress: bool | None = None) -> np.ndarray:
    """Count every partition of a dask DataFrame (on the active scheduler) and add the results up.

    Parameters
    ----------
    frame
        dask DataFrame with ``x``, ``y`` (and the group column).
    ctx
        The counting context.
    progress
        Show a tqdm bar over partitions (``None``: only on a terminal).

    Returns
    -------
    numpy.ndarray
        Counts of shape ``ctx.shape``.
    """
    from tqdm.auto import tqdm

    shared = dask.delayed(ctx, name=f"density-context-{uuid.uuid4().hex}")
    tasks = [dask.delayed(count_partition)(part, shared) for part in frame.to_delayed()]
    total = np.zeros(ctx.shape, dtype=np.int64)
    disable = (not progress) if progress is not None else None
    with tqdm(total=len(tasks), desc="density: partitions", unit="part", disable=disable) as bar:
        client = _distributed_client()
        if client is not None:
            from distributed import as_completed

            for future in as_completed(client.compute(tasks)):
                total += future.result()
                bar.update(1)
        else:
            # one graph: partitions counted on every worker without pauses between batches, their counts added
            # up in a tree as they finish (at most a few count arrays are alive at once)
            finished = {task.key for task in tasks}
            with _TaskProgress(finished, bar):
                (total,) = dask.compute(_sum_tree(tasks))
    return total
