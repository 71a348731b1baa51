"""kernels/rings.py: the same sums and values as the NumPy expressions they replace."""

from __future__ import annotations

import numpy as np
import pytest

from xarray_microct.kernels.rings import column_residuals, subtract_rounded


def _numpy_column_residuals(block, dark_below, bright_above, low, step, q_dark, q_bright):
    values = block.astype(np.float64)
    dark, bright = values <= dark_below, values >= bright_above
    quantised = np.rint((values - low) / step).astype(np.int64)
    residual = np.where(dark, quantised - q_dark, 0) + np.where(bright, quantised - q_bright, 0)
    return np.stack([residual.sum(axis=0), np.count_nonzero(dark | bright, axis=0)], axis=-1)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
def test_column_residuals_equal_numpy(dtype):
    rng = np.random.default_rng(2)
    block = (rng.random((9, 5, 6)) * 250).astype(dtype)
    args = (70.3, 150.0, -0.5, 256 / 2**16, 18000, 40000)
    np.testing.assert_array_equal(
        column_residuals(block, *args), _numpy_column_residuals(block, *args)
    )
    # both phases at one level: a voxel there is clear dark and clear bright at once
    args = (120.0, 120.0, 0.0, 1.0, 120, 120)
    np.testing.assert_array_equal(
        column_residuals(block, *args), _numpy_column_residuals(block, *args)
    )


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16"])
def test_subtract_rounded_equals_numpy(dtype):
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    block = rng.integers(info.min, int(info.max) + 1, (4, 5, 6), dtype=dtype)
    offsets = rng.normal(0, 40, (5, 6)).astype(np.float32)
    offsets[0, :2] = [0.5, -0.5]  # halves round to even
    expected = np.clip(np.rint(block.astype(np.float32) - offsets[None]), info.min, info.max)
    ours = subtract_rounded(block, offsets)
    assert ours.dtype == dtype
    np.testing.assert_array_equal(ours, expected.astype(dtype))
