"""DuckDB views of a SpatialData: one per shapes/points element, one per table, one per relation."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from spatialdata_plugins.relations import _elements as el
from spatialdata_plugins.relations._errors import RelationArgumentError, RelationsError

ID_COLUMN = "instance_id"
OBS_COLUMN = "obs_name"
# the row's position in its table: joining on it (an integer) is faster than on obs_name (a string)
ROW_COLUMN = "obs_index"


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
    import pyarrow as pa

    from spatialdata_plugins.relations._graph import instance_column

    column = instance_column(sdata, name)
    if element_type == "shapes":
        frame = element.drop(columns=element.geometry.name)
        geoms = element.geometry.values
    else:
        frame = element.compute()
        geoms = None
    frame = frame.reset_index(drop=column is not None and column in frame.columns)
    if column is None or column not in frame.columns:
        frame = frame.rename(columns={frame.columns[0]: ID_COLUMN})
    frame.attrs = {}  # spatialdata's transformations: not columns, and not JSON for Arrow's schema metadata
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if geometry and geoms is not None:
        import shapely

        table = table.append_column("geometry", pa.array(shapely.to_wkb(geoms), type=pa.binary()))
    return table


def _frame_arrow(frame: Any) -> Any:
    """A pandas frame as an Arrow table (Arrow-backed columns are shared, not converted)."""
    import pyarrow as pa

    return pa.table({str(c): pa.array(frame[c].array) for c in frame.columns})


def _table_arrow(obs: Any) -> Any:
    """``obs`` as an Arrow table with the ``obs_name`` column first (columns shared with pandas where possible)."""
    import pyarrow as pa

    # a RangeIndex: pyarrow probes every column for ``__arrow_array__``, which pandas answers by looking the name up
    # in the index, and a lookup in a large string index first builds its hash table (a second per million rows)
    frame = obs.reset_index(drop=True)
    frame.attrs = {}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    names = pa.array(obs.index.to_numpy() if obs.index.dtype == object else obs.index.array)
    table = table.add_column(0, OBS_COLUMN, names)
    return table.add_column(1, ROW_COLUMN, pa.array(np.arange(len(obs), dtype=np.int64)))


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
    import pyarrow as pa

    from spatialdata_plugins.relations._graph import links
    from spatialdata_plugins.relations._mapping import evaluate, legacy_edges, mapping_frame

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
            columns = "*"
            if spatial and element_type == "shapes" and geometry:
                columns = "* EXCLUDE (geometry), ST_GeomFromWKB(geometry) AS geometry"
            elif spatial and element_type == "points":
                columns = "*, ST_Point(x, y) AS geometry"
            # a view over the Arrow table itself: DuckDB scans its buffers, nothing is copied into the database
            con.from_arrow(arrow).project(columns).create_view(name, replace=True)
    for name in list(sdata.tables):
        if names is not None and name not in names:
            continue
        con.from_arrow(_table_arrow(sdata.tables[name].obs)).create_view(name, replace=True)
    seen: set[tuple[str, str]] = set()
    for _, spec in list(links(sdata).items()) + legacy_edges(sdata):
        pair = (spec["element"], spec["table"])
        if pair in seen or (names is not None and not set(pair) <= set(names)):
            continue
        seen.add(pair)
        if not el.has_name(sdata, pair[0]) or pair[1] not in sdata.tables:
            continue
        positions = evaluate(sdata, spec)
        frame = mapping_frame(sdata, spec, positions, "inner", True, sort=False)
        arrow = _frame_arrow(frame).append_column(ROW_COLUMN, pa.array(positions.table, type=pa.int64()))
        con.from_arrow(arrow).create_view(link_view_name(*pair), replace=True)
    return con
