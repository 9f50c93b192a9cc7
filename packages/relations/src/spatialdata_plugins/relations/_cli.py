"""``spatialdata-plugins relations list|validate``: the relation graph of a store, from the command line."""

from __future__ import annotations

import json
from typing import Any

import click

from spatialdata_plugins.core import parse_storage_options, storage_option


def _read(target: str, storage_options: tuple[str, ...]) -> Any:
    from spatialdata_plugins.core import read

    return read(target, storage_options=parse_storage_options(storage_options))


def _print_table(rows: list[dict[str, Any]], keys: list[str]) -> None:
    table = [keys] + [[str(r[k]) for k in keys] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(keys))]
    for r in table:
        click.echo("  ".join(r[i].ljust(widths[i]) for i in range(len(keys))).rstrip())


@click.group("relations")
def relations_group() -> None:
    """Relations: links between elements and tables (recorded links and legacy region annotations)."""


@relations_group.command("list")
@click.argument("target")
@storage_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(target: str, storage_options: tuple[str, ...], as_json: bool) -> None:
    """List every relation of the SpatialData store TARGET (spatial links are not evaluated)."""
    from spatialdata_plugins.relations._api import relations

    found = [r.to_dict() for r in relations(_read(target, storage_options))]
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
        return
    if not found:
        click.echo(f"{target}: no relations")
        return
    _print_table(found, ["id", "method", "direction", "cardinality", "status"])


@relations_group.command("validate")
@click.argument("target")
@storage_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def validate_command(target: str, storage_options: tuple[str, ...], as_json: bool) -> None:
    """Check every relation of TARGET; exit status 1 if an error was found."""
    from spatialdata_plugins.relations._validate import validate_relations

    issues = [i.to_dict() for i in validate_relations(_read(target, storage_options))]
    if as_json:
        click.echo(json.dumps(issues, indent=2))
    elif not issues:
        click.echo(f"{target}: every relation is consistent")
    else:
        _print_table(issues, ["relation", "severity", "kind", "message"])
    if any(i["severity"] == "error" for i in issues):
        raise SystemExit(1)
