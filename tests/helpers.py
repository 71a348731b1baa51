"""Helpers shared by the test modules (``from helpers import ...``)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from dask.callbacks import Callback


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to a renumbering of the non-zero labels (0 stays 0)."""
    if not np.array_equal(a == 0, b == 0):
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def matched_iou(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each true object, the IoU with the predicted label overlapping it most."""
    n = int(truth.max())
    ious = np.zeros(n)
    for t in range(1, n + 1):
        inside = truth == t
        found = np.bincount(labels[inside], minlength=1)
        found[0] = 0
        best = int(found.argmax())
        if best:
            ious[t - 1] = found[best] / np.count_nonzero(inside | (labels == best))
    return ious


def dark_balls(
    rng: np.random.Generator, shape: tuple[int, int, int], room: tuple[int, int, int]
) -> tuple[np.ndarray, list[tuple[np.ndarray, float]]]:
    """Balls of radius 5-7 placed at random (up to 4000 tries, overlapping by at most 5 %
    of their radii) inside the box ``room`` at the origin; labelled 1, 2, ... in ``shape``."""
    balls: list[tuple[np.ndarray, float]] = []
    for _ in range(4000):
        r = rng.uniform(5.0, 7.0)
        c = rng.uniform(r, np.array(room) - r)
        if all(np.linalg.norm(c - c2) > 0.95 * (r + r2) for c2, r2 in balls):
            balls.append((c, r))
    z, y, x = np.indices(shape)
    truth = np.zeros(shape, np.int32)
    for i, (c, r) in enumerate(balls):
        inside = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r**2
        truth[inside & (truth == 0)] = i + 1
    return truth, balls


def fresh_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported before it); its output,
    stripped, once it has ended without error."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


HALF_WAY_WRITER = textwrap.dedent(
    """
    import os, pathlib, signal, sys, time
    import dask, dask.array as da
    import xarray_microct as mct
    from xarray_microct.io.ome import to_ome_zarr
    from xarray_microct.io.results import write_volume

    out, how, ready = sys.argv[1:]
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also as a background job

    def slab(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 1:  # half-way: wait for the signal
            pathlib.Path(ready).write_text(str(os.getpid()))
            time.sleep(600)
        return block

    data = da.full((16, 8, 8), 7, dtype="uint16", chunks=8).map_blocks(slab, dtype="uint16")
    volume = mct.from_array(data, spacing=1.0, name="scan")
    with dask.config.set(scheduler="sync"):
        if how == "to_zarr":
            volume.microct.to_zarr(out, mode="w", chunks=8)
        elif how == "url":  # fsspec's local file system makes no folders by itself
            to_ome_zarr(volume, out, mode="w", chunks=8, storage_options={"auto_mkdir": True})
        else:
            write_volume(volume, out, overwrite=True)
    """
)
"""A script that replaces ``out`` (argv: ``out``, ``how``: ``to_zarr``, ``url`` or
``write_volume``, ``ready``) with a volume of sevens, and half-way writes its pid to the
file ``ready`` and waits there to be stopped (ten minutes at most)."""


class StopAfterStores(Callback):
    """Raise ``error`` in the threaded scheduler's thread once ``n`` chunks are stored
    (``KeyboardInterrupt`` stands for Ctrl-C; another exception for a killed job)."""

    def __init__(self, n: int, error: type[BaseException] = KeyboardInterrupt) -> None:
        super().__init__()
        self.n, self.error = n, error

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        name = key[0] if isinstance(key, tuple) else key
        if str(name).startswith("store-map"):
            self.n -= 1
            if self.n == 0:
                raise self.error


@contextlib.contextmanager
def two_workers(as_microct_run: bool = False) -> Iterator[Any]:
    """A Dask client of two in-process workers of one thread each; ``as_microct_run``:
    without work stealing, as ``microct run`` starts its cluster."""
    import dask
    import distributed

    from xarray_microct.cluster import SCHEDULER_CONFIG

    with (
        dask.config.set(SCHEDULER_CONFIG if as_microct_run else {}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def keys_received(client: Any) -> Iterator[list]:
    """The keys the workers of ``client`` receive from one another in the ``with`` block
    (their transfer logs read before and after), filled in when the block ends."""
    before = client.run(lambda dask_worker: len(dask_worker.transfer_incoming_log))
    keys: list = []
    yield keys
    sent = client.run(
        lambda dask_worker: [
            key
            for transfer in list(dask_worker.transfer_incoming_log)[before[dask_worker.address] :]
            for key in transfer["keys"]
        ]
    )
    keys.extend(key for received in sent.values() for key in received)


def race_three_writers(script: Path, target: str, go: Path, out: Path, wait: float) -> int:
    """Start three processes of ``script`` writing ``target``, let them go together (the
    file ``go`` made), and check that exactly one wrote (exit 0, leaving ``out/by-PID``)
    and the others were refused (exit 3, saying why); the winner's pid."""
    racers = [
        subprocess.Popen(
            [sys.executable, str(script), target, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(0.5)  # most of the import done: they start together
    go.write_text("")
    results = [(r.pid, r.wait(timeout=wait), r.communicate(timeout=wait)) for r in racers]
    wrote = [pid for pid, code, _ in results if code == 0]
    assert len(wrote) == 1, results
    for _, code, (stdout, stderr) in results:
        if code:
            assert code == 3, stderr
            assert "another write of" in stdout or "made by another write" in stdout, stdout
    assert sorted(p.name for p in out.iterdir()) == [f"by-{wrote[0]}"]
    return wrote[0]
