"""kernels/gaussian.py: the same values as scipy's Gaussian, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

from xarray_microct.kernels.gaussian import gaussian_passes, gaussian_taps, sharpened


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(*(st.integers(1, 12),) * 3),
    sigma=st.tuples(*(st.sampled_from([0.0, 0.3, 0.71, 1.0, 1.6, 2.5]),) * 3),
    dtype=st.sampled_from(["uint8", "uint16", "int16", "int32", "float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_equals_scipy_gaussian_filter_bit_for_bit(shape, sigma, dtype, seed):
    rng = np.random.default_rng(seed)
    scale = 2.0**30 + 1 if dtype == "int32" else 250  # int32: values float32 rounds
    block = (rng.random(shape) * scale - (50 if dtype == "int16" else 0)).astype(dtype)
    work = np.dtype("float64" if dtype == "float64" else "float32")  # as float_dtype
    reference = ndi.gaussian_filter(block.astype(work), sigma, truncate=3.0, mode="nearest")
    ours = gaussian_passes(block, sigma, 3.0, work)
    assert ours.dtype == work
    np.testing.assert_array_equal(ours, reference)
    # planes and rows of it only (the rest read, not computed): the same values there
    z0, y0 = rng.integers(0, shape[0]), rng.integers(0, shape[1])
    z1, y1 = rng.integers(z0, shape[0] + 1), rng.integers(y0, shape[1] + 1)
    part = gaussian_passes(block, sigma, 3.0, work, (slice(z0, z1), slice(y0, y1)))
    np.testing.assert_array_equal(part, reference[z0:z1, y0:y1])


def test_a_strided_block_and_no_smoothing_at_all():
    block = np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8)[:, ::2, 1:]
    reference = ndi.gaussian_filter(block, (1.0, 0.5, 2.0), truncate=3.0, mode="nearest")
    np.testing.assert_array_equal(
        gaussian_passes(block, (1.0, 0.5, 2.0), 3.0, block.dtype), reference
    )
    untouched = gaussian_passes(block, (0.0, 0.0, 0.0), 3.0, np.dtype("float64"))
    assert untouched.dtype == np.float64 and np.array_equal(untouched, block)
    assert untouched.base is not block and not np.shares_memory(untouched, block)


def test_taps_are_scipys_normalised_gaussian():
    taps = gaussian_taps(1.3, 3.0)
    x = np.arange(taps.size)
    expected = np.exp(-(x**2) / (2 * 1.3**2))
    np.testing.assert_allclose(taps, expected / (2 * expected.sum() - expected[0]), rtol=1e-12)


@pytest.mark.parametrize("out_dtype", ["uint8", "int16", "float32"])
def test_sharpened_equals_the_numpy_expression(out_dtype):
    rng = np.random.default_rng(4)
    smooth = (rng.random((5, 6, 7)) * 400 - 100).astype(np.float32)
    smooth[2] = 7.5  # rounds to 8, as np.rint takes halves to even
    sigma = (0.0, 1.1, 1.6)  # in-plane only: the flat plane stays 7.5
    blurred = ndi.gaussian_filter(smooth, sigma, truncate=3.0, mode="nearest")
    expected = smooth + (smooth - blurred) / 2.25
    if np.issubdtype(out_dtype, np.integer):
        info = np.iinfo(out_dtype)
        expected = np.clip(np.rint(expected), info.min, info.max)
    ours = sharpened(smooth, sigma, 3.0, 2.25, np.dtype(out_dtype))
    assert ours.dtype == out_dtype
    np.testing.assert_array_equal(ours, expected.astype(out_dtype))


def test_another_byte_order_gives_the_same_values():
    # Numba compiles no big-endian array: the kernels failed on one ('>u2', as some Zarr
    # v2, TIFF and raw files hold scans) for every caller but the gaussian verb's path
    block = (np.random.default_rng(5).random((6, 7, 8)) * 4000).astype(">u2")[:, ::-1, 1:]
    sigma = (1.0, 0.6, 1.4)
    reference = ndi.gaussian_filter(block.astype(np.float32), sigma, truncate=3.0, mode="nearest")
    for dtype in ("float32", ">f4"):
        ours = gaussian_passes(block, sigma, 3.0, np.dtype(dtype))
        assert ours.dtype == dtype
        np.testing.assert_array_equal(ours, reference)
    smooth = reference.astype(">f4")
    blurred = ndi.gaussian_filter(reference, sigma, truncate=3.0, mode="nearest")
    expected = np.clip(np.rint(reference + (reference - blurred) / 2.25), 0, 65535)
    for out_dtype in ("uint16", ">u2"):
        ours = sharpened(smooth, sigma, 3.0, 2.25, np.dtype(out_dtype))
        assert ours.dtype == out_dtype
        np.testing.assert_array_equal(ours, expected.astype(out_dtype))
