"""``info``: summarise a SpatialData store from its metadata alone, without loading any data."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq
import zarr

from spatialdata_plugins.core import _blob
from spatialdata_plugins.core._elements import raster_multiscales
from spatialdata_plugins.core._location import ELEMENT_TYPES


def _coordinate_systems(transformations: list[dict[str, Any]]) -> list[str]:
    names = []
    for t in transformations or []:
        output = t.get("output")
        name = output.get("name") if isinstance(output, dict) else output
        if name and name not in names:
            names.append(name)
    return names


def _raster_info(group: zarr.Group) -> dict[str, Any]:
    _, multiscales = raster_multiscales(group)
    axes = [a["name"] if isinstance(a, dict) else a for a in multiscales["axes"]]
    scales = []
    nbytes = 0
    for d in multiscales["datasets"]:
        arr = group[d["path"]]
        scales.append(
            {"path": d["path"], "shape": list(arr.shape), "chunks": list(arr.chunks), "dtype": str(arr.dtype)}
        )
        nbytes += arr.nbytes
    return {
        "axes": axes,
        "shape": scales[0]["shape"],
        "dtype": scales[0]["dtype"],
        "scales": len(scales),
        "levels": scales,
        "nbytes_uncompressed": int(nbytes),
        "coordinate_systems": _coordinate_systems(multiscales.get("coordinateTransformations", [])),
    }


def _data_columns(names: list[str]) -> list[str]:
    """Column names without the index columns that pandas and dask add."""
    return [n for n in names if not (n.startswith("__") and n.endswith("__"))]


def _parquet_info(location: Any, group: zarr.Group, element_type: str, name: str) -> dict[str, Any]:
    if _blob.is_blob_encoded(group):
        rows, columns, size = 0, None, 0
        for part in _blob.blob_parts(group):
            # recorded row counts spare the footers of parts after the first (version 2)
            if columns is None or part.get("rows") is None:
                with _blob.open_blob(group, part["array"]) as raw:
                    md = pq.ParquetFile(raw).metadata
                    columns = columns or md.schema.to_arrow_schema().names
                    rows += md.num_rows
                    size += raw.size()
            else:
                rows += int(part["rows"])
                size += int(part["nbytes"])
        return {
            "rows": rows,
            "columns": _data_columns(columns or []),
            "encoding": "parquet-in-zarr",
            "file_bytes": size,
        }
    filename = "points.parquet" if element_type == "points" else "shapes.parquet"
    path = location.file_path(element_type, name, filename)
    fs = location.fs
    files = [path] if fs.isfile(path) else sorted(p for p in fs.find(path) if p.endswith(".parquet"))
    rows, columns, size = 0, None, 0
    for f in files:
        with fs.open(f, "rb") as fh:
            md = pq.ParquetFile(fh).metadata  # reads only the footer
            rows += md.num_rows
            columns = columns or md.schema.to_arrow_schema().names
        size += fs.size(f)
    return {"rows": rows, "columns": _data_columns(columns or []), "encoding": "parquet", "file_bytes": int(size)}


def _first_dim(node: Any) -> int | None:
    """Length along axis 0 of an anndata-encoded array, string array or sparse matrix, from metadata only."""
    if isinstance(node, zarr.Array):
        return int(node.shape[0])
    if "shape" in node.attrs:
        return int(node.attrs["shape"][0])
    for _, child in node.arrays():
        return int(child.shape[0])
    return None


def _table_info(group: zarr.Group) -> dict[str, Any]:
    def _n(sub: str) -> int | None:
        if sub not in group:
            return None
        g = group[sub]
        index_name = g.attrs.get("_index", "_index")
        return _first_dim(g[index_name]) if index_name in g else None

    return {
        "n_obs": _n("obs"),
        "n_vars": _n("var"),
        "region": group.attrs.get("region"),
        "region_key": group.attrs.get("region_key"),
        "instance_key": group.attrs.get("instance_key"),
        "coordinate_systems": [],
    }


def info(target: Any, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Describe a SpatialData store from its metadata: elements, types, sizes and coordinate systems.

    Only zarr metadata and parquet footers are read, never pixel or point data. Elements are listed from the
    store's consolidated metadata when it has them, and each is described from its own metadata (as
    :func:`read` does), so an element changed by an incremental write that did not reconsolidate is described as
    it is stored.

    Parameters
    ----------
    target
        Path, URL, zarr store or plugin object.
    storage_options
        Filesystem options for URLs.

    Returns
    -------
    dict
        ``{"location": ..., "attrs": ..., "elements": [{"name", "type", ...}, ...], "coordinate_systems": [...]}``.
    """
    from spatialdata_plugins.core._io import _element_group, _element_names, _open_spatialdata_root, open_location

    location = open_location(target, "r", storage_options)
    root = _open_spatialdata_root(location)
    elements = []
    for element_type in ELEMENT_TYPES:
        for name in _element_names(root, element_type):
            group = _element_group(location, element_type, name)  # its own metadata, never the consolidated copy
            if element_type in ("images", "labels"):
                entry = _raster_info(group)
            elif element_type in ("points", "shapes"):
                entry = _parquet_info(location, group, element_type, name)
                entry["coordinate_systems"] = _coordinate_systems(group.attrs.get("coordinateTransformations", []))
                entry["axes"] = group.attrs.get("axes")
            else:
                entry = _table_info(group)
            elements.append({"name": name, "type": element_type, **entry})
    systems = sorted({cs for e in elements for cs in e.get("coordinate_systems", [])})
    attrs = root.attrs.asdict()
    return {
        "location": location.url,
        "format_version": (attrs.get("spatialdata_attrs") or {}).get("version"),
        "attrs": {k: v for k, v in attrs.items() if k != "spatialdata_attrs"},
        "elements": elements,
        "coordinate_systems": systems,
    }
