"""Root chunks hinted to the workers of a cluster in contiguous runs; values unchanged."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from dask.core import flatten

from xarray_microct.core.blocks.placement import cluster_threads, spread_over_workers


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
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
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


def test_the_otsu_pass_of_fiber_detection_bins_the_first_chunks_on_their_workers(tmp_path):
    # its threshold is computed before the detection: low-level fusion merged the hinted
    # bins with the histogram's tasks, dropping the hint (all four ran on one worker)
    distributed = pytest.importorskip("distributed")
    import xarray_microct as mct
    from xarray_microct.ops.fibers.detect import _global_mask, _z_levels
    from xarray_microct.ops.fibers.grid import working_grid

    scan = np.random.default_rng(0).integers(0, 4000, (4, 512, 512), dtype=np.uint16)
    mct.from_array(scan, spacing=0.65, chunks=(4, 256, 256)).rename("scan").microct.to_zarr(
        tmp_path / "scan.ome.zarr"
    )
    volume = mct.open_volume(tmp_path / "scan.ome.zarr")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        binned = working_grid(volume, 2, min_chunk=128)  # 2 × 2 chunks of 128² bins
        work = binned.copy(data=spread_over_workers(binned.data))
        hint = work.data.dask.layers[work.data.name].annotations["workers"]
        with distributed.get_task_stream() as stream:
            mask = _global_mask(_z_levels(work, 0.65, np.dtype("uint16")), eager=True)
        ran = {t["key"]: t["worker"] for t in stream.data if t["key"][0] == work.data.name}
        assert len(ran) == 4 and len(set(ran.values())) == 2
        assert all(ran[key] == hint(key)[0] for key in ran)
    with dask.config.set(scheduler="threads"):
        expected = _global_mask(_z_levels(binned, 0.65, np.dtype("uint16")), eager=True)
    np.testing.assert_array_equal(mask.values, expected.values)
