"""Reading parameter arrays and vector fields named by ``path``, and writing parameter arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from spatialdata_plugins.transforms._errors import ParameterArrayError, TransformationError


def resolve_node(group: zarr.Group, path: str, label: str) -> zarr.Array | zarr.Group:
    """The zarr node at ``path``: relative to ``group``, or to the root of its store when it starts with ``/``."""
    base = group
    rel = path
    if path.startswith("/"):
        base = zarr.open_group(store=group.store, path="", mode="r")
        rel = path.lstrip("/")
    try:
        return base[rel]
    except (KeyError, FileNotFoundError, ValueError) as err:
        where = f"/{base.path}" if base.path else "the root"
        raise ParameterArrayError(
            f"{label}: field 'path': no zarr array or group at {path!r} (relative to {where})"
        ) from err


def load_array(group: zarr.Group, path: str, label: str) -> np.ndarray:
    """Read the parameter array at ``path`` as float64."""
    node = resolve_node(group, path, label)
    if not isinstance(node, zarr.Array):
        raise ParameterArrayError(f"{label}: field 'path': {path!r} is a group, expected a zarr array of parameters")
    try:
        return np.asarray(node[...], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterArrayError(f"{label}: field 'path': array {path!r} does not hold numbers ({err})") from err


def load_field(group: zarr.Group, path: str, label: str, kind: str) -> Any:
    """Read the ``coordinates``/``displacements`` field at ``path`` into a :class:`VectorField`.

    ``path`` names an OME-Zarr multiscales group (0.6rc0): its first dataset is read, the vector axis is the axis of
    type ``coordinate``/``displacement``, and the inverse of the dataset's scale/translation maps input points to
    array indices. ``path`` may also name a plain zarr array (RFC-5 draft), whose last axis holds the vectors and
    whose indices are the input coordinates.
    """
    from spatialdata_plugins.transforms._model import VectorField

    node = resolve_node(group, path, label)
    vector_type = "coordinate" if kind == "coordinates" else "displacement"
    if isinstance(node, zarr.Array):
        values = np.asarray(node[...], dtype=np.float64)
        attrs = node.attrs.asdict()
        meta = attrs.get("ome", attrs)
        meta = meta if isinstance(meta, dict) else {}
        systems = meta.get("coordinateSystems") or []
        ds_transforms = meta.get("coordinateTransformations") or []
        if not systems and not ds_transforms:
            # no metadata: the vectors on the last axis, array indices are the input coordinates
            if values.ndim == 1:  # a 1D coordinate array (xarray-like): one component
                values = values[:, None]
            ndim = values.ndim - 1
            field = VectorField(values, np.eye(ndim + 1))
        else:  # RFC-5 draft: the array carries its own coordinate system and transformation
            field = _field_from_metadata(values, systems, meta.get("axes"), ds_transforms, path, label, vector_type)
    else:
        attrs = node.attrs.asdict()
        ome = attrs.get("ome", attrs)
        multiscales = ome.get("multiscales") if isinstance(ome, dict) else None
        if not multiscales:
            raise ParameterArrayError(f"{label}: field 'path': group {path!r} has no 'multiscales' metadata")
        ms = multiscales[0]
        dataset = ms["datasets"][0]
        array = resolve_node(node, dataset["path"], label)
        values = np.asarray(array[...], dtype=np.float64)
        ds_transforms = dataset.get("coordinateTransformations") or []
        systems = ms.get("coordinateSystems") or []
        field = _field_from_metadata(values, systems, ms.get("axes"), ds_transforms, path, label, vector_type)
    if kind == "displacements" and field.ncomponents != field.ndim:
        raise ParameterArrayError(
            f"{label}: field 'path': a displacement field over {field.ndim}D points must hold {field.ndim} components, "
            f"got {field.ncomponents}"
        )
    return field


def _field_from_metadata(
    values: np.ndarray,
    systems: list[Any],
    fallback_axes: Any,
    ds_transforms: list[Any],
    path: str,
    label: str,
    vector_type: str,
) -> Any:
    """A :class:`VectorField` from field values and the coordinate system and transformation describing them."""
    from spatialdata_plugins.transforms._model import VectorField, parse_transformation

    out_name = None
    if ds_transforms:
        out = ds_transforms[0].get("output") if isinstance(ds_transforms[0], dict) else None
        out_name = out.get("name") if isinstance(out, dict) else out
    system = next((s for s in systems if isinstance(s, dict) and s.get("name") == out_name), None)
    if system is None and systems and isinstance(systems[0], dict):
        system = systems[0]
    axes = (system or {}).get("axes") or fallback_axes or []
    types = [a.get("type") if isinstance(a, dict) else None for a in axes]
    if vector_type in types:
        vaxis = types.index(vector_type)
    else:
        raise ParameterArrayError(
            f"{label}: field 'path': the field {path!r} has no axis of type {vector_type!r} in its coordinate system"
        )
    if len(axes) != values.ndim:
        raise ParameterArrayError(
            f"{label}: field 'path': the field {path!r} has {values.ndim} dimensions but {len(axes)} axes"
        )
    values = np.moveaxis(values, vaxis, -1)
    ndim = values.ndim - 1
    matrix = np.eye(ndim + 1)
    if ds_transforms:
        t = parse_transformation(ds_transforms[0], where=f"{path} coordinateTransformations[0]")
        n = t.ndim_in if t.ndim_in is not None else ndim
        try:
            m = t.to_affine(n)
        except TransformationError as err:
            raise ParameterArrayError(f"{label}: the field {path!r} has an unsupported dataset transformation") from err
        if n == ndim + 1:
            keep = [i for i in range(ndim + 1) if i != vaxis] + [ndim + 1]
            m = m[np.ix_(keep, keep)]
        elif n != ndim:
            raise ParameterArrayError(
                f"{label}: the dataset transformation of field {path!r} is {n}D, the field grid is {ndim}D"
            )
        try:
            matrix = np.linalg.inv(m)
        except np.linalg.LinAlgError as err:
            raise ParameterArrayError(
                f"{label}: the transformation of field {path!r} is singular; its grid cannot be located"
            ) from err
    return VectorField(values, matrix)


def write_array(group: zarr.Group, path: str, values: np.ndarray) -> None:
    """Write a float64 parameter array at ``path`` below ``group`` (replacing one already there)."""
    values = np.asarray(values, dtype=np.float64)
    array = group.create_array(path, shape=values.shape, dtype="float64", chunks=values.shape, overwrite=True)
    array[...] = values
