"""DuckDB views of a SpatialData: one per shapes/points element, one per table, one per relation."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from spatialdata_plugins.relations import _elements as el
from spatialdata_plugins.relations._cache import state_of
from spatialdata_plugins.relations._errors import RelationArgumentError, RelationsError

ID_COLUMN = "instance_id"
OBS_COLUMN = "obs_name"
# the row's position in its table: joining on it (an integer) is faster than on obs_name (a string)
ROW_COLUMN = "obs_index"
# DuckDB scans an Arrow table batch by batch, one batch per thread at a time: slices of the size of its own row
# groups let every thread work (a 1M-row single batch is scanned, and its joins probed, by one thread)
ROWS_PER_BATCH = 122_880


def spatial_extension_path() -> str:
    """The DuckDB spatial extension shipped by the ``duckdb-extension-spatial`` package for this DuckDB version."""
    import duckdb
    import duckdb_extension_spatial

    folder = os.path.join(os.path.dirname(duckdb_extension_spatial.__file__), "extensions")
    path = os.path.join(folder, f"v{duckdb.__version__}", "spatial.duckdb_extension")
    if not os.path.exists(path):
        found = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        raise RelationsError(
            f"the installed duckdb-extension-spatial has no build for duckdb {duckdb.__version__} (it has {found}); "
            "install the duckdb-extension-spatial version equal to duckdb's"
        )
    return path


def load_spatial(con: Any) -> None:
    """Load the spatial extension from the installed package (never downloaded)."""
    con.load_extension(spatial_extension_path())


def quote(name: str) -> str:
    """A SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def link_view_name(element: str, table: str) -> str:
    """The view of the relation between ``element`` and ``table``."""
    return f"{element}__{table}"


def _element_arrow(sdata: Any, name: str, element_type: str, element: Any, geometry: bool) -> Any:
    """A shapes or points element as an Arrow table: ``instance_id``, its columns and, for shapes, WKB ``geometry``."""
    import pyarrow as pa

    from spatialdata_plugins.relations._graph import instance_column

    column = instance_column(sdata, name)
    if element_type == "shapes":
        frame = element.drop(columns=element.geometry.name)  # no copy: pandas' copy-on-write shares the columns
    else:
        frame = _points_frame(sdata, name, element)
    frame = frame.reset_index(drop=column is not None and column in frame.columns)
    if column is None or column not in frame.columns:
        frame = frame.rename(columns={frame.columns[0]: ID_COLUMN})
    frame.attrs = {}  # spatialdata's transformations: not columns, and not JSON for Arrow's schema metadata
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if geometry and element_type == "shapes":
        table = table.append_column("geometry", _wkb(sdata, name, element))
    return table


def _points_frame(sdata: Any, name: str, element: Any) -> Any:
    """The computed points, kept while the dask collection is the same (its token names its graph and inputs)."""
    from dask.base import tokenize

    cache = state_of(sdata, "points")
    token = tokenize(element)
    hit = cache.get(name)
    if hit is not None and hit[0] == token:
        return hit[1]
    frame = element.compute()
    cache[name] = (token, frame)
    return frame


def _wkb(sdata: Any, name: str, element: Any) -> Any:
    """The shapes' geometries as WKB, encoded once and kept while the element holds the same geometry objects."""
    import pyarrow as pa
    import shapely

    cache = state_of(sdata, "wkb")
    hit = cache.get(name)
    if hit is not None and hit[0].same_as(element):
        return hit[1]
    snapshot = el.Snapshot.take("shapes", element)
    wkb = pa.array(shapely.to_wkb(element.geometry.values), type=pa.binary())
    cache[name] = (snapshot, wkb)
    return wkb


