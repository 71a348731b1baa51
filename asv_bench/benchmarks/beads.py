"""asv benchmarks: distance transform, watershed and the bead pipeline (issue 5).

Each suite times the chunked, lazy operation (computed with Dask's threaded scheduler)
and, beside it, the scipy/skimage call it must equal on one in-memory array.
"""

from typing import ClassVar

import dask
import dask.array as da
import numpy as np
import scipy.ndimage as ndi
from skimage.segmentation import watershed as sk_watershed

import xarray_microct as mct
from xarray_microct.ops.watershed import flood_array, peak_markers_array
from xarray_microct.pipelines import beads
from xarray_microct.synthetic import bead_pack


class DistanceTransform:
    params: ClassVar[list[int]] = [96, 160]
    param_names: ClassVar[list[str]] = ["size"]

    def setup(self, size):
        _, truth = bead_pack(size, radius=8, seed=0)
        self.mask = truth.values > 0
        self.vol = mct.from_array(self.mask, spacing=(1.3, 1.0, 1.0), chunks=size // 2)

    def time_distance_transform(self, size):
        with dask.config.set(scheduler="threads"):
            self.vol.microct.distance_transform().compute()

    def time_scipy_edt(self, size):
        ndi.distance_transform_edt(self.mask, sampling=(1.3, 1.0, 1.0))

    def peakmem_distance_transform(self, size):
        with dask.config.set(scheduler="threads"):
            self.vol.microct.distance_transform().compute()


class Watershed:
    params: ClassVar[list[int]] = [96, 160]
    param_names: ClassVar[list[str]] = ["size"]

    def setup(self, size):
        _, truth = bead_pack(size, radius=8, seed=0)
        self.mask = truth.values > 0
        self.dist = ndi.distance_transform_edt(self.mask).astype(np.float32)
        chunks = size // 2
        self.markers = peak_markers_array(da.from_array(self.dist, chunks=chunks),
                                          (4.0, 4.0, 4.0)).compute()
        self.args = [da.from_array(a, chunks=chunks)
                     for a in (-self.dist, self.markers, self.mask)]
        self.vol = mct.from_array(self.mask, chunks=chunks)

    def time_flood(self, size):
        with dask.config.set(scheduler="threads"):
            flood_array(*self.args).compute()

    def time_skimage_watershed(self, size):
        sk_watershed(-self.dist, self.markers, mask=self.mask)

    def time_watershed_verb(self, size):
        with dask.config.set(scheduler="threads"):
            self.vol.microct.watershed(min_distance="4 voxel").compute()

    def peakmem_watershed_verb(self, size):
        with dask.config.set(scheduler="threads"):
            self.vol.microct.watershed(min_distance="4 voxel").compute()

    def time_watershed_ball_markers(self, size):
        with dask.config.set(scheduler="threads"):
            self.vol.microct.watershed(object_radius="8 voxel").compute()


class BeadPipeline:
    params: ClassVar[list[int]] = [96, 200]
    param_names: ClassVar[list[str]] = ["size"]
    timeout = 600

    def setup(self, size):
        self.scan, _ = bead_pack(size, radius=10, seed=0, chunks=max(32, size // 3))

    def time_pipeline(self, size):
        with dask.config.set(scheduler="threads"):
            beads(self.scan, bead_radius=10).compute()

    def peakmem_pipeline(self, size):
        with dask.config.set(scheduler="threads"):
            beads(self.scan, bead_radius=10).compute()

    def time_pipeline_estimated_radius(self, size):
        with dask.config.set(scheduler="threads"):
            beads(self.scan).compute()
