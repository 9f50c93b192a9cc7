"""Built-in container types: shapes, points, images, labels and tables from common file formats."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from spatialdata_plugins.lazy_containers._base import LazyContainer
from spatialdata_plugins.lazy_containers._errors import (
    ColumnMappingError,
    ContainerLoadError,
    ContainerValidationError,
    InvalidContainerError,
)
from spatialdata_plugins.lazy_containers._fs import filesystem, is_url
from spatialdata_plugins.lazy_containers._types import _register_builtin

# ------------------------------------------------------------------------------------------------ shapes


class _ShapesContainer(LazyContainer):
    element_type = "shapes"
    validated_by_parse = True

    def __init__(self, location: Any, key: str | None = None, *, radius: float | str | None = None, **kwargs: Any):
        super().__init__(location, key, **kwargs)
        if radius is not None and not isinstance(radius, int | float | str):
            raise InvalidContainerError(f"{self._who()}: radius must be a number or a column name, got {radius!r}")
        self.radius = radius

    def params(self) -> dict[str, Any]:
        return {"radius": self.radius}

    def to_element(self, raw: Any) -> Any:
        """Validate with ``ShapesModel``; point geometries get their ``radius`` from a number or a column."""
        from spatialdata.models import ShapesModel

        if isinstance(self.radius, str):
            if self.radius not in raw.columns:
                raise ColumnMappingError(
                    self._problem(f"radius column {self.radius!r} is not in the file; columns: {list(raw.columns)}")
                )
            raw = raw.assign(radius=raw[self.radius])
        elif self.radius is not None:
            raw = raw.assign(radius=float(self.radius))
        return ShapesModel.parse(raw, transformations=self.transformations())


@_register_builtin
class ParquetShapesContainer(_ShapesContainer):
    """Shapes from a GeoParquet file (polygons, multipolygons, or points with a radius), read with geopandas.

    Parameters
    ----------
    location
        Path or fsspec URL of the ``.parquet`` file.
    key
        Element name.
    radius
        For point geometries: a radius for all circles, or the name of a column holding them.
    **kwargs
        Common options of :class:`LazyContainer` (``storage_options``, ``transformation``...).

    Examples
    --------
    >>> c = ParquetShapesContainer("/data/cells.parquet", key="cells")
    >>> c.describe()
    '[lazy] ParquetShapes @ /data/cells.parquet'
    """

    type_name = "ParquetShapes"

    def read_raw(self) -> Any:
        """Read the GeoParquet file."""
        import geopandas as gpd

        if is_url(self.location):
            fs, path = filesystem(self.location, self.open_options())
            return gpd.read_parquet(path, filesystem=fs)
        return gpd.read_parquet(self.location)


@_register_builtin
class GeoJSONShapesContainer(_ShapesContainer):
    """Shapes from a GeoJSON file, read with geopandas (pyogrio).

    Parameters
    ----------
    location
        Path or fsspec URL of the ``.geojson`` file.
    key
        Element name.
    radius
        For point geometries: a radius for all circles, or the name of a property holding them.
    **kwargs
        Common options of :class:`LazyContainer`.
    """

    type_name = "GeoJSONShapes"

    def read_raw(self) -> Any:
        """Read the GeoJSON file."""
        import fsspec
        import geopandas as gpd

        if is_url(self.location):
            with fsspec.open(self.location, "rb", **self.open_options()) as fh:
                return gpd.read_file(fh.read())
        if not os.path.isfile(self.location):
            raise FileNotFoundError(self.location)
        return gpd.read_file(self.location)


# ------------------------------------------------------------------------------------------------ points

_POINT_ROLES = ("x", "y", "z", "gene", "instance")
POINTS_PER_PARTITION = 5_000_000
LAZY_POINTS_BYTES = 256 * 2**20
"""Parquet points files at least this large are read lazily by default (``lazy=None``)."""


class _PointsContainer(LazyContainer):
    element_type = "points"
    validated_by_parse = True

    def __init__(self, location: Any, key: str | None = None, *, columns: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(location, key, **kwargs)
        columns = dict(columns or {})
        unknown = sorted(set(columns) - set(_POINT_ROLES))
        if unknown:
            raise InvalidContainerError(
                f"{self._who()}: column mapping keys must be among {_POINT_ROLES}, got unknown keys {unknown}"
            )
        if not all(isinstance(v, str) and v for v in columns.values()):
            raise InvalidContainerError(f"{self._who()}: column mapping values must be column names: {columns}")
        shared = sorted({v for v in columns.values() if list(columns.values()).count(v) > 1})
        if shared:
            raise InvalidContainerError(
                f"{self._who()}: column mapping uses {shared} for more than one role: {columns}"
            )
        self.columns = columns

    def params(self) -> dict[str, Any]:
        return {"columns": dict(self.columns)}

    def mapping(self) -> dict[str, str]:
        """Role to file column, with the defaults ``x``, ``y`` (and ``z`` when present) filled in."""
        return {"x": "x", "y": "y", **self.columns}

    def check_columns(self, available: list[str]) -> dict[str, str]:
        """The mapping restricted to what the file has; raise :class:`ColumnMappingError` for missing columns."""
        mapping = self.mapping()
        if "z" not in self.columns and "z" in available:
            mapping["z"] = "z"
        missing = {role: col for role, col in mapping.items() if col not in available}
        if missing:
            text = ", ".join(f"{role} -> {col!r}" for role, col in missing.items())
            raise ColumnMappingError(
                self._problem(f"the column mapping does not match the file: {text} not found; columns: {available}")
            )
        return mapping

    def to_element(self, raw: Any) -> Any:
        """Map the columns, make the gene column categorical with known categories, validate with ``PointsModel``.

        The frame is built directly in its final layout (coordinates renamed to ``x``, ``y``, ``z``, other columns
        kept) instead of through ``PointsModel.parse``, which would copy every column once more and hash the data.
        """
        import dask.dataframe as dd
        import pandas as pd
        from spatialdata.models import PointsModel
        from spatialdata.transformations import set_transformation

        mapping = self.check_columns(list(raw.columns))
        coords = {axis: mapping[axis] for axis in ("x", "y", "z") if axis in mapping}
        clashes = [c for c in ("x", "y", "z") if c in raw.columns and c not in coords.values()]
        if clashes:  # unmapped columns carrying an axis name would shadow the mapped coordinates
            raw = raw.drop(columns=clashes)
        raw = raw.rename(columns={col: axis for axis, col in coords.items() if col != axis})
        for axis in coords:
            if not pd.api.types.is_numeric_dtype(raw[axis].dtype) or pd.api.types.is_bool_dtype(raw[axis].dtype):
                raise ColumnMappingError(
                    self._problem(f"coordinate {axis} -> {coords[axis]!r} is not numeric ({raw[axis].dtype})")
                )
        gene = mapping.get("gene")
        if not isinstance(raw, dd.DataFrame):
            if gene is not None and not isinstance(raw[gene].dtype, pd.CategoricalDtype):
                raw[gene] = raw[gene].astype("category")
            raw = _dask_from_frame(raw)
        elif gene is not None and not (isinstance(raw[gene].dtype, pd.CategoricalDtype) and _known(raw[gene])):
            # known categories without a pass over the whole file: only the gene column is read (parquet column
            # projection), and each partition then just re-labels its codes
            column = raw[gene]
            values = column.dropna().unique().compute()
            if isinstance(column.dtype, pd.CategoricalDtype):
                column = column.cat.set_categories(pd.Index(values).unique().sort_values())
            else:
                # categories of the dtype pandas infers for these values (``str`` for text, as an eager read and
                # ``PointsModel.parse`` give), not of dask's intermediate string dtype
                categories = pd.Index(values.tolist()).unique().sort_values()
                column = column.astype(pd.CategoricalDtype(categories))
            raw = raw.assign(**{gene: column})
        order = [*coords, *(c for c in raw.columns if c not in coords)]
        if list(raw.columns) != order:
            raw = raw[order]
        attrs = {k: v for k, v in {"feature_key": gene, "instance_key": mapping.get("instance")}.items() if v}
        if attrs:
            raw.attrs[PointsModel.ATTRS_KEY] = attrs
        set_transformation(raw, self.transformations(), set_all=True)
        PointsModel.validate(raw)
        return raw


class _FrameSlices:
    """Rows ``start:stop`` of an in-memory frame; tokenised by identity so dask does not hash the data."""

    def __init__(self, frame: Any) -> None:
        import uuid

        self.frame = frame
        self.token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> str:
        return self.token

    def __call__(self, bounds: tuple[int, int]) -> Any:
        return self.frame.iloc[bounds[0] : bounds[1]]


def _dask_from_frame(frame: Any) -> Any:
    """A dask DataFrame over an in-memory pandas frame, without copying or hashing it."""
    import dask.dataframe as dd

    n = len(frame)
    starts = list(range(0, max(n, 1), POINTS_PER_PARTITION))
    bounds = [(a, min(a + POINTS_PER_PARTITION, n)) for a in starts]
    divisions = None
    if n and frame.index.is_monotonic_increasing:
        index = frame.index
        divisions = [index[a] for a, _ in bounds] + [index[n - 1]]
        if len(set(divisions)) != len(divisions) and len(bounds) > 1:
            divisions = None
    # a label, or dask names the tasks after the callable's repr (a long, unreadable key)
    return dd.from_map(
        _FrameSlices(frame),
        bounds,
        meta=frame.iloc[:0],
        divisions=divisions,
        enforce_metadata=False,
        label="points-from-frame",
    )


def _known(series: Any) -> bool:
    cat = series.cat
    return bool(getattr(cat, "known", True))


@_register_builtin
class ParquetPointsContainer(_PointsContainer):
    """Points from a Parquet file (one row a point), as a dask DataFrame.

    Files of at least :data:`LAZY_POINTS_BYTES` (256 MiB) are opened lazily with ``dask.dataframe.read_parquet``
    (access reads the metadata, and the gene column to learn its categories); smaller files are read whole with
    ``pandas.read_parquet`` at access, which is faster than reading them twice.

    Parameters
    ----------
    location
        Path or fsspec URL of the ``.parquet`` file (or directory of parquet files).
    key
        Element name.
    columns
        Which file columns hold ``x``, ``y`` (default ``"x"``, ``"y"``), ``z`` (used if a ``z`` column exists),
        ``gene`` (the feature key, made categorical) and ``instance`` (the instance key), for example
        ``{"x": "x_location", "y": "y_location", "gene": "feature_name"}``.
    lazy
        ``True``: always dask-lazy; ``False``: always read at access; ``None``: by file size.
    **kwargs
        Common options of :class:`LazyContainer`.
    """

    type_name = "ParquetPoints"

    def __init__(self, location: Any, key: str | None = None, *, lazy: bool | None = None, **kwargs: Any):
        super().__init__(location, key, **kwargs)
        if lazy is not None and not isinstance(lazy, bool):
            raise InvalidContainerError(f"{self._who()}: lazy must be True, False or None, got {lazy!r}")
        self.lazy = lazy

    def params(self) -> dict[str, Any]:
        return {**super().params(), "lazy": self.lazy}

    def read_lazily(self) -> bool:
        """Whether to read with dask: ``lazy`` if given, else for files of at least :data:`LAZY_POINTS_BYTES`.

        During :meth:`load` the size comes from the fingerprint its integrity check just took (no second ``stat`` or
        ``HEAD``); otherwise from the recorded fingerprint, else from a new ``stat``.
        """
        if self.lazy is not None:
            return self.lazy
        size = (self._seen_fingerprint or self.fingerprint or {}).get("size")
        if size is None:
            size = self.current_fingerprint(checksum=False).get("size", 0)
        return size >= LAZY_POINTS_BYTES

    def read_raw(self) -> Any:
        """Open the Parquet file lazily (metadata only) with dask, or read it whole with pandas (small files)."""
        import dask.dataframe as dd
        import pandas as pd

        if not is_url(self.location) and not os.path.exists(self.location):
            raise FileNotFoundError(self.location)
        if self.read_lazily():
            return dd.read_parquet(self.location, storage_options=self.open_options() or None)
        return pd.read_parquet(self.location, storage_options=self.open_options() or None)


@_register_builtin
class CSVPointsContainer(_PointsContainer):
    """Points from a CSV file (one row a point), read with pandas (the gene column parsed as categorical).

    Parameters
    ----------
    location
        Path or fsspec URL of the ``.csv`` (or ``.csv.gz``) file.
    key
        Element name.
    columns
        Column mapping, as for :class:`ParquetPointsContainer`.
    sep
        Field separator.
    **kwargs
        Common options of :class:`LazyContainer`.
    """

    type_name = "CSVPoints"

    def __init__(self, location: Any, key: str | None = None, *, sep: str = ",", **kwargs: Any):
        super().__init__(location, key, **kwargs)
        self.sep = sep

    def params(self) -> dict[str, Any]:
        return {**super().params(), "sep": self.sep}

    def read_raw(self) -> Any:
        """Read the CSV file with pandas."""
        import fsspec
        import pandas as pd

        with fsspec.open(self.location, "rb", compression="infer", **self.open_options()) as fh:
            header = pd.read_csv(fh, sep=self.sep, nrows=0)
            self.check_columns(list(header.columns))
            fh.seek(0)
            gene = self.columns.get("gene")
            return pd.read_csv(fh, sep=self.sep, dtype={gene: "category"} if gene else None)


# ------------------------------------------------------------------------------------------------ images and labels

_TIFF_AXES = {"X": "x", "Y": "y", "Z": "z", "C": "c", "S": "c"}
TIFF_CHUNK_BYTES = 8 * 2**20


def _aggregate_chunks(shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Dask chunks of whole TIFF tiles or strips, grown along the last two axes to about :data:`TIFF_CHUNK_BYTES`.

    One dask task per tile makes computing a large image far slower than ``tifffile.imread`` (scheduling overhead);
    a few megabytes per task reads at the same speed and keeps memory per task small.
    """
    out = list(chunks)
    if len(out) < 2:
        return tuple(out)
    while int(np.prod(out)) * itemsize < TIFF_CHUNK_BYTES:
        grown = False
        for i in (-2, -1):
            if out[i] < shape[i]:
                out[i] = min(shape[i], out[i] * 2)
                grown = True
        if not grown:
            break
    return tuple(out)


