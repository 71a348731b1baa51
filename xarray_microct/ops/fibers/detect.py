"""Fiber detection: per-slice centres linked along z into 3-D fibers.

The seed paper (§4.3, Fig. 5) detected fiber centres on a slice of a tubeness-based
segmentation. :func:`detect_fibers` does it on every slice and links the centres along z,
in three stages, each a pure function on arrays:

0. The working grid (:mod:`~xarray_microct.ops.fibers.grid`): fibers of 9 pixels of
   radius or more are detected on the scan binned ``b × b`` in y and x (``b`` = radius
   / 6 rounded; z kept, one row per fiber per slice), ``b²`` times fewer voxels for every
   stage below; the table's coordinates and radii are physical, its ``attrs`` say which
   grid was used. With the radius estimated (the default), the table's radii are
   calibrated on the sections the estimate measured on the scan, as under 9 pixels
   (:mod:`~xarray_microct.ops.fibers.calibrate`); with the radius given, the scan is
   not sampled (the plan stays lazy) and they are not.
1. A fiber mask: the input itself when it is a segmentation (boolean), else the default
   chain (:func:`fiber_chain`: tubeness at σ = 0.6 × radius, which separates touching
   fibers, for the seeds; for the mask, the volume smoothed along z — on bins, the bins
   smoothed along z and rounded to the scan's levels, whose histogram is exact — each
   voxel at the mid-level between the fibers and its own surroundings, never below the
   global Otsu threshold from the histogram of the whole volume:
   :mod:`~xarray_microct.ops.fibers.mask`). Where the radius estimate's sample shows
   fibers with dark cores, the cores are filled on each slice, in the mask and in the
   tubeness's input (:mod:`~xarray_microct.ops.fiber_cores`).
2. Per-slice centres (:mod:`~xarray_microct.ops.fibers.slices`): on each slice, maxima
   of a centre map (tubeness, or the in-plane distance to the mask's background) within
   a disk of 0.75 × radius seed a 2-D watershed restricted to the mask, which splits
   touching fibers; each region gives one centre (its centroid, to a fraction of a
   voxel) and one radius (of the disk with the region's area). Computed tile by tile
   with a halo, each region kept by the tile owning its centroid: the same regions as
   on whole slices.
3. Linking (:mod:`~xarray_microct.ops.fibers.linking`): centres in consecutive slices
   are paired by optimal one-to-one assignment within ``link_distance``, slab by slab
   in parallel, and the slabs are stitched (the chains do not depend on the slabs);
   chains that overlap as pieces of one fiber are merged; a chain that starts where
   the axis of one that ended leads continues it, after any gap
   (:func:`join_fragments`); chains shorter than ``min_slices`` are dropped; each
   fiber's centres are settled on its local axis on every slice of its span, missed
   slices filled (:func:`~.linking.settle_on_axes`), and run on to the volume's first
   or last slice from at most ``max_gap`` slices before it (:func:`~.linking.run_to_faces`);
   fibers are numbered by their first slice and position.
   A check that the chains, across gaps of up to ``max_gap`` slices, persist along z
   (:func:`z_coherence`) tells a fiber bed from a volume without fibers (noise, pores
   only), which gives an empty table rather than fibers made of noise. Chains that
   persist, but under a coherence of 0.8, are blobs where their sections swell and shrink
   along z as a sphere's do (:func:`_swelling_of`: inverted bead packs), and give an empty
   table too.

The whole detection is one Dask graph (:func:`plan_detection`) with no rechunking: tiles,
slabs and the assembly (:mod:`~xarray_microct.ops.fibers.assembly`: the fibers, then
their parts in parallel) run on the workers; the client puts the table together from
the parts. Tile and slab borders do not change the answer, nor do the parts, so the
table does not depend on the chunking.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from operator import getitem
from typing import Any, Literal, NamedTuple

import dask
import dask.array as da
import dask.local
import dask.system
import numpy as np
import pandas as pd
import xarray as xr
from dask.base import replace_name_in_key, tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

from xarray_microct.core.blocks.overlap import kernel_radius, map_spatial_overlap
from xarray_microct.core.blocks.placement import (
    cluster_threads,
    follow_blocks,
    hinted_layer,
    spread_over_workers,
)
from xarray_microct.core.outside import shifted_below
from xarray_microct.core.progress import phase
from xarray_microct.core.registry import ESTIMATED_KEY, LengthParam, mask_checked, operation
from xarray_microct.core.stats import (
    fill_nan_with,
    fill_padding_with,
    has_exact_histogram,
    intensity_dtype,
    nan_padding_and_level,
    padding_and_level,
)
from xarray_microct.core.volume import PROVENANCE_KEY, grid_of, wrap_like
from xarray_microct.kernels.fiber_grid import smooth_z_levels
from xarray_microct.kernels.hessian import COARSE_FROM_SIGMA, MEASURE_SATO
from xarray_microct.ops.fiber_cores import filled_cores_array
from xarray_microct.ops.fiber_scale import (
    FiberBedScale,
    NoFibersError,
    estimate_fiber_radius,
    measure_fiber_bed,
    sampled_bed_cores,
    tubeness_scale,
)
from xarray_microct.ops.fibers.along import bed_drift, smooth_along
from xarray_microct.ops.fibers.assembly import (
    COHERENCE_MIN,
    SWELLING_COHERENCE,
    chain_swelling,
    empty_table,
    finish_table,
    link_fibers,
    section_swelling,
    settle_fibers,
)
from xarray_microct.ops.fibers.calibrate import CALIBRATION_KEY, RadiusCalibration
from xarray_microct.ops.fibers.grid import (
    GRID_KEY,
    balanced_chunks,
    input_units,
    working_factor,
    working_grid,
)
from xarray_microct.ops.fibers.linking import (
    SLAB,
    chain_ends,
    gather_slab,
    link_slices,
    piece_pairs,
    slab_part,
    stitch_slabs,
)
from xarray_microct.ops.fibers.mask import background_width, local_mid_mask, mid_levels
from xarray_microct.ops.fibers.polarity import DARK_FIBERS, polarity_tile, tile_polarity
from xarray_microct.ops.fibers.slices import MIN_TILE, tile_tasks
from xarray_microct.ops.filters import gaussian_array
from xarray_microct.ops.hessian import hessian_measure_array
from xarray_microct.ops.segment import threshold, threshold_value

# operations whose output is an objectness/tubeness map (bright = fiber centre line)
SCORE_OPS = ("tubeness", "objectness", "frangi")
DEFAULT_RADIUS = "6.4 um"  # Hi-Nicalon SiC fibers, the seed paper's material
# on bins, the tubeness scale is ~3 voxels in-plane: its Hessian on the coarse grid is
# 3.6× faster, within 5 % of the sampled kernels' peak response (correlation 0.99998)
# and gave the same seeds on the phantoms of benchmarks/fiber_scale.py
COARSE_BINNED = 2.5
# bins a chunk at least along y and x: the tubeness's halo (23 bins a side) costs less
# (0.6 CPU s for 64 × 512² bins against 0.7 in chunks of 128², 1.0 in chunks of 64²);
# up to 1.5 × that where larger blocks share out more evenly over the threads, or save
# halo (_binned_chunks)
BINNED_CHUNK = 256
HALO_RADII = 6  # pixels of halo around a tile, in fiber radii: over two diameters + seed
# on the scan itself (fibers under 9 pixels of radius), the tubeness's scale along z, in
# units of the in-plane one: see _tubeness_sigmas
ALONG_Z = 2.0

Source = Literal["auto", "intensity", "tubeness", "mask"]
# how the z-coherence of a bed smoothed along it without a measured drift is judged: on
# the gated path ("along"), or on a short scan on the straight path's detection
# ("straight"); None: on the detection's own chains (see _drift_record)
Gate = Literal["along", "straight"] | None
_SOURCES = ("auto", "intensity", "tubeness", "mask")
# a radius given this far from the bed's measured one (relative) is warned about
RADIUS_DISAGREES = 0.4
# fibers within this tilt of z (their measured slopes' RMS, no common drift) are smoothed
# along z over a whole radius: the straight half radius is sized for 15° (see _drift_record)
ALONG_TILT = 15.0
# on the gated smoothing along an untilted bed, the chains must continue twice as many
# slices for the z-coherence (see _separation and _drift_record)
ALONG_SEPARATION = 2
# ... which must fit this many times in the volume's height (else the straight path)
GATE_HEIGHT = 3
# the smoothing along the bed grows with the scan's noise share q (FiberBedScale.noise)
# to NOISE_SLICES q² / R² slices (R in pixels), from one radius up to MAX_ALONG radii:
# see _mask_smoothing
NOISE_SLICES = 35.0
MAX_ALONG = 2.0
CORNER = 4  # pixels: the side of the middle slice's corner patches that suggest padding
# a table whose fibers look this much like the sections of fibers lying across the
# slices (of those seen on 4 slices or more) is warned about: see _across_fibers
ACROSS_SHARE = 0.08


_PACKAGE = __name__.split(".")[0]


def _warn(message: str) -> None:
    """A ``UserWarning`` shown at the line that called into the package (through the
    accessor, the registry's wrapper or a pipeline, however deep): a fixed
    ``stacklevel`` pointed inside the registry, so that the location shown and a filter
    by ``module=`` named no line of the user's."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == _PACKAGE:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level + 1)


def _source_of(volume: xr.DataArray, source: str) -> str:
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {_SOURCES}, got {source!r}")
    if source != "auto":
        if source == "mask" and not (
            volume.dtype == bool or np.issubdtype(volume.dtype, np.integer)
        ):
            raise TypeError(
                f"source='mask' needs a mask (boolean, or the integers 0 and 1), got "
                f"{volume.dtype}; threshold it first (vol.microct.threshold(...)) or use "
                "source='intensity'"
            )
        return source
    if volume.dtype == bool:
        return "mask"
    records = volume.attrs.get(PROVENANCE_KEY) or []
    if records and records[-1].get("op") in SCORE_OPS:
        return "tubeness"
    return "intensity"


def _global_mask(volume: xr.DataArray, eager: bool) -> xr.DataArray:
    """Otsu threshold of the whole volume (from its global histogram, never per chunk).

    ``eager`` computes the threshold value first (one streaming pass over the volume),
    so that the pass that uses the mask does not hold the whole volume in memory while
    the histogram is being gathered.
    """
    if eager:
        # unfused: low-level fusion would merge the first chunks, hinted to the workers
        # of a cluster in contiguous parts (spread_over_workers), into tasks without the
        # hint, which the scheduler then ran on whichever worker held the store's handle
        with dask.config.set({"optimization.fuse.active": False}):
            value = float(threshold_value(volume, "otsu").values)
        mask = threshold(volume, method=value)
    else:
        mask = threshold(volume, method="otsu")
    return mask if mask.dtype == bool else mask.astype(bool)


def _rounded(block: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.rint(block).astype(dtype)


def _levels(volume: xr.DataArray, dtype: np.dtype) -> xr.DataArray:
    """The volume rounded to an integer dtype (binned means in the scan's own levels)."""
    data = volume.data.map_blocks(_rounded, dtype, dtype=dtype, meta=np.zeros((0,) * 3, dtype))
    return volume.copy(data=data)


def _z_levels(volume: xr.DataArray, sigma_z: float, dtype: np.dtype) -> xr.DataArray:
    """Gaussian smoothing along z (``sigma_z`` slices), rounded to ``dtype``, in one pass.

    The kernel of ``scipy.ndimage.gaussian_filter1d`` (truncated at 4 sigmas), its
    border rule (``"nearest"``) and a chunk halo of its half-width: any chunking gives
    the same levels.
    """
    (reach,) = kernel_radius((sigma_z,), 4.0)
    taps = np.arange(-reach, reach + 1)
    weights = np.exp(-0.5 * (taps / sigma_z) ** 2)
    data = map_spatial_overlap(
        smooth_z_levels,
        volume.data,
        (reach, 0, 0),
        dtype,
        weights=(weights / weights.sum()).astype(np.float32),
        levels=dtype,
    )
    return volume.copy(data=data)


def fiber_chain(
    volume: xr.DataArray,
    source: str,
    sigma: float | Sequence[float],
    smooth: float | Sequence[float],
    eager: bool = False,
    levels: Any = None,
    coarse_from: float = COARSE_FROM_SIGMA,
    background: int | None = None,
    drift: Sequence[float] = (0.0, 0.0),
    along_bed: bool | None = None,
    cores: float | None = None,
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """The default chain before detection: (fiber mask, centre score or None).

    * ``"intensity"``: score = tubeness at ``sigma`` (separates touching fibers); mask =
      global Otsu threshold (or, with ``background``, the local mid-level) of the volume
      smoothed by ``smooth`` (the fiber phase, which gives each fiber its true
      cross-section and so its radius).
    * ``"tubeness"``: score = the volume; mask = its global Otsu threshold (the fiber
      cores: centres are right, radii are those of the cores).
    * ``"mask"``: the volume is the mask; the centre score is its distance map.

    ``sigma`` (one, or one per axis ``(z, y, x)``) and ``smooth`` (one sigma, or one per
    axis, 0 for none) are in the volume's coordinate units. ``levels`` (an 8/16-bit
    integer dtype, for a binned scan: see :mod:`~xarray_microct.ops.fibers.grid`)
    thresholds the (smoothed) volume rounded to that dtype, whose histogram is exact and
    gathered by one cheap pass. ``coarse_from``: the tubeness's Hessian is computed on
    a grid twice as coarse along the axes where σ is at least this many voxels (see
    :func:`~xarray_microct.ops.hessian.hessian_measure_array`). ``background`` (pixels,
    intensity input): threshold each voxel at the mid-level between the fibers and its
    surroundings opened over that square, never below Otsu's threshold
    (:func:`~xarray_microct.ops.fibers.mask.local_mid_mask`), instead of at Otsu's.
    ``drift`` (pixels per slice, ``(ty, tx)``; not ``(0, 0)``): a smoothing along z only
    follows the fibers' tilt (:func:`~xarray_microct.ops.fibers.along.smooth_along`), and
    the tubeness is that of the smoothed scan at ``sigma``'s in-plane scale along z too:
    its length along the fibers is √(smooth² + σ²) (1.17 R with the mask's smoothing of
    one radius, against 2σ = 1.2 R straight), one smoothing for both (at 2 voxels of
    radius, noise 0.25, 15°: F1 0.973 with a smoothing of its own, 0.974 shared; a third
    less CPU). ``along_bed``: that path with ``drift`` ``(0, 0)`` too (an untilted bed:
    a whole radius straight along z, the tubeness on the smoothed scan); None: where
    ``drift`` is not ``(0, 0)``.
    ``cores`` (intensity input; the fibers' radius in pixels): the fibers have dark cores
    (:mod:`~xarray_microct.ops.fiber_cores`), filled per slice in the mask, and raised to
    the fibers' level in the tubeness's input.
    Lazy (nothing is computed) unless ``eager``, which computes the Otsu threshold value
    first.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> from xarray_microct.synthetic import fiber_bed
    >>> vol, _ = fiber_bed((8, 32, 32))
    >>> mask, score = fiber_chain(vol, "intensity", sigma=3.8, smooth=1.3)
    >>> mask.dtype, score.dtype, score.attrs["long_name"]
    (dtype('bool'), dtype('float32'), 'tubeness (Sato)')
    """
    if source == "mask":
        return volume, None
    if source == "tubeness":
        return _global_mask(volume, eager), volume
    grid = grid_of(volume)
    smoothing = np.broadcast_to(np.asarray(smooth, dtype=np.float64), (3,)) / grid.spacing
    smoothed = volume
    along_z = smoothing[0] > 0 and not smoothing[1:].any()
    along_bed = levels is None and along_z and (any(drift) if along_bed is None else along_bed)
    if along_bed:
        smoothed = volume.copy(data=smooth_along(volume.data, float(smoothing[0]), drift))
    elif levels is not None and along_z:
        smoothed = _z_levels(volume, float(smoothing[0]), np.dtype(levels))
    else:
        if (smoothing > 0).any():
            smoothed = volume.copy(data=gaussian_array(volume.data, tuple(smoothing.tolist())))
        if levels is not None:
            smoothed = _levels(smoothed, np.dtype(levels))
    sigmas = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (3,))
    voxels = tuple((sigmas / grid.spacing).tolist())
    for dim, s, v, n in zip(grid.dims, sigmas, voxels, grid.shape, strict=True):
        if v > n:
            raise ValueError(
                f"the tubeness scale sigma={s:.3g} {grid.units} is {v:.3g} voxels along "
                f"{dim!r}, larger than the volume ({n} voxels); give a smaller sigma= (or "
                "radius=, whose 0.6 × it is by default, less on a blurred scan)"
            )
    source = volume.data
    if along_bed:  # the tubeness of the scan smoothed along the bed, at the in-plane scale
        source, voxels = smoothed.data, (float(sigmas[1]) / grid.spacing[0], *voxels[1:])
    cut_levels = None if cores is None else mid_levels(smoothed.data, eager)
    mask = (
        _global_mask(smoothed, eager)
        if background is None
        else local_mid_mask(smoothed, background, eager, cut_levels)
    )
    if cores is not None:  # fibers with dark cores: filled in the mask and the tubeness's input
        filled, (source, refilled) = filled_cores_array(
            mask.data, [source, smoothed.data], cores, cut_levels[1]
        )
        if background is not None:
            # the surroundings' level (an opening over 3 radii) reads the dark cores: the
            # mask is cut again on the scan with its cores filled
            again = local_mid_mask(smoothed.copy(data=refilled), background, eager, cut_levels)
            filled = again.data | (filled & ~mask.data)  # with the first mask's cores
        mask = mask.copy(data=filled)
    score = hessian_measure_array(
        source, voxels, MEASURE_SATO, coarse_from=coarse_from, bright=True
    )
    return mask, wrap_like(volume, score, long_name="tubeness (Sato)", units=None)


def _computing_threads(workers: dict[str, int]) -> int:
    """Threads that compute: the cluster's (``workers``, from
    :func:`~xarray_microct.core.blocks.placement.cluster_threads`), else one for Dask's
    synchronous scheduler, else its threads (``num_workers``, else the CPUs this process
    may use)."""
    threads = sum(workers.values())
    if not threads and dask.base.get_scheduler() is dask.local.get_sync:
        return 1
    return int(threads or dask.config.get("num_workers", None) or dask.system.CPU_COUNT)


def _binned_chunks(
    volume: xr.DataArray, factor: int, halo: int, threads: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The working grid's chunks along y and x: blocks of about ``BINNED_CHUNK`` to 1.5 ×
    ``BINNED_CHUNK`` bins, of whole input chunks, shared out evenly over the ``threads``
    that compute (:func:`~.grid.balanced_chunks`)."""
    chunks = volume.data.chunks
    return balanced_chunks(
        (input_units(chunks[1], factor), input_units(chunks[2], factor)),
        chunks[0],
        BINNED_CHUNK,
        threads,
        halo,
    )


def _linking_graph(
    tiles: list[tuple[int, int, Delayed]],
    nz: int,
    slab: int,
    link: dict[str, Any],
    assemble: tuple[Any, ...],
    groups: int | None = None,
    calibration: RadiusCalibration | None = None,
    workers: dict[str, int] | None = None,
    gate: _TableGraph | None = None,
) -> Delayed:
    """Slab linking, border stitching and assembly over the tile tasks: one graph layer.

    Built as one layer (rather than a Delayed call per task, each of which would merge
    and cull the whole graph): per slab of ``slab`` slices, its rows (``gather_slab``, fed
    by the tiles of its slices, each cut to the slab's slices where it was found:
    ``slab_part``), then its chains (``link_slices``) and its
    ``piece_pairs``, two tasks that may run at once (on a cluster the piece pairs are
    hinted to the worker after the rows': with one slab, on 32 slices, the chains and
    pairs ran one after the other on the rows' worker while the other waited; on 32 ×
    2560², quiet, the time from the last tile to the end 0.91 -> 0.72 s, with the
    faster joins below); one ``stitch_slabs`` task
    per border; the fibers (``link_fibers``: the decisions that need every chain), then
    ``groups`` tasks that settle a part of the fibers each (``settle_fibers``, the work
    per row; on a cluster hinted to its workers in turn, as they would otherwise wait
    where the fibers were found), and the table (``finish_table``, a concatenation, in
    the client: see :class:`_TableGraph`), whose radii ``calibration`` moves
    (:func:`~xarray_microct.ops.fibers.calibrate.calibrate_radii`). With a ``gate`` (the
    graph of the same detection at a shorter smoothing), the z-coherence is the gate's:
    it decides whether the fibers are kept (``link_fibers``' ``judged``) and is the one
    reported.

    Tried and withdrawn: slabs of 8 to 64 slices, about two per thread, hinted to the
    workers in contiguous runs (so that on 32 slices, one slab of ``SLAB``, both workers
    would link the last slices). Same table; but on 32 × 2560² with ``--workers 2``
    (``benchmarks/run_phases.py`` task streams, shared machine, load 3–10) the time
    from the last tile to the end went from 1.1–2.2 s (one slab, four runs; 5.0 s in
    a fifth, under heavier load) to 1.8–2.9 s (four slabs, three runs; 4.5 s in a
    fourth): the four slabs' chains and piece pairs took 1.25–1.8 CPU s on the
    workers against 0.4–0.7 for the one slab (in one process, best of five, the same
    work: 0.25 s either way), and the three borders' stitching another 0.2–0.3 s. Not
    understood.
    """
    workers = cluster_threads() if workers is None else workers
    if groups is None:  # one part per thread that computes (at least 2)
        groups = min(16, max(2, _computing_threads(workers)))
    token = tokenize([t[2].key for t in tiles], nz, slab, link, assemble, groups, calibration, gate)
    name = f"link-fibers-{token}"
    graph: dict[Any, Any] = {}
    starts = range(0, nz, slab)
    for k, z0 in enumerate(starts):
        z1 = min(z0 + slab, nz)
        parts = []
        for i, (start, stop, rows) in enumerate(tiles):
            if start >= z1 or stop <= z0:
                continue
            if z0 <= start and stop <= z1:  # the whole tile is the slab's
                parts.append(rows.key)
                continue
            # the slab's slices of the tile, cut where it is: only they are sent
            graph[(name, "cut", i, k)] = (slab_part, rows.key, z0, z1)
            parts.append((name, "cut", i, k))
        # the slab's rows, then its chains and the slice-by-slice search of
        # merge_pieces (here rather than in the assembly), each a task: in parallel
        graph[(name, "rows", k)] = (gather_slab, parts, z0, z1, link["spacing"], link["origin"])
        graph[(name, "chains", k)] = (link_slices, (name, "rows", k), link["link_distance"])
        graph[(name, "ends", k)] = (chain_ends, (name, "rows", k), (name, "chains", k))
        graph[(name, "near", k)] = (piece_pairs, (name, "rows", k))
    for k in range(len(starts) - 1):
        graph[(name, "pairs", k)] = (
            stitch_slabs,
            (name, "ends", k),
            (name, "ends", k + 1),
            starts[k + 1],
            link["link_distance"],
        )
    graph[(name, "fibers")] = (
        link_fibers,
        [(name, "rows", k) for k in range(len(starts))],
        [(name, "chains", k) for k in range(len(starts))],
        [(name, "pairs", k) for k in range(len(starts) - 1)],
        *assemble,
        [(name, "near", k) for k in range(len(starts))],
        groups,
        None if gate is None else gate.coherence_key,
    )
    graph[(name, "coherence")] = (getitem, (name, "fibers"), 1)
    z_values, sides, link_distance, join_distance, max_gap = assemble[:5]
    for g in range(groups):
        graph[(name, "part", g)] = (getitem, (getitem, (name, "fibers"), 0), g)
        graph[(name, "settled", g)] = (
            settle_fibers,
            (getitem, (name, "part", g), 0),
            (getitem, (name, "part", g), 1),
            z_values,
            sides,
            link_distance,
            join_distance,
            (getitem, (name, "part", g), 2),
            max_gap,
        )
    graph[(name, "table")] = (
        finish_table,
        [(name, "settled", g) for g in range(groups)],
        (name, "coherence"),
        calibration,
    )
    layer: Any = graph
    if workers:
        hosts = list(workers)
        turns = {(name, "settled", g): [hosts[g * len(hosts) // groups]] for g in range(groups)}
        # a slab's chains (on its rows' worker) and piece pairs (on the next worker) at
        # once: on one worker they ran one after the other while the other waited
        for k in range(len(starts)):
            turns[(name, "rows", k)] = [hosts[k % len(hosts)]]
            turns[(name, "near", k)] = [hosts[(k + 1) % len(hosts)]]
        hinted = hinted_layer(graph, turns)
        # the parts are cut from the fibers first: a part that waited behind the
        # settling of another on the fibers' worker held its own worker idle
        annotations = {**hinted.annotations, "priority": _PartsFirst()}
        layer = MaterializedLayer(graph, annotations=annotations)
    dependencies = [t[2] for t in tiles[:1]] + ([] if gate is None else [gate])
    layers = HighLevelGraph.from_collections(name, layer, dependencies=dependencies)
    parts = [(name, "coherence"), *((name, "settled", g) for g in range(groups))]
    return _TableGraph((name, "table"), layers, parts, layer=name, calibration=calibration)


class _PartsFirst:
    """Scheduling priority of a key of :func:`_linking_graph`: 1 for the parts cut from
    the fibers (run before any other ready task of their worker), else 0; picklable."""

    def __call__(self, key: Any) -> int:
        return int(isinstance(key, tuple) and len(key) > 1 and key[1] == "part")


class _TableGraph(Delayed):
    """A Delayed of ``(table, coherence)`` whose last step runs in the client.

    Its keys are the assembly's coherence and settled parts. :meth:`compute` gathers
    them as plain keys, each from its worker to the client, none through another worker
    (a collection's own finishing step would be a task on a worker, which receives
    every part), and puts the table together here; ``dask.compute`` or ``persist`` of
    it finish in that task. The graph's last task (``finish_table``) gives the same, for
    a scheduler asked for that key.
    """

    __slots__ = ("_calibration", "_parts")

    def __init__(
        self,
        key: Any,
        dsk: Any,
        parts: list[Any],
        layer: str | None = None,
        calibration: RadiusCalibration | None = None,
    ) -> None:
        super().__init__(key, dsk, layer=layer)
        self._parts = list(parts)
        self._calibration = calibration

    def __dask_keys__(self) -> list[Any]:
        return list(self._parts)

    @property
    def coherence_key(self) -> Any:
        """The key of the z-coherence."""
        return self._parts[0]

    def compute(self, **kwargs: Any) -> tuple[pd.DataFrame, float]:
        """``(table, coherence)``; keywords as ``dask.compute``'s."""
        keys = [Delayed(key, self.dask, layer=self._layer) for key in self._parts]
        return _finish_parts(list(dask.compute(*keys, **kwargs)), self._calibration)

    def compute_with(self, other: Delayed, **kwargs: Any) -> tuple[pd.DataFrame, float, Any]:
        """``(table, coherence, other's value)``, in one ``dask.compute``: the tasks the
        two graphs share (the scan's reads) run once."""
        keys = [Delayed(key, self.dask, layer=self._layer) for key in self._parts]
        # ``other`` first: of a layer both graphs hold, the one merged last is kept, the
        # table's (its reads hinted to the cluster's workers)
        value, *results = dask.compute(other, *keys, **kwargs)
        return (*_finish_parts(results, self._calibration), value)

    def __dask_postcompute__(self) -> tuple[Any, tuple[Any]]:
        return _finish_parts, (self._calibration,)

    def _rebuild(self, dsk: Any, *, rename: Any = None) -> _TableGraph:
        def renamed(key: Any) -> Any:
            return replace_name_in_key(key, rename) if rename else key

        key, parts = renamed(self.key), [renamed(k) for k in self._parts]
        if not isinstance(dsk, HighLevelGraph):
            dsk = HighLevelGraph.from_collections(f"{key[0]}-parts", dict(dsk))
        if all(key not in layer for layer in dsk.layers.values()):
            # persisted or optimised down to the parts: the last task put back, so that
            # the graph is still a Delayed of the table (wrapped, indexed, computed)
            finish = f"{key[0]}-finish"
            layers = {**dsk.layers, finish: {key: (_finish_parts, parts, self._calibration)}}
            dependencies = {**dsk.dependencies, finish: set(dsk.layers)}
            return _TableGraph(
                key, HighLevelGraph(layers, dependencies), parts, finish, self._calibration
            )
        layer = next(iter(dsk.layers)) if len(dsk.layers) == 1 else None
        return _TableGraph(key, dsk, parts, layer, self._calibration)


def _finish_parts(
    results: list[Any], calibration: RadiusCalibration | None = None
) -> tuple[pd.DataFrame, float]:
    """``(table, coherence)`` from a :class:`_TableGraph`'s computed keys."""
    coherence, *parts = results
    return finish_table(parts, coherence, calibration)


class DetectionPlan(NamedTuple):
    """What :func:`plan_detection` returns: the lazy detection and what to label it with."""

    graph: Delayed
    attrs: dict[str, Any]
    separation: int
    # the radius given against the bed's sample's: measured / given (None: not checked)
    radius_ratio: float | None = None


def plan_detection(
    volume: xr.DataArray,
    radius: Sequence[float] | None,
    source: str = "auto",
    sigma: Sequence[float] | None = None,
    min_radius: Sequence[float] | None = None,
    link_distance: Sequence[float] | None = None,
    max_gap: int = 5,
    min_slices: int = 3,
    eager: bool = False,
    axis: str = "z",
) -> DetectionPlan:
    """The whole fiber detection of a volume as one lazy Dask graph.

    The parameters are those of :func:`detect_fibers`, with the lengths in voxels per
    axis (as the registry resolves them); ``radius=None`` estimates it from the scan
    (reading a few slices now). ``eager`` computes the global Otsu threshold first (a
    streaming pass); otherwise it stays a lazy reduction in the graph.
    ``graph.compute()`` gives ``(table, z_coherence)`` (see :func:`assemble_fibers`).

    Examples
    --------
    >>> import xarray_microct as mct
    >>> from xarray_microct.synthetic import fiber_bed
    >>> vol, _ = fiber_bed((12, 40, 40), seed=2, tilt=0)
    >>> plan = plan_detection(vol.chunk(8), radius=(4.9, 4.9, 4.9))
    >>> table, coherence = plan.graph.compute()
    >>> plan.attrs["source"], len(table) > 0, coherence > 0.9
    ('intensity', True, True)
    """
    for name, value in (("max_gap", max_gap), ("min_slices", min_slices)):
        if int(value) != value or value < (0 if name == "max_gap" else 1):
            raise ValueError(f"{name} must be a whole number >= {0 if name == 'max_gap' else 1}")
    volume = axis_first(volume, axis)  # the fibers' axis as z; lengths per axis follow
    radius, sigma, min_radius, link_distance = (
        None if lengths is None else _axis_first_order(lengths, axis)
        for lengths in (radius, sigma, min_radius, link_distance)
    )
    grid = grid_of(volume)
    dz, dy, dx = grid.spacing
    kind = _source_of(volume, source)
    if kind == "mask" and volume.dtype != bool:  # integers 0 and 1, checked as computed
        checked = mask_checked(volume, "detect_fibers: source='mask'")
        volume = checked.copy(data=checked.data != 0)
    estimated = {}
    if kind == "intensity":  # NaN around the field of view: filled before any sample
        volume, nan_padding = _nan_padding_filled(volume)
        if nan_padding is not None:
            estimated["nan_padding"] = nan_padding
    bed = None
    reads = radius is None  # the scan is read now: the radius estimate's sample
    if radius is None:
        with phase("estimating the fiber radius (on a sample of the scan)"):
            radius, estimated["radius"], bed = _radius_from_data(volume, kind)
    r_phys = 0.5 * (radius[1] * dy + radius[2] * dx)
    # large fibers: detect on the scan binned in-plane to a radius of about 6 voxels
    factor = working_factor(min(radius[1], radius[2])) if kind == "intensity" else 1
    if kind == "intensity" and (reads or factor == 1):  # (the bed's sample below)
        volume, estimated["padding"] = _padding_filled(volume)
    # pixels of halo around a tile, on the working grid
    halo = int(np.ceil(HALO_RADII * max(radius[1] / factor, radius[2] / factor)))
    workers = cluster_threads()  # asked once: {} on threads
    threads = _computing_threads(workers)
    chunks = _binned_chunks(volume, factor, halo, threads) if factor > 1 else None
    work = working_grid(volume, factor, yx_chunks=chunks)
    # on a cluster, each worker starts from a contiguous part of the volume: the halos
    # of the stages below then stay on one worker but at the parts' borders
    work = work.copy(data=spread_over_workers(work.data, workers))
    wgrid = grid_of(work)
    radius = (radius[0], radius[1] / factor, radius[2] / factor)
    seed_px = (0.75 * radius[1], 0.75 * radius[2])
    if min_radius is not None:
        min_r = float(min_radius[1] * dy)
    else:  # the cores of a thresholded tubeness map are narrower than the fibers
        min_r = r_phys / 4 if kind == "tubeness" else r_phys / 2
    link = r_phys / 2 if link_distance is None else float(link_distance[1] * dy)
    drift = (0.0, 0.0)
    along = False
    judge: Gate = None
    calibration = None
    no_calibration = (
        f"no measured sections: a {kind} input (no intensities to measure)"
        if kind != "intensity"
        else "no measured sections: fibers of 9 pixels and more with the radius given "
        "(detected on bins; the scan is not measured)"
    )
    radius_ratio = None
    if factor == 1 and kind == "intensity" and bed is None:  # the radius given
        bed, no_calibration = _bed_of(volume, r_phys)
        radius_ratio = _check_given_radius(r_phys, None if bed is None else bed.radius, grid.units)
    elif factor > 1 and kind == "intensity" and bed is None:  # large, the radius given
        radius_ratio = _check_given_radius(r_phys, _unseeded_radius(volume), grid.units)
    if sigma is None:  # less under a blur the fit measured (fibers under 4 pixels)
        sigma_phys = _scale_from_bed(r_phys, bed, grid.spacing, estimated)
    else:
        sigma_phys = float(np.mean([sigma[1] * dy, sigma[2] * dx]))
    sigmas = (
        _tubeness_sigmas(sigma_phys, factor, grid.shape[0] * dz)
        if kind == "intensity"
        else (sigma_phys,) * 3
    )
    if factor == 1 and kind == "intensity":  # the smoothing along z follows the fibers
        straight = _separation(sigmas[0] / dz)
        drift, along, judge = _drift_record(bed, grid.spacing, estimated, straight, grid.shape[0])
    gated = judge == "along"
    if bed is not None and bed.outside is not None:  # air about the sample: at the matrix's
        volume = volume.copy(data=_air_moved(volume.data, *bed.outside))
        work = working_grid(volume, factor, yx_chunks=chunks)
        work = work.copy(data=spread_over_workers(work.data, workers))
        estimated["outside_sample"] = {"below": bed.outside[0], "moved_by": bed.outside[1]}
    if kind == "intensity":  # on bins, the radius estimate's sections (scan pixels)
        calibration, no_calibration = _calibration_of(bed, grid, r_phys, no_calibration)
    cores = None  # fibers with dark cores: filled on each slice (see ops/fiber_cores.py)
    found_cores = None if bed is None else bed.cores
    looked = "the bed's sample"
    if kind == "intensity" and bed is None and factor > 1:
        # large fibers with the radius given: the bed is not measured, but one run of its
        # sample is looked at for dark cores (a cored bed detected unfilled: F1 0.19)
        # (0.27 s for a tile of 384² on 8 slices; a sample that cannot be read, e.g. with
        # NaN in it, is not looked at: the detection says why later)
        try:
            found_cores = sampled_bed_cores(volume, min(radius[1], radius[2]) * factor)
        except ValueError:
            found_cores = None
        looked = "one run of the bed's sample (the radius given)"
    if kind == "intensity" and found_cores is not None:
        cores = float(radius[1])
        estimated["fiber_cores"] = {
            "filled": "the holes of the sections, per slice",
            "sample": looked,
            "share": round(found_cores.share, 4),
            "sections": int(found_cores.sections),
            "core_ratio": round(found_cores.core_ratio, 4),
        }
    noise = bed.noise if bed is not None and factor == 1 else float("nan")
    # the smoothing along z stays within a quarter of the height, as the tubeness's scale
    # along z does (_tubeness_sigmas); on the gated path the chains' separation grows
    # with it and, doubled, must still fit GATE_HEIGHT times in the height: where that
    # bounds it, the z-coherence is judged on a second detection at the bounded
    # smoothing (the gate), the table taken at the whole one (see _mask_smoothing)
    height = grid.shape[0]
    smooth = _mask_smoothing(
        factor, wgrid.spacing, r_phys, along_bed=along, noise=noise, most=0.25 * height * dz
    )
    gate_smooth = smooth
    if gated:
        most = (height // GATE_HEIGHT // ALONG_SEPARATION) / 2 * dz
        gate_smooth = _mask_smoothing(
            factor, wgrid.spacing, r_phys, along_bed=along, noise=noise, most=most
        )
    if along and np.isfinite(noise):
        estimated["fiber_direction"]["noise_share"] = round(float(noise), 4)
        estimated["fiber_direction"]["smoothing_radii"] = round(float(smooth[0] / r_phys), 3)
        if gate_smooth != smooth:
            estimated["fiber_direction"]["gate_smoothing_radii"] = round(
                float(gate_smooth[0] / r_phys), 3
            )
    # binned: the mask thresholds the bins in the scan's levels (an exact histogram)
    levels = volume.dtype if factor > 1 and has_exact_histogram(volume.dtype) else None
    z_values = np.asarray(volume.coords["z"].values, dtype=np.float64)
    sides = (
        grid.origin[1],
        grid.origin[1] + (grid.shape[1] - 1) * dy,
        grid.origin[2],
        grid.origin[2] + (grid.shape[2] - 1) * dx,
    )

    def detection(
        smoothing: tuple[float, ...], gate: Any = None, straight: bool = False
    ) -> tuple[Any, int]:
        """(the linking graph, the chains' separation) of the detection at ``smoothing``,
        its z-coherence taken from ``gate``'s graph where one is given; ``straight``: on
        the straight path (no drift, the tubeness on the scan, chains judged ungated)."""
        mask, score = fiber_chain(
            work,
            kind,
            sigmas,
            smooth=smoothing,
            eager=eager,
            levels=levels,
            coarse_from=COARSE_FROM_SIGMA if factor == 1 else COARSE_BINNED,
            # the local mid-level, on the scan and on bins (Otsu's alone widened the
            # fibers of a textured background by up to 10 %: see ops/fibers/mask.py)
            background=background_width(radius[1]),
            drift=(0.0, 0.0) if straight else drift,
            along_bed=along and not straight,
            cores=cores,
        )
        # on a cluster, every stage of a block runs where its first chunk was hinted
        tiles = tile_tasks(
            follow_blocks(mask.data),
            None if score is None else follow_blocks(score.data),
            wgrid.spacing,
            seed_px,
            min_r,
            halo,
            tile=-(-MIN_TILE // factor),  # the same area of the scan as without bins
        )
        # a longer smoothing makes anything persist along z longer: the chains must
        # continue past it (the pores of a noisy bead pack, smoothed over two radii,
        # passed for fibers) where the noise lengthened the smoothing past one radius
        # (in slices, rounded: a bound of k/2 slices must not become k + 1 by round-off)
        longer = smoothing[0] if smoothing[0] > r_phys else 0.0
        separation = _separation(round(max(sigmas[0], longer) / dz, 6), gated)
        graph = _linking_graph(
            tiles,
            height,
            SLAB,  # links join consecutive slices only: any slab gives the same chains
            dict(
                spacing=tuple(wgrid.spacing[1:]),
                origin=tuple(wgrid.origin[1:]),
                link_distance=link,
            ),
            (
                z_values,
                sides,
                link,
                max(link, r_phys),
                int(max_gap),
                int(min_slices),
                separation,
            ),
            calibration=calibration,
            workers=workers,
            gate=gate,
        )
        return graph, separation

    gate = None
    # eager: the mask's global levels are computed now, in passes over the whole scan
    levels_pass = "threshold pass (the mask's levels, over the whole scan)"
    with phase(levels_pass) if eager else nullcontext():
        if judge == "straight":  # a short scan: its chains judged as on the straight path
            straight_smooth = _mask_smoothing(factor, wgrid.spacing, r_phys)
            gate, separation = detection(straight_smooth, straight=True)
            graph, _ = detection(smooth, gate)
        elif gate_smooth != smooth:  # the gate's separation is the one the warnings name
            gate, separation = detection(gate_smooth)
            graph, _ = detection(smooth, gate)
        else:
            graph, separation = detection(smooth)
    attrs = {
        "units": grid.units,
        "spacing": list(grid.spacing),
        "origin": list(grid.origin),
        "shape": list(grid.shape),
        "source": kind,
        AXIS_KEY: axis,
        GRID_KEY: {
            "factor": [1, factor, factor],
            "spacing": list(wgrid.spacing),
            "origin": list(wgrid.origin),
            "shape": list(wgrid.shape),
        },
    }
    if estimated:
        attrs[ESTIMATED_KEY] = estimated  # the registry records it in provenance
    if calibration is None:
        attrs[CALIBRATION_KEY] = {"applied": False, "why": no_calibration}
    return DetectionPlan(graph, attrs, separation, radius_ratio)


def _calibration_of(
    bed: FiberBedScale | None, grid: Any, radius: float, why: str
) -> tuple[RadiusCalibration | None, str]:
    """The table radii's calibration on the bed's fitted sections, or None and why not
    (``why``: the reason where there is no bed)."""
    if bed is None:
        return None, why
    if bed.fitted is None:
        return None, (
            "no measured sections: the sample's images could not be fitted (under 4 "
            "pixels) or measured (4 pixels and more)"
        )
    if len(bed.fitted.radius) == 0:
        return None, "the fit of blurred disks found no whole section in its images"
    slope = float(np.hypot(*bed.slope))
    calibration = RadiusCalibration(
        bed.fitted,
        tuple(float(s) for s in grid.spacing),
        tuple(float(o) for o in grid.origin),
        (1.0 + slope * slope) ** -0.25,
        float(radius),
    )
    return calibration, ""


def _mask_smoothing(
    factor: int,
    spacing: Sequence[float],
    r_phys: float,
    along_bed: bool = False,
    noise: float = float("nan"),
    most: float = np.inf,
) -> tuple[float, float, float]:
    """Gaussian sigmas (z, y, x; physical) smoothing the scan before Otsu's threshold.

    Along z (along the fibers) only, never in-plane: smoothing along the fibers takes
    noise out without blurring their cross-sections, while smoothing in-plane widens
    small fibers in the mask and merges touching ones. On the scan: half a radius,
    at least one slice (a fiber tilted by θ drifts 0.5 R tan θ over it, an eighth of a
    radius at 15°); at 2–3 voxels of radius, where the rule was a quarter radius
    in-plane, the object F1 at noise 0.25 goes from 0.893 to 0.909 and the radii from
    +2.2 to +5.2 % to +1.3 to +3.8 %; at 5–8 voxels, F1 ≥ 0.999 and radii −0.4 to +1.1 %
    as with one pixel in all directions. ``along_bed`` (the smoothing follows the bed's
    measured tilt, :mod:`~xarray_microct.ops.fibers.along`, or the bed is untilted:
    :func:`_along_bed`): a whole radius, the tilt no longer drifting the fibers over it
    (at 2 voxels, noise 0.25, 15°, with bilinear
    interpolation and a tubeness smoothed on its own: F1 0.962 at
    half a radius, 0.972 at one, 0.970 at 1.5, 0.972 at 2). On a binned grid the bins
    have averaged in-plane: one slice along z.

    Along the bed, a noisy scan is smoothed longer (``noise``: the noise's share q of
    the fibers' contrast, :func:`~xarray_microct.ops.fiber_scale.noise_share`): the
    per-slice centres come out of non-linear steps (a threshold, the tubeness's
    eigenvalues, a flood between touching fibers, a centroid weighted by the squared
    score), so the noise does not only scatter them, it biases them, and that part does
    not average out along the chains. On ``textured_fiber_bed`` at 2 pixels and noise
    0.25 (0°, seed 2) whole chains sat 0.6–1.3 pixels off their fibers on all 32
    slices (fiber 207: 1.24 pixels on average; 0.22 on the same phantom without noise,
    where the detection scores 0.996 against 0.934): a bias, which is why a whole
    chain's straight line (0.943) does not remove it.
    The noise reaching those steps falls as the square root of the voxels averaged, a
    section's R² in-plane times the slices along z: the smoothing is
    :data:`NOISE_SLICES` q² / R² slices (R in pixels) where that is longer than one
    radius, at most :data:`MAX_ALONG` radii. The constant is set by the sweep's
    ``fiber_bed`` at 2 pixels and noise 0.15 (q 0.45–0.51, F1 ≥ 0.99 with one radius):
    a scan reaches that bed's noise per averaged voxel, no further. ``textured_fiber_bed``
    at noise 0.25 (q 1.0) gets two radii, at 0.15 (q 0.66) 1.9; ``fiber_bed`` at 0.25
    (q 0.73–0.82) two; one radius wherever q² ≤ R³ / 35 (from 3 pixels up, the sweep's
    phantoms at noise 0.25, q at most 0.77, stay at one; noisy inverted bead packs of 4
    pixels, q 1.1–1.45, take 1.3–2 radii, and their chains are judged past it). Measured first
    with a fixed length on the nine cases of
    ``textured_fiber_bed`` at 2 pixels, noise 0.25 (0/8/15°, seeds 1–3): F1 0.972 /
    0.934 / 0.953, 0.951 / 0.946 / 0.937, 0.949 / 0.963 / 0.954 with one radius;
    0.979 / 0.956 / 0.970, 0.966 / 0.966 / 0.962, 0.966 / 0.968 / 0.965 with two
    (mean 0.951 → 0.966); 0.983 / 0.960 / 0.967, 0.969 / 0.973 / 0.955, 0.958 / 0.973 /
    0.962 with three (0.967: no gain past two, and a curved fiber loses more).

    On the gated path (an untilted bed, :func:`_drift_record`) the longer smoothing is
    bounded by ``most``: a smoothing makes anything persist along z, the pores of a
    noisy inverted bead pack too (smoothed over two radii they passed for fibers), so
    the chains' separation grows with it (:func:`_separation` of the longer of the
    tubeness's scale and the smoothing), and that separation doubled must still fit
    :data:`GATE_HEIGHT` times in the height. The sweep's 32 slices allow 2.5 slices
    there (1.25 radii at 2 pixels): with the rule, the nine cases give 0.975 / 0.947 /
    0.965, 0.960 / 0.954 / 0.949 (0° and 8°, gated) and 0.966 / 0.968 / 0.965 (15°,
    along the measured drift; mean 0.961); at noise 0.15 F1 ≥ 0.980 (0.969 at worst
    before), ``fiber_bed`` at 0.25 ≥ 0.988 as before. Along a measured drift the
    smoothing stays within a quarter of the height, as the tubeness's scale along z does
    (unbounded, it made the chains' separation longer than an 8-slice scan, and the
    table came back empty). A taller scan takes the whole length on the gated path too: the nine
    cases on 64 slices
    (``benchmarks/fiber_table_radius.py --slices 64``) 0.963 / 0.943 / 0.932, 0.972 /
    0.967 / 0.958, 0.964 / 0.962 / 0.949 with one radius; 0.986 / 0.975 / 0.955, 0.976
    / 0.977 / 0.973, 0.978 / 0.975 / 0.979 with the rule (0° seed 3: 0.974 with the
    true radius given).

    The bound is now the gate's only (issue 13, twentieth session): where it shortens
    the smoothing, :func:`plan_detection` runs the detection twice, the z-coherence
    judged at the bounded smoothing (the pores' gate as before: the inverted bead packs'
    tests unchanged) and the table taken at the whole one. On the sweep's 32 slices at 2
    pixels (``benchmarks/fiber_table_radius.py --radii 2 3 --grid --default``, both
    phantoms, seeds 1–3) the six gated ``textured_fiber_bed`` cases at noise 0.25 (0°,
    8°) go 0.975 / 0.948 / 0.962, 0.959 / 0.953 / 0.949 → 0.979 / 0.959 / 0.968, 0.967
    / 0.966 / 0.970 (the nine with 15°: mean 0.961 → 0.968, under 0.97 7 → 6), their
    radii within ±0.6 point; at noise 0.15 (0°) 0.995 / 0.990 / 0.981 → 0.992 / 0.989 /
    0.984 (radius −0.48 → −1.35 % on seed 2); ``fiber_bed`` at 0.25 (0°) seeds 2 and 3
    0.992 / 0.994 → 0.989 / 0.989; the other 92 cases (3 pixels, 15°, noise 0.05)
    unchanged. The second pass costs the detection 0.7–0.8 → 0.9 CPU s on 32 × 64² and
    about 4.3 → 5.2 CPU s (+21 %) on 32 × 256² (the reviewer's, one interleaved pair on a
    loaded machine); at 2 pixels a scan of about 48 slices or more takes the whole
    smoothing in one pass (where the bound, (height // 6) / 2 slices, reaches the
    smoothing the noise asks for, up to two radii). The gate's z-coherence also decides
    whether the table keeps its fibers (the reviewer's first version let the table's own
    coherence, at its longer separation, drop them: on short noisy beds of 2-pixel fibers
    18–22 slices long an empty table with no warning).
    With the gate apart, :data:`MAX_ALONG` 3 instead of 2 on the nine cases: 0.983 /
    0.962 / 0.968, 0.969 / 0.973 / 0.955, 0.960 / 0.970 / 0.961 (mean 0.967 against
    0.968): not used.
    """
    if factor > 1:
        return (spacing[0], 0.0, 0.0)
    if not along_bed:
        return (max(spacing[0], 0.5 * r_phys), 0.0, 0.0)
    length = min(max(r_phys, min(_noise_length(noise, r_phys, spacing), most)), MAX_ALONG * r_phys)
    return (max(spacing[0], length), 0.0, 0.0)


def _noise_length(noise: float, r_phys: float, spacing: Sequence[float]) -> float:
    """The length along z (physical) that the scan's noise share ``noise`` asks the
    smoothing to average over for fibers of radius ``r_phys``: :data:`NOISE_SLICES` q² / R²
    slices (R in pixels); 0 where the noise was not measured.

    Examples
    --------
    >>> _noise_length(1.0, 2.0, (1.0, 1.0, 1.0)), _noise_length(float("nan"), 2.0, (1, 1, 1))
    (8.75, 0.0)
    """
    if not np.isfinite(noise):
        return 0.0
    r_px = r_phys / float(np.sqrt(spacing[1] * spacing[2]))
    return NOISE_SLICES * noise**2 / r_px**2 * float(spacing[0])


def _scale_from_bed(
    r_phys: float, bed: FiberBedScale | None, spacing: Sequence[float], estimated: dict
) -> float:
    """The tubeness's in-plane scale (physical) for fibers of radius ``r_phys``: 0.6 R, or
    less where the bed's sample measured the scan's blur and its sections
    (:func:`tubeness_scale`: the largest is their 95th percentile); the blur and the
    scale are then recorded in ``estimated["tubeness_scale"]``."""
    pixel = float(np.sqrt(spacing[1] * spacing[2]))
    blur = noise = largest = float("nan")
    if bed is not None:
        blur, noise = bed.blur * pixel, bed.noise
        if bed.fitted is not None and len(bed.fitted.radius):
            largest = float(np.percentile(bed.fitted.radius, 95)) * pixel
    scale = tubeness_scale(r_phys, blur, noise, largest)
    if np.isfinite(blur) and np.isfinite(noise) and np.isfinite(largest):
        estimated["tubeness_scale"] = {
            "sigma": scale,
            "share_of_radius": scale / r_phys,
            "blur": blur,
            "noise": noise,
            "largest_radius": largest,
            "rule": "0.6 R in all with the scan's blur, at least (0.3 + 0.3 noise) R and "
            "0.45 of the largest fibers' radius in all, within 0.35-0.6 R",
        }
    return scale


def _tubeness_sigmas(sigma: float, factor: int, height: float) -> tuple[float, float, float]:
    """The tubeness's Gaussian scales (z, y, x; physical) for an in-plane ``sigma``.

    A fiber's tubeness does not change along its axis, so along z (the fibers' direction)
    the scale may be longer than in-plane: the noise of the Hessian falls as the
    square root of the voxels it averages, while a fiber tilted by θ drifts only
    σ_z tan θ = 1.2 R tan θ in-plane over ± σ_z (a third of a radius at 15°). On the
    scan itself (``factor`` 1: fibers of a few pixels, whose sections hold few voxels
    against the noise) σ_z = ``ALONG_Z`` σ, at most a quarter of the volume's
    ``height`` (never under σ); on bins, which already average ``factor²`` pixels,
    σ_z = σ.

    What the remaining misses at 2 voxels, noise 0.25, 15° are
    (``benchmarks/fiber_scale.py``'s ``other_bed``, seed 1, the estimate's radius: tp
    4071, fp 205, fn 233; the per-slice rows alone F1 0.890): displaced centres, not
    lost fibers.
    Of the misses, the table's nearest centre lies 0.5–0.75 radius away for 91 (just
    past the match distance), 0.75–1.1 for 43, 1.1–1.8 for 39, none within 1.8 for 54;
    they come in runs along a few fibers (20, 15, 12, 11 slices), as do the false
    positives (one displaced fiber: a miss and a false positive per slice). Of the 164
    misses with a per-slice row 0.5–1.8 radius away, that row's nearest true fiber is
    the missed one for 140, and for 71 its radius is 1.3 × the true one or more: a
    section flooded into part of a touching neighbour (radii 1.5–1.8 against the bed's
    1.96, gaps of 0.1 radius), its centre pulled towards it, and the axis settled on
    those rows. Tried on the three seeds (F1 0.949 / 0.965 / 0.950 here):

    * σ_z of the Hessian, straight along z, 2 × / 3 × σ on the scan smoothed along
      the bed: 0.935 / 0.949 / 0.935 and 0.915 / 0.926 / 0.913 (a straight scale
      smears a tilted fiber in-plane).
    * The seeds' tubeness on the scan smoothed along the bed over 2, 3, 4, 6 radii
      (the mask kept at one): 0.951 / 0.972 / 0.959, 0.951 / 0.968 / 0.957, 0.953 /
      0.966 / 0.958, 0.951 / 0.968 / 0.971: seed 1 is not noise-limited. Over at
      least 4 slices on the whole sweep (seeds 1–3, radii 2–3, both phantoms): 0.950
      / 0.971 / 0.960, 0.983 → 0.987 and 0.978 → 0.985 at noise 0.15, but
      ``fiber_bed`` 2 voxels noise 0.15 seed 2 0.998 → 0.992, and 19 % more CPU for the
      detection at 2 voxels (a second pass along the bed; 64 × 256², 4.3–6.1 → 5.5–6.0
      CPU s, interleaved): not used (branch ``seeds``, reverted).
    * σ = 0.5 / 0.45 radius in-plane: 0.919 / 0.947 / 0.929 and 0.918 / 0.944 / 0.935
      (0.945 / 0.955 / 0.964 at 0.5 with the 2-radius smoothing above).
    * Centres at the sub-pixel peak of the tubeness instead of the weighted centroid:
      0.951 / 0.965 / 0.946 (the peak is pulled as well). An isotropic seed map (the
      Laplacian of Gaussian at σ): 0.943 / 0.960 / 0.960; at 1.2 σ: 0.894 / 0.928 /
      0.911.
    * :func:`~.linking.merge_pieces` refusing two chains whose summed areas exceed
      (1.3 × the rows' median radius)²: 0.951 / 0.959 / 0.956. Without noise (seed 1)
      the table scores 0.980 under its rows' 0.987: three touching fibers (radii
      1.57–1.81) are folded into one there (a section inflated by a neighbour's piece,
      radius 2.4, lies 0.72 of the sum of radii from the next one's centre, under
      ``PIECES_OVERLAP``): the pieces' rule, not the seeds, loses those 96 rows; with
      the area rule 0.991 (seeds 2, 3 unchanged at 0.995, 0.985). Not used: a fiber of
      a bed of two sizes, split in two, would no longer be folded.

    * Each row's centre taken again from the intensities after linking (prototype on
      the finished table, not in the graph): the scan sampled bilinearly along the
      fiber's own local axis (its rows' slope over ± 4 radii) over ± h slices and
      averaged, a window of 1.5 radius + 1 pixel about the row. (a) The centroid of
      the averaged intensities above Otsu's threshold within the row's power-diagram
      cell (its 6 nearest rows of the slice, radii the rows' or the fiber's median),
      iterated: h = 0–3, 0.742–0.903 on the three seeds, 0.917–0.947 once settled on
      the axes again (:func:`~.linking.settle_by_fiber`); a window of one radius, one
      round: 0.935 / 0.946 settled (seed 1). Biased: started from the true centres
      without noise it moves them by 0.58 pixel on average (the neighbours' blurred
      tails and the textured background inside the cell). (b) A joint fit of blurred
      disks, ``b + b_y y + b_x x + a Σ disks`` (erfc edges, the blur of 1 pixel given,
      the fiber's median radius, the 6 nearest rows' disks at their centres), the
      row's centre by Gauss–Newton steps of at most 0.5 pixel: from the true centres
      at noise 0.05 (0°) it moves them by 0.12 pixel on average, but at noise 0.25 its
      centres lie 0.31–0.40 pixel from the truth against the settled rows' 0.27–0.30
      (matched rows' mean error). Settled on the axes
      again: 0.954 / 0.969 / 0.957 (h = 2, one step), 0.956 / 0.968 / 0.959 (h = 4),
      0.958 / 0.969 / 0.960 (h = 4, the neighbours refitted with the row, two steps of
      at most 0.3); more steps lose (0.953 / 0.966 / 0.958 with four); pixels whose
      residual exceeds 3 robust deviations left out (a fiber missing from the model):
      0.954 / 0.969 / 0.958 and 0.958 / 0.969 / 0.959 (one, two steps). Of the truth's
      rows whose nearest table row lies 0.5–1.8 radius away (179 on seed 1, 201 on
      seed 3) the fit brings 76 and 78 within half a radius, but pushes 44 and 19
      matched ones out; only 2 and 5 of those lie by a true fiber the table lacks on
      that slice (within 2.5 radii): the fit's own scatter, not an unmodelled
      neighbour, moves them. Cost: about as much CPU as the
      whole detection (0.7–2 s against 0.8–1.2 s on 32 × 64², vectorised NumPy),
      and in the graph a second pass over the scan after the linking, routed by
      z-blocks (a row's neighbours lie in other parts). Not used: +0.004 to +0.010,
      short of 0.97, for twice the CPU.

    Longer averages do not help: h = 6 and 8 (± 4 radii, about the fit of a
    cylinder's axis over its window) 0.955 / 0.967 / 0.959 and 0.956 / 0.967 / 0.956;
    nor a quadratic background (0.959 / 0.968 / 0.960 at h = 4), nor the rows moved
    30–70 % of the way to the fit's centres before settling (0.954–0.957 /
    0.967–0.970 / 0.957–0.959, h = 4). From the true
    centres the settled fit's mean error is 0.07–0.09 pixel at noise 0 and 0.05
    (15°), but 0.22–0.24 at noise 0.25 (0° or 15°) over 5 or 17 slices alike (0.35 and
    0.25 before settling): past a few slices the estimate does not get better with
    the slices averaged, which was not understood then (the background's texture, smooth
    along z over 2 radii, does not average out; the neighbours' disks are refitted
    with their own noise). Understood since (see :func:`_mask_smoothing`): the per-slice
    steps are not linear, and the noise biases them as well as scattering them; the
    longer smoothing along the bed for noisy scans takes that part out before them.
    Started 0.5 or 0.75 radius off the true centre towards the
    nearest neighbour (one fiber in five, on every slice; the others at their true
    centres), 93 % (h = 2) and 96 % (h = 8) of those rows come back within half a
    radius, but only 89 % and 94 % of the rows started at their true centres stay
    there (not settled). 66–80 of the truth's rows (seeds 1, 3)
    have no table row within 1.8 radius: no refinement of the table's rows finds
    them. (Prototype scripts not kept in the repository.)

    Bounding the per-slice region (stage 1, :func:`~.slices.slice_centres`), measured
    at the default parameters on the nine cases (tilts 0/8/15°, seeds 1–3; main 0.968
    / 0.936 / 0.953, 0.948 / 0.943 / 0.944, 0.951 / 0.965 / 0.948; mean 0.9507):

    * The ceiling first (oracle, the rows replaced before the linking): the centres of
      flooded rows (area radius ≥ 1.3 × the true fiber's) put on their true fiber's
      centre: 0.968 → 0.977, 0.936 → 0.958, 0.948 → 0.952 (8°, seed 1), 0.948 → 0.968
      (15°, seed 3); every row within 1.8 radii put on its true centre: 0.993–0.998.
      Of the rows lying 0.5–1.8 radii from their nearest true centre, only 46 of 367,
      86 of 570, 67 of 548, 91 of 419 are flooded: most displaced rows are sections of
      the right size whose centre the noise and the texture moved.
    * Centres from a bounded part of the region, per row (rows over 0.5 radius from
      the truth, 0° seed 2 / 8° seed 1; main's weighted centroid 12.5 / 12.2 %): the
      seed pixel 14.8 / 16.4 %; the region within 1 radius (0.75 seed distance / 0.75)
      of the seed 11.6 / 11.8 %, within 1.5 radii 12.1 / 11.9 %, iterated about the
      centroid 11.9 / 11.8 %; the squared score over the disk of 1 radius, region or
      not, 11.2 / 11.8 %; its plain centroid 14.3 / 14.5 %; the region's pixels above
      0.3 / 0.5 / 0.7 of the seed's score 12.5 / 11.9 / 11.7 % and 12.1 / 11.9 / 12.0
      %; weights score¹ / score⁴ / score⁸ 13.9 / 11.5 / 11.8 % and 13.7 / 11.3 / 11.8
      %; (score − half the seed's)² 11.4 / 11.6 %. End to end (mean, min of the nine):
      score⁴ 0.9503 / 0.935, score³ 0.9502 / 0.937, region within 1 radius 0.9502 /
      0.935, disk of 1 radius 0.9498 / 0.935, (score − half)² 0.9491 / 0.934: nothing;
      the flood was not bounded in the kernel (no oracle margin to take).
    * Where the misses are: by slice over the nine cases, 278 and 276 on the first and last of the
      32 slices, 40–60 a slice in the middle; half of all misses on the 4 slices at either end. The
      per-slice rows miss 2.5 × as often on the end slices as in the middle (142 against about 55 a
      slice, four cases: the smoothing and the Hessian extend the volume by its nearest slice along
      z), the table 5 × (116 against 22): the axis there was a line through the half window left.
      Kept: the window keeps its length, shifted inwards
      (:func:`~xarray_microct.kernels.chains.chain_axes`): 0.971 / 0.943 / 0.960, 0.957 / 0.945 /
      0.948, 0.955 / 0.969 / 0.948, mean 0.9550 (ends 116 → 100, 130 → 117). With it, the Hessian's
      boundary ``reflect`` or ``mirror`` for ``nearest``: 0.9550 / 0.9541; rows whose radius exceeds
      1.3 / 1.2 × their chain's median left out of the axis fits: 0.9563 / 0.9555 (within the noise:
      not used). Left: the end slices' rows (the smoothing's edge), and in the middle runs of 5–10
      slices whose rows drift the same way (fibers 13 and 23 of 0°, seed 2: 0.5–0.8 radius over 5
      slices, a flooded run over 9).
    * The axis window itself (:func:`~.assembly.axis_window`) over ±5 / ±6 radii instead of ±4, with
      the shifted ends: mean 0.9573 / 0.9599, min 0.946 / 0.950 (0° seeds 1–3 0.977 / 0.949 / 0.962
      and 0.978 / 0.957 / 0.966). The phantoms' fibers are straight lines, so a longer window only
      gains there; not used (a curved fiber's axis would be cut short, and no phantom here measures
      it).
    * The volume's z-ends as the lever, the nine cases at the defaults (main 0.9550 mean). The
      ceiling first: scored without the 4 slices at either end, 0.987 / 0.958 / 0.976, 0.972 /
      0.953 / 0.958, 0.965 / 0.979 / 0.960, mean 0.9674 (the 8 end slices alone 0.9165); on a
      48-slice phantom scored on its middle 32 (same tilts and seeds, other fibers) mean 0.9691,
      min 0.953 (whole 0.9577): ends as good as the middle would not reach 0.97. The smoothings
      along z (``smooth_sheared`` and ``smooth_z_levels``) with a normalised truncated kernel at
      the volume's z-ends (the taps beyond the volume left out, the others' weights renormalised,
      no repeated slice): end slices 0.9165 → 0.9253, middle 0.9674 → 0.9664, whole 0.9550 →
      0.9563 (min 0.943 → 0.941; four cases down, five up); with the Hessian's ``reflect`` too,
      whole 0.9566, ends 0.9242. Within the noise: not used then (the kernels kept ``nearest``).
      Taken since (2026-12-02) in ``smooth_sheared`` (:mod:`~xarray_microct.kernels.sheared`):
      once the smoothing along untilted beds had grown to two radii (σ of 4 slices at 2 pixels,
      the end plane repeated over 16 taps), the end slices' rows read 0.60 pixel RMS against the
      middle's 0.40 (0° seed 2), and 18 of about 141 fibers had no row on slice 0; with the taps
      left out, 0.49 and 9. The nine cases: 0.979 / 0.959 / 0.968, 0.967 / 0.966 / 0.970, 0.964
      / 0.968 / 0.972 (mean 0.968) → 0.982 / 0.967 / 0.972, 0.976 / 0.970 / 0.969, 0.970 /
      0.980 / 0.982 (0.974); seeds 4–6 (held out, 0° / 8°) 0.983 / 0.964, 0.966 / 0.969, 0.983
      / 0.968 → 0.985 / 0.979, 0.974 / 0.976, 0.982 / 0.974, their 8 end slices 0.895–0.948 →
      0.943–0.964. ``smooth_z_levels`` (bins: fibers of 9 pixels and more) keeps ``nearest``.
      Tried with it and withdrawn: the settled axes near a chain's ends (the shifted windows of
      :func:`~xarray_microct.kernels.chains.chain_axes`) as the window's mean moved along the
      bed's direction (the drift the scan was smoothed along) instead of the window's line,
      whose slope comes from errors correlated along z over the smoothing (at the end slice it
      read 0.51 pixel RMS against the rows' own 0.49; middle 0.32). On these straight beds of
      one direction: 0.986 / 0.975 / 0.978, 0.987 / 0.976 / 0.972, 0.976 / 0.982 / 0.986
      (0.980); with the chain's own whole-span slope required within half the tolerance over the
      window's half (beds whose fibers each take their own direction, 3–7°, lost up to 0.10
      otherwise): 0.986 / 0.971 / 0.978, 0.983 / 0.977 / 0.972, 0.975 / 0.981 / 0.984 (0.979).
      But a curved fiber whose span's slope is the bed's passes that test and is pulled off at
      its ends (a review's beds at 2 pixels, noise 0.25, 48 slices; whole / 8 end slices): a bow
      of 2 pixels 0.962 / 0.917 → 0.916 / 0.624, a helix of amplitude 1 and period 48 slices
      0.939 / 0.883 → 0.889 / 0.589, a 10° bed with a bow of 2 pixels 0.973 / 0.911 → 0.929 /
      0.638 (each against the renormalised smoothing alone); gating each end on a quadratic's
      slope there kept the curved beds but only a quarter of the gain (mean 0.975). Real fibers
      wave: not used.
    """
    along_z = sigma if factor > 1 else max(sigma, min(ALONG_Z * sigma, 0.25 * height))
    return (along_z, sigma, sigma)


def _bed_of(volume: xr.DataArray, radius: float) -> tuple[FiberBedScale | None, str]:
    """The bed's measurement for a given radius (physical), or None where the sample
    shows no fibers or cannot be measured (non-square pixels, one slice): the smoothing
    stays straight, the radii are not calibrated; with why not."""
    try:
        return measure_fiber_bed(volume, radius), ""
    except (NoFibersError, ValueError) as error:
        return None, f"the bed's sample was not measured: {error}"


def _corners_constant(volume: xr.DataArray) -> bool:
    """Whether the four corner patches (:data:`CORNER` pixels square) of the middle
    slice hold one finite value: the sign of a circular field of view's padding (the
    corners lie outside the circle), read from four chunks at most."""
    values = _corner_values(volume)
    return bool(values.size and np.isfinite(values[0]) and np.all(values == values[0]))


def _corner_values(volume: xr.DataArray) -> np.ndarray:
    """The values of the four corner patches of the middle slice (none for a slice
    under 4 pixels a side), read from four chunks at most."""
    nz, ny, nx = volume.shape
    side = min(CORNER, ny // 4, nx // 4)
    if side < 1:
        return np.empty(0, volume.dtype)
    z = nz // 2
    ends = [slice(0, side), slice(-side, None)]
    patches = [volume.data[z, ys, xs] for ys in ends for xs in ends]
    return np.concatenate([np.ravel(p) for p in dask.compute(*patches)])


def _nan_padding_filled(volume: xr.DataArray) -> tuple[xr.DataArray, Any]:
    """A float scan with its NaN padding (what many reconstructions write outside the
    field of view) filled with the matrix level, and what was done, for the provenance
    (None when nothing was).

    The rule is that of the constant padding (:func:`_padding_filled`), with NaN for the
    constant (:func:`~xarray_microct.core.stats.nan_padding_rule`), on the middle slice,
    looked at only where one of its corner patches holds NaN; the level is that slice's
    dark phase, as for a constant padding. Every NaN of the scan then takes it, block by
    block (the same for any chunking), also NaN inside the field (a defect) once the
    middle slice's pass the rule. Where they fail it (NaN spread through the fibers)
    they are left, for the tubeness to refuse. Called whatever the radius: a float
    scan with the radius given reads the corner patches (four chunks at most) as the plan
    is built, and its middle slice where they hold NaN.
    """
    if volume.dtype.kind != "f" or not np.isnan(_corner_values(volume)).any():
        return volume, None
    middle = volume.shape[0] // 2
    sample = volume.data[middle : middle + 1]
    padding, share, level = (float(v) for v in nan_padding_and_level(sample).compute())
    if not padding:
        return volume, None
    filled = volume.copy(data=fill_nan_with(volume.data, level))
    return filled, {
        "value": "NaN",
        "share_of_the_middle_slice": round(share, 6),
        "filled_with": round(level, 6),
    }


def _padding_filled(volume: xr.DataArray) -> tuple[xr.DataArray, Any]:
    """The scan with its out-of-field padding filled with the matrix level (the dark
    phase around the bright fibers), and what was done, for the provenance.

    Without it the tubeness rings along the field's edge: a padding at the scan's
    maximum (an inverted scan's, or one padded with the dtype's largest value) gave 50
    false fibers on a 128-pixel bed of 3-pixel fibers, all at the edge; at the minimum,
    0 to 1. Called where the plan reads the scan anyway (the radius estimated, or
    fibers under 9 pixels, whose bed is measured), so that a plan of large fibers with
    the radius given reads only its look for dark cores (one run of the sample) and the
    check of the radius given (:func:`_unseeded_radius`, on a filled copy). Only
    where the corners of the middle slice hold one constant (:func:`_corners_constant`)
    is the padding looked for, on the middle slice (the rule of
    :mod:`xarray_microct.core.stats`, :func:`~xarray_microct.core.stats.
    padding_and_level`, applied to that slice: its share of the slice, none in the
    slice's central disk; the same for any chunking), and the fill is a per-block
    replacement by that constant with the slice's matrix level. One slice, not the
    volume: the plan reads the chunks that hold it (one layer of z-chunks), never the
    whole scan before anything is asked for (a pass over the volume read a 160-slice
    scan in 16-slice chunks 3.5 times over). Other scans are left as they are, unread.
    """
    if not intensity_dtype(volume.dtype) or not _corners_constant(volume):
        return volume, "none: the corners of the middle slice are not one constant"
    middle = volume.shape[0] // 2
    sample = volume.data[middle : middle + 1]
    value, share, level = (float(v) for v in padding_and_level(sample).compute())
    if not np.isfinite(value):
        return volume, "none: the corners' constant is not the padding rule's"
    filled = volume.copy(data=fill_padding_with(volume.data, value, level))
    return filled, {
        "value": value,
        "share_of_the_middle_slice": round(share, 6),
        "filled_with": round(level, 6),
    }


def _air_moved(data: da.Array, cut: float, shift: float) -> da.Array:
    """The scan with its values below ``cut`` moved by ``shift``, block by block: the
    region outside the sample that the bed's sample found (air, the darkest phase, below
    the matrix: :func:`~xarray_microct.ops.fiber_scale.measure_fiber_bed`) read as
    matrix with its own noise. Every voxel below the cut, wherever it lies: the cut is
    the histogram's valley under the matrix, so what lies below is no fiber (voids in
    the matrix are moved too).

    Without it the global threshold falls between the air and the matrix (fibers that
    end at slice 32 of 48, air above: threshold 0.368 against the bed's 0.494; F1 0.959,
    touching fibers merged) and a sample in air gave no fibers at all.
    """
    return da.map_blocks(shifted_below, data, cut=cut, shift=shift, dtype=data.dtype)


def _unseeded_radius(volume: xr.DataArray) -> float | None:
    """The fibers' radius of the scan's sample, not seeded by the radius given
    (:func:`~xarray_microct.ops.fiber_scale.estimate_fiber_radius`), for the check of a
    radius given of 9 pixels or more (fibers detected on bins, the bed not measured);
    None where the sample shows no fibers or cannot be measured.

    A measure seeded by a radius too large does not find the fibers' (fiber_bed of 4.9
    pixels, given 10.8 / 13.8 pixels: 8.8 / 10.2 measured, no warning; unseeded: 5.0).
    The sample is bounded (at most 32 slices of a tile of 128 to 640 pixels) and read on
    the scan with its padding filled (:func:`_padding_filled`: one slice), for this check
    only: the detection on bins is unchanged.
    """
    try:
        return estimate_fiber_radius(_padding_filled(volume)[0])
    except (NoFibersError, ValueError):
        return None


def _check_given_radius(given: float, measured: float | None, units: str) -> float | None:
    """Warn when the radius given and the one the bed's sample measures are more than
    :data:`RADIUS_DISAGREES` apart (relative, either way): a radius half the fibers'
    splits them (three times as many fibers), one too large merges them. Returns the
    measured radius over the one given (None: not measured), which the "no fibers"
    warning weighs (:func:`_likely_cause`).

    Under 9 pixels the sample's measurement is the bed's, seeded by the radius given: it
    finds the fibers' radius from a radius too small (fiber_bed, 2 to 7 pixels, given 0.5
    and 0.7 times: within 3 %), less surely from one too large (given twice: 1.1 to 1.3
    times too large, or right). From 9 pixels it is :func:`_unseeded_radius`'s.
    """
    if measured is None or not np.isfinite(measured) or given <= 0 or measured <= 0:
        return None
    ratio = measured / given
    if max(ratio, 1 / ratio) <= 1 + RADIUS_DISAGREES:
        return ratio
    _warn(
        f"detect_fibers: radius={given:.3g} {units} was given, but the fibers of the "
        f"scan's sample measure {measured:.3g} {units} ({ratio:.2f} times the radius "
        "given): a radius too small splits the fibers (half of theirs finds about three "
        "times as many), one too large merges them. Check radius=, or leave it out "
        "(radius=None) to use the measured one"
    )
    return ratio


def _drift_record(
    bed: FiberBedScale | None,
    spacing: Sequence[float],
    estimated: dict[str, Any],
    straight: int,
    height: int,
) -> tuple[tuple[float, float], bool, Gate]:
    """The smoothing's drift per slice (:func:`bed_drift`), whether the smoothing is
    the along-the-bed path, and how the z-coherence of a bed without a drift beyond its
    spread (:func:`_along_bed`) smoothed along it is judged (:data:`Gate`: "along", the
    gated path, its chains judged :data:`ALONG_SEPARATION` times ``straight`` slices
    apart, where that fits :data:`GATE_HEIGHT` times in the ``height``; "straight" on a
    shorter scan, on the straight path's detection; None elsewhere), recorded in
    ``estimated``.

    The along-the-bed path (a whole radius of smoothing, the tubeness on the smoothed
    scan) was first given only to beds with a measured drift; a bed whose drift is
    zero (untilted, or a tilt within its sections' spread: ``other_bed`` at 8° and noise
    0.25 measures slope 0.13–0.16 against a spread of 0.15) got the short straight
    smoothing. It now takes the path too where its fibers lie within
    :data:`ALONG_TILT` of z (:func:`_along_bed`). At 2 pixels of radius that lifts the
    object F1 (seeds 1–3, ``benchmarks/fiber_table_radius.py``'s measure, defaults):
    ``other_bed`` noise 0.25, 0°: 0.936 / 0.885 / 0.894 → 0.968 / 0.938 / 0.953; 8°:
    0.886 / 0.892 / 0.944 → 0.930 / 0.933 / 0.944 (→ 0.948 / 0.943 / 0.944 along the
    mean drift: below); noise 0.15, 0°: 0.979 / 0.961 /
    0.959 → 0.983 / 0.983 / 0.972; ``fiber_bed`` noise 0.25, 0°: 0.984 / 0.979 / 0.987
    → 0.991 / 0.989 / 0.992; 15° unchanged (its drift is measured); radii as before
    (+1.8 to +2.7 % on ``other_bed`` 0° against +2.3 to +2.5 %).

    The gate that keeps volumes without fibers empty: the longer smoothing also makes
    the pores of an inverted bead pack persist along z, and they measure as an
    untilted bed (slope 0.004–0.06, spread 0.05–0.23; the fibers' 0.05–0.18, untilted
    ``other_bed`` at 2 pixels and noise 0.25 0.15–0.18). No measure of the bed's
    sample tells them apart (not the spread; nor the radius:
    pores of 3.3 pixels persist as those of 8), but their persistence does: a pore's
    chain ends, a fiber's goes on, so on this path the z-coherence asks the chains to
    continue twice as many slices (:func:`_separation`). ``bead_pack(96, radius=r,
    seed=s)`` inverted, r 3–10 voxels, seeds 1–3 (the 16 whose sample shows a bed:
    pores of 2.3–8.7 pixels): the centres continuing at the straight path's separation
    are 0.30–0.43 straight, 0.33–0.65 along the bed (fibers for 10 of them); twice as
    far along the bed 0.12–0.44 (no fibers, all; noise 0.3, seed 4: 0.19–0.28). Fiber beds
    along the bed (both phantoms, 2, 3 and 5 pixels, noise 0.15 and 0.25, 0–15°, seed
    1): 0.83–1.00 at the separation, 0.74–0.99 at twice it. Noise only, porous media
    (thresholded Gaussian random fields) and bright bead packs: their sample shows no
    bed, the path stays straight. (``bead_pack(96, radius=12, seed=2)`` inverted gives
    21 fibers on main as here: its pores of 10 pixels are found on bins, straight,
    with a coherence of 0.59.)

    The gate needs the height: capped at half the volume's slices, the doubled separation
    was no longer double on short scans (under 4 times the straight one: about 20 slices at
    2 pixels), and the pores passed again (inverted ``bead_pack(96, r, s)`` cropped to 16–32
    slices, r 4–6: coherence 0.51–0.63, fibers; main 0.39–0.47, none), and at half the
    height itself they still did (``radius=5, seed=1``, 32 slices, chains judged 16 apart:
    0.508). The doubled distance must now fit :data:`GATE_HEIGHT` times in the height (crops
    of 24–48 slices, r 4–6, and the r 10 pack's 96: all empty, the one gated among them, r 4
    over 48 slices, at 0.36; the fiber phantoms' 32 slices at 2 pixels, chains judged 10
    apart, keep the path); a shorter scan kept the straight short smoothing and its
    separation (now its verdict only: below). A bed whose drift is measured beyond its
    spread keeps the straight path's separation too: no bead pack measured one (their
    slopes 0.004–0.06 lie within their spread), and doubling it only narrowed the tilted
    beds' margin over 0.5 (2 pixels, noise 0.25, seed 2: 0.87 → 0.79 at 15°, 0.78 → 0.67
    at 30°).

    On a scan too short for the gate (thirty-second session) the bed is smoothed along it
    all the same, its z-coherence judged on a second detection on the straight path (its
    smoothing, tubeness and separation: main's verdict on the same chains), the table taken
    along the bed, as the gate does on 32 slices. Main kept the straight path whole.
    ``textured_fiber_bed`` at 2 pixels, noise 0.25 (``benchmarks/fiber_scale.py``'s
    ``sweep_case``, defaults), 16 / 20 / 24 / 28 slices: 0°, seed 1 0.910 / 0.901 / 0.913 /
    0.911 → 0.970 / 0.975 / 0.974 / 0.987; seed 2 0.881 / 0.861 / 0.885 / 0.882 → 0.931 /
    0.962 / 0.963 / 0.965; 8°, seed 1 0.915 / 0.902 / 0.877 / 0.907 → 0.970 / 0.953 / 0.974
    / 0.978; seed 2 at 20 and 28 0.847 / 0.908 → 0.969 / 0.976 (at 16 and 24 its drift is
    measured: unchanged); the radii within ±3 % as before (−4.1 → −2.9 % at worst).
    ``fiber_bed`` at 2 pixels, noise 0.25, 0° seed 2, 16–28 slices: 0.979 / 0.981 / 0.987 /
    0.987 → 0.995 / 0.996 / 1.000 / 0.996. At 3 pixels the doubled separation (16 slices)
    does not fit below 48 slices, so 32 slices change too (seed 1, noise 0.25, 0°):
    ``textured_fiber_bed`` 0.998 / 0.995 → 1.000 / 1.000 at 28 / 32, ``fiber_bed`` 0.999 /
    0.999 → 1.000 / 1.000. On 32 slices at 2 pixels (gated) nothing changes (six cases: F1
    and radii identical). Inverted ``bead_pack(96, r, s)[40 : 40 + h]``, r 4–6, seeds 1–3, h
    16–32 (45 crops, all judged so): 41 empty (coherence 0.33–0.49), four give fibers as on
    main, at main's coherence, 16–20 slices of r 5–6 (0.507–0.574: 78 → 66, 49 → 46, 54 →
    49, 51 → 44 fibers). The second detection costs a whole detection: taken only where
    the scan's noise asks for more smoothing along z than the straight half radius
    (:func:`_noise_outlasts_straight`); ``fiber_bed((64, 768, 768))`` at 4.9 pixels, where
    it does not, had 4 rows of 270 226 changed for 43.0 → 67.8 s of CPU, and keeps the
    straight path whole (40.8 s, the same rows as before). ``fiber_bed`` at 3 and 5 pixels,
    noise 0.25, 32 slices: straight as before (F1 0.999 both).

    Within the spread the smoothing follows the bed's mean drift wherever it is
    measured at all (:func:`bed_drift` ``within_spread``): the fibers' slopes about it
    have a mean square never larger than about z (spread² against spread² + mean²).
    ``other_bed`` at 8°, noise 0.25, 2 pixels (slope 0.13–0.16, spread 0.15): object F1
    0.930 / 0.933 / 0.944 straight → 0.948 / 0.943 / 0.944 (seeds 1–3; the third's
    drift is measured beyond its spread).
    """
    if bed is None:
        estimated["fiber_direction"] = "not measured: smoothing straight along z"
        return (0.0, 0.0), False, None
    drift = bed_drift(bed, spacing)
    record = {
        "slope_yx": [round(v, 6) for v in bed.slope],
        "spread": round(bed.spread, 6),
        "sections": bed.sections,
    }
    estimated["fiber_direction"] = record
    if any(drift):
        record["smoothing"] = "along the bed"
        record["drift_px"] = [round(v, 6) for v in drift]
        return drift, True, None
    if not _along_bed(bed):
        record["smoothing"] = "straight along z: the fibers' slopes spread beyond 15°"
        return drift, False, None
    short = ALONG_SEPARATION * straight > height // GATE_HEIGHT
    if short and not _noise_outlasts_straight(bed, spacing):
        record["smoothing"] = (
            f"straight along z: {height} slices are too few to judge the chains "
            f"{ALONG_SEPARATION * straight} slices apart on the smoothing along the bed, "
            "and the scan's noise needs no more than the straight smoothing"
        )
        return (0.0, 0.0), False, None
    if short:
        record["judged"] = (
            f"on the straight smoothing: {height} slices are too few to judge the chains "
            f"{ALONG_SEPARATION * straight} slices apart on the smoothing along the bed"
        )
    drift = bed_drift(bed, spacing, within_spread=True)
    record["smoothing"] = (
        "along the bed's mean drift, within its spread" if any(drift) else "along z, untilted"
    )
    record["drift_px"] = [round(v, 6) for v in drift]
    return drift, True, "straight" if short else "along"


def _noise_outlasts_straight(bed: FiberBedScale, spacing: Sequence[float]) -> bool:
    """Whether the scan's noise asks for a longer smoothing along z than the straight
    path's half radius: :data:`NOISE_SLICES` q² / R² slices (the along-the-bed smoothing's
    own measure of the noise, :func:`_mask_smoothing`) over ``R / 2``; False where the
    noise share was not measured.

    A scan too short for the gate takes the along-the-bed table only then (its second
    detection costs a whole detection): ``fiber_bed((64, 768, 768))`` at 4.9 pixels
    needs less than its straight half radius (2.5 slices), and its table along the bed
    differed by 4 rows of 270 226 for 58 % more CPU time (43.0 → 67.8 s).

    Examples
    --------
    >>> noisy = FiberBedScale(2.0, (0.0, 0.0), 0.15, 400, noise=1.0)
    >>> quiet = FiberBedScale(5.0, (0.0, 0.0), 0.15, 400, noise=0.3)
    >>> _noise_outlasts_straight(noisy, (1.0, 1.0, 1.0))
    True
    >>> _noise_outlasts_straight(quiet, (1.0, 1.0, 1.0))
    False
    """
    return bool(_noise_length(bed.noise, bed.radius, spacing) > 0.5 * bed.radius)


def _along_bed(bed: FiberBedScale) -> bool:
    """Whether a bed without a drift beyond its spread is smoothed along it anyway (one
    radius, the tubeness on the smoothed scan): where its fibers lie within
    :data:`ALONG_TILT` of z (the RMS of their measured slopes, ``√(slope² + spread²)``,
    the spread holding the centres' noise too).

    Examples
    --------
    >>> bed_of = lambda slope, spread: FiberBedScale(2.0, slope, spread, 400)
    >>> _along_bed(bed_of((0.02, 0.01), 0.15))  # untilted
    True
    >>> _along_bed(bed_of((0.05, 0.0), 0.5))  # plies: no one direction
    False
    """
    rms = float(np.hypot(np.hypot(*bed.slope), bed.spread))
    return rms < float(np.tan(np.radians(ALONG_TILT)))


def _separation(sigma_z: float, gated: bool = False) -> int:
    """Slices a centre's chain must continue for the z-coherence (:func:`z_coherence`):
    twice the tubeness's scale along z (``sigma_z``, slices), at least 3; on the gated
    smoothing along a bed without a drift beyond its spread (:func:`_drift_record`)
    :data:`ALONG_SEPARATION` times that.

    The longer smoothing makes structure without an axis persist further along z (the
    pores of an inverted bead pack: see :func:`_drift_record`); a fiber's chain goes on
    whatever the distance, a pore's ends.

    Examples
    --------
    >>> _separation(2.4), _separation(2.4, gated=True), _separation(0.5)
    (5, 10, 3)
    """
    straight = max(3, int(np.ceil(2 * sigma_z)))
    return ALONG_SEPARATION * straight if gated else straight


def _radius_from_data(
    volume: xr.DataArray, kind: str
) -> tuple[tuple[float, ...], str, FiberBedScale]:
    """The fiber radius estimated from a scan: (voxels per axis, the length recorded,
    the whole measurement)."""
    if kind != "intensity":
        raise ValueError(
            f"detect_fibers: the fiber radius is estimated from a scan (intensities), but "
            f"this volume is a {kind}; give radius= (e.g. radius='6.4 um')"
        )
    grid = grid_of(volume)
    bed = measure_fiber_bed(volume)
    return tuple(bed.radius / s for s in grid.spacing), f"{bed.radius:.6g} {grid.units}", bed


AXIS_CHECK_BLOCK = (48, 256, 256)  # the block on which another fiber axis is looked for
# the least z-coherence there that names the axis (beds: 0.9 and more, but 0.7-0.8 at 2
# pixels in noise 0.25, which may then go unnamed)
AXIS_COHERENCE = 0.8
AXIS_KEY = "fiber_axis"  # the table's attrs: the scan's axis the fibers were followed along
_AXIS_ORDER = {"z": (0, 1, 2), "y": (1, 0, 2), "x": (2, 1, 0)}  # axis_first's (z, y, x)


def _axis_first_order(lengths: Sequence[float], axis: str) -> tuple[float, ...]:
    """Per-axis lengths (z, y, x) of the scan in :func:`axis_first`'s order."""
    return tuple(lengths[i] for i in _AXIS_ORDER[axis])


def _check_axis(axis: Any) -> None:
    if not isinstance(axis, str) or axis not in _AXIS_ORDER:
        raise ValueError(f"axis must be 'z', 'y' or 'x', got {axis!r}")


def axis_first(volume: xr.DataArray, axis: str) -> xr.DataArray:
    """The volume seen with ``axis`` as its z: the two axes' names swapped, ``axis`` first.

    What :func:`detect_fibers` (``axis=``) detects fibers along ``axis`` on: its table's
    ``z`` is then the scan's ``axis`` (and that axis's column the scan's z). Lazy: a
    transpose, nothing read.

    Examples
    --------
    >>> vol = xr.DataArray(np.zeros((2, 3, 4)), dims=("z", "y", "x"))
    >>> axis_first(vol, "x").sizes
    Frozen({'z': 4, 'y': 3, 'x': 2})
    >>> axis_first(vol, "y").dims, axis_first(vol, "z") is vol
    (('z', 'y', 'x'), True)
    """
    _check_axis(axis)
    if axis == "z":
        return volume
    order = tuple(("z", "y", "x")[i] for i in _AXIS_ORDER[axis])
    return volume.transpose(*order).rename({axis: "z", "z": axis})


def _axis_block(volume: xr.DataArray) -> xr.DataArray:
    """A block of at most :data:`AXIS_CHECK_BLOCK` voxels about the middle of the
    volume, starting on a chunk border where the volume is chunked, read into memory (one chunk)."""
    starts = {}
    for dim, n, size in zip(volume.dims, volume.shape, AXIS_CHECK_BLOCK, strict=True):
        start = max(0, (n - size) // 2)
        if volume.chunks is not None:  # the chunk border at or before the middle's start
            borders = np.cumsum((0, *volume.chunks[volume.get_axis_num(dim)]))
            start = int(borders[borders <= start][-1])
        starts[dim] = slice(start, start + size)
    block = volume.isel(starts).compute()  # read once: the detection reads it four times
    return block.chunk(dict.fromkeys(block.dims, -1))


def _other_fiber_axes(volume: xr.DataArray, source: str, tried: str) -> list[str]:
    """Where no fibers run along ``tried``: the other axes along which fibers are
    found.

    Only asked on the way to an empty table, on intensities (``source`` auto or
    intensity): for each other axis, the detection itself (the radius estimated) on a
    bounded block of the scan seen along it (:func:`_axis_block`), whose centres must
    persist along it as a fiber bed's do (:data:`AXIS_COHERENCE`, well above the 0.3–0.6
    that isotropic pore spaces reach along every axis).
    """
    if source not in ("auto", "intensity") or volume.dtype == bool or volume.ndim != 3:
        return []
    found = []
    with phase("no fibers along the axis followed: looking along the others"):
        for axis in (a for a in _AXIS_ORDER if a != tried):
            block = _axis_block(axis_first(volume, axis))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    _, coherence = plan_detection(block, None, eager=True).graph.compute()
                except (NoFibersError, ValueError):
                    continue
            if coherence >= AXIS_COHERENCE:
                found.append(axis)
    return found


def _axis_hint(volume: xr.DataArray, source: str, axis: str) -> str:
    """The end of the "no fibers" warning about the axis: which one was followed (when
    not z) and the others along which fibers are found ('' where neither applies)."""
    hint = "" if axis == "z" else f" (Followed along {axis}: z here is the scan's {axis}.)"
    others = _other_fiber_axes(volume, source, axis)
    if others:
        options = " or ".join(
            f"axis={other!r} (microct run fibers: --param axis={other})" for other in others
        )
        named = " and ".join(others)
        hint += f" The bright sections do continue along {named}: detect them with {options}"
        hint += "." if others == ["z"] else "; the table's z is then the scan's axis given."
    return hint


def _swelling_of(table: pd.DataFrame) -> float:
    """:func:`~.assembly.section_swelling` of a table, on the pixels of the grid its
    sections were measured on (the scan's, or its bins: ``attrs["detection_grid"]``).

    A table of chains that persist along z, but under :data:`~.assembly.SWELLING_COHERENCE`,
    whose swelling is over 1, is blobs, not fibers: :func:`detect_fibers` then returns an
    empty table and warns. Measured (thirty-fifth session) on the tables of the default
    detection, the swelling of a fiber's sections is the standard deviation of their radius
    over a quarter of a pixel plus 5 % of the radius (the pixels' quantisation and the
    noise move a section's radius by about a quarter of a pixel whatever its size, where a
    sphere's sections vary by 14-19 % of it whatever its size), median over the chains.
    Set on the inverted bead packs that passed the coherence gate (``bead_pack(96, r, s)``
    inverted with ``microct.invert()``: r 12 seed 2, 21 fibers, coherence 0.59; the crops
    ``[40 : 40 + h]`` r 5 seed 2 h 16, r 6 seed 2 h 16 and 20, r 6 seed 3 h 16, 49-78
    fibers, 0.51-0.57): swelling 1.26-1.88, their chains' coefficient of variation
    0.14-0.19; and on fiber beds (``benchmarks/fiber_scale.py``'s ``sweep_case``, both
    phantoms, 2-20 pixels, noise 0.05 and 0.25, 0° and 15°, 16 and 32 slices, seed 4;
    ``textured_fiber_bed`` at 2 pixels, noise 0.25, 8° and 15°, 20-28 slices, seeds 1 and
    5, coherence down to 0.65): 0.45-0.66, the worst the noisiest 2-pixel beds, whose
    coefficient of variation reaches 0.13, a bead's (the coefficient of variation alone
    did not separate them; hence the quarter pixel). Held out, with the rule in place:
    the bead packs that pass the gate at other seeds, sizes and noise (r 14 seeds 2 and
    4, 10 and 8 fibers at 0.58 and 0.70; ``noise=0.3`` crops of 16 slices, r 6 seeds 2
    and 3; crops of 16-20 slices at seeds 4 and 5, r 5-6; 48-78 fibers each): all nine
    empty, swelling 1.30-2.04; the bead packs that did not pass (r 3-14, seeds 1-5,
    inverted and not, noise 0.1 and 0.3, 16-96 slices) stay empty. Fiber beds at seed 6
    (both phantoms, 2 and 3 pixels, noise 0.15 at 8° on 20 slices, 0.25 at 0° on 24 and
    at 8° on 28) and ``broken_fiber_bed`` (2 and 3 pixels, half the fibers ending inside,
    noise 0.2, 24 slices, seed 6): swelling 0.31-0.60, every table kept (coherence
    0.72-0.99; four of the fourteen under 0.8, so judged). The sweep of
    ``benchmarks/fiber_scale.py`` (seed 1) has coherences of 0.9 and more (27 of its 36
    cases run, all but ``fiber_bed`` at 20 pixels and ``other_bed`` at 12 and 20:
    0.902-1.000; seed 4's 0.89-1.00): the check does not run there, its rows do not
    change.
    The check runs only under a coherence of 0.8 (every bead pack that passed the gate
    was under 0.70; fiber beds are over 0.85, but short noisy ones at 2 pixels at
    0.65-0.79), so a bed whose chains persist is never judged on its sections. Not tried:
    the sections' size at the chains' ends against their middle (a sphere's chain ends
    small: 0.56-0.90 of its median radius against 0.78-1.00 for fibers, which overlap),
    the share of chains spanning the whole height (0-0.37 against 0.70-0.99, but broken
    and tilted fibers end inside too).
    """
    spacing = table.attrs[GRID_KEY]["spacing"]
    return section_swelling(table, float(np.sqrt(spacing[1] * spacing[2])))


def _across_fibers(table: pd.DataFrame) -> pd.Series:
    """Which fibers of a table (seen on 4 slices or more; indexed by ``fiber_id``) look
    like the sections of fibers lying across the slices: their sections swell and shrink
    along z (:func:`~.assembly.chain_swelling` over 1, a bead's) and the chain was
    bridged across a slice without one (a ``detected`` False row between two detected
    ones: not the rows that run a fiber on to the volume's first or last slice,
    :func:`~.linking.run_to_faces`).

    A fiber lying across the slices (a cross-ply's other ply) is cut by a few slices
    only, its section a stripe that grows and shrinks; the next such fiber along z, at
    about the same place, continues the chain after a gap. A fiber along z keeps its
    section, and where it is missed on a slice its size does not swing.

    Lab book (thirty-ninth session, 2026-12-05). Measured on tables of the default
    detection: fiber beds (``benchmarks/fiber_scale.py``'s ``sweep_case``, both
    phantoms, 2 and 3 pixels, noise 0.25, 15°, seeds 1 and 4, ``other_bed`` 5 pixels
    0°; ``textured_fiber_bed`` 2 pixels at noise 0.25, 20 slices 8° seed 1 (coherence
    0.71) and 28 slices 15° seed 5; ``broken_fiber_bed`` 2 and 3 pixels, half the fibers
    ending, seed 6; ``fiber_bed`` 5 pixels on 16 slices seed 6) and an independent
    user-like phantom (uint16 25 000-35 000, radii 3-5.5 voxels, z spacing 1.5-2.5 times
    the pixel, noise 0.3-0.45, wavy fibers, some ending inside, loose and dense beds; 8
    beds): at most 1.1 % of the fibers so (``other_bed`` 2 pixels), none on 13 of the 18.
    Cross-plies of that phantom (a quarter, a sixth and a quarter of the scan across,
    along x, 3.2-5.5 voxels): 19-37 %, where swelling alone (over 1) was 29-47 % against
    up to 21 % on dense noisy beds of 5.5 voxels, and the table's median swelling
    0.45-0.60 (never over 1, which drops the table). :data:`ACROSS_SHARE` set between
    them, then held out: cross-plies of a quarter (4.5 voxels, z spacing 1.6, seed 51)
    and 30 % (3.5 voxels, a dense bed, seed 52) 23 % and 35 %, warned; fiber beds at seed
    7 (``fiber_bed`` 2 pixels 8°, ``other_bed`` 3 pixels 0°, ``broken_fiber_bed`` 3
    pixels) and a dense bed of 4.5 voxels at noise 0.4 of that phantom: 0-1.5 %. Dropping
    those fibers was not done: of the fibers of the ply across, 43-74 % are so (the rest
    swell less or were not bridged), and the fibers along z so flagged (1-3 a bed) would
    go with them.
    """
    spacing = table.attrs[GRID_KEY]["spacing"]
    swelling = chain_swelling(table, float(np.sqrt(spacing[1] * spacing[2])))
    z, found = table["z"], table["detected"].to_numpy(bool)
    fibers = table["fiber_id"]
    first = z.where(found).groupby(fibers).transform("min")
    last = z.where(found).groupby(fibers).transform("max")
    bridged = (~found & (z > first) & (z < last)).groupby(fibers).any()
    return (swelling > 1) & bridged.reindex(swelling.index, fill_value=False)


def _cross_ply_message(
    table: pd.DataFrame, across: pd.Series, radius_given: bool = False
) -> str | None:
    """The warning of a table of which over :data:`ACROSS_SHARE` of the fibers look like
    the sections of fibers lying across the slices (``across``: :func:`_across_fibers`),
    naming where they lie; None under it. ``radius_given``: the warning also names a
    radius given too small, which splits the fibers into pieces that look so too (bright
    fibers of 4 pixels given 1.6: about 620 "fibers" for 64, 22-25 % of them so, all
    over the scan; not always warned about as a radius, the bed's measure being seeded
    by it).

    Examples
    --------
    >>> rows = pd.DataFrame({"fiber_id": [1, 1, 2, 2], "y": [1.0, 3.0, 20.0, 20.0],
    ...                      "x": [5.0, 5.0, 8.0, 8.0]})
    >>> rows.attrs = {"units": "micrometer", "fiber_axis": "z"}
    >>> _cross_ply_message(rows, pd.Series([True, False], index=[1, 2]))[:58]
    'detect_fibers: 1 of the 2 fibers seen on 4 slices or more '
    >>> _cross_ply_message(rows, pd.Series([False, False], index=[1, 2])) is None
    True
    """
    if not len(across) or across.mean() <= ACROSS_SHARE:
        return None
    rows = table[table["fiber_id"].isin(across.index[across.to_numpy(bool)])]
    where = rows.groupby("fiber_id")[["y", "x"]].mean()  # 90 % of them: a stray one aside
    units = table.attrs.get("units", "")
    axis = table.attrs.get(AXIS_KEY, "z")
    other = "x" if axis != "x" else "y"
    crop = "y" if axis != "y" else "x"  # an axis of the scan across the fibers followed
    # named as the scan's axes: along y or x the table is in axis_first's view, its
    # column named for the axis followed holding the scan's z
    span = ", ".join(
        f"{'z' if dim == axis else dim} {where[dim].quantile(0.05):.4g} to "
        f"{where[dim].quantile(0.95):.4g}"
        for dim in ("y", "x")
    )
    return (
        f"detect_fibers: {int(across.sum())} of the {len(across)} fibers seen on 4 slices or "
        f"more ({across.mean():.0%}) look like the sections of fibers lying across the "
        f"slices: their sections swell and shrink along {axis} and they were bridged across "
        f"slices without one, where fibers along {axis} keep their section (on fiber beds "
        f"at most about 1 %). Is part of the scan a cross-ply? Most of those lie at {span} "
        f"{units}: detect each ply on its own crop, e.g. vol.sel({crop}=slice(a, b)), with its "
        f"own axis= (microct run fibers: --param axis={other}); the fibers of this table there "
        "are likely pieces of the other ply."
    ) + (
        " Or is radius= too small? A radius under the fibers' splits them into pieces that "
        "look so too, all over the scan: leave it out (radius=None) to use the measured one."
        if radius_given
        else ""
    )


def _too_short_message(height: int, separation: int, axis: str) -> str:
    """The "no fibers" warning of a volume too short to judge its chains: how many
    slices the check needs (its chains followed ``separation`` slices on, which grows
    with the fibers' radius and the smoothing along them).

    Examples
    --------
    >>> _too_short_message(24, 24, "z")[:72]
    "detect_fibers: no fibers — the volume's 24 slices along z are too few to"
    >>> _too_short_message(24, 24, "z")[-62:]
    'at this radius a scan of at least 25 slices along z is needed.'
    """
    return (
        f"detect_fibers: no fibers — the volume's {height} slices along {axis} are too few "
        f"to see the per-slice centres continue {separation} slices on, the check that "
        "tells fibers from noise and pores: at this radius a scan of at least "
        f"{separation + 1} slices along {axis} is needed."
    )


def _no_fibers_message(
    reason: str, volume: xr.DataArray, source: str, advice: str | None = None
) -> str:
    """The "no fibers" warning, with the fibers' polarity named on an intensity scan.

    ``advice`` replaces that polarity advice where the reason calls for other (the
    swelling sections of beads or pores: inverting the scan is no remedy there), or where
    what was measured names the cause (:func:`_likely_cause`: a radius given far from
    the fibers' measured one, or fibers that look dark).

    Fibers are found brighter than the matrix; on masks and tubeness inputs the
    polarity is not the question and ``reason`` stands alone. A scan of dark fibers
    does not always come here: it can give a table of the bright gaps between them,
    which :func:`_record_polarity` warns about (the curvature of the bright phase's
    edges: :mod:`~xarray_microct.ops.fibers.polarity`). Tried before it and not used:
    on an 8-slice mean of the middle (2026-12-02), the share of each Otsu phase in round
    regions (the pores of ``fiber_bed`` seed 2 made its dark phase the rounder one), and
    the share of each phase in its largest connected region (touching 2-pixel fibers
    under a blur of 1 pixel on ``textured_fiber_bed`` made their bright phase the
    connected one: 0.69 against 0.25); and (2026-12-04) a fit of blurred disks to the
    sample and to its inverse, whose explained variance does not separate them at noise
    0.25 (``fiber_bed`` 5 voxels, 15°: 0.79 for the bright disks, 0.83 for the inverse's).
    This message names ``invert()`` whatever that measure says: an empty table is also
    what a scan without fibers gives.

    Examples
    --------
    >>> scan = xr.DataArray(np.zeros((2, 2, 2), np.uint8))
    >>> _no_fibers_message("no round section", scan, "auto")[:62]
    'detect_fibers: no fibers — no round section. Fibers are found '
    >>> _no_fibers_message("no round section", scan.astype(bool), "auto")
    'detect_fibers: no fibers — no round section'
    >>> _no_fibers_message("blobs", scan.astype(bool), "auto", advice="Label them.")
    'detect_fibers: no fibers — blobs. Label them.'
    """
    message = f"detect_fibers: no fibers — {reason}"
    if advice is None and (source not in ("auto", "intensity") or volume.dtype == bool):
        return message
    if not message.endswith((".", "?", "!")):
        message += "."
    if advice is not None:
        return f"{message} {advice}"
    return (
        f"{message} Fibers are found brighter than the matrix: for dark fibers, detect "
        "them on vol.microct.invert() (microct run fibers: --param invert=true)."
    )


def _likely_cause(radius_ratio: float | None, curvature: float | None) -> str | None:
    """The advice of the "no fibers" warning on an intensity scan, from what was measured:
    ``radius_ratio`` (the fibers' radius measured on the scan's sample over the radius
    given, :func:`_check_given_radius`; None where no radius was given or the sample
    shows none) and ``curvature`` (the fibers' polarity, :func:`_polarity_task`; None:
    not judged). None where neither tells the cause (the generic advice then stands).

    Fibers that look dark (the curvature under :data:`DARK_FIBERS`) call for
    ``invert()``, whatever the radius (measured on dark fibers, the sample's radius is
    that of the bright gaps between them). Bright ones with a radius given
    :data:`RADIUS_DISAGREES` or more off the measured one: the radius given is the cause,
    and inverting is not named (it was, with the radius warning beside it, and sent a
    user to invert a scan of bright fibers).

    Examples
    --------
    >>> _likely_cause(2.5, 0.4)[:53]
    'The likely cause is the radius given: the fibers of t'
    >>> _likely_cause(1.0, -0.4)[:45]
    'The fibers look darker than the matrix (the b'
    >>> _likely_cause(None, None) is None
    True
    """
    wrong = radius_ratio is not None and max(radius_ratio, 1 / radius_ratio) > 1 + (
        RADIUS_DISAGREES
    )
    if curvature is not None and curvature < DARK_FIBERS:
        return (
            "The fibers look darker than the matrix (the bright phase's curvature "
            f"{curvature:+.2f}, below 0 for dark fibers): detect them on "
            "vol.microct.invert() (microct run fibers: --param invert=true)."
        )
    if wrong:
        polarity = (
            ""
            if curvature is None
            else f" The fibers look brighter than the matrix (curvature {curvature:+.2f}), as "
            "the detection expects: inverting the scan is not the remedy."
        )
        return (
            f"The likely cause is the radius given: the fibers of the scan's sample measure "
            f"{radius_ratio:.2f} times it. Leave radius= out (radius=None) to use the "
            f"measured radius, or give that one.{polarity}"
        )
    return None


def _polarity_task(volume: xr.DataArray, axis: str) -> Delayed:
    """One task giving :func:`~xarray_microct.ops.fibers.polarity.sampled_polarity` of
    the scan (None where its sample holds NaN or ±inf: not judged), its NaN padding
    filled as the detection fills it. Computed with the detection
    (:meth:`_TableGraph.compute_with`), it reads no chunk of its own: it slices its
    sample from the detection's reads, and runs beside the detection's tasks.

    Lab book (2026-12-05). The check (thirty-fourth session) first read its sample once
    the table was computed, in a ``compute`` of its own: on ``microct run fibers`` of a
    stored 64 × 768² bed in 64 × 256² chunks (the 512² tile covers all 9 chunks), that
    read and the client's share of the measure took 0.93 CPU s of the client's 12.7
    (0.25 after the table before it), the whole run 29.4/28.8 -> 30.3/29.8 CPU s
    (``benchmarks/run_phases.py --workers 2``); interleaved, ``--workers 2`` 2-3 CPU s a
    run more than before the check (5 rounds), and within noise of it without the check
    (3 rounds). Measured alone, threaded: the tile's read 0.33 CPU s, the cores 0.15,
    the curvature 0.16. Computed with the detection: no chunk read again, the client's
    CPU after the table 1.00/1.02 -> 0.28/0.29 s (2 runs each; at a load of 8, 1.30 ->
    0.50), the task 1.9-2.3 s of a worker's time on that loaded machine; taken with an
    index array, the sample's slices moved whole-height pieces of the chunks between
    the workers (``_tile_of``). The whole run against main, interleaved (3 rounds, load
    7-9): 35.2/37.4/35.8 -> 36.4/35.5/34.0 CPU s, within that load's noise. Left: the
    measure itself (about 0.45 CPU s), and the task runs where the table comes out
    empty too (where the check did not run).
    """
    seen, _ = _nan_padding_filled(axis_first(volume, axis))
    blocks = polarity_tile(seen).data.to_delayed(optimize_graph=False)
    return dask.delayed(_judged_polarity, pure=True)(blocks.tolist())


def _judged_polarity(blocks: list) -> float | None:
    """:func:`~xarray_microct.ops.fibers.polarity.tile_polarity` of the tile's blocks
    (nested lists, as ``np.block`` joins them), None where it holds NaN or ±inf."""
    try:
        return tile_polarity(np.block(blocks))
    except ValueError:
        return None


def _record_polarity(table: pd.DataFrame, curvature: float) -> None:
    """Record in ``table``'s provenance whether the scan's fibers look bright or dark
    (``curvature``: :func:`_polarity_task`'s value), and warn where they look dark: the
    table is then that of the bright gaps between them."""
    dark = curvature < DARK_FIBERS
    estimated = dict(table.attrs.get(ESTIMATED_KEY) or {})
    estimated["fiber_polarity"] = {
        "bright_phase_curvature": round(curvature, 4),
        "fibers": "dark" if dark else "bright",
    }
    table.attrs[ESTIMATED_KEY] = estimated
    if dark:
        _warn(_dark_fibers_message(curvature))


def _dark_fibers_message(curvature: float) -> str:
    """The warning of a scan whose fibers look dark (``curvature``: the measure).

    Examples
    --------
    >>> _dark_fibers_message(-0.4)[:69]
    'detect_fibers: the fibers of this scan look darker than the matrix (t'
    """
    return (
        "detect_fibers: the fibers of this scan look darker than the matrix (the bright "
        f"phase is a network about dark round sections: curvature {curvature:+.2f}, "
        "below 0 for dark fibers, above for bright ones); fibers are found brighter than "
        "the matrix, so this table is likely that of the bright gaps between them. "
        "Detect dark fibers on vol.microct.invert() (microct run fibers: --param "
        "invert=true)."
    )


@operation(
    lengths={
        "radius": LengthParam(within_volume=False),
        "sigma": LengthParam(within_volume=False),
        "min_radius": LengthParam(within_volume=False),
        "link_distance": LengthParam(within_volume=False),
    },
    packages=["scipy", "scikit-image", "pandas"],
    on_tree="level",
    spatial_only=True,
)
def detect_fibers(
    volume: xr.DataArray,
    radius: Any = None,
    source: Source = "auto",
    sigma: Any = None,
    min_radius: Any = None,
    link_distance: Any = None,
    max_gap: int = 5,
    min_slices: int = 3,
    axis: Literal["z", "y", "x"] = "z",
) -> pd.DataFrame:
    """Detect fibers running along z (or ``axis``): per-slice centres and radii, linked
    into 3-D fibers.

    Works on a raw scan (running the default chain: tubeness, smoothing, global Otsu
    threshold), on a tubeness/objectness result, or on a boolean segmentation; see the
    module docstring for the method. The answer does not depend on the chunking nor on
    the scheduler. Fibers of 9 pixels of radius or more are found on the scan binned
    in-plane (see :mod:`~xarray_microct.ops.fibers.grid`). Memory: each task holds one
    z-chunk of a tile of the slice (a few hundred pixels a side plus a halo), whatever
    the slice's area.

    Parameters
    ----------
    volume : xarray.DataArray
        A 3-D volume (fibers bright), a tubeness map, or a boolean fiber mask.
    radius : length, optional
        Typical fiber radius. Seeds are at least 0.75 × radius apart; the tubeness scale,
        the smallest radius and the linking distance follow from it unless given. By
        default it is estimated from the scan
        (:func:`~xarray_microct.ops.fiber_scale.estimate_fiber_radius`, which reads a few
        slices; 2 to 20 voxels of radius) and the estimate is recorded in the provenance
        record (``"estimated"``); a mask or tubeness input needs it given. A radius
        given more than 1.4 times from the one the scan's sample measures is warned
        about (intensity input).
    source : {"auto", "intensity", "tubeness", "mask"}
        What ``volume`` is; ``"auto"``: boolean → mask, a result of ``tubeness`` /
        ``objectness`` / ``frangi`` → tubeness, else intensity. ``"mask"`` also takes
        integers 0 and 1 (any other value fails as it is computed: threshold first).
    sigma : length, optional
        Tubeness scale for intensity input. Default 0.6 × radius: a disk of radius R
        gives the strongest centre response at σ = R/√2, smaller scales keep touching
        fibers apart, and below about R/2.5 a large fiber shows a ring instead of one
        peak; 0.6 keeps one peak for fibers up to ~1.4× the typical radius. Under 4
        pixels of radius, where the radius estimate's fit measures the scan's blur, less:
        0.6 R of smoothing in all with the blur, never under (0.3 + 0.3 × noise) R nor
        0.35 R, nor under 0.45 of the largest sections' radius in all (a bed of two
        sizes) (:func:`~xarray_microct.ops.fiber_scale.tubeness_scale`; recorded as
        ``"tubeness_scale"``), so that touching fibers under a blur of half their radius
        or more are not merged. In-plane;
        fibers under 9 pixels of radius (detected on the scan itself) get twice that
        along the fibers: along the bed's tilt, measured on the scan, when the fibers
        share one or lie within 15° of z (:mod:`~xarray_microct.ops.fibers.along`;
        recorded in the provenance as ``"fiber_direction"``), else straight along z.
    min_radius : length, optional
        Smallest fiber cross-section kept (equivalent radius; default radius / 2, or
        radius / 4 on a tubeness map, whose thresholded cores are narrower than fibers).
    link_distance : length, optional
        Largest in-plane move of a fiber between linked slices (default radius / 2).
    max_gap : int
        Slices a fiber may be missed on and still be linked across within
        ``link_distance``, for the check that centres persist along z; fibers are then
        joined across any gap where their axes meet within a radius. A fiber found up to
        within ``max_gap`` slices of the volume's first or last slice runs on to it
        (rows on its axis, ``detected`` False).
    min_slices : int
        Fibers seen on fewer slices are dropped (spurious detections).
    axis : {"z", "y", "x"}
        The scan's axis the fibers run along (roughly). Along y or x, the fibers are
        detected on :func:`axis_first`'s view of the scan (that axis and z swapped), and
        the table is in that view: its ``z`` is the scan's ``axis`` and the ``axis``
        column the scan's z (recorded in ``attrs["fiber_axis"]``); the summaries and
        metrics then take it with ``axis_first(vol, axis)``. When no fibers are found,
        the warning says along which other axis they run, if any.

    Returns
    -------
    pandas.DataFrame
        One row per fiber and slice from its first to its last, sorted by
        ``fiber_id`` then ``z``: ``fiber_id`` (1..N, by first slice then position),
        ``z, y, x`` (the centre: the point of the fiber's local axis on that slice, in
        the volume's coordinates), ``radius`` (of the disk with the area of the fiber's
        cross-section in the mask, times √cos θ of the fiber's axis, which removes the
        elongation of a tilted fiber's section; on a slice where the fiber's section
        was missed or strayed off its axis, the mean of the radii around it; all
        moved by one length where the mask's sections and the sections the radius
        estimate measured in its sample (a fit of blurred disks under 4 pixels, their
        excess intensity from 4 up) disagree by more than 0.5 %, on the scan itself
        (under about 9 pixels of radius) and, with the radius estimated, on bins:
        :mod:`~xarray_microct.ops.fibers.calibrate`), all in the volume's units,
        ``detected`` (a section of the fiber was found on that slice; False where the
        row is the fiber's axis across a slice without one — a gap the linking bridged,
        such as a break, or a section that strayed off the axis — and its radius the
        mean around it), and ``touches_side``
        (on some slice the disk of the fiber's centre and median radius reaches past
        the centres of the pixels on the volume's side: the volume cuts the fiber, and its
        centres and radii there are those of the part inside; count the fibers without
        it for a count that does not depend on the field of view).
        ``attrs`` holds ``units``, ``spacing``, ``origin``, ``shape`` (of the scan seen
        along ``axis``), ``source``, ``fiber_axis``, ``detection_grid`` (``factor``,
        ``spacing``, ``origin``, ``shape`` of the grid the fibers were found on: the
        scan, or its in-plane bins for large fibers),
        ``radius_calibration`` (whether the radii were calibrated, the shift and the
        means it came from, or why not), ``z_coherence`` and the provenance. Empty
        (with a warning) when the volume holds no fibers: when under half of the
        centres belong to chains that go on for a few more slices (see
        :func:`z_coherence`), what was found is not fibers along z; the warning then
        says whether the fibers run along another axis (see ``axis``). Empty too (with a
        warning, ``attrs["section_swelling"]`` giving the measure) when chains that
        persist under a coherence of 0.8 have sections that swell and shrink along z as
        beads' or pores' do, not a fiber's (see :func:`_swelling_of`); a cross-ply
        (fibers along ``axis`` in one part of the scan, across it in another) can give
        that too: detect each ply on its own crop, with its own ``axis``.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> from xarray_microct.synthetic import fiber_bed
    >>> vol, truth = fiber_bed((12, 40, 40), seed=2, tilt=0)
    >>> table = vol.microct.detect_fibers(radius="6.4 um")
    >>> list(table.columns), table.attrs["units"]
    (['fiber_id', 'z', 'y', 'x', 'radius', 'detected', 'touches_side'], 'micrometer')
    >>> scores = mct.metrics.object_metrics(table, truth.centres, like=vol, margin=6.4)
    >>> bool(scores["f1"] > 0.95)
    True
    """
    _check_axis(axis)
    try:
        plan = plan_detection(
            volume,
            radius,
            source,
            sigma,
            min_radius,
            link_distance,
            max_gap,
            min_slices,
            eager=True,
            axis=axis,
        )
    except NoFibersError as err:
        message = _no_fibers_message(str(err), volume, source)
        _warn(message + _axis_hint(volume, source, axis))
        table = empty_table()
        table.attrs = {"units": grid_of(volume).units, AXIS_KEY: axis, "z_coherence": 0.0}
        return table
    except ValueError as err:
        if axis == "z":
            raise
        raise ValueError(
            f"{err} (fibers followed along {axis}: the axes named are those of the scan "
            f"seen along it, axis_first(vol, {axis!r}), whose z is the scan's {axis})"
        ) from err
    curvature = None  # the fibers' polarity, judged on an intensity scan
    with phase("detecting the fibers (tubeness, mask, centres per slice, links along z)"):
        if plan.attrs["source"] == "intensity":
            table, coherence, curvature = plan.graph.compute_with(_polarity_task(volume, axis))
        else:
            table, coherence = plan.graph.compute()
    table.attrs = {**plan.attrs, **table.attrs, "z_coherence": coherence}
    if len(table) and coherence < SWELLING_COHERENCE:
        swelling = _swelling_of(table)
        if swelling > 1:  # blobs: their sections swell and shrink along z
            message = _no_fibers_message(
                f"the chains' sections swell and shrink along z as beads' or pores' do "
                f"(their radius varies along a chain {swelling:.1f} times as much as a "
                f"fiber's would; {table['fiber_id'].nunique()} chains, {coherence:.0%} of "
                "the centres continuing, dropped)",
                volume,
                source,
                advice="The scan looks like beads or pores, not fibers: segment those with "
                "xarray_microct.pipelines.beads (its invert= names their phase), or label "
                "a threshold's mask with vol.microct.label(). A cross-ply looks the same "
                "(fibers along z in one part of the scan and across z in another: those "
                "sections swell and shrink along z too): detect each ply on its own crop, "
                "e.g. vol.isel(y=slice(0, 48)), with its own axis= (microct run fibers: "
                "--param axis=x).",
            )
            _warn(message)
            attrs = {**table.attrs, "section_swelling": swelling}
            table = empty_table()
            table.attrs = attrs
            return table
    if len(table) and curvature is not None:
        _record_polarity(table, curvature)
    if len(table) and coherence >= COHERENCE_MIN:
        message = _cross_ply_message(table, _across_fibers(table), radius is not None)
        if message is not None:
            _warn(message)
    if not coherence >= COHERENCE_MIN:  # NaN: no centre could be judged
        advice = _likely_cause(plan.radius_ratio, curvature)
        if np.isfinite(coherence):
            message = _no_fibers_message(
                f"the per-slice centres do not persist along z (only {coherence:.0%} "
                f"continue {plan.separation} slices on; a fiber bed gives over 90 %). Is the "
                "fiber axis along z, and the radius right?",
                volume,
                source,
                advice,
            )
        elif plan.attrs["shape"][0] <= plan.separation:  # the height, not the polarity
            message = _too_short_message(plan.attrs["shape"][0], plan.separation, axis)
        else:  # no centre at all, or none far enough from the last one's slice
            message = _no_fibers_message(
                f"no per-slice centres were found over more than {plan.separation} "
                f"slices along {axis}, the span the check that tells fibers from noise "
                "needs",
                volume,
                source,
                advice,
            )
        _warn(message + _axis_hint(volume, source, axis))
    return table
