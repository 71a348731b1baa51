"""The window planner: one task per output block, reading its input window and halo.

A downsampled level (:mod:`xarray_microct.ops.pyramid`) is a map from input windows to
output blocks. Along each axis, output voxels ``[o0, o1)`` of factor ``f`` read inputs
``[f*o0 - before, f*o1 + after)``: the output block's own input voxels plus a halo of
``before``/``after`` voxels for the filter taps. :func:`map_windows` plans, per output
block, the input pieces that window overlaps (whatever the input chunking) and writes
one task that assembles the window and calls the per-block function on it.

The output task depends on the input chunks inside its window directly, and on copies
of the thin parts it needs from neighbouring chunks (its halo): a chunk is then
released once its own window is done, not held for its neighbours' windows. Written in
one pass, each input chunk is computed once.

When the input is read straight from a stored array (``da.from_array`` or
``da.from_zarr``: each chunk a read of its own region) and every window is made of whole
input chunks (no halo inside the volume: binning, a mean pyramid level on aligned
chunks; the nearest-value extension past the volume's border is allowed), each output
task reads its window from the store itself, in one read, instead of depending on one
read task per chunk: the same values, with no read tasks to schedule and, on a cluster,
never a chunk read on one worker and binned on another (the reads of a window are one
task, so they cannot be split between workers).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import dask.array as da
import numpy as np
from dask.array.core import getter
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

__all__ = ["map_windows"]

Pieces = tuple[tuple[int, slice, slice], ...]  # (input chunk index, source, destination)
Placement = tuple[tuple[slice, ...], tuple[slice, ...]]  # (source in block, destination)


_THREAD = threading.local()


def _scratch(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A window-sized work array, reused by the tasks that run on this thread.

    Fresh large allocations cost page faults that take longer than filling them; the
    window never leaves its task (outputs are new arrays), so one per thread is safe.
    """
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    buffer = getattr(_THREAD, "window", None)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = np.empty(nbytes, dtype=np.uint8)
        _THREAD.window = buffer
    return buffer[:nbytes].view(dtype).reshape(shape)


def _assemble(
    blocks: list[np.ndarray],
    placements: tuple[Placement, ...],
    pads: tuple[tuple[int, int], ...],
    shape: tuple[int, ...],
) -> np.ndarray:
    """The input window of one output block, from the input pieces it overlaps.

    ``blocks[i]`` goes to ``placements[i]``. Where the window passes the volume's border
    it is extended with the nearest value (a clamp per axis; clamps along successive
    axes compose into the clamp of the corner).
    """
    if len(blocks) == 1 and not any(a or b for a, b in pads):
        return blocks[0][placements[0][0]]  # a view: no copy
    window = _scratch(shape, blocks[0].dtype)
    for block, (source, target) in zip(blocks, placements, strict=True):
        window[target] = block[source]
    for axis, (before, after) in enumerate(pads):
        lead = (slice(None),) * axis
        size = shape[axis]
        if before:
            window[(*lead, slice(0, before))] = window[(*lead, slice(before, before + 1))]
        if after:
            edge = size - after
            window[(*lead, slice(edge, size))] = window[(*lead, slice(edge - 1, edge))]
    return window


def _take(block: np.ndarray, source: tuple[slice, ...]) -> np.ndarray:
    """A copy of part of a chunk (a halo slab), so the chunk itself can be released."""
    return block[source].copy()


def _read_window_task(
    func: Callable[..., np.ndarray],
    source: Any,
    region: tuple[slice, ...],
    pads: tuple[tuple[int, int], ...],
    shape: tuple[int, ...],
    out_shape: tuple[int, ...],
) -> np.ndarray:
    """:func:`_window_task` for a window read from the store in one read."""
    block = getter(source, region)
    placement = (
        tuple(slice(None) for _ in region),
        tuple(slice(a, n - b) for (a, b), n in zip(pads, shape, strict=True)),
    )
    return func(_assemble([block], (placement,), pads, shape), out_shape)


