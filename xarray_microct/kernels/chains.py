"""Compiled helpers for the fiber assembly: grouping rows by chain in linear time.

The assembly of a fiber table (:func:`~xarray_microct.ops.fibers.detect.assemble_fibers`)
groups a million rows or more by chain several times; the rows come sorted by slice, so
a counting sort by chain (linear, stable) gives the order that a sort by chain then
slice gives, and a merge of two sorted runs replaces a full sort where only a few rows
changed. Each helper returns exactly what the NumPy expression it replaces returns.
"""

from __future__ import annotations

import numba
import numpy as np


def dense_ids(track: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.unique(track, return_inverse=True)`` for integer ids, in linear time when
    the ids are non-negative and no larger than about the number of rows.

    Examples
    --------
    >>> ids, index = dense_ids(np.array([7, 3, 7, 0]))
    >>> ids.tolist(), index.tolist()
    ([0, 3, 7], [2, 1, 2, 0])
    """
    track = np.asarray(track)
    countable = track.dtype.kind == "i" or (track.dtype.kind == "u" and track.itemsize < 8)
    low, high = (int(track.min()), int(track.max())) if track.size and countable else (-1, -1)
    if low < 0 or high > 4 * track.size + 1024:  # np.unique: empty, negative, sparse, not integer
        ids, index = np.unique(track, return_inverse=True)
        return ids, index.ravel()
    present = np.bincount(track.ravel(), minlength=high + 1) > 0
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(track.dtype), rank[track.ravel()]


@numba.njit(nogil=True, cache=True)
def _group_order(index: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    bounds = np.zeros(m + 1, np.int64)
    for i in range(index.size):
        bounds[index[i] + 1] += 1
    for k in range(m):
        bounds[k + 1] += bounds[k]
    fill = bounds[:-1].copy()
    order = np.empty(index.size, np.int64)
    for i in range(index.size):
        order[fill[index[i]]] = i
        fill[index[i]] += 1
    return order, bounds


def group_order(index: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.argsort(index, kind="stable")`` for ids ``0..m-1`` by a counting sort, and
    where each id's run starts in it (``m + 1`` bounds).

    Examples
    --------
    >>> order, bounds = group_order(np.array([1, 0, 1, 0]), 2)
    >>> order.tolist(), bounds.tolist()
    ([1, 3, 0, 2], [0, 2, 4])
    """
    return _group_order(np.ascontiguousarray(index, dtype=np.int64), int(m))


@numba.njit(nogil=True, cache=True)
def _group_medians(values: np.ndarray, order: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    m = bounds.size - 1
    out = np.empty(m)
    longest = 0
    for k in range(m):
        longest = max(longest, bounds[k + 1] - bounds[k])
    buffer = np.empty(longest)
    for k in range(m):
        size = bounds[k + 1] - bounds[k]
        run = buffer[:size]
        for t in range(size):
            run[t] = values[order[bounds[k] + t]]
        run.sort()
        out[k] = 0.5 * (run[(size - 1) // 2] + run[size // 2])
    return out


def group_medians(values: np.ndarray, order: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Median of ``values`` per group of :func:`group_order` (each group non-empty).

    Examples
    --------
    >>> order, bounds = group_order(np.array([0, 1, 0, 0]), 2)
    >>> group_medians(np.array([3.0, 9.0, 1.0, 2.0]), order, bounds).tolist()
    [2.0, 9.0]
    """
    return _group_medians(np.ascontiguousarray(values, dtype=np.float64), order, bounds)


@numba.njit(nogil=True, cache=True)
def _piece_first(pieces: np.ndarray, j: int, rows: np.ndarray, i: int, group: int) -> bool:
    for c in range(3):
        if pieces[j, c] != rows[i, c]:
            return pieces[j, c] < rows[i, c]
    return pieces[j, 4] < group


@numba.njit(nogil=True, cache=True)
def _kept_sorted(rows: np.ndarray, group: np.ndarray, kept: np.ndarray) -> bool:
    for t in range(kept.size - 1):
        a, b = kept[t], kept[t + 1]
        c = 0
        while c < 3 and rows[a, c] == rows[b, c]:
            c += 1
        if (rows[b, c] < rows[a, c]) if c < 3 else (group[b] < group[a]):
            return False
    return True


@numba.njit(nogil=True, cache=True)
def _merge_runs(
    rows: np.ndarray, group: np.ndarray, kept: np.ndarray, pieces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n, m = kept.size, pieces.shape[0]
    out = np.empty((n + m, 4))
    ids = np.empty(n + m, np.int64)
    i = j = 0
    for t in range(n + m):
        if j >= m or (i < n and not _piece_first(pieces, j, rows, kept[i], group[kept[i]])):
            for c in range(4):
                out[t, c] = rows[kept[i], c]
            ids[t] = group[kept[i]]
            i += 1
        else:
            for c in range(4):
                out[t, c] = pieces[j, c]
            ids[t] = np.int64(pieces[j, 4])
            j += 1
    return out, ids


def merge_runs(
    rows: np.ndarray, group: np.ndarray, changed: np.ndarray, pieces: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows not ``changed`` and the ``pieces`` together, sorted by (z, y, x, group).

    ``rows``: ``(z, y, x, radius)`` with a ``group`` each; ``pieces``: rows ``(z, y, x,
    radius, group)`` sorted so. A merge of the two sorted runs (what ``numpy.lexsort``
    of them stacked gives, ties: the rows first), or None when the rows not changed are
    not sorted so. No NaN in ``z, y, x``.

    Examples
    --------
    >>> rows = np.array([[0, 1.0, 1.0, 2.0], [0, 5.0, 1.0, 2.0], [1, 1.0, 1.0, 2.0]])
    >>> pieces = np.array([[0, 3.0, 1.0, 2.5, 4]])
    >>> merged, group = merge_runs(rows, np.array([1, 2, 1]), np.array([0, 1, 0], bool), pieces)
    >>> merged[:, 1].tolist(), group.tolist()
    ([1.0, 3.0, 1.0], [1, 4, 1])
    """
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    group = np.ascontiguousarray(group, dtype=np.int64)
    kept = np.flatnonzero(~np.asarray(changed, dtype=bool))
    if not _kept_sorted(rows, group, kept):
        return None
    return _merge_runs(rows, group, kept, np.ascontiguousarray(pieces, dtype=np.float64))


@numba.njit(nogil=True, cache=True)
def _window_lines(
    rows: np.ndarray, order: np.ndarray, index: np.ndarray, bounds: np.ndarray, half: int
) -> np.ndarray:
    size = order.size
    z, yx, chain = np.empty(size), np.empty((size, 2)), np.empty(size, np.int64)
    for i in range(size):  # the rows in chain order, gathered once
        r = order[i]
        z[i], yx[i, 0], yx[i, 1], chain[i] = rows[r, 0], rows[r, 1], rows[r, 2], index[r]
    # prefix sums, added one row after the other (as numpy.cumsum adds)
    pz, pzz = np.zeros(size + 1), np.zeros(size + 1)
    py, pzy = np.zeros((size + 1, 2)), np.zeros((size + 1, 2))
    for i in range(size):
        pz[i + 1] = pz[i] + z[i]
        pzz[i + 1] = pzz[i] + z[i] * z[i]
        for c in range(2):
            py[i + 1, c] = py[i, c] + yx[i, c]
            pzy[i + 1, c] = pzy[i, c] + z[i] * yx[i, c]
    out = np.empty((size, 2))
    for i in range(size):
        lo = max(i - half, bounds[chain[i]])
        hi = min(i + half + 1, bounds[chain[i] + 1])
        n = float(hi - lo)
        at = z[lo]  # offsets from the window's first slice keep the sums small
        wz = pz[hi] - pz[lo]
        sz = wz - n * at
        szz = (pzz[hi] - pzz[lo]) - 2 * at * wz + n * (at * at)
        det = n * szz - sz * sz
        scale = n * szz
        line = det > 1e-9 * (scale if (scale > 1.0 or scale != scale) else 1.0)
        for c in range(2):
            sy = py[hi, c] - py[lo, c]
            szy = (pzy[hi, c] - pzy[lo, c]) - at * sy
            slope = (n * szy - sz * sy if line else 0.0) / (det if line else 1.0)
            out[order[i], c] = (sy - slope * sz) / n + slope * (z[i] - at)
    return out


def window_lines(
    rows: np.ndarray, order: np.ndarray, index: np.ndarray, bounds: np.ndarray, half: int
) -> np.ndarray:
    """Per row, ``(y, x)`` at its ``z`` of the least-squares line of ``y, x`` against
    ``z`` over the rows of its chain within ``half`` rows of it in ``order`` (fewer at
    the chain's ends).

    ``rows``: ``(z, y, x, ...)``; ``index``: chain ``0..m-1`` per row; ``order``,
    ``bounds``: the rows by chain then slice and where each chain's run starts (as
    :func:`group_order` gives them). The window sums are differences of running sums.

    Examples
    --------
    >>> rows = np.array([[0.0, 0.0, 5.0], [1.0, 1.2, 5.0], [2.0, 2.0, 5.0], [0.0, 9.0, 9.0]])
    >>> order, bounds = group_order(np.array([0, 0, 0, 1]), 2)
    >>> window_lines(rows, order, np.array([0, 0, 0, 1]), bounds, 1).round(2).tolist()
    [[0.0, 5.0], [1.07, 5.0], [2.0, 5.0], [9.0, 9.0]]
    """
    return _window_lines(
        np.ascontiguousarray(rows, dtype=np.float64),
        np.ascontiguousarray(order, dtype=np.int64),
        np.ascontiguousarray(index, dtype=np.int64),
        np.ascontiguousarray(bounds, dtype=np.int64),
        int(half),
    )


@numba.njit(nogil=True, cache=True)
def _first_seen(track: np.ndarray, high: int) -> np.ndarray:
    label = np.full(high + 1, -1, np.int64)
    out = np.empty(track.size, np.int64)
    seen = 0
    for i in range(track.size):
        if label[track[i]] < 0:
            label[track[i]] = seen
            seen += 1
        out[i] = label[track[i]]
    return out


def first_seen(track: np.ndarray) -> np.ndarray:
    """Ids ``0..`` numbered in the order of each id's first row (non-negative ids).

    Examples
    --------
    >>> first_seen(np.array([7, 3, 7, 0])).tolist()
    [0, 1, 0, 2]
    """
    track = np.asarray(track)
    if track.size == 0:
        return np.zeros(0, np.int64)
    _, index = dense_ids(track)
    return _first_seen(np.ascontiguousarray(index, dtype=np.int64), int(index.max()))
