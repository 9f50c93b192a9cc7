"""Icechunk benchmark: transactional writes against plain spatialdata writes to a local directory.

1. A blobs-like SpatialData (images, labels, points, shapes, table; ``spatialdata.datasets.blobs``, seeded) written
   as one transaction into a new local icechunk repository, against ``SpatialData.write`` to a local directory.
   Target: at most 1.5x the time of the plain write.
2. A 2 GiB dask-backed float32 image written by a 2-worker ``dask.distributed`` cluster through the fork/merge
   backend (one commit), against spatialdata's own write of the same image to a local directory on the same
   cluster. Reported: time and throughput.
3. A multi-partition dask points element (20M rows, 20 partitions, generated on the workers from seeds) written in
   one transaction on a 2-worker cluster: through fork/merge (every worker writes its partitions into a fork,
   parquet-in-zarr version 2) against ``parallel="direct"`` (the partitions are computed on the cluster and the
   client streams them into one parquet file in the session). Reported: time and rows/s.

The plain side is ``spatialdata.SpatialData.write`` itself (never this project's core); both sides are read back
(``spatialdata.read_zarr`` and the plugin's ``read``) and compared with ``spatialdata.testing``, outside the timings.

Run ``uv run --all-packages --group bench python benchmarks/bench_icechunk.py`` (``--quick`` for a small smoke
version). Medians of ``--repeats`` interleaved runs (at least 5) with min-max; ``benchmarks/run.py`` runs the blobs
case (``--long`` adds the other two).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import load, ratio, target


def blobs_sdata(length: int = 2048, n_points: int = 200_000, n_shapes: int = 400, seed: int = 0) -> Any:
    """A seeded blobs-like SpatialData: 3-channel image, labels, points, circles and polygons, a table."""
    from spatialdata.datasets import blobs

    np.random.seed(seed)  # blobs draws from numpy's global generator
    return blobs(length=length, n_points=n_points, n_shapes=n_shapes)


def dask_image(gib: float = 2.0, chunk: int = 2048, seed: int = 0) -> Any:
    """A dask-backed float32 (2, N, N) image of about ``gib`` GiB, random and seeded, as an Image2DModel."""
    import dask.array as da
    from spatialdata.models import Image2DModel

    side = int(np.sqrt(gib * 2**30 / 4 / 2))
    side -= side % chunk if side > chunk else 0
    pixels = da.random.RandomState(seed).random((2, side, side), chunks=(1, chunk, chunk)).astype("float32")
    return Image2DModel.parse(pixels, dims=("c", "y", "x"), chunks=(1, chunk, chunk))


def _points_partition(seed: int, rows: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    genes = [f"gene{i:03d}" for i in range(300)]
    return pd.DataFrame(
        {
            "x": rng.uniform(0, 20_000, rows),
            "y": rng.uniform(0, 20_000, rows),
            "z": rng.uniform(0, 10, rows).astype("float32"),
            "gene": pd.Categorical.from_codes(rng.integers(0, len(genes), rows), categories=genes),
        },
        index=pd.RangeIndex(seed * rows, (seed + 1) * rows),
    )


def dask_points(rows: int = 20_000_000, npartitions: int = 20) -> Any:
    """A seeded dask points element of ``rows`` rows in ``npartitions`` partitions, generated where computed."""
    import dask.dataframe as dd
    from spatialdata.models import PointsModel

    per = rows // npartitions
    frame = dd.from_map(_points_partition, list(range(npartitions)), rows=per, meta=_points_partition(0, 0))
    # PointsModel.parse computes the partitions once (index checks); the writes compute them again
    return PointsModel.parse(frame, feature_key="gene")


def _timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def equal(expected: Any, got: Any) -> bool:
    """Whether two SpatialData objects hold the same elements and values (``spatialdata.testing``)."""
    from spatialdata.testing import assert_spatial_data_objects_are_identical

    try:
        assert_spatial_data_objects_are_identical(expected, got)
    except AssertionError as exc:
        print(f"read back differs: {str(exc)[:300]}", file=sys.stderr)
        return False
    return True


def write_plain(sdata: Any, workdir: Path, check: bool = False) -> tuple[float, bool | None]:
    """Seconds for ``spatialdata.SpatialData.write`` to a new local directory; with ``check``, whether it reads back
    equal (``None`` unchecked)."""
    import spatialdata

    if not isinstance(sdata, spatialdata.SpatialData) or type(sdata) is not spatialdata.SpatialData:
        sdata = spatialdata.SpatialData(**{k: dict(getattr(sdata, k)) for k in _KINDS})  # not through our core
    target = workdir / f"plain-{time.monotonic_ns()}.zarr"
    seconds = _timed(lambda: spatialdata.SpatialData.write(sdata, target))
    same = equal(sdata, spatialdata.read_zarr(target)) if check else None
    shutil.rmtree(target, ignore_errors=True)
    return seconds, same


_KINDS = ("images", "labels", "points", "shapes", "tables")


def write_transaction(
    sdata: Any, workdir: Path, parallel: str = "auto", check: bool = False
) -> tuple[float, int, bool | None]:
    """Seconds for one transaction adding every element to a new local repository; also the forks merged.

    With ``check``: also whether the committed data, read back from the repository, equals ``sdata`` (else ``None``).
    """
    import spatialdata_plugins.icechunk as sdi
    from spatialdata_plugins.core import SpatialData

    path = workdir / f"repo-{time.monotonic_ns()}.icechunk"
    repo = sdi.open_repository(path, create=True)
    target = SpatialData()

    def run() -> Any:
        with sdi.transaction(target, repo, message="benchmark", parallel=parallel, progress=False) as tx:
            for _, name, element in sdata.gen_elements():
                target[name] = element
        return tx

    start = time.perf_counter()
    tx = run()
    seconds = time.perf_counter() - start
    assert tx.snapshot_id is not None
    same = equal(sdata, sdi.read(repo)) if check else None
    shutil.rmtree(path, ignore_errors=True)
    return seconds, tx.forks_merged, same


def bench_blobs(workdir: Path, repeats: int, quick: bool) -> dict[str, Any]:
    """Interleaved times of the plain write and the one-transaction write of the blobs-like data, both read back."""
    sdata = blobs_sdata(length=256, n_points=2000, n_shapes=20) if quick else blobs_sdata()
    plain, ice, plain_same, ice_same = [], [], [], []
    write_plain(sdata, workdir)  # untimed warm-up of both sides: imports and first-use caches are in neither timing
    write_transaction(sdata, workdir)
    for i in range(repeats):  # interleaved, so that load drifts hit both sides alike
        seconds, same = write_plain(sdata, workdir, check=True)
        plain.append(seconds)
        plain_same.append(same)
        seconds, _, same = write_transaction(sdata, workdir, check=True)
        ice.append(seconds)
        ice_same.append(same)
        print(f"blobs run {i + 1}: plain {plain[-1]:.2f} s, icechunk {ice[-1]:.2f} s", file=sys.stderr, flush=True)
    return {
        "plain": statistics.median(plain),
        "icechunk": statistics.median(ice),
        "plain_times": plain,
        "icechunk_times": ice,
        "plain_equal": all(plain_same),
        "icechunk_equal": all(ice_same),
        "runs": repeats,
        "load": load(),
    }


def bench_distributed(workdir: Path, repeats: int, quick: bool, processes: bool = True) -> dict[str, Any]:
    """Median times of the 2 GiB image written by a 2-worker cluster: fork/merge transaction vs plain write."""
    import spatialdata
    from distributed import Client, LocalCluster

    from spatialdata_plugins.core import SpatialData

    image = dask_image(gib=0.03, chunk=512) if quick else dask_image()
    nbytes = image.data.nbytes
    plain_sdata = spatialdata.SpatialData(images={"image": image})  # spatialdata's own write, not our core
    ice_sdata = SpatialData(images={"image": image})
    plain, ice, forks = [], [], 0
    plain_same, ice_same = [], []
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        write_plain(plain_sdata, workdir)  # untimed warm-up: the workers import and start up in neither timing
        write_transaction(ice_sdata, workdir)
        for i in range(repeats):
            seconds, same = write_plain(plain_sdata, workdir, check=i == 0)  # read back once (2 GiB compared)
            plain.append(seconds)
            plain_same.append(same)
            seconds, forks, same = write_transaction(ice_sdata, workdir, check=i == 0)
            ice.append(seconds)
            ice_same.append(same)
            print(
                f"dask image run {i + 1}: plain {plain[-1]:.2f} s, icechunk {seconds:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    return {
        "nbytes": nbytes,
        "shape": tuple(image.shape),
        "plain": statistics.median(plain),
        "icechunk": statistics.median(ice),
        "plain_times": plain,
        "icechunk_times": ice,
        "plain_equal": all(v for v in plain_same if v is not None),
        "icechunk_equal": all(v for v in ice_same if v is not None),
        "forks": forks,
        "runs": repeats,
        "load": load(),
    }


def bench_points(workdir: Path, repeats: int, quick: bool, processes: bool = True) -> dict[str, Any]:
    """Median times of a multi-partition points element written by a 2-worker cluster: fork/merge vs direct."""
    from distributed import Client, LocalCluster

    from spatialdata_plugins.core import SpatialData

    direct, fork, forks = [], [], 0
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        n_rows, n_parts = (200_000, 4) if quick else (20_000_000, 20)
        points = dask_points(n_rows, n_parts)
        sdata = SpatialData(points={"transcripts": points})
        for i in range(repeats):  # interleaved
            direct.append(write_transaction(sdata, workdir, parallel="direct")[0])
            seconds, forks, _ = write_transaction(sdata, workdir, parallel="fork")
            fork.append(seconds)
            print(f"points run {i + 1}: direct {direct[-1]:.2f} s, fork/merge {seconds:.2f} s", file=sys.stderr)
    return {
        "rows": n_rows // n_parts * n_parts,
        "npartitions": points.npartitions,
        "direct": statistics.median(direct),
        "fork": statistics.median(fork),
        "forks": forks,
        "runs": repeats,
    }


def _spread(times: list[float]) -> str:
    return f"{statistics.median(times):.2f} ({min(times):.2f}-{max(times):.2f})"


def table(
    blobs_result: dict[str, Any] | None, dist: dict[str, Any] | None, points: dict[str, Any] | None = None
) -> str:
    """The markdown table of the results (medians of interleaved runs, min-max)."""
    rows = []
    if blobs_result is not None or dist is not None:
        rows += [
            "| case | `spatialdata.SpatialData.write` s, median (min-max) | reads back equal | icechunk transaction s "
            "| reads back equal | ratio | target |",
            "|---|---|---|---|---|---|---|",
        ]

    def yes(v: bool) -> str:
        return "yes" if v else "NO"

    if blobs_result is not None:
        b = blobs_result
        rows.append(
            f"| blobs-like SpatialData, one transaction ({b['runs']} runs) | {_spread(b['plain_times'])} "
            f"| {yes(b['plain_equal'])} | {_spread(b['icechunk_times'])} | {yes(b['icechunk_equal'])} "
            f"| {ratio(b['icechunk'] / b['plain'])} | <= 1.5x |"
        )
    if dist is not None:
        gib = dist["nbytes"] / 2**30
        rows.append(
            f"| {gib:.2f} GiB dask image {dist['shape']}, 2-worker cluster, fork/merge ({dist['forks']} fork; "
            f"{dist['runs']} runs, read back once) | {_spread(dist['plain_times'])} ({gib / dist['plain']:.2f} GiB/s) "
            f"| {yes(dist['plain_equal'])} | {_spread(dist['icechunk_times'])} ({gib / dist['icechunk']:.2f} GiB/s) "
            f"| {yes(dist['icechunk_equal'])} | {ratio(dist['icechunk'] / dist['plain'])} | reported |"
        )
    if points is not None:
        mrows = points["rows"] / 1e6
        rows += [
            *([""] if rows else []),
            "| points case | direct: client streams one file (s) | fork/merge: workers write parts (s) | ratio "
            "| forks merged |",
            "|---|---|---|---|---|",
            f"| {mrows:.1f}M rows, {points['npartitions']} partitions, 2-worker cluster, one transaction "
            f"| {points['direct']:.2f} ({mrows / points['direct']:.2f}M rows/s) "
            f"| {points['fork']:.2f} ({mrows / points['fork']:.2f}M rows/s) "
            f"| {ratio(points['fork'] / points['direct'])} | {points['forks']} |",
        ]
    return "\n".join(rows)


def targets(blobs_result: dict[str, Any] | None, dist: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The target rows: one transaction <= 1.5x the plain write, data equal on both sides."""
    out = []
    if blobs_result is not None:
        b = blobs_result
        r = b["icechunk"] / b["plain"]
        row = target(
            "icechunk one transaction (blobs-like SpatialData)",
            "<= 1.5x plain `spatialdata.SpatialData.write`, data equal",
            f"{ratio(r)} ({b['icechunk']:.2f} s vs {b['plain']:.2f} s; read back equal: "
            f"{'yes' if b['plain_equal'] and b['icechunk_equal'] else 'no'})",
            r <= 1.5 and b["plain_equal"] and b["icechunk_equal"],
        )
        row["load"] = b["load"]
        out.append(row)
    if dist is not None:
        r = dist["icechunk"] / dist["plain"]
        row = target(
            f"icechunk {dist['nbytes'] / 2**30:.2f} GiB dask image, 2-worker cluster, fork/merge",
            "reported (against plain `SpatialData.write` on the same cluster)",
            f"{ratio(r)} ({dist['icechunk']:.1f} s vs {dist['plain']:.1f} s; read back equal: "
            f"{'yes' if dist['plain_equal'] and dist['icechunk_equal'] else 'no'})",
            None,
        )
        row["load"] = dist["load"]
        out.append(row)
    return out