def _index_arrow(sdata: Any, table_name: str, index: Any) -> Any:
    """A table's ``obs_names`` as Arrow: shared with pandas when Arrow-backed, else converted once per index object.

    A pandas ``Index`` is immutable, so the converted strings stay right until ``obs_names`` is given a new index.
    """
    import pyarrow as pa

    if index.dtype != object:
        return pa.array(index.array)
    cache = state_of(sdata, "obs_names")
    hit = cache.get(table_name)
    if hit is not None and hit[0] is index:
        return hit[1]
    names = pa.array(index.to_numpy(), from_pandas=True)
    cache[table_name] = (index, names)
    return names


def _table_arrow(sdata: Any, name: str, obs: Any) -> Any:
    """``obs`` as an Arrow table, ``obs_name`` and ``obs_index`` first (columns shared with pandas where Arrow can)."""
    import pyarrow as pa

    # a RangeIndex: pyarrow probes every column for ``__arrow_array__``, which pandas answers by looking the name up
    # in the index, and a lookup in a large string index first builds its hash table (a second per million rows)
    frame = obs.reset_index(drop=True)
    frame.attrs = {}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.add_column(0, OBS_COLUMN, _index_arrow(sdata, name, obs.index))
    return table.add_column(1, ROW_COLUMN, pa.array(np.arange(len(obs), dtype=np.int64)))


def _link_arrow(sdata: Any, spec: dict[str, Any], positions: Any, obs_names: Any) -> Any:
    """A link as an Arrow table: ``instance_id``, ``obs_name`` (taken from the table's Arrow names), ``obs_index``."""
    import pyarrow as pa

    from spatialdata_plugins.relations._graph import instance_column

    element_type, element = el.get_element(sdata, spec["element"], "element", ("shapes", "points", "labels"))
    column = None if spec.get("method") == "legacy" else instance_column(sdata, spec["element"])
    ids = el.instance_index(element_type, element, column)
    rows = pa.array(positions.table, type=pa.int64())
    return pa.table(
        {
            ID_COLUMN: _pandas_arrow(ids.take(positions.element)),
            OBS_COLUMN: obs_names.take(rows),
            ROW_COLUMN: rows,
        }
    )


def _view(con: Any, name: str, table: Any, columns: str = "*") -> None:
    """Create view ``name`` over an Arrow table, in zero-copy slices DuckDB can scan in parallel."""
    import pyarrow as pa

    batches = pa.Table.from_batches(table.to_batches(max_chunksize=ROWS_PER_BATCH), schema=table.schema)
    # a view over the Arrow table itself: DuckDB scans its buffers, nothing is copied into the database
    con.from_arrow(batches).project(columns).create_view(name, replace=True)


def _pandas_arrow(values: Any) -> Any:
    """A pandas Index or Series as an Arrow array (shared where Arrow can share it)."""
    import pandas as pd
    import pyarrow as pa

    array = values.array
    if isinstance(array, pd.arrays.NumpyExtensionArray):
        return pa.array(values.to_numpy(), from_pandas=True)
    return pa.array(array, from_pandas=True)


def _projection(table: Any, replaced: dict[str, str] | None = None) -> str:
    """The view's select list: ``*``, with ``replaced`` expressions and string dictionary columns as ``ENUM``.

    DuckDB reads an Arrow dictionary column as ``VARCHAR``; as an ``ENUM`` it keeps the codes through joins and hands
    the result back to Arrow (and pandas) as a dictionary (a categorical) instead of one string per row.
    """
    import pyarrow as pa

    expressions = dict(replaced or {})
    for field in table.schema:
        column = table.column(field.name)
        if field.name in expressions or not pa.types.is_dictionary(field.type) or column.num_chunks != 1:
            continue
        if not (pa.types.is_string(field.type.value_type) or pa.types.is_large_string(field.type.value_type)):
            continue
        values = column.chunk(0).dictionary.to_pylist()
        if len(values) != len(set(values)) or any(v is None for v in values):
            continue
        members = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
        expressions[field.name] = f"CAST({quote(field.name)} AS ENUM({members}))"
    if not expressions:
        return "*"
    return "* REPLACE (" + ", ".join(f"{e} AS {quote(n)}" for n, e in expressions.items()) + ")"


