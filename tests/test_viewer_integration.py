"""Integration: the viewer plugin discovered through its installed entry point adds ``view`` to the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).parent / "spatialdata-plugins"


def test_view_command_is_registered():
    proc = subprocess.run([str(EXE), "view", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for option in ("--coordinate-system", "--points", "--genes", "--build-index"):
        assert option in proc.stdout
    listing = subprocess.run([str(EXE), "plugins", "--json"], capture_output=True, text=True, timeout=120)
    assert '"viewer"' in listing.stdout
