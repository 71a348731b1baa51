"""The fiber table's per-row radii: whole sections, the tilt, the intensity measure.

Part of :mod:`~xarray_microct.ops.fiber_scale` (the fiber radius from the data). The
radius of a row of the fiber table (one fiber on one slice) comes from its region in a
thresholded mask, which is biased (below); :func:`refine_disk_radii` measures the sections
of one slice again from the intensities
(:func:`~xarray_microct.ops.fiber_scale.disks.refine_radii`), :func:`tilt_corrected_radii`
removes the tilt's elongation, :func:`refine_table_radii` does both on a whole table, and
:func:`whole_sections` picks the rows to average.

Why a mask's radius is biased
    The mean radius of a bed comes out low (−3.4 to −6.4 % from 5 to 20 voxels of
    radius in ``benchmarks/fiber_scale.py``) because fibers cut by the volume's y/x
    sides show part of their cross-section: :func:`whole_sections` picks the rows to
    average. On whole sections, the radius of the disk with the area of a fiber's region
    in a thresholded mask is off by up to several per cent, in either direction, for
    reasons that depend on the scan:

    * the global Otsu threshold lies between the fiber level and a mix of the matrix and
      pore levels, not at the mid-level between a fiber and its own surroundings, so the
      edge moves out where the fiber borders pores and in where it borders matrix;
    * the blur (and the smoothing before thresholding) fills the narrow gaps and cusps
      between touching fibers above the threshold: those pixels are shared out between
      the fibers by the watershed and add to their areas (+11 % at 2 voxels of radius,
      +8 % at 3, −1 to +3 % from 5 to 20 on the phantoms), while on an isolated convex
      edge the blurred contour moves inwards by about σ²/2R;
    * a fiber tilted by θ from z cuts each slice in an ellipse whose area is πR²/cos θ
      (+1.8 % in radius at 15°).

Wiring into ``detect_fibers``
    * ``radius=None``: ``radius = estimate_fiber_radius(volume)`` on intensity input
      (record it, e.g. ``attrs["radius_estimated"]``), then the derived parameters.
    * Per slice, after ``slice_centres`` gives rows ``(y_px, x_px, radius)`` on a plane
      of the mask, replace the radius by
      ``refine_disk_radii(plane_intensity, rows[:, :2], rows[:, 2] / sqrt(dy * dx),
      (dy, dx))``: the plane of the raw scan (not the mask, not the tubeness) is needed,
      so the scan travels to the slab tasks beside the mask and the score, re-chunked to
      the same slabs of whole slices.
    * After linking, ``table["radius"] = tilt_corrected_radii(table)``.
    * Equivalently, after the table is built: ``table["radius"] =
      refine_table_radii(volume, table)`` (both steps; one more read of the volume).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.ndimage as ndi  # noqa: F401 (refine_disk_radii's example uses it)
import xarray as xr
from skimage.segmentation import expand_labels

from xarray_microct.core.volume import grid_of
from xarray_microct.kernels.chains import dense_ids
from xarray_microct.ops.fiber_scale.disks import (
    MARGIN_PX,
    _area_radii,
    _SmoothedSlice,
    disk_labels,
)


def axis_slopes(
    fiber_id: np.ndarray, z: np.ndarray, y: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each fiber's least-squares axis through its centres: ``dy/dz`` and ``dx/dz``.

    Returns ``(slope_y, slope_x, group)``: one slope per fiber, in the order of the
    sorted ids (0 for a fiber seen on one slice), and each row's fiber index in them.

    Examples
    --------
    >>> sy, sx, group = axis_slopes(np.array([2, 2, 1]), np.array([0.0, 2, 0]),
    ...                             np.array([1.0, 2, 0]), np.array([0.0, 0, 5]))
    >>> sy.tolist(), sx.tolist(), group.tolist()
    ([0.0, 0.5], [0.0, 0.0], [1, 1, 0])
    """
    _, group = dense_ids(np.asarray(fiber_id))
    z, y, x = (np.asarray(a, np.float64) for a in (z, y, x))
    count = np.bincount(group)
    dz = z - (np.bincount(group, weights=z) / count)[group]
    spread = np.bincount(group, weights=dz * dz)
    flat = spread == 0  # one slice: no axis to measure
    spread[flat] = 1.0
    slope_y = np.where(flat, 0.0, np.bincount(group, weights=dz * y) / spread)
    slope_x = np.where(flat, 0.0, np.bincount(group, weights=dz * x) / spread)
    return slope_y, slope_x, group


