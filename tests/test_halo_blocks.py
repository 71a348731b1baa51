"""The halo of each block in two tasks per block (``core.blocks.overlap.halo_blocks``: one
cuts a block's slabs for its neighbours on other workers, one joins a block with the slabs
it needs; without a cluster, the join alone), and
the neighbourhood engine built on it: the same values as cutting the whole array, for any
chunking; on a cluster, only slabs travel between the workers."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import zarr
from helpers import keys_received, two_workers

from xarray_microct.core.blocks.overlap import (
    halo_blocks,
    map_spatial_interior,
    map_spatial_overlap,
)
from xarray_microct.core.blocks.placement import (
    block_hint,
    follow_blocks,
    placing_on,
    spread_over_workers,
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


def _layers(halo: da.Array) -> tuple[dict, dict]:
    """The halo's join tasks and its cut tasks."""
    graph = halo.__dask_graph__()
    (cuts,) = [name for name in graph.dependencies[halo.name] if name.startswith("halo-slabs")]
    return dict(graph.layers[halo.name]), dict(graph.layers[cuts])


@pytest.mark.parametrize(("chunks", "depth"), CHUNKINGS)
def test_each_halo_block_is_the_whole_arrays_cut(chunks, depth):
    array = np.random.default_rng(0).random((20, 20, 20)).astype(np.float32)
    data = da.from_array(array, chunks=chunks)
    halo = halo_blocks(data, depth)
    expected = _reference_blocks(array, data.chunks, depth)
    assert halo.numblocks == data.numblocks
    for index, block in expected.items():
        np.testing.assert_array_equal(halo.blocks[index].compute(), block)
    if all(min(c) >= d for c, d in zip(data.chunks, depth, strict=True)):  # Dask's merges
        assert halo.chunks == da.overlap.overlap(data, depth, "none").chunks  # thinner ones


def test_without_a_cluster_one_task_per_block_slices_its_neighbours():
    # the slab tuples only added a task per block where every block is in one memory
    array = np.random.default_rng(1).random((40, 60, 60)).astype(np.float32)
    data = da.from_array(array, chunks=(20, 15, 15))  # 2 × 4 × 4 blocks
    halo = halo_blocks(data, (2, 2, 2))
    joins, cuts = _layers(halo)
    assert len(joins) == 32 and not cuts
    assert {part[0] for _, parts, *_ in joins.values() for part in parts} == {data.name}
    for index, block in _reference_blocks(array, data.chunks, (2, 2, 2)).items():
        np.testing.assert_array_equal(halo.blocks[index].compute(), block)


def test_two_tasks_per_block_and_slabs_only():
    data = da.zeros((40, 60, 60), chunks=(20, 15, 15))  # 2 × 4 × 4 blocks
    with placing_on({"tcp://a:1": 1, "tcp://b:1": 1}):  # a cluster, the blocks not hinted
        halo = halo_blocks(data, (2, 2, 2))
    joins, cuts = _layers(halo)
    assert len(joins) == len(cuts) == np.prod(data.numblocks) == 32
    for key, (_, source, slabs) in cuts.items():
        assert source == (data.name, *key[1:-1])
        # a block's 26 neighbours at most; slabs 2 voxels thick across the axes cut
        assert 7 <= len(slabs) <= 26
        assert all(
            sum(s.stop - s.start < n for s, n in zip(slab, (20, 15, 15), strict=True)) >= 1
            for slab in slabs
        )
    # Dask's overlap makes a task of every piece
    pieces = da.overlap.overlap(data, (2, 2, 2), "none").__dask_graph__()
    assert len(pieces) - len(data.__dask_graph__()) > 10 * len(joins)


def test_no_depth_is_the_array_itself():
    data = da.ones((6, 6), chunks=3)
    assert halo_blocks(data, (0, 0)) is data


def _hinted(workers=None) -> tuple[np.ndarray, da.Array]:
    """Reads of 1 × 4 × 4 blocks hinted to two workers (default: the client's)."""
    values = np.arange(4 * 16 * 16, dtype=np.int64).reshape(4, 16, 16)
    reads = da.from_zarr(zarr.array(values, chunks=4))
    return values, spread_over_workers(reads, workers)


def test_on_a_hinted_grid_a_block_cuts_one_tuple_per_worker_of_its_neighbours():
    values, root = _hinted({"tcp://a:1": 1, "tcp://b:1": 1})  # rows 0-1 | rows 2-3
    hint = block_hint(root)
    smoothed = root + 1
    halo = halo_blocks(smoothed, (0, 1, 1))
    joins, cuts = _layers(halo)
    worker = {index: hint((root.name, *index))[0] for index in np.ndindex(root.numblocks)}
    layer = halo.__dask_graph__().layers[next(iter(cuts))[0]]
    for key in cuts:
        assert layer.annotations["workers"](key) == [worker[key[1:-1]]]  # where its source is
        readers = {  # the workers of the joins that take this cut
            worker[join[1:]] for join, (_, parts, *_) in joins.items() if key in parts
        }
        assert len(readers) == 1  # the slabs of one worker's blocks
        assert readers != {worker[key[1:-1]]}  # for the other worker only
    assert len(cuts) == 8  # rows 1 and 2 cut for each other
    for join, (_, parts, *_) in joins.items():  # whole blocks: those of the join's worker
        assert {worker[p[1:]] for p in parts if p[0] == smoothed.name} == {worker[join[1:]]}
    for index, block in _reference_blocks(values + 1, root.chunks, (0, 1, 1)).items():
        np.testing.assert_array_equal(halo.blocks[index].compute(), block)


def test_a_cluster_sends_slabs_between_workers_not_blocks():
    pytest.importorskip("distributed")
    with two_workers(as_microct_run=True) as client:  # no work stealing
        values, root = _hinted()
        # z is one block: no halo along it
        smoothed = map_spatial_overlap(ndi.uniform_filter, root + 1, (0, 1, 1), np.int64, size=3)
        # each stage where its block is; unoptimised, as the fiber graph runs
        with keys_received(client) as sent:
            found = follow_blocks(smoothed).compute(optimize_graph=False)
    # besides the store's handle (a key of no block) and the result's blocks (gathered
    # to one worker to be joined): the slabs at the border of the workers' parts
    keys = [key for key in sent if isinstance(key, tuple) and key[0] != smoothed.name]
    assert keys
    assert all(key[0].startswith("halo-slabs-") for key in keys), keys
    np.testing.assert_array_equal(found, ndi.uniform_filter(values + 1, size=3))


@pytest.mark.parametrize(("chunks", "depth"), CHUNKINGS)
def test_neighbourhood_filters_equal_the_whole_array(chunks, depth):
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
    with dask.config.set(scheduler="threads"):
        np.testing.assert_allclose(out.compute(), expected, rtol=1e-12)