class _TiffContainer(LazyContainer):
    validated_by_parse = True
    plain_stack_axes: ClassVar[dict[str, str]] = {}
    """How the unnamed leading axis of a plain TIFF stack (tifffile's ``QYX`` or ``SYX``) is read."""

    def __init__(
        self,
        location: Any,
        key: str | None = None,
        *,
        series: int = 0,
        level: int = 0,
        dims: list[str] | tuple[str, ...] | None = None,
        physical_size: bool = False,
        **kwargs: Any,
    ):
        super().__init__(location, key, **kwargs)
        if not isinstance(series, int) or series < 0 or not isinstance(level, int) or level < 0:
            raise InvalidContainerError(f"{self._who()}: series and level must be non-negative integers")
        self.series = series
        self.level = level
        self.dims = list(dims) if dims is not None else None
        self.physical_size = bool(physical_size)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"series": self.series, "level": self.level, "dims": self.dims}
        if self.physical_size:
            out["physical_size"] = True
        return out

    def physical_transformations(self, tif: Any, order: list[str]) -> dict[str, Any]:
        """The transformations given to the model: with ``physical_size``, a scale from the OME-XML pixel sizes.

        The scale (``PhysicalSizeX/Y/Z`` of the series, times the downsampling of the chosen pyramid level) maps
        pixels to the file's physical unit and is applied before the container's own transformation.
        """
        transformations = self.transformations()
        if not self.physical_size:
            return transformations
        import tifffile
        from spatialdata.transformations import Scale, Sequence

        sizes: dict[str, float] = {}
        try:
            ome = tifffile.xml2dict(tif.ome_metadata)["OME"] if tif.is_ome else {}
            images = ome.get("Image", [])
            images = images if isinstance(images, list) else [images]
            pixels = images[self.series]["Pixels"] if self.series < len(images) else {}
            for d in ("z", "y", "x"):
                value = pixels.get(f"PhysicalSize{d.upper()}")
                if value is not None and d in order:
                    sizes[d] = float(value)
        except (KeyError, IndexError, TypeError, ValueError):
            sizes = {}
        if "x" not in sizes and "y" not in sizes:
            raise ContainerLoadError(
                self._problem("physical_size=True, but the file records no PhysicalSizeX/PhysicalSizeY (OME-XML)")
            )
        series = tif.series[self.series]
        base, level = series.levels[0], series.levels[self.level]
        axes = [d for d in order if d in ("z", "y", "x")]
        scale = []
        for d in axes:
            factor = 1.0
            for ax, n0, n in zip(base.axes, base.shape, level.shape, strict=True):
                if _TIFF_AXES.get(ax) == d and n:
                    factor = n0 / n
            scale.append(sizes.get(d, 1.0) * factor)
        pixel_to_unit = Scale(scale, axes=tuple(axes))
        cs = self.coordinate_system
        own = self.transformation
        return {cs: pixel_to_unit if own is None else Sequence([pixel_to_unit, own])}

    def _open(self) -> tuple[Any, Any]:
        """(TiffFile, file handle or None)."""
        import fsspec
        import tifffile

        if is_url(self.location):
            fh = fsspec.open(self.location, "rb", **self.open_options()).open()
            return tifffile.TiffFile(fh), fh
        if not os.path.isfile(self.location):
            raise FileNotFoundError(self.location)
        return tifffile.TiffFile(self.location), None

    def read_raw(self) -> Any:
        """Open the TIFF series level as a lazy dask array through tifffile's zarr store; return (array, axes, tif)."""
        import dask.array as da
        import zarr

        tif, _ = self._open()
        if self.series >= len(tif.series):
            raise ContainerLoadError(self._problem(f"series {self.series} asked for, the file has {len(tif.series)}"))
        series = tif.series[self.series]
        if self.level >= len(series.levels):
            raise ContainerLoadError(
                self._problem(f"level {self.level} asked for, the series has {len(series.levels)}")
            )
        # read-only whatever the file handle (tifffile makes a store writable when the handle is, as fsspec's
        # memory files are, and zarr refuses to open a writable store with mode="r")
        store = series.aszarr(level=self.level, read_only=True)
        array = zarr.open_array(store, mode="r")
        chunks = _aggregate_chunks(array.shape, array.chunks, array.dtype.itemsize)
        return da.from_zarr(array, chunks=chunks), series.levels[self.level].axes, tif

    def dims_of(self, axes: str, shape: tuple[int, ...]) -> tuple[list[str], list[int]]:
        """Map tifffile axes to spatialdata dims; squeeze axes of size 1 that spatialdata has no dim for."""
        if self.dims is not None:
            if len(self.dims) != len(shape):
                raise ContainerLoadError(self._problem(f"dims {self.dims} given for an array of shape {shape}"))
            return list(self.dims), []
        stack = len(axes) == 3 and axes[1:] == "YX" and axes[0] in self.plain_stack_axes
        dims, squeeze = [], []
        for i, (ax, n) in enumerate(zip(axes, shape, strict=True)):
            # a plain TIFF stack: tifffile names its leading axis Q (unknown) or S (planar samples, up to 4)
            dim = self.plain_stack_axes[ax] if stack and i == 0 else _TIFF_AXES.get(ax)
            if dim is None or dim in dims:
                if n != 1:
                    raise ContainerLoadError(
                        self._problem(
                            f"axis {ax!r} of size {n} (axes {axes!r}, shape {shape}) has no SpatialData dimension; "
                            "pass dims=[...] naming each axis"
                        )
                    )
                squeeze.append(i)
                continue
            dims.append(dim)
        return dims, squeeze


