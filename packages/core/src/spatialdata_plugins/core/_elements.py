"""Reading and writing one element into a zarr group, on any kind of location.

Images, labels and tables go through spatialdata's own writers, which accept any zarr group. Points and shapes
are parquet: beside the zarr keys on file-like locations (spatialdata's standard layout), as parquet-in-zarr on
key-value stores (see :mod:`spatialdata_plugins.core._blob`).
"""

from __future__ import annotations

import tempfile
from typing import Any

import dask.array as da
import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import zarr
from anndata import AnnData
from dask.dataframe.utils import clear_known_categories
from xarray import DataArray, DataTree

from spatialdata_plugins.core import _blob
from spatialdata_plugins.core._location import Location

INDEX_COLUMN = "__null_dask_index__"
BLOB_ROW_GROUP_SIZE = 200_000


# --------------------------------------------------------------------------------------------- writing


def write_element(
    location: Location, root: zarr.Group, element_type: str, name: str, element: Any, options: dict[str, Any]
) -> None:
    """Write one element of a known type below ``root`` (the default ``sdp_write_element``).

    Parameters
    ----------
    location
        The target location (decides between loose parquet and parquet-in-zarr).
    root
        Root group of the SpatialData store.
    element_type
        One of :data:`ELEMENT_TYPES`.
    name
        Element name.
    element
        The element.
    options
        ``raster_compressor``, ``shapes_geometry_encoding`` and ``chunk_bytes`` are honoured.
    """
    from spatialdata._io import write_image, write_labels, write_table
    from spatialdata._io.format import CurrentRasterFormat, CurrentTablesFormat
    from spatialdata.models import validate_element

    if element_type != "tables":
        validate_element(element)
    formats = options.get("sdata_formats") or {}
    type_group = root.require_group(element_type)
    if element_type == "images":
        write_image(
            element,
            type_group.require_group(name),
            name,
            element_format=formats.get("raster") or CurrentRasterFormat(),
            raster_compressor=options.get("raster_compressor"),
        )
    elif element_type == "labels":
        write_labels(
            element,
            root,
            name,
            element_format=formats.get("raster") or CurrentRasterFormat(),
            raster_compressor=options.get("raster_compressor"),
        )
    elif element_type == "points":
        write_points(location, type_group.require_group(name), name, element, options)
    elif element_type == "shapes":
        write_shapes(location, type_group.require_group(name), name, element, options)
    elif element_type == "tables":
        write_table(element, type_group, name, element_format=formats.get("tables") or CurrentTablesFormat())
    else:
        raise ValueError(f"unknown element type {element_type!r} for element {name!r}")


def _known_categories(points: dd.DataFrame) -> dd.DataFrame:
    # pyarrow would pick int8 codes for unknown categories and overflow past 127 of them
    for column in points.columns:
        c = points[column]
        if isinstance(c.dtype, pd.CategoricalDtype) and not c.cat.known:
            points[column] = c.cat.as_known()
    return points


def _write_dataframe_metadata(group: zarr.Group, element: Any, fmt: Any, group_type: str) -> None:
    """Write the zarr attributes spatialdata gives a points or shapes group (format, axes, transformations)."""
    from spatialdata._io._utils import _write_metadata, overwrite_coordinate_transformations_non_raster
    from spatialdata.models import get_axes_names
    from spatialdata.transformations._utils import _get_transformations

    axes = get_axes_names(element)
    attrs = fmt.attrs_to_dict(element.attrs)
    attrs["version"] = fmt.spatialdata_format_version
    _write_metadata(group, group_type=group_type, axes=list(axes), attrs=attrs)
    overwrite_coordinate_transformations_non_raster(
        group=group, axes=axes, transformations=_get_transformations(element)
    )


def _without_transform(obj: Any) -> Any:
    out = obj.copy()
    out.attrs = {k: v for k, v in obj.attrs.items() if k != "transform"}
    return out


