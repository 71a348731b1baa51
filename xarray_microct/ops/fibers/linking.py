"""Stage 2 of fiber detection: link per-slice centres along z into fibers.

Fibers are straight-ish and continuous along z, and two fibers never overlap. Linking
rests on these facts, in two steps:

1. Chains of links between consecutive slices (:func:`link_slices`): the centres of
   slices ``k`` and ``k + 1`` are paired by optimal one-to-one assignment within
   ``link_distance`` (:func:`slice_links`: the candidate pairs of all slices by one
   compiled sweep, the assignment solved only where a centre has a choice). A link
   depends on its two slices only, so slabs of ``SLAB`` slices are linked in parallel
   (:func:`link_slab`) and stitched at their borders by the same rule
   (:func:`stitch_slabs`): the chains do not depend on the slab size nor on the
   chunking.
2. Fibers from the chains, from their overlaps and their ends only:
   :func:`merge_pieces` folds chains that overlap on the slices they share (a fiber's
   cross-section found as two regions, for a few slices or many) into one fiber, and
   :func:`join_fragments` continues a chain that ended by the chain that starts where
   its axis, extended along its own direction, arrives (a fiber lost for a while and
   found again).

:func:`link_centres` links one set of centres (step 1, then joins across short gaps;
no merging, which needs radii); :func:`z_coherence` tells a fiber bed from a volume
without fibers.

Lab book (thirty-ninth session, 2026-12-05): fibers cut by the sides of dense, noisy,
wavy beds counted two or three times. On an independent user-like phantom (uint16 25
000-35 000, 40 slices of 128², z spacing 2 × the pixel, a dense bed of radius 3-3.5
pixels touching to 0.1 pixel, noise 0.4-0.45, the bed waving 1.5-2 pixels and tilted
3-4°, all fibers spanning the height) ``count`` was 269 for 262, 273 for 267 and 206 for
192 (seeds 32, 34 and 35; at radius 4 and 5.5, seeds 31 and 33: 166/169, 98/96) while
``count_inside`` was right (195/194, 201/202, 134/132). Every extra chain was a fiber
whose axis runs along the side (its mean centre 2.5 pixels outside to 1.3 inside), seen
as a sliver where the bed's wave brings it in: lost for 4-18 slices, found again at the
same side, its pieces both cut there, so :func:`join_fragments` refuses them ("a fiber
leaves, another enters"; 8, 7 and 11 such fibers; and one inside of seed 35, in two
chains overlapping on 2 slices). Tried, not kept: without that refusal the splits of
seeds 32 and 35 fall to 3 and 8 (count 260 and 202; no chain took two true fibers), the
rest refused by the axes, fitted on slivers and extended over the long gap across the
wave, not meeting within a radius. The refusal guards against a different fiber entering
where one left, which needs the bed to move by about a fiber's diameter towards the side
between the two: a sound rule would join cut pieces where the bed's own path (the median
step of the chains spanning the gap) moved less than a radius, and compare the pieces in
the bed's frame rather than by their extended axes; not done (no measure yet on the
linking sweep, ``benchmarks/fiber_linking.py``). Count the fibers inside
(``count_inside``) where the side's fibers wave in and out of the field.

Lab book (fortieth session, 2026-12-05): the join of side-cut pieces built
(:func:`side_joins`, ``join_fragments(side_skip=)``; :func:`detect_fibers
<xarray_microct.ops.fibers.detect_fibers>` joins across at most ``max_gap + 1`` slices).
Measured on beds of my own (numpy, not ``synthetic``: 48 slices of 128², dense random
sequential addition, gap 0.65 pixel, radius 3-6 pixels (log-normal 8 %), z spacing
1-2.5 × the pixel, noise 0.2-0.4, the whole bed moving 1.5-4 pixels along a sine or a
smoothed random walk plus a 1-4° tilt, each fiber its own 0.25-pixel wave; uint16 and
float32; the radius estimated; truth: a fiber's disk reaching a pixel into the field on
3 slices or more). Tuned on seeds 0-3, held out 7, 9, 10 (seed 8's bed moves 2 pixels a
slice: the pipeline finds no fibers there, before and after). Per seed, base → this:
count (truth) 255 → 252 (250), 269 → 266 (267), 302 → 284 (250); splits 8 → 5, 7 → 4,
58 → 40 (73 → 49; tuning seeds 73 → 55); wrong merges (a chain following two true fibers
3 slices or more) 0, 0, 0 before and after (tuning seeds 11 and 11); ``count_inside``
184, 184, 161 unchanged (truth 184, 181, 157); per-slice F1 0.9960 → 0.9959, 0.9935 →
0.9937, 0.9875 → 0.9883. The evidence separates well: on seeds 0-2 the start's distance
from the end moved by the bed is 0.03-0.94 join distances for pieces of one fiber and
1.1-5 for pieces of two (seed 3: 4 of 35 under 1, among labels of slivers that the
truth matching cannot trust). Tried, not kept: any gap (no ``max_skip``): splits 73 → 19
but 3 wrong merges on seed 10 and F1 0.9875 → 0.9758, 0.996 → 0.9949: the settled fiber
is filled on every slice of its span, here where it was out of the field (false rows at
the side, 50-300 per bed); joining across long gaps needs those slices left empty (not
done: every slice of a fiber's span is the table's contract). The settled axis of a
fiber joined across the side can stay inside it: such fibers are flagged
``touches_side`` by the join itself (without, ``count_inside`` rose 161 → 164 on seed
10). ``benchmarks/fiber_linking.py``: every row identical, and the same with slabs of 40.
``benchmarks/fiber_scale.py --quick --phantom both``: F1, estimate, detected radius, fibers
identical; the radius columns move where the sweep's tilted fibers leave through the
side: better in 5 cells (fiber_bed R2 refined −0.4 → +0.1 %, whole −1.2 → −0.8 %; other
R2 whole +4.2 → +4.1 %; other R3 refined +1.7 → +1.6 %, whole +1.7 → +1.6 %), worse by
0.1 point in 3 (fiber_bed R3 whole −0.8 → −0.9 %, R20 bed −6.6 → −6.7 %; other R3 bed
−4.4 → −4.5 %: the bed's mean over all rows, side slivers included). Without the
3-slice floor on each piece, fiber_bed R2's refined error went −0.4 → +0.7 %.

Lab book (forty-first session, 2026-12-05): the scan's first and last slices (issue 13's
last miss: ``benchmarks/fiber_scale.py``'s textured bed at 2 pixels, noise 0.25, 15°,
110² × 32, seeds 1–3, F1 0.980 / 0.972 / 0.969). Measured first, per slice, the three
seeds summed, the per-slice rows before linking and the table (false positives / misses):
slice 0 84 / 97 and 48 / 104, slice 31 91 / 94 and 58 / 102, against 31–53 / 36–60 and
13–26 / 25–41 on slices 4–27; both rise over the 3–4 slices at either end. The
linking takes the middle's misses from about 47 to 30 a slice, but not the end slices'
(97 → 104). Of the table's misses on the end slice (0 or 31), 112 were sections of a
fiber whose chain stops short of it (95 of them missed by the per-slice rows too), 90
rows of the fiber there but off its centre (over half a radius; 54 off in the per-slice
rows too), 4 with no chain; per middle slice about 14 and 15. The end slices' errors are
scatter, not a bias: the per-slice rows' mean offset from the true centres (along the
tilt and across) is within ±0.1 pixel on every slice, their RMS 0.61–0.71 pixel on the
two end slices at either end against 0.46–0.66 on slices 4–27 (table 0.53–0.64
against 0.35–0.57): the
smoothing along the bed sees one side there (its taps beyond the volume left out), and
the axis near a chain's end is a line's end (:func:`chain_axes
<xarray_microct.kernels.chains.chain_axes>`). A fiber that stops a few slices before a
face is not filled there, as a gap in the middle is. So :func:`run_to_faces`: a fiber
seen up to within ``max_gap`` slices of the first or last slice runs on to it on its end
axis (rows not detected), the face treated as a gap the linking would bridge. The case,
seeds 1–3, F1 / ``F1in`` / the 8 end slices: 0.9798 / 0.9850 / 0.9641 → 0.9811 / 0.9849
/ 0.9696, 0.9723 / 0.9783 / 0.9540 → 0.9734 / 0.9783 / 0.9586, 0.9696 / 0.9763 / 0.9491
→ 0.9712 / 0.9765 / 0.9553 (seed 3, slice 0: 15 / 35 → 18 / 18, slice 31: 27 / 41 →
32 / 33). Running on from up to 1, 2, 3, 8 slices (prototype on the tables): seed 3
0.9699, 0.9704, 0.9704, 0.9712; ``max_gap`` (5) kept, a parameter the user already sets
for gaps. Held out (seed 4, the 2- and 3-pixel cases of both phantoms; ``fiber_scale.py
--quick --phantom both``; the per-slice rows of main's detection relinked by this code,
main's relinking of them giving its tables to the bit): see ``fiber_scale.py``'s lab book;
one case worse, the textured bed at 2 pixels, noise 0.05, 0°, seed 4, 0.9983 → 0.9980
(36 rows added, 3 on a true section, 21 within a radius of the side, 12 false: chains
off their fiber's centre by 0.5–1.4 radius that stopped short of the face). Tried, not
kept: leaving out added rows whose disk overlaps another fiber's row on the slice (over
0.5 / 0.75 / 1 × the sum of the radii): on seed 3 of the case it drops 2 / 9 / 34 of 70
right rows with 0 / 9 / 18 of 18 false ones, on that seed 4 case 3 of 3 right with 6 / 11
/ 12 of 12 false; a wash for a rule that needs every part's rows at once. The cross-ply
warning's bridged fibers (``detect._across_fibers``) count a row not detected only
between two detected ones, so that the rows run on are no bridge: its share of fibers on
the 27 tables measured here is the same before and after (0–2.0 %).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from xarray_microct.core.matching import optimal_pairs
from xarray_microct.kernels.chains import (
    chain_axes,
    dense_ids,
    end_sums,
    group_medians,
    group_order,
    merge_runs,
    near_pairs,
    path_ids,
    window_lines,
)

SLAB = 64  # slices linked by one task
# chain ends: one row per chain of a slab
END_COLUMNS = ("chain", "z_first", "y_first", "x_first", "z_last", "y_last", "x_last")
PIECES_OVERLAP = 0.75  # centres closer than this × the sum of radii: one fiber's pieces


def _first_row_ids(track: np.ndarray) -> np.ndarray:
    """Chain ids 1.. in the order of each chain's first row (rows sorted by slice, y, x)."""
    _, first, inverse = np.unique(track, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(1, len(first) + 1)
    return rank[inverse]


def _slice_runs(
    z: np.ndarray, y: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The rows by slice then ``y`` (None: already so), each slice's number and where its
    run starts in that order (one more bound: the end). Rows without a finite ``y, x``
    are left out of the order (they are near nothing)."""
    order = None
    finite = np.isfinite(y) & np.isfinite(x)
    if not finite.all():
        kept = np.flatnonzero(finite)
        order = kept[np.lexsort((y[kept], z[kept]))]
        z = z[order]
    elif np.any(np.diff(z) < 0) or np.any((np.diff(y) < 0) & (np.diff(z) == 0)):
        order = np.lexsort((y, z))
        z = z[order]
    slices, starts = np.unique(z, return_index=True)
    return order, slices, np.append(starts, len(z))


def slice_links(centres: np.ndarray, link_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The links of :func:`link_slices`: rows ``below[t]`` and ``above[t]`` linked.

    Per pair of consecutive slices, the optimal one-to-one assignment within
    ``link_distance`` of :func:`~xarray_microct.core.matching.optimal_pairs`, found
    faster: the candidate pairs by a sweep along ``y`` (:func:`near_pairs
    <xarray_microct.kernels.chains.near_pairs>`, all slices at once); a pair whose two
    centres have no other candidate is linked as it is (nearly every pair in a fiber
    bed); each group of candidates linked through shared centres (their connected
    components: the assignment is optimal on each alone) is solved by
    :func:`~xarray_microct.core.matching.optimal_pairs` on its centres in their order,
    which gives what it gives on the two whole slices.

    Parameters
    ----------
    centres : array of shape (n, >=3)
        Rows ``(z_index, y, x, ...)``, sorted by slice.
    link_distance : float
        As :func:`link_slices`.

    Returns
    -------
    below, above : array of int
        The linked rows, ``below`` on the slice before ``above``'s.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0], [0, 6.0, 5.0], [1, 5.8, 5.0], [1, 9.0, 5.0]])
    >>> [v.tolist() for v in slice_links(rows, link_distance=1.0)]
    [[1], [2]]
    """
    z = np.asarray(centres[:, 0], dtype=np.int64)
    yx = np.asarray(centres[:, 1:3], dtype=np.float64)
    order, slices, bounds = _slice_runs(z, yx[:, 0], yx[:, 1])
    ordered = yx if order is None else yx[order]
    step = np.flatnonzero(np.diff(slices) == 1)  # slices k, k + 1 consecutive
    runs = np.column_stack([bounds[step + 1], bounds[step + 2], bounds[step], bounds[step + 1]])
    above, below = near_pairs(
        ordered[:, 0], ordered[:, 1], runs, np.full(len(runs), float(link_distance))
    ).T
    if order is not None:
        above, below = order[above], order[below]
    # a pair whose two centres have no other candidate: linked (as optimal_pairs does)
    n = len(z)
    alone = (np.bincount(above, minlength=n)[above] == 1) & (
        np.bincount(below, minlength=n)[below] == 1
    )
    found_below, found_above = [below[alone]], [above[alone]]
    rest_above, rest_below = above[~alone], below[~alone]
    if rest_above.size:
        k = rest_above.size
        ends = np.concatenate([rest_above, n + rest_below])
        nodes, inverse = np.unique(ends, return_inverse=True)
        graph = coo_matrix((np.ones(k), (inverse[:k], inverse[k:])), shape=(len(nodes), len(nodes)))
        _, label = connected_components(graph, directed=False)
        group = label[inverse[:k]]
        by_group = np.argsort(group, kind="stable")
        for part in np.split(by_group, np.flatnonzero(np.diff(group[by_group])) + 1):
            ia, ib = np.unique(rest_above[part]), np.unique(rest_below[part])
            pa, pb, _ = optimal_pairs(yx[ia], yx[ib], link_distance)
            found_above.append(ia[pa])
            found_below.append(ib[pb])
    return np.concatenate(found_below), np.concatenate(found_above)


def link_slices(centres: np.ndarray, link_distance: float) -> np.ndarray:
    """Chains of links between consecutive slices: a chain id per row.

    The centres of slices ``k`` and ``k + 1`` are paired by optimal one-to-one
    assignment within ``link_distance``
    (:func:`~xarray_microct.core.matching.optimal_pairs`); a chain is a path of such
    links, with one centre on each slice of its span. Each link depends on its two
    slices only, so chains found slab by slab and stitched with the same rule at the
    slabs' borders are these.

    Parameters
    ----------
    centres : array of shape (n, >=3)
        Rows ``(z_index, y, x, ...)``, ``y, x`` in physical units, sorted by slice.
    link_distance : float
        Largest in-plane move of a fiber from one slice to the next.

    Returns
    -------
    array of int
        Chain id per row, numbered 1.. in the order of the chains' first rows.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0], [0, 9.0, 5.0], [1, 5.2, 5.0], [2, 9.0, 5.0]])
    >>> link_slices(rows, link_distance=1.0)
    array([1, 2, 1, 3])
    """
    z = np.asarray(centres[:, 0], dtype=np.int64)
    if np.any(np.diff(z) < 0):
        raise ValueError("link_slices: sort the centres by slice first")
    below, above = slice_links(centres, link_distance)
    return path_ids(below, above, len(z))


def link_centres(
    centres: np.ndarray,
    link_distance: float,
    max_gap: int = 2,
    min_slices: int = 3,
) -> np.ndarray:
    """Link per-slice centres into fibers; returns a fiber id per row (0: dropped).

    Chains of links between consecutive slices (:func:`link_slices`), joined across
    gaps of up to ``max_gap`` slices where their axes meet within ``link_distance``
    (:func:`join_fragments`).

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
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((centres[:, 2], centres[:, 1], centres[:, 0]))
    rows = np.asarray(centres, dtype=np.float64)[order]
    chain = link_slices(rows, link_distance)
    chain = join_fragments(rows, chain, link_distance, max_skip=max_gap + 1)
    kept = np.bincount(chain)[chain] >= min_slices
    fiber = np.zeros(n, np.int64)
    fiber[kept] = _first_row_ids(chain[kept])
    result = np.empty(n, np.int64)
    result[order] = fiber
    return result


def _axes_at(sums: np.ndarray, least: int) -> tuple[np.ndarray, np.ndarray]:
    """Per chain, the least-squares line of ``y, x`` against ``z`` at one of its ends, from
    the sums of :func:`end_sums <xarray_microct.kernels.chains.end_sums>`: its position
    at the end and its slope (NaN with fewer than ``least`` rows, or one slice)."""
    n, sz, szz = sums[:, 0], sums[:, 1], sums[:, 2]
    m = len(sums)
    position = np.empty((m, 2))
    slope = np.full((m, 2), np.nan)
    det = n * szz - sz * sz
    fitted = (n >= max(least, 2)) & (det > 1e-9 * np.maximum(n * szz, 1))
    for axis in range(2):
        sy, szy = sums[:, 3 + 2 * axis], sums[:, 4 + 2 * axis]
        with np.errstate(invalid="ignore", divide="ignore"):
            b = (n * szy - sz * sy) / det
        slope[fitted, axis] = b[fitted]
        position[:, axis] = np.where(
            fitted, (sy - b * sz) / np.maximum(n, 1), sy / np.maximum(n, 1)
        )
    return position, slope


def join_fragments(
    centres: np.ndarray,
    track: np.ndarray,
    join_distance: float,
    max_skip: int | None = None,
    window: int = 8,
    cut: np.ndarray | None = None,
    side_skip: int | None = None,
) -> np.ndarray:
    """Join chains of one fiber interrupted along z: the ends that the fiber's axis links.

    Fibers are straight-ish and continuous along z: a fiber lost for a while (pressed
    against its neighbours, a faint stretch, a pore) and found again lies on the
    prolongation of its axis. A chain's axis at its end (and at its start) is the line
    fitted to its centres on its last (first) ``window`` slices; a chain with centres on
    fewer than half of them takes the median direction of the others (the fibers of a
    bed run nearly parallel). A chain B that starts after chain A ended continues it
    when A's axis extended forwards and B's extended backwards meet, in the middle of
    the gap, within ``join_distance`` in-plane. Pairs are taken shortest interruption
    first (then closest), each chain end and start at most once: a fiber found in three
    pieces A, B, C is joined A–B–C, never A–C leaving B aside. A chain that ends cut
    by the volume's side (the fiber leaves the field of view) is not continued by one
    that starts cut by it (a fiber enters) by their axes; with ``side_skip``, it is
    where the bed's own motion across the gap brings the one to the other, within
    ``side_skip`` slices (:func:`side_joins`).

    Parameters
    ----------
    centres : array of shape (n, >=3)
        Rows ``(z_index, y, x, ...)`` as for :func:`link_centres`.
    track : array of int
        Chain id per row (any ids); a chain has at most one centre per slice.
    join_distance : float
        Largest in-plane distance between the two axes where they meet.
    max_skip : int, optional
        Largest step in slices from an end to the start that continues it (default:
        any).
    window : int
        Slices at each end of a chain whose centres give its axis there.
    cut : array of bool, optional
        Rows whose fiber the volume's side cuts on that slice (see :func:`cut_by_side`);
        only each chain's first and last row are read.
    side_skip : int, optional
        Join chains cut by the side by :func:`side_joins`, across at most this many
        slices (None: never; :func:`~xarray_microct.ops.fibers.detect_fibers` gives
        ``max_gap + 1``). Needs ``cut``.

    Returns
    -------
    array of int
        Chain id per row, joined chains sharing the id of their first part.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0], [1, 5.0, 5.1], [9, 5.2, 5.0], [10, 5.2, 5.1],
    ...                  [0, 30.0, 5.0], [10, 30.0, 5.0]])
    >>> join_fragments(rows, np.array([1, 1, 2, 2, 3, 4]), join_distance=1.0)
    array([1, 1, 1, 1, 3, 3])
    """
    ends, index = chain_end_axes(centres, track, window, cut)
    if len(ends.ids) < 2:
        return np.asarray(track)
    side = None
    if cut is not None and side_skip is not None:
        side = side_joins(centres, index, ends, join_distance, side_skip)
    return ends.ids[join_ends(ends, join_distance, max_skip, side)][index]


class ChainEnds(NamedTuple):
    """Per chain (its ids sorted), what :func:`join_fragments` weighs: its first and last
    slice, its axis at each end (position and slope; NaN: too few rows to fit) and
    whether the volume's side cuts it there (None: not known)."""

    ids: np.ndarray
    first: np.ndarray
    last: np.ndarray
    start_at: np.ndarray
    start_slope: np.ndarray
    end_at: np.ndarray
    end_slope: np.ndarray
    enters: np.ndarray | None
    leaves: np.ndarray | None

    def subset(self, chains: np.ndarray) -> ChainEnds:
        """The chains of the boolean mask ``chains``."""
        return ChainEnds(*(None if v is None else v[chains] for v in self))


