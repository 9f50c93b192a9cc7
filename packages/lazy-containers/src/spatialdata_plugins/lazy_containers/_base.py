"""``LazyContainer``: a soft link to external data, turned into a validated SpatialData element on access."""

from __future__ import annotations

import json
import os
import posixpath
import warnings
from typing import Any, ClassVar, Literal

from spatialdata_plugins.core import ELEMENT_TYPES
from spatialdata_plugins.lazy_containers._errors import (
    ContainerLoadError,
    ContainerValidationError,
    InvalidContainerError,
    LazyContainerError,
    LinkChangedError,
    LinkChangedWarning,
    LinkTargetNotFoundError,
)
from spatialdata_plugins.lazy_containers._fs import (
    fingerprint,
    fingerprint_changes,
    normalise_location,
    public_storage_options,
)

OnChange = Literal["warn", "raise", "ignore"]
Integrity = Literal["stat", "checksum", "none"]
LINK_FORMAT_VERSION = 1
ON_CHANGE_ENV = "SPATIALDATA_PLUGINS_LAZY_ON_CHANGE"
_ON_CHANGE_VALUES = ("warn", "raise", "ignore")
_default_on_change: list[str | None] = [None]


def get_default_on_change() -> str:
    """The policy used by containers whose ``on_change`` is ``None``.

    Set with :func:`set_default_on_change`, else the ``SPATIALDATA_PLUGINS_LAZY_ON_CHANGE`` environment variable,
    else ``"warn"``.
    """
    value = _default_on_change[0] or os.environ.get(ON_CHANGE_ENV) or "warn"
    if value not in _ON_CHANGE_VALUES:
        raise InvalidContainerError(f"{ON_CHANGE_ENV}={value!r} is not one of {_ON_CHANGE_VALUES}")
    return value


def set_default_on_change(policy: OnChange | None) -> str | None:
    """Set what happens when a linked file changed since its fingerprint was recorded, for every container.

    Parameters
    ----------
    policy
        ``"warn"`` (a :class:`LinkChangedWarning`, then load), ``"raise"`` (a :class:`LinkChangedError`, nothing is
        loaded), ``"ignore"``; ``None`` goes back to the environment variable or ``"warn"``.

    Returns
    -------
    str or None
        The previous setting.
    """
    if policy is not None and policy not in _ON_CHANGE_VALUES:
        raise InvalidContainerError(f"on_change must be one of {_ON_CHANGE_VALUES}, got {policy!r}")
    previous = _default_on_change[0]
    _default_on_change[0] = policy
    return previous


def transformation_to_dict(transformation: Any) -> dict[str, Any] | None:
    """Serialise a ``spatialdata.transformations`` transformation as an OME-NGFF dict (``None`` stays ``None``)."""
    if transformation is None:
        return None
    for axes in (("x", "y"), ("x", "y", "z")):
        try:
            return transformation.to_ngff(input_axes=axes, output_axes=axes).to_dict()
        except (ValueError, AssertionError, KeyError):
            continue
    raise InvalidContainerError(f"cannot serialise the transformation {transformation!r} on x, y (, z) axes")


def transformation_from_dict(spec: dict[str, Any] | None) -> Any:
    """Inverse of :func:`transformation_to_dict`."""
    if spec is None:
        return None
    from spatialdata.transformations.ngff.ngff_transformations import NgffBaseTransformation
    from spatialdata.transformations.transformations import BaseTransformation

    return BaseTransformation.from_ngff(NgffBaseTransformation.from_dict(spec))


#: Every subclass of :class:`LazyContainer` defined in this process, by type name (the registry's last resort, so
#: that a link written by this process can always be read back by it).
_defined_types: dict[str, type[LazyContainer]] = {}


