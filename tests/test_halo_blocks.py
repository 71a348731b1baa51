"""map_halo_blocks: one task per chunk, its halo cut from the neighbouring chunks inside it.

The neighbourhood helpers built on it (map_spatial_overlap, map_spatial_interior) give
the whole-array answer whatever the chunking, with one task per output chunk on top of
the input's (no task per halo piece, no join or trim task).
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

from xarray_microct.core.blocks.overlap import (
    map_halo_blocks,
    map_spatial_interior,
    map_spatial_overlap,
)


def _chunking(draw, size: int, least: int) -> tuple[int, ...]:
    """Chunks of an axis of ``size`` voxels, each at least ``least`` (or one chunk)."""
    if draw(st.booleans()) or size < 2 * least:
        return (size,)
    cuts = sorted(draw(st.sets(st.integers(least, size - least), max_size=3)))
    edges = [0]
    for cut in cuts:
        if cut - edges[-1] >= least:
            edges.append(cut)
    if size - edges[-1] < least:
        edges.pop()
    return tuple(np.diff([*edges, size]).tolist())


@st.composite
def chunked_volumes(draw):
    shape = tuple(draw(st.integers(4, 13)) for _ in range(3))
    depth = tuple(draw(st.integers(0, 2)) for _ in range(3))
    chunks = tuple(_chunking(draw, n, max(d, 1)) for n, d in zip(shape, depth, strict=True))
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).random(shape), chunks, depth


def _window_sums(window, halo, index, reach):
    """Each voxel's sum over the box of ``reach`` voxels a side, the array's ends held."""
    pads = [(r - a, r - b) for r, (a, b) in zip(reach, halo, strict=True)]
    padded = np.pad(window, pads, mode="edge")
    inner = tuple(
        slice(r, r + n - a - b) for r, n, (a, b) in zip(reach, window.shape, halo, strict=True)
    )
    return ndi.uniform_filter(padded, [2 * r + 1 for r in reach])[inner]


@settings(max_examples=40, deadline=None)
@given(chunked_volumes())
def test_windows_give_the_whole_array_answer_whatever_the_chunking(case):
    volume, chunks, depth = case
    data = da.from_array(volume, chunks=chunks)
    out = map_halo_blocks(
        lambda w, h, i: _window_sums(w, h, i, depth), data, depth, data.chunks, data.dtype, "box"
    )
    whole = ndi.uniform_filter(volume, [2 * d + 1 for d in depth], mode="nearest")
    np.testing.assert_allclose(out.compute(scheduler="sync"), whole, rtol=1e-12)


def test_window_halo_and_index_are_those_of_the_chunk():
    data = da.zeros((10, 6), chunks=((3, 4, 3), (6,)), dtype=np.int8)
    seen = map_halo_blocks(
        lambda w, h, i: np.full((1, 1), w.shape[0] * 100 + h[0][0] * 10 + h[0][1]),
        data,
        (2, 2),
        ((1, 1, 1), (1,)),
        np.int64,
        "seen",
    ).compute(scheduler="sync")
    # rows: window height, halo before, halo after (none past the ends, none along x)
    assert seen.ravel().tolist() == [502, 822, 520]


def test_one_task_per_chunk_and_the_whole_answer():
    volume = np.random.default_rng(1).random((12, 40, 40)).astype(np.float32)
    data = da.from_array(volume, chunks=(12, 16, 16))
    out = map_spatial_overlap(ndi.uniform_filter, data, (0, 3, 3), np.float32, size=7)
    # the input's 9 chunks and 9 output tasks: no task per halo piece, no join, no trim
    assert len(out.__dask_graph__()) == 2 * data.npartitions
    np.testing.assert_allclose(out.compute(), ndi.uniform_filter(volume, size=7), atol=1e-6)


def test_interior_with_a_lazy_scalar_and_a_new_axis():
    volume = np.random.default_rng(2).random((9, 20, 20))
    data = da.from_array(volume, chunks=(9, 7, 10))

    def shifted(block, origin, shape, start, offset):
        inner = tuple(slice(o, o + n) for o, n in zip(origin, shape, strict=True))
        smooth = ndi.uniform_filter(block, size=3, mode="nearest")[inner]
        return np.stack([smooth + offset, smooth - offset, smooth])

    offset = da.from_array(np.array(0.25), chunks=()).sum()
    out = map_spatial_interior(
        shifted, data, (1, 1, 1), np.float64, new_axis_size=3, scalars={"offset": offset}
    )
    smooth = ndi.uniform_filter(volume, size=3, mode="nearest")
    assert out.chunks == ((3,), (9,), (7, 7, 6), (10, 10))
    np.testing.assert_allclose(out.compute(), np.stack([smooth + 0.25, smooth - 0.25, smooth]))


def test_on_a_cluster_only_the_pieces_sent_between_workers_are_cut_apart():
    from distributed import Client, LocalCluster

    volume = np.random.default_rng(3).random((8, 40, 40))
    data = da.from_array(volume, chunks=(8, 10, 40))  # 4 bands of rows: 2 per worker
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        out = map_spatial_overlap(ndi.uniform_filter, data, (0, 2, 0), np.float64, size=5)
        cut_apart = [k for k in out.__dask_graph__() if str(k[0]).startswith("halo-")]
        # the one border between the workers' bands: a piece each way
        assert len(cut_apart) == 2
        np.testing.assert_allclose(out.compute(), ndi.uniform_filter(volume, size=5))
