"""Points index benchmark (the 2026 SpatialData hackathon benchmark, made stricter; see docs/points-index.md).

Data: N points in 2D, x/y float32 in a 10,000 x 10,000 extent, 1,000 genes of similar frequency, once uniform and
once clustered (points around cell-like centres). Layouts compared in one run:

1. ``sd+pyarrow`` / ``sd+bbq``: the points as spatialdata 0.8 writes them, queried with pyarrow filters, and with
   ``spatialdata.bounding_box_query`` (then a gene filter in pandas);
2. ``hack-spatial`` / ``hack-gene``: the hackathon's layouts, one parquet file sorted by (level, Morton, gene) or
   (gene, level, Morton), ~200k-row row groups, gene as a dictionary column, queried with pyarrow filters; they
   use the same level assignment as ours, so capped answers are comparable;
3. ``ours``: :mod:`spatialdata_plugins.points_index`, opened afresh for every query (so the directory reads count).

Bytes read are counted at the storage boundary: a counting fsspec filesystem for parquet, the core's
``CountingStore`` for our zarr index, and ``/proc/self/io`` (``rchar``) for ``spatialdata.bounding_box_query``.
"Answer bytes" are the zstd-compressed bytes of the answer's columns (x, y float32 and the gene codes, in the
order returned), with no container overhead. Rows are checked against a brute-force answer on the raw points
(for resolution caps: against the index's own level assignment). Times are medians of ``--repeat`` runs (at least
9 for our queries, which take milliseconds).

Run: ``uv run --frozen --inexact --all-packages python benchmarks/bench_points_index.py [--n 10000000] [--quick]
[--plot docs/_static/points-index/bench.png] [--scale 100000000]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

EXTENT = 10_000.0
N_GENES = 1_000
GENE = "gene_0007"
PANEL = [f"gene_{g:04d}" for g in range(100, 1000, 90)]
QUERIES = {
    "Q1": {"genes": [GENE], "frac": None, "res": "full"},
    "Q1b": {"genes": [GENE], "frac": None, "res": "mid"},
    "Q2": {"genes": [GENE], "frac": 0.50, "res": "coarsest"},
    "Q3": {"genes": None, "frac": 0.02, "res": "full"},
    "Q4": {"genes": PANEL, "frac": 0.15, "res": "mid"},
}


# ------------------------------------------------------------------------------------------ data


def make_points(n: int, kind: str, seed: int = 0) -> pd.DataFrame:
    """Seeded synthetic transcripts: uniform, or clustered around cell-like centres."""
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        xy = rng.uniform(0, EXTENT, size=(n, 2))
    else:
        n_cells = max(n // 500, 10)
        centres = rng.uniform(0, EXTENT, size=(n_cells, 2))
        sizes = rng.uniform(8, 25, size=n_cells)
        owner = rng.integers(0, n_cells, n)
        xy = centres[owner] + rng.normal(size=(n, 2)) * sizes[owner, None]
        xy = np.clip(xy, 0, EXTENT - 1e-3)
    genes = pd.Categorical.from_codes(
        rng.integers(0, N_GENES, n).astype(np.int16), categories=[f"gene_{g:04d}" for g in range(N_GENES)]
    )
    return pd.DataFrame({"x": xy[:, 0].astype(np.float32), "y": xy[:, 1].astype(np.float32), "gene": genes})


def central_box(frac: float | None) -> tuple[float, float, float, float] | None:
    """The centred box covering ``frac`` of the extent per axis."""
    if frac is None:
        return None
    lo, hi = EXTENT * (0.5 - frac / 2), EXTENT * (0.5 + frac / 2)
    return (lo, lo, hi, hi)


# ------------------------------------------------------------------------------------------ counting IO


class _CountingFile(io.RawIOBase):
    def __init__(self, f: Any, counter: list[int]) -> None:
        super().__init__()
        self._f, self._c = f, counter

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._f.seek(pos, whence)

    def tell(self) -> int:
        return self._f.tell()

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b)
        self._c[0] += n or 0
        return n

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._c[0] += len(data)
        return data

    def close(self) -> None:
        self._f.close()
        super().close()


class CountingLocalFileSystem(LocalFileSystem):
    """A local fsspec filesystem counting every byte read through the files it opens."""

    counter = [0]

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        f = super()._open(path, mode=mode, **kwargs)
        return _CountingFile(f, self.counter) if "r" in mode else f


def counting_pyarrow_fs() -> tuple[Any, list[int]]:
    """A pyarrow filesystem over :class:`CountingLocalFileSystem` and its byte counter."""
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs = CountingLocalFileSystem(skip_instance_cache=True)
    fs.counter = [0]
    return PyFileSystem(FSSpecHandler(fs)), fs.counter


def rchar() -> int:
    """Bytes this process read through read syscalls so far (Linux ``/proc/self/io``)."""
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def dir_size(path: str) -> int:
    """Total bytes of the files under ``path``."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


