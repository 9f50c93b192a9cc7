"""SpatialData integration: elements by name, coordinate systems, cells, label domains, tables, CLI, dask, plots."""

from __future__ import annotations

import json

import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import spatialdata
from click.testing import CliRunner
from spatialdata.models import Labels2DModel, PointsModel, ShapesModel
from spatialdata.transformations import Identity, Scale, Translation

import spatialdata_plugins.density._plugin as plugin
from spatialdata_plugins.core import ElementNotFoundError, build_cli, read, write
from spatialdata_plugins.core import cli_main as main
from spatialdata_plugins.density import (
    CoordinateSystemError,
    DensityArgumentError,
    plot_density_profile,
    ring_density,
    smooth_density_by_distance,
)


@pytest.fixture
def sdata(rng):
    n = 40_000
    xy = rng.uniform(0, 400, size=(n, 2))
    genes = pd.Categorical(rng.choice(["ACTB", "CD3E", "KRT8"], n))
    # the points live in pixels, at half the unit of the global system
    points = PointsModel.parse(
        dd.from_pandas(pd.DataFrame({"x": xy[:, 0] * 2, "y": xy[:, 1] * 2, "gene": genes}), npartitions=4),
        feature_key="gene",
        transformations={"global": Scale([0.5, 0.5], axes=("x", "y"))},
    )
    contours = ShapesModel.parse(
        gpd.GeoDataFrame(
            geometry=[shapely.Point(120, 120).buffer(50, quad_segs=64), shapely.box(230, 230, 330, 330)],
            index=pd.Index(["tumour_a", "tumour_b"]),
        ),
        transformations={"global": Identity()},
    )
    cells_xy = rng.uniform(0, 400, size=(3000, 2))
    cells = ShapesModel.parse(
        gpd.GeoDataFrame(
            {"radius": np.full(3000, 2.0), "cell_type": rng.choice(["T", "B"], 3000)},
            geometry=gpd.points_from_xy(cells_xy[:, 0], cells_xy[:, 1]),
        ),
        transformations={"global": Identity()},
    )
    mask = np.zeros((100, 200), dtype=np.uint8)  # 2 units per pixel, placed at (0, 100): covers y in [100, 300)
    mask[:, :] = 1
    tissue = Labels2DModel.parse(
        mask,
        dims=("y", "x"),
        transformations={"global": spatialdata.transformations.Sequence([Scale([2.0, 2.0], axes=("x", "y")),
                                                                        Translation([0.0, 100.0], axes=("x", "y"))])},
    )  # fmt: skip
    sd = spatialdata.SpatialData(
        points={"transcripts": points},
        shapes={"tumours": contours, "cells": cells},
        labels={"tissue": tissue},
    )
    return sd, xy, genes, cells_xy


def test_elements_by_name_are_transformed_into_the_common_system(sdata):
    sd, xy, _, _ = sdata
    by_name = ring_density(sd, points="transcripts", contours="tumours", ring_width=10, n_rings_in=3, n_rings_out=3)
    raw = ring_density(
        points=pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}),
        contours=sd.shapes["tumours"].geometry,
        ring_width=10,
        n_rings_in=3,
        n_rings_out=3,
    )
    np.testing.assert_array_equal(by_name["count"], raw["count"])
    assert list(dict.fromkeys(by_name["contour"])) == ["tumour_a", "tumour_b", "pooled"]
    assert by_name.attrs["density"]["coordinate_system"] == "global"


def test_no_shared_coordinate_system_is_an_error(sdata):
    sd, *_ = sdata
    spatialdata.transformations.set_transformation(sd.shapes["tumours"], Identity(), "aligned", write_to_sdata=None)
    spatialdata.transformations.remove_transformation(sd.shapes["tumours"], "global")
    with pytest.raises(CoordinateSystemError, match="share no coordinate system"):
        ring_density(sd, points="transcripts", contours="tumours", ring_width=10)
    with pytest.raises(CoordinateSystemError, match="'aligned' is not defined for points"):
        ring_density(sd, points="transcripts", contours="tumours", ring_width=10, coordinate_system="aligned")


def test_missing_elements_are_named(sdata):
    sd, *_ = sdata
    with pytest.raises(ElementNotFoundError, match="nope"):
        ring_density(sd, points="nope", contours="tumours", ring_width=10)
    with pytest.raises(ElementNotFoundError, match="available"):
        ring_density(sd, points="transcripts", contours="missing", ring_width=10)


def test_cells_use_centroids_and_group_by_a_column(sdata):
    sd, _, _, cells_xy = sdata
    res = ring_density(
        sd, shapes="cells", contours="tumours", ring_width=10, n_rings_in=2, n_rings_out=2, genes="cell_type"
    )
    assert set(res["group"]) == {"T", "B", "all"}
    raw = ring_density(
        points=cells_xy, contours=sd.shapes["tumours"].geometry, ring_width=10, n_rings_in=2, n_rings_out=2
    )
    np.testing.assert_array_equal(res[res["group"] == "all"]["count"].to_numpy(), raw["count"].to_numpy())


