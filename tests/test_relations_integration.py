"""Relations with the other plugins installed: icechunk transactions, lazy containers, density groups from a linked
table, and the benchmark script on tiny data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packages" / "relations" / "tests"))

from relations_testdata import make_sdata, pairs

from spatialdata_plugins.relations import (
    STORE_GROUP,
    annotate_by_table,
    get_element_mapping,
    relations,
)


def sjoin_oracle(sdata) -> set:
    joined = gpd.sjoin(sdata["nuclei"][["geometry"]], sdata["cells"][["cell_id", "geometry"]], predicate="within")
    obs = sdata.tables["cell_table"].obs
    merged = pd.merge(
        pd.DataFrame({"instance_id": joined.index.to_numpy(), "cell_id": joined["cell_id"].to_numpy()}),
        pd.DataFrame({"obs_name": obs.index.to_numpy(), "cell_id": obs["cell_id"].to_numpy()}),
        on="cell_id",
    )
    return pairs(merged)


# --- icechunk ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path):
    import spatialdata_plugins.icechunk as sdi

    repo = sdi.open_repository(str(tmp_path / "repo.icechunk"), create=True)
    sdi.write(make_sdata(), repo, message="data", progress=False)
    return repo


def test_adding_links_in_a_transaction_commits_them(repo):
    import spatialdata_plugins.icechunk as sdi

    sdata = sdi.read(repo)
    n_commits = len(sdi.log(repo))
    with sdi.transaction(sdata, repo, message="link nuclei", progress=False) as tx:
        annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
        annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    assert tx.changes.attrs_changed
    assert len(sdi.log(repo)) == n_commits + 1
    back = sdi.read(repo)
    assert [(r.id, r.method) for r in relations(back) if r.method != "legacy"] == [
        ("cells--cell_table", "key"),
        ("nuclei--cell_table", "sjoin"),
    ]
    assert pairs(get_element_mapping(back, "nuclei", "cell_table")) == sjoin_oracle(back)


def test_failed_transaction_records_no_link(repo):
    import spatialdata_plugins.icechunk as sdi

    sdata = sdi.read(repo)
    with pytest.raises(RuntimeError, match="boom"), sdi.transaction(sdata, repo, message="fails", progress=False):
        annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
        raise RuntimeError("boom")
    assert [r.method for r in relations(sdata)] == ["legacy"]
    assert [r.method for r in relations(sdi.read(repo))] == ["legacy"]


def test_evaluated_link_is_committed_by_a_transaction(repo):
    import spatialdata_plugins.icechunk as sdi

    sdata = sdi.read(repo)
    with sdi.transaction(sdata, repo, message="link and evaluate", progress=False):
        annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
        annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
        get_element_mapping(sdata, "nuclei", "cell_table")
    back = sdi.read(repo)
    assert [r.status for r in relations(back) if r.method == "sjoin"] == ["evaluated"]  # read, not computed again
    assert pairs(get_element_mapping(back, "nuclei", "cell_table")) == sjoin_oracle(back)


def test_core_write_to_a_session_store_keeps_the_evaluated_link(tmp_path):
    """The core's own write into an icechunk session (kind "store") runs the hooks, so the evaluation is stored."""
    import icechunk
    import zarr

    from spatialdata_plugins.core import read, write

    storage = icechunk.local_filesystem_storage(str(tmp_path / "plain.icechunk"))
    repo = icechunk.Repository.create(storage)
    session = repo.writable_session("main")
    sdata = make_sdata()
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    get_element_mapping(sdata, "nuclei", "cell_table")
    write(sdata, session.store, progress=False)
    session.commit("write")
    ro = repo.readonly_session(branch="main")
    assert "nuclei--cell_table" in zarr.open_group(ro.store, mode="r")[STORE_GROUP]
    back = read(ro.store)
    assert [r.status for r in relations(back) if r.method == "sjoin"] == ["evaluated"]
    assert pairs(get_element_mapping(back, "nuclei", "cell_table")) == sjoin_oracle(back)


# --- lazy containers ------------------------------------------------------------------------------------------------


def test_linked_lazy_element_is_loaded_only_when_a_mapping_needs_it(tmp_path):
    from spatialdata_plugins.core import read, write
    from spatialdata_plugins.lazy_containers import ParquetShapesContainer

    sdata = make_sdata()
    annotate_by_table(sdata, "cells", "cell_table", on="cell_id")
    annotate_by_table(sdata, "nuclei", "cell_table", method="sjoin", via="cells", predicate="within")
    expected = pairs(get_element_mapping(sdata, "nuclei", "cell_table"))
    cells = sdata["cells"].copy()
    cells.attrs = {}
    cells.to_parquet(tmp_path / "cells.parquet")
    del sdata.shapes["cells"]
    sdata.attach(ParquetShapesContainer(tmp_path / "cells.parquet", key="cells"))
    write(sdata, tmp_path / "s.zarr", progress=False)
    back = read(tmp_path / "s.zarr")
    assert back.is_lazy("cells")
    listed = {r.id: r.status for r in relations(back)}
    assert listed["cells--cell_table"] == "not loaded"
    assert back.is_lazy("cells")  # listing the graph loads nothing
    assert pairs(get_element_mapping(back, "nuclei", "cell_table")) == expected
    assert not back.is_lazy("cells")  # the spatial join needed the cells


