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
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph


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


def _halo_pieces(
    chunks: Sequence[int], index: int, halo: int
) -> tuple[tuple[int, int], list[tuple[int, slice]]]:
    """Along one axis: the halo ``(before, after)`` of chunk ``index`` (none past the
    array's ends) and the ``(chunk, cut)`` pieces its window is made of."""
    bounds = np.cumsum((0, *chunks))
    before = halo if index > 0 else 0
    after = halo if index < len(chunks) - 1 else 0
    start, stop = bounds[index] - before, bounds[index + 1] + after
    pieces = [
        (
            j,
            slice(
                int(max(start, bounds[j]) - bounds[j]), int(min(stop, bounds[j + 1]) - bounds[j])
            ),
        )
        for j in range(max(index - 1, 0), min(index + 2, len(chunks)))
        if bounds[j + 1] > start and bounds[j] < stop
    ]
    return (before, after), pieces


def _window_pieces(
    name: str, axes: list[list[tuple[int, slice]]], prefix: tuple[int, ...], cut: tuple[slice, ...]
) -> Any:
    """The nested list of cut chunks (for ``np.block``) of a window, from its pieces per axis."""
    if len(prefix) == len(axes):
        return (operator.getitem, (name, *prefix), cut)
    return [_window_pieces(name, axes, (*prefix, j), (*cut, s)) for j, s in axes[len(prefix)]]


def _window_call(
    func: Callable[..., np.ndarray],
    window: np.ndarray,
    halo: tuple[tuple[int, int], ...],
    index: tuple[int, ...],
    *scalars: np.ndarray,
) -> np.ndarray:
    return func(window, halo, index, *scalars)


def map_halo_blocks(
    func: Callable[..., np.ndarray],
    data: da.Array,
    depth: Sequence[int],
    chunks: tuple[tuple[int, ...], ...],
    dtype: Any,
    name: str,
    scalars: Sequence[da.Array] = (),
    new_axis: int | None = None,
) -> da.Array:
    """One task per chunk: ``func(window, halo, index, *scalars)`` on the chunk with its halo.

    ``window`` is the chunk of ``data`` at block ``index`` with up to ``depth[axis]``
    voxels of its neighbours on each side (none past the array's ends: ``halo`` gives
    the ``(before, after)`` voxels per axis), cut from the neighbouring chunks inside the
    task; ``func`` returns the output block of ``chunks`` at ``index``. Dask's overlap
    makes a task per piece of halo and one more to join them: on 25 chunks of a 3-D
    volume, 340 tasks that cost a worker process about 3 ms each and the scheduler as
    much. Every chunk must be at least ``depth`` thick (except along an axis of one
    chunk); ``scalars`` are 0-d Dask arrays passed as 0-d arrays. ``new_axis``: the
    output has one more axis, of one chunk, at this position.

    Examples
    --------
    >>> x = da.arange(10, chunks=4)
    >>> def sums(window, halo, index):  # each voxel plus its two neighbours
    ...     padded = np.pad(window, [(1 - h[0], 1 - h[1]) for h in halo], mode="edge")
    ...     return padded[:-2] + padded[1:-1] + padded[2:]
    >>> map_halo_blocks(sums, x, (1,), x.chunks, x.dtype, "sums").compute().tolist()
    [1, 3, 6, 9, 12, 15, 18, 21, 24, 26]
    """
    name = f"{name}-{tokenize(func, data, tuple(depth), chunks, dtype, *scalars)}"
    scalar_keys = [s.reshape(()).__dask_keys__()[0] for s in scalars]
    graph: dict[Any, Any] = {}
    for index in itertools.product(*(range(len(c)) for c in data.chunks)):
        axes = [
            _halo_pieces(c, i, d) if len(c) > 1 else ((0, 0), [(i, slice(None))])
            for c, i, d in zip(data.chunks, index, depth, strict=True)
        ]
        pieces = _window_pieces(data.name, [a[1] for a in axes], (), ())
        single = all(len(a[1]) == 1 for a in axes)  # no halo: the chunk itself, uncopied
        window = (operator.getitem, (data.name, *index), ()) if single else (np.block, pieces)
        where = index if new_axis is None else (*index[:new_axis], 0, *index[new_axis:])
        graph[(name, *where)] = (
            _window_call,
            func,
            window,
            tuple(a[0] for a in axes),
            index,
            *scalar_keys,
        )
    dependencies = [data, *(s.reshape(()) for s in scalars)]
    layers = HighLevelGraph.from_collections(name, graph, dependencies=dependencies)
    return da.Array(layers, name, chunks, dtype=dtype, meta=np.zeros((0,) * len(chunks), dtype))


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
    from dask.array.overlap import ensure_minimum_chunksize

    given_chunks = data.chunks
    data = data.rechunk(
        tuple(
            ensure_minimum_chunksize(d, c) if d else c
            for d, c in zip(full_depth, data.chunks, strict=True)
        )
    )
    out = map_halo_blocks(
        functools.partial(_trimmed_block, func=block_func, kwargs=kwargs),
        data,
        full_depth,
        data.chunks,
        dtype,
        getattr(func, "__name__", "overlap"),
    )
    # chunks thinner than the halo were merged; give the caller its chunking back
    return out if out.chunks == given_chunks else out.rechunk(given_chunks)


