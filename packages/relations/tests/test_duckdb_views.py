"""DuckDB views: what is kept beside the object between ``to_duckdb`` calls, and that edits always show.

Oracles: the pandas / geopandas objects themselves (values, shapely's WKB), ``pandas.merge`` for key matching.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest
import shapely
from relations_testdata import make_sdata

from spatialdata_plugins.relations import annotate_by_table, to_duckdb
from spatialdata_plugins.relations._mapping import match_positions


@pytest.fixture
def wkb_calls(monkeypatch):
    """Count shapely.to_wkb calls (the expensive part of a shapes view)."""
    calls = []
    original = shapely.to_wkb

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(shapely, "to_wkb", counting)
    return calls


def view_wkb(con, name: str) -> dict:
    return dict(con.sql(f"select instance_id, geometry from {name}").fetchall())


def test_geometry_is_encoded_once_per_object_and_follows_edits(wkb_calls):
    sdata = make_sdata(seed=0)
    con = to_duckdb(sdata, elements=["cells"], spatial=False)
    assert len(wkb_calls) == 1
    cells = sdata["cells"]
    assert view_wkb(con, "cells") == dict(zip(cells.index, shapely.to_wkb(cells.geometry.values), strict=True))
    wkb_calls.clear()
    to_duckdb(sdata, elements=["cells"], spatial=False)
    assert wkb_calls == []  # the same geometry objects: the encoded geometries are reused
    # a geometry replaced in place is seen
    moved = shapely.box(500, 500, 510, 510)
    cells.loc[cells.index[3], "geometry"] = moved
    got = view_wkb(to_duckdb(sdata, elements=["cells"], spatial=False), "cells")
    assert len(wkb_calls) == 1
    assert shapely.from_wkb(got[cells.index[3]]).equals(moved)
    assert got == dict(zip(cells.index, shapely.to_wkb(cells.geometry.values), strict=True))


def test_a_replaced_element_or_table_is_seen():
    sdata = make_sdata(seed=0)
    to_duckdb(sdata, elements=["cells", "table"], spatial=False)
    smaller = sdata["cells"].iloc[:5].copy()
    smaller["extra"] = np.arange(5) * 10
    sdata.shapes["cells"] = smaller
    obs = sdata.tables["table"].obs
    sdata.tables["table"].obs_names = [f"renamed{k}" for k in range(len(obs))]
    con = to_duckdb(sdata, elements=["cells", "table"], spatial=False)
    assert con.sql("select instance_id, extra from cells order by 1").fetchall() == list(
        zip(smaller.index, smaller["extra"], strict=True)
    )
    names = sdata.tables["table"].obs_names
    assert con.sql('select obs_name from "table" order by obs_index').fetchnumpy()["obs_name"].tolist() == list(names)
    # the legacy edge follows both: only the five cells left, under the new row names
    obs = sdata.tables["table"].obs
    expected = {(int(i), n) for i, n in zip(obs["instance"], obs.index, strict=True) if i in set(smaller.index)}
    assert set(con.sql("select instance_id, obs_name from cells__table").fetchall()) == expected


def test_values_edited_in_place_are_seen():
    sdata = make_sdata(seed=0)
    to_duckdb(sdata, elements=["cells", "table"], spatial=False)
    table = sdata.tables["table"]
    first, second = table.obs_names[0], table.obs_names[1]
    old_instance = int(table.obs.loc[first, "instance"])
    table.obs.loc[first, "instance"] = int(table.obs.loc[second, "instance"])  # now both rows annotate one cell
    sdata["cells"].loc[sdata["cells"].index[0], "cell_id"] = "edited"
    con = to_duckdb(sdata, elements=["cells", "table"], spatial=False)
    assert con.sql("select cell_id from cells where instance_id = ?", params=[sdata["cells"].index[0]]).fetchall() == [
        ("edited",)
    ]
    edge = set(con.sql("select instance_id, obs_name from cells__table").fetchall())
    assert (int(table.obs.loc[second, "instance"]), first) in edge
    assert (old_instance, first) not in edge


def test_points_are_computed_once_and_a_new_collection_is_seen():
    import dask.dataframe as dd
    from spatialdata.models import PointsModel

    sdata = make_sdata(seed=0)
    con = to_duckdb(sdata, elements=["transcripts"], spatial=False)
    points = sdata["transcripts"].compute()
    assert con.sql("select count(*), sum(x) from transcripts").fetchone() == pytest.approx(
        (len(points), points["x"].sum())
    )
    shifted = points.assign(x=points["x"] + 1000.0)
    sdata.points["transcripts"] = PointsModel.parse(dd.from_pandas(shifted, npartitions=2))
    con = to_duckdb(sdata, elements=["transcripts"], spatial=False)
    assert con.sql("select min(x) from transcripts").fetchone()[0] == pytest.approx(shifted["x"].min())


def test_categorical_columns_come_back_as_categoricals_with_the_same_values():
    sdata = make_sdata(seed=0)
    con = to_duckdb(sdata, elements=["transcripts"], spatial=False)
    got = con.sql("select gene from transcripts").df()["gene"]
    expected = sdata["transcripts"]["gene"].compute()
    assert isinstance(got.dtype, pd.CategoricalDtype)
    assert got.astype(str).tolist() == expected.astype(str).tolist()
    assert set(got.cat.categories) == set(expected.cat.categories)


def test_views_of_a_link_match_the_mapping_after_a_key_edit():
    sdata = make_sdata(seed=0)
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    to_duckdb(sdata, elements=["cells", "cell_table"], spatial=False)
    obs = sdata.tables["cell_table"].obs
    obs["cell_id"] = obs["cell_id"].iloc[::-1].to_numpy()  # the keys shuffled: other rows per cell
    con = to_duckdb(sdata, elements=["cells", "cell_table"], spatial=False)
    cells = sdata["cells"]
    merged = pd.merge(
        pd.DataFrame({"instance_id": cells.index, "cell_id": cells["cell_id"].to_numpy()}),
        pd.DataFrame({"obs_name": obs.index, "cell_id": obs["cell_id"].to_numpy()}),
        on="cell_id",
    )
    expected = set(zip(merged["instance_id"], merged["obs_name"], strict=True))
    assert set(con.sql("select instance_id, obs_name from cells__cell_table").fetchall()) == expected


def test_what_is_kept_goes_with_the_object():
    sdata = make_sdata(seed=0)
    con = to_duckdb(sdata, elements=["cells"], spatial=False)
    watch = weakref.ref(sdata)
    del sdata, con
    gc.collect()
    assert watch() is None


@pytest.mark.parametrize("seed", range(40))
def test_matching_integer_keys_is_pandas_merge(seed):
    rng = np.random.default_rng(seed)
    right = rng.choice(np.arange(-20, 80), size=int(rng.integers(1, 60)), replace=bool(seed % 2))
    left = rng.integers(-30, 90, size=int(rng.integers(0, 60))).astype(np.int32 if seed % 3 else np.int64)
    got = match_positions(left, right)
    merged = pd.merge(
        pd.DataFrame({"k": left, "l": np.arange(len(left))}), pd.DataFrame({"k": right, "r": np.arange(len(right))})
    )
    assert sorted(zip(*got, strict=True)) == sorted(zip(merged["l"], merged["r"], strict=True))


def test_a_copy_starts_without_the_evaluations():
    import copy

    from spatialdata_plugins.relations import get_element_mapping, relations

    sdata = make_sdata(seed=0)
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    get_element_mapping(sdata, "nuclei", "cell_table")
    status = {r.id: r.status for r in relations(sdata)}
    assert status["nuclei--cell_table"] == "evaluated"
    assert {r.id: r.status for r in relations(copy.copy(sdata))}["nuclei--cell_table"] == "not evaluated"


@pytest.mark.parametrize("spatial", [True, False])
def test_shapes_with_a_categorical_column_and_geometry(spatial):
    sdata = make_sdata(seed=0)
    cells = sdata["cells"]
    cells["kind"] = pd.Categorical(["a", "b'quoted"] * (len(cells) // 2) + ["a"] * (len(cells) % 2))
    con = to_duckdb(sdata, elements=["cells"], spatial=spatial)
    area = "ST_Area(geometry)" if spatial else "geometry"
    got = con.sql(f"select instance_id, kind, {area} from cells order by instance_id").fetchall()
    expected = cells.sort_index()
    assert [k for _, k, _ in got] == expected["kind"].astype(str).tolist()
    if spatial:
        assert [a for *_, a in got] == pytest.approx(expected.geometry.area.tolist())
    else:
        assert [bytes(g) for *_, g in got] == list(shapely.to_wkb(expected.geometry.values))
    assert [c for c, *_ in con.sql("describe cells").fetchall()] == ["instance_id", "cell_id", "kind", "geometry"]
