"""``spatialdata-plugins lazy ...``: list container types, list and check the links of a store."""

from __future__ import annotations

import json
from typing import Any

import click

from spatialdata_plugins.core import parse_storage_options, storage_option


@click.group("lazy")
def lazy() -> None:
    """Lazy containers: soft links to external files, loaded on access."""


@lazy.command("types")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def types_command(as_json: bool) -> None:
    """List the container types: built-in, from entry points, registered at run time."""
    from spatialdata_plugins.lazy_containers._types import container_types

    infos = container_types(load=True)
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    rows = [("type", "element", "source", "distribution")] + [
        (i.name, i.element_type or "?", i.source, i.distribution or "-") for i in infos
    ]
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    for r in rows:
        click.echo("  ".join(r[k].ljust(widths[k]) for k in range(4)).rstrip())
    for i in infos:
        if i.error:
            click.echo(f"\n{i.name}: failed to load: {i.error}")


def link_status(container: Any) -> str:
    """``ok``, ``changed: ...``, ``missing``, ``type not installed (needs X)`` or ``error: ...`` for one link."""
    from spatialdata_plugins.lazy_containers._errors import LazyContainerError, LinkTargetNotFoundError
    from spatialdata_plugins.lazy_containers._types import UnresolvedContainer

    if isinstance(container, UnresolvedContainer):
        return f"type not installed (needs {container.missing_distribution or '?'})"
    try:
        if container.fingerprint is None:
            container.current_fingerprint(checksum=False)
            return "ok (no fingerprint recorded)"
        changes = container.changes()
    except LinkTargetNotFoundError:
        return "missing"
    except LazyContainerError as exc:
        return f"error: {exc}"
    return f"changed: {'; '.join(changes)}" if changes else "ok"


@lazy.command("list")
@click.argument("target")
@storage_option
@click.option("--check", is_flag=True, help="Check that every target exists and is unchanged (one stat each).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(target: str, storage_options: tuple[str, ...], check: bool, as_json: bool) -> None:
    """List the lazy links stored in the SpatialData store TARGET (reads only the store's metadata)."""
    from spatialdata_plugins.core import NotSpatialDataError, StoreNotFoundError, open_location
    from spatialdata_plugins.lazy_containers._links import containers_from_links, read_links

    location = open_location(target, "r", parse_storage_options(storage_options))
    if not location.exists():
        raise StoreNotFoundError(f"no SpatialData store at {location.url}")
    try:
        root = location.open_root("r")
    except Exception as exc:
        raise NotSpatialDataError(f"{location.url} is not a zarr group ({exc})") from exc
    links = read_links(root)
    containers = containers_from_links(links)
    rows = []
    for name, container in containers.items():
        row = {
            "name": name,
            "type": container.type_name,
            "element_type": container.element_type,
            "location": container.location,
        }
        if check:
            row["status"] = link_status(container)
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"{location.url}: no lazy links")
        return
    keys = list(rows[0])
    table = [keys] + [[str(r[k]) for k in keys] for r in rows]
    widths = [max(len(r[k]) for r in table) for k in range(len(keys))]
    for r in table:
        click.echo("  ".join(r[k].ljust(widths[k]) for k in range(len(keys))).rstrip())
