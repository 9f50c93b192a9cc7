"""The ``points-index`` command group and the demo step."""

from __future__ import annotations

import json

from click.testing import CliRunner
from pi_helpers import brute, make_points, sdata_with_points

from spatialdata_plugins.core import write


def _cli(plugin):
    import click

    @click.group()
    def cli() -> None:
        pass

    plugin.sdp_register_commands(cli)
    return cli


def test_build_query_info(plugin, tmp_path):
    df = make_points(5_000, seed=2)
    path = str(tmp_path / "d.zarr")
    write(sdata_with_points(df), path)
    cli = _cli(plugin)
    runner = CliRunner()
    res = runner.invoke(
        cli, ["points-index", "build", path, "transcripts", "--no-progress", "--points-per-chunk", "32"]
    )
    assert res.exit_code == 0, res.output
    assert "indexed 5000 points" in res.output
    out = tmp_path / "q.csv"
    res = runner.invoke(
        cli,
        [
            "points-index",
            "query",
            path,
            "transcripts",
            "--bbox",
            "100,100,400,300",
            "--genes",
            "gene_01,gene_02",
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    expect = brute(df, (100, 100, 400, 300), ["gene_01", "gene_02"])
    assert f"{len(expect)} points" in res.output
    import pandas as pd

    assert sorted(pd.read_csv(out, index_col=0).index) == sorted(expect)
    res = runner.invoke(cli, ["points-index", "info", path, "transcripts"])
    assert res.exit_code == 0
    assert json.loads(res.output)["rows"] == 5000


def test_cli_errors(plugin, tmp_path):
    df = make_points(2_000)
    path = str(tmp_path / "d.zarr")
    write(sdata_with_points(df), path, points_index=True)
    cli = _cli(plugin)
    runner = CliRunner()
    res = runner.invoke(cli, ["points-index", "query", path, "transcripts", "--genes", "nope"])
    assert res.exit_code != 0 and "nope" in res.output
    res = runner.invoke(cli, ["points-index", "query", path, "transcripts", "--bbox", "a,b"])
    assert res.exit_code != 0 and "--bbox" in res.output
    res = runner.invoke(cli, ["points-index", "build", path, "missing", "--no-progress"])
    assert res.exit_code != 0 and "missing" in res.output


def test_demo_step(plugin, tmp_path):
    from spatialdata_plugins.core import read, synthetic_sdata

    path = tmp_path / "demo.zarr"
    write(synthetic_sdata(seed=0), path)
    lines: list[str] = []
    plugin.sdp_demo(sdata=read(path), workdir=str(tmp_path), echo=lines.append)
    assert lines and "indexed" in lines[0]
