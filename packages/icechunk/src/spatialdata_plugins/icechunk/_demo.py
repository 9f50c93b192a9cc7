"""The icechunk step of ``spatialdata-plugins demo``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def run_demo(sdata: Any, workdir: str, echo: Callable[[str], None]) -> None:
    """Write ``sdata`` to a new repository, change it in a transaction, show a failed one, the log and a diff."""
    import icechunk

    from spatialdata_plugins.core import SpatialData
    from spatialdata_plugins.icechunk import diff, log, open_repository, read, transaction, write

    if "ICECHUNK_LOG" not in os.environ:
        # the local-filesystem storage of the demo makes icechunk warn about concurrent commits and conditional
        # writes on every open; harmless here (one writer), noise in a demo. ICECHUNK_LOG=warn shows them.
        icechunk.set_logs_filter("error")
    path = os.path.join(workdir, "demo.icechunk")
    repo = open_repository(path, create=True)
    # a new object holding the same elements: writing makes the object written live in the repository (its
    # location becomes the commit), and the other demo steps keep using the demo store
    own = SpatialData(
        images=dict(sdata.images),
        labels=dict(sdata.labels),
        points=dict(sdata.points),
        shapes=dict(sdata.shapes),
        tables=dict(sdata.tables),
        attrs=dict(sdata.attrs),
    )
    first = write(own, repo, message="demo data", progress=False)
    echo(f"icechunk: wrote the demo data to {path} as one commit ({first})")
    back = read(repo)
    with transaction(back, message="drop the regions, annotate", progress=False):  # the repository back came from
        del back["regions"]
        back.attrs["annotated"] = True
    try:
        with transaction(back, repo, message="never committed", progress=False):
            del back["cells"]
            raise RuntimeError("simulated failure")
    except RuntimeError:
        echo("icechunk: a transaction that raised committed nothing and left the object unchanged")
    for commit in log(repo, limit=2):
        echo(f"icechunk:   {commit.id} {commit.message!r} changed {commit.elements or 'nothing'}")
    d = diff(repo, first, "main")
    echo(f"icechunk: diff first commit -> main: deleted {d.deleted}, attrs changed: {d.attrs_changed}")
