"""map_windows: windows of whole stored chunks are read from the store in one read."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from xarray_microct.core.blocks.windows import map_windows, stored_source
from xarray_microct.ops.fibers.grid import bin_yx, bin_yx_array


def _sum_of_bins(factor: int):
    def block(window: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
        n = window.shape[0] // factor
        return window[: n * factor].reshape(n, factor).sum(axis=1, dtype=np.int64)

    return block


def _keys_read(array: da.Array) -> set:
    """The keys the output tasks of ``array`` depend on."""
    dependencies = array.dask.get_all_dependencies()
    return set().union(*(dependencies[k] for k in array.__dask_keys__()))


def test_stored_source_is_found_only_for_plain_reads(tmp_path):
    store = zarr.open_array(tmp_path / "a.zarr", mode="w", shape=(8, 12), chunks=(4, 5), dtype="u2")
    store[:] = np.arange(96).reshape(8, 12)
    assert stored_source(da.from_zarr(store)) is not None
    assert stored_source(da.from_zarr(store, chunks=(4, 10))) is not None  # merged reads
    assert stored_source(da.from_zarr(store) + 1) is None  # computed
    assert stored_source(da.from_zarr(store)[:, 1:]) is None  # a slice of the reads
    assert stored_source(da.from_array(store, chunks=4, inline_array=True)) is None
    assert stored_source(da.from_array(store, chunks=4, lock=True)) is None


@settings(max_examples=30, deadline=None)
@given(
    bins_per_chunk=st.integers(1, 4),
    per_output=st.integers(1, 3),
    factor=st.integers(1, 3),
    length=st.integers(1, 40),
)
def test_windows_of_whole_stored_chunks_read_the_store_directly(
    bins_per_chunk, per_output, factor, length
):
    values = np.random.default_rng(length).integers(0, 1000, length)
    stored = da.from_zarr(zarr.array(values, chunks=bins_per_chunk * factor))
    computed = stored + 0  # the same values, not a read
    # each output chunk: the bins of per_output whole input chunks
    bins = -(-length // factor)
    out_chunks = da.core.normalize_chunks(bins_per_chunk * per_output, (bins,))
    block = _sum_of_bins(factor)
    direct = map_windows(stored, block, out_chunks, (factor,), ((0, 0),), np.int64)
    through_tasks = map_windows(computed, block, out_chunks, (factor,), ((0, 0),), np.int64)
    assert stored.name not in {k[0] for k in _keys_read(direct) if isinstance(k, tuple)}
    assert computed.name in {k[0] for k in _keys_read(through_tasks) if isinstance(k, tuple)}
    # a partial last bin is filled with the last value (the volume's border rule)
    padded = np.concatenate([values, np.repeat(values[-1:], -length % factor)])
    reference = padded.reshape(-1, factor).sum(axis=1)
    np.testing.assert_array_equal(direct.compute(), reference)
    np.testing.assert_array_equal(through_tasks.compute(), reference)


def test_windows_with_a_halo_keep_one_task_per_stored_chunk():
    stored = da.from_zarr(zarr.array(np.arange(12), chunks=4))
    out = map_windows(
        stored, lambda w, s: w[:-2] + w[1:-1] + w[2:], ((4, 4, 4),), (1,), ((1, 1),), np.int64
    )
    assert stored.name in {k[0] for k in _keys_read(out) if isinstance(k, tuple)}
    a = np.arange(12)
    padded = np.concatenate([a[:1], a, a[-1:]])
    np.testing.assert_array_equal(out.compute(), padded[:-2] + padded[1:-1] + padded[2:])


@pytest.mark.parametrize("read_chunks", [(3, 8, 8), (4, 16, 8), (5, 6, 10)])
def test_bins_of_a_zarr_store_equal_the_bins_of_the_whole_scan(tmp_path, read_chunks):
    scan = np.random.default_rng(1).integers(0, 2**16, (6, 31, 37), dtype=np.uint16)
    store = zarr.open_array(
        tmp_path / "s.zarr", mode="w", shape=scan.shape, chunks=(3, 8, 8), dtype=scan.dtype
    )
    store[:] = scan
    binned = bin_yx_array(da.from_zarr(store, chunks=read_chunks), 2, min_chunk=4)
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(binned.compute(), bin_yx(scan, 2))
