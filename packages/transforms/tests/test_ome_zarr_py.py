"""OME-Zarr 0.5 images written by ome-zarr-py (the reference Python writer) open with our reader.

Every level's pixel centres must land where the scale and translation that ome-zarr-py wrote say; the expected
numbers are worked by hand below, and cross-checked with ome-zarr-models' own 0.5 -> 0.6 conversion.
"""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from ome_zarr.format import FormatV05
from ome_zarr.writer import write_image, write_multiscale

from spatialdata_plugins.transforms import TransformGraph, read_rfc5_raster, read_scene


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory):
    """A 16 x 12 image, levels s0..s2 downsampled by 2 and 4, pixel size 0.5 x 0.25 micrometre (y, x)."""
    path = tmp_path_factory.mktemp("omezarrpy") / "image.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    data = np.arange(16 * 12, dtype="uint16").reshape(16, 12)
    write_image(
        data,
        root,
        scale_factors=(2, 4),
        axes="yx",
        scale={"y": 0.5, "x": 0.25},
        axes_units={"y": "micrometer", "x": "micrometer"},
        fmt=FormatV05(),
    )
    return path


def test_what_ome_zarr_py_wrote(pyramid):
    """The premise: a 0.5 image, three levels, each with a scale and a translation (centred downsampling)."""
    ome = zarr.open_group(pyramid, mode="r").attrs["ome"]
    assert ome["version"] == "0.5"
    (ms,) = ome["multiscales"]
    assert "coordinateSystems" not in ms
    transforms = {ds["path"]: ds["coordinateTransformations"] for ds in ms["datasets"]}
    assert transforms == {
        "s0": [{"type": "scale", "scale": [0.5, 0.25]}, {"type": "translation", "translation": [0.0, 0.0]}],
        "s1": [{"type": "scale", "scale": [1.0, 0.5]}, {"type": "translation", "translation": [0.25, 0.125]}],
        "s2": [{"type": "scale", "scale": [2.0, 1.0]}, {"type": "translation", "translation": [0.75, 0.375]}],
    }


# pixel centres worked by hand from the values above: physical = index * scale + translation
#   s0 (3, 5): (3 * 0.5 + 0,    5 * 0.25 + 0)     = (1.5,  1.25)
#   s1 (0, 0): (0 * 1.0 + 0.25, 0 * 0.5 + 0.125)  = (0.25, 0.125)  the centre of s0 pixels (0..1, 0..1)
#   s1 (3, 5): (3 * 1.0 + 0.25, 5 * 0.5 + 0.125)  = (3.25, 2.625)
#   s2 (1, 2): (1 * 2.0 + 0.75, 2 * 1.0 + 0.375)  = (2.75, 2.375)  the centre of s0 pixels (4..7, 8..11)
#   s2 (3, 2): (3 * 2.0 + 0.75, 2 * 1.0 + 0.375)  = (6.75, 2.375)
HAND = {
    "s0": ([[3, 5], [0, 0]], [[1.5, 1.25], [0.0, 0.0]]),
    "s1": ([[0, 0], [3, 5]], [[0.25, 0.125], [3.25, 2.625]]),
    "s2": ([[1, 2], [3, 2]], [[2.75, 2.375], [6.75, 2.375]]),
}


@pytest.mark.parametrize("level", sorted(HAND))
def test_every_levels_pixel_centres_land_where_ome_zarr_py_says(pyramid, level):
    graph = read_scene(pyramid)
    index, physical = HAND[level]
    np.testing.assert_allclose(graph.transform(np.array(index, float), level, "physical"), physical, rtol=1e-15)
    # and back: physical -> array index of that level
    np.testing.assert_allclose(graph.transform(np.array(physical), "physical", level), index, atol=1e-12)


def test_levels_map_onto_each_other(pyramid):
    graph = TransformGraph.from_scene(pyramid)
    # s2 pixel (1, 2) covers s0 pixels 4..7 x 8..11: its centre is s0 index (5.5, 9.5)
    np.testing.assert_allclose(graph.transform([[1.0, 2.0]], "s2", "s0"), [[5.5, 9.5]], rtol=1e-15)
    # s1 pixel (2, 3) covers s0 pixels 4..5 x 6..7: centre (4.5, 6.5)
    np.testing.assert_allclose(graph.transform([[2.0, 3.0]], "s1", "s0"), [[4.5, 6.5]], rtol=1e-15)


def test_the_upgrade_agrees_with_ome_zarr_models(pyramid):
    """ome-zarr-models converts the same 0.5 metadata to 0.6; our graph must hold the same transformations."""
    from ome_zarr_models.v05.image import Image as ImageV05

    converted = ImageV05.from_zarr(zarr.open_group(pyramid, mode="r")).ome_attributes.multiscales[0]
    converted = converted.to_version("0.6")
    graph = TransformGraph.from_scene(pyramid)
    assert [cs.name for cs in converted.coordinateSystems] == ["physical"]
    p = np.array([[0.0, 0.0], [1.0, 2.0], [7.5, 3.25]])
    for ds in converted.datasets:
        (t,) = ds.coordinateTransformations
        expected = np.array([t.transform_point(tuple(q)) for q in p.tolist()])
        np.testing.assert_allclose(graph.transform(p, ds.path, "physical"), expected, rtol=1e-15)


def test_multiscales_level_transformations_go_to_an_output_system(tmp_path):
    """0.5 multiscales may carry transformations for the whole image: ``physical`` -> ``output`` (as in the models)."""
    root = zarr.open_group(tmp_path / "global.zarr", mode="w", zarr_format=3)
    write_multiscale(
        [np.zeros((4, 4), "uint8"), np.zeros((2, 2), "uint8")],
        root,
        axes=["y", "x"],
        coordinate_transformations=[
            [{"type": "scale", "scale": [1.0, 1.0]}],
            [{"type": "scale", "scale": [2.0, 2.0]}, {"type": "translation", "translation": [0.5, 0.5]}],
        ],
        fmt=FormatV05(),
    )
    ome = root.attrs["ome"]
    ome["multiscales"][0]["coordinateTransformations"] = [
        {"type": "scale", "scale": [10.0, 10.0]},
        {"type": "translation", "translation": [100.0, -100.0]},
    ]
    root.attrs["ome"] = ome
    graph = read_scene(root)
    # s1 (1, 1) -> physical (2.5, 2.5) -> output (125, -75), by hand
    np.testing.assert_allclose(graph.transform([[1.0, 1.0]], "s1", "output"), [[125.0, -75.0]])


def test_read_as_a_spatialdata_image(pyramid):
    """The spatialdata bridge reads the same 0.5 image; spatialdata's intrinsic pixel centres sit at i + 0.5."""
    from spatialdata.transformations import get_transformation

    image = read_rfc5_raster(zarr.open_group(pyramid, mode="r"), "images")
    assert list(image.children) == ["scale0", "scale1", "scale2"]
    t = get_transformation(image, "physical")
    # spatialdata intrinsic (y, x) = s0 centre (3 + 0.5, 5 + 0.5) -> physical (1.5, 1.25) as above
    affine = t.to_affine_matrix(input_axes=("y", "x"), output_axes=("y", "x"))
    np.testing.assert_allclose(affine @ [3.5, 5.5, 1.0], [1.5, 1.25, 1.0], rtol=1e-15)
