"""Fixtures of the lazy-containers tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# the helper module lives next to the tests
sys.path.insert(0, str(Path(__file__).parent))

from lazy_containers_testfiles import Files, make_files


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """Every kind of test file, written once per session (tests must not modify them)."""
    return make_files(tmp_path_factory.mktemp("lazy-files"))


@pytest.fixture
def s3_files(files: Files, s3_bucket: dict[str, Any]) -> dict[str, Any]:
    """The test files uploaded to a fresh bucket of the S3 test server: ``{"url", "storage_options", ...}``."""
    import s3fs

    fs = s3fs.S3FileSystem(**s3_bucket["storage_options"])
    fs.put(str(files.root) + "/", f"{s3_bucket['bucket']}/data/", recursive=True)
    return {**s3_bucket, "data": f"{s3_bucket['url']}/data"}
