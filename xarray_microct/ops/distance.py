"""Exact Euclidean distance transform, anisotropic, across any chunking.

The distance from a foreground voxel to the nearest background voxel has unbounded
reach (one background voxel on the far side of the volume can be the nearest), so no
halo makes a per-chunk transform exact. The squared Euclidean distance is separable,
though (Saito & Toriwaki; Felzenszwalb & Huttenlocher, *Distance transforms of sampled
functions*, 2012):

1. along ``x``: the squared distance to the nearest background voxel of the same
   ``x`` line (two linear sweeps);
2. along ``y``, then ``z``: the lower envelope of parabolas
   ``g(p) = min_q f(q) + ((p - q) * spacing)²`` over each line (linear time).

Each pass needs one whole axis in a task and nothing else: per line of blocks along the
axis, one task joins them and runs the pass, and per block one task cuts its part back out
(``x`` on the mask, one byte a voxel, then ``y`` and ``z`` on the float distances). Every
pass is exact, and the result equals ``scipy.ndimage.distance_transform_edt(mask,
sampling=spacing)`` on the whole array (to float32 rounding), in physical units. A task
holds a few lines of ``axis length × chunk × chunk`` voxels (a 2560-voxel axis in 128³
chunks: 168 MB of float32 a line). The per-line kernels are compiled with numba and run
single-threaded inside a task, so Dask owns the parallelism.

Most distances are short, though (beads, walls: a few voxels), and a short distance needs
no regrouping: the transform of a block over a window with a halo of ``h`` voxels along
an axis is exact wherever it is at most ``h × spacing`` (the nearest background is then
inside the window; :func:`edt_array` uses ``h`` an eighth of the chunk side). The
per-block pass runs first; one lazy flag (any block's window value over its reach, or no
background in a window) decides whether the separable pass is needed. While it is not,
the separable pass's tasks pass stand-ins of no bytes on (a structured dtype without
fields) and its result is not read: only the flag waits for every block.

Lab book (2026-12-04). ``microct run beads --workers 2 --threads-per-worker 1`` on a
stored 128 × 256² bead tube in 64³ chunks (three distance maps: the mask's, the cores',
the depth from the air): of 0.52 GB the workers sent one another, 0.29 GB were the
maps' regroupings (Dask's rechunks to slabs, columns and back). The largest distance of
the mask's and the cores' maps is 5.9 and 5.1 voxels: their per-block pass (halo 8) is
exact and their separable pass all stand-ins; the depth from the air spans the tube
(``short=False``: straight to the separable pass). Lines of whole blocks in place of
Dask's rechunks: 357 tasks a map in place of 401 (64³ chunks of 128 × 256²). The run:
0.52 -> 0.29 GB sent, 3552 -> 3351 tasks. Tried first: the stand-ins as zero-stride
arrays, which Dask's rechunk joins into whole arrays (0.45 GB sent); the flag given as a
keyword of ``map_blocks``, which Dask turns into a copy of the flag's whole graph per
layer (every stage before it computed five times).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

from xarray_microct.core.blocks.overlap import map_spatial_overlap
from xarray_microct.core.registry import operation
from xarray_microct.core.validation import check_mask
from xarray_microct.core.volume import grid_of, wrap_like
from xarray_microct.kernels.distance import binary_lines, envelope_axis
from xarray_microct.kernels.scratch import work_array

__all__ = ["distance_transform", "edt_array"]

HALO_FRACTION = 8  # the per-block pass's halo: this fraction of a chunk's side
_NO_BYTES = np.dtype([])  # the stand-ins' dtype


def _along_axis(
    kernel: Any, block: np.ndarray, axis: int, spacing: float, work: str | None = None
) -> np.ndarray:
    """Run a per-line kernel along ``axis`` of a block (that axis is whole in the block).

    The lines are copied to a C-contiguous work array of the thread when they are not so
    already (:func:`~xarray_microct.kernels.scratch.work_array`); the output is a
    fresh array, or the thread's work array ``work`` for an output the task uses only
    itself.
    """
    moved = np.moveaxis(block, axis, -1)
    if moved.flags.c_contiguous:
        lines = moved.reshape(-1, moved.shape[-1])
    else:
        copy = work_array(f"distance-lines-{block.dtype}", moved.shape, block.dtype)
        np.copyto(copy, moved)
        lines = copy.reshape(-1, moved.shape[-1])
    if work is None:
        out = np.empty(lines.shape, np.float32)
    else:
        out = work_array(work, lines.shape, np.float32)
    if lines.size:
        kernel(lines, float(spacing), out)
    return np.moveaxis(out.reshape(moved.shape), -1, axis)


def _envelope(block: np.ndarray, axis: int, spacing: float) -> np.ndarray:
    """The lower envelope of parabolas along ``axis`` of a block (that axis whole in it),
    on the block as it is laid out (:func:`~xarray_microct.kernels.distance.envelope_axis`):
    a fresh C-contiguous float32 array."""
    axis %= block.ndim
    shape = block.shape
    lines = np.ascontiguousarray(block, dtype=np.float32).reshape(
        math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])
    )
    out = np.empty(shape, np.float32)
    if block.size:
        envelope_axis(lines, float(spacing), out.reshape(lines.shape))
    return out


def _slice_block(block: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """Squared distances within each ``y, x`` slice of a block (both axes whole in it)."""
    along_x = _along_axis(
        binary_lines, block.astype(bool, copy=False), -1, spacing[-1], work="distance-x"
    )
    return _envelope(along_x, -2, spacing[-2])


def _x_pass(line: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    return _along_axis(binary_lines, line.astype(bool, copy=False), -1, spacing[-1])


def _y_pass(line: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    return _envelope(line, -2, spacing[-2])


def _z_pass(line: np.ndarray, spacing: Sequence[float], root: bool) -> np.ndarray:
    out = _envelope(line, -3, spacing[-3])
    return np.sqrt(out, out=out) if root else out


def _run_line(
    blocks: list[np.ndarray], axis: int, func: Any, needed: np.ndarray | None
) -> np.ndarray:
    """``func`` over the blocks of one line joined along ``axis``; a stand-in where the
    separable pass is not needed."""
    if needed is not None and not needed:
        shape = list(blocks[0].shape)
        shape[axis] = sum(b.shape[axis] for b in blocks)
        return np.empty(shape, _NO_BYTES)
    return func(np.concatenate(blocks, axis=axis))


def _cut(line: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    return line[(slice(None),) * axis + (slice(start, stop),)]


def _line_pass(data: da.Array, axis: int, func: Any, needed: da.Array | None) -> da.Array:
    """``func`` along the whole ``axis``: per line of blocks along it one task joins them
    and runs ``func``, per block one task cuts its part back out (``data``'s chunks)."""
    axis %= data.ndim
    gate = None if needed is None else (needed.name, *(0,) * needed.ndim)
    token = tokenize(data, axis, func, gate)
    label = getattr(func, "func", func).__name__.strip("_")
    line_name, name = f"{label}-line-{token}", f"{label}-{token}"
    starts = np.cumsum((0, *data.chunks[axis])).tolist()
    lines: dict[Any, Any] = {}
    cuts: dict[Any, Any] = {}
    across = [1 if a == axis else n for a, n in enumerate(data.numblocks)]
    for index in np.ndindex(*across):
        keys = [(*index[:axis], i, *index[axis + 1 :]) for i in range(data.numblocks[axis])]
        line = (line_name, *index)
        lines[line] = (_run_line, [(data.name, *k) for k in keys], axis, func, gate)
        for i, k in enumerate(keys):
            cuts[(name, *k)] = (_cut, line, axis, starts[i], starts[i + 1])
    deps = {data.name} | ({needed.name} if needed is not None else set())
    layers = {line_name: MaterializedLayer(lines), name: MaterializedLayer(cuts)}
    graph = HighLevelGraph.merge(
        HighLevelGraph(layers, {line_name: deps, name: {line_name}}),
        data.dask,
        *([needed.dask] if needed is not None else []),
    )
    return da.Array(graph, name, chunks=data.chunks, dtype=np.float32)


def _window_block(block: np.ndarray, spacing: Sequence[float], root: bool) -> np.ndarray:
    """The exact distance transform of a block on its own (every axis whole in it)."""
    squared = _envelope(_slice_block(block, spacing=spacing), -3, spacing[0])
    return np.sqrt(squared, out=squared) if root else squared


def _halo_depth(data: da.Array) -> tuple[int, int, int]:
    """The halo of the per-block pass: an eighth of each axis's first chunk, at least 1
    (the window then holds about twice the block's voxels)."""
    return tuple(max(1, c[0] // HALO_FRACTION) for c in data.chunks[-3:])  # type: ignore[return-value]


def _exact_reach(data: da.Array, depth: Sequence[int], spacing: Sequence[float]) -> float:
    """The largest distance a block's transform over its halo'd window gets right: a
    background voxel outside the window lies more than ``depth[a] * spacing[a]`` away
    along an axis ``a`` cut into chunks (``inf`` when no axis is cut)."""
    cut = [
        d * s
        for d, s, n, c in zip(depth, spacing, data.shape[-3:], data.chunks[-3:], strict=True)
        if len(c) > 1 and d < n
    ]
    return min(cut, default=math.inf)


def _beyond(block: np.ndarray, reach: float, squared: bool) -> np.ndarray:
    """Whether a block of the per-block pass holds a distance over ``reach`` (or none)."""
    top = float(block.max(initial=0.0))
    return np.full((1,) * block.ndim, top > (reach * reach if squared else reach))


def _stand_in(block: np.ndarray) -> np.ndarray:
    """An array of ``block``'s shape holding no bytes (a structured dtype without fields):
    cut, joined and sent between workers at no cost."""
    return np.empty(block.shape, _NO_BYTES)


def _gated(block: np.ndarray, needed: np.ndarray) -> np.ndarray:
    """The block where the separable pass is needed, else a stand-in of its shape."""
    return block if needed else _stand_in(block)


def _separable(
    data: da.Array, spacing: Sequence[float], squared: bool, needed: da.Array | None = None
) -> da.Array:
    """The separable transform over the whole array: one pass along each axis over
    lines of whole blocks; with ``needed`` (a lazy one-element boolean), the mask's blocks
    and every line are stand-ins while it is false (nothing computed or sent)."""
    source = data if needed is None else data.map_blocks(_gated, needed, dtype=data.dtype)
    out = _line_pass(source, -1, functools.partial(_x_pass, spacing=spacing), needed)
    out = _line_pass(out, -2, functools.partial(_y_pass, spacing=spacing), needed)
    return _line_pass(
        out, -3, functools.partial(_z_pass, spacing=spacing, root=not squared), needed
    )


def _choose(local: np.ndarray, whole: np.ndarray, needed: np.ndarray) -> np.ndarray:
    return whole if needed else local


def edt_array(
    data: da.Array, spacing: Sequence[float], squared: bool = False, short: bool = True
) -> da.Array:
    """Exact Euclidean distance transform of a Dask mask, in physical units.

    Parameters
    ----------
    data : dask.array.Array
        Mask whose last three axes are ``z, y, x``; non-zero is foreground.
    spacing : sequence of 3 float
        Voxel size per spatial axis.
    squared : bool
        Return the squared distance (no square root).
    short : bool
        Try the per-block pass first (the module's docstring): for distances within a few
        voxels (the radius of beads, the half-thickness of walls). ``False`` goes
        straight to the separable pass over the whole array, for distances that span
        the volume (e.g. the depth from the air across a sample).

    Returns
    -------
    dask.array.Array of float32, chunked like ``data``
        The distance of each foreground voxel to the nearest background voxel
        (0 on the background, ``inf`` when there is no background at all).

    Examples
    --------
    >>> import scipy.ndimage as ndi
    >>> mask = np.random.default_rng(0).random((20, 21, 22)) > 0.1
    >>> out = edt_array(da.from_array(mask, chunks=7), (2.0, 1.0, 0.5)).compute()
    >>> ref = ndi.distance_transform_edt(mask, sampling=(2.0, 1.0, 0.5))
    >>> bool(np.allclose(out, ref, rtol=1e-6))
    True
    """
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 3 or not all(s > 0 and math.isfinite(s) for s in spacing):
        raise ValueError(f"spacing needs 3 positive finite values (z, y, x), got {spacing}")
    check_mask(data, "distance transform")
    depth = _halo_depth(data)
    reach = _exact_reach(data, depth, spacing)
    if not short and not math.isinf(reach):
        return _separable(data, spacing, squared)
    local = map_spatial_overlap(
        _window_block, data, depth, np.float32, spacing=spacing, root=not squared
    )
    local = local if local.chunks == data.chunks else local.rechunk(data.chunks)
    if math.isinf(reach):  # every spatial axis whole in one block: the window is the array
        return local
    beyond = local.map_blocks(
        _beyond,
        reach=reach,
        squared=squared,
        chunks=tuple((1,) * n for n in local.numblocks),
        dtype=bool,
    )
    # one block of one element, which every task of the separable pass reads
    needed = beyond.any(keepdims=True)
    return da.map_blocks(
        _choose, local, _separable(data, spacing, squared, needed), needed, dtype=np.float32
    )


@operation(takes="mask", intensity_units="length", packages=["numba"])
def distance_transform(volume: xr.DataArray) -> xr.DataArray:
    """Exact Euclidean distance to the background, in physical units.

    Parameters
    ----------
    volume : xarray.DataArray
        A mask: boolean or integer, non-zero is foreground (e.g. the result of a
        threshold). Float volumes are refused: threshold them first.

    Returns
    -------
    xarray.DataArray of float32
        Lazy. For each foreground voxel, the Euclidean distance to the centre of the
        nearest background voxel, measured with the volume's (possibly anisotropic)
        spacing and in its coordinate units (``attrs["units"]``); 0 on the background.
        Equal to ``scipy.ndimage.distance_transform_edt(mask, sampling=spacing)`` on the
        whole array, for any chunking (to float32 rounding). A volume with no
        background voxel at all is ``inf`` everywhere (scipy returns distances to a
        corner there, which mean nothing).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> mask = np.zeros((5, 5, 5), bool)
    >>> mask[1:4, 1:4, 1:4] = True
    >>> vol = mct.from_array(mask, spacing=(2.0, 1.0, 1.0), chunks=2)
    >>> dist = vol.microct.distance_transform()
    >>> float(dist[2, 2, 2]), dist.attrs["units"]
    (2.0, 'micrometer')
    """
    data = edt_array(volume.data, grid_of(volume).spacing)
    return wrap_like(volume, data, name="distance", long_name="distance to the background")
