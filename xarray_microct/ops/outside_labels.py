"""Labels made by the outside of a scan: a container's wall, the rim of the air.

Beads held in a tube, a column filled part way: where the scan holds air about the
sample (:mod:`xarray_microct.core.outside`, the region ``fill_outside`` moves), a wall at
the beads' level between them and the air, and the rim the blur mixes with the air,
fall in the beads' mask, and the watershed cuts them into labels on no bead.
:func:`drop_outside_labels` sets to 0 the labels within ``reach`` voxels of the air that
are slabs (over ``max_ratio`` times the volume of their inscribed ball, the ball of
their largest distance in the watershed's map: a ball is 1, a half ball 4) or thinner
than ``min_radius`` (their largest distance under it); the others keep their numbers.

Cost. Whether the scan holds air at all is judged first, eagerly, on a bounded sample
that depends on the scan's shape only (:func:`outside_sample`: the two diagonals of
the field, at most :data:`SAMPLE_POINTS` voxels each, on at most :data:`SAMPLE_PLANES`
slices: the chunks those cross only), by the outside's own rule
(:func:`~xarray_microct.core.outside.outside_of_array`). Where it holds none, the labels
are returned as they are and nothing is added to the graph: a scan without air pays
that sample only. Where it holds some, each block counts its labels' voxels, largest
distance and contact with the air (the labels present in the block only: a table the
size of the block's labels, not of the scan's), one task combines them, and the labels
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
"""

from __future__ import annotations

from collections.abc import Sequence

import dask.array as da
import numpy as np
import scipy.ndimage as ndi
import xarray as xr

from xarray_microct.core.outside import fill_outside_array, moved_array, outside_of_array
from xarray_microct.core.registry import LengthParam, operation
from xarray_microct.core.stats import padding_of
from xarray_microct.core.volume import grid_of
from xarray_microct.kernels.labels import label_parts
from xarray_microct.ops.distance import edt_array

__all__ = [
    "MAX_BALL_RATIO",
    "OUTSIDE_REACH",
    "drop_outside_labels",
    "drop_outside_slabs",
    "has_outside",
    "outside_sample",
    "slabs",
]

MAX_BALL_RATIO = 4.0  # a label by the outside over this times its inscribed ball is a slab
OUTSIDE_REACH = 2  # voxels: a label this near the voxels moved as the outside touches it
SAMPLE_POINTS = 256  # the most voxels along each diagonal the check for air reads
SAMPLE_PLANES = 8  # the most slices whose diagonals the check for air reads


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
    thinner than ``min_top`` (their largest distance under it).

    Examples
    --------
    A ball of radius 6 (volume 905) and a plate 4 voxels thick, 30 x 30 (3600, its
    inscribed ball of radius 2: volume 34), both touching the outside; a plate that
    does not; a cube of 4 voxels (64) touching it, under ``min_top``:

    >>> slabs(np.array([905, 3600, 3600, 64]), np.array([6.0, 2.0, 2.0, 2.0]),
    ...       np.array([True, True, False, True]), 1.0, min_top=3.0).tolist()
    [False, True, False, True]
    """
    top = np.asarray(top, np.float64)
    ball = 4 / 3 * np.pi * top**3
    thin = (np.asarray(counts) * voxel_volume > max_ratio * ball) | (top < min_top)
    return np.asarray(touch, bool) & thin


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


def _block_parts(labels: np.ndarray, distance: np.ndarray, near: np.ndarray) -> np.ndarray:
    """One block's :func:`~xarray_microct.kernels.labels.label_parts`, in a one-element
    object array (a block of :func:`drop_outside_slabs`'s table of blocks)."""
    out = np.empty((1,) * labels.ndim, object)
    out.flat[0] = label_parts(labels, distance, near)
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
    tables: list, voxel_volume: float, min_top: float, max_ratio: float
) -> np.ndarray:
    """The labels :func:`slabs` drops, sorted, from the blocks' parts (``tables``: the
    blocks of :func:`_block_parts`, in nested lists, one level per axis, as ``blockwise``
    passes them)."""
    labels, counts, top, touch = _combined_parts([t.flat[0] for t in _leaves(tables)])
    return labels[slabs(counts, top, touch, voxel_volume, min_top, max_ratio)]


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
) -> tuple[da.Array, da.Array]:
    """``labels`` without those that touch ``near`` (the voxels by the outside) and are
    slabs or thin (:func:`slabs`: volume over ``max_ratio`` times the ball of their
    largest ``distance``, or that distance under ``min_top``), and how many were dropped
    (0-d), lazily.

    Per block, the voxels, largest distance and contact with ``near`` of the labels
    present in it (:func:`~xarray_microct.kernels.labels.label_parts`); combined in one
    task; the labels dropped set to 0 block by block (the others keep their numbers):
    the same for any chunking.

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
    # one table per block through one layer of the graph, combined by one task of another
    # (``blockwise`` down to 0-d). Through ``dask.delayed`` the blocks' tables were made a
    # graph each, culled from the whole chain: on a 128 x 256² tube of 32 chunks, 121 000
    # tasks (against 5 000 in the chain) for every later compute to cull again
    tables = da.map_blocks(
        _block_parts,
        labels,
        distance.rechunk(labels.chunks),
        near.rechunk(labels.chunks),
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


def _near_outside(scan: da.Array, bright: bool, reach: int) -> da.Array:
    """The voxels within ``reach`` voxels (faces) of those ``fill_outside`` moves, lazily."""
    near = moved_array(scan, fill_outside_array(scan, bright=bright)[1])
    if reach <= 0:
        return near
    return da.map_overlap(
        ndi.binary_dilation, near, depth=reach, boundary="none", iterations=reach, dtype=bool
    )


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
    ``distance``) or thinner than ``min_radius`` are set to 0; the others keep their
    numbers. Lazy; the labels are held until the table of those dropped is made (a
    pipeline checks first whether the scan holds air at all: :func:`has_outside`).

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
        Labels by the air whose largest distance is under it go whatever their shape.
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
    near = _near_outside(scan.data, phase == "bright", int(reach))
    kept, count = drop_outside_slabs(labels.data, dist, near, grid.spacing, radius, max_ratio)
    return labels.copy(data=kept).assign_coords(outside_labels_dropped=((), count))
