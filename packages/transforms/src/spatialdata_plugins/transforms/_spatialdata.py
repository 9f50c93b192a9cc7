"""Conversion between RFC-5 transformations and ``spatialdata.transformations``, and RFC-5 images for SpatialData.

spatialdata transformations name their axes (``x``, ``y``, ``z``, ``c``) while RFC-5 ones index them, so every
conversion takes the axis names of the input (and output) coordinate system. Linear RFC-5 transformations become
the simplest spatialdata type that represents them (``Identity``, ``Scale``, ``Translation``, ``Sequence`` of
scale and translation, or ``Affine``); fields (``coordinates``, ``displacements``) have no spatialdata counterpart.

Pixel convention: in RFC-5 the centre of pixel ``i`` is at array coordinate ``i``; in spatialdata's intrinsic
coordinate system it is at ``i + 0.5``. Image-level functions (:func:`read_rfc5_raster`,
:func:`element_to_multiscales`) account for that half-pixel offset; the transformation-level functions
(:func:`to_spatialdata`, :func:`from_spatialdata`) map points to points and do not.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from spatialdata_plugins.transforms._errors import NotInvertibleError, TransformationError, UnsupportedConversionError
from spatialdata_plugins.transforms._model import (
    Affine,
    CoordinateSystem,
    CoordinateSystemRef,
    Identity,
    MapAxis,
    Scale,
    Sequence_,
    Transformation,
    Translation,
)

if TYPE_CHECKING:
    import zarr

_SD_AXES = ("c", "z", "y", "x")


def _check_axes(axes: tuple[str, ...], what: str) -> tuple[str, ...]:
    bad = [a for a in axes if a not in _SD_AXES]
    if bad:
        raise UnsupportedConversionError(
            f"{what} axes {list(axes)}: spatialdata only knows the axes {list(_SD_AXES)} (not {bad})"
        )
    return tuple(axes)


def matrix_to_spatialdata(matrix: np.ndarray, input_axes: tuple[str, ...], output_axes: tuple[str, ...]) -> Any:
    """The simplest spatialdata transformation for a homogeneous matrix between named axes."""
    from spatialdata.transformations import Affine as SdAffine
    from spatialdata.transformations import Identity as SdIdentity
    from spatialdata.transformations import Scale as SdScale
    from spatialdata.transformations import Sequence as SdSequence
    from spatialdata.transformations import Translation as SdTranslation

    matrix = np.asarray(matrix, dtype=np.float64)
    if tuple(input_axes) == tuple(output_axes):
        linear, offset = matrix[:-1, :-1], matrix[:-1, -1]
        if np.array_equal(linear, np.diag(np.diag(linear))):
            axes = tuple(input_axes)
            diag = np.diag(linear)
            has_scale = not np.all(diag == 1)
            has_shift = bool(np.any(offset != 0))
            if not has_scale and not has_shift:
                return SdIdentity()
            if not has_shift:
                return SdScale(diag, axes=axes)
            if not has_scale:
                return SdTranslation(offset, axes=axes)
            return SdSequence([SdScale(diag, axes=axes), SdTranslation(offset, axes=axes)])
    return SdAffine(matrix, input_axes=tuple(input_axes), output_axes=tuple(output_axes))


def to_spatialdata(
    transformation: Transformation,
    input_axes: tuple[str, ...] | list[str],
    output_axes: tuple[str, ...] | list[str] | None = None,
) -> Any:
    """Convert an RFC-5 transformation into a ``spatialdata.transformations`` object.

    Parameters
    ----------
    transformation
        A linear RFC-5 transformation (``identity``, ``mapAxis``, ``projectAxis``, ``translation``, ``scale``,
        ``affine``, ``rotation``, or ``sequence``/``byDimension``/``bijection`` of them).
    input_axes, output_axes
        Axis names (``c``, ``z``, ``y``, ``x``) of the input and output coordinate systems, in order;
        ``output_axes`` defaults to ``input_axes``.

    Returns
    -------
    spatialdata.transformations.BaseTransformation

    Raises
    ------
    UnsupportedConversionError
        Fields, or axis names spatialdata does not know.

    Examples
    --------
    >>> from spatialdata_plugins.transforms import Scale, to_spatialdata
    >>> to_spatialdata(Scale([2.0, 3.0]), ("y", "x"))  # doctest: +ELLIPSIS
    Scale (y, x)...
    """
    input_axes = _check_axes(tuple(input_axes), "input")
    output_axes = _check_axes(tuple(output_axes) if output_axes is not None else input_axes, "output")
    if not transformation.is_linear:
        raise UnsupportedConversionError(
            f"{transformation.describe()} is not linear; spatialdata has no counterpart for it"
        )
    matrix = transformation.to_affine(len(input_axes))
    if matrix.shape != (len(output_axes) + 1, len(input_axes) + 1):
        raise TransformationError(
            f"{transformation.describe()} maps {matrix.shape[1] - 1}D to {matrix.shape[0] - 1}D points, but the axes "
            f"given are {list(input_axes)} -> {list(output_axes)}"
        )
    if isinstance(transformation, MapAxis) and len(set(output_axes)) == len(output_axes):
        from spatialdata.transformations import MapAxis as SdMapAxis

        # spatialdata's MapAxis maps each output axis to the input axis it takes its value from
        perm = transformation.map_axis
        return SdMapAxis({output_axes[i]: input_axes[perm[i]] for i in range(len(output_axes))})
    return matrix_to_spatialdata(matrix, input_axes, output_axes)


def from_spatialdata(
    transformation: Any,
    input_axes: tuple[str, ...] | list[str],
    output_axes: tuple[str, ...] | list[str] | None = None,
    *,
    input: CoordinateSystemRef | str | None = None,
    output: CoordinateSystemRef | str | None = None,
) -> Transformation:
    """Convert a ``spatialdata.transformations`` object into an RFC-5 transformation.

    ``Identity``, ``Scale``, ``Translation``, ``MapAxis`` and ``Affine`` become ``identity``, ``scale``,
    ``translation``, ``mapAxis`` and ``affine``; a ``Sequence`` becomes a ``sequence`` of its converted steps.
    Axes a spatialdata ``Scale``/``Translation`` does not list are left unchanged (factor 1, offset 0).

    Parameters
    ----------
    transformation
        A spatialdata transformation.
    input_axes, output_axes
        Axis names of the RFC-5 input and output coordinate systems, in order (``output_axes`` defaults to
        ``input_axes``).
    input, output
        Optional coordinate systems to record on the result (a name or a :class:`CoordinateSystemRef`).

    Returns
    -------
    Transformation
    """
    from spatialdata.transformations import Affine as SdAffine
    from spatialdata.transformations import Identity as SdIdentity
    from spatialdata.transformations import MapAxis as SdMapAxis
    from spatialdata.transformations import Scale as SdScale
    from spatialdata.transformations import Sequence as SdSequence
    from spatialdata.transformations import Translation as SdTranslation

    input_axes = tuple(input_axes)
    output_axes = tuple(output_axes) if output_axes is not None else input_axes
    same = input_axes == output_axes
    result: Transformation
    if same and isinstance(transformation, SdIdentity):
        result = Identity()
    elif same and isinstance(transformation, SdScale):
        factors = dict(zip(transformation.axes, np.asarray(transformation.scale, dtype=float), strict=True))
        result = Scale(np.array([factors.get(a, 1.0) for a in input_axes]))
    elif same and isinstance(transformation, SdTranslation):
        offsets = dict(zip(transformation.axes, np.asarray(transformation.translation, dtype=float), strict=True))
        result = Translation(np.array([offsets.get(a, 0.0) for a in input_axes]))
    elif same and isinstance(transformation, SdSequence):
        result = Sequence_([from_spatialdata(t, input_axes) for t in transformation.transformations])
    else:
        matrix = np.asarray(transformation.to_affine_matrix(input_axes, output_axes), dtype=np.float64)
        linear = matrix[:-1, :-1]
        is_perm = (
            isinstance(transformation, SdMapAxis | SdIdentity)
            and linear.shape[0] == linear.shape[1]
            and np.all(matrix[:-1, -1] == 0)
            and np.all((linear == 0) | (linear == 1))
            and np.all(linear.sum(axis=0) == 1)
            and np.all(linear.sum(axis=1) == 1)
        )
        if is_perm:
            result = MapAxis(np.argmax(linear, axis=1).tolist())
        elif isinstance(transformation, SdAffine | SdMapAxis | SdIdentity | SdScale | SdTranslation | SdSequence):
            result = Affine.from_matrix(matrix)
        else:
            raise UnsupportedConversionError(f"cannot convert {type(transformation).__name__} to RFC-5")
    result.input = CoordinateSystemRef(name=input) if isinstance(input, str) else input
    result.output = CoordinateSystemRef(name=output) if isinstance(output, str) else output
    return result


def _half_pixel(dims: tuple[str, ...], sign: float) -> np.ndarray:
    """Homogeneous matrix adding ``sign * 0.5`` to the spatial axes."""
    m = np.eye(len(dims) + 1)
    for i, d in enumerate(dims):
        if d in ("x", "y", "z"):
            m[i, -1] = 0.5 * sign
    return m


def is_rfc5_multiscales(group: zarr.Group) -> bool:
    """Whether the group's ``multiscales`` metadata is in the RFC-5 / 0.6 form (with ``coordinateSystems``)."""
    attrs = group.attrs.asdict()
    ome = attrs.get("ome", attrs)
    if not isinstance(ome, dict):
        return False
    ms = ome.get("multiscales")
    return isinstance(ms, list) and bool(ms) and isinstance(ms[0], dict) and "coordinateSystems" in ms[0]


