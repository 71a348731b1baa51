"""The fast linking kernels against direct references: the links of whole slices
(optimal_pairs slice pair by slice pair), the pairs within reach (all pairs checked)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xarray_microct.core.matching import optimal_pairs
from xarray_microct.kernels.chains import near_pairs, path_ids
from xarray_microct.ops.fibers.linking import (
    PIECES_OVERLAP,
    link_slices,
    merge_chains,
    piece_pairs,
    settle_by_fiber,
    settle_on_axes,
    slice_links,
    slice_order,
)


def _centres(seed: int, n: int, slices: int, extent: float, grid: bool) -> np.ndarray:
    """Rows ``(z, y, x, radius)`` sorted by slice only (in-slice order random): dense
    clusters (ambiguous assignments), on a coarse grid when ``grid`` (ties, distances
    exactly at the limit)."""
    rng = np.random.default_rng(seed)
    z = np.sort(rng.integers(0, slices, n))
    yx = rng.uniform(0, extent, (n, 2))
    if grid:
        yx = np.round(yx)
    radius = rng.uniform(0.5, 3.0, n)
    return np.column_stack([z, yx, radius]).astype(float)


def _reference_links(centres: np.ndarray, distance: float) -> set[tuple[int, int]]:
    """optimal_pairs on each pair of consecutive slices, whole (the former link_slices)."""
    z = centres[:, 0].astype(int)
    links = set()
    for k in np.unique(z):
        below, above = np.flatnonzero(z == k), np.flatnonzero(z == k + 1)
        if len(below) and len(above):
            ia, ib, _ = optimal_pairs(centres[above, 1:3], centres[below, 1:3], distance)
            links |= set(zip(below[ib].tolist(), above[ia].tolist(), strict=True))
    return links


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 120),
    slices=st.integers(1, 6),
    extent=st.sampled_from([4.0, 10.0, 40.0]),
    distance=st.sampled_from([1.0, 1.5, 3.0]),
    grid=st.booleans(),
)
def test_slice_links_are_the_optimal_assignments_of_whole_slices(
    seed, n, slices, extent, distance, grid
):
    centres = _centres(seed, n, slices, extent, grid)
    below, above = slice_links(centres, distance)
    assert set(zip(below.tolist(), above.tolist(), strict=True)) == _reference_links(
        centres, distance
    )
    # the chains: the paths of these links, numbered by their first row
    root = merge_chains(n, np.column_stack([below, above]))
    _, first, inverse = np.unique(root, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(1, len(first) + 1)
    np.testing.assert_array_equal(link_slices(centres, distance), rank[inverse])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 150),
    slices=st.integers(1, 5),
    extent=st.sampled_from([3.0, 10.0, 60.0]),
    grid=st.booleans(),
)
def test_piece_pairs_are_all_close_pairs_of_each_slice(seed, n, slices, extent, grid):
    rows = _centres(seed, n, slices, extent, grid)
    found = piece_pairs(rows)
    i, j = np.triu_indices(n, 1)
    ratio = np.hypot(*(rows[i, 1:3] - rows[j, 1:3]).T) / (rows[i, 3] + rows[j, 3])
    close = (rows[i, 0] == rows[j, 0]) & (ratio < PIECES_OVERLAP)
    expected = np.column_stack([i[close], j[close]])
    expected = expected[np.lexsort((expected[:, 1], expected[:, 0], rows[expected[:, 0], 0]))]
    np.testing.assert_array_equal(found.reshape(-1, 2), expected.reshape(-1, 2))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=4),
    reach=st.sampled_from([0.0, 0.5, 2.0, 7.0, 100.0]),
    spread=st.sampled_from([1.0, 20.0, 1e4]),
)
def test_near_pairs_are_all_pairs_within_reach(seed, sizes, reach, spread):
    rng = np.random.default_rng(seed)
    # runs of rows sorted by y, some y and x shared (ties), wide or narrow
    runs = [np.round(rng.uniform(0, spread, (k, 2)), 1) for k in sizes]
    runs = [r[np.argsort(r[:, 0], kind="stable")] for r in runs]
    yx = np.concatenate(runs)
    bounds = np.cumsum([0, *sizes])
    pairs = [(a, b) for a in range(len(sizes)) for b in range(len(sizes))]
    spec = np.array([[bounds[a], bounds[a + 1], bounds[b], bounds[b + 1]] for a, b in pairs])
    found = near_pairs(yx[:, 0], yx[:, 1], spec, np.full(len(spec), reach))
    expected = []
    for a, b in pairs:
        ia, ib = np.arange(bounds[a], bounds[a + 1]), np.arange(bounds[b], bounds[b + 1])
        d2 = ((yx[ia, None, :] - yx[None, ib, :]) ** 2).sum(-1)
        p, q = np.nonzero(d2 <= reach * reach)
        keep = ia[p] < ib[q] if a == b else np.ones(len(p), bool)
        expected += list(zip(ia[p][keep].tolist(), ib[q][keep].tolist(), strict=True))
    assert sorted(map(tuple, found.tolist())) == sorted(expected)
    # run after run, by the first row
    assert (np.diff(found[:, 0]) >= 0).sum() >= len(found) - len(spec)


def test_near_pairs_with_sizes_keep_the_pairs_closer_than_their_sizes():
    y, x = np.array([0.0, 1.0, 3.0]), np.zeros(3)
    size = np.array([0.5, 0.6, 0.1])
    found = near_pairs(y, x, np.array([[0, 3, 0, 3]]), np.array([10.0]), size, 1.0)
    assert found.tolist() == [[0, 1]]  # 1 apart, sizes 1.1; the others farther


def test_near_pairs_with_an_unbounded_reach_or_far_rows_are_all_pairs():
    # int() of an infinite or huge band bound overflowed in the compiled search,
    # which then searched no band and found nothing
    y, x = np.array([0.0, 1.0, 5.0]), np.array([1e30, 1e30, 1e30])
    every = [[0, 1], [0, 2], [1, 2]]
    assert near_pairs(y, x, np.array([[0, 3, 0, 3]]), np.array([np.inf])).tolist() == every
    close = near_pairs(y, x, np.array([[0, 3, 0, 3]]), np.array([1.0]))
    assert close.tolist() == [[0, 1]]


def test_near_pairs_refuses_lengths_that_do_not_match():
    y = np.zeros(3)
    with pytest.raises(ValueError, match="reach one per run"):
        near_pairs(y, y, np.array([[0, 3, 0, 3]]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="one value per row"):
        near_pairs(y, y[:2], np.array([[0, 3, 0, 3]]), np.array([1.0]))


def test_path_ids_number_the_chains_by_their_first_row():
    assert path_ids(np.array([1, 0]), np.array([3, 2]), 4).tolist() == [1, 2, 1, 2]
    assert path_ids(np.zeros(0), np.zeros(0), 2).tolist() == [1, 2]
    with pytest.raises(ValueError, match="later row"):
        path_ids(np.array([2]), np.array([1]), 3)


def test_slice_links_of_two_slices_by_hand():
    # 1 has two candidates: the nearer (2, 0.4 away) would leave 0 alone; the
    # assignment links the most pairs, then the least total distance
    rows = np.array([[0, 0.0, 0.0], [0, 1.0, 0.0], [1, 0.6, 0.0], [1, 1.7, 0.0]])
    below, above = slice_links(rows, 1.0)
    assert sorted(zip(below.tolist(), above.tolist(), strict=True)) == [(0, 2), (1, 3)]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), fibers=st.integers(1, 8))
def test_settle_by_fiber_gives_the_rows_of_settle_on_axes(seed, fibers):
    rng = np.random.default_rng(seed)
    rows, track = [], []
    for f in range(fibers):  # fibers with missed slices, ids not dense
        z = np.flatnonzero(rng.random(20) < 0.7)
        y = 20.0 * f + 0.3 * z + rng.normal(0, 0.3, len(z))
        x = 5.0 + rng.normal(0, 0.3, len(z))
        rows.append(np.column_stack([z, y, x, rng.uniform(1, 2, len(z))]))
        track.append(np.full(len(z), 3 * f + 7))
    rows, track = np.concatenate(rows), np.concatenate(track)
    by_slice = np.argsort(rows[:, 0], kind="stable")
    rows, track = rows[by_slice], track[by_slice]
    by_fiber, ids, starts, detected = settle_by_fiber(rows, track, half=3, tolerance=1.0)
    settled, fiber = settle_on_axes(rows, track, half=3, tolerance=1.0)
    per_row = np.repeat(ids, np.diff(starts))
    # each fiber's rows in slice order, on every slice of its span
    for i, f in enumerate(ids):
        part = by_fiber[starts[i] : starts[i + 1]]
        np.testing.assert_array_equal(part[:, 0], np.arange(part[0, 0], part[-1, 0] + 1))
        np.testing.assert_array_equal(part, settled[fiber == f][np.argsort(settled[fiber == f, 0])])
    assert sorted(per_row.tolist()) == sorted(fiber.tolist())
    # a row per input row kept on its axis is detected; the rest are the axis alone
    assert detected.sum() <= len(rows) and len(detected) == len(by_fiber)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 200),
    slices=st.integers(1, 6),
    decimals=st.sampled_from([0, 1, 12]),
    scale=st.sampled_from([1.0, 1e-9, 1e9]),
)
def test_slice_order_is_lexsort(seed, n, slices, decimals, scale):
    rng = np.random.default_rng(seed)
    # shared y and x (ties, resolved by position), huge or tiny coordinates (rounding)
    yx = np.round(rng.uniform(0, 5, (n, 2)), decimals) * scale
    rows = np.column_stack([rng.integers(0, slices, n), yx, np.ones(n)]).astype(float)
    np.testing.assert_array_equal(slice_order(rows), np.lexsort(rows[:, [2, 1, 0]].T))


def test_slice_order_where_the_key_rounds_y_away():
    # on slice 1 the key is 3 + y: these y differences are lost in it
    rows = np.array([[0, 1.0, 0], [1, 3e-20, 0], [1, 1e-20, 0], [1, 2e-20, 0]])
    assert slice_order(rows).tolist() == [0, 2, 3, 1]


def test_centres_without_a_position_link_to_nothing():
    rows = np.array(
        [[0, 5.0, 5.0, 2.0], [0, np.nan, 5.0, 2.0], [1, 5.2, 5.0, 2.0], [1, 5.1, np.nan, 2.0]]
    )
    below, above = slice_links(rows, 1.0)
    assert below.tolist() == [0] and above.tolist() == [2]
    rows[[0, 2], 0] = 0  # now one slice: the two finite centres are one fiber's pieces
    assert piece_pairs(rows).tolist() == [[0, 2]]
    with pytest.raises(ValueError, match="finite"):
        near_pairs(rows[:, 1], rows[:, 2], np.array([[0, 4, 0, 4]]), np.array([1.0]))
