"""Distance-map watershed, the same for any chunking: splits touching beads.

Two steps, each made exact across chunk borders.

**Markers** (when not given), from the distance map ``d`` (from
:func:`~xarray_microct.ops.distance.distance_transform`, exact), by one of two rules:

* ``object_radius`` (robust, no tuning): the centres of the largest inscribed balls —
  voxels that no voxel within ``d`` of them outranks (a larger ``d``, or the same one
  earlier in C order), with ``d`` at least half the radius, or at least a quarter where
  the distance falls off about the voxel as about a ball's centre, or does so except
  through necks into larger or nearby objects (:func:`ball_markers_array`).
  The test scales with each object, so the small maxima that noise, rough surfaces,
  necks and ring artefacts put in ``d`` fall inside the ball of a larger one and give no
  marker, while two touching balls keep theirs (their centres lie outside each other's
  ball). At the volume's outer faces, where a scan cuts the beads, a bead whose centre
  lies beyond the face peaks on it at the height of its cap: a face voxel under the
  floor is a marker when it tops the cap a ball of the radius would have there and the
  objects hold that cap's base (see :func:`ball_markers_array`). Local within
  ``1.5 * object_radius``, computed with that halo, each block told where the volume's
  faces are: exact. One voxel per marker, numbered ``1..N`` from per-chunk counts (no
  global labelling). With ``min_object_radius`` (packs of two sizes or more) the plain
  floor is half of that smaller radius instead.
* ``min_distance``: voxels of the mask where ``d`` equals its maximum over a box
  reaching ``min_distance`` (physical, per axis) on each side, as
  ``skimage.feature.peak_local_max`` tests it (computed with a halo of that reach, so
  exact). Peaks closer than about ``min_distance`` to each other (plateaus, twin maxima
  in one bead) are merged into one marker: each peak is grown by ``min_distance / 2``
  and the grown peaks are labelled with the global
  :func:`~xarray_microct.ops.label.label_array`. Sensitive to noise: a box small
  enough to keep touching beads apart keeps the spurious maxima of noisy masks too.

**Flooding** of the altitude ``-d`` from the markers, inside the mask. The result is
defined by a fixpoint, not by a processing order, so that it cannot depend on the
chunking:

* each voxel ``p`` gets a flooding key ``V(p) = (M, s)``: ``M`` is the lowest level at
  which water from any marker reaches ``p`` (the minimax altitude of a path), ``s`` the
  number of steps since that path last rose to a new level (a breadth-first order
  across plateaus). Keys satisfy ``V(p) = min_q ext(V(q), p)`` over the neighbours
  ``q`` of ``p``, with ``ext((M, s), p) = (alt(p), 0)`` if ``alt(p) > M`` else
  ``(M, s + 1)``; markers start at ``(alt, 0)``. The solution is unique.
* ``p`` takes the label of its neighbour with the smallest key (ties: the first in a
  fixed neighbour order), which is the neighbour that water reaches ``p`` from first.

Each block floods its voxels (Dijkstra's algorithm, compiled with numba:
:mod:`xarray_microct.kernels.watershed`) given the keys and labels of a one-voxel rim
from its neighbours; blocks then exchange rims and re-flood only what changed, for
``rounds`` rounds, in parallel (one task per chunk and round, for the blocks of the
chunk: a graph of a few tasks per chunk, not per block). Between rounds a block keeps
only the faces its neighbours need and its state (keys and labels) compressed, which the
piecewise-constant labels and keys stored relative to the levels make a few bits per
voxel: memory stays near the altitude and mask themselves, not 16 bytes per voxel per
round. A block keeps its state as it is when no changed rim voxel can matter to it (a
rim key at or above that of the block voxel beside it, before and now, cannot). After
the rounds, one task finishes the blocks that have not settled, one at a time from a
work list, until every block's state holds for its neighbours' faces (an object winding
through more chunks than the rounds carry water across costs time there, never a
wrong answer). Then the keys and labels solve the equations above everywhere, and are
the unique solution — the same for every chunking, up to the numbering of the markers.

Relation to ``skimage.segmentation.watershed(-d, markers, mask=mask)``: scikit-image
floods with one priority queue, breaking ties between equal altitudes by insertion
order. Both give the same basins wherever the altitude decides; they can differ only
on voxels that two basins reach at the same level with the same number of plateau
steps — a thin layer of voxels on the ridge between touching beads (measured on bead
packs in the tests: below 1 % of the mask voxels, with identical object counts).
"""

from __future__ import annotations

import collections
import functools
import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import dask.array as da
import numpy as np
import scipy.ndimage as ndi
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from numcodecs import Blosc

from xarray_microct.core.blocks import rim as rim_exchange
from xarray_microct.core.blocks.overlap import (
    ceil_radius,
    kernel_radius,
    map_spatial_interior,
    map_spatial_overlap,
)
from xarray_microct.core.blocks.rim import rim_rounds
from xarray_microct.core.footprints import ellipsoid_footprint, structure
from xarray_microct.core.registry import LengthParam, mask_checked, operation
from xarray_microct.core.stats import (
    global_histogram,
    has_exact_histogram,
    histogram_centres,
    padding_mask_array,
    phase_levels,
    trim_histogram,
)
from xarray_microct.core.validation import check_connectivity, check_labels, check_mask
from xarray_microct.core.volume import check_same_grid, grid_of, wrap_like
from xarray_microct.kernels import watershed as kernels
from xarray_microct.kernels.gaussian import gaussian_passes
from xarray_microct.kernels.scratch import work_array
from xarray_microct.ops.distance import edt_array
from xarray_microct.ops.filters import gaussian_array
from xarray_microct.ops.label import label_array
from xarray_microct.ops.morphology import fill_holes_array

__all__ = [
    "ball_markers_and_smoothed",
    "ball_markers_array",
    "ball_peaks",
    "core_distance",
    "core_distance_array",
    "flood_array",
    "number_peaks",
    "peak_markers_array",
    "watershed",
]


# voxels per axis of the blocks the verb floods (chunks are split to it). Measured on a
# 512³ bead pack in 128³ chunks, CPU s of the flooding on 2 threads: 64-voxel blocks
# 12.6-13.2, one 128-voxel block per chunk 13.6-14.0 (fewer voxels left to the rounds'
# updates, but two 35 MB flooding states share the processor's cache); on one thread
# alone the 128-voxel blocks were faster (8.2 against 10-11 s)
FLOOD_BLOCK = 64
SMOOTH_TRUNCATE = 3.0  # sigmas: the reach of the Gaussian of ``smooth=``
# the ball markers' floors, as shares of the object radius: an object's inscribed ball
# reaches half the radius, or a quarter where the distance falls off about its centre as
# about a ball's, but for necks into larger objects (a smaller maximum is noise, a neck, a
# rod's or a plate's ridge); at the
# volume's faces a cap's base disc reaches half the radius (a cap of height h cut from a
# ball of radius R has a base of radius sqrt(h (2 R - h)))
MIN_HEIGHT = 0.5  # of the radius
SMALL_HEIGHT = 0.25  # of the radius, where round (see ball_markers_array's "Floor")
FACE_HEIGHT = 1 - np.sqrt(1 - MIN_HEIGHT**2)  # of the radius: a base of half of it

# the rim exchange's directions and faces, asked for thousands of times per round: built once
neighbour_directions = functools.cache(rim_exchange.neighbour_directions)
face = functools.cache(rim_exchange.face)


# ---------------------------------------------------------------------------------------
# Markers


