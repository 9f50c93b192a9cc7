"""Hook implementations of the transforms plugin (entry point ``transforms`` of group ``spatialdata_plugins``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spatialdata_plugins.core import hookimpl


@hookimpl
def sdp_read_element(location: Any, group: Any, element_type: str, name: str, options: dict[str, Any]) -> Any:
    """Read images and labels whose ``multiscales`` carry RFC-5 metadata; leave everything else to the next plugin."""
    if element_type not in ("images", "labels"):
        return None
    from spatialdata_plugins.transforms._spatialdata import is_rfc5_multiscales, read_rfc5_raster

    if not is_rfc5_multiscales(group):
        return None
    return read_rfc5_raster(group, element_type)


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add the ``transforms`` command group (``dingus``, ``graph``)."""
    from spatialdata_plugins.transforms._cli import transforms

    cli.add_command(transforms)


@hookimpl
def sdp_demo(sdata: Any, workdir: str, echo: Callable[[str], None]) -> None:
    """Write the demo's images as an RFC-5 scene, read the graph back and map a point through it."""
    from spatialdata_plugins.transforms._demo import run_demo

    run_demo(sdata, workdir, echo)
