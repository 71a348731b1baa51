"""Labels made by the outside of a scan: the per-block tables against whole-volume
references, the check for air, and the step's replay (stages of the chain)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import xarray as xr
import yaml
from dask.highlevelgraph import HighLevelGraph

import xarray_microct as mct
from xarray_microct.kernels.labels import label_parts
from xarray_microct.ops.outside_labels import (
    drop_outside_slabs,
    has_outside,
    slabs,
    thin_top,
    wall_thickness,
)
from xarray_microct.pipeline_file import pipeline_from_records


def _random_labels(seed: int, shape=(24, 30, 28), wide: bool = False):
    """Labels of random boxes (some numbered up to 10⁹: wider than any block), a map and
    a region by the outside."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int64)
    for k in range(1, 60):
        lo = rng.integers(0, np.array(shape) - 3)
        hi = lo + rng.integers(1, 9, 3)
        labels[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))] = k
    if wide:
        labels[labels % 7 == 3] += 10**9
    distance = rng.random(shape) * np.linspace(0.5, 9.0, shape[2])  # deeper along x
    near = np.zeros(shape, bool)
    near[:, :, :8] = True
    return labels, distance, near


@pytest.mark.parametrize("wide", [False, True])
def test_the_labels_dropped_are_those_of_the_whole_volume_for_any_chunking(wide):
    labels, distance, near = _random_labels(3, wide=wide)
    ids = np.unique(labels[labels > 0])
    counts = ndi.sum_labels(np.ones_like(labels), labels, ids)
    top = ndi.maximum(distance, labels, ids)
    touch = ndi.maximum(near, labels, ids) > 0
    thin = thin_top(counts, touch, 0.5, 2.0)  # the labels away from the outside: boxes
    gone = ids[slabs(counts, top, touch, 0.5, min_top=thin, max_ratio=1.5)]
    assert 0 < len(gone) < touch.sum()  # some of the labels by the outside, not all
    expected = np.where(np.isin(labels, gone), 0, labels)
    for chunks in [(24, 30, 28), (7, 11, 5), (13, 4, 28)]:
        out, count = drop_outside_slabs(
            da.from_array(labels, chunks=chunks),
            da.from_array(distance, chunks=9),
            da.from_array(near, chunks=chunks),
            (0.5, 1.0, 1.0),
            min_top=2.0,
            max_ratio=1.5,
        )
        np.testing.assert_array_equal(out.compute(), expected)
        assert int(count) == len(gone)


