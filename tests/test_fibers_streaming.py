"""The fiber pipeline streams: tiles, slabs, no whole slice, same table on any scheduler."""

from __future__ import annotations

import re
from collections import Counter

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.ndimage as ndi
from scipy.spatial import cKDTree

import xarray_microct as mct
from xarray_microct.cluster import ClusterOptions, dask_client
from xarray_microct.ops.fibers import assemble_fibers, join_fragments, link_centres
from xarray_microct.ops.fibers.detect import HALO_RADII, fiber_chain
from xarray_microct.ops.fibers.linking import chain_ends, link_slab, link_slices, stitch_slabs
from xarray_microct.ops.fibers.slices import _ellipse, local_maxima, slice_centres, tile_tasks
from xarray_microct.pipelines.fibers import fibers_graph
from xarray_microct.synthetic import fiber_bed

RADIUS_PX = 6.4 / 1.3


def _whole_slice_rows(mask: np.ndarray, score: np.ndarray, seed: tuple, min_r: float):
    rows = []
    for z, (plane, centre_map) in enumerate(zip(mask, score, strict=True)):
        found = slice_centres(plane, (1.3, 1.3), seed, min_r, score=centre_map)
        rows.append(np.column_stack([np.full(len(found), z, float), found]))
    rows = np.concatenate(rows)
    return rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]


@pytest.mark.parametrize(("chunks", "tile"), [((5, 23, 31), 16), ((12, 40, 17), 40)])
def test_tiles_give_the_regions_of_whole_slices_to_the_bit(chunks, tile):
    vol, _ = fiber_bed((12, 96, 96), seed=4, tilt=3.0)
    mask, score = fiber_chain(vol, "intensity", sigma=0.6 * 6.4, smooth=1.3, eager=True)
    mask, score = mask.values, score.values.astype(np.float32)
    seed = (0.75 * RADIUS_PX,) * 2
    reference = _whole_slice_rows(mask, score, seed, 3.2)
    assert len(reference) > 100
    tasks = tile_tasks(
        da.from_array(mask, chunks=chunks),
        da.from_array(score, chunks=chunks),
        (1.3, 1.3, 1.3),
        seed,
        3.2,
        halo=int(np.ceil(HALO_RADII * RADIUS_PX)),
        tile=tile,
    )
    assert len(tasks) > len(range(0, 12, chunks[0]))  # several tiles per slice
    tiled = np.concatenate(dask.compute(*[rows for _, _, rows in tasks]))
    tiled = tiled[np.lexsort((tiled[:, 2], tiled[:, 1], tiled[:, 0]))]
    np.testing.assert_array_equal(tiled, reference)


def test_slabs_stitched_at_their_borders_link_as_one_table():
    # three fibers through 150 slices, one missing on the slices around a slab border,
    # one ending at a border and another starting one slice later 0.3 away
    rng = np.random.default_rng(0)
    z = np.arange(150)
    fibers_yx = [(10.0, 10.0), (30.0, 10.0), (50.0, 50.0)]
    rows = []
    for fid, (y, x) in enumerate(fibers_yx):
        for k in z:
            if fid == 1 and k in (63, 64, 65):
                continue
            yk, xk = y + 0.01 * k + rng.normal(0, 0.05), x + rng.normal(0, 0.05)
            rows.append((k, yk, xk, 5.0))
    rows = np.array(rows)
    reference = link_centres(rows, link_distance=1.0, max_gap=3, min_slices=1)
    slabs = [
        link_slab([rows], z0, min(z0 + 64, 150), (1.0, 1.0), (0.0, 0.0), 1.0) for z0 in (0, 64, 128)
    ]
    ends = [chain_ends(r, c) for r, c in slabs]
    pairs = [stitch_slabs(ends[k], ends[k + 1], 64 * (k + 1), 1.0) for k in range(2)]
    table, coherence = assemble_fibers(
        [r for r, _ in slabs],
        [c for _, c in slabs],
        pairs,
        z.astype(float),
        (0, 99, 0, 99),
        1.0,
        1.0,
        3,
        3,
        3,
    )
    assert coherence == 1.0
    assert table["fiber_id"].nunique() == len(set(reference)) == 3
    # the slices where fiber 2 was missed are filled, on its axis
    assert table.groupby("fiber_id").size().tolist() == [150, 150, 150]
    filled = table[(table["fiber_id"] == 2) & table["z"].isin([63, 64, 65])]
    np.testing.assert_allclose(filled["y"], 30 + 0.01 * filled["z"], atol=0.1)
    np.testing.assert_allclose(filled["x"], 10, atol=0.1)


def _bed():
    return fiber_bed((70, 56, 56), seed=12, tilt=3.0, chunks=(70, 56, 56))[0]