@_register_builtin
class TiffImageContainer(_TiffContainer):
    """An image from a TIFF file, read lazily as dask through tifffile's zarr interface.

    Parameters
    ----------
    location
        Path or fsspec URL of the TIFF.
    key
        Element name.
    series
        Which TIFF series.
    level
        Which pyramid level of the series (0 is full resolution).
    dims
        SpatialData dims of the stored axes (``["c", "y", "x"]``); by default from tifffile's axes (``YX``, ``CYX``,
        ``ZCYX``, ``YXS``...), size-1 axes such as ``T`` are dropped and a missing channel axis is added.
    physical_size
        Scale pixels by the OME-XML ``PhysicalSizeX/Y/Z`` (times the level's downsampling), before ``transformation``;
        off by default (the element is in pixels, as spatialdata's readers do).
    channel_names
        Channel names (``c`` coordinates).
    **kwargs
        Common options of :class:`LazyContainer`.
    """

    type_name = "TiffImage"
    element_type = "images"

    def __init__(self, location: Any, key: str | None = None, *, channel_names: list[str] | None = None, **kwargs: Any):
        super().__init__(location, key, **kwargs)
        self.channel_names = list(channel_names) if channel_names is not None else None

    def params(self) -> dict[str, Any]:
        return {**super().params(), "channel_names": self.channel_names}

    def default_channel_names(self, tif: Any, n: int) -> list[str] | None:
        """Channel names when none are given (none for plain TIFF)."""
        return None

    def to_element(self, raw: Any) -> Any:
        """Parse with ``Image2DModel`` or ``Image3DModel``."""
        from spatialdata.models import Image2DModel, Image3DModel

        array, axes, tif = raw
        dims, squeeze = self.dims_of(axes, array.shape)
        if squeeze:
            array = array.squeeze(axis=tuple(squeeze))
        if "c" not in dims:
            array = array[None]
            dims = ["c", *dims]
        order = [d for d in ("c", "z", "y", "x") if d in dims]
        if set(dims) != set(order):
            raise ContainerLoadError(self._problem(f"dims {dims} are not among c, z, y, x"))
        if dims != order:  # dask adds a task per chunk even for the identity permutation
            array = array.transpose([dims.index(d) for d in order])
        n_channels = array.shape[0]
        names = self.channel_names or self.default_channel_names(tif, n_channels)
        if names is not None and len(names) != n_channels:
            raise ContainerValidationError(self._problem(f"{len(names)} channel names for {n_channels} channels"))
        model = Image3DModel if "z" in order else Image2DModel
        transformations = self.physical_transformations(tif, order)
        return model.parse(array, dims=tuple(order), c_coords=names, transformations=transformations)


