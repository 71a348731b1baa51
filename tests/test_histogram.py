"""The exact histogram of 8- and 16-bit (and boolean) volumes, whatever the chunking."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xarray_microct.core.stats import global_histogram


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
