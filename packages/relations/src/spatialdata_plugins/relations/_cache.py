"""What the plugin keeps in memory beside each SpatialData object (the core's ``plugin_state``, never written).

Evaluated spatial links (:class:`Evaluated`), evaluated key and legacy links and the Arrow tables behind the DuckDB
views (see ``_views``), each with what it was computed from.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PLUGIN = "relations"  # the entry-point name: the plugin's key in the core's per-object state

# the parts of a spatial link's spec its pairs depend on; the table side is composed at query time
SPEC_FIELDS = ("element", "via", "predicate", "distance", "coordinate_system")


def spec_token(spec: dict[str, Any]) -> str:
    """A string identifying what a spatial link's pairs were computed from."""
    return json.dumps({k: spec.get(k) for k in SPEC_FIELDS}, sort_keys=True)


@dataclass
class Evaluated:
    """The pairs ``(element position, via position)`` of an evaluated spatial link, and what they were computed on.

    What they were computed on is known as snapshots (in memory, right after evaluating: cheap to take and to compare)
    or as content hashes (read from a store). Pairs read from a store are loaded on first use (``loader``), so
    reading a store reads no link arrays.
    """

    token: str
    fingerprints_known: dict[str, str] | None = None
    snapshots: dict[str, Any] | None = field(default=None, repr=False)
    pairs_loaded: tuple[np.ndarray, np.ndarray] | None = None
    loader: Callable[[], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)

    @property
    def fingerprints(self) -> dict[str, str]:
        """Content hashes of the inputs the pairs were computed on (hashed from the snapshots on first use)."""
        if self.fingerprints_known is None:
            assert self.snapshots is not None
            self.fingerprints_known = {k: snap.fingerprint() for k, snap in self.snapshots.items()}
        return self.fingerprints_known

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(element positions, via positions)``, loaded from the store on first use."""
        if self.pairs_loaded is None:
            assert self.loader is not None
            self.pairs_loaded = self.loader()
            self.loader = None
        return self.pairs_loaded


def state_of(sdata: Any, part: str) -> dict[Any, Any]:
    """One part of the plugin's in-memory state of ``sdata`` (created empty on first use)."""
    from spatialdata_plugins.core import plugin_state

    try:
        return plugin_state(sdata, PLUGIN).setdefault(part, {})
    except TypeError:  # not a SpatialData (a duck-typed stand-in): nothing is kept, everything is evaluated again
        return {}


def cache_of(sdata: Any) -> dict[str, Evaluated]:
    """``{link id: Evaluated}`` of ``sdata`` (created empty on first use)."""
    return state_of(sdata, "evaluated")


def forget(sdata: Any, link: str) -> None:
    """Drop the evaluated pairs of one link."""
    cache_of(sdata).pop(link, None)