class LazyContainer:
    """A soft link to external data (a local path or any fsspec URL), loaded into a SpatialData element on access.

    Building a container and attaching it (``sdata.attach(container)``) does no IO. The first access
    (``sdata[key]``) calls :meth:`load`, which checks the target's fingerprint, reads it, validates it with the
    ``spatialdata.models`` model of :attr:`element_type`, and returns the element; ``SpatialData`` caches it.

    Subclasses set :attr:`type_name` and :attr:`element_type`, implement :meth:`read_raw` (the file's content) and
    :meth:`to_element` (the SpatialData element), and return their own constructor arguments from :meth:`params`, so
    that ``type(c)(c.location, c.key, **common, **c.params())`` rebuilds the container from its JSON.

    Parameters
    ----------
    location
        Local path (made absolute) or fsspec URL (``s3://bucket/cells.parquet``).
    key
        Element name; defaults to the file name without its extensions.
    storage_options
        fsspec options for URLs. Credentials (``key``, ``secret``, ``token``...) are used but never written into a
        store: after reading a store back, they come from the environment or ``fsspec.config.conf``.
    coordinate_system
        Name of the coordinate system the element is placed in.
    transformation
        A ``spatialdata.transformations`` transformation to ``coordinate_system``; ``None`` is the identity.
    fingerprint
        A recorded fingerprint of the target (``{"size", "mtime", ...}``); usually filled by :meth:`pin`, the first
        :meth:`load` or the first write of the link.
    integrity
        ``"stat"`` (size and modification time, plus the ETag on object stores), ``"checksum"`` (also a SHA-256 of
        the content, which reads the whole file an extra time) or ``"none"``.
    on_change
        ``"warn"``, ``"raise"`` or ``"ignore"`` when the target changed since the fingerprint was recorded;
        ``None`` follows :func:`set_default_on_change`.
    """

    type_name: ClassVar[str] = ""
    """Name of the type in stored links (``"ParquetShapes"``); unique among registered types. A subclass that
    sets none gets ``"<module>:<qualified name>"``, which this process (and any process that can import the
    class) resolves back to it."""
    type_name_is_default: ClassVar[bool] = False
    """Whether :attr:`type_name` is the default given to a subclass that set none."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("type_name"):
            cls.type_name_is_default = False
            return
        # a subclass that names no type gets a stable default that this process resolves back to it (an explicit
        # name is resolved through the registry: built-ins, entry points, register_container_type)
        cls.type_name = f"{cls.__module__}:{cls.__qualname__}"
        cls.type_name_is_default = True
        _defined_types[cls.type_name] = cls

    element_type: ClassVar[str] = ""
    """``"images"``, ``"labels"``, ``"points"``, ``"shapes"`` or ``"tables"``."""
    validated_by_parse: ClassVar[bool] = False
    """Whether :meth:`to_element` already validates with the model (``Model.parse`` does), so :meth:`load` need not
    validate a second time; leave ``False`` unless ``to_element`` always calls ``Model.parse``."""

    def __init__(
        self,
        location: str | os.PathLike[str],
        key: str | None = None,
        *,
        storage_options: dict[str, Any] | None = None,
        coordinate_system: str = "global",
        transformation: Any = None,
        fingerprint: dict[str, Any] | None = None,
        integrity: Integrity = "stat",
        on_change: OnChange | None = None,
    ) -> None:
        try:
            self.location = normalise_location(location)
        except TypeError as exc:
            raise InvalidContainerError(f"{type(self).__name__}: {exc}") from None
        self.key = key if key is not None else _default_key(self.location)
        if not isinstance(self.key, str) or not self.key:
            raise InvalidContainerError(f"{type(self).__name__}: key must be a non-empty string, got {key!r}")
        if storage_options is not None and not isinstance(storage_options, dict):
            raise InvalidContainerError(f"{self._who()}: storage_options must be a dict, got {storage_options!r}")
        self.storage_options = dict(storage_options or {})
        if not isinstance(coordinate_system, str) or not coordinate_system:
            raise InvalidContainerError(f"{self._who()}: coordinate_system must be a non-empty string")
        self.coordinate_system = coordinate_system
        if transformation is not None:
            from spatialdata.transformations.transformations import BaseTransformation

            if not isinstance(transformation, BaseTransformation):
                raise InvalidContainerError(
                    f"{self._who()}: transformation must be a spatialdata.transformations transformation, "
                    f"got {type(transformation).__name__}"
                )
        self.transformation = transformation
        if integrity not in ("stat", "checksum", "none"):
            raise InvalidContainerError(f"{self._who()}: integrity must be 'stat', 'checksum' or 'none'")
        self.integrity = integrity
        if on_change is not None and on_change not in _ON_CHANGE_VALUES:
            raise InvalidContainerError(f"{self._who()}: on_change must be one of {_ON_CHANGE_VALUES} or None")
        self.on_change = on_change
        self.fingerprint = dict(fingerprint) if fingerprint else None
        # the target's fingerprint taken by the integrity check of the load under way, so that reading can use it
        # instead of asking the filesystem again (a second HEAD request on an object store)
        self._seen_fingerprint: dict[str, Any] | None = None
        self.loaded = False
        if self.element_type not in ELEMENT_TYPES:
            raise InvalidContainerError(f"{type(self).__name__}.element_type must be one of {ELEMENT_TYPES}")

    # ------------------------------------------------------------------------------------------ to implement

    def read_raw(self) -> Any:
        """Read the target (a GeoDataFrame, a DataFrame, an array, an AnnData...); errors become load errors."""
        raise NotImplementedError

    def to_element(self, raw: Any) -> Any:
        """Turn what :meth:`read_raw` returned into a SpatialData element (``Model.parse``)."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The subclass's own constructor arguments, JSON-serialisable."""
        return {}

    # ------------------------------------------------------------------------------------------ loading

    def transformations(self) -> dict[str, Any]:
        """``{coordinate_system: transformation}`` as given to ``Model.parse``."""
        from spatialdata.transformations import Identity

        return {self.coordinate_system: self.transformation if self.transformation is not None else Identity()}

    def open_options(self) -> dict[str, Any]:
        """``storage_options`` for fsspec (credentials included)."""
        return dict(self.storage_options)

    def load(self) -> Any:
        """Read, validate and return the element; nothing is cached here (``SpatialData`` caches the result).

        Returns
        -------
        object
            A SpatialData element of type :attr:`element_type`.

        Raises
        ------
        LinkTargetNotFoundError
            The target does not exist.
        LinkChangedError
            The target changed since its fingerprint was recorded and the policy is ``"raise"``.
        ColumnMappingError
            A column mapping names columns the file does not have.
        ContainerLoadError
            The target is not the kind of file this container reads.
        ContainerValidationError
            The data fails the ``spatialdata.models`` validation.
        """
        current = self.check_integrity()
        self._seen_fingerprint = current
        try:
            raw = self.read_raw()
        except LazyContainerError:
            raise
        except FileNotFoundError as exc:
            raise LinkTargetNotFoundError(self._problem(f"the target does not exist ({exc})")) from exc
        except Exception as exc:
            raise ContainerLoadError(
                self._problem(f"cannot be read as {self.type_name} ({type(exc).__name__}: {exc})")
            ) from exc
        finally:
            self._seen_fingerprint = None
        try:
            element = self.to_element(raw)
            self.validate(element)
        except LazyContainerError:
            raise
        except Exception as exc:
            raise ContainerValidationError(
                self._problem(f"the data is not a valid SpatialData {self.element_type} element ({exc})")
            ) from exc
        if self.fingerprint is None and current is not None:
            self.fingerprint = current
        self.loaded = True
        return element

    def validate(self, element: Any) -> None:
        """Check that ``element`` is a SpatialData element of :attr:`element_type` and passes its model.

        The model's validation is skipped when :attr:`validated_by_parse` says :meth:`to_element` already ran it.
        """
        from spatialdata.models import (
            Image2DModel,
            Image3DModel,
            Labels2DModel,
            Labels3DModel,
            PointsModel,
            ShapesModel,
            TableModel,
            get_model,
        )

        try:
            model = get_model(element, validate=False)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ContainerValidationError(
                self._problem(f"produced a {type(element).__name__}, not a SpatialData element ({exc})")
            ) from exc
        found = {
            Image2DModel: "images",
            Image3DModel: "images",
            Labels2DModel: "labels",
            Labels3DModel: "labels",
            PointsModel: "points",
            ShapesModel: "shapes",
            TableModel: "tables",
        }.get(model)
        if found != self.element_type:
            raise ContainerValidationError(self._problem(f"produced a {found} element, expected {self.element_type}"))
        if not self.validated_by_parse:
            (TableModel() if model is TableModel else model).validate(element)

    # ------------------------------------------------------------------------------------------ integrity

    def current_fingerprint(self, checksum: bool | None = None) -> dict[str, Any]:
        """Fingerprint the target now (one ``stat``/``HEAD``; reads the file when a checksum is asked for)."""
        try:
            return fingerprint(
                self.location, self.open_options(), self.integrity == "checksum" if checksum is None else checksum
            )
        except FileNotFoundError as exc:
            raise LinkTargetNotFoundError(self._problem("the target does not exist")) from exc
        except LazyContainerError:
            raise
        except Exception as exc:
            raise ContainerLoadError(self._problem(f"cannot inspect the target ({type(exc).__name__}: {exc})")) from exc

    def pin(self, checksum: bool | None = None) -> dict[str, Any]:
        """Record the target's fingerprint now, so later accesses notice if the file changes.

        Parameters
        ----------
        checksum
            Also record a SHA-256 of the content; ``None`` does so when ``integrity="checksum"``.

        Returns
        -------
        dict
            The fingerprint.
        """
        self.fingerprint = self.current_fingerprint(checksum)
        return self.fingerprint

    def changes(self) -> list[str]:
        """What changed in the target since the recorded fingerprint (empty if nothing, or if none is recorded)."""
        if self.fingerprint is None or self.integrity == "none":
            return []
        return fingerprint_changes(self.fingerprint, self.current_fingerprint("sha256" in self.fingerprint))

    def check_integrity(self) -> dict[str, Any] | None:
        """Compare the target with the recorded fingerprint and apply the ``on_change`` policy.

        Returns
        -------
        dict or None
            The current fingerprint (``None`` with ``integrity="none"``, where no IO happens).
        """
        if self.integrity == "none":
            return None
        checksum = self.integrity == "checksum" or (self.fingerprint is not None and "sha256" in self.fingerprint)
        current = self.current_fingerprint(checksum)
        if self.fingerprint is None:
            return current
        changes = fingerprint_changes(self.fingerprint, current)
        if changes:
            policy = self.on_change or get_default_on_change()
            message = self._problem(
                f"the target changed since it was linked ({'; '.join(changes)}); "
                "call container.pin() to accept the new version"
            )
            if policy == "raise":
                raise LinkChangedError(message)
            if policy == "warn":
                warnings.warn(message, LinkChangedWarning, stacklevel=4)
        return current

    # ------------------------------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        """The link as a JSON-serialisable dict (credentials removed), as stored in a SpatialData store."""
        from spatialdata_plugins.lazy_containers._types import distribution_of

        dist, version = distribution_of(type(self))
        return {
            "type": self.type_name,
            "distribution": dist,
            "version": version,
            "element_type": self.element_type,
            "location": self.location,
            "key": self.key,
            "storage_options": public_storage_options(self.storage_options),
            "coordinate_system": self.coordinate_system,
            "transformation": transformation_to_dict(self.transformation),
            "fingerprint": self.fingerprint,
            "integrity": self.integrity,
            "on_change": self.on_change,
            "params": self.params(),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> LazyContainer:
        """Rebuild a container from :meth:`to_dict`, looking its type up among registered container types.

        Parameters
        ----------
        spec
            The dict; its ``"type"`` selects the class when called on ``LazyContainer`` itself.

        Returns
        -------
        LazyContainer
            The container (an :class:`UnresolvedContainer` if the type is not installed).

        Raises
        ------
        InvalidContainerError
            The dict is not a valid link.
        """
        from spatialdata_plugins.lazy_containers._types import UnresolvedContainer, find_container_type

        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or "location" not in spec:
            raise InvalidContainerError(f"not a lazy container link (needs 'type' and 'location'): {spec!r}")
        target = cls if cls.type_name else find_container_type(spec["type"])
        if target is None:
            return UnresolvedContainer(spec)
        params = spec.get("params") or {}
        try:
            return target(
                spec["location"],
                spec.get("key"),
                storage_options=spec.get("storage_options"),
                coordinate_system=spec.get("coordinate_system") or "global",
                transformation=transformation_from_dict(spec.get("transformation")),
                fingerprint=spec.get("fingerprint"),
                integrity=spec.get("integrity") or "stat",
                on_change=spec.get("on_change"),
                **params,
            )
        except LazyContainerError:
            raise
        except Exception as exc:
            raise InvalidContainerError(f"cannot rebuild a {spec['type']} container from {spec!r}: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> LazyContainer:
        """Rebuild a container from :meth:`to_json`."""
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidContainerError(f"not a JSON lazy container link: {exc}") from exc
        return cls.from_dict(spec)

    # ------------------------------------------------------------------------------------------ display

    def describe(self) -> str:
        """One line for ``SpatialData``'s repr: ``"[lazy] ParquetShapes @ /data/cells.parquet"``."""
        return f"[{'loaded' if self.loaded else 'lazy'}] {self.type_name} @ {self.location}"

    def _who(self) -> str:
        return f"{self.type_name or type(self).__name__} container {getattr(self, 'key', '?')!r}"

    def _problem(self, text: str) -> str:
        return f"{self._who()} @ {self.location}: {text}"

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "lazy"
        extra = "".join(f", {k}={v!r}" for k, v in self.params().items() if v not in (None, {}, []))
        return f"{type(self).__name__}(key={self.key!r}, location={self.location!r}{extra}) [{state}]"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyContainer):
            return NotImplemented
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: v for k, v in mine.items() if k != "fingerprint"} == {
            k: v for k, v in theirs.items() if k != "fingerprint"
        }

    __hash__ = object.__hash__


def _default_key(location: str) -> str:
    base = posixpath.basename(location.rstrip("/")) if "://" in location else os.path.basename(location.rstrip(os.sep))
    stem = base.split(".")[0]
    return stem or base
