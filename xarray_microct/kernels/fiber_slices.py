"""Compiled kernels of the per-slice fiber centres: seeds, and a seeded watershed with sums.

:func:`plane_peaks` marks the seeds of one slice: pixels that no pixel of a footprint
around them exceeds (the footprint is given as offsets sorted by distance, so most
pixels are rejected by their first neighbours), labelled by 8-connected groups in raster
order, as ``scipy.ndimage.label`` numbers them.

:func:`flood_regions` floods the slice from those seeds within a mask, as
``skimage.segmentation.watershed(-score, seeds, mask=mask)`` does (4-connected; a
priority queue on ``(level, age)``, where a pixel's level is the larger of its own
``-score`` and its pusher's, and its age the order it was queued in; a pixel takes its
label when queued), and sums each region's area and pixel coordinates on the way. The
order in which the queue releases two pixels depends only on their levels and, on ties,
on the order their pushers were released — so on the flood around them, never on the
pixels' positions in the array: a region comes out the same in any window holding its
surroundings. Seeds tied on level are released in raster order.

Both run single-threaded without the GIL (Dask owns the parallelism) and are compiled
once per machine (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np

from xarray_microct.kernels.watershed import _pop_fix, _push

SIGN = np.uint32(0x80000000)


@numba.njit(cache=True, nogil=True, inline="always")
def _descending(value: np.float32) -> np.uint32:  # pragma: no cover
    """``-value`` (float32) as a uint32 that sorts like the float."""
    bits = np.array([-value], np.float32).view(np.uint32)[0]
    return ~bits if bits & SIGN else bits | SIGN


@numba.njit(cache=True, nogil=True)
def plane_peaks(  # pragma: no cover
    score: np.ndarray,
    seedable: np.ndarray,
    offsets_y: np.ndarray,
    offsets_x: np.ndarray,
    labels: np.ndarray,
) -> int:
    """Label the local maxima of ``score`` among the ``seedable`` pixels; return their count.

    A pixel of ``seedable`` is a maximum when no pixel at ``(y + offsets_y[k], x +
    offsets_x[k])`` has a higher score (positions clipped to the array, as
    ``mode="nearest"`` does). Maxima are grouped 8-connected and numbered 1.. in the
    raster order of their first pixel into ``labels`` (int32, zero on entry).
    """
    ny, nx = score.shape
    n_off = offsets_y.shape[0]
    for y in range(ny):
        for x in range(nx):
            if not seedable[y, x]:
                continue
            v = score[y, x]
            if v != v:  # NaN
                continue
            peak = True
            for k in range(n_off):
                yy = min(max(y + offsets_y[k], 0), ny - 1)
                xx = min(max(x + offsets_x[k], 0), nx - 1)
                if score[yy, xx] > v:
                    peak = False
                    break
            if peak:
                labels[y, x] = -1
    n = 0
    stack = np.empty(64, np.int64)
    for y in range(ny):
        for x in range(nx):
            if labels[y, x] != -1:
                continue
            n += 1
            labels[y, x] = n
            stack[0] = y * nx + x
            top = 1
            while top > 0:
                top -= 1
                p = stack[top]
                py, px = p // nx, p % nx
                for qy in range(max(py - 1, 0), min(py + 2, ny)):
                    for qx in range(max(px - 1, 0), min(px + 2, nx)):
                        if labels[qy, qx] == -1:
                            labels[qy, qx] = n
                            if top == stack.shape[0]:
                                grown = np.empty(2 * top, np.int64)
                                grown[:top] = stack
                                stack = grown
                            stack[top] = qy * nx + qx
                            top += 1
    return n


@numba.njit(cache=True, nogil=True)
def flood_regions(  # pragma: no cover
    score: np.ndarray,
    mask: np.ndarray,
    labels: np.ndarray,
    n: int,
    origin_y: int,
    origin_x: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flood ``labels`` (seeds 1..n, int32) over ``mask`` from high ``score`` to low.

    ``labels`` is filled in place (0 where no seed reaches). Returns per label 1..n its
    area, and the sums of its pixels' row and column indices offset by ``origin_y``
    and ``origin_x`` (int64: exact, so a region gives the same centroid in any window).
    """
    ny, nx = score.shape
    area = np.zeros(n + 1, np.int64)
    sum_y = np.zeros(n + 1, np.int64)
    sum_x = np.zeros(n + 1, np.int64)
    hk = np.empty(1024, np.uint64)
    hp = np.empty(1024, np.int64)
    size = 0
    age = np.uint64(0)
    for y in range(ny):
        for x in range(nx):
            lab = labels[y, x]
            if lab > 0:
                area[lab] += 1
                sum_y[lab] += y + origin_y
                sum_x[lab] += x + origin_x
                k = (np.uint64(_descending(score[y, x])) << np.uint64(32)) | age
                hk, hp = _push(hk, hp, size, k, y * nx + x)
                size += 1
                age += np.uint64(1)
    while size > 0:
        k = hk[0]
        p = hp[0]
        size -= 1
        _pop_fix(hk, hp, size)
        level = np.uint32(k >> np.uint64(32))
        y, x = p // nx, p % nx
        lab = labels[y, x]
        for o in range(4):  # skimage's order: up, left, right, down
            qy, qx = y, x
            if o == 0:
                qy -= 1
            elif o == 1:
                qx -= 1
            elif o == 2:
                qx += 1
            else:
                qy += 1
            if qy < 0 or qy >= ny or qx < 0 or qx >= nx:
                continue
            if not mask[qy, qx] or labels[qy, qx] != 0:
                continue
            labels[qy, qx] = lab
            area[lab] += 1
            sum_y[lab] += qy + origin_y
            sum_x[lab] += qx + origin_x
            own = _descending(score[qy, qx])
            k = (np.uint64(max(own, level)) << np.uint64(32)) | age
            age += np.uint64(1)
            hk, hp = _push(hk, hp, size, k, qy * nx + qx)
            size += 1
    return area[1:], sum_y[1:], sum_x[1:]
