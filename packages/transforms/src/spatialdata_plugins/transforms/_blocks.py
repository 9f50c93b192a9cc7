"""Linear maps applied to ``(P, N)`` points in one pass over memory.

A matrix product followed by an addition over the whole array reads and writes every coordinate twice, and numpy's
addition of an ``(N,)`` offset to ``(P, N)`` rows runs its inner loop ``P`` times over ``N`` values. Here the points
are cut into row blocks that stay in a core's cache: a block is read once (converted to float64 and made
C-contiguous there if it is not already), multiplied into its rows of the output, and the offset is added to those
rows as one flat, vectorised addition with the offset repeated along the block, while they are still in cache. The
output is written once. Blocks are shared out to a few threads (numpy releases the GIL in ``matmul`` and in
ufuncs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

#: Rows per block: 8,192 rows of three float64 coordinates are 192 KiB in and 192 KiB out, which stay in a core's
#: L2 cache, and large enough for the per-block Python overhead (a few microseconds) to be small.
BLOCK_ROWS = 8192
#: Rows handed to a thread at a time (a few blocks, so that a thread slowed down by other work takes fewer of them).
TASK_ROWS = 16 * BLOCK_ROWS
#: Points below which one thread does everything (starting threads costs more than it saves).
PARALLEL_ROWS = 1 << 18
#: Most threads used by default: the work is bound by memory bandwidth, which a few cores saturate.
MAX_THREADS = 4

_THREADS: ContextVar[int | None] = ContextVar("spatialdata_plugins_transforms_threads", default=None)


def default_threads() -> int:
    """Threads used when none are asked for: the CPUs this process may run on, at most :data:`MAX_THREADS`."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_THREADS))


@contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Run the block kernels of this context (this thread or task) on at most ``threads`` threads.

    ``None`` keeps the current setting (the default: :func:`default_threads`).
    """
    if threads is None:
        yield
        return
    token = _THREADS.set(threads)
    try:
        yield
    finally:
        _THREADS.reset(token)


def _run_blocks(x: np.ndarray, n_out: int, kernel: Callable[[np.ndarray, np.ndarray], None]) -> np.ndarray:
    """A new ``(P, n_out)`` float64 array, filled by ``kernel(block_in, block_out)`` block after block.

    ``block_in`` is always a C-contiguous float64 ``(k, N)`` array (the input rows themselves, or a per-thread
    scratch copy of them when the input has another dtype or layout) and ``block_out`` the matching rows of the
    output, also C-contiguous.
    """
    n_rows, n_in = x.shape
    out = np.empty((n_rows, n_out))
    direct = x.dtype == np.float64 and x.flags.c_contiguous and x.flags.aligned
    # numpy copies a (k, N) block whose rows are not contiguous (Fortran order, pandas' to_numpy) with an inner
    # loop over the N values of a row; one copy per column runs over the k rows instead, several times faster
    by_column = not x.flags.c_contiguous and n_in <= 16

    errors = np.geterr()  # the caller's numpy.errstate, which worker threads do not inherit

    def run(start: int, stop: int) -> None:
        with np.errstate(**errors):
            run_blocks(start, stop)

    def run_blocks(start: int, stop: int) -> None:
        scratch = None if direct else np.empty((min(BLOCK_ROWS, stop - start), n_in))
        for s in range(start, stop, BLOCK_ROWS):
            e = min(s + BLOCK_ROWS, stop)
            src = x[s:e]
            if scratch is not None:
                dst = scratch[: e - s]
                if by_column:
                    for j in range(n_in):
                        np.copyto(dst[:, j], src[:, j], casting="unsafe")
                else:
                    np.copyto(dst, src, casting="unsafe")
                src = dst
            kernel(src, out[s:e])

    threads = _THREADS.get() or default_threads()
    if threads == 1 or n_rows < PARALLEL_ROWS:
        run(0, n_rows)
        return out
    with ThreadPoolExecutor(threads, thread_name_prefix="sdp-transforms") as pool:
        for _ in pool.map(lambda s: run(s, min(s + TASK_ROWS, n_rows)), range(0, n_rows, TASK_ROWS)):
            pass
    return out


def _repeated(values: np.ndarray, n_rows: int) -> np.ndarray:
    """``values`` repeated for every row of a block, flat: added to a flattened block, it adds them to each row."""
    return np.tile(np.asarray(values, dtype=np.float64), max(1, min(BLOCK_ROWS, n_rows)))


def apply_linear(x: np.ndarray, linear: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """``x @ linear.T (+ offset)`` for ``(P, N)`` points, ``(M, N)`` ``linear`` and ``(M,)`` ``offset``: one pass.

    ``x`` may have any real dtype and any layout; the result is a new C-contiguous float64 ``(P, M)`` array, equal
    to numpy's ``x.astype(float64) @ linear.T + offset`` up to the rounding of a length-``N`` dot product.
    """
    linear_t = np.ascontiguousarray(linear.T, dtype=np.float64)
    repeated = None if offset is None else _repeated(offset, x.shape[0])

    def kernel(src: np.ndarray, dst: np.ndarray) -> None:
        np.matmul(src, linear_t, out=dst)
        if repeated is not None:
            flat = dst.reshape(-1)
            np.add(flat, repeated[: flat.size], out=flat)

    return _run_blocks(x, linear_t.shape[1], kernel)


def apply_affine(matrix: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Apply a homogeneous ``(M+1, N+1)`` matrix to ``(P, N)`` points (see :func:`apply_linear`)."""
    n = matrix.shape[1] - 1
    return apply_linear(x, matrix[:-1, :n], matrix[:-1, n])


def apply_per_axis(x: np.ndarray, values: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc(x, values)`` for ``(P, N)`` points and ``(N,)`` values (a scale or an offset per axis): one pass."""
    repeated = _repeated(values, x.shape[0])

    def kernel(src: np.ndarray, dst: np.ndarray) -> None:
        flat = dst.reshape(-1)
        ufunc(src.reshape(-1), repeated[: flat.size], out=flat)

    return _run_blocks(x, x.shape[1], kernel)
