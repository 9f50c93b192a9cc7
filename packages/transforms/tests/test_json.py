"""JSON: every example parses, the 0.6rc0 form round-trips losslessly, draft forms are read, the schemas validate what
we write."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spatialdata_plugins.transforms import (
    Affine,
    Axis,
    ByDimension,
    CoordinateSystem,
    CoordinateSystemRef,
    Rotation,
    Scale,
    Sequence,
    Translation,
    parse_transformation,
    write_scene,
)

VALID = [
    "affine2d2d.json",
    "affine2d2d_with_channel.json",
    "affine2d3d.json",
    "bijection.json",
    "byDimension1.json",
    "byDimension2.json",
    "identity.json",
    "projectAxis.json",
    "projectAxis2.json",
    "rotation.json",
    "scale.json",
    "scale_with_discrete.json",
    "sequence.json",
    "translation.json",
    "xarrayLike.json",
]


@pytest.mark.parametrize("name", VALID)
def test_examples_round_trip_losslessly(name, load_example):
    doc = load_example(f"transformations/{name}")
    for item in doc["coordinateTransformations"]:
        t = parse_transformation(item)
        assert t.to_dict() == item
        assert parse_transformation(json.dumps(item)).to_dict() == item  # JSON text too
        assert json.loads(json.dumps(t.to_dict())) == item
    for cs in doc["coordinateSystems"]:
        assert CoordinateSystem.from_dict(cs).to_dict() == cs


def test_bijection_verbose_round_trip(load_example):
    doc = load_example("transformations/bijection_verbose.json")
    assert parse_transformation(doc).to_dict() == doc


def test_draft_plain_string_coordinate_systems_are_read_and_written_as_objects(example):
    draft = example("mapAxis1.json", 0)
    assert draft["input"] == "in"
    t = parse_transformation(draft)
    assert t.input == CoordinateSystemRef(name="in") and t.output == CoordinateSystemRef(name="out1")
    assert t.to_dict()["input"] == {"name": "in"}


def test_draft_by_dimension_forms(example):
    # RFC-5 draft: the child's fields beside its axes (byDimensionXarray) or input_axes/output_axes names
    flat = parse_transformation(example("byDimensionXarray.json"))
    assert isinstance(flat, ByDimension)
    assert [item.input_axes for item in flat.transformations] == [[0], [1]]
    written = flat.to_dict()
    assert written["transformations"][0] == {
        "transformation": {"type": "coordinates", "path": "xCoordinates"},
        "inputAxes": [0],
        "outputAxes": [0],
    }
    draft = {
        "type": "byDimension",
        "input": "in",
        "output": "out",
        "transformations": [
            {"transformation": {"type": "scale", "scale": [2.0]}, "input_axes": ["j"], "output_axes": ["y"]},
            {"transformation": {"type": "translation", "translation": [1]}, "input_axes": ["i"], "output_axes": ["x"]},
        ],
    }
    t = parse_transformation(draft)
    t.bind(("j", "i"), ("y", "x"))
    np.testing.assert_allclose(t.apply([[1, 2]]), [[2, 3]])
    assert t.to_dict()["transformations"][1]["inputAxes"] == [1]


def test_unknown_fields_are_kept():
    item = {"type": "scale", "scale": [1, 2], "input": {"name": "a"}, "output": {"name": "b"}, "x-note": {"k": 1}}
    assert parse_transformation(item).to_dict() == item


def test_coordinate_system_and_axis_objects():
    cs = CoordinateSystem.from_dict(
        {
            "name": "physical",
            "axes": [
                {"name": "c", "type": "channel", "discrete": True},
                {"name": "y", "type": "space", "unit": "micrometer", "longName": "height"},
            ],
        }
    )
    assert cs.ndim == 2 and cs.axis_names == ("c", "y")
    assert cs.axes[1] == Axis("y", type="space", unit="micrometer", long_name="height")
    assert cs.to_dict()["axes"][1]["longName"] == "height"


def test_parameters_written_inline_by_default_and_path_kept_on_request():
    item = {"type": "affine", "path": "coordinateTransformations/a", "input": {"name": "a"}, "output": {"name": "b"}}
    t = parse_transformation(item)  # no group: the path is kept unresolved
    assert t.to_dict() == item
    t.affine = np.array([[1.0, 0, 0], [0, 1, 0]])
    assert t.to_dict()["affine"] == [[1, 0, 0], [0, 1, 0]]
    assert t.to_dict(inline=False)["path"] == "coordinateTransformations/a"


def test_written_scene_validates_against_the_schema(tmp_path, schema_validator):
    ts = [
        Scale([2.0, 3.0], name="s", input=CoordinateSystemRef("physical", "a"), output=CoordinateSystemRef("world")),
        Sequence(
            [Rotation(np.array([[0.0, -1], [1, 0]])), Translation([1.0, 2.0])],
            name="rigid",
            input=CoordinateSystemRef("physical", "b"),
            output=CoordinateSystemRef("world"),
        ),
        Affine([[1, 0.5, 3], [0, 1, 4]], input=CoordinateSystemRef("world"), output=CoordinateSystemRef("other")),
    ]
    systems = [CoordinateSystem("world", (Axis("y", "space"), Axis("x", "space")))]
    systems.append(CoordinateSystem("other", (Axis("y", "space"), Axis("x", "space"))))
    ome = write_scene(tmp_path / "scene.zarr", ts, systems)
    schema_validator({"ome": ome}, "scene.schema")
    # parameters as arrays: still valid, and they read back to the same numbers
    ome = write_scene(tmp_path / "arrays.zarr", ts, systems, inline=False)
    schema_validator({"ome": ome}, "scene.schema")
    written = ome["scene"]["coordinateTransformations"]
    assert written[0]["scale"] == [2, 3]  # vectors stay inline (0.6rc0 has no 'path' for them)
    assert written[2]["path"].startswith("coordinateTransformations/")
    assert written[1]["transformations"][0]["path"].startswith("coordinateTransformations/")


def test_each_type_validates_against_the_transformation_schema(schema_validator, load_example):
    for name in VALID:
        for item in load_example(f"transformations/{name}")["coordinateTransformations"]:
            written = parse_transformation(item).to_dict()
            schema_validator(written, "coordinate_transformations.schema", "coordinateTransformation")
