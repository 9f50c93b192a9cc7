"""Nox sessions: each package tested alone, everything together, lint, type checks, docs, scale runs and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "integration", "lint", "typecheck", "docs"]

ROOT = Path(__file__).parent
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


def _sync(session: nox.Session, *args: str) -> None:
    """Install from uv.lock into this session's own virtualenv."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session(python="3.12")
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
def tests(session: nox.Session, package: str) -> None:
    """Test one package alone, with only its own dependencies and its own test group."""
    _sync(session, "--package", f"spatialdata-plugins-{package}", "--group", "test", "--no-default-groups")
    session.run("pytest", f"packages/{package}/tests", *session.posargs)


@nox.session(python="3.12")
def integration(session: nox.Session) -> None:
    """Every package installed together: real entry-point discovery across plugins."""
    _sync(session, "--all-packages", "--group", "test", "--no-default-groups")
    session.run("pytest", "tests", *session.posargs)


@nox.session(python="3.12")
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    _sync(session, "--only-group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "packages", "tests", "noxfile.py")


@nox.session(python="3.12")
def typecheck(session: nox.Session) -> None:
    """Type-check the core with mypy, with only the core's dependencies (configuration: [tool.mypy] in pyproject)."""
    _sync(session, "--package", "spatialdata-plugins-core", "--group", "typecheck", "--no-default-groups")
    session.run("mypy", *session.posargs)


@nox.session(python="3.12")
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors."""
    _sync(session, "--all-packages", "--group", "docs", "--no-default-groups")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session(python="3.12")
def scale(session: nox.Session) -> None:
    """Long scale runs (marked ``scale``), skipped by the default test command."""
    _sync(session, "--all-packages", "--group", "test", "--no-default-groups")
    session.run("pytest", "-m", "scale", "packages", "tests", *session.posargs)


@nox.session(python="3.12")
def bench(session: nox.Session) -> None:
    """Every benchmark through benchmarks/run.py: one JSON results file, the docs' tables and plots.

    ``uvx nox -s bench`` is the full run (the sizes of BENCHMARKS.md); pass the runner's options after ``--``:
    ``-- --quick`` (CI smoke run), ``-- --only points-index,density``, ``-- --skip stitch``, ``-- --long``.
    """
    _sync(session, "--all-packages", "--group", "bench", "--no-default-groups")
    session.run(
        "python",
        str(ROOT / "benchmarks" / "run.py"),
        *session.posargs,
        env={"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")},
    )