def chain_end_axes(
    centres: np.ndarray, track: np.ndarray, window: int = 8, cut: np.ndarray | None = None
) -> tuple[ChainEnds, np.ndarray]:
    """The :class:`ChainEnds` of the chains of ``track`` and each row's chain in them.

    A chain's axis at its start (end) is the line fitted to its centres on its first
    (last) ``window`` slices, from its own rows (in slice order): the chains of a subset
    have the values they have among all. Parameters as :func:`join_fragments`.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0], [1, 5.0, 5.5], [3, 9.0, 9.0]])
    >>> ends, index = chain_end_axes(rows, np.array([4, 4, 7]), window=4)
    >>> ends.ids.tolist(), ends.last.tolist(), ends.end_slope[0].tolist(), index.tolist()
    ([4, 7], [1.0, 3.0], [0.0, 0.5], [0, 0, 1])
    """
    ids, index = dense_ids(track)
    m = len(ids)
    z = np.asarray(centres[:, 0], dtype=np.float64)
    order, bounds = _chain_order(z, index, m)
    first, last, head, tail = end_sums(z, centres[:, 1:3], order, bounds, window)
    least = max(2, (window + 1) // 2)
    start_at, start_slope = _axes_at(head, least)
    end_at, end_slope = _axes_at(tail, least)
    enters = leaves = None
    if cut is not None:
        enters = np.asarray(cut, bool)[order[bounds[:-1]]]
        leaves = np.asarray(cut, bool)[order[bounds[1:] - 1]]
    ends = ChainEnds(ids, first, last, start_at, start_slope, end_at, end_slope, enters, leaves)
    return ends, index


def join_ends(
    chains: ChainEnds,
    join_distance: float,
    max_skip: int | None = None,
    side: np.ndarray | None = None,
) -> np.ndarray:
    """The rule of :func:`join_fragments` on chains' ends: each chain's first part.

    ``side``: the pairs of chains cut by the side that may join too (:func:`side_joins`),
    taken in the same order as the others (shortest interruption first).

    Returns
    -------
    array of int
        Per chain, the index (in ``chains``) of the first part of the fiber it joins.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0], [1, 5.0, 5.1], [9, 5.2, 5.0], [10, 5.2, 5.1]])
    >>> join_ends(chain_end_axes(rows, np.array([1, 1, 2, 2]))[0], 1.0).tolist()
    [0, 0]
    """
    m = len(chains.ids)
    first, last, start_at, end_at = chains.first, chains.last, chains.start_at, chains.end_at
    if m < 2:
        return np.arange(m)
    known = np.concatenate([chains.start_slope, chains.end_slope])
    known = known[~np.isnan(known[:, 0])]
    bed = np.median(known, axis=0) if len(known) else np.zeros(2)
    start_slope = np.where(np.isnan(chains.start_slope), bed, chains.start_slope)
    end_slope = np.where(np.isnan(chains.end_slope), bed, chains.end_slope)
    # candidates: starts near each end in coordinates that follow the bed's direction
    # (as arrays: the lists of query_ball_point took longer than the rest of the join)
    near = cKDTree(end_at - last[:, None] * bed).sparse_distance_matrix(
        cKDTree(start_at - first[:, None] * bed), 3 * join_distance, output_type="ndarray"
    )
    ends, starts = near["i"].astype(np.int64), near["j"].astype(np.int64)
    skip = first[starts] - last[ends]
    keep = (skip > 0) & (skip <= (np.inf if max_skip is None else max_skip))
    ends, starts, skip = ends[keep], starts[keep], skip[keep]
    middle = 0.5 * (first[starts] + last[ends])
    forward = end_at[ends] + end_slope[ends] * (middle - last[ends])[:, None]
    backward = start_at[starts] + start_slope[starts] * (middle - first[starts])[:, None]
    gap = np.hypot(*(forward - backward).T)
    keep = gap <= join_distance
    if chains.enters is not None and chains.leaves is not None:
        keep &= ~(chains.leaves[ends] & chains.enters[starts])
    ends, starts, skip, gap = ends[keep], starts[keep], skip[keep], gap[keep]
    if side is not None and len(side):  # pairs cut by the side, of :func:`side_joins`
        ends = np.concatenate([ends, side[:, 0].astype(np.int64)])
        starts = np.concatenate([starts, side[:, 1].astype(np.int64)])
        skip = np.concatenate([skip, first[starts[len(skip) :]] - last[ends[len(skip) :]]])
        gap = np.concatenate([gap, side[:, 2]])
    # shortest interruption first, then closest (ties: by end, then start)
    predecessor = _take_pairs(ends, starts, np.lexsort((starts, ends, gap, skip)), m)
    root = predecessor
    while True:  # follow predecessors to the first part of each joined fiber
        deeper = root[root]
        if np.array_equal(deeper, root):
            break
        root = deeper
    return root


# the rule of :func:`side_joins` (lengths: × the join distance, about a fiber's radius)
SIDE_TOLERANCE = 1.0  # largest distance of the start from the end moved with the bed
SIDE_RIVAL = 2.0  # another candidate of either piece within this: no join
SIDE_REACH = 3.0  # largest distance between the end and the start themselves
SIDE_NEAR = 8.0  # neighbours of the end within this give the bed's motion...
SIDE_USED = 6  # ...the nearest this many of those that span the gap...
SIDE_NEIGHBOURS = 3  # ...and at least this many (else: no join)
SIDE_MIN_SLICES = 3  # each piece seen on this many slices (a sliver of one or two: no evidence)


def side_joins(
    centres: np.ndarray,
    index: np.ndarray,
    chains: ChainEnds,
    join_distance: float,
    max_skip: int,
) -> np.ndarray:
    """Chains cut by the side that continue each other: the pairs the bed's motion makes one.

    A fiber along the volume's side leaves the field and comes back where the bed waves;
    its two pieces both end cut by the side, and :func:`join_ends` refuses to join such
    ends by their axes (a different fiber may enter where one left; a sliver's axis is
    no guide). A different fiber can only enter there if the bed moved by about a fiber's
    diameter, and the bed's motion is seen: the chains near the end that span the gap.
    So a chain that leaves cut by the side (its last row) continues as the chain that
    enters cut by it (its first row), at most ``max_skip`` slices later, when:

    * the start lies within :data:`SIDE_TOLERANCE` ``× join_distance`` of the end moved
      by the bed: the median displacement, from the end's slice to the start's, of the
      :data:`SIDE_USED` nearest chains (within :data:`SIDE_NEAR` ``× join_distance`` of
      the end) present on both slices, at least :data:`SIDE_NEIGHBOURS` of them;
    * no other candidate of either piece across as short a gap or shorter comes within
      :data:`SIDE_RIVAL` ``× join_distance`` (a fiber with two possible continuations
      stays apart: the data cannot tell);
    * both pieces span :data:`SIDE_MIN_SLICES` slices or more.

    A chain's values depend on its own rows and its neighbours' only: the same for the
    rows in any order. On dense wavy beds with fibers along the sides (numpy phantoms of
    radius 3-6 pixels, seeds not tuned on) the extra chains fall from 73 to 49 with no
    wrong join (lab book of this module).

    Parameters
    ----------
    centres : array of shape (n, >=3)
        Rows ``(z_index, y, x, ...)``.
    index : array of int
        Each row's chain, as an index into ``chains``.
    chains : ChainEnds
        The chains (from :func:`chain_end_axes` with ``cut``).
    join_distance : float
        The join's distance (about a fiber's radius).
    max_skip : int
        Largest step in slices from an end to the start that continues it.

    Returns
    -------
    array of shape (k, 3)
        ``(end, start, distance)``: the chains (indices into ``chains``) and the start's
        distance from the end moved with the bed, for :func:`join_ends`.

    Examples
    --------
    >>> z = np.repeat(np.arange(12), 4)  # a fiber at the side y = 0, three inside
    >>> rows = np.column_stack([z, np.tile([2.0, 9, 9, 9], 12), np.tile([30.0, 20, 30, 40], 12),
    ...                         np.full(48, 3.0)])
    >>> track = np.tile([1, 3, 4, 5], 12)
    >>> track[(track == 1) & (z > 6)] = 2  # out of the field on slices 5 and 6
    >>> rows, track = rows[(track > 2) | (z < 5) | (z > 6)], track[(track > 2) | (z < 5) | (z > 6)]
    >>> cut = cut_by_side(rows, track, (0.0, 50.0, 0.0, 60.0), 4)
    >>> ends, index = chain_end_axes(rows, track, 4, cut)
    >>> side_joins(rows, index, ends, 3.0, 5).tolist()
    [[0.0, 1.0, 0.0]]
    """
    empty = np.zeros((0, 3))
    if chains.leaves is None or chains.enters is None:
        return empty
    m = len(chains.ids)
    z = np.asarray(centres[:, 0], dtype=np.float64)
    order, bounds = _chain_order(z, index, m)
    head, tail = order[bounds[:-1]], order[bounds[1:] - 1]
    leaving, entering = np.flatnonzero(chains.leaves), np.flatnonzero(chains.enters)
    if not len(leaving) or not len(entering):
        return empty
    near = cKDTree(centres[tail[leaving], 1:3]).sparse_distance_matrix(
        cKDTree(centres[head[entering], 1:3]), SIDE_REACH * join_distance, output_type="ndarray"
    )
    a, b = leaving[near["i"]], entering[near["j"]]
    skip = chains.first[b] - chains.last[a]
    seen = chains.last - chains.first + 1  # slices of each chain's span
    keep = (skip > 0) & (skip <= max_skip) & (a != b)
    keep &= (seen[a] >= SIDE_MIN_SLICES) & (seen[b] >= SIDE_MIN_SLICES)
    a, b, skip = a[keep], b[keep], skip[keep]
    if not len(a):
        return empty
    # each chain's row on a slice, by the key (chain, slice); the rows of each slice
    zi = z.astype(np.int64)
    low = int(zi.min())
    height = int(zi.max()) - low + 1
    key = index.astype(np.int64) * height + (zi - low)
    by_key = np.argsort(key, kind="stable")
    keys = key[by_key]
    by_slice = np.argsort(zi, kind="stable")
    slices, starts = np.unique(zi[by_slice], return_index=True)
    starts = np.append(starts, len(by_slice))
    trees: dict[int, tuple[np.ndarray, cKDTree]] = {}
    residual = np.full(len(a), np.inf)
    for t, (i, j) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        z_end, z_start = int(chains.last[i]), int(chains.first[j])
        if z_end not in trees:
            k = int(np.searchsorted(slices, z_end))
            here = by_slice[starts[k] : starts[k + 1]]
            trees[z_end] = (here, cKDTree(centres[here, 1:3]))
        here, tree = trees[z_end]
        at = centres[tail[i], 1:3]
        before = here[sorted(tree.query_ball_point(at, SIDE_NEAR * join_distance))]
        before = before[(index[before] != i) & (index[before] != j)]
        wanted = index[before].astype(np.int64) * height + (z_start - low)
        found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        spans = keys[found] == wanted  # the neighbour's chain is on the start's slice
        if spans.sum() < SIDE_NEIGHBOURS:
            continue
        before, after = before[spans], by_key[found[spans]]
        # the nearest, ties by position (y, x): the same whatever the order of the rows
        # (by row index it was not; detect_fibers' rows come in (slice, y, x) order)
        distance = np.hypot(*(centres[before, 1:3] - at).T)
        nearest = np.lexsort((centres[before, 2], centres[before, 1], distance))[:SIDE_USED]
        motion = np.median(centres[after[nearest], 1:3] - centres[before[nearest], 1:3], axis=0)
        residual[t] = float(np.hypot(*(centres[head[j], 1:3] - at - motion)))
    close = np.flatnonzero(residual <= SIDE_TOLERANCE * join_distance)
    rival = np.flatnonzero(residual <= SIDE_RIVAL * join_distance)
    # a rival: another candidate of the end or of the start, across as short a gap or
    # shorter (a third piece, farther along the fiber, is none)
    alone = [
        not np.any(
            ((a[rival] == a[t]) | (b[rival] == b[t])) & (skip[rival] <= skip[t]) & (rival != t)
        )
        for t in close.tolist()
    ]
    chosen = close[np.asarray(alone, bool)]
    return np.column_stack([a[chosen], b[chosen], residual[chosen]]).astype(np.float64)


def _take_pairs(ends: np.ndarray, starts: np.ndarray, order: np.ndarray, m: int) -> np.ndarray:
    """Each chain's predecessor (itself: none) from the candidate pairs ``(ends[i],
    starts[i])`` taken in ``order``, each chain's end and start at most once.

    Examples
    --------
    >>> _take_pairs(np.array([0, 0, 1]), np.array([1, 2, 2]), np.array([0, 1, 2]), 3).tolist()
    [0, 0, 1]
    """
    predecessor = np.arange(m)
    ended, started = bytearray(m), bytearray(m)
    for end, start in zip(ends[order].tolist(), starts[order].tolist(), strict=True):
        if not (ended[end] or started[start]):
            ended[end] = started[start] = 1
            predecessor[start] = end
    return predecessor


def _chain_order(z: np.ndarray, index: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.lexsort((z, index))`` for chain indices ``0..m-1``, and where each chain's
    run starts in it; linear (a counting sort) when the rows come sorted by ``z``, or
    chain after chain, each by ``z``."""
    if np.all(z[1:] >= z[:-1]):  # stable by chain: each chain's rows stay in z order
        return group_order(index, m)
    step = index[1:] != index[:-1]
    if np.all(index[1:] >= index[:-1]) and np.all(step | (z[1:] >= z[:-1])):
        # chain after chain, each in z order already
        return np.arange(len(index)), np.searchsorted(index, np.arange(m + 1))
    order = np.lexsort((z, index))
    return order, np.searchsorted(index[order], np.arange(m + 1))


def cut_by_side(
    rows: np.ndarray,
    track: np.ndarray,
    sides: tuple[float, float, float, float],
    window: int = 1,
    ends_only: bool = False,
) -> np.ndarray:
    """Rows whose fiber the volume's side cuts: the disk of the fiber's axis and of its
    chain's median radius (per-slice radii wobble where neighbours touch) passes the
    centres of the pixels on the side.

    The axis at a row is the line fitted to the chain's centres on the ``window`` rows
    around it (:func:`window_lines <xarray_microct.kernels.chains.window_lines>`): a
    fiber runs closest to the side on one of many slices, and the noise of single
    centres would push that extreme outwards. A chain's answers depend on its own rows
    only.

    Parameters
    ----------
    rows : array of shape (n, 4)
        Rows ``(z_index, y, x, radius)``.
    track : array of int
        Chain id per row.
    sides : (float, float, float, float)
        ``y`` of the first and last row of pixels, ``x`` of the first and last column.
    window : int
        Rows of a chain fitted around each of its rows (1: the centres themselves).
    ends_only : bool
        Only each chain's first and last row (by slice) are answered, the others are
        False: what :func:`join_fragments` reads, for a fraction of the cost.

    Examples
    --------
    >>> rows = np.array([[0, 2.5, 5.0, 2.0], [1, 1.5, 5.0, 4.0], [0, 5.0, 5.0, 2.0]])
    >>> cut_by_side(rows, np.array([1, 1, 2]), (0.0, 10.0, 0.0, 10.0)).tolist()
    [True, True, False]
    """
    y_low, y_high, x_low, x_high = sides
    ids, index = dense_ids(track)
    order, bounds = _chain_order(rows[:, 0], index, len(ids))
    r = group_medians(rows[:, 3], order, bounds)[index]
    at = np.unique(np.concatenate([bounds[:-1], bounds[1:] - 1])) if ends_only else None
    if window > 1:
        # the fiber's axis at each row: the line fitted to its chain's nearby centres
        y, x = window_lines(rows, order, index, bounds, window // 2, at).T
    else:
        y, x = rows[:, 1], rows[:, 2]
    cut = (y - r < y_low) | (y + r > y_high) | (x - r < x_low) | (x + r > x_high)
    if at is None:
        return cut
    ends = np.zeros(len(cut), bool)
    ends[order[at]] = True
    return cut & ends


def piece_pairs(rows: np.ndarray, overlap: float = PIECES_OVERLAP) -> np.ndarray:
    """Pairs of centres on one slice close enough to be pieces of one fiber.

    The candidates :func:`merge_pieces` weighs: on each slice, the centres closer than
    ``overlap ×`` the sum of their radii (searched within ``2 × overlap ×`` the slice's
    largest radius of each other by a sweep along ``y``: :func:`near_pairs
    <xarray_microct.kernels.chains.near_pairs>`; found here, in the slab tasks, the pairs
    of touching fibers never reach the serial assembly). Slice by slice, so the
    pairs of a run of whole slices (a slab) are found on their own: those of the rows
    of consecutive slabs, each offset by the rows before it, are the pairs of all the
    rows, in the same order.

    Parameters
    ----------
    rows : array of shape (n, 4)
        Rows ``(z_index, y, x, radius)``.
    overlap : float
        As :func:`merge_pieces`.

    Returns
    -------
    array of shape (k, 2)
        Row indices ``(i, j)``, ``i < j``, slice by slice in the order of the slices, then
        by ``i`` and ``j``.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0, 3.0], [0, 8.0, 5.0, 3.0], [1, 5.0, 5.0, 3.0]])
    >>> piece_pairs(rows).tolist()
    [[0, 1]]
    """
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    z = rows[:, 0].astype(np.int64)
    order, _, bounds = _slice_runs(z, rows[:, 1], rows[:, 2])
    ordered = rows if order is None else rows[order]
    # within 2 × overlap × the slice's largest radius: the pairs that may be close enough
    largest = np.fmax.reduceat(ordered[:, 3], bounds[:-1]) if len(ordered) else np.zeros(0)
    runs = np.column_stack([bounds[:-1], bounds[1:], bounds[:-1], bounds[1:]])
    i, j = near_pairs(
        ordered[:, 1], ordered[:, 2], runs, 2 * overlap * largest, ordered[:, 3], overlap
    ).T
    if order is not None:
        i, j = order[i], order[j]
    a, b = np.minimum(i, j), np.maximum(i, j)
    close = _piece_ratio(rows, a, b) < overlap
    a, b = a[close], b[close]
    sort = np.lexsort((b, a, z[a]))
    return np.column_stack([a[sort], b[sort]])


def _piece_ratio(rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance between the centres of rows ``a`` and ``b`` over the sum of their radii."""
    distance = np.hypot(rows[a, 1] - rows[b, 1], rows[a, 2] - rows[b, 2])
    return distance / (rows[a, 3] + rows[b, 3])


