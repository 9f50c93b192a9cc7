"""Parquet-in-zarr: the zarr-native encoding of points and shapes on key-value stores.

Key-value stores (``zarr.storage.MemoryStore``, icechunk) accept only zarr keys, so the parquet file that
spatialdata writes beside the zarr metadata cannot exist there. We store the very same parquet bytes in a
one-dimensional, uncompressed ``uint8`` zarr array chunked at ``chunk_bytes``. A reader sees a seekable file
whose byte-range reads fetch only the chunks they overlap, so pyarrow's footer, column and row-group reads stay
partial, exactly as on a filesystem. The layout is documented in ``docs/format.md``.

Version 1 holds one parquet file in the array ``parquet``. Version 2 (points written in parallel, one file per dask
partition) lists several complete parquet files, each in its own array, under ``"parts"`` in the attribute block;
readers treat the parts in order as one table, like the ``part.N.parquet`` files of a parquet directory.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import IO, Any

import numpy as np
import zarr

ENCODING_KEY = "spatialdata_plugins"
ENCODING_NAME = "parquet-in-zarr"
ENCODING_VERSION = 1
PARTS_ENCODING_VERSION = 2
BLOB_ARRAY = "parquet"
DEFAULT_CHUNK_BYTES = 256 * 1024


def encoding_attrs(kind: str, size: int, chunk_bytes: int) -> dict[str, Any]:
    """The attribute block that marks an element group as parquet-in-zarr."""
    return {
        "encoding": ENCODING_NAME,
        "version": ENCODING_VERSION,
        "kind": kind,
        "array": BLOB_ARRAY,
        "nbytes": int(size),
        "chunk_bytes": int(chunk_bytes),
    }


def parts_encoding_attrs(kind: str, parts: list[dict[str, Any]], chunk_bytes: int) -> dict[str, Any]:
    """The attribute block of a version-2 (multi-part) element: ``parts`` lists ``{"array", "nbytes", ...}``."""
    return {
        "encoding": ENCODING_NAME,
        "version": PARTS_ENCODING_VERSION,
        "kind": kind,
        "parts": [dict(p) for p in parts],
        "nbytes": int(sum(int(p["nbytes"]) for p in parts)),
        "chunk_bytes": int(chunk_bytes),
    }


def blob_parts(group: zarr.Group) -> list[dict[str, Any]]:
    """The parquet files of a parquet-in-zarr element group, in order: ``[{"array": name, "nbytes": n, ...}]``.

    A version-1 group has one part (its ``array``, normally ``"parquet"``); a version-2 group lists its parts.
    Entries may also carry ``rows`` and ``row_groups`` (recorded by the writer, so a reader need not open every
    footer).
    """
    meta = group.attrs.get(ENCODING_KEY) or {}
    parts = meta.get("parts")
    if parts is None:
        return [{"array": meta.get("array", BLOB_ARRAY), "nbytes": meta.get("nbytes")}]
    return [dict(p) for p in parts]


def is_blob_encoded(group: zarr.Group) -> bool:
    """Whether an element group holds its table as parquet-in-zarr."""
    meta = group.attrs.get(ENCODING_KEY)
    return isinstance(meta, dict) and meta.get("encoding") == ENCODING_NAME


def write_blob(
    group: zarr.Group,
    source: IO[bytes],
    size: int,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    name: str = BLOB_ARRAY,
) -> zarr.Array:
    """Copy ``size`` bytes of ``source`` into a new uint8 array ``group[name]``, one chunk at a time.

    Parameters
    ----------
    group
        Element group to create the array in.
    source
        Readable binary file positioned at the start of the data.
    size
        Number of bytes to copy.
    chunk_bytes
        Chunk size of the array: the granularity of partial reads.
    name
        Name of the array (``"parquet"``; the parts of a version-2 element have their own names).

    Returns
    -------
    zarr.Array
        The array written.
    """
    arr = group.create_array(name, shape=(size,), chunks=(chunk_bytes,), dtype="uint8", compressors=None, fill_value=0)
    offset = 0
    while offset < size:
        block = source.read(min(chunk_bytes, size - offset))
        if not block:
            raise OSError(f"source ended after {offset} of {size} bytes while writing {group.path}/{name}")
        arr[offset : offset + len(block)] = np.frombuffer(block, dtype="uint8")
        offset += len(block)
    return arr


def write_blob_from_spooled(
    group: zarr.Group, spool: IO[bytes], chunk_bytes: int = DEFAULT_CHUNK_BYTES, name: str = BLOB_ARRAY
) -> int:
    """Write a finished temporary file into ``group`` as a blob (array ``name``); return its size."""
    size = spool.seek(0, io.SEEK_END)
    spool.seek(0)
    write_blob(group, spool, size, chunk_bytes, name)
    return size


class ZarrBlobFile(io.RawIOBase):
    """A read-only, seekable file over a parquet-in-zarr array.

    Each read fetches only the zarr chunks it overlaps; the last few chunks are cached because pyarrow reads a
    footer in several small steps.

    Parameters
    ----------
    array
        The ``uint8`` blob array.
    cache_chunks
        How many chunks to keep in memory.
    """

    def __init__(self, array: zarr.Array, cache_chunks: int = 4) -> None:
        super().__init__()
        self._array = array
        self._size = int(array.shape[0])
        self._chunk = int(array.chunks[0])
        self._pos = 0
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_chunks = cache_chunks

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def size(self) -> int:
        """Total size in bytes."""
        return self._size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def _chunk_bytes(self, index: int) -> bytes:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        start = index * self._chunk
        data = np.asarray(self._array[start : min(start + self._chunk, self._size)]).tobytes()
        self._cache[index] = data
        if len(self._cache) > self._cache_chunks:
            self._cache.popitem(last=False)
        return data

    def _read_range(self, start: int, stop: int) -> bytes:
        first, last = start // self._chunk, (stop - 1) // self._chunk
        if last - first > 1:
            # a large read: fetch the inner chunks in one array read, only the edges go through the cache
            head = self._chunk_bytes(first)[start - first * self._chunk :]
            middle = np.asarray(self._array[(first + 1) * self._chunk : last * self._chunk]).tobytes()
            tail = self._chunk_bytes(last)[: stop - last * self._chunk]
            return head + middle + tail
        parts = [self._chunk_bytes(i) for i in range(first, last + 1)]
        joined = b"".join(parts)
        offset = first * self._chunk
        return joined[start - offset : stop - offset]

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        stop = min(self._pos + len(view), self._size)
        if stop <= self._pos:
            return 0
        data = self._read_range(self._pos, stop)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def readall(self) -> bytes:
        if self._pos >= self._size:
            return b""
        data = self._read_range(self._pos, self._size)
        self._pos = self._size
        return data


def open_blob(group: zarr.Group, name: str | None = None) -> ZarrBlobFile:
    """Open a parquet-in-zarr array of an element group as a file (default: the first, or only, part)."""
    return ZarrBlobFile(group[name if name is not None else blob_parts(group)[0]["array"]])
