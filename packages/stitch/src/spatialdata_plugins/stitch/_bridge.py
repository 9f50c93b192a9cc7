"""The SpatialData <-> multiview-stitcher bridge: tiles, affines, pixel centres and fused elements.

Conventions
-----------
SpatialData: a raster element's transformation maps *intrinsic* coordinates to a coordinate system, and pixel ``i``
covers ``[i, i + 1)`` intrinsically, so its centre is at ``i + 0.5``.

multiview-stitcher: an image's pixel ``i`` has its centre at ``origin + i * spacing`` in the image's *physical* frame,
and an affine (one per transform key) maps that frame to the extrinsic (world) frame.

For a tile with intrinsic-to-world matrix ``M = [L | t]`` we factor ``L = R @ diag(s)`` with ``s`` the column norms,
and give multiview-stitcher ``spacing = s``. If ``R`` is the identity the tile is axis aligned: ``origin = t + s / 2``
and the affine is the identity, so spacing and origin carry everything (multiview-stitcher then picks a sensible
default output spacing). Otherwise ``origin = s / 2`` and the affine is ``[R | t]``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from spatialdata_plugins.core import InvalidArgumentError
from spatialdata_plugins.stitch._errors import NoTilesMatchedError, TileMismatchError

SPATIAL_ORDER = ("z", "y", "x")
_ATOL = 1e-9


@dataclass
class Tile:
    """One image or labels element prepared for multiview-stitcher.

    Attributes
    ----------
    name
        Element name in the SpatialData object.
    kind
        ``"images"`` or ``"labels"``.
    spatial_dims
        ``("y", "x")`` or ``("z", "y", "x")``.
    channels
        Channel coordinates (images) or ``None`` (labels).
    levels
        ``(data, matrix)`` per resolution level, finest first: the level's ``xarray.DataArray`` and its
        intrinsic-to-coordinate-system matrix in ``spatial_dims`` order.
    dtype
        The element's dtype.
    """

    name: str
    kind: str
    spatial_dims: tuple[str, ...]
    channels: list[Any] | None
    levels: list[tuple[xr.DataArray, np.ndarray]]
    dtype: np.dtype

    @property
    def matrix(self) -> np.ndarray:
        """Intrinsic-to-coordinate-system matrix of the finest level."""
        return self.levels[0][1]

    @property
    def shape(self) -> dict[str, int]:
        """Spatial shape of the finest level."""
        data = self.levels[0][0]
        return {dim: int(data.sizes[dim]) for dim in self.spatial_dims}


def _names(channels: list[Any] | None) -> list[Any] | None:
    """Channel names as plain Python values (for readable messages)."""
    return None if channels is None else [c.item() if isinstance(c, np.generic) else c for c in channels]


def _element_kind(sdata: Any, name: str) -> str | None:
    if name in sdata.images:
        return "images"
    if name in sdata.labels:
        return "labels"
    return None


def select_names(sdata: Any, elements: str | re.Pattern[str] | Iterable[str] | None) -> list[str]:
    """Resolve ``elements`` (names, a glob or regular expression, or ``None`` for all images) to element names.

    Parameters
    ----------
    sdata
        The SpatialData object.
    elements
        A list of names; a string that is an element name, or a glob pattern (``"tile_*"``); a compiled regular
        expression (matched with ``fullmatch``); or ``None`` for every image element.

    Returns
    -------
    list of str
        The selected names, in the given order (patterns: sorted).

    Raises
    ------
    NoTilesMatchedError
        If nothing matched or a listed name is not an image or labels element.
    """
    raster = list(sdata.images) + list(sdata.labels)
    if elements is None:
        names = sorted(sdata.images)
        what = "elements=None (all images)"
    elif isinstance(elements, re.Pattern):
        names = sorted(n for n in raster if elements.fullmatch(n))
        what = f"regular expression {elements.pattern!r}"
    elif isinstance(elements, str):
        names = [elements] if elements in raster else sorted(fnmatch.filter(raster, elements))
        what = f"pattern {elements!r}"
    else:
        names = list(elements)
        if not all(isinstance(n, str) for n in names):
            raise InvalidArgumentError(f"elements must be names (str), got {names!r}")
        missing = [n for n in names if n not in raster]
        if missing:
            raise NoTilesMatchedError(
                f"{', '.join(map(repr, missing))} not found among the image and labels elements "
                f"({', '.join(raster) or 'none'})"
            )
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"elements lists a name twice: {names!r}")
        what = f"names {names!r}"
    if not names:
        raise NoTilesMatchedError(
            f"no image or labels element matched {what}; available: {', '.join(raster) or 'none'}"
        )
    return names


def _levels(element: Any) -> list[xr.DataArray]:
    if isinstance(element, xr.DataTree):
        out = []
        for key in sorted(element.children, key=lambda k: int(k.removeprefix("scale"))):
            variables = list(element[key].ds.data_vars.values())
            out.append(variables[0])
        return out
    return [element]


def element_matrix(data: xr.DataArray, coordinate_system: str, spatial_dims: tuple[str, ...], name: str) -> np.ndarray:
    """Return the intrinsic-to-``coordinate_system`` affine matrix of one raster level in ``spatial_dims`` order.

    Parameters
    ----------
    data
        A raster element (or one level of a multiscale element).
    coordinate_system
        Target coordinate system.
    spatial_dims
        Axes of the matrix, e.g. ``("y", "x")``.
    name
        Element name, for error messages.

    Returns
    -------
    numpy.ndarray
        ``(n + 1, n + 1)`` homogeneous matrix.

    Raises
    ------
    TileMismatchError
        If the element has no transformation to ``coordinate_system`` or it is not invertible in its spatial axes.
    """
    from spatialdata.transformations import get_transformation

    transformations = get_transformation(data, get_all=True)
    if coordinate_system not in transformations:
        raise TileMismatchError(
            f"element {name!r} has no transformation to coordinate system {coordinate_system!r}; it is in "
            f"{', '.join(map(repr, transformations)) or 'none'}. All tiles must share the coordinate system."
        )
    matrix = np.asarray(
        transformations[coordinate_system].to_affine_matrix(input_axes=spatial_dims, output_axes=spatial_dims),
        dtype=float,
    )
    if abs(np.linalg.det(matrix[:-1, :-1])) < 1e-12:
        raise TileMismatchError(
            f"the transformation of {name!r} to {coordinate_system!r} is not invertible on axes {spatial_dims}"
        )
    return matrix


def collect_tiles(sdata: Any, names: Sequence[str], coordinate_system: str) -> list[Tile]:
    """Check that the named elements can be stitched together and describe them as :class:`Tile` objects.

    Parameters
    ----------
    sdata
        The SpatialData object.
    names
        Element names (see :func:`select_names`).
    coordinate_system
        The coordinate system all tiles must be placed in.

    Returns
    -------
    list of Tile
        One per name, in order.

    Raises
    ------
    TileMismatchError
        Mixed images and labels, 2D and 3D, different channels or dtypes, or a tile outside the coordinate system.
    """
    tiles = []
    for name in names:
        kind = _element_kind(sdata, name)
        element = sdata.images[name] if kind == "images" else sdata.labels[name]
        levels = _levels(element)
        dims = tuple(levels[0].dims)
        spatial_dims = tuple(d for d in SPATIAL_ORDER if d in dims)
        channels = list(levels[0].coords["c"].values) if "c" in dims else None
        matrices = [element_matrix(level, coordinate_system, spatial_dims, name) for level in levels]
        tiles.append(
            Tile(name, kind, spatial_dims, channels, list(zip(levels, matrices, strict=True)), levels[0].dtype)
        )
    first = tiles[0]
    for tile in tiles[1:]:
        if tile.kind != first.kind:
            raise TileMismatchError(
                f"cannot stitch {first.kind} and {tile.kind} together: {first.name!r} is {first.kind[:-1]}, "
                f"{tile.name!r} is {tile.kind[:-1]}; fuse images and labels in separate calls"
            )
        if tile.spatial_dims != first.spatial_dims:
            raise TileMismatchError(
                f"tiles differ in dimensions: {first.name!r} has {first.spatial_dims}, {tile.name!r} has "
                f"{tile.spatial_dims}; 2D and 3D tiles cannot be fused together"
            )
        if tile.channels != first.channels:
            raise TileMismatchError(
                f"tiles differ in channels: {first.name!r} has {_names(first.channels)}, {tile.name!r} has "
                f"{_names(tile.channels)}; "
                "every tile needs the same channels in the same order"
            )
        if tile.dtype != first.dtype:
            raise TileMismatchError(
                f"tiles differ in dtype: {first.name!r} is {first.dtype}, {tile.name!r} is {tile.dtype}; cast them "
                "to one dtype first"
            )
    return tiles


def spacing_origin_affine(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factor an intrinsic-to-world matrix into multiview-stitcher's spacing, origin and affine.

    Parameters
    ----------
    matrix
        ``(n + 1, n + 1)`` SpatialData intrinsic-to-world matrix.

    Returns
    -------
    tuple of numpy.ndarray
        ``spacing`` (n,), ``origin`` (n,) of pixel 0's centre, and the ``(n + 1, n + 1)`` affine from the physical
        frame to the world (identity for axis-aligned tiles).
    """
    n = matrix.shape[0] - 1
    linear, translation = matrix[:n, :n], matrix[:n, n]
    spacing = np.linalg.norm(linear, axis=0)
    rotation = linear / spacing
    affine = np.eye(n + 1)
    if np.allclose(rotation, np.eye(n), atol=_ATOL):
        origin = translation + spacing / 2
    else:
        origin = spacing / 2
        affine[:n, :n] = rotation
        affine[:n, n] = translation
    return spacing, origin, affine