def merge_pieces(
    rows: np.ndarray,
    track: np.ndarray,
    overlap: float = PIECES_OVERLAP,
    pairs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold chains that overlap on the slices they share into one fiber.

    Two fibers do not overlap: on a slice their centres lie at least the sum of their
    radii apart (touching fibers: the sum). Where one fiber's cross-section is found as
    two regions (for a few slices or many) two chains run along it, with centres much
    closer: the two halves of a disk of radius R have centroids 0.85 R apart and radii
    0.71 R each, 0.6 of their sum. Two chains whose centres lie closer than ``overlap``
    × the sum of their radii on at least half of the slices they share are one fiber
    (closest pairs first, never merging two chains that share slices without being
    close there: a stray piece between two fibers does not join them); on each slice
    their pieces become one centre (the area-weighted mean: the centroid
    of the pieces together) and one radius (of the disk with their summed area).

    Parameters
    ----------
    rows : array of shape (n, 4)
        Rows ``(z_index, y, x, radius)``.
    track : array of int
        Chain id per row (ids >= 0), each chain with one centre on each slice of its
        span (chains of :func:`link_slices`).
    overlap : float
        Centres closer than this fraction of the sum of their radii are one fiber's.
    pairs : array of shape (k, 2), optional
        The :func:`piece_pairs` of ``rows`` with this ``overlap``, when found already
        (slab by slab, in parallel); found here otherwise.

    Returns
    -------
    rows : array of shape (m, 4)
        The rows, pieces of one fiber on one slice combined, sorted by slice, y, x.
    track : array of int
        Chain id per row: merged chains take the smallest of their ids.

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0, 3.0], [1, 5.0, 5.0, 3.0], [2, 5.0, 5.0, 3.0],
    ...                  [1, 8.0, 5.0, 3.0], [2, 8.0, 5.0, 3.0], [2, 14.0, 5.0, 4.0]])
    >>> merged, track = merge_pieces(rows, np.array([1, 1, 1, 2, 2, 3]))
    >>> track.tolist(), merged[:, 1].tolist()
    ([1, 1, 1, 3], [5.0, 6.5, 6.5, 14.0])
    """
    rows = np.asarray(rows, dtype=np.float64)
    track = np.asarray(track, dtype=np.int64)
    if len(rows) < 2:
        return rows, track
    ids, index = dense_ids(track)
    z = rows[:, 0].astype(np.int64)
    radius = rows[:, 3]
    # pairs of centres of one slice within reach of each other
    a, b = (piece_pairs(rows, overlap) if pairs is None else np.asarray(pairs)).T
    ratio = _piece_ratio(rows, a, b)
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
    members: dict[int, list[int]] = {}  # of each group's root (one chain when absent)
    for p, q in chains[np.lexsort((chains[:, 1], chains[:, 0], mean_ratio))].tolist():
        rp, rq = root[p], root[q]
        if rp == rq:
            continue
        one, other = np.array(members.get(rp, [rp])), np.array(members.get(rq, [rq]))
        gp, gq = np.meshgrid(one, other, indexing="ij")
        gp, gq = np.minimum(gp, gq).ravel(), np.maximum(gp, gq).ravel()
        overlapping = shared(gp, gq) > 0
        if any(pair not in same for pair in zip(gp[overlapping], gq[overlapping], strict=True)):
            continue
        keep, drop = min(rp, rq), max(rp, rq)
        members[keep] = members.get(keep, [keep]) + members.pop(drop, [drop])
        root[members[keep]] = keep
    # only the rows of chains merged with others change: the others stay as they were,
    # to the bit, in their order; the two runs are merged in (slice, y, x) order
    group = root[index]
    by_chain, _ = _chain_order(z, index, len(ids))
    zs, cs = z[by_chain], index[by_chain]
    doubled = np.zeros(len(ids), bool)  # chains with two rows on one slice
    doubled[cs[1:][(zs[1:] == zs[:-1]) & (cs[1:] == cs[:-1])]] = True
    changed = (np.bincount(root, minlength=len(ids))[group] > 1) | doubled[index]
    span = int(z.max()) - int(z.min()) + 1
    key, inverse = np.unique(group[changed] * span + (z[changed] - z.min()), return_inverse=True)
    groups = np.column_stack([key // span, key % span + z.min()])
    area = radius[changed] ** 2
    total = np.bincount(inverse, area)
    y = np.bincount(inverse, area * rows[changed, 1]) / total
    x = np.bincount(inverse, area * rows[changed, 2]) / total
    pieces = np.column_stack([groups[:, 1], y, x, np.sqrt(total), groups[:, 0]])
    alone = np.bincount(inverse, minlength=len(key))[inverse] == 1
    pieces[inverse[alone], :4] = rows[changed][alone, :4]
    pieces = pieces[np.lexsort((pieces[:, 4], pieces[:, 2], pieces[:, 1], pieces[:, 0]))]
    merged = None if np.isnan(rows[:, :3]).any() else merge_runs(rows, group, changed, pieces)
    if merged is None:  # rows not sorted by (slice, y, x): sort them all
        stacked = np.concatenate([np.column_stack([rows[~changed, :4], group[~changed]]), pieces])
        stacked = stacked[np.lexsort(stacked[:, [4, 2, 1, 0]].T)]
        merged = stacked[:, :4], stacked[:, 4].astype(np.int64)
    return merged[0], ids[merged[1]]


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


def slab_part(part: np.ndarray, z_start: int, z_stop: int) -> np.ndarray:
    """The rows of slices ``z_start:z_stop`` (a slice of the part when sorted by slice).

    Examples
    --------
    >>> slab_part(np.array([[0, 1.0], [2, 5.0], [3, 1.0]]), 1, 3).tolist()
    [[2.0, 5.0]]
    """
    z = part[:, 0]
    if np.all(z[1:] >= z[:-1]):
        return part[np.searchsorted(z, z_start) : np.searchsorted(z, z_stop)]
    return part[(z >= z_start) & (z < z_stop)]


def slice_order(rows: np.ndarray) -> np.ndarray:
    """``numpy.lexsort((x, y, z))`` of rows ``(z, y, x, ...)``, faster.

    One sort of a single key that orders by slice, then ``y``; rows of one slice with
    the same ``y`` (centroids of small regions can share one) ordered by ``x``, then by
    their position (lexsort is stable). Where rounding makes the key miss the order
    (checked), ``numpy.lexsort`` itself.

    Examples
    --------
    >>> rows = np.array([[1, 2.0, 0.0], [0, 5.0, 1.0], [0, 5.0, 0.0], [0, 1.0, 9.0]])
    >>> slice_order(rows).tolist()
    [3, 2, 1, 0]
    """
    z, y, x = rows[:, 0], rows[:, 1], rows[:, 2]
    if len(rows) == 0 or not np.isfinite(rows[:, :3]).all():
        return np.lexsort((x, y, z))
    low, high = float(y.min()), float(y.max())
    order = np.argsort((z - z.min()) * (2 * (high - low) + 1) + (y - low))
    zs, ys = z[order], y[order]
    same = (zs[1:] == zs[:-1]) & (ys[1:] == ys[:-1])
    if not np.all(same | (zs[1:] > zs[:-1]) | ((zs[1:] == zs[:-1]) & (ys[1:] > ys[:-1]))):
        return np.lexsort((x, y, z))
    if same.any():  # runs of one (z, y): by x, then by position, each run where it is
        run = np.cumsum(np.concatenate([[True], ~same]))
        tied = np.flatnonzero(np.concatenate([same, [False]]) | np.concatenate([[False], same]))
        members = order[tied]
        order[tied] = members[np.lexsort((members, x[members], run[tied]))]
    return order


def link_slab(
    parts: list[np.ndarray],
    z_start: int,
    z_stop: int,
    spacing: tuple[float, float],
    origin: tuple[float, float],
    link_distance: float,
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
    link_distance : float
        As :func:`link_slices`.

    Returns
    -------
    rows : array
        The slab's rows sorted by slice, y, x, with ``y, x`` in physical units.
    chain : array of int
        Chain id per row, 1.. within the slab (see :func:`link_slices`).

    Examples
    --------
    >>> part = np.array([[0, 2.0, 2.0, 5.0], [1, 2.0, 2.0, 5.0], [5, 2.0, 2.0, 5.0]])
    >>> rows, chain = link_slab([part], 0, 4, (0.5, 0.5), (0.0, 0.0), 1.0)
    >>> rows[:, :3].tolist(), chain.tolist()
    ([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]], [1, 1])
    """
    rows = gather_slab(parts, z_start, z_stop, spacing, origin)
    return rows, link_slices(rows, link_distance)


