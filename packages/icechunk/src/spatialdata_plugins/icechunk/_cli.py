"""``spatialdata-plugins icechunk log|tag|branch|diff REPO``."""

from __future__ import annotations

import json
from typing import Any

import click

from spatialdata_plugins.core import parse_storage_options, storage_option


def _options(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    return parse_storage_options(pairs)


_storage_option = storage_option


def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    from spatialdata_plugins.core import SpatialDataPluginError

    try:
        return func(*args, **kwargs)
    except SpatialDataPluginError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("icechunk")
def icechunk_group() -> None:
    """Versioned SpatialData on icechunk repositories: history, branches, tags, diffs."""


@icechunk_group.command("log")
@click.argument("repo")
@click.option("--branch", "-b", default=None, help="Branch (default main).")
@click.option("--tag", "-t", default=None, help="Start from a tag instead.")
@click.option("--snapshot", default=None, help="Start from a snapshot id instead.")
@click.option("--limit", "-n", type=int, default=None, help="Show at most N commits.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_storage_option
def log_command(
    repo: str,
    branch: str | None,
    tag: str | None,
    snapshot: str | None,
    limit: int | None,
    as_json: bool,
    storage_options: tuple[str, ...],
) -> None:
    """List the commits of REPO, newest first, with the elements each one changed."""
    from spatialdata_plugins.icechunk._history import log

    commits = _run(
        log, repo, branch=branch, tag=tag, snapshot=snapshot, limit=limit, storage_options=_options(storage_options)
    )
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in commits], indent=2, default=str))
        return
    for c in commits:
        click.echo(f"{c.id}  {c.time:%Y-%m-%d %H:%M:%S}  {c.message}")
        parts = [f"+{n}" for n in c.added] + [f"~{n}" for n in c.replaced] + [f"-{n}" for n in c.deleted]
        if c.attrs_changed:
            parts.append("attrs")
        if parts:
            click.echo(f"    {' '.join(parts)}")


def _print_refs(refs: dict[str, str], kind: str) -> None:
    if not refs:
        click.echo(f"no {kind}")
    for name, snapshot_id in refs.items():
        click.echo(f"{name}  {snapshot_id}")


@icechunk_group.command("branch")
@click.argument("repo")
@click.argument("name", required=False)
@click.option("--from", "from_", default=None, help="Branch, tag or snapshot id to start from (default main).")
@_storage_option
def branch_command(repo: str, name: str | None, from_: str | None, storage_options: tuple[str, ...]) -> None:
    """Create branch NAME in REPO, or list the branches when NAME is not given."""
    from spatialdata_plugins.icechunk._history import create_branch, list_branches
    from spatialdata_plugins.icechunk._repo import open_repository, resolve_ref

    so = _options(storage_options)
    if name is None:
        _print_refs(_run(list_branches, repo, storage_options=so), "branches")
        return
    repository = _run(open_repository, repo, storage_options=so)
    snapshot = _run(resolve_ref, repository, from_) if from_ else None
    snapshot_id = _run(create_branch, repository, name, snapshot=snapshot)
    click.echo(f"created branch {name} at {snapshot_id}")


@icechunk_group.command("tag")
@click.argument("repo")
@click.argument("name", required=False)
@click.option("--from", "from_", default=None, help="Branch, tag or snapshot id to tag (default main).")
@_storage_option
def tag_command(repo: str, name: str | None, from_: str | None, storage_options: tuple[str, ...]) -> None:
    """Create tag NAME in REPO, or list the tags when NAME is not given."""
    from spatialdata_plugins.icechunk._history import create_tag, list_tags
    from spatialdata_plugins.icechunk._repo import open_repository, resolve_ref

    so = _options(storage_options)
    if name is None:
        _print_refs(_run(list_tags, repo, storage_options=so), "tags")
        return
    repository = _run(open_repository, repo, storage_options=so)
    snapshot = _run(resolve_ref, repository, from_) if from_ else None
    snapshot_id = _run(create_tag, repository, name, snapshot=snapshot)
    click.echo(f"created tag {name} at {snapshot_id}")


@icechunk_group.command("diff")
@click.argument("repo")
@click.argument("a")
@click.argument("b", default="main")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_storage_option
def diff_command(repo: str, a: str, b: str, as_json: bool, storage_options: tuple[str, ...]) -> None:
    """Show which elements differ from A to B (branch, tag or snapshot id; B defaults to main)."""
    from spatialdata_plugins.icechunk._history import diff

    d = _run(diff, repo, a, b, storage_options=_options(storage_options))
    if as_json:
        click.echo(json.dumps(d.to_dict(), indent=2))
        return
    click.echo(f"{a} ({d.a}) -> {b} ({d.b})")
    if d.empty:
        click.echo("no differences")
    for label, names in (("added", d.added), ("deleted", d.deleted), ("modified", d.modified)):
        for n in names:
            click.echo(f"  {label:9s}{n} ({d.element_types.get(n)})")
    if d.attrs_changed:
        click.echo("  attrs changed")
