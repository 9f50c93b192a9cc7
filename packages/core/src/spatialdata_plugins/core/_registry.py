"""The plugin registry: one pluggy manager, defaults first, entry points loaded one by one."""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

import pluggy

from spatialdata_plugins.core import hookspecs
from spatialdata_plugins.core._errors import PluginLoadWarning

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
DISABLE_ENV = "SPATIALDATA_PLUGINS_DISABLE"
ORDER_ENV = "SPATIALDATA_PLUGINS_ORDER"
TRACE_ENV = "SPATIALDATA_PLUGINS_TRACE"
DEFAULTS_NAME = "core-defaults"

trace_logger = logging.getLogger("spatialdata_plugins.trace")


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
        Why it failed to load (or was refused), or ``None``.
    disabled
        Whether ``SPATIALDATA_PLUGINS_DISABLE`` skipped it.
    order
        Position in which the loaded plugins are asked (0 is asked first, the defaults last), or ``None`` when the
        plugin is not loaded. Filled in by :meth:`Registry.list_plugins`.
    """

    name: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    loaded: bool = False
    error: str | None = None
    disabled: bool = False
    order: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return asdict(self)


def disabled_names() -> set[str]:
    """Return the plugin names blocked by ``SPATIALDATA_PLUGINS_DISABLE`` (``{"*"}`` blocks all)."""
    return set(_comma_list(os.environ.get(DISABLE_ENV, "")))


def preferred_order() -> list[str]:
    """Return the plugin names listed in ``SPATIALDATA_PLUGINS_ORDER``, in the order given."""
    return _comma_list(os.environ.get(ORDER_ENV, ""))


def trace_requested() -> bool:
    """Return whether ``SPATIALDATA_PLUGINS_TRACE`` asks for hook-call tracing (``1``, ``true``, ``yes``, ``on``)."""
    return os.environ.get(TRACE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _comma_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def answer_order(names: Sequence[str], preferred: Sequence[str] = ()) -> list[str]:
    """Return plugin names in the order they answer hooks: ``preferred`` first (as given), the rest by name.

    Parameters
    ----------
    names
        Names of the plugins to order (duplicates are kept once).
    preferred
        Names that answer first, in this order; names not in ``names`` are ignored.

    Returns
    -------
    list of str
        Every name of ``names`` once.

    Examples
    --------
    >>> answer_order(["c", "a", "b"], preferred=["b", "z"])
    ['b', 'a', 'c']
    """
    present = set(names)
    first = [name for name in dict.fromkeys(preferred) if name in present]
    return first + sorted(present.difference(first))


def _hook_names(obj: object) -> list[str]:
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    return sorted(attr for attr in dir(obj) if hasattr(getattr(obj, attr, None), marker))


def _core_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spatialdata-plugins-core")
    except PackageNotFoundError:
        return None


def _distribution(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


class HookRelay:
    """What ``registry.hook`` offers, as the type checker sees it: one caller per hook, with its specified signature.

    At run time ``registry.hook`` is pluggy's relay; this class gives mypy the signatures of
    :mod:`spatialdata_plugins.core.hookspecs`, so that a hook called with a wrong argument name or type is a type
    error. Hooks are called with keyword arguments only. The return type shown is the specification's: the answer of
    a ``firstresult`` hook, ``None`` for the others (whose list of results the core does not use).
    """

    sdp_open_store = staticmethod(hookspecs.sdp_open_store)
    sdp_read_element = staticmethod(hookspecs.sdp_read_element)
    sdp_write_element = staticmethod(hookspecs.sdp_write_element)
    sdp_after_read = staticmethod(hookspecs.sdp_after_read)
    sdp_after_write = staticmethod(hookspecs.sdp_after_write)
    sdp_access_element = staticmethod(hookspecs.sdp_access_element)
    sdp_describe_attached = staticmethod(hookspecs.sdp_describe_attached)
    sdp_parallel_write_backend = staticmethod(hookspecs.sdp_parallel_write_backend)
    sdp_register_commands = staticmethod(hookspecs.sdp_register_commands)
    sdp_demo = staticmethod(hookspecs.sdp_demo)


class Registry:
    """A plugin manager plus the load report of every plugin it saw.

    Parameters
    ----------
    load_entry_points
        Load plugins of the ``spatialdata_plugins`` entry-point group.
    entry_points_override
        Entry points to load instead of the installed ones (used by tests to fake entry points).
    order
        Names of plugins that answer hooks first, in this order (a sequence or a comma-separated string); the other
        plugins follow sorted by name and the built-in defaults come last. ``None`` reads
        ``SPATIALDATA_PLUGINS_ORDER``. Names that are not installed are ignored.
    trace
        Log which plugin answered each hook call to the ``spatialdata_plugins.trace`` logger. ``None`` reads
        ``SPATIALDATA_PLUGINS_TRACE``, which also prints the trace to standard error.

    Notes
    -----
    When two entry points have the same name, the first one discovered is loaded and the second is refused: it is
    not imported, a :class:`PluginLoadWarning` names both distributions, and its :class:`PluginInfo` says why.
    """

    def __init__(
        self,
        load_entry_points: bool = True,
        entry_points_override: list[EntryPoint] | None = None,
        order: Sequence[str] | str | None = None,
        trace: bool | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.refused: list[PluginInfo] = []  # the second and later plugins of a name: refused (or disabled)
        if order is None:
            order = preferred_order()
        elif isinstance(order, str):
            order = _comma_list(order)
        self.preferred = [name for name in order if name != DEFAULTS_NAME]  # the defaults always answer last
        if trace is None and trace_requested():
            _echo_trace_to_stderr()
            trace = True
        self.trace = bool(trace)
        if self.trace:
            trace_logger.setLevel(logging.DEBUG)
            self.pm.add_hookcall_monitoring(self._trace_before, self._trace_after)
        from spatialdata_plugins.core import _defaults

        self.register(_defaults, name=DEFAULTS_NAME, distribution="spatialdata-plugins-core", version=_core_version())
        if load_entry_points:
            eps = (
                entry_points_override
                if entry_points_override is not None
                else list(entry_points(group=ENTRY_POINT_GROUP))
            )
            self._load_entry_points(eps)

    @property
    def hook(self) -> HookRelay:
        """The pluggy hook relay (``registry.hook.sdp_...``), typed by the hook specifications (:class:`HookRelay`)."""
        return cast(HookRelay, self.pm.hook)

    @property
    def order(self) -> list[str]:
        """Names of the registered plugins in the order pluggy asks them, the built-in defaults last.

        Within one hook, ``@hookimpl(tryfirst=True)`` and ``@hookimpl(trylast=True)`` still move an implementation to
        the front or the back.
        """
        # pluggy asks the plugin registered last first
        return [name for name, plugin in reversed(self.pm.list_name_plugin()) if plugin is not None]

    def _load_entry_points(self, eps: Sequence[EntryPoint]) -> None:
        rank = {name: i for i, name in enumerate(answer_order([ep.name for ep in eps], self.preferred))}
        # registered in reverse answer order, since pluggy asks the last registered first; among entry points of the
        # same name the first discovered goes first, so it claims the name
        for i in sorted(range(len(eps)), key=lambda i: (-rank[eps[i].name], i)):
            self.load_entry_point(eps[i])

    def register(
        self, plugin: object, name: str, distribution: str | None = None, version: str | None = None
    ) -> PluginInfo:
        """Register a plugin object (module or instance) and validate its hooks.

        Parameters
        ----------
        plugin
            Module or object with ``@hookimpl`` functions.
        name
            Registration name. A name already seen by this registry is refused.
        distribution, version
            Where it comes from, for the plugin listing.

        Returns
        -------
        PluginInfo
            The load report; ``loaded`` is ``False`` and ``error`` set if validation failed or the name is taken (a
            :class:`PluginLoadWarning` is emitted).
        """
        info = PluginInfo(name=name, distribution=distribution, version=version, hooks=_hook_names(plugin))
        if name in self.infos:
            return self._refuse(info)
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
        except Exception as exc:  # pluggy validation errors, ...
            return self._fail(info, f"{type(exc).__name__}: {exc}")
        if self.trace:
            self._trace_implementations(plugin, name)
        info.loaded = True
        return info

    def unregister(self, name: str) -> None:
        """Remove a plugin by name, and the plugins refused because of it (no error if it is not registered)."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.infos.pop(name, None)
        self.refused = [info for info in self.refused if info.name != name]

    def load_entry_point(self, ep: EntryPoint) -> PluginInfo:
        """Load one entry point; a failure is recorded and warned about, never raised.

        Parameters
        ----------
        ep
            An entry point of the ``spatialdata_plugins`` group.

        Returns
        -------
        PluginInfo
            Its load report. An entry point whose name is already taken is refused without being imported.
        """
        dist_name, dist_version = _distribution(ep)
        blocked = disabled_names()
        if ep.name in blocked or "*" in blocked:
            info = PluginInfo(name=ep.name, distribution=dist_name, version=dist_version, disabled=True)
            info.error = f"disabled by {DISABLE_ENV}"
            if ep.name in self.infos:  # a second plugin of a disabled name is disabled too, without a warning
                self.refused.append(info)
            else:
                self.infos[ep.name] = info
            return info
        if ep.name in self.infos:
            return self._refuse(PluginInfo(name=ep.name, distribution=dist_name, version=dist_version))
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must never break the core
            info = PluginInfo(name=ep.name, distribution=dist_name, version=dist_version)
            self.infos[ep.name] = info
            return self._fail(info, f"import failed: {type(exc).__name__}: {exc}")
        return self.register(plugin, name=ep.name, distribution=dist_name, version=dist_version)

    def _refuse(self, info: PluginInfo) -> PluginInfo:
        first = self.infos[info.name]
        self.refused.append(info)
        state = "loaded" if first.loaded else "seen"
        return self._fail(
            info,
            f"the name {info.name!r} is taken by the plugin from {first.distribution or 'no distribution'}, "
            f"{state} first; uninstall one of {first.distribution or 'no distribution'} and "
            f"{info.distribution or 'no distribution'}",
            stacklevel=4,
        )

    def _fail(self, info: PluginInfo, error: str, stacklevel: int = 3) -> PluginInfo:
        info.loaded = False
        info.error = error
        warnings.warn(
            f"spatialdata-plugins: plugin {info.name!r} ({info.distribution or 'no distribution'}) "
            f"was not loaded: {error}",
            PluginLoadWarning,
            stacklevel=stacklevel,
        )
        return info

    def list_plugins(self) -> list[PluginInfo]:
        """Return the load report of every plugin seen.

        The built-in defaults come first, then the loaded plugins in the order they are asked (see :attr:`order`),
        then the plugins that are not loaded (failed, disabled, refused) in the order they were seen.
        """
        position = {name: i for i, name in enumerate(self.order)}
        reports = [*self.infos.values(), *self.refused]
        for info in reports:
            info.order = position.get(info.name) if info.loaded else None
        defaults = self.infos.get(DEFAULTS_NAME)
        others = [info for info in reports if info is not defaults]
        loaded = sorted((info for info in others if info.loaded), key=_by_order)
        return ([defaults] if defaults else []) + loaded + [info for info in others if not info.loaded]

    # -- tracing (SPATIALDATA_PLUGINS_TRACE) -------------------------------------------------------------------------

    def _trace_implementations(self, plugin: object, name: str) -> None:
        for caller in self.pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                    # pluggy reports a whole hook call to its monitors, not which implementation answered, so each
                    # implementation records its own outcome; pluggy calls HookImpl.function with the arguments it
                    # computed from the original signature, which the wrapper passes through unchanged
                    impl.function = _recording(impl.function, name)  # type: ignore[misc]

    def _trace_before(self, hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        _trace_stack.set((*_trace_stack.get(), _HookCall(hook_name)))

    def _trace_after(
        self, outcome: pluggy.Result[Any], hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> None:
        stack = _trace_stack.get()
        call, depth = stack[-1], len(stack) - 1
        _trace_stack.set(stack[:-1])
        spec = getattr(self.pm.hook, hook_name).spec
        firstresult = bool(spec is not None and spec.opts.get("firstresult"))
        # the short arguments say which element or mode a call was about; the others (sdata, stores) are too long
        about = ", ".join(f"{k}={v!r}" for k in _TRACED_ARGUMENTS if isinstance(v := kwargs.get(k), str))
        trace_logger.debug("%s%s", "  " * depth, call.describe(outcome, firstresult, about))


_TRACED_ARGUMENTS = ("element_type", "name", "mode")


def _by_order(info: PluginInfo) -> int:
    return info.order if info.order is not None else sys.maxsize


@dataclass
class _HookCall:
    """One hook call being traced: the implementations asked so far and what each returned."""

    hook: str
    asked: list[tuple[str, str]] = field(default_factory=list)  # (plugin name, returned type name or "None")

    def describe(self, outcome: pluggy.Result[Any], firstresult: bool, about: str = "") -> str:
        """Return one line saying which plugins were asked and which answered (or raised)."""
        hook = f"{self.hook}({about})"
        names = ", ".join(repr(name) for name, _ in self.asked) or "no plugin"
        if outcome.exception is not None:
            culprit = next((n for n, r in reversed(self.asked) if r.startswith("raised ")), None)
            where = f" in {culprit!r}" if culprit else ""
            return f"{hook}: raised {type(outcome.exception).__name__}{where}; asked {names}"
        if not firstresult:
            return f"{hook}: called {names}"
        answer = next(((n, r) for n, r in self.asked if r != "None"), None)
        if answer is None and outcome.get_result() is not None:  # registered on the pluggy manager directly
            return f"{hook}: answered by a plugin registered outside the registry; asked {names} before it"
        if answer is None:
            return f"{hook}: no plugin answered; asked {names}"
        return f"{hook}: answered by {answer[0]!r} ({answer[1]}); asked {names}"


_trace_stack: ContextVar[tuple[_HookCall, ...]] = ContextVar("spatialdata_plugins_trace", default=())


def _recording(function: Callable[..., Any], plugin_name: str) -> Callable[..., Any]:
    """Wrap a hook implementation so that it notes its outcome in the hook call being traced."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        stack = _trace_stack.get()
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            if stack:
                stack[-1].asked.append((plugin_name, f"raised {type(exc).__name__}"))
            raise
        if stack:
            stack[-1].asked.append((plugin_name, "None" if result is None else type(result).__name__))
        return result

    return call


class _StderrHandler(logging.Handler):
    """Write records to ``sys.stderr`` as it is when the record is emitted (pytest and notebooks replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _echo_trace_to_stderr() -> None:
    if not any(isinstance(h, _StderrHandler) for h in trace_logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("spatialdata-plugins trace: %(message)s"))
        trace_logger.addHandler(handler)


_lock = threading.Lock()
_registry: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """Return the process-wide registry, creating it (and loading entry points) on first use.

    Parameters
    ----------
    refresh
        Build a new registry, re-reading entry points and the ``SPATIALDATA_PLUGINS_*`` variables.

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
    """List every plugin seen: name, distribution, version, hooks, whether it loaded and its answer order.

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
