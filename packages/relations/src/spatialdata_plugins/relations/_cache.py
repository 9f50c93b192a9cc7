"""Evaluated spatial links of each SpatialData object, kept in memory beside it (never in its elements)."""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_CACHES: weakref.WeakKeyDictionary[Any, dict[str, Evaluated]] = weakref.WeakKeyDictionary()

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


def cache_of(sdata: Any) -> dict[str, Evaluated]:
    """``{link id: Evaluated}`` of ``sdata`` (created empty on first use)."""
    try:
        return _CACHES.setdefault(sdata, {})
    except TypeError:  # not weak-referenceable: no cache, links are evaluated on every use
        return {}


def forget(sdata: Any, link: str) -> None:
    """Drop the evaluated pairs of one link."""
    cache_of(sdata).pop(link, None)
