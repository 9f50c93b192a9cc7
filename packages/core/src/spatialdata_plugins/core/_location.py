"""Where a SpatialData store lives: a zarr v3 store, plus a filesystem when the store is file-like."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import fsspec
import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore

from spatialdata_plugins.core._errors import UnsupportedTargetError

Kind = Literal["local", "fsspec", "store"]


@dataclass
class Location:
    """A resolved read or write target.

    Attributes
    ----------
    store
        The zarr v3 store.
    path
        Prefix of the SpatialData root group inside ``store`` (``""`` for the store root).
    kind
        ``"local"`` (a directory), ``"fsspec"`` (an fsspec URL such as ``s3://...``) or ``"store"`` (a key-value
        zarr store such as ``MemoryStore`` or an icechunk session, where files other than zarr keys cannot exist).
    fs
        Synchronous fsspec filesystem for file-like locations, ``None`` for ``"store"``.
    root
        Path of the SpatialData root on ``fs`` (``None`` for ``"store"``).
    url
        Human-readable description (printed by the CLI and in errors).
    storage_options
        Filesystem options the location was opened with.
    source
        The object the user passed.
    """

    store: Store
    path: str = ""
    kind: Kind = "store"
    fs: fsspec.AbstractFileSystem | None = None
    root: str | None = None
    url: str = ""
    storage_options: dict[str, Any] | None = None
    source: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def file_like(self) -> bool:
        """Whether loose files (parquet) can live beside the zarr keys (spatialdata's standard layout)."""
        return self.fs is not None

    def file_path(self, *parts: str) -> str:
        """Path on ``fs`` of a file inside the store, e.g. ``file_path("points", "t", "points.parquet")``."""
        if self.root is None:
            raise UnsupportedTargetError(f"{self.url} is a key-value store and holds no loose files")
        return posixpath.join(self.root, *parts) if self.kind != "local" else os.path.join(self.root, *parts)

    def exists(self) -> bool:
        """Whether anything is stored at this location (an empty directory or an empty zarr group is nothing)."""
        if self.kind == "local":
            root = self.root or ""
            return os.path.exists(root) and not (os.path.isdir(root) and not os.listdir(root))
        if self.kind == "fsspec":
            assert self.fs is not None and self.root is not None
            return bool(self.fs.exists(self.root)) and bool(self.fs.find(self.root, maxdepth=2))
        prefix = f"{self.path.strip('/')}/" if self.path.strip("/") else ""
        keys = list_keys(self.store, prefix)
        if keys == [f"{prefix}zarr.json"]:
            # a freshly created, empty group (for example ``root.require_group("sample")``) holds nothing
            group = zarr.open_group(store=self.store, path=self.path or None, mode="r")
            return bool(group.attrs.asdict())
        return bool(keys)

    def open_root(self, mode: Literal["r", "r+", "a", "w"] = "r") -> zarr.Group:
        """Open the root zarr group."""
        return zarr.open_group(
            store=self.store,
            path=self.path or None,
            mode=mode,
            zarr_format=3 if mode == "w" else None,
            use_consolidated=False if mode != "r" else None,
        )

    def identity(self) -> tuple[Any, ...]:
        """A key that is equal for two locations naming the same data."""
        if self.kind == "local":
            return ("local", os.path.realpath(self.root or ""))
        if self.kind == "fsspec":
            assert self.fs is not None
            protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
            return ("fsspec", protocol, str(self.root).rstrip("/"))
        return ("store", id(self.store), self.path.strip("/"))

    def __str__(self) -> str:
        return self.url


def is_url(target: str) -> bool:
    """Whether ``target`` is a URL with a scheme (``s3://...``), as opposed to a local path."""
    return "://" in target or target.startswith("s3:")


def open_local(path: str | os.PathLike[str], mode: str) -> Location:
    """Resolve a local path."""
    root = os.path.abspath(os.fspath(path))
    return Location(
        store=LocalStore(root, read_only=(mode == "r")),
        kind="local",
        fs=fsspec.filesystem("file"),
        root=root,
        url=root,
        source=path,
    )


def open_url(url: str, mode: str, storage_options: dict[str, Any] | None) -> Location:
    """Resolve an fsspec URL (``s3://``, ``gs://``, ``memory://``, ``file://``...)."""
    so = dict(storage_options or {})
    if url.startswith("file://"):
        return open_local(url[len("file://") :], mode)
    try:
        fs, root = fsspec.core.url_to_fs(url, **so)
        store = FsspecStore.from_url(url, storage_options=so, read_only=(mode == "r"))
    except ImportError as exc:
        scheme = url.split("://", 1)[0]
        raise UnsupportedTargetError(
            f"cannot open {url!r}: the filesystem for {scheme!r} is not installed ({exc}); "
            f"for s3 install 'spatialdata-plugins-core[s3]'"
        ) from exc
    except ValueError as exc:
        raise UnsupportedTargetError(f"cannot open {url!r}: unknown URL scheme ({exc})") from exc
    return Location(
        store=store, kind="fsspec", fs=fs, root=str(root).rstrip("/"), url=url, storage_options=so, source=url
    )


def open_zarr_object(target: Any, mode: str) -> Location | None:
    """Resolve a zarr v3 store or group object; ``None`` if ``target`` is neither."""
    if isinstance(target, zarr.Group):
        store, path = target.store, target.path
    elif isinstance(target, Store):
        store, path = target, ""
    else:
        return None
    if isinstance(store, LocalStore):
        loc = open_local(os.path.join(str(store.root), path), mode)
        loc.source = target
        return loc
    if isinstance(store, FsspecStore):
        protocol = store.fs.protocol if isinstance(store.fs.protocol, str) else store.fs.protocol[0]
        root = posixpath.join(store.path, path).rstrip("/")
        sync_fs = fsspec.filesystem(protocol, **dict(getattr(store.fs, "storage_options", {}) or {}))
        return Location(
            store=store if not path else FsspecStore(store.fs, path=root, read_only=store.read_only),
            kind="fsspec",
            fs=sync_fs,
            root=root,
            url=f"{protocol}://{root}",
            source=target,
        )
    return Location(store=store, path=path, kind="store", url=f"{type(store).__name__}:{path or '/'}", source=target)


def resolve_path_like(target: Any, mode: str, storage_options: dict[str, Any] | None) -> Location | None:
    """The default ``sdp_open_store``: local paths, fsspec URLs, zarr stores and groups."""
    if isinstance(target, Path) or (isinstance(target, os.PathLike) and not isinstance(target, str)):
        return open_local(target, mode)
    if isinstance(target, str):
        if is_url(target):
            return open_url(target, mode, storage_options)
        return open_local(target, mode)
    return open_zarr_object(target, mode)


# --- key-level helpers for key-value stores -------------------------------------------------------------


def list_keys(store: Store, prefix: str) -> list[str]:
    """List all keys under ``prefix``."""

    async def _collect() -> list[str]:
        return [key async for key in store.list_prefix(prefix)]

    return sync(_collect())


def copy_keys(src: Store, src_prefix: str, dst: Store, dst_prefix: str) -> int:
    """Copy every key under ``src_prefix`` of ``src`` to ``dst_prefix`` of ``dst``; return the number of keys."""
    proto = default_buffer_prototype()
    n = 0
    for key in list_keys(src, src_prefix):
        rel = key[len(src_prefix) :].lstrip("/") if src_prefix else key
        buf = sync(src.get(key, prototype=proto))
        if buf is None:
            continue
        dst_key = f"{dst_prefix.rstrip('/')}/{rel}" if dst_prefix else rel
        sync(dst.set(dst_key, buf))
        n += 1
    return n


def delete_prefix(store: Store, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    sync(store.delete_dir(prefix))
