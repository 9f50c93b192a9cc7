"""The transformation graph of a scene or a multiscales image: coordinate systems are nodes, transformations edges."""

from __future__ import annotations

import copy
import json
import posixpath
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from spatialdata_plugins.transforms._errors import (
    CoordinateSystemNotFoundError,
    NotInvertibleError,
    NoTransformationPathError,
    TransformationError,
)
from spatialdata_plugins.transforms._model import (
    Axis,
    ByDimension,
    CoordinateSystem,
    CoordinateSystemRef,
    Identity,
    Transformation,
    compose,
    parse_transformation,
    simplify,
)
from spatialdata_plugins.transforms._v05 import is_v05_multiscales, upgrade_v05_multiscales

#: OME-Zarr version written by this package by default (what the 0.6rc0 schemas require).
OME_VERSION = "0.6rc0"

#: Versions the writers accept as ``version=``: ``"0.6rc0"`` (the 0.6rc0 schemas) and ``"0.6"`` (what ome-zarr-models
#: and the published conformance suite use; ome-zarr-models refuses ``"0.6rc0"``). The metadata is the same.
OME_VERSIONS = ("0.6rc0", "0.6")


def join_path(base: str, path: str | None) -> str:
    """Join a group path and a relative path (``/`` at the start of ``path`` means the root of the hierarchy)."""
    if not path:
        return base
    if path.startswith("/"):
        joined = path.lstrip("/")
    else:
        joined = posixpath.join(base, path) if base else path
    joined = posixpath.normpath(joined)
    return "" if joined == "." else joined


@dataclass(frozen=True, order=True)
class NodeKey:
    """A coordinate system in a hierarchy: the ``path`` of the group defining it and its ``name``.

    Array coordinate systems (the input of ``multiscales > datasets`` transformations) have the array's path and
    the name ``""``.
    """

    path: str
    name: str

    def __str__(self) -> str:
        if not self.path:
            return self.name
        return self.path if not self.name else f"{self.path}#{self.name}"

    def to_ref(self) -> CoordinateSystemRef:
        """The reference written in metadata."""
        if not self.name:
            return CoordinateSystemRef(path=self.path)
        return CoordinateSystemRef(name=self.name, path=self.path or None)


@dataclass
class Edge:
    """A transformation between two coordinate systems of the graph."""

    source: NodeKey
    target: NodeKey
    transformation: Transformation
    where: str


