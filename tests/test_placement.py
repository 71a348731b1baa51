"""Root chunks hinted to the workers of a cluster in contiguous runs; values unchanged."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from dask.core import flatten, get_dependencies
from helpers import keys_received, two_workers
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xarray_microct.core.blocks.placement import (
    SUM_FAN_IN,
    BorderFirst,
    block_hint,
    cluster_threads,
    follow_blocks,
    spread_over_workers,
)


def _reads(shape=(4, 10, 12), chunks=(2, 5, 4)) -> da.Array:
    values = np.arange(np.prod(shape), dtype=np.int64).reshape(shape)
    return da.from_zarr(zarr.array(values, chunks=chunks))


def _hinted_workers(array: da.Array) -> np.ndarray:
    """The worker index each block is hinted to, on the block grid."""
    hint = array.dask.layers[array.name].annotations["workers"]
    keys = list(flatten(array.__dask_keys__()))  # block order
    names = sorted({w for k in keys for w in hint(k)})
    return np.array([names.index(hint(k)[0]) for k in keys]).reshape(array.numblocks)


def test_blocks_are_hinted_in_contiguous_runs_in_proportion_to_threads():
    reads = _reads()  # 2 × 2 × 3 = 12 blocks
    hinted = spread_over_workers(reads, {"tcp://a:1": 1, "tcp://b:1": 2, "tcp://c:1": 1})
    order = _hinted_workers(hinted).reshape(-1)
    assert order.tolist() == [0] * 3 + [1] * 6 + [2] * 3
    annotations = hinted.dask.layers[hinted.name].annotations
    assert annotations["allow_other_workers"] is True
    assert reads.dask.layers[reads.name].annotations is None  # the input is not changed
    np.testing.assert_array_equal(hinted.compute(), reads.compute())
    # an optimised computation (blockwise fusion of the reads with what follows) runs
    np.testing.assert_array_equal((hinted + 1).sum(axis=0).compute(), (reads + 1).sum(axis=0))


def test_each_worker_runs_its_blocks_from_the_border_between_the_runs_inwards():
    reads = _reads(shape=(2, 25, 12), chunks=(2, 5, 4))  # 1 × 5 × 3 = 15 blocks
    hinted = spread_over_workers(reads, {"tcp://a:1": 1, "tcp://b:1": 1, "tcp://c:1": 1})
    workers = _hinted_workers(hinted).reshape(-1)
    assert workers.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    first = hinted.dask.layers[hinted.name].annotations["priority"]
    priority = [first(k) for k in flatten(hinted.__dask_keys__())]  # block order
    # the runs' borders are between blocks 4 | 5 and 9 | 10: the blocks next to them
    # first, then one block farther away, and so on
    assert priority == [-4, -3, -2, -1, 0, 0, -1, -2, -1, 0, 0, -1, -2, -3, -4]
    assert isinstance(first, BorderFirst)


def test_only_root_chunks_are_hinted_and_nothing_without_a_cluster():
    reads = _reads()
    computed = reads + 1  # its chunks are placed where its inputs are
    assert spread_over_workers(computed, {"tcp://a:1": 1, "tcp://b:1": 1}) is computed
    assert spread_over_workers(reads, {"tcp://a:1": 1}) is reads  # one worker
    merged = reads.rechunk((4, 10, 6))  # a layer with the pieces of a rechunk too
    assert spread_over_workers(merged, {"tcp://a:1": 1, "tcp://b:1": 1}) is merged
    assert cluster_threads() == {}
    assert spread_over_workers(reads) is reads


def test_a_cluster_computes_the_hinted_blocks_on_their_workers():
    distributed = pytest.importorskip("distributed")
    with two_workers() as client:
        threads = cluster_threads()
        assert sorted(threads) == sorted(client.scheduler_info(n_workers=-1)["workers"])
        with dask.config.set(scheduler="threads"):
            assert cluster_threads() == {}  # another scheduler asked for: no hint
        hinted = spread_over_workers(_reads())
        blocks = client.persist(hinted, optimize_graph=False)  # as the fiber graph runs
        distributed.wait(blocks)
        where = client.who_has(blocks)
        placed = np.array(
            [list(threads).index(where[k][0]) for k in flatten(blocks.__dask_keys__())]
        )
        assert placed.tolist() == [0] * 6 + [1] * 6
        np.testing.assert_array_equal(blocks.compute(), _reads().compute())


@pytest.mark.parametrize("mask_of", ["global", "local mid-level"])
def test_the_otsu_pass_of_fiber_detection_bins_the_first_chunks_on_their_workers(tmp_path, mask_of):
    # its threshold is computed before the detection: low-level fusion merged the hinted
    # bins with the histogram's tasks, dropping the hint (all four ran on one worker)
    distributed = pytest.importorskip("distributed")
    import xarray_microct as mct
    from xarray_microct.ops.fibers.detect import _global_mask, _z_levels
    from xarray_microct.ops.fibers.grid import working_grid
    from xarray_microct.ops.fibers.mask import background_width, local_mid_mask

    def masked(levels):
        if mask_of == "global":
            return _global_mask(levels, eager=True)
        return local_mid_mask(levels, background_width(4.9), eager=True)

    scan = np.random.default_rng(0).integers(0, 4000, (4, 512, 512), dtype=np.uint16)
    mct.from_array(scan, spacing=0.65, chunks=(4, 256, 256)).rename("scan").microct.to_zarr(
        tmp_path / "scan.ome.zarr"
    )
    volume = mct.open_volume(tmp_path / "scan.ome.zarr")
    with two_workers():
        binned = working_grid(volume, 2, min_chunk=128)  # 2 × 2 chunks of 128² bins
        work = binned.copy(data=spread_over_workers(binned.data))
        hint = work.data.dask.layers[work.data.name].annotations["workers"]
        with distributed.get_task_stream() as stream:
            mask = masked(_z_levels(work, 0.65, np.dtype("uint16")))
        ran = {t["key"]: t["worker"] for t in stream.data if t["key"][0] == work.data.name}
        assert len(ran) == 4 and len(set(ran.values())) == 2
        assert all(ran[key] == hint(key)[0] for key in ran)
    with dask.config.set(scheduler="threads"):
        expected = masked(_z_levels(binned, 0.65, np.dtype("uint16")))
    np.testing.assert_array_equal(mask.values, expected.values)


def test_stages_on_the_root_grid_follow_its_hint_and_other_grids_do_not():
    reads = _reads()  # 2 × 2 × 3 blocks
    root = spread_over_workers(reads, {"tcp://a:1": 1, "tcp://b:1": 1})
    smoothed = da.map_overlap(lambda b: b * 2, root, depth=1, boundary="none")
    total = smoothed.sum(axis=0)  # a reduction: another grid
    followed = follow_blocks(total)
    hint = block_hint(root)
    expected = _hinted_workers(root)
    names = ["tcp://a:1", "tcp://b:1"]
    hinted_layers = 0
    for name, layer in followed.dask.layers.items():
        chunks = (layer.collection_annotations or {}).get("chunks")
        on_grid = chunks is not None and tuple(map(len, chunks)) == root.numblocks
        annotations = layer.annotations or {}
        if not on_grid:
            assert "workers" not in annotations, name
            continue
        hinted_layers += name != root.name
        assert annotations["allow_other_workers"] is True
        for key in layer:  # blocks, and the halo pieces cut from them (rounded indices)
            block = tuple(round(i) for i in key[1:])
            assert annotations["workers"](key) == [names[expected[block]]], key
            assert annotations["priority"](key) == BorderFirst(hint)((root.name, *block))
    assert hinted_layers >= 2  # the overlapped blocks and the filter (and the pieces)
    assert block_hint(follow_blocks(smoothed)) is hint
    np.testing.assert_array_equal(followed.compute(), (reads * 2).sum(axis=0).compute())
    unhinted = (reads * 2).sum(axis=0)
    assert follow_blocks(unhinted) is unhinted  # no hinted root: unchanged


def test_tiles_run_where_their_chunk_is_hinted_and_cut_foreign_halos_there():
    from xarray_microct.ops.fibers.slices import tile_tasks

    yy, xx = np.mgrid[:64, :64]
    plane = ((yy - 30) ** 2 + (xx - 33) ** 2 < 36) | ((yy - 8) ** 2 + (xx - 50) ** 2 < 30)
    values = np.stack([plane, np.roll(plane, 1, axis=1)] * 2)
    # 1 × 4 × 4 blocks: rows 0-1 hinted to one worker, 2-3 to the other
    mask = da.from_zarr(zarr.array(values, chunks=(4, 16, 16)))
    workers = {"tcp://a:1": 1, "tcp://b:1": 1}
    hinted = spread_over_workers(mask, workers)
    hint = block_hint(hinted)
    args = ((1, 1, 1), (4, 4), 2.0)
    plain = tile_tasks(mask, None, *args, halo=12, tile=16)
    tiles = tile_tasks(hinted, None, *args, halo=12, tile=16)
    graph = tiles[0][2].dask
    (layer,) = [graph.layers[k] for k in graph.layers if k.startswith("tile_centres")]
    tile_hint, tile_first = layer.annotations["workers"], layer.annotations["priority"]
    first = BorderFirst(hint)
    dependencies = graph.get_all_dependencies()
    cuts = 0
    for _, _, rows in tiles:
        iz, it = divmod(rows.key[1], 16)
        own = (hinted.name, iz, *divmod(it, 4))  # one 16² chunk a tile
        assert tile_hint(rows.key) == hint(own)
        assert tile_first(rows.key) == first(own)  # a tile goes in its chunk's turn
        for dep in dependencies[rows.key]:
            if dep[0] == hinted.name:  # whole chunks: those on the tile's worker only
                assert hint(dep) == hint(own)
            else:  # a halo cut from a chunk of the other worker, where that chunk is
                (chunk,) = dependencies[dep]
                assert tile_hint(dep) == hint(chunk) != hint(own)
                assert tile_first(dep) == first(chunk)
                cuts += 1
    assert cuts > 0
    found = dask.compute(*[rows for _, _, rows in tiles])
    reference = dask.compute(*[rows for _, _, rows in plain])
    assert sum(map(len, reference)) > 0
    for a, b in zip(found, reference, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_halo_piece_has_one_name_whatever_the_workers():
    # two plans over one store with other workers (a replaced worker, an adaptive
    # cluster) may live on one scheduler: a piece's name must say what it holds, or
    # a tile of one plan gets the other's piece (the earlier names counted pieces)
    from xarray_microct.ops.fibers.slices import tile_tasks

    values = np.zeros((4, 64, 64), bool)
    values[:, 20:30, 20:30] = True
    mask = da.from_zarr(zarr.array(values, chunks=(2, 16, 16)))
    pieces = {}
    for n in (3, 5):
        hinted = spread_over_workers(mask, {f"tcp://w{i}:1": 1 for i in range(n)})
        tiles = tile_tasks(hinted, None, (1, 1, 1), (4, 4), 2.0, halo=6, tile=16)
        graph = dict(tiles[0][2].dask)
        for key, task in graph.items():
            if isinstance(key, tuple) and str(key[0]).startswith("tile_halo"):
                pieces.setdefault(key, []).append(task)
    shared = [tasks for tasks in pieces.values() if len(tasks) == 2]
    assert shared  # both plans cut some of the same halos
    for first, second in shared:
        assert first[1:] == second[1:]  # the same chunk and the same cut


def _array_block(key) -> bool:
    """A whole block of a 3-D array: ``(name, i, j, k)`` with whole indices."""
    return isinstance(key, tuple) and len(key) == 4 and all(isinstance(i, int) for i in key[1:])


def test_fiber_detection_on_a_cluster_sends_halos_between_workers_not_chunks(tmp_path):
    # its stages drifted to the other worker for a third of the blocks, each sending a
    # whole chunk; the tiles at the parts' borders read their neighbours' whole chunks
    pytest.importorskip("distributed")
    import pandas as pd

    import xarray_microct as mct
    from xarray_microct.ops.fibers.detect import plan_detection
    from xarray_microct.synthetic import fiber_bed

    vol, _ = fiber_bed((12, 800, 800), seed=3, tilt=0)
    vol.rename("scan").microct.to_zarr(tmp_path / "bed.ome.zarr", chunks=(12, 200, 200))
    volume = mct.open_volume(tmp_path / "bed.ome.zarr")
    radius = (4.9, 4.9, 4.9)  # on the scan itself: 4 × 4 chunks, tiles of 2 × 2
    with dask.config.set(scheduler="threads"):
        expected, _ = plan_detection(volume, radius, eager=True).graph.compute()
    with two_workers(as_microct_run=True) as client:  # no work stealing
        plan = plan_detection(volume, radius, eager=True)  # the Otsu pass is done here
        with keys_received(client) as keys:
            table, _ = plan.graph.compute()
    assert keys  # the halos at the border of the workers' parts
    assert not [key for key in keys if _array_block(key)]
    assert len(expected) > 100
    pd.testing.assert_frame_equal(table, expected)


def test_the_bead_chain_runs_each_stage_of_a_block_where_the_block_is_read(tmp_path):
    # the bead chain was not hinted: its stages went to whichever worker was free, and
    # a block's halo'd stages pulled it (and its slabs) across
    distributed = pytest.importorskip("distributed")
    import xarray_microct as mct
    from xarray_microct.io.results import compute
    from xarray_microct.pipelines import beads
    from xarray_microct.synthetic import bead_pack

    scan, _ = bead_pack(48, radius=6, seed=3, chunks=24)
    scan.rename("scan").microct.to_zarr(tmp_path / "pack.ome.zarr", chunks=24)
    volume = mct.open_volume(tmp_path / "pack.ome.zarr")  # 2 × 2 × 2 blocks
    with dask.config.set(scheduler="threads"):
        expected = beads(volume).values
    with two_workers(as_microct_run=True) as client:
        labels = beads(volume)
        hint = block_hint(spread_over_workers(volume.data))
        on_grid = {  # the layers on the scan's block grid, and their hint
            name: (layer.annotations or {}).get("workers")
            for name, layer in labels.data.dask.layers.items()
            if tuple(map(len, (layer.collection_annotations or {}).get("chunks", ()))) == (2,) * 3
        }
        assert len(on_grid) > 10 and all(on_grid.values()), on_grid
        with distributed.get_task_stream(client) as stream:
            (computed,) = compute([labels.data], client, progress=False)  # as microct run
    ran = {task["key"]: task["worker"] for task in stream.data}
    followed = [key for key in ran if isinstance(key, tuple) and key[0] in on_grid]
    assert len(followed) > 80
    wrong = [(key, ran[key]) for key in followed if [ran[key]] != on_grid[key[0]](key)]
    assert not wrong, (len(wrong), len(followed), wrong[:20])  # each where it was hinted
    # hinted where its block is read, but for the distance maps' cuts, which stay with
    # their line of blocks (one line across the workers' parts: the other block moves)
    elsewhere = {key[0].split("-")[0] for key in followed if on_grid[key[0]](key) != hint(key)}
    assert elsewhere <= {"x_pass", "y_pass", "z_pass"}, elsewhere
    np.testing.assert_array_equal(computed, expected)


@given(
    shape=st.tuples(*(st.integers(2, 12),) * 3),
    chunks=st.tuples(*(st.integers(2, 6),) * 3),
    threads=st.lists(st.integers(1, 3), min_size=2, max_size=3),
)
@example(shape=(12, 12, 12), chunks=(2, 2, 2), threads=[1, 1])  # 108 blocks a worker
@settings(deadline=None, max_examples=25)
def test_a_histogram_on_a_hinted_grid_adds_each_workers_blocks_where_they_are(
    shape, chunks, threads
):
    # Dask's tree of sums added blocks of both workers: a uint16 block's counts (1 MiB)
    # crossed for half the blocks; now per worker a tree of sums of its own blocks (up
    # to 108 blocks a worker here: several levels), and one of the workers' sums
    from xarray_microct.core.stats import global_histogram

    values = np.random.default_rng(sum(shape)).integers(0, 2**16, shape, dtype=np.uint16)
    reads = da.from_zarr(zarr.array(values, chunks=chunks))
    workers = {f"tcp://w{i}:1": t for i, t in enumerate(threads)}
    root = spread_over_workers(reads, workers)
    counts, _ = global_histogram(root, padding=False)
    expected, _ = global_histogram(reads, padding=False)
    np.testing.assert_array_equal(counts.compute(), expected.compute())
    np.testing.assert_array_equal(expected.compute(), np.bincount(values.ravel(), minlength=2**16))
    hint = block_hint(root)
    graph = counts.__dask_graph__()
    (partial,) = [name for name in graph.layers if name.startswith("summed-by-worker")]
    layer = graph.layers[partial]
    placed = layer.annotations["workers"]
    for key, (_, parts) in dict(layer).items():
        # each sum adds at most SUM_FAN_IN parts, all on its own worker
        assert len(parts) <= SUM_FAN_IN
        where = {placed(k)[0] if k[0] == partial else hint(k[:-1])[0] for k in parts}
        assert where == set(placed(key))
    # one sum per worker is left for the last task
    (total,) = [name for name in graph.layers if name.startswith("summed-over-blocks")]
    last = get_dependencies(dict(graph), (total, 0))
    assert len(last) == len({hint(k)[0] for k in flatten(root.__dask_keys__())})
