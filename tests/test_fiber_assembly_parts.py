"""The fiber assembly split into tasks (the fibers, their parts settled apart, the table)
gives the table of the assembly as one serial function, to the bit, whatever the parts,
the slabs and the scheduler."""

from __future__ import annotations

from itertools import pairwise

import dask
import numpy as np
import pandas as pd
import pytest
from helpers import two_workers
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fiber_linking import _messy_bed

from xarray_microct.kernels.chains import first_seen, group_order
from xarray_microct.ops.fiber_scale import tilt_factors
from xarray_microct.ops.fibers.assembly import (
    COHERENCE_MIN,
    assemble_fibers,
    empty_table,
    fiber_table,
    link_fibers,
    settle_fibers,
)
from xarray_microct.ops.fibers.linking import (
    chain_end_axes,
    chain_ends,
    cut_by_side,
    join_fragments,
    link_slab,
    merge_chains,
    merge_pieces,
    piece_pairs,
    run_to_faces,
    settle_by_fiber,
    side_joins,
    stitch_slabs,
    z_coherence,
)

# sides that cut the fibers of the bed's first and last rows and of its first column
SIDES = (27.0, 88.0, 33.0, 199.0)
LINK, JOIN = 2.5, 5.0


def _reference_assembly(slab_rows, slab_chains, border_pairs, z_values, sides):
    """The assembly as one serial function over every row, as it was before the split:
    the side flag of every row before joining, the fibers settled, numbered and
    flagged all together."""
    max_gap, min_slices, separation = 2, 3, 3
    counts = [int(c.max()) if c.size else 0 for c in slab_chains]
    offset = np.cumsum([0, *counts])
    pairs = [
        np.column_stack([p[:, 0] - 1 + offset[k], p[:, 1] - 1 + offset[k + 1]])
        for k, p in enumerate(border_pairs)
    ]
    root = merge_chains(int(offset[-1]), np.concatenate([np.zeros((0, 2), np.int64), *pairs]))
    rows = np.concatenate([np.zeros((0, 4)), *slab_rows])
    chain = np.concatenate(
        [np.zeros(0, np.int64), *(c - 1 + offset[k] for k, c in enumerate(slab_chains))]
    )
    chain = first_seen(root[chain.astype(np.int64)])
    rows, chain = merge_pieces(rows, chain)
    window = max(2, int(np.ceil(4 * JOIN / float(np.median(np.diff(z_values))))))
    cut = cut_by_side(rows, chain, sides, window)
    linked = join_fragments(rows, chain, LINK, max_gap + 1, window, cut, max_gap + 1)
    coherence = z_coherence(rows[:, 0].astype(np.int64), linked, separation)
    if not coherence >= COHERENCE_MIN:
        return empty_table()
    kept = np.bincount(linked)[linked] >= min_slices
    rows, chain, cut = rows[kept], chain[kept], cut[kept]
    fiber = join_fragments(rows, chain, JOIN, None, window, cut, max_gap + 1)
    # the fibers joined across the side touch it
    ends, index = chain_end_axes(rows, chain, window, cut)
    side = side_joins(rows, index, ends, JOIN, max_gap + 1).astype(np.int64)
    of_chain = np.zeros(len(ends.ids), np.int64)
    of_chain[index] = fiber
    crossing = of_chain[side[:, 0]][of_chain[side[:, 0]] == of_chain[side[:, 1]]]
    long_enough = np.bincount(fiber)[fiber] >= min_slices
    rows, fiber = rows[long_enough], fiber[long_enough]
    rows, fiber_ids, starts, detected = settle_by_fiber(rows, fiber, window, LINK)
    rows, starts, detected = run_to_faces(
        rows, starts, detected, len(z_values), max_gap, window, sides
    )
    count = len(starts) - 1
    number = np.empty(count, np.int64)
    number[np.lexsort((rows[starts[:-1], 1], rows[starts[:-1], 0]))] = np.arange(1, count + 1)
    ids = np.repeat(number, np.diff(starts))
    order, _ = group_order(ids, count + 1)
    rows, ids, detected = rows[order], ids[order], detected[order]
    flag = np.zeros(count + 1, bool)
    np.logical_or.at(flag, ids, cut_by_side(rows, ids, sides, window))
    flag[number[np.isin(fiber_ids, crossing)]] = True
    z = np.asarray(z_values, np.float64)[rows[:, 0].astype(np.int64)]
    return pd.DataFrame(
        {
            "fiber_id": ids,
            "z": z,
            "y": rows[:, 1],
            "x": rows[:, 2],
            "radius": rows[:, 3] * tilt_factors(ids, z, rows[:, 1], rows[:, 2]),
            "detected": detected,
            "touches_side": flag[ids],
        }
    )


