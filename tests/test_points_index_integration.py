"""Integration: the installed points-index plugin through the real entry points (core write, read, CLI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from click.testing import CliRunner


def _sdata(n: int = 5_000):
    import dask.dataframe as dd
    from spatialdata.models import PointsModel

    from spatialdata_plugins.core import SpatialData

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "x": rng.uniform(0, 100, n).astype("float32"),
            "y": rng.uniform(0, 100, n).astype("float32"),
            "gene": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        }
    )
    return df, SpatialData(points={"t": PointsModel.parse(dd.from_pandas(df, npartitions=2), feature_key="gene")})


def test_entry_point_write_and_cli(tmp_path):
    from spatialdata_plugins.core import build_cli, list_plugins, read, write
    from spatialdata_plugins.points_index import build_points_index, query_points

    assert any(p.name == "points-index" and p.loaded for p in list_plugins(refresh=True))
    df, sdata = _sdata()
    build_points_index(sdata, "t")
    path = str(tmp_path / "d.zarr")
    write(sdata, path)
    got = query_points(read(path), "t", bbox=(10, 10, 40, 50), genes=["a"])
    m = (df.x > 10) & (df.x < 40) & (df.y > 10) & (df.y < 50) & (df.gene == "a")
    assert sorted(got.index) == sorted(df.index[m])
    res = CliRunner().invoke(build_cli(), ["points-index", "query", path, "t", "--bbox", "10,10,40,50", "--genes", "a"])
    assert res.exit_code == 0, res.output
    assert f"{int(m.sum())} points" in res.output
