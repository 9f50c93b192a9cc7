"""Links survive write/read on a local directory, a MemoryStore and S3; plain spatialdata.read_zarr is unaffected."""

from __future__ import annotations

import pytest
import spatialdata
from relations_testdata import pairs
from zarr.storage import MemoryStore

from spatialdata_plugins.core import read, write
from spatialdata_plugins.relations import (
    ATTRS_KEY,
    STORE_GROUP,
    StaleRelationError,
    annotate_by_table,
    get_element_mapping,
    index_element,
    relations,
    validate_relations,
)
from spatialdata_plugins.relations import _mapping as mapping_module
from spatialdata_plugins.relations import _plugin as plugin_module


@pytest.fixture
def relations_plugin(sdp_register):
    """A registry with the core defaults and this plugin only (as installed, without other plugins)."""
    sdp_register(plugin_module, name="relations")


@pytest.fixture
def linked(sdata):
    index_element(sdata, "cells")
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    annotate_by_table(sdata, "cell_labels", "cell_table", on="label")
    annotate_by_table(sdata, "transcripts", "cell_table", method="sjoin", via="cells", predicate="within")
    return sdata


def _target(kind, tmp_path, request):
    if kind == "local":
        return str(tmp_path / "store.zarr"), None
    if kind == "memory":
        return MemoryStore(), None
    bucket = request.getfixturevalue("s3_bucket")
    return f"{bucket['url']}/store.zarr", bucket["storage_options"]


STORES = ["local", "memory", pytest.param("s3", marks=pytest.mark.s3)]


@pytest.mark.parametrize("kind", STORES)
def test_links_survive_write_and_read(relations_plugin, linked, kind, tmp_path, request, monkeypatch):
    expected = {r.id: pairs(get_element_mapping(linked, r.element, r.table)) for r in relations(linked)}
    target, options = _target(kind, tmp_path, request)
    write(linked, target, storage_options=options, progress=False)
    back = read(target, storage_options=options)
    assert back.attrs[ATTRS_KEY] == linked.attrs[ATTRS_KEY]
    assert [(r.id, r.method) for r in relations(back)] == [(r.id, r.method) for r in relations(linked)]
    # the evaluated spatial link is read from the store, not computed again
    monkeypatch.setattr(mapping_module, "sjoin_pairs", lambda *a, **k: pytest.fail("the spatial join ran again"))
    assert {r.status for r in relations(back) if r.method == "sjoin"} == {"evaluated"}
    for r in relations(back):
        assert pairs(get_element_mapping(back, r.element, r.table)) == expected[r.id]
    assert not [i for i in validate_relations(back) if i.severity == "error"]


def test_not_evaluated_link_stays_lazy_and_evaluates_after_read(relations_plugin, sdata, tmp_path):
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    write(sdata, tmp_path / "s.zarr", progress=False)
    assert not (tmp_path / "s.zarr" / STORE_GROUP).exists()
    back = read(tmp_path / "s.zarr")
    assert [r.status for r in relations(back) if r.method == "sjoin"] == ["not evaluated"]
    assert pairs(get_element_mapping(back, "nuclei", "cell_table")) == pairs(
        get_element_mapping(sdata, "nuclei", "cell_table")
    )


def test_plain_read_zarr_keeps_reading_the_store(relations_plugin, linked, tmp_path):
    get_element_mapping(linked, "nuclei", "cell_table")
    get_element_mapping(linked, "transcripts", "cell_table")
    path = tmp_path / "plain.zarr"
    write(linked, path, progress=False)
    assert (path / STORE_GROUP / "nuclei--cell_table").is_dir()
    assert (path / STORE_GROUP / "transcripts--cell_table").is_dir()
    plain = spatialdata.read_zarr(path)
    assert set(plain.shapes) == {"cells", "nuclei"}
    assert set(plain.tables) == {"table", "cell_table", "gene_table"}
    assert set(plain.labels) == {"cell_labels"} and set(plain.points) == {"transcripts"}
    assert not plain.images
    # the graph is plain JSON in the root attributes, which spatialdata reads as it reads any attrs
    assert plain.attrs[ATTRS_KEY]["links"].keys() == linked.attrs[ATTRS_KEY]["links"].keys()
    # the legacy annotation is untouched
    assert plain.tables["table"].uns["spatialdata_attrs"] == linked.tables["table"].uns["spatialdata_attrs"]


def test_stale_after_read(relations_plugin, linked, tmp_path):
    get_element_mapping(linked, "nuclei", "cell_table")
    write(linked, tmp_path / "s.zarr", progress=False)
    back = read(tmp_path / "s.zarr")
    moved = back["cells"].copy()
    moved["geometry"] = moved.geometry.translate(3.0, 0.0)
    back.shapes["cells"] = moved
    with pytest.raises(StaleRelationError):
        get_element_mapping(back, "nuclei", "cell_table")
    fresh = get_element_mapping(back, "nuclei", "cell_table", recompute=True)
    assert len(fresh)


def test_removed_link_is_not_written(relations_plugin, linked, tmp_path):
    get_element_mapping(linked, "nuclei", "cell_table")  # evaluated and cached
    attrs = dict(linked.attrs)
    graph = dict(attrs[ATTRS_KEY])
    graph["links"] = {k: v for k, v in graph["links"].items() if k != "nuclei--cell_table"}
    attrs[ATTRS_KEY] = graph
    linked.attrs = attrs
    write(linked, tmp_path / "t.zarr", progress=False)
    assert not (tmp_path / "t.zarr" / STORE_GROUP).exists()
    again = read(tmp_path / "t.zarr")
    assert [r.id for r in relations(again) if r.method != "legacy"] == [
        "cells--cell_table",
        "cell_labels--cell_table",
        "transcripts--cell_table",
    ]
