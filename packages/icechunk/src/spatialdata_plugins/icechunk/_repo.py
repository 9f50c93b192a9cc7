"""Opening icechunk repositories (local or S3) and resolving branches, tags and snapshots into sessions."""

from __future__ import annotations

import os
from typing import Any

import icechunk
import zarr

from spatialdata_plugins.core import ELEMENT_TYPES, InvalidArgumentError
from spatialdata_plugins.icechunk._errors import NotARepositoryError, ReadOnlySessionError, RefNotFoundError

DEFAULT_BRANCH = "main"

# fsspec-style S3 option names (as used by the core and s3fs) and their icechunk ``s3_storage`` equivalents
_S3_ALIASES = {
    "key": "access_key_id",
    "secret": "secret_access_key",
    "token": "session_token",
    "anon": "anonymous",
    "aws_access_key_id": "access_key_id",
    "aws_secret_access_key": "secret_access_key",
    "region_name": "region",
}
_S3_KEYS = {
    "endpoint_url",
    "region",
    "allow_http",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "anonymous",
    "from_env",
    "force_path_style",
}


def s3_storage_from_url(url: str, storage_options: dict[str, Any] | None = None) -> icechunk.Storage:
    """Build icechunk S3 storage for ``s3://bucket/prefix``.

    ``storage_options`` take icechunk's :func:`icechunk.s3_storage` names (``endpoint_url``, ``access_key_id``,
    ``secret_access_key``, ``region``, ``allow_http``, ``force_path_style``, ``anonymous``, ``from_env``) or the
    fsspec/s3fs names used elsewhere in spatialdata-plugins (``key``, ``secret``, ``token``, ``anon``,
    ``client_kwargs={"region_name": ...}``). A custom ``endpoint_url`` (MinIO, moto, Ceph...) turns on path-style
    addressing, and plain ``http://`` endpoints are allowed.

    Parameters
    ----------
    url
        ``s3://bucket`` or ``s3://bucket/prefix``.
    storage_options
        Credentials and endpoint.

    Returns
    -------
    icechunk.Storage
        The storage.
    """
    rest = url.split("://", 1)[1] if "://" in url else url[len("s3:") :]
    bucket, _, prefix = rest.strip("/").partition("/")
    if not bucket:
        raise InvalidArgumentError(f"{url!r} names no bucket; use s3://bucket/prefix")
    options: dict[str, Any] = {}
    for key, value in dict(storage_options or {}).items():
        if key == "client_kwargs":
            if isinstance(value, dict) and "region_name" in value:
                options["region"] = value["region_name"]
            continue
        key = _S3_ALIASES.get(key, key)
        if key not in _S3_KEYS:
            raise InvalidArgumentError(
                f"unknown S3 storage option {key!r} for {url}; known: {sorted(_S3_KEYS | set(_S3_ALIASES))}"
            )
        options[key] = value
    endpoint = options.get("endpoint_url")
    if endpoint:
        options.setdefault("force_path_style", True)
        options.setdefault("allow_http", str(endpoint).startswith("http://"))
    if not any(k in options for k in ("access_key_id", "anonymous", "from_env")):
        options["from_env"] = True
    return icechunk.s3_storage(bucket=bucket, prefix=prefix or None, **options)


def storage_for(target: Any, storage_options: dict[str, Any] | None = None) -> icechunk.Storage:
    """Turn a local path, ``s3://`` URL, ``memory://`` or :class:`icechunk.Storage` into icechunk storage."""
    if isinstance(target, icechunk.Storage):
        return target
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str):
        raise InvalidArgumentError(
            f"cannot open an icechunk repository from {type(target).__name__}: give a local path, an s3:// URL, "
            "an icechunk.Storage or an icechunk.Repository"
        )
    if target.startswith("s3://") or target.startswith("s3:"):
        return s3_storage_from_url(target, storage_options)
    if target.startswith("memory://"):
        return icechunk.in_memory_storage()
    if target.startswith("file://"):
        target = target[len("file://") :]
    if "://" in target:
        raise InvalidArgumentError(f"unsupported URL {target!r}: use a local path or s3://bucket/prefix")
    return icechunk.local_filesystem_storage(os.path.abspath(target))


