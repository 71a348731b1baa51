"""The halo of each block, one task per block (``core.blocks.overlap.halo_blocks``), and the
neighbourhood engine built on it: the same values as cutting the whole array, for any
chunking."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi

from xarray_microct.core.blocks import overlap
from xarray_microct.core.blocks.overlap import (
    halo_blocks,
    map_spatial_interior,
    map_spatial_overlap,
)

CHUNKINGS = [
    ((7, 7, 6), (2, 3, 1)),  # uneven last blocks
    (((10, 2, 8), (12, 8), (5, 5, 5, 5)), (3, 2, 1)),  # a halo across a thin block
    (((20,), (4, 4, 4, 4, 4), (20,)), (1, 3, 0)),  # one block along an axis; no halo on x
]


def _reference_blocks(array: np.ndarray, chunks, depth) -> dict[tuple[int, ...], np.ndarray]:
    """Each block of ``array`` with its halo, cut from the whole array."""
    bounds = [np.cumsum((0, *c)) for c in chunks]
    blocks = {}
    for index in np.ndindex(*(len(c) for c in chunks)):
        cut = tuple(
            slice(max(b[i] - d, 0), min(b[i + 1] + d, n))
            for b, i, d, n in zip(bounds, index, depth, array.shape, strict=True)
        )
        blocks[index] = array[cut]
    return blocks


@pytest.mark.parametrize(("chunks", "depth"), CHUNKINGS)
def test_each_halo_block_is_the_whole_arrays_cut(chunks, depth):
    array = np.random.default_rng(0).random((20, 20, 20)).astype(np.float32)
    data = da.from_array(array, chunks=chunks)
    halo = halo_blocks(data, depth)
    expected = _reference_blocks(array, data.chunks, depth)
    assert halo.numblocks == data.numblocks
    for index, block in expected.items():
        np.testing.assert_array_equal(halo.blocks[index].compute(), block)


def test_one_task_per_block():
    data = da.zeros((40, 60, 60), chunks=(20, 15, 15))
    halo = halo_blocks(data, (2, 2, 2))
    layer = halo.__dask_graph__().layers[halo.name]
    assert len(layer) == np.prod(data.numblocks) == 32
    # Dask's overlap makes a task of every piece
    assert len(da.overlap.overlap(data, (2, 2, 2), "none").dask.layers) > 1


def test_blocks_over_the_bound_get_dasks_overlap(monkeypatch):
    monkeypatch.setattr(overlap, "WHOLE_NEIGHBOURS_BYTES", 0)
    array = np.random.default_rng(0).random((20, 20, 20)).astype(np.float32)
    data = da.from_array(array, chunks=(7, 7, 6))
    halo = halo_blocks(data, (2, 3, 1))
    assert len(halo.__dask_graph__().layers[halo.name]) > np.prod(data.numblocks)
    for index, block in _reference_blocks(array, data.chunks, (2, 3, 1)).items():
        np.testing.assert_array_equal(halo.blocks[index].compute(), block)


def test_no_depth_is_the_array_itself():
    data = da.ones((6, 6), chunks=3)
    assert halo_blocks(data, (0, 0)) is data


@pytest.mark.parametrize("bound", [overlap.WHOLE_NEIGHBOURS_BYTES, 0])
@pytest.mark.parametrize(("chunks", "depth"), CHUNKINGS)
def test_neighbourhood_filters_equal_the_whole_array(chunks, depth, bound, monkeypatch):
    monkeypatch.setattr(overlap, "WHOLE_NEIGHBOURS_BYTES", bound)
    array = np.random.default_rng(1).random((20, 20, 20))
    data = da.from_array(array, chunks=chunks)
    size = tuple(2 * d + 1 for d in depth)
    expected = ndi.uniform_filter(array, size=size)
    out = map_spatial_overlap(ndi.uniform_filter, data, depth, data.dtype, size=size)
    assert out.chunks == data.chunks
    np.testing.assert_allclose(out.compute(), expected, rtol=1e-12)

    def interior(block, origin, shape, start, size):
        inner = tuple(slice(o, o + n) for o, n in zip(origin, shape, strict=True))
        return ndi.uniform_filter(block, size=size)[inner]

    out = map_spatial_interior(interior, data, depth, data.dtype, size=size)
    assert out.chunks == data.chunks
    np.testing.assert_allclose(out.compute(), expected, rtol=1e-12)


def test_leading_axes_are_processed_one_index_at_a_time():
    array = np.random.default_rng(2).random((3, 12, 12, 12))
    data = da.from_array(array, chunks=(2, 5, 6, 7))
    out = map_spatial_overlap(ndi.uniform_filter, data, (1, 1, 1), data.dtype, size=3)
    expected = np.stack([ndi.uniform_filter(a, size=3) for a in array])
    np.testing.assert_allclose(out.compute(), expected, rtol=1e-12)
