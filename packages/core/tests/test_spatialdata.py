"""The plugin-aware SpatialData: item access, attach/detach, repr and write go through the hooks."""

from __future__ import annotations

import geopandas as gpd
import pytest
import spatialdata

from spatialdata_plugins.core import (
    ElementExistsError,
    ElementNotFoundError,
    InvalidArgumentError,
    SpatialData,
    UnsupportedElementError,
    hookimpl,
    read,
    write,
)


def test_read_returns_subclass_accepted_by_spatialdata(tmp_path, synthetic_sdata):
    write(synthetic_sdata, tmp_path / "x.zarr")
    sdata = read(tmp_path / "x.zarr")
    assert isinstance(sdata, spatialdata.SpatialData) and isinstance(sdata, SpatialData)
    # spatialdata's own functions accept it
    cropped = spatialdata.bounding_box_query(
        sdata, axes=("x", "y"), min_coordinate=[0, 0], max_coordinate=[50, 50], target_coordinate_system="global"
    )
    assert len(cropped["transcripts"].compute()) < len(sdata["transcripts"].compute())


def test_item_access_calls_the_hook(sdp_register, synthetic_sdata):
    seen = []

    class Spy:
        @hookimpl
        def sdp_access_element(self, sdata, name, obj):
            seen.append(name)

    sdp_register(Spy(), name="spy")
    assert synthetic_sdata["cells"] is synthetic_sdata.shapes["cells"]
    assert seen == ["cells"]


def test_attach_resolves_on_first_access(sdp_fake_entry_points, synthetic_sdata):
    sdp_fake_entry_points([("good", "plugins_for_tests.good")])
    from plugins_for_tests.good import Greeting

    sdata = synthetic_sdata
    name = sdata.attach(Greeting(key="greetings", n=3))
    assert name == "greetings" and sdata.is_attached("greetings") and not sdata.is_resolved("greetings")
    assert "greetings" in sdata
    assert "'greetings': [lazy] Greeting x3" in repr(sdata)
    assert "greetings" not in sdata.shapes  # spatialdata functions do not see it before access
    shapes = sdata["greetings"]
    assert isinstance(shapes, gpd.GeoDataFrame) and len(shapes) == 3
    assert sdata.is_resolved("greetings") and sdata.shapes["greetings"] is shapes
    assert sdata["greetings"] is shapes  # cached
    assert "[lazy] Greeting" not in repr(sdata)
    obj = sdata.detach("greetings")
    assert obj.n == 3 and "greetings" not in sdata and "greetings" not in sdata.shapes


def test_is_lazy_and_materialize(sdp_fake_entry_points, synthetic_sdata):
    sdp_fake_entry_points([("good", "plugins_for_tests.good")])
    from plugins_for_tests.good import Greeting

    sdata = synthetic_sdata
    sdata.attach(Greeting(key="a", n=2))
    sdata.attach(Greeting(key="b", n=3))
    assert sdata.is_lazy("a") and sdata.is_lazy("b") and not sdata.is_lazy("cells")
    with pytest.raises(ElementNotFoundError, match="nope"):
        sdata.is_lazy("nope")
    with pytest.raises(ElementNotFoundError, match="cells"):
        sdata.materialize("cells")  # a regular element is not attached
    assert sdata.materialize("a", progress=False) == ["a"]
    assert not sdata.is_lazy("a") and sdata.is_resolved("a") and sdata.is_lazy("b")
    assert sdata.materialize(progress=False) == ["b"]  # "a" is already resolved
    assert len(sdata.shapes["b"]) == 3 and sdata.is_attached("b")
    sdata.materialize(["a"], keep_links=False, progress=False)
    assert not sdata.is_attached("a") and len(sdata.shapes["a"]) == 2 and not sdata.is_lazy("a")


def test_attach_errors(sdp_registry, synthetic_sdata):
    with pytest.raises(ElementExistsError, match="cells"):
        synthetic_sdata.attach(object(), name="cells")
    with pytest.raises(InvalidArgumentError, match="give a name"):
        synthetic_sdata.attach(object())
    synthetic_sdata.attach(object(), name="mystery")
    with pytest.raises(UnsupportedElementError, match="mystery.*install the plugin"):
        synthetic_sdata["mystery"]
    with pytest.raises(ElementExistsError):
        synthetic_sdata["mystery"] = synthetic_sdata["cells"]
    with pytest.raises(ElementNotFoundError):
        synthetic_sdata.detach("nothing")


def test_write_of_unresolvable_attached_object_fails_cleanly(tmp_path, sdp_registry, synthetic_sdata):
    synthetic_sdata.attach(object(), name="mystery")
    with pytest.raises(UnsupportedElementError, match="mystery"):
        write(synthetic_sdata, tmp_path / "x.zarr")
    assert not (tmp_path / "x.zarr").exists()


def test_write_and_read_hooks_for_attached_objects(tmp_path, sdp_register, synthetic_sdata):
    """A plugin stores a link for an attached object and re-attaches it on read (what lazy containers do)."""

    class Link:
        def __init__(self, key, target):
            self.key, self.target = key, target

    class LinkPlugin:
        @hookimpl
        def sdp_write_element(self, sdata, location, root, element_type, name, element, options):
            if isinstance(element, Link):
                links = dict(root.attrs.get("links", {}))
                links[name] = element.target
                root.attrs["links"] = links
                return True
            return None

        @hookimpl
        def sdp_after_read(self, sdata, location, root):
            for name, target in root.attrs.get("links", {}).items():
                sdata.attach(Link(name, target))

    sdp_register(LinkPlugin(), name="links")
    synthetic_sdata.attach(Link("external", "/data/cells.parquet"))
    out = tmp_path / "x.zarr"
    synthetic_sdata.write(out)
    back = read(out)
    assert back.attached["external"].target == "/data/cells.parquet"
    assert back.is_attached("external") and not back.is_resolved("external")
    # plain spatialdata still opens the store and ignores the link
    plain = spatialdata.read_zarr(out)
    assert "external" not in plain and "transcripts" in plain.points


def test_write_method_defaults_to_source(tmp_path, synthetic_sdata):
    out = tmp_path / "x.zarr"
    synthetic_sdata.write(out)
    back = read(out)
    back["transcripts"] = (
        back["transcripts"].compute().pipe(lambda df: spatialdata.models.PointsModel.parse(df, feature_key="gene"))
    )
    for name in list(back.images) + list(back.labels):
        del back[name]
    back.write(overwrite=True)  # nothing lazy is left that the store backs, so overwriting it is safe
    again = read(out)
    assert not again.images and "transcripts" in again.points


def test_from_spatialdata_shares_elements(synthetic_sdata):
    plain = spatialdata.SpatialData(shapes=dict(synthetic_sdata.shapes))
    wrapped = SpatialData.from_spatialdata(plain)
    assert wrapped["cells"] is plain["cells"]
    assert SpatialData.from_spatialdata(wrapped) is wrapped