def test_mapping_of_another_pair_leaves_the_lazy_element_alone(tmp_path):
    from spatialdata_plugins.core import read, write
    from spatialdata_plugins.lazy_containers import ParquetShapesContainer

    sdata = make_sdata()
    annotate_by_table(sdata, "cell_labels", "cell_table", on="label")
    nuclei = sdata["nuclei"].copy()
    nuclei.attrs = {}
    nuclei.to_parquet(tmp_path / "nuclei.parquet")
    del sdata.shapes["nuclei"]
    sdata.attach(ParquetShapesContainer(tmp_path / "nuclei.parquet", key="nuclei"))
    write(sdata, tmp_path / "s.zarr", progress=False)
    back = read(tmp_path / "s.zarr")
    assert len(get_element_mapping(back, "cell_labels", "cell_table"))
    assert back.is_lazy("nuclei")


# --- density --------------------------------------------------------------------------------------------------------


def test_density_takes_its_groups_from_a_table_linked_to_the_cells():
    import numpy as np
    from anndata import AnnData
    from spatialdata.models import TableModel

    from spatialdata_plugins.density import ring_density

    sdata = make_sdata()
    del sdata.tables["table"]  # the cells' only legacy annotation: the linked table takes its place
    cells = sdata["cells"]
    kinds = np.where(np.arange(len(cells)) % 2 == 0, "even", "odd")
    obs = pd.DataFrame({"cell_id": cells["cell_id"].to_numpy(), "kind": kinds}, index=[f"k{i}" for i in cells.index])
    sdata.tables["kinds"] = TableModel.parse(AnnData(np.zeros((len(obs), 1)), obs=obs.iloc[::-1]))
    annotate_by_table(sdata, "cells", "kinds", on="cell_id", validate="one_to_one", write_legacy=True)
    contour = gpd.GeoDataFrame(geometry=[gpd.points_from_xy([30.0], [30.0])[0].buffer(20)])
    from spatialdata.models import ShapesModel

    sdata.shapes["region"] = ShapesModel.parse(contour)
    result = ring_density(sdata, shapes="cells", contours="region", genes="kind", ring_width=5.0, progress=False)
    # oracle: signed distance of each cell centroid to the contour, groups read from the table by hand
    circle = contour.geometry.iloc[0]
    centroids = cells.geometry.centroid
    signed = [(-1 if circle.contains(c) else 1) * circle.boundary.distance(c) for c in centroids]
    in_range = pd.Series([-25.0 <= d < 25.0 for d in signed], index=cells.index)
    kind_of = dict(zip(obs["cell_id"], obs["kind"], strict=True))
    expected = pd.Series([kind_of[c] for c in cells["cell_id"]], index=cells.index)[in_range].value_counts()
    rows = result[(result["contour"].astype(str) == "0") & (result["group"] != "all")]
    got = rows.groupby("group", observed=True)["count"].sum()
    assert got.to_dict() == expected.to_dict()


# --- benchmark smoke test -------------------------------------------------------------------------------------------


@pytest.fixture
def bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_relations.py"
    spec = importlib.util.spec_from_file_location("bench_relations", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_relations"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_relations", None)


def test_benchmark_runs_on_tiny_data(bench):
    rows = bench.run(n=2_000, repeats=1)
    assert [r["case"] for r in rows] == [
        "sjoin",
        "sql join, cold",
        "sql join, warm",
        "sql join + geometry, cold",
        "sql join + geometry, warm",
    ]
    assert all(r["same_result"] for r in rows)
    assert bench.table(rows).startswith("| case |")


def test_benchmark_comparison_sees_a_wrong_answer(bench):
    import pyarrow as pa
    import pyarrow.compute as pc

    sdata = bench.build_sdata(bench.make_data(300))
    ours, theirs = bench.sql_ours(sdata), bench.sql_theirs(sdata)
    assert bench.same_sql(ours, theirs, sdata)
    assert not bench.same_sql(ours.slice(1), theirs, sdata)  # a row missing
    score = ours.schema.get_field_index("score")
    changed = ours.set_column(score, "score", pc.add(ours.column("score"), pa.scalar(1e-9)))
    assert not bench.same_sql(changed, theirs, sdata)  # one column off
    assert not bench.same_sql(ours.drop_columns(["cell_type"]), theirs, sdata)  # a column missing


# --- the docs page's example --------------------------------------------------------------------------------------


def test_docs_example_runs(tmp_path, monkeypatch):
    import re
    import runpy

    page = (Path(__file__).resolve().parents[1] / "docs" / "relations.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, flags=re.DOTALL).group(1)
    script = tmp_path / "example.py"
    script.write_text(code)
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(script))
    assert [(r.id, r.status) for r in namespace["relations"](namespace["back"])] == [
        ("cell_shapes--cell_table", "ok"),
        ("nuclei--cell_table", "evaluated"),
    ]
    assert namespace["validate_relations"](namespace["back"]) == []
    assert len(namespace["m"]) == 100
