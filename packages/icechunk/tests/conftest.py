"""Shared fixtures of the icechunk plugin tests: small synthetic data and fresh repositories."""

from __future__ import annotations

import logging
from typing import Any

import pytest

logging.getLogger("ome_zarr").setLevel(logging.ERROR)


@pytest.fixture
def small_sdata() -> Any:
    """A small synthetic SpatialData with every element kind (fast to write)."""
    from spatialdata_plugins.core import synthetic_sdata

    return synthetic_sdata(seed=1, size=64, n_points=600, n_cells=8, n_genes=5)


@pytest.fixture
def repo_path(tmp_path: Any) -> str:
    """Path of a new local repository (created)."""
    import spatialdata_plugins.icechunk as sdi

    path = str(tmp_path / "analysis.icechunk")
    sdi.open_repository(path, create=True)
    return path


@pytest.fixture
def repo(repo_path: str) -> Any:
    """A new local repository."""
    import spatialdata_plugins.icechunk as sdi

    return sdi.open_repository(repo_path)


@pytest.fixture
def filled_repo(repo: Any, small_sdata: Any) -> Any:
    """A repository whose ``main`` holds ``small_sdata`` (one commit)."""
    import spatialdata_plugins.icechunk as sdi

    sdi.write(small_sdata, repo, message="initial data", progress=False)
    return repo
