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
