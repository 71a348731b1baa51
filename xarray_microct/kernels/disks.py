"""Compiled kernel of the power-diagram disk labels (ops/fiber_scale/disks.py ``disk_labels``)."""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def paint_disks(
    centres: np.ndarray, radii: np.ndarray, labels: np.ndarray, best: np.ndarray
) -> None:  # pragma: no cover
    """Label each pixel with the disk of least power ``d² − r²`` among those holding it.

    ``centres`` (n, 2) are ``(y, x)`` in pixels, ``labels`` (int32, zeros) and ``best``
    (float64, +inf) the output image and its least power so far; disks are taken in
    order and a later disk takes a pixel only with a strictly smaller power.
    """
    ny, nx = labels.shape
    for i in range(radii.shape[0]):
        y, x, r = centres[i, 0], centres[i, 1], radii[i]
        y0 = max(math.floor(y - r), 0)
        y1 = min(math.ceil(y + r) + 1, ny)
        x0 = max(math.floor(x - r), 0)
        x1 = min(math.ceil(x + r) + 1, nx)
        for row in range(y0, y1):
            dy2 = (row - y) ** 2
            for col in range(x0, x1):
                power = dy2 + (col - x) ** 2 - r * r
                if power <= 0 and power < best[row, col]:
                    best[row, col] = power
                    labels[row, col] = i + 1


@numba.njit(cache=True, nogil=True)
def paint_soft_disks(
    centres: np.ndarray, radii: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover
    """Add each disk's pixel coverage to ``out`` (float64), capped at 1.

    A pixel at distance ``d`` from a centre is covered ``clip(r + 0.5 − d, 0, 1)``: a
    ramp one pixel wide across the edge, whose integral is ``π(r² + 1/12)``.
    """
    ny, nx = out.shape
    for i in range(radii.shape[0]):
        y, x, r = centres[i, 0], centres[i, 1], radii[i]
        y0 = max(math.floor(y - r - 1), 0)
        y1 = min(math.ceil(y + r + 1) + 1, ny)
        x0 = max(math.floor(x - r - 1), 0)
        x1 = min(math.ceil(x + r + 1) + 1, nx)
        for row in range(y0, y1):
            for col in range(x0, x1):
                d = math.sqrt((row - y) ** 2 + (col - x) ** 2)
                v = min(max(r + 0.5 - d, 0.0), 1.0)
                if v > 0.0:
                    out[row, col] = min(out[row, col] + v, 1.0)
