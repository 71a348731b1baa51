"""Compiled per-block kernel of the fiber working grid: smoothing along z, then rounding.

The mask of fiber detection on bins thresholds the bins smoothed along z (along the
fibers) and rounded to the scan's integer levels (:mod:`xarray_microct.ops.fibers.detect`).
``scipy.ndimage.correlate1d`` along the first axis of a C-ordered block reads it with a
stride of a whole plane; here each output plane adds whole input planes (contiguous,
vectorised) and is rounded as it is finished, in one pass, without the GIL.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["smooth_z_levels"]


@numba.njit(nogil=True, cache=True)
def _smooth_z_levels(
    block: np.ndarray, weights: np.ndarray, low: float, high: float, out: np.ndarray
) -> None:  # pragma: no cover - compiled; checked through smooth_z_levels
    nz, ny, nx = block.shape
    reach = weights.shape[0] // 2
    plane = np.empty((ny, nx), dtype=np.float32)
    for z in range(nz):
        plane[:, :] = 0
        for k in range(weights.shape[0]):
            source = block[min(max(z + k - reach, 0), nz - 1)]
            w = weights[k]
            for y in range(ny):
                for x in range(nx):
                    plane[y, x] += w * source[y, x]
        for y in range(ny):
            for x in range(nx):
                out[z, y, x] = min(max(np.rint(plane[y, x]), low), high)


def smooth_z_levels(block: np.ndarray, weights: np.ndarray, levels: np.dtype) -> np.ndarray:
    """Correlate a ``(z, y, x)`` block with ``weights`` along z, round to integer ``levels``.

    Beyond the block's first and last planes, the nearest plane is repeated (scipy's
    ``mode="nearest"``); the sums run in float32 over the taps in order, and the
    result is rounded half to even and clipped to the range of the dtype ``levels``.

    Examples
    --------
    >>> block = np.array([0, 0, 10, 0, 0], np.float32).reshape(5, 1, 1)
    >>> smooth_z_levels(block, np.array([0.25, 0.5, 0.25], np.float32), np.uint8).ravel()
    array([0, 2, 5, 2, 0], dtype=uint8)
    """
    dtype = np.dtype(levels)
    info = np.iinfo(dtype)
    out = np.empty(block.shape, dtype=dtype)
    _smooth_z_levels(
        np.ascontiguousarray(block, dtype=np.float32),
        np.asarray(weights, dtype=np.float32),
        float(info.min),
        float(info.max),
        out,
    )
    return out
