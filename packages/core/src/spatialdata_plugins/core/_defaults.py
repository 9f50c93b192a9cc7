"""Built-in behaviour, registered first as the plugin ``core-defaults``.

Every default is ``trylast`` so that any installed plugin is asked first and can take over.
"""

from __future__ import annotations

from typing import Any

from spatialdata_plugins.core.hookspecs import hookimpl

# the implementations import spatialdata, zarr and dask; they load on the first hook call, not at registration


@hookimpl(trylast=True)
def sdp_open_store(target: Any, mode: str, storage_options: dict[str, Any] | None) -> Any:
    """Open local paths, fsspec URLs, zarr stores and zarr groups."""
    from spatialdata_plugins.core._location import resolve_path_like

    return resolve_path_like(target, mode, storage_options)


@hookimpl(trylast=True)
def sdp_read_element(location: Any, group: Any, element_type: str, name: str, options: dict[str, Any]) -> Any:
    """Read an element written in spatialdata's layout or in parquet-in-zarr."""
    from spatialdata_plugins.core import _elements

    return _elements.read_element(location, group, element_type, name, options)


@hookimpl(trylast=True)
def sdp_write_element(
    sdata: Any, location: Any, root: Any, element_type: str | None, name: str, element: Any, options: dict[str, Any]
) -> bool | None:
    """Write an element with spatialdata's writers (parquet-in-zarr for points and shapes on key-value stores)."""
    if element_type is None:
        return None
    from spatialdata_plugins.core import _elements

    _elements.write_element(location, root, element_type, name, element, options)
    return True


@hookimpl(trylast=True)
def sdp_access_element(sdata: Any, name: str, obj: Any) -> Any:
    """Return elements as they are; anything else is left for plugins."""
    return obj if element_type_of(obj) is not None else None


@hookimpl(trylast=True)
def sdp_describe_attached(name: str, obj: Any) -> str | None:
    """Describe an attached object by its type."""
    return f"[attached] {type(obj).__name__}"


@hookimpl(trylast=True)
def sdp_parallel_write_backend(location: Any) -> Any:
    """Persist dask writes with ``dask.compute`` on the active scheduler."""
    from spatialdata_plugins.core._parallel import DaskComputeBackend

    return DaskComputeBackend()


def element_type_of(obj: Any) -> str | None:
    """Return ``"images"``, ``"labels"``, ``"points"``, ``"shapes"`` or ``"tables"`` for an element, else ``None``."""
    from spatialdata.models import (
        Image2DModel,
        Image3DModel,
        Labels2DModel,
        Labels3DModel,
        PointsModel,
        ShapesModel,
        TableModel,
        get_model,
    )

    try:
        model = get_model(obj)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return {
        Image2DModel: "images",
        Image3DModel: "images",
        Labels2DModel: "labels",
        Labels3DModel: "labels",
        PointsModel: "points",
        ShapesModel: "shapes",
        TableModel: "tables",
    }.get(model)
