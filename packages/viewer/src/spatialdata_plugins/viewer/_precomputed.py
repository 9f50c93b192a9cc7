"""Neuroglancer's precomputed formats, written by us: annotation ``info`` documents and encodings, volume ``info``.

Only what the viewer serves is implemented: the multiple-annotation encoding of spatial-index chunks, the single
annotation encoding of the ``by_id`` index (no relationships) and the ``info`` documents of annotation collections
and raw-encoded volumes. The format is specified in neuroglancer's ``src/datasource/precomputed/annotations.md``
and ``volume.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: numpy dtype and alignment of every annotation property type
PROPERTY_DTYPES: dict[str, tuple[str, int]] = {
    "uint32": ("<u4", 4),
    "int32": ("<i4", 4),
    "float32": ("<f4", 4),
    "uint16": ("<u2", 2),
    "int16": ("<i2", 2),
    "uint8": ("u1", 1),
    "int8": ("i1", 1),
}

#: number of position vectors of every geometry type (a LINE is two endpoints, an ELLIPSOID centre and radii)
GEOMETRY_VECTORS = {"POINT": 1, "LINE": 2, "AXIS_ALIGNED_BOUNDING_BOX": 2, "ELLIPSOID": 2}

#: the unit of every served dimension: one intrinsic unit of the SpatialData element is one micrometre on screen
UNIT_SCALE = 1e-6


def record_dtype(annotation_type: str, rank: int, properties: list[dict[str, Any]]) -> np.dtype:
    """The structured dtype of one encoded annotation: geometry, properties by decreasing size, padding to 4 bytes.

    Parameters
    ----------
    annotation_type
        ``"POINT"``, ``"LINE"``, ``"AXIS_ALIGNED_BOUNDING_BOX"`` or ``"ELLIPSOID"``.
    rank
        Number of dimensions.
    properties
        The ``properties`` of the ``info`` document, in the order they are listed there.

    Returns
    -------
    numpy.dtype
        A packed structured dtype whose fields are ``geometry`` and the property ids.
    """
    fields: list[tuple[str, Any, Any]] = [("geometry", "<f4", (GEOMETRY_VECTORS[annotation_type] * rank,))]
    offset = 4 * GEOMETRY_VECTORS[annotation_type] * rank
    for prop in sorted(properties, key=lambda p: -PROPERTY_DTYPES[p["type"]][1]):  # stable: info order kept
        code, _ = PROPERTY_DTYPES[prop["type"]]
        fields.append((prop["id"], code, ()))
        offset += np.dtype(code).itemsize
    if offset % 4:
        fields.append(("_padding", "u1", (4 - offset % 4,)))
    return np.dtype([(n, t, s) if s else (n, t) for n, t, s in fields])


def encode_annotations(records: np.ndarray, ids: np.ndarray) -> bytes:
    """The multiple-annotation encoding: ``uint64le`` count, the encoded annotations, then their ``uint64le`` ids.

    Parameters
    ----------
    records
        Structured array of :func:`record_dtype`.
    ids
        The annotation ids, one per record.

    Returns
    -------
    bytes
        The encoded list.
    """
    if len(records) != len(ids):
        raise ValueError(f"{len(records)} annotations but {len(ids)} ids")
    return np.uint64(len(records)).astype("<u8").tobytes() + records.tobytes() + ids.astype("<u8").tobytes()


def encode_annotation(record: np.ndarray) -> bytes:
    """The single-annotation encoding of the ``by_id`` index (no relationships)."""
    return record.tobytes()


def annotation_info(
    annotation_type: str,
    lower: list[float],
    upper: list[float],
    levels: list[dict[str, Any]],
    properties: list[dict[str, Any]],
    names: tuple[str, ...] = ("x", "y", "z"),
) -> dict[str, Any]:
    """The ``info`` document of an annotation collection.

    Parameters
    ----------
    annotation_type
        Geometry type of every annotation.
    lower, upper
        Bounds of the collection (the origin of every spatial level's grid).
    levels
        Per spatial level, coarse to fine: ``key``, ``grid_shape``, ``chunk_size`` and ``limit``.
    properties
        Property specifications (``id``, ``type``, optional ``enum_values`` and ``enum_labels``).
    names
        Dimension names.

    Returns
    -------
    dict
        The JSON document.
    """
    return {
        "@type": "neuroglancer_annotations_v1",
        "dimensions": {name: [UNIT_SCALE, "m"] for name in names},
        "lower_bound": [float(v) for v in lower],
        "upper_bound": [float(v) for v in upper],
        "annotation_type": annotation_type,
        "properties": properties,
        "relationships": [],
        "by_id": {"key": "by_id"},
        "spatial": levels,
    }


def volume_info(kind: str, data_type: str, num_channels: int, scales: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``info`` document of a raw-encoded precomputed volume.

    Parameters
    ----------
    kind
        ``"image"`` or ``"segmentation"``.
    data_type
        Neuroglancer data type name (``"uint8"``, ``"float32"``, ...).
    num_channels
        Number of channels.
    scales
        Per scale level, finest first: ``key``, ``size`` (x, y, z), ``resolution`` (nanometres), ``chunk_sizes``.

    Returns
    -------
    dict
        The JSON document.
    """
    return {
        "@type": "neuroglancer_multiscale_volume",
        "type": kind,
        "data_type": data_type,
        "num_channels": int(num_channels),
        "scales": [{"voxel_offset": [0, 0, 0], "encoding": "raw", **scale} for scale in scales],
    }


def annotation_chunk_bounds(info: dict[str, Any], part: str) -> tuple[int, np.ndarray, np.ndarray]:
    """Spatial level and bounds of an annotation chunk, from its collection's ``info``.

    Parameters
    ----------
    info
        The annotation collection's ``info`` (``lower_bound`` and the ``spatial`` levels' ``chunk_size``).
    part
        The chunk's path under the collection, ``"<spatial key>/<i>_<j>_<k>"`` (the served request's
        :attr:`~spatialdata_plugins.viewer.ServedRequest.part`).

    Returns
    -------
    tuple
        ``(level, lo, hi)``: the index of the spatial level whose key names the chunk, and the chunk's lower and
        upper corners in the first two dimensions.

    Raises
    ------
    ValueError
        If ``part`` names no spatial level of ``info`` or is not ``<key>/<i>_<j>_<k>``.
    """
    key, _, position = part.partition("/")
    levels = [lv["key"] for lv in info["spatial"]]
    if key not in levels:
        raise ValueError(f"{part!r} names no spatial level of this collection (levels {levels})")
    try:
        i, j, _ = (int(v) for v in position.split("_"))
    except ValueError as exc:
        raise ValueError(f"{part!r} is not '<spatial key>/<i>_<j>_<k>'") from exc
    level = levels.index(key)
    size = np.asarray(info["spatial"][level]["chunk_size"][:2], dtype=float)
    lo = np.asarray(info["lower_bound"][:2], dtype=float) + size * (i, j)
    return level, lo, lo + size
