"""Strong scaling of the fiber pipeline: 1 → 2 worker processes (and the threaded scheduler).

Run ``python benchmarks/scaling.py`` (``--shape 128 256 256 --chunk 64`` by default). A
synthetic fiber bed is written to a Zarr store and read back lazily, as a scan would be;
the whole fiber pipeline (tubeness → global Otsu mask → per-slice detection → linking)
then runs on

* Dask's threaded scheduler (2 threads, no client: the laptop default),
* a LocalCluster of 1 worker process (1 thread),
* a LocalCluster of 2 worker processes (1 thread each),

each started (and warmed up on a small volume in every worker, so imports and numba
compilation are not timed) before the
timed run; then its chunked volume stage alone (tubeness, Zarr → Zarr) is timed too.
Strong-scaling efficiency = T(1 worker) / (2 × T(2 workers)). Every run must
give the same fiber table. The graph size of the pipeline (tasks per input chunk) is
reported too. Peak memory is the peak RSS of this process plus all its children (the
worker processes), sampled every 20 ms by a psutil thread.

The development machine has 2 cores shared with other work: compare the rows of one run,
not runs on different days.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import psutil

import xarray_microct as mct
from xarray_microct.cluster import ClusterOptions, dask_client
from xarray_microct.pipelines import fibers
from xarray_microct.runner import write_volume
from xarray_microct.synthetic import fiber_bed


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Peak RSS (bytes) of this process and its children while the block runs."""
    me = psutil.Process(os.getpid())
    out = {"peak": 0.0}
    stop = threading.Event()

    def total() -> float:
        rss = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                rss += child.memory_info().rss
            except psutil.Error:
                pass
        return float(rss)

    def sample() -> None:
        while not stop.is_set():
            out["peak"] = max(out["peak"], total())
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()


def tasks_per_chunk(volume: Any) -> tuple[int, float]:
    """Tasks of every graph the fiber pipeline runs, and that number per input chunk."""
    sizes: list[int] = []

    def capture(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        graph = dsk.__dask_graph__() if hasattr(dsk, "__dask_graph__") else dsk
        sizes.append(len(dict(graph)))
        return dask.threaded.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=capture):
        fibers(volume)
    n_chunks = int(np.prod(volume.data.numblocks))
    return sum(sizes), sum(sizes) / n_chunks


def warm_up(store: str) -> None:
    """Run the pipeline once inside a worker (synchronously), so nothing compiles later."""
    import dask as local_dask

    from xarray_microct.pipelines import fibers as run_fibers

    with local_dask.config.set(scheduler="synchronous"):
        volume = mct.open_volume(store)
        run_fibers(volume)
        volume.microct.tubeness(sigma="3.84 um").sum().compute()


def timed(run: Callable[[], pd.DataFrame]) -> tuple[float, float, pd.DataFrame]:
    with peak_rss() as memory:
        start = time.perf_counter()
        table = run()
        seconds = time.perf_counter() - start
    return seconds, memory["peak"], table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(128, 256, 256))
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per set-up (best)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="microct-scaling-"))
    store = folder / "bed.zarr"
    bed, _ = fiber_bed(tuple(args.shape), seed=5, chunks=args.chunk)
    bed.rename("scan").to_zarr(store)
    warm_store = folder / "warm.zarr"
    warm, _ = fiber_bed((12, 48, 48), seed=1, chunks=24)
    warm.rename("scan").to_zarr(warm_store)
    volume = mct.open_volume(store)
    mvox = volume.size / 1e6
    n_tasks, per_chunk = tasks_per_chunk(volume)
    print(f"fiber bed {' × '.join(map(str, args.shape))} = {mvox:.2f} Mvox, "
          f"{args.chunk}³ chunks ({int(np.prod(volume.data.numblocks))} chunks)")
    print(f"fiber pipeline graph: {n_tasks} tasks = {per_chunk:.1f} tasks per input chunk")

    setups = [
        ("threads (2, no client)", None),
        ("1 worker process", ClusterOptions(workers=1, threads_per_worker=1)),
        ("2 worker processes", ClusterOptions(workers=2, threads_per_worker=1)),
    ]
    rows = []
    tables = []
    stage_times = []
    for index, (label, options) in enumerate(setups):
        with dask_client(options) as client:
            if client is not None:  # imports and numba compilation on every worker: untimed
                client.run(warm_up, str(warm_store))
            best = None
            for _ in range(args.repeat):
                result = timed(lambda: fibers(mct.open_volume(store)))
                best = result if best is None or result[0] < best[0] else best
            # The chunked volume stage alone: tubeness, Zarr -> Zarr.
            tube = mct.open_volume(store).microct.tubeness(sigma="3.84 um")
            start = time.perf_counter()
            write_volume(tube, folder / f"tubeness{index}.zarr", client=client)
            stage_times.append(time.perf_counter() - start)
        seconds, peak, table = best
        tables.append(table)
        rows.append((label, seconds, mvox / seconds, peak / 2**20))
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0], check_dtype=False)
    one, two = rows[1][1], rows[2][1]
    print()
    print(f"{'set-up':<24} {'time s':>8} {'Mvox/s':>8} {'speed-up':>9} {'peak RSS MiB':>13}"
          f" {'tubeness stage s':>17}")
    for (label, seconds, rate, peak), stage in zip(rows, stage_times, strict=True):
        print(f"{label:<24} {seconds:8.2f} {rate:8.3f} {one / seconds:9.2f} {peak:13.0f}"
              f" {stage:17.2f}")
    print()
    print(f"strong scaling 1 → 2 worker processes, whole fiber pipeline: speed-up "
          f"{one / two:.2f}, efficiency {one / (2 * two):.0%}")
    s1, s2 = stage_times[1], stage_times[2]
    print(f"strong scaling 1 → 2 worker processes, tubeness stage (Zarr → Zarr): speed-up "
          f"{s1 / s2:.2f}, efficiency {s1 / (2 * s2):.0%}")
    print(f"identical fiber tables in every set-up: {len(tables[0])} rows, "
          f"{tables[0]['fiber_id'].nunique()} fibers")
    print(f"(machine: {psutil.cpu_count()} logical cores, load average "
          f"{os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
