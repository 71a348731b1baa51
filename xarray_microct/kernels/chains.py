"""Compiled helpers for the fiber assembly: grouping rows by chain in linear time.

The assembly of a fiber table (:func:`~xarray_microct.ops.fibers.detect.assemble_fibers`)
groups a million rows or more by chain several times; the rows come sorted by slice, so
a counting sort by chain (linear, stable) gives the order that a sort by chain then
slice gives, and a merge of two sorted runs replaces a full sort where only a few rows
changed. Each helper returns exactly what the NumPy expression it replaces returns
(:func:`window_lines`: the least-squares fits of its windows, each from its own rows).
"""

from __future__ import annotations

import numba
import numpy as np

STRAY_ROWS = 4  # rows on each side of a row whose median tells whether it strays


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
        out[k] = _middle(run)  # the two middle values of the sorted run, halved
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
    rows: np.ndarray,
    order: np.ndarray,
    index: np.ndarray,
    bounds: np.ndarray,
    half: int,
    positions: np.ndarray,
) -> np.ndarray:  # pragma: no cover
    out = np.full((rows.shape[0], 2), np.nan)
    for p in range(positions.size):
        i = positions[p]
        chain = index[order[i]]
        lo = max(i - half, bounds[chain])
        hi = min(i + half + 1, bounds[chain + 1])
        n = float(hi - lo)
        at = rows[order[lo], 0]  # offsets from the window's first slice keep the sums small
        sz = szz = sy = sx = szy = szx = 0.0
        for j in range(lo, hi):  # the window's rows, added in chain order
            r = order[j]
            d = rows[r, 0] - at
            sz += d
            szz += d * d
            sy += rows[r, 1]
            szy += d * rows[r, 1]
            sx += rows[r, 2]
            szx += d * rows[r, 2]
        det = n * szz - sz * sz
        scale = n * szz
        line = det > 1e-9 * (scale if (scale > 1.0 or scale != scale) else 1.0)
        slope_y = (n * szy - sz * sy if line else 0.0) / (det if line else 1.0)
        slope_x = (n * szx - sz * sx if line else 0.0) / (det if line else 1.0)
        d = rows[order[i], 0] - at
        out[order[i], 0] = (sy - slope_y * sz) / n + slope_y * d
        out[order[i], 1] = (sx - slope_x * sz) / n + slope_x * d
    return out


