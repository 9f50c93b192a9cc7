"""Bad input gives clear errors from the core's hierarchy, and the input SpatialData is never modified."""

from __future__ import annotations

import re

import numpy as np
import pytest
from spatialdata import SpatialData
from spatialdata.models import Image2DModel, Image3DModel
from spatialdata.transformations import Identity, Translation, get_transformation

from spatialdata_plugins.core import InvalidArgumentError, SpatialDataPluginError
from spatialdata_plugins.stitch import (
    NoOverlapError,
    NoTilesMatchedError,
    TileMismatchError,
    fuse_sdata_images,
    register_sdata_images,
    synthetic_tiles,
)


def _image(shape=(1, 32, 32), cs="global", offset=(0.0, 0.0), channels=None, dtype=np.uint16):
    data = np.random.default_rng(0).integers(0, 1000, size=shape).astype(dtype)
    model = Image3DModel if len(shape) == 4 else Image2DModel
    axes = ("z", "y", "x")[-(len(shape) - 1) :]
    transformation = Translation(list(offset), axes=axes[-len(offset) :]) if any(offset) else Identity()
    return model.parse(
        data,
        dims=("c", *axes),
        c_coords=channels or [f"ch{i}" for i in range(shape[0])],
        transformations={cs: transformation},
    )


def _snapshot(sdata):
    return {
        name: (get_transformation(el, get_all=True), el.attrs.copy())
        for name, el in [*sdata.images.items(), *sdata.labels.items()]
    }


@pytest.fixture
def small():
    sdata, _ = synthetic_tiles(grid=(1, 2), tile_size=32, jitter=0.0, labels=True, seed=0)
    return sdata


@pytest.mark.parametrize("elements", ["nothing_*", ["tile_0_0", "missing"], re.compile("fov_\\d+"), []])
def test_no_elements_matched(small, elements):
    before = _snapshot(small)
    with pytest.raises(NoTilesMatchedError) as info:
        fuse_sdata_images(small, elements, progress=False)
    assert isinstance(info.value, KeyError) and isinstance(info.value, SpatialDataPluginError)
    assert "tile_0_0" in str(info.value)  # the message lists what is available
    assert _snapshot(small) == before


def test_elements_in_different_coordinate_systems():
    sdata = SpatialData(images={"a": _image(cs="global"), "b": _image(cs="aligned", offset=(0, 20))})
    with pytest.raises(TileMismatchError, match=r"'b' has no transformation to coordinate system 'global'.*'aligned'"):
        fuse_sdata_images(sdata, ["a", "b"], progress=False)


def test_mismatched_channels():
    sdata = SpatialData(images={"a": _image(channels=["DAPI"]), "b": _image(channels=["GFP"], offset=(0, 20))})
    with pytest.raises(TileMismatchError, match="differ in channels.*DAPI.*GFP"):
        fuse_sdata_images(sdata, ["a", "b"], progress=False)
    two = SpatialData(images={"a": _image(), "b": _image(shape=(2, 32, 32), offset=(0, 20))})
    with pytest.raises(TileMismatchError, match="channels"):
        fuse_sdata_images(two, None, progress=False)


def test_mismatched_dimensions_kinds_and_dtypes(small):
    mixed = SpatialData(images={"a": _image(), "b": _image(shape=(1, 4, 32, 32))})
    with pytest.raises(TileMismatchError, match="2D and 3D"):
        fuse_sdata_images(mixed, ["a", "b"], progress=False)
    with pytest.raises(TileMismatchError, match="images and labels"):
        fuse_sdata_images(small, ["tile_0_0", "labels_0_0"], progress=False)
    dtypes = SpatialData(images={"a": _image(), "b": _image(offset=(0, 20), dtype=np.float32)})
    with pytest.raises(TileMismatchError, match="dtype"):
        fuse_sdata_images(dtypes, ["a", "b"], progress=False)


def test_tiles_that_do_not_overlap_when_registration_is_asked(small):
    apart = SpatialData(images={"a": _image(), "b": _image(offset=(0, 20)), "c": _image(offset=(500, 500))})
    before = _snapshot(apart)
    with pytest.raises(NoOverlapError, match=r"\{a, b\}; \{c\}"):
        fuse_sdata_images(apart, None, register=True, update_transformations=True, progress=False)
    with pytest.raises(NoOverlapError):
        register_sdata_images(apart, ["a", "c"], update_transformations=True, progress=False)
    assert _snapshot(apart) == before
    # fusing without registration is fine: the gap stays empty
    assert fuse_sdata_images(apart, None, progress=False).shape == (1, 532, 532)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fusion_method": "median"}, "fusion_method"),
        ({"output_spacing": 0}, "positive"),
        ({"output_spacing": {"y": 1.0}}, "axes"),
        ({"output_extent": {"y": (10, 0), "x": (0, 10)}}, "max > min"),
        ({"update_transformations": True}, "register=True"),
        ({"multiscale": [1]}, ">= 2"),
        ({"register": True, "channel": "GFP"}, "not a channel"),
        ({"register": True, "transform": "bspline"}, "transform"),
        ({"register": True, "registration_method": "magic"}, "registration_method"),
        ({"register": True, "reference": "nope"}, "reference"),
        ({"coordinate_system": 3}, "coordinate_system"),
    ],
)
def test_invalid_arguments(small, kwargs, message):
    before = _snapshot(small)
    with pytest.raises(InvalidArgumentError, match=message):
        fuse_sdata_images(small, "tile_*", progress=False, **kwargs)
    assert _snapshot(small) == before


def test_labels_refuse_blending_and_interpolation(small):
    with pytest.raises(InvalidArgumentError, match="invent ids"):
        fuse_sdata_images(small, "labels_*", fusion_method="weighted_average", progress=False)
    with pytest.raises(InvalidArgumentError, match="nearest"):
        fuse_sdata_images(small, "labels_*", interpolation_order=1, progress=False)