class PeakRSS:
    """Sample the process RSS in a thread; ``peak`` is the largest increase over the start (bytes)."""

    def __enter__(self) -> PeakRSS:
        import psutil

        self._p = psutil.Process()
        self.start = self._p.memory_info().rss
        self.peak = 0
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, self._p.memory_info().rss - self.start)
            time.sleep(0.02)

    def __exit__(self, *exc: Any) -> None:
        self._stop = True
        self._t.join()
        self.peak = max(self.peak, self._p.memory_info().rss - self.start)


def answer_bytes(frame: pd.DataFrame) -> int:
    """zstd-compressed bytes of the answer's x, y and gene codes (in the order returned)."""
    total = 0
    for col in ("x", "y", "gene"):
        if col not in frame or len(frame) == 0:
            continue
        v = frame[col]
        arr = v.cat.codes.to_numpy() if isinstance(v.dtype, pd.CategoricalDtype) else v.to_numpy()
        total += len(pa.compress(np.ascontiguousarray(arr).tobytes(), codec="zstd", asbytes=True))
    return total


# ------------------------------------------------------------------------------------------ layouts


def morton2(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """2D Morton codes."""
    from spatialdata_plugins.points_index._morton import morton

    return morton([ix.astype(np.uint64), iy.astype(np.uint64)])


def write_hackathon(df: pd.DataFrame, levels: np.ndarray, path: str, order: str) -> None:
    """The hackathon's layouts: one parquet file, ~200k-row row groups, gene as a dictionary column."""
    grid = (2 ** levels.astype(np.int64)).astype(np.float64)
    ix = np.minimum((df.x.to_numpy() / EXTENT * grid).astype(np.int64), grid.astype(np.int64) - 1)
    iy = np.minimum((df.y.to_numpy() / EXTENT * grid).astype(np.int64), grid.astype(np.int64) - 1)
    code = morton2(ix, iy)
    gene = df.gene.cat.codes.to_numpy()
    keys = (gene, code, levels) if order == "spatial" else (code, levels, gene)
    o = np.lexsort(keys)
    table = pa.table(
        {
            "x": df.x.to_numpy()[o],
            "y": df.y.to_numpy()[o],
            "gene": pa.DictionaryArray.from_arrays(pa.array(gene[o]), pa.array(list(df.gene.cat.categories))),
            "level": levels[o].astype(np.int8),
            "morton": code[o],
        }
    )
    pq.write_table(table, path, row_group_size=200_000)


def parquet_query(path: str, q: dict[str, Any], cap: int | None, level_col: bool) -> tuple[pd.DataFrame, int]:
    """Query a parquet file or directory with pyarrow filters; return the answer and the bytes read."""
    pyfs, counter = counting_pyarrow_fs()
    expr = None

    def and_(e: Any, f: Any) -> Any:
        return f if e is None else e & f

    box = central_box(q["frac"])
    if box is not None:
        expr = and_(expr, (pc.field("x") > box[0]) & (pc.field("x") < box[2]))
        expr = and_(expr, (pc.field("y") > box[1]) & (pc.field("y") < box[3]))
    if q["genes"] is not None:
        expr = and_(expr, pc.field("gene").isin(q["genes"]))
    if level_col and cap is not None:
        expr = and_(expr, pc.field("level") <= cap) if q["res"] != "coarsest" else and_(expr, pc.field("level") == 0)
    table = pq.read_table(path, columns=["x", "y", "gene"], filters=expr, filesystem=pyfs)
    return table.to_pandas(), counter[0]


def sd_bbq_query(sd_path: str, name: str, q: dict[str, Any]) -> tuple[pd.DataFrame, int]:
    """``spatialdata.bounding_box_query`` on the points as spatialdata reads them (then a pandas gene filter)."""
    import spatialdata

    before = rchar()
    points = spatialdata.read_zarr(sd_path, selection=("points",)).points[name]
    box = central_box(q["frac"])
    if box is not None:
        res = spatialdata.bounding_box_query(
            points,
            axes=("x", "y"),
            min_coordinate=list(box[:2]),
            max_coordinate=list(box[2:]),
            target_coordinate_system="global",
        )
        frame = res.compute() if res is not None else points._meta
    else:
        frame = points.compute()
    if q["genes"] is not None:
        frame = frame[frame["gene"].isin(q["genes"])]
    return frame, rchar() - before


def ours_query(index_path: str, q: dict[str, Any], mid: int, count: bool = True) -> tuple[pd.DataFrame, int, int]:
    """Our index, opened afresh: (answer, bytes read by the query, bytes read to open the index).

    With ``count``, the store is wrapped in the core's ``CountingStore`` (every byte read is counted through zarr's
    store interface); without, the plain ``LocalStore`` is read (the reader's local fast path, for the timing).
    The bytes read are the same either way (a test checks it).
    """
    from zarr.storage import LocalStore

    from spatialdata_plugins.core.testing import CountingStore
    from spatialdata_plugins.points_index import open_points_index

    store = LocalStore(index_path, read_only=True)
    if count:
        store = CountingStore(store)
    index = open_points_index(store, verify=False)
    opened = store.bytes_read if count else -1
    if count:
        store.bytes_read = 0
    kwargs: dict[str, Any] = {"max_level": mid} if q["res"] == "mid" else {}
    if q["res"] == "coarsest":
        kwargs = {"level": 0}
    frame = index.query(central_box(q["frac"]), q["genes"], columns=["x", "y", "gene"], **kwargs)
    return frame, store.bytes_read if count else -1, opened


def median_run(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """Run ``fn`` ``repeat`` times; return the last result and the median wall time in seconds."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


# ------------------------------------------------------------------------------------------ the run


def run_dataset(n: int, kind: str, repeat: int, workdir: str, progress: bool = False) -> dict[str, Any]:
    """Build every layout for one dataset and run every query; return the rows of both tables."""
    import dask.dataframe as dd
    import spatialdata
    from spatialdata.models import PointsModel

    from spatialdata_plugins.points_index import build_points_index

    df = make_points(n, kind)
    base = os.path.join(workdir, kind)
    os.makedirs(base, exist_ok=True)
    builds: list[dict[str, Any]] = []

    # baseline: spatialdata's own write
    sd_path = os.path.join(base, "sd.zarr")

    def sd_write() -> None:
        shutil.rmtree(sd_path, ignore_errors=True)
        points = PointsModel.parse(dd.from_pandas(df, chunksize=2_000_000, sort=False), feature_key="gene")
        spatialdata.SpatialData(points={"transcripts": points}).write(sd_path)

    with PeakRSS() as mem:
        _, t_sd = median_run(sd_write, repeat)
    sd_size = dir_size(os.path.join(sd_path, "points", "transcripts", "points.parquet"))
    sd_meta = sum(
        pq.read_metadata(os.path.join(r, f)).serialized_size
        for r, _, fs in os.walk(os.path.join(sd_path, "points"))
        for f in fs
        if f.endswith(".parquet")
    )
    builds.append({"layout": "spatialdata write", "build_s": t_sd, "size": sd_size, "meta": sd_meta, "peak": mem.peak})

    # ours
    idx_path = os.path.join(base, "ours.zarr")

    def ours_build() -> Any:
        shutil.rmtree(idx_path, ignore_errors=True)
        return build_points_index(
            dd.from_pandas(df, chunksize=2_000_000, sort=False), target=idx_path, feature_key="gene", progress=progress
        )

    with PeakRSS() as mem:
        index, t_ours = median_run(ours_build, repeat)
    ours_size = dir_size(idx_path)
    ours_meta = ours_size - dir_size(os.path.join(idx_path, index.path, "columns"))
    builds.append({"layout": "ours", "build_s": t_ours, "size": ours_size, "meta": ours_meta, "peak": mem.peak})
    mid = (index.n_levels - 1) // 2
    full = index.query(columns=["gene"], include_level=True)
    level_of = np.empty(n, dtype=np.int16)
    level_of[full.index.to_numpy()] = full["level"].to_numpy()
    del full

    # the hackathon's layouts (same levels as ours)
    hack_paths = {}
    for order in ("spatial", "gene"):
        path = os.path.join(base, f"hack_{order}.parquet")
        with PeakRSS() as mem:
            _, t = median_run(lambda path=path, order=order: write_hackathon(df, level_of, path, order), 1)
        hack_paths[order] = path
        builds.append(
            {
                "layout": f"hack-{order} (sort+write)",
                "build_s": t,
                "size": dir_size(path),
                "meta": pq.read_metadata(path).serialized_size,
                "peak": mem.peak,
            }
        )

    # queries
    rows: list[dict[str, Any]] = []
    for qid, q in QUERIES.items():
        cap = {"full": None, "mid": mid, "coarsest": 0}[q["res"]]
        box = central_box(q["frac"])
        m = np.ones(n, dtype=bool)
        if box is not None:
            m &= (df.x.to_numpy() > box[0]) & (df.x.to_numpy() < box[2])
            m &= (df.y.to_numpy() > box[1]) & (df.y.to_numpy() < box[3])
        if q["genes"] is not None:
            m &= df.gene.isin(q["genes"]).to_numpy()
        truth_full = int(m.sum())
        if cap is not None:
            m &= (level_of <= cap) if q["res"] == "mid" else (level_of == 0)
        truth = int(m.sum())

        def add(
            layout: str, res: tuple[Any, ...], t: float, expect: int, opened: int | None = None, qid: str = qid
        ) -> None:
            frame, nbytes = res[0], res[1]
            ab = answer_bytes(frame)
            rows.append(
                {
                    "query": qid,
                    "layout": layout,
                    "rows": len(frame),
                    "ok": len(frame) == expect,
                    "bytes": nbytes,
                    "open": opened,
                    "answer": ab,
                    "time": t,
                }
            )

        res, t = median_run(
            lambda q=q, cap=cap: parquet_query(
                os.path.join(sd_path, "points", "transcripts", "points.parquet"), q, cap, False
            ),
            repeat,
        )
        add("sd+pyarrow" + (" (full res)" if cap is not None else ""), res, t, truth_full)
        res, t = median_run(lambda q=q: sd_bbq_query(sd_path, "transcripts", q), repeat)
        add("sd+bbq" + (" (full res)" if cap is not None else ""), res, t, truth_full)
        for order, path in hack_paths.items():
            res, t = median_run(lambda q=q, path=path, cap=cap: parquet_query(path, q, cap, True), repeat)
            add(f"hack-{order}", res, t, truth)
        # a query of ours takes milliseconds, so timer noise matters: median of at least 9 runs (cheap)
        _, t = median_run(lambda q=q: ours_query(idx_path, q, mid, count=False), max(repeat, 9))
        res = ours_query(idx_path, q, mid)
        add("ours", res, t, truth, opened=res[2])
    shutil.rmtree(base, ignore_errors=True)
    return {"kind": kind, "n": n, "builds": builds, "queries": rows, "levels": index.level_rows(), "mid": mid}


def _mb(v: float) -> str:
    return f"{v / 1e6:,.2f} MB" if v >= 1e5 else f"{v / 1e3:,.1f} kB"


def markdown(results: list[dict[str, Any]]) -> str:
    """The two tables of the benchmark as markdown."""
    out = []
    for r in results:
        out.append(f"\n### {r['kind']}, N = {r['n']:,} ({len(r['levels'])} levels, mid = {r['mid']})\n")
        sd = r["builds"][0]
        out.append("| layout | build (s) | vs sd write | file size | vs sd | metadata | peak memory |")
        out.append("|---|---|---|---|---|---|---|")
        for b in r["builds"]:
            out.append(
                f"| {b['layout']} | {b['build_s']:.2f} | {b['build_s'] / sd['build_s']:.2f}x | {_mb(b['size'])} | "
                f"{b['size'] / sd['size']:.2f}x | {_mb(b['meta'])} | {_mb(b['peak'])} |"
            )
        out.append("")
        out.append(
            "| query | layout | rows | rows ok | bytes read | answer (zstd) | read/answer | time (ms) | "
            "speed-up vs sd+bbq |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        bbq = {q["query"]: q["time"] for q in r["queries"] if q["layout"].startswith("sd+bbq")}
        for q in r["queries"]:
            ratio = q["bytes"] / q["answer"] if q["answer"] else float("inf") if q["bytes"] else 0.0
            extra = f" (+{_mb(q['open'])} open)" if q["open"] is not None else ""
            out.append(
                f"| {q['query']} | {q['layout']} | {q['rows']:,} | {'yes' if q['ok'] else 'NO'} | "
                f"{_mb(q['bytes'])}{extra} | {_mb(q['answer'])} | {ratio:,.1f}x | {q['time'] * 1e3:,.1f} | "
                f"{bbq[q['query']] / q['time']:,.0f}x |"
            )
    return "\n".join(out)


def plot(results: list[dict[str, Any]], path: str) -> None:
    """Bytes read (relative to the answer) and time per query and layout, one panel row per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(13, 4 * len(results)), squeeze=False)
    for i, r in enumerate(results):
        layouts = list(dict.fromkeys(q["layout"].split(" (")[0] for q in r["queries"]))
        qids = list(QUERIES)
        width = 0.8 / len(layouts)
        for j, layout in enumerate(layouts):
            sel = [
                next(q for q in r["queries"] if q["query"] == qid and q["layout"].split(" (")[0] == layout)
                for qid in qids
            ]
            xs = np.arange(len(qids)) + j * width
            axes[i, 0].bar(xs, [max(q["bytes"], 1) for q in sel], width, label=layout)
            axes[i, 1].bar(xs, [q["time"] * 1e3 for q in sel], width, label=layout)
        answers = [
            next(q for q in r["queries"] if q["query"] == qid and q["layout"] == "ours")["answer"] for qid in qids
        ]
        axes[i, 0].scatter(
            np.arange(len(qids)) + 0.4 - width / 2,
            [max(a, 1) for a in answers],
            marker="_",
            s=400,
            color="k",
            label="answer (zstd)",
            zorder=3,
        )
        for ax, title in ((axes[i, 0], "bytes read"), (axes[i, 1], "time (ms)")):
            ax.set_yscale("log")
            ax.set_xticks(np.arange(len(qids)) + 0.4 - width / 2, qids)
            ax.set_title(f"{r['kind']}, N = {r['n']:,}: {title}")
        axes[i, 0].legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)