@_register_builtin
class OMETiffImageContainer(TiffImageContainer):
    """An image from an OME-TIFF file: as :class:`TiffImageContainer`, channel names from the OME-XML.

    A TIFF without OME metadata is refused (use :class:`TiffImageContainer` for plain TIFF).
    """

    type_name = "OMETiffImage"

    def read_raw(self) -> Any:
        array, axes, tif = super().read_raw()
        if not tif.is_ome:
            raise ContainerLoadError(self._problem("the file is a TIFF without OME metadata; use TiffImageContainer"))
        return array, axes, tif

    def default_channel_names(self, tif: Any, n: int) -> list[str] | None:
        """Channel names from the OME-XML ``Pixels/Channel/@Name`` of the series, if all are present and unique."""
        import tifffile

        try:
            ome = tifffile.xml2dict(tif.ome_metadata)["OME"]
            images = ome["Image"] if isinstance(ome["Image"], list) else [ome["Image"]]
            channels = images[self.series]["Pixels"].get("Channel", [])
            channels = channels if isinstance(channels, list) else [channels]
            names = [str(ch.get("Name")) for ch in channels if ch.get("Name") is not None]
        except (KeyError, IndexError, TypeError):
            return None
        return names if len(names) == n and len(set(names)) == n else None


@_register_builtin
class TiffLabelsContainer(_TiffContainer):
    """A labels (segmentation) image from a TIFF or OME-TIFF file, read lazily as dask.

    Parameters
    ----------
    location
        Path or fsspec URL of the TIFF; integer pixels.
    key
        Element name.
    series, level, dims, physical_size
        As for :class:`TiffImageContainer` (dims among ``z``, ``y``, ``x``).
    **kwargs
        Common options of :class:`LazyContainer`.
    """

    type_name = "TiffLabels"
    element_type = "labels"
    plain_stack_axes: ClassVar[dict[str, str]] = {"Q": "z", "S": "z"}
    """Labels have no channels: the unnamed leading axis of a plain TIFF stack is ``z``."""

    def to_element(self, raw: Any) -> Any:
        """Parse with ``Labels2DModel`` or ``Labels3DModel``."""
        from spatialdata.models import Labels2DModel, Labels3DModel

        array, axes, tif = raw
        dims, squeeze = self.dims_of(axes, array.shape)
        if "c" in dims:
            i = dims.index("c")
            if array.shape[i] != 1:
                raise ContainerLoadError(
                    self._problem(
                        f"labels must have one channel, the file has {array.shape[i]} (axes {axes!r}); "
                        "pass dims=[...] naming each axis"
                    )
                )
            squeeze.append(i)
            dims.pop(i)
        if squeeze:
            array = array.squeeze(axis=tuple(squeeze))
        order = [d for d in ("z", "y", "x") if d in dims]
        if dims != order:  # dask adds a task per chunk even for the identity permutation
            array = array.transpose([dims.index(d) for d in order])
        if not np.issubdtype(array.dtype, np.integer):
            raise ContainerValidationError(self._problem(f"labels need integer pixels, the file has {array.dtype}"))
        model = Labels3DModel if "z" in order else Labels2DModel
        return model.parse(array, dims=tuple(order), transformations=self.physical_transformations(tif, order))