def gather_slab(
    parts: list[np.ndarray],
    z_start: int,
    z_stop: int,
    spacing: tuple[float, float],
    origin: tuple[float, float],
) -> np.ndarray:
    """The rows of slices ``z_start:z_stop``, in physical units, sorted by slice, y, x:
    those of :func:`link_slab` (whose chains and piece pairs can then be found apart).

    Examples
    --------
    >>> part = np.array([[1, 2.0, 2.0, 5.0], [0, 4.0, 2.0, 5.0], [5, 2.0, 2.0, 5.0]])
    >>> gather_slab([part], 0, 4, (0.5, 0.5), (0.0, 0.0))[:, :3].tolist()
    [[0.0, 2.0, 1.0], [1.0, 1.0, 1.0]]
    """
    rows = np.concatenate([slab_part(p, z_start, z_stop) for p in parts] or [np.zeros((0, 4))])
    rows[:, 1] = origin[0] + rows[:, 1] * spacing[0]
    rows[:, 2] = origin[1] + rows[:, 2] * spacing[1]
    return rows[slice_order(rows)]


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
    below: np.ndarray, above: np.ndarray, border: int, link_distance: float
) -> np.ndarray:
    """Chains of the slab below a border continued by chains of the slab above it.

    The rule of :func:`link_slices` across the border: the chains ending on the last
    slice below it and those starting on its first slice are paired by optimal
    one-to-one assignment within ``link_distance``.

    Parameters
    ----------
    below, above : array
        :func:`chain_ends` of the two slabs.
    border : int
        First slice of the slab above.
    link_distance : float
        As :func:`link_slices`.

    Returns
    -------
    array of shape (n, 2)
        Pairs ``(chain below, chain above)``.

    Examples
    --------
    >>> below = np.array([[1, 0, 5.0, 5.0, 9, 5.0, 5.0], [2, 0, 9.0, 9.0, 4, 9.0, 9.0]])
    >>> above = np.array([[1, 10, 5.2, 5.0, 20, 5.0, 5.0], [2, 10, 9.0, 9.0, 20, 9.0, 9.0]])
    >>> stitch_slabs(below, above, border=10, link_distance=1.0).tolist()
    [[1, 1]]
    """
    ends = below[below[:, 4] == border - 1]
    starts = above[above[:, 1] == border]
    ia, ib, _ = optimal_pairs(starts[:, 2:4], ends[:, 5:7], link_distance)
    return np.column_stack([ends[ib, 0], starts[ia, 0]]).astype(np.int64).reshape(-1, 2)


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


