"""Analytic checks of ring_density and smooth_density_by_distance, grouping, contours, domains, bad input."""

from __future__ import annotations

import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from spatialdata_plugins.core import ElementNotFoundError, InvalidArgumentError, SpatialDataPluginError
from spatialdata_plugins.density import (
    CoordinateSystemError,
    DensityArgumentError,
    DomainError,
    InvalidContourError,
    ring_density,
    smooth_density_by_distance,
)

LAMBDA = 0.2
BOX = (-150.0, -150.0, 150.0, 150.0)


def _pooled(df, group="all"):
    return df[(df["contour"] == "pooled") & (df["group"] == group)]


@pytest.mark.parametrize("shape", ["disc", "square"])
def test_homogeneous_poisson_gives_the_intensity_in_every_ring(poisson, shape):
    contour = shapely.Point(0, 0).buffer(60, quad_segs=64) if shape == "disc" else shapely.box(-55, -55, 55, 55)
    xy = poisson(LAMBDA, BOX)
    df = ring_density(points=xy, contours=[contour], ring_width=10, n_rings_in=5, n_rings_out=6, progress=False)
    rings = _pooled(df)
    assert len(rings) == 11
    z = (rings["density"] - LAMBDA) / (np.sqrt(LAMBDA / rings["area"]))
    assert np.all(np.abs(z) < 4), z.to_numpy()
    # chi-square-like: the rings scatter as Poisson noise, not more
    assert np.mean(z**2) < 3
    # areas are exact band areas
    if shape == "square":
        inner = rings[rings["ring"] == -1]
        assert inner["area"].iloc[0] == pytest.approx(110**2 - 90**2)


@pytest.mark.parametrize("shape", ["disc", "square"])
def test_homogeneous_poisson_gives_a_flat_smoothed_profile(poisson, shape):
    contour = shapely.Point(0, 0).buffer(60, quad_segs=64) if shape == "disc" else shapely.box(-55, -55, 55, 55)
    xy = poisson(LAMBDA, BOX)
    df = smooth_density_by_distance(
        points=xy, contours=[contour], bandwidth=4, grid=31, distance_in=45, distance_out=45, progress=False
    )
    prof = _pooled(df)
    ok = prof[~prof["masked"]]
    assert len(ok) >= 25
    z = (ok["density"] - LAMBDA) / ok["density_se"]
    assert np.all(np.abs(z) < 4.5), z.to_numpy()
    assert np.all(np.isfinite(ok["density"]))


def test_the_prototype_blow_up_does_not_happen(poisson):
    """Radius-30 circle, bandwidth 5: the prototype overestimated 11.5x near the collapse; here it stays flat."""
    xy = poisson(1.0, (-80, -80, 80, 80))
    df = smooth_density_by_distance(
        points=xy, contours=[shapely.Point(0, 0).buffer(30)], bandwidth=5, grid=61, distance_in=30, distance_out=30,
        progress=False,
    )  # fmt: skip
    prof = _pooled(df)
    ok = prof[~prof["masked"]]
    assert ok["density"].max() < 1.6
    assert np.all(np.abs(ok["density"] - 1.0) < 4.5 * ok["density_se"])
    # the centre (d = -30) has little area behind it, yet the value is an honest estimate, not a blow-up
    centre = prof[prof["distance"] == -30].iloc[0]
    assert centre["effective_area"] < 0.05 * prof["effective_area"].max()
    assert abs(centre["density"] - 1.0) < 4.5 * centre["density_se"]
    # masking follows the expected count; at a tenth of the intensity the centre is masked
    np.testing.assert_array_equal(prof["masked"], prof["expected_count"] < 10)
    sparse = xy[np.random.default_rng(3).uniform(size=len(xy)) < 0.05]
    thin = _pooled(
        smooth_density_by_distance(
            points=sparse,
            contours=[shapely.Point(0, 0).buffer(30)],
            bandwidth=5,
            grid=61,
            distance_in=30,
            distance_out=30,
            progress=False,
        )
    )
    assert thin.loc[thin["distance"] == -30, "masked"].item()
    assert np.isnan(thin.loc[thin["distance"] == -30, "density"].item())


