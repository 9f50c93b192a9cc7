"""A working plugin: adds a CLI command, a demo step and resolves attached ``Greeting`` objects."""

from __future__ import annotations

from dataclasses import dataclass

import click
import geopandas as gpd
from shapely import Point

from spatialdata_plugins.core import hookimpl


@dataclass
class Greeting:
    key: str
    n: int


@hookimpl
def sdp_register_commands(cli):
    @cli.command("hello")
    @click.argument("name")
    def hello(name):
        """Say hello."""
        click.echo(f"hello {name}")


@hookimpl
def sdp_demo(sdata, workdir, echo):
    echo(f"good-plugin demo step saw {len(list(sdata.gen_elements()))} elements")


@hookimpl
def sdp_access_element(sdata, name, obj):
    if isinstance(obj, Greeting):
        from spatialdata.models import ShapesModel

        gdf = gpd.GeoDataFrame({"geometry": [Point(i, i) for i in range(obj.n)], "radius": [1.0] * obj.n})
        return ShapesModel.parse(gdf)
    return None


@hookimpl
def sdp_describe_attached(name, obj):
    if isinstance(obj, Greeting):
        return f"[lazy] Greeting x{obj.n}"
    return None
