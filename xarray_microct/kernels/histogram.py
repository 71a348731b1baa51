"""Compiled per-block histogram of a float volume, with the counts the padding rule reads.

:func:`float_counts` counts a block into equal bins between the volume's finite minimum
and maximum in one pass over it, without the GIL and without the float64 copy of the
finite values, their int64 bin indices and the boolean masks that the NumPy
expressions it replaces make (:func:`xarray_microct.core.stats._float_block_counts`:
0.11 → 0.02 CPU s for a 64 × 256² float32 block). The same counts: each value converted
to float64, its bin ``int((value - low) * scale)`` clipped into the bins, as NumPy
computes them.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["float_counts"]

EXTRA = 6  # the counts after the bins: see float_counts


@numba.njit(nogil=True, cache=True)
def _float_counts(
    block: np.ndarray, inside: np.ndarray, low: float, high: float, scale: float, out: np.ndarray
) -> None:  # pragma: no cover - compiled; checked through float_counts
    planes, ny, nx = block.shape
    bins = out.shape[0] - EXTRA
    for z in range(planes):
        for y in range(ny):
            for x in range(nx):
                value = np.float64(block[z, y, x])
                if not np.isfinite(value):
                    continue
                index = np.int64((value - low) * scale)
                out[min(max(index, 0), bins - 1)] += 1
                central = inside[y, x]
                if value == low:
                    out[bins] += 1
                    out[bins + 2] += central
                if value == high:
                    out[bins + 1] += 1
                    out[bins + 3] += central
                if value == 0.0:
                    out[bins + 4] += 1
                    out[bins + 5] += central


def float_counts(
    block: np.ndarray, inside: np.ndarray, low: float, high: float, bins: int
) -> np.ndarray:
    """The block's finite values counted into ``bins`` equal bins from ``low`` to
    ``high`` (the ends in the first and last), then six counts: the values exactly
    ``low`` and exactly ``high``, those of them where ``inside`` (a boolean ``(y, x)``
    plane over the block's last two axes) holds, then the values exactly 0 and those
    of them where ``inside`` holds (int64, ``bins + 6``).

    Examples
    --------
    >>> block = np.array([[[0.0, 0.5, 1.0], [np.nan, 1.0, 0.25]]], np.float32)
    >>> inside = np.array([[True, False, True], [False, False, False]])
    >>> float_counts(block, inside, 0.0, 1.0, 4).tolist()
    [1, 1, 1, 2, 1, 2, 1, 1, 1, 1]
    """
    if block.dtype not in (np.float32, np.float64):
        block = block.astype(np.float64)  # as exact as NumPy's conversion of each value
    shape = (-1, *block.shape[-2:]) if block.ndim >= 2 else (1, 1, -1)
    volume = np.ascontiguousarray(block).reshape(shape)
    plane = np.ascontiguousarray(inside, dtype=np.bool_).reshape(volume.shape[1:])
    low, high = float(low), float(high)
    scale = bins / (high - low) if high > low else 0.0
    out = np.zeros(bins + EXTRA, np.int64)
    _float_counts(volume, plane, low, high, scale, out)
    return out
