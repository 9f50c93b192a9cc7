"""Transformation graphs of scenes and multiscales images on disk: paths, inversion, parameters and fields by path."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr

from spatialdata_plugins.transforms import (
    Affine,
    CoordinateSystemNotFoundError,
    NotInvertibleError,
    NoTransformationPathError,
    Sequence,
    TransformGraph,
    read_scene,
    simplify,
)


def close(a, b, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=0, atol=atol)


@pytest.fixture
def stitching(tmp_path, load_example, make_image, space):
    """The spec's stitching scene, with four 2D tiles (pixel size 2 x 3)."""
    root = zarr.open_group(tmp_path / "stitch.zarr", mode="w", zarr_format=3)
    root.attrs.update(load_example("scene/scene_stitching.json")["attributes"])
    for k in range(4):
        make_image(root, f"tile_{k}", space("physical", "xy"), {"type": "scale", "scale": [2, 3]})
    return root


def test_stitching_scene(stitching):
    g = read_scene(stitching)
    names = {str(k) for k in g.coordinate_systems}
    assert {"world", "tile_0#physical", "tile_3#physical", "tile_3/s0"} <= names
    # tile_3 sits at (276, 348) in world
    close(g.transform(np.array([[1.0, 2.0]]), "tile_3#physical", "world"), [[277, 350]])
    close(g.transform(np.array([[277.0, 350.0]]), "world", "tile_3#physical"), [[1, 2]])
    # array index (1, 1) of tile_1 -> physical (2, 3) -> world (2, 351)
    close(g.transform(np.array([[1.0, 1.0]]), "tile_1/s0", "world"), [[2, 351]])
    # tile_1 -> tile_2 goes through world: + (0, 348) - (276, 0)
    close(g.transform(np.array([[0.0, 0.0]]), "tile_1#physical", "tile_2#physical"), [[-276, 348]])
    with pytest.raises(CoordinateSystemNotFoundError, match="ambiguous"):
        g.resolve("physical")
    assert g.resolve({"name": "physical", "path": "tile_2"}).path == "tile_2"
    assert g.resolve('{"name": "world"}').name == "world"
    with pytest.raises(CoordinateSystemNotFoundError, match="unknown coordinate system 'nowhere'"):
        g.find("world", "nowhere")


def test_points_as_dask_through_the_graph(stitching):
    g = read_scene(stitching)
    pts = np.random.default_rng(1).uniform(0, 100, size=(500, 2))
    lazy = g.transform(da.from_array(pts, chunks=(100, 2)), "tile_3#physical", "world")
    assert isinstance(lazy, da.Array)
    close(lazy.compute(), pts + np.array([276, 348]))


def _affine_scene(root, make_image, space):
    for name in ("instrument1", "instrument2", "instrument3"):
        make_image(root, name, space("physical", "zyx"), {"type": "scale", "scale": [1, 1, 1]}, shape=(2, 3, 4))
    a12 = [[0, -1, 0, 10], [1, 0, 0, 0], [0, 0, 2, 0]]
    root.create_array("coordinateTransformations/i3-to-i2", shape=(3, 4), dtype="float64")[...] = np.array(
        [[1, 0, 0, 1], [0, 1, 0, 2], [0, 0, 1, 3]], dtype=float
    )
    root.attrs["ome"] = {
        "version": "0.6rc0",
        "scene": {
            "coordinateTransformations": [
                {
                    "type": "affine",
                    "input": {"path": "instrument1", "name": "physical"},
                    "output": {"path": "instrument2", "name": "physical"},
                    "affine": a12,
                },
                {
                    "type": "affine",
                    "path": "coordinateTransformations/i3-to-i2",
                    "input": {"path": "instrument3", "name": "physical"},
                    "output": {"path": "instrument2", "name": "physical"},
                },
            ]
        },
    }