def run(quick: bool = False, plot_dir: str | None = None, cases: str = "blobs", rounds: int | None = None) -> dict:
    """The runner's entry point (the blobs case; ``cases`` may add ``image`` and ``points``)."""
    logging.getLogger("ome_zarr").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    rounds = rounds or 5
    workdir = Path(tempfile.mkdtemp(prefix="bench-icechunk-"))
    chosen = set(cases.split(","))
    blobs_result = dist = points = None
    try:
        if "blobs" in chosen:
            blobs_result = bench_blobs(workdir, rounds, quick)
        if "image" in chosen:
            dist = bench_distributed(workdir, rounds, quick)
        if "points" in chosen:
            points = bench_points(workdir, rounds, quick)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "targets": targets(blobs_result, dist),
        "tables": {"table": table(blobs_result, dist, points)},
        "plots": [],
        "raw": {"blobs": blobs_result, "image": dist, "points": points},
    }


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark and print the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small data, a smoke run")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per case (median; default 5)")
    parser.add_argument("--skip-distributed", action="store_true", help="only the blobs-like case")
    parser.add_argument(
        "--cases", default="blobs,image,points", help="comma-separated subset of blobs,image,points (default: all)"
    )
    parser.add_argument("--threads", action="store_true", help="in-process cluster workers (processes=False)")
    parser.add_argument("--workdir", default=None, help="where to write (default: a temporary directory)")
    args = parser.parse_args(argv)
    logging.getLogger("ome_zarr").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-icechunk-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cases = set(args.cases.split(","))
    if args.skip_distributed:
        cases &= {"blobs"}
    blobs_result = dist = points = None
    try:
        if "blobs" in cases:
            blobs_result = bench_blobs(workdir, args.repeats, args.quick)
        if "image" in cases:
            dist = bench_distributed(workdir, args.repeats, args.quick, processes=not args.threads)
        if "points" in cases:
            points = bench_points(workdir, args.repeats, args.quick, processes=not args.threads)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    out = table(blobs_result, dist, points)
    print(out)
    return out


if __name__ == "__main__":
    main()
