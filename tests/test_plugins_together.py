"""The combinations issue 13 found broken, one test each, plus the rule that plugins use public surfaces only."""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import spatialdata
from spatialdata.models import PointsModel

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import ReadOnlyLocationError, SpatialData, read, write
from spatialdata_plugins.lazy_containers import InvalidContainerError, LazyContainer, ParquetPointsContainer
from spatialdata_plugins.points_index import build_points_index, open_points_index

ROOT = Path(__file__).resolve().parents[1]
BOX = (10.0, 10.0, 60.0, 40.0)


def _points(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.uniform(0, 100, n).astype("float32"),
            "y": rng.uniform(0, 100, n).astype("float32"),
            "gene": pd.Categorical(rng.choice(["g0", "g1", "g2"], n)),
        }
    )


def _inside(frame: pd.DataFrame) -> np.ndarray:
    x0, y0, x1, y1 = BOX
    sel = frame[(frame.x >= x0) & (frame.x < x1) & (frame.y >= y0) & (frame.y < y1)]
    return np.sort(sel.x.to_numpy())


def _query_x(index) -> np.ndarray:
    return np.sort(np.asarray(index.query(BOX)["x"]))


@pytest.fixture
def link(tmp_path):
    frame = _points(seed=4)
    frame.to_parquet(tmp_path / "pts.parquet")
    return frame, ParquetPointsContainer(tmp_path / "pts.parquet", key="pts")


@pytest.fixture
def repo_with_points(tmp_path):
    repo = sdi.open_repository(tmp_path / "r.icechunk", create=True)
    sdata = SpatialData(points={"transcripts": PointsModel.parse(_points(), feature_key="gene")})
    sdi.write(sdata, repo, message="points")
    return repo


def test_sdi_write_keeps_a_link_even_alone(tmp_path, link):
    _, container = link
    repo = sdi.open_repository(tmp_path / "r.icechunk", create=True)
    sdata = SpatialData()
    sdata.attach(container)
    sdi.write(sdata, repo, message="only a link")
    back = sdi.read(repo)
    assert back.is_lazy("pts")
    pd.testing.assert_frame_equal(back["pts"].compute().reset_index(drop=True), pd.read_parquet(container.location))


def test_link_attached_inside_a_transaction_is_committed(repo_with_points, link):
    _, container = link
    sdata = sdi.read(repo_with_points)
    with sdi.transaction(sdata) as tx:  # no repo: the one sdata was read from
        sdata.attach(container)
    assert tx.changes.added == ["pts"] and tx.snapshot_id is not None
    back = sdi.read(repo_with_points)
    assert back.is_lazy("pts") and "transcripts" in back.points
    # deleting it in another transaction removes the link, and nothing else
    with sdi.transaction(back, message="drop the link"):
        del back["pts"]
    again = sdi.read(repo_with_points)
    assert "pts" not in again and "transcripts" in again.points


def test_transaction_needs_a_repository_only_when_the_object_has_none():
    with pytest.raises(ValueError, match="pass the repository"):
        sdi.transaction(SpatialData())


def test_points_index_inside_a_transaction_on_a_read_only_snapshot(repo_with_points):
    sdata = sdi.read(repo_with_points)
    with pytest.raises(ReadOnlyLocationError, match="inside a transaction"):
        build_points_index(sdata, "transcripts", progress=False)  # outside a transaction: says what to do
    before = repo_with_points.lookup_branch("main")
    with sdi.transaction(sdata, message="index") as tx:
        assert build_points_index(sdata, "transcripts", progress=False) is None  # committed with the transaction
    back = sdi.read(repo_with_points)
    np.testing.assert_array_equal(_query_x(open_points_index(back, "transcripts")), _inside(_points()))
    # the commit stored the index and left the points as stored (icechunk's own diff of the two snapshots)
    d = repo_with_points.diff(from_snapshot_id=before, to_snapshot_id=tx.snapshot_id)
    changed = {str(p) for p in [*d.new_arrays, *d.updated_arrays, *d.new_groups, *d.updated_groups]}
    changed |= {str(p) for p in d.updated_chunks}
    assert changed and all(p.startswith("/points/transcripts/points_index") for p in changed), changed
    assert tx.changes.refreshed == ["transcripts"] and not tx.changes.replaced
    assert sdi.log(repo_with_points)[0].refreshed == ["transcripts"]