def image_transformations(graph: Any, array_path: str, dims: tuple[str, ...], base: str = "") -> dict[str, Any]:
    """Spatialdata transformations from the intrinsic system of the image whose level-0 array is ``array_path``.

    One transformation for every named coordinate system of the scene root or of the image itself (``base``).

    Coordinate systems that cannot be reached with a linear, computable chain, or whose axes spatialdata cannot
    name, are skipped with a warning. Channel axes that the transformation leaves alone are dropped.
    """
    from spatialdata_plugins.transforms._graph import NodeKey, join_path
    from spatialdata_plugins.transforms._model import simplify

    source = NodeKey(join_path(base, array_path), "")
    out: dict[str, Any] = {}
    names: dict[str, int] = {}
    for key in graph.coordinate_systems:
        if key.name:
            names[key.name] = names.get(key.name, 0) + 1
    for key in graph.coordinate_systems:
        if not key.name or key.path not in ("", base):  # the scene's own systems and the image's
            continue
        # a name used by several images (every image's "intrinsic") is qualified by its path: "image#intrinsic"
        label = key.name if names[key.name] == 1 or not key.path else str(key)
        cs: CoordinateSystem = graph.systems[key]
        try:
            t = simplify(graph.find(source, key), len(dims))
            if not t.is_linear:
                raise UnsupportedConversionError(f"{t.describe()} is not linear")
            matrix = t.to_affine(len(dims)) @ _half_pixel(dims, -1.0)
            if cs.ndim != len(dims):
                raise UnsupportedConversionError(f"{cs.ndim}D coordinate system for a {len(dims)}D image")
            out[label] = _drop_channel(matrix, dims)
        except (TransformationError, NotInvertibleError) as err:
            warnings.warn(f"coordinate system {key} is not given to spatialdata: {err}", UserWarning, stacklevel=2)
    return out


