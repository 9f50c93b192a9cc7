"""Bad input (clear errors naming the argument, nothing recorded), staleness, validation and legacy write-back."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import spatialdata
from relations_testdata import pairs

from spatialdata_plugins.core import ElementNotFoundError, SpatialDataPluginError
from spatialdata_plugins.relations import (
    ATTRS_KEY,
    CoordinateSystemError,
    KeyColumnError,
    RelationArgumentError,
    RelationNotFoundError,
    RelationTargetNotFoundError,
    StaleRelationError,
    annotate_by_table,
    get_element_mapping,
    index_element,
    relations,
    validate_relations,
)


@pytest.fixture
def linked(sdata):
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    return sdata


BAD = [
    ({"element": "nope", "table": "cell_table", "on": "cell_id"}, RelationTargetNotFoundError, "element='nope'"),
    ({"element": "cells", "table": "nope", "on": "cell_id"}, RelationTargetNotFoundError, "table='nope'"),
    ({"element": "cells", "table": "cells", "on": "cell_id"}, RelationArgumentError, "table='cells'"),
    ({"element": "cell_table", "table": "table", "on": "cell_id"}, RelationArgumentError, "element='cell_table'"),
    ({"element": "cells", "table": "cell_table", "on": "missing"}, KeyColumnError, "on='missing'"),
    (
        {"element": "cells", "table": "cell_table", "table_on": "missing", "element_on": "cell_id"},
        KeyColumnError,
        "table_on='missing'",
    ),
    ({"element": "cells", "table": "gene_table", "on": "cell_id"}, KeyColumnError, "duplicate"),
    (
        {"element": "cells", "table": "cell_table", "on": "cell_id", "validate": "bogus"},
        RelationArgumentError,
        "validate='bogus'",
    ),
    ({"element": "cells", "table": "cell_table", "method": "magic"}, RelationArgumentError, "method='magic'"),
    ({"element": "cells", "table": "cell_table"}, RelationArgumentError, "on="),
    ({"element": "nuclei", "table": "cell_table", "method": "sjoin"}, RelationArgumentError, "via="),
    (
        {"element": "nuclei", "table": "cell_table", "method": "sjoin", "via": "cells", "predicate": "near"},
        RelationArgumentError,
        "predicate='near'",
    ),
    (
        {"element": "nuclei", "table": "cell_table", "method": "sjoin", "via": "cells", "predicate": "dwithin"},
        RelationArgumentError,
        "distance",
    ),
    (
        {"element": "nuclei", "table": "cell_table", "method": "sjoin", "via": "ghost"},
        RelationTargetNotFoundError,
        "via='ghost'",
    ),
    (
        {"element": "nuclei", "table": "gene_table", "method": "sjoin", "via": "cells"},
        RelationArgumentError,
        "via='cells'",
    ),
    (
        {"element": "cell_labels", "table": "cell_table", "method": "sjoin", "via": "cells"},
        RelationArgumentError,
        "element='cell_labels'",
    ),
    (
        {"element": "nuclei", "table": "cell_table", "method": "sjoin", "via": "cells", "coordinate_system": "mars"},
        CoordinateSystemError,
        "coordinate_system='mars'",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "text"), BAD)
def test_bad_input_names_the_argument_and_records_nothing(linked, kwargs, error, text):
    sdata = linked
    before = copy.deepcopy(sdata.attrs)
    tables = {name: t.obs.copy() for name, t in sdata.tables.items()}
    with pytest.raises(error) as info:
        annotate_by_table(sdata, **kwargs)
    assert text in str(info.value)
    assert isinstance(info.value, SpatialDataPluginError)
    assert sdata.attrs == before
    for name, obs in tables.items():
        pd.testing.assert_frame_equal(sdata.tables[name].obs, obs)


def test_errors_are_builtins_too(linked):
    with pytest.raises(KeyError):
        annotate_by_table(linked, "nope", "cell_table", on="cell_id")
    with pytest.raises(ElementNotFoundError):
        get_element_mapping(linked, "nope", "cell_table")
    with pytest.raises(ValueError, match="on='missing'"):
        annotate_by_table(linked, "cells", "cell_table", on="missing")


def test_no_common_coordinate_system(linked):
    from spatialdata.transformations import Identity, set_transformation

    nuclei = linked["nuclei"]
    set_transformation(nuclei, {"elsewhere": Identity()}, set_all=True)
    before = copy.deepcopy(linked.attrs)
    with pytest.raises(CoordinateSystemError, match="via: 'nuclei'.*share no coordinate system"):
        annotate_by_table(linked, "nuclei", "cell_table", method="sjoin", via="cells")
    assert linked.attrs == before


def test_unrelated_pair_and_bad_how(linked):
    with pytest.raises(RelationNotFoundError, match="not related"):
        get_element_mapping(linked, "nuclei", "gene_table")
    with pytest.raises(RelationArgumentError, match="how='sideways'"):
        get_element_mapping(linked, "cells", "cell_table", how="sideways")


def test_graph_is_plain_json(linked):
    import json

    index_element(linked, "cells")
    annotate_by_table(linked, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    graph = json.loads(json.dumps(linked.attrs[ATTRS_KEY]))
    assert graph == linked.attrs[ATTRS_KEY]
    assert set(graph["links"]) == {"cells--cell_table", "nuclei--cell_table"}
    assert graph["instance_ids"] == {"cells": "instance_id"}


def test_annotating_again_replaces_the_link(linked):
    annotate_by_table(linked, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    within = get_element_mapping(linked, "nuclei", "cell_table")
    annotate_by_table(linked, "nuclei", "cell_table", method="sjoin", via="cells", predicate="intersects")
    intersects = get_element_mapping(linked, "nuclei", "cell_table")
    assert pairs(within) < pairs(intersects)
    assert [r.spec["predicate"] for r in relations(linked) if r.element == "nuclei"] == ["intersects"]


# --- staleness ------------------------------------------------------------------------------------------------------


def test_changed_element_makes_the_link_stale_never_silently_wrong(linked):
    annotate_by_table(linked, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    first = get_element_mapping(linked, "nuclei", "cell_table")
    # move every cell: the cached pairs no longer hold
    moved = linked["cells"].copy()
    moved["geometry"] = moved.geometry.translate(5.0, 0.0)
    linked.shapes["cells"] = moved
    with pytest.raises(StaleRelationError, match="'cells' changed.*recompute=True"):
        get_element_mapping(linked, "nuclei", "cell_table")
    stale = [i for i in validate_relations(linked) if i.kind == "stale"]
    assert [i.relation for i in stale] == ["nuclei--cell_table"]
    assert [r.status for r in relations(linked) if r.element == "nuclei"] == ["stale"]
    again = get_element_mapping(linked, "nuclei", "cell_table", recompute=True)
    assert pairs(again) != pairs(first)
    import geopandas as gpd

    joined = gpd.sjoin(linked["nuclei"][["geometry"]], moved[["cell_id", "geometry"]], predicate="within")
    obs = linked.tables["cell_table"].obs
    expected = pd.merge(
        pd.DataFrame({"instance_id": joined.index, "cell_id": joined["cell_id"].to_numpy()}),
        pd.DataFrame({"obs_name": obs.index, "cell_id": obs["cell_id"].to_numpy()}),
        on="cell_id",
    )
    assert pairs(again) == pairs(expected)
    assert not [i for i in validate_relations(linked) if i.kind == "stale"]


def test_in_place_edit_is_detected(linked):
    annotate_by_table(linked, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    get_element_mapping(linked, "nuclei", "cell_table")
    nuclei = linked["nuclei"]
    nuclei.loc[nuclei.index[0], "geometry"] = nuclei.geometry.iloc[0].buffer(50)
    with pytest.raises(StaleRelationError, match="'nuclei'"):
        get_element_mapping(linked, "nuclei", "cell_table")


# --- validation -----------------------------------------------------------------------------------------------------


def test_validate_reports_with_reasons(linked):
    annotate_by_table(linked, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    index_element(linked, "cells", column="cid")
    kinds = {(i.relation, i.kind) for i in validate_relations(linked)}
    assert ("cells--cell_table", "orphan-rows") in kinds  # the row 'unknown'
    assert ("cells--table", "orphan-rows") in kinds  # the legacy row pointing at instance 136
    assert not [i for i in validate_relations(linked) if i.severity == "error"]

    # a duplicate key appears later: the declared many_to_one is broken
    obs = linked.tables["cell_table"].obs
    obs.iloc[1, obs.columns.get_loc("cell_id")] = obs["cell_id"].iloc[0]
    del linked.shapes["nuclei"]
    linked.shapes["cells"] = linked["cells"].drop(columns="cid")
    issues = {(i.relation, i.kind): i for i in validate_relations(linked)}
    assert issues[("cells--cell_table", "cardinality")].severity == "error"
    assert "duplicate" in issues[("cells--cell_table", "cardinality")].message
    assert issues[("nuclei--cell_table", "missing-element")].severity == "error"
    assert issues[("cells", "missing-column")].message.startswith("instance-id column 'cid'")


# --- legacy write-back ----------------------------------------------------------------------------------------------


def test_write_legacy_makes_spatialdata_see_a_one_to_one_link(sdata):
    # a table with one row per cell, all related: 1:1
    cells = sdata["cells"]
    obs = pd.DataFrame({"cell_id": cells["cell_id"].to_numpy()[::-1]}, index=[f"x{i}" for i in range(len(cells))])
    from anndata import AnnData
    from spatialdata.models import TableModel

    sdata.tables["one"] = TableModel.parse(AnnData(np.ones((len(obs), 1)), obs=obs))
    annotate_by_table(sdata, "cells", "one", on="cell_id", validate="one_to_one", write_legacy=True)
    ours = get_element_mapping(sdata, "cells", "one")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, table = spatialdata.join_spatialelement_table(
            sdata, spatial_element_names="cells", table_name="one", how="inner"
        )
    assert pairs(ours) == {(int(a), b) for a, b in zip(table.obs["instance_id"], table.obs_names, strict=True)}
    assert sdata.tables["one"].uns["spatialdata_attrs"]["region"] == "cells"


def test_write_legacy_refuses_what_is_not_one_to_one(linked):
    before = copy.deepcopy(linked.attrs)
    obs = linked.tables["cell_table"].obs.copy()
    with pytest.raises(RelationArgumentError, match="write_legacy=True needs"):
        annotate_by_table(linked, "nuclei", "cell_table", method="sjoin", via="cells", write_legacy=True)
    with pytest.raises(RelationArgumentError, match="already annotates"):
        annotate_by_table(linked, "nuclei", "table", method="sjoin", via="cells", write_legacy=True)
    assert linked.attrs == before
    pd.testing.assert_frame_equal(linked.tables["cell_table"].obs, obs)
    assert "spatialdata_attrs" not in linked.tables["cell_table"].uns or not linked.tables["cell_table"].uns[
        "spatialdata_attrs"
    ].get("region")