def test_radial_gradient_gives_its_profile(rng):
    """Intensity 0.4 * (1 + d / 100) for signed distance d in [-50, 50] around a disc of radius 80."""
    r0, lam0 = 80.0, 0.4
    xy = rng.uniform(-140, 140, size=(rng.poisson(lam0 * 1.6 * 280**2), 2))
    d = np.hypot(xy[:, 0], xy[:, 1]) - r0
    keep = rng.uniform(0, 1.6, len(xy)) < (1 + d / 100)
    xy = xy[keep & (np.abs(d) <= 60)]
    contour = shapely.Point(0, 0).buffer(r0, quad_segs=128)
    df = ring_density(points=xy, contours=[contour], ring_width=10, n_rings_in=5, n_rings_out=5, progress=False)
    rings = _pooled(df)
    a, b = rings["d_inner"].to_numpy(), rings["d_outer"].to_numpy()
    # area-weighted mean of d over an annulus of the disc: int s (r0 + s) ds / int (r0 + s) ds
    mean_d = ((b**2 - a**2) / 2 * r0 + (b**3 - a**3) / 3) / ((b - a) * r0 + (b**2 - a**2) / 2)
    expected = lam0 * (1 + mean_d / 100)
    z = (rings["density"].to_numpy() - expected) / rings["density_se"].to_numpy()
    assert np.all(np.abs(z) < 4), z
    slope = np.polyfit(rings["d_mid"], rings["density"], 1)[0]
    assert slope == pytest.approx(lam0 / 100, rel=0.15)

    sm = _pooled(
        smooth_density_by_distance(
            points=xy, contours=[contour], bandwidth=4, grid=np.arange(-40, 41, 10.0), progress=False
        )
    )
    truth = lam0 * (1 + sm["distance"] / 100)
    assert np.all(np.abs(sm["density"] - truth) < 4.5 * sm["density_se"] + 0.01 * lam0)


def test_tiny_contours_give_no_infinities(poisson):
    xy = poisson(0.5, (-40, -40, 40, 40))
    tiny = [shapely.Point(0, 0).buffer(0.5), shapely.box(10, 10, 10.3, 10.2)]
    rings = ring_density(points=xy, contours=tiny, ring_width=2, n_rings_in=3, n_rings_out=3, progress=False)
    assert not np.isinf(rings["density"]).any()
    assert rings.loc[rings["area"] == 0, "density"].isna().all()
    assert (rings.loc[rings["area"] == 0, "count"] == 0).all()
    sm = smooth_density_by_distance(points=xy, contours=tiny, bandwidth=2, grid=21, distance_in=10, distance_out=10)
    assert not np.isinf(sm["density"]).any()
    assert not np.isinf(sm["density_se"]).any()
    assert sm.loc[sm["distance"] < -2, "masked"].all()


def test_genes_list_column_and_pooled_rows(rng):
    n = 30_000
    pts = pd.DataFrame(
        {
            "x": rng.uniform(-100, 100, n),
            "y": rng.uniform(-100, 100, n),
            "gene": pd.Categorical(rng.choice(["A", "B", "C"], n)),
            "kind": rng.choice(["u", "v"], n),
        }
    )
    contours = gpd.GeoDataFrame(
        geometry=[shapely.Point(-40, 0).buffer(20), shapely.box(20, -20, 60, 20)], index=["left", "right"]
    )
    df = ring_density(points=pts, contours=contours, ring_width=5, n_rings_in=2, n_rings_out=2, genes=["A", "C"])
    assert set(df["group"]) == {"A", "C", "all"}
    assert set(df["contour"]) == {"left", "right", "pooled"}
    key = ["contour", "ring"]
    total = df[df["group"] == "all"].set_index(key)["count"]
    genes_sum = df[df["group"] != "all"].groupby(key)["count"].sum()
    assert (genes_sum <= total.loc[genes_sum.index]).all()
    per = df[(df["contour"] != "pooled") & (df["group"] == "all")].groupby("ring")[["count", "area"]].sum()
    pooled = df[(df["contour"] == "pooled") & (df["group"] == "all")].set_index("ring")
    np.testing.assert_array_equal(per["count"], pooled["count"])
    np.testing.assert_allclose(per["area"], pooled["area"])

    by_kind = ring_density(points=pts, contours=contours, ring_width=5, n_rings_in=2, n_rings_out=2, genes="kind")
    assert set(by_kind["group"]) == {"u", "v", "all"}
    parts = by_kind[by_kind["group"] != "all"].groupby(key)["count"].sum()
    whole = by_kind[by_kind["group"] == "all"].set_index(key)["count"]
    np.testing.assert_array_equal(parts.sort_index(), whole.loc[parts.index].sort_index())
    # counts are the same for any partitioning
    again = ring_density(
        points=dd.from_pandas(pts, npartitions=7), contours=contours, ring_width=5, n_rings_in=2, n_rings_out=2,
        genes="kind",
    )  # fmt: skip
    pd.testing.assert_frame_equal(again, by_kind)


