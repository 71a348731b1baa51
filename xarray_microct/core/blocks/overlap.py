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
from collections.abc import Callable, Sequence
from typing import Any

import dask.array as da
import numpy as np
from dask.array.overlap import ensure_minimum_chunksize
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

# Blocks up to this size get their halos by one task each, their neighbours taken whole
# (see halo_blocks)
WHOLE_NEIGHBOURS_BYTES = 2**20


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


def _halo_pieces(chunks: Sequence[int], depth: int) -> list[list[tuple[int, slice]]]:
    """For each block along one axis, the blocks (index, slice) its halo'd block is made of.

    The block with ``depth`` voxels on each side where the axis has them (none beyond
    its ends), in order; a halo may reach past a thin neighbour into the next.

    Examples
    --------
    >>> _halo_pieces((4, 4, 4), 1)
    [[(0, slice(0, 4, None)), (1, slice(0, 1, None))], \
[(0, slice(3, 4, None)), (1, slice(0, 4, None)), (2, slice(0, 1, None))], \
[(1, slice(3, 4, None)), (2, slice(0, 4, None))]]
    """
    bounds = np.cumsum((0, *chunks)).tolist()
    pieces = []
    for start, stop in itertools.pairwise(bounds):
        low, high = max(start - depth, 0), min(stop + depth, bounds[-1])
        pieces.append([
            (i, slice(max(low, a) - a, min(high, b) - a))
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
            if a < high and b > low
        ])
    return pieces


def _assemble(blocks: list[np.ndarray], grid: tuple[int, ...], cuts: tuple) -> np.ndarray:
    """One halo'd block from its neighbours: ``blocks`` in C order over ``grid``, each
    cut by one slice per axis (``cuts[axis][position]``), then joined axis by axis."""
    arrays = [
        block[tuple(cuts[axis][i] for axis, i in enumerate(where))]
        for block, where in zip(blocks, np.ndindex(*grid), strict=True)
    ]
    for axis in reversed(range(len(grid))):
        n = grid[axis]
        arrays = [np.concatenate(arrays[k : k + n], axis=axis) for k in range(0, len(arrays), n)]
    return arrays[0]


