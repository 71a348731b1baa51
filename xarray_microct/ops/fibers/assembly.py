"""The fiber table from the linked slabs, in three steps that the graph runs apart.

:func:`assemble_fibers` is the whole assembly; the graph of
:func:`~xarray_microct.ops.fibers.detect.plan_detection` runs its three steps as tasks,
so that only what needs every chain at once runs alone:

1. :func:`link_fibers` (one task): the decisions that need every chain — stitching the
   slabs' chains, merging the pieces of one fiber, the coherence check, joining the
   fragments of a fiber, dropping what is too short — and each row's fiber, handed on
   in ``groups`` parts of consecutive fiber ids (about as many rows each).
2. :func:`settle_fibers` (a task per part, in parallel): each fiber of the part on its
   axis on every slice of its span, its side flag and its tilt correction — the work
   per row, each fiber's from its own rows only.
3. :func:`fiber_table` (in the client, or a last task): the fibers numbered by their
   first slice and position, their rows put in that order — a concatenation.

The table does not depend on the number of parts: every quantity of step 2 is a
fiber's own (its rows in slice order, its sums added in that order), and step 3
numbers the fibers from their first rows, whatever part they came from.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

import numpy as np
import pandas as pd

from xarray_microct.kernels.chains import first_seen, group_order
from xarray_microct.ops.fiber_scale import tilt_factors
from xarray_microct.ops.fibers.calibrate import CALIBRATION_KEY, RadiusCalibration, calibrate_radii
from xarray_microct.ops.fibers.linking import (
    chain_end_axes,
    cut_by_side,
    join_ends,
    merge_chains,
    merge_pieces,
    run_to_faces,
    settle_by_fiber,
    side_joins,
    z_coherence,
)

COHERENCE_MIN = 0.5
# chains that persist under this z-coherence have their sections' sizes looked at too
# (:func:`section_swelling`): the bead packs that pass the gate do so at 0.51-0.70
SWELLING_COHERENCE = 0.8
# a fiber's sections keep their size along it, to the pixels' quantisation and the noise
# (about a quarter of a pixel, whatever the radius) and a few % of its radius; a bead's
# swell and shrink (see :func:`section_swelling`)
SWELLING_PX = 0.25
SWELLING_SHARE = 0.05


class FiberPart(NamedTuple):
    """What :func:`settle_fibers` gives for one part of the fibers (fiber after fiber)."""

    z: np.ndarray  # the rows' coordinates, each fiber by slice
    y: np.ndarray
    x: np.ndarray
    radius: np.ndarray  # tilt-corrected
    detected: np.ndarray  # a section was detected on the row's slice (else: the axis)
    lengths: np.ndarray  # rows per fiber
    first: np.ndarray  # (slice index, y) of each fiber's first row: its number's key
    cut: np.ndarray  # per fiber: the volume's side cuts it


def empty_table() -> pd.DataFrame:
    """The table without fibers (its columns and dtypes).

    Examples
    --------
    >>> empty_table().dtypes.astype(str).tolist()
    ['int64', 'float64', 'float64', 'float64', 'float64', 'bool', 'bool']
    """
    return pd.DataFrame(
        {
            "fiber_id": np.zeros(0, np.int64),
            "z": np.zeros(0),
            "y": np.zeros(0),
            "x": np.zeros(0),
            "radius": np.zeros(0),
            "detected": np.zeros(0, bool),
            "touches_side": np.zeros(0, bool),
        }
    )


def section_swelling(table: pd.DataFrame, pixel: float) -> float:
    """How much the fibers' sections change size along them, against what a fiber's do.

    For each fiber seen on 4 slices or more, the standard deviation of its detected
    sections' radii over :data:`SWELLING_PX` pixels plus :data:`SWELLING_SHARE` of their
    mean radius; the median over the fibers (NaN when none has 4). ``pixel``: the size of
    the pixels the sections were measured on, in the table's units. Above 1 the chains
    are blobs (beads, pores): their sections swell and shrink along z, as a sphere's do
    (a coefficient of variation of 0.14-0.19 whatever its size), where a fiber's vary by
    the quantisation of their outline and the noise, about a quarter of a pixel.

    Examples
    --------
    >>> rod = pd.DataFrame({"fiber_id": 1, "radius": [5.0, 5.1, 4.9, 5.0, 5.0],
    ...                     "detected": True})
    >>> bead = rod.assign(radius=[2.0, 4.0, 5.0, 4.0, 2.0])
    >>> bool(section_swelling(rod, 1.0) < 1 < section_swelling(bead, 1.0))
    True
    """
    ratio = chain_swelling(table, pixel)
    return float(ratio.median()) if len(ratio) else float("nan")


def chain_swelling(table: pd.DataFrame, pixel: float) -> pd.Series:
    """:func:`section_swelling`'s measure of each fiber seen on 4 slices or more (indexed
    by ``fiber_id``): the standard deviation of its detected sections' radii over
    :data:`SWELLING_PX` pixels plus :data:`SWELLING_SHARE` of their mean radius.

    Examples
    --------
    >>> rod = pd.DataFrame({"fiber_id": 1, "radius": [5.0, 5.1, 4.9, 5.0, 5.0],
    ...                     "detected": True})
    >>> bead = rod.assign(fiber_id=2, radius=[2.0, 4.0, 5.0, 4.0, 2.0])
    >>> chain_swelling(pd.concat([rod, bead]), 1.0).round(2).tolist()
    [0.13, 2.86]
    """
    detected = table[table["detected"].to_numpy(bool)]
    radii = detected.groupby("fiber_id")["radius"]
    count, spread, mean = radii.size(), radii.std(ddof=0) / pixel, radii.mean() / pixel
    return (spread / (SWELLING_PX + SWELLING_SHARE * mean))[count >= 4]


def axis_window(z_values: np.ndarray, join_distance: float) -> int:
    """Slices over which a chain's axis is fitted: four radii (``4 × join_distance``).

    Tried at 2 pixels (``textured_fiber_bed``, noise 0.25, 0/8/15°, seeds 1–3, the
    defaults; object F1 0.979 / 0.959 / 0.968, 0.967 / 0.966 / 0.970, 0.964 / 0.968 /
    0.972 with four radii, mean 0.968): eight radii, 0.984 / 0.965 / 0.974, 0.971 /
    0.969 / 0.975, 0.972 / 0.969 / 0.973 (mean 0.972), but a straighter path for every
    fiber, and a waving one's (already the user guide's limit) the worse; per fiber, the
    longer window where its axes stay within 0.15 / 0.25 / 0.4 radius of the shorter
    window's, mean 0.969 / 0.970 / 0.972; per fiber by leave-one-out cross-validation of
    the two windows, never the longer one (the rows' errors are correlated along z by
    the smoothing along the bed, which cross-validation reads as signal). Not used.

    Examples
    --------
    >>> axis_window(np.arange(10.0) * 0.5, 1.0)
    8
    """
    z_step = float(np.median(np.diff(z_values))) if len(z_values) > 1 else 1.0
    return max(2, int(np.ceil(4 * join_distance / abs(z_step or 1.0))))


def link_fibers(
    slab_rows: list[np.ndarray],
    slab_chains: list[np.ndarray],
    border_pairs: list[np.ndarray],
    z_values: np.ndarray,
    sides: tuple[float, float, float, float],
    link_distance: float,
    join_distance: float,
    max_gap: int,
    min_slices: int,
    separation: int,
    slab_piece_pairs: list[np.ndarray] | None = None,
    groups: int = 1,
    judged: float | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """Step 1 of :func:`assemble_fibers`: each row's fiber, in ``groups`` parts.

    The parameters before ``groups`` are those of :func:`assemble_fibers`; ``judged``:
    the z-coherence judged on another detection of the same scan (the gate's, at a
    shorter smoothing: :func:`~xarray_microct.ops.fibers.detect.plan_detection`), which
    then decides, in place of these chains' own.

    Returns
    -------
    parts : list of (array, array, array)
        ``groups`` parts (empty when the chains do not persist along z): rows
        ``(z_index, y, x, radius)`` in slice order, their fiber ids, and the ids of the
        part's fibers joined across the volume's side (:func:`side_joins
        <.linking.side_joins>`: they touch it); the fibers of a part a run of
        consecutive ids, the parts in the order of their ids, about as many rows each.
    coherence : float
        As :func:`assemble_fibers`.

    Examples
    --------
    >>> rows = [np.array([[0, 9.0, 9.0, 5.0], [1, 9.0, 9.0, 5.0], [1, 30, 9, 5]]),
    ...         np.array([[2, 9.0, 9.0, 5.0], [3, 9.0, 9.0, 5.0]])]
    >>> parts, _ = link_fibers(rows, [np.array([1, 1, 2]), np.array([1, 1])],
    ...                        [np.array([[1, 1]])], np.arange(4.0), (0, 40, 0, 20),
    ...                        1.0, 1.0, 2, 3, 1, groups=2)
    >>> [(len(r), f.tolist()) for r, f, _ in parts]
    [(4, [0, 0, 0, 0]), (0, [])]
    """
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"groups is a whole number of parts >= 1, got {groups!r}")
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
    # rows are in (slice, y, x) order: chains numbered by their first row, whatever the slabs
    chain = first_seen(root[chain.astype(np.int64)])
    pairs = None
    if slab_piece_pairs is not None:  # slab-local row indices → indices into `rows`
        starts = np.cumsum([0, *(len(r) for r in slab_rows)])
        pairs = np.concatenate(
            [np.zeros((0, 2), np.int64), *(p + starts[k] for k, p in enumerate(slab_piece_pairs))]
        )
    rows, chain = merge_pieces(rows, chain, pairs=pairs)
    window = axis_window(z_values, join_distance)
    # join_fragments reads the flag at the chains' ends only
    cut = cut_by_side(rows, chain, sides, window, ends_only=True)
    # each chain's ends once, for both joins (a chain's are its own: the same in a subset)
    ends, index = chain_end_axes(rows, chain, window, cut)
    side = side_joins(rows, index, ends, link_distance, max_gap + 1)
    linked = ends.ids[join_ends(ends, link_distance, max_gap + 1, side)][index]
    if judged is None:
        coherence = z_coherence(rows[:, 0].astype(np.int64), linked, separation)
    else:
        coherence = float(judged)
    fiber = np.full(len(rows), -1, np.int64)  # -1: dropped
    crossing = np.zeros(0, np.int64)
    if coherence >= COHERENCE_MIN:
        # what is seen on fewer slices, across short gaps, is no piece of a fiber
        kept = np.zeros(len(ends.ids), bool)
        kept[index[np.bincount(linked)[linked] >= min_slices]] = True
        of_chain = np.full(len(ends.ids), -1, np.int64)
        joined = ends.subset(kept)
        in_kept = np.cumsum(kept) - 1  # chain index among the kept ones
        kept_rows = kept[index]
        side = side_joins(
            rows[kept_rows], in_kept[index[kept_rows]], joined, join_distance, max_gap + 1
        )
        of_joined = joined.ids[join_ends(joined, join_distance, None, side)]
        of_chain[kept] = of_joined
        fiber = of_chain[index]
        # fibers joined across the side: they touch it, whatever their settled axis says
        a, b = side[:, 0].astype(np.int64), side[:, 1].astype(np.int64)
        crossing = np.unique(of_joined[a][of_joined[a] == of_joined[b]])
    size = np.bincount(fiber + 1)[1:]  # rows per fiber id
    size[size < min_slices] = 0  # fibers on fewer slices: dropped (part -1)
    # parts of consecutive ids with about as many rows: by the rows of the fibers before
    before = np.cumsum(size) - size
    part = np.append(np.where(size > 0, before * groups // max(int(size.sum()), 1), -1), -1)
    part = part[fiber]  # fiber -1: the last, -1
    order, starts = group_order(part + 1, groups + 1)  # stable: each part in slice order
    order = order[starts[1] :]
    rows, fiber, starts = rows[order], fiber[order], starts[1:] - starts[1]
    parts = [
        (rows[a:b], fiber[a:b], crossing[np.isin(crossing, fiber[a:b])])
        for a, b in pairwise(starts)
    ]
    return parts, coherence


def settle_fibers(
    rows: np.ndarray,
    fiber: np.ndarray,
    z_values: np.ndarray,
    sides: tuple[float, float, float, float],
    link_distance: float,
    join_distance: float,
    crossing: np.ndarray | None = None,
    max_gap: int = 0,
) -> FiberPart:
    """Step 2 of :func:`assemble_fibers` for one part of :func:`link_fibers`.

    Each fiber on its axis on every slice of its span (:func:`settle_by_fiber
    <.linking.settle_by_fiber>`, over ±4 radii), run on to the volume's first or last
    slice where it stops at most ``max_gap`` slices before it (:func:`run_to_faces
    <.linking.run_to_faces>`), whether the volume's side cuts it
    (:func:`cut_by_side <.linking.cut_by_side>` on some slice) and its radii corrected
    for its tilt (:func:`~xarray_microct.ops.fiber_scale.tilt_factors`); the parameters
    as :func:`assemble_fibers`'s, and ``crossing``: the part's fibers joined across the
    side (the third item of a :func:`link_fibers` part), flagged as cut by it; with
    ``max_gap`` 0, no fiber is run on to the faces.

    Examples
    --------
    >>> rows = np.array([[0, 9.0, 9.0, 5.0], [2, 9.0, 9.0, 5.0], [1, 30, 9, 5], [2, 30, 9, 5]])
    >>> part = settle_fibers(rows, np.array([4, 4, 7, 7]), np.arange(3.0), (0, 32, 0, 40),
    ...                      1.0, 1.0)
    >>> part.lengths.tolist(), part.first.tolist(), part.cut.tolist()
    ([3, 2], [[0.0, 9.0], [1.0, 30.0]], [False, True])
    """
    window = axis_window(z_values, join_distance)
    # each fiber on its axis over ±4 radii (±2: F1 0.871 against 0.877 at 2 voxels,
    # noise 0.25, on the benchmark's other_bed), every slice of its span
    rows, fiber_ids, starts, detected = settle_by_fiber(rows, fiber, window, link_distance)
    rows, starts, detected = run_to_faces(
        rows, starts, detected, len(z_values), max_gap, window, sides
    )
    lengths = np.diff(starts)
    ids = np.repeat(np.arange(len(lengths)), lengths)
    # cut by the side: the disk of the fiber's axis and median radius, on some slice, or
    # joined across the side (its axis, fitted across the gap, may stay inside)
    cut = np.zeros(len(lengths), bool)
    np.logical_or.at(cut, ids, cut_by_side(rows, ids, sides, window))
    if crossing is not None:
        cut |= np.isin(fiber_ids, crossing)
    slice_index, y, x, radius = rows.T.copy()  # contiguous columns
    z = np.asarray(z_values, np.float64)[slice_index.astype(np.int64)]
    # a tilted fiber cuts each slice in an ellipse: its radius is the disk's of the
    # ellipse's area times √cos θ of the fiber's axis
    radius *= tilt_factors(ids, z, y, x)
    first = rows[starts[:-1]][:, :2]
    return FiberPart(z, y, x, radius, detected, lengths, first, cut)


def fiber_table(parts: list[FiberPart]) -> pd.DataFrame:
    """Step 3 of :func:`assemble_fibers`: the table of the parts of :func:`settle_fibers`.

    The fibers numbered by their first row in (slice, y) order (ties: in the parts'
    order), the rows by fiber, then slice.

    Examples
    --------
    >>> rows = np.array([[0, 9.0, 9.0, 5.0], [1, 9.0, 9.0, 5.0], [0, 5, 9, 5], [1, 5, 9, 5]])
    >>> parts = [settle_fibers(rows[:2], np.array([1, 1]), np.arange(2.0), (0, 40, 0, 40),
    ...                        1.0, 1.0),
    ...          settle_fibers(rows[2:], np.array([2, 2]), np.arange(2.0), (0, 40, 0, 40),
    ...                        1.0, 1.0)]
    >>> fiber_table(parts)[["fiber_id", "y"]].values.tolist()
    [[1.0, 5.0], [1.0, 5.0], [2.0, 9.0], [2.0, 9.0]]
    """
    if not parts:
        return empty_table()
    lengths = np.concatenate([p.lengths for p in parts])
    first = np.concatenate([p.first for p in parts]).reshape(-1, 2)
    count = len(lengths)
    number = np.empty(count, np.int64)
    number[np.lexsort((first[:, 1], first[:, 0]))] = np.arange(1, count + 1)
    ids = np.repeat(number, lengths)
    order, _ = group_order(ids, count + 1)  # by fiber number, each fiber by slice
    cut = np.zeros(count + 1, bool)
    cut[number] = np.concatenate([p.cut for p in parts])
    ids = ids[order]
    columns = {c: np.concatenate([getattr(p, c) for p in parts])[order] for c in "zyx"}
    return pd.DataFrame(
        {
            "fiber_id": ids,
            **columns,
            "radius": np.concatenate([p.radius for p in parts])[order],
            "detected": np.concatenate([p.detected for p in parts])[order],
            "touches_side": cut[ids],
        },
        copy=False,  # fresh columns: no copy into one block
    )


def finish_table(
    parts: list[FiberPart], coherence: float, calibration: RadiusCalibration | None = None
) -> tuple[pd.DataFrame, float]:
    """``(fiber_table(parts), coherence)``: the end of the graph's assembly, the radii
    calibrated where ``calibration`` is given (:func:`.calibrate.calibrate_radii`; what
    was done in ``attrs["radius_calibration"]``).

    Examples
    --------
    >>> table, coherence = finish_table([], 0.2)
    >>> len(table), coherence
    (0, 0.2)
    """
    table = fiber_table(parts)
    if calibration is not None:
        table, record = calibrate_radii(table, calibration)
        table.attrs[CALIBRATION_KEY] = record
    return table, coherence


def assemble_fibers(
    slab_rows: list[np.ndarray],
    slab_chains: list[np.ndarray],
    border_pairs: list[np.ndarray],
    z_values: np.ndarray,
    sides: tuple[float, float, float, float],
    link_distance: float,
    join_distance: float,
    max_gap: int,
    min_slices: int,
    separation: int,
    slab_piece_pairs: list[np.ndarray] | None = None,
) -> tuple[pd.DataFrame, float]:
    """The fiber table from the linked slabs: stitch, merge, check, join, drop short, number.

    The chains of the slabs, stitched at the borders, are the chains of links between
    consecutive slices of the whole volume (:func:`link_slices
    <.linking.link_slices>`), whatever the slabs. Chains that overlap as pieces of one
    fiber are merged (:func:`merge_pieces <.linking.merge_pieces>`); chains are joined
    across gaps of up to ``max_gap`` slices within ``link_distance`` for the
    :func:`z_coherence` check (the chains of :func:`link_centres
    <.linking.link_centres>`; those on fewer than ``min_slices`` slices are dropped),
    and into fibers across any gap within ``join_distance`` (:func:`join_fragments`;
    pieces cut by the side across at most ``max_gap + 1`` slices, :func:`side_joins
    <.linking.side_joins>`);
    each chain's axis at its ends is fitted over four radii
    (``4 × join_distance``) along z. :func:`link_fibers`, :func:`settle_fibers` on
    each of its parts and :func:`fiber_table`, in one call.

    Parameters
    ----------
    slab_rows, slab_chains : list of array
        Per slab, from :func:`link_slab <.linking.link_slab>`: rows ``(z_index, y, x,
        radius)`` sorted by slice, y, x, and chain ids 1.. within the slab.
    border_pairs : list of array
        Per border between slab ``k`` and ``k + 1``, the pairs of :func:`stitch_slabs
        <.linking.stitch_slabs>`.
    z_values : array
        The z coordinate of each slice.
    sides : (float, float, float, float)
        ``y`` of the first and last row of pixels, ``x`` of the first and last column: a
        fiber whose disk (its local axis ± its median radius, see :func:`cut_by_side
        <.linking.cut_by_side>`) goes past them on some slice touches the side.
    link_distance : float
        The linking distance: for the coherence check, a chain continues one that
        ended at most ``max_gap`` slices before when their axes meet within it, as
        centres on consecutive slices are linked.
    join_distance : float
        The distance within which the axes of a chain that ended and of one that starts
        later meet for the second to continue the first (a fiber's axis lies within a
        radius of where its chain's axis leads; its neighbours' lie two radii away).
    max_gap : int
        Slices a fiber may be missed on and still be linked across, for the coherence
        check; a fiber stopping at most this many slices before the volume's first or
        last slice runs on to it (:func:`run_to_faces <.linking.run_to_faces>`).
    min_slices : int
        Fibers on fewer slices are dropped.
    separation : int
        Slices of :func:`z_coherence`.
    slab_piece_pairs : list of array, optional
        Per slab, the :func:`piece_pairs <.linking.piece_pairs>` of its rows (found in
        parallel, slab by slab, by the graph of :func:`plan_detection`); found here
        otherwise. The table is the same either way.

    Returns
    -------
    table : pandas.DataFrame
        As :func:`detect_fibers` returns it (without ``attrs``); empty when the chains
        do not persist along z.
    coherence : float
        The :func:`z_coherence` of the chains linked across gaps of up to ``max_gap``.

    Examples
    --------
    >>> rows = [np.array([[0, 9.0, 9.0, 5.0], [1, 9.0, 9.0, 5.0]]),
    ...         np.array([[2, 9.0, 9.0, 5.0], [3, 9.0, 9.0, 5.0]])]
    >>> table, _ = assemble_fibers(rows, [np.array([1, 1]), np.array([1, 1])],
    ...                            [np.array([[1, 1]])], np.arange(4.0), (0, 12, 0, 20),
    ...                            1.0, 1.0, 2, 3, 1)
    >>> table.fiber_id.tolist(), bool(table.touches_side[0])
    ([1, 1, 1, 1], True)
    """
    parts, coherence = link_fibers(
        slab_rows,
        slab_chains,
        border_pairs,
        z_values,
        sides,
        link_distance,
        join_distance,
        max_gap,
        min_slices,
        separation,
        slab_piece_pairs,
    )
    settled = [
        settle_fibers(rows, fiber, z_values, sides, link_distance, join_distance, crossing, max_gap)
        for rows, fiber, crossing in parts
    ]
    return fiber_table(settled), coherence
