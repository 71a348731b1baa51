"""Compiled helpers for label images: lookup-table remapping, label counts, and the
voxels, largest distance and contact of the labels present in a block.

They run without the GIL, so Dask's threads work on several blocks at once, and avoid
the int64 copies that ``table[labels]`` and ``numpy.bincount`` make of a uint32 block.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def _remap(labels: np.ndarray, table: np.ndarray, out: np.ndarray) -> None:
    for i in range(labels.size):
        out[i] = table[labels[i]]


@numba.njit(nogil=True, cache=True)
def _count(labels: np.ndarray, counts: np.ndarray) -> None:
    for i in range(labels.size):
        counts[labels[i]] += 1


def remap(labels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[labels]`` for non-negative integer labels, in the table's dtype.

    Examples
    --------
    >>> remap(np.array([[0, 2], [1, 2]], "uint32"), np.array([0, 5, 7]))
    array([[0, 7],
           [5, 7]])
    """
    flat = np.ascontiguousarray(labels).ravel()
    out = np.empty(flat.shape, dtype=table.dtype)
    _remap(flat, np.ascontiguousarray(table), out)
    return out.reshape(labels.shape)


def count(labels: np.ndarray, n: int) -> np.ndarray:
    """Voxels per label ``0..n`` (``numpy.bincount(labels, minlength=n + 1)``).

    Examples
    --------
    >>> count(np.array([0, 2, 2, 1], "uint32"), 2).tolist()
    [1, 1, 2]
    """
    counts = np.zeros(n + 1, dtype=np.int64)
    _count(np.ascontiguousarray(labels).ravel(), counts)
    return counts


@numba.njit(nogil=True, cache=True)
def _positive_range(labels: np.ndarray) -> tuple[int, int]:
    low, high = np.iinfo(np.int64).max, 0
    for i in range(labels.size):
        value = np.int64(labels[i])
        if value > 0:
            low = min(low, value)
            high = max(high, value)
    return low, high


@numba.njit(nogil=True, cache=True)
def _parts(
    index: np.ndarray,
    low: int,
    distance: np.ndarray,
    touching: np.ndarray,
    counts: np.ndarray,
    top: np.ndarray,
    touch: np.ndarray,
) -> None:
    for i in range(index.size):
        if index[i] > 0:
            j = np.int64(index[i]) - low
            counts[j] += 1
            if distance[i] > top[j]:
                top[j] = distance[i]
            if touching[i]:
                touch[j] = True


def label_parts(
    labels: np.ndarray, distance: np.ndarray, touching: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One block's labels present (0 left out), and per label its voxels, its largest
    ``distance`` and whether it has a voxel in ``touching``: tables the size of the
    labels present, counted over the block's own range of labels (or over its labels
    renumbered where that range is wider than the block). Labels of ``uint64`` over
    ``2**63 - 1`` are refused (ValueError); negative ones are left out as 0 is.

    Examples
    --------
    >>> labels = np.array([0, 7, 7, 9, 900000], "uint32")
    >>> ids, counts, top, touch = label_parts(
    ...     labels, np.array([5.0, 1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 0, 0], bool))
    >>> ids.tolist(), counts.tolist(), top.tolist(), touch.tolist()
    ([7, 9, 900000], [2, 1, 1], [2.0, 3.0, 4.0], [True, False, False])
    """
    flat = np.ascontiguousarray(labels).ravel()
    if flat.dtype == np.uint64 and flat.size and flat.max() > np.iinfo(np.int64).max:
        raise ValueError(
            f"label_parts: labels are at most 2**63 - 1 (int64), got {int(flat.max())}; "
            "renumber them (e.g. skimage.segmentation.relabel_sequential)"
        )
    dist = np.ascontiguousarray(distance).ravel()
    near = np.ascontiguousarray(touching, dtype=np.bool_).ravel()
    low, high = _positive_range(flat) if flat.size else (1, 0)
    if high < low:  # no label in the block
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0), np.zeros(0, bool)
    if high - low < flat.size:
        index, ids = flat, None
    else:  # a range wider than the block: its labels renumbered from 1
        positive = flat > 0
        ids, inverse = np.unique(flat[positive], return_inverse=True)
        index = np.zeros(flat.size, np.int64)
        index[positive] = inverse + 1
        low, high = 1, len(ids)
    size = int(high - low + 1)
    counts, top, touch = np.zeros(size, np.int64), np.full(size, -np.inf), np.zeros(size, bool)
    _parts(index, int(low), dist, near, counts, top, touch)
    present = np.flatnonzero(counts)
    ids = present + low if ids is None else ids[present]
    return ids.astype(np.int64), counts[present], top[present], touch[present]
