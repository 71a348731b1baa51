"""Cost of smoothing along the fibers' measured tilt against smoothing straight along z.

Run ``python benchmarks/fiber_along.py`` (``--shape 64 512 512``). For Gaussians of 1, 2,
4 and 8 slices it prints the CPU time per voxel of one block smoothed by
:func:`xarray_microct.kernels.sheared.smooth_sheared` (along a drift of (0.2, −0.17)
pixels per slice, Catmull-Rom interpolation in-plane) and by
``scipy.ndimage.gaussian_filter1d`` along z (what the straight smoothing costs), best
of three, on one thread. Detection of fibers under 9 pixels of radius smooths the scan
along the bed at σ = R slices (R the radius in pixels) twice: for the threshold's pass
and for the detection's, whose mask and tubeness read the same smoothed scan.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.ndimage as ndi

from xarray_microct.kernels.sheared import smooth_sheared
from xarray_microct.ops.fibers.along import gaussian_taps


def cpu_seconds(func, repeats: int = 3) -> float:
    """The least CPU time of ``repeats`` calls."""
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        func()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 512, 512))
    args = parser.parse_args()
    block = np.random.default_rng(0).normal(size=args.shape).astype(np.float32)
    smooth_sheared(block[:4, :8, :8], gaussian_taps(1.0), (0.2, -0.17))  # compile
    print(f"{'sigma':>5} {'taps':>4} {'sheared ns/vox':>14} {'per tap':>7} {'straight ns/vox':>15}")
    for sigma in (1.0, 2.0, 4.0, 8.0):
        weights = gaussian_taps(sigma)
        sheared = cpu_seconds(lambda w=weights: smooth_sheared(block, w, (0.2, -0.17)))
        straight = cpu_seconds(
            lambda s=sigma: ndi.gaussian_filter1d(block, s, axis=0, mode="nearest")
        )
        per_voxel = 1e9 / block.size
        print(
            f"{sigma:>5.0f} {len(weights):>4} {sheared * per_voxel:>14.1f} "
            f"{sheared * per_voxel / len(weights):>7.2f} {straight * per_voxel:>15.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
