"""``ring_density`` and ``smooth_density_by_distance``: density of points against signed distance to contours."""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from spatialdata_plugins.density import _kernels
from spatialdata_plugins.density._counting import CountContext, count_frame
from spatialdata_plugins.density._errors import DensityArgumentError, DomainError
from spatialdata_plugins.density._geometry import DEFAULT_QUAD_SEGS, BoundaryIndex, ready, region_areas
from spatialdata_plugins.density._inputs import Inputs, resolve_inputs

#: Label of the overall group (every point, whatever its gene) and of the pooled contour rows.
ALL = "all"
POOLED = "pooled"
#: Gaussian kernels are cut at this many bandwidths (both the counts and the areas, so the ratio stays unbiased).
KERNEL_CUTOFF = 4.0


def _positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise DensityArgumentError(f"{name} must be a positive number, got {value!r}") from err
    if not math.isfinite(v) or v <= 0:
        raise DensityArgumentError(f"{name} must be a positive, finite number, got {value!r}")
    return v


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise DensityArgumentError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _check_domain_overlap(inputs: Inputs, areas: np.ndarray) -> None:
    if inputs.domain is None:
        return
    total = areas[:, -1] - areas[:, 0]
    if not np.any(total > 0):
        raise DomainError(
            "the domain does not overlap the analysed region of any contour (every band has zero area inside the "
            "domain); check that the domain and the contours are in the same coordinate system and place"
        )


def _counts_and_areas(inputs: Inputs, edges: np.ndarray, quad_segs: int, progress: bool | None):
    rmax = float(np.max(np.abs(edges)))
    for polygon in inputs.contours:
        ready(polygon)  # prepared here, before another thread can touch them
    # the band areas (GEOS buffers, which release the GIL) are computed meanwhile the points are counted: the
    # cores stay busy while either waits for its last task
    with ThreadPoolExecutor(max_workers=1) as pool:
        areas_future = pool.submit(region_areas, inputs.contours, edges, inputs.domain, quad_segs=quad_segs)
        index = BoundaryIndex.build(inputs.contours, rmax)
        ctx = CountContext(index, edges, inputs.domain, inputs.group_column, inputs.group_names)
        counts = count_frame(inputs.frame, ctx, progress=progress)
        areas = areas_future.result()
    _check_domain_overlap(inputs, areas)
    return counts, areas


