"""Shared fixtures: a seeded generator, a homogeneous Poisson sampler, a disc contour; Agg backend for plots."""

from __future__ import annotations

import dask
import matplotlib
import numpy as np
import pytest
import shapely

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _threads():
    with dask.config.set(scheduler="threads", num_workers=2):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def poisson(rng):
    """``poisson(intensity, (xmin, ymin, xmax, ymax))``: a homogeneous Poisson process as an (n, 2) array."""

    def sample(intensity: float, box: tuple[float, float, float, float]) -> np.ndarray:
        xmin, ymin, xmax, ymax = box
        n = rng.poisson(intensity * (xmax - xmin) * (ymax - ymin))
        return np.c_[rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n)]

    return sample


@pytest.fixture
def disc() -> shapely.Polygon:
    return shapely.Point(0, 0).buffer(60, quad_segs=64)