def test_labels_domain_in_another_frame_clips_like_its_polygon(sdata):
    sd, *_ = sdata
    via_labels = ring_density(
        sd, points="transcripts", contours="tumours", ring_width=10, n_rings_in=2, n_rings_out=2, domain="tissue"
    )
    polygon = shapely.box(0, 100, 400, 300)
    via_polygon = ring_density(
        sd, points="transcripts", contours="tumours", ring_width=10, n_rings_in=2, n_rings_out=2, domain=polygon
    )
    pd.testing.assert_frame_equal(via_labels.drop(columns=[]), via_polygon, check_exact=False, rtol=1e-9)
    full = ring_density(sd, points="transcripts", contours="tumours", ring_width=10, n_rings_in=2, n_rings_out=2)
    assert (via_labels["area"] <= full["area"] + 1e-9).all()
    assert (via_labels["area"] < full["area"] - 1).any()


def test_results_stored_as_a_table_round_trip(sdata, tmp_path):
    sd, *_ = sdata
    rings = ring_density(
        sd,
        points="transcripts",
        contours="tumours",
        ring_width=10,
        n_rings_in=2,
        n_rings_out=2,
        genes=["ACTB"],
        table_name="tumour_rings",
    )
    table = sd.tables["tumour_rings"]
    assert table.obs["instance_id"].tolist() == ["tumour_a", "tumour_b"]
    assert table.uns["spatialdata_attrs"]["region"] == "tumours"
    assert table.n_vars == 2 * 4  # groups ACTB, all x 4 rings
    row = rings[(rings["contour"] == "tumour_b") & (rings["group"] == "ACTB") & (rings["ring"] == 1)]
    col = list(table.var_names).index("ACTB|1")
    assert table.X[1, col] == pytest.approx(row["density"].item())
    assert table.layers["count"][1, col] == row["count"].item()
    smooth = smooth_density_by_distance(
        sd,
        points="transcripts",
        contours="tumours",
        bandwidth=3,
        grid=11,
        distance_in=20,
        distance_out=20,
        table_name="tumour_smooth",
    )
    assert sd.tables["tumour_smooth"].layers["masked"].shape == (2, 11)
    assert smooth["density"].notna().any()
    write(sd, tmp_path / "out.zarr", progress=False)
    back = spatialdata.read_zarr(tmp_path / "out.zarr")
    np.testing.assert_allclose(back.tables["tumour_rings"].X, table.X)
    assert back.tables["tumour_rings"].uns["density"]["ring_width"] == 10


