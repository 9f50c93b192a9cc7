"""Resolve user inputs (element names or objects) into coordinates, groups, contours and a domain in one system."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from shapely.geometry.base import BaseGeometry

from spatialdata_plugins.core import ElementNotFoundError
from spatialdata_plugins.density._errors import CoordinateSystemError, DensityArgumentError, DomainError
from spatialdata_plugins.density._geometry import DEFAULT_QUAD_SEGS, mask_to_polygon, normalise_contours

#: Rows per partition when in-memory points or cell centroids are split for processing.
PARTITION_ROWS = 1_000_000
#: Largest mask (pixels) converted to a domain polygon; bigger label images use a coarser scale level.
MAX_MASK_PIXELS = 4096 * 4096


@dataclass
class Inputs:
    """Resolved inputs: everything in ``coordinate_system``."""

    frame: dd.DataFrame  # columns x, y and, when grouping, the group column
    group_column: str | None
    group_names: list[str]
    contour_ids: list[Any]
    contours: list[BaseGeometry]
    contours_name: str | None
    domain: BaseGeometry | None
    coordinate_system: str | None
    notes: list[str] = field(default_factory=list)


def _element(sdata: Any, name: str, kinds: tuple[str, ...], role: str) -> Any:
    if sdata is None:
        raise DensityArgumentError(f"{role}={name!r} names an element, but no SpatialData object was given")
    for kind in kinds:
        container = getattr(sdata, kind)
        if name in container:
            return container[name]
    available = [n for kind in kinds for n in getattr(sdata, kind)]
    raise ElementNotFoundError(f"no {'/'.join(kinds)} element {name!r} for {role}; available: {available}")


def _systems(element: Any) -> set[str] | None:
    from spatialdata.transformations import get_transformation

    if isinstance(element, xr.DataTree):  # multiscale image/labels: transformations live on the scale levels
        try:
            return set(get_transformation(element, get_all=True)) or None
        except (KeyError, ValueError, AttributeError, TypeError, AssertionError):
            return None
    attrs = getattr(element, "attrs", None)  # a dict, or spatialdata's accessor on dask DataFrames
    try:
        transforms = attrs.get("transform") if attrs is not None else None
    except (AttributeError, TypeError):
        transforms = None
    if not isinstance(transforms, dict):
        return None  # a plain object (array, DataFrame, geometries): taken to be in the working system already
    try:
        return set(get_transformation(element, get_all=True))
    except (KeyError, ValueError, AttributeError, TypeError, AssertionError):
        return None


def _common_system(elements: dict[str, Any], requested: str | None) -> str | None:
    systems = {role: _systems(e) for role, e in elements.items() if e is not None}
    known = {role: s for role, s in systems.items() if s}
    if not known:
        return requested
    if requested is not None:
        missing = [role for role, s in known.items() if requested not in s]
        if missing:
            detail = "; ".join(f"{role}: {sorted(known[role])}" for role in missing)
            raise CoordinateSystemError(
                f"coordinate system {requested!r} is not defined for {', '.join(missing)} ({detail}); add a "
                "transformation to it (spatialdata.transformations.set_transformation) or choose another"
            )
        return requested
    common = set.intersection(*known.values())
    if not common:
        detail = "; ".join(f"{role}: {sorted(s)}" for role, s in known.items())
        raise CoordinateSystemError(
            f"points/shapes, contours and domain share no coordinate system ({detail}); give them a common one "
            "with spatialdata.transformations.set_transformation"
        )
    if len(common) > 1:
        if "global" in common:
            return "global"
        raise CoordinateSystemError(
            f"several coordinate systems are shared ({sorted(common)}); choose one with coordinate_system=..."
        )
    return common.pop()


def _to_system(element: Any, system: str | None) -> Any:
    """Transform a spatialdata element into ``system`` (nothing to do for identity or plain objects)."""
    if system is None or not _systems(element):
        return element
    from spatialdata import transform
    from spatialdata.transformations import Identity, get_transformation

    if isinstance(get_transformation(element, to_coordinate_system=system), Identity):
        return element
    return transform(element, to_coordinate_system=system)


def _as_dask(df: pd.DataFrame) -> dd.DataFrame:
    return dd.from_pandas(df, npartitions=max(1, int(np.ceil(len(df) / PARTITION_ROWS))), sort=False)


def _points_frame(obj: Any) -> dd.DataFrame:
    if isinstance(obj, dd.DataFrame):
        frame = obj
    elif isinstance(obj, pd.DataFrame):
        frame = _as_dask(obj)
    else:
        arr = np.asarray(obj, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise DensityArgumentError(
                f"points must be a DataFrame with x and y columns or an (n, 2) array, got shape {arr.shape}"
            )
        frame = _as_dask(pd.DataFrame({"x": arr[:, 0], "y": arr[:, 1]}))
    missing = [c for c in ("x", "y") if c not in frame.columns]
    if missing:
        raise DensityArgumentError(f"the points have no {missing} column(s); columns: {list(frame.columns)}")
    return frame


def _centroid_frame(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    geoms = gdf.geometry.to_numpy()
    kinds = set(shapely.get_type_id(geoms).tolist())
    if kinds <= {0}:  # points (circles): the centre
        xy = shapely.get_coordinates(geoms)
    else:
        xy = shapely.get_coordinates(shapely.centroid(geoms))
    out = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}, index=gdf.index)
    return out


def _annotating_tables(sdata: Any, element_name: str) -> list[str]:
    from spatialdata.models import TableModel

    names = []
    for name, table in sdata.tables.items():
        attrs = table.uns.get(TableModel.ATTRS_KEY, {}) or {}
        region = attrs.get(TableModel.REGION_KEY)
        regions = [region] if isinstance(region, str) else list(region or [])
        if element_name in regions:
            names.append(name)
    return names


def _shape_groups(sdata: Any, shapes_name: str | None, gdf: gpd.GeoDataFrame, column: str) -> pd.Series:
    if column in gdf.columns:
        return gdf[column]
    if sdata is not None and shapes_name is not None:
        from spatialdata import get_values

        tables = _annotating_tables(sdata, shapes_name)
        errors = []
        for table_name in tables:
            try:
                values = get_values(value_key=column, sdata=sdata, element_name=shapes_name, table_name=table_name)
            except (KeyError, ValueError) as err:
                errors.append(f"table {table_name!r}: {err}")
                continue
            series = values[column]
            if len(series) and not series.index.isin(gdf.index).any():
                raise DensityArgumentError(
                    f"the instance ids of table {table_name!r} do not match the index of shapes {shapes_name!r}"
                )
            return series.reindex(gdf.index)
        raise DensityArgumentError(
            f"no column {column!r} in shapes {shapes_name!r} nor in a table annotating it (tables annotating it: "
            f"{tables}{'; ' + '; '.join(errors) if errors else ''})"
        )
    raise DensityArgumentError(f"the shapes have no column {column!r}; columns: {list(gdf.columns)}")


def _domain_geometry(sdata: Any, domain: Any, system: str | None, quad_segs: int) -> BaseGeometry | None:
    if domain is None:
        return None
    obj = _element(sdata, domain, ("shapes", "labels"), "domain") if isinstance(domain, str) else domain
    if isinstance(obj, BaseGeometry):
        geom = obj
    elif isinstance(obj, gpd.GeoDataFrame | gpd.GeoSeries):
        gdf = _to_system(obj, system) if isinstance(obj, gpd.GeoDataFrame) else obj
        radii = gdf["radius"].to_numpy() if isinstance(gdf, gpd.GeoDataFrame) and "radius" in gdf else None
        geoms = list(gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf)
        parts = normalise_contours(geoms, list(gdf.index), radii=radii, quad_segs=quad_segs, what="domain shape")
        geom = shapely.union_all(parts)
    elif hasattr(obj, "dims") or hasattr(obj, "children"):  # labels: DataArray or multiscale DataTree
        geom = _labels_domain(obj, system)
    else:
        arr = np.asarray(obj)
        if arr.ndim == 2:
            geom = mask_to_polygon(arr)
        else:
            raise DomainError(f"domain must be a shapes/labels element name, a polygon or a 2D mask, got {type(obj)}")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    geom = shapely.union_all([g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")])
    if geom.is_empty or geom.area <= 0:
        raise DomainError("the domain is empty: it has no area")
    return geom


def _labels_domain(labels: Any, system: str | None) -> BaseGeometry:
    from spatialdata.transformations import get_transformation

    if isinstance(labels, xr.DataTree):  # multiscale: the finest level that is small enough
        levels = sorted(labels.children)
        chosen = levels[-1]
        for level in levels:
            arr = next(iter(labels[level].values()))
            if np.prod(arr.shape) <= MAX_MASK_PIXELS:
                chosen = level
                break
        arr = next(iter(labels[chosen].values()))
        if chosen != levels[0]:
            warnings.warn(
                f"domain mask: using scale level {chosen!r} {arr.shape} to keep the polygon small", stacklevel=4
            )
    else:
        arr = labels
    if arr.ndim != 2:
        raise DomainError(f"a domain mask must be 2D labels, got dims {arr.dims}")
    geom = mask_to_polygon(np.asarray(arr.data))
    if system is not None:
        transformation = get_transformation(arr, to_coordinate_system=system)
        matrix = transformation.to_affine_matrix(input_axes=("x", "y"), output_axes=("x", "y"))
        geom = shapely.affinity.affine_transform(
            geom, [matrix[0, 0], matrix[0, 1], matrix[1, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]]
        )
    return geom


def resolve_inputs(
    sdata: Any,
    *,
    points: Any,
    shapes: Any,
    contours: Any,
    genes: Any,
    gene_key: str | None,
    domain: Any,
    coordinate_system: str | None,
    repair: bool,
    quad_segs: int = DEFAULT_QUAD_SEGS,
) -> Inputs:
    """Resolve names and objects into coordinates, groups, contours and domain, all in one coordinate system.

    Parameters
    ----------
    sdata, points, shapes, contours, genes, gene_key, domain, coordinate_system, repair, quad_segs
        As in :func:`~spatialdata_plugins.density.ring_density`.

    Returns
    -------
    Inputs
        The resolved inputs.
    """
    if (points is None) == (shapes is None):
        raise DensityArgumentError("give exactly one of points=... (transcripts) or shapes=... (cells, by centroid)")
    if contours is None:
        raise DensityArgumentError("contours=... is required (a shapes element name or geometries)")
    source_name = points if isinstance(points, str) else shapes if isinstance(shapes, str) else None
    if points is not None:
        source = _element(sdata, points, ("points",), "points") if isinstance(points, str) else points
    else:
        source = _element(sdata, shapes, ("shapes",), "shapes") if isinstance(shapes, str) else shapes
    contours_name = contours if isinstance(contours, str) else None
    cobj = _element(sdata, contours, ("shapes",), "contours") if isinstance(contours, str) else contours
    dobj = _element(sdata, domain, ("shapes", "labels"), "domain") if isinstance(domain, str) else domain

    system = _common_system({"points/shapes": source, "contours": cobj, "domain": dobj}, coordinate_system)
    notes = []

    # contours
    if isinstance(cobj, gpd.GeoDataFrame):
        cgdf = _to_system(cobj, system)
        ids = list(cgdf.index)
        radii = cgdf["radius"].to_numpy() if "radius" in cgdf.columns else None
        geoms = list(cgdf.geometry)
    elif isinstance(cobj, gpd.GeoSeries):
        ids, geoms, radii = list(cobj.index), list(cobj), None
    elif isinstance(cobj, BaseGeometry):
        ids, geoms, radii = [0], [cobj], None
    else:
        geoms = list(cobj)
        ids, radii = list(range(len(geoms))), None
    polygons = normalise_contours(geoms, ids, radii=radii, repair=repair, quad_segs=quad_segs)
    if len(set(map(str, ids))) != len(ids):
        raise DensityArgumentError(f"contour ids (the index of the contours) must be unique; got {ids}")

    # points or centroids, and the grouping column
    group_column = None
    group_names: list[str] = []
    gene_list = None
    if isinstance(genes, str):
        group_column = genes
    elif genes is not None:
        gene_list = [str(g) for g in genes]
        if not gene_list:
            raise DensityArgumentError("genes=[] selects nothing; pass None for all points together")
    if points is not None:
        frame = _to_system(source, system) if isinstance(source, dd.DataFrame) else source
        frame = _points_frame(frame)
        if gene_list is not None:
            key = gene_key
            if key is None:
                key = (getattr(source, "attrs", {}).get("spatialdata_attrs", {}) or {}).get("feature_key")
            if key is None:
                key = "gene" if "gene" in frame.columns else None
            if key is None or key not in frame.columns:
                raise DensityArgumentError(
                    f"cannot select genes: no gene column (gene_key={gene_key!r}); columns: {list(frame.columns)}"
                )
            group_column = key
        if group_column is not None and group_column not in frame.columns:
            raise DensityArgumentError(f"the points have no column {group_column!r}; columns: {list(frame.columns)}")
        keep = ["x", "y"] + ([group_column] if group_column else [])
        if set(frame.columns) != set(keep):  # a projection that drops nothing only slows every partition down
            frame = frame[keep]
    else:
        if not isinstance(source, gpd.GeoDataFrame):
            raise DensityArgumentError(f"shapes must be a GeoDataFrame (shapes element), got {type(source)}")
        gdf = _to_system(source, system)
        if len(gdf) == 0:
            raise DensityArgumentError(f"the shapes element {source_name!r} is empty")
        pdf = _centroid_frame(gdf)
        if gene_list is not None and gene_key is None:
            raise DensityArgumentError("for shapes, select groups with genes='<column>' or genes=[...] with gene_key")
        if group_column is not None or gene_key is not None:
            group_column = group_column or gene_key
            pdf[group_column] = _shape_groups(sdata, source_name, source, group_column).to_numpy()
        pdf = pdf.reset_index(drop=True)
        frame = _as_dask(pdf)
        notes.append("cells are represented by their centroids")

    if group_column is not None:
        if gene_list is not None:
            group_names = gene_list
        else:
            column = frame[group_column]
            if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.known:
                group_names = [str(c) for c in column.dtype.categories]
            else:
                values = frame[group_column].dropna().unique().compute()
                group_names = sorted(str(v) for v in values)
    domain_geom = _domain_geometry(sdata, dobj, system, quad_segs)
    return Inputs(
        frame=frame,
        group_column=group_column,
        group_names=group_names,
        contour_ids=ids,
        contours=polygons,
        contours_name=contours_name,
        domain=domain_geom,
        coordinate_system=system,
        notes=notes,
    )
