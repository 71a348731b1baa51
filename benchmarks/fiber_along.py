"""Cost of smoothing along the fibers' measured tilt against smoothing straight along z.

Run ``python benchmarks/fiber_along.py`` (``--shape 64 512 512``). For Gaussians of 1, 2,
4 and 8 slices it prints the CPU time per voxel of one block smoothed by
:func:`xarray_microct.kernels.sheared.smooth_sheared` (along a drift of (0.2, −0.17)
pixels per slice), by the same function of another checkout (``--baseline PATH``: its
``xarray_microct/kernels/sheared.py``, timed in the same run) and by
``scipy.ndimage.gaussian_filter1d`` along z (what the straight smoothing costs), best
of three, on one thread. Detection of fibers under 9 pixels of radius smooths the scan
along the bed at σ = R slices (R the radius in pixels) twice: for the threshold's pass
and for the detection's, whose mask and tubeness read the same smoothed scan.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

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


def baseline_kernel(checkout: Path):
    """``smooth_sheared`` of the checkout at ``checkout`` (a standalone module)."""
    spec = importlib.util.spec_from_file_location(
        "baseline_sheared", checkout / "xarray_microct" / "kernels" / "sheared.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.smooth_sheared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 512, 512))
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    block = np.random.default_rng(0).normal(size=args.shape).astype(np.float32)
    kernels = {"sheared": smooth_sheared}
    if args.baseline is not None:
        kernels["baseline"] = baseline_kernel(args.baseline)
    for kernel in kernels.values():
        kernel(block[:4, :8, :8], gaussian_taps(1.0), (0.2, -0.17))  # compile
    names = "".join(f" {name + ' ns/vox':>15}" for name in kernels)
    print(f"{'sigma':>5} {'taps':>4}{names} {'straight ns/vox':>15}")
    for sigma in (1.0, 2.0, 4.0, 8.0):
        weights = gaussian_taps(sigma)
        times = [
            cpu_seconds(lambda k=kernel, w=weights: k(block, w, (0.2, -0.17)))
            for kernel in kernels.values()
        ]
        straight = cpu_seconds(
            lambda s=sigma: ndi.gaussian_filter1d(block, s, axis=0, mode="nearest")
        )
        per_voxel = 1e9 / block.size
        columns = "".join(f" {t * per_voxel:>15.1f}" for t in times)
        print(f"{sigma:>5.0f} {len(weights):>4}{columns} {straight * per_voxel:>15.1f}", flush=True)


if __name__ == "__main__":
    main()
