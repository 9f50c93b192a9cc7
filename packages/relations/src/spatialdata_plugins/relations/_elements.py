"""Looking up elements and tables by name, their instance ids, coordinate systems and content fingerprints."""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from spatialdata_plugins.relations._errors import (
    CoordinateSystemError,
    KeyColumnError,
    RelationArgumentError,
    RelationTargetNotFoundError,
)

ELEMENT_TYPES = ("images", "labels", "points", "shapes")


def is_lazy(sdata: Any, name: str) -> bool:
    """Whether ``name`` is an attached object of the core's ``SpatialData`` that has not been loaded yet."""
    check = getattr(sdata, "is_lazy", None)
    if check is None:
        return False
    try:
        return bool(check(name))
    except KeyError:
        return False


def has_name(sdata: Any, name: str) -> bool:
    """Whether ``sdata`` holds an element, a table or an attached object called ``name``."""
    if name in sdata.tables:
        return True
    if any(name in getattr(sdata, t) for t in ELEMENT_TYPES):
        return True
    attached = getattr(sdata, "is_attached", None)
    return bool(attached(name)) if attached is not None else False


def is_table(sdata: Any, name: str) -> bool:
    """Whether ``name`` is a table of ``sdata``."""
    return name in sdata.tables


def element_type_of(sdata: Any, name: str) -> str:
    """``"shapes"``, ``"points"``, ``"labels"``, ``"images"`` or ``"tables"``; loads an attached object if needed."""
    if name in sdata.tables:
        return "tables"
    for element_type in ELEMENT_TYPES:
        if name in getattr(sdata, element_type):
            return element_type
    if has_name(sdata, name):
        sdata[name]  # resolve the attached object, then look again
        return element_type_of(sdata, name)
    raise RelationTargetNotFoundError(f"no element or table named {name!r}")


def get_table(sdata: Any, name: str, argument: str) -> Any:
    """The table ``name``; raise naming ``argument`` if there is none."""
    if not isinstance(name, str):
        raise RelationArgumentError(f"{argument} must be the name of a table, got {type(name).__name__}")
    if name not in sdata.tables:
        if has_name(sdata, name):
            raise RelationArgumentError(f"{argument}={name!r} is an element, not a table")
        raise RelationTargetNotFoundError(
            f"{argument}={name!r}: no table of that name (tables: {sorted(sdata.tables)})"
        )
    return sdata.tables[name]


def get_element(sdata: Any, name: str, argument: str, kinds: tuple[str, ...] = ELEMENT_TYPES) -> tuple[str, Any]:
    """``(element_type, element)`` of element ``name``; raise naming ``argument`` if missing or of another kind."""
    if not isinstance(name, str):
        raise RelationArgumentError(f"{argument} must be the name of an element, got {type(name).__name__}")
    if name in sdata.tables:
        raise RelationArgumentError(f"{argument}={name!r} is a table, not an element")
    if not has_name(sdata, name):
        names = sorted(n for t in ELEMENT_TYPES for n in getattr(sdata, t))
        raise RelationTargetNotFoundError(f"{argument}={name!r}: no element of that name (elements: {names})")
    element_type = element_type_of(sdata, name)
    if element_type not in kinds:
        raise RelationArgumentError(
            f"{argument}={name!r} is a {element_type} element; this needs one of: {', '.join(kinds)}"
        )
    return element_type, sdata[name]


def label_instances(labels: Any) -> np.ndarray:
    """The sorted instance values of a labels element (0, the background, left out), as spatialdata counts them."""
    from spatialdata import get_element_instances

    return np.asarray(get_element_instances(labels))


def element_columns(element_type: str, element: Any) -> list[str]:
    """Column names of a shapes or points element (none for labels)."""
    if element_type in ("shapes", "points"):
        return [str(c) for c in element.columns]
    return []


def instance_ids(element_type: str, element: Any, column: str | None) -> np.ndarray:
    """The instance id of every instance, in element order.

    Shapes and points: ``column`` when the element was indexed (:func:`index_element`), otherwise the index, as
    spatialdata's joins use it. Labels: the label values.
    """
    if element_type == "labels":
        return label_instances(element)
    if element_type == "shapes":
        if column is not None and column in element.columns:
            return element[column].to_numpy()
        return element.index.to_numpy()
    if element_type == "points":
        if column is not None and column in element.columns:
            return element[column].compute().to_numpy()
        return element.index.compute().to_numpy()
    raise RelationArgumentError(f"{element_type} elements have no instances")


def instance_index(element_type: str, element: Any, column: str | None) -> pd.Index:
    """:func:`instance_ids` as a pandas Index (the element's own index when it holds the ids: no copy)."""
    if element_type == "shapes" and (column is None or column not in element.columns):
        return element.index
    return pd.Index(instance_ids(element_type, element, column))


def key_values(element_type: str, element: Any, column: str, argument: str, name: str) -> np.ndarray:
    """The values of key ``column`` of an element, in element order (``column`` must exist)."""
    if element_type == "labels":
        raise RelationArgumentError(
            f"{argument}={column!r}: labels {name!r} have no columns; their key is the label value (leave {argument} "
            "unset)"
        )
    if column not in element.columns:
        raise KeyColumnError(
            f"{argument}={column!r}: no column {column!r} in {element_type} {name!r} "
            f"(columns: {element_columns(element_type, element)})"
        )
    values = element[column]
    if element_type == "points":
        values = values.compute()
    return values.to_numpy()


