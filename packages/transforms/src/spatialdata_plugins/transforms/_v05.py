"""OME-Zarr 0.4/0.5 ``multiscales`` (``axes``, per-dataset lists of ``scale``/``translation``) in the 0.6rc0 form.

0.4 and 0.5 images (what ome-zarr-py, spatialdata and most writers produce today) carry no coordinate systems:
one list of ``axes`` and, per dataset, a ``scale`` optionally followed by a ``translation``, both without
``input``/``output``. They are read as 0.6rc0 metadata with the names ome-zarr-models uses for the same
conversion (``Multiscale.to_version("0.6")``): the intrinsic coordinate system is ``physical``, and the optional
multiscales-level ``coordinateTransformations`` map ``physical`` to a second system ``output``.
"""

from __future__ import annotations

import copy
from typing import Any

from spatialdata_plugins.transforms._errors import TransformationError

#: Name of the intrinsic coordinate system of a 0.4/0.5 image read as 0.6rc0 (as in ome-zarr-models).
V05_INTRINSIC = "physical"

#: Name of the coordinate system that the multiscales-level transformations of a 0.4/0.5 image map to.
V05_OUTPUT = "output"


def is_v05_multiscales(ms: Any) -> bool:
    """Whether a ``multiscales`` entry is in the 0.4/0.5 form (``axes`` and no ``coordinateSystems``)."""
    return isinstance(ms, dict) and "coordinateSystems" not in ms and "axes" in ms


def _chain(items: Any, where: str) -> dict[str, Any]:
    """One 0.6rc0 transformation for a 0.4/0.5 list: ``[scale]`` or ``[scale, translation]``."""
    if not isinstance(items, list) or not items or len(items) > 2:
        raise TransformationError(f"{where}: field 'coordinateTransformations' must hold a scale and/or a translation")
    kinds = [item.get("type") if isinstance(item, dict) else None for item in items]
    if kinds not in (["scale"], ["identity"], ["scale", "translation"]):
        raise TransformationError(
            f"{where}: field 'coordinateTransformations' must be [scale] or [scale, translation] (OME-Zarr 0.4/0.5), "
            f"got {kinds}"
        )
    steps = [{k: v for k, v in item.items() if k not in ("input", "output")} for item in items]
    if len(steps) == 1:
        return steps[0]
    return {"type": "sequence", "transformations": steps}


def upgrade_v05_multiscales(ms: dict[str, Any], where: str = "multiscales") -> dict[str, Any]:
    """A 0.4/0.5 ``multiscales`` entry rewritten in the 0.6rc0 form (a new dict; the input is left alone).

    Parameters
    ----------
    ms
        One entry of ``multiscales`` with ``axes`` (objects, or names as in 0.3) and ``datasets``.
    where
        Where it sits, for error messages.

    Returns
    -------
    dict
        The entry with ``coordinateSystems`` (``physical``, plus ``output`` when the entry has multiscales-level
        transformations), dataset transformations from the array (``{"path": ...}``) to ``physical``, and
        multiscales-level transformations from ``physical`` to ``output``.

    Raises
    ------
    TransformationError
        ``axes`` or a dataset's ``coordinateTransformations`` is malformed.

    Examples
    --------
    >>> upgrade_v05_multiscales({
    ...     "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
    ...     "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [2, 2]}]}],
    ... })["datasets"][0]["coordinateTransformations"]
    [{'type': 'scale', 'scale': [2, 2], 'input': {'path': '0'}, 'output': {'name': 'physical'}}]
    """
    axes = ms.get("axes")
    if not isinstance(axes, list) or not axes:
        raise TransformationError(f"{where}: field 'axes' must be a non-empty array")
    axes = [{"name": a} if isinstance(a, str) else copy.deepcopy(a) for a in axes]
    out = {k: copy.deepcopy(v) for k, v in ms.items() if k not in ("axes", "datasets", "coordinateTransformations")}
    systems = [{"name": V05_INTRINSIC, "axes": axes}]
    datasets = ms.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise TransformationError(f"{where}: field 'datasets' must be a non-empty array")
    new_datasets = []
    for d, ds in enumerate(datasets):
        if not isinstance(ds, dict) or not isinstance(ds.get("path"), str):
            raise TransformationError(f"{where}.datasets[{d}]: field 'path' must be a string")
        # 0.3 datasets have no transformations: the array index is the physical coordinate
        items = ds.get("coordinateTransformations") or [{"type": "identity"}]
        t = _chain(items, f"{where}.datasets[{d}]")
        t["input"] = {"path": ds["path"]}
        t["output"] = {"name": V05_INTRINSIC}
        new_datasets.append({**copy.deepcopy(ds), "coordinateTransformations": [t]})
    out["coordinateSystems"] = systems
    out["datasets"] = new_datasets
    if ms.get("coordinateTransformations"):
        t = _chain(ms["coordinateTransformations"], where)
        t["input"] = {"name": V05_INTRINSIC}
        t["output"] = {"name": V05_OUTPUT}
        systems.append({"name": V05_OUTPUT, "axes": copy.deepcopy(axes)})
        out["coordinateTransformations"] = [t]
    return out
