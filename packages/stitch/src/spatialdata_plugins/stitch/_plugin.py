"""Hook implementations of the stitch plugin (entry point ``stitch`` of group ``spatialdata_plugins``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from spatialdata_plugins.core import hookimpl


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add ``spatialdata-plugins stitch``."""
    from spatialdata_plugins.stitch._cli import stitch_command

    cli.add_command(stitch_command)


@hookimpl
def sdp_demo(sdata: Any, workdir: str, echo: Callable[[str], None]) -> None:
    """Stitch 2x2 synthetic tiles with perturbed stage positions: register, fuse, report the residual error."""
    import numpy as np
    from spatialdata.transformations import get_transformation

    from spatialdata_plugins.stitch import fuse_sdata_images, synthetic_tiles

    t0 = time.perf_counter()
    tiles, truth = synthetic_tiles(grid=(2, 2), tile_size=128, jitter=3.0, seed=0)
    # the synthetic tiles are the demo's own, so the refined placement may be written to them
    fused = fuse_sdata_images(
        tiles, "tile_*", register=True, update_transformations=True, multiscale=True, progress=False
    )
    errors = [
        np.abs(
            get_transformation(el, "global").to_affine_matrix(("y", "x"), ("y", "x"))[:2, 2] - truth.offsets[n]
        ).max()
        for n, el in tiles.images.items()
    ]
    stage = [np.abs(truth.stage[n] - truth.offsets[n]).max() for n in tiles.images]
    shape = fused["scale0"].ds["image"].shape
    echo(
        f"stitch: registered 4 synthetic tiles (stage error up to {max(stage):.2f} px -> {max(errors):.2f} px) and "
        f"fused them into a {shape} pyramid of {len(fused.children)} levels with multiview-stitcher "
        f"({time.perf_counter() - t0:.1f} s)"
    )
