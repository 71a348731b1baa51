"""Per-voxel loops of the ring correction (ops/rings.py), without temporaries.

:func:`column_residuals` sums, per ``(y, x)`` column of a block, how far the clear
voxels of each phase lie from their phase's level, in quantised integer steps, and
counts them; :func:`subtract_rounded` takes the column offsets off an integer block and
rounds back to its dtype. Both do, voxel by voxel, the float arithmetic that the NumPy
expressions they replace did on whole arrays (the same values), in one loop over the
block instead of a float64 copy and half a dozen masks and temporaries.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["column_residuals", "subtract_rounded"]


@numba.njit(cache=True, nogil=True)
def _column_residuals(block, dark_below, bright_above, low, step, q_dark, q_bright, out):
    nz, ny, nx = block.shape
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):  # branch-free, so that it vectorises
                value = np.float64(block[z, y, x])
                dark = value <= dark_below
                bright = value >= bright_above
                quantised = np.int64(np.rint((value - low) / step))
                out[y, x, 0] += dark * (quantised - q_dark) + bright * (quantised - q_bright)
                out[y, x, 1] += dark | bright


def column_residuals(
    block: np.ndarray,
    dark_below: float,
    bright_above: float,
    low: float,
    step: float,
    q_dark: int,
    q_bright: int,
) -> np.ndarray:
    """Per column of a 3-D ``block``: the sum of the quantised residuals, the count.

    A voxel of value ``v`` is clear dark when ``v <= dark_below``, clear bright when
    ``v >= bright_above``; its quantised value is ``rint((v - low) / step)`` (in
    float64), its residual that minus ``q_dark`` (dark) or ``q_bright`` (bright).

    Returns
    -------
    numpy.ndarray of int64, shape ``(ny, nx, 2)``
        ``[..., 0]``: the sum of the residuals, ``[..., 1]``: the number of clear voxels.

    Examples
    --------
    >>> block = np.array([[[10, 50]], [[12, 200]], [[100, 205]]], np.uint8)
    >>> column_residuals(block, 20.0, 150.0, 0.0, 1.0, 11, 200).tolist()
    [[[0, 2], [5, 2]]]
    """
    out = np.zeros((*block.shape[1:], 2), np.int64)
    _column_residuals(
        block,
        float(dark_below),
        float(bright_above),
        float(low),
        float(step),
        int(q_dark),
        int(q_bright),
        out,
    )
    return out


@numba.njit(cache=True, nogil=True)
def _subtract_rounded(block, offsets, low, high, out) -> None:
    nz, ny, nx = block.shape
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                value = np.rint(np.float32(block[z, y, x]) - offsets[y, x])
                out[z, y, x] = min(max(value, low), high)


def subtract_rounded(block: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``clip(rint(block.astype(float32) - offsets))`` back in an integer block's dtype.

    ``offsets`` (float32) has the block's last two dimensions.

    Examples
    --------
    >>> block = np.array([[[3, 250]], [[0, 100]]], np.uint8)
    >>> subtract_rounded(block, np.array([[1.4, -7.6]], np.float32)).tolist()
    [[[2, 255]], [[0, 108]]]
    """
    info = np.iinfo(block.dtype)
    out = np.empty(block.shape, block.dtype)
    _subtract_rounded(
        block,
        offsets.astype(np.float32, copy=False),
        np.float32(info.min),
        np.float32(info.max),
        out,
    )
    return out
