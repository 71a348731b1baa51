"""Chunk helpers: neighbourhood operations that give the whole-volume answer.

:func:`map_spatial_overlap` runs a per-block function over the three spatial axes with a
halo as deep as the kernel's reach (``boundary="none"``: the true volume border is
handled by the kernel's own boundary mode, exactly as on the whole array);
:func:`map_spatial_interior` does the same for functions that compute only each chunk's
interior, told where it lies in the block and in the volume. Leading ``t``/``c`` axes
are processed one index at a time.
"""

from __future__ import annotations

import functools
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


def _interior_block(
    block: np.ndarray,
    *scalar_blocks: np.ndarray,
    block_info: dict | None = None,
    func: Callable[..., np.ndarray],
    halo: tuple[int, ...],
    n_leading: int,
    starts: list[list[int]],
    scalar_names: tuple[str, ...],
    kwargs: dict[str, Any],
) -> np.ndarray:
    """Run ``func`` on one overlapped block: its interior, for every leading index."""
    if block_info is None:
        raise TypeError("_interior_block runs under dask.array.map_blocks (needs block_info)")
    where = block_info[0]["chunk-location"][n_leading:]
    count = block_info[0]["num-chunks"][n_leading:]
    spatial = block.shape[n_leading:]
    low = tuple(h if i > 0 else 0 for h, i in zip(halo, where, strict=True))
    high = [h if i < n - 1 else 0 for h, i, n in zip(halo, where, count, strict=True)]
    shape = tuple(s - lo - hi for s, lo, hi in zip(spatial, low, high, strict=True))
    start = tuple(s[i] - lo for s, i, lo in zip(starts, where, low, strict=True))
    values = {
        name: float(np.asarray(b).reshape(-1)[0])
        for name, b in zip(scalar_names, scalar_blocks, strict=True)
    }

    def one(b: np.ndarray) -> np.ndarray:
        return func(b, origin=low, shape=shape, start=start, **values, **kwargs)

    if n_leading == 0:
        return one(block)
    lead = block.shape[:n_leading]
    out = np.stack([one(b) for b in block.reshape((-1, *spatial))])
    return out.reshape(lead + out.shape[1:])


def map_spatial_interior(
    func: Callable[..., np.ndarray],
    data: da.Array,
    depth: Sequence[int],
    dtype: Any,
    *,
    new_axis_size: int | None = None,
    scalars: dict[str, da.Array] | None = None,
    token: str | None = None,
    **kwargs: Any,
) -> da.Array:
    """Compute each chunk's interior from the chunk with a halo of ``depth`` voxels.

    Like :func:`map_spatial_overlap`, but ``func`` computes only the interior, knowing
    where it lies: ``func(block, origin=, shape=, start=, **scalars, **kwargs)`` gets a
    3-D block (the chunk plus up to ``depth`` voxels of halo per side, none at the
    volume's border), the interior's ``origin`` and ``shape`` in it, and ``start``, the
    index in the whole volume of the block's first voxel; it returns an array of shape
    ``shape`` (or ``(new_axis_size, *shape)``). Chunks thinner than the halo are merged
    for the work and the caller's chunking is restored.

    Parameters
    ----------
    func : callable
        Per-block function on NumPy arrays, as above.
    data : dask.array.Array
        Array whose last three axes are ``z, y, x`` (leading axes: one index at a time).
    depth : sequence of 3 int
        Halo per spatial axis, in voxels.
    dtype : dtype
        Output dtype.
    new_axis_size : int, optional
        ``func`` returns this many values per voxel, on a new axis before ``z``.
    scalars : dict of str to 0-d dask arrays, optional
        Lazy scalars (e.g. a global statistic) passed to ``func`` as floats by name.
    token : str, optional
        Prefix of the graph's keys.
    **kwargs
        Passed to ``func``.

    Returns
    -------
    dask.array.Array
        Same chunks as ``data`` (with the new axis, if any).

    Examples
    --------
    >>> import scipy.ndimage as ndi
    >>> def smooth(block, origin, shape, start, size):
    ...     inner = tuple(slice(o, o + n) for o, n in zip(origin, shape))
    ...     return ndi.uniform_filter(block, size=size)[inner]
    >>> x = da.random.random((20, 20, 20), chunks=7)
    >>> y = map_spatial_interior(smooth, x, (1, 1, 1), x.dtype, size=3)
    >>> bool(np.allclose(y.compute(), ndi.uniform_filter(x.compute(), size=3)))
    True
    """
    from dask.array.overlap import ensure_minimum_chunksize

    n_leading = data.ndim - 3
    halo = [int(d) for d in depth]
    if len(halo) != 3 or min(halo) < 0:
        raise ValueError(f"depth needs 3 non-negative values, got {tuple(depth)}")
    chunks: list[Any] = [1] * n_leading
    for axis, d in enumerate(halo):
        axis_chunks = data.chunks[n_leading + axis]
        if len(axis_chunks) == 1 or d == 0:
            chunks.append(axis_chunks)
            halo[axis] = 0
        elif d >= data.shape[n_leading + axis]:
            chunks.append(-1)  # the reach spans the axis: process it whole
            halo[axis] = 0
        else:
            chunks.append(ensure_minimum_chunksize(d, axis_chunks))
    given_chunks = data.chunks
    data = data.rechunk(tuple(chunks))
    overlapped = da.overlap.overlap(
        data,
        depth={n_leading + a: d for a, d in enumerate(halo)},
        boundary={n_leading + a: "none" for a in range(3)},
    )
    scalars = scalars or {}
    args = [overlapped]
    args += [v.astype(np.float64).reshape((1,) * data.ndim) for v in scalars.values()]
    out_chunks: tuple[Any, ...] = data.chunks
    wanted: tuple[Any, ...] = given_chunks
    if new_axis_size is not None:
        extra = ((new_axis_size,),)
        out_chunks = (*data.chunks[:n_leading], *extra, *data.chunks[n_leading:])
        wanted = (*given_chunks[:n_leading], *extra, *given_chunks[n_leading:])
    out = da.map_blocks(
        functools.partial(
            _interior_block,
            func=func,
            halo=tuple(halo),
            n_leading=n_leading,
            starts=[np.cumsum((0, *c[:-1])).tolist() for c in data.chunks[n_leading:]],
            scalar_names=tuple(scalars),
            kwargs=kwargs,
        ),
        *args,
        chunks=out_chunks,
        new_axis=[n_leading] if new_axis_size is not None else None,
        dtype=dtype,
        token=token,
    )
    return out if out.chunks == wanted else out.rechunk(wanted)


def float_dtype(dtype: Any) -> np.dtype:
    """The float type a filter computes in: float64 stays float64, all else float32.

    Examples
    --------
    >>> float_dtype("uint16"), float_dtype("float64")
    (dtype('float32'), dtype('float64'))
    """
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)
