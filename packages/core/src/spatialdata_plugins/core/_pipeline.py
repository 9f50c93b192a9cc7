"""The one write pipeline: every write of elements and attached objects, full or incremental, goes through here.

A full :func:`~spatialdata_plugins.core.write`, :func:`~spatialdata_plugins.core.add_element` and a transaction's
update (the icechunk plugin) all call :func:`apply_update`; it runs the only loop that calls ``sdp_write_element``
for each element or attached object, then ``sdp_after_write`` once. Where staging and publishing happen is asked of
the :class:`~spatialdata_plugins.core.Location`, never switched on here.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import spatialdata
import zarr
from tqdm.auto import tqdm
from zarr.errors import ZarrUserWarning

from spatialdata_plugins.core._defaults import element_type_of
from spatialdata_plugins.core._errors import (
    ElementExistsError,
    ElementWriteError,
    PublishError,
    UnsupportedElementError,
)
from spatialdata_plugins.core._location import ELEMENT_TYPES, Location
from spatialdata_plugins.core._registry import get_registry


@dataclass
class Update:
    """What one use of the write pipeline writes: the whole object, or some elements of it.

    Plugins receive it in ``sdp_after_write`` (argument ``update``) to tell a full write, after which only what was
    written exists, from an incremental one, after which what was stored and not named here is still there.

    Attributes
    ----------
    writes
        ``(element_type, name, object)`` to write: ``element_type`` is ``None`` for an attached object that was
        not resolved into an element (a lazy link, for example).
    deletes
        Names to remove from the store (elements, or attached objects stored by a plugin).
    attrs
        The new ``SpatialData.attrs`` to store, or ``None`` to leave them.
    full
        Whether this writes a whole store (everything not in ``writes`` is gone afterwards).
    refreshes
        Names stored and left as they are whose plugin parts ``sdp_after_write`` stores again (a points index
        built inside a transaction on a read-only snapshot: the commit stores the index, not the element again).
        Nothing is written for them by the loop itself.
    """

    writes: list[tuple[str | None, str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    attrs: dict[str, Any] | None = None
    full: bool = False
    refreshes: list[str] = field(default_factory=list)

    @property
    def written(self) -> set[str]:
        """Names written by this update."""
        return {name for _, name, _ in self.writes}

    @property
    def deleted(self) -> set[str]:
        """Names deleted by this update."""
        return set(self.deletes)

    def touches(self, name: str) -> bool:
        """Whether ``name`` is (re)written by this update (always true for a full write of an element present)."""
        return self.full or name in self.written

    def affects(self, name: str) -> bool:
        """Whether a plugin's parts of ``name`` are to be stored by this update: it is written, or refreshed."""
        return self.touches(name) or name in self.refreshes


def elements_and_attached(sdata: spatialdata.SpatialData) -> list[tuple[str | None, str, Any]]:
    """Everything a write of ``sdata`` stores: its elements, then its attached objects.

    An attached object is listed as ``(None, name, object)`` whether or not it was accessed (resolved into an
    element) already: its plugin decides how it is stored (a lazy link stays a link), so its element is not listed.

    Parameters
    ----------
    sdata
        A :class:`spatialdata.SpatialData` (plain objects have no attached objects).

    Returns
    -------
    list of tuple
        ``(element_type or None, name, object)``.
    """
    from spatialdata_plugins.core._spatialdata import SpatialData

    attached = sdata.attached if isinstance(sdata, SpatialData) else {}
    items: list[tuple[str | None, str, Any]] = [
        (t, name, el) for t, name, el in sdata._gen_elements(include_tables=True) if name not in attached
    ]
    items += [(None, name, obj) for name, obj in attached.items()]
    return items


def stored_elements(root: zarr.Group) -> dict[str, str]:
    """``{name: element_type}`` of the elements stored below a SpatialData root group."""
    out: dict[str, str] = {}
    for element_type in ELEMENT_TYPES:
        group = root.get(element_type)
        if isinstance(group, zarr.Group):
            for name, _ in group.groups():
                if not name.startswith("."):
                    out[name] = element_type
    return out