def ring_density(
    sdata: Any = None,
    *,
    points: Any = None,
    shapes: Any = None,
    contours: Any,
    ring_width: float,
    n_rings_in: int = 5,
    n_rings_out: int = 5,
    genes: str | Sequence[str] | None = None,
    gene_key: str | None = None,
    domain: Any = None,
    coordinate_system: str | None = None,
    repair: bool = True,
    quad_segs: int = DEFAULT_QUAD_SEGS,
    table_name: str | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Count points in rings of signed distance around contours and divide by the ring areas.

    Ring ``k`` holds the points whose signed distance ``d`` to a contour's boundary (negative inside) satisfies
    ``k * ring_width <= d < (k + 1) * ring_width``, for ``k = -n_rings_in, ..., n_rings_out - 1``. Its area is
    ``area(buffer(contour, (k + 1) * w) & domain) - area(buffer(contour, k * w) & domain)``: exact polygon areas of
    the band clipped to the tissue domain (up to the arcs of the buffers, drawn with ``quad_segs`` segments per
    quarter circle). Each contour is counted independently (a point near two contours counts for both); the pooled
    rows add up counts and areas over contours.

    Parameters
    ----------
    sdata
        The SpatialData object holding the elements named below (not needed when objects are passed).
    points
        Name of a points element (or a dask/pandas DataFrame with ``x`` and ``y``, or an ``(n, 2)`` array).
    shapes
        Name of a shapes element (or a GeoDataFrame) whose centroids are counted (cells); instead of ``points``.
    contours
        Name of a shapes element with the contours (or a GeoDataFrame, GeoSeries, or list of geometries):
        polygons, multipolygons, closed lines (first vertex equal to the last), or circles. The index gives the
        contour ids.
    ring_width
        Width of every ring, in units of the coordinate system.
    n_rings_in, n_rings_out
        Number of rings inside and outside the contour.
    genes
        ``None``: all points together. A list: one profile per listed gene (values of ``gene_key``). A string: the
        name of a column to group by (every value, for example ``"gene"`` or a cell-type column). The ``"all"``
        group, always present, counts every point.
    gene_key
        Column with the gene names (default: the points element's ``feature_key``, else ``"gene"``).
    domain
        Tissue domain: name of a shapes or labels element (non-zero pixels), a polygon, or a 2D mask. Areas are
        clipped to it and points outside it are not counted.
    coordinate_system
        Coordinate system to work in; by default the one points, contours and domain share (``"global"`` if
        several). Elements are transformed into it with :func:`spatialdata.transform`.
    repair
        Repair invalid contours with :func:`shapely.make_valid` (with a warning) instead of raising.
    quad_segs
        Segments per quarter circle for the arcs of buffers.
    table_name
        Also store the result in ``sdata.tables[table_name]`` (see :func:`density_table`).
    progress
        Progress bar over partitions (``None``: on a terminal only).

    Returns
    -------
    pandas.DataFrame
        One row per contour (and ``"pooled"``), group and ring: ``contour``, ``group``, ``ring``, ``d_inner``,
        ``d_outer``, ``d_mid``, ``count``, ``area``, ``density`` (count / area, NaN where the area is zero) and
        ``density_se`` (the Poisson standard error, sqrt(count) / area).

    Examples
    --------
    >>> import shapely
    >>> import numpy as np
    >>> from spatialdata_plugins.density import ring_density
    >>> xy = np.random.default_rng(0).uniform(-100, 100, size=(20_000, 2))
    >>> df = ring_density(points=xy, contours=[shapely.Point(0, 0).buffer(50)], ring_width=10, progress=False)
    >>> bool(np.allclose(df.query("contour == 'pooled'")["density"], 0.5, rtol=0.2))
    True
    """
    w = _positive("ring_width", ring_width)
    n_in, n_out = _count("n_rings_in", n_rings_in), _count("n_rings_out", n_rings_out)
    if n_in + n_out == 0:
        raise DensityArgumentError("n_rings_in + n_rings_out must be at least 1")
    quad_segs = int(_positive("quad_segs", quad_segs))
    inputs = resolve_inputs(
        sdata,
        points=points,
        shapes=shapes,
        contours=contours,
        genes=genes,
        gene_key=gene_key,
        domain=domain,
        coordinate_system=coordinate_system,
        repair=repair,
        quad_segs=quad_segs,
    )
    rings = np.arange(-n_in, n_out)
    edges = np.arange(-n_in, n_out + 1, dtype=np.float64) * w
    counts, cum_areas = _counts_and_areas(inputs, edges, quad_segs, progress)
    areas = np.diff(cum_areas, axis=1)
    result = _ring_frame(inputs, rings, edges, counts, areas)
    result.attrs["density"] = {
        "kind": "rings",
        "ring_width": w,
        "n_rings_in": n_in,
        "n_rings_out": n_out,
        "coordinate_system": inputs.coordinate_system,
        "domain": domain if isinstance(domain, str) else (None if domain is None else "given"),
        "quad_segs": quad_segs,
    }
    if table_name is not None:
        _store(sdata, result, inputs, table_name)
    return result


def _ring_frame(inputs: Inputs, rings, edges, counts, areas) -> pd.DataFrame:
    groups = [*inputs.group_names, ALL]
    ids = [str(i) for i in inputs.contour_ids]
    all_counts = np.concatenate([counts, counts.sum(axis=0, keepdims=True)])
    all_areas = np.concatenate([areas, areas.sum(axis=0, keepdims=True)])
    n_c, n_g, n_b = all_counts.shape
    c_idx, g_idx, b_idx = np.meshgrid(np.arange(n_c), np.arange(n_g), np.arange(n_b), indexing="ij")
    c_idx, g_idx, b_idx = c_idx.ravel(), g_idx.ravel(), b_idx.ravel()
    count = all_counts.ravel()
    area = all_areas[c_idx, b_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(area > 0, count / area, np.nan)
        se = np.where(area > 0, np.sqrt(count) / area, np.nan)
    contour_labels = np.array([*ids, POOLED], dtype=object)
    group_labels = np.array(groups, dtype=object)
    return pd.DataFrame(
        {
            "contour": contour_labels[c_idx],
            "group": group_labels[g_idx],
            "ring": rings[b_idx],
            "d_inner": edges[b_idx],
            "d_outer": edges[b_idx + 1],
            "d_mid": 0.5 * (edges[b_idx] + edges[b_idx + 1]),
            "count": count,
            "area": area,
            "density": density,
            "density_se": se,
        }
    )


def smooth_density_by_distance(
    sdata: Any = None,
    *,
    points: Any = None,
    shapes: Any = None,
    contours: Any,
    bandwidth: float,
    grid: int | Sequence[float] | np.ndarray = 101,
    distance_in: float | None = None,
    distance_out: float | None = None,
    genes: str | Sequence[str] | None = None,
    gene_key: str | None = None,
    domain: Any = None,
    coordinate_system: str | None = None,
    min_expected_count: float = 10.0,
    min_effective_area: float | None = None,
    step: float | None = None,
    repair: bool = True,
    quad_segs: int = DEFAULT_QUAD_SEGS,
    table_name: str | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Gaussian-smoothed, area-normalised density of points as a function of signed distance to contours.

    Signed distances are binned on a fine grid of step ``step`` (default ``bandwidth / 10``) spanning the output
    grid plus ``4 * bandwidth`` on both sides; ``dA_k`` is the exact area (clipped to the domain) of the band of
    fine bin ``k``. At every output distance ``d`` with weights ``w_k = exp(-(d - m_k)^2 / (2 h^2))`` over the bin
    midpoints ``m_k`` (cut at 4 bandwidths)::

        density(d) = sum_k w_k n_k / sum_k w_k dA_k

    Counts and areas go through the same kernel, so uniformly scattered points give a flat profile equal to their
    intensity (the expected numerator is exactly the intensity times the denominator) with no blow-up where the
    area changes fast. The denominator is the *effective area* behind each value. Where it is too small to trust,
    the value is masked (``density`` NaN, ``masked`` True): when the expected number of points there at the
    contour's overall intensity (every point, ``"all"``) is below ``min_expected_count``, or the effective area is
    below ``min_effective_area``.

    Parameters
    ----------
    sdata, points, shapes, contours, genes, gene_key, domain, coordinate_system, repair, quad_segs, progress
        As in :func:`ring_density`.
    bandwidth
        Standard deviation ``h`` of the Gaussian kernel, in units of the coordinate system.
    grid
        Output distances: an array of signed distances, or a number of evenly spaced points from
        ``-distance_in`` to ``distance_out``.
    distance_in, distance_out
        Range of the output grid inside and outside the contour (required when ``grid`` is a number).
    min_expected_count
        Mask values whose effective area would hold fewer points than this at the overall intensity.
    min_effective_area
        Mask values whose effective area is below this (units of the coordinate system squared).
    step
        Fine-bin width for counts and areas (default and maximum ``bandwidth / 10``).
    table_name
        Also store the result in ``sdata.tables[table_name]`` (see :func:`density_table`).

    Returns
    -------
    pandas.DataFrame
        One row per contour (and ``"pooled"``), group and output distance: ``contour``, ``group``, ``distance``,
        ``density``, ``density_se`` (Poisson: sqrt(sum w_k^2 n_k) / effective area), ``weighted_count``,
        ``effective_area``, ``expected_count``, ``masked``.
    """
    h = _positive("bandwidth", bandwidth)
    quad_segs = int(_positive("quad_segs", quad_segs))
    if np.ndim(grid) == 0:
        n = grid
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
            raise DensityArgumentError(f"grid must be an array of distances or a number >= 2 of points, got {grid!r}")
        if distance_in is None or distance_out is None:
            raise DensityArgumentError("with grid=<number of points>, give distance_in and distance_out")
        d_in, d_out = float(distance_in), float(distance_out)
        if not (math.isfinite(d_in) and math.isfinite(d_out)) or d_in < 0 or d_out < 0 or d_in + d_out <= 0:
            raise DensityArgumentError(
                f"distance_in and distance_out must be >= 0 and not both 0, got {distance_in!r}, {distance_out!r}"
            )
        out_grid = np.linspace(-d_in, d_out, int(n))
    else:
        out_grid = np.asarray(grid, dtype=np.float64).ravel()
        if out_grid.size == 0 or not np.all(np.isfinite(out_grid)):
            raise DensityArgumentError("grid must hold finite distances")
        out_grid = np.unique(out_grid)
    fine = h / 10.0 if step is None else _positive("step", step)
    if fine > h / 10.0 * (1 + 1e-12):
        raise DensityArgumentError(f"step must be at most bandwidth / 10 = {h / 10.0}, got {step!r}")
    if min_expected_count is None or min_expected_count < 0:
        raise DensityArgumentError(f"min_expected_count must be >= 0, got {min_expected_count!r}")
    if min_effective_area is not None and min_effective_area < 0:
        raise DensityArgumentError(f"min_effective_area must be >= 0, got {min_effective_area!r}")

    inputs = resolve_inputs(
        sdata,
        points=points,
        shapes=shapes,
        contours=contours,
        genes=genes,
        gene_key=gene_key,
        domain=domain,
        coordinate_system=coordinate_system,
        repair=repair,
        quad_segs=quad_segs,
    )
    lo = out_grid.min() - KERNEL_CUTOFF * h
    hi = out_grid.max() + KERNEL_CUTOFF * h
    n_fine = int(np.ceil((hi - lo) / fine))
    edges = lo + np.arange(n_fine + 1) * fine
    counts, cum_areas = _counts_and_areas(inputs, edges, quad_segs, progress)
    d_area = np.clip(np.diff(cum_areas, axis=1), 0.0, None)  # buffers are nested; clip rounding noise
    result = _smooth_frame(inputs, out_grid, edges, counts, d_area, h, min_expected_count, min_effective_area)
    result.attrs["density"] = {
        "kind": "smooth",
        "bandwidth": h,
        "step": fine,
        "min_expected_count": float(min_expected_count),
        "min_effective_area": None if min_effective_area is None else float(min_effective_area),
        "coordinate_system": inputs.coordinate_system,
        "domain": domain if isinstance(domain, str) else (None if domain is None else "given"),
        "quad_segs": quad_segs,
    }
    if table_name is not None:
        _store(sdata, result, inputs, table_name)
    return result


def smooth_counts(
    out_grid: np.ndarray, edges: np.ndarray, counts: np.ndarray, d_area: np.ndarray, bandwidth: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernel-smooth fine-bin counts and areas onto the output grid.

    Parameters
    ----------
    out_grid
        Output distances ``(G,)``.
    edges
        Fine-bin edges ``(F + 1,)``.
    counts
        Counts ``(..., F)``.
    d_area
        Band areas ``(..., F)`` (broadcastable against counts without the group axis).
    bandwidth
        Kernel standard deviation.

    Returns
    -------
    tuple
        ``(weighted_count, weighted_count_variance, effective_area)`` on the output grid.
    """
    weights = _weights(out_grid, edges, bandwidth)  # (G, F)

    def smooth(values: np.ndarray, w: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
        return _kernels.kernel_sums(flat, w).reshape(*values.shape[:-1], len(out_grid))

    return smooth(counts, weights), smooth(counts, weights * weights), smooth(d_area, weights)


def _smooth_frame(inputs, out_grid, edges, counts, d_area, h, min_expected_count, min_effective_area) -> pd.DataFrame:
    groups = [*inputs.group_names, ALL]
    ids = [str(i) for i in inputs.contour_ids]
    all_counts = np.concatenate([counts, counts.sum(axis=0, keepdims=True)]).astype(np.float64)  # (C+1, G+1, F)
    all_area = np.concatenate([d_area, d_area.sum(axis=0, keepdims=True)])  # (C+1, F)
    num, var, den = smooth_counts(out_grid, edges, all_counts, all_area[:, None, :], h)  # den: (C+1, 1, G)
    # overall intensity of every point of each contour over the analysed range
    total_area = all_area.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(total_area > 0, all_counts[:, -1, :].sum(axis=1) / total_area, 0.0)
        expected = intensity[:, None, None] * den
        masked = (den <= 0) | (expected < min_expected_count)
        if min_effective_area is not None:
            masked |= den < min_effective_area
        masked = np.broadcast_to(masked, num.shape)
        density = np.where(masked, np.nan, num / den)
        se = np.where(masked, np.nan, np.sqrt(var) / den)
    n_c, n_g, n_d = num.shape
    c_idx, g_idx, d_idx = np.meshgrid(np.arange(n_c), np.arange(n_g), np.arange(n_d), indexing="ij")
    c_idx, g_idx, d_idx = c_idx.ravel(), g_idx.ravel(), d_idx.ravel()
    return pd.DataFrame(
        {
            "contour": np.array([*ids, POOLED], dtype=object)[c_idx],
            "group": np.array(groups, dtype=object)[g_idx],
            "distance": out_grid[d_idx],
            "density": density.ravel(),
            "density_se": se.ravel(),
            "weighted_count": num.ravel(),
            "effective_area": np.broadcast_to(den, num.shape).ravel(),
            "expected_count": np.broadcast_to(expected, num.shape).ravel(),
            "masked": masked.ravel(),
        }
    )


def _weights(out_grid: np.ndarray, edges: np.ndarray, h: float) -> np.ndarray:
    mids = 0.5 * (edges[:-1] + edges[1:])
    u = (out_grid[:, None] - mids[None, :]) / h
    return np.where(np.abs(u) <= KERNEL_CUTOFF, np.exp(-0.5 * u * u), 0.0)


def _store(sdata: Any, result: pd.DataFrame, inputs: Inputs, table_name: str) -> None:
    from spatialdata_plugins.density._table import density_table

    if sdata is None or inputs.contours_name is None:
        raise DensityArgumentError(
            "table_name=... needs a SpatialData object and the contours given by element name (the table annotates "
            "that element)"
        )
    sdata.tables[table_name] = density_table(result, inputs.contours_name, contour_ids=inputs.contour_ids)