def tile_to_sims(tile: Tile, transform_key: str) -> list[xr.DataArray]:
    """Build one multiview-stitcher image per resolution level of a tile, keeping the data lazy (dask).

    Parameters
    ----------
    tile
        The tile.
    transform_key
        multiview-stitcher transform key the placement is stored under.

    Returns
    -------
    list of xarray.DataArray
        Finest level first.
    """
    from multiview_stitcher import spatial_image_utils as si_utils

    sims = []
    for data, matrix in tile.levels:
        spacing, origin, affine = spacing_origin_affine(matrix)
        array = data.data if isinstance(data.data, da.Array) else da.from_array(data.data, chunks="auto")
        sims.append(
            si_utils.get_sim_from_array(
                array,
                dims=list(data.dims),
                scale=dict(zip(tile.spatial_dims, spacing.tolist(), strict=True)),
                translation=dict(zip(tile.spatial_dims, origin.tolist(), strict=True)),
                affine=affine,
                transform_key=transform_key,
                c_coords=tile.channels,
            )
        )
    return sims


def sims_to_msim(sims: list[xr.DataArray]) -> xr.DataTree:
    """Assemble a tile's levels into a multiview-stitcher multiscale image (what registration takes).

    Parameters
    ----------
    sims
        The tile's levels, finest first (see :func:`tile_to_sims`).

    Returns
    -------
    xarray.DataTree
        The multiscale image.
    """
    from multiview_stitcher import msi_utils

    if len(sims) == 1:
        return msi_utils.get_msim_from_sim(sims[0], scale_factors=[])
    return msi_utils.get_msim_from_sims(sims)


