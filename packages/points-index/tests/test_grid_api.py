"""The public grid API a viewer uses: levels, cells with their rows, and reading rows of cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spatialdata_plugins.core import InvalidArgumentError


def _level_cells(frame: pd.DataFrame, lo: list[float], size: float, dim_axes: list[str]) -> pd.DataFrame:
    """Per non-empty cell of one level (computed here from the coordinates): the number of points."""
    cols = {
        f"cell_{a}": np.floor((frame[a].to_numpy(np.float64) - lo[i]) / size).astype(np.int64)
        for i, a in enumerate(dim_axes)
    }
    return pd.DataFrame(cols).value_counts().rename("count").reset_index()


def test_cells_and_rows_match_the_points(standalone_index, points_df):
    index = standalone_index
    every = index.query(include_level=True)  # each point's level (the index's own assignment)
    lo, hi = index.bounds
    assert all(h - l_ == pytest.approx(index.cell_size(0)) for l_, h in zip(lo, hi, strict=True))
    summary = index.level_summary()
    assert summary["rows"].sum() == len(points_df)
    for level in range(index.n_levels):
        assert index.grid_shape(level) == (1 << level,) * 2
        size = index.cell_size(level)
        at_level = every[every["level"] == level]
        want = _level_cells(at_level, lo, size, ["x", "y"])
        got = index.cells(level)
        assert len(got) == summary["cells"][level]
        merged = got.merge(want, on=["cell_x", "cell_y"], suffixes=("", "_want"), how="outer")
        assert (merged["count"] == merged["count_want"]).all()
        # the rows of a few cells are exactly the points of the level inside them
        for row in got.sample(min(len(got), 5), random_state=level).itertuples():
            starts, stops = index.cell_rows(level, [[row.cell_x, row.cell_y]])
            assert (starts[0], stops[0]) == (row.start, row.start + row.count)
            frame = index.read_rows(starts, stops, ["x", "y", "gene", "__index__"])
            inside = at_level[
                (np.floor((at_level["x"].to_numpy(np.float64) - lo[0]) / size) == row.cell_x)
                & (np.floor((at_level["y"].to_numpy(np.float64) - lo[1]) / size) == row.cell_y)
            ]
            assert sorted(frame["__index__"]) == sorted(inside.index)
            back = points_df.loc[frame["__index__"]]
            assert np.array_equal(back["x"].to_numpy(), frame["x"].to_numpy())
            assert (back["gene"].astype(str).to_numpy() == frame["gene"].astype(str).to_numpy()).all()
            codes = index.read_rows(starts, stops, ["gene"], codes=True)["gene"].to_numpy()
            cats = np.asarray(index.categories("gene"))
            assert (cats[codes] == frame["gene"].astype(str).to_numpy()).all()


def test_cells_in_a_box_and_empty_cells(standalone_index):
    index = standalone_index
    level = index.n_levels - 1
    box = (200, 300, 450, 500)
    got = index.cells(level, box)
    size = index.cell_size(level)
    lo = index.bounds[0]
    assert len(got)
    assert (got["cell_x"] >= np.floor((box[0] - lo[0]) / size)).all()
    assert (got["cell_x"] <= np.floor((box[2] - lo[0]) / size)).all()
    assert (got["cell_y"] >= np.floor((box[1] - lo[1]) / size)).all()
    everything = index.cells(level)
    inside = everything[
        (everything["cell_x"] >= np.floor((box[0] - lo[0]) / size))
        & (everything["cell_x"] <= np.floor((box[2] - lo[0]) / size))
        & (everything["cell_y"] >= np.floor((box[1] - lo[1]) / size))
        & (everything["cell_y"] <= np.floor((box[3] - lo[1]) / size))
    ]
    assert sorted(got["start"]) == sorted(inside["start"])
    # outside the grid or empty: an empty range
    starts, stops = index.cell_rows(level, [[-1, 0], [1 << level, 0]])
    assert (starts == stops).all()
    assert index.read_rows([], []).empty


def test_grid_api_bad_input(standalone_index):
    index = standalone_index
    with pytest.raises(InvalidArgumentError):
        index.cell_rows(index.n_levels, [[0, 0]])
    with pytest.raises(InvalidArgumentError, match="shape"):
        index.cell_rows(0, [[0, 0, 0]])
    with pytest.raises(InvalidArgumentError, match="overlap"):
        index.read_rows([0, 5], [10, 12])
    with pytest.raises(InvalidArgumentError, match="start <= stop"):
        index.read_rows([0], [index.n_rows + 1])
    with pytest.raises(InvalidArgumentError, match="unknown column"):
        index.read_rows([0], [1], ["nope"])
