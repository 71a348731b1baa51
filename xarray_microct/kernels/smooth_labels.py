"""Per-label Gaussian smoothing of a label image (ops/shapes.py), one label at a time.

:func:`smooth_labels_block` blurs the indicator of each label of a block by a separable
Gaussian (``mode="nearest"`` borders, taps as :func:`~xarray_microct.kernels.gaussian.gaussian_taps`
gives them), within the label's bounding box widened by the kernel, and gives each voxel
to the label whose blurred indicator is highest there, when it exceeds ``level``. Each
blurred value is a float64 sum over the same taps in the same order whatever the block,
so a voxel's result depends only on the labels within the kernel's half-width of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import scipy.ndimage as ndi

from xarray_microct.kernels.gaussian import gaussian_taps

__all__ = ["smooth_labels_block"]


@numba.njit(cache=True, nogil=True)
def _smooth_one(labels, label, lo, hi, taps_z, taps_y, taps_x, best, out) -> None:
    """Blur the indicator of ``label`` (bounding box ``lo..hi``) and claim its voxels."""
    nz, ny, nx = labels.shape
    rz, ry, rx = taps_z.size - 1, taps_y.size - 1, taps_x.size - 1
    z0, y0, x0 = max(lo[0] - rz, 0), max(lo[1] - ry, 0), max(lo[2] - rx, 0)
    z1, y1, x1 = min(hi[0] + rz, nz), min(hi[1] + ry, ny), min(hi[2] + rx, nx)
    # along x, on the rows that hold the label
    along_x = np.zeros((hi[0] - lo[0], hi[1] - lo[1], x1 - x0))
    for z in range(lo[0], hi[0]):
        for y in range(lo[1], hi[1]):
            for x in range(x0, x1):
                total = taps_x[0] if labels[z, y, x] == label else 0.0
                for j in range(1, rx + 1):
                    if labels[z, y, max(x - j, 0)] == label:
                        total += taps_x[j]
                    if labels[z, y, min(x + j, nx - 1)] == label:
                        total += taps_x[j]
                along_x[z - lo[0], y - lo[1], x - x0] = total
    # along y: rows outside the box are zero, except past the block's edges (nearest)
    along_y = np.zeros((hi[0] - lo[0], y1 - y0, x1 - x0))
    for z in range(hi[0] - lo[0]):
        for y in range(y0, y1):
            for j in range(-ry, ry + 1):
                source = min(max(y + j, 0), ny - 1)
                if lo[1] <= source < hi[1]:
                    w = taps_y[abs(j)]
                    for x in range(x1 - x0):
                        along_y[z, y - y0, x] += along_x[z, source - lo[1], x] * w
    # along z, then claim the voxels where this label's value is the highest so far
    for z in range(z0, z1):
        plane = np.zeros((y1 - y0, x1 - x0))
        for j in range(-rz, rz + 1):
            source = min(max(z + j, 0), nz - 1)
            if lo[0] <= source < hi[0]:
                w = taps_z[abs(j)]
                for y in range(y1 - y0):
                    for x in range(x1 - x0):
                        plane[y, x] += along_y[source - lo[0], y, x] * w
        for y in range(y1 - y0):
            for x in range(x1 - x0):
                if plane[y, x] > best[z, y0 + y, x0 + x]:
                    best[z, y0 + y, x0 + x] = plane[y, x]
                    out[z, y0 + y, x0 + x] = label


def smooth_labels_block(block: np.ndarray, sigma: Sequence[float], level: float) -> np.ndarray:
    """Each voxel to the label whose Gaussian-blurred indicator is highest, above ``level``.

    Parameters
    ----------
    block : numpy.ndarray of int
        3-D labels (0 = background).
    sigma : sequence of 3 float
        Gaussian sigma per axis, in voxels (each above 0; kernels truncated at 3 sigmas).
    level : float
        The blurred indicator a voxel needs to keep (or get) a label, in (0, 1).

    Returns
    -------
    numpy.ndarray
        Labels of the same dtype (0 where no label reaches ``level``); ties go to the
        lower label.

    Examples
    --------
    >>> block = np.zeros((1, 1, 7), np.int32)
    >>> block[0, 0, 1:3] = 1; block[0, 0, 3] = 2; block[0, 0, 5] = 2  # a gap at x = 4
    >>> smooth_labels_block(block, (0.5, 0.5, 1.0), 0.4).tolist()  # the gap is filled
    [[[0, 1, 1, 2, 2, 2, 0]]]
    """
    taps = [gaussian_taps(s, 3.0) for s in sigma]
    best = np.full(block.shape, float(level))
    out = np.zeros(block.shape, block.dtype)
    for label, box in enumerate(ndi.find_objects(block), start=1):
        if box is None:
            continue
        lo = np.array([b.start for b in box], np.int64)
        hi = np.array([b.stop for b in box], np.int64)
        _smooth_one(block, block.dtype.type(label), lo, hi, *taps, best, out)
    return out