def test_distributed_cluster_gives_the_same_counts(sdata):
    distributed = pytest.importorskip("distributed")
    sd, *_ = sdata
    local = ring_density(sd, points="transcripts", contours="tumours", ring_width=10, genes="gene", progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        with distributed.Client(cluster):
            remote = ring_density(
                sd, points="transcripts", contours="tumours", ring_width=10, genes="gene", progress=False
            )
    pd.testing.assert_frame_equal(local, remote)


def test_plot_density_profile(sdata):
    import matplotlib.pyplot as plt

    sd, *_ = sdata
    rings = ring_density(sd, points="transcripts", contours="tumours", ring_width=10, genes=["ACTB", "KRT8"])
    smooth = smooth_density_by_distance(
        sd,
        points="transcripts",
        contours="tumours",
        bandwidth=4,
        grid=21,
        distance_in=40,
        distance_out=40,
        genes=["ACTB", "KRT8"],
    )
    ax = plot_density_profile(rings, smooth, groups=["ACTB", "KRT8"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ACTB (rings)" in labels and "KRT8 (smoothed)" in labels
    assert len(ax.lines) >= 3
    ax2 = plot_density_profile(rings=rings, contour="tumour_a")
    assert ax2.get_title() == "contour: tumour_a"
    plt.close("all")
    with pytest.raises(ValueError, match="not in the results"):
        plot_density_profile(rings, groups=["XYZ"])


@pytest.fixture
def store(tmp_path, sdata):
    sd, *_ = sdata
    path = tmp_path / "store.zarr"
    write(sd, path, progress=False)
    return path


@pytest.fixture
def cli(sdp_register):
    sdp_register(plugin, name="density")
    return build_cli()


def test_cli_rings_adds_a_table_to_the_store(cli, store, tmp_path, capsys):
    args = ["density", "rings", str(store), "--points", "transcripts", "--contours", "tumours", "--ring-width", "10",
            "--genes", "ACTB,KRT8", "--out", "rings", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "wrote table 'rings'" in result.output
    back = read(store)
    assert back.tables["rings"].n_obs == 2
    assert "transcripts" in back.points  # the rest of the store is untouched
    first = back.tables["rings"].X.copy()
    # an existing table is not replaced without --overwrite
    with pytest.raises(SystemExit) as info:
        main([*args])
    assert info.value.code == 2
    assert "already exists" in capsys.readouterr().err
    result = CliRunner().invoke(cli, [*args, "--overwrite", "--csv", str(tmp_path / "r.csv")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    again = spatialdata.read_zarr(store)
    np.testing.assert_allclose(again.tables["rings"].X, first)
    assert len(pd.read_csv(tmp_path / "r.csv")) == 3 * 3 * 10


def test_cli_smooth_and_bad_width(cli, store, capsys):
    args = ["density", "smooth", str(store), "--points", "transcripts", "--contours", "tumours", "--bandwidth", "4",
            "--distance-in", "30", "--distance-out", "30", "--grid", "13", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "distance" in result.output
    with pytest.raises(SystemExit) as info:
        main(["density", "rings", str(store), "--points", "transcripts", "--contours", "tumours", "--ring-width", "0"])
    assert info.value.code == 2
    assert "ring_width must be a positive" in capsys.readouterr().err


def test_demo_step(synthetic_sdata, tmp_path):
    lines = []
    plugin.sdp_demo(sdata=synthetic_sdata, workdir=str(tmp_path), echo=lines.append)
    assert lines and lines[0].startswith("density:")


@pytest.mark.s3
def test_points_read_lazily_from_s3(sdata, s3_bucket, cli, capsys):
    sd, *_ = sdata
    url = f"{s3_bucket['url']}/store.zarr"
    write(sd, url, storage_options=s3_bucket["storage_options"], progress=False)
    back = read(url, storage_options=s3_bucket["storage_options"])
    remote = ring_density(back, points="transcripts", contours="tumours", ring_width=10, genes="gene", progress=False)
    local = ring_density(sd, points="transcripts", contours="tumours", ring_width=10, genes="gene", progress=False)
    pd.testing.assert_frame_equal(remote, local)
    options = [f"-s{k}={json.dumps(v) if isinstance(v, dict) else v}" for k, v in s3_bucket["storage_options"].items()]
    with pytest.raises(SystemExit) as info:
        main(["density", "rings", url, "--points", "transcripts", "--contours", "tumours", "--ring-width", "10",
              "--out", "rings", "--no-progress", *options])  # fmt: skip
    assert info.value.code == 2
    assert "local stores only" in capsys.readouterr().err


def test_cells_grouped_by_a_column_of_an_annotating_table(sdata):
    import anndata as ad
    from spatialdata.models import TableModel

    sd, *_ = sdata
    cells = sd.shapes["cells"]
    cell_type = cells["cell_type"].to_numpy()
    sd.shapes["cells"] = cells.drop(columns=["cell_type"])
    obs = pd.DataFrame(
        {"kind": pd.Categorical(cell_type), "region": pd.Categorical(["cells"] * len(cells)), "cid": cells.index},
        index=[str(i) for i in range(len(cells))],
    )
    # rows in a different order than the shapes, to check the alignment by instance id
    obs = obs.iloc[::-1]
    sd.tables["cell_table"] = TableModel.parse(
        ad.AnnData(obs=obs), region="cells", region_key="region", instance_key="cid"
    )
    res = ring_density(sd, shapes="cells", contours="tumours", ring_width=10, n_rings_in=2, n_rings_out=2, genes="kind")
    sd.shapes["cells"] = cells
    ref = ring_density(
        sd, shapes="cells", contours="tumours", ring_width=10, n_rings_in=2, n_rings_out=2, genes="cell_type"
    )
    assert set(res["group"]) == {"T", "B", "all"}
    np.testing.assert_array_equal(res["count"].to_numpy(), ref["count"].to_numpy())
    with pytest.raises(DensityArgumentError, match="no column 'nope'.*cell_table"):
        ring_density(sd, shapes="cells", contours="tumours", ring_width=10, genes="nope")


def test_multiscale_labels_domain_clips_like_its_polygon(sdata):
    sd, *_ = sdata
    tissue = sd.labels["tissue"]
    sd.labels["tissue_ms"] = Labels2DModel.parse(
        tissue.data.compute(),
        dims=("y", "x"),
        scale_factors=[2],
        transformations=spatialdata.transformations.get_transformation(tissue, get_all=True),
    )
    kw = {"points": "transcripts", "contours": "tumours", "ring_width": 10, "n_rings_in": 2, "n_rings_out": 2}
    via_ms = ring_density(sd, domain="tissue_ms", **kw)
    via_polygon = ring_density(sd, domain=shapely.box(0, 100, 400, 300), **kw)
    pd.testing.assert_frame_equal(via_ms, via_polygon, check_exact=False, rtol=1e-9)
    sd.labels["elsewhere"] = Labels2DModel.parse(
        tissue.data.compute(), dims=("y", "x"), scale_factors=[2], transformations={"other": Identity()}
    )
    with pytest.raises(CoordinateSystemError, match="share no coordinate system"):
        ring_density(sd, domain="elsewhere", **kw)
