"""The core's public API and hook signatures type-check (mypy, configured in the root pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_core_type_checks():
    pytest.importorskip("mypy", reason="mypy is in the typecheck group (installed by the default dev group)")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "packages/core/src"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
