"""Hessian objectness: faithfulness to scipy/scikit-image/ITK, chunk-exactness, bad input.

Stated tolerances (compared in the interior, at least ``4σ`` from the border, where the
references' own border handling differs — scikit-image extends the image twice through
two first-derivative passes, ITK's recursive filters have their own boundary):

* Hessian eigenvalues vs ``scipy.ndimage`` Gaussian derivatives + ``eigvalsh`` (float64),
  whole volume, every border mode: max error 1e-5 of the largest eigenvalue.
* tubeness vs ``skimage.filters.sato``: correlation >= 0.999, max error <= 1.5% of the
  maximum for σ >= 1.5 voxels on smooth random volumes (<= 6% at σ = 1, where the
  kernels' sampling differs; <= 2.5% on the sharper uint8 fiber phantom).
* objectness vs ITK ``HessianRecursiveGaussian`` + ``HessianToObjectnessMeasure``:
  correlation >= 0.999, max error <= 15% of the maximum (the measure is discontinuous at
  its sign constraints, where ITK's recursive approximation of the Gaussian and our
  sampled kernels disagree on a few voxels); sorted eigenvalues within 3% of the largest.
* frangi vs ``skimage.filters.frangi`` at one scale: correlation >= 0.999.
* kernels: the second derivative sums to zero (the mass of its truncated tails folded
  onto its end taps), so a constant volume gives exactly 0 in every verb; the Hessian
  eigenvalues reference is scipy's Gaussian derivatives with that same correction.
* scales of 4 voxels and more along an axis are computed on a grid twice as coarse
  along it: sorted eigenvalues within 2e-3 of the largest of the sampled kernels'; tubeness
  vs ``skimage.filters.sato`` at σ = 6: correlation >= 0.99999, max error <= 1.5%.
* chunked vs whole: within 1e-5 of the maximum (float32 summation order is identical;
  only the eigen solver's float64 rounding can differ).
"""

from __future__ import annotations

import itk
import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.feature
import skimage.filters
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.kernels import hessian as kernels
from xarray_microct.testing import raise_if_dask_computes

VERBS = ("tubeness", "frangi", "objectness", "blobness", "plateness")