def settle_on_axes(
    rows: np.ndarray,
    track: np.ndarray,
    half: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Each fiber's centres on its local axis, on every slice of its span.

    A fiber is straight over a few radii and present on every slice between its first
    and last: per-slice centres scatter about its axis (noise on a section of a few
    pixels), a section is missed on some slices (too faint, pressed against a
    neighbour), and two touching fibers found as one region give a centre between
    them, on neither. So, per fiber (rows sorted by slice), with :func:`chain_axes
    <xarray_microct.kernels.chains.chain_axes>`:

    1. its axis at each slice of its span is the least-squares line of its centres
       within ``half`` slices (near its first or last slice, over the ``2 half + 1``
       slices from there); centres farther than ``tolerance`` from it are not the
       fiber's (a region of two fibers, a piece of a neighbour), and the line is fitted
       again without them;
    2. the fiber's row on each slice of its span is the point of that line (on a slice
       without a kept centre: between the lines at the slices around it); the radius
       is the row's own where its centre was kept, else the mean of the kept radii in
       the window.

    Only the rows and their fibers: the answer does not depend on how they were found
    (tiles, slabs, chunks). On ``benchmarks/fiber_scale.py`` at 2 voxels of radius
    (noise 0.25, tilt 15°, the true radius given; with the mask's level of
    :func:`~xarray_microct.ops.fibers.mask.fiber_level`) the per-slice object F1 goes
    from 0.917 to 0.956 (0.79 to 0.877 on its ``other_bed``) and the centre error
    from 0.37 to 0.25 voxel. (Dropping, of two rows of one slice closer than their
    radii, the one of the fiber with fewer centres changed no F1 by 0.001: not done.)
    Cost: about 0.9 CPU s for 1.4 million rows (0.6 µs a row, on a loaded machine),
    in the assembly.

    Parameters
    ----------
    rows : array of shape (n, 4)
        Rows ``(z_index, y, x, radius)``, ``y, x, radius`` in physical units, at most
        one per fiber and slice.
    track : array of int
        Fiber id per row.
    half : int
        Slices on each side of a slice whose centres give the axis there.
    tolerance : float
        Largest distance of a centre from its fiber's axis (physical units).

    Returns
    -------
    rows : array of shape (m, 4)
        The settled rows, sorted by slice, then y.
    track : array of int
        Fiber id per row (ids of ``track``).

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0, 2.0], [1, 5.3, 5.0, 2.0], [3, 5.0, 5.0, 2.0],
    ...                  [4, 5.0, 5.3, 2.0], [2, 9.0, 5.0, 2.0]])
    >>> new, ids = settle_on_axes(rows, np.array([1, 1, 1, 1, 2]), half=2, tolerance=1.0)
    >>> new[:, 0].tolist(), ids.tolist()  # slice 2 filled
    ([0.0, 1.0, 2.0, 2.0, 3.0, 4.0], [1, 1, 1, 2, 1, 1])
    >>> new[2].round(2).tolist()  # between the axis at the slices around it
    [2.0, 5.07, 5.07, 2.0]
    """
    rows = np.asarray(rows, dtype=np.float64)
    track = np.asarray(track)
    if len(rows) == 0:
        return rows.reshape(0, 4), track
    out, ids, starts, _ = settle_by_fiber(rows, track, half, tolerance)
    fiber = np.repeat(ids, np.diff(starts))
    # by slice, then y (x breaks no tie of real centres): the order of the table's rows
    sort = np.argsort(out[:, 0] * (4.0 * float(np.abs(out[:, 1]).max()) + 1.0) + out[:, 1])
    return out[sort], fiber[sort]


def settle_by_fiber(
    rows: np.ndarray, track: np.ndarray, half: int, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows of :func:`settle_on_axes` fiber after fiber, each by slice.

    Returns
    -------
    rows : array of shape (m, 4)
        The settled rows ``(z_index, y, x, radius)``: the fibers in the order of their
        ids, each on every slice of its span in slice order.
    ids : array
        The fiber ids (sorted).
    starts : array of int
        Where each fiber's rows start (one more: the total).
    detected : array of bool
        Per settled row: a section of the fiber was detected on its slice (its radius
        is that section's); False where none was, or where the one there lay off the
        fiber's axis (the row is the axis there, its radius the mean around it).

    Examples
    --------
    >>> rows = np.array([[0, 5.0, 5.0, 2.0], [2, 9.0, 5.0, 2.0], [2, 5.0, 5.0, 2.0]])
    >>> new, ids, starts, detected = settle_by_fiber(
    ...     rows, np.array([4, 2, 4]), half=2, tolerance=1.0
    ... )
    >>> new[:, :2].tolist(), ids.tolist(), starts.tolist()
    ([[2.0, 9.0], [0.0, 5.0], [1.0, 5.0], [2.0, 5.0]], [2, 4], [0, 1, 4])
    >>> detected.tolist()  # fiber 4 has no section on slice 1
    [True, True, False, True]
    """
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    ids, index = dense_ids(np.asarray(track))
    m = len(ids)
    if len(rows) == 0:
        return rows, ids, np.zeros(1, np.int64), np.zeros(0, bool)
    z = rows[:, 0]
    order, bounds = _chain_order(z, index, m)
    out, starts, kept = chain_axes(rows, order, bounds, half, tolerance)
    first = z[order[bounds[:-1]]]
    at = starts[index] + (z - first[index]).astype(np.int64)
    out[at[kept], 3] = rows[kept, 3]
    detected = np.zeros(len(out), bool)
    detected[at[kept]] = True
    return out, ids, starts, detected


