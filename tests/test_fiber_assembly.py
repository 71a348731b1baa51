"""The fiber assembly's linear-time helpers give exactly what the NumPy expressions they
replaced give: the same table, to the bit, on a messy bed and on random input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from test_fiber_linking import SIDES, _messy_bed

from xarray_microct.kernels.chains import (
    dense_ids,
    first_seen,
    group_medians,
    group_order,
    merge_runs,
    window_lines,
)
from xarray_microct.ops.fibers.linking import (
    PIECES_OVERLAP,
    cut_by_side,
    join_fragments,
    link_slab,
    merge_pieces,
    piece_pairs,
)

ids_strategy = arrays(np.int64, st.integers(0, 60), elements=st.integers(0, 40))


@settings(max_examples=40, deadline=None)
@given(ids_strategy)
def test_grouping_helpers_match_numpy(track):
    ids, index = dense_ids(track)
    ref_ids, ref_index = np.unique(track, return_inverse=True)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(index, ref_index.ravel())
    order, bounds = group_order(index, len(ids))
    np.testing.assert_array_equal(order, np.argsort(index, kind="stable"))
    np.testing.assert_array_equal(bounds, np.searchsorted(index[order], np.arange(len(ids) + 1)))
    _, first = np.unique(track, return_index=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    np.testing.assert_array_equal(first_seen(track), rank[index])


def test_dense_ids_of_large_or_negative_ids_fall_back_to_sorting():
    for track in (np.array([10**12, 5, 10**12]), np.array([-3, 2, -3])):
        ids, index = dense_ids(track)
        np.testing.assert_array_equal(ids, np.unique(track))
        np.testing.assert_array_equal(index, np.unique(track, return_inverse=True)[1])


@settings(max_examples=40, deadline=None)
@given(ids_strategy, st.integers(0, 2**32 - 1))
def test_group_medians_are_numpy_medians(track, seed):
    values = np.random.default_rng(seed).normal(size=len(track)).round(1)
    ids, index = dense_ids(track)
    order, bounds = group_order(index, len(ids))
    expected = [np.median(values[index == k]) for k in range(len(ids))]
    np.testing.assert_array_equal(group_medians(values, order, bounds), expected)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 2**32 - 1))
@example(3, 1, 6636)  # two kept rows that differ in the radius only
def test_merge_runs_is_lexsort_of_the_stacked_rows(n, m, seed):
    rng = np.random.default_rng(seed)
    rows, pieces = (rng.integers(0, 3, (k, 5)).astype(float) for k in (n, m))
    rows = rows[np.lexsort(rows[:, [4, 2, 1, 0]].T)]
    pieces = pieces[np.lexsort(pieces[:, [4, 2, 1, 0]].T)]
    changed = rng.random(n) < 0.3
    both = np.concatenate([rows[~changed], pieces])
    expected = both[np.lexsort(both[:, [4, 2, 1, 0]].T)]
    merged, group = merge_runs(rows[:, :4], rows[:, 4].astype(np.int64), changed, pieces)
    np.testing.assert_array_equal(merged, expected[:, :4])
    np.testing.assert_array_equal(group, expected[:, 4])
    # two kept rows of different keys (z, y, x, group; the radius is no key): reversed,
    # they are not sorted (rows differing in the radius only are ties, sorted either way)
    if len(np.unique(rows[~changed][:, [0, 1, 2, 4]], axis=0)) > 1:
        back = rows[::-1]  # the rows kept in reverse: not sorted
        assert merge_runs(back[:, :4], back[:, 4].astype(np.int64), changed[::-1], pieces) is None


def _reference_local_axes(rows, index, half):
    """What :func:`window_lines` computes, row by row in Python: each window's sums added
    from its own rows in chain order, offsets from the window's first ``z``."""
    order = np.lexsort((rows[:, 0], index))
    z, yx, chain = rows[order, 0], rows[order, 1:3], index[order]
    start = np.searchsorted(chain, chain, side="left")
    stop = np.searchsorted(chain, chain, side="right")
    axes = np.empty((len(z), 2))
    for i in range(len(z)):
        lo, hi = max(i - half, start[i]), min(i + half + 1, stop[i])
        at, n = z[lo], float(hi - lo)
        sz = szz = 0.0
        sy, szy = [0.0, 0.0], [0.0, 0.0]
        for j in range(lo, hi):
            d = z[j] - at
            sz += d
            szz += d * d
            for c in (0, 1):
                sy[c] += yx[j, c]
                szy[c] += d * yx[j, c]
        det = n * szz - sz * sz
        line = det > 1e-9 * max(n * szz, 1.0)
        for c in (0, 1):
            slope = (n * szy[c] - sz * sy[c]) / det if line else 0.0
            axes[order[i], c] = (sy[c] - slope * sz) / n + slope * (z[i] - at)
    return axes