def smooth_volume(shape=(40, 40, 40), seed=1, scale=100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (ndi.gaussian_filter(rng.standard_normal(shape), 1.5) * scale).astype(np.float32)


def fiber_phantom(shape=(40, 40, 40), radius=3.0) -> np.ndarray:
    """Bright tubes along z, y and a diagonal, on a dark background (uint8)."""
    z, y, x = np.indices(shape, dtype=np.float64)
    c = [s / 2 for s in shape]
    d1 = (y - c[1]) ** 2 + (x - c[2] * 0.6) ** 2
    d2 = (z - c[0] * 1.3) ** 2 + (x - c[2] * 1.4) ** 2
    d3 = ((z - c[0]) - (y - c[1])) ** 2 / 2 + (x - c[2] * 1.2) ** 2
    image = sum(np.exp(-d / (2 * radius**2)) for d in (d1, d2, d3))
    return (200 * np.clip(image, 0, 1) + 20).astype(np.uint8)


def interior(a: np.ndarray, margin) -> np.ndarray:
    """``a`` without ``margin`` voxels (one int, or one per trailing axis) at each side."""
    margins = (margin,) * 3 if np.isscalar(margin) else tuple(margin)
    lead = (slice(None),) * (a.ndim - 3)
    return a[lead + tuple(slice(m, n - m) for m, n in zip(margins, a.shape[-3:], strict=True))]


def agreement(ours: np.ndarray, ref: np.ndarray, margin) -> tuple[float, float]:
    a, b = interior(ours, margin).ravel(), interior(ref, margin).ravel().astype(np.float64)
    return float(np.corrcoef(a, b)[0, 1]), float(np.abs(a - b).max() / np.abs(b).max())


def scipy_hessian(image: np.ndarray, sigma, mode: str) -> np.ndarray:
    """Scale-normalised Hessian (..., 3, 3) in float64 from scipy, zero on constants.

    scipy's truncated second-derivative kernel sums to ``s`` (its response to a
    constant, -3.5e-4 at σ = 2); ours adds ``-s / 2`` to each end tap (the truncated
    tails folded onto the radius), so the reference adds that two-tap correlation of
    the volume smoothed along the other axes.
    """
    image = image.astype(np.float64)
    h = np.empty((*image.shape, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            order = [0, 0, 0]
            order[i] += 1
            order[j] += 1
            h[..., i, j] = h[..., j, i] = (
                ndi.gaussian_filter(image, sigma, order=order, mode=mode, truncate=4.0)
                * sigma[i]
                * sigma[j]
            )
        radius = int(4.0 * sigma[i] + 0.5)
        response_to_one = ndi.gaussian_filter1d(
            np.ones(1), sigma[i], order=2, mode="nearest", truncate=4.0
        )[0]
        ends = np.zeros(2 * radius + 1)
        ends[[0, -1]] = -response_to_one / 2
        across = [0.0 if axis == i else s for axis, s in enumerate(sigma)]
        smooth = ndi.gaussian_filter(image, across, mode=mode, truncate=4.0)
        h[..., i, i] += ndi.correlate1d(smooth, ends, axis=i, mode=mode) * sigma[i] ** 2
    return h


def sorted_by_magnitude(w: np.ndarray) -> np.ndarray:
    return np.moveaxis(np.take_along_axis(w, np.argsort(np.abs(w), -1), -1), -1, 0)


# ---------------------------------------------------------------------------------------
# the compiled pieces


def test_eigenvalues_match_eigvalsh_including_hard_cases():
    rng = np.random.default_rng(0)
    n = 4000

    def from_eigenvalues(values):
        q, _ = np.linalg.qr(rng.standard_normal((n, 3, 3)))
        m = q @ (values[..., None] * np.swapaxes(q, 1, 2))
        return [m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], m[:, 0, 1], m[:, 0, 2], m[:, 1, 2]]

    ones = np.ones(n)
    cases = {
        "random": [rng.standard_normal(n) for _ in range(6)],
        "double root": from_eigenvalues(
            np.stack([ones, 1 + 1e-6 * rng.standard_normal(n), -2 * ones], -1)
        ),
        "triple root": from_eigenvalues(
            np.stack([ones, 1 + 1e-7 * rng.standard_normal(n), ones], -1)
        ),
        "spread scales": from_eigenvalues(
            np.stack([1e4 * ones, rng.standard_normal(n), 1e-4 * rng.standard_normal(n)], -1)
        ),
        "diagonal": [rng.standard_normal(n) * 10 ** rng.uniform(-6, 6, n) for _ in range(3)]
        + [np.zeros(n)] * 3,
        "tiny": [1e-30 * rng.standard_normal(n) for _ in range(6)],
        "huge": [1e30 * rng.standard_normal(n) for _ in range(6)],
    }
    for name, h in cases.items():
        a, b, c, d, e, f = (np.float32(v).astype(np.float64) for v in h)
        m = np.stack(
            [np.stack([a, d, e], -1), np.stack([d, b, f], -1), np.stack([e, f, c], -1)], -1
        )
        ref = sorted_by_magnitude(np.linalg.eigvalsh(m))
        ours = kernels.eigenvalues_sorted_by_magnitude(*h)
        error = np.abs(ours - ref).max(axis=0) / np.abs(ref).max(axis=0)
        assert error.max() < 1e-7, name
    zero = kernels.eigenvalues_sorted_by_magnitude(*[np.zeros(3)] * 6)
    assert not zero.any()
    nan = kernels.eigenvalues_sorted_by_magnitude(*[np.array([np.nan])] + [np.ones(1)] * 5)
    assert np.isnan(nan).all()


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "constant"])
def test_eigenvalues_match_scipy_derivatives_every_mode(mode):
    image = smooth_volume((18, 20, 22))
    sigma = (1.5, 1.0, 2.0)  # anisotropic in voxels
    ref = sorted_by_magnitude(np.linalg.eigvalsh(scipy_hessian(image, sigma, mode)))
    vol = mct.from_array(image, chunks=(7, 9, 11))
    ours = vol.microct.hessian_eigenvalues(sigma=sigma, mode=mode).values
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 1e-5 * np.abs(ref).max()


