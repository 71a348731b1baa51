"""Per-label Gaussian smoothing of a label image (ops/shapes.py), one label at a time.

:func:`smooth_labels_block` blurs the indicator of each label of a block by a separable
Gaussian (``mode="nearest"`` borders, the taps of
:func:`~xarray_microct.kernels.gaussian.gaussian_taps`), within the label's bounding box
widened by the kernel, and gives each voxel to the label whose blurred indicator is
highest there, when it exceeds ``level``. Each blurred value is a float64 sum over the
same taps in the same order whatever the block, so a voxel's result depends only on the
labels within the kernel's half-width of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from xarray_microct.kernels.gaussian import gaussian_taps
from xarray_microct.kernels.scratch import work_array

__all__ = ["smooth_labels_block"]


@numba.njit(cache=True, nogil=True)
def _symmetric(taps):
    """The whole kernel ``[w_r, ..., w_1, w_0, w_1, ..., w_r]`` from its half."""
    r = taps.size - 1
    out = np.empty(2 * r + 1)
    for j in range(-r, r + 1):
        out[j + r] = taps[abs(j)]
    return out


@numba.njit(cache=True, nogil=True)
def _reaching_columns(along_y, level):
    """Per row ``y`` of ``along_y`` (slices, rows, columns), the columns ``[first, end)``
    outside which no slice's value reaches ``level``: the last pass's weights sum to
    one, so its value there stays under ``level`` and claims nothing (the bound is
    lowered by 1e-9 for round-off)."""
    depth, ny, nx = along_y.shape
    bound = level * (1.0 - 1e-9)
    first, end = np.full(ny, nx), np.zeros(ny, np.int64)
    for y in range(ny):
        for x in range(nx):
            for k in range(depth):
                if along_y[k, y, x] >= bound:
                    first[y], end[y] = min(first[y], x), x + 1
                    break
    return first, end


@numba.njit(cache=True, nogil=True)
def _smooth_one(labels, label, lo, hi, taps_z, taps_y, taps_x, level, start, best, out) -> None:
    """Blur the indicator of ``label`` (bounding box ``lo..hi``) and claim its voxels in
    the box of ``best``'s and ``out``'s shape at ``start`` of ``labels``.

    Each pass runs only where the label's blurred indicator can be non-zero and the box
    reads it: per slice along ``z``, the label's extent in that slice widened by the
    kernel, on the box's rows (along ``y``) and columns; the last pass (along ``z``)
    only on the columns where a value can reach ``level``.
    """
    nz, ny, nx = labels.shape
    s0, s1, s2 = start[0], start[1], start[2]
    e0, e1, e2 = s0 + best.shape[0], s1 + best.shape[1], s2 + best.shape[2]
    rz, ry, rx = taps_z.size - 1, taps_y.size - 1, taps_x.size - 1
    wz, wy, wx = _symmetric(taps_z), _symmetric(taps_y), _symmetric(taps_x)
    depth = hi[0] - lo[0]
    # the label's extent in each of its slices (empty: low > high)
    y_lo, y_hi = np.full(depth, ny), np.zeros(depth, np.int64)
    x_lo, x_hi = np.full(depth, nx), np.zeros(depth, np.int64)
    for z in range(lo[0], hi[0]):
        k = z - lo[0]
        for y in range(lo[1], hi[1]):
            for x in range(lo[2], hi[2]):
                if labels[z, y, x] == label:
                    y_lo[k], y_hi[k] = min(y_lo[k], y), max(y_hi[k], y + 1)
                    x_lo[k], x_hi[k] = min(x_lo[k], x), max(x_hi[k], x + 1)
    y0, y1 = max(lo[1] - ry, 0), min(hi[1] + ry, ny)
    x0, x1 = max(lo[2] - rx, 0), min(hi[2] + rx, nx)
    along_y = np.zeros((depth, y1 - y0, x1 - x0))
    row = np.empty(x1 - x0 + 2 * rx)
    along_x = np.zeros((hi[1] - lo[1], x1 - x0))
    for k in range(depth):
        if y_lo[k] >= y_hi[k]:
            continue
        z = lo[0] + k
        a0, a1 = max(x_lo[k] - rx, s2), min(x_hi[k] + rx, e2)  # output columns
        # along x, on the slice's rows that hold the label (nearest beyond the block)
        for y in range(y_lo[k], y_hi[k]):
            for i in range(a1 - a0 + 2 * rx):
                source = min(max(a0 - rx + i, 0), nx - 1)
                row[i] = 1.0 if labels[z, y, source] == label else 0.0
            line = along_x[y - lo[1]]
            for x in range(a1 - a0):
                line[a0 - x0 + x] = 0.0
            for j in range(2 * rx + 1):
                w = wx[j]
                for x in range(a1 - a0):
                    line[a0 - x0 + x] += w * row[x + j]
        # along y: rows beyond the label's are zero, except past the block's edges
        for y in range(max(y_lo[k] - ry, s1), min(y_hi[k] + ry, e1)):
            target = along_y[k, y - y0]
            for j in range(2 * ry + 1):
                source = min(max(y + j - ry, 0), ny - 1)
                if y_lo[k] <= source < y_hi[k]:
                    w = wy[j]
                    line = along_x[source - lo[1]]
                    for x in range(a0 - x0, a1 - x0):
                        target[x] += w * line[x]
    # along z, then claim the voxels where this label's value is the highest so far
    first, end = _reaching_columns(along_y, level)
    plane = np.empty((y1 - y0, x1 - x0))
    for z in range(max(lo[0] - rz, s0), min(hi[0] + rz, e0)):
        b0, b1, c0, c1 = y1, y0, x1, x0  # the region the slices within reach cover
        for j in range(2 * rz + 1):
            k = min(max(z + j - rz, 0), nz - 1) - lo[0]
            if 0 <= k < depth and y_lo[k] < y_hi[k]:
                b0, b1 = min(b0, max(y_lo[k] - ry, s1)), max(b1, min(y_hi[k] + ry, e1))
                c0, c1 = min(c0, max(x_lo[k] - rx, s2)), max(c1, min(x_hi[k] + rx, e2))
        if b0 >= b1:
            continue
        for y in range(b0 - y0, b1 - y0):
            for x in range(max(c0 - x0, first[y]), min(c1 - x0, end[y])):
                plane[y, x] = 0.0
        for j in range(2 * rz + 1):
            k = min(max(z + j - rz, 0), nz - 1) - lo[0]
            if 0 <= k < depth and y_lo[k] < y_hi[k]:
                w = wz[j]
                for y in range(b0 - y0, b1 - y0):
                    for x in range(max(c0 - x0, first[y]), min(c1 - x0, end[y])):
                        plane[y, x] += w * along_y[k, y, x]
        for y in range(b0 - y0, b1 - y0):
            for x in range(max(c0 - x0, first[y]), min(c1 - x0, end[y])):
                if plane[y, x] > best[z - s0, y0 + y - s1, x0 + x - s2]:
                    best[z - s0, y0 + y - s1, x0 + x - s2] = plane[y, x]
                    out[z - s0, y0 + y - s1, x0 + x - s2] = label


@numba.njit(cache=True, nogil=True)
def _label_range(block):
    """The lowest and highest label of ``block`` (0, 0 when it holds none)."""
    low, high = np.int64(0), np.int64(0)
    for v in block.ravel():
        if v > 0:
            low = np.int64(v) if low == 0 else min(low, np.int64(v))
            high = max(high, np.int64(v))
    return low, high


@numba.njit(cache=True, nogil=True)
def _label_boxes(block, labels):
    """Row ``i``: the bounding box ``[z0, y0, x0, z1, y1, x1]`` of ``labels[i]`` in
    ``block`` (``labels`` sorted, holding every label of the block; ``z0 >= z1`` for
    one absent from it)."""
    nz, ny, nx = block.shape
    boxes = np.empty((labels.size, 6), np.int64)
    boxes[:, :3] = np.iinfo(np.int64).max
    boxes[:, 3:] = 0
    last, row = np.int64(0), boxes[0]
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                v = np.int64(block[z, y, x])
                if v <= 0:
                    continue
                if v != last:  # labels come in runs along x: search at each change only
                    last, row = v, boxes[np.searchsorted(labels, v)]
                row[0], row[1], row[2] = min(row[0], z), min(row[1], y), min(row[2], x)
                row[3], row[4] = max(row[3], z + 1), max(row[4], y + 1)
                row[5] = max(row[5], x + 1)
    return boxes


def smooth_labels_block(
    block: np.ndarray,
    sigma: Sequence[float],
    level: float,
    origin: Sequence[int] = (0, 0, 0),
    shape: Sequence[int] | None = None,
) -> np.ndarray:
    """Each voxel to the label whose Gaussian-blurred indicator is highest, above ``level``.

    Parameters
    ----------
    block : numpy.ndarray of int
        3-D labels (0 = background).
    sigma : sequence of 3 float
        Gaussian sigma per axis, in voxels (each above 0; kernels truncated at 3 sigmas).
    level : float
        The blurred indicator a voxel needs to keep (or get) a label, in (0, 1).
    origin, shape : sequence of 3 int, optional
        The box of ``block`` to give the labels of (by default all of it): the rest is
        a halo, read but not labelled (labels that reach the box only are blurred).

    Returns
    -------
    numpy.ndarray
        Labels of the box, of ``block``'s dtype (0 where no label reaches ``level``);
        ties go to the lower label.

    Examples
    --------
    >>> block = np.zeros((1, 1, 7), np.int32)
    >>> block[0, 0, 1:3] = 1; block[0, 0, 3] = 2; block[0, 0, 5] = 2  # a gap at x = 4
    >>> smooth_labels_block(block, (0.5, 0.5, 1.0), 0.4).tolist()  # the gap is filled
    [[[0, 1, 1, 2, 2, 2, 0]]]
    >>> smooth_labels_block(block, (0.5, 0.5, 1.0), 0.4, (0, 0, 3), (1, 1, 3)).tolist()
    [[[2, 2, 2]]]
    >>> smooth_labels_block(block, (0.5, 0.5, 1.0), 0.4, (0, 0, 5), (1, 1, 3))
    Traceback (most recent call last):
    ...
    ValueError: the box at (0, 0, 5) of shape (1, 1, 3) must lie inside the block of shape ...
    """
    taps = [gaussian_taps(s, 3.0) for s in sigma]
    start = np.asarray(origin, np.int64)
    box = tuple(int(n) for n in (block.shape if shape is None else shape))
    if block.ndim != 3 or start.shape != (3,) or len(box) != 3:
        raise ValueError(
            f"smooth_labels_block takes a 3-D block and a 3-D box; got a block of shape "
            f"{block.shape}, origin {tuple(origin)} and shape {box}"
        )
    if (start < 0).any() or any(s + n > b for s, n, b in zip(start, box, block.shape, strict=True)):
        raise ValueError(
            f"the box at {tuple(int(s) for s in start)} of shape {box} must lie inside the "
            f"block of shape {block.shape}: pass origin >= 0 and origin + shape <= its shape"
        )
    best = work_array("smooth-labels-best", box, np.float64)  # the thread's: no fresh pages
    best.fill(float(level))
    out = np.zeros(box, block.dtype)
    low, high = _label_range(block)
    if high == 0:
        return out
    if high - low < block.size // 8:  # the block's labels: a range (of unused ones too)
        labels = np.arange(low, high + 1, dtype=np.int64)
    else:  # labels far apart: their sorted list, shorter than their range
        labels = np.unique(block[block > 0]).astype(np.int64)
    boxes = _label_boxes(block, labels)
    reach = np.array([t.size - 1 for t in taps], np.int64)
    near = (boxes[:, :3] - reach < start + box) & (boxes[:, 3:] + reach > start)
    for i in np.flatnonzero((boxes[:, 0] < boxes[:, 3]) & near.all(axis=1)):  # in label order
        label = block.dtype.type(labels[i])
        _smooth_one(block, label, boxes[i, :3], boxes[i, 3:], *taps, float(level), start, best, out)
    return out