class TransformGraph:
    """Coordinate systems and the transformations between them; finds and applies the path between any two.

    Build it with :meth:`from_scene` (an ``ome.scene`` group and the multiscales images it refers to),
    :meth:`from_multiscales` (one image), or by hand with :meth:`add_coordinate_system` and
    :meth:`add_transformation`.

    Examples
    --------
    >>> from spatialdata_plugins.transforms import TransformGraph, CoordinateSystem, Axis, Scale
    >>> from spatialdata_plugins.transforms import CoordinateSystemRef as Ref
    >>> g = TransformGraph()
    >>> for name in ("pixels", "um"):
    ...     g.add_coordinate_system(CoordinateSystem(name, (Axis("y"), Axis("x"))))
    >>> g.add_transformation(Scale([0.5, 0.5], input=Ref("pixels"), output=Ref("um")))
    >>> g.transform([[10.0, 4.0]], "um", "pixels").tolist()
    [[20.0, 8.0]]
    """

    def __init__(self) -> None:
        self.systems: dict[NodeKey, CoordinateSystem] = {}
        self.edges: list[Edge] = []

    # -- building ------------------------------------------------------------------------------------------------

    def add_coordinate_system(self, system: CoordinateSystem, path: str = "") -> NodeKey:
        """Add a coordinate system defined in the group at ``path`` (``""``: the root of the hierarchy)."""
        key = NodeKey(path, system.name)
        if key in self.systems and self.systems[key] != system:
            raise TransformationError(f"coordinate system {key} is defined twice with different axes")
        self.systems[key] = system
        return key

    def add_transformation(self, transformation: Transformation, base: str = "", where: str | None = None) -> Edge:
        """Add an edge; its ``input``/``output`` are resolved relative to the group at ``base``.

        Raises
        ------
        TransformationError
            ``input`` or ``output`` is missing, or the parameters do not fit the dimensionality of the coordinate
            systems.
        CoordinateSystemNotFoundError
            ``input`` or ``output`` names a coordinate system that is not defined.
        """
        where = where or transformation.describe()
        keys = []
        for side in ("input", "output"):
            ref = getattr(transformation, side)
            if ref is None or (ref.name is None and ref.path is None):
                raise TransformationError(f"{where}: {transformation.describe()} needs an {side!r} coordinate system")
            key = self._key_of(ref, base)
            if key not in self.systems:
                raise CoordinateSystemNotFoundError(
                    f"{where}: {side} {ref} of {transformation.describe()} is not a defined coordinate system "
                    f"(known: {', '.join(sorted(map(str, self.systems))) or 'none'})"
                )
            keys.append(key)
        source, target = keys
        src_cs, dst_cs = self.systems[source], self.systems[target]
        _bind(transformation, src_cs, dst_cs)
        transformation.check_dims(src_cs.ndim, dst_cs.ndim)
        edge = Edge(source, target, transformation, where)
        self.edges.append(edge)
        return edge

    @staticmethod
    def _key_of(ref: CoordinateSystemRef, base: str) -> NodeKey:
        if ref.name is None:
            return NodeKey(join_path(base, ref.path), "")
        return NodeKey(join_path(base, ref.path), ref.name)

    @classmethod
    def from_multiscales(cls, group: zarr.Group | str | Path, path: str = "") -> TransformGraph:
        """The graph of one multiscales image: its arrays, coordinate systems and transformations."""
        graph = cls()
        graph._add_multiscales(_open(group), path, set())
        return graph

    @classmethod
    def from_scene(cls, target: zarr.Group | str | Path) -> TransformGraph:
        """The graph of an OME-Zarr scene: ``ome.scene`` of the root group plus every multiscales image it refers to.

        A root group holding ``multiscales`` instead of ``scene`` gives the graph of that image.

        Parameters
        ----------
        target
            A local path or a zarr group.

        Raises
        ------
        TransformationError
            The metadata is malformed or has neither ``scene`` nor ``multiscales``.
        """
        root = _open(target)
        ome = _ome(root)
        graph = cls()
        visited: set[str] = set()
        scene = ome.get("scene")
        if scene is None:
            if "multiscales" in ome:
                graph._add_multiscales(root, "", visited)
                return graph
            raise TransformationError(f"{_describe_group(root)} has no 'ome.scene' (or 'multiscales') metadata")
        if not isinstance(scene, dict):
            raise TransformationError(f"{_describe_group(root)}: 'scene' must be an object")
        scene_systems = [
            CoordinateSystem.from_dict(cs, f"scene.coordinateSystems[{k}]")
            for k, cs in enumerate(scene.get("coordinateSystems") or [])
        ]
        _check_unique_systems(scene_systems, "scene.coordinateSystems")
        for system in scene_systems:
            graph.add_coordinate_system(system)
        items = scene.get("coordinateTransformations")
        if not isinstance(items, list) or not items:
            raise TransformationError("scene: field 'coordinateTransformations' must be a non-empty array")
        parsed = []
        for k, item in enumerate(items):
            where = f"scene.coordinateTransformations[{k}]"
            t = parse_transformation(item, group=root, where=where)
            for side in ("input", "output"):
                ref = getattr(t, side)
                if ref is None or not ref.name:
                    raise TransformationError(f"{where}: {t.describe()}: field {side!r} must name a coordinate system")
                if ref.path:
                    graph._add_image(root, ref.path, visited, where)
            parsed.append((t, where))
        _check_unique_names([t for t, _ in parsed], "scene.coordinateTransformations")
        for t, where in parsed:
            graph.add_transformation(t, "", where)
        return graph

    def _add_image(self, root: zarr.Group, path: str, visited: set[str], where: str) -> None:
        path = join_path("", path)
        if path in visited:
            return
        try:
            group = root[path]
        except KeyError as err:
            raise CoordinateSystemNotFoundError(f"{where}: there is no group at path {path!r}") from err
        if not isinstance(group, zarr.Group):
            raise TransformationError(f"{where}: path {path!r} is an array, expected a multiscales group")
        self._add_multiscales(group, path, visited, root=root)

    def _add_multiscales(self, group: zarr.Group, path: str, visited: set[str], root: zarr.Group | None = None) -> None:
        visited.add(path)
        ome = _ome(group)
        multiscales = ome.get("multiscales")
        if not isinstance(multiscales, list) or not multiscales:
            raise TransformationError(f"group {path or '/'!r} has no 'multiscales' metadata")
        root = root if root is not None else group
        for m, ms in enumerate(multiscales):
            at = f"{path or '/'} multiscales[{m}]"
            if is_v05_multiscales(ms):
                ms = upgrade_v05_multiscales(ms, at)
            systems = ms.get("coordinateSystems")
            if not isinstance(systems, list) or not systems:
                raise TransformationError(f"{at}: field 'coordinateSystems' must be a non-empty array (RFC-5 metadata)")
            parsed_systems = [
                CoordinateSystem.from_dict(cs, f"{at}.coordinateSystems[{k}]") for k, cs in enumerate(systems)
            ]
            _check_unique_systems(parsed_systems, f"{at}.coordinateSystems")
            for system in parsed_systems:
                self.add_coordinate_system(system, path)
            datasets = ms.get("datasets")
            if not isinstance(datasets, list) or not datasets:
                raise TransformationError(f"{at}: field 'datasets' must be a non-empty array")
            intrinsic = set()
            for d, ds in enumerate(datasets):
                ds_where = f"{at}.datasets[{d}]"
                ds_path = ds.get("path")
                if not isinstance(ds_path, str) or not ds_path:
                    raise TransformationError(f"{ds_where}: field 'path' must be a non-empty string")
                ndim = _array_ndim(group, ds_path) or len(systems[0]["axes"])
                array_key = NodeKey(join_path(path, ds_path), "")
                self.systems[array_key] = CoordinateSystem(
                    ds_path, tuple(Axis(f"dim_{i}", type="array") for i in range(ndim))
                )
                transforms = ds.get("coordinateTransformations")
                if not isinstance(transforms, list) or len(transforms) != 1:
                    raise TransformationError(
                        f"{ds_where}: field 'coordinateTransformations' must hold exactly one transformation"
                    )
                t = parse_transformation(transforms[0], group=group, where=f"{ds_where}.coordinateTransformations[0]")
                _check_dataset_transformation(t, f"{ds_where}.coordinateTransformations[0]")
                if t.output is None or not t.output.name:
                    raise TransformationError(
                        f"{ds_where}: {t.describe()}: field 'output' must name a coordinate system"
                    )
                intrinsic.add(t.output.name)
                # the dataset's path is the input, whatever the metadata says (the spec's SHOULD)
                t.input = CoordinateSystemRef(path=ds_path)
                t.output = CoordinateSystemRef(name=t.output.name)
                self.add_transformation(t, path, f"{ds_where}.coordinateTransformations[0]")
            if len(intrinsic) > 1:
                raise TransformationError(
                    f"{at}: every dataset must map to the same intrinsic coordinate system, got {sorted(intrinsic)}"
                )
            extra = ms.get("coordinateTransformations") or []
            parsed = []
            for k, item in enumerate(extra):
                where = f"{at}.coordinateTransformations[{k}]"
                t = parse_transformation(item, group=group, where=where)
                _check_multiscales_transformation(t, intrinsic, where)
                for side in ("input", "output"):
                    ref = getattr(t, side)
                    if ref is not None and ref.path and ref.name:
                        child = join_path(path, ref.path)
                        if child not in visited and _is_group(root, child):
                            self._add_multiscales(root[child] if child else root, child, visited, root=root)
                parsed.append((t, where))
            _check_unique_names([t for t, _ in parsed], f"{at}.coordinateTransformations")
            for t, where in parsed:
                self.add_transformation(t, path, where)

    # -- queries -------------------------------------------------------------------------------------------------

    @property
    def coordinate_systems(self) -> list[NodeKey]:
        """Every coordinate system of the graph (array coordinate systems have the name ``""``)."""
        return sorted(self.systems)

    def resolve(self, spec: Any) -> NodeKey:
        """Find a coordinate system by name.

        Parameters
        ----------
        spec
            A :class:`NodeKey`, a :class:`CoordinateSystemRef`, a ``{"name": ..., "path": ...}`` dict (or its JSON
            text), ``"path#name"``, ``"path/name"``, or a plain name. A plain name means the coordinate system of
            the root group if there is one, else the only one of that name anywhere in the hierarchy.

        Raises
        ------
        CoordinateSystemNotFoundError
            No coordinate system, or several, match.
        """
        if isinstance(spec, NodeKey):
            key = spec
        elif isinstance(spec, CoordinateSystemRef):
            key = self._key_of(spec, "")
        elif isinstance(spec, dict):
            key = self._key_of(CoordinateSystemRef.parse(spec, "coordinate system"), "")  # type: ignore[arg-type]
        elif isinstance(spec, tuple) and len(spec) == 2:
            key = NodeKey(join_path("", spec[0]), spec[1])
        elif isinstance(spec, str):
            text = spec.strip()
            if text.startswith("{"):
                try:
                    return self.resolve(json.loads(text))
                except json.JSONDecodeError as err:
                    raise CoordinateSystemNotFoundError(f"coordinate system {spec!r} is not valid JSON") from err
            if NodeKey("", text) in self.systems:
                return NodeKey("", text)
            matches = [k for k in self.systems if k.name == text]
            if "#" in text:
                path, _, name = text.rpartition("#")
                matches = [NodeKey(join_path("", path), name)]
            elif not matches:  # "image/name", or the path of an array ("image/s0", "s0")
                path, _, name = text.rpartition("/")
                candidates = (NodeKey(join_path("", path), name), NodeKey(join_path("", text), ""))
                matches = [k for k in candidates if k in self.systems]
            if len(matches) > 1:
                raise CoordinateSystemNotFoundError(
                    f"coordinate system name {text!r} is ambiguous: {', '.join(map(str, sorted(matches)))}; "
                    "write it as 'path#name'"
                )
            key = matches[0] if matches else NodeKey("", text)
        else:
            raise CoordinateSystemNotFoundError(f"cannot read a coordinate system from {spec!r}")
        if key not in self.systems:
            raise CoordinateSystemNotFoundError(
                f"unknown coordinate system {spec!r} (known: {', '.join(map(str, self.coordinate_systems)) or 'none'})"
            )
        return key

    def find(self, source: Any, target: Any) -> Transformation:
        """The transformation from ``source`` to ``target``: a chain of edges, inverting edges where possible.

        Explicit edges are preferred over inverted ones, and shorter chains over longer ones.

        Raises
        ------
        CoordinateSystemNotFoundError
            ``source`` or ``target`` is unknown.
        NotInvertibleError
            The systems are connected only through a transformation that would have to be inverted and cannot.
        NoTransformationPathError
            The systems are not connected at all.
        """
        src, dst = self.resolve(source), self.resolve(target)
        if src == dst:
            return Identity(input=src.to_ref(), output=dst.to_ref())
        steps = self._search(src, dst, allow_inverse=True, only_invertible=True)
        if steps is None:
            blocked = self._search(src, dst, allow_inverse=True, only_invertible=False)
            if blocked is not None:
                bad = [e for e, forward in blocked if not forward]
                edge = bad[0] if bad else blocked[0][0]
                raise NotInvertibleError(
                    f"no computable path from {src} to {dst}: {edge.transformation.describe()} ({edge.where}, "
                    f"{edge.source} -> {edge.target}) would have to be inverted and has no closed-form inverse"
                )
            raise NoTransformationPathError(f"coordinate systems {src} and {dst} are not connected")
        parts = [e.transformation if forward else e.transformation.inverse() for e, forward in steps]
        return compose(*parts, input=src.to_ref(), output=dst.to_ref())

    def _search(
        self, src: NodeKey, dst: NodeKey, *, allow_inverse: bool, only_invertible: bool
    ) -> list[tuple[Edge, bool]] | None:
        adjacency: dict[NodeKey, list[tuple[NodeKey, Edge, bool]]] = {}
        for e in self.edges:
            adjacency.setdefault(e.source, []).append((e.target, e, True))
        if allow_inverse:
            for e in self.edges:
                if not only_invertible or _invertible(e.transformation):
                    adjacency.setdefault(e.target, []).append((e.source, e, False))
        previous: dict[NodeKey, tuple[NodeKey, Edge, bool] | None] = {src: None}
        queue = deque([src])
        while queue:
            node = queue.popleft()
            if node == dst:
                break
            for nxt, edge, forward in adjacency.get(node, []):
                if nxt not in previous:
                    previous[nxt] = (node, edge, forward)
                    queue.append(nxt)
        if dst not in previous:
            return None
        steps = []
        node = dst
        while previous[node] is not None:
            prev, edge, forward = previous[node]  # type: ignore[misc]
            steps.append((edge, forward))
            node = prev
        return steps[::-1]

    def transform(self, points: Any, source: Any, target: Any, *, simplified: bool = True) -> Any:
        """Map points from ``source`` to ``target`` coordinates.

        Parameters
        ----------
        points
            ``(N, D)`` numpy or dask array, ``D`` the number of axes of ``source``.
        source, target
            Coordinate systems, as accepted by :meth:`resolve`.
        simplified
            Collapse linear steps into one matrix first (:func:`simplify`).

        Returns
        -------
        numpy.ndarray or dask.array.Array
            ``(N, D')`` coordinates in ``target``.
        """
        src = self.resolve(source)
        t = self.find(src, target)
        ndim = self.systems[src].ndim
        shape = np.shape(points)
        if len(shape) != 2 or shape[1] != ndim:
            raise TransformationError(
                f"points for coordinate system {src} must have shape (N, {ndim}), got {tuple(shape)}"
            )
        if simplified:
            t = simplify(t, ndim)
        return t.apply(points)

    def to_dict(self, inline: bool = True) -> dict[str, Any]:
        """The graph as ``scene`` metadata (root-level coordinate systems and every non-dataset edge)."""
        systems = [cs.to_dict() for key, cs in sorted(self.systems.items()) if not key.path]
        transforms = []
        for e in self.edges:
            if not e.source.name:  # dataset edges live in the multiscales metadata
                continue
            t = copy.copy(e.transformation)
            t.input, t.output = e.source.to_ref(), e.target.to_ref()
            transforms.append(t.to_dict(inline))
        out: dict[str, Any] = {"coordinateTransformations": transforms}
        if systems:
            out["coordinateSystems"] = systems
        return out


