"""The ``view`` command, index building on request, and points served from S3 and icechunk stores."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from ng_reader import Layout
from viewer_helpers import make_points, make_sdata

from spatialdata_plugins.core import write
from spatialdata_plugins.core.testing import CountingStore
from spatialdata_plugins.points_index import PointsIndex, open_points_index
from spatialdata_plugins.viewer import PointsSource, ViewerWarning, view

EXE = Path(sys.executable).parent / "spatialdata-plugins"


def _get(url: str, cors: bool = True) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        assert not cors or r.headers["Access-Control-Allow-Origin"] == "*"  # the client comes from another port
        return r.read()


def _all_points(base: str, max_level: int | None = None) -> list:
    info = json.loads(_get(f"{base}/info"))
    layout = Layout(info)
    urls = [
        f"{base}/spatial{lv}/{i}_{j}_0"
        for lv, level in enumerate(info["spatial"][: None if max_level is None else max_level + 1])
        for i in range(level["grid_shape"][0])
        for j in range(level["grid_shape"][1])
    ]
    with ThreadPoolExecutor(8) as pool:  # concurrent requests, as a browser sends them
        bodies = list(pool.map(_get, urls))
    return sorted((g, p["gene"]) for body in bodies for _, g, p in layout.decode_many(body))


def test_view_command_serves_and_stops_cleanly(store):
    proc = subprocess.Popen(
        [str(EXE), "view", store, "--genes", "A,B", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = {}
        while "viewer" not in lines:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            key, _, value = line.partition(": ")
            lines[key] = value.strip()
        assert "transcripts (points)" in lines["layers"] and "image (images)" in lines["layers"]
        assert b"<html" in _get(lines["viewer"], cors=False).lower()  # neuroglancer's client page
        info = json.loads(_get(f"{lines['data']}/points/transcripts/info"))
        assert info["properties"][0]["enum_labels"] == ["A", "B", "C"]
        with pytest.raises(urllib.error.HTTPError):
            _get(f"{lines['data']}/points/nothing/info")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "viewer stopped" in out


def test_unknown_gene_is_a_clear_error(store):
    from spatialdata_plugins.points_index import UnknownGeneError

    with pytest.raises(UnknownGeneError, match="'Z'"):
        view(store, genes=["A", "Z"])


def test_points_without_index_are_skipped_or_built(tmp_path):
    path = str(tmp_path / "noindex.zarr")
    write(make_sdata(), path)
    with pytest.warns(ViewerWarning, match="--build-index"), view(path) as session:
        assert "transcripts" not in session.layers and "image" in session.layers
    with view(path, build_index=True, progress=False) as session:
        assert session.layers["transcripts"] == "points"
        served = _all_points(f"{session.server.url}/points/transcripts")
    assert len(served) == len(make_points())
    open_points_index(path, "transcripts")  # the index was stored beside the points


def test_points_served_from_s3(store, s3_bucket):
    url = f"{s3_bucket['url']}/data.zarr"
    so = s3_bucket["storage_options"]
    write(make_sdata(), url, storage_options=so, points_index={"transcripts": {"points_per_chunk": 16}})
    with view(url, storage_options=so, elements=["transcripts"]) as session:
        remote = _all_points(f"{session.server.url}/points/transcripts", max_level=3)
    with view(store, elements=["transcripts"]) as session:
        local = _all_points(f"{session.server.url}/points/transcripts", max_level=3)
    assert remote == local and len(local) > 100
    # one chunk reads its directory record and its rows' byte ranges, not the points element
    from spatialdata_plugins.core import read

    counting = CountingStore(read(url, storage_options=so).location.store)
    source = PointsSource(PointsIndex.from_path(counting, "points/transcripts"), "transcripts")
    counting.bytes_read = 0
    body = source.chunk(2, 1, 1)
    n = int(np.frombuffer(body[:8], "<u8")[0])
    assert 0 < counting.bytes_read < 24 * 1024 + n * 9


def test_points_served_from_icechunk(store, tmp_path):
    icechunk = pytest.importorskip("icechunk")
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "repo")))
    writable = repo.writable_session("main")
    write(make_sdata(), writable.store, points_index={"transcripts": {"points_per_chunk": 16}})
    writable.commit("store with a points index")
    ro = repo.readonly_session(branch="main")
    with view(ro.store, elements=["transcripts", "image"]) as session:
        served = _all_points(f"{session.server.url}/points/transcripts", max_level=3)
        assert _get(f"{session.server.url}/images/image/s1/0-64_0-64_0-1")[:1] == b"\x00"
    with view(store, elements=["transcripts"]) as session:
        assert served == _all_points(f"{session.server.url}/points/transcripts", max_level=3)
