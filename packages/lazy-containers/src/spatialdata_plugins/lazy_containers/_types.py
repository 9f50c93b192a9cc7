"""The registry of container types.

Built-ins, entry points of group ``spatialdata_plugins.lazy_containers``, and types registered at run time with
:func:`register_container_type`.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import asdict, dataclass
from functools import cache
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, packages_distributions, version
from typing import Any

from spatialdata_plugins.lazy_containers._base import ELEMENT_TYPES, LazyContainer, _defined_types
from spatialdata_plugins.lazy_containers._errors import InvalidContainerError, UnknownContainerTypeError

ENTRY_POINT_GROUP = "spatialdata_plugins.lazy_containers"
THIS_DISTRIBUTION = "spatialdata-plugins-lazy-containers"

_lock = threading.RLock()
_builtin: dict[str, type[LazyContainer]] = {}
_runtime: dict[str, type[LazyContainer]] = {}
_entry_points: dict[str, EntryPoint] | None = None
_loaded_entry_points: dict[str, type[LazyContainer]] = {}
_entry_point_errors: dict[str, str] = {}


@dataclass
class ContainerTypeInfo:
    """One known container type.

    Attributes
    ----------
    name
        Type name used in stored links.
    element_type
        Element kind it produces (``None`` if the entry point was not loaded or failed).
    source
        ``"builtin"``, ``"entry point"`` or ``"runtime"``.
    target
        ``module:Class``.
    distribution
        Distribution that ships it.
    error
        Why loading its entry point failed, or ``None``.
    """

    name: str
    element_type: str | None
    source: str
    target: str
    distribution: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)


def _check_type(cls: Any, name: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, LazyContainer)):
        raise InvalidContainerError(f"container type {name!r} must be a LazyContainer subclass, got {cls!r}")
    if cls.element_type not in ELEMENT_TYPES:
        raise InvalidContainerError(
            f"container type {name!r} has element_type {cls.element_type!r}: not in {ELEMENT_TYPES}"
        )
    if cls is UnresolvedContainer:
        raise InvalidContainerError("UnresolvedContainer cannot be registered")


def _register_builtin(cls: type[LazyContainer]) -> type[LazyContainer]:
    _builtin[cls.type_name] = cls
    return cls


def register_container_type(
    cls: type[LazyContainer], name: str | None = None, *, replace: bool = False
) -> type[LazyContainer]:
    """Register a container class at run time (usable as a class decorator).

    Parameters
    ----------
    cls
        A :class:`LazyContainer` subclass.
    name
        Type name in stored links; defaults to ``cls.type_name`` (which is set to it if empty).
    replace
        Replace a type already registered under that name.

    Returns
    -------
    type
        ``cls``.

    Raises
    ------
    InvalidContainerError
        ``cls`` is not a container class, or the name is taken and ``replace`` is false.
    """
    name = name or cls.type_name
    if not name:
        raise InvalidContainerError(f"{cls!r} needs a type_name (or pass name=...)")
    _check_type(cls, name)
    with _lock:
        taken = _runtime.get(name) or _builtin.get(name) or _loaded_entry_points.get(name)
        if taken is not None and taken is not cls and not replace:
            raise InvalidContainerError(
                f"container type {name!r} is already registered ({taken.__module__}.{taken.__qualname__}); "
                "pass replace=True to replace it"
            )
        if not cls.type_name or cls.type_name_is_default:
            cls.type_name = name
            cls.type_name_is_default = False
        _runtime[name] = cls
    return cls


def unregister_container_type(name: str) -> type[LazyContainer] | None:
    """Remove a type registered at run time; return it (``None`` if there was none)."""
    with _lock:
        return _runtime.pop(name, None)


def _discover() -> dict[str, EntryPoint]:
    global _entry_points
    with _lock:
        if _entry_points is None:
            _entry_points = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        return _entry_points


def refresh_container_types() -> None:
    """Forget discovered entry points (after installing a package in a running process)."""
    global _entry_points
    with _lock:
        _entry_points = None
        _loaded_entry_points.clear()
        _entry_point_errors.clear()
        distribution_of.cache_clear()
        _packages_distributions.cache_clear()


def _load_entry_point(name: str) -> type[LazyContainer] | None:
    ep = _discover().get(name)
    if ep is None:
        return None
    with _lock:
        if name in _loaded_entry_points:
            return _loaded_entry_points[name]
        try:
            cls = ep.load()
            _check_type(cls, name)
        except Exception as exc:
            _entry_point_errors[name] = f"{type(exc).__name__}: {exc}"
            return None
        if not cls.type_name or cls.type_name_is_default:
            cls.type_name = name
            cls.type_name_is_default = False
        _loaded_entry_points[name] = cls
        return cls


def find_container_type(name: str) -> type[LazyContainer] | None:
    """The class registered under ``name``, or ``None``.

    Looked up among types registered at run time, built-ins, entry points, then (for the default
    ``"<module>:<qualified name>"`` of a subclass that set no ``type_name``) the subclasses defined in this process
    and the class importable under that name.
    """
    with _lock:
        cls = _runtime.get(name) or _builtin.get(name)
    if cls is None:
        cls = _load_entry_point(name)
    if cls is None:
        cls = _defined_types.get(name) or _import_default_named(name)
    return cls


def _import_default_named(name: str) -> type[LazyContainer] | None:
    module_name, sep, qualname = name.partition(":")
    if not sep or not module_name or "<locals>" in qualname:
        return None
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    if isinstance(obj, type) and issubclass(obj, LazyContainer) and obj.type_name == name:
        return obj
    return None


def check_readable(container: LazyContainer) -> None:
    """Refuse to store a link that this process could not turn back into a container of the same class.

    Raises
    ------
    InvalidContainerError
        The container's ``type_name`` resolves to another class (or to none); the message says what to set.
    """
    cls = type(container)
    if isinstance(container, UnresolvedContainer):
        return  # a link read from a store, written back as it was
    found = find_container_type(cls.type_name)
    if found is not cls:
        other = f"{found.__module__}.{found.__qualname__}" if found is not None else "no class"
        raise InvalidContainerError(
            f"cannot store a link to {container.location!r} as a {cls.__qualname__}: its type name "
            f"{cls.type_name!r} resolves to {other} when read back. Give {cls.__qualname__} a unique type_name "
            "(class attribute) or register it with register_container_type(cls, name=...)"
        )


def get_container_type(name: str) -> type[LazyContainer]:
    """The class registered under ``name``.

    Raises
    ------
    UnknownContainerTypeError
        No installed package provides it (or its entry point fails to load; the message says why).
    """
    cls = find_container_type(name)
    if cls is None:
        why = _entry_point_errors.get(name)
        detail = f"its entry point failed to load ({why})" if why else "no installed package provides it"
        raise UnknownContainerTypeError(
            f"unknown lazy container type {name!r}: {detail}; known: {sorted(known_names())}"
        )
    return cls


def known_names() -> set[str]:
    """Names of every built-in, run-time and entry-point container type (entry points are not loaded)."""
    return set(_builtin) | set(_runtime) | set(_discover())


def container_types(load: bool = True) -> list[ContainerTypeInfo]:
    """Every known container type.

    Parameters
    ----------
    load
        Import entry-point classes to report their element type and load errors.

    Returns
    -------
    list of ContainerTypeInfo
        Sorted by name.
    """
    out: dict[str, ContainerTypeInfo] = {}
    for name, ep in _discover().items():
        cls = _load_entry_point(name) if load else None
        out[name] = ContainerTypeInfo(
            name=name,
            element_type=cls.element_type if cls else None,
            source="entry point",
            target=ep.value,
            distribution=ep.dist.name if ep.dist is not None else None,
            error=_entry_point_errors.get(name),
        )
    for source, table in (("builtin", _builtin), ("runtime", _runtime)):
        for name, cls in table.items():
            out[name] = ContainerTypeInfo(
                name=name,
                element_type=cls.element_type,
                source=source,
                target=f"{cls.__module__}:{cls.__qualname__}",
                distribution=distribution_of(cls)[0],
            )
    return [out[n] for n in sorted(out)]


@cache
def _packages_distributions() -> dict[str, list[str]]:
    return packages_distributions()


@cache
def distribution_of(cls: type) -> tuple[str | None, str | None]:
    """The distribution (and its version) that ships ``cls``; ``(None, None)`` for classes defined in scripts."""
    module = cls.__module__
    if module.startswith("spatialdata_plugins.lazy_containers"):
        dist: str | None = THIS_DISTRIBUTION
    else:
        dist = None
        for ep in _discover().values():
            if ep.value.split(":")[0] == module and ep.dist is not None:
                dist = ep.dist.name
                break
        if dist is None:
            top = module.split(".")[0]
            names = _packages_distributions().get(top) or []
            dist = names[0] if len(names) == 1 else None
            if top == "spatialdata_plugins" and names:
                # a namespace package: every plugin shares the top-level name, pick by the module path
                wanted = module.split(".")[1].replace("_", "-") if "." in module else ""
                dist = next((n for n in names if n.endswith(wanted)), None)
    if dist is None:
        return None, None
    try:
        return dist, version(dist)
    except PackageNotFoundError:
        return dist, None


class UnresolvedContainer(LazyContainer):
    """A stored link whose container type is not installed: the store still opens, access says what is missing.

    Writing the store again keeps the link exactly as it was stored.

    Parameters
    ----------
    spec
        The stored link (see :meth:`LazyContainer.to_dict`).
    reason
        Why it could not be rebuilt; by default, that its type is not installed.
    """

    def __init__(self, spec: dict[str, Any], reason: str | None = None) -> None:
        self.spec = dict(spec)
        self.type_name = str(spec.get("type"))  # type: ignore[misc]
        self.element_type = (  # type: ignore[misc]
            spec.get("element_type") if spec.get("element_type") in ELEMENT_TYPES else "shapes"
        )
        self.reason = reason
        location = spec.get("location")
        super().__init__(
            location if isinstance(location, str) and location else "<missing location>",
            spec.get("key") or None,
            integrity="none",
        )

    @property
    def missing_distribution(self) -> str | None:
        """The distribution the link names as providing its type."""
        return self.spec.get("distribution")

    def load(self) -> Any:
        """Raise :class:`UnknownContainerTypeError`, naming the distribution to install."""
        dist = self.missing_distribution
        version_text = (
            f" (it was written with {dist} {self.spec.get('version')})" if dist and self.spec.get("version") else ""
        )
        hint = f"install the distribution {dist!r}{version_text}" if dist else "install the package that provides it"
        reason = self.reason or f"the container type {self.type_name!r} is not installed"
        raise UnknownContainerTypeError(self._problem(f"{reason}; {hint}"))

    def to_dict(self) -> dict[str, Any]:
        """The stored link, unchanged."""
        return dict(self.spec)

    def describe(self) -> str:
        """One line for ``SpatialData``'s repr, naming the missing distribution."""
        dist = self.missing_distribution or "unknown distribution"
        return f"[lazy, type not installed: needs {dist}] {self.type_name} @ {self.location}"

    def __repr__(self) -> str:
        return f"UnresolvedContainer(type={self.type_name!r}, key={self.key!r}, needs={self.missing_distribution!r})"
