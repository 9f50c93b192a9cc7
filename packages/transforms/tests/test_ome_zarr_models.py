"""Agreement with ome-zarr-models (pydantic models of OME-Zarr 0.6, an independent implementation).

Both ways: what our writers produce loads with ``ome_zarr_models.v06`` (scenes, images, every transformation type),
and what ``ome_zarr_models.v06`` writes reads into our model with the same transformations. "The same" is checked
against the models' own reference ``transform_point`` wherever the models implement it, and by comparing the
validated models otherwise (``projectAxis``, ``coordinates``, ``displacements``, whose ``transform_point`` the models
leave unimplemented).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from ome_zarr_models.v06 import Image, Scene
from ome_zarr_models.v06 import coordinate_transforms as ct
from pydantic import TypeAdapter
from pydantic_zarr.v3 import ArraySpec

from spatialdata_plugins.transforms import (
    OME_VERSIONS,
    CoordinateSystem,
    CoordinateSystemRef,
    TransformationError,
    TransformGraph,
    parse_transformation,
    write_scene,
)

EXAMPLES = Path(__file__).parent / "data" / "examples"  # the spec's examples, vendored (data/SOURCE.md)
TRANSFORM = TypeAdapter(ct.AnyTransform)
# the models leave these unimplemented (``transform_point`` raises NotImplementedError)
NO_REFERENCE_POINTS = {"projectAxis", "coordinates", "displacements"}


def _ref(name: str, path: str | None = None) -> ct.CoordinateSystemIdentifier:
    return ct.CoordinateSystemIdentifier(name=name, path=path)


def _yx(name: str) -> ct.CoordinateSystem:
    return ct.CoordinateSystem(
        name=name,
        axes=(ct.Axis(name="y", type="space", unit="micrometer"), ct.Axis(name="x", type="space", unit="micrometer")),
    )


def _zyx(name: str) -> ct.CoordinateSystem:
    return ct.CoordinateSystem(name=name, axes=(ct.Axis(name="z", type="space"), *_yx(name).axes))


_C, _S = np.cos(0.3), np.sin(0.3)

#: One models object of every transformation type the models cover, each between two 2D systems (``a`` -> ``b``),
#: except ``projectAxis`` (3D ``a3`` -> 2D ``b``).
MODEL_TRANSFORMS: dict[str, ct.Transform] = {
    "identity": ct.Identity(),
    "mapAxis": ct.MapAxis(mapAxis=(1, 0)),
    "projectAxis": ct.ProjectAxis(droppedInputs=(0,)),
    "translation": ct.Translation(translation=(10.0, -2.5)),
    "scale": ct.Scale(scale=(2.0, 0.25)),
    "affine": ct.Affine(affine=((1.0, 0.5, 3.0), (-0.25, 2.0, -1.0))),
    "rotation": ct.Rotation(rotation=((_C, -_S), (_S, _C))),
    "sequence": ct.Sequence(
        transformations=(
            ct.Scale(scale=(2.0, 3.0)),
            ct.Translation(translation=(1.0, -1.0)),
            ct.Rotation(rotation=((0.0, -1.0), (1.0, 0.0))),
        )
    ),
    "displacements": ct.Displacements(path="fields/ones", interpolation="linear"),
    "coordinates": ct.Coordinates(path="fields/grid", interpolation="nearest"),
    "bijection": ct.Bijection(
        forward=ct.Affine(affine=((2.0, 0.0, 1.0), (0.0, 4.0, -2.0))),
        inverse=ct.Affine(affine=((0.5, 0.0, -0.5), (0.0, 0.25, 0.5))),
    ),
    "byDimension": ct.ByDimension(
        transformations=(
            ct.ByDimensionTransform(transformation=ct.Scale(scale=(3.0,)), inputAxes=(0,), outputAxes=(1,)),
            ct.ByDimensionTransform(transformation=ct.Translation(translation=(7.0,)), inputAxes=(1,), outputAxes=(0,)),
        )
    ),
}


def test_every_models_type_is_covered():
    types = {t.type for t in MODEL_TRANSFORMS.values()}
    union = ct.AnyTransform.__origin__.__args__  # the models' discriminated union
    assert types == {cls.model_fields["type"].default for cls in union}
    assert len(types) == 12


def _with_systems(t: ct.Transform, name: str) -> ct.Transform:
    src = "a3" if t.type == "projectAxis" else "a"
    return t.model_copy(update={"input": _ref(src), "output": _ref("b"), "name": name})


def _reference(t: ct.Transform, points: np.ndarray) -> np.ndarray:
    return np.array([t.transform_point(tuple(p)) for p in points.tolist()], dtype=np.float64)


# -- single transformations, both ways -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(MODEL_TRANSFORMS))
def test_models_json_reads_into_our_model_and_back(kind):
    model = _with_systems(MODEL_TRANSFORMS[kind], f"{kind} a->b")
    # what the models write: every unset field as null
    written = model.model_dump(mode="json")
    ours = parse_transformation(written)
    assert ours.type == kind
    assert (ours.name, ours.input, ours.output) == (
        f"{kind} a->b",
        CoordinateSystemRef(model.input.name),
        CoordinateSystemRef("b"),
    )
    # and what we write back validates as the same models object
    assert TRANSFORM.validate_python(ours.to_dict()) == model


@pytest.mark.parametrize("kind", sorted(set(MODEL_TRANSFORMS) - NO_REFERENCE_POINTS))
@settings(max_examples=25, deadline=None)
@given(points=st.lists(st.tuples(*[st.floats(-1e4, 1e4)] * 2), min_size=1, max_size=6))
def test_models_transformations_map_points_like_the_models(kind, points):
    model = MODEL_TRANSFORMS[kind]
    ours = parse_transformation(model.model_dump(mode="json"))
    p = np.array(points, dtype=np.float64)
    np.testing.assert_allclose(ours.apply(p), _reference(model, p), rtol=1e-12, atol=1e-9)
    if model.has_inverse:
        np.testing.assert_allclose(ours.inverse().apply(p), _reference(model.get_inverse(), p), rtol=1e-9, atol=1e-9)


def _spec_examples() -> list[tuple[str, int, dict, int | None]]:
    """``(file, index, transformation, dimensionality or None)`` of every valid example of the spec."""
    out = []
    for path in sorted((EXAMPLES / "transformations").glob("*.json")):
        if "Invalid" in path.name:
            continue
        doc = json.loads(path.read_text())
        systems = {cs["name"]: len(cs["axes"]) for cs in doc.get("coordinateSystems", [])}
        for k, item in enumerate(doc.get("coordinateTransformations", [])):
            ends = [item.get(side) for side in ("input", "output")]
            ndim_in, ndim_out = (systems.get(e.get("name") if isinstance(e, dict) else e) for e in ends)
            # the models' reference transform_point keeps the input's length (their affine and byDimension assume
            # N -> N), so only N -> N examples have reference points
            out.append((path.name, k, item, ndim_in if ndim_in == ndim_out else None))
    return out


def _has_field(t) -> bool:
    return t.type in ("coordinates", "displacements") or any(_has_field(c) for c in t.children())


@pytest.mark.parametrize(("example", "index", "item", "ndim"), _spec_examples(), ids=lambda v: str(v)[:30])
def test_what_we_write_for_every_spec_example_validates_with_the_models(example, index, item, ndim):
    ours = parse_transformation(item)
    model = TRANSFORM.validate_python(ours.to_dict())
    assert model.type == ours.type
    # nothing to compare points with: the models do not apply these, or we do not apply subspace sequence steps
    if _has_field(ours) or ours.type == "projectAxis" or example == "sequenceSubspace1.json" or ndim is None:
        return
    p = np.random.default_rng(index).uniform(-50, 50, (4, ndim))
    np.testing.assert_allclose(ours.apply(p), _reference(model, p), rtol=1e-12, atol=1e-9)


# -- whole documents: our writers -> the models ------------------------------------------------------------------------


@pytest.fixture
def our_scene(tmp_path, make_image):
    """A scene written by our writers (version "0.6"): two images and a scene edge of every type."""
    root = zarr.open_group(tmp_path / "ours.zarr", mode="w", zarr_format=3)
    for name in ("img_a", "img_b"):
        g = make_image(root, name, _yx("physical").model_dump(mode="json", exclude_none=True), {"type": "identity"})
        g.attrs["ome"] = {**g.attrs["ome"], "version": "0.6"}
    fields = root.create_group("fields")
    fields.create_array("ones", shape=(4, 4, 2), dtype="float64")[...] = np.ones((4, 4, 2))
    grid = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0), indexing="ij"), axis=-1) * 10.0
    fields.create_array("grid", shape=(4, 4, 2), dtype="float64")[...] = grid
    systems = [CoordinateSystem.from_dict(_yx(n).model_dump(mode="json", exclude_none=True)) for n in ("a", "world")]
    systems.append(CoordinateSystem.from_dict(_zyx("a3").model_dump(mode="json", exclude_none=True)))
    transformations = [
        parse_transformation(
            {"type": "translation", "translation": [0.0, 30.0], "input": {"name": "physical", "path": "img_a"}}
            | {"output": {"name": "a"}}
        ),
        parse_transformation(
            {"type": "scale", "scale": [2.0, 2.0], "input": {"name": "physical", "path": "img_b"}}
            | {"output": {"name": "world"}}
        ),
    ]
    for kind, model in MODEL_TRANSFORMS.items():
        t = parse_transformation(model.model_dump(mode="json"))
        t.input = CoordinateSystemRef("a3" if kind == "projectAxis" else "a")
        t.output = CoordinateSystemRef(f"b_{kind}")
        t.name = kind
        systems.append(CoordinateSystem.from_dict(_yx(f"b_{kind}").model_dump(mode="json", exclude_none=True)))
        transformations.append(t)
    write_scene(root, transformations, systems, version="0.6")
    return root


def test_our_scene_loads_with_the_models_and_maps_points_the_same(our_scene):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "version converted" or "member is an array" warnings either
        scene = Scene.from_zarr(our_scene)
    assert set(scene.images) >= {"img_a"}
    graph = TransformGraph.from_scene(our_scene)
    p = np.random.default_rng(0).uniform(-1.5, 1.5, (5, 2))
    seen = set()
    for model in scene.ome_attributes.scene.coordinateTransformations:
        seen.add(model.type)
        if model.name not in MODEL_TRANSFORMS:
            continue
        assert model == _with_systems(MODEL_TRANSFORMS[model.name], model.name).model_copy(
            update={"output": _ref(f"b_{model.name}")}
        )
        if model.type in NO_REFERENCE_POINTS:
            continue
        out = graph.transform(p, model.input.name, model.output.name)
        np.testing.assert_allclose(out, _reference(model, p), rtol=1e-12, atol=1e-9)
    assert seen >= set(MODEL_TRANSFORMS)


def test_our_images_load_with_the_models(tmp_path):
    from spatialdata_plugins.core import synthetic_sdata
    from spatialdata_plugins.transforms import write_spatialdata_scene

    sdata = synthetic_sdata(seed=0, n_points=10)
    graph = write_spatialdata_scene(sdata, tmp_path / "sd.zarr", version="0.6")
    root = zarr.open_group(tmp_path / "sd.zarr", mode="r")
    scene = Scene.from_zarr(root)
    assert set(scene.images) == set(sdata.images)
    for name in sdata.images:
        image = Image.from_zarr(root[name])
        ms = image.ome_attributes.multiscales[0]
        for ds in ms.datasets:
            # every level's array -> intrinsic transformation as the models apply it, and as our graph does
            (t,) = ds.coordinateTransformations
            p = np.array([[0.0, 0.0, 0.0], [0.0, 3.0, 5.0]])
            ours = graph.transform(p, f"{name}/{ds.path}", f"{name}#{ms.intrinsic_coordinate_system.name}")
            np.testing.assert_allclose(ours, _reference(t, p), rtol=1e-12)


def test_the_written_version_is_checked(tmp_path):
    assert OME_VERSIONS == ("0.6rc0", "0.6")
    with pytest.raises(TransformationError, match=r"field 'version': cannot write OME-Zarr version '0.5'"):
        write_scene(tmp_path / "x.zarr", [], version="0.5")


# -- whole documents: the models -> our reader -------------------------------------------------------------------------


def test_a_scene_written_by_the_models_reads_into_our_graph(tmp_path):
    levels = [ArraySpec.from_array(np.zeros((8, 10), "uint8"), dimension_names=("y", "x"))]
    levels.append(ArraySpec.from_array(np.zeros((4, 5), "uint8"), dimension_names=("y", "x")))
    image = Image.new(
        array_specs=levels,
        paths=["s0", "s1"],
        scales=[[0.5, 0.25], [1.0, 0.5]],
        translations=[None, [0.25, 0.125]],
        physical_coord_system=_yx("physical"),
        name="img",
    )
    transforms = [ct.Translation(translation=(5.0, -5.0), input=_ref("physical", "img"), output=_ref("a"))]
    systems = [_yx("a"), _zyx("a3")]
    for kind, model in MODEL_TRANSFORMS.items():
        transforms.append(_with_systems(model, kind).model_copy(update={"output": _ref(f"b_{kind}")}))
        systems.append(_yx(f"b_{kind}"))
    scene = Scene.new(images={"img": image}, coord_transforms=transforms, coord_systems=systems)
    path = tmp_path / "models.zarr"
    root = scene.to_zarr(zarr.storage.LocalStore(path), path="")
    # the field arrays the models' metadata refers to (the models write metadata only)
    root.create_array("fields/ones", shape=(4, 4, 2), dtype="float64")[...] = np.ones((4, 4, 2))
    grid = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0), indexing="ij"), axis=-1) * 10.0
    root.create_array("fields/grid", shape=(4, 4, 2), dtype="float64")[...] = grid

    graph = TransformGraph.from_scene(path)
    p = np.array([[1.0, 2.0], [0.4, 0.2], [2.9, 1.1]])
    for model in transforms[1:]:
        src, dst = model.input.name, model.output.name
        if model.type == "projectAxis":
            p3 = np.array([[9.0, 1.0, 2.0]])
            np.testing.assert_array_equal(graph.transform(p3, src, dst), [[1.0, 2.0]])  # axis 0 dropped
        elif model.type == "displacements":
            np.testing.assert_allclose(graph.transform(p, src, dst), p + 1.0)  # a field of ones
        elif model.type == "coordinates":
            # nearest grid point (1, 2), (0, 0), (3, 1) of a grid holding 10 x its index
            np.testing.assert_array_equal(graph.transform(p, src, dst), [[10.0, 20.0], [0.0, 0.0], [30.0, 10.0]])
        else:
            np.testing.assert_allclose(graph.transform(p, src, dst), _reference(model, p), rtol=1e-12, atol=1e-9)
    # the image's levels: array index -> physical as the models' dataset transformations say, then the scene edge
    for ds in image.ome_attributes.multiscales[0].datasets:
        (t,) = ds.coordinateTransformations
        expected = _reference(transforms[0], _reference(t, p))
        np.testing.assert_allclose(graph.transform(p, f"img/{ds.path}", "a"), expected, rtol=1e-12)
    # numbers by hand: level s1 pixel (1, 2) -> physical (1 * 1.0 + 0.25, 2 * 0.5 + 0.125) -> a (+5, -5)
    np.testing.assert_allclose(graph.transform([[1.0, 2.0]], "img/s1", "a"), [[6.25, -3.875]])
