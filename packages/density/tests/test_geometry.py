"""Geometry: exact distances against shapely, band areas, contour clean-up, masks to polygons."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatialdata_plugins.density import InvalidContourError
from spatialdata_plugins.density._geometry import BoundaryIndex, mask_to_polygon, normalise_contours, region_areas


def _reference(polygons, x, y, rmax):
    out = {}
    pts = shapely.points(x, y)
    for k, polygon in enumerate(polygons):
        d = shapely.distance(pts, polygon.boundary)
        sd = np.where(shapely.contains_xy(polygon, x, y), -d, d)
        for i in np.nonzero(np.abs(sd) <= rmax)[0]:
            out[(int(i), k)] = sd[i]
    return out


def _ours(polygons, x, y, rmax):
    point, contour, sd = BoundaryIndex.build(polygons, rmax).signed_distances(x, y)
    return {(int(i), int(k)): d for i, k, d in zip(point, contour, sd, strict=True)}


def test_signed_distances_match_shapely(rng):
    t = np.linspace(0, 6.2, 30)
    radius = 40 + 25 * (np.arange(30) % 2)
    star = shapely.Polygon(np.c_[np.cos(t) * radius, np.sin(t) * radius])
    holed = shapely.box(100, -50, 220, 70).difference(shapely.box(140, -10, 180, 30))
    multi = shapely.MultiPolygon([shapely.box(-200, -200, -150, -150), shapely.box(-140, -200, -90, -150)])
    polygons = [star, holed, multi]
    x, y = rng.uniform(-260, 280, 20_000), rng.uniform(-260, 140, 20_000)
    ref, ours = _reference(polygons, x, y, 35.0), _ours(polygons, x, y, 35.0)
    assert set(ours) == set(ref)
    assert max(abs(ours[key] - ref[key]) for key in ref) < 1e-9


coords = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vertices=st.lists(st.tuples(coords, coords), min_size=3, max_size=12),
    points=st.lists(st.tuples(st.floats(-80, 80), st.floats(-80, 80)), min_size=1, max_size=30),
    rmax=st.floats(0.5, 60),
)
def test_signed_distances_property(vertices, points, rmax):
    polygon = shapely.convex_hull(shapely.MultiPoint(vertices))
    if polygon.geom_type != "Polygon" or polygon.area < 1e-3:
        return
    pts = np.asarray(points, dtype=float)
    ref = _reference([polygon], pts[:, 0], pts[:, 1], rmax)
    ours = _ours([polygon], pts[:, 0], pts[:, 1], rmax)
    # points within rounding of the search radius may fall on either side of it
    borderline = {k for k, v in ref.items() if abs(abs(v) - rmax) < 1e-9}
    assert set(ours) - borderline == set(ref) - borderline
    for key in set(ref) & set(ours):
        assert ours[key] == pytest.approx(ref[key], abs=1e-9)


def test_band_areas_of_a_disc_are_annuli():
    r = 50.0
    disc = shapely.Point(0, 0).buffer(r, quad_segs=256)
    levels = np.array([-30.0, -10.0, 0.0, 10.0, 40.0])
    areas = region_areas([disc], levels, quad_segs=256)[0]
    exact = np.pi * (r + levels) ** 2
    np.testing.assert_allclose(areas, exact, rtol=2e-4)


def test_band_areas_clip_to_the_domain():
    square = shapely.box(-10, -10, 10, 10)
    half = shapely.box(0, -1000, 1000, 1000)
    levels = np.array([-5.0, 0.0, 5.0])
    full = region_areas([square], levels)[0]
    clipped = region_areas([square], levels, half)[0]
    np.testing.assert_allclose(clipped, full / 2, rtol=1e-12)
    # a square's inward buffer is a square: exact
    assert full[0] == pytest.approx(100.0)


def test_mask_to_polygon_is_exact_with_holes():
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[2:18, 3:25] = 1
    mask[6:10, 8:12] = 0  # a hole
    mask[15:17, 27:29] = 3  # a separate island
    geom = mask_to_polygon(mask)
    assert geom.is_valid
    assert geom.area == pytest.approx(np.count_nonzero(mask))
    assert not geom.contains(shapely.Point(9.5, 7.5))
    assert geom.contains(shapely.Point(4.5, 2.5))
    assert mask_to_polygon(np.zeros((3, 3))).is_empty


def test_closed_lines_and_circles_become_polygons():
    ring = shapely.LineString([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)])
    out = normalise_contours([ring, shapely.Point(5, 5)], ["line", "circle"], radii=[np.nan, 2.0])
    assert out[0].area == pytest.approx(100.0)
    assert out[1].area == pytest.approx(np.pi * 4, rel=1e-3)


@pytest.mark.parametrize(
    ("geom", "message"),
    [
        (shapely.LineString([(0, 0), (1, 0), (1, 1)]), "open line"),
        (shapely.Polygon(), "empty"),
        (None, "empty"),
        (shapely.Point(1, 1), "radius"),
        (shapely.MultiPoint([(0, 0), (1, 1)]), "MultiPoint"),
    ],
)
def test_unusable_contours_are_named(geom, message):
    with pytest.raises(InvalidContourError, match=message) as info:
        normalise_contours([shapely.box(0, 0, 1, 1), geom], ["ok", "bad_one"])
    assert "bad_one" in str(info.value)


def test_invalid_polygons_are_repaired_with_a_warning_or_refused():
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    with pytest.warns(UserWarning, match="make_valid"):
        (fixed,) = normalise_contours([bowtie], ["bowtie"])
    assert fixed.is_valid
    assert fixed.area == pytest.approx(50.0)
    with pytest.raises(InvalidContourError, match="bowtie.*Self-intersection"):
        normalise_contours([bowtie], ["bowtie"], repair=False)


def test_no_contours():
    with pytest.raises(InvalidContourError, match="empty"):
        normalise_contours([], [])


def test_polygons_are_prepared_once_across_threads():
    """Threads that query fresh polygons at the same time get the single-threaded answers (the lazy GEOS point
    index is built once, under a lock, by ``ready``), and every polygon ends up prepared."""
    from concurrent.futures import ThreadPoolExecutor

    import shapely

    from spatialdata_plugins.density._geometry import ready

    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    x, y = rng.uniform(-60, 60, (2, 20_000))
    for _ in range(5):
        polygons = [
            shapely.Polygon(np.c_[c + r * np.cos(angles), c + r * np.sin(angles)])
            for c, r in zip(rng.uniform(-10, 10, 8), rng.uniform(20, 50, 8), strict=True)
        ]
        expected = [shapely.contains_xy(shapely.Polygon(p.exterior), x, y) for p in polygons]
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda k, ps=polygons: shapely.contains_xy(ready(ps[k % 8]), x, y), range(64)))
        for k, inside in enumerate(got):
            np.testing.assert_array_equal(inside, expected[k % 8])
        assert all(shapely.is_prepared(p) for p in polygons)


def _star(cx, cy, radii, phase=0.0):
    t = phase + np.linspace(0, 2 * np.pi, len(radii), endpoint=False)
    return np.c_[cx + np.cos(t) * radii, cy + np.sin(t) * radii]


def _tricky_points(polygons, rng, n_random):
    """Random points plus points on the boundaries: every vertex, edge midpoints, and points on the lines of edges."""
    coords = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(np.asarray(polygons, dtype=object))))
    mids = (coords[:-1] + coords[1:]) / 2
    beyond = coords[1:] + (coords[1:] - coords[:-1]) * 0.5  # on the line of an edge, past its end
    box = np.r_[coords.min(axis=0) - 30, coords.max(axis=0) + 30]
    rand = np.c_[rng.uniform(box[0], box[2], n_random), rng.uniform(box[1], box[3], n_random)]
    pts = np.r_[coords, mids, beyond, rand]
    return pts[:, 0].copy(), pts[:, 1].copy()


def _assert_like_shapely(polygons, x, y, rmax):
    ref, ours = _reference(polygons, x, y, rmax), _ours(polygons, x, y, rmax)
    borderline = {k for k, v in ref.items() if abs(abs(v) - rmax) < 1e-9}
    assert set(ours) - borderline == set(ref) - borderline
    for key in set(ref) & set(ours):
        # the same distance, and exactly shapely's side (a point on the boundary is outside, distance 0)
        assert ours[key] == pytest.approx(ref[key], abs=1e-9)
        assert np.signbit(ours[key]) == np.signbit(ref[key]) or ref[key] == 0


def test_sides_match_shapely_on_boundaries_holes_and_touching_rings(rng):
    """The kernel decides a point's side from its cell centre and the crossings of the path to it; points on the
    boundary, on the lines of edges and at vertices where rings touch are the cases rounding could decide, which
    must come out as GEOS says."""
    star = shapely.Polygon(_star(0, 0, 40 + 25 * (np.arange(30) % 2)))
    holed = shapely.Polygon(_star(150, 0, np.full(40, 60.0)), [_star(150, 0, np.full(12, 25.0))[::-1]])
    # a hole touching the shell at one vertex (valid for GEOS), and two squares sharing a corner
    touching = shapely.Polygon(
        [(-200, 100), (-100, 100), (-100, 200), (-200, 200)], [[(-150, 100), (-170, 150), (-130, 150)]]
    )
    corners = shapely.MultiPolygon([shapely.box(100, 100, 150, 150), shapely.box(150, 150, 200, 200)])
    polygons = [star, holed, touching, corners]
    assert all(p.is_valid for p in polygons)
    x, y = _tricky_points(polygons, rng, 30_000)
    for rmax in (5.0, 35.0):
        _assert_like_shapely(polygons, x, y, rmax)


def test_undecided_sides_are_left_to_geos():
    """A point on a boundary is undecided for the kernel (the orientation is zero), and gets GEOS's answer."""
    square = shapely.box(0, 0, 100, 100)
    index = BoundaryIndex.build([square], 10.0)
    x = np.array([50.0, 50.0, 50.0, 100.0, 0.0])
    y = np.array([0.0, 3.0, -3.0, 100.0, 50.0])
    _, _, distance, side, _ = index.kernel_pairs(x, y)
    on_boundary = distance == 0
    assert on_boundary.sum() == 3 and np.all(side[on_boundary] == -1)
    point, _, signed = index.signed_distances(x, y)
    got = dict(zip(point.tolist(), signed.tolist(), strict=True))
    assert got == {0: 0.0, 1: -3.0, 2: 3.0, 3: 0.0, 4: 0.0}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    radii=st.lists(st.floats(5, 60), min_size=3, max_size=40),
    hole=st.floats(0.0, 0.9),
    phase=st.floats(0, 6.3),
    rmax=st.floats(0.5, 80),
    seed=st.integers(0, 2**32 - 1),
)
def test_sides_and_distances_property(radii, hole, phase, rmax, seed):
    """Star-shaped polygons (not convex), with a hole or not, and points on their edges and vertices."""
    shell = _star(0, 0, np.asarray(radii), phase)
    polygon = shapely.Polygon(shell)
    if hole > 0.1:
        inner = shapely.Point(0, 0).buffer(hole * min(radii) * np.cos(np.pi / len(radii)), quad_segs=4)
        polygon = polygon.difference(inner)
    if not polygon.is_valid or polygon.area < 1e-3 or polygon.geom_type != "Polygon":
        return
    x, y = _tricky_points([polygon], np.random.default_rng(seed), 300)
    _assert_like_shapely([polygon], x, y, rmax)


def test_kernel_sums_equal_the_dense_product(rng):
    from spatialdata_plugins.density import _kernels

    values = rng.poisson(5.0, size=(7, 60)).astype(np.float64)
    weights = rng.uniform(size=(13, 60))
    for g in range(13):  # zero outside a contiguous run, as a cut kernel is
        weights[g, : g * 3] = 0.0
        weights[g, g * 3 + 20 :] = 0.0
    np.testing.assert_allclose(_kernels.kernel_sums(values, weights), values @ weights.T, rtol=1e-12)
