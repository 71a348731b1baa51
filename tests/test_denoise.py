"""denoise: the Gaussian and its first-order sharpening, equal to scipy on the whole array."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.ops.denoise import denoise_array


def _reference(array: np.ndarray, sigma: float, sharpen: bool = True) -> np.ndarray:
    """The two steps on the whole array with scipy (kernels truncated at 3 sigmas)."""
    smooth = ndi.gaussian_filter(array.astype(np.float32), sigma, truncate=3.0, mode="nearest")
    if sharpen:
        detail = ndi.gaussian_filter(smooth, 1.5 * sigma, truncate=3.0, mode="nearest")
        smooth = smooth + (smooth - detail) / 1.5**2
    return smooth


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(*(st.integers(2, 14),) * 3),
    parts=st.tuples(*(st.integers(1, 4),) * 3),
    sigma=st.floats(0.4, 1.5),
    sharpen=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_equals_scipy_on_the_whole_array_for_any_chunking(shape, parts, sigma, sharpen, seed):
    array = np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)
    chunks = tuple(max(1, -(-n // p)) for n, p in zip(shape, parts, strict=True))
    reference = _reference(array, sigma, sharpen)
    ours = denoise_array(da.from_array(array, chunks=chunks), (sigma,) * 3, sharpen).compute()
    assert ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, np.clip(np.rint(reference), 0, 255))
    floats = denoise_array(da.from_array(array.astype("float32"), chunks=chunks), (sigma,) * 3)
    np.testing.assert_allclose(floats.compute(), _reference(array, sigma), rtol=1e-5, atol=1e-3)


def test_keeps_a_ball_where_a_gaussian_shrinks_it():
    z, y, x = np.ogrid[:32, :32, :32]
    ball = ((z - 16) ** 2 + (y - 16) ** 2 + (x - 16) ** 2 <= 8**2).astype(np.float32) * 100
    vol = mct.from_array(ball, chunks=16)
    true = np.count_nonzero(ball)
    plain = np.count_nonzero(vol.microct.gaussian(sigma=1.5, truncate=3.0).values > 50)
    kept = np.count_nonzero(vol.microct.denoise(sigma=1.5).values > 50)
    assert plain < 0.9 * true and abs(kept - true) < abs(plain - true) / 2


def test_physical_sigma_and_record():
    vol = mct.from_array(np.zeros((6, 12, 12), "uint16"), spacing=(2.0, 1.0, 1.0), chunks=6)
    out = vol.microct.denoise(sigma="2 um")
    record = out.attrs["microct_provenance"][-1]
    assert record["op"] == "denoise" and record["resolved"]["sigma"] == [1.0, 2.0, 2.0]
    assert out.dtype == np.uint16
    with pytest.raises(ValueError):
        vol.microct.denoise(sigma="-1 um")


def test_float16_scans_are_denoised_as_float32() -> None:
    scan = np.random.default_rng(4).normal(100, 10, (12, 14, 16)).astype(np.float16)
    vol = mct.from_array(scan, chunks=7)
    expected = mct.from_array(scan.astype(np.float32), chunks=7).microct.denoise(sigma=1.0)
    got = vol.microct.denoise(sigma=1.0)
    np.testing.assert_array_equal(got.values, expected.values)


def test_sharpen_must_be_a_bool() -> None:
    vol = mct.from_array(np.zeros((8, 8, 8), np.uint8))
    with pytest.raises(TypeError, match="sharpen is True or False"):
        vol.microct.denoise(sigma=1.0, sharpen="no")


@pytest.mark.parametrize("sharpen", [True, False])
def test_a_big_endian_dask_array_is_denoised_as_the_native_one(sharpen) -> None:
    # denoise_array called on such an array (the verb converts it first) raised Numba's
    # TypingError on every block
    native = np.random.default_rng(6).integers(0, 4000, (10, 12, 9)).astype(np.uint16)
    big = da.from_array(native.astype(">u2"), chunks=5)
    expected = denoise_array(da.from_array(native, chunks=5), (1.0, 1.2, 0.8), sharpen)
    got = denoise_array(big, (1.0, 1.2, 0.8), sharpen).compute()
    np.testing.assert_array_equal(got, expected.compute())
