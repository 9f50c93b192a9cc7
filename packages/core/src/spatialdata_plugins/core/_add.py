"""Add one element to an existing SpatialData store without rewriting (or risking) the other elements."""

from __future__ import annotations

from typing import Any

from spatialdata_plugins.core._defaults import element_type_of
from spatialdata_plugins.core._errors import (
    ElementExistsError,
    InvalidArgumentError,
    StoreNotFoundError,
    UnsafeOverwriteError,
    UnsupportedElementError,
)
from spatialdata_plugins.core._io import open_location
from spatialdata_plugins.core._location import ELEMENT_TYPES
from spatialdata_plugins.core._pipeline import apply_update, stored_elements, update_of, validate_elements


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
        of ``element``. An object that is no element (a lazy container) is written the way its plugin writes
        attached objects (as a link).
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
    from spatialdata._core.validation import check_valid_name

    from spatialdata_plugins.core._spatialdata import SpatialData

    try:
        check_valid_name(name)
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"cannot add {name!r}, nothing was written: {exc}") from exc
    if element_type is None:
        element_type = element_type_of(element)
    elif element_type not in ELEMENT_TYPES:
        raise InvalidArgumentError(f"element_type must be one of {ELEMENT_TYPES}, got {element_type!r}")
    location = open_location(target, "w", storage_options)
    if not location.exists():
        raise StoreNotFoundError(f"no SpatialData store at {location.url}: nothing exists there")
    existing = stored_elements(location.open_root("r")).get(name)
    if existing is not None and element_type is not None and existing != element_type:
        raise ElementExistsError(f"{name!r} already exists in {location.url} as an element of {existing}")
    if existing is not None and not overwrite:
        raise ElementExistsError(f"{name!r} already exists in {location.url}; pass overwrite to replace it")
    if existing is not None and name in reads_from:
        raise UnsafeOverwriteError(
            f"cannot replace {name!r} in {location.url}: the new element is computed from it; choose another name"
        )
    # the hooks see the element as part of a SpatialData, as in a full write; an object that is no element (a
    # lazy link) is attached, and its plugin decides how it is stored
    holder = SpatialData()
    if element_type is None:
        holder.attach(element, name)
    else:
        getattr(holder, element_type)[name] = element
    update = update_of(holder, [name], deletes=[name] if existing is not None and element_type is None else [])
    validate_elements(update.writes)
    try:
        apply_update(location, holder, update)
    except UnsupportedElementError as exc:
        if element_type is not None:
            raise
        raise InvalidArgumentError(
            f"cannot tell the element type of a {type(element).__name__} and no installed plugin stores it as an "
            f"attached object; pass element_type or parse it with spatialdata.models ({exc})"
        ) from exc