def stored_source(data: da.Array) -> tuple[str, Any] | None:
    """``(name, layer)`` of the array-like ``data`` reads its chunks from, or None.

    Not None when every chunk of ``data`` is a plain read of its own region from one
    array-like (as ``da.from_array(..., inline_array=False)`` and ``da.from_zarr``
    build it: a task ``getter(source, region)`` per chunk); then a window of whole chunks
    can be read from the source in one read. Anything else (a computed array, reads
    with a lock or another getter) gives None.

    Examples
    --------
    >>> import zarr
    >>> store = zarr.zeros((4, 6), chunks=(2, 3))
    >>> stored_source(da.from_zarr(store)) is not None
    True
    >>> stored_source(da.from_zarr(store) + 1) is None
    True
    """
    graph = data.dask
    try:
        (source,) = graph.dependencies[data.name]
        layer = graph.layers[source]
        if graph.dependencies[source] or len(layer) != 1:
            return None
        (source_key,) = layer.keys()
        starts = [np.cumsum((0, *c[:-1])).tolist() for c in data.chunks]
        for index in itertools.product(*(range(len(c)) for c in data.chunks)):
            task = graph[(data.name, *index)]
            region = tuple(
                slice(starts[axis][i], starts[axis][i] + data.chunks[axis][i])
                for axis, i in enumerate(index)
            )
            if (
                task.func is not getter
                or task.kwargs
                or len(task.args) != 2
                or task.dependencies != {source_key}
                or getattr(task.args[1], "value", None) != region
            ):
                return None
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return source, layer


def _window_task(
    func: Callable[..., np.ndarray],
    blocks: list[np.ndarray],
    placements: tuple[Placement, ...],
    pads: tuple[tuple[int, int], ...],
    shape: tuple[int, ...],
    out_shape: tuple[int, ...],
) -> np.ndarray:
    return func(_assemble(blocks, placements, pads, shape), out_shape)


def _axis_windows(
    in_chunks: tuple[int, ...],
    out_chunks: tuple[int, ...],
    factor: int,
    before: int,
    after: int,
) -> list[tuple[Pieces, tuple[int, int], int]]:
    """Per output chunk along one axis: the input pieces, edge padding and window length.

    Output voxels ``[o0, o1)`` need inputs ``[f*o0 - before, f*o1 + after)``: the
    output chunk's own blocks plus the halo, clamped to the volume.

    Examples
    --------
    >>> [(len(pieces), pads, n) for pieces, pads, n in _axis_windows((3, 3, 2), (2, 2), 2, 1, 1)]
    [(2, (1, 0), 6), (2, (0, 1), 6)]
    """
    n = sum(in_chunks)
    starts = np.cumsum((0, *in_chunks))
    windows = []
    o0 = 0
    for size in out_chunks:
        lo, hi = factor * o0 - before, factor * (o0 + size) + after
        a, b = max(lo, 0), min(hi, n)
        first = int(np.searchsorted(starts, a, side="right")) - 1
        pieces = []
        for c in range(first, len(in_chunks)):
            cs, ce = int(starts[c]), int(starts[c + 1])
            if cs >= b:
                break
            u, v = max(a, cs), min(b, ce)
            pieces.append((c, slice(u - cs, v - cs), slice(u - lo, v - lo)))
        windows.append((tuple(pieces), (a - lo, hi - b), hi - lo))
        o0 += size
    return windows