def _slabs(rows, slab):
    """The slab tasks of the link stage: rows and chains, ends, piece pairs, borders."""
    nz = int(rows[:, 0].max()) + 1
    starts = list(range(0, nz, slab))
    linked = [
        link_slab([rows], z0, min(z0 + slab, nz), (1.0, 1.0), (0.0, 0.0), LINK) for z0 in starts
    ]
    ends = [chain_ends(r, c) for r, c in linked]
    borders = [
        stitch_slabs(ends[k], ends[k + 1], starts[k + 1], LINK) for k in range(len(starts) - 1)
    ]
    near = [piece_pairs(r) for r, _ in linked]
    return [r for r, _ in linked], [c for _, c in linked], borders, near


def _parts_table(slab_rows, slab_chains, borders, near, z_values, groups):
    parts, _ = link_fibers(
        slab_rows, slab_chains, borders, z_values, SIDES, LINK, JOIN, 2, 3, 3, near, groups
    )
    assert len(parts) == groups
    return fiber_table(
        [settle_fibers(r, f, z_values, SIDES, LINK, JOIN, c, 2) for r, f, c in parts]
    )


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    slab=st.sampled_from([9, 40, 64, 150]),
    groups=st.integers(1, 7),
    z_step=st.sampled_from([1.0, 0.7]),
)
def test_the_parts_give_the_serial_assembly_to_the_bit(seed, slab, groups, z_step):
    rows, _ = _messy_bed(seed)
    z_values = z_step * np.arange(int(rows[:, 0].max()) + 1)
    slab_rows, slab_chains, borders, near = _slabs(rows, slab)
    expected = _reference_assembly(slab_rows, slab_chains, borders, z_values, SIDES)
    assert len(expected) > 1000 and expected["touches_side"].any()
    assert not expected["touches_side"].all()
    table = _parts_table(slab_rows, slab_chains, borders, near, z_values, groups)
    pd.testing.assert_frame_equal(table, expected, check_exact=True)
    whole, _ = assemble_fibers(
        slab_rows, slab_chains, borders, z_values, SIDES, LINK, JOIN, 2, 3, 3, near
    )
    pd.testing.assert_frame_equal(whole, expected, check_exact=True)


def test_parts_hold_runs_of_fiber_ids_with_about_as_many_rows():
    rows, _ = _messy_bed(2)
    slab_rows, slab_chains, borders, near = _slabs(rows, 64)
    z_values = np.arange(int(rows[:, 0].max()) + 1.0)
    parts, _ = link_fibers(
        slab_rows, slab_chains, borders, z_values, SIDES, LINK, JOIN, 2, 3, 3, near, 3
    )
    ids = [np.unique(f) for _, f, _ in parts]
    assert all(a.max() < b.min() for a, b in pairwise(ids))
    sizes = np.array([len(f) for _, f, _ in parts])
    assert sizes.min() > 0.5 * sizes.mean()  # fibers of ~150 rows: near-equal shares
    for part_rows, _, _ in parts:  # each part in slice order, as the slabs' rows
        assert np.all(np.diff(part_rows[:, 0]) >= 0)


