"""Hook specifications of spatialdata-plugins.

Every hook is prefixed ``sdp_``. Hooks that give a single answer are ``firstresult``: the first
plugin returning something other than ``None`` wins, and plugins registered later are asked first
(pluggy's LIFO order), so a third-party plugin overrides the built-in defaults, which are
registered first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    import click
    import zarr

    from spatialdata_plugins.core._location import Location
    from spatialdata_plugins.core._parallel import ParallelWriteBackend
    from spatialdata_plugins.core._pipeline import Update
    from spatialdata_plugins.core._spatialdata import SpatialData

PROJECT_NAME = "spatialdata_plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(firstresult=True)
def sdp_open_store(target: Any, mode: str, storage_options: dict[str, Any] | None) -> Location | None:
    """Turn a target into a :class:`~spatialdata_plugins.core.Location` (a zarr v3 store and its filesystem).

    Parameters
    ----------
    target
        What the user passed to ``read``/``write``: a local path, an fsspec URL such as ``s3://b/x.zarr``,
        a zarr store or group, or an object a plugin understands (an icechunk repository or session).
    mode
        ``"r"`` to read, ``"w"`` to write.
    storage_options
        Options for the filesystem or store (credentials, endpoint URL), or ``None``.

    Returns
    -------
    Location or None
        ``None`` if this plugin does not understand the target.
    """


@hookspec(firstresult=True)
def sdp_read_element(
    location: Location, group: zarr.Group, element_type: str, name: str, options: dict[str, Any]
) -> Any:
    """Read one element from its zarr group.

    Parameters
    ----------
    location
        The store being read.
    group
        The element's zarr group (``root[element_type][name]``).
    element_type
        One of ``"images"``, ``"labels"``, ``"points"``, ``"shapes"``, ``"tables"``.
    name
        The element name.
    options
        Reader options, for example ``columns`` and ``filters`` for points and shapes.

    Returns
    -------
    object or None
        The element (or an object to ``attach``), or ``None`` to let another plugin read it.
    """


@hookspec(firstresult=True)
def sdp_write_element(
    sdata: SpatialData,
    location: Location,
    root: zarr.Group,
    element_type: str | None,
    name: str,
    element: Any,
    options: dict[str, Any],
) -> bool | None:
    """Write one element (or one attached object) into the store.

    Parameters
    ----------
    sdata
        The object being written.
    location
        The store written to.
    root
        The root zarr group of the SpatialData store.
    element_type
        ``"images"``, ``"labels"``, ``"points"``, ``"shapes"``, ``"tables"``, or ``None`` for an attached object
        that has not been resolved into an element.
    name
        The element name.
    element
        The element or attached object.
    options
        Writer options given to ``write``.

    Returns
    -------
    bool or None
        ``True`` when this plugin wrote the element; ``None`` to let the next plugin (finally the default) write it.
    """


@hookspec
def sdp_after_read(sdata: SpatialData, location: Location, root: zarr.Group, selection: frozenset[str] | None) -> None:
    """Complete a freshly read object, for example attach links or indexes a plugin stored beside the elements.

    Parameters
    ----------
    sdata
        The object ``read`` is about to return.
    location
        The store read from.
    root
        Its root zarr group.
    selection
        The element types and names ``read`` was asked for (``selection=``), or ``None`` for everything; what a
        plugin adds should respect it. Implementations written before this argument existed may leave it out.
    """


@hookspec
def sdp_after_write(
    sdata: SpatialData, location: Location, root: zarr.Group, options: dict[str, Any], update: Update
) -> None:
    """Add plugin artefacts after the elements of one use of the write pipeline were written.

    Called once per use of the pipeline: a full write (before the store is published), :func:`add_element`, and a
    transaction's incremental update (before the commit). A failure here fails a full write, which then leaves the
    previous store as it was, and a transaction, which then commits nothing.

    Parameters
    ----------
    sdata
        The object written.
    location
        The store written to (a staging location while the write is in progress).
    root
        Its root zarr group.
    options
        Writer options given to ``write`` (the same dict every ``sdp_write_element`` call of this use saw, so a
        plugin can collect there what it stores at the end).
    update
        What this use of the pipeline wrote: :attr:`Update.full <spatialdata_plugins.core.Update.full>` for a
        whole store; otherwise only the names in ``update.written`` and ``update.deleted`` changed and a plugin
        must keep what it stored for the others. Implementations written before this argument existed may leave
        it out (they then see every use as a full write).
    """


@hookspec(firstresult=True)
def sdp_access_element(sdata: SpatialData, name: str, obj: Any) -> Any:
    """Resolve an attached object into a SpatialData element when it is accessed by name.

    Parameters
    ----------
    sdata
        The object the element is accessed on.
    name
        The element name.
    obj
        What was attached under that name.

    Returns
    -------
    object or None
        The element (image, labels, points, shapes or table), or ``None`` if this plugin does not handle ``obj``.
    """


@hookspec(firstresult=True)
def sdp_describe_attached(name: str, obj: Any) -> str | None:
    """Describe an attached object for ``repr``.

    Parameters
    ----------
    name
        The name it is attached under.
    obj
        The attached object.

    Returns
    -------
    str or None
        A one-line description such as ``"[lazy] ParquetShapes @ /data/cells.parquet"``.
    """


@hookspec(firstresult=True)
def sdp_parallel_write_backend(location: Location) -> ParallelWriteBackend | None:
    """Choose how dask-backed data is persisted into ``location``.

    Parameters
    ----------
    location
        The store written to.

    Returns
    -------
    ParallelWriteBackend or None
        A backend, or ``None`` to fall back to the default (``dask.compute`` on the active scheduler).
    """


@hookspec
def sdp_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``spatialdata-plugins`` command line.

    Parameters
    ----------
    cli
        The root :class:`click.Group`; call ``cli.add_command(...)``.
    """


@hookspec
def sdp_demo(sdata: SpatialData, workdir: str, echo: Callable[[str], None]) -> None:
    """Extend ``spatialdata-plugins demo`` with a plugin's own step.

    Parameters
    ----------
    sdata
        The synthetic SpatialData the demo built, as read back through the core.
    workdir
        A temporary directory the step may write into.
    echo
        Print a line of the demo's report.
    """
