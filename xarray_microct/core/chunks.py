"""Chunk helpers: neighbourhood operations that give the whole-volume answer.

:func:`map_spatial_overlap` runs a per-block function over the three spatial axes with a
halo as deep as the kernel's reach (``boundary="none"``: the true volume border is
handled by the kernel's own boundary mode, exactly as on the whole array). Leading
``t``/``c`` axes are processed one index at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import dask.array as da
import numpy as np


def kernel_radius(sigma_voxels: Sequence[float], truncate: float) -> tuple[int, ...]:
    """Half-width in voxels of a Gaussian kernel truncated at ``truncate`` sigmas.

    The same rule as ``scipy.ndimage.gaussian_filter``: ``int(truncate * sigma + 0.5)``.

    Examples
    --------
    >>> kernel_radius((0.5, 2.0, 2.0), 4.0)
    (2, 8, 8)
    """
    return tuple(int(truncate * float(s) + 0.5) for s in sigma_voxels)


def ceil_radius(radius_voxels: Sequence[float]) -> tuple[int, ...]:
    """Whole voxels needed to cover a radius along each axis.

    Examples
    --------
    >>> ceil_radius((0.5, 2.0, 2.2))
    (1, 2, 3)
    """
    return tuple(math.ceil(float(r) - 1e-9) for r in radius_voxels)


def _spatial_only(func: Callable[..., np.ndarray], n_leading: int) -> Callable[..., np.ndarray]:
    if n_leading == 0:
        return func

    def per_index(block: np.ndarray, **kwargs: Any) -> np.ndarray:
        lead_shape = block.shape[:n_leading]
        flat = block.reshape((-1, *block.shape[n_leading:]))
        out = np.stack([func(b, **kwargs) for b in flat])
        return out.reshape(lead_shape + out.shape[1:])

    return per_index


def map_spatial_overlap(
    func: Callable[..., np.ndarray],
    data: da.Array,
    depth: Sequence[int],
    dtype: Any,
    **kwargs: Any,
) -> da.Array:
    """Apply ``func(block, **kwargs)`` with a halo of ``depth`` voxels on each spatial axis.

    ``func`` maps a 3-D block to a 3-D block of the same shape. The result equals
    ``func`` applied to the whole array whenever ``func``'s output at a voxel depends
    only on inputs within ``depth`` voxels of it (and ``func`` treats the array's own
    edges, which get no halo, the same way on a block as on the whole).

    Parameters
    ----------
    func : callable
        Per-block function on NumPy arrays.
    data : dask.array.Array
        Array whose last three axes are ``z, y, x``.
    depth : sequence of 3 int
        Halo per spatial axis, in voxels.
    dtype : dtype
        Output dtype.
    **kwargs
        Passed to ``func``.

    Returns
    -------
    dask.array.Array

    Examples
    --------
    >>> import scipy.ndimage as ndi
    >>> x = da.random.random((20, 20, 20), chunks=7)
    >>> y = map_spatial_overlap(ndi.uniform_filter, x, (1, 1, 1), x.dtype, size=3)
    >>> bool(np.allclose(y.compute(), ndi.uniform_filter(x.compute(), size=3)))
    True
    """
    n_leading = data.ndim - 3
    depth = tuple(int(d) for d in depth)
    if len(depth) != 3 or min(depth) < 0:
        raise ValueError(f"depth needs 3 non-negative values, got {depth}")
    chunks: dict[int, Any] = {i: 1 for i in range(n_leading)}
    full_depth = [0] * n_leading
    for axis, d in enumerate(depth, start=n_leading):
        size = data.shape[axis]
        if d >= size or (d > 0 and len(data.chunks[axis]) == 1):
            chunks[axis] = -1  # the whole axis in one block: no halo needed
            full_depth.append(0)
        else:
            full_depth.append(d)
    data = data.rechunk(chunks) if chunks else data
    block_func = _spatial_only(func, n_leading)
    if not any(full_depth):
        return data.map_blocks(block_func, dtype=dtype, **kwargs)
    out = da.map_overlap(
        block_func,
        data,
        depth=tuple(full_depth),
        boundary="none",
        trim=True,
        dtype=dtype,
        **kwargs,
    )
    # Dask merges chunks thinner than the halo; give the caller its chunking back.
    return out if out.chunks == data.chunks else out.rechunk(data.chunks)


def float_dtype(dtype: Any) -> np.dtype:
    """The float type a filter computes in: float64 stays float64, all else float32.

    Examples
    --------
    >>> float_dtype("uint16"), float_dtype("float64")
    (dtype('float32'), dtype('float64'))
    """
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)