def test_multi_hop_with_inverted_edge_and_parameters_by_path(tmp_path, make_image, space):
    root = zarr.open_group(tmp_path / "multi.zarr", mode="w", zarr_format=3)
    _affine_scene(root, make_image, space)
    g = read_scene(tmp_path / "multi.zarr")
    # instrument3 (1, 1, 1) -> instrument2 (+1, +2, +3) = (2, 3, 4)
    close(g.transform(np.array([[1.0, 1, 1]]), "instrument3#physical", "instrument2#physical"), [[2, 3, 4]])
    # -> instrument1 by inverting a12: z' = -y + 10, y' = z, x' = 2x  => (2, 3, 4) comes from (3, 8, 2)
    close(g.transform(np.array([[1.0, 1, 1]]), "instrument3#physical", "instrument1#physical"), [[3, 8, 2]])
    t = g.find("instrument3#physical", "instrument1#physical")
    assert isinstance(t, Sequence) and len(t.transformations) == 2
    assert isinstance(simplify(t), Affine)
    assert t.input.path == "instrument3" and t.output.path == "instrument1"


def test_non_invertible_edge_and_explicit_reverse_edge(tmp_path, make_image, space):
    root = zarr.open_group(tmp_path / "n.zarr", mode="w", zarr_format=3)
    make_image(root, "a", space("physical"), {"type": "identity"})
    make_image(root, "b", space("physical"), {"type": "identity"})
    f = root.create_array("coordinateTransformations/ab", shape=(4, 4, 2), dtype="float64")
    grid = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0), indexing="ij"), axis=-1)
    f[...] = grid * 2
    scene = {
        "coordinateSystems": [],
        "coordinateTransformations": [
            {
                "type": "coordinates",
                "path": "coordinateTransformations/ab",
                "input": {"path": "a", "name": "physical"},
                "output": {"path": "b", "name": "physical"},
            }
        ],
    }
    root.attrs["ome"] = {"version": "0.6rc0", "scene": scene}
    g = read_scene(root)
    close(g.transform(np.array([[1.0, 2.0], [0.5, 0.5]]), "a#physical", "b#physical"), [[2, 4], [1, 1]])
    with pytest.raises(NotInvertibleError, match=r"coordinates transformation .* would have to be inverted"):
        g.find("b#physical", "a#physical")
    # an explicit edge the other way makes it computable
    g2 = root.create_array("coordinateTransformations/ba", shape=(8, 8, 2), dtype="float64")
    g2[...] = np.stack(np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij"), axis=-1) / 2
    scene["coordinateTransformations"].append(
        {
            "type": "coordinates",
            "path": "coordinateTransformations/ba",
            "input": {"path": "b", "name": "physical"},
            "output": {"path": "a", "name": "physical"},
        }
    )
    root.attrs["ome"] = {"version": "0.6rc0", "scene": scene}
    close(read_scene(root).transform(np.array([[2.0, 4.0]]), "b#physical", "a#physical"), [[1, 2]])


def test_disconnected_systems(tmp_path, make_image, space):
    root = zarr.open_group(tmp_path / "d.zarr", mode="w", zarr_format=3)
    make_image(root, "a", space("physical"), {"type": "identity"})
    root.attrs["ome"] = {
        "version": "0.6rc0",
        "scene": {
            "coordinateSystems": [space("world"), space("other")],
            "coordinateTransformations": [
                {"type": "identity", "input": {"path": "a", "name": "physical"}, "output": {"name": "world"}}
            ],
        },
    }
    with pytest.raises(NoTransformationPathError, match="not connected"):
        read_scene(root).find("world", "other")


def _displacement_field(group, values, scale=(2.0, 2.0), vector_axis_first=True):
    """A 0.6rc0 displacement field multiscales group (the spec's example metadata)."""
    data = np.moveaxis(values, -1, 0) if vector_axis_first else values
    group.create_array("s0", shape=data.shape, dtype="float64")[...] = data
    axes = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    vector = {"name": "c", "type": "displacement", "discrete": True}
    axes = [vector, *axes] if vector_axis_first else [*axes, vector]
    group.attrs["ome"] = {
        "version": "0.6rc0",
        "multiscales": [
            {
                "coordinateSystems": [{"name": "physical", "axes": axes}],
                "datasets": [
                    {
                        "path": "s0",
                        "coordinateTransformations": [
                            {
                                "type": "scale",
                                "scale": list(scale),
                                "input": {"path": "s0"},
                                "output": {"name": "physical"},
                            }
                        ],
                    }
                ],
            }
        ],
    }


def test_displacement_example_table(tmp_path, load_example):
    """The spec's table: field[:, 0, 0] = (1, 2), field[:, 1, 0] = (0.5, 1.2), pixel spacing 2."""
    root = zarr.open_group(tmp_path / "img.zarr", mode="w", zarr_format=3)
    root.create_array("s0", shape=(8, 8), dtype="uint8")
    root.attrs.update(load_example("transformations/displacements/multiscales.json"))
    root.attrs["ome"] = {"version": "0.6rc0", "multiscales": root.attrs["multiscales"]}
    values = np.zeros((4, 4, 2))
    values[0, 0] = [1.0, 2.0]
    values[1, 0] = [0.5, 1.2]
    _displacement_field(root.create_group("coordinateTransformations/displacementField"), values)
    g = TransformGraph.from_multiscales(root)
    out = g.transform(np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0]]), "physical", "output")
    # output = input + interpolated displacement
    close(out, [[0 + 1.0, 0 + 2.0], [2 + 0.5, 0 + 1.2], [1 + 0.75, 0 + 1.6]])
    with pytest.raises(NotInvertibleError):
        g.find("output", "physical")


