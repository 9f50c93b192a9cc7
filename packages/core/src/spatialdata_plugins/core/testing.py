"""Pytest fixtures for spatialdata-plugins packages and third-party plugin authors.

Installed as a pytest plugin (entry point ``pytest11``), so every test suite that has the core installed gets:

``sdp_registry``
    A fresh registry with only the built-in defaults, installed as the process-wide one for the test.
``sdp_register``
    ``sdp_register(plugin, name=...)`` registers a plugin object on that registry.
``sdp_fake_entry_points``
    ``sdp_fake_entry_points([("name", "module:attr"), ...])`` builds a fresh registry that discovers those entry points
    exactly as installed ones (``importlib.metadata.EntryPoint`` objects, no installation).
``synthetic_sdata``
    :func:`spatialdata_plugins.core.synthetic_sdata` with seed 0.
``CountingStore``
    A zarr store wrapper counting the bytes read through it, for partial-read assertions.
``s3_server`` / ``s3_bucket``
    A real S3-protocol server (moto) on 127.0.0.1 for the test session, and a fresh bucket with its
    ``storage_options``. Needs ``moto[server]`` and ``s3fs``; tests are skipped when they are missing.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from zarr.storage import WrapperStore

from spatialdata_plugins.core._registry import Registry, set_registry


class CountingStore(WrapperStore):
    """Wrap a zarr v3 store and count the bytes read through every read path (async, sync, ranged).

    Parameters
    ----------
    store
        The store to wrap.

    Attributes
    ----------
    bytes_read
        Bytes returned so far; set it to 0 to start a new measurement.
    """

    def __init__(self, store: Any, _counter: list[int] | None = None) -> None:
        super().__init__(store)
        # zarr re-wraps stores (``with_read_only``); every copy shares one counter
        self._counter = _counter if _counter is not None else [0]

    def _with_store(self, store: Any) -> CountingStore:
        return type(self)(store, self._counter)

    @property
    def bytes_read(self) -> int:  # noqa: D102
        return self._counter[0]

    @bytes_read.setter
    def bytes_read(self, value: int) -> None:
        self._counter[0] = value

    def _count(self, buf: Any) -> Any:
        if buf is not None:
            self._counter[0] += len(buf)
        return buf

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:  # noqa: D102
        return self._count(await super().get(key, prototype, byte_range))

    def get_sync(self, key: str, *, prototype: Any = None, byte_range: Any = None) -> Any:  # noqa: D102
        return self._count(super().get_sync(key, prototype=prototype, byte_range=byte_range))

    async def get_partial_values(self, prototype: Any, key_ranges: Any) -> list[Any]:  # noqa: D102
        return [self._count(b) for b in await super().get_partial_values(prototype, key_ranges)]

    async def get_ranges(self, key: str, byte_ranges: Any, **kwargs: Any) -> Any:  # noqa: D102
        async for group in super().get_ranges(key, byte_ranges, **kwargs):
            for _, buf in group:
                self._count(buf)
            yield group


@pytest.fixture
def sdp_registry() -> Iterator[Registry]:
    """A fresh registry with only the core defaults, made process-wide for the duration of the test."""
    registry = Registry(load_entry_points=False)
    previous = set_registry(registry)
    try:
        yield registry
    finally:
        set_registry(previous)


@pytest.fixture
def sdp_register(sdp_registry: Registry) -> Iterator[Callable[..., Any]]:
    """Register plugin objects on the fresh registry; they are unregistered after the test."""
    names: list[str] = []

    def register(plugin: object, name: str | None = None, distribution: str | None = None) -> Any:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        names.append(name)
        return sdp_registry.register(plugin, name=name, distribution=distribution)

    yield register
    for name in names:
        sdp_registry.unregister(name)


@pytest.fixture
def sdp_fake_entry_points() -> Iterator[Callable[[list[tuple[str, str]]], Registry]]:
    """Build a registry from fake entry points ``[(name, "module:attr"), ...]`` and make it process-wide."""
    previous: list[Registry | None] = []

    def make(specs: list[tuple[str, str]]) -> Registry:
        eps = [EntryPoint(name=name, value=value, group="spatialdata_plugins") for name, value in specs]
        registry = Registry(entry_points_override=eps)
        previous.append(set_registry(registry))
        return registry

    yield make
    if previous:
        set_registry(previous[0])


@pytest.fixture
def synthetic_sdata() -> Any:
    """A small synthetic SpatialData with every element kind."""
    from spatialdata_plugins.core._synthetic import synthetic_sdata as make

    return make(seed=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, Any]]:
    """Start a moto S3 server on 127.0.0.1 for the whole test session; yield its ``storage_options``."""
    moto_server = pytest.importorskip("moto.moto_server.threaded_moto_server")
    pytest.importorskip("s3fs")
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    options = {
        "key": "testing",
        "secret": "testing",
        "endpoint_url": endpoint,
        "client_kwargs": {"region_name": "us-east-1"},
    }
    try:
        yield {"endpoint_url": endpoint, "storage_options": options}
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A fresh bucket on the test S3 server: ``{"bucket", "url", "storage_options"}``."""
    import boto3
    import s3fs

    options = s3_server["storage_options"]
    name = f"sdp-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=options["endpoint_url"],
        aws_access_key_id=options["key"],
        aws_secret_access_key=options["secret"],
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    fs = s3fs.S3FileSystem(**options)
    yield {"bucket": name, "url": f"s3://{name}", "storage_options": options}
    try:
        fs.rm(name, recursive=True)
    except FileNotFoundError:
        pass
