"""Checking the relation graph: missing ends and columns, orphans, stale spatial links, broken cardinality."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from spatialdata_plugins.relations import _elements as el
from spatialdata_plugins.relations._errors import KeyColumnError, RelationsError, StaleRelationError
from spatialdata_plugins.relations._graph import read_graph
from spatialdata_plugins.relations._mapping import evaluate, evaluate_key, legacy_edges


@dataclass(frozen=True)
class RelationIssue:
    """A problem found by :func:`validate_relations`.

    Attributes
    ----------
    relation
        Id of the edge (``"<element>--<table>"``) or the element the problem is about.
    kind
        ``"missing-element"``, ``"missing-table"``, ``"missing-column"``, ``"cardinality"``, ``"orphan-rows"``,
        ``"unannotated-instances"``, ``"stale"``, ``"coordinate-system"`` or ``"broken"``.
    severity
        ``"error"`` (the link cannot be evaluated or breaks its declared cardinality), ``"warning"`` or ``"info"``.
    message
        What is wrong, and what to do.
    """

    relation: str
    kind: str
    severity: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


def _validate_link(sdata: Any, key: str, spec: dict[str, Any]) -> list[RelationIssue]:
    issues: list[RelationIssue] = []

    def add(kind: str, severity: str, message: str) -> None:
        issues.append(RelationIssue(key, kind, severity, message))

    element, table = spec["element"], spec["table"]
    missing = False
    if not el.has_name(sdata, element):
        add("missing-element", "error", f"element {element!r} does not exist (removed or renamed?)")
        missing = True
    if table not in sdata.tables:
        add("missing-table", "error", f"table {table!r} does not exist (removed or renamed?)")
        missing = True
    if spec["method"] == "sjoin" and not el.has_name(sdata, spec["via"]):
        add("missing-element", "error", f"via element {spec['via']!r} does not exist")
        missing = True
    if missing:
        return issues
    try:
        if spec["method"] == "key":
            evaluate_key(sdata, spec, check=True)
        elif spec["method"] == "sjoin":
            _, value = el.get_element(sdata, element, "element", ("shapes", "points"))
            _, via_value = el.get_element(sdata, spec["via"], "via", ("shapes",))
            system = spec["coordinate_system"]
            for name, v in ((element, value), (spec["via"], via_value)):
                if system not in el.coordinate_systems(v):
                    add("coordinate-system", "error", f"{name!r} has no transformation to {system!r} any more")
                    return issues
        positions = evaluate(sdata, spec)
    except KeyColumnError as exc:
        kind = "cardinality" if "duplicate" in str(exc) else "missing-column"
        add(kind, "error", str(exc))
        return issues
    except StaleRelationError as exc:
        add("stale", "warning", str(exc))
        return issues
    except (RelationsError, KeyError, ValueError) as exc:
        add("broken", "error", str(exc))
        return issues
    rows = np.bincount(positions.table, minlength=positions.n_table)
    orphans = int((rows == 0).sum())
    if orphans:
        names = sdata.tables[table].obs_names[rows == 0][:5].tolist()
        add(
            "orphan-rows",
            "warning",
            f"{orphans} of {positions.n_table} rows of table {table!r} relate to no instance of {element!r} "
            f"(for example {names})",
        )
    instances = np.bincount(positions.element, minlength=positions.n_element)
    lonely = int((instances == 0).sum())
    if lonely:
        add(
            "unannotated-instances",
            "info",
            f"{lonely} of {positions.n_element} instances of {element!r} relate to no row of table {table!r}",
        )
    if spec["method"] == "legacy" and instances.max(initial=0) > 1:
        add(
            "cardinality",
            "warning",
            f"table {table!r} annotates some instances of {element!r} with several rows (instance key "
            f"{spec['instance_key']!r} has duplicates within region {element!r})",
        )
    return issues


def validate_relations(sdata: Any) -> list[RelationIssue]:
    """Check every edge: missing ends and columns, orphan rows, stale spatial links, broken cardinality.

    Spatial links are checked against their cached evaluation (stale if an input changed); one that was never
    evaluated is evaluated here. Lazily attached elements are loaded.

    Parameters
    ----------
    sdata
        A SpatialData.

    Returns
    -------
    list of RelationIssue
        Empty when everything is consistent. Issues of severity ``"error"`` mean a link cannot be used as recorded.
    """
    issues: list[RelationIssue] = []
    graph = read_graph(sdata)
    for element, column in graph["instance_ids"].items():
        if not el.has_name(sdata, element):
            issues.append(
                RelationIssue(element, "missing-element", "warning", f"indexed element {element!r} does not exist")
            )
            continue
        element_type, value = el.get_element(sdata, element, "element")
        if element_type in ("shapes", "points") and column not in value.columns:
            issues.append(
                RelationIssue(
                    element,
                    "missing-column",
                    "error",
                    f"instance-id column {column!r} of {element!r} is gone; run index_element again",
                )
            )
    for key, spec in list(graph["links"].items()) + legacy_edges(sdata):
        issues.extend(_validate_link(sdata, key, spec))
    return issues