def describe(repo: icechunk.Repository) -> str:
    """A one-line description of where a repository lives (``local filesystem /x/y``, ``s3://bucket/prefix``)."""
    return describe_storage(repo.storage)


def repo_key(repo: icechunk.Repository) -> str:
    """A key equal for two ``Repository`` objects opened on the same storage."""
    return repr(repo.storage)


def open_repository(
    target: Any,
    *,
    create: bool = False,
    storage_options: dict[str, Any] | None = None,
    config: icechunk.RepositoryConfig | None = None,
) -> icechunk.Repository:
    """Open an icechunk repository holding SpatialData, or create one.

    Parameters
    ----------
    target
        A local path (``"analysis.icechunk"``), an S3 URL (``"s3://bucket/prefix"``), ``"memory://"`` (a repository
        that lives in this process only), an :class:`icechunk.Storage`, or an :class:`icechunk.Repository` (returned
        as it is).
    create
        Create the repository if it does not exist. A new repository gets a first commit holding an empty
        SpatialData root (the five element groups), so that transactions can start from it.
    storage_options
        For S3: ``endpoint_url``, ``access_key_id``/``key``, ``secret_access_key``/``secret``, ``region``,
        ``allow_http``, ``force_path_style``, ``anonymous``, ``from_env`` (see :func:`s3_storage_from_url`).
    config
        An :class:`icechunk.RepositoryConfig` (caching, compression...).

    Returns
    -------
    icechunk.Repository
        The repository.

    Raises
    ------
    NotARepositoryError
        Nothing, or something else than an icechunk repository, is at ``target`` and ``create`` is false.

    Examples
    --------
    >>> import spatialdata_plugins.icechunk as sdi  # doctest: +SKIP
    >>> repo = sdi.open_repository("analysis.icechunk", create=True)  # doctest: +SKIP
    """
    if isinstance(target, icechunk.Repository):
        return target
    storage = storage_for(target, storage_options)
    where = target if isinstance(target, str | os.PathLike) else describe_storage(storage)
    try:
        exists = icechunk.Repository.exists(storage)
    except icechunk.IcechunkError as exc:
        raise NotARepositoryError(f"cannot reach {where} to open an icechunk repository: {exc}") from exc
    if exists:
        return icechunk.Repository.open(storage, config=config)
    if not create:
        extra = ""
        if isinstance(target, str | os.PathLike) and os.path.exists(os.fspath(target)):
            extra = " (the path exists but is not an icechunk repository)"
        raise NotARepositoryError(f"no icechunk repository at {where}{extra}; pass create=True to create one")
    try:
        repo = icechunk.Repository.create(storage, config=config)
    except icechunk.IcechunkError as exc:
        raise NotARepositoryError(
            f"cannot create an icechunk repository at {where}: {exc}. The location must be empty"
        ) from exc
    _initialise(repo)
    return repo


def describe_storage(storage: icechunk.Storage) -> str:
    """One-line description of a storage object."""
    fields = {}
    for line in repr(storage).splitlines()[1:]:
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    kind = fields.get("type", "")
    if "bucket" in fields:
        url = f"s3://{fields['bucket']}/{fields.get('prefix', '')}".rstrip("/")
        return f"{url} ({fields['endpoint_url']})" if fields.get("endpoint_url") else url
    if "path" in fields:
        return f"{kind} {fields['path']}".strip()
    return kind or "icechunk storage"


