"""Where a SpatialData store lives: a zarr v3 store, plus a filesystem when the store is file-like."""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import fsspec
import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore

from spatialdata_plugins.core._errors import PublishError, UnsupportedTargetError

Kind = Literal["local", "fsspec", "store"]
#: The element-type groups of a SpatialData store.
ELEMENT_TYPES = ("images", "labels", "points", "shapes", "tables")


@dataclass
class Location:
    """A resolved read or write target, and how a write to it is staged, published and discarded.

    This base class is a key-value zarr store (``MemoryStore``, a user's own store): a replacement is staged in a
    temporary local store and its keys are copied over once complete. :class:`LocalLocation` (a directory) and
    :class:`FsspecLocation` (an fsspec URL) stage beside the target and rename or move. A plugin adds a kind of
    store by returning its own subclass from ``sdp_open_store``; a *transactional* store (``transactional =
    True``, such as an icechunk session) is its own staging area and :meth:`publish` commits it. Code asks the
    location what to do instead of switching on its kind.

    Attributes
    ----------
    store
        The zarr v3 store.
    path
        Prefix of the SpatialData root group inside ``store`` (``""`` for the store root).
    kind
        ``"local"``, ``"fsspec"`` or ``"store"``: a label for messages and summaries (behaviour is in the class).
    fs
        Synchronous fsspec filesystem for file-like locations, ``None`` for key-value stores.
    root
        Path of the SpatialData root on ``fs`` (``None`` for key-value stores).
    url
        Human-readable description (printed by the CLI and in errors).
    storage_options
        Filesystem options the location was opened with.
    source
        The object the user passed.
    extra
        Free-form details a plugin keeps with the location (an icechunk session and its repository...).
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
    def transactional(self) -> bool:
        """Whether the store is its own staging area (``False`` here).

        A transactional store keeps writes invisible until :meth:`publish`, and :meth:`discard` drops them all (an
        icechunk session the plugin owns).
        """
        return False

    @property
    def file_like(self) -> bool:
        """Whether loose files (parquet) can live beside the zarr keys (spatialdata's standard layout)."""
        return self.fs is not None

    @property
    def writable(self) -> bool:
        """Whether the store accepts writes (a read-only snapshot or a store opened to read does not)."""
        return not getattr(self.store, "read_only", False)

    @property
    def local_path(self) -> Path | None:
        """The local directory of the store (what ``SpatialData.path`` is set to), or ``None``."""
        return None

    def file_path(self, *parts: str) -> str:
        """Path on ``fs`` of a file inside the store, e.g. ``file_path("points", "t", "points.parquet")``."""
        if self.root is None:
            raise UnsupportedTargetError(f"{self.url} is a key-value store and holds no loose files")
        return posixpath.join(self.root, *parts)

    def key(self, *parts: str) -> str:
        """The store key of ``parts`` below the SpatialData root (``key("points", "t")``)."""
        return "/".join(p.strip("/") for p in (self.path, *parts) if p and p.strip("/"))

    def exists(self) -> bool:
        """Whether anything is stored at this location (an empty directory or an empty zarr group is nothing)."""
        prefix = f"{self.key()}/" if self.key() else ""
        keys = list_keys(self.store, prefix)
        # a freshly created, empty group (``root.require_group("sample")``) or an empty SpatialData layout (a new
        # icechunk repository: the root and the element-type groups, nothing in them) holds nothing
        empty_layout = {f"{prefix}zarr.json"} | {f"{prefix}{t}/zarr.json" for t in ELEMENT_TYPES}
        if set(keys) <= empty_layout:
            if not keys:
                return False
            group = zarr.open_group(store=self.store, path=self.path or None, mode="r")
            attrs = group.attrs.asdict()
            attrs.pop("spatialdata_attrs", None)
            return bool(attrs)
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

    def element_store(self, *parts: str) -> Store:
        """A read-only zarr store rooted at an element (``element_store("images", "x")``), for its arrays.

        Dask arrays read through it name the element's own directory as their backing file on local stores
        (``<store>/images/x``), as spatialdata's reader does; here, a key-value store, it is the store itself.
        """
        return self.store

    def element_path(self, *parts: str) -> str:
        """The path of ``parts`` inside :meth:`element_store` (``""`` when the store is rooted there)."""
        return self.key(*parts)

    def identity(self) -> tuple[Any, ...]:
        """A key that is equal for two locations naming the same data."""
        return ("store", id(self.store), self.path.strip("/"))

    def backing_root(self) -> str | None:
        """The local directory that dask-backed elements read from this store name as backing files, if any."""
        return None

    @property
    def supports_consolidated_metadata(self) -> bool:
        """Whether zarr consolidated metadata can be written (icechunk keeps its own, versioned metadata)."""
        return bool(getattr(self.store, "supports_consolidated_metadata", True))

    # ------------------------------------------------------------------------------ staging and publishing

    def staging(self, replace: bool) -> Location:
        """Where to write a whole store: ``self`` for a new one, a fresh empty location when ``replace``.

        Parameters
        ----------
        replace
            Whether something is stored here that must stay readable until the new store is complete.

        Returns
        -------
        Location
            The location to write into; hand it to :meth:`publish` once complete, or to :meth:`discard`.
        """
        if not replace:
            return self
        return stage_in_temporary_directory(f"staging for {self.url}")

    def element_staging(self) -> Location:
        """A fresh, empty location to write one replacement element into before it takes the old one's place."""
        return stage_in_temporary_directory(f"element staging for {self.url}")

    def publish(self, staged: Location) -> None:
        """Make what was written to ``staged`` (from :meth:`staging`) the content of this location.

        Raises
        ------
        PublishError
            The new content is complete but could not be moved into place; the message says where it is.
        """
        if staged is self:
            return
        try:
            delete_prefix(self.store, self.path)
            copy_keys(staged.store, staged.path, self.store, self.path)
        except Exception as exc:
            raise PublishError(
                f"the new store was written completely to {staged.url}, but copying it to {self.url} failed "
                f"({exc}); the old store was already removed, copy the new one over"
            ) from exc
        staged.discard()

    def replace_element(self, staged: Location, element_type: str, name: str) -> None:
        """Put the element ``element_type/name`` written completely in ``staged`` in place of the stored one."""
        prefix = self.key(element_type, name)
        try:
            delete_prefix(self.store, prefix)
            copy_keys(staged.store, staged.key(element_type, name), self.store, prefix)
        except Exception as exc:
            raise PublishError(
                f"replacing {name!r} in {self.url} failed half-way ({exc}); the complete new element is in "
                f"{staged.url} under {element_type}/{name}"
            ) from exc

    def delete(self, *parts: str) -> None:
        """Delete everything below ``parts`` (an element, an element-type group) of this store."""
        delete_prefix(self.store, self.key(*parts))

    def discard(self) -> None:
        """Remove everything written here (a staging area, or a new store whose write failed); best effort."""
        with contextlib.suppress(Exception):
            delete_prefix(self.store, self.path)

    def __str__(self) -> str:
        return self.url


@dataclass
class TemporaryLocation(Location):
    """A local temporary directory used as a key-value staging store; :meth:`discard` deletes the directory."""

    def discard(self) -> None:
        """Delete the temporary directory."""
        shutil.rmtree(self.extra["tmpdir"], ignore_errors=True)


def stage_in_temporary_directory(description: str) -> TemporaryLocation:
    """A new :class:`TemporaryLocation` (a ``LocalStore`` in a fresh temporary directory)."""
    tmp = tempfile.mkdtemp(prefix="sdp-staging-")
    return TemporaryLocation(store=LocalStore(tmp), kind="store", url=tmp, extra={"tmpdir": tmp, "for": description})


@dataclass
class LocalLocation(Location):
    """A local directory: spatialdata's standard layout; a replacement is staged beside it and swapped by rename."""

    kind: Kind = "local"

    @property
    def local_path(self) -> Path | None:
        """The directory."""
        return Path(self.root) if self.root else None

    def file_path(self, *parts: str) -> str:
        """Path of a file inside the store."""
        if self.root is None:
            raise UnsupportedTargetError(f"{self.url} has no root directory")
        return os.path.join(self.root, *parts)

    def exists(self) -> bool:
        """Whether the directory exists and is not empty."""
        root = self.root or ""
        return os.path.exists(root) and not (os.path.isdir(root) and not os.listdir(root))

    def element_store(self, *parts: str) -> Store:
        """A read-only ``LocalStore`` rooted at the element's directory (its backing file for spatialdata)."""
        return LocalStore(self.file_path(*parts), read_only=True)

    def element_path(self, *parts: str) -> str:
        """``""``: :meth:`element_store` is rooted at the element."""
        return ""

    def identity(self) -> tuple[Any, ...]:
        """The real path."""
        return ("local", os.path.realpath(self.root or ""))

    def backing_root(self) -> str | None:
        """The directory itself."""
        return os.path.realpath(self.root) if self.root else None

    def staging(self, replace: bool) -> Location:
        """A hidden sibling directory when replacing, so that publishing is a rename on the same filesystem."""
        if not replace:
            return self
        assert self.root is not None
        parent, base = os.path.split(self.root.rstrip(os.sep))
        return open_local(os.path.join(parent, f".{base}.sdp-staging-{uuid.uuid4().hex[:12]}"), "w")

    def publish(self, staged: Location) -> None:
        """Swap the staged directory in by two renames; the old one is deleted only after the swap."""
        if staged is self:
            return
        assert self.root is not None and staged.root is not None
        backup = f"{self.root.rstrip(os.sep)}.sdp-old-{uuid.uuid4().hex[:12]}"
        os.replace(self.root, backup)
        try:
            os.replace(staged.root, self.root)
        except BaseException:
            os.replace(backup, self.root)
            raise
        shutil.rmtree(backup, ignore_errors=True)

    def discard(self) -> None:
        """Delete the directory."""
        if self.root and os.path.exists(self.root):
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class FsspecLocation(Location):
    """An fsspec URL (``s3://...``): spatialdata's standard layout; a replacement is staged beside it and moved."""

    kind: Kind = "fsspec"

    @property
    def protocol(self) -> str:
        """The filesystem's protocol (``"s3"``...)."""
        assert self.fs is not None
        return self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]

    def exists(self) -> bool:
        """Whether anything is stored below the URL."""
        assert self.fs is not None and self.root is not None
        return bool(self.fs.exists(self.root)) and bool(self.fs.find(self.root, maxdepth=2))

    def element_store(self, *parts: str) -> Store:
        """A read-only ``FsspecStore`` rooted at the element's prefix."""
        if isinstance(self.store, FsspecStore):
            path = posixpath.join(self.store.path, self.key(*parts)) if self.key(*parts) else self.store.path
            return FsspecStore(self.store.fs, path=path, read_only=True)
        return self.store

    def element_path(self, *parts: str) -> str:
        """``""`` when :meth:`element_store` is rooted at the element."""
        return "" if isinstance(self.store, FsspecStore) else self.key(*parts)

    def identity(self) -> tuple[Any, ...]:
        """Protocol and path."""
        return ("fsspec", self.protocol, str(self.root).rstrip("/"))

    def staging(self, replace: bool) -> Location:
        """A hidden sibling prefix when replacing."""
        if not replace:
            return self
        assert self.root is not None
        parent, base = posixpath.split(self.root.rstrip("/"))
        tag = f".{base}.sdp-staging-{uuid.uuid4().hex[:12]}"
        return open_url(f"{self.protocol}://{posixpath.join(parent, tag)}", "w", self.storage_options)

    def publish(self, staged: Location) -> None:
        """Remove the old prefix once the new one is complete, then move the new one into place.

        Object stores have no rename: if the move fails, the complete copy is kept and named in the error.
        """
        if staged is self:
            return
        assert self.fs is not None
        try:
            self.fs.rm(self.root, recursive=True)
            # listings cached before the write (exists(), the staging area's own) would name keys that are gone
            self.fs.invalidate_cache()
            # object by object: a recursive move also tries to copy the "directories", which are no objects
            staged_root = str(staged.root).rstrip("/")
            sources = self.fs.find(staged_root)
            targets = [str(self.root).rstrip("/") + src[len(staged_root) :] for src in sources]
            if sources:
                self.fs.copy(sources, targets)
        except Exception as exc:
            raise PublishError(
                f"the new store was written completely to {staged.url}, but moving it to {self.url} failed "
                f"({exc}); the old store was already removed, copy the new one over"
            ) from exc
        staged.discard()

    def discard(self) -> None:
        """Delete everything below the URL."""
        with contextlib.suppress(Exception):
            if self.fs is not None and self.fs.exists(self.root):
                self.fs.rm(self.root, recursive=True)


def is_url(target: str) -> bool:
    """Whether ``target`` is a URL with a scheme (``s3://...``), as opposed to a local path."""
    return "://" in target or target.startswith("s3:")


def open_local(path: str | os.PathLike[str], mode: str) -> Location:
    """Resolve a local path."""
    root = os.path.abspath(os.fspath(path))
    return LocalLocation(
        store=LocalStore(root, read_only=(mode == "r")),
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
    return FsspecLocation(store=store, fs=fs, root=str(root).rstrip("/"), url=url, storage_options=so, source=url)


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
        return FsspecLocation(
            store=store if not path else FsspecStore(store.fs, path=root, read_only=store.read_only),
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
