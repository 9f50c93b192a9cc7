"""``spatialdata_plugins.core.SpatialData``: spatialdata's object, with element access through the hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import spatialdata

from spatialdata_plugins.core._errors import (
    ElementExistsError,
    ElementNotFoundError,
    InvalidArgumentError,
    UnsupportedElementError,
)
from spatialdata_plugins.core._registry import get_registry

if TYPE_CHECKING:
    from spatialdata_plugins.core._location import Location


class SpatialData(spatialdata.SpatialData):
    """A :class:`spatialdata.SpatialData` whose item access, ``repr`` and ``write`` go through the plugin hooks.

    Every spatialdata function accepts it. On top of spatialdata's API it can :meth:`attach` objects that a plugin
    resolves into an element on first access (a lazy link to an external file, for example).

    Parameters
    ----------
    *args, **kwargs
        As for :class:`spatialdata.SpatialData`.

    Examples
    --------
    >>> from spatialdata_plugins.core import SpatialData
    >>> sdata = SpatialData()
    >>> sdata.attached
    {}
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._attached: dict[str, Any] = {}
        self._requested_writes: set[str] = set()
        self._requested_refreshes: set[str] = set()
        self.location: Location | None = None
        #: The transaction open on this object (set by the plugin that provides transactions, ``None`` outside one).
        #: Operations that store something beside an element (a points index) on a read-only source defer to it
        #: with :meth:`request_write` instead of failing.
        self.open_transaction: Any = None

    @classmethod
    def from_spatialdata(cls, sdata: spatialdata.SpatialData) -> SpatialData:
        """Wrap a plain :class:`spatialdata.SpatialData` (elements are shared, not copied).

        Parameters
        ----------
        sdata
            The object to wrap; returned unchanged if it already is a plugin-aware ``SpatialData``.

        Returns
        -------
        SpatialData
            The wrapper.
        """
        if isinstance(sdata, cls):
            return sdata
        out = cls(
            images=sdata.images,
            labels=sdata.labels,
            points=sdata.points,
            shapes=sdata.shapes,
            tables=sdata.tables,
            attrs=sdata.attrs,
        )
        out.path = sdata.path
        return out

    # ----------------------------------------------------------------------------------- attached objects

    @property
    def attached(self) -> dict[str, Any]:
        """Objects attached by name (a copy); accessed ones stay listed here while also being elements."""
        return dict(self._attached)

    def _element_names(self) -> set[str]:
        return {name for _, name, _ in self._gen_elements(include_tables=True)}

    def _has_element(self, name: str) -> bool:
        # constant time, unlike building the set of every element name (attach is called in loops)
        return any(name in group for group in (self.images, self.labels, self.points, self.shapes, self.tables))

    def attach(self, obj: Any, name: str | None = None) -> str:
        """Attach an object that a plugin resolves into an element when it is first accessed; no IO happens here.

        Parameters
        ----------
        obj
            The object, for example a lazy container.
        name
            Element name; defaults to ``obj.key`` or ``obj.name``.

        Returns
        -------
        str
            The name it was attached under.

        Raises
        ------
        ElementExistsError
            If the name is already used by an element or another attached object.
        """
        name = name or getattr(obj, "key", None) or getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(
                f"cannot attach {type(obj).__name__}: give a name (the object has no 'key' or 'name')"
            )
        if name in self._attached or self._has_element(name):
            raise ElementExistsError(f"an element named {name!r} already exists; detach or delete it first")
        self._attached[name] = obj
        return name

    def detach(self, name: str) -> Any:
        """Remove an attached object (and its resolved element, if it was accessed) and return the object.

        Parameters
        ----------
        name
            The name it is attached under.

        Returns
        -------
        object
            The attached object.
        """
        if name not in self._attached:
            raise ElementNotFoundError(f"nothing is attached under {name!r}; attached: {sorted(self._attached)}")
        obj = self._attached.pop(name)
        if self._has_element(name):
            super().__delitem__(name)
        return obj

    def unresolved_names(self) -> list[str]:
        """Names of attached objects not yet turned into elements (not accessed since they were attached)."""
        elements = self._element_names()
        return [name for name in self._attached if name not in elements]

    def is_attached(self, name: str) -> bool:
        """Whether ``name`` is an attached object."""
        return name in self._attached

    def is_resolved(self, name: str) -> bool:
        """Whether an attached object has already been turned into an element."""
        return name in self._attached and self._has_element(name)

    def is_lazy(self, name: str) -> bool:
        """Whether ``name`` is an attached object whose data has not been loaded yet.

        Parameters
        ----------
        name
            An element or attached name.

        Returns
        -------
        bool
            ``True`` for an attached object not accessed yet, ``False`` for a resolved one or a regular element.

        Raises
        ------
        ElementNotFoundError
            If there is neither an element nor an attached object of that name.
        """
        has_element = self._has_element(name)
        if name not in self._attached and not has_element:
            available = sorted(self._element_names() | set(self._attached))
            raise ElementNotFoundError(f"no element named {name!r}; available: {available}")
        return name in self._attached and not has_element

    def materialize(
        self,
        names: str | list[str] | tuple[str, ...] | None = None,
        *,
        keep_links: bool = True,
        progress: bool | None = None,
    ) -> list[str]:
        """Resolve attached objects into elements now, as a first access would.

        Parameters
        ----------
        names
            One name or a list of names; ``None`` resolves every attached object not resolved yet.
        keep_links
            Keep the objects attached (``True``, so plugins may keep writing them as links); ``False`` turns the
            resolved elements into regular elements that are written as data and forgets the attached objects.
        progress
            Show a progress bar; ``None`` shows one only on a terminal.

        Returns
        -------
        list of str
            The names resolved by this call (already resolved names are not repeated).

        Raises
        ------
        ElementNotFoundError
            If a name is not attached.
        """
        from tqdm.auto import tqdm

        if names is None:
            wanted = list(self._attached)
        else:
            wanted = [names] if isinstance(names, str) else list(names)
            missing = [n for n in wanted if n not in self._attached]
            if missing:
                raise ElementNotFoundError(f"not attached: {missing}; attached: {sorted(self._attached)}")
        resolved = []
        for name in tqdm(
            wanted, desc="materializing", unit="element", disable=None if progress is None else not progress
        ):
            if not self.is_resolved(name):
                self[name]
                resolved.append(name)
            if not keep_links:
                self._attached.pop(name)
        return resolved

    # ----------------------------------------------------------------------------------- deferred writes

    def request_write(self, name: str, rewrite: bool = True) -> None:
        """Ask the next incremental update of the store (a transaction's commit) to write ``name`` again.

        A plugin that stores something beside an element and cannot write it now (the object was read from a
        read-only snapshot) records its work on the element (for example in ``element.attrs``) and calls this
        inside a transaction: the commit then runs the write pipeline for the element, and the plugin's
        ``sdp_after_write`` stores its part.

        Parameters
        ----------
        name
            An element or attached name.
        rewrite
            ``True``: the element itself is written again. ``False``: the element stays as stored (unless
            something else changed it) and only the plugins' ``sdp_after_write`` runs for it, with ``name`` in
            :attr:`Update.refreshes <spatialdata_plugins.core.Update.refreshes>`: what a plugin uses when its part
            is built from the stored element (a points index of 100M points does not rewrite the points).

        Raises
        ------
        ElementNotFoundError
            If there is no such element or attached object.
        """
        if name not in self._attached and not self._has_element(name):
            available = sorted(self._element_names() | set(self._attached))
            raise ElementNotFoundError(f"no element named {name!r}; available: {available}")
        (self._requested_writes if rewrite else self._requested_refreshes).add(name)

    def take_requested_writes(self) -> set[str]:
        """Return and forget the names passed to :meth:`request_write` (called by the update that writes them)."""
        names, self._requested_writes = self._requested_writes, set()
        return names

    def take_requested_refreshes(self) -> set[str]:
        """Return and forget the names passed to :meth:`request_write` with ``rewrite=False``."""
        names, self._requested_refreshes = self._requested_refreshes, set()
        return names

    # ----------------------------------------------------------------------------------- element access

    def __getitem__(self, item: str) -> Any:
        """Return the element ``item``, resolving an attached object through ``sdp_access_element`` on first access."""
        hook = get_registry().hook
        if item in self._attached and not self._has_element(item):
            obj = self._attached[item]
            element = hook.sdp_access_element(sdata=self, name=item, obj=obj)
            if element is None:
                raise UnsupportedElementError(
                    f"no installed plugin can resolve {item!r} (a {type(obj).__module__}.{type(obj).__name__}); "
                    "install the plugin that provides this type"
                )
            spatialdata.SpatialData.__setitem__(self, item, element)
            return element
        try:
            element = super().__getitem__(item)
        except KeyError:
            available = sorted(self._element_names() | set(self._attached))
            raise ElementNotFoundError(f"no element named {item!r}; available: {available}") from None
        resolved = hook.sdp_access_element(sdata=self, name=item, obj=element)
        return element if resolved is None else resolved

    def __contains__(self, key: object) -> bool:
        return key in self._attached or super().__contains__(key)  # type: ignore[operator]

    def __delitem__(self, key: str) -> None:
        if key in self._attached:
            self.detach(key)
            return
        try:
            super().__delitem__(key)
        except KeyError:
            raise ElementNotFoundError(f"no element named {key!r}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self._attached:
            raise ElementExistsError(f"{key!r} is an attached object; detach it before assigning an element")
        super().__setitem__(key, value)

    def _gen_repr(self) -> str:
        text = super()._gen_repr()
        unresolved = self.unresolved_names()
        if not unresolved:
            return text
        hook = get_registry().hook
        lines = [text, "with attached objects (resolved on access):"]
        for name in unresolved:
            desc = hook.sdp_describe_attached(name=name, obj=self._attached[name])
            lines.append(f"  └── {name!r}: {desc}")
        return "\n".join(lines)

    # ----------------------------------------------------------------------------------- IO

    def write(self, target: Any = None, overwrite: bool = False, **options: Any) -> None:  # type: ignore[override]
        """Write through the core (any zarr store, plugin write hooks); see :func:`spatialdata_plugins.core.write`.

        Parameters
        ----------
        target
            Path, URL, zarr store or plugin object; defaults to where the object was read from.
        overwrite
            Replace an existing store.
        **options
            Passed to :func:`spatialdata_plugins.core.write`.
        """
        from spatialdata_plugins.core._io import write

        if target is None:
            target = self.location.source if self.location is not None else self.path
        if target is None:
            raise InvalidArgumentError("give a target: this SpatialData was not read from a store")
        write(self, target, overwrite=overwrite, **options)
