"""Shared fixtures: a small synthetic store with an image, labels, shapes and indexed points of known layout."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from viewer_helpers import make_sdata


@pytest.fixture(scope="session")
def store_sdata():
    return make_sdata()


@pytest.fixture(scope="session")
def store(store_sdata, tmp_path_factory):
    """The synthetic store written with its points index (returns the path)."""
    from spatialdata_plugins.core import write

    path = tmp_path_factory.mktemp("viewer") / "data.zarr"
    write(store_sdata, str(path), points_index={"transcripts": {"points_per_chunk": 16}})
    return str(path)
