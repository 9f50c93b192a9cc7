"""Relations benchmark: a spatial link against ``geopandas.sjoin``, a SQL join against ``join_spatialelement_table``.

1M square cells on a grid and 1M nuclei (16-gon polygons), one inside each cell; a 1M-row table annotating the cells
through spatialdata's ``region`` / ``instance_key`` fields.

- ``sjoin``: ``annotate_by_table(sdata, "nuclei", "table", method="sjoin", via="cells", predicate="within")``
  followed by the first ``get_element_mapping(sdata, "nuclei", "table")`` (evaluates the link: fingerprints, the
  spatial join, composition with the cells' table rows, the mapping frame) against
  ``geopandas.sjoin(nuclei, cells, predicate="within")``.
- ``sql join``: ``to_duckdb(sdata, elements=["cells", "table"], geometry=False, spatial=False)`` and a SQL join of
  the table with the cells through the edge view, fetched as Arrow, against
  ``spatialdata.join_spatialelement_table(..., how="left")``: the same rows and columns (the table's rows that
  annotate a cell, ``obs_name`` and every ``obs`` column), compared row for row. ``cold``: a fresh object;
  ``warm``: the object went through the same call once before (untimed), as a second query would.
- ``sql join + geometry``: the same with the spatial extension loaded and each row's cell area (``ST_Area``), against
  the join followed by geopandas' areas of the cells (compared to 1e-12); reported, not a target of the list.

Runs are interleaved (ours, theirs, ours, ...); every run gets freshly built frames, so no spatial index or cache is
carried over (a warm run's own untimed first call is on its own fresh frames). Peak memory is the largest
resident-set growth during the call, sampled every 2 ms. Medians of
``--repeats`` runs, with min-max spread.

Run::

    uv run --frozen --all-packages python benchmarks/bench_relations.py [--n 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import os
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psutil
import shapely

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ratio


def make_data(n: int, seed: int = 0) -> dict[str, Any]:
    """Cells (boxes on a grid), one nucleus inside each (a 16-gon), and table columns, as plain arrays."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x0, y0 = (i % side) * 12.0, (i // side) * 12.0
    cells = shapely.box(x0, y0, x0 + 10.0, y0 + 10.0)
    r = rng.uniform(1.0, 2.0, n)
    cx = x0 + rng.uniform(2.5, 7.5, n)
    cy = y0 + rng.uniform(2.5, 7.5, n)
    nuclei = shapely.buffer(shapely.points(cx, cy), r, quad_segs=4)
    return {
        "cells": cells,
        "nuclei": nuclei,
        "cell_type": pd.Categorical.from_codes(rng.integers(0, 8, n), [f"type{k}" for k in range(8)]),
        "score": rng.normal(size=n),
        "order": rng.permutation(n),
    }


def build_sdata(data: dict[str, Any]) -> Any:
    """A fresh SpatialData over the arrays (new frames: no spatial index, no cached link)."""
    from anndata import AnnData
    from spatialdata import SpatialData
    from spatialdata.models import ShapesModel, TableModel

    n = len(data["cells"])
    cells = gpd.GeoDataFrame({"cell_id": np.arange(n)}, geometry=gpd.GeoSeries(data["cells"]))
    nuclei = gpd.GeoDataFrame(geometry=gpd.GeoSeries(data["nuclei"]))
    order = data["order"]
    obs = pd.DataFrame(
        {
            "region": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), ["cells"]),
            "instance": order,
            "cell_type": data["cell_type"],
            "score": data["score"],
        },
        index=pd.Index([f"r{k}" for k in range(n)]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = TableModel.parse(AnnData(obs=obs), region="cells", region_key="region", instance_key="instance")
        return SpatialData(
            shapes={"cells": ShapesModel.parse(cells), "nuclei": ShapesModel.parse(nuclei)}, tables={"table": table}
        )


def _release_free_memory() -> None:
    """Give freed heap memory back to the OS, so that the next call's growth shows in the resident set."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the growth is then a lower bound
        pass


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """``(seconds, peak resident-set growth in MB, result)`` of one call."""
    gc.collect()
    _release_free_memory()
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return seconds, (peak[0] - base) / 1e6, result


def sjoin_ours(sdata: Any) -> pd.DataFrame:
    from spatialdata_plugins.relations import annotate_by_table, get_element_mapping

    annotate_by_table(sdata, "nuclei", "table", method="sjoin", via="cells", predicate="within")
    return get_element_mapping(sdata, "nuclei", "table")


def sjoin_theirs(sdata: Any) -> pd.DataFrame:
    return gpd.sjoin(sdata["nuclei"], sdata["cells"], predicate="within")


# the table's rows that annotate a cell, with their obs columns: what join_spatialelement_table(how="left") returns
# as its table (its element comes back unchanged), here through the edge view and the cells' view
SQL = (
    'select t.* exclude (obs_index) from "table" t '
    "join cells__table l using (obs_index) join cells c using (instance_id)"
)
# the same with the area of each row's cell, computed by DuckDB's spatial extension from the cells' geometries
SQL_GEOMETRY = (
    'select t.* exclude (obs_index), ST_Area(c.geometry) as area from "table" t '
    "join cells__table l using (obs_index) join cells c using (instance_id)"
)


def sql_ours(sdata: Any) -> Any:
    from spatialdata_plugins.relations import to_duckdb

    # no geometry is asked for, so neither the spatial extension nor a WKB encoding is needed
    con = to_duckdb(sdata, elements=["cells", "table"], geometry=False, spatial=False)
    return con.sql(SQL).to_arrow_table()


def sql_geometry_ours(sdata: Any) -> Any:
    from spatialdata_plugins.relations import to_duckdb

    con = to_duckdb(sdata, elements=["cells", "table"])
    return con.sql(SQL_GEOMETRY).to_arrow_table()


def sql_theirs(sdata: Any) -> Any:
    from spatialdata import join_spatialelement_table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return join_spatialelement_table(sdata, spatial_element_names="cells", table_name="table", how="left")


def sql_geometry_theirs(sdata: Any) -> Any:
    """The join, then each row's cell area from geopandas (what a user of spatialdata would write for the area)."""
    elements, table = sql_theirs(sdata)
    area = elements["cells"].geometry.area.to_numpy()[table.obs["instance"].to_numpy()]
    return elements, table, area


def same_sjoin(ours: pd.DataFrame, theirs: pd.DataFrame, sdata: Any) -> bool:
    obs = sdata.tables["table"].obs
    row_of_cell = pd.Series(obs.index.to_numpy(), index=obs["instance"].to_numpy())
    expected = pd.DataFrame(
        {"instance_id": theirs.index.to_numpy(), "obs_name": row_of_cell.loc[theirs["index_right"]].to_numpy()}
    )
    key = ["instance_id", "obs_name"]
    return ours[key].sort_values(key).reset_index(drop=True).equals(expected.sort_values(key).reset_index(drop=True))


def same_sql(ours: Any, theirs: Any, sdata: Any) -> bool:
    """Row for row, every column: our Arrow result against the joined table's ``obs`` (and the areas, if any)."""
    table = theirs[1]
    got = ours.to_pandas().sort_values("obs_name").reset_index(drop=True)
    want = table.obs.rename_axis("obs_name").reset_index()
    if len(theirs) == 3:  # with the areas of the cells, in the joined table's row order
        want["area"] = theirs[2]
    want = want.sort_values("obs_name").reset_index(drop=True)
    if list(got.columns) != list(want.columns) or len(got) != len(want):
        return False
    for column in want.columns:
        a, b = got[column], want[column]
        if column == "area":
            if not np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, atol=0):
                return False
        elif not (a.astype(object).to_numpy() == b.astype(object).to_numpy()).all():
            return False
    return True


