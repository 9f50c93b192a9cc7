"""The public functions: index elements, link them to tables, query the links, list and validate the graph."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spatialdata_plugins.relations import _elements as el
from spatialdata_plugins.relations._cache import cache_of, forget, spec_token
from spatialdata_plugins.relations._errors import (
    KeyColumnError,
    RelationArgumentError,
    RelationsError,
    StaleRelationError,
)
from spatialdata_plugins.relations._graph import link_id, links, read_graph, write_graph
from spatialdata_plugins.relations._mapping import (
    VALIDATE,
    Positions,
    evaluate,
    evaluate_key,
    find_spec,
    legacy_edges,
    legacy_keys,
    mapping_frame,
)

METHODS = ("key", "sjoin")
HOWS = ("inner", "left", "right", "outer", "left_exclusive", "right_exclusive")


@dataclass(frozen=True)
class Relation:
    """One edge of the relation graph.

    Attributes
    ----------
    id
        ``"<element>--<table>"``.
    element, table
        The two ends.
    element_type
        ``"shapes"``, ``"points"`` or ``"labels"`` (``None`` while an attached element is not loaded).
    method
        ``"key"``, ``"sjoin"`` (recorded links) or ``"legacy"`` (a table's ``region`` annotation).
    direction
        ``"both"`` for recorded links (found from either end in the graph), ``"table->element"`` for legacy
        annotations (found only by reading the table).
    cardinality
        element : table, ``"1:1"``, ``"N:1"``, ``"1:N"``, ``"N:M"`` or ``"empty"``; ``None`` when not known without
        evaluating a spatial link or loading a lazy element.
    status
        ``"ok"``, ``"not evaluated"`` (a spatial link before its first use), ``"evaluated"``, ``"not loaded"`` or
        ``"broken: <reason>"``.
    spec
        The stored JSON spec of the link.
    """

    id: str
    element: str
    table: str
    element_type: str | None
    method: str
    direction: str
    cardinality: str | None
    status: str
    spec: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


def index_element(sdata: Any, element: str, *, column: str = "instance_id") -> str | None:
    """Give an element a stable instance-id column; calling it again changes nothing.

    Shapes get ``column`` holding their index values (or ``0..n-1`` if the index has duplicates); points get
    ``0..n-1`` in their current order. The column is recorded in the relation graph, so mappings report it as the
    instance id and it survives reordering and subsetting. Labels need no column: their instance ids are the label
    values (``None`` is returned).

    Parameters
    ----------
    sdata
        A SpatialData.
    element
        Name of a shapes, points or labels element.
    column
        Name of the instance-id column.

    Returns
    -------
    str or None
        The column holding the instance ids, ``None`` for labels.

    Raises
    ------
    RelationTargetNotFoundError
        No element ``element``.
    KeyColumnError
        ``column`` exists already and has duplicates.

    Examples
    --------
    >>> index_element(sdata, "cells")  # doctest: +SKIP
    'instance_id'
    """
    element_type, value = el.get_element(sdata, element, "element", ("shapes", "points", "labels"))
    if element_type == "labels":
        return None
    if not isinstance(column, str) or not column:
        raise RelationArgumentError(f"column must be a non-empty string, got {column!r}")
    graph = read_graph(sdata)
    recorded = graph["instance_ids"].get(element)
    if recorded is not None and recorded != column and recorded in value.columns:
        raise RelationArgumentError(
            f"column={column!r}: element {element!r} is indexed already, by column {recorded!r}"
        )
    if column in value.columns:
        values = value[column].compute() if element_type == "points" else value[column]
        if not values.is_unique:
            raise KeyColumnError(
                f"column={column!r}: element {element!r} has a column {column!r} with duplicates, which cannot be "
                "instance ids; choose another column name"
            )
    elif element_type == "shapes":
        ids = value.index.to_numpy() if value.index.is_unique else np.arange(len(value), dtype=np.int64)
        new = value.copy()
        new[column] = ids
        sdata.shapes[element] = new
    else:
        ones = value.map_partitions(lambda df: pd.Series(np.ones(len(df), dtype=np.int64), index=df.index))
        new = value.assign(**{column: ones.cumsum() - 1})
        new.attrs.update(value.attrs)
        sdata.points[element] = new
    if recorded != column:
        graph["instance_ids"][element] = column
        write_graph(sdata, graph)
    return column


def _key_spec(
    sdata: Any,
    element: str,
    element_type: str,
    value: Any,
    table: str,
    on: str | None,
    element_on: str | None,
    table_on: str | None,
    validate: str,
) -> dict[str, Any]:
    if validate not in VALIDATE:
        raise RelationArgumentError(f"validate={validate!r} is not one of {sorted(VALIDATE)} (as in pandas.merge)")
    table_column = table_on if table_on is not None else on
    if table_column is None:
        raise RelationArgumentError("method='key' needs on= (or table_on=): the table column holding the keys")
    element_column = element_on if element_on is not None else on
    if element_type == "labels":
        if element_on is not None:
            raise RelationArgumentError(
                f"element_on={element_on!r}: labels {element!r} have no columns; their keys are the label values"
            )
        element_column = None  # the label values
    elif element_column is not None:
        index_name = value.index.name
        if element_column not in value.columns and element_column != index_name:
            argument = "element_on" if element_on is not None else "on"
            raise KeyColumnError(
                f"{argument}={element_column!r}: no column {element_column!r} in {element_type} {element!r} "
                f"(columns: {el.element_columns(element_type, value)}, index: {index_name!r})"
            )
    return {
        "element": element,
        "element_type": element_type,
        "table": table,
        "method": "key",
        "element_on": element_column,
        "table_on": table_column,
        "validate": validate,
    }


def _sjoin_spec(
    sdata: Any,
    element: str,
    element_type: str,
    value: Any,
    table: str,
    via: str | None,
    predicate: str,
    distance: float | None,
    coordinate_system: str | None,
) -> dict[str, Any]:
    import geopandas as gpd

    if via is None:
        raise RelationArgumentError(
            "method='sjoin' needs via=: the shapes element (linked to the table) the element is joined with"
        )
    if via == element:
        raise RelationArgumentError(f"via={via!r} is the element itself")
    _, via_value = el.get_element(sdata, via, "via", ("shapes",))
    valid = sorted(p for p in gpd.GeoSeries([]).sindex.valid_query_predicates if p is not None)
    if predicate not in valid:
        raise RelationArgumentError(f"predicate={predicate!r} is not a predicate geopandas knows: {valid}")
    if predicate == "dwithin":
        if distance is None or not np.isfinite(distance) or distance < 0:
            raise RelationArgumentError(f"predicate='dwithin' needs distance= >= 0, got {distance!r}")
    elif distance is not None:
        raise RelationArgumentError(f"distance={distance!r} is only used with predicate='dwithin'")
    system = el.common_coordinate_system(value, via_value, (element, via), coordinate_system, "via")
    try:
        find_spec(sdata, via, table)
    except RelationsError as exc:
        raise RelationArgumentError(f"via={via!r} must be linked to table {table!r} first: {exc}") from exc
    return {
        "element": element,
        "element_type": element_type,
        "table": table,
        "method": "sjoin",
        "via": via,
        "predicate": predicate,
        "distance": None if distance is None else float(distance),
        "coordinate_system": system,
    }


def _write_legacy(sdata: Any, spec: dict[str, Any], positions: Positions, region_key: str, instance_key: str) -> None:
    from spatialdata.models import TableModel

    table = sdata.tables[spec["table"]]
    element = spec["element"]
    keys = legacy_keys(table)
    if keys is not None and keys[0] != [element]:
        raise RelationArgumentError(
            f"write_legacy=True: table {spec['table']!r} already annotates {keys[0]} through its region fields; "
            "they hold one target per row, so they are left alone"
        )
    counts_rows = np.bincount(positions.table, minlength=positions.n_table)
    counts_instances = np.bincount(positions.element, minlength=positions.n_element)
    if len(positions.table) == 0 or counts_rows.min() != 1 or counts_rows.max() != 1 or counts_instances.max() > 1:
        raise RelationArgumentError(
            f"write_legacy=True needs every row of table {spec['table']!r} related to exactly one instance of "
            f"{element!r} and no instance to several rows (1:1); this link is {positions.cardinality()} with "
            f"{int((counts_rows == 0).sum())} rows unrelated"
        )
    for column in (region_key, instance_key):
        if keys is None and column in table.obs.columns:
            raise KeyColumnError(
                f"write_legacy=True: table {spec['table']!r} already has an obs column {column!r}; choose "
                "legacy_region_key= / legacy_instance_key="
            )
    element_type, value = el.get_element(sdata, element, "element")
    ids = el.instance_ids(element_type, value, None)
    instance_of_row = np.empty(positions.n_table, dtype=ids.dtype)
    instance_of_row[positions.table] = ids[positions.element]
    if keys is not None:
        region_key, instance_key = keys[1], keys[2]
    table.obs[region_key] = pd.Categorical([element] * positions.n_table)
    table.obs[instance_key] = instance_of_row
    table.uns["spatialdata_attrs"] = {"region": element, "region_key": region_key, "instance_key": instance_key}
    TableModel().validate(table)


def annotate_by_table(
    sdata: Any,
    element: str,
    table: str,
    *,
    method: str = "key",
    on: str | None = None,
    element_on: str | None = None,
    table_on: str | None = None,
    validate: str = "many_to_one",
    via: str | None = None,
    predicate: str = "intersects",
    distance: float | None = None,
    coordinate_system: str | None = None,
    write_legacy: bool = False,
    legacy_region_key: str = "region",
    legacy_instance_key: str = "instance_id",
) -> Relation:
    """Link the instances of an element to the rows of a table, by key (like ``pandas.merge``) or spatially.

    The link is recorded in the relation graph (``sdata.attrs``); it replaces an earlier link between the same
    element and table. A key link is evaluated whenever it is used (it is cheap); a spatial link is evaluated on first
    use and cached with a fingerprint of its inputs. Bad input raises before anything is recorded.

    Parameters
    ----------
    sdata
        A SpatialData.
    element
        Name of a shapes, points or labels element (``method="sjoin"``: shapes or points).
    table
        Name of a table.
    method
        ``"key"``: instances and rows with equal keys are related. ``"sjoin"``: each instance is related to the
        table rows of the ``via`` instances it satisfies ``predicate`` with, as ``geopandas.sjoin(element, via)``.
    on
        Key column, in the table's ``obs`` and in the element (a column, or the index by its name). For labels the
        element's keys are the label values.
    element_on, table_on
        Key columns when the names differ; ``element_on=None`` with ``on=None`` uses the element's instance ids.
    validate
        As in ``pandas.merge``, element on the left: ``"many_to_one"`` (default: table keys unique),
        ``"one_to_one"``, ``"one_to_many"``, ``"many_to_many"``.
    via
        ``method="sjoin"``: the shapes element linked to ``table`` that the element is joined with.
    predicate
        ``method="sjoin"``: a geopandas predicate (``"intersects"``, ``"within"``, ``"contains"``, ``"dwithin"``...).
    distance
        ``predicate="dwithin"``: the distance.
    coordinate_system
        ``method="sjoin"``: where to join; default ``"global"`` or the only coordinate system both share.
    write_legacy
        Also write the link into the table's spatialdata fields (``region``, ``region_key``, ``instance_key``), so
        spatialdata-plot and napari-spatialdata see it; needs a 1:1 link covering every row and a table without an
        annotation of another element.
    legacy_region_key, legacy_instance_key
        The obs columns written with ``write_legacy=True`` (a table that already annotates the element keeps its
        own).

    Returns
    -------
    Relation
        The recorded edge.

    Raises
    ------
    RelationTargetNotFoundError
        Unknown ``element``, ``table`` or ``via``.
    KeyColumnError
        A key column is missing, or has duplicates where ``validate`` needs unique keys.
    CoordinateSystemError
        ``element`` and ``via`` share no coordinate system.
    RelationArgumentError
        Unknown ``method`` or ``predicate``, an element of the wrong type, ``via`` not linked to ``table``, or
        ``write_legacy=True`` on a link that is not 1:1.

    Examples
    --------
    >>> annotate_by_table(sdata, "cells", "table", method="key", on="cell_id")  # doctest: +SKIP
    >>> annotate_by_table(sdata, "nuclei", "table", method="sjoin", via="cells", predicate="within")  # doctest: +SKIP
    """
    if method not in METHODS:
        raise RelationArgumentError(f"method={method!r} is not one of {list(METHODS)}")
    el.get_table(sdata, table, "table")
    kinds = ("shapes", "points", "labels") if method == "key" else ("shapes", "points")
    element_type, value = el.get_element(sdata, element, "element", kinds)
    if method == "key":
        spec = _key_spec(sdata, element, element_type, value, table, on, element_on, table_on, validate)
        arguments = {
            "table_on": "table_on" if table_on is not None else "on",
            "element_on": "element_on" if element_on is not None else "on",
        }
        positions = evaluate_key(sdata, spec, check=True, arguments=arguments)
    else:
        for name, given in (("on", on), ("element_on", element_on), ("table_on", table_on)):
            if given is not None:
                raise RelationArgumentError(f"{name}={given!r} is only used with method='key'")
        spec = _sjoin_spec(sdata, element, element_type, value, table, via, predicate, distance, coordinate_system)
        positions = None
    key = link_id(element, table)
    if write_legacy:
        if positions is None:
            graph_before = read_graph(sdata)
            graph = read_graph(sdata)
            graph["links"][key] = spec
            write_graph(sdata, graph)
            try:
                positions = evaluate(sdata, spec)
            finally:
                write_graph(sdata, graph_before)
                forget(sdata, key)
        _write_legacy(sdata, spec, positions, legacy_region_key, legacy_instance_key)
    graph = read_graph(sdata)
    old = graph["links"].get(key)
    graph["links"][key] = spec
    write_graph(sdata, graph)
    if old is None or old.get("method") != "sjoin" or spec_token(old) != spec_token(spec):
        forget(sdata, key)
    return _relation(sdata, key, spec, positions)


def _relation(sdata: Any, key: str, spec: dict[str, Any], positions: Positions | None) -> Relation:
    method = spec["method"]
    status = "ok"
    if method == "sjoin" and positions is None:
        status = "evaluated" if key in cache_of(sdata) else "not evaluated"
    return Relation(
        id=key,
        element=spec["element"],
        table=spec["table"],
        element_type=spec.get("element_type"),
        method=method,
        direction="table->element" if method == "legacy" else "both",
        cardinality=None if positions is None else positions.cardinality(),
        status=status,
        spec=dict(spec),
    )


def _resolve_ends(sdata: Any, first: str, second: str) -> tuple[str, str, bool]:
    """``(element, table, element_first)`` from two names given in either order."""
    first_is_table = isinstance(first, str) and el.is_table(sdata, first)
    second_is_table = isinstance(second, str) and el.is_table(sdata, second)
    if first_is_table and not second_is_table:
        el.get_element(sdata, second, "table", ("shapes", "points", "labels"))
        return second, first, False
    el.get_table(sdata, second, "table")
    el.get_element(sdata, first, "element", ("shapes", "points", "labels"))
    return first, second, True


def get_element_mapping(
    sdata: Any, element: str, table: str, *, how: str = "inner", recompute: bool = False
) -> pd.DataFrame:
    """Which element instances go with which table rows, from either end.

    Works for recorded links and for legacy ``region`` annotations (a recorded link between the same pair wins).
    A spatial link is evaluated on first use and cached; if its inputs changed since, the call raises
    :class:`StaleRelationError` unless ``recompute=True``. An element attached lazily is loaded only here, when a
    mapping needs it.

    Parameters
    ----------
    sdata
        A SpatialData.
    element, table
        The two ends, in either order: ``get_element_mapping(sdata, "table", "cells")`` gives the same pairs with
        the columns swapped.
    how
        ``"inner"`` (related pairs), ``"left"`` / ``"right"`` (also the unrelated instances or rows of the first /
        second argument, with ``None`` on the other side), ``"outer"``, ``"left_exclusive"`` / ``"right_exclusive"``
        (only the unrelated ones), as in ``spatialdata.join_spatialelement_table``.
    recompute
        Evaluate a stale spatial link again instead of raising.

    Returns
    -------
    pandas.DataFrame
        Columns ``instance_id`` (the element's instance ids: its index, its :func:`index_element` column, or the
        label values) and ``obs_name`` (the table's ``obs_names``), in the order the two ends were given.

    Raises
    ------
    RelationNotFoundError
        The element and the table are not related.
    StaleRelationError
        A spatial link's inputs changed since it was evaluated.
    """
    if how not in HOWS:
        raise RelationArgumentError(f"how={how!r} is not one of {list(HOWS)}")
    element, table, element_first = _resolve_ends(sdata, element, table)
    spec = find_spec(sdata, element, table)
    positions = evaluate(sdata, spec, recompute)
    return mapping_frame(sdata, spec, positions, how, element_first)


def relations(sdata: Any) -> list[Relation]:
    """Every edge of the relation graph: recorded links and legacy ``region`` annotations.

    Nothing is evaluated that is not cheap: a spatial link shows its cardinality only once evaluated, and an
    element attached lazily is not loaded (its edges show ``"not loaded"``).

    Parameters
    ----------
    sdata
        A SpatialData.

    Returns
    -------
    list of Relation
        Recorded links first (in the order recorded), then legacy annotations table by table.
    """
    out = []
    recorded = links(sdata)
    edges = list(recorded.items()) + legacy_edges(sdata)
    for key, spec in edges:
        positions = None
        status = "ok"
        ends = [spec["element"], spec["table"], spec.get("via")]
        if any(name is not None and el.is_lazy(sdata, name) for name in ends):
            status = "not loaded"
        elif spec["method"] == "sjoin":
            cached = cache_of(sdata).get(key)
            status = "evaluated" if cached is not None and cached.token == spec_token(spec) else "not evaluated"
            if status == "evaluated":
                try:
                    positions = evaluate(sdata, spec)
                except StaleRelationError:
                    status = "stale"
                except RelationsError as exc:
                    status = f"broken: {exc}"
        else:
            try:
                positions = evaluate(sdata, spec)
            except (RelationsError, KeyError, ValueError) as exc:
                status = f"broken: {exc}"
        relation = _relation(sdata, key, spec, positions)
        out.append(Relation(**{**relation.to_dict(), "status": status, "element_type": _element_type(sdata, spec)}))
    return out


def _element_type(sdata: Any, spec: dict[str, Any]) -> str | None:
    name = spec["element"]
    for element_type in ("shapes", "points", "labels"):
        if name in getattr(sdata, element_type):
            return element_type
    return spec.get("element_type")
