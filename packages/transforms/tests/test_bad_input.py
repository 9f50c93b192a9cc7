"""Malformed or contradictory metadata raises a clear error naming the transformation and the field."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from spatialdata_plugins.core import SpatialDataPluginError
from spatialdata_plugins.transforms import (
    CoordinateSystemNotFoundError,
    ParameterArrayError,
    TransformationError,
    TransformGraph,
    UnknownTransformationTypeError,
    parse_transformation,
)


def test_errors_belong_to_the_core_hierarchy():
    assert issubclass(TransformationError, SpatialDataPluginError)
    assert issubclass(TransformationError, ValueError)
    assert issubclass(CoordinateSystemNotFoundError, KeyError)


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ({"type": "warp", "input": "a", "output": "b"}, r"unknown transformation type 'warp'"),
        ({"scale": [1]}, r"unknown transformation type None"),
        (
            {"type": "affine", "affine": [[1, 2, 3], [4, 5]], "name": "A"},
            r"affine transformation 'A'.*'affine'.*rectangular",
        ),
        ({"type": "affine", "affine": [1, 2, 3]}, r"'affine' must be a 2D array"),
        ({"type": "affine", "affine": [[1]]}, r"'affine' must have N\+1 >= 2 columns"),
        ({"type": "affine", "affine": [[1, "a", 0]]}, r"'affine' must be a 2D array of numbers"),
        ({"type": "affine"}, r"missing field 'affine'"),
        ({"type": "affine", "affine": [[1, 0]], "path": "p"}, r"either 'affine' or 'path'"),
        ({"type": "scale", "scale": []}, r"'scale' must be a non-empty 1D array"),
        ({"type": "scale", "scale": [1, float("nan")]}, r"non-finite"),
        # JSON true/"2"/null are not numbers (numpy would silently turn them into 1.0/2.0/nan)
        ({"type": "scale", "scale": [True, 2]}, r"'scale' must be an array of numbers, got True"),
        ({"type": "translation", "translation": [1, "2"]}, r"'translation' must be an array of numbers, got '2'"),
        ({"type": "affine", "affine": [[1, 0, None], [0, 1, 0]]}, r"'affine' must be a 2D array of numbers, got None"),
        ({"type": "rotation", "rotation": [[True, False], [False, True]]}, r"'rotation' must be a 2D array of numbers"),
        ({"type": "translation", "translation": [[1, 2]]}, r"'translation' must be a non-empty 1D array"),
        ({"type": "mapAxis", "mapAxis": [0, 0], "name": "M"}, r"mapAxis transformation 'M'.*'mapAxis' must not repeat"),
        ({"type": "mapAxis", "mapAxis": [0, 2]}, r"'mapAxis' must be a permutation"),
        ({"type": "mapAxis", "mapAxis": [1.5, 0]}, r"'mapAxis' must hold integers"),
        ({"type": "mapAxis", "mapAxis": {"x": "y"}}, r"older draft form"),
        ({"type": "mapAxis"}, r"missing field 'mapAxis'"),
        (
            {"type": "rotation", "rotation": [[1, 0.1], [0, 1]], "name": "R"},
            r"rotation transformation 'R'.*not orthonormal",
        ),
        ({"type": "rotation", "rotation": [[1, 0], [0, -1]]}, r"determinant 1.*reflection"),
        ({"type": "rotation", "rotation": [[1, 0, 0], [0, 1, 0]]}, r"'rotation' must be a square"),
        ({"type": "projectAxis"}, r"needs 'droppedInputs' or 'createdOutputs'"),
        ({"type": "projectAxis", "droppedInputs": [1, 1]}, r"'droppedInputs' must not repeat"),
        ({"type": "sequence", "transformations": []}, r"'transformations' must be a non-empty array"),
        (
            {
                "type": "sequence",
                "transformations": [
                    {"type": "scale", "scale": [1, 2]},
                    {"type": "translation", "translation": [1, 2, 3]},
                ],
            },
            r"parameters are for 3D input",
        ),
        ({"type": "bijection", "forward": {"type": "identity"}}, r"missing field 'inverse'"),
        ({"type": "coordinates"}, r"'path' must be a non-empty string"),
        ({"type": "displacements", "path": "f", "interpolation": "sinc"}, r"'interpolation' must be one of"),
        ({"type": "scale", "scale": [1], "input": 3}, r"field 'input'"),
        ({"type": "scale", "scale": [1], "input": {"name": "a", "axes": []}}, r"unknown fields \['axes'\]"),
        (
            {
                "type": "byDimension",
                "transformations": [
                    {"transformation": {"type": "scale", "scale": [1, 2]}, "inputAxes": [0], "outputAxes": [0]}
                ],
            },
            r"takes 2D input but 'inputAxes' lists 1 axes",
        ),
        ({"type": "byDimension", "transformations": [{"transformation": {"type": "identity"}}]}, r"needs 'inputAxes'"),
        ("{not json", r"not valid JSON"),
    ],
)
def test_malformed_transformations(item, match):
    with pytest.raises(TransformationError, match=match):
        parse_transformation(item)


def test_unknown_type_has_its_own_class():
    with pytest.raises(UnknownTransformationTypeError):
        parse_transformation({"type": "thinPlateSpline"})


def test_invalid_by_dimension_examples_are_rejected(example):
    with pytest.raises(
        TransformationError, match=r"output axis 2 appears in transformations\[0\] and transformations\[1\]"
    ):
        parse_transformation(example("byDimensionInvalid1.json"))
    with pytest.raises(TransformationError, match=r"output axis 1 appears"):
        parse_transformation(example("byDimensionInvalid2.json"))


def test_out_of_range_by_dimension_axes_are_rejected_against_the_coordinate_systems(example, load_example):
    doc = load_example("transformations/byDimension1.json")
    item = doc["coordinateTransformations"][0]
    item["transformations"][0]["outputAxes"] = [2]
    item["transformations"][1]["outputAxes"] = [0]
    g = TransformGraph()
    from spatialdata_plugins.transforms import CoordinateSystem

    for cs in doc["coordinateSystems"]:
        g.add_coordinate_system(CoordinateSystem.from_dict(cs))
    with pytest.raises(TransformationError, match=r"every axis of the output coordinate system out .* got \[0, 2\]"):
        g.add_transformation(parse_transformation(item))


def test_dimension_mismatch_with_coordinate_systems(load_example):
    from spatialdata_plugins.transforms import CoordinateSystem

    doc = load_example("transformations/scale.json")
    g = TransformGraph()
    for cs in doc["coordinateSystems"]:
        g.add_coordinate_system(CoordinateSystem.from_dict(cs))
    with pytest.raises(TransformationError, match=r"scale transformation \(in -> out\): parameters are for 3D input"):
        g.add_transformation(
            parse_transformation({"type": "scale", "scale": [1, 2, 3], "input": "in", "output": "out"})
        )
    with pytest.raises(TransformationError, match=r"maps to 3D points but the output coordinate system out has 2 axes"):
        g.add_transformation(
            parse_transformation({"type": "affine", "affine": [[1, 0, 0]] * 3, "input": "in", "output": "out"})
        )
    with pytest.raises(CoordinateSystemNotFoundError, match="output nowhere"):
        g.add_transformation(parse_transformation({"type": "identity", "input": "in", "output": "nowhere"}))


def test_missing_path_array_names_the_transformation_and_path(tmp_path):
    root = zarr.open_group(tmp_path / "g.zarr", mode="w")
    with pytest.raises(
        ParameterArrayError, match=r"affine transformation 'A'.*field 'path': no zarr array or group at 'missing'"
    ):
        parse_transformation({"type": "affine", "path": "missing", "name": "A"}, group=root)
    with pytest.raises(ParameterArrayError, match=r"displacements transformation.*'nofield'"):
        parse_transformation({"type": "displacements", "path": "nofield"}, group=root)
    root.create_array("bad", shape=(3,), dtype="float64")
    with pytest.raises(TransformationError, match=r"affine \(array at path 'bad'\)\" must be a 2D array"):
        parse_transformation({"type": "affine", "path": "bad"}, group=root)


def test_unresolved_path_cannot_be_applied():
    t = parse_transformation({"type": "affine", "path": "somewhere"})
    with pytest.raises(ParameterArrayError, match="path 'somewhere', which was not read"):
        t.apply([[1, 2]])
    f = parse_transformation({"type": "coordinates", "path": "field"})
    with pytest.raises(ParameterArrayError, match="was not read"):
        f.apply([[1, 2]])


def test_displacement_field_with_wrong_component_count(tmp_path):
    root = zarr.open_group(tmp_path / "g.zarr", mode="w")
    root.create_array("f", shape=(4, 4, 3), dtype="float64")
    with pytest.raises(ParameterArrayError, match="must hold 2 components, got 3"):
        parse_transformation({"type": "displacements", "path": "f"}, group=root)


def test_scene_metadata_errors(tmp_path):
    root = zarr.open_group(tmp_path / "s.zarr", mode="w")
    with pytest.raises(TransformationError, match="no 'ome.scene'"):
        TransformGraph.from_scene(root)
    root.attrs["ome"] = {"version": "0.6rc0", "scene": {"coordinateTransformations": []}}
    with pytest.raises(TransformationError, match="'coordinateTransformations' must be a non-empty array"):
        TransformGraph.from_scene(root)
    root.attrs["ome"] = {
        "version": "0.6rc0",
        "scene": {
            "coordinateTransformations": [{"type": "identity", "input": {"path": "img"}, "output": {"name": "w"}}]
        },
    }
    with pytest.raises(TransformationError, match="field 'input' must name a coordinate system"):
        TransformGraph.from_scene(root)
    root.attrs["ome"] = {
        "version": "0.6rc0",
        "scene": {
            "coordinateTransformations": [
                {"type": "identity", "input": {"name": "p", "path": "img"}, "output": {"name": "w"}}
            ]
        },
    }
    with pytest.raises(CoordinateSystemNotFoundError, match="no group at path 'img'"):
        TransformGraph.from_scene(root)


def test_dataset_transformation_restrictions(tmp_path, make_image, space):
    root = zarr.open_group(tmp_path / "i.zarr", mode="w")
    make_image(root, "img", space("physical"), {"type": "affine", "affine": [[1, 0, 0], [0, 1, 0]]})
    with pytest.raises(TransformationError, match="must be a scale, an identity, or a sequence of a scale followed"):
        TransformGraph.from_multiscales(root["img"])


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (  # neither side is the intrinsic coordinate system
            {"type": "scale", "scale": [2, 2], "input": {"name": "a"}, "output": {"name": "b"}},
            r"coordinateTransformations\[0\]: scale transformation.*must be the intrinsic coordinate system 'physical'",
        ),
        (  # a child labels group may only be linked by identity, scale or translation
            {
                "type": "affine",
                "affine": [[1, 0, 1], [0, 1, 0]],
                "input": {"name": "lab", "path": "labels/cells"},
                "output": {"name": "physical"},
            },
            r"affine transformation.*field 'input' refers to a child group \('labels/cells'\).*identity, scale or",
        ),
    ],
)
def test_multiscales_transformation_rules(tmp_path, make_image, space, extra, match):
    root = zarr.open_group(tmp_path / "i.zarr", mode="w")
    img = make_image(root, "img", space("physical"), {"type": "scale", "scale": [1, 1]})
    make_image(img, "labels/cells", space("lab"), {"type": "scale", "scale": [1, 1]})
    attrs = img.attrs.asdict()
    attrs["ome"]["multiscales"][0]["coordinateSystems"] += [space("a"), space("b")]
    attrs["ome"]["multiscales"][0]["coordinateTransformations"] = [extra]
    img.attrs.put(attrs)
    with pytest.raises(TransformationError, match=match):
        TransformGraph.from_multiscales(root["img"])
    # the same edges are fine once they follow the rules
    ok = dict(extra, input={"name": "physical"}, output={"name": "a"}) if "affine" not in extra else extra
    ok = dict(ok, type="translation", translation=[1, 0]) if "affine" in extra else ok
    ok.pop("affine", None)
    attrs["ome"]["multiscales"][0]["coordinateTransformations"] = [ok]
    img.attrs.put(attrs)
    TransformGraph.from_multiscales(root["img"])


def test_sequence_with_subspace_steps_never_gives_numbers():
    """``sequenceSubspace1.json``-style steps are kept for writing but refused by every numeric path.

    Before the fix ``simplify``/``to_affine`` silently chained the 1D steps into a wrong 1 x 2 matrix.
    """
    from spatialdata_plugins.transforms import simplify

    item = {
        "type": "sequence",
        "input": {"name": "in"},
        "output": {"name": "out"},
        "transformations": [
            {"type": "scale", "scale": [3.0], "inputAxes": ["i"], "outputAxes": ["x"]},
            {"type": "scale", "scale": [2.0], "inputAxes": ["j"], "outputAxes": ["y"]},
        ],
    }
    t = parse_transformation(item)
    assert t.to_dict() == item
    for action in (
        lambda: t.apply(np.array([[1.0, 2.0]])),
        lambda: simplify(t, 2),
        lambda: t.to_affine(2),
        lambda: t.inverse(),
    ):
        with pytest.raises(TransformationError, match=r"sequence transformation.*inputAxes/outputAxes"):
            action()


def test_repeated_coordinate_system_names_are_rejected(tmp_path, make_image, space):
    root = zarr.open_group(tmp_path / "i.zarr", mode="w")
    img = make_image(root, "img", space("physical"), {"type": "scale", "scale": [1, 1]})
    attrs = img.attrs.asdict()
    attrs["ome"]["multiscales"][0]["coordinateSystems"].append(space("physical"))
    img.attrs.put(attrs)
    with pytest.raises(TransformationError, match=r"coordinateSystems: coordinate system names must be unique"):
        TransformGraph.from_multiscales(root["img"])
    root.attrs["ome"] = {
        "version": "0.6rc0",
        "scene": {
            "coordinateSystems": [space("w"), space("w")],
            "coordinateTransformations": [{"type": "identity", "input": {"name": "w"}, "output": {"name": "w"}}],
        },
    }
    with pytest.raises(TransformationError, match=r"scene.coordinateSystems: .*\['w'\] appear more than once"):
        TransformGraph.from_scene(root)
