"""The exact histogram of 8- and 16-bit (and boolean) volumes, whatever the chunking."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xarray_microct.core.stats import _histogram_with_extremes, global_histogram
from xarray_microct.kernels.histogram import float_counts


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "uint16", "int16"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), chunk=st.integers(3, 12))
def test_exact_histogram_counts_every_value(dtype: str, seed: int, chunk: int) -> None:
    rng = np.random.default_rng(seed)
    info = np.iinfo(np.uint8) if dtype == "bool" else np.iinfo(dtype)
    low, high = (0, 1) if dtype == "bool" else (int(info.min), int(info.max))
    # the extremes of the range included, where a signed value's bin wraps
    values = rng.integers(low, high + 1, size=(7, 9, 11)).astype(dtype)
    values.flat[:2] = np.array([low, high]).astype(dtype)
    counts, edges = (a.compute() for a in global_histogram(da.from_array(values, chunks=chunk)))
    reference = np.bincount(values.ravel().astype(np.int64) - int(info.min))
    np.testing.assert_array_equal(counts[: reference.size], reference)
    assert counts[reference.size :].sum() == 0
    assert edges[0] == int(info.min) - 0.5


def _numpy_counts(values, inside, low, high, bins):
    """The NumPy expressions of a float histogram and its six extra counts."""
    finite = values[np.isfinite(values)].astype(np.float64)
    central = values[np.broadcast_to(inside, values.shape)]
    scale = bins / (high - low) if high > low else 0.0
    index = np.clip(((finite - low) * scale).astype(np.int64), 0, bins - 1)
    extra = [
        np.count_nonzero(finite == low),
        np.count_nonzero(finite == high),
        np.count_nonzero(central == low),
        np.count_nonzero(central == high),
        np.count_nonzero(finite == 0.0),
        np.count_nonzero(central == 0.0),
    ]
    return np.concatenate([np.bincount(index, minlength=bins), extra])


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(*(st.integers(1, 9),) * 3),
    dtype=st.sampled_from(["float32", "float64", "float16", "int32", "int64"]),
    bins=st.sampled_from([1, 5, 256, 65536]),
    seed=st.integers(0, 2**16),
)
def test_float_counts_equal_the_numpy_expressions(shape, dtype, bins, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 50, shape).astype(dtype)
    if values.dtype.kind == "f":  # zeros, NaN and infinities among the values
        values.flat[rng.integers(0, values.size, values.size // 3)] = 0
        values.flat[rng.integers(0, values.size, values.size // 4)] = np.nan
        values.flat[rng.integers(0, values.size, values.size // 5)] = np.inf
        values.flat[rng.integers(0, values.size, values.size // 6)] = -np.inf
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    inside = rng.random(shape[1:]) < 0.5
    np.testing.assert_array_equal(
        float_counts(values, inside, low, high, bins),
        _numpy_counts(values, inside, low, high, bins),
    )


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), chunks=st.tuples(*(st.integers(2, 9),) * 3))
def test_float_histogram_and_extremes_whatever_the_chunking(seed, chunks):
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 1, (6, 12, 12)).astype(np.float32)
    values[:, :2] = 0.0  # a band of exact zeros, outside the central disk
    values[0, 5, 5] = np.nan
    whole, _ = _histogram_with_extremes(da.from_array(values, chunks=-1), 64)
    chunked, edges = _histogram_with_extremes(da.from_array(values, chunks=chunks), 64)
    np.testing.assert_array_equal(chunked.compute(), whole.compute())
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    inside = np.hypot(*np.meshgrid(np.arange(12) - 5.5, np.arange(12) - 5.5)) < 3.0
    np.testing.assert_array_equal(chunked.compute(), _numpy_counts(values, inside, low, high, 64))
    assert edges.compute()[[0, -1]].tolist() == [low, high]
