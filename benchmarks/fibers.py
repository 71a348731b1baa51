"""The fiber pipeline on a synthetic 512³ bed: time and peak memory per stage.

Run ``python benchmarks/fibers.py`` (``--size 256`` for a quicker run). The bed is written
to a Zarr store first and read back lazily, as a scan would be. Each stage is computed on
its own (its input held in memory) so its time and peak memory can be told apart; then the
whole pipeline runs end to end from the store. The last lines project the end-to-end time
to the seed paper's 650-megavoxel volume (13 min on a laptop with 2 workers × 6 cores).

Peak memory is the peak resident set size of this process above its level before the
stage, sampled every 20 ms by a psutil thread. CPU seconds (user + system, all threads)
are printed next to wall time: on a shared machine (see the load average printed) the
wall time grows with the load while the CPU time stays near the work done, so the
projection uses both. ``--cache DIR`` keeps the generated bed between runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import pandas as pd
from _measure import Measure

import xarray_microct as mct
from xarray_microct.metrics import object_metrics, pixel_metrics
from xarray_microct.ops.fibers import (
    fiber_chain,
    link_centres,
    mask_centres,
)
from xarray_microct.pipelines import fibers
from xarray_microct.synthetic import fiber_bed

PAPER_VOXELS = 650e6
PAPER_MINUTES = 13.0


def measure(name: str, func: Callable[[], Any], voxels: int, rows: list) -> Any:
    with Measure(interval=0.02) as mem:
        result = func()
    seconds, cpu = mem.seconds, mem.cpu_seconds
    rows.append((name, seconds, cpu, mem.peak_mb))
    print(f"  {name:<42}{seconds:>8.1f} s{cpu:>8.1f} s{voxels / seconds / 1e6:>8.1f}"
          f"{mem.peak_mb:>9.0f} MiB   load {os.getloadavg()[0]:.1f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="edge of the bed in voxels")
    parser.add_argument("--chunks", type=int, default=128, help="Zarr/Dask chunk edge")
    parser.add_argument("--workers", type=int, default=2, help="threads of the scheduler")
    parser.add_argument("--cache", default=None, help="folder keeping the generated bed")
    args = parser.parse_args()
    n = args.size
    voxels = n**3
    dask.config.set(scheduler="threads", num_workers=args.workers)
    print(f"fiber pipeline benchmark: {n}³ = {voxels / 1e6:.0f} Mvox, chunks {args.chunks}³, "
          f"{args.workers} threads, {os.cpu_count()} CPUs")
    start = time.perf_counter()
    folder = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="fibers-bench-"))
    store = folder / f"bed-{n}.zarr"
    truth_csv = folder / f"bed-{n}-truth.csv"
    if store.exists() and truth_csv.exists():
        centres = pd.read_csv(truth_csv)
        print(f"  (reusing the bed in {store})")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        volume, truth = fiber_bed((n, n, n), seed=0, chunks=args.chunks)
        volume.to_zarr(store, mode="w")
        centres = truth.centres
        centres.to_csv(truth_csv, index=False)
        del volume, truth
        print(f"  (built and stored the bed in {time.perf_counter() - start:.0f} s)")
    print(f"  {'stage':<42}{'wall':>10}{'cpu':>10}{'Mvox/s':>8}{'peak RSS':>13}")
    scan = mct.open_volume(store).chunk(args.chunks)
    grid = mct.grid_of(scan)
    radius = 6.4
    rows: list = []

    tube = measure(
        "1 tubeness (σ = 0.6 r)",
        lambda: fiber_chain(scan, "intensity", 0.6 * radius, min(grid.spacing))[1].compute(),
        voxels,
        rows,
    )
    mask = measure(
        "2 smooth + global Otsu threshold",
        lambda: fiber_chain(
            scan, "intensity", 0.6 * radius, min(grid.spacing), eager=True
        )[0].compute(),
        voxels,
        rows,
    )
    seed_px = (0.75 * radius / grid.spacing[1], 0.75 * radius / grid.spacing[2])
    mask_in = da.from_array(mask.values, chunks=args.chunks)
    tube_in = da.from_array(tube.values, chunks=args.chunks)
    found = measure(
        "3 per-slice centres (seeds, watershed)",
        lambda: mask_centres(mask_in, grid.spacing, seed_px, radius / 2, score=tube_in),
        voxels,
        rows,
    )
    rows_phys = found.copy()
    rows_phys[:, 1:3] *= grid.spacing[1]
    measure("4 linking along z", lambda: link_centres(rows_phys, radius / 2), voxels, rows)
    table = measure("end to end: fibers(scan) from Zarr", lambda: fibers(scan), voxels, rows)
    scores = measure(
        "scores (object matching, all slices)",
        lambda: object_metrics(table, centres, like=scan, margin=radius),
        voxels,
        rows,
    )
    pixel = pixel_metrics(table, centres, like=scan, z=float(scan.z[n // 2]))
    total, cpu_total = rows[4][1], rows[4][2]
    projected = total * PAPER_VOXELS / voxels
    projected_cpu = cpu_total * PAPER_VOXELS / voxels / args.workers
    print(f"\n  detected {table.fiber_id.nunique()} fibers ({centres.fiber_id.nunique()} true); "
          f"object F1 {scores['f1']:.4f}, mean centre error {scores['mean_error']:.3f} µm; "
          f"pixel-wise Dice {pixel['dice']:.4f} (seed paper: 0.7424)")
    print(f"  projection to the paper's 650 Mvox volume (linear in voxels): "
          f"{projected / 60:.1f} min wall on {args.workers} cores as measured here, "
          f"{projected_cpu / 60:.1f} min if the {args.workers} cores were not shared "
          f"(CPU time / {args.workers}) "
          f"(seed paper: {PAPER_MINUTES:.0f} min on a laptop, 2 workers × 6 cores; "
          f"CPU: {cpu_total * PAPER_VOXELS / voxels / 60:.0f} core-minutes here vs "
          f"{PAPER_MINUTES * 12:.0f} core-minutes of the laptop)")


if __name__ == "__main__":
    main()
