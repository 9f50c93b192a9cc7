"""Register and fuse tiled SpatialData images with multiview-stitcher."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from spatialdata_plugins.core import InvalidArgumentError
from spatialdata_plugins.stitch._bridge import (
    Tile,
    collect_tiles,
    fused_sim_to_element,
    level_for_spacing,
    matrix_to_transformation,
    select_names,
    sims_to_msim,
    tile_to_sims,
)
from spatialdata_plugins.stitch._dask import compute_with_progress, progress_disabled, threads_unless_configured
from spatialdata_plugins.stitch._errors import NoOverlapError, RegistrationError
from spatialdata_plugins.stitch._options import FUSION_METHODS, REGISTRATION_METHODS, TRANSFORMS

ElementsArg = str | re.Pattern[str] | Iterable[str] | None

_KEY = "sdp_stitch"


def label_fusion(transformed_views: np.ndarray, blending_weights: np.ndarray) -> np.ndarray:
    """Fuse label tiles without mixing ids: each output pixel takes the id of the tile it lies deepest inside.

    "Deepest inside" is the tile with the largest blending weight (multiview-stitcher's weights rise from a tile's
    border towards its centre), so in an overlap the border of one tile never wins over the interior of another.
    Used together with nearest-neighbour resampling (``interpolation_order=0``), so every output id is an input id.

    Parameters
    ----------
    transformed_views
        ``(n_views, ...)`` label views resampled to the output chunk, NaN outside each view.
    blending_weights
        ``(n_views, ...)`` blending weights of the views.

    Returns
    -------
    numpy.ndarray
        The fused chunk (NaN where no view has data; multiview-stitcher turns that into 0, the background).
    """
    valid = ~np.isnan(transformed_views)
    score = np.where(valid, np.nan_to_num(blending_weights, nan=0.0), -1.0)
    winner = np.argmax(score, axis=0)
    return np.take_along_axis(transformed_views, winner[None], axis=0)[0]


# ---------------------------------------------------------------------------------------------- arguments


def _per_axis(value: float | dict[str, float] | Sequence[float] | None, axes: tuple[str, ...], what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        missing = [a for a in axes if a not in value]
        extra = [a for a in value if a not in axes]
        if missing or extra:
            raise InvalidArgumentError(f"{what} needs exactly the axes {axes}, got {sorted(value)}")
        out = {a: float(value[a]) for a in axes}
    elif isinstance(value, int | float):
        out = dict.fromkeys(axes, float(value))
    else:
        values = list(value)
        if len(values) != len(axes):
            raise InvalidArgumentError(f"{what} needs one value per axis {axes}, got {values!r}")
        out = dict(zip(axes, map(float, values), strict=True))
    if what != "blending_widths" and any(not v > 0 for v in out.values()):
        raise InvalidArgumentError(f"{what} must be positive, got {out}")
    return out


def _channel_index(tile: Tile, channel: Any) -> int:
    if tile.channels is None:
        return 0
    if channel is None:
        return 0
    names = [str(c) for c in tile.channels]
    if str(channel) in names:
        return names.index(str(channel))
    if isinstance(channel, int) and not isinstance(channel, bool) and 0 <= channel < len(names):
        return channel
    raise InvalidArgumentError(f"channel {channel!r} is not a channel of the tiles; they have {names}")


def _reference_index(tiles: list[Tile], reference: str | None) -> int:
    if reference is None:
        return 0
    names = [t.name for t in tiles]
    if reference not in names:
        raise InvalidArgumentError(f"reference tile {reference!r} is not one of the tiles {names}")
    return names.index(reference)


def _pairwise_function(method: str | Callable[..., Any], transform: str, kwargs: dict[str, Any]) -> Any:
    from multiview_stitcher import registration

    if callable(method):
        return method, kwargs
    if method == "phase_correlation":
        return registration.phase_correlation_registration, kwargs
    if method == "antspy":
        try:
            import ants  # noqa: F401
        except ImportError as exc:
            raise InvalidArgumentError("registration_method='antspy' needs the antspyx package") from exc
        kwargs = {"transform_types": [transform.capitalize()], **kwargs}
        return registration.registration_ANTsPy, kwargs
    if method == "elastix":
        kwargs = {"transform_types": [transform], **kwargs}
        return registration.registration_ITKElastix, kwargs
    raise InvalidArgumentError(
        f"registration_method must be one of {REGISTRATION_METHODS} or a callable, got {method!r}"
    )


def _fusion_function(method: str | Callable[..., Any] | None, kind: str) -> Callable[..., Any]:
    from multiview_stitcher import fusion

    if kind == "labels":
        if method not in (None, "labels"):
            raise InvalidArgumentError(
                f"labels are fused by nearest id (fusion_method=None or 'labels'), not {method!r}: blending or "
                "averaging would invent ids"
            )
        return label_fusion
    if callable(method):
        return method
    functions = {
        None: fusion.weighted_average_fusion,
        "weighted_average": fusion.weighted_average_fusion,
        "average": fusion.simple_average_fusion,
        "max": fusion.max_fusion,
    }
    if method not in functions:
        raise InvalidArgumentError(f"fusion_method must be one of {FUSION_METHODS} or a callable, got {method!r}")
    return functions[method]


def _squeeze_affine(param: Any) -> np.ndarray:
    if isinstance(param, xr.DataArray):
        if "t" in param.dims:
            param = param.isel(t=0)
        param = param.transpose("x_in", "x_out").values
    return np.asarray(param, dtype=float)


# float32 (what multiview-stitcher resamples in) holds integers exactly only up to 2**24: wider label ids are fused as
# 16-bit pieces in separate channels (each channel picks the same winning tile) and put back together afterwards.
_ID_BITS = 16


def _label_parts(dtype: np.dtype) -> int:
    return max(1, dtype.itemsize * 8 // _ID_BITS) if dtype.kind in "iu" and dtype.itemsize > 2 else 1


def _split_label_sim(sim: xr.DataArray, parts: int) -> xr.DataArray:
    """Split a label sim (one channel) into ``parts`` 16-bit channels, keeping its coordinates and transforms."""
    kind = np.dtype(f"u{sim.dtype.itemsize}")
    unsigned = sim.data.view(kind) if sim.dtype.kind == "i" else sim.data
    pieces = [
        sim.copy(data=((unsigned >> kind.type(_ID_BITS * k)) & kind.type(2**_ID_BITS - 1)).astype(np.uint16))
        for k in range(parts)
    ]
    out = xr.concat(pieces, dim="c").assign_coords(c=np.arange(parts))
    out.attrs = copy.deepcopy(sim.attrs)
    return out


def _join_label_sim(sim: xr.DataArray, parts: int, dtype: np.dtype) -> xr.DataArray:
    """Inverse of :func:`_split_label_sim` on the fused image."""
    unsigned = np.dtype(f"u{dtype.itemsize}")
    data = sum(sim.data[:, k : k + 1].astype(unsigned) << unsigned.type(_ID_BITS * k) for k in range(parts))
    joined = sim.isel(c=slice(0, 1)).copy(data=data.view(dtype) if dtype.kind == "i" else data.astype(dtype))
    return joined.assign_coords(c=sim.coords["c"].values[:1])


# ---------------------------------------------------------------------------------------------- registration


def _check_overlap(msims: list[xr.DataTree], tiles: list[Tile], transform_key: str) -> None:
    import networkx as nx
    from multiview_stitcher import mv_graph

    graph = mv_graph.build_view_adjacency_graph_from_msims(msims, transform_key=transform_key)
    if nx.is_connected(graph):
        return
    components = sorted(nx.connected_components(graph), key=lambda c: (-len(c), min(c)))
    groups = ["{" + ", ".join(tiles[i].name for i in sorted(c)) + "}" for c in components]
    raise NoOverlapError(
        f"registration needs every tile to overlap another one, but the tiles fall into {len(components)} groups "
        f"that do not overlap each other: {'; '.join(groups)}. Check their transformations, pass overlapping "
        "tiles only, or fuse without register=True"
    )


def _register_msims(
    msims: list[xr.DataTree],
    tiles: list[Tile],
    *,
    channel: Any,
    method: str | Callable[..., Any],
    transform: str,
    reference: str | None,
    passes: int,
    registration_binning: dict[str, int] | None,
    registration_kwargs: dict[str, Any] | None,
    overlap_tolerance: float | dict[str, float],
    progress: bool | None,
) -> tuple[str, list[np.ndarray]]:
    """Register the msims in place (new transform keys) and return the final key and the world corrections."""
    from multiview_stitcher import mv_graph, registration

    if transform not in TRANSFORMS:
        raise InvalidArgumentError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
    if not isinstance(passes, int) or passes < 1:
        raise InvalidArgumentError(f"registration_passes must be a positive integer, got {passes!r}")
    if len(tiles) < 2:
        raise InvalidArgumentError(f"registration needs at least two tiles, got {[t.name for t in tiles]}")
    pairwise, pairwise_kwargs = _pairwise_function(method, transform, dict(registration_kwargs or {}))
    ref = _reference_index(tiles, reference)
    channel_index = _channel_index(tiles[0], channel)
    _check_overlap(msims, tiles, _KEY)
    corrections = [np.eye(len(tiles[0].spatial_dims) + 1) for _ in tiles]
    key = _KEY
    bar = tqdm(range(passes), desc=f"registering {len(tiles)} tiles", unit="pass", disable=progress_disabled(progress))
    for ipass in bar:
        new_key = f"{_KEY}_registered_{ipass}"
        try:
            params = registration.register(
                msims,
                transform_key=key,
                new_transform_key=new_key,
                reg_channel_index=channel_index,
                registration_binning=registration_binning,
                overlap_tolerance=overlap_tolerance,
                pairwise_reg_func=pairwise,
                pairwise_reg_func_kwargs=pairwise_kwargs,
                groupwise_resolution_kwargs={"reference_view": ref, "transform": transform},
            )
        except mv_graph.NotEnoughOverlapError as exc:
            raise NoOverlapError(f"the tiles do not overlap enough to register them: {exc}") from exc
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
            raise RegistrationError(
                f"multiview-stitcher could not register the tiles (pass {ipass + 1}): {exc}"
            ) from exc
        corrections = [_squeeze_affine(p) @ c for p, c in zip(params, corrections, strict=True)]
        key = new_key
    bar.close()
    return key, corrections


def _prepare(sdata: Any, elements: ElementsArg, coordinate_system: str) -> tuple[list[Tile], list[list[xr.DataArray]]]:
    if not isinstance(coordinate_system, str):
        raise InvalidArgumentError(f"coordinate_system must be a name (str), got {coordinate_system!r}")
    names = select_names(sdata, elements)
    tiles = collect_tiles(sdata, names, coordinate_system)
    return tiles, [tile_to_sims(tile, _KEY) for tile in tiles]


def _write_back(sdata: Any, tiles: list[Tile], matrices: list[np.ndarray], coordinate_system: str) -> dict[str, Any]:
    from spatialdata.transformations import set_transformation

    out = {}
    for tile, matrix in zip(tiles, matrices, strict=True):
        transformation = matrix_to_transformation(matrix, tile.spatial_dims)
        out[tile.name] = transformation
        element = sdata.images[tile.name] if tile.kind == "images" else sdata.labels[tile.name]
        set_transformation(element, transformation, to_coordinate_system=coordinate_system)
    return out


def register_sdata_images(
    sdata: Any,
    elements: ElementsArg = None,
    *,
    coordinate_system: str = "global",
    channel: Any = None,
    registration_method: str | Callable[..., Any] = "phase_correlation",
    transform: str = "translation",
    reference: str | None = None,
    registration_passes: int = 2,
    registration_binning: dict[str, int] | None = None,
    registration_kwargs: dict[str, Any] | None = None,
    overlap_tolerance: float | dict[str, float] = 0.0,
    update_transformations: bool = False,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Refine the placement of overlapping tiles with multiview-stitcher's registration.

    Parameters
    ----------
    sdata
        A SpatialData object holding the tiles as image (or labels) elements.
    elements
        Which elements are tiles: a list of names, a name, a glob pattern (``"fov_*"``), a compiled regular
        expression (full match), or ``None`` for every image element.
    coordinate_system
        The coordinate system every tile is placed in by its transformation.
    channel
        Channel (name, or index) used for registration; ``None`` uses the first channel.
    registration_method
        ``"phase_correlation"`` (default, translation only, no extra dependency), ``"antspy"`` (needs
        ``antspyx``), ``"elastix"`` (needs ``itk-elastix``), or a multiview-stitcher pairwise registration callable.
    transform
        ``"translation"``, ``"rigid"``, ``"similarity"`` or ``"affine"``: the transform type of the global
        resolution (and of the pairwise registrations for ANTsPy and elastix).
    reference
        Name of the tile that stays fixed; ``None`` fixes the first tile.
    registration_passes
        Number of registration passes; each pass starts from the previous result. Phase correlation under-shoots on
        small overlaps and the second pass roughly halves the residual error.
    registration_binning
        Binning per axis during registration (for example ``{"y": 2, "x": 2}``), passed to multiview-stitcher.
    registration_kwargs
        Extra keyword arguments of the pairwise registration function.
    update_transformations
        If ``True``, replace each tile's transformation to ``coordinate_system`` in ``sdata`` (in place) by the
        refined one. If ``False`` (default) ``sdata`` is not modified.
    progress
        Show a progress bar (``None``: only on a terminal).

    Returns
    -------
    dict
        Element name to its refined spatialdata transformation to ``coordinate_system`` (``Scale`` then
        ``Translation`` when the result is axis aligned, ``Affine`` otherwise).

    Raises
    ------
    NoTilesMatchedError
        Nothing matched ``elements``.
    TileMismatchError
        Tiles of different kinds, dimensions, channels or coordinate systems.
    NoOverlapError
        Some tiles do not overlap any other.
    RegistrationError
        multiview-stitcher failed.

    Examples
    --------
    >>> from spatialdata_plugins.stitch import register_sdata_images, synthetic_tiles
    >>> sdata, truth = synthetic_tiles(grid=(2, 2), tile_size=128, seed=0)
    >>> refined = register_sdata_images(sdata, "tile_*", progress=False)
    >>> sorted(refined)
    ['tile_0_0', 'tile_0_1', 'tile_1_0', 'tile_1_1']
    """
    tiles, sims = _prepare(sdata, elements, coordinate_system)
    with threads_unless_configured():
        _, corrections = _register_msims(
            [sims_to_msim(levels) for levels in sims],
            tiles,
            channel=channel,
            method=registration_method,
            transform=transform,
            reference=reference,
            passes=registration_passes,
            registration_binning=registration_binning,
            registration_kwargs=registration_kwargs,
            overlap_tolerance=overlap_tolerance,
            progress=progress,
        )
    matrices = [c @ t.matrix for c, t in zip(corrections, tiles, strict=True)]
    if update_transformations:
        return _write_back(sdata, tiles, matrices, coordinate_system)
    return {t.name: matrix_to_transformation(m, t.spatial_dims) for t, m in zip(tiles, matrices, strict=True)}


