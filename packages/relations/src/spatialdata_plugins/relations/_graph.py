"""The relation graph: plain JSON in ``sdata.attrs[ATTRS_KEY]``, readable from any language."""

from __future__ import annotations

import copy
import warnings
from typing import Any

ATTRS_KEY = "spatialdata_plugins_relations"
FORMAT_VERSION = 1


def link_id(element: str, table: str) -> str:
    """The id of the link between ``element`` and ``table`` (one link per pair)."""
    return f"{element}--{table}"


def read_graph(sdata: Any) -> dict[str, Any]:
    """A copy of the graph stored in ``sdata.attrs`` (an empty graph if there is none)."""
    raw = (sdata.attrs or {}).get(ATTRS_KEY)
    if not isinstance(raw, dict):
        return {"format_version": FORMAT_VERSION, "instance_ids": {}, "links": {}}
    version = raw.get("format_version", FORMAT_VERSION)
    if isinstance(version, int) and version > FORMAT_VERSION:
        warnings.warn(
            f"the relation graph is in format {version}, newer than this plugin reads ({FORMAT_VERSION}); "
            "upgrade spatialdata-plugins-relations",
            UserWarning,
            stacklevel=3,
        )
    graph = copy.deepcopy(raw)
    graph.setdefault("format_version", FORMAT_VERSION)
    graph["instance_ids"] = dict(graph.get("instance_ids") or {})
    graph["links"] = dict(graph.get("links") or {})
    return graph


def write_graph(sdata: Any, graph: dict[str, Any]) -> None:
    """Store ``graph`` in ``sdata.attrs`` (a new dict, so transactions comparing attrs see the change)."""
    attrs = dict(sdata.attrs or {})
    attrs[ATTRS_KEY] = copy.deepcopy(graph)
    sdata.attrs = attrs


def instance_column(sdata: Any, element: str) -> str | None:
    """The instance-id column recorded by :func:`index_element` for ``element``, or ``None``."""
    return read_graph(sdata)["instance_ids"].get(element)


def links(sdata: Any) -> dict[str, dict[str, Any]]:
    """``{link id: spec}`` of the links recorded in ``sdata``."""
    return read_graph(sdata)["links"]
