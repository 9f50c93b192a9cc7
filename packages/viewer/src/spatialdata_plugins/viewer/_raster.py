"""Images and labels served as raw-encoded precomputed volumes, every multiscale level as it is stored."""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialdata_plugins.viewer._precomputed import UNIT_SCALE, volume_info

#: largest chunk side served (pixels along x and y)
CHUNK_SIDE = 256

_IMAGE_TYPES = {"uint8", "uint16", "uint32", "int8", "int16", "int32", "float32"}


def element_levels(element: Any) -> list[Any]:
    """The levels of an image or labels element, finest first (a DataArray is one level)."""
    children = getattr(element, "children", None)  # a DataTree: one child per level, scale0 the finest
    if children:
        keys = sorted(children, key=lambda k: int("".join(ch for ch in k if ch.isdigit()) or 0))
        return [next(iter(element[k].ds.data_vars.values())) for k in keys]
    return [element]


class RasterSource:
    """An image or labels element served as a precomputed volume (``x, y, z`` and channels).

    Parameters
    ----------
    element
        A spatialdata image or labels element (``DataArray`` or multiscale ``DataTree``).
    name
        The element's name.
    segmentation
        Serve as a segmentation volume (labels) instead of an image.
    """

    def __init__(self, element: Any, name: str, segmentation: bool = False) -> None:
        self.name = name
        self.segmentation = segmentation
        self.levels = element_levels(element)
        first = self.levels[0]
        dims = tuple(first.dims)
        if "x" not in dims or "y" not in dims:
            raise ValueError(f"element {name!r} has dimensions {dims}, without x and y")
        self.dims = dims
        self.n_channels = int(first.sizes.get("c", 1))
        dtype = np.dtype(first.dtype)
        if segmentation:
            self.dtype = np.dtype("<u8") if dtype.itemsize > 4 else np.dtype("<u4")
            self.data_type = "uint64" if dtype.itemsize > 4 else "uint32"
        elif dtype.name in _IMAGE_TYPES:
            self.dtype = dtype.newbyteorder("<")
            self.data_type = dtype.name
        else:  # float64, int64, bool, ...: served as float32
            self.dtype = np.dtype("<f4")
            self.data_type = "float32"
        self.channel_names = [str(c) for c in first.coords["c"].values] if "c" in dims and "c" in first.coords else []

    def _size(self, level: Any) -> list[int]:
        return [int(level.sizes["x"]), int(level.sizes["y"]), int(level.sizes.get("z", 1))]

    def info(self) -> dict[str, Any]:
        """The volume's ``info``: one scale per stored level, resolutions relative to the finest."""
        base = self._size(self.levels[0])
        scales = []
        for k, level in enumerate(self.levels):
            size = self._size(level)
            resolution = [1e9 * UNIT_SCALE * b / s for b, s in zip(base, size, strict=True)]
            chunk = [min(CHUNK_SIDE, size[0]), min(CHUNK_SIDE, size[1]), 1]
            scales.append({"key": f"s{k}", "size": size, "resolution": resolution, "chunk_sizes": [chunk]})
        return volume_info("segmentation" if self.segmentation else "image", self.data_type, self.n_channels, scales)

    def chunk(self, key: str, bounds: list[tuple[int, int]]) -> bytes | None:
        """Raw chunk ``bounds`` (``[(x0, x1), (y0, y1), (z0, z1)]``) of scale ``key``: ``(c, z, y, x)`` in C order."""
        if not key.startswith("s") or not key[1:].isdigit() or int(key[1:]) >= len(self.levels):
            return None
        level = self.levels[int(key[1:])]
        size = self._size(level)
        if any(not 0 <= a < b <= n for (a, b), n in zip(bounds, size, strict=True)):
            return None
        sel = {"x": slice(*bounds[0]), "y": slice(*bounds[1])}
        if "z" in level.dims:
            sel["z"] = slice(*bounds[2])
        data = np.asarray(level.isel(sel).transpose(*[d for d in ("c", "z", "y", "x") if d in level.dims]).values)
        if "c" not in level.dims:
            data = data[None]
        if "z" not in level.dims:
            data = data[:, None]
        if self.segmentation:
            data = data.astype(np.int64).astype(self.dtype) if data.dtype.kind == "i" else data.astype(self.dtype)
        else:
            data = data.astype(self.dtype, copy=False)
        return np.ascontiguousarray(data).tobytes()

    def value_range(self) -> tuple[float, float]:
        """Display range of channel 0: the 0.5 and 99.5 percentiles of the coarsest level.

        Only its central 1024 x 1024 pixels at most are read, so that a large image without a pyramid is not read
        whole.
        """
        level = self.levels[-1]
        if "c" in level.dims:
            level = level.isel(c=0)
        if "z" in level.dims:
            level = level.isel(z=level.sizes["z"] // 2)
        window = {}
        for axis in ("y", "x"):
            n = int(level.sizes[axis])
            a = max(0, n // 2 - 512)
            window[axis] = slice(a, min(n, a + 1024))
        level = level.isel(window)
        values = np.asarray(level.values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return 0.0, 1.0
        lo, hi = (float(v) for v in np.percentile(finite, [0.5, 99.5]))
        return (lo, hi if hi > lo else lo + 1.0)
