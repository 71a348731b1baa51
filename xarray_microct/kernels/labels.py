"""Compiled helpers for label images: lookup-table remapping and label counts.

Both run without the GIL, so Dask's threads work on several blocks at once, and avoid
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
