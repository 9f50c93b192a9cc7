"""Seeded synthetic tiles cut from a known textured image, with known offsets and perturbed stage positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TileTruth:
    """What :func:`synthetic_tiles` knows about the tiles it made.

    Attributes
    ----------
    image
        The full image the tiles were cut from, ``(c, [z,] y, x)``.
    labels
        The full label image, ``([z,] y, x)``, or ``None``.
    offsets
        Tile name to its true offset in pixels of the full image (``[z,] y, x`` order).
    stage
        Tile name to its perturbed stage position in pixels (what the tile's transformation says).
    pixel_size
        Size of a pixel in coordinate-system units.
    origin
        Position of the full image's pixel ``0`` corner in the coordinate system.
    """

    image: np.ndarray
    labels: np.ndarray | None
    offsets: dict[str, np.ndarray] = field(default_factory=dict)
    stage: dict[str, np.ndarray] = field(default_factory=dict)
    pixel_size: float = 1.0
    origin: float = 0.0


def textured_image(shape: tuple[int, ...], seed: int = 0, n_channels: int = 1) -> np.ndarray:
    """A seeded, textured ``uint16`` image: band-limited noise at several scales, one image per channel.

    Parameters
    ----------
    shape
        Spatial shape.
    seed
        Random seed.
    n_channels
        Number of channels.

    Returns
    -------
    numpy.ndarray
        ``(n_channels, *shape)`` ``uint16`` image.
    """
    rng = np.random.default_rng(seed)
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij")
    radius2 = sum(f**2 for f in freqs)
    out = []
    for _ in range(n_channels):
        spectrum = np.fft.fftn(rng.standard_normal(shape))
        image = np.zeros(shape)
        for sigma in (1.0, 2.5, 6.0):
            # a Gaussian low-pass in Fourier space (no scipy needed)
            kernel = np.exp(-2 * (np.pi * sigma) ** 2 * radius2)
            part = np.fft.ifftn(spectrum * kernel).real
            image += part / part.std()
        image = (image - image.min()) / (image.max() - image.min())
        out.append((image * 60000 + 1000).astype(np.uint16))
    return np.stack(out)


def label_image(shape: tuple[int, ...], cell: int = 12) -> np.ndarray:
    """A label image of square cells (ids 1..n) on a checkerboard with background 0.

    Parameters
    ----------
    shape
        Spatial shape.
    cell
        Cell size in pixels.

    Returns
    -------
    numpy.ndarray
        ``uint32`` labels.
    """
    index = np.meshgrid(*[np.arange(n) // cell for n in shape], indexing="ij")
    n_per_axis = [n // cell + 1 for n in shape]
    ids = np.ravel_multi_index(index, n_per_axis) + 1
    checker = sum(index) % 2 == 0
    return np.where(checker, ids, 0).astype(np.uint32)


def synthetic_tiles(
    grid: tuple[int, ...] = (2, 2),
    tile_size: int | tuple[int, ...] = 256,
    overlap: float = 0.2,
    jitter: float = 3.0,
    channels: tuple[str, ...] = ("DAPI",),
    pixel_size: float = 1.0,
    origin: float = 0.0,
    labels: bool = False,
    multiscale: bool = False,
    coordinate_system: str = "global",
    seed: int = 0,
) -> tuple[Any, TileTruth]:
    """Cut overlapping tiles from a seeded textured image and place them at perturbed stage positions.

    Tile ``tile_<i>_<j>`` (``tile_<k>_<i>_<j>`` in 3D) is cut at a known integer offset; its transformation to
    ``coordinate_system`` is ``Scale(pixel_size)`` then ``Translation((stage + origin) ...)``, where the stage
    position is the true offset plus a seeded uniform perturbation of up to ``jitter`` pixels per axis (the first
    tile is not perturbed, so it can serve as the registration reference).

    Parameters
    ----------
    grid
        Tiles per axis, ``(ny, nx)`` or ``(nz, ny, nx)``.
    tile_size
        Tile side in pixels (one number or per axis).
    overlap
        Fraction of a tile shared with its neighbour.
    jitter
        Largest stage perturbation in pixels.
    channels
        Channel names of the image tiles.
    pixel_size
        Pixel size in coordinate-system units.
    origin
        Coordinate of the full image's corner on every axis.
    labels
        Also add label tiles ``labels_<i>_<j>`` at the same positions.
    multiscale
        Store the image tiles as two-level pyramids.
    coordinate_system
        Name of the coordinate system.
    seed
        Random seed of the texture and the perturbations.

    Returns
    -------
    tuple
        ``(sdata, truth)``: a :class:`spatialdata.SpatialData` and a :class:`TileTruth`.

    Examples
    --------
    >>> sdata, truth = synthetic_tiles(grid=(2, 2), tile_size=64, seed=1)
    >>> sorted(sdata.images)
    ['tile_0_0', 'tile_0_1', 'tile_1_0', 'tile_1_1']
    """
    from spatialdata import SpatialData
    from spatialdata.models import Image2DModel, Image3DModel, Labels2DModel, Labels3DModel
    from spatialdata.transformations import Scale, Sequence, Translation

    ndim = len(grid)
    if ndim not in (2, 3):
        raise ValueError(f"grid must have 2 or 3 entries, got {grid}")
    axes = ("z", "y", "x")[-ndim:]
    sizes = np.broadcast_to(np.asarray(tile_size, dtype=int), (ndim,))
    step = np.maximum(1, np.round(sizes * (1 - overlap)).astype(int))
    margin = int(np.ceil(jitter)) + 2
    full = tuple(int(s * (g - 1) + t + 2 * margin) for s, g, t in zip(step, grid, sizes, strict=True))
    rng = np.random.default_rng(seed + 1)
    image = textured_image(full, seed=seed, n_channels=len(channels))
    label = label_image(full) if labels else None
    truth = TileTruth(image=image, labels=label, pixel_size=pixel_size, origin=origin)
    images, label_elements = {}, {}
    image_model = Image3DModel if ndim == 3 else Image2DModel
    labels_model = Labels3DModel if ndim == 3 else Labels2DModel
    for index in np.ndindex(*grid):
        suffix = "_".join(map(str, index))
        offset = margin + np.asarray(index) * step
        perturbation = np.zeros(ndim) if not any(index) else rng.uniform(-jitter, jitter, ndim)
        stage = offset + perturbation
        truth.offsets[f"tile_{suffix}"] = offset.astype(float)
        truth.stage[f"tile_{suffix}"] = stage
        window = tuple(slice(o, o + s) for o, s in zip(offset, sizes, strict=True))
        transformation = Sequence(
            [
                Scale([pixel_size] * ndim, axes=axes),
                Translation((stage * pixel_size + origin).tolist(), axes=axes),
            ]
        )
        images[f"tile_{suffix}"] = image_model.parse(
            image[(slice(None), *window)].copy(),
            dims=("c", *axes),
            c_coords=list(channels),
            transformations={coordinate_system: transformation},
            scale_factors=[2] if multiscale else None,
        )
        if label is not None:
            label_elements[f"labels_{suffix}"] = labels_model.parse(
                label[window].copy(), dims=axes, transformations={coordinate_system: transformation}
            )
    return SpatialData(images=images, labels=label_elements), truth
