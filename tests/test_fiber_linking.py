"""Linking per-slice centres into fibers: one chain per fiber, whatever the slabs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from xarray_microct.ops.fibers import assemble_fibers, join_fragments
from xarray_microct.ops.fibers.linking import (
    PIECES_OVERLAP,
    chain_end_axes,
    chain_ends,
    join_ends,
    link_slab,
    link_slices,
    merge_chains,
    merge_pieces,
    piece_pairs,
    stitch_slabs,
)
from xarray_microct.synthetic import fiber_bed

SIDES = (0.0, 199.0, 0.0, 199.0)


def _disk_rows(z, y, x, r):
    return np.column_stack([z, y, x, np.full(len(z), r)]).astype(float)


def _messy_bed(seed: int, nz: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice rows of 36 tilted fibers (radius 5, touching neighbours 10 apart):
    dropouts, fibers found as two halves for a stretch, a few stray centres.

    Returns the rows (sorted by slice, y, x) and the true fiber of each (0: stray).
    """
    rng = np.random.default_rng(seed)
    z = np.arange(nz)
    rows, truth = [], []
    for k, (y0, x0) in enumerate(np.mgrid[30:90:10, 30:90:10].reshape(2, -1).T):
        slope = np.array([0.05, 0.03]) + rng.normal(0, 0.002, 2)
        y = y0 + slope[0] * z + rng.normal(0, 0.1, nz)
        x = x0 + slope[1] * z + rng.normal(0, 0.1, nz)
        seen = rng.random(nz) > 0.05
        if k % 4 == 0:  # lost for a long stretch
            start = rng.integers(10, nz - 40)
            seen[start : start + 30] = False
        split = np.zeros(nz, bool)
        if k % 3 == 0:  # two halves of the disk for a stretch
            start = rng.integers(0, nz - 30)
            split[start : start + rng.integers(3, 30)] = True
        whole = seen & ~split
        rows.append(_disk_rows(z[whole], y[whole], x[whole], 5.0))
        angle = rng.uniform(0, np.pi)
        offset = 2.1 * np.array([np.cos(angle), np.sin(angle)])  # 0.42 R, halves' centroids
        for sign in (1, -1):
            rows.append(
                _disk_rows(z[split], y[split] + sign * offset[0], x[split] + sign * offset[1], 3.54)
            )
        truth += [k + 1] * int(whole.sum() + 2 * split.sum())
    # stray centres in the gaps between four fibers (7.1 from each)
    k = rng.integers(0, nz, 20)
    cell = 35 + 10 * rng.integers(0, 5, (20, 2)) + np.array([0.05, 0.03]) * k[:, None]
    rows.append(np.column_stack([k, cell, np.full(20, 2.5)]))
    truth += [0] * 20
    rows = np.concatenate(rows)
    order = np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))
    return rows[order], np.asarray(truth)[order]


def _link_by_slabs(rows: np.ndarray, nz: int, slab: int, by_slab: bool = True) -> pd.DataFrame:
    """The pipeline's linking: slab by slab, stitched at the borders, assembled (with the
    pairs of centres that may be pieces of one fiber found slab by slab, or, not
    ``by_slab``, by the assembly)."""
    starts = list(range(0, nz, slab))
    slabs = [
        link_slab([rows], z0, min(z0 + slab, nz), (1.0, 1.0), (0.0, 0.0), 2.5) for z0 in starts
    ]
    ends = [chain_ends(r, c) for r, c in slabs]
    pairs = [stitch_slabs(ends[k], ends[k + 1], starts[k + 1], 2.5) for k in range(len(starts) - 1)]
    near = [piece_pairs(r) for r, _ in slabs] if by_slab else None
    table, _ = assemble_fibers(
        [r for r, _ in slabs],
        [c for _, c in slabs],
        pairs,
        np.arange(nz, dtype=float),
        SIDES,
        2.5,
        5.0,
        3,
        3,
        3,
        slab_piece_pairs=near,
    )
    return table


@pytest.fixture(scope="module")
def messy():
    rows, truth = _messy_bed(seed=3)
    return rows, truth, _link_by_slabs(rows, 150, 150, by_slab=False)


@settings(max_examples=12, deadline=None)
@given(slab=st.integers(2, 149))
def test_the_table_does_not_depend_on_the_slab_size(messy, slab):
    rows, _, whole = messy
    pd.testing.assert_frame_equal(_link_by_slabs(rows, 150, slab), whole)