def _initialise(repo: icechunk.Repository) -> None:
    """First commit of a new repository: a SpatialData root with spatialdata's attributes and the element groups."""
    from spatialdata._io.format import CurrentSpatialDataContainerFormat

    fmt = CurrentSpatialDataContainerFormat()
    session = repo.writable_session(DEFAULT_BRANCH)
    root = zarr.open_group(session.store, mode="w", zarr_format=3)
    root.attrs.put({"spatialdata_attrs": {"version": fmt.spatialdata_format_version} | fmt.attrs_to_dict()})
    for element_type in ELEMENT_TYPES:
        # creating the type groups once here keeps two later transactions that add elements of the same type from
        # conflicting on the creation of the group
        root.require_group(element_type)
    session.commit("Initialise SpatialData repository", metadata={"spatialdata_plugins": {"initialise": True}})


def readonly_session(
    repo: icechunk.Repository,
    *,
    branch: str | None = None,
    tag: str | None = None,
    snapshot: str | None = None,
) -> icechunk.Session:
    """A read-only session on a branch tip (default ``main``), a tag or a snapshot id.

    Raises
    ------
    RefNotFoundError
        The branch, tag or snapshot does not exist.
    InvalidArgumentError
        More than one of ``branch``, ``tag``, ``snapshot`` was given.
    """
    given = {k: v for k, v in {"branch": branch, "tag": tag, "snapshot": snapshot}.items() if v is not None}
    if len(given) > 1:
        raise InvalidArgumentError(f"give at most one of branch, tag, snapshot (got {sorted(given)})")
    if not given:
        given = {"branch": DEFAULT_BRANCH}
    ((kind, value),) = given.items()
    try:
        if kind == "branch":
            return repo.readonly_session(branch=value)
        if kind == "tag":
            return repo.readonly_session(tag=value)
        return repo.readonly_session(snapshot_id=value)
    except (icechunk.NotFoundError, icechunk.InvalidInputError) as exc:
        raise _ref_error(repo, kind, value) from exc


def _ref_error(repo: icechunk.Repository, kind: str, value: str) -> RefNotFoundError:
    if kind == "branch":
        known = f"branches: {sorted(repo.list_branches())}"
    elif kind == "tag":
        known = f"tags: {sorted(repo.list_tags())}"
    else:
        known = "list snapshots with spatialdata_plugins.icechunk.log(repo)"
    return RefNotFoundError(f"{describe(repo)} has no {kind} {value!r}; {known}")


def writable_session(repo: icechunk.Repository, branch: str = DEFAULT_BRANCH) -> icechunk.Session:
    """A writable session on the tip of ``branch``.

    Raises
    ------
    RefNotFoundError
        The branch does not exist.
    """
    try:
        return repo.writable_session(branch)
    except (icechunk.NotFoundError, icechunk.InvalidInputError) as exc:
        raise _ref_error(repo, "branch", branch) from exc


def resolve_ref(repo: icechunk.Repository, ref: str) -> str:
    """Snapshot id of a branch name, a tag name or a snapshot id (tried in that order).

    Raises
    ------
    RefNotFoundError
        ``ref`` is neither.
    """
    if ref in repo.list_branches():
        return repo.lookup_branch(ref)
    if ref in repo.list_tags():
        return repo.lookup_tag(ref)
    try:
        return repo.lookup_snapshot(ref).id
    except (icechunk.NotFoundError, icechunk.InvalidInputError):
        raise RefNotFoundError(
            f"{ref!r} is no branch ({sorted(repo.list_branches())}), tag ({sorted(repo.list_tags())}) or "
            f"snapshot id of {describe(repo)}"
        ) from None


def require_writable(session: icechunk.Session) -> None:
    """Raise :class:`ReadOnlySessionError` for a read-only session."""
    if session.read_only:
        raise ReadOnlySessionError(
            f"session on snapshot {session.snapshot_id} is read-only (opened on a tag, a snapshot or with "
            "readonly_session); open a writable one with repo.writable_session(branch) or pass the repository"
        )
