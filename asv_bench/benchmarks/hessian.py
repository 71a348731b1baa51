"""asv benchmarks: Hessian tubeness of this project vs scikit-image and ITK (σ = 2 voxels).

Also tubeness at the fiber scale (σ = 5.9 voxels) beside the sampled kernels.

The volume is 128³ float32 smoothed noise, held in memory; ours runs on Dask's default
scheduler with 64³ chunks (so the halo exchange is exercised), the peers on the whole
array. ``benchmarks/hessian.py`` gives the larger 256³/512³ comparison with ratios.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

import xarray_microct as mct
from xarray_microct.kernels.hessian import MEASURE_SATO
from xarray_microct.ops.hessian import hessian_measure_array

SIGMA = 2.0
FIBER_SIGMA = 5.9


def _volume(size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((size, size, size), dtype=np.float32)
    return ndi.gaussian_filter(noise, 1.0, output=np.float32) * 100


class Tubeness:
    """``vol.microct.tubeness`` against ``skimage.filters.sato`` and ITK's objectness."""

    timeout = 300

    def setup(self) -> None:
        self.image = _volume()
        self.volume = mct.from_array(self.image, chunks=64)
        # compile (or load the cached) kernel outside the timings
        small = mct.from_array(self.image[:16, :16, :16])
        small.microct.tubeness(sigma=[SIGMA, FIBER_SIGMA]).compute()

    def time_tubeness(self) -> None:
        self.volume.microct.tubeness(sigma=SIGMA).compute()

    def peakmem_tubeness(self) -> None:
        self.volume.microct.tubeness(sigma=SIGMA).compute()

    def time_tubeness_fiber_scale(self) -> None:
        # σ = 5.9 voxels (the fiber pipeline's): computed on a grid twice as coarse
        self.volume.microct.tubeness(sigma=FIBER_SIGMA).compute()

    def time_tubeness_fiber_scale_sampled_kernels(self) -> None:
        # the same with 49-tap sampled kernels: what the coarse grid saves
        hessian_measure_array(
            self.volume.data, (FIBER_SIGMA,) * 3, MEASURE_SATO, coarse_from=None
        ).compute()

    def time_tubeness_multiscale(self) -> None:
        self.volume.microct.tubeness(sigma=[1.5, 2.0, 3.0]).compute()

    def time_frangi_global_gamma(self) -> None:
        self.volume.microct.frangi(sigma=SIGMA).compute()

    def time_hessian_eigenvalues(self) -> None:
        self.volume.microct.hessian_eigenvalues(sigma=SIGMA).compute()

    def time_skimage_sato(self) -> None:
        import skimage.filters

        skimage.filters.sato(self.image, sigmas=[SIGMA], black_ridges=False)

    def peakmem_skimage_sato(self) -> None:
        import skimage.filters

        skimage.filters.sato(self.image, sigmas=[SIGMA], black_ridges=False)

    def time_itk_objectness(self) -> None:
        _itk_objectness(self.image)

    def peakmem_itk_objectness(self) -> None:
        _itk_objectness(self.image)


def _itk_objectness(image: np.ndarray) -> np.ndarray:
    import itk

    hessian = itk.hessian_recursive_gaussian_image_filter(
        itk.image_view_from_array(image), sigma=SIGMA, normalize_across_scale=True
    )
    measure = itk.HessianToObjectnessMeasureImageFilter[type(hessian), itk.Image[itk.F, 3]].New(
        hessian, ObjectDimension=1, BrightObject=True
    )
    measure.Update()
    return itk.array_from_image(measure.GetOutput())