def write_points(
    location: Location, group: zarr.Group, name: str, points: dd.DataFrame, options: dict[str, Any]
) -> None:
    """Write a points element: ``points.parquet`` beside the zarr metadata, or parquet-in-zarr on a key-value store.

    Parameters
    ----------
    location
        Target location.
    group
        The element group (``root/points/<name>``).
    name
        Element name.
    points
        The dask DataFrame.
    options
        Writer options: ``chunk_bytes`` for parquet-in-zarr, and ``points_parts_writer``, a callable
        ``(group, partitions, schema, chunk_bytes) -> parts`` that writes the dask partitions (``dask.delayed``
        frames) as separate parquet files with :func:`write_points_part` (in parallel, e.g. on a cluster) and
        returns their entries in order; the element is then parquet-in-zarr version 2 (``docs/format.md``).
    """
    points = _known_categories(points)
    plain = _without_transform(points)
    if location.file_like:
        path = location.file_path("points", name, "points.parquet")
        backend = options["parallel_backend"]
        if location.local_path is not None:
            backend.compute(plain.to_parquet(path, compute=False))
        else:
            backend.compute(plain.to_parquet(path, filesystem=location.fs, compute=False))
    else:
        _write_points_blob(group, plain, options)
    from spatialdata._io.format import CurrentPointsFormat

    fmt = (options.get("sdata_formats") or {}).get("points") or CurrentPointsFormat()
    _write_dataframe_metadata(group, points, fmt, "ngff:points")


def _write_points_blob(group: zarr.Group, points: dd.DataFrame, options: dict[str, Any]) -> None:
    meta = points._meta
    schema = points_blob_schema(meta)
    chunk_bytes = int(options.get("chunk_bytes", _blob.DEFAULT_CHUNK_BYTES))
    store_parts = options.get("points_parts_writer")
    if store_parts is None:
        # one partition in memory at a time: the write is out of core like dask's own to_parquet
        frames = (partition.compute() for partition in points.to_delayed())
        part = write_points_part(group, _blob.BLOB_ARRAY, frames, schema, chunk_bytes)
        block = _blob.encoding_attrs("points", part["nbytes"], chunk_bytes)
    else:
        parts = store_parts(group, points.to_delayed(), schema, chunk_bytes)
        block = _blob.parts_encoding_attrs("points", parts, chunk_bytes)
    index_name = meta.index.name
    block["index"] = index_name if index_name is not None else INDEX_COLUMN
    # known categories (in their order) are kept, so a read gives back the same dtypes as were written
    block["categories"] = {
        str(c): [v.item() if hasattr(v, "item") else v for v in meta[c].cat.categories]
        for c in meta.columns
        if isinstance(meta[c].dtype, pd.CategoricalDtype)
    }
    group.attrs[_blob.ENCODING_KEY] = block


def points_blob_schema(meta: pd.DataFrame) -> pa.Schema:
    """The arrow schema of the parquet-in-zarr file(s) of points with dask meta ``meta`` (index as a column)."""
    if meta.index.name is None:
        meta = meta.rename_axis(INDEX_COLUMN)
    return pa.Schema.from_pandas(meta.reset_index(), preserve_index=False)


