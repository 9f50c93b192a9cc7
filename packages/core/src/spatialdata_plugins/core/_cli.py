"""The ``spatialdata-plugins`` (alias ``sdp``) command line: ``plugins``, ``info``, ``demo`` and plugin commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from spatialdata_plugins.core._errors import SpatialDataPluginError


def parse_storage_options(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    """Turn ``("key=value", ...)`` into a dict; values are parsed as JSON when they are valid JSON.

    Parameters
    ----------
    pairs
        ``KEY=VALUE`` strings from ``--storage-option``.

    Returns
    -------
    dict or None
        The options, or ``None`` when there are none.
    """
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--storage-option")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


storage_option = click.option(
    "--storage-option",
    "-s",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Filesystem option for URLs, repeatable (e.g. -s endpoint_url=http://127.0.0.1:9000 -s anon=true).",
)


@click.group(name="spatialdata-plugins")
@click.version_option(package_name="spatialdata-plugins-core")
def cli() -> None:
    """Plugins for scverse SpatialData: registry, IO over any zarr store, and plugin commands."""


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins: name, distribution, version, hooks, and whether each loaded."""
    import warnings

    from spatialdata_plugins.core._registry import list_plugins

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failures are part of the listing itself
        infos = list_plugins()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    rows = [("name", "distribution", "version", "status", "hooks")]
    for i in infos:
        status = "loaded" if i.loaded else ("disabled" if i.disabled else "FAILED")
        rows.append((i.name, i.distribution or "-", i.version or "-", status, ", ".join(i.hooks) or "-"))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    for r in rows:
        click.echo("  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4])
    for i in infos:
        if i.error and not i.disabled:
            click.echo(f"\n{i.name}: {i.error}", err=False)


def _format_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_info(summary: dict[str, Any]) -> str:
    """Render the dict returned by :func:`spatialdata_plugins.core.info` as text."""
    lines = [f"SpatialData store {summary['location']} (format {summary['format_version']})"]
    for e in summary["elements"]:
        cs = ", ".join(e.get("coordinate_systems") or []) or "-"
        if e["type"] in ("images", "labels"):
            detail = (
                f"{'x'.join(map(str, e['shape']))} {e['dtype']} axes={''.join(e['axes'])} "
                f"scales={e['scales']} ({_format_size(e['nbytes_uncompressed'])} uncompressed)"
            )
        elif e["type"] in ("points", "shapes"):
            detail = f"{e['rows']} rows, columns={e['columns']} ({_format_size(e['file_bytes'])} {e['encoding']})"
        else:
            detail = f"{e['n_obs']} obs x {e['n_vars']} vars, annotates {e['region']}"
        lines.append(f"  {e['type']:<7} {e['name']:<24} {detail}  coordinate systems: {cs}")
    lines.append(f"coordinate systems: {', '.join(summary['coordinate_systems']) or '-'}")
    return "\n".join(lines)


@cli.command("info")
@click.argument("target")
@storage_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_command(target: str, storage_options: tuple[str, ...], as_json: bool) -> None:
    """Show the elements, types, sizes and coordinate systems of a store without loading data."""
    from spatialdata_plugins.core._info import info

    summary = info(target, storage_options=parse_storage_options(storage_options))
    click.echo(json.dumps(summary, indent=2, default=str) if as_json else format_info(summary))


@cli.command("demo")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory to write into (default: a new temporary directory, kept so you can look at it).",
)
@click.option("--points", "n_points", type=int, default=20_000, show_default=True, help="Number of synthetic points.")
@click.option("--progress/--no-progress", default=None, help="Show progress bars (default: on a terminal).")
def demo_command(workdir: str | None, n_points: int, progress: bool | None) -> None:
    """Build a synthetic SpatialData, write it, read it back through the core, and run the plugins' demo steps."""
    from spatialdata_plugins.core._demo import run_demo

    run_demo(workdir=workdir, n_points=n_points, progress=progress, echo=click.echo)


def build_cli() -> click.Group:
    """Return the root command with every plugin's subcommands added (``sdp_register_commands``)."""
    from spatialdata_plugins.core._registry import get_registry

    get_registry().hook.sdp_register_commands(cli=cli)
    return cli


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``spatialdata-plugins`` and ``sdp`` commands."""
    root = build_cli()
    try:
        root.main(args=argv, prog_name="spatialdata-plugins", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SpatialDataPluginError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


#: ``spatialdata-plugins`` as a function (``cli_main(["plugins", "--json"])``), for tests and scripts.
cli_main = main