def level_for_spacing(tile: Tile, spacing: dict[str, float]) -> int:
    """Index of the coarsest level of a tile whose pixels are still at least as fine as ``spacing`` on every axis.

    Parameters
    ----------
    tile
        The tile.
    spacing
        Output spacing per axis.

    Returns
    -------
    int
        The level index (0 when no coarser level is fine enough).
    """
    best = 0
    for index, (_, matrix) in enumerate(tile.levels):
        level_spacing, _, _ = spacing_origin_affine(matrix)
        if all(s <= spacing[a] * (1 + 1e-6) for s, a in zip(level_spacing, tile.spatial_dims, strict=True)):
            best = index
    return best


def world_matrix_from_physical(tile: Tile, physical_to_world: np.ndarray) -> np.ndarray:
    """Turn a multiview-stitcher physical-to-world affine of a tile back into a SpatialData intrinsic matrix.

    Parameters
    ----------
    tile
        The tile (its finest level defines spacing and origin).
    physical_to_world
        The ``(n + 1, n + 1)`` affine multiview-stitcher holds for the tile.

    Returns
    -------
    numpy.ndarray
        Intrinsic-to-world matrix (pixel centres at ``i + 0.5``).
    """
    spacing, origin, _ = spacing_origin_affine(tile.matrix)
    n = len(spacing)
    intrinsic_to_physical = np.eye(n + 1)
    intrinsic_to_physical[:n, :n] = np.diag(spacing)
    intrinsic_to_physical[:n, n] = origin - spacing / 2
    return physical_to_world @ intrinsic_to_physical


