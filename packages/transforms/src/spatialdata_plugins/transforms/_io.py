"""Reading and writing RFC-5 metadata: scenes, multiscales images, and SpatialData images as an RFC-5 scene."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from spatialdata_plugins.transforms._errors import TransformationError
from spatialdata_plugins.transforms._graph import OME_VERSION, OME_VERSIONS, TransformGraph
from spatialdata_plugins.transforms._model import (
    Affine,
    CoordinateSystem,
    CoordinateSystemRef,
    Rotation,
    Scale,
    Transformation,
)
from spatialdata_plugins.transforms._store import write_array


def read_scene(target: zarr.Group | str | Path) -> TransformGraph:
    """Read the transformation graph of an OME-Zarr scene (or of one multiscales image).

    Parameters
    ----------
    target
        Local path or zarr group whose attributes hold ``ome.scene`` (or ``ome.multiscales``).

    Returns
    -------
    TransformGraph
    """
    return TransformGraph.from_scene(target)


def _open_for_write(target: zarr.Group | str | Path) -> zarr.Group:
    if isinstance(target, zarr.Group):
        return target
    return zarr.open_group(str(target), mode="a", zarr_format=3)


def _externalize(t: Transformation, group: zarr.Group, names: Iterable[str]) -> Transformation:
    """A copy of ``t`` whose inline parameters are written as zarr arrays under ``coordinateTransformations/``."""
    counter = iter(names)
    t = copy.deepcopy(t)

    def visit(node: Transformation) -> None:
        # 0.6rc0 allows 'path' for matrices only; scale and translation vectors stay inline
        if isinstance(node, Affine | Rotation) and node.path is None:
            node.path = f"coordinateTransformations/{next(counter)}"
            write_array(group, node.path, node._values())
        for child in node.children():
            visit(child)

    visit(t)
    return t


def _check_version(version: str) -> str:
    if version not in OME_VERSIONS:
        raise TransformationError(
            f"field 'version': cannot write OME-Zarr version {version!r}; use one of {list(OME_VERSIONS)}"
        )
    return version


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "t"


def write_scene(
    target: zarr.Group | str | Path,
    transformations: Iterable[Transformation],
    coordinate_systems: Iterable[CoordinateSystem] = (),
    *,
    inline: bool = True,
    version: str = OME_VERSION,
) -> dict[str, Any]:
    """Write ``ome.scene`` metadata (0.6rc0 form) into the attributes of a zarr group.

    Other keys of the group's ``ome`` attribute (``multiscales``...) are kept; the ``scene`` key is replaced.

    Parameters
    ----------
    target
        Local path (created if missing) or zarr group.
    transformations
        Transformations between coordinate systems; each needs ``input`` and ``output`` with a ``name``.
    coordinate_systems
        Coordinate systems defined by the scene itself.
    inline
        Parameters inline in the JSON (default). With ``False``, the matrices of ``affine`` and ``rotation`` are
        written as zarr arrays in the group ``coordinateTransformations`` beside the images (the spec's recommended
        place) and referred to by ``path``; ``scale`` and ``translation`` vectors stay inline, since 0.6rc0 only
        allows them inline.
    version
        The ``version`` written: ``"0.6rc0"`` (default, the 0.6rc0 schemas) or ``"0.6"`` (what ome-zarr-models and
        the conformance suite expect).

    Returns
    -------
    dict
        The ``ome`` attribute written.

    Raises
    ------
    TransformationError
        A transformation lacks a named ``input`` or ``output``, names repeat, or ``version`` is not one of
        :data:`OME_VERSIONS`.
    """
    _check_version(version)
    group = _open_for_write(target)
    items = []
    seen_names: set[str] = set()
    for k, t in enumerate(transformations):
        for side in ("input", "output"):
            ref = getattr(t, side)
            if ref is None or not ref.name:
                raise TransformationError(
                    f"scene transformation [{k}] {t.describe()}: field {side!r} must name a coordinate system"
                )
        if t.name:
            if t.name in seen_names:
                raise TransformationError(f"scene transformation name {t.name!r} is used twice")
            seen_names.add(t.name)
        if not inline:
            prefix = _slug(t.name or f"{t.input}-to-{t.output}")
            t = _externalize(t, group, (f"{prefix}_{i}" for i in itertools.count()))
        items.append(t.to_dict(inline=inline))
    if not items:
        raise TransformationError("a scene needs at least one transformation ('coordinateTransformations')")
    scene: dict[str, Any] = {"coordinateTransformations": items}
    systems = [cs.to_dict() for cs in coordinate_systems]
    if systems:
        scene["coordinateSystems"] = systems
    ome = dict(group.attrs.get("ome") or {})
    ome["version"] = version
    ome["scene"] = scene
    group.attrs["ome"] = ome
    return ome


def write_rfc5_image(
    element: Any,
    target: zarr.Group | str | Path,
    *,
    intrinsic: str = "intrinsic",
    transformations: bool = True,
    overwrite: bool = False,
    version: str = OME_VERSION,
) -> zarr.Group:
    """Write a spatialdata image or labels element as an OME-Zarr 0.6rc0 multiscales group with RFC-5 metadata.

    Parameters
    ----------
    element
        ``DataArray`` or ``DataTree`` (dask-backed data is written chunk by chunk).
    target
        Local path or zarr group to create.
    intrinsic
        Name of the intrinsic coordinate system.
    transformations
        Write the element's spatialdata transformations into ``multiscales > coordinateTransformations``.
    overwrite
        Replace an existing group.
    version
        The ``version`` written, one of :data:`OME_VERSIONS` (see :func:`write_scene`).

    Returns
    -------
    zarr.Group
        The group written.
    """
    import dask.array as da
    from xarray import DataTree

    from spatialdata_plugins.core import StoreExistsError
    from spatialdata_plugins.transforms._spatialdata import element_to_multiscales

    _check_version(version)
    if isinstance(target, zarr.Group):
        group = target
    else:
        if Path(target).exists() and not overwrite:
            raise StoreExistsError(f"{target} exists; pass overwrite=True to replace it")
        group = zarr.open_group(str(target), mode="w", zarr_format=3)
    metadata = element_to_multiscales(element, intrinsic, transformations=transformations)
    if isinstance(element, DataTree):
        levels = [next(iter(element[k].data_vars.values())) for k in element.children]
    else:
        levels = [element]
    for k, level in enumerate(levels):
        data = level.data if isinstance(level.data, da.Array) else da.from_array(np.asarray(level.data))
        data.to_zarr(group.store, component=f"{group.path}/{k}".lstrip("/"), overwrite=True, zarr_format=3)
    attrs = {"version": version, "multiscales": [metadata]}
    if "c" in level.dims and "c" in level.coords:
        attrs["omero"] = {"channels": [{"label": str(c)} for c in level.coords["c"].values]}
    group.attrs["ome"] = attrs
    return group


def write_spatialdata_scene(
    sdata: Any,
    target: str | Path,
    *,
    intrinsic: str = "intrinsic",
    inline: bool = True,
    overwrite: bool = False,
    version: str = OME_VERSION,
) -> TransformGraph:
    """Write the images of a SpatialData as an OME-Zarr 0.6rc0 scene, its transformations as RFC-5 metadata.

    Every image becomes a multiscales group ``target/<name>`` (intrinsic coordinate system ``intrinsic``); every
    spatialdata coordinate system becomes a scene coordinate system and every element transformation a scene
    transformation from ``{"path": <name>, "name": intrinsic}`` to it.

    Parameters
    ----------
    sdata
        A SpatialData object.
    target
        Local directory to create.
    intrinsic
        Name of each image's intrinsic coordinate system.
    inline
        Parameters inline (default) or as zarr arrays (see :func:`write_scene`).
    overwrite
        Replace an existing directory.
    version
        The ``version`` written, one of :data:`OME_VERSIONS` (see :func:`write_scene`).

    Returns
    -------
    TransformGraph
        The graph of the scene written (read back from disk).
    """
    from spatialdata.models import get_axes_names
    from spatialdata.transformations import get_transformation

    from spatialdata_plugins.core import StoreExistsError
    from spatialdata_plugins.transforms._model import Axis
    from spatialdata_plugins.transforms._spatialdata import from_spatialdata

    _check_version(version)
    if Path(target).exists() and not overwrite:
        raise StoreExistsError(f"{target} exists; pass overwrite=True to replace it")
    root = zarr.open_group(str(target), mode="w", zarr_format=3)
    transformations = []
    systems: dict[str, CoordinateSystem] = {}
    for name, element in sdata.images.items():
        write_rfc5_image(element, root.create_group(name), intrinsic=intrinsic, transformations=False, version=version)
        dims = tuple(d for d in get_axes_names(element))
        for cs_name, sd_t in get_transformation(element, get_all=True).items():  # type: ignore[union-attr]
            cs = CoordinateSystem(cs_name, tuple(Axis(d, type="channel" if d == "c" else "space") for d in dims))
            if cs_name in systems and systems[cs_name] != cs:
                cs = systems[cs_name] if systems[cs_name].ndim >= cs.ndim else cs
            systems[cs_name] = cs
            t = from_spatialdata(
                sd_t,
                dims,
                input=CoordinateSystemRef(name=intrinsic, path=name),
                output=CoordinateSystemRef(name=cs_name),
            )
            t.name = f"{name} to {cs_name}"
            transformations.append(_schema_safe(t))
    write_scene(root, transformations, systems.values(), inline=inline, version=version)
    return TransformGraph.from_scene(root)


def _schema_safe(t: Transformation) -> Transformation:
    """The 0.6rc0 schema requires positive ``scale`` values: write other scales as the equivalent ``affine``."""
    if isinstance(t, Scale) and t.scale is not None and np.any(t.scale <= 0):
        return Affine.from_matrix(t.to_affine(), name=t.name, input=t.input, output=t.output)
    children = t.children()
    if children and any(isinstance(c, Scale) and c.scale is not None and np.any(c.scale <= 0) for c in children):
        if t.is_linear:
            return Affine.from_matrix(t.to_affine(), name=t.name, input=t.input, output=t.output)
    return t
