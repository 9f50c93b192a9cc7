"""Integration: the real ``spatialdata-plugins`` command finds the icechunk commands through the entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spatialdata_plugins.icechunk")

EXE = Path(sys.executable).parent / "spatialdata-plugins"


def test_icechunk_commands_in_a_fresh_process(tmp_path):
    import spatialdata_plugins.icechunk as sdi
    from spatialdata_plugins.core import synthetic_sdata

    path = tmp_path / "repo.icechunk"
    sdi.write(synthetic_sdata(size=32, n_points=100, n_cells=4), sdi.open_repository(path, create=True), progress=False)
    out = subprocess.run([str(EXE), "icechunk", "--help"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for command in ("log", "tag", "branch", "diff"):
        assert command in out.stdout
    out = subprocess.run([str(EXE), "icechunk", "log", str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Write SpatialData" in out.stdout and "+transcripts" in out.stdout
