"""Meta-tests that keep the hook reference honest: every hook is documented and every hook is exercised by a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from spatialdata_plugins.core import hookspecs

HOOKS = sorted(name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("sdp_"))
ROOT = Path(__file__).resolve().parents[3]
TESTS = Path(__file__).resolve().parent


def test_hooks_exist():
    assert "sdp_open_store" in HOOKS and len(HOOKS) >= 8


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_numpy_docstring(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert "Parameters\n----------" in doc, f"{hook} needs a numpy-style docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    text = (ROOT / "docs" / "hooks.md").read_text()
    assert re.search(rf"^## `{hook}`", text, flags=re.MULTILINE), f"docs/hooks.md has no section for {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    """A test (other than this file) implements or calls the hook."""
    sources = [p.read_text() for p in TESTS.rglob("*.py") if p.name != Path(__file__).name]
    assert any(hook in s for s in sources), f"no test exercises {hook}"
