"""Density results as an AnnData table annotating the contours element."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from spatialdata_plugins.density._density import POOLED
from spatialdata_plugins.density._errors import DensityArgumentError

REGION_KEY = "region"
INSTANCE_KEY = "instance_id"

_LAYERS = {
    "rings": ("count", "area", "density_se"),
    "smooth": ("density_se", "weighted_count", "effective_area", "expected_count", "masked"),
}


def density_table(result: pd.DataFrame, contours: str, contour_ids: Sequence[Any] | None = None) -> AnnData:
    """Turn the tidy result of :func:`ring_density` or :func:`smooth_density_by_distance` into a table.

    One observation per contour (annotating the shapes element ``contours`` through ``region`` /
    ``instance_id``), one variable per group and ring (or output distance). ``X`` holds the density; the other
    numbers are layers (``count``, ``area``, ``density_se`` for rings; ``density_se``, ``weighted_count``,
    ``effective_area``, ``expected_count``, ``masked`` for the smoothed profile). The pooled profile and the
    parameters are in ``uns["density"]``.

    Parameters
    ----------
    result
        The DataFrame returned by ``ring_density`` or ``smooth_density_by_distance``.
    contours
        Name of the contours shapes element the table annotates.
    contour_ids
        The contours' index values (default: the ids in ``result``, as strings).

    Returns
    -------
    anndata.AnnData
        Parsed with :class:`spatialdata.models.TableModel`.
    """
    from spatialdata.models import TableModel

    params = dict(result.attrs.get("density", {}))
    kind = params.get("kind", "rings" if "ring" in result.columns else "smooth")
    if kind not in _LAYERS:
        raise DensityArgumentError(f"not a density result (kind {kind!r})")
    position = "ring" if kind == "rings" else "distance"
    per_contour = result[result["contour"] != POOLED]
    pooled = result[result["contour"] == POOLED]
    ids_str = list(dict.fromkeys(per_contour["contour"]))
    ids = list(contour_ids) if contour_ids is not None else ids_str
    if [str(i) for i in ids] != ids_str:
        raise DensityArgumentError("contour_ids do not match the contours of the result")

    def wide(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        table = frame.pivot_table(index="contour", columns=["group", position], values=column, dropna=False, sort=False)
        return table

    dens = wide(per_contour, "density").reindex(ids_str)
    var = pd.DataFrame(dens.columns.to_frame(index=False))
    var.index = [f"{g}|{p}" for g, p in zip(var["group"], var[position], strict=True)]
    var["group"] = var["group"].astype(str)
    extra = ["d_inner", "d_outer", "d_mid"] if kind == "rings" else []
    if extra:
        first = per_contour.drop_duplicates([position]).set_index(position)
        for col in extra:
            var[col] = first.loc[var[position], col].to_numpy()
    layers = {}
    for layer in _LAYERS[kind]:
        w = wide(per_contour, layer).reindex(ids_str)
        layers[layer] = w.reindex(columns=dens.columns).to_numpy(dtype=np.float64)
    obs = pd.DataFrame(
        {REGION_KEY: pd.Categorical([contours] * len(ids)), INSTANCE_KEY: ids}, index=[str(i) for i in ids]
    )
    pooled_uns = {}
    if len(pooled):
        for col in ("density", *_LAYERS[kind]):
            pw = pooled.pivot_table(index="contour", columns=["group", position], values=col, dropna=False, sort=False)
            pooled_uns[col] = pw.reindex(columns=dens.columns).to_numpy(dtype=np.float64).ravel()
    uns = {"density": {k: v for k, v in params.items() if v is not None} | {"pooled": pooled_uns}}
    adata = AnnData(X=dens.to_numpy(dtype=np.float64), obs=obs, var=var, layers=layers, uns=uns)
    return TableModel.parse(adata, region=contours, region_key=REGION_KEY, instance_key=INSTANCE_KEY)
