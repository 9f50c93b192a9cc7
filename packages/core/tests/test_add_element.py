"""``add_element``: one element added to or replaced in an existing store, the other elements untouched."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr
from spatialdata.models import Image2DModel, TableModel

from spatialdata_plugins.core import (
    ElementExistsError,
    ElementWriteError,
    InvalidArgumentError,
    StoreNotFoundError,
    UnsafeOverwriteError,
    add_element,
    read,
    write,
)


def _image(value: float) -> object:
    return Image2DModel.parse(np.full((1, 16, 16), value, dtype="float32"), dims=("c", "y", "x"))


def _files(path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def store(tmp_path, synthetic_sdata):
    path = tmp_path / "data.zarr"
    write(synthetic_sdata, path)
    return path


def test_add_replace_and_leave_the_rest_untouched(store):
    before = {k: v for k, v in _files(store).items() if not k.startswith("images/extra") and "zarr.json" not in k}
    add_element(store, "extra", _image(1.0))  # the element type comes from spatialdata's model
    sdata = read(store)
    assert float(sdata.images["extra"].max()) == 1.0 and "image" in sdata.images and "transcripts" in sdata.points
    with pytest.raises(ElementExistsError, match="overwrite"):
        add_element(store, "extra", _image(2.0))
    with pytest.raises(ElementExistsError, match="another type|element of images"):
        add_element(store, "extra", _image(2.0), element_type="labels")
    add_element(store, "extra", _image(2.0), overwrite=True)
    assert float(read(store).images["extra"].max()) == 2.0
    after = _files(store)
    # every chunk and parquet file of the other elements is byte-identical
    assert all(after.get(k) == v for k, v in before.items())
    # consolidated metadata lists the new element (plain spatialdata reads it)
    import spatialdata

    assert "extra" in spatialdata.read_zarr(store).images


def test_tables_and_bad_input(store, synthetic_sdata):
    table = TableModel.parse(synthetic_sdata.tables["table"].copy())
    add_element(store, "second_table", table)
    assert read(store).tables["second_table"].n_obs == table.n_obs
    with pytest.raises(UnsafeOverwriteError, match="computed from it"):
        add_element(store, "image", _image(3.0), overwrite=True, reads_from=("image",))
    with pytest.raises(InvalidArgumentError, match="element type"):
        add_element(store, "x", [1, 2, 3])
    with pytest.raises(InvalidArgumentError, match="element_type"):
        add_element(store, "x", _image(1.0), element_type="movies")
    with pytest.raises(StoreNotFoundError):
        add_element(store.parent / "missing.zarr", "x", _image(1.0))


def test_a_failed_write_keeps_the_store_as_it_was(store):
    def boom(block):
        raise RuntimeError("the computation failed")

    failing = Image2DModel.parse(
        da.zeros((1, 16, 16), chunks=(1, 8, 8), dtype="float32").map_blocks(boom, dtype="float32"), dims=("c", "y", "x")
    )
    before = _files(store)
    with pytest.raises(ElementWriteError, match="nothing was kept"):
        add_element(store, "broken", failing)
    assert _files(store) == before
    add_element(store, "kept", _image(5.0))
    with pytest.raises(ElementWriteError, match="unchanged"):
        add_element(store, "kept", failing, overwrite=True)
    assert float(read(store).images["kept"].max()) == 5.0


def test_s3_store(s3_bucket, synthetic_sdata):
    url = f"{s3_bucket['url']}/data.zarr"
    options = s3_bucket["storage_options"]
    write(synthetic_sdata, url, storage_options=options)
    add_element(url, "extra", _image(4.0), storage_options=options)
    sdata = read(url, storage_options=options)
    assert float(sdata.images["extra"].max()) == 4.0 and "cells" in sdata.shapes
    root = zarr.open_group(f"{url}/images", mode="r", storage_options=options)
    assert "extra" in root and "image" in root