def coordinate_systems(element: Any) -> dict[str, Any]:
    """``{coordinate system: transformation}`` of an element."""
    from spatialdata.transformations import get_transformation

    return dict(get_transformation(element, get_all=True) or {})


def common_coordinate_system(
    first: Any, second: Any, names: tuple[str, str], requested: str | None, argument: str
) -> str:
    """The coordinate system two elements are joined in: ``requested``, else ``"global"``, else the only common one."""
    a, b = coordinate_systems(first), coordinate_systems(second)
    common = sorted(set(a) & set(b))
    if requested is not None:
        missing = [n for n, cs in zip(names, (a, b), strict=True) if requested not in cs]
        if missing:
            raise CoordinateSystemError(
                f"coordinate_system={requested!r}: {', '.join(map(repr, missing))} has no transformation to it "
                f"({names[0]!r}: {sorted(a)}, {names[1]!r}: {sorted(b)})"
            )
        return requested
    if not common:
        raise CoordinateSystemError(
            f"{argument}: {names[0]!r} (coordinate systems {sorted(a)}) and {names[1]!r} ({sorted(b)}) share no "
            "coordinate system, so there is no transformation between them; add one with "
            "spatialdata.transformations.set_transformation"
        )
    if "global" in common:
        return "global"
    if len(common) == 1:
        return common[0]
    raise CoordinateSystemError(
        f"{names[0]!r} and {names[1]!r} share several coordinate systems {common}; choose one with coordinate_system="
    )


def in_coordinate_system(element: Any, system: str) -> Any:
    """The element with coordinates in ``system`` (the element itself when its transformation is the identity)."""
    from spatialdata import transform
    from spatialdata.transformations import Identity

    transformation = coordinate_systems(element)[system]
    if isinstance(transformation, Identity):
        return element
    return transform(element, to_coordinate_system=system)


def geometries(element_type: str, element: Any) -> Any:
    """A shapely geometry array of a shapes or points element (points become point geometries)."""
    import shapely

    if element_type == "shapes":
        return element.geometry.values
    frame = element[["x", "y"]].compute()
    return shapely.points(frame["x"].to_numpy(), frame["y"].to_numpy())


@dataclass
class Snapshot:
    """What a spatial link was computed on, kept by reference (shapely geometries and pandas indexes are immutable).

    Taking one costs a copy of the geometry pointer array, no coordinate is read; comparing one with the element as it
    is now checks object identity, so an element edited in place, reordered or replaced by other geometries is seen
    as changed, while a plain ``copy()`` of it is not. :meth:`fingerprint` hashes the content (for the store).
    """

    element_type: str
    transformations: str
    geometries: np.ndarray | None = None
    index: pd.Index | None = None
    radius: np.ndarray | None = None
    token: str | None = None
    frame: Any = None

    @classmethod
    def take(cls, element_type: str, element: Any) -> Snapshot:
        """Snapshot ``element`` as it is now."""
        transformations = repr(sorted((k, repr(v)) for k, v in coordinate_systems(element).items()))
        if element_type != "shapes":
            from dask.base import tokenize

            return cls(element_type, transformations, token=tokenize(element), frame=element)
        radius = element["radius"].to_numpy().copy() if "radius" in element.columns else None
        return cls(
            element_type, transformations, np.array(element.geometry.values, dtype=object), element.index, radius
        )

    def same_as(self, element: Any) -> bool:
        """Whether ``element`` still holds exactly what was snapshot (identity of every geometry object)."""
        other = Snapshot.take(self.element_type, element) if self.element_type != "shapes" else None
        if other is not None:
            return other.token == self.token and other.transformations == self.transformations
        transformations = repr(sorted((k, repr(v)) for k, v in coordinate_systems(element).items()))
        if transformations != self.transformations or len(element) != len(self.geometries):
            return False
        if not (element.index is self.index or element.index.equals(self.index)):
            return False
        radius = element["radius"].to_numpy() if "radius" in element.columns else None
        if (radius is None) != (self.radius is None) or (
            radius is not None and not np.array_equal(radius, self.radius)
        ):
            return False
        return all(map(operator.is_, np.asarray(element.geometry.values, dtype=object), self.geometries))

    def fingerprint(self) -> str:
        """A content hash: coordinates, coordinate counts, geometry types, radii, index, transformations."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(self.transformations.encode())
        if self.element_type != "shapes":
            # points: the coordinates and the index, read from the (immutable) dask collection snapshot
            columns = [c for c in ("x", "y", "z") if c in self.frame.columns]
            frame = self.frame[columns].compute()
            digest.update(np.ascontiguousarray(frame.to_numpy(dtype=np.float64)).tobytes())
            digest.update(pd.util.hash_pandas_object(frame.index, index=False).to_numpy().tobytes())
            return digest.hexdigest()
        import shapely

        geoms = self.geometries
        for part in (
            shapely.get_coordinates(geoms, include_z=True),
            shapely.get_num_coordinates(geoms),
            shapely.get_type_id(geoms),
            pd.util.hash_pandas_object(self.index, index=False).to_numpy(),
        ):
            digest.update(np.ascontiguousarray(part).tobytes())
        if self.radius is not None:
            digest.update(np.ascontiguousarray(self.radius).tobytes())
        return digest.hexdigest()


def fingerprint(element_type: str, element: Any) -> str:
    """The content hash of an element as a spatial link sees it (see :meth:`Snapshot.fingerprint`)."""
    return Snapshot.take(element_type, element).fingerprint()
