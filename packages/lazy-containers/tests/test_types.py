"""Third-party container types: run-time registration, and a real package whose entry point is discovered."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spatialdata_plugins.core import SpatialData, read, write
from spatialdata_plugins.lazy_containers import (
    ENTRY_POINT_GROUP,
    InvalidContainerError,
    LazyContainer,
    UnknownContainerTypeError,
    UnresolvedContainer,
    container_types,
    get_container_type,
    refresh_container_types,
    register_container_type,
    unregister_container_type,
)

EXT_MODULE = '''
"""A third-party lazy container type: images from numpy .npy files (memory-mapped, then dask)."""
import numpy as np
from spatialdata_plugins.lazy_containers import LazyContainer


class NpyImageContainer(LazyContainer):
    type_name = "NpyImage"
    element_type = "images"

    def read_raw(self):
        return np.load(self.location, mmap_mode="r")

    def to_element(self, raw):
        import dask.array as da
        from spatialdata.models import Image2DModel

        return Image2DModel.parse(da.from_array(raw), dims=("c", "y", "x"), transformations=self.transformations())
'''


def build_and_install_wheel(tmp_path: Path) -> Path:
    """Build a pure-Python wheel with ``zipfile`` and install it the way installers do (unpack into a target)."""
    dist, version = "sdp-lazy-npy", "1.2.0"
    info = f"sdp_lazy_npy-{version}.dist-info"
    wheel = tmp_path / f"sdp_lazy_npy-{version}-py3-none-any.whl"
    files = {
        "sdp_lazy_npy/__init__.py": EXT_MODULE,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[{ENTRY_POINT_GROUP}]\nNpyImage = sdp_lazy_npy:NpyImageContainer\n",
        f"{info}/top_level.txt": "sdp_lazy_npy\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    return target


class installed:
    """Put an install target on ``sys.path`` (as a site directory would be) and forget it afterwards."""

    def __init__(self, site: Path) -> None:
        self.site = str(site)

    def __enter__(self) -> None:
        sys.path.insert(0, self.site)
        refresh_container_types()

    def __exit__(self, *exc: object) -> None:
        sys.path.remove(self.site)
        sys.modules.pop("sdp_lazy_npy", None)
        refresh_container_types()


def test_third_party_type_from_a_real_installed_package(tmp_path):
    site = build_and_install_wheel(tmp_path)
    image = np.arange(2 * 16 * 20, dtype=np.uint16).reshape(2, 16, 20)
    np.save(tmp_path / "img.npy", image)
    store = tmp_path / "s.zarr"
    with installed(site):
        # importlib.metadata finds the package's dist-info and its entry point
        cls = get_container_type("NpyImage")
        assert cls.__module__ == "sdp_lazy_npy"
        info = next(t for t in container_types() if t.name == "NpyImage")
        assert info.source == "entry point" and info.distribution == "sdp-lazy-npy" and info.element_type == "images"
        sdata = SpatialData()
        sdata.attach(cls(tmp_path / "img.npy", key="npy"))
        assert int(sdata["npy"].data.sum().compute()) == int(image.sum())
        write(sdata, store)
        assert sdata.attached["npy"].to_dict()["distribution"] == "sdp-lazy-npy"
    # without the package: the store opens, the element names the missing distribution
    sdata = read(store)
    assert sdata.is_lazy("npy") and isinstance(sdata.attached["npy"], UnresolvedContainer)
    assert "needs sdp-lazy-npy" in repr(sdata)
    with pytest.raises(UnknownContainerTypeError, match=r"install the distribution 'sdp-lazy-npy'.*1\.2\.0") as info:
        sdata["npy"]
    assert "'npy'" in str(info.value) and "NpyImage" in str(info.value)
    assert sdata.is_lazy("npy")
    # writing keeps the unknown link exactly as stored
    write(sdata, tmp_path / "again.zarr")
    with installed(site):
        back = read(tmp_path / "again.zarr")
        assert type(back.attached["npy"]).__name__ == "NpyImageContainer"
        np.testing.assert_array_equal(back["npy"].data.compute(), image)


def test_broken_entry_point_is_reported(tmp_path):
    site = build_and_install_wheel(tmp_path)
    (site / "sdp_lazy_npy" / "__init__.py").write_text("raise ImportError('numpy too old')\n")
    with installed(site):
        with pytest.raises(UnknownContainerTypeError, match="entry point failed to load.*numpy too old"):
            get_container_type("NpyImage")
        info = next(t for t in container_types() if t.name == "NpyImage")
        assert "numpy too old" in info.error


class CountingPoints(LazyContainer):
    """A run-time type: ``n`` points on a diagonal, no file needed beyond existence."""

    type_name = "TestDiagonalPoints"
    element_type = "points"

    def __init__(self, location, key=None, *, n: int = 3, **kwargs):
        super().__init__(location, key, **kwargs)
        self.n = n

    def params(self):
        return {"n": self.n}

    def read_raw(self):
        import pandas as pd

        return pd.DataFrame({"x": np.arange(float(self.n)), "y": np.arange(float(self.n))})

    def to_element(self, raw):
        from spatialdata.models import PointsModel

        return PointsModel.parse(raw, transformations=self.transformations())


@pytest.fixture
def diagonal():
    register_container_type(CountingPoints)
    yield CountingPoints
    unregister_container_type("TestDiagonalPoints")


def test_runtime_registration_round_trip(diagonal, files, tmp_path):
    assert get_container_type("TestDiagonalPoints") is CountingPoints
    info = next(t for t in container_types() if t.name == "TestDiagonalPoints")
    assert info.source == "runtime"
    sdata = SpatialData()
    sdata.attach(CountingPoints(files.path("notes.txt"), key="diag", n=5))
    write(sdata, tmp_path / "s.zarr")
    back = read(tmp_path / "s.zarr")
    assert back.attached["diag"].n == 5 and len(back["diag"].compute()) == 5


def test_registration_errors(diagonal):
    with pytest.raises(InvalidContainerError, match="already registered"):
        register_container_type(type("Other", (CountingPoints,), {}), "TestDiagonalPoints")
    with pytest.raises(InvalidContainerError, match="already registered"):
        register_container_type(type("Clash", (CountingPoints,), {"type_name": "ParquetShapes"}))
    with pytest.raises(InvalidContainerError, match="LazyContainer subclass"):
        register_container_type(dict, "Dict")
    with pytest.raises(InvalidContainerError, match="element_type"):
        register_container_type(type("NoKind", (LazyContainer,), {"type_name": "NoKind"}))
    replacement = register_container_type(type("Better", (CountingPoints,), {}), "TestDiagonalPoints", replace=True)
    assert get_container_type("TestDiagonalPoints") is replacement
    with pytest.raises(UnknownContainerTypeError, match="no installed package provides it"):
        get_container_type("NoSuchType")


def test_unknown_type_without_distribution(tmp_path, files):
    sdata = SpatialData()
    sdata.attach(UnresolvedContainer({"type": "Mystery", "location": files.path("notes.txt"), "key": "m"}))
    with pytest.raises(UnknownContainerTypeError, match="install the package that provides it"):
        sdata["m"]