def test_kernel_border_extension_matches_scipy_for_kernels_longer_than_the_axis():
    image = smooth_volume((6, 30, 5))
    sigma = (3.0, 1.0, 2.5)  # radius 12 along z (6 voxels) and 10 along x (5 voxels)
    for mode in ("reflect", "mirror", "nearest"):
        ref = sorted_by_magnitude(np.linalg.eigvalsh(scipy_hessian(image, sigma, mode)))
        ours = kernels.hessian_measure_block(
            image,
            (0, 0, 0),
            image.shape,
            [sigma],
            measure=kernels.MEASURE_EIGENVALUES,
            mode=mode,
            coarse_from=None,  # the sampled kernels themselves, at every scale
        )
        assert np.abs(ours - ref).max() < 1e-5 * np.abs(ref).max(), mode


# ---------------------------------------------------------------------------------------
# faithfulness to scikit-image


@pytest.mark.parametrize("bright", [True, False])
@pytest.mark.parametrize(("sigma", "tolerance"), [(1.0, 0.06), (2.0, 0.015), (3.0, 0.015)])
def test_tubeness_matches_skimage_sato(bright, sigma, tolerance):
    image = smooth_volume()
    ref = skimage.filters.sato(image, sigmas=[sigma], black_ridges=not bright, mode="reflect")
    vol = mct.from_array(image, chunks=16)
    ours = vol.microct.tubeness(sigma=sigma, bright=bright, mode="reflect").values
    corr, error = agreement(ours, ref, int(4 * sigma + 0.5))
    assert corr >= 0.999
    assert error <= tolerance


def test_tubeness_matches_sato_on_a_fiber_phantom_multiscale():
    image = fiber_phantom()
    sigmas = [1.5, 2.5]
    ref = skimage.filters.sato(image, sigmas=sigmas, black_ridges=False, mode="reflect")
    vol = mct.from_array(image, spacing=0.65, units="um", chunks=(16, 20, 40))
    ours = vol.microct.tubeness(sigma=["0.975 um", "1.625 um"], mode="reflect").values
    corr, error = agreement(ours, ref, 10)
    assert corr >= 0.999
    assert error <= 0.025
    # the fibers stand out: on the axis of the z-fiber vs the background
    assert ours[20, 20, 12] > 20 * np.median(ours)


def test_tubeness_anisotropic_matches_skimage_hessian_with_per_axis_sigma():
    image = smooth_volume((24, 40, 40))
    spacing = (2.0, 1.0, 1.0)
    sigma_um = 3.0
    sigma_vox = tuple(sigma_um / s for s in spacing)
    elems = skimage.feature.hessian_matrix(
        image.astype(np.float64),
        sigma=sigma_vox,
        mode="reflect",
        use_gaussian_derivatives=True,
    )
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    elems = [h * sigma_vox[i] * sigma_vox[j] for h, (i, j) in zip(elems, pairs, strict=True)]
    eig = skimage.feature.hessian_matrix_eigvals(elems)  # decreasing
    ref = np.sqrt(np.maximum(-eig[2], 0) * np.maximum(-eig[1], 0))
    vol = mct.from_array(image, spacing=spacing, units="um", chunks=(10, 16, 16))
    ours = vol.microct.tubeness(sigma=f"{sigma_um} um", mode="reflect").values
    corr, error = agreement(ours, ref, (6, 12, 12))
    assert corr >= 0.999
    assert error <= 0.015


def sorted_eigenvalues(vol, sigma, **kwargs) -> np.ndarray:
    ev = kernels.hessian_measure_block(
        vol, (0, 0, 0), vol.shape, [sigma], measure=kernels.MEASURE_EIGENVALUES, **kwargs
    )
    return np.sort(ev, axis=0)


@pytest.mark.parametrize("sigma", [(4.5, 4.5, 4.5), (2.0, 6.0, 6.0), (7.0, 3.0, 5.0)])
def test_large_scales_on_a_coarse_grid_match_the_sampled_kernels(sigma):
    image = smooth_volume((48, 50, 52))
    coarse = sorted_eigenvalues(image, sigma, mode="nearest")
    sampled = sorted_eigenvalues(image, sigma, mode="nearest", coarse_from=None)
    assert np.abs(coarse - sampled).max() <= 2e-3 * np.abs(sampled).max()


