"""``spatialdata-plugins stitch``: register and fuse tiles of a store and add the fused element to it."""

from __future__ import annotations

import click

from spatialdata_plugins.stitch._options import FUSION_METHODS, TRANSFORMS


@click.command("stitch")
@click.argument("path")
@click.argument("more_elements", nargs=-1, metavar="[ELEMENT]...")
@click.option(
    "--elements",
    "-e",
    "elements",
    multiple=True,
    required=True,
    help="Tile element names or glob patterns: repeatable, comma-separated, or several after one --elements "
    "(-e 'fov_*', -e fov_1,fov_2, --elements fov_1 fov_2).",
)
@click.option("--out", "-o", "out", required=True, help="Name of the fused element written into PATH.")
@click.option("--coordinate-system", "-c", default="global", show_default=True, help="Coordinate system of the tiles.")
@click.option("--register/--no-register", default=False, show_default=True, help="Refine tile placement first.")
@click.option("--channel", default=None, help="Registration channel (name or index); default: the first.")
@click.option("--transform", type=click.Choice(TRANSFORMS), default="translation", show_default=True)
@click.option("--reference", default=None, help="Tile kept fixed during registration; default: the first.")
@click.option("--passes", type=click.IntRange(min=1), default=2, show_default=True, help="Registration passes.")
@click.option("--output-spacing", type=float, default=None, help="Pixel size of the fused image (all axes).")
@click.option("--multiscale/--single-scale", default=True, show_default=True, help="Write a pyramid or a single scale.")
@click.option("--fusion-method", type=click.Choice(FUSION_METHODS), default=None, help="Image fusion (not labels).")
@click.option("--overwrite", is_flag=True, help="Replace an existing element named OUT.")
@click.option(
    "--storage-option", "-s", "storage_options", multiple=True, metavar="KEY=VALUE", help="Filesystem option."
)
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on a terminal).")
def stitch_command(
    path: str,
    more_elements: tuple[str, ...],
    elements: tuple[str, ...],
    out: str,
    coordinate_system: str,
    register: bool,
    channel: str | None,
    transform: str,
    reference: str | None,
    passes: int,
    output_spacing: float | None,
    multiscale: bool,
    fusion_method: str | None,
    overwrite: bool,
    storage_options: tuple[str, ...],
    progress: bool | None,
) -> None:
    """Fuse the tiles ELEMENTS of the store at PATH into one element OUT, written back into PATH.

    The store is read lazily with the core; only the new element is written (the other elements are not touched).
    Names given after PATH (for example ``--elements fov_1 fov_2``) are further tiles.
    """
    from spatialdata_plugins.core import add_element, parse_storage_options, read
    from spatialdata_plugins.stitch._bridge import select_names
    from spatialdata_plugins.stitch._dask import TqdmCallback, progress_disabled, threads_unless_configured
    from spatialdata_plugins.stitch._stitch import fuse_sdata_images

    options = parse_storage_options(storage_options)
    sdata = read(path, selection=["images", "labels"], storage_options=options)
    names: list[str] = []
    patterns = [p.strip() for value in (*elements, *more_elements) for p in value.split(",") if p.strip()]
    for pattern in patterns:
        names += [n for n in select_names(sdata, pattern) if n not in names]
    channel_arg: str | int | None = int(channel) if channel is not None and channel.isdigit() else channel
    fused = fuse_sdata_images(
        sdata,
        names,
        coordinate_system=coordinate_system,
        register=register,
        channel=channel_arg,
        transform=transform,
        reference=reference,
        registration_passes=passes,
        output_spacing=output_spacing,
        multiscale=multiscale,
        fusion_method=fusion_method,
        progress=progress,
    )
    element_type = "labels" if names[0] in sdata.labels else "images"
    # the core writes only the new element (the store's tiles stay untouched); the fusion runs while it writes
    with threads_unless_configured(), TqdmCallback(f"writing {out}", progress_disabled(progress)):
        add_element(
            path,
            out,
            fused,
            element_type=element_type,
            overwrite=overwrite,
            reads_from=tuple(names),
            storage_options=options,
        )
    shape = fused["scale0"].ds[next(iter(fused["scale0"].ds.data_vars))].shape if multiscale else fused.shape
    click.echo(f"fused {len(names)} tiles ({', '.join(names)}) into {element_type} element {out!r} {shape} in {path}")
