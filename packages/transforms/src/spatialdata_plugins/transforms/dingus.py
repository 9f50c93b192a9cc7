"""Conformance command: map points between two coordinate systems of an OME-Zarr scene.

Usage::

    python -m spatialdata_plugins.transforms.dingus [OPTIONS...] PATH SOURCE TARGET COORDINATES

``PATH`` is an OME-Zarr hierarchy whose root ``zarr.json`` holds ``ome.scene`` (or ``multiscales``), ``SOURCE`` and
``TARGET`` are coordinate-system names (``name``, ``path#name`` or a JSON ``{"name": ..., "path": ...}``) and
``COORDINATES`` a JSON array of points. On success it prints ``{"coordinates": [[...], ...]}`` (with a ``"message"``
when something was accepted with a warning, such as a rotation matrix given with limited precision) and exits 0; on
any error it prints ``{"message": "..."}`` and exits 1. Leading options are accepted and ignored, so that conformance
harnesses may pass their own flags.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Sequence
from typing import Any


class DingusError(Exception):
    """A usage or input error of the conformance command."""


def parse_coordinates(text: str) -> list[list[float]]:
    """Parse the ``COORDINATES`` argument: a JSON array of equally long arrays of finite numbers."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DingusError(f"COORDINATES is not valid JSON: {err}") from err
    if not isinstance(value, list) or not all(isinstance(p, list) for p in value):
        raise DingusError("COORDINATES must be a JSON array of arrays of numbers, e.g. [[1, 2], [3, 4]]")
    lengths = {len(p) for p in value}
    if len(lengths) > 1:
        raise DingusError(f"COORDINATES: every point must have the same length, got lengths {sorted(lengths)}")
    for p in value:
        for c in p:
            if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c):
                raise DingusError(f"COORDINATES: {c!r} is not a finite number")
    return [[float(c) for c in p] for p in value]


def run(path: str, source: str, target: str, coordinates: str) -> dict[str, Any]:
    """Map ``coordinates`` from ``source`` to ``target`` in the hierarchy at ``path``; the JSON answer as a dict."""
    import numpy as np

    from spatialdata_plugins.transforms._graph import TransformGraph

    points = parse_coordinates(coordinates)
    graph = TransformGraph.from_scene(path)
    src = graph.resolve(source)
    dst = graph.resolve(target)
    ndim = graph.systems[src].ndim
    if not points:
        return {"coordinates": []}
    if len(points[0]) != ndim:
        raise DingusError(f"COORDINATES have {len(points[0])} values each but {src} has {ndim} axes")
    out = graph.transform(np.asarray(points, dtype=np.float64), src, dst, simplified=False)
    if not np.all(np.isfinite(out)):
        raise DingusError("the transformation gave non-finite coordinates")
    return {"coordinates": out.tolist()}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (0 on success)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if (args and args[-1] in ("-h", "--help")) or len(args) < 4:
        if len(args) < 4 and not any(a in ("-h", "--help") for a in args):
            print(json.dumps({"message": "usage: dingus [OPTIONS...] PATH SOURCE TARGET COORDINATES"}))
            return 2
        print(__doc__)
        return 0
    path, source, target, coordinates = args[-4:]
    try:
        # warnings (a rotation accepted with limited precision) go into the answer's optional "message", so that
        # stdout stays one JSON object and stderr stays empty
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            answer = run(path, source, target, coordinates)
    except Exception as err:
        print(json.dumps({"message": f"{type(err).__name__}: {err}"}))
        return 1
    notes = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    if notes:
        answer["message"] = "; ".join(notes)
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
