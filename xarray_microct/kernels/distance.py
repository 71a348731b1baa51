"""Compiled line kernels of the exact Euclidean distance transform (ops/distance.py).

Each works on a C-contiguous 2-D array of lines and writes one line of output per input
line: the squared distance to the nearest background voxel along the line
(:func:`binary_lines`), then the lower envelope of parabolas of Felzenszwalb and
Huttenlocher along each further axis (:func:`envelope_lines`).
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
def envelope_lines(f: np.ndarray, spacing: float, out: np.ndarray) -> None:  # pragma: no cover
    """``out[p] = min_q f[q] + ((p - q) * spacing)**2`` per line (Felzenszwalb–Huttenlocher)."""
    n_lines, n = f.shape
    v = np.empty(n, np.int64)
    z = np.empty(n + 1, np.float64)
    for i in range(n_lines):
        k = -1
        for q in range(n):
            fq = np.float64(f[i, q])
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
                s = ((fq + pq * pq) - (np.float64(f[i, r]) + pr * pr)) / (2.0 * (pq - pr))
                if s <= z[k]:
                    k -= 1
                else:
                    break
            k += 1
            v[k] = q
            z[k] = s
            z[k + 1] = np.inf
        if k < 0:
            for q in range(n):
                out[i, q] = np.inf
            continue
        k = 0
        for q in range(n):
            pq = q * spacing
            while z[k + 1] < pq:
                k += 1
            d = pq - v[k] * spacing
            out[i, q] = d * d + f[i, v[k]]
