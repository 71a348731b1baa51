"""Compiled per-block downsampling: the separable decimating filter and the block mode.

Both run without the GIL, on NumPy arrays whose last three axes are the spatial ones
(leading axes are looped over). The pyramid verbs (:mod:`xarray_microct.ops.pyramid`)
call them on the windows that :mod:`xarray_microct.core.blocks.windows` assembles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

__all__ = ["block_mode", "decimate"]


@numba.njit(nogil=True, cache=True)
def _decimate3(
    a: np.ndarray,
    wz: np.ndarray,
    fz: int,
    wy: np.ndarray,
    fy: int,
    wx: np.ndarray,
    fx: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled; checked through decimate
    """``out[i, j, k] = sum wz[s] wy[t] wx[u] a[fz*i+s, fy*j+t, fx*k+u]``, plane by plane.

    Separable: each output plane first sums its input planes (contiguous), then its
    rows, then its columns, so the working set is a few planes (cache-sized).
    """
    m0, m1, m2 = out.shape
    ny, nx = a.shape[1], a.shape[2]
    plane = np.empty((ny, nx), dtype=wz.dtype)
    rows = np.empty((m1, nx), dtype=wz.dtype)
    for i in range(m0):
        plane[:, :] = 0
        for s in range(wz.shape[0]):
            w = wz[s]
            src = a[fz * i + s]
            for y in range(ny):
                for x in range(nx):
                    plane[y, x] += w * src[y, x]
        rows[:, :] = 0
        for j in range(m1):
            for t in range(wy.shape[0]):
                w = wy[t]
                for x in range(nx):
                    rows[j, x] += w * plane[fy * j + t, x]
        for j in range(m1):
            for k in range(m2):
                acc = wx.dtype.type(0)
                for u in range(wx.shape[0]):
                    acc += wx[u] * rows[j, fx * k + u]
                out[i, j, k] = acc


def decimate(
    window: np.ndarray, weights: Sequence[np.ndarray], factors: Sequence[int]
) -> np.ndarray:
    """Filter and decimate the last three axes: one output voxel per ``factors`` step.

    ``out[..., i, j, k] = sum wz[s] wy[t] wx[u] window[..., fz*i+s, fy*j+t, fx*k+u]``,
    computed in the weights' dtype; an axis of ``n`` voxels filtered by ``w`` taps gives
    ``(n - len(w)) // f + 1`` voxels (the window holds the halo the taps need).

    Examples
    --------
    >>> block_sums = decimate(np.arange(8.0).reshape(2, 2, 2), [np.ones(2)] * 3, (2, 2, 2))
    >>> block_sums
    array([[[28.]]])
    """
    window = np.ascontiguousarray(window)  # one compiled layout per dtype
    n_lead = window.ndim - 3
    spatial = window.shape[n_lead:]
    m = tuple((n - len(w)) // f + 1 for n, w, f in zip(spatial, weights, factors, strict=True))
    flat = window.reshape((-1, *spatial))
    out = np.empty((flat.shape[0], *m), dtype=weights[0].dtype)
    for index in range(flat.shape[0]):
        _decimate3(
            flat[index],
            weights[0],
            int(factors[0]),
            weights[1],
            int(factors[1]),
            weights[2],
            int(factors[2]),
            out[index],
        )
    return out.reshape(window.shape[:n_lead] + m)


@numba.njit(nogil=True, cache=True)
def _mode3(
    a: np.ndarray, fz: int, fy: int, fx: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled; checked through block_mode
    """``out[i, j, k]``: the most frequent value of its block (ties: the smallest)."""
    votes = np.empty(fz * fy * fx, dtype=a.dtype)
    m0, m1, m2 = out.shape
    for i in range(m0):
        for j in range(m1):
            for k in range(m2):
                n = 0
                for s in range(fz):
                    for t in range(fy):
                        for u in range(fx):
                            votes[n] = a[fz * i + s, fy * j + t, fx * k + u]
                            n += 1
                best = votes[0]
                best_count = 0
                for p in range(n):
                    value = votes[p]
                    count = 0
                    for q in range(n):
                        if votes[q] == value:
                            count += 1
                    if count > best_count or (count == best_count and value < best):
                        best = value
                        best_count = count
                out[i, j, k] = best


def block_mode(values: np.ndarray, factor: Sequence[int]) -> np.ndarray:
    """Most frequent value of each block of ``factor`` voxels (ties: the smallest value).

    Only whole blocks are used (trailing voxels that do not fill a block are dropped).
    The last three axes are the spatial ones; leading axes are kept.

    Examples
    --------
    >>> labels = np.array([[[1, 1], [2, 3]], [[2, 2], [3, 3]]])
    >>> block_mode(labels, (2, 2, 2))   # 2 and 3 tie with three votes: 2 wins
    array([[[2]]])
    """
    n_lead = values.ndim - 3
    m = tuple(n // f for n, f in zip(values.shape[n_lead:], factor, strict=True))
    work = np.ascontiguousarray(values.view(np.uint8) if values.dtype == np.bool_ else values)
    flat = work.reshape((-1, *work.shape[n_lead:]))
    out = np.empty((flat.shape[0], *m), dtype=work.dtype)
    for index in range(flat.shape[0]):
        _mode3(flat[index], int(factor[0]), int(factor[1]), int(factor[2]), out[index])
    out = out.reshape(values.shape[:n_lead] + m)
    return out.view(np.bool_) if values.dtype == np.bool_ else out