def test_no_fibers_give_the_empty_table_from_any_number_of_parts():
    noise = np.random.default_rng(0).uniform(0, 100, (3000, 4))
    noise[:, 0] = np.floor(noise[:, 0] / 5)  # 20 slices of scattered centres
    noise[:, 3] = 2.0
    noise = noise[np.lexsort((noise[:, 2], noise[:, 1], noise[:, 0]))]
    slab_rows, slab_chains, borders, near = _slabs(noise, 8)
    z_values = np.arange(20.0)
    for groups in (1, 3):
        parts, coherence = link_fibers(
            slab_rows, slab_chains, borders, z_values, SIDES, LINK, JOIN, 2, 3, 3, near, groups
        )
        assert coherence < COHERENCE_MIN and all(len(r) == 0 for r, _, _ in parts)
        table = _parts_table(slab_rows, slab_chains, borders, near, z_values, groups)
        pd.testing.assert_frame_equal(table, empty_table())


def test_side_flag_at_chain_ends_is_the_full_flag_there():
    rows, _ = _messy_bed(4)
    chain = link_slab([rows], 0, 150, (1.0, 1.0), (0.0, 0.0), LINK)[1]
    rows = link_slab([rows], 0, 150, (1.0, 1.0), (0.0, 0.0), LINK)[0]
    full = cut_by_side(rows, chain, SIDES, 20)
    ends = cut_by_side(rows, chain, SIDES, 20, ends_only=True)
    first = np.unique(chain, return_index=True)[1]
    last = len(chain) - 1 - np.unique(chain[::-1], return_index=True)[1]
    at_ends = np.zeros(len(rows), bool)
    at_ends[first] = at_ends[last] = True
    assert full[at_ends].any() and full[~at_ends].any()
    np.testing.assert_array_equal(ends[at_ends], full[at_ends])
    assert not ends[~at_ends].any()


def test_a_cluster_settles_the_parts_on_both_workers_and_gives_the_threads_table():
    distributed = pytest.importorskip("distributed")
    from xarray_microct.ops.fibers.detect import plan_detection
    from xarray_microct.synthetic import fiber_bed

    vol, _ = fiber_bed((24, 160, 160), seed=1, tilt=5)
    radius = (4.9, 4.9, 4.9)
    with dask.config.set(scheduler="threads"):
        expected, coherence = plan_detection(vol.chunk(48), radius, eager=True).graph.compute()
    with two_workers(as_microct_run=True) as client:  # no work stealing
        graph = plan_detection(vol.chunk(48), radius, eager=True).graph
        settled = [k for k in graph.__dask_keys__() if k[1] == "settled"]
        assert len(settled) == 2  # one part per worker
        persisted = graph.persist()
        settled = [k for k in persisted.__dask_keys__() if k[1] == "settled"]
        futures = list(persisted.dask.values())
        distributed.wait(futures)
        where = client.who_has(futures)
        assert len({where[k][0] for k in settled}) == 2
        table, again = persisted.compute()
    assert len(expected) > 500 and again == coherence
    pd.testing.assert_frame_equal(table, expected, check_exact=True)


def test_a_persisted_or_optimised_graph_is_still_a_delayed_of_the_table():
    from xarray_microct.pipelines.fibers import fibers_graph
    from xarray_microct.synthetic import fiber_bed

    volume, _ = fiber_bed((16, 64, 64), seed=3)
    graph = fibers_graph(volume.chunk({"z": 5}))
    table, coherence = graph.compute(scheduler="sync")
    persisted = graph.persist(scheduler="sync")
    (optimised,) = dask.optimize(graph)
    for kept in (persisted, optimised):
        wrapped_table, wrapped_coherence = dask.delayed(tuple)(kept).compute(scheduler="sync")
        pd.testing.assert_frame_equal(wrapped_table, table)
        assert kept[1].compute(scheduler="sync") == wrapped_coherence == coherence


@pytest.mark.parametrize("groups", [0, -1, 1.5, True])
def test_parts_are_a_whole_number_at_least_one(groups):
    rows = [np.array([[0, 9.0, 9.0, 5.0], [1, 9.0, 9.0, 5.0]])]
    with pytest.raises(ValueError, match="groups is a whole number"):
        link_fibers(
            rows, [np.array([1, 1])], [], np.arange(2.0), SIDES, LINK, JOIN, 2, 1, 1, None, groups
        )