def test_field_interpolation_methods(tmp_path):
    root = zarr.open_group(tmp_path / "f.zarr", mode="w", zarr_format=3)
    values = np.zeros((3, 3, 2))
    values[1, 1] = [4.0, 8.0]
    _displacement_field(root.create_group("field"), values, scale=(1.0, 1.0), vector_axis_first=False)
    from spatialdata_plugins.transforms import parse_transformation

    pts = np.array([[1.0, 1.0], [0.6, 1.0], [0.4, 1.0]])
    nearest = parse_transformation({"type": "displacements", "path": "field", "interpolation": "nearest"}, group=root)
    close(nearest.apply(pts), pts + np.array([[4, 8], [4, 8], [0, 0]]))
    linear = parse_transformation({"type": "displacements", "path": "field"}, group=root)
    close(linear.apply(pts), pts + np.array([[4, 8], [2.4, 4.8], [1.6, 3.2]]))
    cubic = parse_transformation(
        {"type": "displacements", "path": "field", "interpolation": "bspline-cubic"}, group=root
    )
    out = cubic.apply(pts)
    close(out[0], [5, 9], atol=1e-9)  # cubic B-splines interpolate the grid values exactly
    assert 0 < out[1, 0] - 0.6 < 4


def test_scene_registration_example_with_bijection(tmp_path, load_example, make_image, space):
    """The spec's registration scene: a bijection of sequences of displacement fields and affines."""
    root = zarr.open_group(tmp_path / "reg.zarr", mode="w", zarr_format=3)
    doc = load_example("scene/scene_registration.json")
    root.attrs.update(doc["attributes"])
    for name in ("JRC2018F", "FCWB"):
        make_image(root, name, space("physical", "zyx"), {"type": "scale", "scale": [1, 1, 1]}, shape=(2, 2, 2))
    for name, d in (("dfield", [1.0, 2.0, 3.0]), ("invdfield", [-1.0, -2.0, -3.0])):
        g = root.create_group(f"coordinateTransformations/{name}")
        data = np.broadcast_to(np.array(d)[:, None, None, None], (3, 4, 4, 4)).copy()
        g.create_array("s0", shape=data.shape, dtype="float64")[...] = data
        axes = [{"name": "c", "type": "displacement", "discrete": True}] + [{"name": a, "type": "space"} for a in "zyx"]
        g.attrs["ome"] = {
            "version": "0.6rc0",
            "multiscales": [
                {
                    "coordinateSystems": [{"name": "physical", "axes": axes}],
                    "datasets": [
                        {
                            "path": "s0",
                            "coordinateTransformations": [
                                {
                                    "type": "scale",
                                    "scale": [1, 100, 100, 100],
                                    "input": {"path": "s0"},
                                    "output": {"name": "physical"},
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    graph = read_scene(root)
    forward = doc["attributes"]["ome"]["scene"]["coordinateTransformations"][0]["forward"]["transformations"][1][
        "affine"
    ]
    a = np.array(forward)
    p = np.array([[10.0, 20.0, 30.0]])
    expected = (p + np.array([1, 2, 3])) @ a[:, :3].T + a[:, 3]
    close(graph.transform(p, "JRC2018F#physical", "FCWB#physical"), expected)
    # the bijection's inverse is used for the way back
    close(graph.transform(expected, "FCWB#physical", "JRC2018F#physical"), p, atol=1e-6)


def test_multiscales_subspace_example(tmp_path, load_example):
    root = zarr.open_group(tmp_path / "sub.zarr", mode="w", zarr_format=3)
    root.attrs.update(load_example("subspace/subspacePermute.json")["attributes"])
    root.create_array("array", shape=(3, 5), dtype="uint8")
    g = read_scene(root)  # a multiscales root without a scene
    # array (1, 4) -> array_coordinates (1, 4) (scale 1) -> physical (y, x) = (4, 1) (mapAxis [1, 0])
    close(g.transform(np.array([[1.0, 4.0]]), "array", "physical"), [[4, 1]])
    close(g.transform(np.array([[4.0, 1.0]]), "physical", "array"), [[1, 4]])


def test_labels_child_coordinate_system(tmp_path, make_image, space):
    root = zarr.open_group(tmp_path / "lab.zarr", mode="w", zarr_format=3)
    img = make_image(root, "img", space("intrinsic"), {"type": "scale", "scale": [0.5, 0.5]}, shape=(8, 8))
    make_image(img, "labels/cells", space("intrinsic"), {"type": "scale", "scale": [1.0, 1.0]}, shape=(4, 4))
    ms = img.attrs["ome"]
    ms["multiscales"][0]["coordinateTransformations"] = [
        {"type": "identity", "input": {"name": "intrinsic"}, "output": {"name": "intrinsic", "path": "labels/cells"}}
    ]
    img.attrs["ome"] = ms
    g = TransformGraph.from_multiscales(img)
    # labels array (2, 2) -> labels intrinsic (2, 2) = image intrinsic (2, 2) -> image array (4, 4)
    close(g.transform(np.array([[2.0, 2.0]]), "labels/cells/s0", "s0"), [[4, 4]])


def test_absolute_path_and_xarray_like_coordinates(tmp_path, load_example):
    root = zarr.open_group(tmp_path / "x.zarr", mode="w", zarr_format=3)
    root.create_array("xCoordinates", shape=(3,), dtype="float64")[...] = [10.0, 20.0, 40.0]
    root.create_array("yCoordinates", shape=(2,), dtype="float64")[...] = [-1.0, 1.0]
    sub = root.create_group("nested")
    from spatialdata_plugins.transforms import parse_transformation

    item = load_example("transformations/xarrayLike.json")["coordinateTransformations"][0]
    t = parse_transformation(item, group=sub)  # "/xCoordinates" is read from the root of the hierarchy
    close(t.apply([[1.0, 0.0], [1.5, 0.5]]), [[20, -1], [30, 0]])
    assert t.to_dict() == item
    with pytest.raises(NotInvertibleError):
        t.inverse()


def test_parameters_written_as_arrays_read_back(tmp_path):
    from spatialdata_plugins.transforms import Axis, CoordinateSystem, CoordinateSystemRef, Rotation, write_scene

    rot = Rotation(
        np.array([[0.0, -1], [1, 0]]), name="r", input=CoordinateSystemRef("a"), output=CoordinateSystemRef("b")
    )
    systems = [CoordinateSystem(n, (Axis("y", "space"), Axis("x", "space"))) for n in "ab"]
    write_scene(tmp_path / "p.zarr", [rot], systems, inline=False)
    g = read_scene(tmp_path / "p.zarr")
    assert g.edges[0].transformation.path == "coordinateTransformations/r_0"
    close(g.transform(np.array([[1.0, 2.0]]), "a", "b"), [[-2, 1]])
    assert g.to_dict(inline=False)["coordinateTransformations"][0]["path"] == "coordinateTransformations/r_0"


def test_bijection_example_with_coordinate_fields(tmp_path, load_example):
    """The spec's bijection.json: forward and inverse ``coordinates`` fields (plain arrays, vector axis last)."""
    from spatialdata_plugins.transforms import Axis, CoordinateSystem

    doc = load_example("transformations/bijection.json")
    root = zarr.open_group(tmp_path / "b.zarr", mode="w", zarr_format=3)
    src = np.stack(np.meshgrid(np.arange(5.0), np.arange(5.0), indexing="ij"), axis=-1)
    root.create_array("forward_coordinates", shape=src.shape, dtype="float64")[...] = src * [2.0, 3.0] + [1.0, 0.0]
    tgt = np.stack(np.meshgrid(np.arange(12.0), np.arange(15.0), indexing="ij"), axis=-1)
    root.create_array("inverse_coordinates", shape=tgt.shape, dtype="float64")[...] = (tgt - [1.0, 0.0]) / [2.0, 3.0]
    g = TransformGraph()
    for cs in doc["coordinateSystems"]:
        g.add_coordinate_system(CoordinateSystem.from_dict(cs))
    from spatialdata_plugins.transforms import parse_transformation

    g.add_transformation(parse_transformation(doc["coordinateTransformations"][0], group=root))
    # forward: (j, i) = (1, 2) -> (2*1 + 1, 3*2) = (3, 6); between grid points linearly: (1.5, 2) -> (4, 6)
    close(g.transform(np.array([[1.0, 2.0], [1.5, 2.0]]), "src", "tgt"), [[3, 6], [4, 6]])
    close(g.transform(np.array([[3.0, 6.0], [4.0, 6.0]]), "tgt", "src"), [[1, 2], [1.5, 2]])
    assert g.systems[g.resolve("src")] == CoordinateSystem("src", (Axis("j", "space"), Axis("i", "space")))


def test_draft_field_array_with_its_own_metadata(tmp_path):
    """An RFC-5 draft field array that carries a coordinate system and transformation is located by them.

    The vector axis is found by its type and the grid spacing comes from the array's own scale; before the fix the
    metadata was ignored and the points were looked up at the wrong grid positions.
    """
    from spatialdata_plugins.transforms import parse_transformation

    root = zarr.open_group(tmp_path / "f.zarr", mode="w", zarr_format=3)
    values = np.zeros((2, 3, 4))  # vector axis first here
    values[0] = np.arange(3)[:, None]  # dy = row index
    values[1] = 10 * np.arange(4)[None, :]  # dx = 10 * column index
    array = root.create_array("dfield", data=values)
    axes = [{"name": "d", "type": "displacement"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    array.attrs["coordinateSystems"] = [{"name": "dfield", "axes": axes}]
    array.attrs["coordinateTransformations"] = [
        {"type": "scale", "scale": [1, 2, 2], "input": "dfield_array", "output": "dfield"}
    ]
    t = parse_transformation({"type": "displacements", "path": "dfield"}, group=root)
    # (y, x) = (2, 4) is grid index (1, 2): displacement (1, 20)
    np.testing.assert_allclose(t.apply(np.array([[2.0, 4.0], [1.0, 1.0]])), [[3.0, 24.0], [1.5, 6.0]])
