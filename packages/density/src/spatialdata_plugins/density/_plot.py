"""``plot_density_profile``: rings as steps and the smoothed profile as lines, per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from spatialdata_plugins.density._density import POOLED
from spatialdata_plugins.density._errors import DensityArgumentError


def plot_density_profile(
    rings: pd.DataFrame | None = None,
    smooth: pd.DataFrame | None = None,
    *,
    groups: Sequence[str] | None = None,
    contour: Any = POOLED,
    ax: Any = None,
    show_se: bool = True,
    title: str | None = None,
) -> Any:
    """Draw density against signed distance: rings as steps, the smoothed profile as lines with a +-1 SE band.

    The contour is at distance 0 (dashed line); the inside (negative distances) is shaded.

    Parameters
    ----------
    rings
        Result of :func:`ring_density`.
    smooth
        Result of :func:`smooth_density_by_distance`.
    groups
        Groups (genes) to draw, one colour each (default: every group in the results, ``"all"`` last).
    contour
        Which contour to draw: an id, or ``"pooled"`` (default).
    ax
        A matplotlib Axes to draw into (default: a new figure).
    show_se
        Draw the standard error (error bars for rings, a band for the smoothed profile).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    import matplotlib.pyplot as plt

    if rings is None and smooth is None:
        raise DensityArgumentError("give rings=... and/or smooth=... (results of ring_density / smooth_density...)")
    frames = [f for f in (rings, smooth) if f is not None]
    available = list(dict.fromkeys(g for f in frames for g in f["group"]))
    if groups is None:
        groups = available
    missing = [g for g in groups if g not in available]
    if missing:
        raise DensityArgumentError(f"groups {missing} are not in the results; available: {available}")
    contours = {str(c) for f in frames for c in f["contour"]}
    if str(contour) not in contours:
        raise DensityArgumentError(f"contour {contour!r} is not in the results; available: {sorted(contours)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, group in enumerate(groups):
        colour = colours[i % len(colours)]
        if rings is not None:
            r = rings[(rings["contour"].astype(str) == str(contour)) & (rings["group"] == group)].sort_values("ring")
            if len(r):
                x = np.append(r["d_inner"].to_numpy(), r["d_outer"].to_numpy()[-1])
                y = r["density"].to_numpy()
                ax.stairs(y, x, color=colour, alpha=0.8, label=f"{group} (rings)")
                if show_se:
                    ax.errorbar(r["d_mid"], y, yerr=r["density_se"], fmt="none", ecolor=colour, alpha=0.6)
        if smooth is not None:
            s = smooth[(smooth["contour"].astype(str) == str(contour)) & (smooth["group"] == group)]
            s = s.sort_values("distance")
            if len(s):
                ax.plot(s["distance"], s["density"], color=colour, lw=2, label=f"{group} (smoothed)")
                if show_se:
                    lo = s["density"] - s["density_se"]
                    hi = s["density"] + s["density_se"]
                    ax.fill_between(s["distance"], lo, hi, color=colour, alpha=0.2, lw=0)
    ax.axvline(0.0, color="k", ls="--", lw=1)
    left = min(float(np.nanmin(f["d_inner"] if "d_inner" in f else f["distance"])) for f in frames)
    if left < 0:
        ax.axvspan(left, 0.0, color="0.9", zorder=0, label="inside")
    ax.set_xlabel("signed distance to contour (negative inside)")
    ax.set_ylabel("density (points per unit area)")
    ax.set_title(title if title is not None else f"contour: {contour}")
    ax.legend(fontsize="small")
    return ax
