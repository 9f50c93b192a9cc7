"""Helpers of the points-index tests: synthetic points and brute-force answers."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_points(n: int = 20_000, seed: int = 0, n_genes: int = 30, clustered: bool = False, dim: int = 2) -> pd.DataFrame:
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
