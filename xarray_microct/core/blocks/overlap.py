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
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

from xarray_microct.core.blocks.placement import (
    BorderFirst,
    cluster_threads,
    grid_hint,
    hinted_layer,
)


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
    >>> _halo_pieces((4, 4, 4), 1)  # doctest: +NORMALIZE_WHITESPACE
    [[(0, slice(0, 4, None)), (1, slice(0, 1, None))],
     [(0, slice(3, 4, None)), (1, slice(0, 4, None)), (2, slice(0, 1, None))],
     [(1, slice(3, 4, None)), (2, slice(0, 4, None))]]
    """
    bounds = np.cumsum((0, *chunks)).tolist()
    pieces = []
    for start, stop in itertools.pairwise(bounds):
        low, high = max(start - depth, 0), min(stop + depth, bounds[-1])
        pieces.append(
            [
                (i, slice(max(low, a) - a, min(high, b) - a))
                for i, (a, b) in enumerate(itertools.pairwise(bounds))
                if a < high and b > low
            ]
        )
    return pieces


def _cut_slabs(block: np.ndarray, cuts: tuple[tuple[slice, ...], ...]) -> tuple[np.ndarray, ...]:
    """The slabs of ``block`` its neighbours need: views, as Dask's overlap cuts its pieces
    (sent to another worker, a view travels alone)."""
    return tuple(block[cut] for cut in cuts)


def _join_halo(
    parts: list[Any],
    picks: tuple[int | tuple[slice, ...] | None, ...],
    places: tuple[tuple[slice, ...], ...],
    shape: tuple[int, ...],
) -> np.ndarray:
    """One block with its halo: ``parts[i]`` (the block itself where ``picks[i]`` is None,
    else slab ``picks[i]`` of a neighbour's cut, or the slices ``picks[i]`` of a
    neighbour's whole block) written at ``places[i]``."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0] if picks[0] is None else parts[0][picks[0]]
    out = np.empty(shape, dtype=first.dtype)
    for part, pick, place in zip(parts, picks, places, strict=True):
        out[place] = part if pick is None else part[pick]
    return out


def halo_blocks(data: da.Array, depth: Sequence[int]) -> da.Array:
    """Each block of ``data`` with ``depth[axis]`` voxels of its neighbours on each side.

    The same array as ``dask.array.overlap.overlap(data, depth, boundary="none")`` (no
    halo beyond the array's ends) in two tasks per block where Dask's overlap makes a
    task of every piece (26 neighbours' pieces a block in 3-D): per source block one
    task cuts every slab its neighbours need (a tuple of views of it), and per block one
    task writes the block and the slabs it needs into its halo'd block. No task takes a
    neighbour's whole block: only slabs travel between workers. Where the blocks of
    ``data`` are hinted to the workers of a cluster (a root of the same block grid,
    :func:`~xarray_microct.core.blocks.placement.spread_over_workers`), a source block
    cuts one tuple per worker its neighbours are hinted to, hinted where the block is:
    the tuple that crosses to the other worker holds the slabs of that worker's blocks
    only. A neighbour in the same memory (hinted to the same worker, or every block
    without a cluster) is sliced by the join itself, without a cut task.

    Lab book (2026-12-04). On a distributed cluster every task costs the scheduler and
    the workers a few milliseconds whatever it does: ``microct run beads --workers 2``
    on a stored 128 × 256² tube of beads in 64³ chunks (32 blocks, five halos in the
    chain) ran 5259 tasks, 2084 of them Dask's halo pieces; with two tasks a block,
    3259. Tried before and withdrawn: one task per block cutting its halo from its
    whole neighbour blocks (3099 tasks), which sent whole blocks between the workers
    (the fiber pipeline's peak memory +10 %). The slabs are views of the block, as
    Dask's pieces are: copies (so that the block could be released) cost more CPU
    seconds and did not lower the peak memory (the measurements:
    ``docs/running.md``, "the bead chain pays for its number of tasks").

    A view keeps its whole block until the last neighbour that needs it has joined.
    Traced (2026-12-04, loaded 2-core machine) with a sampler in each worker of the
    keys it holds and of the arrays their views keep: ``microct run fibers --workers
    2`` on a stored 64 × 768² bed in 64 × 256² chunks (two halos, of 12 and 15 voxels
    in y and x: slabs of 0.10-0.25 of a block), slab tuples of 1-3 MiB kept whole
    blocks of 8 and 16 MiB, up to 44 and 70 MiB per worker beyond their slabs (at most
    178 and 222 MiB held), in another run up to 63 MiB at a worker's own peak. Tried and
    withdrawn: a source's slabs copied when they hold at most half of its block's
    voxels (a copy then adds less than the rest of the block it lets go), views
    otherwise. It kept no block (at most 173 and 174 MiB held), but the process tree's
    peak RSS did not fall, interleaved (the machine's load 4-8), both trees with a fresh
    Numba cache of the same 43 kernels: 1.53-1.61 GiB with views, 1.55-1.66 with copies
    (3 runs each), 16.4 and 17.3 CPU seconds (medians); the same 271984 rows. Beads (128
    × 256² tube, 64³ chunks, 2 rounds, copies but for the distance map's 9-voxel halo):
    ``--workers 2`` 1.13-1.14 and 1.13-1.15 GiB, 27.4-30.5 and 21.4-28.1 CPU seconds;
    the same labels. A tree's Numba cache weighs on the peak: each process loads every
    kernel its cache holds (:func:`~xarray_microct.cluster.load_cached_kernels`), and a
    cache grown by the tests (101 entries against 43) added about 0.1 GiB to the tree's
    peak (views: 1.67-1.71 GiB in 4 runs against 1.53-1.61 in 3, on the same day). With
    a fresh cache for both, Dask's overlap 1.66-1.67 GiB and 16.6-17.5 CPU seconds, the
    slab views 1.58-1.64 and 15.8-17.0 (2 rounds interleaved, the same rows): the rise
    of 1.70 to 1.78 GiB measured before was within the caches' difference (44 entries
    for Dask's overlap, 101 for the views).

    Parameters
    ----------
    data : dask.array.Array
        Any array.
    depth : sequence of int
        Halo per axis, in voxels (0: none along that axis).

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
    pieces = [_halo_pieces(c, d) for c, d in zip(data.chunks, depth, strict=True)]
    chunks = tuple(tuple(sum(s.stop - s.start for _, s in p) for p in axis) for axis in pieces)
    hint = grid_hint(data)
    worker = (lambda b: hint((data.name, *b))[0]) if hint is not None else (lambda b: "")
    # a neighbour in the same memory (the threaded scheduler, or hinted to the same
    # worker) is sliced by the join itself: a cut task would only add a task
    direct = hint is not None or not cluster_threads()
    # the cuts' names say what they hold: two plans with other workers (on one
    # scheduler) group the slabs otherwise
    token = tokenize(data, depth, direct, [worker(b) for b in np.ndindex(*data.numblocks)])
    name, cut_name = f"halo-{token}", f"halo-slabs-{token}"
    groups: dict[tuple[int, ...], list[str]] = {}  # per source, the workers it cuts for
    cuts: dict[Any, list[tuple[slice, ...]]] = {}  # per cut key, its slabs
    joins: dict[Any, Any] = {}
    for index in np.ndindex(*data.numblocks):
        parts = [pieces[axis][i] for axis, i in enumerate(index)]
        offsets = [np.cumsum([0] + [s.stop - s.start for _, s in p]).tolist() for p in parts]
        keys: list[Any] = []
        picks: list[int | tuple[slice, ...] | None] = []
        places = []
        for where in np.ndindex(*(len(p) for p in parts)):
            source = tuple(parts[axis][j][0] for axis, j in enumerate(where))
            places.append(
                tuple(slice(offsets[a][j], offsets[a][j + 1]) for a, j in enumerate(where))
            )
            if source == index:
                keys.append((data.name, *index))
                picks.append(None)
                continue
            if direct and worker(source) == worker(index):
                keys.append((data.name, *source))
                picks.append(tuple(parts[axis][j][1] for axis, j in enumerate(where)))
                continue
            targets = groups.setdefault(source, [])
            if worker(index) not in targets:
                targets.append(worker(index))
            key = (cut_name, *source, targets.index(worker(index)))
            slabs = cuts.setdefault(key, [])
            keys.append(key)
            picks.append(len(slabs))
            slabs.append(tuple(parts[axis][j][1] for axis, j in enumerate(where)))
        shape = tuple(c[i] for c, i in zip(chunks, index, strict=True))
        joins[(name, *index)] = (_join_halo, keys, tuple(picks), tuple(places), shape)
    cut_tasks = {
        key: (_cut_slabs, (data.name, *key[1:-1]), tuple(slabs)) for key, slabs in cuts.items()
    }
    cut_layer: MaterializedLayer = MaterializedLayer(cut_tasks)
    if hint is not None:  # each cut where its source block is, in its block's turn
        first = BorderFirst(hint)
        cut_layer = hinted_layer(
            cut_tasks,
            {key: hint((data.name, *key[1:-1])) for key in cut_tasks},
            {key: first((data.name, *key[1:-1])) for key in cut_tasks},
        )
    graph = HighLevelGraph(
        {**data.dask.layers, cut_name: cut_layer, name: MaterializedLayer(joins)},
        {**data.dask.dependencies, cut_name: {data.name}, name: {data.name, cut_name}},
    )
    return da.Array(graph, name, chunks=chunks, meta=data._meta)


def _trimmed(
    block: np.ndarray,
    *,
    func: Callable[..., np.ndarray],
    depth: tuple[int, ...],
    numblocks: tuple[int, ...],
    block_info: dict | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """``func`` on a halo'd block, cut back to the block (no halo at the array's ends)."""
    if block_info is None:
        raise TypeError("_trimmed runs under dask.array.map_blocks (needs block_info)")
    where = block_info[0]["chunk-location"]
    out = func(block, **kwargs)
    return out[
        tuple(
            slice(d if i > 0 else 0, out.shape[axis] - (d if i < n - 1 else 0))
            for axis, (d, i, n) in enumerate(zip(depth, where, numblocks, strict=True))
        )
    ]


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
    data = data.rechunk(
        tuple(
            ensure_minimum_chunksize(d, c) if d else c
            for d, c in zip(full_depth, data.chunks, strict=True)
        )
    )
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
