"""Connected components: xarray-microct against scipy (whole array) and dask-image.

On the same boolean volume (thresholded smoothed noise: many blob-like objects, a few
of them spanning many chunks), times

* ``xarray-microct``: :func:`xarray_microct.ops.label.label_array` (independent
  per-block labels with static offsets, face equivalences, one union-find, remap);
* ``scipy``: ``scipy.ndimage.label`` on the whole in-memory array (one thread);
* ``dask-image``: ``dask_image.ndmeasure.label`` on the same Dask array;
* ``hysteresis``: :func:`xarray_microct.ops.segment.hysteresis_array` beside
  ``skimage.filters.apply_hysteresis_threshold`` on the whole array,

with 128³ chunks and Dask's threaded scheduler. Each case runs in a fresh process,
warmed up by a tiny labelling (one-time costs, importing ``distributed`` and loading
the numba kernels, about 1 s, are not counted); its peak memory is the largest RSS
above the process's size once the input is in memory (psutil, sampled every 5 ms).
Every result is checked against scipy/skimage (same object count, same partition).
Prints a table (Mvox/s, seconds, peak MB) and ratios.

Run: ``python benchmarks/label.py [--size 256 512] [--chunk 128] [--repeat 1]``
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import psutil
from _measure import Measure, in_fresh_process

CASES = ("xarray-microct", "scipy", "dask-image", "hysteresis-microct", "hysteresis-skimage")


def smooth_noise(size: int, seed: int = 0) -> np.ndarray:
    """Smoothed noise around 0.5 (a 5-voxel box filter of uniform noise), float32."""
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    noise = rng.random((size, size, size), dtype=np.float32)
    return ndi.uniform_filter(noise, size=5)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    if not np.array_equal(a == 0, b == 0):
        return False
    fg = a != 0
    pairs = np.unique(np.stack([a[fg], b[fg]]).astype(np.int64), axis=1)
    return pairs.shape[1] == len(np.unique(a[fg])) == len(np.unique(b[fg]))


def run_case(case: str, size: int, chunk: int, queue: Any) -> None:
    import dask
    import dask.array as da
    import scipy.ndimage as ndi
    import skimage.filters as skf

    from xarray_microct.ops.label import label_array
    from xarray_microct.ops.segment import hysteresis_array

    dask.config.set(scheduler="threads")
    # Warm up, in every case alike: the first Dask compute imports distributed, and the
    # first call of the numba kernels loads them (about 1 s once per process).
    dask.compute(*label_array(da.ones((40, 40, 40), dtype=bool, chunks=20)))
    field = smooth_noise(size)
    mask = field > 0.55
    if not case.startswith("hysteresis"):
        del field
    with Measure(interval=0.005) as measured:
        if case == "xarray-microct":
            labels, n = label_array(da.from_array(mask, chunks=chunk), 1)
            result, n = dask.compute(labels, n)
        elif case == "scipy":
            result, n = ndi.label(mask)
        elif case == "dask-image":
            from dask_image.ndmeasure import label as di_label

            labels, n = di_label(da.from_array(mask, chunks=chunk))
            result, n = dask.compute(labels, n)
        elif case == "hysteresis-microct":
            result = hysteresis_array(da.from_array(field, chunks=chunk), 0.52, 0.58).compute()
            n = -1
        else:
            result = skf.apply_hysteresis_threshold(field, 0.52, 0.58)
            n = -1
    if case.startswith("hysteresis"):
        correct = bool(np.array_equal(result, skf.apply_hysteresis_threshold(field, 0.52, 0.58)))
    else:
        reference, n_ref = ndi.label(mask)
        correct = int(n) == n_ref and same_partition(result, reference)
    queue.put({"seconds": measured.seconds, "peak_mb": measured.peak_mb, "objects": int(n),
               "correct": correct})


def measure(case: str, size: int, chunk: int) -> dict[str, Any]:
    return in_fresh_process(run_case, case, size, chunk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    args = parser.parse_args()
    print(f"threads: {psutil.cpu_count()} cores; chunks {args.chunk}^3; best of {args.repeat}")
    print(f"{'case':<20}{'size':>6}{'Mvox/s':>9}{'s':>8}{'peak MB':>9}{'objects':>9}  ok")
    for size in args.size:
        rows = {}
        for case in args.cases:
            runs = [measure(case, size, args.chunk) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["seconds"])
            rows[case] = best
            mvox = size**3 / 1e6 / best["seconds"]
            print(f"{case:<20}{size:>5}³{mvox:>9.1f}{best['seconds']:>8.2f}"
                  f"{best['peak_mb']:>9.0f}{best['objects']:>9}  {best['correct']}")
        for ours, peer in (("xarray-microct", "scipy"), ("xarray-microct", "dask-image"),
                           ("hysteresis-microct", "hysteresis-skimage")):
            if ours in rows and peer in rows:
                speed = rows[peer]["seconds"] / rows[ours]["seconds"]
                memory = rows[ours]["peak_mb"] / max(rows[peer]["peak_mb"], 1e-9)
                print(f"  {size}³ {ours} vs {peer}: {speed:.2f}x speed, {memory:.2f}x peak memory")


if __name__ == "__main__":
    main()
