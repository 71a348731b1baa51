"""Stage 2 of fiber detection: link per-slice centres along z into chains, slab by slab.

Within a slab of slices, :func:`link_centres` pairs the centres of consecutive slices
(gaps of up to ``max_gap`` slices allowed) by optimal one-to-one assignment within
``link_distance``. Slabs are linked in parallel, each on its own (:func:`link_slab`),
and stitched at their borders (:func:`stitch_slabs`) by the same rule: chains ending in
the last ``max_gap + 1`` slices below a border are matched, slice by slice, to chains
starting in the first ``max_gap + 1`` slices above it. Slab borders fall every
``SLAB`` slices whatever the chunking, so the chains do not depend on it.
:func:`join_fragments` then joins chains of one fiber interrupted for longer than the
gap, and :func:`z_coherence` tells a fiber bed from a volume without fibers.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from xarray_microct.core.matching import optimal_pairs

SLAB = 64  # slices linked by one task
# chain ends: one row per chain of a slab
END_COLUMNS = ("chain", "z_first", "y_first", "x_first", "z_last", "y_last", "x_last")


def link_centres(
    centres: np.ndarray,
    link_distance: float,
    max_gap: int = 2,
    min_slices: int = 3,
) -> np.ndarray:
    """Link per-slice centres into fibers; returns a fiber id per row (0: dropped).

    Parameters
    ----------
    centres : array of shape (n, >=3)
        Rows ``(z_index, y, x, ...)``, ``y, x`` in physical units.
    link_distance : float
        Largest in-plane move of a fiber between linked slices (physical units).
    max_gap : int
        Slices a fiber may be missing from and still be linked across.
    min_slices : int
        Fibers found on fewer slices are dropped (id 0).

    Returns
    -------
    array of int
        ``fiber_id`` per row, numbered 1.. in order of first slice, then y, then x.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0], [1, 5.2, 5.0], [2, 5.3, 5.1], [0, 20.0, 5.0]])
    >>> link_centres(rows, link_distance=1.0, min_slices=2)
    array([1, 1, 1, 0])
    """
    n = len(centres)
    track = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    z = centres[:, 0].astype(np.int64)
    order = np.lexsort((centres[:, 2], centres[:, 1], z))
    slices = np.unique(z)
    starts = np.searchsorted(z[order], slices)
    ends = np.append(starts[1:], n)
    # active track ends: row index of each track's last centre
    last_row: list[int] = []
    n_tracks = 0
    for zk, s, e in zip(slices, starts, ends, strict=True):
        rows = order[s:e]
        last_row = [r for r in last_row if z[r] >= zk - 1 - max_gap]
        if last_row:
            ends_yx = centres[last_row][:, 1:3]
            ia, ib, _ = optimal_pairs(centres[rows][:, 1:3], ends_yx, link_distance)
        else:
            ia = ib = np.zeros(0, dtype=np.int64)
        matched = np.zeros(len(rows), dtype=bool)
        matched[ia] = True
        replaced = {}
        for a, b in zip(ia, ib, strict=True):
            track[rows[a]] = track[last_row[b]]
            replaced[b] = rows[a]
        last_row = [replaced.get(i, r) for i, r in enumerate(last_row)]
        for a in np.nonzero(~matched)[0]:
            track[rows[a]] = n_tracks
            n_tracks += 1
            last_row.append(rows[a])
    counts = np.bincount(track, minlength=n_tracks)
    kept = counts >= min_slices
    # number kept tracks by (first slice, y, x) of their first centre
    first = np.full(n_tracks, -1)
    for r in order[::-1]:
        first[track[r]] = r
    kept_ids = np.nonzero(kept)[0]
    first_rows = first[kept_ids]
    rank = np.lexsort((centres[first_rows, 2], centres[first_rows, 1], z[first_rows]))
    new_id = np.zeros(n_tracks, dtype=np.int64)
    new_id[kept_ids[rank]] = np.arange(1, len(kept_ids) + 1)
    return new_id[track]


def join_fragments(centres: np.ndarray, track: np.ndarray, link_distance: float) -> np.ndarray:
    """Join chains of one fiber interrupted for longer than the linking gap.

    A chain that starts, within ``link_distance`` in-plane, after another one has ended
    (the two share no slice) continues it: fibers run through the whole bed, so a fiber
    lost for a while (a pore, a faint stretch, a fiber grazing the volume's side) and found
    again on the same axis is one fiber, not two. Pairs are taken shortest interruption
    first (then closest), each chain end and start at most once: a fiber found in three
    pieces A, B, C is joined A–B–C, never A–C leaving B aside.

    Parameters
    ----------
    centres : array of shape (n, >=3)
        Rows ``(z_index, y, x, ...)`` as for :func:`link_centres`.
    track : array of int
        Chain id per row (any ids).
    link_distance : float
        Largest in-plane distance between an end and the start that continues it.

    Returns
    -------
    array of int
        Chain id per row, joined chains sharing the id of their first part.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0], [1, 5.0, 5.1], [9, 5.2, 5.0], [10, 5.2, 5.1],
    ...                  [0, 30.0, 5.0], [10, 30.0, 5.0]])
    >>> join_fragments(rows, np.array([1, 1, 2, 2, 3, 4]), link_distance=1.0)
    array([1, 1, 1, 1, 3, 3])
    """
    ids, index = np.unique(track, return_inverse=True)
    if len(ids) < 2:
        return track
    z = centres[:, 0]
    order = np.lexsort((z, index))
    bounds = np.searchsorted(index[order], np.arange(len(ids) + 1))
    first, last = order[bounds[:-1]], order[bounds[1:] - 1]
    tree = cKDTree(centres[first][:, 1:3])
    candidates = []
    for end, near in enumerate(tree.query_ball_point(centres[last][:, 1:3], link_distance)):
        for start in near:
            if z[first[start]] > z[last[end]]:
                skip = z[first[start]] - z[last[end]]
                gap = np.hypot(*(centres[first[start], 1:3] - centres[last[end], 1:3]))
                candidates.append((skip, gap, end, start))
    predecessor = np.arange(len(ids))
    ended, started = set(), set()
    for _, _, end, start in sorted(candidates):
        if end not in ended and start not in started:
            ended.add(end)
            started.add(start)
            predecessor[start] = end
    root = predecessor
    while True:  # follow predecessors to the first part of each joined fiber
        deeper = root[root]
        if np.array_equal(deeper, root):
            break
        root = deeper
    return ids[root][index]


def z_coherence(z_index: np.ndarray, track: np.ndarray, separation: int) -> float:
    """Fraction of centres whose linked fiber goes on for ``separation`` more slices.

    Fibers persist along z, so in a fiber bed nearly every centre's chain of links
    continues for many slices (0.9–1 on the phantoms for tilts up to 30°; the links
    follow the tilt); centres found in noise, or in structure without an axis, form
    short chains (0.1–0.2 in pure noise). Centres within ``separation`` slices of the
    last one are not counted; NaN when none is left.

    Parameters
    ----------
    z_index : array of int
        Slice index of each centre.
    track : array of int
        Chain (fiber) id of each centre, from :func:`link_centres` with ``min_slices=1``.
    separation : int
        Slices a chain must continue beyond a centre.

    Examples
    --------
    >>> z = np.array([0, 1, 2, 3, 4, 0, 1])
    >>> track = np.array([1, 1, 1, 1, 1, 2, 2])
    >>> z_coherence(z, track, separation=3)
    0.5
    """
    z_index = np.asarray(z_index, dtype=np.int64)
    track = np.asarray(track, dtype=np.int64)
    if z_index.size == 0:
        return float("nan")
    last = np.full(track.max() + 1, -1, dtype=np.int64)
    np.maximum.at(last, track, z_index)
    counted = z_index <= z_index.max() - separation
    if not counted.any():
        return float("nan")
    return float(np.mean((last[track] - z_index >= separation)[counted]))


def link_slab(
    parts: list[np.ndarray],
    z_start: int,
    z_stop: int,
    spacing: tuple[float, float],
    origin: tuple[float, float],
    link_distance: float,
    max_gap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Link the per-slice rows of slices ``z_start:z_stop`` into chains.

    Parameters
    ----------
    parts : list of array
        Rows ``(z_index, y_px, x_px, radius)`` from the per-slice stage (any slices;
        those outside the slab are left out).
    z_start, z_stop : int
        The slab's slices.
    spacing, origin : (float, float)
        Pixel size and coordinate of pixel 0 along y and x.
    link_distance, max_gap
        As :func:`link_centres`.

    Returns
    -------
    rows : array
        The slab's rows sorted by slice, y, x, with ``y, x`` in physical units.
    chain : array of int
        Chain id per row, 1.. within the slab (see :func:`link_centres`).

    Examples
    --------
    >>> part = np.array([[0, 2.0, 2.0, 5.0], [1, 2.0, 2.0, 5.0], [5, 2.0, 2.0, 5.0]])
    >>> rows, chain = link_slab([part], 0, 4, (0.5, 0.5), (0.0, 0.0), 1.0, 1)
    >>> rows[:, :3].tolist(), chain.tolist()
    ([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]], [1, 1])
    """
    rows = np.concatenate(parts) if parts else np.zeros((0, 4))
    rows = rows[(rows[:, 0] >= z_start) & (rows[:, 0] < z_stop)]
    rows[:, 1] = origin[0] + rows[:, 1] * spacing[0]
    rows[:, 2] = origin[1] + rows[:, 2] * spacing[1]
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    return rows, link_centres(rows, link_distance, max_gap, min_slices=1)