def test_piece_pairs_of_slabs_are_those_of_the_whole_volume(messy):
    rows = messy[0]
    whole = piece_pairs(rows)
    assert len(whole) > 100  # the halves of split disks, strays near fibers
    # the candidates merge_pieces weighs: centres of one slice within reach
    i, j = whole.T
    assert (rows[i, 0] == rows[j, 0]).all() and (i < j).all()
    reach = 2 * PIECES_OVERLAP * rows[:, 3].max()
    assert (np.hypot(*(rows[i, 1:3] - rows[j, 1:3]).T) <= reach).all()
    for z0 in (0, 37, 75, 149):  # the rows of slices z0.. and ..z0 on their own
        below = rows[:, 0] < z0
        parts = [piece_pairs(rows[below]), piece_pairs(rows[~below]) + below.sum()]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert piece_pairs(np.zeros((0, 4))).shape == (0, 2)


def test_slabs_stitched_give_the_chains_of_the_whole_volume():
    rows, _ = _messy_bed(seed=5, nz=90)
    reference = link_slices(rows, 2.5)
    slabs = [link_slab([rows], z0, z0 + 30, (1.0, 1.0), (0.0, 0.0), 2.5) for z0 in (0, 30, 60)]
    ends = [chain_ends(r, c) for r, c in slabs]
    pairs = [stitch_slabs(ends[k], ends[k + 1], 30 * (k + 1), 2.5) for k in range(2)]
    # the same partition of the rows into chains
    offset = np.cumsum([0] + [int(c.max()) for _, c in slabs])
    pieces = np.concatenate([c - 1 + offset[k] for k, (_, c) in enumerate(slabs)])
    glued = [p - 1 + offset[k : k + 2] for k, p in enumerate(pairs)]
    pieces = merge_chains(int(offset[-1]), np.concatenate(glued))[pieces]
    assert len(set(zip(pieces.tolist(), reference.tolist(), strict=True))) == len(set(reference))
    assert len(set(pieces)) == len(set(reference))


def test_a_messy_bed_gives_one_fiber_per_true_fiber(messy):
    rows, truth, table = messy
    # each table row back to its true fiber: the nearest true axis (the line fitted to
    # the fiber's rows) on its slice; the table also has rows where a fiber was missed
    axes = [np.polyfit(rows[truth == k, 0], rows[truth == k, 1:3], 1) for k in range(1, 37)]
    z = table["z"].to_numpy()
    at = np.stack([np.outer(z, a[0]) + a[1] for a in axes])  # (fiber, row, yx)
    distance = np.hypot(*(at - table[["y", "x"]].to_numpy()).transpose(2, 0, 1))
    found = distance.argmin(axis=0) + 1
    assert distance.min(axis=0).max() < 1.0  # every row on a true fiber's axis
    per_fiber = pd.Series(found).groupby(table["fiber_id"].to_numpy()).agg(set)
    assert per_fiber.map(len).max() == 1  # no fiber joins two true fibers
    fibers = per_fiber.map(min)
    assert sorted(fibers[fibers > 0]) == list(range(1, 37))  # and none is split
    # the halves of a split disk are one centre again, on the true axis
    centre = table.groupby("fiber_id")[["y", "x"]].transform("mean")
    assert (table["radius"] > 4.9).all()
    assert np.hypot(*(table[["y", "x"]] - centre).to_numpy().T).max() < 0.05 * 150 + 1


def test_pieces_merge_but_touching_fibers_never_do():
    z = np.arange(20)
    # fiber A (radius 5) found as two halves on slices 5–14; fiber B touches it
    a = np.where((z >= 5) & (z < 15))[0]
    halves = [
        _disk_rows(z[a], np.full(a.size, 10 + s * 2.1), np.full(a.size, 10.0), 3.54)
        for s in (1, -1)
    ]
    whole_a = _disk_rows(np.delete(z, a), np.full(10, 10.0), np.full(10, 10.0), 5.0)
    b = _disk_rows(z, np.full(20, 20.0), np.full(20, 10.0), 5.0)
    # a stray piece between B and a third fiber C that touches B: it joins neither
    c = _disk_rows(z, np.full(20, 20.0), np.full(20, 20.0), 5.0)
    stray = _disk_rows(np.arange(8, 11), np.full(3, 20.0), np.full(3, 15.0), 3.0)
    rows = np.concatenate([whole_a, *halves, b, c, stray])
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    merged, track = merge_pieces(rows, link_slices(rows, 2.5))
    assert len(merged) == 60  # one centre per fiber per slice
    # A: its halves combined into one centre, on its axis, with the area of the disk
    at_a = np.abs(merged[:, 1] - 10) < 1
    assert at_a.sum() == 20 and len(set(track[at_a])) == 1
    assert np.allclose(merged[at_a, 1:3], [10.0, 10.0])
    assert np.allclose(merged[at_a, 3], 5.0, rtol=0.01)
    # B and C stay whole and apart; the stray piece goes to one of them
    at_b = (np.abs(merged[:, 1] - 20) < 1) & (merged[:, 2] < 15)
    at_c = (np.abs(merged[:, 1] - 20) < 1) & (merged[:, 2] > 15)
    assert at_b.sum() == at_c.sum() == 20
    assert len(set(track[at_b])) == len(set(track[at_c])) == 1
    assert track[at_b][0] != track[at_c][0]
    assert (merged[at_b | at_c, 3] > 5).sum() == 3


