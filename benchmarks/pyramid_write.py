"""Pyramid + OME-Zarr write: xarray-microct against ngff-zarr, and the floor.

On the same uint16 volume (a synthetic fiber bed with noise, 512³ by default), times

* ``xarray-microct``: ``vol.microct.pyramid(levels=3)`` (Gaussian anti-aliasing) then
  ``tree.microct.to_zarr(store)``;
* ``ngff-zarr``: ``to_multiscales(image, scale_factors=[2, 4],
  method=Methods.DASK_IMAGE_GAUSSIAN)`` then ``to_ngff_zarr(store, ...)``;
* ``floor``: level 0 alone written with ``dask.array.store`` into a Zarr array,

all with the same Blosc/Zstd(3)+shuffle codec, 128³ chunks, NGFF version and Dask
scheduler. Each case runs in a fresh process, after a warm-up on a 64³ cube (imports,
codecs, thread pools, Numba compilation); its peak memory is the largest resident
set size above the process's size once the volume is in memory (psutil, sampled every
5 ms). Prints a table (Mvox/s of level-0 voxels, wall and CPU seconds, peak memory)
and the ratios; CPU seconds are the steadier figure on a shared machine.

Run: ``python benchmarks/pyramid_write.py [--size 512] [--repeat 2] [--version 0.4]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from _measure import Measure, in_fresh_process

CHUNK = 128


def fiber_volume(size: int, seed: int = 0) -> np.ndarray:
    """Bright cylinders along z on a dark background with Gaussian noise, uint16."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    section = np.zeros((size, size), dtype=np.float32)
    radius, step = 5.0, 13.0
    for cy in np.arange(step / 2, size, step):
        for cx in np.arange(step / 2, size, step):
            section[(y - cy) ** 2 + (x - cx) ** 2 <= radius**2] = 1.0
    out = np.empty((size, size, size), dtype=np.uint16)
    for z in range(0, size, 32):
        slab = 20000 + 20000 * section + rng.normal(0, 2000, (min(32, size - z), size, size))
        out[z : z + 32] = np.clip(slab, 0, 65535).astype(np.uint16)
    return out


def _codec(version: str) -> dict[str, Any]:
    import numcodecs
    import zarr.codecs

    if version == "0.4":
        return {"compressor": numcodecs.Blosc(cname="zstd", clevel=3, shuffle=1)}
    return {"compressors": [zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")]}


def run_ours(volume: np.ndarray, store: Path, version: str) -> None:
    import xarray_microct as mct

    vol = mct.from_array(volume, spacing=0.65, units="micrometer", chunks=CHUNK, name="image")
    vol.microct.pyramid(levels=3, method="gaussian").microct.to_zarr(store, version=version)


def run_ngff_zarr(volume: np.ndarray, store: Path, version: str) -> None:
    import dask.array as da
    import ngff_zarr as nz

    image = nz.to_ngff_image(
        da.from_array(volume, chunks=CHUNK),
        dims=("z", "y", "x"),
        scale={"z": 0.65, "y": 0.65, "x": 0.65},
        axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
    )
    multiscales = nz.to_multiscales(
        image, scale_factors=[2, 4], method=nz.Methods.DASK_IMAGE_GAUSSIAN, chunks=CHUNK
    )
    nz.to_ngff_zarr(str(store), multiscales, version=version, **_codec(version))


def run_floor(volume: np.ndarray, store: Path, version: str) -> None:
    import dask.array as da
    import zarr

    codec = _codec(version)
    kwargs = (
        {"compressors": codec["compressor"]} if version == "0.4" else dict(codec)
    )
    target = zarr.create_array(
        str(store),
        shape=volume.shape,
        dtype=volume.dtype,
        chunks=(CHUNK,) * 3,
        zarr_format=2 if version == "0.4" else 3,
        **kwargs,
    )
    da.store(da.from_array(volume, chunks=CHUNK), target, lock=False)


CASES = {"xarray-microct": run_ours, "ngff-zarr": run_ngff_zarr, "floor": run_floor}


def _worker(case: str, source: str, version: str, folder: str, queue: Any) -> None:
    volume = np.load(source)  # the same volume for every case, fully in memory
    store = Path(folder) / f"{case}.zarr"
    # warm-up on a small cube, outside the timed region: imports, codec and thread-pool
    # start-up, and the Numba compilation of xarray-microct's kernels
    CASES[case](np.ascontiguousarray(volume[:64, :64, :64]), Path(folder) / "warm.zarr",
                version)
    with Measure(interval=0.005) as measured:
        CASES[case](volume, store, version)
    size_mb = sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) / 2**20
    queue.put({"seconds": measured.seconds, "cpu_s": measured.cpu_seconds,
               "peak_mb": measured.peak_mb, "store_mb": size_mb})


def measure(case: str, source: str, version: str) -> dict[str, float]:
    """Run one case in a fresh process and return its time and peak memory."""
    folder = tempfile.mkdtemp(prefix="pyramid-bench-")
    try:
        result = in_fresh_process(_worker, case, source, version, folder, timeout=600)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="edge of the cubic volume")
    parser.add_argument("--repeat", type=int, default=2, help="runs per case (best kept)")
    parser.add_argument("--version", choices=("0.4", "0.5"), default="0.4")
    args = parser.parse_args()
    voxels = args.size**3
    print(f"volume {args.size}³ uint16 ({voxels / 1e6:.0f} Mvox), chunks {CHUNK}³, "
          f"OME-NGFF {args.version}, 3 levels, Blosc/Zstd(3), {psutil.cpu_count()} CPUs")
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="pyramid-bench-") as folder:
        source = str(Path(folder) / "volume.npy")
        np.save(source, fiber_volume(args.size))
        for _ in range(args.repeat):
            for case in CASES:  # interleaved, so a busy spell hurts every case alike
                result = measure(case, source, args.version)
                if case not in best or result["seconds"] < best[case]["seconds"]:
                    best[case] = result
    print(f"{'case':<16}{'Mvox/s':>10}{'time (s)':>10}{'CPU (s)':>10}{'peak MB':>10}"
          f"{'store MB':>10}")
    for case, r in best.items():
        print(f"{case:<16}{voxels / r['seconds'] / 1e6:>10.1f}{r['seconds']:>10.2f}"
              f"{r['cpu_s']:>10.2f}{r['peak_mb']:>10.0f}{r['store_mb']:>10.1f}")
    ours, peer, floor = best["xarray-microct"], best["ngff-zarr"], best["floor"]
    print(f"throughput xarray-microct / ngff-zarr: {peer['seconds'] / ours['seconds']:.2f}x "
          f"(by CPU time: {peer['cpu_s'] / ours['cpu_s']:.2f}x)")
    print(f"peak memory xarray-microct / ngff-zarr: {ours['peak_mb'] / peer['peak_mb']:.2f}")
    print(f"xarray-microct time / floor time: {ours['seconds'] / floor['seconds']:.2f} "
          f"(CPU: {ours['cpu_s'] / floor['cpu_s']:.2f}; pyramid + all levels vs level 0 "
          "alone)")


if __name__ == "__main__":
    main()
