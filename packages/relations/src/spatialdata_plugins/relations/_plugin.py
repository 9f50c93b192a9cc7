"""Hook implementations of the relations plugin (entry point of group ``spatialdata_plugins``)."""

from __future__ import annotations

from typing import Any

from spatialdata_plugins.core import hookimpl


@hookimpl
def sdp_after_write(sdata: Any, location: Any, root: Any, options: dict[str, Any]) -> None:
    """Store the evaluated spatial links beside the elements (the graph itself is in ``sdata.attrs``)."""
    from spatialdata_plugins.relations._store import write_evaluated

    write_evaluated(sdata, root)


@hookimpl
def sdp_after_read(sdata: Any, location: Any, root: Any) -> None:
    """Make stored evaluations of spatial links available; their arrays are read on first use."""
    from spatialdata_plugins.relations._graph import ATTRS_KEY

    if ATTRS_KEY not in (sdata.attrs or {}):
        return
    from spatialdata_plugins.relations._store import attach_stored

    attach_stored(sdata, root)


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add ``spatialdata-plugins relations list|validate``."""
    from spatialdata_plugins.relations._cli import relations_group

    cli.add_command(relations_group)


@hookimpl
def sdp_demo(sdata: Any, workdir: str, echo: Any) -> None:
    """Link nuclei to the cells' table spatially, query in SQL, write and read back, validate."""
    from spatialdata_plugins.relations._demo import run_demo_step

    run_demo_step(sdata, workdir, echo)
