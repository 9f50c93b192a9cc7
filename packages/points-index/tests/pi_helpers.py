"""Helpers of the points-index tests: synthetic points and brute-force answers."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_points(
    n: int = 20_000, seed: int = 0, n_genes: int = 30, clustered: bool = False, dim: int = 2
) -> pd.DataFrame:
    """Seeded synthetic transcripts in a 1000-wide extent with a categorical gene column."""
    rng = np.random.default_rng(seed)
    if clustered:
        centres = rng.uniform(50, 950, size=(40, dim))
        owner = rng.integers(0, 40, n)
        xyz = centres[owner] + rng.normal(0, 12, size=(n, dim))
    else:
        xyz = rng.uniform(0, 1000, size=(n, dim))
    data = {a: xyz[:, i].astype("float32") for i, a in enumerate("xyz"[:dim])}
    data["gene"] = pd.Categorical(rng.choice([f"gene_{g:02d}" for g in range(n_genes)], n))
    data["score"] = rng.normal(size=n)
    return pd.DataFrame(data)


def brute(df: pd.DataFrame, bbox=None, genes=None) -> pd.Index:
    """The rows a query must return: strict inequalities, gene membership."""
    m = np.ones(len(df), dtype=bool)
    if bbox is not None:
        dim = len(bbox) // 2
        for i, a in enumerate("xyz"[:dim]):
            m &= (df[a].to_numpy() > bbox[i]) & (df[a].to_numpy() < bbox[dim + i])
    if genes is not None:
        m &= df["gene"].isin(genes).to_numpy()
    return df.index[m]


class CountingFS:
    """Forward to an fsspec filesystem and count the bytes its ``cat_file``/``cat`` calls return."""

    def __init__(self, fs) -> None:
        self._fs = fs
        self.bytes_read = 0

    def cat_file(self, path, start=None, end=None, **kwargs):
        data = self._fs.cat_file(path, start=start, end=end, **kwargs)
        self.bytes_read += len(data)
        return data

    def open(self, *args, **kwargs):
        raise AssertionError("the index must not open whole files")

    def __getattr__(self, name):
        return getattr(self._fs, name)


def sdata_with_points(df: pd.DataFrame):
    """A core SpatialData holding ``df`` as points element ``transcripts`` (feature key ``gene``)."""
    import dask.dataframe as dd
    from spatialdata.models import PointsModel

    from spatialdata_plugins.core import SpatialData

    points = PointsModel.parse(dd.from_pandas(df, npartitions=2), feature_key="gene")
    return SpatialData(points={"transcripts": points})
