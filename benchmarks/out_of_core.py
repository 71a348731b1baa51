"""Out of core: a volume larger than a worker's memory streams Zarr → Zarr under a limit.

Run ``python benchmarks/out_of_core.py`` (defaults: ``--memory-limit 512MiB --factor 2.2
--chunk 128``). A synthetic fiber scan (uint16, fibers along z, noise) of ``factor`` times
the worker memory limit is generated block by block straight into a Zarr store (never
whole in memory). Then ``microct run`` streams it through a volume stage of the fiber
pipeline into another Zarr store: ``--pipeline mask`` (default: the fiber mask, a
Gaussian at the voxel size then a global Otsu threshold from the histogram of the whole
volume — two passes over the input) or ``tubeness`` (at the fiber pipeline's scale,
σ = 0.6 × 6.4 µm, float32 out), on a LocalCluster of ``--workers`` worker processes (1 by
default, 2 threads), each with ``--memory-limit``. ``--pipeline fibers`` runs the whole
fiber pipeline instead (a table out).

Reported: the input size against the limit, time and Mvox/s, and the peak RSS of each
worker process (sampled every 20 ms with psutil), which must stay under the limit: the
memory is bounded by the chunks in flight, not by the volume. The run fails (exit 1) if
a worker's peak RSS reaches the limit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import psutil
import yaml
from dask.utils import format_bytes, parse_bytes

import xarray_microct as mct
from xarray_microct.cluster import ClusterOptions
from xarray_microct.runner import open_result, run_pipeline, run_state

SPACING = 1.3  # micrometer, the seed's scan at pyramid level 1
RADIUS = 6.4  # micrometer


def _fiber_block(block_info: dict | None = None, seed: int = 0) -> np.ndarray:
    """One block of a fiber bed: bright discs on a hexagonal-ish grid, straight along z."""
    info = block_info[None]
    (z0, z1), (y0, y1), (x0, x1) = info["array-location"]
    rng = np.random.default_rng([seed, z0, y0, x0])
    y, x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    step = 2.6 * RADIUS / SPACING
    cy = np.round(y / step) * step
    cx = np.round((x + (np.round(y / step) % 2) * step / 2) / step) * step - (
        np.round(y / step) % 2
    ) * step / 2
    inside = (y - cy) ** 2 + (x - cx) ** 2 <= (RADIUS / SPACING) ** 2
    plane = np.where(inside, 30000.0, 12000.0).astype(np.float32)
    noise = rng.normal(0.0, 2500.0, (z1 - z0, y1 - y0, x1 - x0)).astype(np.float32)
    return np.clip(plane[None] + noise, 0, 65535).astype(np.uint16)


def write_scan(store: Path, shape: tuple[int, int, int], chunk: int) -> None:
    data = da.map_blocks(
        _fiber_block,
        chunks=tuple((chunk,) * (n // chunk) + ((n % chunk,) if n % chunk else ()) for n in shape),
        dtype=np.uint16,
        meta=np.empty((0, 0, 0), np.uint16),
    )
    volume = mct.from_array(data, spacing=SPACING, units="micrometer", name="scan")
    volume.to_zarr(store)


class WorkerMemory:
    """Peak RSS of every child process (the workers) of this process, sampled."""

    def __init__(self) -> None:
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process(os.getpid())
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                    if "python" not in child.name().lower():
                        continue
                except psutil.Error:
                    continue
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)
            self.peaks[me.pid] = max(self.peaks.get(me.pid, 0), me.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-limit", default="512MiB", help="per worker")
    parser.add_argument("--factor", type=float, default=2.2,
                        help="input size / memory limit (at least 2)")
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="threads per worker")
    parser.add_argument("--pipeline", choices=("mask", "tubeness", "fibers"), default="mask")
    parser.add_argument("--keep", action="store_true", help="keep the stores")
    args = parser.parse_args()
    if args.factor < 2:
        parser.error("--factor must be at least 2: the point is a volume larger than memory")

    limit = parse_bytes(args.memory_limit)
    voxels = args.factor * limit / 2  # uint16
    side = int(np.ceil(voxels ** (1 / 3) / args.chunk)) * args.chunk  # y, x
    depth = int(np.ceil(voxels / side**2 / args.chunk)) * args.chunk  # z: enough slices
    shape = (depth, side, side)
    folder = Path(tempfile.mkdtemp(prefix="microct-ooc-"))
    scan, out = folder / "scan.zarr", folder / "out.zarr"
    try:
        start = time.perf_counter()
        write_scan(scan, shape, args.chunk)
        nbytes = int(np.prod(shape)) * 2
        print(f"input {' × '.join(map(str, shape))} uint16 = {format_bytes(nbytes)} "
              f"({nbytes / limit:.2f} × the worker memory limit of {format_bytes(limit)}; "
              f"float32 intermediates {format_bytes(2 * nbytes)}), "
              f"{args.chunk}³ chunks, written in {time.perf_counter() - start:.1f} s")
        stages = {
            "mask": [
                {"op": "gaussian", "params": {"sigma": f"{SPACING} um"}},
                {"op": "threshold", "params": {"method": "otsu"}},
            ],
            "tubeness": [{"op": "tubeness", "params": {"sigma": f"{0.6 * RADIUS} um"}}],
        }
        spec: str | Path = "fibers"
        if args.pipeline in stages:
            spec = folder / f"{args.pipeline}.yaml"
            spec.write_text(yaml.safe_dump({"steps": stages[args.pipeline]}))
        options = ClusterOptions(workers=args.workers, threads_per_worker=args.threads,
                                 memory_limit=args.memory_limit)
        with WorkerMemory() as memory:
            start = time.perf_counter()
            run_pipeline(spec, scan, out, options=options, progress=False)
            seconds = time.perf_counter() - start
        me = os.getpid()
        workers = {pid: peak for pid, peak in memory.peaks.items() if pid != me}
        mvox = np.prod(shape) / 1e6
        print()
        print(f"{'pipeline':<10} {'Mvox':>8} {'time s':>8} {'Mvox/s':>7} "
              f"{'worker peak RSS':>16} {'limit':>9} {'client RSS':>11}")
        print(f"{args.pipeline:<10} {mvox:8.1f} {seconds:8.1f} {mvox / seconds:7.2f} "
              f"{format_bytes(max(workers.values())):>16} {format_bytes(limit):>9} "
              f"{format_bytes(memory.peaks[me]):>11}")
        state = run_state(out)
        assert state is not None and state["status"] == "complete", state
        result = open_result(out)
        if isinstance(result, pd.DataFrame):
            print(f"fiber table: {len(result)} rows")
        else:
            print(f"output {result.dtype} {result.shape}, complete; mean of a corner "
                  f"{float(result[:64, :64, :64].mean()):.4g}")
        over = [p for p in workers.values() if p >= limit]
        if over:
            print(f"FAIL: a worker reached the memory limit ({format_bytes(max(over))})")
            return 1
        print(f"peak worker RSS {max(workers.values()) / limit:.0%} of the limit: bounded by "
              "the chunks in flight, not by the volume")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
