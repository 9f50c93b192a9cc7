"""The relations step of ``spatialdata-plugins demo``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any


def demo_sdata(sdata: Any) -> Any:
    """A SpatialData with the demo's cells as polygons, nuclei inside them, the transcripts and the table."""
    import geopandas as gpd
    from spatialdata.models import PointsModel, ShapesModel

    from spatialdata_plugins.core import SpatialData

    circles = sdata["cells"]
    centres = circles.geometry.values
    outlines = gpd.GeoDataFrame(
        {"cell_id": circles.index.to_numpy()},
        geometry=[c.buffer(r) for c, r in zip(centres, circles["radius"], strict=True)],
        index=circles.index,
    )
    nuclei = gpd.GeoDataFrame(geometry=[c.buffer(0.4 * r) for c, r in zip(centres, circles["radius"], strict=True)])
    points = sdata["transcripts"].compute()
    points.attrs = {}
    return SpatialData(
        shapes={"cell_outlines": ShapesModel.parse(outlines), "nuclei": ShapesModel.parse(nuclei), "cells": circles},
        points={"transcripts": PointsModel.parse(points, feature_key="gene")},
        tables={"table": sdata.tables["table"]},
    )


def run_demo_step(sdata: Any, workdir: str, echo: Callable[[str], None]) -> None:
    """Show the legacy edge, link outlines by key and nuclei and transcripts spatially, query in SQL, round-trip.

    Parameters
    ----------
    sdata
        The demo's SpatialData (it needs the circles ``cells``, the points ``transcripts`` and the table ``table``).
    workdir
        Directory to write the store into.
    echo
        Prints a line of the demo's report.
    """
    from spatialdata_plugins.core import read
    from spatialdata_plugins.relations import (
        annotate_by_table,
        get_element_mapping,
        index_element,
        relations,
        to_duckdb,
        validate_relations,
    )

    if not {"cells", "transcripts"} <= set(sdata.shapes) | set(sdata.points) or "table" not in sdata.tables:
        echo("relations: the demo data has no cells, transcripts or table, skipped")
        return
    demo = demo_sdata(sdata)
    (legacy,) = [r for r in relations(demo) if r.method == "legacy"]
    echo(f"relations: existing annotation found as an edge: {legacy.id} ({legacy.method}, {legacy.cardinality})")
    index_element(demo, "cell_outlines")
    annotate_by_table(demo, "cell_outlines", "table", method="key", on="cell_id", validate="one_to_one")
    annotate_by_table(demo, "nuclei", "table", method="sjoin", via="cell_outlines", predicate="within")
    annotate_by_table(demo, "transcripts", "table", method="sjoin", via="cell_outlines", predicate="within")
    t0 = time.perf_counter()
    nuclei = get_element_mapping(demo, "nuclei", "table")
    spots = get_element_mapping(demo, "transcripts", "table")
    ms = 1000 * (time.perf_counter() - t0)
    echo(
        f"relations: nuclei -> table rows: {len(nuclei)} pairs; transcripts -> table rows: {len(spots)} pairs "
        f"(spatial joins evaluated on first use, {ms:.0f} ms)"
    )
    for r in relations(demo):
        echo(f"   {r.id:28s} {r.method:6s} {r.direction:15s} {r.cardinality or '?':5s} {r.status}")
    con = to_duckdb(demo)
    top = con.sql(
        'select t.cell_id, count(*) as n from transcripts__table l join "table" t using (obs_name) '
        "group by 1 order by n desc, 1 limit 1"
    ).fetchone()
    echo(f"relations: SQL over DuckDB views: the busiest cell is {top[0]} with {top[1]} transcripts")
    store = os.path.join(workdir, "relations.zarr")
    demo.write(store, overwrite=True, progress=False)
    back = read(store)
    statuses = {r.id: r.status for r in relations(back) if r.method == "sjoin"}
    issues = validate_relations(back)
    errors = [i for i in issues if i.severity == "error"]
    echo(
        f"relations: wrote {store}; read back, spatial links {statuses}; validate: {len(errors)} errors, "
        f"{len(issues) - len(errors)} notes"
    )