def _drop_channel(matrix: np.ndarray, dims: tuple[str, ...]) -> Any:
    keep = list(range(len(dims)))
    if "c" in dims:
        c = dims.index("c")
        row = matrix[c]
        col = matrix[:, c]
        unit = np.zeros(len(dims) + 1)
        unit[c] = 1.0
        if np.allclose(row, unit) and np.allclose(col[:-1], unit[:-1]):
            keep.remove(c)
    idx = [*keep, len(dims)]
    axes = tuple(dims[i] for i in keep)
    return matrix_to_spatialdata(matrix[np.ix_(idx, idx)], axes, axes)


def read_rfc5_raster(group: zarr.Group, element_type: str, *, graph: Any = None, base: str = "") -> Any:
    """Read an image or labels group with RFC-5 ``multiscales`` metadata into a dask-backed spatialdata element.

    Parameters
    ----------
    group
        The image's zarr group.
    element_type
        ``"images"`` or ``"labels"``.
    graph
        A :class:`TransformGraph` holding the image (for example the graph of a whole scene, so that the scene's
        coordinate systems are included); by default the graph of the image alone.
    base
        The image's path within ``graph``.

    Returns
    -------
    xarray.DataArray or xarray.DataTree
        With one spatialdata transformation for every coordinate system reachable from the image's arrays.
    """
    import dask.array as da
    from spatialdata.models.pyramids_utils import dask_arrays_to_datatree
    from spatialdata.transformations._utils import _set_transformations, compute_coordinates
    from xarray import DataArray

    from spatialdata_plugins.transforms._graph import TransformGraph
    from spatialdata_plugins.transforms._v05 import is_v05_multiscales, upgrade_v05_multiscales

    attrs = group.attrs.asdict()
    ome = attrs.get("ome", attrs)
    ms = ome["multiscales"][0]
    if is_v05_multiscales(ms):
        ms = upgrade_v05_multiscales(ms, f"{group.path or '/'} multiscales[0]")
    graph = graph if graph is not None else TransformGraph.from_multiscales(group)
    first = ms["datasets"][0]
    out_name = first["coordinateTransformations"][0]["output"]
    out_name = out_name["name"] if isinstance(out_name, dict) else out_name
    intrinsic = next(cs for cs in ms["coordinateSystems"] if cs["name"] == out_name)
    dims = tuple(a["name"] if isinstance(a, dict) else a for a in intrinsic["axes"])
    _check_axes(dims, f"image {group.path or '/'!r}")
    arrays = [da.from_zarr(group[d["path"]]) for d in ms["datasets"]]
    transformations = image_transformations(graph, first["path"], dims, base)
    channels = None
    if element_type == "images":
        omero = ome.get("omero") or attrs.get("omero")
        if omero is not None:
            channels = [c["label"] for c in omero["channels"]]
        if "c" not in dims:  # spatialdata images always have a channel axis
            arrays = [a[None] for a in arrays]
            dims = ("c", *dims)
        if channels is None:  # no omero metadata (ome-zarr-py writes none by default): 0, 1, ... as spatialdata does
            channels = list(range(arrays[0].shape[dims.index("c")]))
    if len(arrays) > 1:
        tree = dask_arrays_to_datatree(arrays, dims=list(dims), channels=channels)
        _set_transformations(tree, transformations)
        return compute_coordinates(tree)
    element = DataArray(arrays[0], name="image", dims=dims, coords={"c": channels} if channels is not None else {})
    _set_transformations(element, transformations)
    return compute_coordinates(element)