# ------------------------------------------------------------------------------------------------ tables


class _TableContainer(LazyContainer):
    element_type = "tables"
    validated_by_parse = True

    def __init__(
        self,
        location: Any,
        key: str | None = None,
        *,
        region: str | list[str] | None = None,
        region_key: str | None = None,
        instance_key: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(location, key, **kwargs)
        if (region is None) != (region_key is None) or (region is None) != (instance_key is None):
            if region is not None or region_key is not None or instance_key is not None:
                raise InvalidContainerError(
                    f"{self._who()}: give region, region_key and instance_key together (or none of them)"
                )
        self.region = region
        self.region_key = region_key
        self.instance_key = instance_key

    def params(self) -> dict[str, Any]:
        return {"region": self.region, "region_key": self.region_key, "instance_key": self.instance_key}

    def to_element(self, raw: Any) -> Any:
        """Parse with ``TableModel``: annotate ``region`` if given, else keep the table's own annotation."""
        from spatialdata.models import TableModel

        if self.region is not None:
            for col in (self.region_key, self.instance_key):
                if col not in raw.obs.columns:
                    raise ColumnMappingError(
                        self._problem(f"obs column {col!r} not found; obs columns: {list(raw.obs.columns)}")
                    )
            if self.region_key in raw.obs and raw.obs[self.region_key].dtype.name != "category":
                raw.obs[self.region_key] = raw.obs[self.region_key].astype("category")
            return TableModel.parse(raw, region=self.region, region_key=self.region_key, instance_key=self.instance_key)
        return TableModel.parse(raw)


@_register_builtin
class H5ADTableContainer(_TableContainer):
    """A table from an AnnData ``.h5ad`` file.

    Parameters
    ----------
    location
        Path or fsspec URL of the ``.h5ad`` file.
    key
        Element name.
    backed
        Keep ``X`` on disk (anndata's backed mode, local files only); by default the table is read into memory
        (remote files are read through an fsspec file object).
    region, region_key, instance_key
        Which elements the table annotates (all three or none); without them the table's own
        ``uns["spatialdata_attrs"]`` is kept, if any.
    **kwargs
        Common options of :class:`LazyContainer`.
    """

    type_name = "H5ADTable"

    def __init__(self, location: Any, key: str | None = None, *, backed: bool = False, **kwargs: Any):
        super().__init__(location, key, **kwargs)
        if backed and is_url(self.location):
            raise InvalidContainerError(f"{self._who()}: backed=True needs a local file, not {self.location}")
        self.backed = bool(backed)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "backed": self.backed}

    def read_raw(self) -> Any:
        """Read the ``.h5ad`` file with anndata."""
        import anndata as ad
        import fsspec

        if not is_url(self.location):
            if os.path.isdir(self.location):
                raise ContainerLoadError(
                    self._problem("a directory, not an .h5ad file (use ZarrTableContainer for an AnnData .zarr)")
                )
            if not os.path.isfile(self.location):
                raise FileNotFoundError(self.location)
            return ad.read_h5ad(self.location, backed="r" if self.backed else None)
        with fsspec.open(self.location, "rb", **self.open_options()) as fh:
            return ad.read_h5ad(fh)


