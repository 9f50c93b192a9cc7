"""spatialdata's own IO tests (``tests/io`` of its sdist) with our ``read``/``write`` in place of spatialdata's.

The source distribution of the installed spatialdata version is downloaded from the package index during the run
(cached in ``$SDP_SUITE_CACHE``, default ``<tmp>/sdp-spatialdata-sdist``; ``SDP_SPATIALDATA_SDIST=/path/x.tar.gz``
uses a local copy), its ``tests`` are extracted, and each file of ``tests/io`` runs in a pytest subprocess with the
adapter plugin ``spatialdata_suite/sdio_adapter.py``, which replaces ``spatialdata.read_zarr`` by our ``read`` and
``SpatialData.write`` by our ``write``. Every test must pass, except the intended differences listed in
``docs/core.md`` (read from there, so the documentation cannot drift); a listed test that passes fails here too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
ADAPTER_DIR = HERE / "spatialdata_suite"
DOC = HERE.parents[2] / "docs" / "core.md"
GROUPS = (
    "test_attrs_io.py",
    "test_format.py",
    "test_metadata.py",
    "test_multi_table.py",
    "test_partial_read.py",
    "test_pyramids_performance.py",
    "test_readwrite.py",
    "test_utils.py",
)
START, END = "<!-- spatialdata-io-differences:start -->", "<!-- spatialdata-io-differences:end -->"


def intended_differences(doc: Path = DOC) -> dict[str, str]:
    """``{test id: reason}`` from the table between the markers in ``docs/core.md``."""
    text = doc.read_text()
    block = text[text.index(START) + len(START) : text.index(END)]
    out: dict[str, str] = {}
    for line in block.splitlines():
        m = re.match(r"\|\s*`([^`]+)`\s*\|(.*)\|\s*$", line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links[href.split("#")[0].rsplit("/", 1)[-1]] = href


def _index_files(index: str, project: str) -> dict[str, tuple[str, str | None]]:
    """``{filename: (url, sha256)}`` of a project on a PEP 503/691 simple index."""
    url = f"{index.rstrip('/')}/{project}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        ctype = response.headers.get("Content-Type", "")
    if "json" in ctype:
        data = json.loads(body)
        return {f["filename"]: (f["url"], f.get("hashes", {}).get("sha256")) for f in data["files"]}
    parser = _Links()
    parser.feed(body.decode())
    out: dict[str, tuple[str, str | None]] = {}
    for name, href in parser.links.items():
        full = urllib.parse.urljoin(url, href)
        digest = re.search(r"sha256=([0-9a-f]{64})", href)
        out[name] = (full.split("#")[0], digest.group(1) if digest else None)
    return out


def spatialdata_sdist(cache: Path) -> Path:
    """The sdist of the installed spatialdata version: a local copy, the cache, or downloaded from the index."""
    given = os.environ.get("SDP_SPATIALDATA_SDIST")
    if given:
        return Path(given)
    name = f"spatialdata-{version('spatialdata')}.tar.gz"
    target = cache / name
    if target.exists():
        return target
    index = os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
    files = _index_files(index, "spatialdata")
    if name not in files:
        raise FileNotFoundError(f"{name} is not on {index}; set SDP_SPATIALDATA_SDIST to a local copy")
    url, sha256 = files[name]
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise OSError(f"{url}: sha256 mismatch")
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"{name}.{os.getpid()}.part"
    partial.write_bytes(data)
    partial.replace(target)
    return target


def extracted_tests(sdist: Path, cache: Path) -> Path:
    """Extract ``tests/`` and ``pyproject.toml`` (its pytest settings) of the sdist; return the project directory."""
    top = sdist.name.removesuffix(".tar.gz")
    root = cache / top
    if (root / "tests" / "io").is_dir():
        return root
    tmp = Path(tempfile.mkdtemp(prefix=f"{top}.", dir=cache))
    with tarfile.open(sdist) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith(f"{top}/tests/") or m.name in (f"{top}/pyproject.toml", f"{top}/tests")
        ]
        tar.extractall(tmp, members=members, filter="data")
    try:
        (tmp / top).replace(root)
    except OSError:  # extracted meanwhile by another run
        shutil.rmtree(tmp / top, ignore_errors=True)
    tmp.rmdir()
    return root


@pytest.fixture(scope="module")
def suite_dir() -> Path:
    cache = Path(os.environ.get("SDP_SUITE_CACHE") or Path(tempfile.gettempdir()) / "sdp-spatialdata-sdist")
    cache.mkdir(parents=True, exist_ok=True)
    return extracted_tests(spatialdata_sdist(cache), cache)


def run_group(project: Path, group: str, report: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """Run one file of spatialdata's ``tests/io`` with the adapter; ``({test id: outcome record}, output)``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ADAPTER_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["SDP_SUITE_REPORT"] = str(report)
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "sdio_adapter", f"tests/io/{group}", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    results: dict[str, dict[str, Any]] = {}
    if report.exists():
        for line in report.read_text().splitlines():
            record = json.loads(line)
            results[record["nodeid"].removeprefix("tests/io/")] = record
    return results, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_intended_differences_are_documented_with_reasons():
    differences = intended_differences()
    assert differences, "docs/core.md lists no intended differences between the markers"
    for test_id, reason in differences.items():
        assert test_id.split("::")[0] in GROUPS, test_id
        assert len(reason) > 20, f"{test_id}: give the reason"


@pytest.mark.timeout(660)
@pytest.mark.parametrize("group", GROUPS)
def test_spatialdata_io_suite(group, suite_dir, tmp_path):
    results, output = run_group(suite_dir, group, tmp_path / "report.jsonl")
    assert results, f"no test of {group} ran:\n{output}"
    expected = {k: v for k, v in intended_differences().items() if k.startswith(f"{group}::")}
    unexpected = {k: r["message"] for k, r in results.items() if r["outcome"] != "passed" and k not in expected}
    assert not unexpected, "\n".join(f"{k}: {m}" for k, m in unexpected.items())
    passing = [k for k in expected if results.get(k, {}).get("outcome") == "passed"]
    assert not passing, f"listed as intended differences in docs/core.md but passing now, remove them: {passing}"
    missing = [k for k in expected if k not in results]
    assert not missing, f"listed in docs/core.md but not in {group} of spatialdata {version('spatialdata')}: {missing}"
