"""A small, seeded, synthetic SpatialData with every element kind (used by the demo, the tests and benchmarks)."""

from __future__ import annotations

import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
from anndata import AnnData
from shapely import Point, Polygon

from spatialdata_plugins.core._spatialdata import SpatialData


def synthetic_sdata(
    seed: int = 0, size: int = 256, n_points: int = 5_000, n_cells: int = 40, n_genes: int = 20
) -> SpatialData:
    """Build a synthetic SpatialData: 2D image, multiscale image, labels, points, circles, polygons and a table.

    Parameters
    ----------
    seed
        Random seed; the same seed gives the same object.
    size
        Image side in pixels.
    n_points
        Number of transcript points.
    n_cells
        Number of cells (labels, circles and table rows).
    n_genes
        Number of distinct genes among the points.

    Returns
    -------
    SpatialData
        The object; the table annotates the ``cells`` circles.
    """
    from spatialdata.models import Image2DModel, Labels2DModel, PointsModel, ShapesModel, TableModel
    from spatialdata.transformations import Affine, Identity, Scale, Translation

    rng = np.random.default_rng(seed)
    centres = rng.uniform(10, size - 10, size=(n_cells, 2))
    radii = rng.uniform(3, 8, size=n_cells)

    yy, xx = np.mgrid[0:size, 0:size]
    labels = np.zeros((size, size), dtype=np.int32)
    for i, ((cx, cy), r) in enumerate(zip(centres, radii, strict=True), start=1):
        labels[(xx - cx) ** 2 + (yy - cy) ** 2 <= r**2] = i
    image = np.stack(
        [
            (labels > 0).astype(np.float32) + rng.normal(0, 0.1, (size, size)).astype(np.float32),
            rng.uniform(0, 1, (size, size)).astype(np.float32),
            np.sin(xx / 9.0).astype(np.float32),
        ]
    )

    genes = pd.Categorical(rng.choice([f"gene_{g:03d}" for g in range(n_genes)], size=n_points))
    owner = rng.integers(0, n_cells, size=n_points)
    xy = centres[owner] + rng.normal(0, 4, size=(n_points, 2))
    points_df = pd.DataFrame(
        {"x": xy[:, 0], "y": xy[:, 1], "gene": genes, "quality": rng.uniform(0, 40, n_points).astype(np.float32)}
    )

    cell_ids = [f"cell_{i}" for i in range(1, n_cells + 1)]
    circles = gpd.GeoDataFrame(
        {"geometry": [Point(x, y) for x, y in centres], "radius": radii}, index=pd.Index(cell_ids, name=None)
    )
    polygons = gpd.GeoDataFrame(
        {
            "geometry": [
                Polygon([(10, 10), (size / 2, 12), (size / 2 - 5, size / 2), (12, size / 2 - 3)]),
                Polygon([(size / 2 + 5, size / 2 + 5), (size - 10, size / 2), (size - 12, size - 12)]),
            ]
        }
    )

    counts = rng.poisson(2.0, size=(n_cells, n_genes)).astype(np.float32)
    obs = pd.DataFrame(
        {"region": pd.Categorical(["cells"] * n_cells), "cell_id": cell_ids}, index=[str(i) for i in range(n_cells)]
    )
    table = TableModel.parse(
        AnnData(X=counts, obs=obs, var=pd.DataFrame(index=[f"gene_{g:03d}" for g in range(n_genes)])),
        region="cells",
        region_key="region",
        instance_key="cell_id",
    )

    # transformations are given over the element's own axes, the form spatialdata stores them in, so that a
    # write/read round trip gives back equal objects
    scale = Scale([0.5, 0.5], axes=("x", "y"))
    image_scale = Scale([1.0, 0.5, 0.5], axes=("c", "y", "x"))
    shift = Translation([0.0, 20.0, 10.0], axes=("c", "y", "x"))
    rotation = Affine(
        np.array([[0.0, -1.0, size], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), input_axes=("x", "y"), output_axes=("x", "y")
    )
    return SpatialData(
        images={
            "image": Image2DModel.parse(
                image,
                dims=("c", "y", "x"),
                c_coords=["DAPI", "noise", "stripes"],
                transformations={"global": Identity(), "microns": image_scale},
            ),
            "image_multiscale": Image2DModel.parse(
                image,
                dims=("c", "y", "x"),
                scale_factors=[2, 2],
                c_coords=["DAPI", "noise", "stripes"],
                transformations={"global": Identity(), "shifted": shift},
            ),
        },
        labels={"cell_labels": Labels2DModel.parse(labels, dims=("y", "x"), transformations={"global": Identity()})},
        points={
            "transcripts": PointsModel.parse(
                dd.from_pandas(points_df, npartitions=2), feature_key="gene", transformations={"global": Identity()}
            )
        },
        shapes={
            "cells": ShapesModel.parse(circles, transformations={"global": Identity()}),
            "regions": ShapesModel.parse(
                polygons, transformations={"global": Identity(), "microns": scale, "rotated": rotation}
            ),
        },
        tables={"table": table},
        attrs={"description": "synthetic spatialdata-plugins demo", "seed": seed},
    )
