"""The ``spatialdata-plugins view`` command."""

from __future__ import annotations

import signal
import threading
import webbrowser

import click


@click.command("view")
@click.argument("path")
@click.option("--coordinate-system", default="global", show_default=True, help="Coordinate system to show.")
@click.option("--points", default=None, help="Points element(s) to show, comma-separated (default: all).")
@click.option("--genes", default=None, help="Show only these genes, comma-separated (default: all, coloured).")
@click.option("--build-index", is_flag=True, help="Build the points index of points that have none.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the servers listen on.")
@click.option("--port", default=0, type=int, help="Port of the viewer (default: any free port).")
@click.option("--data-port", default=0, type=int, help="Port of the data server (default: any free port).")
@click.option("--open/--no-open", "open_browser", default=False, show_default=True, help="Open a browser tab.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def view_cmd(
    path: str,
    coordinate_system: str,
    points: str | None,
    genes: str | None,
    build_index: bool,
    host: str,
    port: int,
    data_port: int,
    open_browser: bool,
    progress: bool,
) -> None:
    """Open the SpatialData store at PATH in Neuroglancer; stop with Ctrl-C."""
    from spatialdata_plugins.core import SpatialDataPluginError
    from spatialdata_plugins.viewer._view import view

    try:
        session = view(
            path,
            coordinate_system=coordinate_system,
            points=points,
            genes=genes,
            build_index=build_index,
            progress=progress,
            host=host,
            port=port,
            data_port=data_port,
        )
    except (SpatialDataPluginError, KeyError) as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        click.echo(f"layers: {', '.join(f'{n} ({k})' for n, k in session.layers.items()) or 'none'}")
        click.echo(f"data: {session.server.url}")
        click.echo(f"viewer: {session.url}")
        click.echo("press Ctrl-C to stop")
        if open_browser:
            webbrowser.open(session.url)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        session.stop()
        click.echo("viewer stopped")
