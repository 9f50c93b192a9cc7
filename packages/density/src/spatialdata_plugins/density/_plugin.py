"""Hook implementations of the density plugin (entry point ``density`` of group ``spatialdata_plugins``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from spatialdata_plugins.core import hookimpl


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add ``spatialdata-plugins density rings|smooth``."""
    from spatialdata_plugins.density._cli import density_command

    cli.add_command(density_command)


@hookimpl
def sdp_demo(sdata: Any, workdir: str, echo: Callable[[str], None]) -> None:
    """Ring densities of the demo's transcripts around its two polygon regions, per gene for two genes."""
    from spatialdata_plugins.density import ring_density

    t0 = time.perf_counter()
    genes = sorted(sdata.points["transcripts"]["gene"].cat.categories)[:2] if "transcripts" in sdata.points else None
    result = ring_density(
        sdata, points="transcripts", contours="regions", ring_width=8, n_rings_in=3, n_rings_out=3, genes=genes,
        progress=False,
    )  # fmt: skip
    pooled = result[(result["contour"] == "pooled") & (result["group"] == "all")]
    profile = ", ".join(f"{r.d_inner:+.0f}..{r.d_outer:+.0f}: {r.density:.3f}" for r in pooled.itertuples())
    echo(
        f"density: transcripts around the 2 'regions' contours, 6 rings of width 8 (per unit area) -> {profile} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
