"""Hook implementations of the lazy-containers plugin (entry point of group ``spatialdata_plugins``)."""

from __future__ import annotations

from typing import Any

from spatialdata_plugins.core import hookimpl


def _container(obj: Any) -> Any:
    from spatialdata_plugins.lazy_containers._base import LazyContainer

    return obj if isinstance(obj, LazyContainer) else None


def _attached_container(sdata: Any, name: str) -> Any:
    attached = getattr(sdata, "attached", None)
    return _container(attached.get(name)) if isinstance(attached, dict) else None


@hookimpl
def sdp_access_element(sdata: Any, name: str, obj: Any) -> Any:
    """Load a lazy container on first access."""
    container = _container(obj)
    return container.load() if container is not None else None


@hookimpl
def sdp_describe_attached(name: str, obj: Any) -> str | None:
    """``[lazy] ParquetShapes @ /data/cells.parquet``."""
    container = _container(obj)
    return container.describe() if container is not None else None


@hookimpl(tryfirst=True)  # a link is stored as a link whatever other plugin would write its data
def sdp_write_element(
    sdata: Any, location: Any, root: Any, element_type: str | None, name: str, element: Any, options: dict[str, Any]
) -> bool | None:
    """Write a container (loaded or not) as a JSON link, or its data with ``write(..., materialize=True)``."""
    from spatialdata_plugins.core import write_element_through_hook
    from spatialdata_plugins.lazy_containers._links import OPTION_STASH, link_for_write

    container = _container(element) if element_type is None else _attached_container(sdata, name)
    if container is None:
        return None
    if options.get("materialize"):
        if element_type is not None:
            return None  # already loaded: the next plugin (finally the default) writes the data
        loaded = container.load()
        write_element_through_hook(sdata, location, root, container.element_type, name, loaded, options)
        return True
    options.setdefault(OPTION_STASH, {})[name] = link_for_write(container, name)
    return True


@hookimpl
def sdp_after_write(sdata: Any, location: Any, root: Any, options: dict[str, Any], update: Any) -> None:
    """Store the links collected while writing elements, in one JSON document.

    After a full write the document holds exactly those links; after an incremental update (``add_element``, a
    transaction) the links of names the update did not touch are kept.
    """
    from spatialdata_plugins.lazy_containers._links import OPTION_STASH, update_links, write_links

    links = options.get(OPTION_STASH) or {}
    if update is None or update.full:
        if links:
            write_links(root, links)
        return
    update_links(root, links, update.written | update.deleted)


@hookimpl
def sdp_after_read(sdata: Any, location: Any, root: Any, selection: Any) -> None:
    """Attach the containers of the links stored in the store (no IO on their targets), those ``read`` selected."""
    import warnings

    from spatialdata_plugins.lazy_containers._links import containers_from_links, read_links

    for name, container in containers_from_links(read_links(root)).items():
        if selection is not None and name not in selection and container.element_type not in selection:
            continue
        if name in sdata:
            warnings.warn(
                f"the store holds both an element and a lazy link named {name!r}; the link is ignored",
                UserWarning,
                stacklevel=2,
            )
            continue
        sdata.attach(container, name)


@hookimpl
def sdp_register_commands(cli: Any) -> None:
    """Add ``spatialdata-plugins lazy ...``."""
    from spatialdata_plugins.lazy_containers._cli import lazy

    cli.add_command(lazy)


@hookimpl
def sdp_demo(sdata: Any, workdir: str, echo: Any) -> None:
    """Link a shapes file and a points file, access them, write the links and read them back."""
    from spatialdata_plugins.lazy_containers._demo import run_demo_step

    run_demo_step(sdata, workdir, echo)
