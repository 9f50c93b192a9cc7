"""``spatialdata-plugins density rings|smooth PATH ...``: compute profiles on a store and save them as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from spatialdata_plugins.core import parse_storage_options, storage_option


def write_table(sdata: Any, table: Any, name: str, *, overwrite: bool = False) -> Path:
    """Add one table element to the local store ``sdata`` was read from, without rewriting the rest.

    The core's ``write(..., overwrite=True)`` would refuse (``UnsafeOverwriteError``): the points of ``sdata`` are
    read lazily from that very store. :func:`spatialdata_plugins.core.add_element` writes only the table; replacing
    an existing one writes the new table completely first, so a failure leaves the old one readable.

    Parameters
    ----------
    sdata
        A SpatialData read from a local store (``sdata.path`` set).
    table
        The AnnData table (parsed with ``TableModel``).
    name
        Table element name.
    overwrite
        Replace an existing table of that name.

    Returns
    -------
    pathlib.Path
        The store path.
    """
    from spatialdata_plugins.core import ElementExistsError, add_element
    from spatialdata_plugins.density._errors import DensityArgumentError

    path = getattr(sdata, "path", None)
    if path is None or not Path(path).is_dir():
        raise DensityArgumentError(
            "--out writes into local stores only; for other targets use --csv, or the Python API and "
            "spatialdata_plugins.core.write"
        )
    if name in sdata and name not in sdata.tables:
        raise ElementExistsError(f"an element named {name!r} already exists in {path}; choose another name")
    add_element(path, name, table, element_type="tables", overwrite=overwrite)
    sdata.tables[name] = table
    return Path(path)


def _common(fn: Any) -> Any:
    options = [
        click.argument("path"),
        click.option("--points", help="Points element (transcripts)."),
        click.option("--shapes", help="Shapes element whose centroids are counted (cells), instead of --points."),
        click.option("--contours", required=True, help="Shapes element with the contours."),
        click.option("--genes", help="Comma-separated genes, one profile each (values of --gene-key)."),
        click.option("--group-by", help="Column to group by (every value gets a profile), e.g. gene or cell_type."),
        click.option("--gene-key", help="Column holding gene names (default: the points' feature_key)."),
        click.option("--domain", help="Shapes or labels element with the tissue domain."),
        click.option("--coordinate-system", "-c", help="Coordinate system (default: the shared one)."),
        click.option("--out", "out", help="Name of the table to add to the store (local stores)."),
        click.option("--overwrite", is_flag=True, help="Replace an existing table of that name."),
        click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Also save the tidy table as CSV."),
        click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."),
        storage_option,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _genes(genes: str | None, group_by: str | None) -> Any:
    if genes and group_by:
        raise click.UsageError("give --genes or --group-by, not both")
    if group_by:
        return group_by
    if genes:
        return [g.strip() for g in genes.split(",") if g.strip()]
    return None


def _finish(sdata: Any, result: Any, kw: dict, echo_kind: str) -> None:
    from spatialdata_plugins.density._table import density_table

    if kw["csv_path"]:
        result.to_csv(kw["csv_path"], index=False)
        click.echo(f"wrote {len(result)} rows to {kw['csv_path']}")
    if kw["out"]:
        table = density_table(result, kw["contours"], contour_ids=list(sdata.shapes[kw["contours"]].index))
        store = write_table(sdata, table, kw["out"], overwrite=kw["overwrite"])
        click.echo(f"wrote table {kw['out']!r} ({table.n_obs} contours x {table.n_vars} {echo_kind}) into {store}")
    if not kw["csv_path"] and not kw["out"]:
        pooled = result[(result["contour"] == "pooled") & (result["group"] == "all")]
        click.echo(pooled.to_string(index=False))


def _read(path: str, storage_options: tuple[str, ...]) -> Any:
    from spatialdata_plugins.core import read

    return read(path, storage_options=parse_storage_options(storage_options))


@click.group("density")
def density_command() -> None:
    """Density profiles of points or cells against signed distance to contours."""


@density_command.command("rings")
@_common
@click.option("--ring-width", type=float, required=True, help="Width of each ring.")
@click.option("--n-in", type=int, default=5, show_default=True, help="Rings inside the contour.")
@click.option("--n-out", type=int, default=5, show_default=True, help="Rings outside the contour.")
def rings_command(ring_width: float, n_in: int, n_out: int, **kw: Any) -> None:
    """Ring densities (counts / exact band areas) around the contours of the store at PATH."""
    from spatialdata_plugins.density import ring_density

    sdata = _read(kw["path"], kw["storage_options"])
    result = ring_density(
        sdata,
        points=kw["points"],
        shapes=kw["shapes"],
        contours=kw["contours"],
        ring_width=ring_width,
        n_rings_in=n_in,
        n_rings_out=n_out,
        genes=_genes(kw["genes"], kw["group_by"]),
        gene_key=kw["gene_key"],
        domain=kw["domain"],
        coordinate_system=kw["coordinate_system"],
        progress=kw["progress"],
    )
    _finish(sdata, result, kw, "group x ring columns")


@density_command.command("smooth")
@_common
@click.option("--bandwidth", type=float, required=True, help="Gaussian kernel standard deviation.")
@click.option("--distance-in", type=float, required=True, help="Profile range inside the contour.")
@click.option("--distance-out", type=float, required=True, help="Profile range outside the contour.")
@click.option("--grid", "n_grid", type=int, default=101, show_default=True, help="Number of output distances.")
@click.option("--min-expected-count", type=float, default=10.0, show_default=True, help="Masking threshold.")
def smooth_command(
    bandwidth: float, distance_in: float, distance_out: float, n_grid: int, min_expected_count: float, **kw: Any
) -> None:
    """Kernel-smoothed, area-normalised density profile around the contours of the store at PATH."""
    from spatialdata_plugins.density import smooth_density_by_distance

    sdata = _read(kw["path"], kw["storage_options"])
    result = smooth_density_by_distance(
        sdata,
        points=kw["points"],
        shapes=kw["shapes"],
        contours=kw["contours"],
        bandwidth=bandwidth,
        grid=n_grid,
        distance_in=distance_in,
        distance_out=distance_out,
        genes=_genes(kw["genes"], kw["group_by"]),
        gene_key=kw["gene_key"],
        domain=kw["domain"],
        coordinate_system=kw["coordinate_system"],
        min_expected_count=min_expected_count,
        progress=kw["progress"],
    )
    _finish(sdata, result, kw, "group x distance columns")
