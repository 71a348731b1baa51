"""asv benchmarks: global labelling, hysteresis, thresholds, morphology (128³, 64³ chunks)."""

from __future__ import annotations

from typing import ClassVar

import dask
import numpy as np
import scipy.ndimage as ndi

import xarray_microct as mct
from xarray_microct.ops.label import label_array
from xarray_microct.ops.segment import hysteresis_array


def _field(size: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndi.uniform_filter(rng.random((size,) * 3, dtype=np.float32), size=5)


class Label:
    """Connected components across 8 chunks, against scipy on the whole array."""

    params: ClassVar[list[int]] = [1, 3]
    param_names: ClassVar[list[str]] = ["connectivity"]
    timeout = 300

    def setup(self, connectivity: int) -> None:
        self.mask = _field() > 0.55
        self.volume = mct.from_array(self.mask, chunks=64)

    def time_label(self, connectivity: int) -> None:
        dask.compute(*label_array(self.volume.data, connectivity))

    def peakmem_label(self, connectivity: int) -> None:
        dask.compute(*label_array(self.volume.data, connectivity))

    def time_scipy_whole_array(self, connectivity: int) -> None:
        ndi.label(self.mask, ndi.generate_binary_structure(3, connectivity))

    def time_label_verb_and_regionprops(self, connectivity: int) -> None:
        self.volume.microct.label(connectivity=connectivity).microct.regionprops(
            properties=["volume", "centroid"]
        )


class Hysteresis:
    """Exact hysteresis across chunks; thresholds given and from multi-Otsu."""

    timeout = 300

    def setup(self) -> None:
        self.field = _field()
        self.volume = mct.from_array(self.field, chunks=64)

    def time_hysteresis(self) -> None:
        hysteresis_array(self.volume.data, 0.52, 0.58).compute()

    def peakmem_hysteresis(self) -> None:
        hysteresis_array(self.volume.data, 0.52, 0.58).compute()

    def time_segment_default(self) -> None:
        self.volume.microct.segment().compute()

    def time_threshold_otsu(self) -> None:
        self.volume.microct.threshold("otsu").compute()


class Morphology:
    """Chunk-exact closing and global fill_holes / remove_small_objects."""

    timeout = 300

    def setup(self) -> None:
        self.mask = mct.from_array(_field() > 0.5, chunks=64)

    def time_closing(self) -> None:
        self.mask.microct.closing(radius="2 voxel").compute()

    def time_fill_holes(self) -> None:
        self.mask.microct.fill_holes().compute()

    def time_remove_small_objects(self) -> None:
        self.mask.microct.remove_small_objects(min_size=50).compute()