def test_contour_kinds_multipolygon_and_closed_line(poisson):
    xy = poisson(0.3, (-100, -100, 100, 100))
    square = shapely.box(-30, -30, 30, 30)
    as_line = shapely.LineString(list(square.exterior.coords))
    a = ring_density(points=xy, contours=[square], ring_width=5, n_rings_in=2, n_rings_out=2)
    b = ring_density(points=xy, contours=[as_line], ring_width=5, n_rings_in=2, n_rings_out=2)
    pd.testing.assert_frame_equal(a, b)
    multi = shapely.MultiPolygon([shapely.box(-60, -10, -40, 10), shapely.box(40, -10, 60, 10)])
    m = ring_density(points=xy, contours=[multi], ring_width=4, n_rings_in=2, n_rings_out=2)
    # the outer ring [4, 8) of two separate 20 x 20 squares: 2 * (4 * 20 * 4 + pi * (8^2 - 4^2))
    assert _pooled(m)["area"].iloc[-1] == pytest.approx(2 * (320 + np.pi * 48), rel=1e-4)
    assert (_pooled(m)["count"] > 0).all()


def test_domain_clips_areas_and_points(poisson):
    xy = poisson(0.3, (-100, -100, 100, 100))
    disc = shapely.Point(0, 0).buffer(40, quad_segs=64)
    half = shapely.box(0, -200, 200, 200)
    full = _pooled(ring_density(points=xy, contours=[disc], ring_width=10, n_rings_in=2, n_rings_out=3))
    clipped = _pooled(ring_density(points=xy, contours=[disc], ring_width=10, n_rings_in=2, n_rings_out=3, domain=half))
    np.testing.assert_allclose(clipped["area"].to_numpy(), full["area"].to_numpy() / 2, rtol=1e-9)
    right = xy[xy[:, 0] >= 0]
    assert (
        clipped["count"].sum()
        == _pooled(ring_density(points=right, contours=[disc], ring_width=10, n_rings_in=2, n_rings_out=3))[
            "count"
        ].sum()
    )
    # a mask domain: the same half plane as pixels (1 px = 1 unit, the array's origin at (-100, -100) is not
    # expressible for a bare array, so use a polygon mask over [0, 100) instead)
    mask = np.zeros((200, 100), dtype=np.uint8)
    mask[:, :50] = 1
    area_mask = ring_density(points=xy, contours=[disc], ring_width=10, n_rings_in=2, n_rings_out=3, domain=mask)
    assert _pooled(area_mask)["area"].sum() > 0