def test_fragments_are_joined_along_their_own_direction():
    # a fiber tilted 0.3 per slice lost for 20 slices: its ends are 6.3 apart in-plane,
    # beyond the joining distance, but its axis leads from one to the other; a
    # neighbour that starts near where the lost fiber ended is not it
    z = np.arange(80)
    tilted = np.column_stack([z, 10 + 0.3 * z, np.full(80, 10.0)])
    lost = (z >= 30) & (z < 51)
    neighbour = np.column_stack([z[50:], np.full(30, 19.0), np.full(30, 10.0)])
    rows = np.concatenate([tilted[~lost], neighbour])
    track = np.concatenate([np.where(z[~lost] < 30, 1, 2), np.full(30, 3)])
    joined = join_fragments(rows, track, join_distance=2.0, window=10)
    assert joined.tolist() == [1] * int((~lost).sum()) + [3] * 30


def test_fibers_leaving_and_entering_through_the_side_are_not_joined():
    # fiber A leaves through the side at slice 40, fiber B enters there at slice 44
    z = np.arange(80)
    a = _disk_rows(z[:40], 6.0 - 0.1 * z[:40], np.full(40, 50.0), 5.0)
    b = _disk_rows(z[44:], 2.0 + 0.1 * (z[44:] - 44), np.full(36, 50.0), 5.0)
    inside = _disk_rows(z, np.full(80, 100.0), np.full(80, 100.0), 5.0)
    rows = np.concatenate([a, b, inside])
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    chains = link_slices(rows, 2.5)
    table, _ = assemble_fibers([rows], [chains], [], z.astype(float), SIDES, 2.5, 5.0, 3, 3, 3)
    fibers = table.groupby("fiber_id")["touches_side"].first()
    assert fibers.tolist() == [True, False, True]


def test_fibers_stopping_short_of_the_volume_faces_run_on_to_them():
    # three straight fibers over 30 slices, max_gap 3: A seen on slices 3-26 (3 short of
    # either face), B on 7-29 (7 short of the first), C on 2-29, its axis leaving the
    # field (y < 0) before slice 0
    z = np.arange(30.0)
    lines = {
        "A": (50.0 + 0.3 * z, 60.0 + 0.2 * z),
        "B": (100.0 - 0.2 * z, 140.0 + 0.1 * z),
        "C": (0.5 * z - 0.3, 120.0 + 0.0 * z),
    }
    seen = {"A": (3, 27), "B": (7, 30), "C": (2, 30)}
    rows = np.concatenate(
        [_disk_rows(z[a:b], lines[k][0][a:b], lines[k][1][a:b], 4.0) for k, (a, b) in seen.items()]
    )
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    chains = link_slices(rows, 2.5)
    table, _ = assemble_fibers([rows], [chains], [], z, SIDES, 2.5, 5.0, 3, 3, 3)
    expected = {"A": (0, 30), "B": (7, 30), "C": (1, 30)}  # C's slice 0 is outside
    for key, (a, b) in expected.items():
        near = (
            np.hypot(
                table["y"] - lines[key][0][table["z"].astype(int)],
                table["x"] - lines[key][1][table["z"].astype(int)],
            )
            < 1e-9
        )
        fiber = table[near]
        assert fiber["fiber_id"].nunique() == 1
        assert fiber["z"].tolist() == z[a:b].tolist()
        added = ~fiber["z"].between(*[seen[key][0], seen[key][1] - 1])
        assert (fiber["detected"] == ~added).all()
        np.testing.assert_allclose(fiber["radius"], fiber["radius"].iloc[-1])
    assert len(table) == 30 + 23 + 29
    # max_gap 0: each fiber on its seen slices only
    table, _ = assemble_fibers([rows], [chains], [], z, SIDES, 2.5, 5.0, 0, 3, 3)
    assert len(table) == len(rows)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="seed 21's bed is redrawn (every tilted fiber_bed, the default 2° too, since "
    "2026-12-02): a stray 7-slice chain on side-cut fiber 38 (5 of its rows on the fiber, "
    "which chain 34 follows), flagged inside; a known linking weakness at the sides (1 of "
    "seeds 18-25 on the old beds, 3 on the new)",
)
def test_tall_phantom_with_small_fibers_one_chain_per_fiber():
    # 320 slices of fibers 3.5 voxels in radius: the chains of the whole height
    vol, truth = fiber_bed((320, 64, 64), radius=4.55, radius_sd=0.64, seed=21, chunks=(64, 64, 64))
    table = vol.microct.detect_fibers(radius="4.55 um")
    _check_one_chain_per_fiber(table, truth, vol.shape, 1.3)


