"""remove_rings' agreement weight: from exact per-block sums, equal to the whole-array
computation, the same for any chunking, and never holding more than a block."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import dask.array as da
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xarray_microct.ops.rings import _agreement_weight, _exact_product_sum, _exact_sum

SCALE = 2**1127  # the exact sums are integers in units of 2**-1127


def whole_array_agreement(sums: np.ndarray) -> float:
    """The weight computed on every column at once (remove_rings' first version)."""
    sums = sums.reshape(-1, 4).astype(np.float64)
    sums = sums[(sums[:, 1] > 0) & (sums[:, 3] > 0)]
    if len(sums) < 2:
        return 1.0
    first, second = sums[:, 0] / sums[:, 1], sums[:, 2] / sums[:, 3]
    whole = (sums[:, 0] + sums[:, 2]) / (sums[:, 1] + sums[:, 3])
    if whole.var() == 0:
        return 1.0
    shared = np.mean((first - first.mean()) * (second - second.mean()))
    return min(max(shared / whole.var(), 0.0), 1.0)


def column_sums(shape: tuple[int, int], rings: float, seed: int) -> np.ndarray:
    """Column sums as ``ring_offsets_array`` makes them: (total, count) per half, the
    totals in quantised units around the phase levels, some columns with no clear voxel."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 40, (*shape, 2))
    offsets = rng.normal(0.0, rings, shape)[..., None] + rng.normal(0.0, 900.0, (*shape, 2))
    totals = np.rint(offsets * counts).astype(np.int64)
    return np.stack([totals[..., 0], counts[..., 0], totals[..., 1], counts[..., 1]], axis=-1)


def weight(sums: np.ndarray, chunks: tuple[int, int]) -> float:
    return float(_agreement_weight(da.from_array(sums, chunks=(*chunks, 4))).compute()[0])


@pytest.mark.parametrize("rings", [0.0, 300.0, 3000.0])
def test_the_weight_is_the_whole_array_one_for_any_chunking(rings):
    sums = column_sums((45, 38), rings, seed=int(rings))
    reference = whole_array_agreement(sums)
    found = {weight(sums, chunks) for chunks in ((45, 38), (7, 13), (1, 38), (45, 1), (16, 16))}
    assert len(found) == 1  # bit for bit
    assert found.pop() == pytest.approx(reference, rel=1e-13, abs=1e-15)
    if rings == 3000.0:
        assert reference > 0.8  # the rings dominate: a weight near 1, tested too


def test_the_weight_of_degenerate_columns():
    sums = column_sums((6, 5), 100.0, seed=1)
    empty = sums.copy()
    empty[..., 3] = 0  # no column has clear voxels in the second half
    assert weight(empty, (2, 2)) == whole_array_agreement(empty) == 1.0
    flat = np.tile([[[10, 2, 30, 6]]], (6, 5, 1))  # every column the same: no spread
    assert weight(flat, (4, 3)) == whole_array_agreement(flat) == 1.0
    opposed = sums.copy()
    opposed[..., 2] = -opposed[..., 0] * opposed[..., 3] // np.maximum(opposed[..., 1], 1)
    assert weight(opposed, (3, 2)) == whole_array_agreement(opposed) == 0.0


def test_no_task_of_the_weight_holds_more_than_a_block_of_sums():
    n, block = 1024, 128

    def make(block_info=None):
        (y, _), (x, _), _ = block_info[None]["array-location"]
        return column_sums((block, block), 500.0, seed=y * n + x)

    sums = da.map_blocks(make, chunks=((block,) * (n // block),) * 2 + ((4,),), dtype=np.int64)
    lazy = _agreement_weight(sums)
    tracemalloc.start()
    try:
        lazy.compute(scheduler="sync")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the whole-array weight held every column's sums, as int64 and float64 (> 64 MB)
    assert peak < sums.nbytes / 4, f"{peak / 2**20:.1f} MiB for {sums.nbytes / 2**20:.0f} MiB"


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
# well inside float64's range, as column offsets (ratios of integers) are: no product
# overflows or underflows
magnitude = st.floats(min_value=1e-100, max_value=1e100)
moderate = st.one_of(st.just(0.0), magnitude, magnitude.map(lambda v: -v))


@given(arrays(np.float64, st.integers(0, 60), elements=finite))
def test_exact_sum_is_the_sum_of_the_floats_as_rationals(values):
    assert Fraction(_exact_sum(values), SCALE) == sum(map(Fraction, values.tolist()), Fraction(0))


@given(st.lists(st.tuples(moderate, moderate), max_size=40))
def test_exact_product_sum_is_exact(pairs):
    a, b = (np.array([p[i] for p in pairs], dtype=np.float64) for i in (0, 1))
    exact = sum((Fraction(x) * Fraction(y) for x, y in pairs), Fraction(0))
    assert Fraction(_exact_product_sum(a, b), SCALE) == exact