def write_points_part(
    group: zarr.Group, name: str, frames: Any, schema: pa.Schema, chunk_bytes: int = _blob.DEFAULT_CHUNK_BYTES
) -> dict[str, Any]:
    """Write pandas frames as one complete parquet file into the uint8 array ``group[name]``.

    The building block of parquet-in-zarr points: the writer of a version-1 element streams every partition into
    the array ``parquet``; a parallel writer (``options["points_parts_writer"]``, see :func:`write_points`) calls
    it once per dask partition, in a worker, with its own array name.

    Parameters
    ----------
    group
        The element group (on any zarr store, an icechunk fork session's too).
    name
        Array name, e.g. ``"parquet"`` or ``"parquet.3"``.
    frames
        Iterable of pandas DataFrames (one partition each; every frame starts a new row group).
    schema
        From :func:`points_blob_schema`.
    chunk_bytes
        Chunk size of the array.

    Returns
    -------
    dict
        ``{"array", "nbytes", "rows", "row_groups"}``: the entry of this part in the attribute block.
    """
    rows = 0
    with tempfile.TemporaryFile(prefix="sdp-points-") as spool:
        with pq.ParquetWriter(spool, schema) as writer:
            for frame in frames:
                frame.attrs = {}  # element metadata lives in the zarr attributes, not in the parquet file
                if frame.index.name is None:
                    frame = frame.rename_axis(INDEX_COLUMN)
                table = pa.Table.from_pandas(frame.reset_index(), schema=schema, preserve_index=False)
                writer.write_table(table, row_group_size=BLOB_ROW_GROUP_SIZE)
                rows += len(frame)
        spool.seek(0)
        row_groups = pq.ParquetFile(spool).metadata.num_row_groups
        size = _blob.write_blob_from_spooled(group, spool, chunk_bytes, name)
    return {"array": name, "nbytes": int(size), "rows": int(rows), "row_groups": int(row_groups)}


def write_shapes(
    location: Location, group: zarr.Group, name: str, shapes: gpd.GeoDataFrame, options: dict[str, Any]
) -> None:
    """Write a shapes element as GeoParquet (``shapes.parquet``), or parquet-in-zarr on a key-value store.

    Parameters
    ----------
    location
        Target location.
    group
        The element group (``root/shapes/<name>``).
    name
        Element name.
    shapes
        The GeoDataFrame.
    options
        ``shapes_geometry_encoding`` (``"WKB"`` or ``"geoarrow"``), ``chunk_bytes``.
    """
    from spatialdata._io.format import CurrentShapesFormat, ShapesFormatV01
    from spatialdata.config import settings

    fmt = (options.get("sdata_formats") or {}).get("shapes") or CurrentShapesFormat()
    if isinstance(fmt, ShapesFormatV01):  # the legacy layout: arrays in the group, on any store
        from spatialdata._io.io_shapes import write_shapes as spatialdata_write_shapes

        spatialdata_write_shapes(shapes, group, element_format=fmt)
        return
    encoding = options.get("shapes_geometry_encoding") or settings.shapes_geometry_encoding
    plain = _without_transform(shapes)
    if location.file_like:
        with location.fs.open(location.file_path("shapes", name, "shapes.parquet"), "wb") as f:  # type: ignore[union-attr]
            plain.to_parquet(f, geometry_encoding=encoding)
    else:
        chunk_bytes = int(options.get("chunk_bytes", _blob.DEFAULT_CHUNK_BYTES))
        with tempfile.TemporaryFile(prefix="sdp-shapes-") as spool:
            plain.to_parquet(spool, geometry_encoding=encoding)
            size = _blob.write_blob_from_spooled(group, spool, chunk_bytes)
    _write_dataframe_metadata(group, shapes, fmt, "ngff:shapes")
    if not location.file_like:
        group.attrs[_blob.ENCODING_KEY] = _blob.encoding_attrs("shapes", size, chunk_bytes)


# --------------------------------------------------------------------------------------------- reading


def read_element(location: Location, group: zarr.Group, element_type: str, name: str, options: dict[str, Any]) -> Any:
    """Read one element from its group (the default ``sdp_read_element``).

    Parameters
    ----------
    location
        The store.
    group
        The element group.
    element_type
        One of :data:`ELEMENT_TYPES`.
    name
        Element name.
    options
        ``columns`` and ``filters`` (pyarrow filter expressions) restrict points and shapes reads.

    Returns
    -------
    object
        The element.
    """
    if element_type in ("images", "labels"):
        # the arrays are opened from a store rooted at the element: dask then names the element's own directory
        # as backing file (spatialdata's is_self_contained, delete_element_from_disk rely on that)
        return read_raster(
            group, element_type, location.element_store(element_type, name), location.element_path(element_type, name)
        )
    if element_type == "points":
        return read_points(location, group, name, columns=options.get("columns"), filters=options.get("filters"))
    if element_type == "shapes":
        return read_shapes(location, group, name, columns=options.get("columns"), filters=options.get("filters"))
    if element_type == "tables":
        return read_table(group)
    raise ValueError(f"unknown element type {element_type!r} for element {name!r}")


