"""asv benchmarks: pyramid + OME-Zarr write, xarray-microct vs ngff-zarr vs the floor (256³).

The full 512³ comparison with ratios is ``python benchmarks/pyramid_write.py``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import dask.array as da
import numcodecs
import numpy as np
import zarr

import xarray_microct as mct

SIZE = 256
CHUNK = 128


def _volume() -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:SIZE, :SIZE]
    section = (((y % 13) - 6.5) ** 2 + ((x % 13) - 6.5) ** 2 <= 25).astype(np.float32)
    noisy = 20000 + 20000 * section + rng.normal(0, 2000, (SIZE, SIZE, SIZE))
    return np.clip(noisy, 0, 65535).astype(np.uint16)


class PyramidWrite:
    """Gaussian pyramid (3 levels) of a 256³ uint16 volume written as OME-Zarr 0.4."""

    timeout = 300
    params = (["gaussian", "mean", "mode"],)
    param_names = ("method",)

    def setup(self, method: str) -> None:
        self.array = _volume()
        self.folder = Path(tempfile.mkdtemp(prefix="asv-pyramid-"))
        self.volume = mct.from_array(self.array, spacing=0.65, chunks=CHUNK, name="image")
        small = mct.from_array(self.array[:32, :32, :32], chunks=16)  # compile kernels
        small.microct.pyramid(levels=2, method=method).microct.to_zarr(self.folder / "w.zarr")

    def teardown(self, method: str) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _write(self, method: str) -> None:
        tree = self.volume.microct.pyramid(levels=3, method=method)
        tree.microct.to_zarr(self.folder / "ours.zarr", mode="w")

    def time_xarray_microct(self, method: str) -> None:
        self._write(method)

    def peakmem_xarray_microct(self, method: str) -> None:
        self._write(method)


class PeersWrite:
    """The same volume through ngff-zarr (DASK_IMAGE_GAUSSIAN) and level 0 alone (floor)."""

    timeout = 300

    def setup(self) -> None:
        self.array = _volume()
        self.folder = Path(tempfile.mkdtemp(prefix="asv-pyramid-"))
        self.codec = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _ngff_zarr(self) -> None:
        import ngff_zarr as nz

        image = nz.to_ngff_image(
            da.from_array(self.array, chunks=CHUNK), dims=("z", "y", "x"),
            scale={"z": 0.65, "y": 0.65, "x": 0.65},
        )
        multiscales = nz.to_multiscales(
            image, scale_factors=[2, 4], method=nz.Methods.DASK_IMAGE_GAUSSIAN, chunks=CHUNK
        )
        nz.to_ngff_zarr(str(self.folder / "ngff.zarr"), multiscales, version="0.4",
                        compressor=self.codec)

    def _floor(self) -> None:
        target = zarr.create_array(
            str(self.folder / "floor.zarr"), shape=self.array.shape, dtype=self.array.dtype,
            chunks=(CHUNK,) * 3, zarr_format=2, compressors=self.codec, overwrite=True,
        )
        da.store(da.from_array(self.array, chunks=CHUNK), target, lock=False)

    def time_ngff_zarr(self) -> None:
        self._ngff_zarr()

    def peakmem_ngff_zarr(self) -> None:
        self._ngff_zarr()

    def time_floor(self) -> None:
        self._floor()

    def peakmem_floor(self) -> None:
        self._floor()
