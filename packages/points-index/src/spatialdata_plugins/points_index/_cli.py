"""The ``spatialdata-plugins points-index`` command group."""

from __future__ import annotations

import json

import click


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise click.BadParameter(f"{what} must be comma-separated numbers, got {text!r}") from exc


@click.group("points-index")
def points_index() -> None:
    """Build and query multiscale points indexes."""


@points_index.command("build")
@click.argument("path")
@click.argument("element")
@click.option("--feature-key", default=None, help="Gene column (default: the element's feature_key).")
@click.option("--points-per-chunk", default=64, show_default=True, type=int, help="Most points per cell and level.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--progress/--no-progress", default=True, show_default=True)
def build_cmd(
    path: str, element: str, feature_key: str | None, points_per_chunk: int, seed: int, progress: bool
) -> None:
    """Build (or rebuild) the index of points ELEMENT of the store at PATH."""
    from spatialdata_plugins.core import open_location
    from spatialdata_plugins.points_index._api import build_into_location, has_points_element, index_info
    from spatialdata_plugins.points_index._reader import PointsIndex

    location = open_location(path, "w", None)
    if not has_points_element(location, element):
        raise click.ClickException(f"{path} has no points element {element!r}")
    options = {"points_per_chunk": points_per_chunk, "seed": seed}
    if feature_key:
        options["feature_key"] = feature_key
    build_into_location(location, element, options, progress=progress)
    from spatialdata_plugins.points_index._api import _element_group

    info = index_info(PointsIndex.from_group(_element_group(location, element)))
    click.echo(f"indexed {info['rows']} points of {element!r} in {len(info['levels'])} levels")
    for lv in info["levels"]:
        click.echo(f"  level {lv['level']:>2}: {lv['rows']:>12} points in {lv['cells']:>9} cells")


@points_index.command("query")
@click.argument("path")
@click.argument("element")
@click.option("--bbox", default=None, help="xmin,ymin,xmax,ymax (3D: xmin,ymin,zmin,xmax,ymax,zmax).")
@click.option("--genes", default=None, help="Comma-separated gene names.")
@click.option("--level", default=None, type=int, help="Only this level.")
@click.option("--max-level", default=None, type=int, help="Levels 0 to this one.")
@click.option("--target-count", default=None, type=int, help="About this many points.")
@click.option("--columns", default=None, help="Comma-separated columns.")
@click.option("--output", "out", default=None, help="Write the result to this .csv or .parquet file.")
def query_cmd(path, element, bbox, genes, level, max_level, target_count, columns, out) -> None:
    """Query points ELEMENT of the store at PATH; print a summary (and write the rows with --output)."""
    from spatialdata_plugins.core import SpatialDataPluginError
    from spatialdata_plugins.points_index._api import query_points

    try:
        frame = query_points(
            path,
            element,
            bbox=_floats(bbox, "--bbox"),
            genes=genes.split(",") if genes else None,
            level=level,
            max_level=max_level,
            target_count=target_count,
            columns=columns.split(",") if columns else None,
        )
    except SpatialDataPluginError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(frame)} points")
    if out:
        if out.endswith(".parquet"):
            frame.to_parquet(out)
        else:
            frame.to_csv(out)
        click.echo(f"written to {out}")
    else:
        click.echo(frame.head(10).to_string())


@points_index.command("info")
@click.argument("path")
@click.argument("element")
def info_cmd(path: str, element: str) -> None:
    """Print the levels of the index of points ELEMENT as JSON."""
    from spatialdata_plugins.core import SpatialDataPluginError
    from spatialdata_plugins.points_index._api import index_info, open_points_index

    try:
        click.echo(json.dumps(index_info(open_points_index(path, element)), indent=2))
    except SpatialDataPluginError as exc:
        raise click.ClickException(str(exc)) from exc