def test_points_index_of_a_linked_element(tmp_path, link):
    frame, container = link
    sdata = SpatialData()
    sdata.attach(container)
    write(sdata, tmp_path / "s.zarr")
    stored = read(tmp_path / "s.zarr")
    index = build_points_index(stored, "pts", progress=False)  # loads the link, indexes it beside the link
    np.testing.assert_array_equal(_query_x(index), _inside(frame))
    back = read(tmp_path / "s.zarr")
    assert back.is_lazy("pts")
    np.testing.assert_array_equal(_query_x(open_points_index(back, "pts")), _inside(frame))
    # plain spatialdata still reads the store (the link and its index are invisible to it)
    assert set(spatialdata.read_zarr(tmp_path / "s.zarr").points) == set()


class _NoName(LazyContainer):
    element_type = "points"

    def read_raw(self):
        return pd.read_parquet(self.location)

    def to_element(self, raw):
        return PointsModel.parse(raw)


def test_container_without_type_name_gets_a_default_that_reads_back(tmp_path):
    _points().to_parquet(tmp_path / "p.parquet")
    assert _NoName.type_name == f"{__name__}:_NoName"
    sdata = SpatialData()
    sdata.attach(_NoName(tmp_path / "p.parquet", key="p"))
    write(sdata, tmp_path / "s.zarr")
    back = read(tmp_path / "s.zarr")
    assert type(back.attached["p"]) is _NoName
    assert len(back["p"].compute()) == len(_points())


def test_container_whose_name_resolves_elsewhere_is_refused(tmp_path):
    class Shadow(LazyContainer):
        type_name = "ParquetPoints"  # a built-in's name: reading the link back would build the built-in
        element_type = "points"

    sdata = SpatialData()
    sdata.attach(Shadow(tmp_path / "p.parquet", key="p"))
    with pytest.raises(Exception, match="resolves to") as info:
        write(sdata, tmp_path / "s.zarr")
    chain, exc = [], info.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__
    assert any(isinstance(e, InvalidContainerError) for e in chain), chain
    assert not (tmp_path / "s.zarr").exists()


def test_transaction_with_link_and_index_survives_sigkill(tmp_path, link):
    """Crash safety on the new path: a process killed inside the commit leaves the old or the new state."""
    _, container = link
    repo_path = tmp_path / "r.icechunk"
    repo = sdi.open_repository(repo_path, create=True)
    sdi.write(SpatialData(points={"t": PointsModel.parse(_points(), feature_key="gene")}), repo, message="base")
    script = textwrap.dedent(
        f"""
        import os, signal
        import spatialdata_plugins.icechunk as sdi
        from spatialdata_plugins.lazy_containers import ParquetPointsContainer
        from spatialdata_plugins.points_index import build_points_index
        sdata = sdi.read({str(repo_path)!r})
        with sdi.transaction(sdata, message="killed"):
            sdata.attach(ParquetPointsContainer({str(container.location)!r}, key="pts"))
            build_points_index(sdata, "t", progress=False)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    back = sdi.read(sdi.open_repository(repo_path))
    assert set(back.points) == {"t"} and "pts" not in back  # the old state, readable
    assert len(back["t"].compute()) == len(_points())


def _private_imports(path: Path, own: str | None) -> list[str]:
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "spatialdata_plugins" or len(parts) < 3:
                continue
            package, rest = parts[1], parts[2:]
            if package != own and any(p.startswith("_") and not p.startswith("__") for p in rest):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return bad


def test_no_package_imports_another_packages_private_modules():
    """The lint rule, run in CI by this test: plugins, their tests and the integration tests reach other packages
    through public names only."""
    bad = []
    for pkg in sorted((ROOT / "packages").iterdir()):
        src = pkg / "src" / "spatialdata_plugins"
        if not src.is_dir():
            continue
        own = pkg.name.replace("-", "_")
        for path in [*src.rglob("*.py"), *(pkg / "tests").rglob("*.py")]:
            bad += _private_imports(path, own)
    for path in (ROOT / "tests").rglob("*.py"):
        bad += _private_imports(path, None)
    assert not bad, "imports of another package's private modules:\n" + "\n".join(bad)
