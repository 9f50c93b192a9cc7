"""Hook implementations of the icechunk plugin (entry point ``icechunk`` of group ``spatialdata_plugins``).

Nothing heavy is imported at module level: the core imports this module at every start of the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spatialdata_plugins.core import hookimpl


def _is_icechunk(obj: Any, *names: str) -> bool:
    cls = type(obj)
    return cls.__module__.split(".")[0] == "icechunk" and cls.__name__ in names


@hookimpl
def sdp_open_store(target: Any, mode: str, storage_options: dict[str, Any] | None) -> Any:
    """Open icechunk sessions (any mode) and repositories (reading the tip of ``main``) as key-value stores."""
    if _is_icechunk(target, "Session"):
        from spatialdata_plugins.icechunk._io import session_location
        from spatialdata_plugins.icechunk._repo import require_writable

        if mode != "r":
            require_writable(target)
        return session_location(target)
    if _is_icechunk(target, "Repository"):
        if mode != "r":
            from spatialdata_plugins.core import InvalidArgumentError

            raise InvalidArgumentError(
                "writing to an icechunk repository needs a commit: use spatialdata_plugins.icechunk.write(sdata, "
                "repo, message=...) or a transaction, or pass a writable session (repo.writable_session('main')) "
                "and commit it yourself"
            )
        from spatialdata_plugins.icechunk._io import session_location
        from spatialdata_plugins.icechunk._repo import readonly_session

        return session_location(readonly_session(target), target)
    return None


@hookimpl
def sdp_parallel_write_backend(location: Any) -> Any:
    """The fork/merge backend for writes into an icechunk session."""
    from spatialdata_plugins.icechunk._io import SESSION_KEY

    session = location.extra.get(SESSION_KEY) if getattr(location, "extra", None) else None
    if session is None or session.read_only:
        return None
    from spatialdata_plugins.icechunk._parallel import IcechunkForkBackend

    return IcechunkForkBackend(session)


@hookimpl
def sdp_write_element(
    sdata: Any, location: Any, root: Any, element_type: str | None, name: str, element: Any, options: dict[str, Any]
) -> bool | None:
    """Dask-backed images, labels and points on icechunk under ``dask.distributed``: written via fork/merge."""
    if element_type not in ("images", "labels", "points") or "icechunk_session" not in getattr(location, "extra", {}):
        return None
    if element_type == "points":
        from spatialdata_plugins.icechunk._io import write_points_forked

        return write_points_forked(location, root, element_type, name, element, options)
    from spatialdata_plugins.icechunk._io import write_raster_forked

    return write_raster_forked(location, root, element_type, name, element, options)


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add ``spatialdata-plugins icechunk log|tag|branch|diff``."""
    from spatialdata_plugins.icechunk._cli import icechunk_group

    cli.add_command(icechunk_group)


@hookimpl
def sdp_demo(sdata: Any, workdir: str, echo: Callable[[str], None]) -> None:
    """Write the demo data to an icechunk repository in two transactions, show the log and a diff."""
    from spatialdata_plugins.icechunk._demo import run_demo

    run_demo(sdata, workdir, echo)
