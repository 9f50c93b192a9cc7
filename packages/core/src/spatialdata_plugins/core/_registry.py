"""The plugin registry: one pluggy manager, defaults first, entry points loaded one by one."""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import asdict, dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from spatialdata_plugins.core import hookspecs
from spatialdata_plugins.core._errors import PluginLoadWarning

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
DISABLE_ENV = "SPATIALDATA_PLUGINS_DISABLE"
DEFAULTS_NAME = "core-defaults"


@dataclass
class PluginInfo:
    """What the registry knows about one plugin.

    Attributes
    ----------
    name
        Entry-point name (or registration name).
    distribution
        Distribution that ships it, or ``None`` for objects registered at run time.
    version
        Version of that distribution.
    hooks
        Hook names it implements.
    loaded
        Whether it is registered and active.
    error
        Why it failed to load, or ``None``.
    disabled
        Whether ``SPATIALDATA_PLUGINS_DISABLE`` skipped it.
    """

    name: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    loaded: bool = False
    error: str | None = None
    disabled: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)


def disabled_names() -> set[str]:
    """Return the plugin names blocked by ``SPATIALDATA_PLUGINS_DISABLE`` (``{"*"}`` blocks all)."""
    raw = os.environ.get(DISABLE_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _hook_names(obj: object) -> list[str]:
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    return sorted(attr for attr in dir(obj) if hasattr(getattr(obj, attr, None), marker))


def _core_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spatialdata-plugins-core")
    except PackageNotFoundError:
        return None


class Registry:
    """A plugin manager plus the load report of every plugin it saw.

    Parameters
    ----------
    load_entry_points
        Load plugins of the ``spatialdata_plugins`` entry-point group.
    entry_points_override
        Entry points to load instead of the installed ones (used by tests to fake entry points).
    """

    def __init__(self, load_entry_points: bool = True, entry_points_override: list[EntryPoint] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        from spatialdata_plugins.core import _defaults

        self.register(_defaults, name=DEFAULTS_NAME, distribution="spatialdata-plugins-core", version=_core_version())
        if load_entry_points:
            eps = (
                entry_points_override
                if entry_points_override is not None
                else list(entry_points(group=ENTRY_POINT_GROUP))
            )
            for ep in eps:
                self.load_entry_point(ep)

    @property
    def hook(self) -> Any:
        """The pluggy hook relay (``registry.hook.sdp_...``)."""
        return self.pm.hook

    def register(
        self, plugin: object, name: str, distribution: str | None = None, version: str | None = None
    ) -> PluginInfo:
        """Register a plugin object (module or instance) and validate its hooks.

        Parameters
        ----------
        plugin
            Module or object with ``@hookimpl`` functions.
        name
            Registration name.
        distribution, version
            Where it comes from, for the plugin listing.

        Returns
        -------
        PluginInfo
            The load report; ``loaded`` is ``False`` and ``error`` set if validation failed (a
            :class:`PluginLoadWarning` is emitted).
        """
        info = PluginInfo(name=name, distribution=distribution, version=version, hooks=_hook_names(plugin))
        self.infos[name] = info
        if name in disabled_names() or ("*" in disabled_names() and name != DEFAULTS_NAME):
            info.disabled = True
            info.error = f"disabled by {DISABLE_ENV}"
            return info
        unknown = [h for h in info.hooks if not hasattr(hookspecs, h)]
        if unknown:
            return self._fail(info, f"implements hooks the core does not define: {', '.join(unknown)}")
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validation errors, duplicate names, ...
            return self._fail(info, f"{type(exc).__name__}: {exc}")
        info.loaded = True
        return info

    def unregister(self, name: str) -> None:
        """Remove a plugin by name (no error if it is not registered)."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.infos.pop(name, None)

    def load_entry_point(self, ep: EntryPoint) -> PluginInfo:
        """Load one entry point; a failure is recorded and warned about, never raised.

        Parameters
        ----------
        ep
            An entry point of the ``spatialdata_plugins`` group.

        Returns
        -------
        PluginInfo
            Its load report.
        """
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        dist_version = dist.version if dist is not None else None
        blocked = disabled_names()
        if ep.name in blocked or "*" in blocked:
            info = PluginInfo(name=ep.name, distribution=dist_name, version=dist_version, disabled=True)
            info.error = f"disabled by {DISABLE_ENV}"
            self.infos[ep.name] = info
            return info
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must never break the core
            info = PluginInfo(name=ep.name, distribution=dist_name, version=dist_version)
            self.infos[ep.name] = info
            return self._fail(info, f"import failed: {type(exc).__name__}: {exc}")
        return self.register(plugin, name=ep.name, distribution=dist_name, version=dist_version)

    def _fail(self, info: PluginInfo, error: str) -> PluginInfo:
        info.loaded = False
        info.error = error
        warnings.warn(
            f"spatialdata-plugins: plugin {info.name!r} ({info.distribution or 'no distribution'}) "
            f"was not loaded: {error}",
            PluginLoadWarning,
            stacklevel=3,
        )
        return info

    def list_plugins(self) -> list[PluginInfo]:
        """Return the load report of every plugin seen, defaults first."""
        return list(self.infos.values())


_lock = threading.Lock()
_registry: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """Return the process-wide registry, creating it (and loading entry points) on first use.

    Parameters
    ----------
    refresh
        Build a new registry, re-reading entry points and ``SPATIALDATA_PLUGINS_DISABLE``.

    Returns
    -------
    Registry
        The registry.
    """
    global _registry
    with _lock:
        if _registry is None or refresh:
            _registry = Registry()
        return _registry


def set_registry(registry: Registry | None) -> Registry | None:
    """Replace the process-wide registry (tests use this); return the previous one."""
    global _registry
    with _lock:
        previous, _registry = _registry, registry
        return previous


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide :class:`pluggy.PluginManager`."""
    return get_registry().pm


def list_plugins(refresh: bool = False) -> list[PluginInfo]:
    """List every plugin seen: name, distribution, version, hooks, and whether it loaded.

    Parameters
    ----------
    refresh
        Re-discover entry points first.

    Returns
    -------
    list of PluginInfo
        One report per plugin, the built-in defaults first.
    """
    return get_registry(refresh=refresh).list_plugins()