def _walled(wall: int, shape=(56, 40, 72), surface: int = 40):
    """Labels of a wall of ``wall`` voxels along ``x = 2`` (air beyond it), cut into cubes
    as round as beads (no slabs; numbered from 1), and of balls of radius 5 (from
    10 000) packed behind it in a liquid that ends at the slice ``surface`` (air above
    it between the balls, the top balls protruding from it); the mask's distance map,
    the voxels within 2 of the air, and the depth from the air."""
    labels = np.zeros(shape, np.int64)
    z, y, x = np.indices(shape)
    cubes = 1 + (z // wall) * 100 + y // wall
    labels[:, :, 2 : 2 + wall] = cubes[:, :, 2 : 2 + wall]
    k = 10_000
    for cz in range(surface + 1 - 33, surface + 2, 11):  # the top layer protruding
        for cy in range(5, shape[1], 11):
            for cx in range(8 + wall, shape[2] - 5, 11):
                labels[(z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= 25] = k
                k += 1
    air = (x < 2) | ((z >= surface) & (x >= 2 + wall) & (labels == 0))
    depth = ndi.distance_transform_edt(~air)
    near = ndi.binary_dilation(air, iterations=2)
    return labels, ndi.distance_transform_edt(labels > 0), near, depth


@pytest.mark.parametrize("wall", [6, 10])
def test_labels_within_a_wall_are_dropped_where_the_wall_is_for_any_chunking(wall):
    labels, distance, near, depth = _walled(wall)
    # the reference: the wall's cubes under the free surface go (those above it lie
    # between two airs: no inside in view), the balls stay, those protruding from the
    # surface too (one wall for all the air, measured ``wall``, would take them: they
    # lie within ``wall`` + 1 of the air)
    cubes = np.unique(labels[(labels > 0) & (labels < 10_000)])
    top = ndi.maximum(np.indices(labels.shape)[0], labels, cubes)
    low = cubes[top < 40 - wall]
    balls = np.unique(labels[labels >= 10_000])
    protruding = [b for b in balls if depth[labels == b].max() <= wall + 1]
    assert len(protruding) >= 4
    results = []
    for chunks in [labels.shape, (7, 11, 5), (20, 40, 9)]:
        out, count = drop_outside_slabs(
            *(da.from_array(a, chunks=chunks) for a in (labels, distance, near)),
            (1.0, 1.0, 1.0),
            max_ratio=1e9,  # no slabs
            depth=da.from_array(depth, chunks=chunks),
        )
        kept = np.unique(out.compute())
        assert not np.isin(low, kept).any() and np.isin(balls, kept).all()
        results.append((out.compute(), int(count)))
    for other, count in results[1:]:
        np.testing.assert_array_equal(other, results[0][0])
        assert count == results[0][1]


def test_the_wall_is_the_solid_run_from_the_air_before_an_inside_at_once():
    """Rows of depths 0 (the air), 1, 2...: the voxels and those in the mask."""
    voxels = np.full((5, 9), 10)
    in_mask = np.array(
        [
            [0, 10, 10, 10, 10, 2, 3, 6, 5],  # a wall of 4, then a pack: 4
            [0, 10, 10, 10, 9, 2, 3, 6, 5],  # its inner face blurred (one depth): 4
            [0, 10, 10, 10, 10, 9, 8, 7, 6],  # a dense skin, pores sparse under it: 0
            [0, 10, 10, 10, 10, 10, 10, 10, 10],  # a mask that fills all: 0
            [0, 5, 4, 6, 3, 4, 5, 6, 5],  # a free surface: 0
        ]
    )
    assert wall_thickness(voxels, in_mask).tolist() == [4, 4, 0, 0, 0]
    # a depth without voxels (voxels longer across the air than the step) breaks no run
    voxels[0, 2] = in_mask[0, 2] = 0
    assert wall_thickness(voxels[:1], in_mask[:1]).tolist() == [4]


def test_a_block_counts_only_its_own_labels():
    labels, distance, near = _random_labels(4, wide=True)
    ids, counts, top, touch = label_parts(labels, distance, near)
    present = np.unique(labels[labels > 0])
    np.testing.assert_array_equal(ids, present)  # a table of the labels present
    np.testing.assert_array_equal(counts, ndi.sum_labels(np.ones_like(labels), labels, present))
    np.testing.assert_allclose(top, ndi.maximum(distance, labels, present))
    np.testing.assert_array_equal(touch, ndi.maximum(near, labels, present) > 0)


def _pack(air: str, shape=(64, 96, 96), seed: int = 0) -> np.ndarray:
    """Two phases (100, 200) in grains of about 4 voxels, with air (0) about them."""
    rng = np.random.default_rng(seed)
    grains = ndi.zoom(rng.random(np.array(shape) // 4), 4, order=0) < 0.4
    scan = np.where(grains, 100.0, 200.0)
    _, y, x = np.indices(shape)
    if air == "above":
        scan[48:] = 0.0
    elif air == "tube":
        scan[np.hypot(y - 47.5, x - 47.5) > 46] = 0.0
    return ndi.gaussian_filter(scan, 1.0) + rng.normal(0, 5, shape)


@pytest.mark.parametrize("air", ["above", "tube", "none"])
def test_the_check_for_air_reads_two_diagonal_planes(air):
    scan = _pack(air)
    found = has_outside(scan, bright=True)
    assert found == (air != "none")
    assert has_outside(da.from_array(scan, chunks=(7, 20, 13)), bright=True) == found


def _chain(scan: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """A mask (a stage of the chain) and its labels with the rim by the air dropped."""
    mask = scan.microct.invert().microct.threshold(-150.0)
    labels = mask.microct.label()
    return mask, labels.microct.drop_outside_labels(scan, mask, min_radius=1.5)


def test_the_step_replays_with_the_stages_of_the_replays_own_chain(tmp_path):
    scan = mct.from_array(_pack("above"), chunks=24)
    _, out = _chain(scan)
    assert out.attrs["microct_provenance"][-1]["earlier"] == {"scan": 0, "distance": 2}
    assert int(out.outside_labels_dropped) > 0
    other = mct.from_array(_pack("tube", seed=1), chunks=24)
    expected = _chain(other)[1].values
    np.testing.assert_array_equal(mct.replay(out, other).values, expected)
    # through a pipeline file, as `microct run` replays an exported pipeline
    path = tmp_path / "steps.yaml"
    path.write_text(
        yaml.safe_dump(pipeline_from_records(out.attrs["microct_provenance"]).to_dict())
    )
    steps = yaml.safe_load(path.read_text())["steps"]
    assert steps[-1]["earlier"] == {"scan": 0, "distance": 2}
    np.testing.assert_array_equal(pipeline_from_records(steps).apply(other).values, expected)


def test_a_volume_not_of_the_chain_is_refused_on_replay():
    scan = mct.from_array(_pack("above"), chunks=24)
    mask, _ = _chain(scan)
    labels = mask.microct.label()
    elsewhere = mct.from_array(_pack("above", seed=2), chunks=24).microct.invert()
    out = labels.microct.drop_outside_labels(elsewhere, mask)
    assert "scan" not in out.attrs["microct_provenance"][-1]["earlier"]
    with pytest.raises(ValueError, match=r"scan is not a stage of the input.s chain"):
        mct.replay(out, scan)


def _docstring_chain():
    """The chain of the docstring: a mask made by hand from the scan (no records, as the
    scan has none), its labels, the drop given the scan and the mask."""
    z, y, x = np.indices((40, 32, 32))
    beads = (z % 8 - 3.5) ** 2 + (y % 8 - 3.5) ** 2 + (x % 8 - 3.5) ** 2 <= 9
    level = np.where(beads, 0.0, 1.0)
    level[24:] = -1.0
    noise = np.random.default_rng(0).normal(0, 0.05, level.shape)
    scan = mct.from_array(ndi.gaussian_filter(level, 1.0) + noise, chunks=16)
    mask = (scan < 0.5) & (scan > -0.4)
    return scan, mask, mask.microct.label()


def test_a_scan_beside_a_chain_made_by_hand_is_not_taken_for_its_input(tmp_path):
    scan, mask, labels = _docstring_chain()
    out = labels.microct.drop_outside_labels(scan, mask, min_radius=1.5)
    record = out.attrs["microct_provenance"][-1]
    # the mask is the chain's input (stage 0); the scan, with no records either, is not
    assert record["earlier"] == {"distance": 0}
    assert not record["replayable"]
    with pytest.raises(ValueError, match="scan is not a stage") as refused:
        mct.replay(out, mask)
    assert "distance" not in str(refused.value)  # only the parameter that failed
    with pytest.raises(ValueError, match="scan is not a stage"):
        pipeline_from_records(out.attrs["microct_provenance"])


def test_a_computed_stage_is_refused_with_why():
    scan = mct.from_array(_pack("above"), chunks=24)
    mask = scan.microct.invert().microct.threshold(-150.0)
    labels = mask.microct.label()
    out = labels.microct.drop_outside_labels(scan, mask.compute(), min_radius=1.5)
    assert out.attrs["microct_provenance"][-1]["earlier"] == {"scan": 0}
    with pytest.raises(ValueError, match=r"distance is not the lazy stage.*computed.*as its verb"):
        mct.replay(out, scan)
    # persisted, the stage keeps its graph's name: still the chain's
    out = labels.persist().microct.drop_outside_labels(scan, mask.persist(), min_radius=1.5)
    assert out.attrs["microct_provenance"][-1]["earlier"] == {"scan": 0, "distance": 2}


@pytest.mark.parametrize("chunks", [(4, 48, 48), (16, 16, 16), (128, 7, 7)])
def test_the_check_for_air_reads_a_bounded_number_of_chunks(chunks):
    """At most 8 slices' diagonals: with slabs of 4 slices, 8 of the 32 chunks, not all."""
    scan = _pack("above", shape=(128, 48, 48))
    read = set()

    def seen(block, block_info=None):
        read.add(tuple(block_info[0]["chunk-location"]))
        return block

    data = da.from_array(scan, chunks=chunks)
    counted = data.map_blocks(seen, dtype=scan.dtype)
    assert has_outside(counted, bright=True)
    # the chunks the two diagonals of a slice cross, on 8 slices at most
    ys, xs = (np.searchsorted(np.cumsum(c), np.arange(48), "right") for c in data.chunks[1:])
    crossed = len(set(zip(ys, xs, strict=True)) | set(zip(ys, xs[::-1], strict=True)))
    assert len(read) <= min(8, data.numblocks[0]) * crossed
    assert len(read) < data.npartitions


def test_labels_numbered_up_to_a_trillion_are_dropped_without_a_table_of_their_range():
    labels = np.zeros((8, 16, 16), np.int64)
    labels[:2] = 1  # a plate by the outside
    labels[2] = 10**12  # another, numbered 10¹²
    labels[3:8, 3:8, :5] = 2  # a cube by it
    distance = np.ones(labels.shape)
    distance[3:8, 3:8, :5] = 3.0
    near = np.zeros(labels.shape, bool)
    near[:, :, 0] = True
    out, count = drop_outside_slabs(
        da.from_array(labels, chunks=4),
        da.from_array(distance, chunks=4),
        da.from_array(near, chunks=4),
        (1, 1, 1),
    )
    np.testing.assert_array_equal(out.compute(), np.where(labels == 2, 2, 0))
    assert int(count) == 2


def test_labels_over_the_int64_range_are_refused_by_the_block_tables():
    labels = np.array([0, 3, 2**63 + 5, 3], np.uint64)
    with pytest.raises(ValueError, match="at most 2\\*\\*63 - 1"):
        label_parts(labels, np.ones(4), np.zeros(4, bool))
    # under it, a uint64 label is counted as any other
    labels[2] = 2**62 + 5
    ids, counts, _, _ = label_parts(labels, np.ones(4), np.zeros(4, bool))
    assert ids.tolist() == [3, 2**62 + 5] and counts.tolist() == [2, 1]


def test_on_a_pyramid_of_labels_the_step_takes_its_finest_level():
    scan = mct.from_array(_pack("above"), chunks=24)
    mask, expected = _chain(scan)
    tree = mask.microct.label().microct.pyramid(levels=2)
    out = tree.microct.drop_outside_labels(scan, mask, min_radius=1.5)
    np.testing.assert_array_equal(out.values, expected.values)
    assert int(out.outside_labels_dropped) == int(expected.outside_labels_dropped) > 0
    assert out.attrs["microct_provenance"][-1]["earlier"] == {"scan": 0, "distance": 2}
    np.testing.assert_array_equal(mct.replay(out, scan).values, expected.values)


@pytest.mark.parametrize("viewed", ["labels", "mask"])
def test_a_pyramid_made_of_a_stage_to_view_it_leaves_the_stage_known(viewed):
    """Level 0 of a pyramid shares its volume's data: making one to look at the labels
    (or the mask) must not make that volume unknown to the steps that follow."""
    scan = mct.from_array(_pack("above"), chunks=24)
    mask, expected = _chain(scan)
    labels = mask.microct.label()
    (labels if viewed == "labels" else mask).microct.pyramid(levels=2)
    out = labels.microct.drop_outside_labels(scan, mask, min_radius=1.5)
    assert out.attrs["microct_provenance"][-1]["earlier"] == {"scan": 0, "distance": 2}
    np.testing.assert_array_equal(mct.replay(out, scan).values, expected.values)


def test_a_sliced_stage_is_refused_naming_the_change():
    scan = mct.from_array(_pack("above"), chunks=24)
    mask = scan.microct.invert().microct.threshold(-150.0)
    labels = mask.microct.label()
    out = labels.microct.drop_outside_labels(scan, mask.isel(z=slice(None, None, -1)))
    with pytest.raises(ValueError, match=r"distance is not the lazy stage.*sliced"):
        mct.replay(out, scan)


def test_a_stage_given_as_the_finest_level_of_a_pyramid_replays():
    """The chain goes through a pyramid, and the map is given as its finest level: the
    step records the pyramid's step, whose replayed stage is a tree."""
    scan = mct.from_array(_pack("above"), chunks=24)
    mask = scan.microct.invert().microct.threshold(-150.0)
    tree = mask.microct.pyramid(levels=2)
    finest = tree["scale0"][next(iter(tree["scale0"].data_vars))]
    out = tree.microct.label().microct.drop_outside_labels(scan, finest, min_radius=1.5)
    assert out.attrs["microct_provenance"][-1]["earlier"] == {"scan": 0, "distance": 3}
    np.testing.assert_array_equal(mct.replay(out, scan).values, out.values)


def test_the_tables_add_a_few_tasks_per_block_to_the_graph():
    """The blocks' tables and the labels dropped add a task or two per block (and one to
    combine them) to the labels' graph, however deep the chain beneath: no copy of the
    chain per block for every later compute to cull."""
    labels, distance, near = _random_labels(5)
    chain = da.from_array(labels, chunks=(8, 10, 7))
    for _ in range(4):  # a chain whose blocks each read their neighbours
        chain = chain.map_overlap(lambda b: b, depth=1, boundary="none", dtype=chain.dtype)
    dist = da.from_array(distance, chunks=chain.chunks)
    close = da.from_array(near, chunks=chain.chunks)
    out, count = drop_outside_slabs(chain, dist, close, (1.0, 1.0, 1.0), min_top=2.0)

    def tasks(*arrays: da.Array) -> int:  # in all the layers of their graphs
        layers = HighLevelGraph.merge(*(a.dask for a in arrays)).layers
        return sum(len(layer) for layer in layers.values())

    added = tasks(out, count) - tasks(chain, dist, close)
    assert added <= 2 * chain.npartitions + 2
    expected, expected_count = drop_outside_slabs(
        da.from_array(labels, chunks=chain.chunks), dist, close, (1.0, 1.0, 1.0), min_top=2.0
    )
    np.testing.assert_array_equal(out.compute(), expected.compute())
    assert int(count) == int(expected_count)