def chain_ends(rows: np.ndarray, chain: np.ndarray) -> np.ndarray:
    """First and last centre of each chain: one row of ``END_COLUMNS`` per chain id.

    ``rows`` sorted by slice (as :func:`link_slab` returns them), ``chain`` ids 1..n.

    Examples
    --------
    >>> rows = np.array([[0, 1.0, 1.0], [1, 1.0, 2.0], [1, 5.0, 5.0]])
    >>> chain_ends(rows, np.array([1, 1, 2])).tolist()
    [[1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0], [2.0, 1.0, 5.0, 5.0, 1.0, 5.0, 5.0]]
    """
    n = int(chain.max()) if chain.size else 0
    ids = np.arange(1, n + 1)
    first = np.full(n + 1, -1)
    last = np.full(n + 1, -1)
    index = np.arange(len(chain))
    first[chain[::-1]] = index[::-1]
    last[chain] = index
    head, tail = rows[first[1:]][:, :3], rows[last[1:]][:, :3]
    return np.column_stack([ids, head, tail]).reshape(n, len(END_COLUMNS))


def stitch_slabs(
    below: np.ndarray, above: np.ndarray, border: int, link_distance: float, max_gap: int
) -> np.ndarray:
    """Chains of the slab below a border continued by chains of the slab above it.

    The rule of :func:`link_centres` across the border: slice by slice from ``border``
    up to ``border + max_gap``, the chains starting there are paired by optimal
    assignment within ``link_distance`` with the still-open chain ends below (ended at
    most ``max_gap`` slices before); each end continues at most one chain.

    Parameters
    ----------
    below, above : array
        :func:`chain_ends` of the two slabs.
    border : int
        First slice of the slab above.

    Returns
    -------
    array of shape (n, 2)
        Pairs ``(chain below, chain above)``.

    Examples
    --------
    >>> below = np.array([[1, 0, 5.0, 5.0, 9, 5.0, 5.0], [2, 0, 9.0, 9.0, 4, 9.0, 9.0]])
    >>> above = np.array([[1, 11, 5.2, 5.0, 20, 5.0, 5.0], [2, 10, 9.0, 9.0, 20, 9.0, 9.0]])
    >>> stitch_slabs(below, above, border=10, link_distance=1.0, max_gap=2).tolist()
    [[1, 1]]
    """
    open_ends = below[below[:, 4] >= border - 1 - max_gap]
    starts = above[above[:, 1] <= border + max_gap]
    pairs = []
    for z in np.unique(starts[:, 1]):
        if len(open_ends) == 0:
            break
        live = open_ends[open_ends[:, 4] >= z - 1 - max_gap]
        here = starts[starts[:, 1] == z]
        ia, ib, _ = optimal_pairs(here[:, 2:4], live[:, 5:7], link_distance)
        pairs.extend(zip(live[ib, 0].astype(np.int64), here[ia, 0].astype(np.int64), strict=True))
        open_ends = open_ends[~np.isin(open_ends[:, 0], live[ib, 0])]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def merge_chains(n_chains: int, pairs: np.ndarray) -> np.ndarray:
    """Root of each chain (ids 0..n-1) after joining the ``pairs``: the smallest id joined.

    Examples
    --------
    >>> merge_chains(5, np.array([[0, 2], [2, 4]])).tolist()
    [0, 1, 0, 3, 0]
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_chains, n_chains)
    )
    _, group = connected_components(graph, directed=False)
    root = np.full(group.max() + 1 if n_chains else 0, n_chains, dtype=np.int64)
    np.minimum.at(root, group, np.arange(n_chains))
    return root[group]


def absorb_fragments(
    centres: np.ndarray, track: np.ndarray, distance: float, reach: int, short: int
) -> np.ndarray:
    """Fold short chains that run along a longer chain into it: a fiber found twice.

    Where a fiber's cross-section splits for a few slices, or its centre jumps by more
    than the linking distance and back, a short chain forms beside the fiber's own,
    within its span. Fiber axes lie at least two radii apart, so a chain of fewer than
    ``short`` centres each of which has a centre of one longer chain within
    ``distance`` in-plane and ``reach`` slices is that fiber: its centres join the
    longer chain, except on slices where that chain has a centre already (dropped).

    Parameters
    ----------
    centres : array of shape (n, >=3)
        Rows ``(z_index, y, x, ...)``.
    track : array of int
        Chain id per row (ids >= 0).
    distance : float
        In-plane distance within which two centres are one fiber (one radius).
    reach : int
        Slices up and down searched for the longer chain (the linking gap + 1).
    short : int
        Chains with fewer centres are candidates.

    Returns
    -------
    array of int
        Chain id per row; -1 on the dropped rows.

    Examples
    --------
    >>> rows = np.array([[z, 5.0, 5.0] for z in range(8) if z not in (3, 4)]
    ...                 + [[3, 7.0, 5.0], [4, 7.0, 5.0], [4, 20.0, 5.0], [5, 20.0, 5.0]])
    >>> absorb_fragments(rows, np.array([1] * 6 + [2, 2, 3, 3]), 3.0, 2, 4).tolist()
    [1, 1, 1, 1, 1, 1, 1, 1, 3, 3]
    """
    track = np.asarray(track, dtype=np.int64).copy()
    if len(track) < 2:
        return track
    size = np.bincount(track)
    candidates = np.nonzero((size > 0) & (size < short))[0]
    if candidates.size == 0:
        return track
    z = centres[:, 0].astype(np.int64)
    scale = distance / max(reach, 1)  # a slice counts as this much in-plane distance
    points = np.column_stack([z * scale, centres[:, 1], centres[:, 2]])
    tree = cKDTree(points)
    for chain in candidates[np.argsort(size[candidates], kind="stable")]:
        mine = np.nonzero(track == chain)[0]
        if mine.size == 0:
            continue
        common = None
        balls = tree.query_ball_point(points[mine], np.sqrt(2) * distance)
        for row, near in zip(mine, balls, strict=True):
            near = np.asarray(near, dtype=np.int64)
            near = near[
                (track[near] != chain)
                & (track[near] >= 0)
                & (np.abs(z[near] - z[row]) <= reach)
                & (np.hypot(*(centres[near, 1:3] - centres[row, 1:3]).T) <= distance)
            ]
            longer = near[size[track[near]] > size[chain]]
            found = set(track[longer].tolist())
            common = found if common is None else common & found
            if not common:
                break
        if not common:
            continue
        into = max(common, key=lambda c: (size[c], -c))
        taken = set(z[track == into].tolist())
        duplicate = np.isin(z[mine], list(taken))
        track[mine[duplicate]] = -1
        track[mine[~duplicate]] = into
        size[into] += int((~duplicate).sum())
        size[chain] = 0
    return track
