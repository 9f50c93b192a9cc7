"""The stitch plugin as installed: found through its real entry point, its CLI command on the real command line."""

from __future__ import annotations

import subprocess
import sys

from spatialdata_plugins.core import list_plugins


def test_stitch_is_discovered_through_its_entry_point():
    info = {p.name: p for p in list_plugins(refresh=True)}
    assert info["stitch"].loaded, info["stitch"].error
    assert info["stitch"].distribution == "spatialdata-plugins-stitch"
    assert {"sdp_register_commands", "sdp_demo"} <= set(info["stitch"].hooks)


def test_stitch_command_on_the_installed_command_line():
    out = subprocess.run(
        [sys.executable, "-c", "from spatialdata_plugins.core import cli_main; cli_main(['stitch', '--help'])"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "--elements" in out.stdout and "--out" in out.stdout