# case: (ours, theirs, baseline named, warm: the object already went through the call once, a target of the list)
CASES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], str, bool, bool]] = {
    "sjoin": (sjoin_ours, sjoin_theirs, "geopandas.sjoin", False, True),
    "sql join, cold": (sql_ours, sql_theirs, "join_spatialelement_table", False, True),
    "sql join, warm": (sql_ours, sql_theirs, "join_spatialelement_table", True, True),
    "sql join + geometry, cold": (sql_geometry_ours, sql_geometry_theirs, "join + geopandas area", False, False),
    "sql join + geometry, warm": (sql_geometry_ours, sql_geometry_theirs, "join + geopandas area", True, False),
}


def run(n: int = 1_000_000, repeats: int = 5) -> list[dict[str, Any]]:
    """Time every case; return one row per case."""
    small = make_data(1_000)
    for ours_fn, theirs_fn, *_ in CASES.values():  # imports and first-call costs are not timed
        ours_fn(build_sdata(small))
        theirs_fn(build_sdata(small))
    data = make_data(n)
    rows = []
    for case, (ours_fn, theirs_fn, baseline, warm, is_target) in CASES.items():
        ours_t, theirs_t, ours_m, theirs_m = [], [], [], []
        same = True
        for _ in range(repeats):
            sdata = build_sdata(data)
            if warm:
                ours_fn(sdata)
            t, m, ours = measure(functools.partial(ours_fn, sdata))
            ours_t.append(t)
            ours_m.append(m)
            sdata = build_sdata(data)
            if warm:
                theirs_fn(sdata)
            t, m, theirs = measure(functools.partial(theirs_fn, sdata))
            theirs_t.append(t)
            theirs_m.append(m)
            same &= same_sjoin(ours, theirs, sdata) if case == "sjoin" else same_sql(ours, theirs, sdata)
            del ours, theirs, sdata
        rows.append(
            {
                "case": case,
                "n": n,
                "baseline": baseline,
                "warm": warm,
                "target": is_target,
                "ours_s": statistics.median(ours_t),
                "ours_spread": (min(ours_t), max(ours_t)),
                "theirs_s": statistics.median(theirs_t),
                "theirs_spread": (min(theirs_t), max(theirs_t)),
                "ratio": statistics.median(ours_t) / statistics.median(theirs_t),
                "ours_mb": statistics.median(ours_m),
                "theirs_mb": statistics.median(theirs_m),
                "same_result": bool(same),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the rows."""
    lines = [
        "| case | n | ours (s, median [min-max]) | baseline | baseline (s, median [min-max]) | ours / baseline "
        "| peak MB ours | peak MB baseline | same result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['n']:,} | {r['ours_s']:.2f} [{r['ours_spread'][0]:.2f}-{r['ours_spread'][1]:.2f}] "
            f"| {r['baseline']} | {r['theirs_s']:.2f} [{r['theirs_spread'][0]:.2f}-{r['theirs_spread'][1]:.2f}] "
            f"| {ratio(r['ratio'])} | {r['ours_mb']:.0f} | {r['theirs_mb']:.0f} | {r['same_result']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(table(run(args.n, args.repeats)))


if __name__ == "__main__":
    main()
