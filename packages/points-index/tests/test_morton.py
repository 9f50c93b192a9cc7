"""Box decomposition into Morton code ranges: exact cover, and coarser levels derived from the finest."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialdata_plugins.points_index._morton import box_code_ranges, coarsen_ranges, morton


def _cells_in(ranges: np.ndarray) -> set[int]:
    return {c for a, b in ranges.tolist() for c in range(a, b)}


@st.composite
def boxes(draw, dim: int):
    level = draw(st.integers(0, 6 if dim == 2 else 4))
    side = 1 << level
    lo = [draw(st.integers(0, side - 1)) for _ in range(dim)]
    hi = [draw(st.integers(a, side - 1)) for a in lo]
    return level, lo, hi


@settings(max_examples=150, deadline=None)
@given(data=st.data(), dim=st.sampled_from([2, 3]))
def test_box_ranges_cover_exactly_the_box_and_coarsen_to_the_parent_level(data, dim):
    level, lo, hi = data.draw(boxes(dim))
    ranges = box_code_ranges(lo, hi, level)
    grids = np.meshgrid(*[np.arange(a, b + 1, dtype=np.uint64) for a, b in zip(lo, hi, strict=True)], indexing="ij")
    expected = set(morton([g.ravel() for g in grids]).tolist())
    assert _cells_in(ranges) == expected
    assert np.all(ranges[1:, 0] > ranges[:-1, 1])  # sorted, disjoint, not touching (merged)
    for up in range(level + 1):
        coarse = level - up
        direct = box_code_ranges([v >> up for v in lo], [v >> up for v in hi], coarse)
        np.testing.assert_array_equal(coarsen_ranges(ranges, dim * up), direct)
