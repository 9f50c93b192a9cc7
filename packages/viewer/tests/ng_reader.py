"""An independent reader of neuroglancer's precomputed annotation format, written from the specification only.

It shares no code with the viewer's writer: the record layout is worked out here field by field with ``struct``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

_FORMATS = {"uint32": "I", "int32": "i", "float32": "f", "uint16": "H", "int16": "h", "uint8": "B", "int8": "b"}
_SIZES = {"uint32": 4, "int32": 4, "float32": 4, "uint16": 2, "int16": 2, "uint8": 1, "int8": 1}
_VECTORS = {"POINT": 1, "LINE": 2, "AXIS_ALIGNED_BOUNDING_BOX": 2, "ELLIPSOID": 2}


class Layout:
    """Byte layout of one annotation, from an ``info`` document."""

    def __init__(self, info: dict[str, Any]) -> None:
        assert info["@type"] == "neuroglancer_annotations_v1"
        self.rank = len(info["dimensions"])
        self.n_floats = _VECTORS[info["annotation_type"].upper()] * self.rank
        # properties: 4-byte types first, then 2-byte, then 1-byte, each group in info order
        self.props = []
        for size in (4, 2, 1):
            self.props += [p for p in info["properties"] if _SIZES[p["type"]] == size]
        fmt = "<" + "f" * self.n_floats + "".join(_FORMATS[p["type"]] for p in self.props)
        raw = struct.calcsize(fmt)
        self.fmt = fmt
        self.size = raw + (-raw) % 4

    def decode_one(self, data: bytes, offset: int = 0) -> tuple[tuple[float, ...], dict[str, Any]]:
        values = struct.unpack_from(self.fmt, data, offset)
        geometry = values[: self.n_floats]
        props = {p["id"]: v for p, v in zip(self.props, values[self.n_floats :], strict=True)}
        return geometry, props

    def decode_many(self, data: bytes) -> list[tuple[int, tuple[float, ...], dict[str, Any]]]:
        (count,) = struct.unpack_from("<Q", data, 0)
        assert len(data) == 8 + count * (self.size + 8), (len(data), count, self.size)
        out = []
        ids_at = 8 + count * self.size
        for k in range(count):
            geometry, props = self.decode_one(data, 8 + k * self.size)
            (annotation_id,) = struct.unpack_from("<Q", data, ids_at + 8 * k)
            out.append((annotation_id, geometry, props))
        return out


def read_directory(root: str | Path) -> tuple[dict[str, Any], list[tuple[int, tuple[float, ...], dict[str, Any]]]]:
    """Every annotation of an unsharded precomputed collection on disk (all spatial levels, all cells)."""
    root = Path(root)
    info = json.loads((root / "info").read_text())
    layout = Layout(info)
    out = []
    for level in info["spatial"]:
        for cell in sorted((root / level["key"]).iterdir()):
            out += layout.decode_many(cell.read_bytes())
    return info, out
