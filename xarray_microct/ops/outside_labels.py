"""Labels made by the outside of a scan: a container's wall, the rim of the air.

Beads held in a tube, a column filled part way: where the scan holds air about the
sample (:mod:`xarray_microct.core.outside`, the region ``fill_outside`` moves), a wall at
the beads' level between them and the air, and the rim the blur mixes with the air,
fall in the beads' mask, and the watershed cuts them into labels on no bead.
:func:`drop_outside_labels` sets to 0 the labels within ``reach`` voxels of the air that
are slabs (over ``max_ratio`` times the volume of their inscribed ball, the ball of
their largest distance in the watershed's map: a ball is 1, a half ball 4) or thinner
than ``min_radius`` (their largest distance, or the radius of the ball of their volume,
under it; ``min_radius`` at most :data:`THIN_SHARE` of the typical radius, by volume, of
the labels away from the air: :func:`thin_top`), and the labels that lie within a wall
by the air, touching it or not; the others keep their numbers.

A wall thicker than the beads is cut by the watershed into pieces as round as beads,
which the slab rule keeps. It is measured where it is, region by region of the air's
boundary, by its depth from the air (one more exact distance transform, of ``~`` the
air; in steps of the finest voxel side). Each voxel faces the air's boundary at its
nearest voxel of the air (its position less its depth along the depth's gradient) and
on one side (6: the gradient's largest component and its sign); it is counted, by depth,
in the tile of :data:`TILE` voxels holding that voxel of the air, on that side. The
tiles are grouped into regions :data:`REGION_RADII` times the labels' median largest
distance wide (a few beads: a region's share of the mask at each depth is a mean over
beads), and per region, :func:`wall_thickness`: the run of depths from the air all mask
(over :data:`SOLID_SHARE`: a wall and the blur's rim) where the sample's inside follows
at once (under :data:`INSIDE_SHARE` within :data:`INSIDE_DEPTHS` depths: a pack meets a
wall at points; the depth between, the wall's blurred inner face, is the wall's). A free
liquid surface (the pack's share from the first depth), a sample's dense skin (its
pores sparse under it), a mask that fills all under the air: no wall. A label whose
every voxel lies at most a step deeper than the wall of the region it faces is of the
wall (its voxels facing a region of fewer voxels than a bead's ball, which has no
profile to read, left out).

Cost. Whether the scan holds air at all is judged first, eagerly, on a bounded sample
that depends on the scan's shape only (:func:`outside_sample`: the two diagonals of
the field, at most :data:`SAMPLE_POINTS` voxels each, on at most :data:`SAMPLE_PLANES`
slices: the chunks those cross only), by the outside's own rule
(:func:`~xarray_microct.core.outside.outside_of_array`). Where it holds none, the labels
are returned as they are and nothing is added to the graph: a scan without air pays
that sample only. Where it holds some, each block counts its labels' voxels, largest
distance and contact with the air (the labels present in the block only: a table the
size of the block's labels, not of the scan's), its voxels by tile, side and depth and
its labels' deepest voxel by tile and side (:class:`DepthParts`; the depth's gradient
from a margin of a voxel: the whole array's), one task combines them, and the labels
dropped are zeroed block by block: lazy and the same for any chunking. The labels are
then held until the table is made (all of them, as for any step with a global table).

Walls thicker than the beads (2026-12-04, branch ``wall30``; not used). The watershed
cuts such a wall into pieces as round as beads, which the slab rule keeps: a tube of
96 x 176² (radius 80, 636 beads of 4.5-6 voxels, ``tests/test_beads.py``'s
``_tube_pack``), walls of 5 / 10 voxels: 315 / 156 labels on no bead after
:func:`~xarray_microct.pipelines.beads.beads`. Tried: the wall measured from the share
of the mask at each depth from the air (one more exact distance transform of ``~`` the
air; by steps of the finest voxel side): all mask through a wall (0.99-1.00), the
pack's 0.05-0.45 deeper, so the wall is the run of depths over 0.95 where a depth under
0.75 follows (walls of 4 / 8 / 12 voxels on 40 x 96² measured 4 / 8 / 12).

* Labels by the air whose deepest voxel lies within the wall + 1 step: 315 / 156 → 7 /
  35 on no bead, no bead lost; on 40 x 96², 9 / 16 / 8 → 0. A review found that the one
  thickness, measured over all the air, drops whole beads by a free liquid surface when
  the walled part of the air's boundary dominates (4 of 5 on a tall tube; the wall 12
  measured; its channel of 240 slices between walls, beads of 4.5-6 under the surface).
* Then labels with over half their voxels within the wall + 1 step, touching the air or
  not, and by the pack's pores only at the wall's inner face (at least a step under its
  thickness): the review's free surface 0 of 5 dropped, anisotropic voxels (1, 1, 2)
  measured right once empty depths broke no run, the cost the slab rule's (64 x 128²:
  32-37 s CPU against 32-33, the blocks' tables made in one ``map_blocks`` layer: a
  task per array and block through ``to_delayed`` had doubled it, by culling the
  graph). But beads protruding 0.3 radius from a liquid surface into air, in a tube
  with a wall of 8 or 12 voxels: the wall is under-measured (3 / 2: the free surface's
  depths hold 0.8-0.93 of mask), and 6 / 5 of 38 beads (400-780 voxels) have half
  their voxels within it and the pores only under the rim: dropped. One thickness for
  all the air cannot tell a wall from a free surface; what is missing is the wall
  measured where it is (per region of the air's boundary), and a rule for the labels
  by a free surface that keeps beads. Walls thicker than their pieces lose only their
  inner layer (the outer pieces meet no pore).

Walls region by region (2026-12-04, branch ``wall31``; the rule above). The wall measured
per region of the air's boundary (tile of its nearest voxel of the air, side), a label
of the wall when every voxel lies within its region's wall + 1 step. The review's
phantoms of ``wall30`` (the true beads as labels: any label the wall rule drops is a
bead lost), none dropped: beads protruding 0.3 / 0.6 radius from a liquid surface in
tubes of walls 4 / 8 / 12 (6 / 5 of 38 before), a free surface beside walls of 12 (240
slices; 0 of 113, 132 of 144 wall pieces dropped), tall tubes of 240 / 120 slices, dry
heaps, sintered cylinders, beads of radius 2.5-3.5 and 3-4 by a free surface, voxels
(2, 1, 1) and (1, 1.5, 1.5), two chunkings alike. A dense cylinder's skin (pores only
deeper than 4-8 voxels, porosity 0.1-0.3) read as a wall of 5-7 with the inside's share
0.75 anywhere deeper: 29 / 62 grains dropped (17 of over 600 voxels with ``wall30``'s
rule); with the inside required at once (under 0.5 within 2 depths of the run's end,
the depth between the wall's), none. ``beads`` on the 96 x 176² tube, walls 5 / 10:
315 / 156 → 33 / 49 labels on no bead, beads found (IoU ≥ 0.5) 635 / 636 as before; on
40 x 80², walls 4 / 8 / 12: 1 / 8 / 15 → 0 / 1 / 0. The wall of 12 reads 11 by its
run of shares over 0.95 (its blurred inner face 0.92-0.94): the depth before the inside
is the wall's. Left: a wall's pieces that reach past its inner face (the watershed
joins them to the pack's edge) stay, and those of a wall above a free surface (between
two airs: no inside in view). Cost, ``beads`` on a 64 x 128² tube with air (CPU,
interleaved): 29.6-32.1 s before; 21.9-24.8 with the blocks' tables handed to the
combining task as one array (a delayed object per block carried the graph to merge
again) and the slab rule alone; 23.4-27.4 with the wall rule (its exact distance
transform of the air, the depth's gradient, the tables by tile).

Regions too small to read (2026-12-04, branch ``wall32``; the rule above). The labels on
no bead that ``wall31`` left, classed against the phantoms' true wall (depth from the
air ``tube + wall - rho``) and the parts the rule read (per label and tile: its
region's wall, its deepest voxel). The 96 x 176² tube, wall 5: all 33 lie wholly within
the true wall + 0.5 (median 201 voxels, 0.36 of a bead, at most 0.79; most touch the
air), none joined to a bead: no "piece joined to the pack's edge". Each was kept by a
part or two of its own (of 3-6) facing a region that measured no wall because it holds
1-73 voxels (55 of 147 regions: the depth's gradient flat or along ``z`` on the tube's
face, the edges of the regions' grid): no profile, read as no wall. Wall 10 (the tube,
radius 90, wider than the field: the wall meets the field's sides with no air there,
the air only in the field's corners): all 49 within the true wall + 0.8, median 3.2
beads (at most 18); 12 kept by such small regions only, the other 37 by parts up to 25
steps from the corners' air, in large regions of no wall (no air in view: a wall cut by
the field's faces; left). The 40 x 72² test tube: 1 on no bead (142 voxels within depth
4.3, wall 4), the same. Labels joining a wall piece to a bead: the test tube's 2 beads
under IoU 0.5 (half their label's voxels in the wall: IoU 0.47 / 0.48); on wall 10, 4
labels on beads with over a tenth of their voxels in the wall, their beads over 0.5;
none on wall 5: trimming the wall off such labels would mend 2 beads of 1 400, not the
junk. Chosen: a region of fewer voxels than the ball of the labels' median largest
distance (fewer than the bead its shares are to average over) is not measured; a
label's parts facing one are left out, the label of the wall when its other parts lie
within their walls (one at least). Offline on the parts: under 64 voxels, 33 → 5 (wall
5) and 49 → 37 (wall 10); under 512 or the ball, 33 → 0 and 49 → 37. ``beads``, before
→ after (labels on no bead; beads over IoU 0.5; median IoU): 96 x 176², wall 5: 33 → 0,
635 / 636, 0.970 both; wall 10: 49 → 37, 636 / 636, 0.947 both; 40 x 72², wall 4: 1 →
0, 50 / 52, 0.938 both; 48 x 80², wall 8, a free surface at 30: 9 → 8 (the one under
the surface's reach gone; the 8 left lie in the wall above it, between two airs), 38 /
38, 0.846 both. The review's cases rebuilt small (48 x 80², tube 26), before → after:
beads protruding 0.3 / 0.6 radius from a surface at 30, walls 4: 5 / 2 → 4 / 1 on no
bead, 35 / 36 of 37 found both; 8: 11 / 14 → 10 / 13, 37 both; 12: 8 / 8 both, 30 /
28 both (beads lost by the wall of 12, whose air is a rim of 2 voxels: left); a surface
at 60 beside a wall of 12 (96 slices): 13 both, 56 of 65 both; a free surface, no wall:
0, 56 of 59 both; the true beads as labels, none dropped in any; a dense cylinder's
skin (pores deeper than 6, porosity 0.2): 16 of 50 labels dropped both. CPU of
``beads`` on the 96 x 176² tube: 9.8 → 9.6-14.0 s (a loaded machine; one sum per region
more).

Thin beside a thick wall (2026-12-04, branch ``wall33``; the rule above). A tube wall
of 12 voxels under a free surface lost 3-12 beads per scan (48 x 80², tube 26, air a
rim of 2 at the field's sides, beads 4.5-6, surface at 30: 30 of 37 found, seed 3).
Traced: every bead lost was dropped by the thin rule, none by the slab or the wall
rule, and the air was found as it should be: the beads touching the air above the
surface (largest distance 4.0-4.9 in the watershed's map, 420-970 voxels, each 0.89-0.94
of its bead before the step) lay under ``min_radius``, the half of ``beads``' radius,
which the wall had pulled up: that radius is the moments of the distance map over the
whole mask (:func:`~xarray_microct.pipelines.beads.estimate_radius`), which weigh the
wall's slab by volume (a slab of half thickness ``h`` reads ``1.67 h``): 9.9-10.1 with
walls of 12 (whatever the rim of air: 2, 4 or 10), 6.7-6.9 with 8, 4.5-4.8 with 4,
4.8-5.1 without wall. The rim of 2 is not the cause (rims of 4 and 10 lose as many);
without a free surface no bead touches the air and none is lost. The small beads'
radius (``beads``' ``small_bead_radius``, the markers' 10 % quantile) is no scale for
it: 1.4 and 2.2 on two of these scans. Chosen: ``min_radius`` at most half the typical
radius of the labels away from the air (the sample's objects as the watershed cut them:
the ball of their median volume by volume, 4.7-5.0 here): only ever lower, so a scan
whose radius no wall pulls up is judged as before. Withdrawn: half their median largest
distance (0.93-0.95 of that radius): a wall of 4 voxels above a free surface (between
two airs, no wall read) is cut into pieces of largest distance 2.24, dropped under
``min_radius`` 2.25-2.3 before and kept under 2.2 (3 → 24, 5 → 29, 5 → 36 labels on no
bead); the plain median of their volumes: in packs of small beads (2.2-3) the majority
beside large ones (4.5-6), a bound of 1.0-1.1 kept the air's rim by a free surface (0 →
3, 0 → 10 labels on no bead). A label by the air whose volume is under the ball of
``min_radius`` is thin too, whatever its largest distance: specks of 2-4 voxels that
the smoothing of the labels left in a wall above the surface (their distance that of the
piece they were cut from, 3.0-3.2), dropped before under the pulled-up bound (3.35) only.
``beads``, main → these rules, on 48 x 80² tubes (walls 12 / 8 / 4 / none; air rims 2 /
4 / 10; seeds 1-3), beads found (IoU ≥ 0.5) of the true ones and labels on no bead. With
the surface at 30, wall 12, rim 2: 31 / 30 / 30 → 43 / 40 / 37 of 43 / 40 / 37; rim 4: 26
/ 24 / 24 → 33 / 33 / 30 of 34 / 33 / 30; rim 10: 13 / 14 / 15 → 16 / 19 / 19 of 16 / 19 /
19 (on no bead 8 / 9 / 8, 4 / 5 / 2, 5 / 4 / 6 → the same but 6 → 5); wall 8 (beads the
same), on no bead, rim 2: 29 / 26 / 21 → 23 / 24 / 17; rim 4: 10 / 12 / 10 → 5 / 6 / 9;
rim 10: 7 / 10 / 11 → 6 / 5 / 10; wall 4: the same but 36 → 19 (rim 10, seed 1); no wall:
the same (0). Without the surface (36 scans): the same. Packs of small and large beads
(share 0.3 drawn small; small / large found, on no bead), surface at 30: no wall 126 /
45, 0 and 115 / 44, 0, the same; wall 4: 58 / 33, 16 → 58 / 33, 9; wall 8: 34 / 26, 13 →
44 / 26, 9; wall 12: 2 / 12, 4 → 3 / 17, 4; wall 4, no surface: the same. Small beads by the air
(left): in these packs (the median bound, without the specks' rule) the step dropped 1
of 134 and 1 of 179 (by the wall rule, none as thin); the small beads lost (2.2-3) are
lost before it (labels of 12-50 voxels, away from the air).
Since (the same day, branch ``radius33``) the radius estimate itself leaves out the
mask's largest balls that touch the air (:func:`~xarray_microct.pipelines.beads.air_balls`:
wall 12, 9.76-9.88 → 5.13-5.36); :func:`thin_top` stays, for a ``min_radius`` given by
the user or a wall the estimate's box does not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import dask.array as da
import numpy as np
import scipy.ndimage as ndi
import xarray as xr

from xarray_microct.core.blocks.overlap import halo_blocks, map_spatial_overlap
from xarray_microct.core.outside import fill_outside_array, moved_array, outside_of_array
from xarray_microct.core.registry import LengthParam, operation
from xarray_microct.core.stats import padding_mask_array, padding_of
from xarray_microct.core.volume import grid_of
from xarray_microct.kernels.labels import label_parts
from xarray_microct.ops.distance import edt_array

__all__ = [
    "MAX_BALL_RATIO",
    "OUTSIDE_REACH",
    "WALL_STEPS",
    "clear_padding",
    "drop_outside_labels",
    "drop_outside_slabs",
    "has_outside",
    "outside_sample",
    "slabs",
    "thin_top",
    "wall_thickness",
]

MAX_BALL_RATIO = 4.0  # a label by the outside over this times its inscribed ball is a slab
OUTSIDE_REACH = 2  # voxels: a label this near the voxels moved as the outside touches it
SAMPLE_POINTS = 256  # the most voxels along each diagonal the check for air reads
SAMPLE_PLANES = 8  # the most slices whose diagonals the check for air reads
SOLID_SHARE = 0.95  # the mask's least share at each depth from the air through a wall
INSIDE_SHARE = 0.5  # a depth under this share, just under the wall: the sample's inside
INSIDE_DEPTHS = 2  # the inside's share is under INSIDE_SHARE within these depths after a wall
WALL_STEPS = 128  # the thickest wall told, in steps of the finest voxel side
TILE = 8  # voxels: the side of the tiles of the air's boundary the profiles are kept by
REGION_RADII = 8  # a region of the boundary: this many times the labels' median radius
THIN_SHARE = 0.5  # a label by the air under this share of the radius of those away is thin


def outside_sample(volume: xr.DataArray | da.Array) -> np.ndarray:
    """The two diagonals of the field on at most :data:`SAMPLE_PLANES` evenly spaced
    slices of the scan (the first and the last among them), ``(slices, 2, nd)``, each
    diagonal taken at no more than :data:`SAMPLE_POINTS` evenly spaced voxels, read now:
    the positions depend on the shape only, the same for any chunking, and no more
    chunks are read than those the diagonals of those slices cross. The air about a
    sample lies on them: the corners of a square field about a cylinder, a ring about
    it, the slices above a column filled part way, a side face.

    Examples
    --------
    >>> scan = np.arange(4 * 5 * 5).reshape(4, 5, 5)
    >>> outside_sample(scan)[0].tolist()  # slice 0: (0, 0)..(4, 4) and (0, 4)..(4, 0)
    [[0, 6, 12, 18, 24], [4, 8, 12, 16, 20]]
    >>> outside_sample(np.zeros((100, 5, 5))).shape
    (8, 2, 5)
    """
    data = volume.data if isinstance(volume, xr.DataArray) else volume
    data = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    nz, ny, nx = data.shape[-3:]
    zs = np.unique(np.rint(np.linspace(0, nz - 1, min(nz, SAMPLE_PLANES))).astype(np.int64))
    along = np.linspace(0.0, 1.0, min(max(ny, nx), SAMPLE_POINTS))
    ys = np.rint(along * (ny - 1)).astype(np.int64)
    xs = np.rint(along * (nx - 1)).astype(np.int64)
    rows, columns = np.stack([ys, ys]), np.stack([xs, nx - 1 - xs])
    return data.vindex[zs[:, None, None], rows[None], columns[None]].compute()


def has_outside(volume: xr.DataArray | da.Array, bright: bool) -> bool:
    """Whether :func:`outside_sample` holds air about the sample by the outside's rule
    (:func:`~xarray_microct.core.outside.outside_of_array`; its out-of-field padding
    left out, :func:`~xarray_microct.core.stats.padding_of`): reads the sample now.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scan = np.where(rng.random((32, 48, 48)) < 0.4, 100.0, 200.0)
    >>> has_outside(scan + rng.normal(0, 5, scan.shape), bright=True)
    False
    >>> scan[20:] = 0.0  # air above slice 20
    >>> has_outside(scan + rng.normal(0, 5, scan.shape), bright=True)
    True
    """
    sample = outside_sample(volume).astype(np.float64)
    value, share = padding_of(sample).compute()
    if share > 0:
        sample[sample == value] = np.nan
    return bool(np.isfinite(outside_of_array(sample, bright=bright).cut))


def slabs(
    counts: np.ndarray,
    top: np.ndarray,
    touch: np.ndarray,
    voxel_volume: float,
    min_top: float = 0.0,
    max_ratio: float = MAX_BALL_RATIO,
) -> np.ndarray:
    """Which labels go: those that touch the outside and are either slabs (their volume,
    ``counts`` voxels of ``voxel_volume``, over ``max_ratio`` times that of the ball of
    their largest distance ``top``, their inscribed ball: a half ball is 4 times it) or
    thinner than ``min_top`` (their largest distance under it, or their volume under
    the ball of ``min_top``: a speck whose largest distance is its neighbours' that the
    smoothing of the labels left).

    Examples
    --------
    A ball of radius 6 (volume 905) and a plate 4 voxels thick, 30 x 30 (3600, its
    inscribed ball of radius 2: volume 34), both touching the outside; a plate that
    does not; a cube of 4 voxels (64) touching it, under ``min_top``; a speck of 3
    voxels at a distance of 4 from the mask's edge:

    >>> slabs(np.array([905, 3600, 3600, 64, 3]), np.array([6.0, 2.0, 2.0, 2.0, 4.0]),
    ...       np.array([True, True, False, True, True]), 1.0, min_top=3.0).tolist()
    [False, True, False, True, True]
    """
    top = np.asarray(top, np.float64)
    volume = np.asarray(counts) * voxel_volume
    ball = 4 / 3 * np.pi * top**3
    small = volume < 4 / 3 * np.pi * min_top**3
    thin = (volume > max_ratio * ball) | (top < min_top) | small
    return np.asarray(touch, bool) & thin


def thin_top(counts: np.ndarray, touch: np.ndarray, voxel_volume: float, min_top: float) -> float:
    """The largest distance under which a label by the outside is thin: ``min_top``, at
    most :data:`THIN_SHARE` of the typical radius of the labels that do not ``touch``
    the outside (the sample's own objects as the watershed cut them): the radius of the
    ball of the median volume by volume (half of their voxels lie in labels as large or
    larger: in a pack of two sizes, near the large ones'; ``counts`` voxels of
    ``voxel_volume``); ``min_top`` where none lies away from it. A radius estimated over
    the whole mask (``min_top``'s source in :func:`~xarray_microct.pipelines.beads.beads`)
    is pulled up by a container's wall in the mask, a slab whose distances it weighs by
    volume (see the module's notes: a wall of 12 voxels read beads of 4.5-6 as 9.9).

    Examples
    --------
    Beads of radius 4-5 away from the air, a wall's pieces and the air's rim by it; a
    ``min_top`` of half a radius read as 10, one of 1.5, and none away from the air:

    >>> counts = np.rint(4 / 3 * np.pi * np.array([4.0, 4.5, 5.0, 6.0, 6.0, 1.0]) ** 3)
    >>> touch = np.array([False, False, False, True, True, True])
    >>> round(thin_top(counts, touch, 1.0, 5.0), 2), thin_top(counts, touch, 1.0, 1.5)
    (2.25, 1.5)
    >>> thin_top(counts, np.ones(6, bool), 1.0, 5.0)
    5.0

    Ten small beads of radius 2 away from the air beside three of 4-5: the large ones'

    >>> small = np.full(10, np.rint(4 / 3 * np.pi * 8))
    >>> round(thin_top(np.r_[small, counts[:3]], np.zeros(13, bool), 1.0, 5.0), 2)
    2.25
    """
    counts = np.asarray(counts, np.float64)
    away = np.sort(counts[~np.asarray(touch, bool) & (counts > 0)])
    if away.size == 0:
        return float(min_top)
    typical = away[np.searchsorted(np.cumsum(away), away.sum() / 2)]
    radius = np.cbrt(3 / (4 * np.pi) * float(typical) * voxel_volume)
    return float(min(min_top, THIN_SHARE * radius))


def wall_thickness(voxels: np.ndarray, in_mask: np.ndarray) -> np.ndarray:
    """The thickness of a wall by the air, in steps of depth, per row (a region of the
    air's boundary; the last axis: the depth from the air): the run of depths from the
    first whose share of the mask (``in_mask / voxels``: the voxels at that depth, and
    those of them in the mask) is at least :data:`SOLID_SHARE`, where a deeper depth's
    share is under :data:`INSIDE_SHARE` (else 0: no sample's inside in view to tell the
    wall from). Depth 0 is the air's own and is left out; a depth without voxels breaks
    no run (voxels longer across the air than the step).

    Examples
    --------
    A wall of 3 steps, then a pack; a mask that fills all under the air; a free surface
    (the pack's share from the first depth):

    >>> wall_thickness(np.array([[50, 10, 10, 10, 10, 10], [50, 10, 10, 10, 0, 0],
    ...                          [50, 10, 10, 10, 10, 10]]),
    ...                np.array([[0, 10, 10, 10, 3, 4], [0, 10, 10, 10, 0, 0],
    ...                          [0, 5, 4, 6, 3, 4]])).tolist()
    [3, 0, 0]
    """
    voxels = np.atleast_2d(np.asarray(voxels, np.float64))[:, 1:]
    share = np.atleast_2d(np.asarray(in_mask, np.float64))[:, 1:] / np.maximum(voxels, 1.0)
    present = voxels > 0
    depths = np.arange(voxels.shape[1])
    broken = (share < SOLID_SHARE) & present
    end = np.where(broken.any(axis=1), np.argmax(broken, axis=1), voxels.shape[1])
    # the inside begins at once (a pack meets a wall at points), a depth of the wall's
    # blurred face between at most: a sample's dense skin, its pores sparse under it,
    # is no wall. The wall: the depths before the inside
    after = present & (depths >= end[:, None])
    first = after & (np.cumsum(after, axis=1) <= INSIDE_DEPTHS) & (share < INSIDE_SHARE)
    inside = first.any(axis=1) & (end > 0)  # a wall has a solid depth at least
    before = present & (depths < np.argmax(first, axis=1)[:, None])
    thickness = np.where(before.any(axis=1), voxels.shape[1] - np.argmax(before[:, ::-1], 1), 0)
    return np.where(inside, thickness, 0)


class DepthParts(NamedTuple):
    """One block's profile of depths from the air by tile of the air's boundary, and
    its labels' deepest voxel by tile: ``tiles, depths, voxels, in_mask`` (the voxels
    at each depth of each tile, and those of them in the mask) and ``labels, label_tiles,
    deepest`` (per label and tile, the deepest of its voxels, in steps)."""

    tiles: np.ndarray
    depths: np.ndarray
    voxels: np.ndarray
    in_mask: np.ndarray
    labels: np.ndarray
    label_tiles: np.ndarray
    deepest: np.ndarray


def _tile_grid(shape: Sequence[int]) -> np.ndarray:
    """The number of tiles of :data:`TILE` voxels along each axis of ``shape``."""
    return -(-np.asarray(shape, np.int64) // TILE)


def _tiles(
    depth: np.ndarray,
    core: tuple[slice, ...],
    start: Sequence[int],
    spacing: Sequence[float],
    shape: Sequence[int],
) -> np.ndarray:
    """Per voxel of a block (``depth[core]``: ``depth`` holds a margin of a voxel about
    it where the array has voxels there; the block starts at ``start`` in an array of
    ``shape``), the tile of the air's boundary it faces, as one key: the tile of
    :data:`TILE` voxels that holds its nearest voxel of the air (its position less its
    depth along the depth's gradient), and the side that air lies on (6: the gradient's
    largest component and its sign); ``-1`` at depth 0 or ``inf`` (the air itself, no
    air). The same for any chunking (the margin gives the whole array's gradient)."""
    inner = depth[core]
    keys = np.full(inner.shape, -1, np.int64)
    where = np.isfinite(inner) & (inner > 0)
    if not where.any():
        return keys
    with np.errstate(invalid="ignore"):
        grads = np.stack(
            [
                np.gradient(depth, float(spacing[a]), axis=a)[core][where]
                if depth.shape[a] > 1
                else np.zeros(int(where.sum()))
                for a in range(depth.ndim)
            ]
        )
    grads = np.nan_to_num(grads, nan=0.0, posinf=0.0, neginf=0.0)
    norm = np.sqrt(np.sum(grads**2, axis=0))
    unit = grads / np.where(norm > 0, norm, 1.0)
    grid = _tile_grid(shape)
    key = np.zeros(unit.shape[1], np.int64)
    for a, positions in enumerate(np.nonzero(where)):
        foot = positions + start[a] - inner[where] * unit[a] / float(spacing[a])
        tile = np.clip(np.floor(foot / TILE).astype(np.int64), 0, grid[a] - 1)
        key = key * grid[a] + tile
    side = np.argmax(np.abs(unit), axis=0)
    sign = unit[side, np.arange(unit.shape[1])] > 0
    keys[where] = key * (2 * depth.ndim) + 2 * side + sign
    return keys


def _depth_parts(
    labels: np.ndarray, depth: np.ndarray, tiles: np.ndarray, in_mask: np.ndarray, step: float
) -> DepthParts:
    """:class:`DepthParts` of one block (depths in steps, rounded up, those over
    :data:`WALL_STEPS` counted as one past it; the labels' voxels without a tile, an
    infinite depth, as one past it in tile ``-1``)."""
    steps = WALL_STEPS + 1
    finite = np.isfinite(depth)
    k = np.full(depth.shape, steps, np.int64)
    k[finite] = np.minimum(np.ceil(depth[finite] / step - 1e-6), steps).astype(np.int64)
    has = tiles >= 0
    keys, inverse = np.unique(tiles[has] * (steps + 1) + k[has], return_inverse=True)
    voxels = np.bincount(inverse, minlength=len(keys))
    solid = np.bincount(inverse, in_mask[has], minlength=len(keys)).astype(np.int64)
    lab = labels.astype(np.int64, copy=False)
    own = (lab > 0) & (has | ~finite)
    lab, tile, k = lab[own], tiles[own], k[own]
    order = np.lexsort((tile, lab))
    lab, tile, k = lab[order], tile[order], k[order]
    first = np.flatnonzero(np.r_[True, (lab[1:] != lab[:-1]) | (tile[1:] != tile[:-1])])
    first = first[first < lab.size]  # none for a block without labels
    deepest = np.maximum.reduceat(k, first) if k.size else k
    return DepthParts(
        keys // (steps + 1), keys % (steps + 1), voxels, solid, lab[first], tile[first], deepest
    )


def _regions(tiles: np.ndarray, grid: np.ndarray, merge: np.ndarray) -> np.ndarray:
    """The region of each tile key of :func:`_tiles` (on a ``grid`` of tiles): its
    tiles grouped by ``merge`` along each axis, its side kept; ``-1`` stays ``-1``."""
    sides = 2 * len(grid)
    rest, side = np.divmod(tiles, sides)
    region = np.zeros(tiles.shape, np.int64)
    coarse = -(-grid // merge)
    for a in range(len(grid)):
        place = rest // int(np.prod(grid[a + 1 :])) % grid[a]
        region = region * coarse[a] + place // merge[a]
    return np.where(tiles < 0, -1, region * sides + side)


def _wall_labels(
    parts: list[DepthParts],
    labels: np.ndarray,
    top: np.ndarray,
    spacing: Sequence[float],
    grid: np.ndarray,
) -> np.ndarray:
    """Which of ``labels`` (sorted; their largest distance ``top``) lie within a wall:
    every voxel of theirs at most a step deeper than the wall measured on the region of
    the air's boundary it faces (:func:`wall_thickness` on the profile of the region's
    tiles: :data:`REGION_RADII` times the labels' median ``top`` wide, a tile at
    least), where one was measured; their voxels facing a region of fewer voxels than
    the ball of that ``top`` (no profile to read) left out, one part at least in a wall."""
    steps = WALL_STEPS + 1
    radius = float(np.median(top[top > 0])) if np.any(top > 0) else 0.0
    merge = np.maximum(
        1, np.rint(REGION_RADII * radius / (np.asarray(spacing) * TILE)).astype(np.int64)
    )
    regions, inverse = np.unique(
        _regions(np.concatenate([p.tiles for p in parts]), grid, merge), return_inverse=True
    )
    profile = np.zeros((2, len(regions), steps + 1), np.int64)
    depths = np.concatenate([p.depths for p in parts])
    np.add.at(profile[0], (inverse, depths), np.concatenate([p.voxels for p in parts]))
    np.add.at(profile[1], (inverse, depths), np.concatenate([p.in_mask for p in parts]))
    thickness = np.asarray(wall_thickness(*profile)) if len(regions) else np.zeros(0, np.int64)
    # a region holding fewer voxels than a bead (the ball of the median largest distance)
    # has no profile to read: its parts are not measured, neither wall nor inside
    ball = 4 / 3 * np.pi * radius**3 / float(np.prod(spacing))
    unread = profile[0].sum(axis=1) < ball
    ids = np.concatenate([p.labels for p in parts])
    where = _regions(np.concatenate([p.label_tiles for p in parts]), grid, merge)
    found = np.minimum(np.searchsorted(regions, where), max(len(regions) - 1, 0))
    wall = np.zeros(len(where), np.int64)
    skip = np.zeros(len(where), bool)
    if len(regions):
        known = (where >= 0) & (regions[found] == where)
        wall = np.where(known, thickness[found], 0)
        skip = known & (wall == 0) & unread[found]
    ok = (wall > 0) & (np.concatenate([p.deepest for p in parts]) <= wall + 1)
    bad = np.unique(ids[~(ok | skip)])
    inside = np.isin(labels, ids[ok]) & ~np.isin(labels, bad)
    return inside


def _combined_parts(
    parts: list[tuple[np.ndarray, ...]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The blocks' :func:`~xarray_microct.kernels.labels.label_parts` over the whole
    volume: per label present, the voxels added, the largest distance, any contact."""
    ids = np.concatenate([p[0] for p in parts])
    labels, inverse = np.unique(ids, return_inverse=True)
    counts = np.bincount(inverse, np.concatenate([p[1] for p in parts]), len(labels))
    top = np.full(len(labels), -np.inf)
    np.maximum.at(top, inverse, np.concatenate([p[2] for p in parts]))
    touch = np.bincount(inverse, np.concatenate([p[3] for p in parts]), len(labels)) > 0
    return labels, counts, top, touch


class BlockTables(NamedTuple):
    """One block's tables: its labels' :func:`~xarray_microct.kernels.labels.label_parts`
    and, given the depth from the air, its :class:`DepthParts`."""

    parts: tuple[np.ndarray, ...]
    depth: DepthParts | None


def _block_tables(
    labels: np.ndarray,
    distance: np.ndarray,
    near: np.ndarray,
    depth: np.ndarray | None = None,
    spacing: Sequence[float] = (),
    shape: Sequence[int] = (),
    block_info: dict | None = None,
) -> np.ndarray:
    """:class:`BlockTables` of one block, in a one-element object array (a block of
    :func:`drop_outside_slabs`'s table of blocks); ``depth`` with a margin of a voxel
    where the array has voxels beyond the block."""
    out = np.empty((1,) * labels.ndim, object)
    parts = label_parts(labels, distance, near)
    if depth is None:
        out.flat[0] = BlockTables(parts, None)
        return out
    index = block_info[0]["chunk-location"]
    start = [lo for lo, _ in block_info[0]["array-location"]]
    core = tuple(
        slice(int(i > 0), int(i > 0) + n) for i, n in zip(index, labels.shape, strict=True)
    )
    tiles = _tiles(depth, core, start, spacing, shape)
    step = float(min(spacing))
    out.flat[0] = BlockTables(parts, _depth_parts(labels, depth[core], tiles, distance > 0, step))
    return out


def _leaves(nested: list | np.ndarray) -> list[np.ndarray]:
    """The arrays of nested lists, in order (a block of each axis after the other).

    Examples
    --------
    >>> [int(a[0]) for a in _leaves([[np.array([1]), np.array([2])], [np.array([3])]])]
    [1, 2, 3]
    """
    if isinstance(nested, list):
        return [leaf for item in nested for leaf in _leaves(item)]
    return [nested]


def _dropped_labels(
    tables: list,
    voxel_volume: float,
    min_top: float,
    max_ratio: float,
    spacing: Sequence[float] = (),
    shape: Sequence[int] = (),
) -> np.ndarray:
    """The labels dropped, sorted, from the blocks' :class:`BlockTables` (``tables``: the
    blocks of :func:`_block_tables`, in nested lists, one level per axis, as ``blockwise``
    passes them): those :func:`slabs` drops and, with the depth from the air, those that
    lie within a wall by it (:func:`_wall_labels`)."""
    blocks = [t.flat[0] for t in _leaves(tables)]
    labels, counts, top, touch = _combined_parts([b.parts for b in blocks])
    thin = thin_top(counts, touch, voxel_volume, min_top)
    drop = slabs(counts, top, touch, voxel_volume, thin, max_ratio)
    if blocks and blocks[0].depth is not None:
        grid = _tile_grid(shape)
        drop |= _wall_labels([b.depth for b in blocks], labels, top, spacing, grid)
    return labels[drop]


def _zeroed(block: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """``block`` with the labels ``dropped`` (sorted) set to 0: found by a sorted search,
    whose cost does not follow the labels' range (ids of 10¹² as well as of 10).

    Examples
    --------
    >>> _zeroed(np.array([0, 3, 10**12, 7], np.int64), np.array([3, 10**12])).tolist()
    [0, 0, 0, 7]
    """
    if dropped.size == 0:
        return block
    table = dropped.astype(block.dtype)  # the labels' own type: no cast through float
    found = table[np.minimum(np.searchsorted(table, block), table.size - 1)] == block
    return np.where(found, 0, block).astype(block.dtype)


def _count(dropped: np.ndarray) -> np.ndarray:
    return np.asarray(dropped.size, np.int64)


def drop_outside_slabs(
    labels: da.Array,
    distance: da.Array,
    near: da.Array,
    spacing: Sequence[float],
    min_top: float = 0.0,
    max_ratio: float = MAX_BALL_RATIO,
    depth: da.Array | None = None,
) -> tuple[da.Array, da.Array]:
    """``labels`` without those that touch ``near`` (the voxels by the outside) and are
    slabs or thin (:func:`slabs`: volume over ``max_ratio`` times the ball of their
    largest ``distance``, or that distance under ``min_top``, at most :func:`thin_top`'s)
    or, given ``depth`` (the distance from the air), lie within a wall by it (every voxel
    at most a step deeper than the wall measured on the region of the air's boundary it
    faces: :func:`wall_thickness`, the mask ``distance > 0``); and how many were dropped
    (0-d), lazily.

    Per block, the voxels, largest distance and contact with ``near`` of the labels
    present in it (:func:`~xarray_microct.kernels.labels.label_parts`) and its profile
    of depths by tile of the air's boundary (:class:`DepthParts`); combined in one task;
    the labels dropped set to 0 block by block (the others keep their numbers): the
    same for any chunking.

    Examples
    --------
    A plate 2 voxels thick and a cube, both by the outside (``near``: the side ``x = 0``):

    >>> lab = np.zeros((8, 16, 16), int); lab[:2] = 1; lab[3:8, 3:8, :5] = 2
    >>> dist = ndi.distance_transform_edt(lab > 0)
    >>> near = np.zeros(lab.shape, bool); near[:, :, 0] = True
    >>> out, n = drop_outside_slabs(da.from_array(lab, chunks=4), da.from_array(dist, chunks=4),
    ...                             da.from_array(near, chunks=4), (1, 1, 1))
    >>> np.unique(out.compute()).tolist(), int(n.compute())  # the plate goes, the cube stays
    ([0, 2], 1)
    """
    chunks = labels.chunks
    arrays = [labels, distance.rechunk(chunks), near.rechunk(chunks)]
    if depth is not None:
        arrays.append(halo_blocks(depth.rechunk(chunks), (1,) * labels.ndim))
    # one table per block through one layer of the graph, combined by one task of another
    # (``blockwise`` down to 0-d). Through ``dask.delayed`` the blocks' tables were made a
    # graph each, culled from the whole chain: on a 128 x 256² tube of 32 chunks, 121 000
    # tasks (against 5 000 in the chain) for every later compute to cull again
    tables = da.map_blocks(
        _block_tables,
        *arrays,
        spacing=tuple(float(s) for s in spacing),
        shape=labels.shape,
        dtype=object,
        chunks=tuple((1,) * n for n in labels.numblocks),
    )
    axes = "".join(chr(ord("a") + i) for i in range(labels.ndim))
    dropped = da.blockwise(
        _dropped_labels,
        "",
        tables,
        axes,
        concatenate=False,
        voxel_volume=float(np.prod(spacing)),
        min_top=float(min_top),
        max_ratio=float(max_ratio),
        spacing=tuple(float(s) for s in spacing),
        shape=tuple(labels.shape),
        meta=np.empty((0,), labels.dtype),
    )
    count = da.map_blocks(_count, dropped, dtype=np.int64, meta=np.empty((), np.int64))
    kept = da.map_blocks(
        _zeroed,
        labels,
        dropped,
        dtype=labels.dtype,
        meta=np.empty((0,) * labels.ndim, labels.dtype),
    )
    return kept, count


def _outside(scan: da.Array, bright: bool, reach: int) -> tuple[da.Array, da.Array]:
    """The voxels ``fill_outside`` moves, and those within ``reach`` voxels (faces) of
    them, lazily."""
    moved = moved_array(scan, fill_outside_array(scan, bright=bright)[1])
    if reach <= 0:
        return moved, moved
    near = map_spatial_overlap(ndi.binary_dilation, moved, (reach,) * 3, bool, iterations=reach)
    return moved, near


@operation(
    takes="labels",
    lengths={"min_radius": LengthParam(within_volume=False)},
    spatial_only=True,
    packages=["numba", "scipy"],
    earlier=("scan", "distance"),
    on_tree="level",
)
def drop_outside_labels(
    labels: xr.DataArray,
    scan: xr.DataArray,
    distance: xr.DataArray,
    phase: str = "bright",
    min_radius: object = None,
    max_ratio: float = MAX_BALL_RATIO,
    reach: int = OUTSIDE_REACH,
) -> xr.DataArray:
    """Drop the labels that the outside of the scan made: a container's wall, the air's rim.

    Where the scan holds air about the sample (a tube in air, a column filled part way:
    the region :func:`~xarray_microct.ops.intensity.fill_outside` moves to ``phase``'s
    level), the labels within ``reach`` voxels of it that are slabs (over
    ``max_ratio`` times the volume of their inscribed ball, the ball of their largest
    ``distance``) or thinner than ``min_radius``, and those that lie within a wall by
    the air (every voxel at most a step deeper than the wall measured on the region of
    the air's boundary it faces: :func:`wall_thickness`, on the mask ``distance > 0``;
    none by a free liquid surface), are set to 0; the others keep their numbers. Lazy;
    the labels are held until the table of those dropped is made (a pipeline checks
    first whether the scan holds air at all: :func:`has_outside`).

    Parameters
    ----------
    labels : xarray.DataArray
        The labels (of a watershed).
    scan : xarray.DataArray
        The scan the chain began with (a stage of ``labels``'s chain: the replay passes
        its own).
    distance : xarray.DataArray
        The map the watershed flooded (a stage of the chain), or the mask it was given
        (boolean: its distance map is computed).
    phase : {"bright", "dark"}
        The phase the air was moved to (``fill_outside``'s).
    min_radius : length, optional
        Labels by the air whose largest distance, or the radius of the ball of their
        volume, is under it go whatever their shape (it at most half the typical radius
        of the labels away from the air: :func:`thin_top`).
    max_ratio : float
        Labels by the air over this times the volume of their inscribed ball go.
    reach : int
        Voxels (steps through faces) from the air within which a label touches it.

    Returns
    -------
    xarray.DataArray
        Lazy labels; the lazy coordinate ``outside_labels_dropped`` counts the labels
        set to 0. On a pyramid (DataTree) of labels, one level's (``level=0`` by
        default, the finest: the scan and the map are given on its grid).

    Examples
    --------
    Dark beads (level 0) in a liquid (1), air (-1) from slice 24: the blur leaves a rim
    at the beads' level between the liquid and the air, which a mask of the beads'
    level holds, joined to the top layer of beads; the watershed cuts it from the beads
    into labels of its own, which go; the 48 beads below the air all stay:

    >>> import numpy as np
    >>> import scipy.ndimage as ndi
    >>> import xarray_microct as mct
    >>> z, y, x = np.indices((40, 32, 32))
    >>> beads = (z % 8 - 3.5) ** 2 + (y % 8 - 3.5) ** 2 + (x % 8 - 3.5) ** 2 <= 9
    >>> level = np.where(beads, 0.0, 1.0); level[24:] = -1.0
    >>> noise = np.random.default_rng(0).normal(0, 0.05, level.shape)
    >>> scan = mct.from_array(ndi.gaussian_filter(level, 1.0) + noise, chunks=16)
    >>> mask = (scan < 0.5) & (scan > -0.4)
    >>> labels = mask.microct.watershed(min_distance=2)
    >>> out = labels.microct.drop_outside_labels(scan, mask, min_radius=1.5)
    >>> int(labels.max()), int(out.outside_labels_dropped)
    (55, 7)
    >>> truth, n = ndi.label(beads & (z < 24))
    >>> kept = ndi.mean(out.values > 0, truth, range(1, n + 1))  # each bead's share kept
    >>> n, int(np.sum(kept > 0.5))
    (48, 48)

    The mask was made by hand (``<``, ``&``): it is the input of the labels' chain, and
    the scan is no stage of that chain, so the step is recorded but cannot be replayed
    (a chain of verbs from the scan, as :func:`~xarray_microct.pipelines.beads.beads`
    makes, can):

    >>> list(out.attrs["microct_provenance"][-1]["not_stages"])
    ['scan']
    """
    if phase not in ("bright", "dark"):
        raise ValueError(f"drop_outside_labels: phase is 'bright' or 'dark', got {phase!r}")
    if not (np.isfinite(max_ratio) and max_ratio > 0):
        raise ValueError(f"drop_outside_labels: max_ratio is a number > 0, got {max_ratio!r}")
    if isinstance(reach, bool) or not isinstance(reach, int | np.integer) or reach < 0:
        raise ValueError(f"drop_outside_labels: reach is a number of voxels >= 0, got {reach!r}")
    grid = grid_of(labels)
    if scan.shape != labels.shape or distance.shape != labels.shape:
        raise ValueError(
            f"drop_outside_labels: the scan {scan.shape} and the map {distance.shape} are on "
            f"the labels' grid {labels.shape}"
        )
    radius = 0.0
    if min_radius is not None:
        radius = float(np.mean([r * s for r, s in zip(min_radius, grid.spacing, strict=True)]))
    dist = distance.data
    if dist.dtype == np.bool_:
        dist = edt_array(dist, grid.spacing)
    moved, near = _outside(scan.data, phase == "bright", int(reach))
    depth = edt_array(~moved, grid.spacing)
    kept, count = drop_outside_slabs(
        labels.data, dist, near, grid.spacing, radius, max_ratio, depth=depth
    )
    return labels.copy(data=kept).assign_coords(outside_labels_dropped=((), count))


@operation(takes="labels", spatial_only=True, earlier=("scan",), on_tree="level")
def clear_padding(labels: xr.DataArray, scan: xr.DataArray) -> xr.DataArray:
    """Set to 0 the labels on the scan's out-of-field padding: it is no sample.

    A circular field of view's padding (a constant or NaN outside the reconstruction
    circle: :func:`~xarray_microct.core.stats.padding_mask_array`, the voxels
    ``fill_padding`` fills) is filled with the background's level before the filters,
    but where the field's edge is ragged (voxels of its rim left out of the field) the
    blur of the beads it cuts fills those voxels over the threshold, and the smoothing
    of the outlines carries the beads into them. Labels that are all padding are left
    with no voxel (their number unused).

    Parameters
    ----------
    labels : xarray.DataArray
        The labels (0 = background).
    scan : xarray.DataArray
        The scan the chain began with (a stage of ``labels``'s chain: the replay passes
        its own), on the labels' grid.

    Returns
    -------
    xarray.DataArray
        Lazy labels, 0 on the padding (unchanged where the scan has none).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> rng = np.random.default_rng(0)
    >>> scan = rng.normal(100.0, 10.0, (4, 20, 20)); scan[:, :, :5] = 0.0  # padding
    >>> labels = mct.from_array(np.ones((4, 20, 20), "int32"), chunks=7)
    >>> out = labels.microct.clear_padding(mct.from_array(scan, chunks=7))
    >>> int(out[:, :, :5].max()), int(out[:, :, 5:].min())
    (0, 1)
    """
    if scan.shape != labels.shape:
        raise ValueError(
            f"clear_padding: the scan {scan.shape} is on the labels' grid {labels.shape}"
        )
    padding = padding_mask_array(scan.data).rechunk(labels.data.chunks)
    cleared = da.map_blocks(_cleared, labels.data, padding, dtype=labels.data.dtype)
    return labels.copy(data=cleared)


def _cleared(labels: np.ndarray, padding: np.ndarray) -> np.ndarray:
    """``labels`` set to 0 on the padding (a new array); ``labels`` itself where the
    block holds none (a scan without padding pays a test per block, not a pass)."""
    return np.where(padding, labels.dtype.type(0), labels) if padding.any() else labels