def _invertible(t: Transformation) -> bool:
    try:
        t.inverse()
    except NotInvertibleError:
        return False
    except TransformationError:
        return False
    return True


def _bind(t: Transformation, src: CoordinateSystem, dst: CoordinateSystem) -> None:
    """Resolve axis names in ``byDimension`` children (RFC-5 draft form) against the edge's coordinate systems."""
    if isinstance(t, ByDimension):
        t.bind(src.axis_names, dst.axis_names)


def _check_dataset_transformation(t: Transformation, where: str) -> None:
    from spatialdata_plugins.transforms._model import Scale, Sequence_, Translation

    ok = isinstance(t, Scale | Identity) or (
        isinstance(t, Sequence_)
        and len(t.transformations) == 2
        and isinstance(t.transformations[0], Scale)
        and isinstance(t.transformations[1], Translation)
    )
    if not ok:
        raise TransformationError(
            f"{where}: {t.describe()}: a dataset transformation must be a scale, an identity, or a sequence of a "
            "scale followed by a translation"
        )


def _check_multiscales_transformation(t: Transformation, intrinsic: set[str], where: str) -> None:
    """The 0.6rc0 rules for ``multiscales > coordinateTransformations``.

    One side is the intrinsic coordinate system (by ``name``, no ``path``); the other is a named system of the same
    group or (by ``name`` and ``path``) of a child labels group, and then the transformation is an ``identity``,
    ``scale`` or ``translation``.
    """
    from spatialdata_plugins.transforms._model import Scale, Translation

    refs = {side: getattr(t, side) for side in ("input", "output")}
    for side, ref in refs.items():
        if ref is None or not ref.name:
            raise TransformationError(f"{where}: {t.describe()}: field {side!r} must name a coordinate system")
    if not any(not ref.path and ref.name in intrinsic for ref in refs.values()):
        raise TransformationError(
            f"{where}: {t.describe()}: field 'input' or 'output' must be the intrinsic coordinate system "
            f"{' / '.join(sorted(intrinsic))!r} of the multiscales (by name, without path), got "
            f"{refs['input']} -> {refs['output']}"
        )
    for side, ref in refs.items():
        if ref.path and not isinstance(t, Identity | Scale | Translation):
            raise TransformationError(
                f"{where}: {t.describe()}: field {side!r} refers to a child group ({ref.path!r}), so the "
                "transformation must be an identity, scale or translation"
            )