def run_to_faces(
    rows: np.ndarray,
    starts: np.ndarray,
    detected: np.ndarray,
    slices: int,
    reach: int,
    half: int,
    sides: tuple[float, float, float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fibers settled by :func:`settle_by_fiber` run on to the volume's first and last
    slices where they stop at most ``reach`` slices before them.

    The volume's first and last slices are faces that cut the fibers, as its sides do: a
    fiber seen up to within a few slices of a face runs on to it (a fiber is missed on a
    few slices in the middle too, where the gap is filled between the axes on either
    side; at the face, the other side is not in the volume). The sections there are the
    hardest to find (the smoothing along z sees one side only): a chain that loses its
    fiber there stops short of the face. The rows added are the fiber's end axis (the
    line of its first or last ``half + 1`` settled rows, one line near an end: see
    :func:`chain_axes <xarray_microct.kernels.chains.chain_axes>`) on each missing
    slice whose centre lies within ``sides``, the radius their mean radius, not
    detected. A fiber's rows only: the answer does not depend on the parts.

    Parameters
    ----------
    rows, starts, detected : array
        As :func:`settle_by_fiber` returns them (each fiber on every slice of its span).
    slices : int
        The volume's slices (its faces: slice 0 and ``slices - 1``).
    reach : int
        Largest number of slices between a fiber's end and the face for it to run on.
    half : int
        The axis window's half (slices), as given to :func:`settle_by_fiber`.
    sides : (float, float, float, float)
        ``y`` of the first and last row of pixels, ``x`` of the first and last column.

    Returns
    -------
    rows, starts, detected : array
        The same fibers in the same order, run on to the faces.

    Examples
    --------
    >>> rows = np.array([[2, 5.0, 5.0, 2.0], [3, 5.5, 5.0, 2.0], [4, 6.0, 5.0, 2.0]])
    >>> new, starts, detected = run_to_faces(
    ...     rows, np.array([0, 3]), np.ones(3, bool), 6, 2, 2, (0.0, 10.0, 0.0, 10.0)
    ... )
    >>> new[:, 1].tolist(), starts.tolist()  # slices 0, 1 and 5 added
    ([4.0, 4.5, 5.0, 5.5, 6.0, 6.5], [0, 6])
    >>> detected.tolist()
    [False, False, True, True, True, False]
    """
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    starts = np.asarray(starts, dtype=np.int64)
    if len(rows) == 0 or reach < 1:
        return rows, starts, detected
    first = rows[starts[:-1], 0].astype(np.int64)
    last = rows[starts[1:] - 1, 0].astype(np.int64)
    before = np.where(first <= reach, first, 0)
    after = np.where(slices - 1 - last <= reach, slices - 1 - last, 0)
    runs = np.flatnonzero((before > 0) | (after > 0))
    if len(runs) == 0:
        return rows, starts, detected
    y_low, y_high, x_low, x_high = sides
    pieces: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    lengths = np.diff(starts)
    done = 0
    for f in runs:
        a, b = int(starts[f]), int(starts[f + 1])
        pieces.append(rows[done:a])
        flags.append(detected[done:a])
        own = rows[a:b]
        ends = []
        for z_new, window in (
            (np.arange(first[f] - before[f], first[f]), own[: half + 1]),
            (np.arange(last[f] + 1, last[f] + 1 + after[f]), own[-(half + 1) :]),
        ):
            if len(z_new) == 0:
                ends.append(np.zeros((0, 4)))
                continue
            z = window[:, 0]
            spread = z - z.mean()
            moment = float(spread @ spread)  # 0: one row, no slope
            slope = (spread @ window[:, 1:3]) / moment if moment > 0 else np.zeros(2)
            at = window[:, 1:3].mean(axis=0) + np.outer(z_new - z.mean(), slope)
            inside = (
                (at[:, 0] >= y_low)
                & (at[:, 0] <= y_high)
                & (at[:, 1] >= x_low)
                & (at[:, 1] <= x_high)
            )
            radius = np.full(len(z_new), window[:, 3].mean())
            ends.append(np.column_stack([z_new, at, radius])[inside])
        pieces += [ends[0], own, ends[1]]
        flags += [np.zeros(len(ends[0]), bool), detected[a:b], np.zeros(len(ends[1]), bool)]
        lengths[f] += len(ends[0]) + len(ends[1])
        done = b
    pieces.append(rows[done:])
    flags.append(detected[done:])
    new_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return np.concatenate(pieces), new_starts, np.concatenate(flags)
