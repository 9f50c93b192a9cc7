"""pytest plugin run inside spatialdata's own ``tests/io``: our ``read``/``write`` in place of spatialdata's.

Loaded with ``-p sdio_adapter`` (this directory on ``PYTHONPATH``) by ``test_spatialdata_io_suite.py``, before any test
module of spatialdata is imported, so ``from spatialdata import read_zarr`` in them binds our ``read``. Every outcome
is written as one JSON line to the file named by ``SDP_SUITE_REPORT``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


def _read_zarr(store: Any, selection: Any = None, on_bad_files: Any = None, **kwargs: Any) -> Any:
    from spatialdata_plugins.core import read

    if selection is not None:
        kwargs["selection"] = selection
    if on_bad_files is not None:
        kwargs["on_bad_files"] = on_bad_files
    return read(store, **kwargs)


def _write(self: Any, file_path: Any, overwrite: bool = False, **kwargs: Any) -> None:
    from spatialdata_plugins.core import write

    write(self, file_path, overwrite=overwrite, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    import spatialdata
    import spatialdata._io.io_zarr

    spatialdata.read_zarr = _read_zarr
    spatialdata._io.io_zarr.read_zarr = _read_zarr
    spatialdata.SpatialData.write = _write


_REPORTED: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get("SDP_SUITE_REPORT")
    if not path:
        return
    # one line per test: the first failing phase, or the call phase (or the skip in setup)
    if report.nodeid in _REPORTED:
        return
    final = report.when == "call" or report.failed or report.skipped
    if not final:
        return
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    if report.failed and report.when != "call":
        outcome = "error"
    _REPORTED.add(report.nodeid)
    message = ""
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)[-2000:]
    with Path(path).open("a") as f:
        f.write(json.dumps({"nodeid": report.nodeid, "outcome": outcome, "message": message[:2000]}) + "\n")