@pytest.mark.parametrize("bright", [True, False])
def test_tubeness_at_a_large_scale_matches_skimage_sato(bright):
    image = smooth_volume((72, 72, 72))
    sigma = 6.0  # computed on the coarse grid
    ref = skimage.filters.sato(image, sigmas=[sigma], black_ridges=not bright, mode="reflect")
    ours = mct.from_array(image, chunks=40).microct.tubeness(
        sigma=sigma, bright=bright, mode="reflect"
    )
    corr, error = agreement(ours.values, ref, 24)
    assert corr >= 0.99999
    assert error <= 0.015


def test_frangi_matches_skimage_at_one_scale():
    image = smooth_volume()
    ref = skimage.filters.frangi(image, sigmas=[2.0], black_ridges=False, mode="reflect")
    vol = mct.from_array(image, chunks=16)
    ours = vol.microct.frangi(sigma=2.0, mode="reflect").values
    corr, _ = agreement(ours, ref, 8)
    assert corr >= 0.999
    # an explicit gamma on the normalised Hessian is scikit-image's gamma / sigma**2
    ref = skimage.filters.frangi(
        image, sigmas=[2.0], gamma=30.0 / 4.0, black_ridges=False, mode="reflect"
    )
    ours = vol.microct.frangi(sigma=2.0, gamma=30.0, mode="reflect").values
    corr, _ = agreement(ours, ref, 8)
    assert corr >= 0.999


# ---------------------------------------------------------------------------------------
# faithfulness to ITK


def itk_objectness(image, sigma, spacing=(1.0, 1.0, 1.0), **settings):
    itk_image = itk.image_from_array(np.ascontiguousarray(image, dtype=np.float32))
    itk_image.SetSpacing([float(s) for s in spacing[::-1]])
    hessian = itk.hessian_recursive_gaussian_image_filter(
        itk_image, sigma=sigma, normalize_across_scale=True
    )
    # The functional API would pick a `short` output and truncate; ask for float.
    measure = itk.HessianToObjectnessMeasureImageFilter[type(hessian), itk.Image[itk.F, 3]].New(
        hessian
    )
    for key, value in settings.items():
        getattr(measure, "Set" + key)(value)
    measure.Update()
    eig = sorted_by_magnitude(np.linalg.eigvalsh(_itk_tensor(hessian)))
    return itk.array_from_image(measure.GetOutput()), eig


def _itk_tensor(hessian) -> np.ndarray:
    xx, xy, xz, yy, yz, zz = np.moveaxis(itk.array_from_image(hessian), -1, 0)
    return np.stack(
        [np.stack([zz, yz, xz], -1), np.stack([yz, yy, xy], -1), np.stack([xz, xy, xx], -1)], -1
    )


@pytest.mark.parametrize("object_dimension", [0, 1, 2])
@pytest.mark.parametrize("bright", [True, False])
def test_objectness_matches_itk(object_dimension, bright):
    image = smooth_volume()
    ref, _ = itk_objectness(image, 2.0, ObjectDimension=object_dimension, BrightObject=bright)
    vol = mct.from_array(image, chunks=16)
    ours = vol.microct.objectness(
        sigma=2.0, object_dimension=object_dimension, bright=bright
    ).values
    corr, error = agreement(ours, ref, 8)
    assert corr >= 0.999
    assert error <= 0.15


def test_objectness_anisotropic_matches_itk_given_the_spacing():
    image = smooth_volume((24, 40, 40))
    spacing = (2.0, 1.0, 1.0)
    ref, ref_eig = itk_objectness(image, 3.0, spacing=spacing, Gamma=10.0, Alpha=0.4)
    vol = mct.from_array(image, spacing=spacing, units="um", chunks=(10, 16, 16))
    ours = vol.microct.objectness(sigma=3.0, gamma=10.0, alpha=0.4).values
    corr, error = agreement(ours, ref, (6, 12, 12))
    assert corr >= 0.999
    assert error <= 0.15
    eig = vol.microct.hessian_eigenvalues(sigma=3.0).values
    by_value, ref_by_value = np.sort(eig, axis=0), np.sort(ref_eig, axis=0)
    assert (
        np.abs(interior(by_value - ref_by_value, (6, 12, 12))).max()
        <= 0.03 * np.abs(interior(ref_by_value, (6, 12, 12))).max()
    )