@pytest.mark.parametrize("half", [1, 4, 10])
def test_window_lines_are_each_windows_own_fit_to_the_bit(half):
    rows, _ = _messy_bed(seed=5)
    rows = rows.copy()
    rows[:, 0] = 1000.0 + 0.7 * rows[:, 0]  # large offsets: rounding shows
    track = np.random.default_rng(0).integers(0, 50, len(rows))
    ids, index = dense_ids(track)
    order, bounds = group_order(index, len(ids))
    fits = window_lines(rows, order, index, bounds, half)
    np.testing.assert_array_equal(fits, _reference_local_axes(rows, index, half))
    # least-squares lines: numpy's on a few windows, to rounding
    for i in np.random.default_rng(1).choice(len(order), 20, replace=False):
        c = index[order[i]]
        lo, hi = max(i - half, bounds[c]), min(i + half + 1, bounds[c + 1])
        window = rows[order[lo:hi]]
        if len(np.unique(window[:, 0])) > 1:
            for axis in (1, 2):
                at = np.polyval(np.polyfit(window[:, 0], window[:, axis], 1), rows[order[i], 0])
                assert abs(fits[order[i], axis - 1] - at) < 1e-9 * (1 + abs(at))
    # a chain's lines do not depend on the other chains, nor on which rows are fitted
    alone = index == index[0]
    sub_ids, sub_index = dense_ids(index[alone])
    sub_order, sub_bounds = group_order(sub_index, len(sub_ids))
    np.testing.assert_array_equal(
        window_lines(rows[alone], sub_order, sub_index, sub_bounds, half), fits[alone]
    )
    some = np.array([0, 5, len(order) - 1])
    partial = window_lines(rows, order, index, bounds, half, some)
    np.testing.assert_array_equal(partial[order[some]], fits[order[some]])
    assert np.isnan(np.delete(partial, order[some], axis=0)).all()
    # and they are least-squares lines: exact on a straight chain
    z = np.arange(20.0)
    line = np.column_stack([z, 3 + 0.25 * z, 7 - 0.5 * z])
    fits = window_lines(line, np.arange(20), np.zeros(20, np.int64), np.array([0, 20]), half)
    np.testing.assert_allclose(fits, line[:, 1:], atol=1e-9)