def validate_elements(items: Iterable[tuple[str | None, str, Any]]) -> None:
    """Validate elements with :mod:`spatialdata.models` before anything is written.

    Parameters
    ----------
    items
        ``(element_type, name, element)``; attached objects (``element_type`` ``None``) are left to their plugin.

    Raises
    ------
    ElementWriteError
        Naming the first invalid element; nothing was written.
    """
    from spatialdata.models import TableModel, validate_element

    for element_type, name, element in items:
        if element_type is None:
            continue
        try:
            if element_type == "tables":
                TableModel().validate(element)
            else:
                validate_element(element)
        except Exception as exc:
            raise ElementWriteError(
                f"element {name!r} ({element_type}) is not valid, nothing was written: {exc}"
            ) from exc


def write_element_through_hook(
    sdata: spatialdata.SpatialData,
    location: Location,
    root: zarr.Group,
    element_type: str | None,
    name: str,
    element: Any,
    options: dict[str, Any],
) -> None:
    """Write one element with the first plugin whose ``sdp_write_element`` takes it; raise if none does.

    Plugins that write an element as another (a lazy link written as the data it points to) call this too.

    Raises
    ------
    UnsupportedElementError
        No installed plugin wrote it.
    """
    handled = get_registry().hook.sdp_write_element(
        sdata=sdata,
        location=location,
        root=root,
        element_type=element_type,
        name=name,
        element=element,
        options=options,
    )
    if not handled and element_type is None:
        # an attached object no plugin stores as such, but which was accessed: store the element it resolved into
        from spatialdata_plugins.core._spatialdata import SpatialData

        if isinstance(sdata, SpatialData) and sdata.is_resolved(name):
            resolved = next(el for _, n, el in sdata._gen_elements(include_tables=True) if n == name)
            resolved_type = element_type_of(resolved)
            if resolved_type is not None:
                write_element_through_hook(sdata, location, root, resolved_type, name, resolved, options)
                return
    if not handled:
        raise UnsupportedElementError(
            f"no installed plugin can write {name!r} (a {type(element).__module__}.{type(element).__name__})"
        )


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Silence zarr's warnings about parquet beside zarr keys and about consolidated metadata (by design here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ZarrUserWarning)
        yield


def _write_elements(
    sdata: spatialdata.SpatialData,
    location: Location,
    root: zarr.Group,
    items: list[tuple[str | None, str, Any]],
    options: dict[str, Any],
    progress: bool | None,
) -> None:
    """The one element-write loop of the project."""
    for element_type, name, element in tqdm(
        items,
        desc=f"writing {location.url}",
        unit="element",
        disable=True if not items else (None if progress is None else not progress),
    ):
        try:
            write_element_through_hook(sdata, location, root, element_type, name, element, options)
        except (ElementWriteError, UnsupportedElementError, PublishError):
            raise
        except Exception as exc:  # name the element that failed
            what = f"{element_type} element" if element_type else "attached object"
            raise ElementWriteError(f"writing {what} {name!r} failed: {exc}") from exc


def write_root_attrs(root: zarr.Group, attrs: dict[str, Any], fmt: Any = None) -> None:
    """Store ``SpatialData.attrs`` with spatialdata's container-format attributes in the root group.

    ``fmt`` is spatialdata's container format (default: the current one).
    """
    from spatialdata._io.format import CurrentSpatialDataContainerFormat

    fmt = fmt or CurrentSpatialDataContainerFormat()
    base = {"spatialdata_attrs": {"version": fmt.spatialdata_format_version} | fmt.attrs_to_dict()}
    root.attrs.put(base | dict(attrs))