def test_domain_that_misses_the_contours(poisson):
    xy = poisson(0.1, (-50, -50, 50, 50))
    with pytest.raises(DomainError, match="does not overlap"):
        far = shapely.box(500, 500, 600, 600)
        ring_density(points=xy, contours=[shapely.box(-5, -5, 5, 5)], ring_width=2, domain=far)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ring_width": 0}, "ring_width"),
        ({"ring_width": -3}, "ring_width"),
        ({"ring_width": float("nan")}, "ring_width"),
        ({"ring_width": 2, "n_rings_in": 0, "n_rings_out": 0}, "at least 1"),
        ({"ring_width": 2, "n_rings_in": -1}, "n_rings_in"),
        ({"ring_width": 2, "n_rings_out": 1.5}, "n_rings_out"),
        ({"ring_width": 2, "genes": "nope"}, "nope"),
        ({"ring_width": 2, "genes": []}, "selects nothing"),
    ],
)
def test_bad_ring_arguments(kwargs, message):
    xy = np.random.default_rng(0).uniform(-10, 10, (100, 2))
    with pytest.raises(DensityArgumentError, match=message) as info:
        ring_density(points=xy, contours=[shapely.box(-1, -1, 1, 1)], **kwargs)
    assert isinstance(info.value, InvalidArgumentError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bandwidth": 0, "grid": 11, "distance_in": 5, "distance_out": 5}, "bandwidth"),
        ({"bandwidth": -1, "grid": 11, "distance_in": 5, "distance_out": 5}, "bandwidth"),
        ({"bandwidth": 1, "grid": 11}, "distance_in"),
        ({"bandwidth": 1, "grid": 1, "distance_in": 5, "distance_out": 5}, "grid"),
        ({"bandwidth": 1, "grid": 11, "distance_in": -5, "distance_out": 5}, "distance_in"),
        ({"bandwidth": 1, "grid": [np.nan]}, "finite"),
        ({"bandwidth": 1, "grid": 11, "distance_in": 5, "distance_out": 5, "step": 0.5}, "step"),
        ({"bandwidth": 1, "grid": 11, "distance_in": 5, "distance_out": 5, "min_expected_count": -1}, "min_expected"),
    ],
)
def test_bad_smoothing_arguments(kwargs, message):
    xy = np.random.default_rng(0).uniform(-10, 10, (100, 2))
    with pytest.raises(DensityArgumentError, match=message):
        smooth_density_by_distance(points=xy, contours=[shapely.box(-1, -1, 1, 1)], **kwargs)


def test_points_and_shapes_are_exclusive():
    with pytest.raises(DensityArgumentError, match="exactly one"):
        ring_density(contours=[shapely.box(0, 0, 1, 1)], ring_width=1)


def test_invalid_contour_repaired_or_refused(poisson):
    xy = poisson(0.5, (-20, -20, 20, 20))
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    with pytest.warns(UserWarning, match="make_valid"):
        ring_density(points=xy, contours=[bowtie], ring_width=1)
    with pytest.raises(InvalidContourError, match="not a valid polygon"):
        ring_density(points=xy, contours=[bowtie], ring_width=1, repair=False)
    with pytest.raises(InvalidContourError, match="empty"):
        ring_density(points=xy, contours=gpd.GeoDataFrame(geometry=[]), ring_width=1)


def test_errors_belong_to_the_hierarchy():
    for cls in (CoordinateSystemError, DomainError, InvalidContourError, DensityArgumentError):
        assert issubclass(cls, SpatialDataPluginError)
        assert issubclass(cls, ValueError)
    assert issubclass(ElementNotFoundError, KeyError)


@pytest.mark.parametrize("categorical", [True, False])
def test_grouped_counts_equal_a_shapely_brute_force(rng, categorical):
    """Counts per contour, gene and ring over many partitions (summed in a tree) against shapely point by point;
    genes outside the list and missing genes count only in "all"."""
    n = 20_000
    genes = rng.choice(["A", "B", "C", None], n, p=[0.4, 0.3, 0.2, 0.1])
    pts = pd.DataFrame({"x": rng.uniform(-100, 100, n), "y": rng.uniform(-100, 100, n), "gene": genes})
    if categorical:
        pts["gene"] = pd.Categorical(pts["gene"])
    contours = [shapely.Point(-30, 0).buffer(35), shapely.box(0, -40, 60, 30).difference(shapely.box(20, -10, 40, 10))]
    df = ring_density(
        points=dd.from_pandas(pts, npartitions=23), contours=contours, ring_width=6, n_rings_in=3, n_rings_out=4,
        genes=["A", "C"], progress=True,
    )  # fmt: skip
    edges = np.arange(-3, 5) * 6.0
    for k, polygon in enumerate(contours):
        d = shapely.distance(shapely.points(pts["x"], pts["y"]), polygon.boundary)
        signed = np.where(shapely.contains_xy(polygon, pts["x"], pts["y"]), -d, d)
        band = np.searchsorted(edges, signed, side="right") - 1  # half-open rings
        for group, sel in (("all", np.ones(n, bool)), ("A", genes == "A"), ("C", genes == "C")):
            expected = np.bincount(band[sel & (band >= 0) & (band < 7)], minlength=7)
            got = df[(df["contour"] == str(k)) & (df["group"] == group)].sort_values("ring")["count"].to_numpy()
            np.testing.assert_array_equal(got, expected, err_msg=f"contour {k}, group {group}")
