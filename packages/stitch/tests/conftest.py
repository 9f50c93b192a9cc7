"""Shared fixtures: small seeded synthetic tiles, and a threaded dask scheduler for every test."""

from __future__ import annotations

import dask
import pytest

from spatialdata_plugins.stitch import synthetic_tiles


@pytest.fixture(autouse=True)
def _threads():
    # never dask's default process pool in tests (multiview-stitcher's register() would spawn processes)
    with dask.config.set(scheduler="threads", num_workers=2):
        yield


@pytest.fixture
def tiles():
    """2x2 tiles of 128 px, 20 % overlap, stage positions perturbed by up to 3 px (first tile exact)."""
    return synthetic_tiles(grid=(2, 2), tile_size=128, jitter=3.0, seed=0)


@pytest.fixture
def exact_tiles():
    """2x2 tiles of 96 px at their true positions, two channels, with label tiles."""
    return synthetic_tiles(grid=(2, 2), tile_size=96, jitter=0.0, channels=("DAPI", "GFP"), labels=True, seed=3)
