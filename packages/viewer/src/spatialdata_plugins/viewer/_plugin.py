"""Hook implementations of the viewer plugin (entry point ``viewer`` of group ``spatialdata_plugins``)."""

from __future__ import annotations

from typing import Any

from spatialdata_plugins.core import hookimpl


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add the ``view`` command."""
    from spatialdata_plugins.viewer._cli import view_cmd

    cli.add_command(view_cmd)
