"""SIGKILL a writer at random points of multi-element transactions; the repository always holds a whole commit.

After every kill the repository opens, ``main`` is at the last commit the writer finished (or at the one it was
finishing when killed, if the commit itself had landed), the history is linear, and every element reads back
equal to that commit's data.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from spatialdata.testing import assert_elements_are_identical

import spatialdata_plugins.icechunk as sdi
from spatialdata_plugins.core import SpatialData

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import _crash_writer as writer  # noqa: E402


class _Zygote:
    def __init__(self, repo_path: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_crash_writer.py"), repo_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.next_line(300) == "ready"

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout: float = 120) -> str:
        return self.lines.get(timeout=timeout)

    def spawn(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.next_line()
        assert line.startswith("pid "), line
        return int(line.split()[1])

    def drain(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.lines.get(timeout=0.2))
            except queue.Empty:
                return out

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _check_repository(path: str, committed: int) -> int:
    """Open the repository after a kill and check it holds exactly one whole generation; return it."""
    repo = sdi.open_repository(path)
    log = sdi.log(repo)
    generation = writer.generation_of(log[0].metadata)
    assert generation in (committed, committed + 1), (generation, committed)
    generations = [writer.generation_of(c.metadata) for c in log if "generation" in c.metadata]
    assert generations == list(range(generation, 0, -1)), generations  # linear history, nothing in between
    sdata = sdi.read(repo)
    want = writer.expected(generation)
    assert sorted(n for _, n, _ in sdata.gen_elements()) == sorted(want)
    for name, element in want.items():
        assert_elements_are_identical(element, sdata[name])
    assert sdata.attrs.get("generation", 0) == generation
    return generation


def _run_kills(tmp_path: Path, n_kills: int, seed: int) -> dict[str, int]:
    path = str(tmp_path / "crash.icechunk")
    repo = sdi.open_repository(path, create=True)
    writer.write_generation(repo, SpatialData(), 1)
    committed = 1
    rng = random.Random(seed)
    durations = [1.0]
    stats = {"kills": 0, "mid_transaction": 0, "after_commit": 0, "between": 0}
    zygote = _Zygote(path)
    try:
        for _ in range(n_kills):
            pid = zygote.spawn()
            began = None
            start = time.monotonic()
            while began is None:  # let it start a transaction (sometimes finish a few), then kill it anywhere in one
                line = zygote.next_line()
                if line.startswith("commit"):
                    committed = int(line.split()[1])
                    durations.append(time.monotonic() - start)
                    start = time.monotonic()
                elif line.startswith("begin") and rng.random() < 0.7:
                    began = int(line.split()[1])
                elif line.startswith("begin"):
                    start = time.monotonic()
            time.sleep(rng.uniform(0, 1.2 * sorted(durations)[len(durations) // 2]))
            os.kill(pid, signal.SIGKILL)
            for line in zygote.drain():
                if line.startswith("commit"):
                    committed = int(line.split()[1])
            stats["kills"] += 1
            generation = _check_repository(path, committed)
            if generation == began and committed < began:
                stats["after_commit"] += 1  # killed after the commit landed, before it was reported
            elif committed >= began:
                stats["between"] += 1
            else:
                stats["mid_transaction"] += 1
            committed = generation
    finally:
        zygote.close()
    return stats


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the writer zygote forks")
def test_sigkill_during_transactions_never_corrupts(tmp_path):
    stats = _run_kills(tmp_path, n_kills=10, seed=0)
    print(f"\ncrash test: {stats}")
    assert stats["kills"] == 10
    assert stats["mid_transaction"] >= 3  # most kills landed inside a transaction


@pytest.mark.scale
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the writer zygote forks")
def test_sigkill_many_times(tmp_path):
    stats = _run_kills(tmp_path, n_kills=100, seed=1)
    print(f"\ncrash test (scale): {stats}")
    assert stats["kills"] == 100
