"""Mappings against independent oracles: pandas.merge (key links), geopandas.sjoin and DuckDB's ST_Within (spatial
links), spatialdata.join_spatialelement_table / match_table_to_element (legacy annotations)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import spatialdata
from relations_testdata import make_sdata, pairs

from spatialdata_plugins.relations import (
    annotate_by_table,
    get_element_mapping,
    index_element,
    relations,
    to_duckdb,
)


def merge_oracle(left: pd.DataFrame, right: pd.DataFrame, on: str, how: str) -> pd.DataFrame:
    """pandas.merge with the exclusive joins spelled through its indicator."""
    if how.endswith("_exclusive"):
        merged = pd.merge(left, right, on=on, how="outer", indicator=True)
        keep = "left_only" if how == "left_exclusive" else "right_only"
        return merged[merged["_merge"] == keep]
    return pd.merge(left, right, on=on, how=how)


def cells_frame(sdata) -> pd.DataFrame:
    cells = sdata["cells"]
    return pd.DataFrame({"instance_id": cells.index.to_numpy(), "cell_id": cells["cell_id"].to_numpy()})


def obs_frame(sdata, table: str, column: str) -> pd.DataFrame:
    obs = sdata.tables[table].obs
    return pd.DataFrame({"obs_name": obs.index.to_numpy(), column: obs[column].to_numpy()})


# --- key links: pandas.merge ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer", "left_exclusive", "right_exclusive"])
def test_key_link_is_pandas_merge(sdata, how):
    annotate_by_table(sdata, "cells", "cell_table", method="key", on="cell_id")
    got = get_element_mapping(sdata, "cells", "cell_table", how=how)
    expected = merge_oracle(cells_frame(sdata), obs_frame(sdata, "cell_table", "cell_id"), "cell_id", how)
    assert pairs(got) == pairs(expected)
    assert len(got) == len(expected)


def test_key_link_from_the_table_end_swaps_columns(sdata):
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    a = get_element_mapping(sdata, "cells", "cell_table")
    b = get_element_mapping(sdata, "cell_table", "cells")
    assert list(a.columns) == ["instance_id", "obs_name"] and list(b.columns) == ["obs_name", "instance_id"]
    assert pairs(a) == pairs(b)
    # "left" is the first argument: from the table end it keeps the table's unrelated row
    left = get_element_mapping(sdata, "cell_table", "cells", how="left")
    expected = pd.merge(obs_frame(sdata, "cell_table", "cell_id"), cells_frame(sdata), on="cell_id", how="left")
    assert pairs(left) == pairs(expected)


def test_many_to_many_key_link_is_pandas_merge(sdata):
    annotate_by_table(sdata, "cells", "gene_table", on="cell_id", validate="many_to_many")
    got = get_element_mapping(sdata, "cells", "gene_table")
    expected = pd.merge(cells_frame(sdata), obs_frame(sdata, "gene_table", "cell_id"), on="cell_id")
    assert pairs(got) == pairs(expected) and len(got) == len(expected)
    (relation,) = [r for r in relations(sdata) if r.id == "cells--gene_table"]
    assert relation.cardinality == "1:N"  # one cell, several rows


def test_labels_key_link_uses_label_values(sdata):
    annotate_by_table(sdata, "cell_labels", "cell_table", on="label")
    got = get_element_mapping(sdata, "cell_labels", "cell_table", how="outer")
    values = np.unique(np.asarray(sdata["cell_labels"]))
    left = pd.DataFrame({"instance_id": values[values != 0], "label": values[values != 0]})
    expected = pd.merge(left, obs_frame(sdata, "cell_table", "label"), on="label", how="outer")
    assert pairs(got) == pairs(expected)


def test_index_element_ids_are_reported_and_stable(sdata):
    assert index_element(sdata, "cells", column="cid") == "cid"
    before = sdata["cells"].copy()
    assert index_element(sdata, "cells", column="cid") == "cid"  # idempotent
    pd.testing.assert_frame_equal(sdata["cells"], before)
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    # reorder the element: the mapping still reports the same ids for the same cells
    mapping = get_element_mapping(sdata, "cells", "cell_table")
    sdata.shapes["cells"] = sdata["cells"].iloc[::-1].reset_index(drop=True)
    again = get_element_mapping(sdata, "cells", "cell_table")
    assert pairs(mapping) == pairs(again)
    expected = pd.merge(
        pd.DataFrame({"instance_id": sdata["cells"]["cid"], "cell_id": sdata["cells"]["cell_id"]}),
        obs_frame(sdata, "cell_table", "cell_id"),
        on="cell_id",
    )
    assert pairs(again) == pairs(expected)


def test_index_element_points_and_labels(sdata):
    assert index_element(sdata, "transcripts") == "instance_id"
    ids = sdata["transcripts"]["instance_id"].compute().to_numpy()
    np.testing.assert_array_equal(np.sort(ids), np.arange(len(ids)))
    before = sdata["transcripts"]
    assert index_element(sdata, "transcripts") == "instance_id"
    assert sdata["transcripts"] is before
    assert index_element(sdata, "cell_labels") is None


# --- spatial links: geopandas.sjoin and DuckDB ------------------------------------------------------------------------


def sjoin_oracle(sdata, element: str, predicate: str, how: str = "inner", **kwargs) -> pd.DataFrame:
    """geopandas.sjoin element -> cells, then pandas.merge cells -> cell_table by key."""
    left = sdata[element]
    if not isinstance(left, gpd.GeoDataFrame):
        frame = left.compute()
        left = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["x"], frame["y"]))
    joined = gpd.sjoin(left[["geometry"]], sdata["cells"][["cell_id", "geometry"]], predicate=predicate, **kwargs)
    nuc = pd.DataFrame({"instance_id": joined.index.to_numpy(), "cell_id": joined["cell_id"].to_numpy()})
    inner = pd.merge(nuc, obs_frame(sdata, "cell_table", "cell_id"), on="cell_id")[["instance_id", "obs_name"]]
    if how == "inner":
        return inner
    lonely = sorted(set(left.index) - set(inner["instance_id"]))
    return pd.concat([inner, pd.DataFrame({"instance_id": lonely, "obs_name": [None] * len(lonely)})])


@pytest.mark.parametrize(
    ("predicate", "kwargs"),
    [("within", {}), ("intersects", {}), ("covered_by", {}), ("dwithin", {"distance": 0.8})],
)
def test_sjoin_link_is_geopandas_sjoin(sdata, predicate, kwargs):
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    relation = annotate_by_table(
        sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate=predicate, **kwargs
    )
    assert relation.status == "not evaluated"
    got = get_element_mapping(sdata, "nuclei", "cell_table")
    expected = sjoin_oracle(sdata, "nuclei", predicate, **kwargs)
    assert len(expected) > 10
    assert pairs(got) == pairs(expected) and len(got) == len(expected)
    left = get_element_mapping(sdata, "nuclei", "cell_table", how="left")
    assert pairs(left) == pairs(sjoin_oracle(sdata, "nuclei", predicate, how="left", **kwargs))


def test_sjoin_through_a_legacy_annotation(sdata):
    # cells are linked to "table" only by its region/instance_key fields
    annotate_by_table(sdata, "nuclei", "table", method="sjoin", via="cells", predicate="within")
    got = get_element_mapping(sdata, "nuclei", "table")
    joined = gpd.sjoin(sdata["nuclei"][["geometry"]], sdata["cells"][["geometry"]], predicate="within")
    nuc = pd.DataFrame({"instance_id": joined.index.to_numpy(), "cell": joined["index_right"].to_numpy()})
    _, table = spatialdata.join_spatialelement_table(
        sdata, spatial_element_names="cells", table_name="table", how="inner"
    )
    rows = pd.DataFrame({"cell": table.obs["instance"].to_numpy(), "obs_name": table.obs_names.to_numpy()})
    assert pairs(got) == pairs(pd.merge(nuc, rows, on="cell"))


def test_points_sjoin_is_geopandas_sjoin(sdata):
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "transcripts", "cell_table", method="sjoin", via="cells", predicate="within")
    got = get_element_mapping(sdata, "transcripts", "cell_table")
    assert pairs(got) == pairs(sjoin_oracle(sdata, "transcripts", "within"))


def test_sjoin_link_agrees_with_duckdb_st_within(sdata):
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    got = get_element_mapping(sdata, "nuclei", "cell_table")
    con = to_duckdb(sdata, elements=["cells", "nuclei", "cell_table"])
    # the second engine: DuckDB's own spatial predicate on the element views, then the key join in SQL
    rows = con.sql(
        """
        select n.instance_id, t.obs_name
        from nuclei n join cells c on ST_Within(n.geometry, c.geometry)
        join cell_table t on t.cell_id = c.cell_id
        """
    ).fetchall()
    assert pairs(got) == {(a, b) for a, b in rows}
    # and the relation view holds the same pairs
    view = con.sql("select instance_id, obs_name from nuclei__cell_table").fetchall()
    assert set(view) == {(a, b) for a, b in rows}
    # obs_index is the row position in the table, in the table view and in the edge view alike
    names = sdata.tables["cell_table"].obs_names
    assert con.sql("select obs_name from cell_table order by obs_index").fetchnumpy()["obs_name"].tolist() == list(
        names
    )
    by_index = con.sql("select instance_id, obs_index from nuclei__cell_table").fetchall()
    assert {(a, names[i]) for a, i in by_index} == set(view)


def test_sjoin_in_another_coordinate_system(sdata):
    from spatialdata.transformations import Identity, Scale, set_transformation

    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    # nuclei drawn at twice the scale, but mapped to "um" by a scale of 0.5; cells are in "um" as they are
    nuclei = sdata["nuclei"].copy()
    nuclei["geometry"] = nuclei.geometry.scale(2.0, 2.0, origin=(0, 0))
    set_transformation(nuclei, {"um": Scale([0.5, 0.5], axes=("x", "y"))}, set_all=True)
    sdata.shapes["nuclei2"] = nuclei
    set_transformation(sdata["cells"], Identity(), to_coordinate_system="um")
    annotate_by_table(sdata, "nuclei2", "cell_table", method="sjoin", via="cells", predicate="within")
    assert pairs(get_element_mapping(sdata, "nuclei2", "cell_table")) == pairs(sjoin_oracle(sdata, "nuclei", "within"))


# --- legacy annotations: spatialdata's joins -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["left", "left_exclusive", "inner", "right", "right_exclusive"])
def test_legacy_edge_is_join_spatialelement_table(sdata, how):
    (edge,) = [r for r in relations(sdata) if r.method == "legacy"]
    assert (edge.element, edge.table, edge.direction) == ("cells", "table", "table->element")
    if how == "left_exclusive":
        # spatialdata's left_exclusive join takes instance ids for positions: it needs every id within the element
        table = sdata.tables["table"]
        sdata.tables["table"] = table[table.obs["instance"] < len(sdata["cells"])].copy()
    got = get_element_mapping(sdata, "cells", "table", how=how)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        elements, table = spatialdata.join_spatialelement_table(
            sdata, spatial_element_names="cells", table_name="table", how=how
        )
    element = elements["cells"]
    if how in ("left", "inner", "right"):
        assert table is not None
        expected_rows = set(table.obs_names)
        got_rows = {b for _, b in pairs(got) if b is not None}
        assert got_rows == expected_rows
        if how != "right":
            assert set(got["instance_id"].dropna()) == set(element.index)
        related = {(int(a), b) for a, b in zip(table.obs["instance"], table.obs_names, strict=True)}
        assert {(a, b) for a, b in pairs(got) if a is not None and b is not None} == {
            (a, b) for a, b in related if a in set(sdata["cells"].index)
        }
    elif how == "left_exclusive":
        assert set(got["instance_id"]) == set(element.index)
        assert got["obs_name"].isna().all()
    else:
        assert set(got["obs_name"]) == set(table.obs_names)
        assert got["instance_id"].isna().all()


def test_legacy_edge_order_is_match_table_to_element(sdata):
    matched = spatialdata.match_table_to_element(sdata, element_name="cells", table_name="table")
    got = get_element_mapping(sdata, "cells", "table")  # sorted by element position
    assert got["obs_name"].tolist() == matched.obs_names.tolist()


def test_one_row_annotates_several_elements_and_one_element_several_tables(sdata):
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "cell_labels", "cell_table", on="label")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    annotate_by_table(sdata, "cells", "gene_table", on="cell_id", validate="many_to_many")
    rows = [set(get_element_mapping(sdata, "cell_table", n)["obs_name"]) for n in ("cells", "cell_labels", "nuclei")]
    assert len(rows[0] & rows[1] & rows[2]) > 10  # the same rows annotate a cell, a label and nuclei
    graph = {(r.element, r.table): r for r in relations(sdata)}
    assert {t for e, t in graph if e == "cells"} == {"cell_table", "gene_table", "table"}
    assert graph[("cells", "cell_table")].cardinality == "1:1"
    assert graph[("nuclei", "cell_table")].status == "evaluated"
    assert graph[("nuclei", "cell_table")].cardinality == "N:1"


def test_plain_spatialdata_object_works_too():
    sdata = make_sdata(core=False)
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    assert pairs(get_element_mapping(sdata, "nuclei", "cell_table")) == pairs(sjoin_oracle(sdata, "nuclei", "within"))
