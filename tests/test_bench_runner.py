"""Smoke test of ``benchmarks/run.py``: one small benchmark and a failing one, the JSON file and the tables.

Nothing timed is asserted: only that the runner writes what the docs include, with every target row complete.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("bench_runner", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("_common", None)


def _tiny(quick, plot_dir, long):
    """A real measurement with the benchmarks' helpers, small enough for the default test run."""
    import _common
    import numpy as np

    data = np.arange(200_000, dtype=np.float64)
    raw = _common.interleaved({"ours": lambda: data * 2.0, "numpy copy": data.copy}, rounds=5)
    r = raw["ours"]["median"] / raw["numpy copy"]["median"]
    rows = [_common.target("tiny: doubling", "<= 100x a copy", _common.ratio(r), r <= 100)]
    table = "| candidate | s |\n|---|---|\n" + "\n".join(f"| {k} | {_common.spread(v)} |" for k, v in raw.items())
    path = Path(plot_dir) / "tiny.png"
    path.write_bytes(b"not really a png")
    raw = {k: {kk: vv for kk, vv in v.items() if kk != "result"} for k, v in raw.items()}
    return {"targets": rows, "tables": {"table": table}, "plots": [str(path)], "raw": raw}


def test_runner_writes_results_and_tables(runner, tmp_path, monkeypatch):
    def broken(quick, plot_dir, long):
        raise RuntimeError("this benchmark broke")

    monkeypatch.setattr(runner, "BENCHMARKS", {"tiny": _tiny, "broken": broken})
    code = runner.main(["--quick", "--results", str(tmp_path / "results"), "--docs", str(tmp_path / "docs")])
    assert code == 1  # a benchmark failed: the run says so, and still writes everything else
    (results_file,) = (tmp_path / "results").glob("results-*-quick.json")
    results = json.loads(results_file.read_text())
    assert results["quick"] and set(results["benchmarks"]) == {"tiny", "broken"}
    assert "this benchmark broke" in results["benchmarks"]["broken"]["error"]
    (row,) = results["benchmarks"]["tiny"]["targets"]
    assert set(row) >= {"benchmark", "target", "measured", "met", "load"}
    assert isinstance(row["met"], bool) and row["load"] >= 0
    assert all(len(v["times"]) == 5 for v in results["benchmarks"]["tiny"]["raw"].values())
    assert results["benchmarks"]["tiny"]["plots"] == ["tiny.png"]
    targets = (tmp_path / "docs" / "targets.md").read_text()
    assert "do not edit by hand" in targets and "| benchmark | target | measured | met | load |" in targets
    assert "| tiny: doubling |" in targets and "**broken** failed" in targets
    page = (tmp_path / "docs" / "tiny.md").read_text()
    assert "| candidate | s |" in page and "quick" in page and "| tiny: doubling |" in page
    assert "failed in this run" in (tmp_path / "docs" / "broken.md").read_text()


def test_every_benchmark_has_a_runner_entry(runner):
    assert set(runner.BENCHMARKS) == {p.stem.removeprefix("bench_").replace("_", "-") for p in
                                      BENCHMARKS.glob("bench_*.py")}  # fmt: skip


def test_ratios_keep_two_significant_digits(runner):
    import _common

    assert _common.ratio(0.6449) == "0.64x"
    assert _common.ratio(0.96) == "0.96x"  # a slowdown is never rounded up to "1x"
    assert _common.ratio(1.0) == "1.0x" and _common.ratio(1.04) == "1.0x"
    assert _common.ratio(0.0501) == "0.050x"
    assert _common.ratio(1.449) == "1.4x"
    assert _common.ratio(73.4) == "73x"
    assert _common.ratio(1234) == "1,200x"


def test_bytes_are_counted_on_the_call(runner, tmp_path):
    import _common

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 12_345)
    assert _common.measured_call(lambda: None)[2] == 0
    assert _common.measured_call(path.read_bytes)[2] == 12_345


def test_render_merges_runs_of_single_benchmarks(runner, tmp_path, monkeypatch):
    """Benchmarks run one at a time (``--only``) render into one targets table, each with its own run's header."""
    monkeypatch.setattr(runner, "BENCHMARKS", {"tiny": _tiny, "other": _tiny})
    monkeypatch.setattr(runner, "RENDER", {})
    files = []
    for name in ("tiny", "other"):
        out = tmp_path / name
        assert runner.main(["--quick", "--only", name, "--results", str(out), "--docs", str(out / "docs")]) == 0
        (f,) = out.glob("results-*.json")
        files.append(f)
    runner.main(["--render", *map(str, files), "--docs", str(tmp_path / "merged")])
    targets = (tmp_path / "merged" / "targets.md").read_text()
    # both runs' rows are in the one table, and the header names both files
    assert targets.count("| tiny: doubling |") == 2
    assert str(files[0]) in targets and str(files[1]) in targets
    assert str(files[1]) in (tmp_path / "merged" / "other.md").read_text()
    assert str(files[0]) not in (tmp_path / "merged" / "other.md").read_text()


def test_viewer_targets_judge_what_was_served(runner):
    import bench_viewer

    def view(width, levels, outside, nbytes):
        run = {"chunks": 10, "bytes": nbytes, "levels": levels, "outside": outside, "seconds": 1.0}
        return {"view": f"w{width}", "centre": [0, 0], "width": width, "runs": [run]}

    raw = {"n": 100, "kind": "uniform", "repeat": 1, "canvas": 8, "level_rows": [1, 2], "parquet_bytes": 10,
           "one_level_bytes": 20}  # fmt: skip
    raw["views"] = [view(bench_viewer.EXTENT, [0, 1, 2], 0, 1000), view(10.0, [0, 5], 0, 10)]
    assert [r["met"] for r in bench_viewer.targets(raw)] == [True, True]
    raw["views"] = [view(bench_viewer.EXTENT, [0, 2], 0, 1000), view(10.0, [0, 5], 1, 10)]
    assert [r["met"] for r in bench_viewer.targets(raw)] == [False, False]
    raw["views"] = [view(bench_viewer.EXTENT, [0, 1], 0, bench_viewer.COARSE_LIMIT + 1)]
    assert [r["met"] for r in bench_viewer.targets(raw)] == [False]
    assert "| w10.0 |" not in bench_viewer.table(raw) and "| w10000.0 |" in bench_viewer.table(raw)