def to_duckdb(
    sdata: Any,
    con: Any = None,
    *,
    elements: list[str] | None = None,
    geometry: bool = True,
    spatial: bool = True,
) -> Any:
    """DuckDB views of the elements, the tables and the relations, for joins in SQL.

    Views: one per shapes and points element (``instance_id``, its columns, and ``geometry``: a spatial ``GEOMETRY``
    for shapes from their WKB, ``ST_Point(x, y)`` for points), one per table (``obs_name``, ``obs_index`` and the
    ``obs`` columns) and one per relation, ``"<element>__<table>"`` with ``instance_id``, ``obs_name`` and
    ``obs_index`` (a recorded link wins over the legacy annotation of the same pair). ``obs_index`` is the row's
    position in the table: joins on it are faster than on the ``obs_name`` strings.

    Columns are handed to DuckDB as Arrow buffers, without a
    copy where Arrow can share pandas' memory; shapes geometries are encoded to WKB once (DuckDB has no zero-copy
    path for shapely objects). Labels and images get no element view (a labels relation view still lists the label
    values).

    Parameters
    ----------
    sdata
        A SpatialData.
    con
        A DuckDB connection to add the views to; a new in-memory one by default.
    elements
        Names of the elements and tables to expose (``None``: all); relation views are made for pairs whose both
        ends are exposed.
    geometry
        Add the ``geometry`` column to shapes views.
    spatial
        Load DuckDB's spatial extension (from the ``duckdb-extension-spatial`` package) and expose geometries as
        ``GEOMETRY``; ``False`` leaves shapes geometries as WKB ``BLOB``.

    Returns
    -------
    duckdb.DuckDBPyConnection
        The connection.

    Examples
    --------
    >>> con = to_duckdb(sdata)  # doctest: +SKIP
    >>> con.sql("select kind, count(*) from nuclei__table join table using (obs_name) group by 1")  # doctest: +SKIP
    """
    import duckdb

    from spatialdata_plugins.relations._graph import links
    from spatialdata_plugins.relations._mapping import evaluate, legacy_edges

    if con is None:
        con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    if spatial:
        load_spatial(con)
    names = list(elements) if elements is not None else None
    if names is not None:
        for name in names:
            if not el.has_name(sdata, name):
                raise RelationArgumentError(f"elements: no element or table named {name!r}")
    for element_type in ("shapes", "points"):
        for name in list(getattr(sdata, element_type)):
            if names is not None and name not in names:
                continue
            arrow = _element_arrow(sdata, name, element_type, sdata[name], geometry)
            spatial_shapes = spatial and element_type == "shapes" and geometry
            columns = _projection(arrow, {"geometry": "ST_GeomFromWKB(geometry)"} if spatial_shapes else None)
            if spatial and element_type == "points":
                columns += ", ST_Point(x, y) AS geometry"
            _view(con, name, arrow, columns)
    obs_names = {}
    for name in list(sdata.tables):
        if names is not None and name not in names:
            continue
        arrow = _table_arrow(sdata, name, sdata.tables[name].obs)
        obs_names[name] = arrow.column(OBS_COLUMN)
        _view(con, name, arrow, _projection(arrow))
    seen: set[tuple[str, str]] = set()
    for _, spec in list(links(sdata).items()) + legacy_edges(sdata):
        pair = (spec["element"], spec["table"])
        if pair in seen or (names is not None and not set(pair) <= set(names)):
            continue
        seen.add(pair)
        if not el.has_name(sdata, pair[0]) or pair[1] not in sdata.tables:
            continue
        names_arrow = obs_names.get(pair[1])
        if names_arrow is None:
            names_arrow = _index_arrow(sdata, pair[1], sdata.tables[pair[1]].obs.index)
        arrow = _link_arrow(sdata, spec, evaluate(sdata, spec), names_arrow)
        _view(con, link_view_name(*pair), arrow)
    return con
