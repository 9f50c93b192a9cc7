"""``plugin_state``: per-object plugin state, kept in memory beside one SpatialData object."""

from __future__ import annotations

import copy
import gc
import weakref

import pytest
import spatialdata

from spatialdata_plugins.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    SpatialData,
    plugin_state,
    read,
    write,
)


def test_same_dict_for_the_same_object_and_plugin():
    sdata = SpatialData()
    state = plugin_state(sdata, "a")
    state["x"] = 1
    assert plugin_state(sdata, "a") is state
    assert plugin_state(sdata, "a") == {"x": 1}
    # plugins are kept apart, objects are kept apart
    assert plugin_state(sdata, "b") == {}
    assert plugin_state(SpatialData(), "a") == {}


def test_plain_spatialdata_objects_have_state_too():
    sdata = spatialdata.SpatialData()
    plugin_state(sdata, "a")["x"] = 1
    assert plugin_state(sdata, "a") == {"x": 1}


def test_copies_and_wrappers_start_empty(synthetic_sdata):
    plugin_state(synthetic_sdata, "a")["x"] = 1
    assert plugin_state(copy.copy(synthetic_sdata), "a") == {}
    assert plugin_state(spatialdata.deepcopy(synthetic_sdata), "a") == {}
    plain = spatialdata.SpatialData(shapes=dict(synthetic_sdata.shapes))
    plugin_state(plain, "a")["x"] = 2
    assert plugin_state(SpatialData.from_spatialdata(plain), "a") == {}
    assert plugin_state(synthetic_sdata, "a") == {"x": 1}


def test_state_is_dropped_with_the_object():
    sdata = SpatialData()
    payload = type("Payload", (), {})()  # an object we can watch being collected
    plugin_state(sdata, "a")["payload"] = payload
    watch = weakref.ref(payload)
    del payload, sdata
    gc.collect()
    assert watch() is None


def test_state_is_never_written(tmp_path, synthetic_sdata):
    plugin_state(synthetic_sdata, "a")["secret"] = "not for the store"
    write(synthetic_sdata, tmp_path / "s.zarr")
    back = read(tmp_path / "s.zarr")
    assert plugin_state(back, "a") == {}
    stored = b"".join(p.read_bytes() for p in (tmp_path / "s.zarr").rglob("*") if p.is_file())
    assert b"not for the store" not in stored


def test_bad_arguments():
    with pytest.raises(InvalidArgumentTypeError, match="sdata must be a spatialdata.SpatialData"):
        plugin_state({"images": {}}, "a")
    with pytest.raises(InvalidArgumentTypeError, match="plugin must be"):
        plugin_state(SpatialData(), 3)
    with pytest.raises(InvalidArgumentError, match="empty"):
        plugin_state(SpatialData(), "")