def tilt_factors(fiber_id: np.ndarray, z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per row, ``√cos θ`` of its fiber's axis: a slice's equivalent radius times it is
    the fiber's radius.

    A fiber of radius R tilted by θ from z cuts a slice in an ellipse of area
    πR²/cos θ, so the radius of the disk of the same area is R/√cos θ. θ is that of each
    fiber's least-squares axis through its centres (:func:`axis_slopes`; ``z, y, x``
    in one unit); a fiber seen on one slice gets 1.

    Examples
    --------
    >>> tilt_factors(np.array([1, 1, 1, 2]), np.array([0.0, 1, 2, 0]),
    ...              np.array([5.0, 5, 5, 3]), np.array([5.0, 6, 7, 3])).round(4)
    array([0.8409, 0.8409, 0.8409, 1.    ])
    """
    slope_y, slope_x, group = axis_slopes(fiber_id, z, y, x)
    return ((1.0 + slope_y**2 + slope_x**2) ** -0.25)[group]


def tilt_corrected_radii(table: pd.DataFrame) -> np.ndarray:
    """Radii of a fiber table corrected for each fiber's tilt (``r × √cos θ``).

    See :func:`tilt_factors`; the table has columns ``fiber_id, z, y, x, radius``, as
    ``detect_fibers`` returns it.

    Examples
    --------
    >>> t = pd.DataFrame({"fiber_id": [1, 1, 1], "z": [0.0, 1.0, 2.0],
    ...                   "y": [5.0, 5.0, 5.0], "x": [5.0, 6.0, 7.0], "radius": 2.0})
    >>> tilt_corrected_radii(t).round(4)  # 45°: √cos 45° = 0.8409
    array([1.6818, 1.6818, 1.6818])
    """
    radius = table["radius"].to_numpy(np.float64).copy()
    if len(table) == 0:
        return radius
    columns = (table[c].to_numpy() for c in ("fiber_id", "z", "y", "x"))
    return radius * tilt_factors(*columns)


def whole_sections(table: pd.DataFrame, margin: float = 1.0) -> np.ndarray:
    """Rows of a fiber table whose cross-section lies whole inside the slice.

    A fiber cut by a y/x side of the volume shows only part of its cross-section there,
    and its measured radius is too small: averaging those rows is what makes the mean
    radius of a bed come out 3–6 % low (−3.4 % on the default 128² phantom, whose rows
    inside by one radius are within 1 %). A row is whole when its disk, grown by
    ``margin`` pixels, lies within the slice; needs ``attrs`` ``shape``, ``spacing``
    and ``origin`` (as ``detect_fibers`` sets them).

    Examples
    --------
    >>> t = pd.DataFrame({"y": [1.0, 10.0], "x": [10.0, 10.0], "radius": 2.0})
    >>> t.attrs = {"shape": [4, 20, 20], "spacing": [1.0, 1.0, 1.0], "origin": [0, 0, 0]}
    >>> whole_sections(t)
    array([False,  True])
    """
    try:
        shape, spacing, origin = (table.attrs[k] for k in ("shape", "spacing", "origin"))
    except KeyError as missing:
        raise ValueError(
            f"whole_sections needs the table's attrs shape, spacing and origin; {missing} "
            "is missing (use the table of detect_fibers)"
        ) from None
    radius = table["radius"].to_numpy(np.float64)
    whole = np.ones(len(table), dtype=bool)
    for axis, name in ((1, "y"), (2, "x")):
        step = float(spacing[axis])
        low = float(origin[axis]) - 0.5 * step
        high = low + int(shape[axis]) * step
        position = table[name].to_numpy(np.float64)
        reach = radius + margin * step
        whole &= (position - reach >= low) & (position + reach <= high)
    return whole


def refine_disk_radii(
    image: np.ndarray,
    centres: np.ndarray,
    radii: np.ndarray,
    spacing: Sequence[float] = (1.0, 1.0),
    margin: float = MARGIN_PX,
) -> np.ndarray:
    """Unbiased radii of fibers on one slice, known by their centres and rough radii.

    :func:`~xarray_microct.ops.fiber_scale.disks.refine_radii` of the disks at ``centres``
    with ``radii`` (:func:`~xarray_microct.ops.fiber_scale.disks.disk_labels`), then again
    on disks of the radii found: the second pass makes the answer independent
    of the rough radii (a disk 10 % too small grown by ``margin`` would miss part of the
    blur's tail). A disk that cannot be measured (no pixel of its own) keeps its rough
    radius. This is the per-slice step to call in ``detect_fibers`` with the centres and
    radii of :func:`slice_centres <xarray_microct.ops.fibers.slice_centres>`.

    Parameters
    ----------
    image : 2-D array
        The slice's intensities (fibers bright).
    centres : array of shape (n, 2)
        ``(y, x)`` in pixels.
    radii : array of shape (n,)
        Rough radii in pixels (e.g. of the thresholded regions, within ±30 %).
    spacing : (float, float)
        Pixel size along y and x.
    margin : float
        See :func:`~xarray_microct.ops.fiber_scale.disks.refine_radii`.

    Returns
    -------
    array of float
        Radius per disk, in physical units.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :60]
    >>> disks = sum(np.clip(5.5 - np.hypot(yy - 20, xx - x), 0, 1) for x in (20.4, 30.4))
    >>> image = 10 + 50 * ndi.gaussian_filter(disks, 0.8)  # two touching disks, radius 5
    >>> centres = np.array([[20.0, 20.4], [20.0, 30.4]])
    >>> refine_disk_radii(image, centres, np.array([4.0, 6.0]), spacing=(0.5, 0.5)).round(1)
    array([2.5, 2.5])
    """
    return _refined_disk_radii(_SmoothedSlice(image), centres, radii, spacing, margin)


def _refined_disk_radii(
    smooth: _SmoothedSlice,
    centres: np.ndarray,
    radii: np.ndarray,
    spacing: Sequence[float],
    margin: float,
) -> np.ndarray:
    """:func:`refine_disk_radii` of the slice ``smooth`` (both passes share its
    smoothing and openings)."""
    image = smooth.image
    pixel = np.sqrt(spacing[0] * spacing[1])
    rough = np.asarray(radii, dtype=np.float64)
    found = np.full(len(rough), np.nan)
    for _ in range(2):
        labels = disk_labels(image.shape, centres, radii)
        grown = expand_labels(labels, float(margin))
        # disks left without a pixel (covered by larger neighbours) measure NaN
        measured = _area_radii(smooth, labels, grown, spacing, None)
        found[:] = np.nan
        found[: len(measured)] = measured
        # the next disks: the radii found, within a factor 1.5 of the rough ones
        radii = np.clip(
            np.where(np.isfinite(found), found / pixel, rough), rough / 1.5, rough * 1.5
        )
    return np.where(np.isfinite(found), found, rough * pixel)


def refine_table_radii(
    volume: xr.DataArray, table: pd.DataFrame, margin: float = MARGIN_PX
) -> np.ndarray:
    """Unbiased radii for the rows of a fiber table, measured on the volume's slices.

    For each slice of the table, disks at the rows' centres with their radii
    (:func:`~xarray_microct.ops.fiber_scale.disks.disk_labels`) are the regions that
    :func:`~xarray_microct.ops.fiber_scale.disks.refine_radii` measures on that
    slice of ``volume`` (the scan, fibers bright), twice (the second time on disks of
    the radii found, so that the rough radii do not matter); then :func:`tilt_corrected_radii`
    removes the tilt's elongation. Reads the volume one z-row of chunks at a time (whole
    slices, as ``detect_fibers`` does), skipping rows of chunks without table rows.

    Parameters
    ----------
    volume : xarray.DataArray
        The scan the table was detected on.
    table : pandas.DataFrame
        Rows ``fiber_id, z, y, x, radius`` in the volume's units (``detect_fibers``);
        the volume's y/x pixels must be square (within 10 %).
    margin : float
        See :func:`~xarray_microct.ops.fiber_scale.disks.refine_radii`.

    Returns
    -------
    array of float
        The refined radius of each row, in the table's order.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> from xarray_microct.synthetic import fiber_bed
    >>> vol, truth = fiber_bed((4, 96, 96), radius=6.4, radius_sd=0.0, tilt=0, seed=1)
    >>> refined = refine_table_radii(vol, truth.centres)  # the true centres, 6.4 µm
    >>> inner = truth.centres[["y", "x"]].apply(lambda c: c.between(16, 109)).all(axis=1)
    >>> float(refined[inner].mean().round(2))  # fibers whose neighbours all have rows
    6.4
    """
    grid = grid_of(volume)
    _, dy, dx = grid.spacing
    _check_square(dy, dx)
    oz, oy, ox = grid.origin
    z_index = np.rint((table["z"].to_numpy(np.float64) - oz) / grid.spacing[0]).astype(int)
    centres = np.column_stack(
        [(table["y"].to_numpy(np.float64) - oy) / dy, (table["x"].to_numpy(np.float64) - ox) / dx]
    )
    rough = table["radius"].to_numpy(np.float64) / np.sqrt(dy * dx)
    refined = np.full(len(table), np.nan)
    nz = volume.shape[0]
    if z_index.size and (z_index.min() < 0 or z_index.max() >= nz):
        raise ValueError("table rows lie outside the volume's z range: not its fiber table?")
    # read one z-row of chunks at a time (a slab of whole slices), never a chunk twice
    bounds = np.cumsum((0, *(volume.chunks[0] if volume.chunks else (nz,))))
    for start, stop in itertools.pairwise(bounds.tolist()):
        wanted = np.unique(z_index[(z_index >= start) & (z_index < stop)])
        if wanted.size == 0:
            continue
        slab = np.asarray(volume.isel(z=slice(int(start), int(stop))).values)
        for k in wanted:
            rows = np.nonzero(z_index == k)[0]
            image = slab[k - start].astype(np.float64)
            refined[rows] = refine_disk_radii(image, centres[rows], rough[rows], (dy, dx), margin)
    out = table[["fiber_id", "z", "y", "x"]].copy()
    out["radius"] = refined
    return tilt_corrected_radii(out)


def _check_square(dy: float, dx: float) -> None:
    """Fibers are measured as disks in pixel space: y/x pixels must be (nearly) square."""
    if not 0.9 <= dy / dx <= 1.1:
        raise ValueError(
            f"the fiber scale is measured on square pixels; this scan's are {dy:g} × {dx:g} "
            "(y × x): resample the slices to square pixels first"
        )


__all__ = [
    "axis_slopes",
    "refine_disk_radii",
    "refine_table_radii",
    "tilt_corrected_radii",
    "tilt_factors",
    "whole_sections",
]
