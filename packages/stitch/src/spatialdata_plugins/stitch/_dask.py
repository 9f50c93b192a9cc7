"""Scheduler choice and progress bars for the dask work of registration and fusion."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import dask
from dask.callbacks import Callback
from tqdm.auto import tqdm


def distributed_client() -> Any:
    """Return the active ``dask.distributed`` client, or ``None`` when there is none (or distributed is missing)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


@contextlib.contextmanager
def threads_unless_configured() -> Iterator[None]:
    """Use dask's threaded scheduler unless the user set a scheduler or a distributed client is active.

    multiview-stitcher's ``register()`` computes its overlap graph with ``dask.compute``; with no scheduler set dask
    may pick a process pool for those (delayed) graphs, which costs seconds per call and re-imports the calling
    script. A scheduler the user chose (``dask.config.set(scheduler=...)`` or a ``distributed.Client``) is kept.
    """
    if dask.config.get("scheduler", None) is None and distributed_client() is None:
        with dask.config.set(scheduler="threads"):
            yield
    else:
        yield


class TqdmCallback(Callback):
    """A dask local-scheduler callback that advances a tqdm bar per finished task."""

    def __init__(self, desc: str, disable: bool | None) -> None:
        super().__init__()
        self._desc = desc
        self._disable = disable
        self._bar: Any = None

    def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
        total = sum(len(state[key]) for key in ("ready", "waiting", "running", "finished"))
        self._bar = tqdm(total=total, desc=self._desc, unit="task", disable=self._disable, leave=False)

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_disabled(progress: bool | None) -> bool | None:
    """Map the user's ``progress`` (``None``: only on a terminal) to tqdm's ``disable``."""
    return None if progress is None else not progress


def compute_with_progress(collection: Any, desc: str, progress: bool | None) -> Any:
    """Compute a dask collection on the active scheduler, with a progress bar on local schedulers.

    Parameters
    ----------
    collection
        Anything ``dask.compute`` accepts.
    desc
        Label of the progress bar.
    progress
        ``True``/``False`` to show or hide the bar, ``None`` to show it only on a terminal.

    Returns
    -------
    Any
        The computed value.
    """
    client = distributed_client()
    if client is not None:
        # the dashboard shows progress of distributed computations; a tqdm bar would need futures per chunk
        return client.compute(collection).result()
    with threads_unless_configured(), TqdmCallback(desc, progress_disabled(progress)):
        return dask.compute(collection)[0]