def matrix_to_transformation(matrix: np.ndarray, axes: tuple[str, ...]) -> Any:
    """Express a matrix as a spatialdata transformation: ``Scale`` then ``Translation``, or ``Affine``.

    Parameters
    ----------
    matrix
        ``(n + 1, n + 1)`` homogeneous matrix in ``axes`` order.
    axes
        Spatial axes.

    Returns
    -------
    spatialdata.transformations.BaseTransformation
        The transformation.
    """
    from spatialdata.transformations import Affine, Scale, Translation
    from spatialdata.transformations import Sequence as TSequence

    n = len(axes)
    linear, translation = matrix[:n, :n], matrix[:n, n]
    if np.allclose(linear, np.diag(np.diag(linear)), atol=_ATOL):
        return TSequence([Scale(np.diag(linear).tolist(), axes=axes), Translation(translation.tolist(), axes=axes)])
    return Affine(matrix.tolist(), input_axes=axes, output_axes=axes)


def fused_sim_to_element(
    sim: xr.DataArray,
    tile: Tile,
    coordinate_system: str,
    scale_factors: list[int] | None,
) -> xr.DataArray | xr.DataTree:
    """Turn a fused multiview-stitcher image into a SpatialData image or labels element placed in the coordinate system.

    Parameters
    ----------
    sim
        The fused image (dims ``t, c, [z,] y, x``), axis aligned in the world frame.
    tile
        A tile of the fusion, for kind, axes and channels.
    coordinate_system
        Coordinate system the element is placed in.
    scale_factors
        Pyramid scale factors, or ``None`` for a single-scale element.

    Returns
    -------
    xarray.DataArray or xarray.DataTree
        A validated SpatialData element (dask-backed).
    """
    from multiview_stitcher import spatial_image_utils as si_utils
    from spatialdata.models import Image2DModel, Image3DModel, Labels2DModel, Labels3DModel

    sdims = tile.spatial_dims
    spacing = si_utils.get_spacing_from_sim(sim, asarray=True)
    origin = si_utils.get_origin_from_sim(sim, asarray=True)
    sim = sim.isel(t=0)
    n = len(sdims)
    matrix = np.eye(n + 1)
    matrix[:n, :n] = np.diag(spacing)
    matrix[:n, n] = origin - spacing / 2
    transformation = matrix_to_transformation(matrix, sdims)
    if tile.kind == "labels":
        model = Labels3DModel if n == 3 else Labels2DModel
        data = sim.isel(c=0).data
        return model.parse(
            data, dims=sdims, transformations={coordinate_system: transformation}, scale_factors=scale_factors
        )
    model = Image3DModel if n == 3 else Image2DModel
    return model.parse(
        sim.data,
        dims=("c", *sdims),
        c_coords=tile.channels,
        transformations={coordinate_system: transformation},
        scale_factors=scale_factors,
    )
