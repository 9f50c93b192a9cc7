"""Per-object plugin state: what a plugin keeps in memory beside one SpatialData object (caches, evaluations)."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from spatialdata_plugins.core._errors import InvalidArgumentError, InvalidArgumentTypeError

# keyed by the object itself (spatialdata.SpatialData compares by identity), held weakly: the state goes with it
_STATES: weakref.WeakKeyDictionary[Any, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def plugin_state(sdata: Any, plugin: str) -> dict[str, Any]:
    """The in-memory state plugin ``plugin`` keeps for one SpatialData object: a plain ``dict`` the plugin fills.

    The dict belongs to the object, not to its contents: it is created empty on first use, the same dict is
    returned for the same object and plugin, and it is dropped when the object is garbage collected. A copy of the
    object (``copy.copy``, ``spatialdata.deepcopy``, a subset, an object read again from its store) and a
    plugin-aware wrapper made by :meth:`~spatialdata_plugins.core.SpatialData.from_spatialdata` start with an empty
    state. Nothing in it is ever written to a store: keep there what can be recomputed (caches,
    evaluated results with what they were computed from), and write what must persist through the write hooks.

    Elements can be replaced or edited while the state is kept, so a cache must check that what it was computed
    from is still there before using it. The state must not hold a reference to ``sdata`` itself (the object would
    then never be collected).

    Parameters
    ----------
    sdata
        A :class:`spatialdata.SpatialData` (plain or :class:`~spatialdata_plugins.core.SpatialData`).
    plugin
        The plugin's name (its entry-point name), which keeps plugins' states apart.

    Returns
    -------
    dict
        The plugin's state for this object.

    Raises
    ------
    InvalidArgumentTypeError
        If ``sdata`` is not a SpatialData or ``plugin`` not a string.
    InvalidArgumentError
        If ``plugin`` is empty.

    Examples
    --------
    >>> from spatialdata_plugins.core import SpatialData, plugin_state
    >>> sdata = SpatialData()
    >>> plugin_state(sdata, "my-plugin")["seen"] = 1
    >>> plugin_state(sdata, "my-plugin")
    {'seen': 1}
    >>> plugin_state(SpatialData(), "my-plugin")
    {}
    """
    import spatialdata

    if not isinstance(sdata, spatialdata.SpatialData):
        raise InvalidArgumentTypeError(f"sdata must be a spatialdata.SpatialData, got {type(sdata).__name__}")
    if not isinstance(plugin, str):
        raise InvalidArgumentTypeError(f"plugin must be the plugin's name (a str), got {type(plugin).__name__}")
    if not plugin:
        raise InvalidArgumentError("plugin must be the plugin's name, got an empty string")
    with _LOCK:
        states = _STATES.get(sdata)
        if states is None:
            states = _STATES[sdata] = {}
        return states.setdefault(plugin, {})
