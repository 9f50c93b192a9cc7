"""Evaluating a link into positions: which element instances go with which table rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from spatialdata_plugins.relations import _elements as el
from spatialdata_plugins.relations._cache import Evaluated, cache_of, spec_token
from spatialdata_plugins.relations._errors import (
    KeyColumnError,
    RelationArgumentError,
    RelationNotFoundError,
    StaleRelationError,
)
from spatialdata_plugins.relations._graph import instance_column, link_id, links

# pandas.merge's ``validate`` spellings -> (element keys unique, table keys unique)
VALIDATE = {
    "one_to_one": (True, True),
    "1:1": (True, True),
    "one_to_many": (True, False),
    "1:m": (True, False),
    "many_to_one": (False, True),
    "m:1": (False, True),
    "many_to_many": (False, False),
    "m:m": (False, False),
}


@dataclass
class Positions:
    """A link evaluated: pair ``i`` relates element instance ``element[i]`` with table row ``table[i]``."""

    element: np.ndarray
    table: np.ndarray
    n_element: int
    n_table: int

    def cardinality(self) -> str:
        """``"1:1"``, ``"N:1"`` (several instances share a row), ``"1:N"`` (an instance has several rows) or ``"N:M"``.

        Read element : table; ``"empty"`` when nothing is related.
        """
        if len(self.element) == 0:
            return "empty"
        rows_per_instance = np.bincount(self.element, minlength=self.n_element).max()
        instances_per_row = np.bincount(self.table, minlength=self.n_table).max()
        left = "N" if instances_per_row > 1 else "1"
        right = "N" if rows_per_instance > 1 else "1"
        return "N:M" if left == right == "N" else f"{left}:{right}"


def match_positions(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of equal values, as ``pandas.merge(how="inner")`` pairs them (nulls match nulls, like pandas)."""
    dense = _match_dense_integers(left, right)
    if dense is not None:
        return dense
    right_index = pd.Index(right)
    if right_index.is_unique:
        found = right_index.get_indexer(left)
        hit = found >= 0
        return np.flatnonzero(hit).astype(np.int64), found[hit].astype(np.int64)
    merged = pd.merge(
        pd.DataFrame({"key": left, "lpos": np.arange(len(left))}),
        pd.DataFrame({"key": right, "rpos": np.arange(len(right))}),
        on="key",
        how="inner",
        sort=False,
    )
    return merged["lpos"].to_numpy(np.int64), merged["rpos"].to_numpy(np.int64)


