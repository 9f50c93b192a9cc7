"""The transforms step of ``spatialdata-plugins demo``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np


def run_demo(sdata: Any, workdir: str, echo: Callable[[str], None]) -> None:
    """Write the demo's images as an RFC-5 scene, read its graph back and map points through it."""
    from spatialdata_plugins.transforms._io import write_spatialdata_scene
    from spatialdata_plugins.transforms._model import Affine, Rotation, Scale, Sequence, Translation, simplify

    if not sdata.images:
        echo("transforms: the demo data has no images; skipped")
        return
    target = os.path.join(workdir, "transforms-scene.zarr")
    graph = write_spatialdata_scene(sdata, target, overwrite=True)
    names = [str(k) for k in graph.coordinate_systems if k.name]
    echo(
        f"transforms: wrote {len(sdata.images)} image(s) as an OME-Zarr 0.6rc0 scene ({len(names)} coordinate systems)"
    )
    image = next(iter(sdata.images))
    cs = next(k for k in graph.coordinate_systems if k.name and not k.path)
    ndim = graph.systems[graph.resolve(f"{image}#intrinsic")].ndim
    point = graph.transform(np.zeros((1, ndim)), f"{image}/0", cs)
    echo(f"transforms: centre of pixel 0 of {image!r} (RFC-5 array coordinates) -> {cs}: {point[0].round(3).tolist()}")
    chain = Sequence([Scale([2.0, 2.0]), Translation([1.0, -1.0]), Rotation(np.array([[0.0, -1.0], [1.0, 0.0]]))])
    flat = simplify(chain)
    assert isinstance(flat, Affine)
    echo(f"transforms: scale -> translation -> rotation collapsed to one affine {flat.to_dict()['affine']}")