def sync_labels_list(root: zarr.Group) -> None:
    """Make the OME-NGFF ``labels`` list of the ``labels`` group name exactly the labels elements stored.

    spatialdata appends a name when it writes labels and never removes one: after an incremental update a deleted
    labels element would stay listed and a replaced one be listed twice. The order of names still listed is kept.
    """
    group = root.get("labels")
    if not isinstance(group, zarr.Group):
        return
    present = {name for name, _ in group.groups() if not name.startswith(".")}
    ome: dict[str, Any] = dict(cast(dict[str, Any], group.attrs.get("ome") or {}))
    listed = list(cast(list[str], ome.get("labels") or []))
    names = list(dict.fromkeys(n for n in listed if n in present)) + sorted(present - set(listed))
    if names != listed:
        ome["labels"] = names
        group.attrs["ome"] = ome


def _finish(
    sdata: spatialdata.SpatialData,
    location: Location,
    root: zarr.Group,
    update: Update,
    options: dict[str, Any],
    consolidate: bool,
) -> None:
    get_registry().hook.sdp_after_write(sdata=sdata, location=location, root=root, options=options, update=update)
    if consolidate and location.supports_consolidated_metadata:
        zarr.consolidate_metadata(location.store, path=location.path or None, zarr_format=root.metadata.zarr_format)


def stored_formats(root: zarr.Group) -> dict[str, Any]:
    """The formats of spatialdata for writing into a stored SpatialData: those of its container version.

    An element added to a store written with ``SpatialDataContainerFormatV01`` (zarr v2) is written in the element
    formats of that container, as spatialdata's own ``write_element`` does.
    """
    from spatialdata._io.format import SpatialDataContainerFormats, _parse_formats

    attrs = root.attrs.get("spatialdata_attrs")
    version = attrs.get("version") if isinstance(attrs, dict) else None
    container = SpatialDataContainerFormats.get(str(version)) if version is not None else None
    if container is None:
        container = SpatialDataContainerFormats["0.1" if root.metadata.zarr_format == 2 else "0.2"]
    return dict(_parse_formats(container))


def _prepare_options(location: Location, options: dict[str, Any] | None) -> dict[str, Any]:
    opts = dict(options or {})
    if opts.get("parallel_backend") is None:
        opts["parallel_backend"] = get_registry().hook.sdp_parallel_write_backend(location=location)
    return opts