def halo_blocks(data: da.Array, depth: Sequence[int]) -> da.Array:
    """Each block of ``data`` with ``depth[axis]`` voxels of its neighbours on each side.

    The same array as ``dask.array.overlap.overlap(data, depth, boundary="none")`` (no
    halo beyond the array's ends). For blocks of up to ``WHOLE_NEIGHBOURS_BYTES`` it is
    made by one task per block that cuts the halo from its neighbour blocks and joins
    it, where Dask's overlap makes a task of every piece (for 2 × 4 × 4 blocks, 32
    tasks instead of 432); larger blocks get Dask's overlap.

    Lab book (2026-12-04). On a distributed cluster every task costs the scheduler and
    the workers a few milliseconds whatever it does: ``microct run beads`` on a stored
    128 × 256² tube of beads in 64³ chunks (32 blocks, uint16; 1826 beads, five halos
    in its chain) ran 5259 tasks, 2084 of them the halos' pieces (0.1 ms of work each);
    with ``--workers 2`` the workers spent 24.5 CPU seconds for 14.2 s of tasks and the
    command's process (the scheduler) 11.5 s for 3 s of its own work. One task per
    block: 3099 tasks (the graph 5725 → 3469), workers 21.6 s, scheduler 9.9 s; the
    whole run, median of 3 interleaved rounds on a loaded 2-core machine, 44.4 → 39.2
    CPU seconds and 28.5 → 26.0 s wall (threads: 16.7 → 17.4 CPU seconds, within the
    noise), the labels the same voxel for voxel. The cost: a neighbour block held by
    the other worker travels whole instead of its slab. For the fiber pipeline's
    blocks (64 × 256² float32, 16 MiB, a 64 × 768² bed of 9 chunks) that raised the
    peak memory of ``--workers 2`` from 1.63-1.71 to 1.80-1.82 GiB for no gain in CPU
    time (38.6-39.9 → 35.0-39.3 s), hence the bound: large blocks have few tasks for
    their work, and their slabs travel alone. At 4 MiB the fiber detection's blocks of
    12 × 200² float32 (1.9 MiB) sent their whole chunks between the workers
    (``tests/test_placement.py``), so the bound is 1 MiB (a 64³ float32 block).

    Parameters
    ----------
    data : dask.array.Array
        Any array.
    depth : sequence of int
        Halo per axis, in voxels (0: none along that axis); at most the size of each
        neighbouring block for blocks over the bound (Dask's overlap).

    Returns
    -------
    dask.array.Array
        Block ``i`` along an axis spans the voxels ``start_i - depth`` to
        ``stop_i + depth`` of ``data``, clipped to the array.

    Examples
    --------
    >>> x = da.arange(24, chunks=5).reshape(4, 6).rechunk((2, 3))
    >>> halo = halo_blocks(x, (1, 1))
    >>> halo.chunks
    ((3, 3), (4, 4))
    >>> reference = da.overlap.overlap(x, depth=(1, 1), boundary="none")
    >>> bool((halo.compute() == reference.compute()).all())
    True
    """
    depth = tuple(int(d) for d in depth)
    if len(depth) != data.ndim or min(depth, default=0) < 0:
        raise ValueError(f"depth needs {data.ndim} non-negative values, got {depth}")
    if not any(depth):
        return data
    largest = math.prod(max(c, default=0) for c in data.chunks) * data.dtype.itemsize
    if largest > WHOLE_NEIGHBOURS_BYTES:
        return da.overlap.overlap(data, depth=depth, boundary="none")
    pieces = [_halo_pieces(c, d) for c, d in zip(data.chunks, depth, strict=True)]
    chunks = tuple(
        tuple(sum(s.stop - s.start for _, s in p) for p in axis) for axis in pieces
    )
    name = f"halo-{tokenize(data, depth)}"
    dsk = {}
    for index in np.ndindex(*data.numblocks):
        parts = [pieces[axis][i] for axis, i in enumerate(index)]
        grid = tuple(len(p) for p in parts)
        keys = [(data.name, *(parts[a][j][0] for a, j in enumerate(where)))
                for where in np.ndindex(*grid)]
        cuts = tuple(tuple(s for _, s in p) for p in parts)
        dsk[(name, *index)] = (_assemble, keys, grid, cuts)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[data])
    return da.Array(graph, name, chunks=chunks, meta=data._meta)


def _trimmed(block: np.ndarray, *, func: Callable[..., np.ndarray], depth: tuple[int, ...],
             numblocks: tuple[int, ...], block_info: dict | None = None,
             **kwargs: Any) -> np.ndarray:
    """``func`` on a halo'd block, cut back to the block (no halo at the array's ends)."""
    where = block_info[0]["chunk-location"]
    out = func(block, **kwargs)
    return out[tuple(
        slice(d if i > 0 else 0, out.shape[axis] - (d if i < n - 1 else 0))
        for axis, (d, i, n) in enumerate(zip(depth, where, numblocks, strict=True))
    )]


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
    given_chunks = data.chunks
    # chunks thinner than the halo merged with a neighbour, as Dask's map_overlap does
    data = data.rechunk(tuple(
        ensure_minimum_chunksize(d, c) if d else c
        for d, c in zip(full_depth, data.chunks, strict=True)
    ))
    out = halo_blocks(data, full_depth).map_blocks(
        functools.partial(
            _trimmed, func=block_func, depth=tuple(full_depth), numblocks=data.numblocks
        ),
        chunks=data.chunks,
        dtype=dtype,
        token=getattr(func, "__name__", "overlap"),
        **kwargs,
    )
    # give the caller its chunking back
    return out if out.chunks == given_chunks else out.rechunk(given_chunks)


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
    overlapped = halo_blocks(data, [0] * n_leading + halo)
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
