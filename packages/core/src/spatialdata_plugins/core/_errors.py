"""The exception hierarchy shared by the core and every plugin."""

from __future__ import annotations

from typing import Any


class SpatialDataPluginError(Exception):
    """Root of every error raised by spatialdata-plugins packages."""


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; the core and the other plugins keep working."""


class StoreNotFoundError(SpatialDataPluginError, FileNotFoundError):
    """The path, URL or store given to read or inspect does not exist."""


class UnsupportedTargetError(SpatialDataPluginError, ValueError):
    """No plugin can turn the given target (path, URL scheme, object) into a zarr store."""


class NotSpatialDataError(SpatialDataPluginError, ValueError):
    """The store exists but does not hold a SpatialData object."""


class ElementNotFoundError(SpatialDataPluginError, KeyError):
    """An element name that does not exist in the SpatialData object or store."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class StoreExistsError(SpatialDataPluginError, FileExistsError, ValueError):
    """Writing over an existing store or element without ``overwrite=True``.

    Also a ``ValueError``, which is what ``spatialdata.SpatialData.write`` raises in that case.
    """


class UnsafeOverwriteError(SpatialDataPluginError, ValueError):
    """Overwriting a store that backs lazily loaded data which is being written."""


class ElementWriteError(SpatialDataPluginError, RuntimeError):
    """Writing an element failed; the previous store is left as it was."""


class UnsupportedElementError(SpatialDataPluginError, TypeError):
    """No plugin knows how to write or resolve an object of this type."""


class ElementExistsError(SpatialDataPluginError, ValueError):
    """Attaching or adding an element under a name that is already taken."""


class InvalidArgumentError(SpatialDataPluginError, ValueError):
    """An argument that cannot work, such as an attach without a name or a write without a target."""


class InvalidArgumentTypeError(InvalidArgumentError, TypeError):
    """An unknown keyword argument, or an argument of the wrong type (a ``TypeError`` too, as Python raises)."""


class NotAStoreError(NotSpatialDataError):
    """``overwrite=True`` on something that is not a SpatialData store (a file, a directory of other files).

    Nothing is touched. A ``ValueError``, as with ``spatialdata.SpatialData.write``.
    """


class ElementReadError(SpatialDataPluginError):
    """An element is missing or corrupt in the store; the message names it.

    An instance is always also an instance of the error that reading the element raised (``KeyError``,
    ``OSError``, ``zarr.errors.ArrayNotFoundError``, ``pyarrow.ArrowInvalid``, ``json.JSONDecodeError``...), as
    spatialdata raises those: see :meth:`wrap`. ``read(..., on_bad_files="warn")`` skips such an element with a
    warning instead.

    Attributes
    ----------
    element
        ``"<element_type>/<name>"`` (or the element-type group) that could not be read.
    cause
        The original exception.
    """

    element: str = ""
    cause: BaseException | None = None

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    @classmethod
    def wrap(cls, exc: BaseException, element: str, url: str) -> ElementReadError:
        """An ``ElementReadError`` that is also an instance of ``type(exc)``, naming ``element`` of ``url``."""
        detail = exc.args[0] if exc.args else exc
        message = (
            f"{element}: {type(exc).__name__}: {detail}; cannot read {element!r} of {url}. Pass "
            "on_bad_files='warn' to skip it and read the rest"
        )
        klass = _read_error_class(type(exc))
        # __init__ of the original class may want other arguments (JSONDecodeError, zarr's errors): only __new__
        new = OSError.__new__ if issubclass(klass, OSError) else Exception.__new__
        err: ElementReadError = new(klass, message)
        err.args = (message,)
        err.element = element
        err.cause = exc
        return err


_READ_ERROR_CLASSES: dict[type[BaseException], type[ElementReadError]] = {}


def _read_error_class(base: type[BaseException]) -> type[ElementReadError]:
    if issubclass(base, ElementReadError):
        return base
    if base not in _READ_ERROR_CLASSES:
        try:
            klass: Any = type(f"ElementReadError[{base.__name__}]", (ElementReadError, base), {})
        except TypeError:  # a base that cannot be combined: keep our class alone
            klass = ElementReadError
        klass.__module__ = __name__
        _READ_ERROR_CLASSES[base] = klass
    return _READ_ERROR_CLASSES[base]


class PublishError(SpatialDataPluginError, OSError):
    """The final swap of a completed write into place failed; the message says where the complete copy is."""


class ReadOnlyLocationError(SpatialDataPluginError, PermissionError):
    """A write to a location that only reads (an icechunk snapshot, a store opened read-only)."""


def __getattr__(name: str) -> Any:
    # StaleMetadataError subclasses zarr's GroupNotFoundError; it is made on first use, so that importing the core
    # (every command line call loads it) does not import zarr
    if name == "StaleMetadataError":
        from zarr.errors import GroupNotFoundError

        class StaleMetadataError(SpatialDataPluginError, GroupNotFoundError):
            """The store's consolidated metadata disagrees with the store (an element listed there has no metadata).

            A ``zarr.errors.GroupNotFoundError`` (so a ``FileNotFoundError`` and a ``ValueError``), as spatialdata
            raises; reconsolidate the metadata or write the store again.
            """

            def __str__(self) -> str:
                return str(self.args[0]) if self.args else ""

        StaleMetadataError.__module__ = __name__
        globals()[name] = StaleMetadataError
        return StaleMetadataError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