def _check_one_chain_per_fiber(table, truth, shape, spacing):
    centres = truth.centres
    true = np.zeros(len(table), np.int64)
    for z, index in table.groupby("z").indices.items():
        here = centres[np.isclose(centres["z"], z)]
        distance, near = cKDTree(here[["y", "x"]].to_numpy()).query(
            table[["y", "x"]].to_numpy()[index]
        )
        hit = distance < here["radius"].to_numpy()[near]
        true[index[hit]] = here["fiber_id"].to_numpy()[near[hit]]
    table = table.assign(true=true)
    chains = table.groupby("fiber_id")
    followed = chains["true"].agg(lambda t: int((t[t > 0].value_counts() >= 5).sum()))
    assert followed.max() == 1  # no chain joins two true fibers
    inside = ~chains["touches_side"].first()
    major = chains["true"].agg(lambda t: t[t > 0].mode().iloc[0] if (t > 0).any() else 0)
    true_inside = set(truth.fibers["fiber_id"][~truth.fibers["touches_side"]])
    # every fiber inside is one chain inside, and a chain inside follows a fiber inside,
    # but for fibers that graze the side within half a voxel (where the flag rests on
    # the radius measured in the mask)
    assert major[inside].value_counts().max() == 1
    assert 0 not in set(major[inside])
    top = (np.asarray(shape[1:]) - 1) * spacing
    to_side = np.minimum.reduce(
        [centres["y"], top[0] - centres["y"], centres["x"], top[1] - centres["x"]]
    )
    margin = (to_side - centres["radius"]).groupby(centres["fiber_id"]).min()
    grazing = set(margin.index[margin.abs() < spacing / 2])
    assert set(major[inside]) ^ true_inside <= grazing


def _join_ends_by_python_sort(chains, join_distance):
    """The rule of ``join_ends`` written out: every (end, start) pair within reach of the
    axes, taken by (skip, gap, end, start), each end and start once (brute force)."""
    m = len(chains.ids)
    known = np.concatenate([chains.start_slope, chains.end_slope])
    known = known[~np.isnan(known[:, 0])]
    bed = np.median(known, axis=0) if len(known) else np.zeros(2)
    start_slope = np.where(np.isnan(chains.start_slope), bed, chains.start_slope)
    end_slope = np.where(np.isnan(chains.end_slope), bed, chains.end_slope)
    candidates = []
    for end in range(m):
        for start in range(m):
            skip = chains.first[start] - chains.last[end]
            if skip <= 0:
                continue
            middle = 0.5 * (chains.first[start] + chains.last[end])
            forward = chains.end_at[end] + end_slope[end] * (middle - chains.last[end])
            backward = chains.start_at[start] + start_slope[start] * (middle - chains.first[start])
            gap = float(np.hypot(*(forward - backward)))
            if gap <= join_distance:
                candidates.append((skip, gap, end, start))
    predecessor = np.arange(m)
    ended, started = set(), set()
    for _, _, end, start in sorted(candidates):
        if end not in ended and start not in started:
            ended.add(end), started.add(start)
            predecessor[start] = end
    while not np.array_equal(predecessor[predecessor], predecessor):
        predecessor = predecessor[predecessor]
    return predecessor


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_join_ends_takes_the_pairs_of_the_written_out_rule(seed):
    # short chains on a grid of slices (ties of skip), some on one slice (no slope)
    rng = np.random.default_rng(seed)
    rows, track = [], []
    for chain in range(60):
        first = int(rng.integers(0, 30))
        length = int(rng.integers(1, 6))
        y, x = rng.uniform(0, 12, 2)
        for z in range(first, first + length):
            rows.append([z, y + 0.05 * (z - first), x + rng.normal(0, 0.1)])
            track.append(chain)
    ends, _ = chain_end_axes(np.array(rows), np.array(track), window=4)
    joined = join_ends(ends, 1.5)
    np.testing.assert_array_equal(joined, _join_ends_by_python_sort(ends, 1.5))
    assert (joined != np.arange(len(joined))).sum() > 5  # chains were joined