# ---------------------------------------------------------------------------------------------- fusion


def default_scale_factors(shape: dict[str, int], min_size: int = 64) -> list[int]:
    """Factors of 2 while the smallest y/x side of the next level stays at least ``min_size`` pixels.

    Parameters
    ----------
    shape
        Spatial shape of the full-resolution image.
    min_size
        Smallest side a level may have.

    Returns
    -------
    list of int
        Scale factors relative to the previous level (possibly none for a small image).
    """
    side = min(shape[a] for a in ("y", "x"))
    factors: list[int] = []
    while side // 2 ** (len(factors) + 1) >= min_size:
        factors.append(2)
    return factors


def _output_properties(
    tiles: list[Tile],
    sims: list[xr.DataArray],
    transform_key: str,
    output_spacing: dict[str, float] | None,
    output_extent: dict[str, tuple[float, float]] | None,
    output_stack_mode: str,
) -> dict[str, dict[str, float]] | None:
    from multiview_stitcher import spatial_image_utils as si_utils

    axes = tiles[0].spatial_dims
    if output_stack_mode not in ("union", "intersection"):
        raise InvalidArgumentError(f"output_stack_mode must be 'union' or 'intersection', got {output_stack_mode!r}")
    if output_spacing is None:
        # the finest spacing of any tile per axis, in the coordinate system's units
        spacings = [si_utils.get_spacing_from_sim(s) for s in sims]
        output_spacing = {a: min(sp[a] for sp in spacings) for a in axes}
    if output_extent is None:
        return {"spacing": output_spacing}
    if set(output_extent) != set(axes):
        raise InvalidArgumentError(
            f"output_extent needs (min, max) for exactly the axes {axes}, got {sorted(output_extent)}"
        )
    origin, shape = {}, {}
    for a in axes:
        lo, hi = (float(v) for v in output_extent[a])
        if not hi > lo:
            raise InvalidArgumentError(f"output_extent[{a!r}] must be (min, max) with max > min, got {(lo, hi)}")
        origin[a] = lo + output_spacing[a] / 2
        shape[a] = max(1, math.ceil((hi - lo) / output_spacing[a] - 1e-9))
    return {"spacing": output_spacing, "origin": origin, "shape": shape}