@pytest.fixture(scope="module")
def reference_table() -> pd.DataFrame:
    with dask.config.set(scheduler="synchronous"):
        table = _bed().microct.detect_fibers()
    assert table["z"].max() > 64 * 1.3  # the bed spans two linking slabs
    assert table["fiber_id"].nunique() > 10
    return table


@pytest.mark.parametrize("chunks", [(70, 56, 56), (9, 13, 50), (33, 56, 7)])
def test_table_is_the_same_on_threads_for_odd_chunkings(reference_table, chunks):
    vol = _bed().chunk(dict(zip(("z", "y", "x"), chunks, strict=True)))
    with dask.config.set(scheduler="threads"):
        table = vol.microct.detect_fibers()
    pd.testing.assert_frame_equal(table, reference_table)


def test_graph_of_the_pipeline_estimates_the_radius_when_none(reference_table):
    # radius=None (as detect_fibers' default) estimates it; it used to raise TypeError
    table, _ = fibers_graph(_bed().chunk({"z": 9, "y": 28, "x": 56}), radius=None).compute(
        scheduler="threads"
    )
    pd.testing.assert_frame_equal(table, reference_table)


@pytest.mark.slow
def test_table_is_the_same_on_two_worker_processes(reference_table):
    options = ClusterOptions(workers=2, threads_per_worker=1, memory_limit="1GiB")
    with dask_client(options):
        table = _bed().chunk({"z": 11, "y": 20, "x": 29}).microct.detect_fibers()
    pd.testing.assert_frame_equal(table, reference_table)


def _is_chunk(key) -> bool:
    """A key of a block of a 3-D array: (name, iz, iy, ix)."""
    return isinstance(key, tuple) and len(key) == 4 and all(isinstance(i, int) for i in key[1:])


def test_graph_of_the_pipeline_on_2560_square_slices_streams():
    chunks = (64, 512, 512)
    volume = mct.from_array(
        da.zeros((128, 2560, 2560), dtype="uint16", chunks=chunks), spacing=0.65, units="um"
    )
    # building the graph reads bounded samples of the middle only (the look for dark
    # cores of large fibers with the radius given, and the radius estimate's sample that
    # checks that radius): a few chunks in all, never the volume
    read = []
    with dask.config.set(scheduler=_reading_a_sample_only(read)):
        graph = fibers_graph(volume, radius="6.4 um")
    assert read and sum(read) <= 2 * 3 * 3  # of the volume's 2 × 5 × 5 chunks
    layers = graph.dask.layers
    assert not [n for n in layers if re.search("rechunk|shuffle|p2p", n)]
    # every array in the graph is chunked in y and x (no whole slice), its largest chunk
    # about one input chunk: the fibers (9.8 pixels of radius) are found on 2 × 2 bins
    arrays = {
        name: layer.collection_annotations
        for name, layer in layers.items()
        if len((layer.collection_annotations or {}).get("chunksize") or ()) == 3
    }
    assert any(a["shape"] == (128, 1280, 1280) for a in arrays.values())  # the bins
    for name, annotation in arrays.items():
        nz, ny, nx = annotation["chunksize"]
        assert ny <= 320 or annotation["shape"][1] == 2560, name  # binned: 256 + halo
        assert ny <= 512 and nx <= 512 and nz <= 128, name
    largest = max(np.prod(a["chunksize"]) * np.dtype(a["dtype"]).itemsize for a in arrays.values())
    assert largest <= 40 * 2**20  # a z-chunk of 256² bins with the tubeness halo, float32
    # each per-slice task reads a tile of a few binned chunks, whatever the slice's area
    dsk = graph.dask.to_dict()
    dependencies = graph.dask.get_all_dependencies()

    def chunks_read(key) -> set:
        found = set()
        for dep in dependencies[key]:
            found |= {dep} if _is_chunk(dep) else chunks_read(dep)
        return found

    tiles = [k for k in dsk if isinstance(k, tuple) and str(k[0]).startswith("tile_centres")]
    assert len(tiles) == 2 * 25  # 2 z-chunks, 5 × 5 tiles a slice
    read = [chunks_read(k) for k in tiles]
    # mask and score: a 256² tile of bins and its halo, 3 × 3 chunks of the 5 × 5 a slice
    assert max(len(r) for r in read) == 2 * 9
    # ...cut inside the tile's own task: no task per piece (each costs a worker process
    # milliseconds), the tile's task depends on the chunks themselves
    assert all(dependencies[k] == r for k, r in zip(tiles, read, strict=True))