def _match_dense_integers(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`match_positions` for unique integer ``right`` keys spanning a range not much longer than their count.

    Instance ids usually are such keys (``0..n-1``, label values): a lookup table indexed by the key replaces the hash
    table, with the same pairs in the same order. ``None`` when the keys are not such (the general path answers).
    """
    if len(right) == 0 or left.dtype.kind not in "iu" or right.dtype.kind not in "iu":
        return None
    if np.dtype(np.uint64) in (left.dtype, right.dtype):  # may not fit in int64
        return None
    low, high = int(right.min()), int(right.max())
    span = high - low + 1
    if span > 4 * len(right) + 1024:
        return None
    lookup = np.full(span, -1, dtype=np.int64)
    lookup[right.astype(np.int64) - low] = np.arange(len(right), dtype=np.int64)
    if np.count_nonzero(lookup >= 0) != len(right):  # duplicate keys: every match is a pair, the general path
        return None
    inside = np.flatnonzero((left >= low) & (left <= high))
    found = lookup[left[inside].astype(np.int64) - low]
    hit = found >= 0
    return inside[hit].astype(np.int64), found[hit]


def duplicates(values: np.ndarray) -> list[Any]:
    """Up to five values occurring more than once."""
    series = pd.Series(values)
    return series[series.duplicated()].drop_duplicates().head(5).tolist()


def legacy_keys(table: Any) -> tuple[list[str], str, str] | None:
    """``(regions, region_key, instance_key)`` of a table's spatialdata annotation, or ``None``."""
    attrs = table.uns.get("spatialdata_attrs") or {}
    region, region_key, instance_key = attrs.get("region"), attrs.get("region_key"), attrs.get("instance_key")
    if region is None or region_key is None or instance_key is None:
        return None
    regions = [region] if isinstance(region, str) else [str(r) for r in region]
    return regions, str(region_key), str(instance_key)


def legacy_spec(sdata: Any, element: str, table: str) -> dict[str, Any] | None:
    """The legacy edge ``table`` -> ``element`` as a link spec, if the table's annotation names the element."""
    keys = legacy_keys(sdata.tables[table])
    if keys is None or element not in keys[0]:
        return None
    return {"element": element, "table": table, "method": "legacy", "region_key": keys[1], "instance_key": keys[2]}


def find_spec(sdata: Any, element: str, table: str) -> dict[str, Any]:
    """The link used between ``element`` and ``table``: a recorded link first, else the legacy annotation."""
    spec = links(sdata).get(link_id(element, table))
    if spec is not None:
        return spec
    spec = legacy_spec(sdata, element, table)
    if spec is not None:
        return spec
    related = sorted(s["element"] for s in links(sdata).values() if s.get("table") == table)
    keys = legacy_keys(sdata.tables[table])
    related += sorted(keys[0]) if keys else []
    raise RelationNotFoundError(
        f"element {element!r} and table {table!r} are not related (table {table!r} is related to: "
        f"{related or 'nothing'}); link them with annotate_by_table"
    )


def element_key_values(
    sdata: Any, spec: dict[str, Any], element_type: str, element: Any, argument: str = "element_on"
) -> np.ndarray:
    """The element side of a key link: a column, the index (by name) or the instance ids."""
    column = spec.get("element_on")
    if column is None:
        return el.instance_ids(element_type, element, instance_column(sdata, spec["element"]))
    if element_type != "labels" and column not in element.columns and column == element.index.name:
        index = element.index
        return (index.compute() if element_type == "points" else index).to_numpy()
    return el.key_values(element_type, element, column, argument, spec["element"])


def table_key_values(table: Any, column: str, argument: str, table_name: str) -> np.ndarray:
    """The table side of a key link: an ``obs`` column."""
    if column not in table.obs.columns:
        raise KeyColumnError(
            f"{argument}={column!r}: no column {column!r} in table {table_name!r} "
            f"(obs columns: {list(table.obs.columns)})"
        )
    return table.obs[column].to_numpy()


def check_unique(values: np.ndarray, needed: bool, argument: str, column: Any, where: str, validate: str) -> None:
    """Raise when ``values`` must be unique (``validate``) and are not."""
    if needed and not pd.Index(values).is_unique:
        raise KeyColumnError(
            f"{argument}={column!r}: duplicate keys in {where} (for example {duplicates(values)}), but "
            f"validate={validate!r} needs them unique"
        )


def evaluate_key(
    sdata: Any, spec: dict[str, Any], check: bool = False, arguments: dict[str, str] | None = None
) -> Positions:
    """Pairs of a key link (``pandas.merge(how="inner")`` on the key columns).

    With ``check``, keys that ``validate`` needs unique are checked; ``arguments`` names the user's arguments in
    error messages (``on`` or ``table_on``...).
    """
    arguments = arguments or {"element_on": "element_on", "table_on": "table_on"}
    element_type, element = el.get_element(sdata, spec["element"], "element", ("shapes", "points", "labels"))
    table = el.get_table(sdata, spec["table"], "table")
    left = element_key_values(sdata, spec, element_type, element, arguments["element_on"])
    right = table_key_values(table, spec["table_on"], arguments["table_on"], spec["table"])
    if check:
        validate = spec.get("validate") or "many_to_many"
        unique_left, unique_right = VALIDATE[validate]
        where = f"element {spec['element']!r}"
        check_unique(left, unique_left, arguments["element_on"], spec.get("element_on"), where, validate)
        check_unique(right, unique_right, arguments["table_on"], spec["table_on"], f"table {spec['table']!r}", validate)
    epos, tpos = match_positions(left, right)
    return Positions(epos, tpos, len(left), len(right))


def evaluate_legacy(sdata: Any, spec: dict[str, Any]) -> Positions:
    """Pairs of a legacy ``region`` / ``instance_key`` annotation, as spatialdata's joins pair them."""
    element_type, element = el.get_element(sdata, spec["element"], "element", ("shapes", "points", "labels"))
    table = el.get_table(sdata, spec["table"], "table")
    ids = el.instance_ids(element_type, element, None)
    obs = table.obs
    rows = np.flatnonzero((obs[spec["region_key"]] == spec["element"]).to_numpy(dtype=bool, na_value=False))
    row_hit, instance_hit = match_positions(obs[spec["instance_key"]].to_numpy()[rows], ids)
    return Positions(instance_hit, rows[row_hit], len(ids), len(obs))


def sjoin_pairs(sdata: Any, spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(element positions, via positions)`` where ``predicate(element instance, via instance)`` holds."""
    import shapely

    element_type, element = el.get_element(sdata, spec["element"], "element", ("shapes", "points"))
    _, via = el.get_element(sdata, spec["via"], "via", ("shapes",))
    system = spec["coordinate_system"]
    element = el.in_coordinate_system(element, system)
    via = el.in_coordinate_system(via, system)
    query = el.geometries(element_type, element)
    predicate = spec.get("predicate")
    kwargs = {"distance": spec["distance"]} if predicate == "dwithin" else {}
    if predicate == "within":
        # as geopandas.sjoin does: "a within b" is "b contains a", which GEOS answers faster with b prepared
        tree = shapely.STRtree(query)
        via_pos, element_pos = tree.query(via.geometry.values, predicate="contains")
        return element_pos.astype(np.int64), via_pos.astype(np.int64)
    # otherwise the via shapes' tree is queried with the element's geometries, as geopandas.sjoin(element, via)
    element_pos, via_pos = via.sindex.query(query, predicate=predicate, sort=False, **kwargs)
    return element_pos.astype(np.int64), via_pos.astype(np.int64)


def _inputs(sdata: Any, spec: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    element_type, element = el.get_element(sdata, spec["element"], "element", ("shapes", "points"))
    _, via = el.get_element(sdata, spec["via"], "via", ("shapes",))
    return {"element": (element_type, element), "via": ("shapes", via)}


def changed_inputs(sdata: Any, spec: dict[str, Any], evaluated: Evaluated) -> list[str]:
    """The inputs (``"element"``, ``"via"``) that changed since ``evaluated`` was computed.

    In memory the snapshots are compared (object identity, no coordinate read); after reading a store the content
    hashes are, once: unchanged inputs are then snapshot, so later checks are cheap again.
    """
    inputs = _inputs(sdata, spec)
    if evaluated.snapshots is not None:
        return [k for k, (t, value) in inputs.items() if not evaluated.snapshots[k].same_as(value)]
    snapshots = {k: el.Snapshot.take(t, value) for k, (t, value) in inputs.items()}
    changed = [k for k, snap in snapshots.items() if evaluated.fingerprints.get(k) != snap.fingerprint()]
    if not changed:
        evaluated.snapshots = snapshots
    return changed


def evaluated_sjoin(sdata: Any, spec: dict[str, Any], recompute: bool) -> Evaluated:
    """The evaluated pairs of a spatial link: cached ones if still valid, fresh ones on first use or on request."""
    key = link_id(spec["element"], spec["table"])
    cache = cache_of(sdata)
    token = spec_token(spec)
    cached = cache.get(key)
    if cached is not None and cached.token == token and not recompute:
        changed = changed_inputs(sdata, spec, cached)
        if changed:
            raise StaleRelationError(
                f"the spatial link {key!r} was evaluated before {', '.join(repr(spec[k]) for k in changed)} "
                "changed; pass recompute=True to evaluate it again"
            )
        return cached
    snapshots = {k: el.Snapshot.take(t, value) for k, (t, value) in _inputs(sdata, spec).items()}
    pairs = sjoin_pairs(sdata, spec)
    evaluated = Evaluated(token=token, snapshots=snapshots, pairs_loaded=pairs)
    cache[key] = evaluated
    return evaluated


def compose(pairs: tuple[np.ndarray, np.ndarray], via_table: Positions, n_element: int) -> Positions:
    """Chain element -> via pairs with via -> table pairs into element -> table pairs."""
    epos, vpos = pairs
    if len(via_table.element) == 0 or len(epos) == 0:
        empty = np.empty(0, dtype=np.int64)
        return Positions(empty, empty, n_element, via_table.n_table)
    if np.bincount(via_table.element, minlength=via_table.n_element).max() <= 1:
        row_of_via = np.full(via_table.n_element, -1, dtype=np.int64)
        row_of_via[via_table.element] = via_table.table
        rows = row_of_via[vpos]
        hit = rows >= 0
        return Positions(epos[hit], rows[hit], n_element, via_table.n_table)
    merged = pd.merge(
        pd.DataFrame({"e": epos, "v": vpos}),
        pd.DataFrame({"v": via_table.element, "t": via_table.table}),
        on="v",
        how="inner",
        sort=False,
    )
    return Positions(merged["e"].to_numpy(np.int64), merged["t"].to_numpy(np.int64), n_element, via_table.n_table)


def n_instances(sdata: Any, name: str) -> int:
    """How many instances element ``name`` has."""
    element_type, element = el.get_element(sdata, name, "element", ("shapes", "points", "labels"))
    if element_type == "labels":
        return len(el.label_instances(element))
    if element_type == "points":
        return int(element.shape[0].compute())
    return len(element)


def evaluate(sdata: Any, spec: dict[str, Any], recompute: bool = False, depth: int = 0) -> Positions:
    """Evaluate any link spec into positions."""
    method = spec.get("method")
    if method == "key":
        return evaluate_key(sdata, spec)
    if method == "legacy":
        return evaluate_legacy(sdata, spec)
    if method == "sjoin":
        if depth > 8:
            raise RelationArgumentError(f"the spatial links through {spec['via']!r} form a cycle")
        via_spec = find_spec(sdata, spec["via"], spec["table"])
        via_table = evaluate(sdata, via_spec, recompute, depth + 1)
        pairs = evaluated_sjoin(sdata, spec, recompute).pairs()
        return compose(pairs, via_table, n_instances(sdata, spec["element"]))
    raise RelationArgumentError(f"unknown link method {method!r} in the stored graph")


def mapping_frame(
    sdata: Any, spec: dict[str, Any], positions: Positions, how: str, element_first: bool, sort: bool = True
) -> pd.DataFrame:
    """The public mapping: ``instance_id`` and ``obs_name`` columns, in the order the caller named the two ends.

    Pairs are sorted by the first end's position unless ``sort`` is false; unrelated instances or rows follow, as
    ``how`` asks.
    """
    element_type, element = el.get_element(sdata, spec["element"], "element", ("shapes", "points", "labels"))
    table = sdata.tables[spec["table"]]
    column = None if spec.get("method") == "legacy" else instance_column(sdata, spec["element"])
    ids = el.instance_index(element_type, element, column)
    names = table.obs_names
    epos, tpos = positions.element, positions.table
    first = epos if element_first else tpos
    if sort and len(first) > 1 and not (np.all(first[1:] > first[:-1])):
        order = np.argsort(first, kind="stable")  # stable: pairs of one instance (or row) keep their order
        epos, tpos = epos[order], tpos[order]
    parts = []
    if how in ("inner", "left", "right", "outer"):
        parts.append(pd.DataFrame({"instance_id": ids.take(epos), "obs_name": names.take(tpos)}))
    ends_first, ends_second = {"outer", "left", "left_exclusive"}, {"outer", "right", "right_exclusive"}
    wants_elements, wants_rows = (ends_first, ends_second) if element_first else (ends_second, ends_first)
    if how in wants_elements:
        lonely = np.ones(len(ids), dtype=bool)
        lonely[epos] = False
        lonely_ids = ids[lonely]
        parts.append(pd.DataFrame({"instance_id": lonely_ids, "obs_name": [None] * len(lonely_ids)}))
    if how in wants_rows:
        lonely = np.ones(len(names), dtype=bool)
        lonely[tpos] = False
        lonely_names = names[lonely]
        parts.append(pd.DataFrame({"instance_id": [None] * len(lonely_names), "obs_name": lonely_names}))
    parts = [p for p in parts if len(p)] or [pd.DataFrame({"instance_id": ids[:0], "obs_name": names[:0]})]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    columns = ["instance_id", "obs_name"] if element_first else ["obs_name", "instance_id"]
    return frame[columns]


def legacy_edges(sdata: Any) -> list[tuple[str, dict[str, Any]]]:
    """``[(edge id, spec)]`` of every table's legacy ``region`` annotation, table by table."""
    edges = []
    for table_name in sdata.tables:
        keys = legacy_keys(sdata.tables[table_name])
        if keys is None:
            continue
        for region in keys[0]:
            spec = legacy_spec(sdata, region, table_name)
            assert spec is not None
            edges.append((f"{region}--{table_name}", spec))
    return edges