def read_scene_images(target: Any) -> dict[str, Any]:
    """Read every multiscales image of an RFC-5 scene as spatialdata elements placed in the scene's coordinate systems.

    Parameters
    ----------
    target
        Local path or zarr group of the scene.

    Returns
    -------
    dict
        ``{image path: DataArray or DataTree}``, ready for ``SpatialData(images=...)``; every element carries a
        transformation to each coordinate system of the scene it can reach through linear transformations.
    """
    import zarr

    from spatialdata_plugins.transforms._graph import TransformGraph, _open

    root = _open(target)
    graph = TransformGraph.from_scene(root)
    images = {}
    for key in graph.coordinate_systems:
        if key.name or not key.path:
            continue
        image_path = key.path.rpartition("/")[0]
        if image_path in images or not image_path:
            continue
        group = root[image_path]
        if isinstance(group, zarr.Group) and is_rfc5_multiscales(group):
            ms = group.attrs.asdict().get("ome", {}).get("multiscales", [{}])[0]
            if join_first_path(image_path, ms) != key.path:
                continue
            images[image_path] = read_rfc5_raster(group, "images", graph=graph, base=image_path)
    return images


def join_first_path(image_path: str, ms: dict[str, Any]) -> str:
    """Path of the first dataset of a multiscales entry, relative to the hierarchy root."""
    from spatialdata_plugins.transforms._graph import join_path

    return join_path(image_path, ms["datasets"][0]["path"])


