"""Links in a SpatialData store: JSON in the attributes of the zarr group ``spatialdata_plugins/lazy_containers``."""

from __future__ import annotations

import warnings
from typing import Any

import zarr

from spatialdata_plugins.lazy_containers._base import LINK_FORMAT_VERSION, LazyContainer
from spatialdata_plugins.lazy_containers._errors import InvalidContainerError
from spatialdata_plugins.lazy_containers._types import UnresolvedContainer, check_readable

LINKS_GROUP = "spatialdata_plugins/lazy_containers"
OPTION_STASH = "_lazy_containers_links"


def write_links(root: zarr.Group, links: dict[str, dict[str, Any]]) -> None:
    """Store ``{name: link}`` under ``root`` (one JSON document: one write, one read on object stores)."""
    group = root.require_group(LINKS_GROUP)
    group.attrs.update({"format_version": LINK_FORMAT_VERSION, "links": links})


def update_links(root: zarr.Group, links: dict[str, dict[str, Any]], drop: set[str]) -> None:
    """Change the stored links after an incremental update: remove the names in ``drop``, then add ``links``.

    Parameters
    ----------
    root
        Root group of the store.
    links
        New or replaced links.
    drop
        Names written or deleted by the update: a link stored under one of them is gone unless ``links`` has it
        again (an element replaced a link, or the link was deleted).
    """
    stored = read_links(root)
    merged = {name: spec for name, spec in stored.items() if name not in drop} | links
    if merged != stored:
        write_links(root, merged)


def read_links(root: zarr.Group) -> dict[str, dict[str, Any]]:
    """The raw links stored under ``root`` (``{}`` if there are none)."""
    try:
        group = root[LINKS_GROUP]
    except KeyError:
        return {}
    attrs = group.attrs.asdict()
    version = attrs.get("format_version")
    if version is not None and version > LINK_FORMAT_VERSION:
        warnings.warn(
            f"lazy container links in format {version}, newer than this plugin reads ({LINK_FORMAT_VERSION}); "
            "upgrade spatialdata-plugins-lazy-containers",
            UserWarning,
            stacklevel=2,
        )
    links = attrs.get("links") or {}
    return dict(links) if isinstance(links, dict) else {}


def containers_from_links(links: dict[str, dict[str, Any]]) -> dict[str, LazyContainer]:
    """Rebuild containers; unknown types and malformed links become :class:`UnresolvedContainer` objects."""
    out: dict[str, LazyContainer] = {}
    for name, spec in links.items():
        try:
            out[name] = LazyContainer.from_dict(spec)
        except InvalidContainerError as exc:
            spec = spec if isinstance(spec, dict) else {"type": "?", "location": str(spec)}
            out[name] = UnresolvedContainer({"key": name, **spec}, reason=f"the stored link is invalid ({exc})")
    return out


def link_for_write(container: LazyContainer, name: str) -> dict[str, Any]:
    """The link to store for ``container`` under ``name``; records a fingerprint first if none was recorded.

    Raises
    ------
    InvalidContainerError
        The container's type could not be found again by its name when the link is read (nothing is stored).
    """
    check_readable(container)
    if (
        container.fingerprint is None
        and container.integrity != "none"
        and not isinstance(container, UnresolvedContainer)
    ):
        try:
            container.pin(checksum=container.integrity == "checksum")
        except FileNotFoundError:
            # the link is only a pointer: a target that does not exist yet is reported at access, not here
            pass
    spec = container.to_dict()
    spec["key"] = name
    return spec
