"""``spatialdata-plugins transforms ...``: the conformance command and a graph summary."""

from __future__ import annotations

import json
import sys

import click


@click.group("transforms")
def transforms() -> None:
    """OME-NGFF RFC-5 coordinate transformations."""


@transforms.command(
    "dingus", context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dingus(args: tuple[str, ...]) -> None:
    """Map points: [OPTIONS...] PATH SOURCE TARGET COORDINATES (leading options are ignored)."""
    from spatialdata_plugins.transforms.dingus import main

    sys.exit(main(list(args)))


@transforms.command("graph")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print the scene metadata as JSON.")
def graph(path: str, as_json: bool) -> None:
    """List the coordinate systems and transformations of the scene (or image) at PATH."""
    from spatialdata_plugins.transforms._graph import TransformGraph

    g = TransformGraph.from_scene(path)
    if as_json:
        click.echo(json.dumps(g.to_dict(inline=False), indent=2))
        return
    click.echo("coordinate systems:")
    for key in g.coordinate_systems:
        cs = g.systems[key]
        label = str(key) if key.name else f"{key} (array)"
        click.echo(f"  {label}: {', '.join(cs.axis_names)}")
    click.echo("transformations:")
    for e in g.edges:
        click.echo(
            f"  {e.source} -> {e.target}: {e.transformation.type}"
            + (f" {e.transformation.name!r}" if e.transformation.name else "")
        )
