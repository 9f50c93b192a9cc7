"""Hook implementations of the viewer plugin (entry point ``viewer`` of group ``spatialdata_plugins``)."""

from __future__ import annotations

from typing import Any

from spatialdata_plugins.core import hookimpl


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add the ``view`` command."""
    from spatialdata_plugins.viewer._cli import view_cmd

    cli.add_command(view_cmd)


@hookimpl
def sdp_demo(sdata: Any, workdir: str, echo: Any) -> None:
    """Serve the demo store to a viewer for a moment: its layers, and what a zoomed-out view of the points costs."""
    import urllib.request

    from spatialdata_plugins.viewer._view import view

    location = getattr(sdata, "location", None)
    if location is None:
        echo("viewer: the demo data are not stored, skipped")
        return
    with view(sdata, build_index=True, progress=False) as session:
        served = 0
        for name, kind in session.layers.items():
            with urllib.request.urlopen(f"{session.server.url}/{kind}/{name}/info", timeout=30) as r:
                served += len(r.read())
            if kind == "points":
                with urllib.request.urlopen(f"{session.server.url}/{kind}/{name}/spatial0/0_0_0", timeout=30) as r:
                    served += len(r.read())
        layers = ", ".join(f"{n} ({k})" for n, k in session.layers.items())
    echo(f"viewer: served layers {layers} ({served} bytes); open a store with 'spatialdata-plugins view PATH'")
