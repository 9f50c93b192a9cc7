"""Seeded synthetic SpatialData for the relations tests: cells, nuclei, labels, points and three tables."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from anndata import AnnData


def make_sdata(seed: int = 0, grid: int = 6, core: bool = True) -> Any:
    """Square cells on a grid, nuclei inside most of them (some straddling, some outside), labels and points.

    Tables:
    - ``table``: legacy annotation of ``cells`` (region/instance key), one row per cell except two, plus one orphan row.
    - ``cell_table``: no annotation; ``cell_id`` keys (shuffled, one missing, one unknown), ``kind`` and ``label``.
    - ``gene_table``: keys ``cell_id`` with duplicates (two rows per some cells).
    """
    from spatialdata.models import Labels2DModel, PointsModel, ShapesModel, TableModel

    rng = np.random.default_rng(seed)
    side, step = 10.0, 12.0
    boxes, ids = [], []
    for i in range(grid):
        for j in range(grid):
            x0, y0 = i * step, j * step
            boxes.append(shapely.box(x0, y0, x0 + side, y0 + side))
            ids.append(f"c{i * grid + j}")
    n = len(boxes)
    cells = gpd.GeoDataFrame({"cell_id": ids}, geometry=boxes)
    nuclei_geoms = []
    for k, box in enumerate(boxes):
        x0, y0, _, _ = box.bounds
        if k % 7 == 3:
            continue  # a cell without a nucleus
        r = rng.uniform(1.0, 2.0)
        cx, cy = x0 + rng.uniform(r + 0.5, side - r - 0.5), y0 + rng.uniform(r + 0.5, side - r - 0.5)
        nuclei_geoms.append(shapely.Point(cx, cy).buffer(r))
        if k % 5 == 0:  # a second nucleus in some cells
            nuclei_geoms.append(shapely.Point(x0 + 1.5, y0 + 1.5).buffer(1.0))
        if k % 9 == 4:  # one straddling the cell's right border
            nuclei_geoms.append(shapely.Point(x0 + side + 1.0, y0 + side / 2).buffer(1.5))
    nuclei_geoms.append(shapely.Point(-50, -50).buffer(1.0))  # far away from every cell
    nuclei = gpd.GeoDataFrame({"area_px": [g.area for g in nuclei_geoms]}, geometry=nuclei_geoms)

    labels = np.zeros((grid * 12, grid * 12), dtype=np.int32)
    for k in range(n):
        i, j = divmod(k, grid)
        if k % 4 != 1:
            labels[j * 12 : j * 12 + 10, i * 12 : i * 12 + 10] = k + 1

    m = 500
    points = pd.DataFrame(
        {
            "x": rng.uniform(-2, grid * step, m),
            "y": rng.uniform(-2, grid * step, m),
            "gene": pd.Categorical(rng.choice(["a", "b", "c"], m)),
        }
    )

    keep = [k for k in range(n) if k not in (2, 17)]
    obs = pd.DataFrame(
        {
            "region": pd.Categorical(["cells"] * (len(keep) + 1)),
            "instance": np.array([*keep, n + 100], dtype=np.int64),
            "cell_id": [ids[k] for k in keep] + ["ghost"],
        },
        index=[f"r{k}" for k in range(len(keep) + 1)],
    )
    table = TableModel.parse(
        AnnData(rng.normal(size=(len(obs), 3)), obs=obs), region="cells", region_key="region", instance_key="instance"
    )

    order = rng.permutation(n)[:-1]
    cell_obs = pd.DataFrame(
        {
            "cell_id": [ids[k] for k in order] + ["unknown"],
            "kind": pd.Categorical(rng.choice(["T", "B", "NK"], len(order) + 1)),
            "label": np.array([k + 1 for k in order] + [9999], dtype=np.int64),
        },
        index=[f"row{k}" for k in range(len(order) + 1)],
    )
    cell_table = TableModel.parse(AnnData(rng.normal(size=(len(cell_obs), 2)), obs=cell_obs))

    dup = [ids[k] for k in range(n)] + [ids[k] for k in range(0, n, 3)]
    gene_obs = pd.DataFrame(
        {"cell_id": dup, "score": rng.normal(size=len(dup))}, index=[f"g{k}" for k in range(len(dup))]
    )
    gene_table = TableModel.parse(AnnData(np.zeros((len(dup), 1)), obs=gene_obs))

    elements = {
        "shapes": {"cells": ShapesModel.parse(cells), "nuclei": ShapesModel.parse(nuclei)},
        "labels": {"cell_labels": Labels2DModel.parse(labels, dims=("y", "x"))},
        "points": {"transcripts": PointsModel.parse(points, feature_key="gene")},
        "tables": {"table": table, "cell_table": cell_table, "gene_table": gene_table},
    }
    if core:
        from spatialdata_plugins.core import SpatialData
    else:
        from spatialdata import SpatialData
    return SpatialData(**elements)


def pairs(frame: pd.DataFrame, left: str = "instance_id", right: str = "obs_name") -> set[tuple[Any, Any]]:
    """The pairs of a mapping (or oracle) frame as a set of python scalars (None for missing)."""

    def norm(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        return v.item() if hasattr(v, "item") else v

    return {(norm(a), norm(b)) for a, b in zip(frame[left], frame[right], strict=True)}
