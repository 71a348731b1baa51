"""Compiled per-block kernel: a 1-D Gaussian along a sheared axis (along tilted fibers).

Smoothing straight along z averages a fiber tilted by θ with its surroundings: over a
tap ``k`` slices away the fiber has moved ``k tan θ`` pixels in-plane. Here tap ``k``
samples slice ``z + k`` at the in-plane point moved by ``k · (ty, tx)`` (the bed's
measured drift per slice), by bilinear interpolation, so the kernel follows the
fibers. Beyond the block's planes and sides the nearest plane, row or column is
repeated (``scipy.ndimage``'s ``mode="nearest"``), so a block with a halo of ``reach``
slices and ``ceil(reach · |t|) + 1`` pixels (:func:`sheared_halo`) gives, inside, the
values of the whole array.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["sheared_halo", "smooth_sheared"]


@numba.njit(nogil=True, cache=True)
def _smooth_sheared(
    block: np.ndarray, weights: np.ndarray, ty: float, tx: float, out: np.ndarray
) -> None:  # pragma: no cover - compiled; checked through smooth_sheared
    nz, ny, nx = block.shape
    reach = weights.shape[0] // 2
    row = np.empty(nx, dtype=np.float32)
    for z in range(nz):
        plane = out[z]
        plane[:, :] = 0
        for k in range(weights.shape[0]):
            offset = k - reach
            source = block[min(max(z + offset, 0), nz - 1)]
            sy, sx = offset * ty, offset * tx
            iy, ix = math.floor(sy), math.floor(sx)
            fy, fx = np.float32(sy - iy), np.float32(sx - ix)
            up, w = np.float32(1) - fy, weights[k]
            left, right = w * (np.float32(1) - fx), w * fx
            # the x range whose two reads lie inside the row: no clamping there
            lo = min(max(-ix, 0), nx)
            hi = max(min(nx - 1 - ix, nx), lo)
            for y in range(ny):
                row0 = source[min(max(y + iy, 0), ny - 1)]
                row1 = source[min(max(y + iy + 1, 0), ny - 1)]
                for x in range(nx):  # interpolated between the two rows first
                    row[x] = up * row0[x] + fy * row1[x]
                line = plane[y]
                for x in range(lo, hi):
                    line[x] += left * row[x + ix] + right * row[x + ix + 1]
                for x in range(lo):
                    line[x] += (
                        left * row[min(max(x + ix, 0), nx - 1)]
                        + right * row[min(max(x + ix + 1, 0), nx - 1)]
                    )
                for x in range(hi, nx):
                    line[x] += (
                        left * row[min(max(x + ix, 0), nx - 1)]
                        + right * row[min(max(x + ix + 1, 0), nx - 1)]
                    )


def sheared_halo(reach: int, slope: tuple[float, float]) -> tuple[int, int, int]:
    """The halo (z, y, x voxels) a block needs for :func:`smooth_sheared`.

    ``reach`` slices along z; in-plane the farthest tap's shift, ``reach · |t|``, rounded
    up, plus the pixel the bilinear interpolation reads beyond it.

    Examples
    --------
    >>> sheared_halo(4, (0.27, -0.05))
    (4, 3, 2)
    """
    return (
        int(reach),
        math.ceil(reach * abs(slope[0])) + 1,
        math.ceil(reach * abs(slope[1])) + 1,
    )


def smooth_sheared(
    block: np.ndarray, weights: np.ndarray, slope: tuple[float, float]
) -> np.ndarray:
    """Correlate a ``(z, y, x)`` block with ``weights`` along the axis ``(1, ty, tx)``.

    Output ``[z, y, x] = Σ_k weights[k] · block(z + k − reach, y + (k − reach) ty,
    x + (k − reach) tx)``, the in-plane point interpolated bilinearly, ``reach`` =
    ``len(weights) // 2`` (odd length), the block's edges extended by their nearest
    values; float32 sums over the taps in order. ``slope = (0, 0)`` is a plain
    correlation along z.

    Examples
    --------
    >>> block = np.zeros((3, 1, 5), np.float32)
    >>> block[0, 0, 1] = block[1, 0, 2] = block[2, 0, 3] = 3  # a line moving +1 x/slice
    >>> smooth_sheared(block, np.full(3, 1 / 3, np.float32), (0.0, 1.0))[1, 0]
    array([0., 0., 3., 0., 0.], dtype=float32)
    """
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 1 or weights.size % 2 == 0:
        raise ValueError(f"the weights must be a 1-D kernel of odd length, got {weights.shape}")
    out = np.empty(block.shape, dtype=np.float32)
    _smooth_sheared(
        np.ascontiguousarray(block, dtype=np.float32),
        weights,
        float(slope[0]),
        float(slope[1]),
        out,
    )
    return out
