"""Integration: plugins discovered through real installed-distribution metadata, in a fresh process.

Each test lays out a distribution (``*.dist-info`` with ``entry_points.txt``) on a directory put on ``PYTHONPATH``,
exactly what ``pip install`` leaves behind, and runs the real ``spatialdata-plugins`` command against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXE = Path(sys.executable).parent / "spatialdata-plugins"


def _install(site: Path, dist: str, version: str, module: str, source: str, entry_name: str) -> None:
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[spatialdata_plugins]\n{entry_name} = {module}\n")
    (info / "RECORD").write_text("")


GOOD = """
    import click
    from spatialdata_plugins.core import hookimpl

    @hookimpl
    def sdp_register_commands(cli):
        @cli.command("greet")
        def greet():
            '''Greet.'''
            click.echo("greetings from an installed plugin")

    @hookimpl
    def sdp_demo(sdata, workdir, echo):
        echo("installed plugin demo step ran")
"""

BROKEN = """
    raise ImportError("this plugin needs libfoo, which is not installed")
"""


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "sdp-good-plugin", "1.2.3", "sdp_good_plugin", GOOD, "good")
    _install(site, "sdp-broken-plugin", "0.0.1", "sdp_broken_plugin", BROKEN, "broken")
    return site


def _run(site: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(site), **(env or {})}
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, env=full_env, timeout=300)


def test_plugins_listing_with_a_broken_plugin_installed(site):
    proc = _run(site, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    listing = {p["name"]: p for p in json.loads(proc.stdout)}
    # installed plugins answer in the order of their names, the defaults last
    loaded_by_name = sorted(name for name, p in listing.items() if p["loaded"] and name != "core-defaults")
    assert listing["good"] == {
        "name": "good",
        "distribution": "sdp-good-plugin",
        "version": "1.2.3",
        "hooks": ["sdp_demo", "sdp_register_commands"],
        "loaded": True,
        "error": None,
        "disabled": False,
        "order": loaded_by_name.index("good"),
    }
    assert listing["core-defaults"]["order"] == len(loaded_by_name)
    assert listing["broken"]["loaded"] is False and "libfoo" in listing["broken"]["error"]
    assert listing["broken"]["order"] is None
    assert listing["broken"]["distribution"] == "sdp-broken-plugin"
    assert listing["core-defaults"]["loaded"] is True
    table = _run(site, "plugins")
    assert "FAILED" in table.stdout and "sdp-good-plugin" in table.stdout


def test_broken_plugin_warns_and_the_rest_works(site, tmp_path):
    proc = _run(site, "greet")
    assert proc.returncode == 0, proc.stderr
    assert "greetings from an installed plugin" in proc.stdout
    assert "PluginLoadWarning" in proc.stderr and "broken" in proc.stderr
    demo = _run(site, "demo", "--workdir", str(tmp_path / "demo"), "--points", "1000", "--no-progress")
    assert demo.returncode == 0, demo.stderr
    assert "installed plugin demo step ran" in demo.stdout


@pytest.mark.parametrize("disable", ["good", "good,broken", "*"])
def test_disable_variable(site, disable):
    proc = _run(site, "plugins", "--json", env={"SPATIALDATA_PLUGINS_DISABLE": disable})
    listing = {p["name"]: p for p in json.loads(proc.stdout)}
    assert listing["good"]["disabled"] and not listing["good"]["loaded"]
    if disable != "good":
        assert listing["broken"]["disabled"]
        assert "PluginLoadWarning" not in proc.stderr
    assert listing["core-defaults"]["loaded"]
    assert _run(site, "greet", env={"SPATIALDATA_PLUGINS_DISABLE": disable}).returncode != 0


def test_loading_every_plugin_imports_no_heavy_library():
    """Every ``spatialdata-plugins`` command loads all plugins' entry points: that must not import zarr, spatialdata,
    dask or the plugins' own heavy dependencies (they load on first use)."""
    code = textwrap.dedent(
        """
        import json, sys
        from spatialdata_plugins.core import get_registry, list_plugins
        get_registry()
        heavy = ("zarr", "spatialdata", "dask", "icechunk", "multiview_stitcher", "geopandas", "anndata", "tifffile",
                 "neuroglancer", "selenium", "duckdb")
        loaded = [m for m in heavy if m in sys.modules]
        print(json.dumps({"plugins": [p.name for p in list_plugins()], "heavy": loaded}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"transforms", "lazy-containers", "points-index", "viewer", "relations"} <= set(result["plugins"])
    assert result["heavy"] == []
