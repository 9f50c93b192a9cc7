"""Lazy package attributes: heavy submodules load on first use, so that importing a package stays cheap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` that import ``package.<submodule>`` when a name is first used.

    Every ``spatialdata-plugins`` command loads all plugins' entry points, so a plugin package should not import
    spatialdata, dask or zarr when it is imported. List the public names and the submodule defining each, and
    assign the two functions in the package's ``__init__``::

        _LAZY = {"read": "_io", "write": "_io"}
        __getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Public name -> submodule (relative to ``package``) that defines it.
    namespace
        The package's ``globals()``: a name, once loaded, is cached there (later lookups do not call
        ``__getattr__`` again).

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)`` for the package module.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(import_module(f"{package}.{exports[name]}"), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
