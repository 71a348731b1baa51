"""Compiled line kernels of the exact Euclidean distance transform (ops/distance.py).

Each works on a C-contiguous 2-D array of lines and writes one line of output per input
line: the squared distance to the nearest background voxel along the line
(:func:`binary_lines`), then the lower envelope of parabolas of Felzenszwalb and
Huttenlocher along each further axis (:func:`envelope_axis`, on a 3-D block as it is).
:func:`weighted_envelope_lines` takes weights of any sign instead of a background: with
the weights ``-r²`` of balls of radius ``r``, its envelope over every axis is negative
exactly inside their union.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def binary_lines(lines: np.ndarray, spacing: float, out: np.ndarray) -> None:  # pragma: no cover
    """Squared distance to the nearest zero of each line (inf when a line has none)."""
    n_lines, n = lines.shape
    for i in range(n_lines):
        last = -1
        for j in range(n):
            if not lines[i, j]:
                last = j
                out[i, j] = 0.0
            elif last >= 0:
                d = (j - last) * spacing
                out[i, j] = d * d
            else:
                out[i, j] = np.inf
        last = -1
        for j in range(n - 1, -1, -1):
            if not lines[i, j]:
                last = j
            elif last >= 0:
                d = (last - j) * spacing
                if d * d < out[i, j]:
                    out[i, j] = d * d


@numba.njit(cache=True, nogil=True)
def _segment_envelope(f, lo, hi, first, end, spacing, v, z, out):  # pragma: no cover
    """``out[p] = min_q f[q] + ((p - q) * spacing)**2`` for ``p`` in ``[first, end)``, over
    the finite ``f[q]`` with ``q`` in ``[lo, hi]`` (Felzenszwalb-Huttenlocher)."""
    k = -1
    for q in range(lo, hi + 1):
        fq = f[q]
        if not np.isfinite(fq):
            continue
        pq = q * spacing
        if k < 0:
            k = 0
            v[0] = q
            z[0] = -np.inf
            z[1] = np.inf
            continue
        while True:  # z[0] = -inf ends the loop at k = 0 at the latest
            r = v[k]
            pr = r * spacing
            s = ((fq + pq * pq) - (f[r] + pr * pr)) / (2.0 * (pq - pr))
            if s <= z[k]:
                k -= 1
            else:
                break
        k += 1
        v[k] = q
        z[k] = s
        z[k + 1] = np.inf
    if k < 0:
        for p in range(first, end):
            out[p] = np.inf
        return
    k = 0
    for p in range(first, end):
        pq = p * spacing
        while z[k + 1] < pq:
            k += 1
        d = pq - v[k] * spacing
        out[p] = d * d + f[v[k]]


@numba.njit(cache=True, nogil=True)
def _envelope_line(f, spacing, v, z, out):  # pragma: no cover
    """The lower envelope of one line whose zeros are the background: each run of
    non-zero values is done on its own, with the zero on either side of it (a parabola
    beyond the nearest zero never wins: that zero is nearer at height 0), and the zeros
    stay 0."""
    n = f.shape[0]
    q = 0
    while q < n:
        if f[q] == 0.0:
            out[q] = 0.0
            q += 1
            continue
        first = q
        while q < n and f[q] != 0.0:
            q += 1
        _segment_envelope(f, max(first - 1, 0), min(q, n - 1), first, q, spacing, v, z, out)


ENVELOPE_TILE = 16  # lines gathered at once: one 64-byte cache line of float32 per voxel


@numba.njit(cache=True, nogil=True)
def envelope_axis(f: np.ndarray, spacing: float, out: np.ndarray) -> None:  # pragma: no cover
    """``out[i, p, j] = min_q f[i, q, j] + ((p - q) * spacing)**2`` (3-D, lines along the
    middle axis; Felzenszwalb-Huttenlocher), for ``f`` that is 0 on the background.

    The lines are gathered :data:`ENVELOPE_TILE` at a time from the neighbouring ``j``
    (each cache line read once), so no transposed copy of the block is needed.
    """
    na, n, nb = f.shape
    tile = ENVELOPE_TILE
    lines = np.empty((tile, n))
    result = np.empty(n)
    v = np.empty(n, np.int64)
    z = np.empty(n + 1)
    for i in range(na):
        for j0 in range(0, nb, tile):
            width = min(tile, nb - j0)
            for q in range(n):
                for t in range(width):
                    lines[t, q] = f[i, q, j0 + t]
            for t in range(width):
                _envelope_line(lines[t], spacing, v, z, result)
                for q in range(n):
                    lines[t, q] = result[q]
            for q in range(n):
                for t in range(width):
                    out[i, q, j0 + t] = lines[t, q]


@numba.njit(cache=True, nogil=True)
def weighted_envelope_lines(
    f: np.ndarray, spacing: float, out: np.ndarray
) -> None:  # pragma: no cover
    """``out[i, p] = min_q f[i, q] + ((p - q) * spacing)**2`` over the finite ``f[i, q]``
    of each line, of any sign (``inf`` where a line has none): the lower envelope of
    parabolas of sampled weights, as for a union of balls (weights ``-radius²``)."""
    na, n = f.shape
    v = np.empty(n, np.int64)
    z = np.empty(n + 1)
    for i in range(na):
        _segment_envelope(f[i], 0, n - 1, 0, n, spacing, v, z, out[i])