def _reading_a_sample_only(read: list):
    """A scheduler that computes only graphs of at most 18 blocks of any 3-D array (a
    bounded sample: one run of slices, a central tile), appending the most blocks of one
    array each graph holds to ``read``; anything larger fails."""

    def scheduler(dsk, keys, **kwargs):
        names = Counter(k[0] for k in dsk.__dask_graph__() if _is_chunk(k))
        blocks = max(names.values(), default=0)
        if blocks > 2 * 3 * 3:
            raise AssertionError(f"building the graph computed {blocks} blocks of an array")
        read.append(blocks)
        return dask.get(dsk, keys, **kwargs)

    return scheduler


def test_fragments_are_joined_in_order_of_their_interruption():
    # one fiber in three pieces: A ends, B starts at once but 4 µm off (beyond linking,
    # within joining), C starts after a long gap nearer A's end: A–B–C, not A–C and B
    a = np.column_stack([np.arange(10), np.full(10, 10.0), np.full(10, 10.0)])
    b = np.column_stack([np.arange(10, 20), np.full(10, 14.0), np.full(10, 10.0)])
    c = np.column_stack([np.arange(30, 40), np.full(10, 10.5), np.full(10, 10.0)])
    joined = join_fragments(np.concatenate([a, b, c]), np.repeat([1, 2, 3], 10), 6.0)
    assert set(joined) == {1}


def _true_fiber_of_rows(table: pd.DataFrame, centres: pd.DataFrame, radius: float):
    true = np.zeros(len(table), np.int64)
    for z, rows in table.groupby("z"):
        here = centres[np.isclose(centres["z"], z)]
        distance, index = cKDTree(here[["y", "x"]].to_numpy()).query(rows[["y", "x"]])
        near = distance < radius
        true[table.index.get_indexer(rows.index[near])] = here["fiber_id"].to_numpy()[index[near]]
    return true


def test_tall_bed_one_chain_per_fiber_and_side_cut_fibers_flagged():
    vol, truth = fiber_bed((160, 112, 112), seed=7, chunks=(40, 112, 112))
    table = vol.microct.detect_fibers()
    table["true"] = _true_fiber_of_rows(table, truth.centres, 6.4)
    chains = table.groupby("fiber_id")
    # no chain joins two true fibers (each along 5 slices or more)
    joined = chains["true"].agg(lambda t: int((t[t > 0].value_counts() >= 5).sum()))
    assert joined.max() == 1
    # fibers inside the volume: as many chains as true fibers
    inside = ~chains["touches_side"].first()
    true_inside = ~truth.fibers["touches_side"]
    assert true_inside.sum() > 20 and truth.fibers["touches_side"].sum() > 10
    assert abs(int(inside.sum()) - int(true_inside.sum())) <= 1
    major = chains["true"].agg(lambda t: t[t > 0].mode().iloc[0] if (t > 0).any() else 0)
    assert set(major[inside]) <= set(truth.fibers["fiber_id"][true_inside]) | {0}


def test_a_short_chain_along_a_longer_one_is_folded_into_it():
    # a fiber whose centre jumps 2.5 µm aside on slices 10–12 (beyond linking, within a
    # radius; the fiber's chain bridges the gap): that piece is the fiber, not a second
    # one; a neighbour 12 µm away stays apart
    z = np.arange(30)
    y = np.where((z >= 10) & (z < 13), 12.5, 10.0)
    fiber = np.column_stack([z, y, np.full(30, 10.0), np.full(30, 5.0)])
    neighbour = np.column_stack([z, np.full(30, 22.0), np.full(30, 10.0), np.full(30, 5.0)])
    rows = np.concatenate([fiber, neighbour])
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    chains = link_slices(rows, link_distance=2.0)
    assert len(set(chains)) == 4
    table, _ = assemble_fibers(
        [rows], [chains], [], z.astype(float), (0, 99, 0, 99), 2.0, 5.0, 3, 3, 3
    )
    assert table.groupby("fiber_id").size().tolist() == [30, 30]


@pytest.mark.parametrize("radius", [(7.4, 7.4), (3.0, 5.0), (1.0, 1.0), (4.4, 2.2)])
@pytest.mark.parametrize("plateaus", [False, True])
def test_local_maxima_equal_scipys_maximum_filter(radius, plateaus):
    rng = np.random.default_rng(len(radius) + int(10 * radius[0]))
    image = ndi.gaussian_filter(rng.random((90, 77)).astype(np.float32), 2)
    if plateaus:
        image = np.round(image * 20) / 20
    where = rng.random(image.shape) > 0.3
    footprint = _ellipse(radius)
    expected = (image == ndi.maximum_filter(image, footprint=footprint, mode="nearest")) & where
    assert expected.any()
    np.testing.assert_array_equal(local_maxima(image, footprint, where), expected)
