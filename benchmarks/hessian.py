"""Hessian tubeness: this project vs scikit-image, ITK and a naive Dask + scikit-image.

Run ``python benchmarks/hessian.py`` (``--sizes 256 512``, ``--skip skimage`` ...). On the
same float32 volume (smoothed noise, σ = 2 voxels) it times

* ``ours``: ``vol.microct.tubeness(sigma="2 voxel")``, 128³ chunks, Dask's default
  (threaded) scheduler on all cores;
* ``skimage``: ``skimage.filters.sato(image, sigmas=[2], black_ridges=False)``, one call
  on the whole array;
* ``itk``: ``hessian_recursive_gaussian_image_filter`` (``normalize_across_scale``) then
  ``HessianToObjectnessMeasureImageFilter`` (float output), ITK's own threads;
* ``dask+skimage``: ``dask.array.map_overlap(sato, depth=22)`` over 128³ chunks (22
  voxels: scikit-image's kernel reach at σ = 2), the naive composition.

With ``--sigmas 2 5.9`` (several scales) it times ours only, at each scale, beside
``ours-sampled`` (``hessian_measure_array(..., coarse_from=None)``: the sampled kernels at
every scale, whose cost grows with σ): large scales run on a grid twice as coarse.

Each implementation runs in its own subprocess, after a warm-up on a small volume (JIT
compilation and ITK's lazy loading are not timed), so that its peak memory is its own:
the peak resident set size above the level with the input loaded (the output included),
sampled every 10 ms by a psutil thread, also given as a multiple of the input's bytes.
"Mvox/s/core" divides the voxels by the CPU seconds the process used (all its threads),
the fair per-core throughput on a shared machine; "wall" is elapsed time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
from _measure import Measure

SIGMA = 2.0
CHUNK = 128
NAIVE_DEPTH = 22  # skimage: two passes of truncate=8 at sigma/sqrt(2) -> 2 * 11 voxels
IMPLEMENTATIONS = ("ours", "skimage", "itk", "dask+skimage")


def make_volume(size: int, seed: int = 0) -> np.ndarray:
    """Smoothed noise, float32, ``size``³ (the same for every implementation)."""
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((size, size, size), dtype=np.float32)
    return ndi.gaussian_filter(noise, 1.0, output=np.float32) * 100


def runner(name: str, sigma: float = SIGMA) -> Any:
    """A function ``image -> tubeness`` (NumPy in, NumPy out) for one implementation."""
    if name == "ours":
        import xarray_microct as mct

        def ours(image: np.ndarray) -> np.ndarray:
            vol = mct.from_array(image, chunks=CHUNK)
            return vol.microct.tubeness(sigma=f"{sigma} voxel").values

        return ours
    if name == "ours-sampled":
        import dask.array as da

        from xarray_microct.kernels.hessian import MEASURE_SATO
        from xarray_microct.ops.hessian import hessian_measure_array

        def sampled(image: np.ndarray) -> np.ndarray:
            data = da.from_array(image, chunks=CHUNK)
            return hessian_measure_array(
                data, (sigma,) * 3, MEASURE_SATO, bright=True, coarse_from=None
            ).compute()

        return sampled
    if name == "skimage":
        import skimage.filters

        return lambda image: skimage.filters.sato(image, sigmas=[SIGMA], black_ridges=False)
    if name == "itk":
        import itk

        def itk_objectness(image: np.ndarray) -> np.ndarray:
            hessian = itk.hessian_recursive_gaussian_image_filter(
                itk.image_view_from_array(image), sigma=SIGMA, normalize_across_scale=True
            )
            measure = itk.HessianToObjectnessMeasureImageFilter[
                type(hessian), itk.Image[itk.F, 3]
            ].New(hessian, ObjectDimension=1, BrightObject=True)
            measure.Update()
            return itk.array_from_image(measure.GetOutput())

        return itk_objectness
    if name == "dask+skimage":
        import dask.array as da
        import skimage.filters

        def sato_block(block: np.ndarray) -> np.ndarray:
            return skimage.filters.sato(block, sigmas=[SIGMA], black_ridges=False)

        def naive(image: np.ndarray) -> np.ndarray:
            data = da.from_array(image, chunks=CHUNK)
            return da.map_overlap(
                sato_block, data, depth=NAIVE_DEPTH, boundary="reflect", dtype=np.float32
            ).compute()

        return naive
    raise ValueError(f"unknown implementation {name!r}; choose from {IMPLEMENTATIONS}")


def run_one(name: str, size: int, sigma: float = SIGMA) -> dict[str, Any]:
    """Time one implementation in this process; return its figures."""
    func = runner(name, sigma)
    func(make_volume(24, seed=1))  # warm-up: JIT, lazy imports
    image = make_volume(size)
    with Measure(interval=0.01) as memory:
        func(image)
    wall, cpu = memory.seconds, memory.cpu_seconds
    return {
        "name": name,
        "size": size,
        "sigma": sigma,
        "wall_s": wall,
        "cpu_s": cpu,
        "mvox_s": image.size / wall / 1e6,
        "mvox_s_core": image.size / cpu / 1e6,
        "peak_mib": memory.peak / 2**20,
        "peak_over_input": memory.peak / image.nbytes,
    }


def _in_subprocess(name: str, size: int, sigma: float) -> dict[str, Any] | str:
    done = subprocess.run(
        [sys.executable, __file__, "--one", name, "--sizes", str(size), "--sigmas", str(sigma)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])


def scales(sizes: list[int], sigmas: list[float], repeat: int) -> None:
    """Ours at several scales, beside the sampled kernels (interleaved, same run)."""
    print(f"Hessian tubeness by scale, float32, {CHUNK}³ chunks, {os.cpu_count()} cores\n")
    header = f"{'implementation':<14}{'size':>6}{'sigma':>7}{'wall s':>9}{'Mvox/s':>9}"
    header += f"{'Mvox/s/core':>13}{'peak MiB':>10}"
    print(header)
    print("-" * len(header))
    for _ in range(repeat):
        for size in sizes:
            for sigma in sigmas:
                for name in ("ours", "ours-sampled"):
                    row = _in_subprocess(name, size, sigma)
                    if isinstance(row, str):
                        print(f"{name:<14}{size:>6}{sigma:>7.2f}  failed: {row}")
                        continue
                    print(
                        f"{name:<14}{size:>6}{sigma:>7.2f}{row['wall_s']:>9.2f}"
                        f"{row['mvox_s']:>9.2f}{row['mvox_s_core']:>13.2f}"
                        f"{row['peak_mib']:>10.0f}",
                        flush=True,
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--skip", nargs="*", default=[], choices=IMPLEMENTATIONS)
    parser.add_argument("--sigmas", type=float, nargs="+", default=None)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the --sigmas table")
    parser.add_argument("--one", choices=(*IMPLEMENTATIONS, "ours-sampled"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        sigma = args.sigmas[0] if args.sigmas else SIGMA
        print(json.dumps(run_one(args.one, args.sizes[0], sigma)))
        return
    if args.sigmas:
        scales(args.sizes, args.sigmas, args.repeat)
        return
    print(f"Hessian tubeness, float32, sigma = {SIGMA} voxels, {os.cpu_count()} cores\n")
    header = (
        f"{'implementation':<14}{'size':>6}{'wall s':>9}{'Mvox/s':>9}"
        f"{'Mvox/s/core':>13}{'peak MiB':>10}{'peak/input':>12}{'ours x':>8}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        rows = {}
        for name in IMPLEMENTATIONS:
            if name in args.skip:
                continue
            done = subprocess.run(
                [sys.executable, __file__, "--one", name, "--sizes", str(size)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(f"{name:<14}{size:>6}  failed: {done.stderr.strip().splitlines()[-1]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows[name] = row
            ratio = (rows["ours"]["mvox_s_core"] / row["mvox_s_core"]) if "ours" in rows else 1
            print(
                f"{name:<14}{size:>6}{row['wall_s']:>9.2f}{row['mvox_s']:>9.2f}"
                f"{row['mvox_s_core']:>13.2f}{row['peak_mib']:>10.0f}"
                f"{row['peak_over_input']:>12.2f}{ratio:>8.1f}",
                flush=True,
            )
    print(
        "\n'ours x': how many times our per-core throughput is the row's (targets: >= 10x "
        "skimage, >= 3x ITK); 'peak/input': peak memory above the loaded input, output "
        "included, in input bytes (target <= 4)."
    )


if __name__ == "__main__":
    main()