def _trimmed_block(
    window: np.ndarray,
    halo: tuple[tuple[int, int], ...],
    index: tuple[int, ...],
    func: Callable[..., np.ndarray],
    kwargs: dict[str, Any],
) -> np.ndarray:
    """``func`` on a chunk's window, its halo trimmed off."""
    out = func(window, **kwargs)
    return out[tuple(slice(a, n - b) for (a, b), n in zip(halo, out.shape, strict=True))]


def _interior_block(
    window: np.ndarray,
    halo: tuple[tuple[int, int], ...],
    index: tuple[int, ...],
    *scalar_blocks: np.ndarray,
    func: Callable[..., np.ndarray],
    n_leading: int,
    starts: list[list[int]],
    scalar_names: tuple[str, ...],
    kwargs: dict[str, Any],
) -> np.ndarray:
    """Run ``func`` on one chunk's window (see :func:`map_halo_blocks`): its interior, for
    every leading index."""
    spatial = window.shape[n_leading:]
    low = tuple(h[0] for h in halo[n_leading:])
    shape = tuple(s - a - b for s, (a, b) in zip(spatial, halo[n_leading:], strict=True))
    start = tuple(s[i] - lo for s, i, lo in zip(starts, index[n_leading:], low, strict=True))
    values = {
        name: float(np.asarray(b).reshape(-1)[0])
        for name, b in zip(scalar_names, scalar_blocks, strict=True)
    }

    def one(b: np.ndarray) -> np.ndarray:
        return func(b, origin=low, shape=shape, start=start, **values, **kwargs)

    if n_leading == 0:
        return one(window)
    lead = window.shape[:n_leading]
    out = np.stack([one(b) for b in window.reshape((-1, *spatial))])
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
    scalars = scalars or {}
    out_chunks: tuple[Any, ...] = data.chunks
    wanted: tuple[Any, ...] = given_chunks
    if new_axis_size is not None:
        extra = ((new_axis_size,),)
        out_chunks = (*data.chunks[:n_leading], *extra, *data.chunks[n_leading:])
        wanted = (*given_chunks[:n_leading], *extra, *given_chunks[n_leading:])
    out = map_halo_blocks(
        functools.partial(
            _interior_block,
            func=func,
            n_leading=n_leading,
            starts=[np.cumsum((0, *c[:-1])).tolist() for c in data.chunks[n_leading:]],
            scalar_names=tuple(scalars),
            kwargs=kwargs,
        ),
        data,
        [0] * n_leading + halo,
        out_chunks,
        dtype,
        token or getattr(func, "__name__", "interior"),
        scalars=[v.astype(np.float64) for v in scalars.values()],
        new_axis=n_leading if new_axis_size is not None else None,
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