def _peak_block(block: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    peak_max = ndi.maximum_filter(block, size=size, mode="constant", cval=-np.inf)
    return (block == peak_max) & (block > 0)


def _grow_block(block: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    return ndi.binary_dilation(block, structure=footprint)


def peak_markers_array(distance: da.Array, min_distance: Sequence[float]) -> da.Array:
    """Markers at the peaks of a distance map, numbered ``1..N`` across all chunks.

    Parameters
    ----------
    distance : dask.array.Array
        Distance map (positive inside the objects, 0 outside), 3-D.
    min_distance : sequence of 3 float
        Radius of the peak neighbourhood in voxels per axis (z, y, x).

    Returns
    -------
    dask.array.Array of int
        0 outside the markers; peaks closer than about ``min_distance`` share a label.

    Examples
    --------
    >>> import scipy.ndimage as ndi
    >>> m = np.zeros((9, 9, 20), bool)
    >>> z, y, x = np.ogrid[:9, :9, :20]
    >>> m = ((z - 4) ** 2 + (y - 4) ** 2 + (x - 5) ** 2 <= 16) | (
    ...     (z - 4) ** 2 + (y - 4) ** 2 + (x - 13) ** 2 <= 16)
    >>> dist = da.from_array(ndi.distance_transform_edt(m), chunks=5)
    >>> markers = peak_markers_array(dist, (3.0, 3.0, 3.0)).compute()
    >>> np.unique(markers).tolist()
    [0, 1, 2]
    """
    radius = tuple(float(r) for r in min_distance)
    reach = tuple(int(np.floor(r + 1e-9)) for r in radius)
    peaks = map_spatial_overlap(
        _peak_block, distance, depth=reach, dtype=bool, size=tuple(2 * r + 1 for r in reach)
    )
    half = tuple(r / 2 for r in radius)
    grown = map_spatial_overlap(
        _grow_block,
        peaks,
        depth=ceil_radius(half),
        dtype=bool,
        footprint=ellipsoid_footprint(half),
    )
    groups, _ = label_array(grown, connectivity=3)
    return da.where(peaks, groups, 0)


def _ball_peak_block(
    block: np.ndarray,
    spacing: tuple[float, ...],
    reach: float,
    cap: float,
    radius: float,
    start: tuple[int, ...],
    volume_shape: tuple[int, ...],
    inner: tuple[slice, ...] | None = None,
    floor_radius: float | None = None,
) -> np.ndarray:
    """The ball peaks of a block (:func:`~xarray_microct.kernels.watershed.ball_peaks`), of
    its ``inner`` box only when given (the rest is the halo their regions read);
    ``start`` is the index in the volume (of ``volume_shape``) of the block's first
    voxel, which says where the volume's faces are. ``floor_radius`` (default
    ``radius``) sets the plain floor, ``MIN_HEIGHT`` of it; the other tests follow
    ``radius``."""
    region = tuple(slice(0, n) for n in block.shape) if inner is None else inner
    out = np.empty(tuple(r.stop - r.start for r in region), bool)
    kernels.ball_peaks(
        np.ascontiguousarray(block, dtype=np.float32),
        np.asarray(spacing, np.float64),
        reach,
        cap,
        (radius if floor_radius is None else min(floor_radius, radius)) * MIN_HEIGHT,
        np.array([r.start for r in region], np.int64),
        out,
        np.asarray(start, np.int64),
        np.asarray(volume_shape, np.int64),
        radius,
        radius * FACE_HEIGHT,
        radius * SMALL_HEIGHT,
    )
    return out


def _ball_peak_interior(
    block: np.ndarray,
    origin: tuple[int, ...],
    shape: tuple[int, ...],
    start: tuple[int, ...],
    **kwargs: Any,
) -> np.ndarray:
    inner = tuple(slice(o, o + n) for o, n in zip(origin, shape, strict=True))
    return _ball_peak_block(block, start=start, inner=inner, **kwargs)


def ball_peaks(
    distance: np.ndarray,
    spacing: Sequence[float],
    radius: float,
    inner: tuple[slice, ...] | None = None,
) -> np.ndarray:
    """The voxels of a NumPy distance map that :func:`ball_markers_array` makes markers
    inside a volume (the map's sides are not the volume's faces: no cap there).

    Parameters
    ----------
    distance : numpy.ndarray
        3-D distance map in physical units (0 outside the objects).
    spacing : sequence of 3 float
        Voxel size per axis, in the units of ``distance``.
    radius : float
        Typical object radius, in the units of ``distance``.
    inner : tuple of 3 slices, optional
        The box tested (by default the whole map); the tests read the whole map.

    Returns
    -------
    numpy.ndarray of bool
        The markers, of the shape of the box tested.

    Examples
    --------
    >>> z, y, x = np.ogrid[:12, :12, :24]
    >>> two = ((z - 6) ** 2 + (y - 6) ** 2 + (x - 6) ** 2 <= 25) | (
    ...     (z - 6) ** 2 + (y - 6) ** 2 + (x - 15) ** 2 <= 9)
    >>> np.argwhere(ball_peaks(ndi.distance_transform_edt(two), (1, 1, 1), 5.0)).tolist()
    [[6, 6, 6], [6, 6, 15]]
    """
    spacing = tuple(float(s) for s in spacing)
    away = tuple(n + 2 for n in distance.shape)  # the map inside a larger volume: no face
    return _ball_peak_block(
        np.asarray(distance), spacing, 1.0, 1.5 * radius, radius, (1, 1, 1), away, inner
    )


def _count_block(block: np.ndarray) -> np.ndarray:
    return np.full((1, 1, 1), np.count_nonzero(block), np.int64)


def _exclusive_cumsum(counts: np.ndarray) -> np.ndarray:
    flat = counts.ravel()
    return (np.cumsum(flat) - flat).reshape(counts.shape)


def _number_block(peaks: np.ndarray, offset: np.ndarray) -> np.ndarray:
    out = np.zeros(peaks.shape, np.int32)
    index = np.flatnonzero(peaks)
    out.ravel()[index] = np.arange(1, len(index) + 1, dtype=np.int32) + int(offset.item())
    return out


def number_peaks(peaks: da.Array) -> da.Array:
    """Number the ``True`` voxels of a Dask mask ``1..N`` (C order per block, blocks in turn).

    Examples
    --------
    >>> m = da.from_array(np.eye(4, dtype=bool)[None].repeat(2, 0), chunks=2)
    >>> number_peaks(m).compute()[0].tolist()
    [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 5, 0], [0, 0, 0, 6]]
    """
    grid_chunks = tuple((1,) * n for n in peaks.numblocks)
    counts = peaks.map_blocks(_count_block, chunks=grid_chunks, dtype=np.int64)
    offsets = counts.rechunk(-1).map_blocks(_exclusive_cumsum, dtype=np.int64).rechunk(1)
    name = f"number-peaks-{tokenize(peaks, offsets)}"
    dsk = {
        (name, *idx): (_number_block, (peaks.name, *idx), (offsets.name, *idx))
        for idx in np.ndindex(*peaks.numblocks)
    }
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[peaks, offsets])
    return da.Array(graph, name, chunks=peaks.chunks, dtype=np.int32)


def ball_markers_array(
    distance: da.Array,
    spacing: Sequence[float],
    radius: float,
    reach: float = 1.0,
    floor_radius: float | None = None,
) -> da.Array:
    """One marker per object: the centres of the largest inscribed balls of a distance map.

    A voxel with distance ``d`` (physical units) is a centre when no voxel within ``reach * d``
    of it (capped at ``1.5 * radius``) has a larger distance, or the same one earlier in C
    order, and ``d >= radius / 2`` (``MIN_HEIGHT``); from a quarter of the radius
    (``SMALL_HEIGHT``) up to half of it, only where besides the distance falls off about it
    as about a ball's centre (every voxel from ``0.75 d`` to ``1.5 d`` away under
    ``0.85 d``: a ball's is under ``d / 4``), or tops its own high voxels and does so but
    towards larger or nearby objects (the neck rule below: every set of connected voxels of
    ``0.75 d`` or more that leaves that shell rises over ``1.25 d`` within ``3 d`` or ends
    there). The rule scales with each object: the small maxima that noise and rough surfaces
    put in the distance map lie well inside the ball of a larger one and are dropped, while
    the centres of two touching balls of radius ``r`` lie about ``2 r`` apart, outside each
    other's ball. Plateaus and twin maxima give one marker. The test reaches
    ``1.5 * radius``: it is computed with that halo, so the markers are the same for any
    chunking.

    Floor (2026-12-02). Half the radius dropped every bead under half the typical
    radius: ``benchmarks/beads_accuracy.py --polydisperse --spread 0.6`` (radii ±60 %)
    about 10 voxels counted 25 / 68 / 25 / 65 of 76 / 87 / 76 / 87 beads (seeds 0 / 1,
    noise 0.1 / 0.3), about 15 voxels 30 / 70 / 28 / 64 of 82 / 90 / 82 / 90; a test's
    pack of 140 beads of 4 voxels among 8 of 11 labelled 7–8 of them. A quarter alone
    counted every one of those, but a thin object's ridge then gave markers: the ball
    test reaches only ``d``, so each rise of a tilted rod's or plate's ridge passed it
    (a reviewer's tilted rods of radius 2–3 and plates 4–6 voxels thick, the radius 8:
    7–15 and 5–42 markers, none at half; two balls of 8 voxels joined by a tilted bridge
    of radius 2–3: 4–8 markers for 2). The fall-off about a ball's centre tells them
    apart: along a ridge the distance stays near ``d`` (0.89–1.0 of it in that shell on
    rods of radius 2–3.5 and plates, but 0.79 on 3 points of one rod), in a bead it
    drops (on the true mask of the test's pack at most 0.71; on the pipeline's, whose
    denoising fills some necks between small beads, 0.38–0.92, median 0.67). With it:
    the ±60 % packs about 10 voxels 71 / 85 / 68 / 85, about 15 every bead; the test's
    pack 122–124 of 146–149; the bridged balls 2 markers (one bridge of
    radius 2.5 and length 36 voxels, 3). The 34 packs of equal beads of
    ``benchmarks/beads_accuracy.py`` and its ``--polydisperse`` ones: the same counts.
    Where the two rules meet, at a face, ties go for every voxel first to the one whose
    cap's base the objects hold more (none off the faces), then by C order: with C order
    alone for the round rule, a small ball's plateau reaching a high face gave two
    markers (a reviewer's packs of beads of 4 and 10 voxels cut by the faces: 5 and 12
    extra labels; since, 0 and 1; ``main`` 0 and 2); 6 of about 700 placements of a
    ball of 2–4 voxels 1.5–2.5 voxels from a face get a marker by one face and none by
    the opposite one. Under a quarter of the radius an object is not told from a speck.

    Necks (2026-12-02). The round rule lost the small beads whose neck to a neighbour the
    denoising filled: the distance stays high from the small bead's centre into the
    neighbour, as along a rod's ridge (the test's pack of beads of 4 voxels among beads of
    11: 25 and 24 of the 142 and 139 small ones had no marker, every one a maximum of its
    ball test that failed the shell test). Their prominence does not tell them from a ridge:
    the lowest point of the best path from their centre to a higher voxel (or out of
    ``1.5 d``) lies at 0.67–0.90 of ``d`` (0.62–0.85 through face neighbours only), where
    along a rod's ridge the distance stays at 0.79–1.0 of it (above): a floor on the
    prominence keeps either both or neither. What differs is where the high voxels lead: out
    of a small bead, through the neck up into a larger bead; along a rod, a plate or a
    bridge, on at about ``d`` past any bounded reach. So a small maximum that is not round
    is a marker when it tops the 26-connected set of the voxels of ``d`` or more about it
    (none higher, and the set ends within the reach below: a drop on every way up) and every
    26-connected set of the voxels of ``NECK_LEVEL * d`` (0.75) or more, from ``0.75 d`` to
    ``min(3 d, 1.5 radius)`` away, that meets the shell (``0.75 d``–``1.5 d``) either rises
    over ``NECK_RISE * d`` (1.25: a larger object) or ends within that reach without
    touching it (a small neighbour, or a voxel of a neck's rim); a set that reaches its
    bound or the array's sides counts as running on
    (:func:`~xarray_microct.kernels.watershed._necked`). The walk reads only voxels within
    ``1.5 radius``, the halo: the same markers for any chunking. Measured:

    ======================================================  ==============  ==============
    case                                                    round only      and necks
    ======================================================  ==============  ==============
    test's pack (4 among 11 voxels), labels, seeds 1 / 2    124 / 123       149 / 146
    its small beads labelled (IoU > 0.5)                    112 / 113       142 / 138
    their median IoU                                        0.866 / 0.853   0.869 / 0.855
    the large beads' median IoU                             0.837 / 0.881   0.948 / 0.954
    ±60 % about 6 voxels, seeds 0 / 1, noise 0.1            41 / 56         59 / 66
    (of 64 / 83 beads), noise 0.3                           35 / 51         53 / 60
    ±60 % about 10 (of 76 / 87), noise 0.1                  71 / 85         76 / 87
    noise 0.3                                               68 / 85         76 / 87
    ±60 % about 10, smallest matched IoU                    0.016–0.058     0.625–0.854
    ±60 % about 15; ±20 %; ``--ellipsoids``; equal beads    the same        the same
    ======================================================  ==============  ==============

    (±60 %: ``benchmarks/beads_accuracy.py --polydisperse --spread 0.6``; its median IoU about 6
    voxels 0.174–0.688 → 0.463–0.769, about 10 0.821–0.945 → 0.840–0.946.) An independent
    pack of balls of 10 voxels with 50 balls of 3.5–4.5 each overlapping one of them by
    0.5–1.5 voxels (numpy/scipy), the true mask, the radius 8: small balls with a marker 32
    / 30 of 50 → 50 / 50, no extra marker; through the pipeline (noise 0.1 / 0.25 of the
    contrast) 0 of 50 labelled → 31–33 / 21–22 (all labels 22–23 of 72 → 49–57): the rest
    have no maximum left at all (the pipeline's mask fills their necks so far that the
    distance rises monotonically into the large bead: a voxel of it within ``d`` is higher),
    which no rule on maxima can find. Thin objects: tilted rods of radius 2–3.5 through the
    volume or ending inside it, plates 4–6 thick, discs, stubs out of a ball, two balls of 8
    joined by bridges of radius 2–3 and length 28–40, the radius 8: the same markers as
    before. The packs cut by the faces (``benchmarks/beads_faces.py``) and equal packs not
    denoised: the same counts and IoUs.

    Tried and not kept: the sets followed through face neighbours only (a tilted rod's ridge
    then breaks into pieces that end within the reach: 1–9 more markers per rod, 2–5 per
    bridged pair); the walk started only from the shell's voxels over ``0.85 d`` (the round
    rule's threshold): where a bridge of radius 2.5 meets a ball of 8, the bridge's ridge
    (0.79 d) started no set and only the ball's, which rises, was seen (1 extra marker); a
    set had to rise, ending was not enough: 17 / 18 of the 25 / 24 small beads (the others:
    a voxel of the neck's rim at 0.85 d, alone, or a small neighbour); following from
    ``0.7 d``: 2 / 0 of those beads lost again, from ``0.65 d``: 5 / 3; a reach of ``2 d``:
    8 / 8 of them found (the large bead's voxels of ``1.25 d`` lie about ``2.25 d`` away).
    Without the first condition (the voxel tops its own set): about 6 voxels 62 / 69 and 58
    / 61 beads, but a shoulder of 1.41 voxels (a quarter of the radius 5.6) at the end of an
    ellipsoid of axis ratio 1.6, with no drop on the way up into it, was a marker
    (``--ellipsoids``, 6 voxels, without the outlines' smoothing: 10 labels for 9). What is
    left: a small bead with no maximum of its own (above); not measured: a small bead in a
    chain of small ones running on past ``3 d``.

    **Beads cut by the volume's faces.** A scan cuts the beads at its faces. Beyond a
    face the distance map sees object (the exact distance's convention), so a bead whose
    centre lies beyond it peaks on the face, at the height ``h`` of the cap left inside,
    and a cap under half the radius (under about 16 % of the bead's volume) failed the
    floor and joined its neighbour. A voxel of the volume's outer faces (of the whole
    volume, not of a chunk: each block is told where it lies) with ``d`` under
    ``radius / 2`` is therefore a marker when it can be the top of such a cap: a cap of
    height ``h`` cut from a ball of radius ``R`` has a base of radius
    ``sqrt(h (2 R - h))``, and

    * that base reaches ``radius / 2`` (the interior's floor, on the face):
      ``d >= (1 - sqrt(3) / 2) radius``, a cap of 1.3 % of a bead;
    * no voxel of the cap that a ball of ``radius`` would have there (the voxels within
      ``radius`` of the point ``radius - d`` beyond the face; on an edge or a corner,
      the union of the caps of its faces) outranks it: one marker per cap, however flat;
    * the objects hold most (more than half) of the disc of radius ``radius / 2``
      about it on the face (on one of its faces), the base a cap there would have: a
      speck of noise has none. Between voxels of equal distance in the cap, the one
      whose disc is held more outranks (then C order): a cap a voxel thick is a plateau,
      whose first voxel in C order lies on its rim.

    A bead whose centre lies inside the volume keeps its one marker at its centre: its
    distance grows inwards from the face, so no face voxel is a peak. The face rule
    ignores ``reach``.

    Lab book (``benchmarks/beads_faces.py``: an independent pack cropped from a larger
    box, radii 6 and 10 voxels ±10 %, necks, blur, noise 0.1 and 0.3 of the contrast,
    3 seeds, 42³ and 70³ voxels, 12 cases, 796 beads of which 654 are cut;
    ``pipelines.beads`` with its defaults). Beads owning no label, by their share
    inside, lost / cut:

    =============================  =======  =======  =======  =======  =====
    rule                           ≤ 5 %    5-15 %   15-30 %  30-50 %  extra
    =============================  =======  =======  =======  =======  =====
    floor ``radius / 2`` (before)  186/186  115/140  12/74    0/70     0
    cap, all of the disc held      180/186  45/140   2/74     0/70     0
    cap of a ball ``radius / 2``   111/186  11/140   2/74     0/70     3
    cap, no base check             114/186  15/140   2/74     0/70     0
    cap, most of the disc          137/186  15/140   2/74     0/70     0
    and ties by the disc (kept)    123/186  13/140   2/74     0/70     0
    =============================  =======  =======  =======  =======  =====

    On the true mask (the watershed alone), before 186/186, 114/140, 6/74 lost; kept
    92/186 (about 83 of them among the 98 caps under 1.3 %), 6/140, 0/74, no extra label.
    In 128³ volumes (``--quick --size 128``: 847 beads of 6 voxels, 274 of 10) the count
    of every bead touching the volume went from -16 % and -25 % to -4.8 % and -8.0 %
    (lost with 15-30 % inside 23/64 -> 2/64, with 5-15 % 80/90 -> 9/90, under 5 %
    104/105 -> 52/105; no extra label). The median IoU of the beads with half or more
    inside rose by 0 to 0.023, that of whole beads did not move;
    ``benchmarks/beads_accuracy.py`` (all beads inside: the default sweep of 34 cases,
    ``--polydisperse``, ``--quick``, ``--ellipsoids``) gave the same counts and IoUs to
    the last digit.

    Not kept: the cap's region without the base check put a marker on single voxels of
    noise on the faces (a median-filtered noisy scan: 39 extra labels on 34 beads); a
    base held in full lost caps whose base a voxel or two of noise dented; the cap of a
    ball of ``radius / 2`` (the smallest bead the floor accepts: a region that a
    neighbour's neck cannot reach) gave extra labels; a single cap along the diagonal of
    an edge gave a second marker to a bead cut by two faces. What is still lost: caps
    under 1.3 % (the floor: a sliver nobody can tell from noise); on the pipeline's
    mask, caps a voxel or two thick that the denoising thins further; and caps whose
    neighbour's neck reaches into the region (the pipeline's mask fills necks: one bead
    of 15.5 %, at both noises). On a mask not denoised (``denoise_sigma=None``, noise
    0.2-0.35 of the contrast) the distance map of a cap is too rough: 1-19 extra labels
    on packs of 60-71 beads (before 0-9).

    Parameters
    ----------
    distance : dask.array.Array
        Distance map in physical units (0 outside the objects), 3-D.
    spacing : sequence of 3 float
        Voxel size per axis (z, y, x), in the units of ``distance``.
    radius : float
        Typical object radius, in the units of ``distance``.
    reach : float
        Radius of the dominance ball as a fraction of the distance at its centre.
    floor_radius : float, optional
        The smallest objects' radius (at most ``radius``; by default ``radius``): a
        maximum of ``floor_radius / 2`` and more is a marker without the tests of
        roundness (which the maxima from ``radius / 4`` up to it must pass, where it is
        over that; under ``radius / 2`` none are left); the faces' rule takes caps
        down to a base of ``floor_radius / 2``; the reach and the caps' shape follow
        ``radius``. For packs of two sizes or more (see
        :func:`~xarray_microct.pipelines.beads`).

    Returns
    -------
    dask.array.Array of int32
        0 outside the markers, markers numbered ``1..N`` (one voxel each).

    Examples
    --------
    >>> import scipy.ndimage as ndi
    >>> z, y, x = np.ogrid[:12, :12, :24]
    >>> two = ((z - 6) ** 2 + (y - 6) ** 2 + (x - 6) ** 2 <= 25) | (
    ...     (z - 6) ** 2 + (y - 6) ** 2 + (x - 15) ** 2 <= 25)
    >>> dist = da.from_array(ndi.distance_transform_edt(two).astype("f4"), chunks=7)
    >>> markers = ball_markers_array(dist, (1.0, 1.0, 1.0), radius=5.0).compute()
    >>> np.argwhere(markers).tolist()
    [[6, 6, 6], [6, 6, 15]]

    A ball of radius 8 cut by the face ``x = 0`` to a cap of height 3 (10 % of it):

    >>> z, y, x = np.ogrid[:20, :20, :12]
    >>> cap = (z - 10) ** 2 + (y - 10) ** 2 + (x + 5) ** 2 <= 64
    >>> dist = da.from_array(ndi.distance_transform_edt(cap).astype("f4"), chunks=7)
    >>> np.argwhere(ball_markers_array(dist, (1.0, 1.0, 1.0), radius=8.0).compute()).tolist()
    [[10, 10, 0]]
    """
    spacing = tuple(float(s) for s in spacing)
    radius = float(radius)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a positive length, got {radius!r}")
    cap = 1.5 * radius
    depth = tuple(int(np.ceil(cap / s)) for s in spacing)
    peaks = map_spatial_interior(
        _ball_peak_interior,
        distance,
        depth,
        bool,
        token="ball-peaks",
        spacing=spacing,
        reach=float(reach),
        cap=cap,
        radius=radius,
        volume_shape=distance.shape,
        floor_radius=None if floor_radius is None else float(floor_radius),
    )
    return number_peaks(peaks)


def _peaks_and_smooth_block(
    block: np.ndarray,
    origin: tuple[int, ...],
    shape: tuple[int, ...],
    start: tuple[int, ...],
    *,
    spacing: tuple[float, ...],
    reach: float,
    cap: float,
    radius: float,
    volume_shape: tuple[int, ...],
    sigma: tuple[float, ...],
    smooth_depth: tuple[int, ...],
    floor_radius: float | None = None,
) -> np.ndarray:
    """The ball peaks of a chunk and its distance map smoothed (``(2, *shape)`` float32).

    ``block`` is the chunk with the peaks' halo (see :func:`map_spatial_interior`); the
    smoothing runs on the chunk with ``smooth_depth`` voxels of that halo (or what there
    is at the volume's border), as a Gaussian of its own halo would (the values of
    ``scipy.ndimage.gaussian_filter``, from
    :func:`~xarray_microct.kernels.gaussian.gaussian_passes`).
    """
    inner = tuple(slice(o, o + n) for o, n in zip(origin, shape, strict=True))
    out = np.empty((2, *shape), np.float32)
    out[1] = _ball_peak_block(
        block, spacing, reach, cap, radius, start, volume_shape, inner, floor_radius
    )
    part = tuple(
        slice(max(o - d, 0), min(o + n + d, b))
        for o, n, d, b in zip(origin, shape, smooth_depth, block.shape, strict=True)
    )
    window = block[part]
    source = work_array("watershed-smooth-source", window.shape, np.float32)  # no fresh pages
    np.copyto(source, window, casting="same_kind")
    inner = tuple(
        slice(o - p.start, o - p.start + n) for o, n, p in zip(origin, shape, part, strict=True)
    )
    # the planes and rows of the chunk only: the halo is read, not smoothed itself
    smooth = gaussian_passes(source, sigma, SMOOTH_TRUNCATE, np.dtype(np.float32), inner[:2])
    out[0] = smooth[:, :, inner[2]]
    return out


def ball_markers_and_smoothed(
    distance: da.Array,
    spacing: Sequence[float],
    radius: float,
    sigma: Sequence[float],
    floor_radius: float | None = None,
) -> tuple[da.Array, da.Array]:
    """:func:`ball_markers_array` (``reach=1``, ``floor_radius``) of a distance map, and the
    map smoothed by a Gaussian of ``sigma`` (voxels per axis, truncated at
    :data:`SMOOTH_TRUNCATE` sigmas, ``mode="nearest"``), from one pass over the map with
    one halo (the deeper of the two): one overlap of the map in the graph instead of two.

    Examples
    --------
    >>> z, y, x = np.ogrid[:12, :12, :24]
    >>> two = ((z - 6) ** 2 + (y - 6) ** 2 + (x - 6) ** 2 <= 25) | (
    ...     (z - 6) ** 2 + (y - 6) ** 2 + (x - 15) ** 2 <= 25)
    >>> d = ndi.distance_transform_edt(two).astype("f4")
    >>> markers, smooth = ball_markers_and_smoothed(
    ...     da.from_array(d, chunks=7), (1.0, 1.0, 1.0), 5.0, (1.0, 1.0, 1.0))
    >>> np.argwhere(markers.compute()).tolist()
    [[6, 6, 6], [6, 6, 15]]
    >>> ref = ndi.gaussian_filter(d, 1.0, truncate=SMOOTH_TRUNCATE, mode="nearest")
    >>> bool(np.array_equal(smooth.compute(), ref))
    True
    """
    spacing = tuple(float(s) for s in spacing)
    radius = float(radius)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a positive length, got {radius!r}")
    cap = 1.5 * radius
    smooth_depth = kernel_radius(sigma, SMOOTH_TRUNCATE)
    depth = tuple(max(int(np.ceil(cap / s)), d) for s, d in zip(spacing, smooth_depth, strict=True))
    both = map_spatial_interior(
        _peaks_and_smooth_block,
        distance,
        depth,
        np.float32,
        new_axis_size=2,
        token="ball-peaks-and-smoothed",
        spacing=spacing,
        reach=1.0,
        cap=cap,
        radius=radius,
        volume_shape=distance.shape,
        sigma=tuple(float(s) for s in sigma),
        smooth_depth=smooth_depth,
        floor_radius=None if floor_radius is None else float(floor_radius),
    )
    return number_peaks(both[1] != 0), both[0]


# ---------------------------------------------------------------------------------------
# The distance map of the objects' cores

CORE_LEVEL = 0.5  # the cores: this share of the way from the threshold to the objects' level


def _core_cut(
    counts: np.ndarray, edges: np.ndarray, threshold: np.ndarray, exact: bool
) -> np.ndarray:
    """The cores' level: ``CORE_LEVEL`` of the way from ``threshold`` to the bright
    phase's level (:func:`~xarray_microct.core.stats.phase_levels`), never under it."""
    _, _, bright = phase_levels(*trim_histogram(counts, histogram_centres(edges, exact)))
    cut = float(threshold.item())
    return np.array([cut + CORE_LEVEL * max(bright - cut, 0.0)])


SHIFT_BINS = 4096  # histogram bins of the mask's distance on the cores' edges
SHIFT_REACH = 8.0  # of the coarsest spacing: the histogram's range (the shift lies well within)


def _edge_histogram(
    mask_distance: np.ndarray, core_distance: np.ndarray, edge: float, top: float
) -> np.ndarray:
    """Counts of the mask's distance over the cores' edge voxels (a core distance of at
    most ``edge``: a face neighbour outside the core), in ``SHIFT_BINS`` bins up to ``top``
    (higher values in the last one)."""
    values = mask_distance[(core_distance > 0) & (core_distance <= edge)]
    index = np.minimum((values / top * SHIFT_BINS).astype(np.int64), SHIFT_BINS - 1)
    return np.bincount(index, minlength=SHIFT_BINS)[None, None, None, :]


def _median_shift(counts: np.ndarray, top: float) -> np.ndarray:
    """The median of the histogram of :func:`_edge_histogram` (its bin's centre); 0 when
    it is empty."""
    if counts.sum() == 0:
        return np.zeros(1)
    middle = int(np.searchsorted(np.cumsum(counts), counts.sum() / 2))
    return np.array([(middle + 0.5) * top / SHIFT_BINS])


def _core_map_block(
    mask_distance: np.ndarray, core_distance: np.ndarray, shift: np.ndarray
) -> np.ndarray:
    capped = np.minimum(mask_distance, core_distance + np.float32(shift.item()))
    return capped.astype(np.float32, copy=False)


def _or_outside(mask: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """``mask | outside``; ``mask`` itself where the block has no voxel outside (a scan
    without padding pays a test per block, not a pass)."""
    return mask | outside if outside.any() else mask


def _zero_outside(values: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """``values`` set to 0 outside (a new array); ``values`` itself where the block has
    no voxel outside."""
    return np.where(outside, values.dtype.type(0), values) if outside.any() else values


def core_distance_array(
    data: da.Array,
    spacing: Sequence[float],
    threshold: object = "otsu",
    connectivity: int = 1,
    nbins: int = 256,
    outside: da.Array | None = None,
) -> da.Array:
    """The map of :func:`core_distance` (float32, lazy) of a Dask scan, objects bright;
    ``outside`` (boolean, optional): the voxels out of the field of view, seen as objects
    by both distance maps and 0 in the result.

    Examples
    --------
    >>> scan = np.zeros((9, 9, 20), np.float32)
    >>> scan[1:8, 1:8, 1:9] = scan[1:8, 1:8, 10:19] = 1.0
    >>> scan[3:6, 3:6, 9] = 0.3  # a gap the blur closed: over the threshold, under the cores
    >>> out = core_distance_array(da.from_array(scan, chunks=5), (1.0, 1.0, 1.0)).compute()
    >>> round(float(out[4, 4, 9]), 2), float(out[4, 4, 4])  # the gap: capped at the shift
    (1.0, 4.0)
    """
    from xarray_microct.ops.segment import _value_of  # here: scikit-image is slow to import

    cut = _value_of(data, threshold, nbins)
    mask = fill_holes_array(data > cut, connectivity)
    counts, edges = global_histogram(data)
    level = da.blockwise(
        _core_cut,
        "l",
        counts,
        "c",
        edges,
        "e",
        da.asarray(cut).reshape(1),
        "t",
        exact=has_exact_histogram(data.dtype),
        new_axes={"l": 1},
        concatenate=True,
        dtype=np.float64,
    )[0]
    cores = (data > level) & mask
    if outside is None:
        mask_distance = edt_array(mask, spacing)
        core_distance = edt_array(cores, spacing)
    else:  # beyond the field, as beyond the volume's faces: unknown, seen as objects
        outside = outside.rechunk(data.chunks)
        mask_distance = da.map_blocks(
            _zero_outside,
            edt_array(da.map_blocks(_or_outside, mask, outside, dtype=bool), spacing),
            outside,
            dtype=np.float32,
        )
        core_distance = da.map_blocks(
            _zero_outside,
            edt_array(da.map_blocks(_or_outside, cores, outside, dtype=bool), spacing),
            outside,
            dtype=np.float32,
        )
    edge, top = max(float(s) for s in spacing), SHIFT_REACH * max(float(s) for s in spacing)
    counts = da.map_blocks(
        _edge_histogram,
        mask_distance,
        core_distance,
        edge=edge * (1 + 1e-6),
        top=top,
        new_axis=3,
        chunks=(*((1,) * n for n in data.numblocks), (SHIFT_BINS,)),
        dtype=np.int64,
    ).sum(axis=(0, 1, 2))
    shift = counts.map_blocks(_median_shift, top=top, chunks=(1,), dtype=np.float64)
    return da.map_blocks(_core_map_block, mask_distance, core_distance, shift, dtype=np.float32)


@operation(
    spatial_only=True,
    intensity_units="length",
    packages=["numba", "scikit-image"],
    earlier=("scan",),
)
def core_distance(
    volume: xr.DataArray,
    threshold: object = "otsu",
    connectivity: int = 1,
    nbins: int = 256,
    scan: xr.DataArray | None = None,
) -> xr.DataArray:
    """The distance map of the objects' cores, for splitting objects whose gaps the blur
    closed: a map for :func:`watershed`.

    Where objects nearly touch, the blur of a scan fills the narrow gaps between them
    with values between the two phases' levels, and a threshold half way between them
    takes the gaps in: a gap walled in by objects becomes a high point of the mask's
    distance map, which takes the markers of the objects next to it. The cores — the
    voxels over half way (``CORE_LEVEL``) from the threshold to the objects' level —
    leave such gaps out. The map is the mask's distance map (``volume > threshold``,
    holes filled) capped by the cores' distance map plus the shift between the two
    surfaces, ``min(d_mask, d_core + shift)``: the shift is the median of ``d_mask``
    over the cores' edge voxels (those with a face neighbour outside the cores), so that
    away from closed gaps the map is the mask's own, while in a closed gap it stays at
    the shift. The watershed of the map labels the whole mask.

    Parameters
    ----------
    volume : xarray.DataArray
        A two-phase scan, the objects bright (invert it first for dark objects).
    threshold : str or float
        The mask's threshold: a method of
        :func:`~xarray_microct.ops.segment.threshold` (from the histogram of the whole
        volume) or a value. The objects' level comes from the same histogram
        (:func:`~xarray_microct.core.stats.phase_levels`).
    connectivity : {1, 2, 3}
        Connectivity of the background when the mask's holes are filled.
    nbins : int
        Histogram bins of the threshold for volumes other than 8/16-bit.
    scan : xarray.DataArray, optional
        The scan of the chain (before its out-of-field padding was filled): where it
        holds a circular field of view's padding
        (:func:`~xarray_microct.core.stats.padding_mask_array`), both distance maps see
        the padding as objects, as they see what lies beyond the volume's faces (the
        scan does not say what is there), and the map is 0 on it. A bead the field's
        edge cuts keeps the height of its cap (not half of it), so the watershed's
        markers find it as they find the caps the faces cut.

    Returns
    -------
    xarray.DataArray of float32
        Lazy, in the volume's coordinate units; the same for any chunking.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> scan = np.zeros((9, 9, 20), np.float32)
    >>> scan[1:8, 1:8, 1:9] = scan[1:8, 1:8, 10:19] = 1.0
    >>> scan[3:6, 3:6, 9] = 0.3  # the gap between two boxes, closed by the blur
    >>> vol = mct.from_array(scan, chunks=5)
    >>> labels = vol.microct.core_distance().microct.watershed(object_radius=4)
    >>> int(labels.max()), bool(labels[4, 4, 9] > 0)
    (2, True)
    """
    connectivity = check_connectivity(connectivity)
    data = volume.data if isinstance(volume.data, da.Array) else da.from_array(volume.values)
    outside = None
    if scan is not None:
        check_same_grid(volume, scan, "the scan")
        outside = padding_mask_array(scan.data)
    grid = grid_of(volume)
    out = core_distance_array(data, grid.spacing, threshold, connectivity, nbins, outside)
    return wrap_like(volume, out, name="core_distance", long_name="distance of the cores")


# ---------------------------------------------------------------------------------------
# Flooding


def _offsets(shape: tuple[int, ...], connectivity: int) -> np.ndarray:
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    where = np.argwhere(structure(connectivity)) - 1
    offs = where @ strides
    return offs[offs != 0].astype(np.int64)


def _sparse_markers(markers: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The marker voxels of a block inside the mask: (flat indices, labels)."""
    index = np.flatnonzero((markers != 0) & mask)
    return index, markers.ravel()[index]


# The state between rounds: long runs of equal keys and labels, which lz4 finds in the
# bytes as they are; a byte shuffle first halves the speed and compresses less (measured
# on bead packs: keys 26x, labels 16x, levels 2.8x, at 2-4 GB/s).
_CODEC = Blosc(cname="lz4", clevel=1, shuffle=Blosc.NOSHUFFLE)


class _State(NamedTuple):
    """A block's result of one round (see :func:`_pack`)."""

    faces: dict  # direction -> (keys, labels) of the block's own face on that side
    shape: tuple[int, ...]  # of the block with its one-voxel rim
    key: bytes  # compressed, XORed with the keys of voxels reached from below
    lab: bytes  # compressed labels
    level: bytes  # compressed levels (constant over the rounds)
    inside: bytes  # compressed mask (constant)
    face_inside: dict  # direction -> mask of the block's own face on that side (constant)


def _label_dtype(markers_dtype: Any) -> Any:
    """int32 labels in the flooding when the markers' labels fit, else int64."""
    return np.int32 if np.can_cast(markers_dtype, np.int32) else np.int64


def _block_arrays(
    alt: np.ndarray | None,
    mask: np.ndarray | None,
    markers: tuple[np.ndarray, np.ndarray],
    rim: list | None,
    connectivity: int,
    negate: bool,
    lab_dtype: Any,
    state: _State | None,
) -> tuple[np.ndarray, ...]:
    """Arrays of a block with a one-voxel rim: level, inside, fixed (flat), key, lab (3-D).

    On the first round they come from ``alt`` and ``mask``; later from ``state`` (the
    block's previous result), which also gives the keys and labels. The rim comes from
    the neighbours' faces in ``rim``.
    """
    # the thread's work arrays (no fresh pages for every block and round): nothing of
    # them outlives the task (its state is packed, its faces copied)
    if state is None:
        core = alt.shape
        shape = tuple(n + 2 for n in core)
        inner = (slice(1, -1),) * 3
        level = work_array("watershed-level", shape, np.uint32)
        level.fill(0)  # the rim's level is never read
        contiguous_mask = work_array("watershed-mask", core, bool)
        contiguous_alt = work_array("watershed-altitude", core, np.float32)
        np.copyto(contiguous_mask, mask, casting="unsafe")
        np.copyto(contiguous_alt, alt, casting="same_kind")
        kernels.ordered_altitude(contiguous_alt, contiguous_mask, negate, level)
        inside = work_array("watershed-inside", shape, bool)
        inside.fill(True)  # rim voxels outside the mask carry no key: never used
        inside[inner] = contiguous_mask
        key = work_array("watershed-key", shape, np.uint64)
        key.fill(kernels.UNREACHED)
        lab = work_array("watershed-lab", shape, lab_dtype)
        lab.fill(0)
    else:
        shape = state.shape
        core = tuple(n - 2 for n in shape)
        level = work_array("watershed-level", shape, np.uint32)
        inside = work_array("watershed-inside", shape, bool)
        key = work_array("watershed-key", shape, np.uint64)
        lab = work_array("watershed-lab", shape, lab_dtype)
        blobs = (state.key, state.lab, state.level, state.inside)
        for blob, out in zip(blobs, (key, lab, level, inside), strict=True):
            _CODEC.decode(blob, out=out)
        kernels.toggle_level_bits(key.ravel(), level.ravel(), inside.ravel())
    fixed = work_array("watershed-fixed", shape, bool)
    fixed.fill(True)
    fixed[(slice(1, -1),) * 3] = False
    if rim is not None:
        for d, faces in zip(neighbour_directions(connectivity), rim, strict=True):
            if faces is not None:
                opposite = tuple(-s for s in d)
                key[face(d, rim=True)] = faces[opposite][0]
                lab[face(d, rim=True)] = faces[opposite][1]
    index, labels = markers
    where = np.ravel_multi_index(tuple(i + 1 for i in np.unravel_index(index, core)), shape)
    level, fixed = level.ravel(), fixed.ravel()
    fixed[where] = True
    key.ravel()[where] = level[where].astype(np.uint64) << np.uint64(32)
    lab.ravel()[where] = labels
    return level, inside.ravel(), fixed, key, lab


def _pack(
    key: np.ndarray,
    lab: np.ndarray,
    level: np.ndarray,
    inside: np.ndarray,
    connectivity: int,
    before: _State | None = None,
) -> _State:
    """A round's result for one block: the faces its neighbours need, and its state.

    The state (keys, labels, levels and mask of the block with its rim) is compressed: a
    few bits per voxel instead of 17 or 21 bytes. The keys are stored XORed with the key
    of a voxel reached from below (:func:`~xarray_microct.kernels.watershed.toggle_level_bits`,
    undone on reading): zero for most voxels. Later rounds need nothing else of the
    block, so its altitude and mask are released after the first round. Levels and mask
    never change: their blobs are taken from ``before`` (the block's state of the round
    before) when there is one. ``key`` is changed in place.
    """
    inner = (slice(1, -1),) * 3
    directions = neighbour_directions(connectivity)
    faces = {
        d: (key[inner][face(d, rim=False)].copy(), lab[inner][face(d, rim=False)].copy())
        for d in directions
    }
    if before is None:
        core_inside = inside.reshape(key.shape)[inner]
        constant = (
            _CODEC.encode(level),
            _CODEC.encode(inside),
            {d: core_inside[face(d, rim=False)].copy() for d in directions},
        )
    else:
        constant = (before.level, before.inside, before.face_inside)
    kernels.toggle_level_bits(key.ravel(), level, inside)
    return _State(faces, key.shape, _CODEC.encode(key), _CODEC.encode(lab), *constant)


def _face_changes(own: _State, d: tuple[int, ...], now: dict, old: dict | None) -> np.ndarray:
    """The voxels of the block's face on side ``d`` that the neighbour's new face ``now``
    can change (``old``: the face the state holds for; None: nothing reached): a mask.

    A rim voxel ``q`` next to a block voxel ``p`` of the mask matters to ``p`` only when
    it changed and its key, before or now, is below ``p``'s: ``p``'s key exceeds that of
    the neighbour it is reached from, which a key at or above it cannot be.
    """
    opposite = tuple(-s for s in d)
    new_key, new_lab = now[opposite]
    if old is None:
        old_key, old_lab = kernels.UNREACHED, 0
    else:
        old_key, old_lab = old[opposite]
    own_key = own.faces[d][0]
    changed = (new_key != old_key) | (new_lab != old_lab)
    below = (new_key < own_key) | (old_key < own_key)
    return changed & below & own.face_inside[d]


def _rim_changes(own: _State, rim: list, rim_before: list | None, connectivity: int) -> list | None:
    """Where the neighbours' new faces can change the block's state: ``(side, mask)``
    pairs (:func:`_face_changes`), empty when the state still holds; None (anywhere)
    when a face changed, for connectivity 2 and 3.

    The state was computed with (or still holds for) the faces of ``rim_before``.
    """
    before = rim_before or [None] * len(rim)
    changes = []
    for d, now, old in zip(neighbour_directions(connectivity), rim, before, strict=True):
        if now is None or now is old:
            continue
        if connectivity == 1:
            where = _face_changes(own, d, now, old)
            if where.any():
                changes.append((d, where))
        elif not _same_faces(now, old, tuple(-s for s in d)):
            return None
    return changes


def _rim_settled(own: _State, rim: list, rim_before: list | None, connectivity: int) -> bool:
    """Whether the block's state solves its flooding given its neighbours' new faces."""
    return _rim_changes(own, rim, rim_before, connectivity) == []


def _seeds(shape: tuple[int, ...], changes: list | None) -> np.ndarray:
    """Flat indices, in a block with its rim, of the voxels an update starts from: those of
    the ``changes`` of :func:`_rim_changes`, or the whole outer layer of the block."""
    if changes is None:
        layer = np.zeros(shape, bool)
        layer[1:-1, 1:-1, 1:-1] = True
        layer[2:-2, 2:-2, 2:-2] = False
        return np.flatnonzero(layer)
    out = []
    for d, where in changes:
        coords = np.nonzero(where)
        full = [
            c + 1 if s == 0 else np.full_like(c, 1 if s < 0 else n - 2)
            for s, c, n in zip(d, coords, shape, strict=True)
        ]
        out.append(np.ravel_multi_index(full, shape))
    return np.concatenate(out)  # a voxel of two faces twice: its second visit changes nothing


def _same_faces(a: dict | None, b: dict | None, d: tuple[int, ...]) -> bool:
    """Whether a neighbour shows the same face ``d`` in two rounds (None: reached nothing)."""
    if a is b:
        return True
    if a is None or b is None:
        faces = a if b is None else b
        return bool((faces[d][0] == kernels.UNREACHED).all())
    return np.array_equal(a[d][0], b[d][0]) and np.array_equal(a[d][1], b[d][1])


def _round_task(
    alt: np.ndarray | None,
    mask: np.ndarray | None,
    markers: tuple,
    own: _State | None,
    rim: list | None,
    rim_before: list | None,
    *,
    connectivity: int,
    negate: bool,
    lab_dtype: Any,
) -> _State:
    """One round on one block: flood it (first round), or update it from its new rim.

    A block whose state still holds with its neighbours' new faces (:func:`_rim_changes`:
    none changed, or none in a way that matters) keeps its state: the same object, no
    copy. Otherwise the update starts from the block voxels the changes can reach.
    """
    changes = None if own is None else _rim_changes(own, rim, rim_before, connectivity)
    if changes == []:
        return own
    level, inside, fixed, key, lab = _block_arrays(
        alt, mask, markers, rim, connectivity, negate, lab_dtype, own
    )
    offsets = _offsets(key.shape, connectivity)
    if own is None:  # the first round: no rim yet, water starts from the markers
        sources = np.ravel_multi_index(
            tuple(i + 1 for i in np.unravel_index(markers[0], alt.shape)), key.shape
        )
        work = work_array("watershed-flood", (key.size, 2), np.uint64)
        kernels.flood(level, inside, fixed, key.ravel(), lab.ravel(), offsets, sources, work)
    else:
        seeds = _seeds(key.shape, changes)
        if not kernels.update(level, inside, fixed, key.ravel(), lab.ravel(), offsets, seeds):
            return own  # nothing changed: the same faces and state (its stale rim is
            # never read: every round rebuilds the rim from the neighbours' faces)
    return _pack(key, lab, level, inside, connectivity, own)


def _last_round(
    own: _State, rim: list, rim_before: list | None, *, connectivity: int
) -> tuple[_State, list | None, bool]:
    """A block after the rounds: its state, the faces it holds for, whether it has settled
    (holds for its neighbours' last faces too: then one more round would change nothing)."""
    settled = _rim_settled(own, rim, rim_before, connectivity)
    return own, rim if settled else rim_before, settled


class _Chunk(NamedTuple):
    """The flooding blocks of one chunk after a round (see :func:`_chunk_round`)."""

    states: dict  # block index -> its state (_State)
    before: dict | None  # block index -> the faces of its state of the round before


def _chunk_markers(
    markers: np.ndarray, mask: np.ndarray, *, places: dict[tuple[int, ...], tuple[slice, ...]]
) -> dict:
    """The sparse markers of each flooding block of a chunk (``places``: block index ->
    its place in the chunk): block index -> (place, :func:`_sparse_markers`)."""
    return {
        idx: (place, _sparse_markers(markers[place], mask[place])) for idx, place in places.items()
    }


def _merged(faces_of_chunks: list | None) -> dict | None:
    """The faces of the blocks of neighbouring chunks (block index -> faces), in one dict."""
    if faces_of_chunks is None:
        return None
    out: dict = {}
    for faces in faces_of_chunks:
        if faces is not None:
            out.update(faces)
    return out


def _block_rim(
    idx: tuple[int, ...], own: dict, near: dict, grid: tuple[int, ...], connectivity: int
) -> list:
    """The faces of the neighbours of block ``idx``, in :func:`neighbour_directions` order:
    from ``own`` (its chunk's blocks) or ``near`` (the neighbouring chunks'), None outside
    the grid."""
    return [
        None if n is None else own[n] if n in own else near[n]
        for n in _neighbours(idx, grid, connectivity)
    ]


@functools.cache
def _neighbours(
    idx: tuple[int, ...], grid: tuple[int, ...], connectivity: int
) -> tuple[tuple[int, ...] | None, ...]:
    """The indices of the neighbours of block ``idx`` in a grid of blocks, in
    :func:`neighbour_directions` order (None outside the grid)."""
    out = []
    for d in neighbour_directions(connectivity):
        n = tuple(i + s for i, s in zip(idx, d, strict=True))
        out.append(n if all(0 <= k < g for k, g in zip(n, grid, strict=True)) else None)
    return tuple(out)


def _chunk_round(
    alt: np.ndarray | None,
    mask: np.ndarray | None,
    markers: dict,
    own: _Chunk | None,
    rim: list | None,
    rim_before: list | None,
    *,
    grid: tuple[int, ...],
    connectivity: int,
    negate: bool,
    lab_dtype: Any,
) -> _Chunk:
    """One round on the flooding blocks of one chunk: :func:`_round_task` on each block,
    with the faces of its neighbours of the round before (those in the chunk from
    ``own``, the others from the neighbouring chunks' faces ``rim``), exactly as one
    task per block would. One task per chunk keeps the graph small (the blocks are
    there for the cache, not for the scheduler)."""
    task = functools.partial(
        _round_task, connectivity=connectivity, negate=negate, lab_dtype=lab_dtype
    )
    if own is None:
        return _Chunk(
            {
                idx: task(alt[place], mask[place], sparse, None, None, None)
                for idx, (place, sparse) in markers.items()
            },
            None,
        )
    faces = _chunk_faces(own)
    near, near_before = _merged(rim), _merged(rim_before)
    states = {}
    for idx, state in own.states.items():
        block_rim = _block_rim(idx, faces, near, grid, connectivity)
        block_before = (
            None
            if near_before is None
            else _block_rim(idx, own.before, near_before, grid, connectivity)
        )
        states[idx] = task(None, None, markers[idx][1], state, block_rim, block_before)
    return _Chunk(states, faces)


def _chunk_faces(own: _Chunk) -> dict:
    """The faces the neighbouring chunks read of a chunk's result: block index -> faces."""
    return {idx: state.faces for idx, state in own.states.items()}


def _chunk_last(
    own: _Chunk,
    rim: list,
    rim_before: list | None,
    *,
    grid: tuple[int, ...],
    connectivity: int,
) -> dict:
    """:func:`_last_round` on each block of a chunk: block index -> its result."""
    faces = _chunk_faces(own)
    near, near_before = _merged(rim), _merged(rim_before)
    return {
        idx: _last_round(
            state,
            _block_rim(idx, faces, near, grid, connectivity),
            None
            if near_before is None
            else _block_rim(idx, own.before, near_before, grid, connectivity),
            connectivity=connectivity,
        )
        for idx, state in own.states.items()
    }


def _settle(
    lasts: list[dict],
    markers: list[dict],
    *,
    connectivity: int,
    negate: bool,
    lab_dtype: Any,
) -> dict:
    """Finish the flooding of the blocks that had not settled after the rounds.

    ``lasts`` are the :func:`_chunk_last` results of the chunks, ``markers`` their
    :func:`_chunk_markers`. A work list of blocks, one at a time: a block whose
    state no longer holds for its neighbours' current faces is updated, and its
    neighbours are queued again when it changed. Keys only fall (towards the unique
    solution), so the list empties: every block then holds for its neighbours' faces,
    whatever the length of the objects or the number of rounds before. Returns the new
    states of the blocks that changed (none, once the rounds have settled everything).
    """
    blocks = {idx: last for chunk in lasts for idx, last in chunk.items()}
    sparse = {idx: found for chunk in markers for idx, (_, found) in chunk.items()}
    states = {idx: b[0] for idx, b in blocks.items()}
    used = {idx: b[1] for idx, b in blocks.items()}
    work = collections.deque(idx for idx in sorted(blocks) if not blocks[idx][2])
    queued = set(work)
    directions = neighbour_directions(connectivity)
    changed: dict = {}
    while work:
        idx = work.popleft()
        queued.discard(idx)
        near = [tuple(i + s for i, s in zip(idx, d, strict=True)) for d in directions]
        near = [n if n in states else None for n in near]
        rim = [None if n is None else states[n].faces for n in near]
        new = _round_task(
            None,
            None,
            sparse[idx],
            states[idx],
            rim,
            used[idx],
            connectivity=connectivity,
            negate=negate,
            lab_dtype=lab_dtype,
        )
        used[idx] = rim
        if new is not states[idx]:
            states[idx] = changed[idx] = new
            for n in near:
                if n is not None and n not in queued:
                    work.append(n)
                    queued.add(n)
    return changed


def _labels_task(
    last: dict,
    settled: dict,
    *,
    places: dict[tuple[int, ...], tuple[slice, ...]],
    shape: tuple[int, ...],
    lab_dtype: Any,
    dtype: Any,
) -> np.ndarray:
    """Labels of one chunk, from the states of its flooding blocks (at ``places`` in the
    chunk) after the rounds (``last``) or after :func:`_settle`."""
    out = np.empty(shape, dtype)
    inner = (slice(1, -1),) * 3
    for idx, place in places.items():
        own = settled.get(idx, last[idx][0])
        lab = work_array("watershed-lab", own.shape, lab_dtype)
        _CODEC.decode(own.lab, out=lab)  # 0 outside the mask: no voxel there is labelled
        np.copyto(out[place], lab[inner], casting="unsafe")
    return out


def flood_array(
    altitude: da.Array,
    markers: da.Array,
    mask: da.Array,
    connectivity: int = 1,
    rounds: int = 8,
) -> da.Array:
    """Watershed of ``altitude`` from ``markers`` inside ``mask``, exact for any chunking.

    Parameters
    ----------
    altitude : dask.array.Array
        The relief to flood (e.g. minus a distance map), 3-D; finite values.
    markers : dask.array.Array of int
        Seeds, 0 = none; marker labels are kept.
    mask : dask.array.Array of bool
        Voxels that may be labelled.
    connectivity : {1, 2, 3}
        Neighbourhood of the flooding (1: faces, as scikit-image's default).
    rounds : int
        Rounds of exchange between neighbouring chunks, run in parallel (at least 2);
        what has not settled after them is finished in one task.

    Returns
    -------
    dask.array.Array
        Labels (the markers' dtype), 0 outside the mask and where no marker reaches.

    Examples
    --------
    >>> alt = da.from_array(np.array([[[0, 1, 2, 1, 0, 1]]], "f4"), chunks=2)
    >>> mk = da.from_array(np.array([[[1, 0, 0, 0, 2, 0]]]), chunks=2)
    >>> flood_array(alt, mk, da.ones_like(mk, dtype=bool)).compute().tolist()
    [[[1, 1, 1, 2, 2, 2]]]
    """
    return _flood(altitude, markers, mask, connectivity, rounds, negate=False)


def _split(size: int, block: int) -> list[int]:
    """``size`` voxels split evenly in pieces of at most ``block``."""
    n = -(-size // block)
    return [size // n + (i < size % n) for i in range(n)]


def _pieces(chunks: tuple[int, ...], block: int) -> list[list[tuple[int, slice]]]:
    """Per chunk of an axis: its pieces of :func:`_split` as (block index, place in it)."""
    out, index = [], 0
    for c in chunks:
        places, start = [], 0
        for piece in _split(c, block):
            places.append((index, slice(start, start + piece)))
            index += 1
            start += piece
        out.append(places)
    return out


def _flood(
    altitude: da.Array,
    markers: da.Array,
    mask: da.Array,
    connectivity: int,
    rounds: int,
    negate: bool,
    block: int = 1 << 30,
) -> da.Array:
    """The graph of :func:`flood_array` (``negate``: flood ``-altitude``)."""
    connectivity = check_connectivity(connectivity)
    if not isinstance(rounds, int | np.integer) or rounds < 2:
        raise ValueError(f"rounds must be an integer >= 2, got {rounds!r}")
    if altitude.ndim != 3 or markers.shape != altitude.shape or mask.shape != altitude.shape:
        raise ValueError(
            "altitude, markers and mask must be 3-D arrays of one shape, got "
            f"{altitude.shape}, {markers.shape}, {mask.shape}"
        )
    # each chunk is flooded in blocks of at most `block` voxels a side, views of it
    mask = mask.astype(bool).rechunk(altitude.chunks)
    markers = markers.rechunk(altitude.chunks)
    alt = altitude.astype(np.float32)
    lab_dtype = _label_dtype(markers.dtype)
    token = tokenize(alt, markers, mask, connectivity, rounds, negate, block)
    pieces = [_pieces(axis, block) for axis in altitude.chunks]
    places = {  # chunk index -> {block index: its place in the chunk}
        chunk: {
            tuple(b for b, _ in part): tuple(place for _, place in part)
            for part in itertools.product(*(pieces[a][i] for a, i in enumerate(chunk)))
        }
        for chunk in np.ndindex(*altitude.numblocks)
    }
    grid = tuple(sum(len(parts) for parts in axis) for axis in pieces)

    # one task per chunk and round, which floods the chunk's blocks in turn
    sparse = f"watershed-markers-{token}"
    dsk: dict = {
        (sparse, *chunk): (
            functools.partial(_chunk_markers, places=places[chunk]),
            (markers.name, *chunk),
            (mask.name, *chunk),
        )
        for chunk in places
    }

    def chunk_args(chunk: tuple[int, ...], first: bool) -> tuple:
        inputs = ((alt.name, *chunk), (mask.name, *chunk)) if first else (None, None)
        return (*inputs, (sparse, *chunk))

    last = rim_rounds(
        dsk,
        f"watershed-{token}",
        altitude.numblocks,
        rounds,
        connectivity,
        functools.partial(
            _chunk_round,
            grid=grid,
            connectivity=connectivity,
            negate=negate,
            lab_dtype=lab_dtype,
        ),
        chunk_args,
        functools.partial(_chunk_last, grid=grid, connectivity=connectivity),
        faces_of=_chunk_faces,
    )
    settle = f"watershed-settle-{token}"
    dsk[settle] = (
        functools.partial(_settle, connectivity=connectivity, negate=negate, lab_dtype=lab_dtype),
        [(last, *chunk) for chunk in places],
        [(sparse, *chunk) for chunk in places],
    )
    # the labels of each chunk, gathered from its blocks
    out_name = f"watershed-labels-{token}"
    for chunk, where in places.items():
        dsk[(out_name, *chunk)] = (
            functools.partial(
                _labels_task,
                places=where,
                shape=tuple(altitude.chunks[a][i] for a, i in enumerate(chunk)),
                lab_dtype=lab_dtype,
                dtype=markers.dtype,
            ),
            (last, *chunk),
            settle,
        )
    graph = HighLevelGraph.from_collections(out_name, dsk, dependencies=[alt, mask, markers])
    return da.Array(graph, out_name, chunks=altitude.chunks, dtype=markers.dtype)


# ---------------------------------------------------------------------------------------
# The verb


def _as_data(other: Any, volume: xr.DataArray, what: str) -> da.Array:
    if not isinstance(other, xr.DataArray):
        raise TypeError(
            f"watershed: {what} must be an xarray.DataArray, got {type(other).__name__}"
        )
    if other.dims != volume.dims or other.shape != volume.shape:
        raise ValueError(
            f"watershed: {what} has dims {other.dims} and shape {other.shape}, but the volume "
            f"has {volume.dims} and {volume.shape}; give one on the same grid"
        )
    check_same_grid(volume, other, f"watershed: {what}")
    data = other.data
    return data if isinstance(data, da.Array) else da.from_array(np.asarray(data))


@operation(
    lengths={
        "min_distance": LengthParam(within_volume=False),
        "object_radius": LengthParam(within_volume=False),
        "min_object_radius": LengthParam(within_volume=False),
        "smooth": LengthParam(within_volume=False),
    },
    spatial_only=True,
    packages=["numba", "scipy"],
    on_tree="finest",
)
def watershed(
    volume: xr.DataArray,
    markers: xr.DataArray | None = None,
    min_distance: object = None,
    object_radius: object = None,
    mask: xr.DataArray | None = None,
    connectivity: int = 1,
    rounds: int = 8,
    smooth: object = None,
    min_object_radius: object = None,
) -> xr.DataArray:
    """Split touching objects: a 3-D watershed on the distance map, same for any chunking.

    Parameters
    ----------
    volume : xarray.DataArray
        Either a mask (boolean or integer, non-zero = objects): its exact distance
        map is computed (:func:`distance_transform`); or a float distance-like map
        (e.g. ``mask.microct.distance_transform()``), high at the object centres,
        whose mask is ``volume > 0``.
    markers : xarray.DataArray of int, optional
        Seeds on the same grid, 0 = none (e.g. from :func:`label`); their labels are
        kept. Without them, markers are found at the peaks of the distance map.
    min_distance : length, optional
        Markers at the plain peaks of the distance: maxima within this radius
        (``"10 um"``, ``"4 voxel"``, per axis); peaks closer than about this are merged.
    object_radius : length, optional
        Markers at the centres of the objects' largest inscribed balls, the rule of
        :func:`ball_markers_array` (robust to noise, no tuning): give the typical
        object radius (objects thinner than half of it get a marker of their own only
        where round, and none under a quarter of it; at the volume's faces, caps of cut
        objects get one down to a base of half of it, 1.3 % of a ball).
        One of ``markers``, ``min_distance`` or ``object_radius`` is needed.
    mask : xarray.DataArray of bool, optional
        Voxels that may be labelled; by default the objects of ``volume``.
    connectivity : {1, 2, 3}
        Neighbourhood of the flooding: faces (1, scikit-image's default), edges, corners.
    rounds : int
        Rounds of exchange between neighbouring blocks, run in parallel (at least 2);
        the blocks not settled after them are finished one at a time in one task, so
        the labels are exact whatever the objects' length (objects crossing ``k``
        block borders in a row settle within about ``k + 2`` rounds). The flooding
        splits chunks into blocks of at most ``FLOOD_BLOCK`` (64) voxels per axis
        (one task per chunk and round floods its blocks in turn); the labels come
        back in the volume's chunks.
    smooth : length, optional
        Flood a Gaussian-smoothed copy of the distance map (this sigma, e.g. a quarter
        of the object radius) instead of the map itself; the markers still come from
        the map. The rough surfaces of a noisy mask put ridges and saddles in the
        distance map that bend the borders between touching objects; smoothed, the
        borders follow the necks.
    min_object_radius : length, optional
        With ``object_radius``: the smallest objects' radius, when under it (packs of
        two sizes or more). A maximum of half of it gets a marker without the tests of
        roundness (which the maxima from a quarter of ``object_radius`` up to it must
        pass, where it is over that), so small objects that touch others get their
        own; the reach follows ``object_radius`` (:func:`ball_markers_array`'s
        ``floor_radius``). By default ``object_radius``.

    Returns
    -------
    xarray.DataArray of int
        Lazy labels: one label per marker (``1..N`` when the markers are found here),
        0 outside the mask and in parts no marker reaches. The same partition for any
        chunking; the flooding is described in the module docstring, with how it
        relates to ``skimage.segmentation.watershed``.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> z, y, x = np.ogrid[:12, :12, :24]
    >>> two = ((z - 6) ** 2 + (y - 6) ** 2 + (x - 7) ** 2 <= 25) | (
    ...     (z - 6) ** 2 + (y - 6) ** 2 + (x - 15) ** 2 <= 25)
    >>> vol = mct.from_array(two, spacing=0.5, chunks=8)
    >>> labels = vol.microct.watershed(min_distance="1.5 um")
    >>> int(labels.max()), sorted(np.unique(labels[6, 6]).tolist())
    (2, [0, 1, 2])
    """
    grid = grid_of(volume)
    if np.issubdtype(volume.dtype, np.floating):
        distance = volume.data.astype(np.float32)
        objects = distance > 0
    else:
        check_mask(volume, "watershed")
        objects = mask_checked(volume, "watershed").data != 0
        distance = edt_array(objects, grid.spacing)
    peaks_of = distance  # 0 outside the objects, unless a mask says otherwise
    altitude = None  # what the flooding floods: the distance, smoothed when asked
    if mask is not None:
        mask_data = _as_data(mask, volume, "mask")
        check_mask(mask_data, "watershed: mask")
        mask_data = mask_checked(mask.copy(data=mask_data), "watershed: mask").data
        objects = mask_data != 0
        peaks_of = da.where(objects, distance, 0)
    if markers is not None:
        marker_data = _as_data(markers, volume, "markers")
        check_labels(marker_data, "watershed: markers")
    elif min_distance is not None:
        marker_data = peak_markers_array(peaks_of, min_distance)
    elif object_radius is not None:
        physical = [r * s for r, s in zip(object_radius, grid.spacing, strict=True)]
        floor = None
        if min_object_radius is not None:
            floor = float(
                np.mean([r * s for r, s in zip(min_object_radius, grid.spacing, strict=True)])
            )
            if not (np.isfinite(floor) and floor > 0):
                raise ValueError(
                    f"watershed: min_object_radius must be a positive length, got {floor!r}"
                )
        if smooth is not None and mask is None:  # one overlap of the map for both
            marker_data, altitude = ball_markers_and_smoothed(
                distance, grid.spacing, float(np.mean(physical)), smooth, floor
            )
        else:
            marker_data = ball_markers_array(
                peaks_of, grid.spacing, float(np.mean(physical)), floor_radius=floor
            )
    else:
        raise ValueError(
            "watershed needs markers= (a label volume), object_radius= (the typical "
            "object radius, e.g. '10 um') or min_distance= (e.g. '5 um') to find markers"
        )
    if altitude is None:
        altitude = distance
        if smooth is not None:
            altitude = gaussian_array(distance, smooth, truncate=SMOOTH_TRUNCATE)
    labels = _flood(
        altitude, marker_data, objects, connectivity, rounds, negate=True, block=FLOOD_BLOCK
    )
    return wrap_like(volume, labels, name="labels", long_name="watershed labels")
