"""The published RFC-5 conformance suite (PyPI ``ome-zarr-transformations-conformance``) against our dingus.

The suite ships its cases (one OME-Zarr scene and one ``conformance.toml`` each: source and target coordinate
systems, points, expected points, tolerances, ``should_error``) and its runner ``transformation_conformance.py``.
Nothing here re-implements the checks: the runner's command line is run once over every case, and each case is a
test that reads the runner's verdict; a failing case is run again through the runner's own ``run_test`` to show the
dingus's message.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import transformation_conformance  # the runner module of ome-zarr-transformations-conformance (test dependency)

DINGUS = [sys.executable, "-m", "spatialdata_plugins.transforms.dingus"]
# the wheel installs its cases in a folder 'cases' beside the runner module (the runner finds them the same way)
CASES = Path(transformation_conformance.__file__).parent / "cases"
CASE_NAMES = sorted(p.name.split(".", 1)[0] for p in CASES.iterdir() if (p / "conformance.toml").exists())


def test_the_suite_ships_its_24_cases():
    assert len(CASE_NAMES) == 24
    assert {"rotation", "rotation_inverse", "unknown_source", "unknown_target"} <= set(CASE_NAMES)


@pytest.fixture(scope="module")
def runner_verdicts() -> dict[str, str]:
    """Run the suite's runner (its built-in cases) once against the dingus; ``{case: pass|fail|error}``."""
    out = subprocess.run(
        [sys.executable, "-m", "transformation_conformance", "--", *DINGUS],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    verdicts = dict(line.split("\t") for line in out.stdout.splitlines() if "\t" in line)
    # the runner exits 0 only when every case passed (1 for failures, 2 for errors)
    verdicts["<exit code>"] = str(out.returncode)
    return verdicts


def _diagnose(case: str) -> str:
    """The runner's own ``run_test`` on one case, for a readable failure message."""
    result = transformation_conformance.run_test(DINGUS, CASES / f"{case}.ome.zarr", case)
    return f"{case}: {result.status}, message {result.message!r}, stderr {result.stderr[-2000:]!r}"


@pytest.mark.parametrize("case", CASE_NAMES)
def test_case_passes_through_the_runner(runner_verdicts, case):
    if runner_verdicts.get(case) != "pass":
        pytest.fail(_diagnose(case))


def test_the_runner_exits_zero(runner_verdicts):
    assert runner_verdicts["<exit code>"] == "0", runner_verdicts


@pytest.mark.parametrize("case", [c for c in CASE_NAMES if c.startswith("unknown_")])
def test_invalid_input_gives_the_suites_error_object(case):
    """The contract for ``should_error`` cases: non-zero exit and ``{"message": ...}`` on stdout, nothing else."""
    conformance = tomllib.loads((CASES / f"{case}.ome.zarr" / "conformance.toml").read_text())
    assert conformance["should_error"] is True
    out = subprocess.run(
        [
            *DINGUS,
            str(CASES / f"{case}.ome.zarr"),
            conformance["source"]["name"],
            conformance["target"]["name"],
            json.dumps(conformance["source"]["coordinates"]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode != 0
    answer = json.loads(out.stdout)
    assert list(answer) == ["message"] and isinstance(answer["message"], str)
    # the message names the coordinate system that is not there
    missing = conformance["source" if case == "unknown_source" else "target"]["name"]
    assert repr(missing) in answer["message"]


def test_a_rounded_rotation_answers_with_coordinates_and_a_message():
    """The warning about the suite's rounded matrix goes into the answer's optional ``message``; stderr stays empty."""
    conformance = tomllib.loads((CASES / "rotation.ome.zarr" / "conformance.toml").read_text())
    out = subprocess.run(
        [*DINGUS, str(CASES / "rotation.ome.zarr"), "input", "output", "[[2, 2]]"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0 and out.stderr == ""
    answer = transformation_conformance.Response.from_jso(json.loads(out.stdout))  # the runner's own parser
    assert transformation_conformance.check_results(
        answer.coordinates,
        [conformance["target"]["coordinates"][3]],  # the suite's expected value for (2, 2)
        conformance["absolute_tolerance"],
        conformance["relative_tolerance"],
    )
    assert "RotationPrecisionWarning" in answer.message and "orthonormal only to 0.000438" in answer.message
