"""The command line: plugins, info, demo, and commands added by plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from spatialdata_plugins.core import write
from spatialdata_plugins.core._cli import build_cli, cli, main


def test_plugins_json(sdp_fake_entry_points):
    with pytest.warns(Warning):
        sdp_fake_entry_points([("good", "plugins_for_tests.good"), ("broken", "plugins_for_tests.broken_import")])
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listing = {p["name"]: p for p in json.loads(result.output)}
    assert listing["core-defaults"]["loaded"] is True
    assert listing["good"]["loaded"] is True and "sdp_demo" in listing["good"]["hooks"]
    assert listing["broken"]["loaded"] is False and "a_dependency_that_is_not_installed" in listing["broken"]["error"]
    assert set(listing["good"]) == {"name", "distribution", "version", "hooks", "loaded", "error", "disabled", "order"}


def test_plugins_table(sdp_fake_entry_points):
    with pytest.warns(Warning):
        sdp_fake_entry_points([("broken", "plugins_for_tests.broken_import")])
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "FAILED" in result.output and "core-defaults" in result.output and "loaded" in result.output


def test_plugin_command_is_added(sdp_fake_entry_points):
    sdp_fake_entry_points([("good", "plugins_for_tests.good")])
    result = CliRunner().invoke(build_cli(), ["hello", "world"])
    assert result.exit_code == 0 and result.output.strip() == "hello world"


def test_info_reads_metadata_only(tmp_path, synthetic_sdata):
    out = tmp_path / "x.zarr"
    write(synthetic_sdata, out)
    # remove all pixel chunks and point rows: info must still work because it never loads data
    for dirpath, _, files in os.walk(out):
        for f in files:
            if "/c/" in os.path.join(dirpath, f) + "/" and "images" in dirpath:
                os.remove(os.path.join(dirpath, f))
    result = CliRunner().invoke(cli, ["info", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    by_name = {e["name"]: e for e in summary["elements"]}
    assert by_name["image"]["shape"] == [3, 256, 256] and by_name["image"]["coordinate_systems"] == [
        "global",
        "microns",
    ]
    assert by_name["image_multiscale"]["scales"] == 3
    assert by_name["transcripts"]["rows"] == 5000 and "gene" in by_name["transcripts"]["columns"]
    assert by_name["cells"]["rows"] == 40
    assert by_name["table"]["n_obs"] == 40 and by_name["table"]["n_vars"] == 20
    assert set(summary["coordinate_systems"]) == {"global", "microns", "shifted", "rotated"}
    text = CliRunner().invoke(cli, ["info", str(out)]).output
    assert "transcripts" in text and "5000 rows" in text


@pytest.mark.s3
def test_info_on_s3(s3_bucket, synthetic_sdata):
    url = f"{s3_bucket['url']}/x.zarr"
    so = s3_bucket["storage_options"]
    write(synthetic_sdata, url, storage_options=so)
    args = ["info", url, "--json"] + [a for k, v in so.items() for a in ("-s", f"{k}={json.dumps(v)}")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert {e["name"] for e in json.loads(result.output)["elements"]} >= {"image", "transcripts", "table"}


def test_errors_are_reported_not_raised(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["info", str(tmp_path / "missing.zarr")])
    assert exc.value.code == 2
    assert "nothing exists" in capsys.readouterr().err


def test_demo_in_process(tmp_path, sdp_fake_entry_points):
    sdp_fake_entry_points([("good", "plugins_for_tests.good")])
    result = CliRunner().invoke(build_cli(), ["demo", "--workdir", str(tmp_path), "--points", "2000", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "identical to plain spatialdata.read_zarr" in result.output
    assert "good-plugin demo step saw 7 elements" in result.output
    assert (tmp_path / "demo.zarr" / "zarr.json").exists()
    assert str(tmp_path) in result.output


def test_console_scripts_installed():
    for name in ("spatialdata-plugins", "sdp"):
        exe = os.path.join(os.path.dirname(sys.executable), name)
        proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "plugins" in proc.stdout and "demo" in proc.stdout
