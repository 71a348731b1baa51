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
axis, one task joins them and runs the pass (``x`` on the mask, one byte a voxel, then
``y`` and ``z`` on the float distances), taking its blocks straight from the earlier
pass's lines; per block one task cuts its part out only for the result and for a line on
another worker of a cluster. Every
pass is exact, and the result equals ``scipy.ndimage.distance_transform_edt(mask,
sampling=spacing)`` on the whole array (to float32 rounding), in physical units. A task
holds a line of ``axis length × chunk × chunk`` voxels, joined and transformed (a
2560-voxel axis in 128³ chunks: 168 MB of float32 a line). On a cluster whose workers the
blocks are hinted to (:mod:`~xarray_microct.core.blocks.placement`), a line runs on the
worker of most of its blocks and its cuts with it. The per-line kernels are compiled with
numba and run single-threaded inside a task, so Dask owns the parallelism.

Lab book (2026-12-04). ``microct run beads --workers 2 --threads-per-worker 1`` on a
stored 128 × 256² bead tube in 64³ chunks has three distance maps (the mask's, the
cores', the depth from the air). With Dask's rechunks to slabs of whole slices, to
columns of whole ``z`` lines and back (three per map, 401 tasks a map), the workers sent
one another 0.52 GB in 3552 tasks, 0.29 GB of it the maps' regroupings. Lines of whole
blocks (this module; 128 tasks a map): 0.34 GB in 2829 tasks. The transform alone on the
tube's mask, threaded, CPU s in 32³ / 64³ / 128³ chunks: rechunks 0.68 / 0.37 / 0.22,
lines 0.36 / 0.26 / 0.24. The whole run's CPU seconds, rechunks -> lines, five rounds
interleaved on a loaded 2-core machine: ``--workers 2`` 20.4 -> 21.3, 22.8 -> 20.9,
21.7 -> 17.2, 25.2 -> 21.3, 21.6 -> 23.1 (median of the differences -1.9 s: within the
machine's noise); threaded 9.1 -> 9.1, 8.9 -> 9.6; in 32³ chunks 19.5 -> 20.1, 128³
9.4 -> 9.9 (one run each); peak memory the same (1.12-1.17 GiB); labels identical.

Then (2026-12-04) the cuts between the passes went where a line of the next pass is in
the same memory (each y and z line slices the x and y lines itself): on the tube with two
workers 96 → 48 cut tasks a map (the x lines and y lines each within one worker's part,
the z lines across the parts), without a cluster 96 → 32; the same bytes between the
workers (a cut still travels alone).

Tried and withdrawn: a per-block transform over a halo of ``h`` voxels first, which is
exact wherever it is at most ``h × spacing`` (the nearest background then lies inside
the window), the separable pass computed only when one lazy flag said a block needed it
(else its tasks passed stand-ins of no bytes on). With ``h`` an eighth of the chunk, the
tube's mask and cores (largest distances 5.9 and 5.1 voxels) needed no separable pass in
64³ chunks: 0.29 GB sent, but 3351 tasks, the transform 0.48 s threaded (window and
flag) against 0.26 for lines; in 32³ chunks (``h`` 4) both maps needed the fallback, and
the threaded run cost 26.3 CPU s against 21.4 with rechunks. Two details of it: Dask's
rechunk joins zero-stride stand-ins into whole arrays (0.45 GB sent), and a Dask array
given as a keyword of ``map_blocks`` becomes a copy of its whole graph per layer (every
stage before it computed five times).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

from xarray_microct.core.blocks.placement import cluster_threads, grid_hint, hinted_layer
from xarray_microct.core.registry import operation
from xarray_microct.core.validation import check_mask
from xarray_microct.core.volume import grid_of, wrap_like
from xarray_microct.kernels.distance import (
    binary_lines,
    envelope_axis,
    weighted_envelope_lines,
)
from xarray_microct.kernels.scratch import work_array

__all__ = ["ball_union_envelope", "distance_transform", "edt_array"]


def _along_axis(kernel: Any, block: np.ndarray, axis: int, spacing: float) -> np.ndarray:
    """Run a per-line kernel along ``axis`` of a block (that axis is whole in the block),
    into a fresh float32 array.

    The lines are copied to a C-contiguous work array of the thread when they are not so
    already (:func:`~xarray_microct.kernels.scratch.work_array`).
    """
    moved = np.moveaxis(block, axis, -1)
    if moved.flags.c_contiguous:
        lines = moved.reshape(-1, moved.shape[-1])
    else:
        copy = work_array(f"distance-lines-{block.dtype}", moved.shape, block.dtype)
        np.copyto(copy, moved)
        lines = copy.reshape(-1, moved.shape[-1])
    out = np.empty(lines.shape, np.float32)
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


def _x_pass(line: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    return _along_axis(binary_lines, line.astype(bool, copy=False), -1, spacing[-1])


def _y_pass(line: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    return _envelope(line, -2, spacing[-2])


def _z_pass(line: np.ndarray, spacing: Sequence[float], root: bool) -> np.ndarray:
    out = _envelope(line, -3, spacing[-3])
    return np.sqrt(out, out=out) if root else out


def _run_line(
    parts: list[np.ndarray], picks: tuple[tuple[slice, ...] | None, ...], axis: int, func: Any
) -> np.ndarray:
    """``func`` over the blocks of one line joined along ``axis``: ``parts[i]`` itself,
    or its part ``picks[i]`` (a block of an earlier pass's line)."""
    blocks = [part if pick is None else part[pick] for part, pick in zip(parts, picks, strict=True)]
    return func(np.concatenate(blocks, axis=axis))


def _cut(line: np.ndarray, where: tuple[slice, ...]) -> np.ndarray:
    return line[where]


def _separable(data: da.Array, spacing: Sequence[float], squared: bool) -> da.Array:
    """The separable transform over the whole array: one pass along each axis over
    lines of whole blocks.

    Per line of blocks along the axis one task joins them and runs the pass; the next
    pass's lines take their blocks straight from these lines, and a task per block cuts
    its part out only for a line of the next pass on another worker (and for the
    result). Where ``data``'s blocks are hinted to a cluster's workers, a line goes to
    the worker of most of its blocks, and a block's cut with its line: only the cuts
    for the other workers' lines travel. Without a cluster no block is cut between the
    passes."""
    hint = grid_hint(data)
    direct = hint is not None or not cluster_threads()

    def worker(index: tuple[int, ...]) -> str:
        return hint((data.name, *index))[0] if hint is not None else ""

    passes = (
        (data.ndim - 1, functools.partial(_x_pass, spacing=spacing)),
        (data.ndim - 2, functools.partial(_y_pass, spacing=spacing)),
        (data.ndim - 3, functools.partial(_z_pass, spacing=spacing, root=not squared)),
    )
    grid = tuple(np.ndindex(*data.numblocks))
    starts = [np.cumsum((0, *c)).tolist() for c in data.chunks]
    # where each block of the stage before a pass is: (key, the part of it, its worker)
    held: dict[tuple[int, ...], tuple[Any, Any, str]] = {
        index: ((data.name, *index), None, worker(index)) for index in grid
    }
    layers: dict[str, Any] = {}
    dependencies: dict[str, set[str]] = {}
    token = tokenize(data, spacing, squared, direct, [worker(i) for i in grid])
    line_name = cut_name = ""
    cut_from: dict[Any, str] = {}  # the worker of each cut of the last pass
    for axis, func in passes:
        label = func.func.__name__.strip("_")
        previous_line, previous_cut = line_name, cut_name
        line_name, cut_name = f"{label}-line-{token}", f"{label}-{token}"
        lines: dict[Any, Any] = {}
        where: dict[Any, str] = {}
        cuts: dict[Any, Any] = {}  # of the stage before, for lines on other workers
        across = [1 if a == axis else n for a, n in enumerate(data.numblocks)]
        for index in np.ndindex(*across):
            keys = [(*index[:axis], i, *index[axis + 1 :]) for i in range(data.numblocks[axis])]
            line = (line_name, *index)
            where[line] = Counter(worker(k) for k in keys).most_common(1)[0][0]
            parts, picks = [], []
            for k in keys:
                key, pick, at = held[k]
                if pick is not None and not (direct and at == where[line]):
                    cuts[(previous_cut, *k)] = (_cut, key, pick)
                    key, pick = (previous_cut, *k), None
                parts.append(key)
                picks.append(pick)
            lines[line] = (_run_line, parts, tuple(picks), axis, func)
        if cuts:
            layers[previous_cut] = _placed(cuts, {k: cut_from[k] for k in cuts}, hint)
            dependencies[previous_cut] = {previous_line}
        layers[line_name] = _placed(lines, where, hint)
        dependencies[line_name] = {k[0] for task in lines.values() for k in task[1]}
        cut_from = {}
        for line in lines:
            for i in range(data.numblocks[axis]):
                index = (*line[1 : axis + 1], i, *line[axis + 2 :])
                part = tuple(
                    slice(starts[a][i], starts[a][i + 1]) if a == axis else slice(None)
                    for a in range(data.ndim)
                )
                held[index] = (line, part, where[line])
                cut_from[(cut_name, *index)] = where[line]
    result = {(cut_name, *index): (_cut, held[index][0], held[index][1]) for index in grid}
    layers[cut_name] = _placed(result, cut_from, hint)
    dependencies[cut_name] = {line_name}
    graph = HighLevelGraph.merge(HighLevelGraph(layers, dependencies), data.dask)
    return da.Array(graph, cut_name, chunks=data.chunks, dtype=np.float32)


def _placed(tasks: dict[Any, Any], where: dict[Any, str], hint: Any) -> MaterializedLayer:
    """A layer of ``tasks``, each hinted to ``where[key]`` on a hinted grid."""
    if hint is None:
        return MaterializedLayer(tasks)
    return hinted_layer(tasks, {key: [where[key]] for key in tasks})


def edt_array(data: da.Array, spacing: Sequence[float], squared: bool = False) -> da.Array:
    """Exact Euclidean distance transform of a Dask mask, in physical units.

    Parameters
    ----------
    data : dask.array.Array
        Mask whose last three axes are ``z, y, x``; non-zero is foreground.
    spacing : sequence of 3 float
        Voxel size per spatial axis.
    squared : bool
        Return the squared distance (no square root).

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
    return _separable(data, spacing, squared)


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


def ball_union_envelope(radius: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """``min_m |x - m|² - radius[m]²`` over the voxels ``m`` with ``radius > 0``, at
    every voxel ``x`` (physical units; ``inf`` where there is no ball): at most 0 exactly
    within the union of the closed balls, in one exact pass per axis (the lower envelope
    of parabolas, :func:`~xarray_microct.kernels.distance.weighted_envelope_lines`)
    whatever their radii.

    Examples
    --------
    >>> radius = np.zeros((1, 1, 9)); radius[0, 0, 2] = 2.0
    >>> (ball_union_envelope(radius, (1.0, 1.0, 1.0)) <= 0).astype(int).ravel().tolist()
    [1, 1, 1, 1, 1, 0, 0, 0, 0]
    """
    field = np.where(radius > 0, -np.square(radius, dtype=np.float64), np.inf)
    for axis in (2, 1, 0):
        lines = np.ascontiguousarray(np.moveaxis(field, axis, -1))
        out = np.empty_like(lines)
        if lines.size:
            weighted_envelope_lines(
                lines.reshape(-1, lines.shape[-1]),
                float(spacing[axis]),
                out.reshape(-1, lines.shape[-1]),
            )
        field = np.moveaxis(out, -1, axis)
    return field