def element_to_multiscales(
    element: Any, intrinsic: str = "intrinsic", *, transformations: bool = True
) -> dict[str, Any]:
    """RFC-5 (0.6rc0) ``multiscales`` metadata for a spatialdata image or labels element and its transformations.

    The intrinsic coordinate system is spatialdata's (pixel ``i`` centred at ``i + 0.5``), so each dataset maps
    to it with a scale (the level's downsampling factor) and a translation (half a pixel of that level). Every
    spatialdata coordinate system of the element becomes a coordinate system with the element's axes and a
    transformation from the intrinsic one.

    Parameters
    ----------
    element
        A ``DataArray`` or ``DataTree`` image or labels element.
    intrinsic
        Name of the intrinsic coordinate system.
    transformations
        Include the element's spatialdata coordinate systems and transformations (``False``: only the intrinsic
        coordinate system, for images whose transformations live in a scene).

    Returns
    -------
    dict
        One ``multiscales`` entry (``coordinateSystems``, ``datasets``, ``coordinateTransformations``); dataset
        paths are ``"0"``, ``"1"``... like spatialdata's own writer.
    """
    from spatialdata.models import get_axes_names
    from spatialdata.transformations import get_transformation
    from xarray import DataTree

    dims = tuple(get_axes_names(element))
    if isinstance(element, DataTree):
        levels = [next(iter(element[k].data_vars.values())) for k in element.children]
    else:
        levels = [element]
    base_shape = levels[0].shape
    axes = [
        {"name": d, "type": "channel" if d == "c" else "space", **({"discrete": True} if d == "c" else {})}
        for d in dims
    ]
    systems = [{"name": intrinsic, "axes": axes}]
    datasets = []
    for k, level in enumerate(levels):
        factors = [1.0 if d == "c" else base_shape[i] / level.shape[i] for i, d in enumerate(dims)]
        offsets = [0.0 if d == "c" else f / 2 for d, f in zip(dims, factors, strict=True)]
        t = Sequence_(
            [Scale(np.array(factors)), Translation(np.array(offsets))],
            input=CoordinateSystemRef(path=str(k)),
            output=CoordinateSystemRef(name=intrinsic),
        )
        datasets.append({"path": str(k), "coordinateTransformations": [t.to_dict()]})
    extra = []
    for name, sd_t in get_transformation(element, get_all=True).items():  # type: ignore[union-attr]
        if name == intrinsic or not transformations:
            continue
        systems.append({"name": name, "axes": axes})
        t = from_spatialdata(
            sd_t, dims, input=CoordinateSystemRef(name=intrinsic), output=CoordinateSystemRef(name=name)
        )
        extra.append(t.to_dict())
    out: dict[str, Any] = {"coordinateSystems": systems, "datasets": datasets}
    if extra:
        out["coordinateTransformations"] = extra
    return out