def test_blobness_and_plateness_are_objectness_shortcuts():
    vol = mct.from_array(smooth_volume((16, 16, 16)), chunks=8)
    for verb, dim in (("blobness", 0), ("plateness", 2)):
        shortcut = getattr(vol.microct, verb)(sigma=1.5).values
        general = vol.microct.objectness(sigma=1.5, object_dimension=dim).values
        np.testing.assert_array_equal(shortcut, general)


def test_multiscale_is_the_maximum_over_scales():
    vol = mct.from_array(smooth_volume((20, 20, 20)), chunks=9)
    scales = [1.0, 1.7, (1.0, 2.0, 2.0), 4.5]  # 4.5: on the coarse grid
    multi = vol.microct.objectness(sigma=scales).values
    each = np.max([vol.microct.objectness(sigma=s).values for s in scales], axis=0)
    np.testing.assert_allclose(multi, each, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------
# properties of the continuous operator (scikit-image's ridge-filter suite, test_ridges.py:
# null matrix, energy decrease, inverse symmetry), for every Hessian verb


def test_kernels_have_no_response_to_constants_and_ramps():
    for sigma in (0.6, 1.0, 2.0, 5.9):
        radius = int(4 * sigma + 0.5)
        k = kernels.gaussian_kernels(sigma, radius).astype(np.float64)
        offsets = np.arange(-radius, radius + 1)
        assert abs(k[1].sum()) < 1e-7 and abs(k[2].sum()) < 1e-6
        assert abs((offsets * k[2]).sum()) < 1e-6
        if sigma >= 1:  # and still the second derivative of a quadratic (times sigma**2)
            assert (offsets**2 * k[2]).sum() / 2 == pytest.approx(sigma**2, rel=1e-3)


@pytest.mark.parametrize(("value", "dtype"), [(255, "uint8"), (60000, "uint16"), (-3.7, "float32")])
@pytest.mark.parametrize("mode", ["nearest", "reflect", "mirror"])
def test_constant_volume_gives_zero_in_every_verb_and_polarity(value, dtype, mode):
    vol = mct.from_array(np.full((14, 15, 16), value, dtype=dtype), chunks=(6, 7, 16))
    for verb in (*VERBS, "frangi"):
        for bright in (True, False):
            out = getattr(vol.microct, verb)(sigma=[1.0, 4.5], bright=bright, mode=mode)
            assert not out.values.any(), (verb, bright)
    assert not vol.microct.hessian_eigenvalues(sigma=2.0, mode=mode).values.any()


def test_linear_ramp_has_zero_hessian():
    z, y, x = np.indices((16, 17, 18), dtype=np.float32)
    ramp = 3.0 * z - 2.0 * y + 0.5 * x + 100.0
    eig = mct.from_array(ramp, chunks=8).microct.hessian_eigenvalues(sigma=1.5).values
    # float32 rounding of the smoothed values only (the volume reaches 150)
    assert np.abs(interior(eig, 6)).max() <= 1e-5 * np.abs(ramp).max()


@pytest.mark.parametrize("verb", VERBS)
def test_a_single_bright_voxel_loses_energy(verb):
    spike = np.zeros((5, 5, 5), dtype=np.uint8)
    spike[2, 2, 2] = 255
    for image, bright in ((spike, True), (255 - spike, False)):
        out = getattr(mct.from_array(image).microct, verb)(sigma=1.0, bright=bright)
        assert float(out.std()) < float(image.std()), bright


@pytest.mark.parametrize("verb", VERBS)
def test_dark_ridges_of_an_image_are_bright_ridges_of_its_inverse(verb):
    image = fiber_phantom((24, 24, 24))
    inverse = (255 - image).astype(np.uint8)
    dark = getattr(mct.from_array(inverse, chunks=12).microct, verb)(sigma=2.0, bright=False)
    bright = getattr(mct.from_array(image, chunks=12).microct, verb)(sigma=2.0, bright=True)
    dark, bright = dark.values.astype(np.float64), bright.values.astype(np.float64)
    if verb == "tubeness":  # a square root of eigenvalues: compare the product itself
        dark, bright = dark**2, bright**2
    np.testing.assert_allclose(dark, bright, rtol=0, atol=1e-5 * np.abs(bright).max())


def test_eigenvalues_of_the_inverse_are_negated():
    image = fiber_phantom((24, 24, 24))
    inverse = (255 - image).astype(np.uint8)
    ev = mct.from_array(image, chunks=12).microct.hessian_eigenvalues(sigma=2.0).values
    ev_inverse = mct.from_array(inverse, chunks=12).microct.hessian_eigenvalues(sigma=2.0)
    np.testing.assert_allclose(-ev_inverse.values, ev, rtol=0, atol=1e-5 * float(np.abs(ev).max()))


# ---------------------------------------------------------------------------------------
# chunk-exactness


@settings(max_examples=20)
@given(
    shape=st.tuples(*[st.integers(6, 28)] * 3),
    chunk_fractions=st.tuples(*[st.floats(0.15, 1.0)] * 3),
    sigma=st.tuples(*[st.floats(0.6, 2.5)] * 3),
    verb=st.sampled_from(VERBS),
    mode=st.sampled_from(["nearest", "reflect", "mirror", "constant"]),
    seed=st.integers(0, 3),
)
def test_any_chunking_gives_the_whole_volume_result(
    shape, chunk_fractions, sigma, verb, mode, seed
):
    image = smooth_volume(shape, seed=seed)
    chunks = tuple(max(1, int(n * f)) for n, f in zip(shape, chunk_fractions, strict=True))
    whole = getattr(mct.from_array(image, chunks=-1).microct, verb)(sigma=[sigma], mode=mode).values
    parts = getattr(mct.from_array(image, chunks=chunks).microct, verb)(sigma=[sigma], mode=mode)
    assert parts.chunks is not None
    np.testing.assert_allclose(
        parts.values, whole, rtol=0, atol=1e-5 * max(float(np.abs(whole).max()), 1e-12)
    )


@settings(max_examples=8, deadline=None)
@given(
    shape=st.tuples(*[st.integers(20, 44)] * 3),
    chunk_fractions=st.tuples(*[st.floats(0.2, 1.0)] * 3),
    sigma=st.tuples(*[st.floats(1.0, 7.0)] * 3),
    mode=st.sampled_from(["nearest", "reflect", "mirror", "constant"]),
    verb=st.sampled_from(VERBS),
)
def test_coarse_grid_scales_are_chunk_exact(shape, chunk_fractions, sigma, mode, verb):
    image = smooth_volume(shape, seed=3)
    chunks = tuple(max(1, int(n * f)) for n, f in zip(shape, chunk_fractions, strict=True))
    scales = [sigma, (4.5, 4.5, 4.5)]  # at least one on the coarse grid
    whole = getattr(mct.from_array(image, chunks=-1).microct, verb)(sigma=scales, mode=mode)
    parts = getattr(mct.from_array(image, chunks=chunks).microct, verb)(sigma=scales, mode=mode)
    np.testing.assert_allclose(
        parts.values, whole.values, rtol=0, atol=1e-5 * float(np.abs(whole).max())
    )


def test_coarse_grid_eigenvalues_chunk_exact_with_a_channel_axis():
    image = np.stack([smooth_volume((30, 33, 36), seed=s) for s in (0, 1)])
    sigma = (2.0, 5.0, 4.5)  # z on the voxel grid, y and x on the coarse one
    whole = mct.from_array(image, chunks=(1, -1, -1, -1)).microct.hessian_eigenvalues(sigma=sigma)
    parts = mct.from_array(image, chunks=(1, 11, 13, 17)).microct.hessian_eigenvalues(sigma=sigma)
    assert parts.dims == ("c", "eig", "z", "y", "x")
    np.testing.assert_allclose(
        parts.values, whole.values, rtol=0, atol=1e-5 * float(np.abs(whole).max())
    )


@settings(max_examples=10)
@given(
    chunks=st.tuples(*[st.integers(5, 20)] * 3),
    sigma=st.floats(0.5, 2.0),
)
def test_eigenvalues_chunk_exact(chunks, sigma):
    image = smooth_volume((20, 21, 22), seed=2)
    whole = mct.from_array(image, chunks=-1).microct.hessian_eigenvalues(sigma=sigma)
    parts = mct.from_array(image, chunks=chunks).microct.hessian_eigenvalues(sigma=sigma)
    np.testing.assert_allclose(
        parts.values, whole.values, rtol=0, atol=1e-5 * float(np.abs(whole).max())
    )


def test_output_chunks_follow_the_input():
    vol = mct.from_array(smooth_volume((30, 30, 30)), chunks=(10, 15, 30))
    assert vol.microct.tubeness(sigma=1.0).chunks == vol.chunks
    eig = vol.microct.hessian_eigenvalues(sigma=1.0)
    assert eig.chunks == ((3,), *vol.chunks)
    # chunks thinner than the halo (9 voxels here) are merged for the work, then restored
    thin = vol.chunk({"z": 4})
    assert thin.microct.frangi(sigma=2.0, gamma=1.0).chunks == thin.chunks


# ---------------------------------------------------------------------------------------
# the xarray layer


def test_verbs_are_lazy_and_keep_grid_and_provenance():
    vol = mct.from_array(fiber_phantom((20, 20, 20)), spacing=(1.3, 0.65, 0.65), units="um")
    with raise_if_dask_computes():
        results = [getattr(vol.microct, verb)(sigma="1.3 um") for verb in VERBS]
        results.append(vol.microct.frangi(sigma=["1 um", "2 um"], gamma=None))
        results.append(vol.microct.hessian_eigenvalues(sigma="1.3 um"))
    for result in results:
        assert result.dtype == np.float32
        xr.testing.assert_identical(result.x, vol.x)
        assert result.z.attrs["units"] == "micrometer"
    record = results[0].attrs["microct_provenance"][-1]
    assert record["op"] == "tubeness"
    assert record["resolved"]["sigma"] == pytest.approx([1.0, 2.0, 2.0])
    assert record["params"]["sigma"] == "1.3 um"
    again = mct.replay(results[0], vol)
    np.testing.assert_array_equal(again.values, results[0].values)


def test_tubeness_signature_for_the_fiber_pipeline():
    vol = mct.from_array(fiber_phantom((24, 24, 24)), spacing=0.65, units="um")
    bright = vol.microct.tubeness(sigma="1.95 um")
    dark = vol.microct.tubeness(sigma="1.95 um", bright=False)
    assert float(bright[12, 12, 7]) > 10 * float(dark[12, 12, 7])


def test_leading_channel_axis_is_processed_per_channel():
    image = np.stack([smooth_volume((12, 12, 12), seed=s) for s in (0, 1)])
    vol = mct.from_array(image, chunks=(1, 6, 6, 6))
    assert vol.dims == ("c", "z", "y", "x")
    both = vol.microct.tubeness(sigma=1.0).values
    for c in range(2):
        one = mct.from_array(image[c]).microct.tubeness(sigma=1.0).values
        np.testing.assert_allclose(both[c], one, atol=1e-5 * np.abs(one).max())
    eig = vol.microct.hessian_eigenvalues(sigma=1.0)
    assert eig.dims == ("c", "eig", "z", "y", "x")


def test_frangi_default_gamma_is_global_not_per_chunk():
    image = smooth_volume((24, 24, 24))
    image[:12] *= 0.01  # one half much fainter: a per-chunk gamma would rescale it
    whole = mct.from_array(image, chunks=-1).microct.frangi(sigma=1.5).values
    parts = mct.from_array(image, chunks=12).microct.frangi(sigma=1.5).values
    np.testing.assert_allclose(parts, whole, atol=1e-6)
    ref = skimage.filters.frangi(image, sigmas=[1.5], black_ridges=False, mode="nearest")
    assert agreement(whole, ref, 6)[0] >= 0.999


# ---------------------------------------------------------------------------------------
# bad input


def test_bad_sigma_is_refused():
    vol = mct.from_array(smooth_volume((10, 12, 14)))
    for bad in (0, -1.0, "0 um", [1.0, -2.0]):
        with pytest.raises(ValueError, match="sigma"):
            vol.microct.tubeness(sigma=bad)
    with pytest.raises(ValueError, match="larger than the volume"):
        vol.microct.tubeness(sigma=11.0)
    with pytest.raises(ValueError, match="empty list"):
        vol.microct.frangi(sigma=[])
    with pytest.raises(ValueError, match="sigma has 2 entries"):
        vol.microct.hessian_eigenvalues(sigma=[1.0, 2.0])  # one scale: a list is per axis


def test_bad_parameters_are_refused():
    vol = mct.from_array(smooth_volume((10, 10, 10)))
    with pytest.raises(ValueError, match="object_dimension"):
        vol.microct.objectness(sigma=1.0, object_dimension=3)
    with pytest.raises(ValueError, match="alpha"):
        vol.microct.objectness(sigma=1.0, alpha=-1)
    with pytest.raises(ValueError, match="gamma"):
        vol.microct.frangi(sigma=1.0, gamma=float("nan"))
    with pytest.raises(ValueError, match="mode"):
        vol.microct.tubeness(sigma=1.0, mode="wrap")
    with pytest.raises(ValueError, match="truncate"):
        vol.microct.tubeness(sigma=1.0, truncate=0)
    with pytest.raises(ValueError, match="nan_policy"):
        vol.microct.tubeness(sigma=1.0, nan_policy="omit")


def test_nan_policy():
    image = smooth_volume((24, 24, 24))
    image[12, 12, 12] = np.nan
    vol = mct.from_array(image, chunks=8)
    lazy = vol.microct.tubeness(sigma=1.0)  # building the graph does not fail
    with pytest.raises(ValueError, match="NaN"):
        lazy.compute()
    out = vol.microct.tubeness(sigma=1.0, nan_policy="propagate").values
    reach = 4  # int(4 * 1.0 + 0.5)
    near = out[12 - reach : 13 + reach, 12 - reach : 13 + reach, 12 - reach : 13 + reach]
    assert np.isnan(near).all()
    assert np.isnan(out).sum() == near.size
    objectness = vol.microct.objectness(sigma=[1.0, 1.5], nan_policy="propagate").values
    assert np.isnan(objectness[12, 12, 12])
    assert np.isfinite(objectness[0, 0, 0])


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_input_is_refused_as_nan_is(bad):
    # was: spread silently over the kernel's reach
    image = smooth_volume((24, 24, 24))
    image[12, 12, 12] = bad
    lazy = mct.from_array(image, chunks=8).microct.tubeness(sigma=1.0)
    with pytest.raises(ValueError, match=r"the Hessian: the volume holds infinite values"):
        lazy.compute()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "int64", "float64"])
