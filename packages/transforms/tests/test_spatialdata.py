"""Conversion to and from ``spatialdata.transformations``, RFC-5 images read through the core, scenes as SpatialData."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from spatialdata.transformations import Affine as SdAffine
from spatialdata.transformations import Identity as SdIdentity
from spatialdata.transformations import MapAxis as SdMapAxis
from spatialdata.transformations import Scale as SdScale
from spatialdata.transformations import Sequence as SdSequence
from spatialdata.transformations import Translation as SdTranslation
from spatialdata.transformations import get_transformation, set_transformation

from spatialdata_plugins.transforms import (
    Affine,
    ByDimension,
    ByDimensionItem,
    Identity,
    MapAxis,
    Rotation,
    Scale,
    Sequence,
    Translation,
    UnsupportedConversionError,
    from_spatialdata,
    parse_transformation,
    read_scene,
    read_scene_images,
    to_spatialdata,
    write_rfc5_image,
    write_spatialdata_scene,
)

YX = ("y", "x")
CZYX = ("c", "z", "y", "x")


def sd_matrix(t, axes_in, axes_out=None):
    return np.asarray(t.to_affine_matrix(axes_in, axes_out or axes_in), dtype=float)


@pytest.mark.parametrize(
    ("rfc5", "expected_type"),
    [
        (Identity(), SdIdentity),
        (Scale([2.0, 3.0]), SdScale),
        (Translation([1.0, -2.0]), SdTranslation),
        (Sequence([Scale([2.0, 3.0]), Translation([1.0, -2.0])]), SdSequence),
        (Affine([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), SdAffine),
        (Rotation(np.array([[0.0, -1.0], [1.0, 0.0]])), SdAffine),
        (MapAxis([1, 0]), SdMapAxis),  # spatialdata has a MapAxis: use it
        (
            ByDimension([ByDimensionItem(Scale([2.0]), [0], [0]), ByDimensionItem(Translation([1.0]), [1], [1])]),
            SdSequence,
        ),
    ],
)
def test_to_spatialdata_gives_the_same_points(rfc5, expected_type):
    sd = to_spatialdata(rfc5, YX)
    assert isinstance(sd, expected_type)
    pts = np.array([[1.0, 2.0], [-3.0, 0.5]])
    m = sd_matrix(sd, YX)
    np.testing.assert_allclose(pts @ m[:2, :2].T + m[:2, 2], rfc5.apply(pts), atol=1e-12)


def test_map_axis_becomes_a_spatialdata_map_axis_in_3d():
    zyx = ("z", "y", "x")
    sd = to_spatialdata(MapAxis([2, 0, 1]), zyx)
    assert isinstance(sd, SdMapAxis)
    pts = np.array([[1.0, 2.0, 3.0]])
    m = sd_matrix(sd, zyx)
    np.testing.assert_allclose(pts @ m[:3, :3].T + m[:3, 3], [[3.0, 1.0, 2.0]])
    back = from_spatialdata(sd, zyx)
    assert isinstance(back, MapAxis) and back.map_axis == [2, 0, 1]


@pytest.mark.parametrize(
    "sd",
    [
        SdIdentity(),
        SdScale([2.0, 3.0], axes=("x", "y")),
        SdScale([2.0], axes=("x",)),
        SdTranslation([5.0, 6.0, 7.0], axes=("z", "y", "x")),
        SdMapAxis({"x": "y", "y": "x"}),
        SdAffine(np.array([[0.0, -1.0, 3.0], [1.0, 0.0, 4.0], [0.0, 0.0, 1.0]]), input_axes=YX, output_axes=YX),
        SdSequence([SdScale([2.0], axes=("y",)), SdTranslation([1.0, 1.0], axes=YX), SdIdentity()]),
    ],
)
def test_round_trip_through_rfc5_keeps_the_matrix(sd):
    axes = ("c", "z", "y", "x") if isinstance(sd, SdTranslation) else ("c", "y", "x")
    rfc5 = from_spatialdata(sd, axes)
    np.testing.assert_allclose(rfc5.to_affine(len(axes)), sd_matrix(sd, axes), atol=1e-12)
    back = to_spatialdata(rfc5, axes)
    np.testing.assert_allclose(sd_matrix(back, axes), sd_matrix(sd, axes), atol=1e-12)
    assert parse_transformation(rfc5.to_dict()).to_dict() == rfc5.to_dict()


def test_from_spatialdata_types_and_references():
    assert isinstance(from_spatialdata(SdScale([2.0], axes=("x",)), YX), Scale)
    perm = from_spatialdata(SdMapAxis({"x": "y", "y": "x"}), YX, input="a", output="b")
    assert isinstance(perm, MapAxis) and perm.map_axis == [1, 0]
    assert perm.input.name == "a" and perm.output.name == "b"
    aff = from_spatialdata(SdAffine(np.eye(3), input_axes=YX, output_axes=YX), ("y", "x"), ("x", "y"))
    assert isinstance(aff, Affine)
    np.testing.assert_allclose(aff.apply([[1.0, 2.0]]), [[2.0, 1.0]])


def test_unsupported_conversions():
    with pytest.raises(UnsupportedConversionError, match="spatialdata only knows the axes"):
        to_spatialdata(Scale([1.0, 2.0]), ("i", "j"))
    with pytest.raises(UnsupportedConversionError, match="not linear"):
        to_spatialdata(parse_transformation({"type": "displacements", "path": "f"}), YX)


def _rfc5_store(tmp_path, sdp_register):
    from spatialdata_plugins.core import synthetic_sdata, write
    from spatialdata_plugins.transforms import _plugin

    sdp_register(_plugin, name="transforms")
    sdata = synthetic_sdata(seed=0, n_points=100)
    path = tmp_path / "data.zarr"
    write(sdata, path)
    element = sdata.images["image_multiscale"]
    set_transformation(
        element, SdSequence([SdScale([2.0, 4.0], axes=YX), SdTranslation([10.0, 20.0], axes=YX)]), "aligned"
    )
    write_rfc5_image(element, zarr.open_group(path / "images" / "rfc5", mode="w", zarr_format=3))
    zarr.consolidate_metadata(str(path))  # the store was written with consolidated metadata
    return sdata, path


@pytest.mark.filterwarnings("ignore::UserWarning:zarr")
def test_read_hook_turns_rfc5_metadata_into_spatialdata_transformations(tmp_path, sdp_register):
    from spatialdata_plugins.core import read, read_element

    sdata, path = _rfc5_store(tmp_path, sdp_register)
    back = read(path)
    element = back.images["rfc5"]
    ts = get_transformation(element, get_all=True)
    assert set(ts) == {"intrinsic", "global", "shifted", "aligned"}
    assert isinstance(ts["intrinsic"], SdIdentity)  # the half-pixel convention cancels out
    for name, t in get_transformation(sdata.images["image_multiscale"], get_all=True).items():
        np.testing.assert_allclose(sd_matrix(ts[name], ("c", "y", "x")), sd_matrix(t, ("c", "y", "x")), atol=1e-12)
    assert [tuple(v.dims) for v in element["scale0"].data_vars.values()] == [("c", "y", "x")]
    np.testing.assert_array_equal(
        element["scale1"]["image"].values, sdata.images["image_multiscale"]["scale1"]["image"].values
    )
    assert list(element["scale0"]["image"].coords["c"].values) == list(
        sdata.images["image_multiscale"]["scale0"]["image"].coords["c"].values
    )
    # plain spatialdata images read as before (the in-memory multiscale image got "aligned" after it was written)
    assert set(get_transformation(back.images["image"], get_all=True)) == set(
        get_transformation(sdata.images["image"], get_all=True)
    )
    assert set(get_transformation(back.images["image_multiscale"], get_all=True)) == {"global", "shifted"}
    single = read_element(path, "rfc5")
    assert set(get_transformation(single, get_all=True)) == set(ts)


def test_scene_images_are_placed_in_the_scene(tmp_path, schema_validator):
    from spatialdata_plugins.core import synthetic_sdata

    sdata = synthetic_sdata(seed=0, n_points=100)
    set_transformation(sdata.images["image"], SdScale([2.0, 3.0], axes=YX), "global")
    graph = write_spatialdata_scene(sdata, tmp_path / "scene.zarr")
    root = zarr.open_group(tmp_path / "scene.zarr", mode="r")
    schema_validator(root.attrs.asdict(), "scene.schema")
    schema_validator(root["image"].attrs.asdict(), "image.schema")
    schema_validator(root["image_multiscale"].attrs.asdict(), "image.schema")
    # spatialdata intrinsic (0.5, 0.5) is the centre of pixel (0, 0): RFC-5 array (0, 0)
    np.testing.assert_allclose(graph.transform(np.array([[0.0, 0.0, 0.0]]), "image/0", "global"), [[0.0, 1.0, 1.5]])
    images = read_scene_images(tmp_path / "scene.zarr")
    assert set(images) == {"image", "image_multiscale"}
    assert {"global", "image#intrinsic"} <= set(get_transformation(images["image"], get_all=True))
    t = get_transformation(images["image"], "global")
    np.testing.assert_allclose(sd_matrix(t, YX), sd_matrix(SdScale([2.0, 3.0], axes=YX), YX))
    from spatialdata import SpatialData

    placed = SpatialData(images=images)
    assert "global" in placed.coordinate_systems
    assert read_scene(tmp_path / "scene.zarr").resolve("global").name == "global"