def window_lines(
    rows: np.ndarray,
    order: np.ndarray,
    index: np.ndarray,
    bounds: np.ndarray,
    half: int,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """Per row, ``(y, x)`` at its ``z`` of the least-squares line of ``y, x`` against
    ``z`` over the rows of its chain within ``half`` rows of it in ``order`` (fewer at
    the chain's ends).

    ``rows``: ``(z, y, x, ...)``; ``index``: chain ``0..m-1`` per row; ``order``,
    ``bounds``: the rows by chain then slice and where each chain's run starts (as
    :func:`group_order` gives them). Each window's sums are added from its own rows, in
    chain order (offsets from the window's first ``z``): a row's line depends on its
    window's rows only, to the bit, not on the other chains nor on which rows are
    fitted. ``positions`` (places in ``order``): only their rows are fitted, the others
    are NaN.

    Examples
    --------
    >>> rows = np.array([[0.0, 0.0, 5.0], [1.0, 1.2, 5.0], [2.0, 2.0, 5.0], [0.0, 9.0, 9.0]])
    >>> order, bounds = group_order(np.array([0, 0, 0, 1]), 2)
    >>> window_lines(rows, order, np.array([0, 0, 0, 1]), bounds, 1).round(2).tolist()
    [[0.0, 5.0], [1.07, 5.0], [2.0, 5.0], [9.0, 9.0]]
    """
    order = np.ascontiguousarray(order, dtype=np.int64)
    return _window_lines(
        np.ascontiguousarray(rows, dtype=np.float64),
        order,
        np.ascontiguousarray(index, dtype=np.int64),
        np.ascontiguousarray(bounds, dtype=np.int64),
        int(half),
        np.arange(order.size) if positions is None else np.ascontiguousarray(positions, np.int64),
    )


@numba.njit(nogil=True, cache=True)
def _add_row(sums: np.ndarray, d: float, y: float, x: float) -> None:  # pragma: no cover
    sums[0] += 1.0
    sums[1] += d
    sums[2] += d * d
    sums[3] += y
    sums[4] += d * y
    sums[5] += x
    sums[6] += d * x


@numba.njit(nogil=True, cache=True)
def _end_sums(
    z: np.ndarray, yx: np.ndarray, order: np.ndarray, bounds: np.ndarray, window: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    m = bounds.size - 1
    first, last = np.empty(m), np.empty(m)
    head, tail = np.zeros((m, 7)), np.zeros((m, 7))
    for c in range(m):
        a, b = bounds[c], bounds[c + 1]
        first[c], last[c] = z[order[a]], z[order[b - 1]]
        for t in range(a, b):
            r = order[t]
            if z[r] < first[c] + window:
                _add_row(head[c], z[r] - first[c], yx[r, 0], yx[r, 1])
            if z[r] > last[c] - window:
                _add_row(tail[c], z[r] - last[c], yx[r, 0], yx[r, 1])
    return first, last, head, tail


def end_sums(
    z: np.ndarray, yx: np.ndarray, order: np.ndarray, bounds: np.ndarray, window: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per chain, its first and last ``z`` and the sums of a line fit at each end.

    ``order``, ``bounds``: the rows by chain then ``z`` (as :func:`group_order` gives
    them). The sums, per chain and end, are ``Σ1, Σd, Σd², Σy, Σdy, Σx, Σdx`` over its
    rows within ``window`` of the end along z (``z < first + window``, ``z > last -
    window``), ``d`` the row's ``z`` minus the end's, added in chain order (what
    ``numpy.bincount`` adds over the rows in that order).

    Examples
    --------
    >>> z, yx = np.array([0.0, 1.0, 5.0]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> first, last, head, tail = end_sums(z, yx, np.arange(3), np.array([0, 3]), 2.0)
    >>> first.tolist(), last.tolist(), head[0].tolist(), tail[0, :3].tolist()
    ([0.0], [5.0], [2.0, 1.0, 1.0, 4.0, 3.0, 6.0, 4.0], [1.0, 0.0, 0.0])
    """
    return _end_sums(
        np.ascontiguousarray(z, dtype=np.float64),
        np.ascontiguousarray(yx, dtype=np.float64),
        np.ascontiguousarray(order, dtype=np.int64),
        np.ascontiguousarray(bounds, dtype=np.int64),
        float(window),
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


@numba.njit(nogil=True, cache=True)
def _line(sums: np.ndarray, at: float, out: np.ndarray) -> None:  # pragma: no cover
    """``out[:] = (y, x)`` at ``at`` of the least-squares line of window ``sums``
    (``Σ1, Σz, Σz², Σy, Σzy, Σx, Σzx``, at least one row; the mean on one slice)."""
    n = sums[0]
    sz = sums[1] - at * n
    szz = sums[2] - 2 * at * sums[1] + at * at * n
    det = n * szz - sz * sz
    line = det > 1e-9 * max(n * szz, 1.0)
    for c in range(2):
        sy = sums[3 + 2 * c]
        szy = sums[4 + 2 * c] - at * sy
        slope = (n * szy - sz * sy) / det if line else 0.0
        out[c] = (sy - slope * sz) / n


@numba.njit(nogil=True, cache=True)
def _add(
    sums: np.ndarray, sign: float, d: float, y: float, x: float, r: float
) -> None:  # pragma: no cover
    sums[0] += sign
    sums[1] += sign * d
    sums[2] += sign * d * d
    sums[3] += sign * y
    sums[4] += sign * d * y
    sums[5] += sign * x
    sums[6] += sign * d * x
    sums[7] += sign * r


@numba.njit(nogil=True, cache=True)
def _settle_chain(
    z: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    r: np.ndarray,
    use: np.ndarray,
    half: int,
    out: np.ndarray,
) -> None:  # pragma: no cover
    """One chain's line fits (rows sorted by slice, at most one per slice) at every
    slice of its span, from its rows in ``use``: ``out`` rows ``z, y, x, radius, rows
    in the window``; the window shifted inwards at the chain's ends. See
    :func:`chain_axes`."""
    m = z.size
    first = z[0]
    lo = 0
    hi = 0
    sums = np.zeros(8)
    point = np.zeros(2)
    last = z[m - 1]
    for k in range(out.shape[0]):
        s = first + k
        # near the chain's ends the window keeps its length, shifted inwards
        start = max(first, min(s - half, last - 2 * half))
        while hi < m and z[hi] <= start + 2 * half:  # rows entering the window
            if use[hi]:
                _add(sums, 1.0, z[hi] - first, y[hi], x[hi], r[hi])
            hi += 1
        while lo < hi and z[lo] < start:  # rows leaving it
            if use[lo]:
                _add(sums, -1.0, z[lo] - first, y[lo], x[lo], r[lo])
            lo += 1
        n = sums[0]
        out[k, 0] = s
        out[k, 4] = n  # none: filled in between the others
        if n > 0:
            _line(sums, s - first, point)
            out[k, 1], out[k, 2], out[k, 3] = point[0], point[1], sums[7] / n


@numba.njit(nogil=True, cache=True)
def _middle(values: np.ndarray) -> float:  # pragma: no cover
    """The median of ``values`` (reordered in place): quickselect, linear on average.

    ``values`` hold no NaN (the rows' radii and coordinates are finite): with one, the
    value returned depends on the order."""
    n = values.size
    lo, hi = 0, n - 1
    k = n // 2
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    upper = values[k]
    if n % 2:
        return upper
    lower = values[0]
    for q in range(1, k):
        lower = max(lower, values[q])
    return 0.5 * (lower + upper)


@numba.njit(nogil=True, cache=True)
def _stray_rows(
    z: np.ndarray, y: np.ndarray, x: np.ndarray, half: int, tolerance: float, use: np.ndarray
) -> None:  # pragma: no cover
    """``use[i]``: row ``i`` lies within ``tolerance`` of the robust axis of its window
    (its rows within ``half`` slices, at most ``STRAY_ROWS`` on each side; see
    :func:`chain_axes`)."""
    m = z.size
    use[:] = True
    if m < 3:
        return
    step = min(max(half, 1), m - 1)
    slopes = np.empty((m - step, 2))
    for i in range(m - step):
        dz = z[i + step] - z[i]
        slopes[i, 0] = (y[i + step] - y[i]) / dz
        slopes[i, 1] = (x[i + step] - x[i]) / dz
    sy, sx = _middle(slopes[:, 0].copy()), _middle(slopes[:, 1].copy())
    lo = 0
    hi = 0
    buffer = np.empty((2, m))
    for i in range(m):
        while hi < m and z[hi] <= z[i] + half and hi <= i + STRAY_ROWS:
            hi += 1
        while z[lo] < z[i] - half or lo < i - STRAY_ROWS:
            lo += 1
        for j in range(lo, hi):
            buffer[0, j - lo] = y[j] - sy * (z[j] - z[i])
            buffer[1, j - lo] = x[j] - sx * (z[j] - z[i])
        cy = _middle(buffer[0, : hi - lo])
        cx = _middle(buffer[1, : hi - lo])
        use[i] = (y[i] - cy) ** 2 + (x[i] - cx) ** 2 <= tolerance * tolerance
    if use.sum() < 2:  # no axis to tell strays from
        use[:] = True


@numba.njit(nogil=True, cache=True)
def _settle(
    rows: np.ndarray,
    order: np.ndarray,
    bounds: np.ndarray,
    half: int,
    tolerance: float,
    starts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """:func:`chain_axes`: the axes (rows ``z, y, x, radius, rows in the window``, each
    chain's span from ``starts``) and which rows were kept."""
    chains = bounds.size - 1
    out = np.empty((starts[chains], 5))
    inlier = np.zeros(rows.shape[0], np.bool_)
    for c in range(chains):
        a, b = bounds[c], bounds[c + 1]
        m = b - a
        z, y, x, r = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
        for i in range(m):
            row = order[a + i]
            z[i], y[i], x[i], r[i] = rows[row, 0], rows[row, 1], rows[row, 2], rows[row, 3]
        part = out[starts[c] : starts[c + 1]]
        use = np.ones(m, np.bool_)
        # rows farther than the tolerance from their window's axis are not on it; the
        # axis for this test is robust to them: the chain's slope, the median of its
        # rows' steps ``half`` rows apart, through the median of the window's rows
        # moved along it to the row's slice
        _stray_rows(z, y, x, half, tolerance, use)
        _settle_chain(z, y, x, r, use, half, part)
        own = np.zeros(part.shape[0], np.bool_)
        for i in range(m):
            inlier[order[a + i]] = use[i]
            if use[i]:
                own[int(z[i] - z[0])] = True
        # slices without a kept row of their own: between the fits at the nearest slices
        # that have one (a line through a few rows on one side would extrapolate their
        # noise); at a chain's ends, the window's fit, or the nearest kept slice's
        span = part.shape[0]
        k = 0
        while k < span:
            if own[k]:
                k += 1
                continue
            j = k
            while j < span and not own[j]:
                j += 1
            for q in range(k, j):
                if k > 0 and j < span:
                    t = (q - (k - 1)) / (j - (k - 1))
                    for col in range(1, 4):
                        part[q, col] = (1 - t) * part[k - 1, col] + t * part[j, col]
                elif part[q, 4] == 0:
                    part[q, 1:4] = part[k - 1, 1:4] if k > 0 else part[j, 1:4]
            k = j
    return out, inlier


def chain_axes(
    rows: np.ndarray,
    order: np.ndarray,
    bounds: np.ndarray,
    half: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each chain's local axis on every slice of its span, robust to stray centres.

    For chain ``c`` (its rows ``order[bounds[c]:bounds[c + 1]]``, sorted by slice, at most
    one per slice), at each slice ``s`` from its first to its last: the least-squares
    line of ``y, x`` against ``z`` over its rows within ``half`` slices of ``s`` (the
    mean where they lie on one slice), evaluated at ``s``, and the mean radius of those
    rows; within ``half`` slices of the chain's first or last slice the window keeps
    its ``2 half + 1`` slices, shifted inwards (a line through the half window left
    there has, at its end, a variance of 0.6 σ² against 0.38 σ² through the whole one,
    ``half`` 4: at 2 voxels of radius, noise 0.25, on ``benchmarks/fiber_scale.py``'s
    ``other_bed`` of 32 slices, half the table's misses lay on the 4 slices at either
    end; F1 0.951 → 0.955 on average over tilts 0/8/15°, seeds 1–3); rows farther
    than ``tolerance`` from a robust axis are left out: the chain's
    slope (the median of its steps between rows ``half`` rows apart) through the
    median of the positions of its rows within ``half`` slices (at most
    ``STRAY_ROWS`` on each side), moved along that slope to the row's slice (a
    least-squares line pivots towards a stray at a chain's end and would keep it). A
    slice without a kept row of its own takes the linear interpolation between the
    fits at the nearest slices that have one (a line through a few rows on one side
    would extrapolate their noise); beyond a chain's first or last kept row, its
    window's fit (the nearest kept slice's when the window is empty).

    Parameters
    ----------
    rows : array of shape (n, >=4)
        ``(z_index, y, x, radius)``; ``z_index`` whole numbers.
    order, bounds : array of int
        The rows by chain then slice, and where each chain's run starts (as
        :func:`group_order` gives them).
    half : int
        Slices on each side of a slice in its window.
    tolerance : float
        Largest distance of a kept row from the robust axis, in the units of ``y, x``.

    Returns
    -------
    axes : array of shape (m, 4)
        ``(z_index, y, x, radius)`` per slice of each chain's span, chain after chain.
    starts : array of int
        Where each chain's slices start in ``axes`` (one more entry: the total).
    kept : array of bool
        Per row of ``rows``: kept in the second fit.

    Examples
    --------
    >>> y = np.array([0.0, 1, 2, 7, 4, 6])  # slice 3: a stray centre; no row on slice 5
    >>> rows = np.column_stack([[0, 1, 2, 3, 4, 6], y, np.full(6, 5.0), np.full(6, 2.0)])
    >>> order, bounds = group_order(np.zeros(6, np.int64), 1)
    >>> axes, starts, kept = chain_axes(rows, order, bounds, half=2, tolerance=1.0)
    >>> axes[:, 1].round(2).tolist(), starts.tolist(), kept.tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0, 7], [True, True, True, False, True, True])
    """
    rows = np.ascontiguousarray(rows[:, :4], dtype=np.float64)
    order = np.ascontiguousarray(order, dtype=np.int64)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    z = rows[:, 0]
    first = z[order[bounds[:-1]]]
    span = (z[order[bounds[1:] - 1]] - first).astype(np.int64) + 1
    starts = np.concatenate([np.zeros(1, np.int64), np.cumsum(span)])
    out, kept = _settle(rows, order, bounds, int(half), float(tolerance), starts)
    return out[:, :4], starts, kept


@numba.njit(nogil=True, cache=True)
def _bands(
    y: np.ndarray,
    x: np.ndarray,
    b0: int,
    b1: int,
    width: float,
    starts: np.ndarray,
    by_x: np.ndarray,
    xs: np.ndarray,
) -> int:  # pragma: no cover
    """Rows ``b0:b1`` (sorted by ``y``) in bands of ``width`` along ``y`` from the first:
    band ``k`` holds ``by_x[starts[k]:starts[k + 1]]`` (sorted by ``x``, in ``xs``).
    Returns the last band."""
    last = int((y[b1 - 1] - y[b0]) / width)
    p = b0
    for k in range(last + 2):
        while p < b1 and int((y[p] - y[b0]) / width) < k:
            p += 1
        starts[k] = p
    for k in range(last + 1):
        s, e = starts[k], starts[k + 1]
        if e - s > 1:
            by_x[s:e] = s + np.argsort(x[s:e])
        elif e > s:
            by_x[s] = s
        for q in range(s, e):
            xs[q] = x[by_x[q]]
    return last


@numba.njit(nogil=True, cache=True)
def _near_pairs(
    y: np.ndarray,
    x: np.ndarray,
    runs: np.ndarray,
    reach: np.ndarray,
    size: np.ndarray,
    factor: float,
) -> np.ndarray:  # pragma: no cover
    """Pairs of :func:`near_pairs` (rows of the output, grown as they are found)."""
    n = y.size
    starts = np.empty(n + 2, np.int64)
    by_x = np.empty(n, np.int64)
    xs = np.empty(n)
    out = np.empty((max(n, 16), 2), np.int64)
    found = 0
    for t in range(runs.shape[0]):
        a0, a1, b0, b1 = runs[t, 0], runs[t, 1], runs[t, 2], runs[t, 3]
        r = reach[t]
        if a1 <= a0 or b1 <= b0 or not r >= 0:
            continue
        same = a0 == b0
        y0 = y[b0]
        # bands at least ``r`` wide (a row's partners lie in 2 or 3 of them), no more
        # bands than rows
        width = max(r, (y[b1 - 1] - y0) / (b1 - b0))
        if not width > 0:
            width = 1.0
        last = _bands(y, x, b0, b1, width, starts, by_x, xs)
        largest = 0.0
        if factor > 0:
            for j in range(b0, b1):
                largest = max(largest, size[j])
        for i in range(a0, a1):
            if factor > 0:  # no partner beyond factor × (its size + the largest)
                r = min(reach[t], factor * (size[i] + largest) * (1 + 1e-9))
            # widened by far more than the rounding of the bounds: no partner missed
            pad = 1e-9 * (abs(y[i]) + abs(x[i]) + abs(y0) + r)
            low = (y[i] - r - pad - y0) / width
            high = (y[i] + r + pad - y0) / width
            if high < 0 or low >= last + 1:
                continue
            k0 = int(low) if low > 0 else 0
            k1 = int(high) if high < last else last  # int() of a huge float overflows
            for k in range(k0, k1 + 1):
                s, e = starts[k], starts[k + 1]
                left = x[i] - r - pad
                while e - s > 8:  # the first row at or after ``left`` in x
                    mid = (s + e) // 2
                    if xs[mid - 1] < left:
                        s = mid
                    else:
                        e = mid
                q = s
                e = starts[k + 1]
                while q < e and xs[q] < left:
                    q += 1
                while q < e and xs[q] <= x[i] + r + pad:
                    j = by_x[q]
                    q += 1
                    if same and j <= i:
                        continue
                    dy = y[i] - y[j]
                    dx = x[i] - x[j]
                    d2 = dy * dy + dx * dx
                    if d2 > r * r:
                        continue
                    if factor > 0:
                        limit = factor * (size[i] + size[j]) * (1 + 1e-9)
                        if d2 > limit * limit:
                            continue
                    if found == out.shape[0]:
                        grown = np.empty((2 * found, 2), np.int64)
                        grown[:found] = out
                        out = grown
                    out[found, 0] = i
                    out[found, 1] = j
                    found += 1
    return out[:found].copy()


def near_pairs(
    y: np.ndarray,
    x: np.ndarray,
    runs: np.ndarray,
    reach: np.ndarray,
    size: np.ndarray | None = None,
    factor: float = 0.0,
) -> np.ndarray:
    """Pairs of rows within ``reach`` of each other in ``(y, x)``, between runs of rows.

    ``runs``: rows ``(a_start, a_stop, b_start, b_stop)``, each run of rows sorted by
    ``y``; for each, the pairs ``(i, j)``, ``i`` in ``a_start:a_stop`` and ``j`` in
    ``b_start:b_stop``, with ``(y_i - y_j)² + (x_i - x_j)² <= reach²`` (within one run,
    ``a_start == b_start``: ``i < j``), run after run, by ``i``. With ``size`` and a
    positive ``factor``, only the pairs within about ``factor × (size_i + size_j)`` too
    (a margin of 1e-9 of it: a superset of the pairs closer than that, to be checked);
    each row's partners are then searched within ``factor ×`` (its size + the largest
    of the ``b`` run).
    The ``b`` run is cut in bands along ``y`` at least ``reach`` wide, each sorted by
    ``x``: a row's partners lie in two or three bands, within ``reach`` in ``x`` of it
    (a binary search), so the cost is about linear in the rows where they are spread
    in ``y`` and ``x``.

    Examples
    --------
    >>> y, x = np.array([0.0, 1.0, 5.0, 0.5, 4.0]), np.array([0.0, 0.0, 0.0, 0.0, 9.0])
    >>> near_pairs(y, x, np.array([[0, 3, 0, 3], [3, 5, 0, 3]]), np.array([1.0, 1.0])).tolist()
    [[0, 1], [3, 0], [3, 1]]
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    x = np.ascontiguousarray(x, dtype=np.float64)
    runs = np.ascontiguousarray(runs, dtype=np.int64).reshape(-1, 4)
    reach = np.ascontiguousarray(reach, dtype=np.float64)
    size = np.zeros(len(y)) if size is None else np.ascontiguousarray(size, dtype=np.float64)
    if not (np.isfinite(y).all() and np.isfinite(x).all()):
        raise ValueError("near_pairs: y and x must be finite; leave out the rows without")
    if len(x) != len(y) or len(size) != len(y) or len(reach) != len(runs):
        raise ValueError(
            "near_pairs: x and size need one value per row of y, reach one per run "
            f"(got {len(y)} y, {len(x)} x, {len(size)} size, {len(runs)} runs, {len(reach)} reach)"
        )
    if not (reach >= 0).all():
        raise ValueError("near_pairs: reach must be a non-negative number (not NaN)")
    if runs.size and (runs.min() < 0 or runs.max() > len(y)):
        raise ValueError(f"near_pairs: runs must lie within the {len(y)} rows")
    return _near_pairs(y, x, runs, reach, size, float(factor))


@numba.njit(nogil=True, cache=True)
def _path_ids(below: np.ndarray, above: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover
    previous = np.full(n, -1, np.int64)
    for t in range(below.size):
        previous[above[t]] = below[t]
    ids = np.empty(n, np.int64)
    count = 0
    for i in range(n):
        if previous[i] < 0:
            count += 1
            ids[i] = count
        else:
            ids[i] = ids[previous[i]]
    return ids


def path_ids(below: np.ndarray, above: np.ndarray, n: int) -> np.ndarray:
    """Ids 1.. of the paths that links ``below[t] → above[t]`` make through rows
    ``0..n-1``, numbered in the order of each path's first row.

    Each row is linked at most once from below and once above, ``below[t] < above[t]``.

    Examples
    --------
    >>> path_ids(np.array([0, 2]), np.array([2, 3]), 5).tolist()
    [1, 2, 1, 1, 3]
    """
    below = np.ascontiguousarray(below, dtype=np.int64)
    above = np.ascontiguousarray(above, dtype=np.int64)
    if np.any(below >= above):
        raise ValueError("path_ids: each link goes from a row to a later row")
    return _path_ids(below, above, int(n))
