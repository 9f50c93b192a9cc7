"""Hook implementations of the points-index plugin (entry point ``points-index`` of group ``spatialdata_plugins``)."""

from __future__ import annotations

from typing import Any

from spatialdata_plugins.core import hookimpl

MARKER = "points_index"


@hookimpl
def sdp_write_options() -> list[str]:
    """``write(..., points_index=...)`` builds indexes of the points written."""
    return [MARKER]


def _requested(sdata: Any, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Points elements to index at this write, with their build options."""
    wanted: dict[str, dict[str, Any]] = {}
    for name, element in sdata.points.items():
        marker = element.attrs.get(MARKER)
        if isinstance(marker, dict):
            wanted[name] = dict(marker)
    opt = options.get("points_index")
    if opt is True:
        for name in sdata.points:
            wanted.setdefault(name, {})
    elif isinstance(opt, str):
        wanted.setdefault(opt, {})
    elif isinstance(opt, dict):
        for name, params in opt.items():
            wanted[name] = dict(wanted.get(name, {})) | dict(params or {})
    elif isinstance(opt, list | tuple | set):
        for name in opt:
            wanted.setdefault(name, {})
    elif opt is False:
        return {}
    return {k: v for k, v in wanted.items() if k in sdata.points}


@hookimpl
def sdp_after_write(sdata: Any, location: Any, root: Any, options: dict[str, Any], update: Any) -> None:
    """Build the index of every marked (or ``points_index=``-requested) points element the write stored.

    A full write indexes every marked element; an incremental update (``add_element``, a transaction) only those it
    wrote or refreshes (an index built inside a transaction on a read-only snapshot: built here from the stored
    element, which is not written again). The index of a lazily linked points element is built from its loaded
    data, under ``spatialdata_plugins/points_index/<name>`` (a link has no group of its own).
    """
    from spatialdata_plugins.points_index._api import (
        LINKED_INDEX_GROUP,
        _is_linked,
        build_into_location,
        build_linked_into_location,
    )

    progress = options.get("progress", False)
    built = set()
    for name, params in _requested(sdata, options).items():
        if update is not None and not update.affects(name):
            continue
        if _is_linked(sdata, name):
            build_linked_into_location(location, name, sdata.points[name], params, progress=progress)
        else:
            build_into_location(location, name, params, progress=progress)
        built.add(name)
    if update is not None and not update.full:
        # an incremental update that replaced or deleted a linked element drops its index unless rebuilt above
        for name in (update.written | update.deleted) - built:
            location.delete(LINKED_INDEX_GROUP, name)


@hookimpl
def sdp_after_read(sdata: Any, location: Any, root: Any) -> None:
    """Mark points elements that have an index, so that writing them elsewhere rebuilds it there."""
    from spatialdata_plugins.points_index._api import has_points_index

    for name, element in sdata.points.items():
        try:
            present = has_points_index(location, name)
        except Exception:
            present = False
        if present:
            head = {}
            try:
                import zarr

                g = zarr.open_group(
                    store=location.store,
                    path=f"{location.path}/points/{name}/points_index".strip("/"),
                    mode="r",
                    use_consolidated=False,
                )
                head = dict(g.attrs.get("points_index", {}).get("params", {}))
            except Exception:
                head = {}
            element.attrs[MARKER] = {k: v for k, v in head.items() if v is not None}


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add the ``points-index`` command group."""
    from spatialdata_plugins.points_index._cli import points_index

    cli.add_command(points_index)


@hookimpl
def sdp_demo(sdata: Any, workdir: str, echo: Any) -> None:
    """Index the demo points and query a box."""
    from spatialdata_plugins.points_index._api import build_points_index

    if not sdata.points or getattr(sdata, "location", None) is None:
        echo("points-index: no stored points in the demo data, skipped")
        return
    name = next(iter(sdata.points))
    index = build_points_index(sdata, name, progress=False)
    assert index is not None
    lo = index.lo
    side = index.meta["side"]
    box = (lo[0] + side * 0.25, lo[1] + side * 0.25, lo[0] + side * 0.5, lo[1] + side * 0.5)
    full = index.query(box)
    coarse = index.query(box, max_level=min(1, index.n_levels - 1))
    echo(
        f"points-index: indexed {index.n_rows} points of {name!r} in {index.n_levels} levels "
        f"{index.level_rows()}; box {tuple(round(v, 1) for v in box)}: {len(full)} points, "
        f"{len(coarse)} up to level 1"
    )