@_register_builtin
class ZarrTableContainer(_TableContainer):
    """A table from an AnnData ``.zarr`` store (zarr v2 or v3), read with anndata.

    Parameters
    ----------
    location
        Path or fsspec URL of the AnnData zarr group.
    key
        Element name.
    region, region_key, instance_key
        As for :class:`H5ADTableContainer`.
    **kwargs
        Common options of :class:`LazyContainer`.
    """

    type_name = "ZarrTable"

    def read_raw(self) -> Any:
        """Read the AnnData zarr group."""
        import anndata as ad
        import zarr
        from zarr.storage import FsspecStore

        if is_url(self.location):
            store = FsspecStore.from_url(self.location, storage_options=self.open_options(), read_only=True)
            group = zarr.open_group(store, mode="r")
        else:
            if not os.path.exists(self.location):
                raise FileNotFoundError(self.location)
            if not os.path.isdir(self.location):
                raise ContainerLoadError(self._problem("not a directory, so not an AnnData zarr store"))
            store = zarr.storage.LocalStore(self.location, read_only=True)
            try:
                group = zarr.open_group(store, mode="r")
            except FileNotFoundError as exc:  # the directory exists but holds no zarr group
                raise ContainerLoadError(self._problem(f"the directory is not a zarr store ({exc})")) from exc
        if "obs" not in group or "var" not in group:
            raise ContainerLoadError(self._problem("the zarr group is not an AnnData (no obs/var)"))
        return ad.read_zarr(group)
