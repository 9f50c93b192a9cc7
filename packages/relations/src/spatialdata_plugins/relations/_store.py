"""Evaluated spatial links in a store: int64 position arrays under the zarr group ``spatialdata_plugins/relations``.

Plain ``spatialdata.read_zarr`` reads only the element groups, so it never sees them; the graph itself is JSON in the
root attributes (``sdata.attrs``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from spatialdata_plugins.relations._cache import Evaluated, cache_of, spec_token
from spatialdata_plugins.relations._graph import links

STORE_GROUP = "spatialdata_plugins/relations"
STORE_FORMAT_VERSION = 1


def write_evaluated(sdata: Any, root: zarr.Group) -> list[str]:
    """Store the evaluated spatial links of ``sdata`` that are still in its graph; return their ids."""
    recorded = links(sdata)
    cache = cache_of(sdata)
    todo = {
        key: evaluated
        for key, evaluated in cache.items()
        if key in recorded and recorded[key].get("method") == "sjoin" and evaluated.token == spec_token(recorded[key])
    }
    if not todo:
        return []
    # an incremental write (a transaction, add_element) keeps the evaluations stored before for the other links
    index: dict[str, Any] = {k: v for k, v in stored_links(root).items() if k in recorded}
    group = root.require_group(STORE_GROUP)
    for key, evaluated in todo.items():
        element_pos, via_pos = evaluated.pairs()
        sub = group.require_group(key)
        for name, values in (("element", element_pos), ("via", via_pos)):
            sub.create_array(name, data=np.ascontiguousarray(values, dtype=np.int64), overwrite=True)
        index[key] = {"token": evaluated.token, "fingerprints": evaluated.fingerprints, "pairs": len(element_pos)}
    group.attrs.update({"format_version": STORE_FORMAT_VERSION, "links": index})
    return list(todo)


def stored_links(root: zarr.Group) -> dict[str, dict[str, Any]]:
    """``{link id: {"token", "fingerprints", "pairs"}}`` of the evaluated links stored under ``root``."""
    try:
        group = root[STORE_GROUP]
    except KeyError:
        return {}
    found = group.attrs.asdict().get("links") or {}
    return dict(found) if isinstance(found, dict) else {}


def attach_stored(sdata: Any, root: zarr.Group) -> list[str]:
    """Make the stored evaluations of ``sdata``'s spatial links available, loaded on first use (no array read)."""
    recorded = links(sdata)
    cache = cache_of(sdata)
    attached = []
    for key, meta in stored_links(root).items():
        spec = recorded.get(key)
        if spec is None or spec.get("method") != "sjoin" or meta.get("token") != spec_token(spec):
            continue

        def load(key: str = key) -> tuple[np.ndarray, np.ndarray]:
            sub = root[f"{STORE_GROUP}/{key}"]
            return np.asarray(sub["element"][:], dtype=np.int64), np.asarray(sub["via"][:], dtype=np.int64)

        stored = dict(meta.get("fingerprints") or {})
        cache[key] = Evaluated(token=meta["token"], fingerprints_known=stored, loader=load)
        attached.append(key)
    return attached