def _check_unique_systems(systems: list[CoordinateSystem], where: str) -> None:
    names = [cs.name for cs in systems]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise TransformationError(f"{where}: coordinate system names must be unique, {repeated} appear more than once")


def _check_unique_names(ts: Iterable[Transformation], where: str) -> None:
    seen: set[str] = set()
    for t in ts:
        if t.name:
            if t.name in seen:
                raise TransformationError(
                    f"{where}: transformation name {t.name!r} is used twice; names must be unique"
                )
            seen.add(t.name)


def _open(target: Any) -> zarr.Group:
    if isinstance(target, zarr.Group):
        return target
    try:
        return zarr.open_group(str(target), mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as err:  # type: ignore[attr-defined]
        from spatialdata_plugins.core import StoreNotFoundError

        raise StoreNotFoundError(f"no zarr group at {target!s}") from err


def _ome(group: zarr.Group) -> dict[str, Any]:
    attrs = group.attrs.asdict()
    ome = attrs.get("ome", attrs)
    if not isinstance(ome, dict):
        raise TransformationError(f"{_describe_group(group)}: attribute 'ome' must be an object")
    return ome


def _describe_group(group: zarr.Group) -> str:
    return f"group {('/' + group.path) if group.path else '/'}"


def _array_ndim(group: zarr.Group, path: str) -> int | None:
    try:
        node = group[path]
    except KeyError:
        return None
    return node.ndim if isinstance(node, zarr.Array) else None


def _is_group(root: zarr.Group, path: str) -> bool:
    if not path:
        return True
    try:
        return isinstance(root[path], zarr.Group)
    except KeyError:
        return False
