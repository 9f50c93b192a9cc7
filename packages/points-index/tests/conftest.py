"""Shared fixtures: synthetic points and indexed stores."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from pi_helpers import make_points


@pytest.fixture(scope="session")
def points_df():
    return make_points()


@pytest.fixture(scope="session")
def standalone_index(points_df, tmp_path_factory):
    from spatialdata_plugins.points_index import build_points_index

    path = tmp_path_factory.mktemp("idx") / "standalone.zarr"
    return build_points_index(points_df, target=str(path), feature_key="gene", progress=False, points_per_chunk=32)


@pytest.fixture
def plugin(sdp_register):
    """A fresh registry with the core defaults and this plugin."""
    from spatialdata_plugins.points_index import _plugin

    sdp_register(_plugin, name="points-index")
    return _plugin