def raster_multiscales(group: zarr.Group) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the (``ome`` block, first ``multiscales`` entry) of an image or labels group, zarr v2 or v3."""
    attrs = group.attrs.asdict()
    ome = attrs.get("ome", attrs)
    if "multiscales" not in ome:
        raise KeyError(f"{group.path} has no 'multiscales' metadata")
    return ome, ome["multiscales"][0]


def read_raster(
    group: zarr.Group, element_type: str, store: Any = None, path: str | None = None
) -> DataArray | DataTree:
    """Read an image or labels element lazily (dask arrays) from its group on any zarr store.

    Every array is opened from its own metadata (never from consolidated metadata, which may be stale), so a
    missing or corrupt array raises (``zarr.errors.ArrayNotFoundError``...) instead of reading as fill values.
    ``store`` and ``path`` (the element's directory in it) are where the arrays are opened from; default: the
    group's own store and path.
    """
    from spatialdata._io._utils import _get_transformations_from_ngff_dict
    from spatialdata.models.pyramids_utils import dask_arrays_to_datatree
    from spatialdata.transformations._utils import _set_transformations, compute_coordinates

    if not group.attrs.asdict():
        # no attributes at all (a zarr v2 element without .zattrs): the metadata is missing, as spatialdata says
        raise OSError(f"Image location {group.path}: the element's OME-NGFF metadata (its attributes) is missing")
    ome, multiscales = raster_multiscales(group)
    axes = [axis["name"] if isinstance(axis, dict) else axis for axis in multiscales["axes"]]
    if store is None:
        store, path = group.store, group.path
    arrays = [
        da.from_zarr(
            zarr.open_array(
                store=store,
                path="/".join(p for p in (path, d["path"]) if p),
                mode="r",
                zarr_format=group.metadata.zarr_format,
            )
        )
        for d in multiscales["datasets"]
    ]
    transformations = _get_transformations_from_ngff_dict(multiscales["coordinateTransformations"])
    channels = None
    if element_type == "images":
        omero = ome.get("omero") or group.attrs.get("omero")
        if omero is not None:
            channels = [c["label"] for c in omero["channels"]]
        elif "channels_metadata" in ome:
            channels = [c["label"] for c in ome["channels_metadata"]["channels"]]
    if len(arrays) > 1:
        tree = dask_arrays_to_datatree(arrays, dims=axes, channels=channels)
        _set_transformations(tree, transformations)
        return compute_coordinates(tree)
    image = DataArray(arrays[0], name="image", dims=axes, coords={"c": channels} if channels is not None else {})
    _set_transformations(image, transformations)
    return compute_coordinates(image)


def _set_element_metadata(element: Any, group: zarr.Group, formats: dict[str, Any]) -> None:
    from spatialdata._io._utils import _get_transformations_from_ngff_dict
    from spatialdata._io.format import _parse_version
    from spatialdata.transformations._utils import _set_transformations

    attrs = group.attrs.asdict()
    _set_transformations(element, _get_transformations_from_ngff_dict(attrs["coordinateTransformations"]))
    if formats:
        version = _parse_version(group, expect_attrs_key=True)
        parsed = formats[version].attrs_from_dict(attrs)
        if parsed:
            element.attrs["spatialdata_attrs"] = parsed


class _RowGroupReader:
    """Read row groups of a parquet-in-zarr part; its ``columns=`` keyword gives dask column projection.

    Called with ``(array, [row_group, ...])``: the array (part) to read and its row groups.
    """

    def __init__(
        self, group: zarr.Group, filters: Any, index: str | None, dtypes: dict[str, pd.CategoricalDtype]
    ) -> None:
        self._group = group
        self._filters = filters
        self._index = index
        self._dtypes = dtypes

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (type(self).__name__, id(self._group.store), self._group.path, str(self._filters), self._index)

    def __call__(self, part: tuple[str, list[int]], columns: list[str] | None = None) -> pd.DataFrame:
        array, row_groups = part
        wanted = None if columns is None else list(columns)
        if wanted is not None:
            # filter columns are read too, and dropped again after filtering
            wanted += [c for c in _filter_columns(self._filters) if c not in wanted]
            if self._index:
                wanted.append(self._index)
        with _blob.open_blob(self._group, array) as raw:
            table = pq.ParquetFile(raw).read_row_groups(row_groups, columns=wanted)
        if self._filters is not None:
            table = table.filter(pq.filters_to_expression(self._filters))
        if columns is not None:
            table = table.select([c for c in table.column_names if c in columns or c == self._index])
        frame = _table_to_frame(table, self._index)
        dtypes = {c: t for c, t in self._dtypes.items() if c in frame.columns}
        return frame.astype(dtypes) if dtypes else frame


def _filter_columns(filters: Any) -> list[str]:
    """Column names used by pyarrow DNF filters (``[(col, op, value), ...]`` or a list of such lists)."""
    if not filters:
        return []
    clauses = filters if isinstance(filters[0], list) else [filters]
    names: list[str] = []
    for clause in clauses:
        for column, _, _ in clause:
            if column not in names:
                names.append(column)
    return names


def _row_groups_matching(raw: Any, filters: Any) -> list[int]:
    """Row groups whose parquet statistics may satisfy ``filters`` (pyarrow's own pruning)."""
    import pyarrow.dataset as pads

    fragment = pads.ParquetFileFormat().make_fragment(raw)
    return [f.row_groups[0].id for f in fragment.split_by_row_group(filter=pq.filters_to_expression(filters))]


def _table_to_frame(table: pa.Table, index: str | None) -> pd.DataFrame:
    frame = table.to_pandas()
    if index is not None and index in frame.columns:
        frame = frame.set_index(index)
        if index == INDEX_COLUMN:
            frame = frame.rename_axis(None)
    return frame


def read_points(
    location: Location, group: zarr.Group, name: str, columns: list[str] | None = None, filters: Any = None
) -> dd.DataFrame:
    """Read a points element lazily as a dask DataFrame; ``columns`` and ``filters`` read only what they need."""
    from spatialdata._io.format import PointsFormats

    if _blob.is_blob_encoded(group):
        schema = None
        pieces: list[tuple[str, list[int]]] = []
        for part in _blob.blob_parts(group):
            array, count = part["array"], part.get("row_groups")
            if schema is None or filters or count is None:
                # the first footer gives the schema; the others only when pruning or their count is unrecorded
                with _blob.open_blob(group, array) as raw:
                    pf = pq.ParquetFile(raw)
                    if schema is None:
                        schema = pf.schema_arrow
                    row_groups = list(range(pf.num_row_groups))
                    if filters:
                        raw.seek(0)
                        row_groups = _row_groups_matching(raw, filters)
            else:
                row_groups = list(range(int(count)))
            pieces += [(array, [i]) for i in row_groups]
        assert schema is not None
        index = group.attrs[_blob.ENCODING_KEY].get("index", INDEX_COLUMN)
        has_index = index if index in schema.names else None
        # categories recorded at write time are restored exactly; others stay unknown, as with dd.read_parquet
        known = group.attrs[_blob.ENCODING_KEY].get("categories", {})
        dtypes = {c: pd.CategoricalDtype(v) for c, v in known.items()}
        meta = _table_to_frame(schema.empty_table(), has_index)
        unknown = [c for c in meta.columns if isinstance(meta[c].dtype, pd.CategoricalDtype) and c not in dtypes]
        meta = clear_known_categories(meta.astype(dtypes), cols=unknown) if unknown else meta.astype(dtypes)
        if columns is not None:
            meta = meta[list(columns)]
        parts = pieces or [(_blob.blob_parts(group)[0]["array"], [])]
        points = dd.from_map(
            _RowGroupReader(group, filters, has_index, dtypes),
            parts,
            meta=meta,
            enforce_metadata=False,
            label="read-parquet-in-zarr",
            columns=columns,
        )
    else:
        path = location.file_path("points", name, "points.parquet")
        kwargs: dict[str, Any] = {"columns": columns, "filters": filters}
        if location.local_path is None:
            kwargs["filesystem"] = location.fs
        points = dd.read_parquet(path, **kwargs)
    _set_element_metadata(points, group, PointsFormats)
    return points


def read_shapes(
    location: Location, group: zarr.Group, name: str, columns: list[str] | None = None, filters: Any = None
) -> gpd.GeoDataFrame:
    """Read a shapes element (GeoDataFrame); ``columns`` and ``filters`` read only the parts they need."""
    from spatialdata._io.format import ShapesFormats, ShapesFormatV01, _parse_version

    version = _parse_version(group, expect_attrs_key=True)
    if isinstance(ShapesFormats[version], ShapesFormatV01):
        return _read_shapes_v01(group, ShapesFormats[version])
    kwargs: dict[str, Any] = {"columns": columns}
    if filters is not None:
        kwargs["filters"] = filters
    if _blob.is_blob_encoded(group):
        if len(_blob.blob_parts(group)) != 1:
            raise NotImplementedError(f"shapes {name!r}: multi-part parquet-in-zarr is only defined for points")
        with _blob.open_blob(group) as raw:
            shapes = gpd.read_parquet(raw, **kwargs)
    else:
        with location.fs.open(location.file_path("shapes", name, "shapes.parquet"), "rb") as f:  # type: ignore[union-attr]
            shapes = gpd.read_parquet(f, **kwargs)
    _set_element_metadata(shapes, group, {})
    return shapes


def _read_shapes_v01(group: zarr.Group, fmt: Any) -> gpd.GeoDataFrame:
    """Shapes in the legacy v0.1 layout (ragged coordinate arrays in the group), as spatialdata reads them."""
    from natsort import natsorted
    from shapely import from_ragged_array

    coords = np.array(group["coords"])
    index = np.array(group["Index"])
    typ = fmt.attrs_from_dict(group.attrs.asdict())
    if typ.name == "POINT":
        shapes = gpd.GeoDataFrame(
            {"geometry": from_ragged_array(typ, coords), "radius": np.array(group["radius"])}, index=index
        )
    else:
        offsets = tuple(np.array(group[k]).flatten() for k in natsorted(k for k in group if k.startswith("offset")))
        shapes = gpd.GeoDataFrame({"geometry": from_ragged_array(typ, coords, offsets)}, index=index)
    _set_element_metadata(shapes, group, {})
    return shapes


def read_table(group: zarr.Group) -> AnnData:
    """Read a table element (AnnData) from its group on any zarr store."""
    from anndata.io import read_elem
    from spatialdata.models import TableModel

    table = read_elem(group)
    attrs = table.uns.get(TableModel.ATTRS_KEY)
    if attrs is not None:
        # spatialdata omits keys whose value is None, and stores region lists as arrays
        for key in ("region", "region_key", "instance_key"):
            attrs.setdefault(key, None)
        if isinstance(attrs.get("region"), np.ndarray):
            attrs["region"] = attrs["region"].tolist()
    return table


#: Public names of the default writer and reader (``spatialdata_plugins.core.default_write_element``...): a plugin that
#: takes over an element in ``sdp_write_element`` calls them for the parts it leaves to the default.
default_write_element = write_element
default_read_element = read_element