def fuse_sdata_images(
    sdata: Any,
    elements: ElementsArg = None,
    *,
    coordinate_system: str = "global",
    register: bool = False,
    channel: Any = None,
    registration_method: str | Callable[..., Any] = "phase_correlation",
    transform: str = "translation",
    reference: str | None = None,
    registration_passes: int = 2,
    registration_binning: dict[str, int] | None = None,
    registration_kwargs: dict[str, Any] | None = None,
    overlap_tolerance: float | dict[str, float] = 0.0,
    update_transformations: bool = False,
    output_spacing: float | dict[str, float] | Sequence[float] | None = None,
    output_extent: dict[str, tuple[float, float]] | None = None,
    output_stack_mode: str = "union",
    multiscale: bool | Sequence[int] = False,
    fusion_method: str | Callable[..., Any] | None = None,
    blending_widths: float | dict[str, float] | None = None,
    interpolation_order: int | None = None,
    output_chunksize: int | dict[str, int] | None = None,
    compute: bool = False,
    progress: bool | None = None,
) -> xr.DataArray | xr.DataTree:
    """Fuse tiled image (or labels) elements into one element, optionally registering the tiles first.

    Every tile becomes a multiview-stitcher image carrying its placement in ``coordinate_system`` (spacing and
    origin, plus an affine for rotated or sheared tiles); multiview-stitcher registers and fuses them; the result is
    a SpatialData element placed in ``coordinate_system`` by ``Scale`` then ``Translation``.

    Parameters
    ----------
    sdata
        A SpatialData object holding the tiles. It is not modified unless ``update_transformations=True``.
    elements
        Which elements are tiles: a list of names, a name, a glob pattern (``"fov_*"``), a compiled regular
        expression (full match), or ``None`` for every image element. All must be images, or all labels, with the
        same dimensions (2D or 3D), channels and dtype, single- or multiscale.
    coordinate_system
        The coordinate system the tiles are placed in and the fused element is placed in.
    register
        Refine the tile placement with multiview-stitcher's registration before fusing.
    channel, registration_method, transform, reference, registration_passes, registration_binning, registration_kwargs
        Registration options, see :func:`register_sdata_images`.
    update_transformations
        With ``register=True``: also write the refined transformations back to the tiles in ``sdata`` (in place).
    output_spacing
        Pixel size of the fused image in coordinate-system units: one number, one per axis (dict or sequence in
        ``z, y, x`` order). Default: the finest tile spacing per axis. Multiscale tiles are fused from the coarsest
        level that is still at least as fine as ``output_spacing``.
    output_extent
        ``{axis: (min, max)}`` in coordinate-system units (pixel edges, as spatialdata's bounding boxes); default:
        the union (or intersection) of the tiles.
    output_stack_mode
        ``"union"`` (default) or ``"intersection"`` of the tiles, when ``output_extent`` is not given.
    multiscale
        ``False``: a single-scale ``DataArray``. ``True``: a ``DataTree`` pyramid with factors of 2 down to about
        64 pixels. A list of ints: those scale factors (each relative to the previous level). For 3D images the
        factors apply to y and x; z is halved only while it keeps 64 planes (``True``) or one plane (a list).
    fusion_method
        Images: ``"weighted_average"`` (default, smooth blending at tile borders), ``"average"``, ``"max"``, or a
        multiview-stitcher fusion callable. Labels: always nearest id (``None`` or ``"labels"``).
    blending_widths
        Width of the blending ramp at tile borders in coordinate-system units (one number or per axis);
        multiview-stitcher's default otherwise.
    interpolation_order
        Spline order of the resampling; default 1 (linear) for images, 0 (nearest) for labels, which allow only 0.
    output_chunksize
        Chunk size of the fused dask array (one number or per axis); default: multiview-stitcher's choice.
    compute
        Compute the fused image now (with a progress bar on local schedulers) instead of returning it lazily.
    progress
        Show progress bars (``None``: only on a terminal).

    Returns
    -------
    xarray.DataArray or xarray.DataTree
        The fused element, dask-backed unless ``compute=True``; assign it with ``sdata["fused"] = ...``.

    Raises
    ------
    NoTilesMatchedError
        Nothing matched ``elements``.
    TileMismatchError
        Tiles of different kinds, dimensions, channels, dtypes or coordinate systems.
    NoOverlapError
        ``register=True`` and some tiles do not overlap any other.
    InvalidArgumentError
        An option that cannot work (unknown method, bad extent, interpolation for labels...).

    Examples
    --------
    >>> from spatialdata_plugins.stitch import fuse_sdata_images, synthetic_tiles
    >>> sdata, truth = synthetic_tiles(grid=(2, 2), tile_size=128, seed=0)
    >>> fused = fuse_sdata_images(sdata, "tile_*", register=True, progress=False)
    >>> fused.dims
    ('c', 'y', 'x')
    """
    from multiview_stitcher import fusion, param_utils
    from multiview_stitcher import spatial_image_utils as si_utils

    tiles, tile_sims = _prepare(sdata, elements, coordinate_system)
    kind = tiles[0].kind
    axes = tiles[0].spatial_dims
    fusion_func = _fusion_function(fusion_method, kind)
    if interpolation_order is None:
        interpolation_order = 0 if kind == "labels" else 1
    if kind == "labels" and interpolation_order != 0:
        raise InvalidArgumentError(
            f"labels are resampled by nearest neighbour only (interpolation_order=0), got {interpolation_order}"
        )
    spacing = _per_axis(output_spacing, axes, "output_spacing")
    widths = _per_axis(blending_widths, axes, "blending_widths")
    if update_transformations and not register:
        raise InvalidArgumentError("update_transformations=True needs register=True")
    if multiscale is True:
        scale_factors: list[int] | None = []  # decided once the output shape is known
    elif multiscale is False or multiscale is None:
        scale_factors = None
    else:
        scale_factors = [int(f) for f in multiscale]
        if not scale_factors or any(f < 2 for f in scale_factors):
            raise InvalidArgumentError(f"multiscale scale factors must be integers >= 2, got {list(multiscale)}")

    with threads_unless_configured():
        key = _KEY
        if register:
            new_key, corrections = _register_msims(
                [sims_to_msim(levels) for levels in tile_sims],
                tiles,
                channel=channel,
                method=registration_method,
                transform=transform,
                reference=reference,
                passes=registration_passes,
                registration_binning=registration_binning,
                registration_kwargs=registration_kwargs,
                overlap_tolerance=overlap_tolerance,
                progress=progress,
            )
            for levels, correction in zip(tile_sims, corrections, strict=True):
                for sim in levels:
                    base = si_utils.get_affine_from_sim(sim, transform_key=_KEY)
                    si_utils.set_sim_affine(
                        sim, param_utils.affine_to_xaffine(correction @ _squeeze_affine(base)), new_key
                    )
            key = new_key

        levels = [level_for_spacing(t, spacing) if spacing is not None else 0 for t in tiles]
        sims = [tile_levels[lvl] for tile_levels, lvl in zip(tile_sims, levels, strict=True)]
        properties = _output_properties(tiles, sims, key, spacing, output_extent, output_stack_mode)
        parts = _label_parts(np.dtype(tiles[0].dtype)) if kind == "labels" else 1
        if parts > 1:
            sims = [_split_label_sim(sim, parts) for sim in sims]
        fused = fusion.fuse(
            sims,
            transform_key=key,
            fusion_func=fusion_func,
            output_spacing=properties["spacing"],
            output_origin=properties.get("origin"),
            output_shape=properties.get("shape"),
            output_stack_mode=output_stack_mode,
            output_chunksize=output_chunksize,
            interpolation_order=interpolation_order,
            blending_widths=widths,
        )
        if parts > 1:
            fused = _join_label_sim(fused, parts, np.dtype(tiles[0].dtype))
    if register and update_transformations:
        # only once the fusion is set up, so that a bad output option leaves the tiles as they were
        _write_back(sdata, tiles, [c @ t.matrix for c, t in zip(corrections, tiles, strict=True)], coordinate_system)
    if compute:
        fused = fused.copy(data=compute_with_progress(fused.data, f"fusing {len(tiles)} tiles", progress))
    shape = {a: int(fused.sizes[a]) for a in axes}
    if scale_factors == []:
        scale_factors = default_scale_factors(shape) or [2]
        return fused_sim_to_element(fused, tiles[0], coordinate_system, _with_z(scale_factors, shape, 64))
    return fused_sim_to_element(fused, tiles[0], coordinate_system, _with_z(scale_factors, shape, 1))


def _with_z(scale_factors: list[int] | None, shape: dict[str, int], min_z: int) -> list[Any] | None:
    """Per-axis pyramid factors for 3D: z is only halved while it keeps ``min_z`` planes (thin stacks stay whole).

    The factors apply to y and x as given; a z stack of a few planes cannot be divided like the y/x plane.
    """
    if scale_factors is None or "z" not in shape:
        return scale_factors
    out: list[Any] = []
    z = shape["z"]
    for factor in scale_factors:
        zf = factor if z // factor >= min_z else 1
        z //= zf
        out.append({"z": zf, "y": factor, "x": factor})
    return out