# ------------------------------------------------------------------------------------------ scale run


_SCALE_CHILD = r"""
import json, resource, sys, time
import dask, dask.dataframe as dd
from spatialdata_plugins.points_index import build_points_index
src, dst, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
dask.config.set(scheduler="threads", num_workers=2)
t0 = time.perf_counter()
idx = build_points_index(dd.read_parquet(src), target=dst, feature_key="gene", progress=False, temp_dir=tmp)
print(json.dumps({"seconds": time.perf_counter() - t0, "levels": idx.level_rows(),
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def scale_run(n: int, workdir: str, kind: str = "uniform", part_rows: int = 2_000_000) -> dict[str, Any]:
    """Build the index of ``n`` points stored as parquet, out of core, in a child process; report its peak RSS."""
    import resource

    src = os.path.join(workdir, "scale_points.parquet")
    os.makedirs(src, exist_ok=True)
    for i, start in enumerate(range(0, n, part_rows)):
        part = make_points(min(part_rows, n - start), kind, seed=1000 + i)
        part.index = pd.RangeIndex(start, start + len(part))
        part.to_parquet(os.path.join(src, f"part.{i:05d}.parquet"))
        del part
    dst = os.path.join(workdir, "scale_index.zarr")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, "-c", _SCALE_CHILD, src, dst, workdir], capture_output=True, text=True, check=True
    )
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info.update(
        {
            "n": n,
            "peak_rss_gib": max(child, before, info["maxrss_kib"]) / 2**20,
            "input_bytes": dir_size(src),
            "index_bytes": dir_size(dst),
        }
    )
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(dst, ignore_errors=True)
    return info


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000, help="points per dataset (the reported table: 10M)")
    ap.add_argument("--quick", action="store_true", help="small smoke run (200k points, 1 repeat)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--kinds", default="uniform,clustered")
    ap.add_argument("--plot", default=None, help="save a plot (e.g. docs/_static/points-index/bench.png)")
    ap.add_argument("--scale", type=int, default=0, help="also build N points out of core (e.g. 100000000)")
    ap.add_argument("--json", default=None, help="save the raw results as JSON")
    args = ap.parse_args(argv)
    n, repeat = (200_000, 1) if args.quick else (args.n, args.repeat)
    workdir = tempfile.mkdtemp(prefix="bench-points-index-")
    try:
        results = [run_dataset(n, kind, repeat, workdir) for kind in args.kinds.split(",") if kind]
        print(markdown(results), flush=True)
        if args.plot and results:
            plot(results, args.plot)
            print(f"\nplot saved to {args.plot}")
        if args.scale:
            info = scale_run(args.scale, workdir)
            print(
                f"\nscale: {info['n']:,} points built out of core in {info['seconds']:.0f} s, peak RSS "
                f"{info['peak_rss_gib']:.2f} GiB (input {_mb(info['input_bytes'])}, index {_mb(info['index_bytes'])},"
                f" {len(info['levels'])} levels)"
            )
            results.append({"scale": info})
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1, default=str)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
