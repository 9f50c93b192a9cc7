"""Add one element to an existing SpatialData store without rewriting (or risking) the other elements."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from typing import Any

import zarr
from zarr.errors import ZarrUserWarning

from spatialdata_plugins.core._defaults import element_type_of
from spatialdata_plugins.core._errors import (
    ElementExistsError,
    ElementWriteError,
    InvalidArgumentError,
    PublishError,
    StoreNotFoundError,
    UnsafeOverwriteError,
)
from spatialdata_plugins.core._io import open_location, write_element_through_hook
from spatialdata_plugins.core._location import Location, copy_keys, delete_prefix
from spatialdata_plugins.core._registry import get_registry

ELEMENT_GROUPS = ("images", "labels", "points", "shapes", "tables")


def add_element(
    target: Any,
    name: str,
    element: Any,
    *,
    element_type: str | None = None,
    overwrite: bool = False,
    reads_from: tuple[str, ...] | list[str] = (),
    storage_options: dict[str, Any] | None = None,
) -> None:
    """Write one element into an existing SpatialData store, leaving every other element untouched.

    :func:`~spatialdata_plugins.core.write` replaces a whole store, and refuses (``UnsafeOverwriteError``) to
    replace the store that a lazily read element still reads from (a fused image computed from the store's tiles,
    density profiles computed from its points). ``add_element`` writes only the new element, through the same
    ``sdp_write_element`` hook as ``write``, into the store's root group:

    - a **new name** is written in place; if that fails, what was written of it is removed again and the element
      type's group attributes are restored;
    - an **existing name** (``overwrite=True``) is first written completely into a temporary local store, then the
      old element is deleted and the new one copied into place. If that last step fails, :class:`PublishError` says
      where the complete copy is.

    Consolidated metadata, if the store has it, is refreshed afterwards. Progress bars and the dask scheduler are
    the caller's (``dask.config.set``, a ``dask.distributed`` client, dask callbacks around the call).

    Parameters
    ----------
    target
        Path, URL or zarr store of an existing SpatialData store.
    name
        Name of the element.
    element
        The element (images, labels, points, shapes or an AnnData table, parsed with spatialdata's models);
        dask-backed elements are computed while writing.
    element_type
        ``"images"``, ``"labels"``, ``"points"``, ``"shapes"`` or ``"tables"``; default: from spatialdata's model
        of ``element``.
    overwrite
        Replace an existing element of that name and type.
    reads_from
        Names of the elements ``element`` is computed from; replacing one of them is refused.
    storage_options
        Filesystem options for URLs.

    Raises
    ------
    StoreNotFoundError
        Nothing exists at ``target``.
    ElementExistsError
        ``name`` exists and ``overwrite`` is false, or it exists as an element of another type.
    UnsafeOverwriteError
        ``name`` is one of ``reads_from``.
    ElementWriteError
        The write failed; the store is as it was.
    PublishError
        The final copy of a replacement failed; the message names the complete copy.
    """
    if element_type is None:
        element_type = element_type_of(element)
        if element_type is None:
            raise InvalidArgumentError(f"cannot tell the element type of a {type(element).__name__}; pass element_type")
    if element_type not in ELEMENT_GROUPS:
        raise InvalidArgumentError(f"element_type must be one of {ELEMENT_GROUPS}, got {element_type!r}")
    location = open_location(target, "w", storage_options)
    if not location.exists():
        raise StoreNotFoundError(f"no SpatialData store at {location.url}: nothing exists there")
    root = location.open_root("r+")
    had_consolidated = location.open_root("r").metadata.consolidated_metadata is not None
    existing = _existing_type(root, name)
    if existing is not None and existing != element_type:
        raise ElementExistsError(f"{name!r} already exists in {location.url} as an element of {existing}")
    if existing is not None and not overwrite:
        raise ElementExistsError(f"{name!r} already exists in {location.url}; pass overwrite to replace it")
    if existing is not None and name in reads_from:
        raise UnsafeOverwriteError(
            f"cannot replace {name!r} in {location.url}: the new element is computed from it; choose another name"
        )
    if existing is None:
        type_attrs = root[element_type].attrs.asdict() if element_type in root else None
        try:
            _write(location, root, element_type, name, element)
        except BaseException as exc:
            _remove_partial(location, root, element_type, name, type_attrs)
            if isinstance(exc, Exception) and not isinstance(exc, ElementWriteError):
                raise ElementWriteError(f"writing {name!r} to {location.url} failed, nothing was kept: {exc}") from exc
            raise
    else:
        _replace(location, element_type, name, element)
    if had_consolidated:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ZarrUserWarning)  # consolidated metadata, as the core writes it
            zarr.consolidate_metadata(location.store, path=location.path or None, zarr_format=3)


def _prefix(location: Location, *parts: str) -> str:
    base = location.path.strip("/")
    return "/".join(p for p in (base, *parts) if p)


def _existing_type(root: zarr.Group, name: str) -> str | None:
    for element_type in ELEMENT_GROUPS:
        if element_type in root and name in root[element_type]:
            return element_type
    return None


def _write(location: Location, root: zarr.Group, element_type: str, name: str, element: Any) -> None:
    hook = get_registry().hook
    options: dict[str, Any] = {"parallel_backend": hook.sdp_parallel_write_backend(location=location)}
    write_element_through_hook(None, location, root, element_type, name, element, options)


def _remove_partial(
    location: Location, root: zarr.Group, element_type: str, name: str, type_attrs: dict[str, Any] | None
) -> None:
    delete_prefix(location.store, _prefix(location, element_type, name))
    if type_attrs is None:
        delete_prefix(location.store, _prefix(location, element_type))
    elif element_type in root:
        root[element_type].attrs.put(type_attrs)


def _replace(location: Location, element_type: str, name: str, element: Any) -> None:
    staging_dir = tempfile.mkdtemp(prefix=f"sdp-add-{name}-")
    staged = Location(store=zarr.storage.LocalStore(staging_dir), kind="store", url=staging_dir)
    try:
        staged_root = zarr.open_group(store=staged.store, mode="w", zarr_format=3)
        _write(staged, staged_root, element_type, name, element)
    except Exception as exc:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise ElementWriteError(f"writing {name!r} failed; {location.url} is unchanged: {exc}") from exc
    prefix = _prefix(location, element_type, name)
    try:
        delete_prefix(location.store, prefix)
        copy_keys(staged.store, f"{element_type}/{name}", location.store, prefix)
    except Exception as exc:
        raise PublishError(
            f"replacing {name!r} in {location.url} failed half-way ({exc}); the complete new element is in "
            f"{staging_dir} under {element_type}/{name}"
        ) from exc
    shutil.rmtree(staging_dir, ignore_errors=True)
