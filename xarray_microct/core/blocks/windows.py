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
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

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
    meta = np.empty((0,) * data.ndim, dtype=dtype)
    return da.Array(graph, name, out_chunks, dtype=dtype, meta=meta)
