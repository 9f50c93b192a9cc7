"""Helpers of the lazy-containers tests: real files of every built-in kind, written with the usual libraries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import tifffile


@dataclass
class Files:
    """Paths of the test files and the data they hold."""

    root: Path
    polygons: gpd.GeoDataFrame
    points: pd.DataFrame
    image: np.ndarray
    labels: np.ndarray
    table: ad.AnnData

    def path(self, name: str) -> str:
        return str(self.root / name)


def make_files(root: Path, n_points: int = 500) -> Files:
    """Write every kind of file the built-in containers read into ``root``."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    polygons = gpd.GeoDataFrame(
        {"area_class": [f"c{i % 3}" for i in range(12)]},
        geometry=[shapely.box(10 * i, 5 * i, 10 * i + 8, 5 * i + 4) for i in range(12)],
    )
    polygons.to_parquet(root / "cells.parquet")
    polygons.set_crs("EPSG:4326").to_file(root / "cells.geojson", driver="GeoJSON")
    circles = gpd.GeoDataFrame({"r": np.full(6, 2.5)}, geometry=gpd.points_from_xy(np.arange(6.0), np.arange(6.0)))
    circles.to_parquet(root / "circles.parquet")
    points = pd.DataFrame(
        {
            "x_location": rng.uniform(0, 100, n_points),
            "y_location": rng.uniform(0, 80, n_points),
            "z_location": rng.uniform(0, 5, n_points),
            "feature_name": rng.choice(["ACTB", "GAPDH", "CD3E", "MS4A1"], n_points),
            "cell_id": rng.integers(0, 12, n_points),
            "qv": rng.uniform(20, 40, n_points),
        }
    )
    points.to_parquet(root / "transcripts.parquet")
    points.to_csv(root / "transcripts.csv", index=False)
    image = rng.integers(0, 4000, (3, 96, 128), dtype=np.uint16)
    tifffile.imwrite(
        root / "image.ome.tif",
        image,
        ome=True,
        metadata={"axes": "CYX", "Channel": {"Name": ["DAPI", "CD3", "CD20"]}},
        tile=(64, 64),
    )
    tifffile.imwrite(root / "plain.tif", image[0])
    labels = rng.integers(0, 13, (96, 128), dtype=np.uint32)
    tifffile.imwrite(root / "labels.tif", labels)
    obs = pd.DataFrame(
        {"region": pd.Categorical(["cells"] * 12), "instance_id": np.arange(12)},
        index=[f"cell{i}" for i in range(12)],
    )
    table = ad.AnnData(rng.poisson(2.0, (12, 4)).astype(np.float32), obs=obs)
    table.var_names = ["ACTB", "GAPDH", "CD3E", "MS4A1"]
    table.write_h5ad(root / "table.h5ad")
    table.write_zarr(root / "table.zarr")
    (root / "notes.txt").write_text("not data\n")
    return Files(root, polygons, points, image, labels, table)


# one container of every built-in type: (type, file name, keyword arguments)
POINTS_MAPPING = {"x": "x_location", "y": "y_location", "gene": "feature_name"}
BUILTIN_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("ParquetShapes", "cells.parquet", {}),
    ("GeoJSONShapes", "cells.geojson", {}),
    (
        "ParquetPoints",
        "transcripts.parquet",
        {"columns": {"x": "x_location", "y": "y_location", "gene": "feature_name"}},
    ),
    ("CSVPoints", "transcripts.csv", {"columns": {"x": "x_location", "y": "y_location", "gene": "feature_name"}}),
    ("OMETiffImage", "image.ome.tif", {}),
    ("TiffImage", "plain.tif", {}),
    ("TiffLabels", "labels.tif", {}),
    ("H5ADTable", "table.h5ad", {"region": "cells", "region_key": "region", "instance_key": "instance_id"}),
    ("ZarrTable", "table.zarr", {"region": "cells", "region_key": "region", "instance_key": "instance_id"}),
]
