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

Each pass needs one whole axis in a block and nothing else: the mask is regrouped into
slabs of whole ``y, x`` slices for the first two passes, the distances into columns of
whole ``z`` lines for the third; every pass is exact, and the result equals
``scipy.ndimage.distance_transform_edt(mask, sampling=spacing)`` on the whole array
(to float32 rounding), in physical units. Memory stays bounded by a few blocks of
``axis length × chunk × chunk`` voxels. The per-line kernels are compiled with numba
and run single-threaded inside a task, so Dask owns the parallelism.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

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
    """Squared distances within each ``y, x`` slice of a slab (both axes whole in it)."""
    along_x = _along_axis(
        binary_lines, block.astype(bool, copy=False), -1, spacing[-1], work="distance-x"
    )
    return _envelope(along_x, -2, spacing[-2])


def _envelope_block(block: np.ndarray, axis: int, spacing: float, root: bool) -> np.ndarray:
    out = _envelope(block, axis, spacing)
    return np.sqrt(out, out=out) if root else out


def _slab_chunks(data: da.Array) -> dict[int, Any]:
    """Chunks with whole ``y, x`` slices, as many slices as a stored block has voxels."""
    ny, nx = data.shape[-2:]
    target = max(math.prod(c[0] for c in data.chunks[-3:]), 1)
    return {
        data.ndim - 3: max(1, min(data.shape[-3], target // max(ny * nx, 1))),
        data.ndim - 2: -1,
        data.ndim - 1: -1,
    }


def _whole_axis_chunks(data: da.Array, axis: int, like: da.Array) -> dict[int, Any]:
    """Chunks with ``axis`` whole, the other spatial axes narrowed to keep blocks small
    (``like``: the array whose block size to keep)."""
    n = data.shape[axis]
    first = [c[0] for c in like.chunks[-3:]]
    target = max(math.prod(first), 1)
    chunks: dict[int, Any] = {axis % data.ndim: -1}
    others = [a for a in (-3, -2, -1) if a != axis]
    side = max(16, int(math.sqrt(target / max(n, 1))))
    for a in others:
        chunks[a % data.ndim] = min(first[a], side) if n > first[axis] else first[a]
    return chunks


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
    chunks = data.chunks
    # y and x in one pass over slabs of whole slices (the mask, one byte a voxel, is
    # what is regrouped), then z over columns: one regrouping of the float distances
    out = data.rechunk(_slab_chunks(data)).map_blocks(
        _slice_block, spacing=spacing, dtype=np.float32
    )
    out = out.rechunk(_whole_axis_chunks(out, -3, data)).map_blocks(
        _envelope_block, axis=-3, spacing=spacing[0], root=not squared, dtype=np.float32
    )
    return out.rechunk(chunks)


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