def map_windows(
    data: da.Array,
    func: Callable[..., np.ndarray],
    out_chunks: tuple[tuple[int, ...], ...],
    factors: Sequence[int],
    halos: Sequence[tuple[int, int]],
    dtype: Any,
    name: str | None = None,
) -> da.Array:
    """Make each output block from its input window: ``func(window, out_shape)``.

    Parameters
    ----------
    data : dask.array.Array
        The input, any chunking.
    func : callable
        ``func(window, out_shape)`` returns the output block of shape ``out_shape``
        from its window (a NumPy array it must not keep: the window may be a per-thread
        work buffer or a view of an input chunk); bind other arguments with
        :func:`functools.partial`.
    out_chunks : tuple of tuple of int
        The output's chunks (normalised, one tuple per axis of ``data``).
    factors : sequence of int
        Input voxels per output voxel, per axis.
    halos : sequence of (int, int)
        Input voxels before and after each output block's own ones, per axis. Beyond
        the border of the volume the window is extended with the nearest value.
    dtype : dtype
        Of the output.
    name : str, optional
        Of the output layer; a token of the inputs by default.

    Returns
    -------
    dask.array.Array
        Chunked as ``out_chunks``; one task per output block.

    Examples
    --------
    A moving sum of three with a one-voxel halo, across input chunks of 3 and output
    chunks of 4 (the volume's ends repeat their nearest value):

    >>> x = da.arange(8, chunks=3)
    >>> def sum3(w, out_shape):
    ...     return w[:-2] + w[1:-1] + w[2:]
    >>> map_windows(x, sum3, ((4, 4),), (1,), ((1, 1),), x.dtype).compute().tolist()
    [1, 3, 6, 9, 12, 15, 18, 20]
    """
    windows = [
        _axis_windows(in_chunks, axis_out, int(f), before, after)
        for in_chunks, axis_out, f, (before, after) in zip(
            data.chunks, out_chunks, factors, halos, strict=True
        )
    ]
    if name is None:
        name = "windows-" + tokenize(data.name, func, out_chunks, factors, halos, dtype)
    meta = np.empty((0,) * data.ndim, dtype=dtype)
    stored = stored_source(data)
    whole_chunks = all(
        src.start == 0 and src.stop == data.chunks[axis][c]
        for axis, per_axis in enumerate(windows)
        for pieces, _, _ in per_axis
        for c, src, _ in pieces
    )
    if stored is not None and whole_chunks:
        source, source_layer = stored
        (source_key,) = source_layer.keys()
        starts = [np.cumsum((0, *c)).tolist() for c in data.chunks]
        reads: dict[Any, Any] = {}
        for index in itertools.product(*(range(len(c)) for c in out_chunks)):
            picked = [windows[axis][i] for axis, i in enumerate(index)]
            region = tuple(
                slice(starts[axis][p[0][0][0]], starts[axis][p[0][-1][0] + 1])
                for axis, p in enumerate(picked)
            )
            out_block = tuple(out_chunks[axis][i] for axis, i in enumerate(index))
            reads[(name, *index)] = (
                _read_window_task,
                func,
                source_key,
                region,
                tuple(p[1] for p in picked),
                tuple(p[2] for p in picked),
                out_block,
            )
        graph = HighLevelGraph(
            {name: MaterializedLayer(reads), source: source_layer},
            {name: {source}, source: set()},
        )
        return da.Array(graph, name, out_chunks, dtype=dtype, meta=meta)
    take = "halo-" + tokenize(name)
    layer: dict[Any, Any] = {}
    slabs: dict[Any, Any] = {}
    for index in itertools.product(*(range(len(c)) for c in out_chunks)):
        picked = [windows[axis][i] for axis, i in enumerate(index)]
        keys, placements = [], []
        for combo in itertools.product(*(p[0] for p in picked)):
            chunk = tuple(c for c, _, _ in combo)
            source = tuple(src for _, src, _ in combo)
            target = tuple(dst for _, _, dst in combo)
            whole = all(
                src.start == 0 and src.stop == data.chunks[axis][c]
                for axis, (c, src, _) in enumerate(combo)
            )
            key: Any = (data.name, *chunk)
            if not whole:
                spec = (chunk, tuple((src.start, src.stop) for src in source))
                if spec not in slabs:
                    slabs[spec] = (take, len(slabs))
                    layer[slabs[spec]] = (_take, key, source)
                key = slabs[spec]
                source = tuple(slice(None) for _ in source)
            keys.append(key)
            placements.append((source, target))
        pads = tuple(p[1] for p in picked)
        shape_in = tuple(p[2] for p in picked)
        out_block = tuple(out_chunks[axis][i] for axis, i in enumerate(index))
        layer[(name, *index)] = (
            _window_task,
            func,
            keys,
            tuple(placements),
            pads,
            shape_in,
            out_block,
        )
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[data])
    return da.Array(graph, name, out_chunks, dtype=dtype, meta=meta)
