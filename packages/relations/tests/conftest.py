"""Fixtures of the relations tests."""

from __future__ import annotations

import sys
from pathlib import Path

import dask
import pytest

# the helper module lives next to the tests
sys.path.insert(0, str(Path(__file__).parent))

from relations_testdata import make_sdata


@pytest.fixture(autouse=True)
def _threads():
    with dask.config.set(scheduler="threads", num_workers=2):
        yield


@pytest.fixture
def sdata():
    """A fresh synthetic SpatialData (core subclass) for each test."""
    return make_sdata(seed=0)
