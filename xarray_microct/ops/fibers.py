"""Fiber detection: per-slice centres linked along z into 3-D fibers, and their summary.

The seed paper (§4.3, Fig. 5) detected fiber centres on a slice of a tubeness-based
segmentation. :func:`detect_fibers` does it on every slice and links the centres along z:

1. A fiber mask: the input itself when it is a segmentation (boolean), else the default
   chain (:func:`fiber_chain`: tubeness at σ = 0.6 × radius, which separates touching
   fibers, for the seeds; a global Otsu threshold of the smoothed volume for the mask).
2. On each slice, a centre map: the in-plane Euclidean distance to the mask's background
   (physical spacing), lightly smoothed; its local maxima within a disk of 0.75 × radius
   are the fiber seeds. A 2-D watershed of the distance map from those seeds, restricted
   to the mask, splits touching fibers; each region gives one centre (its centroid, to a
   fraction of a voxel) and one radius (of the disk with the region's area).
3. Linking: centres in consecutive slices (gaps of up to ``max_gap`` slices allowed) are
   paired by optimal one-to-one assignment within ``link_distance``; a chain that starts
   on the axis where another ended, after a longer gap, continues it
   (:func:`join_fragments`); chains shorter than ``min_slices`` are dropped; fibers are
   numbered by their first slice and position.
   After linking, a check that the chains persist along z (:func:`z_coherence`) tells
   a fiber bed from a volume without fibers (noise, pores only), which gives an empty
   table rather than fibers made of noise.

Per-slice work sees whole slices (the mask is re-chunked into slabs of full y/x extent
along z), and linking runs on the whole table, so the table does not depend on the
chunking: a fiber crossing chunk borders is one fiber.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import dask
import dask.array as da
import numpy as np
import pandas as pd
import scipy.ndimage as ndi
import xarray as xr
from scipy.spatial import cKDTree
from skimage.segmentation import watershed

from xarray_microct.core.registry import REGISTRY, LengthParam, operation
from xarray_microct.core.volume import PROVENANCE_KEY, grid_of
from xarray_microct.metrics import optimal_pairs
from xarray_microct.ops.segment import threshold_value

TABLE_COLUMNS = ["fiber_id", "z", "y", "x", "radius"]
# operations whose output is an objectness/tubeness map (bright = fiber centre line)
SCORE_OPS = ("tubeness", "objectness", "frangi", "sato")
DEFAULT_RADIUS = "6.4 um"  # Hi-Nicalon SiC fibers, the seed paper's material
SLAB_VOXELS = 2**24  # voxels per slab of whole slices processed by one task


def _ellipse(radius_px: Sequence[float]) -> np.ndarray:
    ry, rx = (max(float(r), 1.0) for r in radius_px)
    hy, hx = int(np.floor(ry)), int(np.floor(rx))
    yy, xx = np.ogrid[-hy : hy + 1, -hx : hx + 1]
    return (yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0


def slice_centres(
    mask: np.ndarray,
    spacing: Sequence[float],
    seed_distance: Sequence[float],
    min_radius: float,
    smooth: float = 1.0,
    score: np.ndarray | None = None,
) -> np.ndarray:
    """Fiber centres and radii on one 2-D slice of a fiber mask.

    Parameters
    ----------
    mask : 2-D array of bool
        Fiber cross-sections (touching fibers may merge).
    spacing : (float, float)
        Pixel size along y and x (physical units).
    seed_distance : (float, float)
        Radius of the local-maximum neighbourhood in pixels along y and x: two seeds are
        at least this far apart.
    min_radius : float
        Smallest fiber radius kept (physical units): seeds whose distance to the
        background is smaller, and regions whose equivalent radius is smaller, are dropped.
    smooth : float
        Sigma in pixels of the Gaussian applied to the distance map (breaks the plateaus of
        a discrete distance map); 0 for none.
    score : 2-D array of float, optional
        A centre map (e.g. a tubeness slice) whose positive local maxima inside the mask
        seed the fibers, instead of the distance map (which merges fibers touching along
        a wide contact, where tubeness keeps them apart).

    Returns
    -------
    array of shape (n, 3)
        Rows ``(y, x, radius)``: the centroid of each fiber's region in pixels and the
        radius (physical) of the disk with the region's area.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :60]
    >>> disks = ((yy - 20) ** 2 + (xx - 15) ** 2 < 81) | ((yy - 20) ** 2 + (xx - 33) ** 2 < 81)
    >>> np.round(slice_centres(disks, (1.0, 1.0), (6, 6), min_radius=3.0), 1)
    array([[20. , 15. ,  8.9],
           [20. , 33. ,  8.9]])
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros((0, 3))
    dy, dx = (float(s) for s in spacing)
    if score is None:
        distance = ndi.distance_transform_edt(mask, sampling=(dy, dx)).astype(np.float32)
        score = ndi.gaussian_filter(distance, smooth) if smooth > 0 else distance
        floor = distance >= min_radius * 0.75
    else:
        score = np.asarray(score, dtype=np.float32)
        if score.shape != mask.shape:
            raise ValueError(f"score {score.shape} and mask {mask.shape} differ in shape")
        floor = score > 0
    footprint = _ellipse(seed_distance)
    peaks = (score == ndi.maximum_filter(score, footprint=footprint, mode="nearest")) & mask
    peaks &= floor
    markers, n = ndi.label(peaks, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros((0, 3))
    regions = watershed(-score, markers, mask=mask)
    flat = regions.ravel()
    area = np.bincount(flat, minlength=n + 1)[1:].astype(np.float64)
    yy, xx = np.indices(mask.shape)
    cy = np.bincount(flat, weights=yy.ravel(), minlength=n + 1)[1:]
    cx = np.bincount(flat, weights=xx.ravel(), minlength=n + 1)[1:]
    found = area > 0
    area, cy, cx = area[found], cy[found] / area[found], cx[found] / area[found]
    radius = np.sqrt(area * dy * dx / np.pi)
    keep = radius >= min_radius
    return np.column_stack([cy[keep], cx[keep], radius[keep]])


def _slab_centres(
    block: np.ndarray,
    score: np.ndarray | None,
    z_start: int,
    spacing: tuple[float, float],
    seed_distance: tuple[float, float],
    min_radius: float,
) -> np.ndarray:
    rows = []
    for k, plane in enumerate(block):
        found = slice_centres(
            plane, spacing, seed_distance, min_radius, score=None if score is None else score[k]
        )
        rows.append(np.column_stack([np.full(len(found), z_start + k, float), found]))
    return np.concatenate(rows) if rows else np.zeros((0, 4))


def mask_centres(
    mask: da.Array,
    spacing: Sequence[float],
    seed_distance: Sequence[float],
    min_radius: float,
    score: da.Array | None = None,
) -> np.ndarray:
    """Per-slice centres of a 3-D Dask fiber mask: rows ``(z_index, y_px, x_px, radius)``.

    The mask (and the optional centre ``score`` map, e.g. tubeness, whose per-slice
    maxima then seed the fibers instead of the distance map) is re-chunked into slabs of
    whole slices, one task per slab, so the result does not depend on the input chunking.
    ``spacing`` is ``(z, y, x)``; see :func:`slice_centres` for the other parameters.

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> plane = (yy - 16) ** 2 + (xx - 10) ** 2 < 36
    >>> mask = da.from_array(np.stack([plane] * 4), chunks=(2, 16, 16))
    >>> mask_centres(mask, (1, 1, 1), (4, 4), 2.0)[:, :3]
    array([[ 0., 16., 10.],
           [ 1., 16., 10.],
           [ 2., 16., 10.],
           [ 3., 16., 10.]])
    """
    ny, nx = mask.shape[1:]
    thickness = max(1, min(int(mask.chunks[0][0]), SLAB_VOXELS // max(ny * nx, 1)))
    slabs = mask.rechunk((thickness, ny, nx))
    starts = np.cumsum((0, *slabs.chunks[0][:-1]))
    blocks = slabs.to_delayed().ravel()
    if score is None:
        scores = [None] * len(blocks)
    else:
        if score.shape != mask.shape:
            raise ValueError(f"score {score.shape} and mask {mask.shape} differ in shape")
        scores = list(score.rechunk(slabs.chunks).to_delayed().ravel())
    parts = [
        dask.delayed(_slab_centres)(
            block, sc, int(start), tuple(spacing[1:]), tuple(seed_distance), float(min_radius)
        )
        for block, sc, start in zip(blocks, scores, starts, strict=True)
    ]
    found = dask.compute(*parts)
    return np.concatenate(found) if found else np.zeros((0, 4))


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
    again on the same axis is one fiber, not two. Pairs are taken closest first, each
    chain end and start at most once.

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
                gap = np.hypot(*(centres[first[start], 1:3] - centres[last[end], 1:3]))
                candidates.append((gap, end, start))
    predecessor = np.arange(len(ids))
    ended, started = set(), set()
    for _, end, start in sorted(candidates):
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


COHERENCE_MIN = 0.5


Source = Literal["auto", "intensity", "tubeness", "mask"]
_SOURCES = ("auto", "intensity", "tubeness", "mask")


def _source_of(volume: xr.DataArray, source: str) -> str:
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {_SOURCES}, got {source!r}")
    if source != "auto":
        if source == "mask" and volume.dtype != bool:
            raise TypeError(
                f"source='mask' needs a boolean volume, got {volume.dtype}; threshold it "
                "first (vol.microct.threshold(...)) or use source='intensity'"
            )
        return source
    if volume.dtype == bool:
        return "mask"
    records = volume.attrs.get(PROVENANCE_KEY) or []
    if records and records[-1].get("op") in SCORE_OPS:
        return "tubeness"
    return "intensity"


def _verb(name: str) -> Any:
    if name not in REGISTRY:
        raise RuntimeError(
            f"detect_fibers needs the {name!r} operation, which is not registered; "
            "import xarray_microct (the full package) rather than a submodule"
        )
    return REGISTRY[name].verb


def _global_mask(volume: xr.DataArray, eager: bool) -> xr.DataArray:
    """Otsu threshold of the whole volume (from its global histogram, never per chunk).

    ``eager`` computes the threshold value first (one streaming pass over the volume),
    so that the pass that uses the mask does not hold the whole volume in memory while
    the histogram is being gathered.
    """
    if eager:
        value = float(threshold_value(volume, "otsu").values)
        mask = _verb("threshold")(volume, method=value)
    else:
        mask = _verb("threshold")(volume, method="otsu")
    return mask if mask.dtype == bool else mask.astype(bool)


def fiber_chain(
    volume: xr.DataArray, source: str, sigma: float, smooth: float, eager: bool = False
) -> tuple[xr.DataArray, xr.DataArray | None, list[str]]:
    """The default chain before detection: (fiber mask, centre score or None, op names).

    * ``"intensity"``: score = tubeness at ``sigma`` (separates touching fibers); mask =
      global Otsu threshold of the volume smoothed by ``smooth`` (the fiber phase, which
      gives each fiber its true cross-section and so its radius).
    * ``"tubeness"``: score = the volume; mask = its global Otsu threshold (the fiber
      cores: centres are right, radii are those of the cores).
    * ``"mask"``: the volume is the mask; the centre score is its distance map.

    ``sigma`` and ``smooth`` are in the volume's coordinate units. Lazy (nothing is
    computed) unless ``eager``, which computes the Otsu threshold value first.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> from xarray_microct.synthetic import fiber_bed
    >>> vol, _ = fiber_bed((8, 32, 32))
    >>> mask, score, chain = fiber_chain(vol, "intensity", sigma=3.8, smooth=1.3)
    >>> mask.dtype, chain[0]
    (dtype('bool'), 'tubeness(sigma=3.8)')
    """
    if source == "mask":
        return volume, None, []
    if source == "tubeness":
        return _global_mask(volume, eager), volume, ["threshold(otsu)"]
    score = _verb("tubeness")(volume, sigma=sigma)
    smoothed = _verb("gaussian")(volume, sigma=smooth) if smooth > 0 else volume
    return (
        _global_mask(smoothed, eager),
        score,
        [f"tubeness(sigma={sigma:g})", f"gaussian(sigma={smooth:g})", "threshold(otsu)"],
    )


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fiber_id": np.zeros(0, np.int64),
            "z": np.zeros(0),
            "y": np.zeros(0),
            "x": np.zeros(0),
            "radius": np.zeros(0),
        }
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
)
def detect_fibers(
    volume: xr.DataArray,
    radius: Any = DEFAULT_RADIUS,
    source: Source = "auto",
    sigma: Any = None,
    min_radius: Any = None,
    link_distance: Any = None,
    max_gap: int = 5,
    min_slices: int = 3,
) -> pd.DataFrame:
    """Detect fibers running along z: per-slice centres and radii, linked into 3-D fibers.

    Works on a raw scan (running the default chain: tubeness, smoothing, global Otsu
    threshold), on a tubeness/objectness result, or on a boolean segmentation; see the
    module docstring for the method. The answer does not depend on the chunking: slices
    are processed whole and fibers are linked over the whole table.

    Memory: slices are processed whole, so a worker holds one z-row of chunks of the
    float32 tubeness (z-chunk × ny × nx × 4 bytes; 134 MB for 128 × 512², 3.4 GB for
    128 × 2560²). For wide scans, chunk thinner along z (e.g. 32) to bound it.

    Parameters
    ----------
    volume : xarray.DataArray
        A 3-D volume (fibers bright), a tubeness map, or a boolean fiber mask.
    radius : length
        Typical fiber radius (default 6.4 µm, the seed's SiC fibers). Seeds are at least
        0.75 × radius apart; the tubeness scale, the smallest radius and the linking
        distance follow from it unless given.
    source : {"auto", "intensity", "tubeness", "mask"}
        What ``volume`` is; ``"auto"``: boolean → mask, a result of ``tubeness`` /
        ``objectness`` / ``frangi`` → tubeness, else intensity.
    sigma : length, optional
        Tubeness scale for intensity input. Default 0.6 × radius: a disk of radius R
        gives the strongest centre response at σ = R/√2, smaller scales keep touching
        fibers apart, and below about R/2.5 a large fiber shows a ring instead of one
        peak; 0.6 keeps one peak for fibers up to ~1.4× the typical radius.
    min_radius : length, optional
        Smallest fiber cross-section kept (equivalent radius; default radius / 2, or
        radius / 4 on a tubeness map, whose thresholded cores are narrower than fibers).
    link_distance : length, optional
        Largest in-plane move of a fiber between linked slices (default radius / 2).
    max_gap : int
        Slices a fiber may be missed on and still be linked across (where it is pressed
        against neighbours its seed can drop out for a few slices).
    min_slices : int
        Fibers seen on fewer slices are dropped (spurious detections).

    Returns
    -------
    pandas.DataFrame
        One row per fiber per slice, sorted by ``fiber_id`` then ``z``: ``fiber_id``
        (1..N, by first slice then position), ``z, y, x`` (the centre, in the volume's
        coordinates) and ``radius`` (of the disk with the area of the fiber's
        cross-section in the mask), all in the volume's units. ``attrs`` holds ``units``,
        ``spacing``, ``origin``, ``shape``, ``source``, ``chain``, ``z_coherence`` and
        the provenance. Empty (with a warning) when the volume holds no fibers: when
        under half of the centres belong to chains that go on for a few more slices
        (see :func:`z_coherence`), what was found is not fibers along z.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> from xarray_microct.synthetic import fiber_bed
    >>> vol, truth = fiber_bed((12, 40, 40), seed=2, tilt=0)
    >>> table = vol.microct.detect_fibers(radius="6.4 um")
    >>> list(table.columns), table.attrs["units"]
    (['fiber_id', 'z', 'y', 'x', 'radius'], 'micrometer')
    >>> scores = mct.metrics.object_metrics(table, truth.centres, like=vol, margin=6.4)
    >>> bool(scores["f1"] > 0.95)
    True
    """
    if volume.ndim != 3:
        raise ValueError(
            f"detect_fibers works on a 3-D (z, y, x) volume, got dims {volume.dims}; "
            "select one channel/time first, e.g. vol.isel(c=0)"
        )
    for name, value in (("max_gap", max_gap), ("min_slices", min_slices)):
        if int(value) != value or value < (0 if name == "max_gap" else 1):
            raise ValueError(f"{name} must be a whole number >= {0 if name == 'max_gap' else 1}")
    grid = grid_of(volume)
    _, dy, dx = grid.spacing
    kind = _source_of(volume, source)
    r_phys = 0.5 * (radius[1] * dy + radius[2] * dx)
    seed_px = (0.75 * radius[1], 0.75 * radius[2])
    sigma_phys = 0.6 * r_phys if sigma is None else float(np.mean([sigma[1] * dy, sigma[2] * dx]))
    if min_radius is not None:
        min_r = float(min_radius[1] * dy)
    else:  # the cores of a thresholded tubeness map are narrower than the fibers
        min_r = r_phys / 4 if kind == "tubeness" else r_phys / 2
    link = r_phys / 2 if link_distance is None else float(link_distance[1] * dy)
    mask, score, chain = fiber_chain(volume, kind, sigma_phys, smooth=min(dy, dx), eager=True)
    found = mask_centres(
        mask.data, grid.spacing, seed_px, min_r, score=None if score is None else score.data
    )
    attrs = {
        "units": grid.units,
        "spacing": list(grid.spacing),
        "origin": list(grid.origin),
        "shape": list(grid.shape),
        "source": kind,
        "chain": chain,
        PROVENANCE_KEY: list(volume.attrs.get(PROVENANCE_KEY) or []),
    }
    if len(found) == 0:
        table = _empty_table()
        table.attrs = attrs
        return table
    rows = found.copy()
    rows[:, 1] = grid.origin[1] + rows[:, 1] * dy
    rows[:, 2] = grid.origin[2] + rows[:, 2] * dx
    chains = link_centres(rows, link, int(max_gap), min_slices=1)
    separation = max(3, int(np.ceil(2 * sigma_phys / grid.spacing[0])))
    coherence = z_coherence(rows[:, 0], chains, separation)
    attrs["z_coherence"] = coherence
    if coherence < COHERENCE_MIN:
        warnings.warn(
            f"detect_fibers: no fibers — the per-slice centres do not persist along z "
            f"(only {coherence:.0%} continue {separation} slices on; a fiber bed gives "
            "over 90 %). Is the fiber axis along z, and the radius right?",
            UserWarning,
            stacklevel=3,
        )
        table = _empty_table()
        table.attrs = attrs
        return table
    # fiber axes lie at least two radii apart: a restart within one radius of where a
    # chain ended is that fiber again
    chains = join_fragments(rows, chains, max(link, r_phys))
    # drop chains seen on fewer than min_slices slices; keep the numbering's order
    counts = np.bincount(chains)
    long_enough = counts[chains] >= int(min_slices)
    kept_ids = np.unique(chains[long_enough])
    ids = np.zeros_like(chains)
    ids[long_enough] = np.searchsorted(kept_ids, chains[long_enough]) + 1
    z_values = np.asarray(volume.coords["z"].values, dtype=np.float64)
    keep = ids > 0
    table = pd.DataFrame(
        {
            "fiber_id": ids[keep],
            "z": z_values[rows[keep, 0].astype(np.int64)],
            "y": rows[keep, 1],
            "x": rows[keep, 2],
            "radius": rows[keep, 3],
        }
    ).sort_values(["fiber_id", "z"], ignore_index=True)
    table.attrs = attrs
    return table


class FiberSummary(NamedTuple):
    """What :func:`fiber_summary` returns: per-fiber table and bed-level summary."""

    fibers: pd.DataFrame
    bed: dict[str, Any]


def _fit_fiber(z: np.ndarray, y: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    if len(z) < 2 or np.ptp(z) == 0:
        return 0.0, 0.0, 0.0
    by = np.polyfit(z, y, 1)[0]
    bx = np.polyfit(z, x, 1)[0]
    return float(by), float(bx), float(np.ptp(z))


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < 3:
        return values
    return pd.Series(values).rolling(window, center=True, min_periods=1).mean().to_numpy()


def fiber_summary(
    table: pd.DataFrame, polar_bin: float = 1.0, smooth: float | None = None
) -> FiberSummary:
    """Per-fiber measurements and the bed summary from a :func:`detect_fibers` table.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows ``fiber_id, z, y, x, radius`` (one per fiber per slice), as
        ``detect_fibers`` returns (or a ground-truth table with the same columns).
    polar_bin : float
        Bin width in degrees of the polar-angle histogram.
    smooth : float, optional
        Length along z (table units) of the running mean applied to the centres before
        the path length is measured, so that sub-voxel jitter of the centres does not
        pass for waviness; default the fiber diameter (2 × the mean radius), below which
        a fiber cannot bend much. 0 for none.

    Returns
    -------
    FiberSummary
        ``fibers``: one row per fiber — ``fiber_id``, ``n_slices``, ``z_start``, ``z_end``,
        ``y``, ``x`` (mean centre), ``radius`` (mean) and ``radius_sd``, ``polar`` (degrees
        from the z axis) and ``azimuth`` (degrees from +x towards +y) of the least-squares
        axis, ``length`` (of that axis between the first and last slice) and
        ``straightness`` (distance between the end centres over the length of the path
        through the centres, smoothed along z by ``smooth``; 1 for a straight fiber, NaN
        with one slice).
        ``bed``: ``count``, ``fiber_volume_fraction`` (sum of the cross-section areas ×
        slice spacing over the volume; needs ``attrs['shape']`` and ``attrs['spacing']``,
        NaN otherwise), ``mean_radius``, ``polar_mean`` and ``polar_sd`` (weighted by
        fiber length), ``polar_histogram`` (a DataFrame of bin edges, fiber counts and
        total fiber length per bin), ``units``.

    Examples
    --------
    >>> t = pd.DataFrame({"fiber_id": [1, 1, 1], "z": [0.0, 1.0, 2.0],
    ...                   "y": [5.0, 5.0, 5.0], "x": [5.0, 6.0, 7.0], "radius": 2.0})
    >>> s = fiber_summary(t)
    >>> round(float(s.fibers.polar[0]), 1), round(float(s.fibers.azimuth[0]), 1), s.bed["count"]
    (45.0, 0.0, 1)
    """
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"fiber_summary needs columns {TABLE_COLUMNS}; missing {missing}. "
            "Pass the table of vol.microct.detect_fibers()"
        )
    units = table.attrs.get("units")
    if smooth is None:
        smooth = 2 * float(table["radius"].mean()) if len(table) else 0.0
    spacing = table.attrs.get("spacing")
    if spacing is not None:
        dz = float(spacing[0])
    else:
        steps_z = np.diff(np.unique(table["z"].to_numpy(float)))
        dz = float(steps_z.min()) if steps_z.size else 1.0
    window = round(smooth / dz) | 1 if smooth > 0 else 1
    rows = []
    for fid, group in table.sort_values(["fiber_id", "z"]).groupby("fiber_id", sort=True):
        z = group["z"].to_numpy(float)
        y = group["y"].to_numpy(float)
        x = group["x"].to_numpy(float)
        by, bx, span = _fit_fiber(z, y, x)
        norm = np.sqrt(1 + by * by + bx * bx)
        # smooth all three coordinates: means of collinear points stay collinear
        zs, ys, xs = (_running_mean(v, window) for v in (z, y, x))
        steps = np.sqrt(np.diff(zs) ** 2 + np.diff(ys) ** 2 + np.diff(xs) ** 2)
        path = steps.sum()
        chord = np.sqrt((zs[-1] - zs[0]) ** 2 + (ys[-1] - ys[0]) ** 2 + (xs[-1] - xs[0]) ** 2)
        radius = group["radius"].to_numpy(float)
        rows.append(
            {
                "fiber_id": fid,
                "n_slices": len(group),
                "z_start": z[0],
                "z_end": z[-1],
                "y": y.mean(),
                "x": x.mean(),
                "radius": radius.mean(),
                "radius_sd": radius.std(),
                "polar": np.degrees(np.arccos(1 / norm)),
                "azimuth": np.degrees(np.arctan2(by, bx)) if (by or bx) else 0.0,
                "length": span * norm,
                "straightness": chord / path if path > 0 else np.nan,
            }
        )
    columns = ["fiber_id", "n_slices", "z_start", "z_end", "y", "x", "radius", "radius_sd",
               "polar", "azimuth", "length", "straightness"]
    fibers = pd.DataFrame(rows, columns=columns)
    fibers.attrs = {"units": units}
    shape, spacing = table.attrs.get("shape"), table.attrs.get("spacing")
    if shape is not None and spacing is not None and len(table):
        extent = float(np.prod(np.asarray(shape, float) * np.asarray(spacing, float)))
        area = np.pi * table["radius"].to_numpy(float) ** 2
        fraction = float(area.sum() * spacing[0] / extent)
    else:
        fraction = 0.0 if shape is not None and len(table) == 0 else float("nan")
    polar = fibers["polar"].to_numpy(float)
    # orientation statistics weighted by length: short (often border) pieces, whose
    # fitted axes are the least certain, count for what they are
    weight = fibers["length"].to_numpy(float)
    weight = weight if weight.sum() > 0 else np.ones_like(polar)
    top = max(float(polar.max()) if polar.size else 0.0, polar_bin)
    edges = np.arange(0.0, top + polar_bin, polar_bin)
    counts, edges = np.histogram(polar, bins=edges)
    lengths, _ = np.histogram(polar, bins=edges, weights=fibers["length"].to_numpy(float))
    polar_mean = float(np.average(polar, weights=weight)) if polar.size else float("nan")
    polar_sd = (
        float(np.sqrt(np.average((polar - polar_mean) ** 2, weights=weight)))
        if polar.size
        else float("nan")
    )
    bed = {
        "count": len(fibers),
        "fiber_volume_fraction": fraction,
        "mean_radius": float(fibers["radius"].mean()) if len(fibers) else float("nan"),
        "polar_mean": polar_mean,
        "polar_sd": polar_sd,
        "polar_histogram": pd.DataFrame(
            {"polar_low": edges[:-1], "polar_high": edges[1:], "count": counts,
             "length": lengths}
        ),
        "units": units,
    }
    return FiberSummary(fibers=fibers, bed=bed)