def test_integer_and_float64_input_converted_without_overflow(dtype):
    image = fiber_phantom((16, 16, 16)).astype(np.float64)
    info = np.iinfo(dtype) if dtype != "float64" else None
    scale = 1.0 if info is None else (info.max // 255 if info.max < 2**24 else 2**16)
    typed = (image * scale).astype(dtype)
    ours = mct.from_array(typed, chunks=8).microct.tubeness(sigma=1.5).values
    ref = mct.from_array((image * scale).astype(np.float32)).microct.tubeness(sigma=1.5)
    np.testing.assert_allclose(ours, ref.values, rtol=1e-5, atol=1e-5 * float(ref.max()))
    assert ours.dtype == np.float32


def test_boolean_input():
    mask = fiber_phantom((16, 16, 16)) > 100
    out = mct.from_array(mask, chunks=8).microct.tubeness(sigma=1.5).values
    ref = mct.from_array(mask.astype(np.float32)).microct.tubeness(sigma=1.5).values
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_datatree_maps_over_levels():
    fine = mct.from_array(fiber_phantom((16, 16, 16)), spacing=1.0)
    coarse = mct.from_array(fiber_phantom((16, 16, 16))[::2, ::2, ::2], spacing=2.0, origin=0.5)
    tree = xr.DataTree.from_dict(
        {"scale0": fine.to_dataset(name="image"), "scale1": coarse.to_dataset(name="image")}
    )
    out = tree.microct.tubeness(sigma=2.0)
    np.testing.assert_allclose(
        out["scale1"]["image"].values, coarse.microct.tubeness(sigma=2.0).values
    )
    assert out["scale0"]["image"].attrs["microct_provenance"][-1]["op"] == "tubeness"