def _reference_merge_pieces(rows, track, overlap=PIECES_OVERLAP):
    """:func:`merge_pieces` as it was, sorting every row (the reference)."""
    rows = np.asarray(rows, dtype=np.float64)
    track = np.asarray(track, dtype=np.int64)
    if len(rows) < 2:
        return rows, track
    ids, index = np.unique(track, return_inverse=True)
    z = rows[:, 0].astype(np.int64)
    radius = rows[:, 3]
    # pairs of centres of one slice within reach of each other
    a, b = piece_pairs(rows, overlap).T
    distance = np.hypot(rows[a, 1] - rows[b, 1], rows[a, 2] - rows[b, 2])
    ratio = distance / (radius[a] + radius[b])
    close = (index[a] != index[b]) & (ratio < overlap)
    a, b, ratio = a[close], b[close], ratio[close]
    swap = index[a] > index[b]
    a[swap], b[swap] = b[swap], a[swap]
    m = len(ids)
    chains, where = np.unique(index[a] * m + index[b], return_inverse=True)
    chains = np.column_stack([chains // m, chains % m])
    count = np.bincount(where, minlength=len(chains))
    mean_ratio = np.bincount(where, ratio, len(chains)) / np.maximum(count, 1)
    first = np.full(len(ids), np.iinfo(np.int64).max)
    last = np.full(len(ids), -1)
    np.minimum.at(first, index, z)
    np.maximum.at(last, index, z)

    def shared(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return np.minimum(last[p], last[q]) - np.maximum(first[p], first[q]) + 1

    pieces = 2 * count >= shared(chains[:, 0], chains[:, 1])
    chains, mean_ratio = chains[pieces], mean_ratio[pieces]
    same = set(map(tuple, chains.tolist()))
    # closest pairs first; two chains that share slices without being one fiber's
    # pieces there are two fibers: a group never holds both (no merging through a piece
    # that lies between two fibers)
    root = np.arange(len(ids))
    members = {k: [k] for k in range(len(ids))}
    for p, q in chains[np.lexsort((chains[:, 1], chains[:, 0], mean_ratio))].tolist():
        rp, rq = root[p], root[q]
        if rp == rq:
            continue
        one, other = np.array(members[rp]), np.array(members[rq])
        gp, gq = np.meshgrid(one, other, indexing="ij")
        gp, gq = np.minimum(gp, gq).ravel(), np.maximum(gp, gq).ravel()
        overlapping = shared(gp, gq) > 0
        if any(pair not in same for pair in zip(gp[overlapping], gq[overlapping], strict=True)):
            continue
        keep, drop = min(rp, rq), max(rp, rq)
        members[keep] += members.pop(drop)
        root[members[keep]] = keep
    span = int(z.max()) - int(z.min()) + 1
    key, inverse = np.unique(root[index] * span + (z - z.min()), return_inverse=True)
    groups = np.column_stack([key // span, key % span + z.min()])
    area = radius**2
    total = np.bincount(inverse, area)
    y = np.bincount(inverse, area * rows[:, 1]) / total
    x = np.bincount(inverse, area * rows[:, 2]) / total
    merged = np.column_stack([groups[:, 1], y, x, np.sqrt(total)])
    alone = np.bincount(inverse)[inverse] == 1
    merged[inverse[alone]] = rows[alone, :4]  # rows left as they were, to the bit
    order = np.lexsort((merged[:, 2], merged[:, 1], merged[:, 0]))
    return merged[order], ids[groups[order, 0]]


def _reference_cut_by_side(rows, track, sides, window):
    """:func:`cut_by_side` as it was, sorting every row (the reference)."""
    y_low, y_high, x_low, x_high = sides
    _, index = np.unique(track, return_inverse=True)
    order = np.lexsort((rows[:, 3], index))
    bounds = np.searchsorted(index[order], np.arange(index.max(initial=-1) + 2))
    radius = rows[order, 3]
    middle = bounds[:-1] + bounds[1:] - 1
    median = 0.5 * (radius[middle // 2] + radius[(middle + 1) // 2])
    r = median[index]
    y, x = _reference_local_axes(rows, index, window // 2).T if window > 1 else rows[:, 1:3].T
    return (y - r < y_low) | (y + r > y_high) | (x - r < x_low) | (x + r > x_high)


def _chains(rows):
    slabs = [link_slab([rows], 0, int(rows[:, 0].max()) + 1, (1.0, 1.0), (0.0, 0.0), 2.5)]
    return slabs[0]


@pytest.mark.parametrize("seed", [3, 4])
def test_merge_and_cut_match_the_sorting_reference_on_a_messy_bed(seed):
    rows, chain = _chains(_messy_bed(seed)[0])
    merged, track = merge_pieces(rows, chain)
    ref_rows, ref_track = _reference_merge_pieces(rows, chain)
    assert len(merged) < len(rows)  # pieces were merged
    np.testing.assert_array_equal(merged, ref_rows)
    np.testing.assert_array_equal(track, ref_track)
    for window in (1, 10):
        np.testing.assert_array_equal(
            cut_by_side(merged, track, SIDES, window),
            _reference_cut_by_side(merged, track, SIDES, window),
        )
    # shuffled rows, and chains with two rows on one slice: the general paths
    shuffle = np.random.default_rng(seed).permutation(len(rows))
    doubled = chain.copy()
    doubled[doubled == chain[1]] = chain[0]  # rows 0 and 1: on slice 0
    for r, c in ((rows[shuffle], chain[shuffle]), (rows, doubled)):
        got, expected = merge_pieces(r, c), _reference_merge_pieces(r, c)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(
            cut_by_side(r, c, SIDES, 10), _reference_cut_by_side(r, c, SIDES, 10)
        )


def test_joining_shuffled_rows_gives_the_same_fibers():
    rows, chain = _chains(_messy_bed(6)[0])
    rows, chain = merge_pieces(rows, chain)
    cut = cut_by_side(rows, chain, SIDES, 10)
    joined = join_fragments(rows, chain, 5.0, None, 10, cut)
    shuffle = np.random.default_rng(1).permutation(len(rows))
    again = join_fragments(rows[shuffle], chain[shuffle], 5.0, None, 10, cut[shuffle])
    np.testing.assert_array_equal(again, joined[shuffle])
    assert len(np.unique(joined)) < len(np.unique(chain))  # fragments were joined


def test_dense_ids_of_unsigned_ids():
    for dtype in (np.uint32, np.uint64):
        track = np.array([9, 2, 9, 4], dtype)
        ids, index = dense_ids(track)
        np.testing.assert_array_equal(ids, [2, 4, 9])
        np.testing.assert_array_equal(index, [2, 0, 2, 1])


def _side_bed(entering_x: float, gap: tuple[int, int] = (8, 10)):
    """A row of fibers along the side y = 0 (cut by it) and one inside, 20 slices; the
    side's fiber at x = 30 is out of the field on the slices of ``gap``, and what enters
    after it is at ``entering_x``. Rows ``(z, y, x, radius)``, their true fiber."""
    rows, truth = [], []
    for z in range(20):
        for k, x in enumerate((10.0, 20.0, 30.0, 40.0, 50.0)):
            for y, fiber in ((2.0, k), (9.0, 10 + k)):
                if fiber == 2 and gap[0] <= z <= gap[1]:
                    continue
                if fiber == 2 and z > gap[1]:
                    x, fiber = entering_x, 2 if entering_x == 30.0 else 99
                rows.append((z, y, x, 3.0))
                truth.append(fiber)
    return np.array(rows), np.array(truth)


@pytest.mark.parametrize("entering_x", [30.0, 36.0])
def test_pieces_cut_by_the_side_join_where_the_bed_says_they_are_one_fiber(entering_x):
    rows, truth = _side_bed(entering_x)
    track = np.where((truth == 2) & (rows[:, 0] > 10), 98, truth)  # a chain after the gap
    cut = cut_by_side(rows, track, (0.0, 60.0, 0.0, 60.0), 4)
    assert cut[truth == 2].all() and not cut[(truth >= 10) & (truth < 20)].any()
    joined = join_fragments(rows, track, 3.0, None, 4, cut, side_skip=5)
    # one chain per true fiber: the side's pieces joined, the one entering a diameter
    # away (another fiber) left apart
    assert len(np.unique(joined)) == len(np.unique(truth))
    for fiber in np.unique(truth):
        assert len(np.unique(joined[truth == fiber])) == 1
    # without side_skip, or across a longer gap, pieces cut by the side are not joined
    apart = len(np.unique(truth)) + (entering_x == 30.0)
    assert len(np.unique(join_fragments(rows, track, 3.0, None, 4, cut))) == apart
    rows, truth = _side_bed(entering_x, gap=(5, 12))
    track = np.where((truth == 2) & (rows[:, 0] > 12), 98, truth)
    cut = cut_by_side(rows, track, (0.0, 60.0, 0.0, 60.0), 4)
    assert len(np.unique(join_fragments(rows, track, 3.0, None, 4, cut, side_skip=5))) == apart


def test_side_joins_take_the_same_neighbours_whatever_the_order_of_the_rows():
    # seven chains at exactly 5 pixels from where the side's fiber leaves (3-4-5
    # triangles), three still and four moving 3 pixels across the gap: the six nearest
    # give the bed's motion. Was: the tie broken by the rows' order (the seventh the
    # last row), so the motion read 1.5 or 3 and the pieces joined or not by that order
    rows, track = [], []

    def add(fiber: int, y: float, x: float, radius: float, slices, move: float = 0.0) -> None:
        for z in slices:
            rows.append((z, y, x + (move if z >= 7 else 0.0), radius))
            track.append(fiber)

    add(1, 2.0, 30.0, 3.0, range(5))  # cut by the side y = 0, out on slices 5 and 6
    add(2, 2.0, 33.0, 3.0, range(7, 12))  # back, moved with the bed
    still = [(7.0, 30.0), (5.0, 26.0), (5.0, 34.0)]
    moving = [(6.0, 27.0), (6.0, 33.0), (2.0, 25.0), (2.0, 35.0)]
    for fiber, (y, x) in enumerate(still + moving):
        add(3 + fiber, y, x, 1.0, range(12), 3.0 if fiber >= len(still) else 0.0)
    rows, track = np.array(rows), np.array(track)
    rng = np.random.default_rng(0)
    found = set()
    for order in [np.arange(len(rows)), *(rng.permutation(len(rows)) for _ in range(12))]:
        cut = cut_by_side(rows[order], track[order], (0.0, 50.0, 0.0, 60.0), 4)
        joined = join_fragments(rows[order], track[order], 1.2, None, 4, cut, side_skip=5)
        found.add(len(np.unique(joined)))
    # the median of the still and moving neighbours: 3 pixels with the tie broken by
    # position (y, x), as in detect_fibers' rows, which come in (slice, y, x) order
    assert found == {8}
