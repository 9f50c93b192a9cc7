"""Synthetic data with a known layout, for assertions on what the viewer draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

SIZE = 128  # image side (pixels = intrinsic units = global units)
N_PER_GENE = 1500


def make_points(seed: int = 0) -> pd.DataFrame:
    """Gene ``A`` in the top-left quadrant, ``B`` in the bottom-right one, ``C`` everywhere (few points)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(8, 56, size=(N_PER_GENE, 2))
    b = rng.uniform(72, 120, size=(N_PER_GENE, 2))
    c = rng.uniform(0, SIZE, size=(200, 2))
    xy = np.vstack([a, b, c])
    genes = ["A"] * N_PER_GENE + ["B"] * N_PER_GENE + ["C"] * 200
    return pd.DataFrame(
        {"x": xy[:, 0].astype("float32"), "y": xy[:, 1].astype("float32"), "gene": pd.Categorical(genes)}
    )


def make_sdata(seed: int = 0):
    """Image: left half 0, right half 200 (uint8, 2 levels); labels: one square; circles; a polygon; points."""
    import dask.dataframe as dd
    import geopandas as gpd
    from shapely import Point, Polygon
    from spatialdata import SpatialData
    from spatialdata.models import Image2DModel, Labels2DModel, PointsModel, ShapesModel
    from spatialdata.transformations import Identity

    image = np.zeros((1, SIZE, SIZE), dtype=np.uint8)
    image[:, :, SIZE // 2 :] = 200
    labels = np.zeros((SIZE, SIZE), dtype=np.int32)
    labels[10:30, 80:110] = 7
    circles = gpd.GeoDataFrame({"geometry": [Point(100, 30), Point(30, 100)], "radius": [6.0, 9.0]})
    polygons = gpd.GeoDataFrame({"geometry": [Polygon([(5, 70), (50, 70), (50, 120), (5, 120)])]})
    return SpatialData(
        images={
            "image": Image2DModel.parse(
                image, dims=("c", "y", "x"), scale_factors=[2], transformations={"global": Identity()}
            )
        },
        labels={"cells": Labels2DModel.parse(labels, dims=("y", "x"), transformations={"global": Identity()})},
        shapes={
            "circles": ShapesModel.parse(circles, transformations={"global": Identity()}),
            "regions": ShapesModel.parse(polygons, transformations={"global": Identity()}),
        },
        points={
            "transcripts": PointsModel.parse(
                dd.from_pandas(make_points(seed), npartitions=2),
                feature_key="gene",
                transformations={"global": Identity()},
            )
        },
    )