def apply_update(
    location: Location,
    sdata: spatialdata.SpatialData,
    update: Update,
    *,
    options: dict[str, Any] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Write ``update`` into ``location`` through the plugin hooks (the project's only write loop).

    A **full** update writes a new store into ``location`` (a staging location from
    :meth:`Location.staging <spatialdata_plugins.core.Location.staging>`; publishing it is the caller's). An
    **incremental** update changes a stored SpatialData: on a transactional location (an icechunk session) in
    place, since nothing is visible before the commit; elsewhere every replaced element is written completely into
    :meth:`Location.element_staging` first, new elements are written in place and removed again if anything fails,
    and only then are the old elements swapped and the deletions made. ``sdp_after_write`` runs once at the end
    with ``update``; consolidated metadata is refreshed where the store keeps it.

    Parameters
    ----------
    location
        Where to write.
    sdata
        The object the elements belong to (passed to the hooks).
    update
        What to write and delete.
    options
        Writer options for the hooks (``raster_compressor``, ``consolidate_metadata``, ``parallel_backend``...).
    progress
        Progress bar over the elements; ``None``: only on a terminal.

    Returns
    -------
    dict
        The options as the hooks saw them (``parallel_backend`` is the backend used).

    Raises
    ------
    ElementWriteError
        Writing failed; an incremental update on a non-transactional store leaves the store as it was.
    ElementExistsError
        An incremental update writes a name stored as an element of another type without deleting it.
    PublishError
        A replacement was written completely but swapping it in failed; the message names the copy.
    """
    opts = _prepare_options(location, options)
    with quiet_zarr():
        if update.full:
            container = (opts.get("sdata_formats") or {}).get("SpatialData")
            zarr_format: Literal[2, 3] = container.zarr_format if container is not None else 3
            root = zarr.open_group(store=location.store, path=location.path or None, mode="w", zarr_format=zarr_format)
            write_root_attrs(root, update.attrs if update.attrs is not None else dict(sdata.attrs), container)
            _write_elements(sdata, location, root, update.writes, opts, progress)
            _finish(sdata, location, root, update, opts, bool(opts.get("consolidate_metadata", True)))
            return opts
        # a transactional store may be a new, empty repository: the root group is created with the first update
        root = location.open_root("a" if location.transactional else "r+")
        if not opts.get("sdata_formats"):
            opts["sdata_formats"] = stored_formats(root)
        had_consolidated = location.open_root("r").metadata.consolidated_metadata is not None
        stored = stored_elements(root)
        for element_type, name, _ in update.writes:
            old = stored.get(name)
            if element_type is not None and old is not None and old != element_type and name not in update.deleted:
                raise ElementExistsError(f"{name!r} already exists in {location.url} as an element of {old}")
        if location.transactional:
            for name in [*update.deletes, *update.written]:
                if name in stored:
                    location.delete(stored[name], name)
            if update.attrs is not None or "spatialdata_attrs" not in root.attrs:
                write_root_attrs(root, update.attrs if update.attrs is not None else dict(sdata.attrs))
            _write_elements(sdata, location, root, update.writes, opts, progress)
        else:
            _update_in_place(sdata, location, root, update, stored, opts, progress)
        touched = {stored.get(n) for n in update.deleted} | {t for t, _, _ in update.writes}
        if "labels" in touched:
            sync_labels_list(root)
        _finish(sdata, location, root, update, opts, had_consolidated)
    return opts


def _update_in_place(
    sdata: spatialdata.SpatialData,
    location: Location,
    root: zarr.Group,
    update: Update,
    stored: dict[str, str],
    opts: dict[str, Any],
    progress: bool | None,
) -> None:
    replaced = [w for w in update.writes if w[0] is not None and w[1] in stored and w[1] not in update.deleted]
    fresh = [w for w in update.writes if w not in replaced]
    staged = None
    if replaced:
        staged = location.element_staging()
        try:
            staged_root = zarr.open_group(store=staged.store, path=staged.path or None, mode="w", zarr_format=3)
            _write_elements(sdata, staged, staged_root, replaced, opts, progress)
        except BaseException as exc:
            staged.discard()
            if isinstance(exc, ElementWriteError):
                raise ElementWriteError(f"{exc}; {location.url} is unchanged") from exc
            raise
    type_attrs = {t: root[t].attrs.asdict() if t in root else None for t, _, _ in fresh if t is not None}
    try:
        _write_elements(sdata, location, root, fresh, opts, progress)
    except BaseException as exc:
        for element_type, name, _ in fresh:
            if element_type is not None:
                location.delete(element_type, name)
        for element_type, attrs in type_attrs.items():
            if attrs is None:
                location.delete(element_type)
            else:
                root[element_type].attrs.put(attrs)
        if staged is not None:
            staged.discard()
        if isinstance(exc, ElementWriteError):
            raise ElementWriteError(f"{exc}; nothing was kept, {location.url} is as it was") from exc
        raise
    if staged is not None:
        for element_type, name, _ in replaced:
            location.replace_element(staged, element_type, name)  # type: ignore[arg-type]
        staged.discard()
    for name in update.deletes:
        if name in stored:
            location.delete(stored[name], name)
    if update.attrs is not None:
        write_root_attrs(root, update.attrs)


def update_of(
    sdata: spatialdata.SpatialData, names: Iterable[str] | None = None, deletes: Iterable[str] = ()
) -> Update:
    """An incremental :class:`Update` writing the elements (or attached objects) ``names`` of ``sdata``.

    Parameters
    ----------
    sdata
        The object.
    names
        Names to write; ``None``: every element and attached object (a full update).
    deletes
        Names to delete from the store.

    Returns
    -------
    Update
        The update.
    """
    items = elements_and_attached(sdata)
    if names is None:
        return Update(writes=items, attrs=dict(sdata.attrs), full=True)
    wanted = set(names)
    return Update(writes=[w for w in items if w[1] in wanted], deletes=list(deletes))
