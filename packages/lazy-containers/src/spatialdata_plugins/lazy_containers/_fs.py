"""Filesystem access for container targets: local paths and fsspec URLs, fingerprints for integrity checks."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import fsspec

# credentials are never written into a store: they come back from the environment or fsspec's configuration
SECRET_OPTION_KEYS = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "session_token",
        "client_secret",
        "access_key",
        "secret_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "account_key",
        "sas_token",
        "credentials",
    }
)


def is_url(location: str) -> bool:
    """Whether ``location`` is a URL with a scheme (``s3://...``), as opposed to a local path."""
    return "://" in location


def normalise_location(location: str | os.PathLike[str]) -> str:
    """Return an absolute local path, or the URL unchanged (``file://`` URLs become local paths)."""
    text = os.fspath(location)
    if not isinstance(text, str) or not text:
        raise TypeError(f"location must be a non-empty path or URL, got {location!r}")
    if text.startswith("file://"):
        text = text[len("file://") :]
    if is_url(text):
        return text
    return os.path.abspath(os.path.expanduser(text))


def public_storage_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` without credentials (what is written into a store)."""
    return {k: v for k, v in (options or {}).items() if k.lower() not in SECRET_OPTION_KEYS}


def filesystem(location: str, storage_options: dict[str, Any] | None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem and path of ``location``."""
    if not is_url(location):
        return fsspec.filesystem("file"), location
    return fsspec.core.url_to_fs(location, **(storage_options or {}))


def fingerprint(location: str, storage_options: dict[str, Any] | None, checksum: bool = False) -> dict[str, Any]:
    """Size and modification time (and an ETag on object stores, a SHA-256 if asked) of a file or directory.

    A directory (an AnnData ``.zarr``) is summarised by its number of files, total size and newest modification time.
    """
    fs, path = filesystem(location, storage_options)
    info = fs.info(path)
    out: dict[str, Any] = {}
    if info.get("type") == "directory":
        files = fs.find(path, detail=True)
        out["files"] = len(files)
        out["size"] = int(sum(int(f.get("size") or 0) for f in files.values()))
        mtimes = [_mtime(f) for f in files.values()]
        mtimes = [m for m in mtimes if m is not None]
        if mtimes:
            out["mtime"] = max(mtimes)
    else:
        out["size"] = int(info.get("size") or 0)
        mtime = _mtime(info)
        if mtime is not None:
            out["mtime"] = mtime
        etag = info.get("ETag") or info.get("etag")
        if etag:
            out["etag"] = str(etag).strip('"')
        if checksum:
            digest = hashlib.sha256()
            with fs.open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(block)
            out["sha256"] = digest.hexdigest()
    return out


def _mtime(info: dict[str, Any]) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None


def fingerprint_changes(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences between two fingerprints, comparing only what both recorded.

    When both record a SHA-256 and it is the same, the content did not change: a new modification time (a file
    copied, downloaded or written again with the same bytes) is not a change.
    """
    if "sha256" in recorded and recorded.get("sha256") == current.get("sha256"):
        return []
    changes = []
    for key in ("sha256", "size", "files", "mtime", "etag"):
        if key in recorded and key in current and recorded[key] != current[key]:
            changes.append(f"{key} {recorded[key]!r} -> {current[key]!r}")
    return changes
