"""Multiscale pyramids: a volume and its downsampled versions, as an ``xarray.DataTree``.

``vol.microct.pyramid()`` returns a tree with one node per level, ``scale0`` (the volume
itself), ``scale1``, ... Each level is computed lazily from the one before it, chunk by
chunk, with chunks aligned to the level's own chunking (the input's chunk shape), so
memory stays bounded by a few chunks per worker and writing a level never splits a chunk.

Downsampling methods
--------------------
``"gaussian"``
    Anti-aliased: each output voxel is a Gaussian-weighted average centred on the centre
    of its block of ``f`` input voxels per axis, with
    ``sigma = sqrt(f**2 - 1) / (2 * sqrt(2 * ln 2))`` input voxels (the choice of ITK
    and ngff-zarr), truncated at 4 sigma, the volume border extended by its nearest
    value. Chunk-exact: halos are read from the neighbouring chunks.
``"mean"``
    Block average over ``f`` voxels per axis.
``"mode"``
    For label images: the most frequent value of each block (ties go to the smallest
    value). Never produces a value absent from its block.
``"stride"``
    Every ``f``-th voxel (the first of each block); no filtering.

Levels keep the dtype of the volume (integers rounded to the nearest value), as viewers
expect. An axis of ``n`` voxels becomes ``n // f`` voxels (a trailing partial block is
dropped, as ITK's bin shrink and ngff-zarr do). Coordinates follow: the spacing is
multiplied by ``f`` and, for the block methods, the first voxel centre moves to the
centre of the first block (``origin + (f - 1) / 2 * spacing``); ``"stride"`` keeps the
origin.

Per-axis factors: at each level the finest axes are downsampled and an axis already
much coarser is left alone, decided from the current spacing (an axis is downsampled
when that brings its spacing closer, on a log scale, to the level's target spacing
``min(spacing * factor)``). A scan with slices four times thicker than its pixels keeps
its slices until the pixels have caught up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import dask.array as da
import numba
import numpy as np
import xarray as xr

from xarray_microct.core.registry import operation
from xarray_microct.core.volume import SPATIAL_DIMS, grid_of, spatial_coords

PyramidMethod = Literal["gaussian", "mean", "mode", "stride"]
METHODS: tuple[str, ...] = ("gaussian", "mean", "mode", "stride")
TRUNCATE = 4.0  # Gaussian kernel half-width, in sigmas


def anti_alias_sigma(factor: int) -> float:
    """Gaussian sigma, in input voxels, that anti-aliases a downsampling by ``factor``.

    ``sqrt(factor**2 - 1) / (2 * sqrt(2 * ln 2))``: the kernel whose full width at half
    maximum combines with the input's one-voxel sampling into the output's ``factor``
    voxels (the rule of ITK and ngff-zarr). 0 for a factor of 1.

    Examples
    --------
    >>> round(anti_alias_sigma(2), 4), anti_alias_sigma(1)
    (0.7355, 0.0)
    """
    return math.sqrt(factor**2 - 1) / (2 * math.sqrt(2 * math.log(2)))


def block_weights(factor: int, method: str) -> tuple[int, np.ndarray]:
    """Taps of the decimating filter that makes one output voxel from its block.

    Output voxel ``i`` is ``sum(w[t] * input[factor * i - before + t])``: the Gaussian
    is centred on the block centre ``factor * i + (factor - 1) / 2``.

    Returns
    -------
    before : int
        Taps before the block's first voxel (the left halo).
    weights : numpy.ndarray of float64
        Normalised taps; the right halo is ``len(weights) - before - factor``.

    Examples
    --------
    >>> before, w = block_weights(2, "gaussian")
    >>> before, len(w), bool(np.isclose(w.sum(), 1.0))
    (2, 6, True)
    >>> block_weights(3, "mean")
    (0, array([0.33333333, 0.33333333, 0.33333333]))
    """
    if factor == 1:
        return 0, np.ones(1)
    if method == "mean":
        return 0, np.full(factor, 1.0 / factor)
    sigma = anti_alias_sigma(factor)
    centre = (factor - 1) / 2
    reach = TRUNCATE * sigma
    taps = np.arange(math.ceil(centre - reach), math.floor(centre + reach) + 1)
    weights = np.exp(-((taps - centre) ** 2) / (2 * sigma**2))
    return int(-taps[0]), weights / weights.sum()


def plan_levels(
    shape: Sequence[int],
    spacing: Sequence[float],
    chunks: Sequence[int],
    factor: Sequence[int],
    levels: int | None = None,
) -> list[tuple[int, ...]]:
    """Per-level, per-axis downsampling factors of a pyramid (each relative to the level before).

    Parameters
    ----------
    shape, spacing, chunks : sequences of 3
        The full-resolution grid (``z, y, x``) and its chunk size per axis.
    factor : sequence of 3 int
        The largest factor per axis (1 = never downsample that axis).
    levels : int, optional
        Number of levels including full resolution. ``None``: continue while some axis
        is larger than one chunk (an axis that fits in one chunk is left alone).

    Returns
    -------
    list of tuple of int
        One ``(fz, fy, fx)`` per level after the first.

    Examples
    --------
    >>> plan_levels((512, 512, 512), (1, 1, 1), (128, 128, 128), (2, 2, 2))
    [(2, 2, 2), (2, 2, 2)]

    Slices four times thicker than the pixels are kept until the pixels catch up:

    >>> plan_levels((64, 256, 256), (4, 1, 1), (64, 64, 64), (2, 2, 2), levels=4)
    [(1, 2, 2), (1, 2, 2), (2, 2, 2)]
    """
    shape, spacing = [int(n) for n in shape], [float(s) for s in spacing]
    plan: list[tuple[int, ...]] = []
    while levels is None or len(plan) + 1 < levels:
        candidates = [
            a
            for a in range(3)
            if factor[a] > 1
            and shape[a] >= factor[a]
            and (levels is not None or shape[a] > chunks[a])
        ]
        if not candidates:
            if levels is None:
                break
            raise ValueError(
                f"cannot make {levels} levels: level {len(plan)} has shape {tuple(shape)}, "
                f"too small to downsample by {tuple(factor)}; ask for at most "
                f"{len(plan) + 1} levels, or levels=None"
            )
        target = min(spacing[a] * factor[a] for a in candidates)
        step = tuple(
            factor[a]
            if a in candidates and spacing[a] ** 2 * factor[a] <= target**2 * (1 + 1e-9)
            else 1
            for a in range(3)
        )
        shape = [n // f for n, f in zip(shape, step, strict=True)]
        spacing = [s * f for s, f in zip(spacing, step, strict=True)]
        plan.append(step)
    return plan


# ---------------------------------------------------------------------------------------
# Per-block kernels (NumPy arrays, spatial axes last)


@numba.njit(nogil=True, cache=True)
def _decimate3(
    a: np.ndarray,
    wz: np.ndarray,
    fz: int,
    wy: np.ndarray,
    fy: int,
    wx: np.ndarray,
    fx: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled; checked through downsample_array
    """``out[i, j, k] = sum wz[s] wy[t] wx[u] a[fz*i+s, fy*j+t, fx*k+u]``, plane by plane.

    Separable: each output plane first sums its input planes (contiguous), then its
    rows, then its columns, so the working set is a few planes (cache-sized).
    """
    m0, m1, m2 = out.shape
    ny, nx = a.shape[1], a.shape[2]
    plane = np.empty((ny, nx), dtype=wz.dtype)
    rows = np.empty((m1, nx), dtype=wz.dtype)
    for i in range(m0):
        plane[:, :] = 0
        for s in range(wz.shape[0]):
            w = wz[s]
            src = a[fz * i + s]
            for y in range(ny):
                for x in range(nx):
                    plane[y, x] += w * src[y, x]
        rows[:, :] = 0
        for j in range(m1):
            for t in range(wy.shape[0]):
                w = wy[t]
                for x in range(nx):
                    rows[j, x] += w * plane[fy * j + t, x]
        for j in range(m1):
            for k in range(m2):
                acc = wx.dtype.type(0)
                for u in range(wx.shape[0]):
                    acc += wx[u] * rows[j, fx * k + u]
                out[i, j, k] = acc


def _accumulator(dtype: np.dtype) -> np.dtype:
    """float64 where float32 would lose integer precision (>16-bit ints, float64)."""
    dtype = np.dtype(dtype)
    wide = dtype == np.float64 or (dtype.kind in "iu" and dtype.itemsize >= 4)
    return np.dtype(np.float64) if wide else np.dtype(np.float32)


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "iub":
        np.rint(values, out=values)
    return values.astype(dtype, copy=False)


def _window(
    block: np.ndarray,
    block_id: tuple[int, ...],
    geometry: tuple[tuple[Any, ...], ...],
) -> np.ndarray:
    """Crop a block (with halos on its inner sides) to the inputs its outputs need.

    Pads with the nearest value where the window passes the volume's own border.
    """
    n_lead = block.ndim - 3
    index: list[slice] = [slice(None)] * n_lead
    pads = [(0, 0)] * n_lead
    for axis, (starts, n, halo, before, f, sizes, after) in enumerate(geometry):
        b = block_id[n_lead + axis]
        start = starts[b]
        have_lo = halo if b > 0 else 0
        lo = start - before  # global window [lo, hi)
        hi = start + f * sizes[b] + after
        first = start - have_lo  # global index of block[0]
        index.append(slice(max(lo, 0) - first, min(hi, n) - first))
        pads.append((max(0, -lo), max(0, hi - n)))
    window = block[tuple(index)]
    if any(p != (0, 0) for p in pads):
        window = np.pad(window, pads, mode="edge")
    return window


def _filter_block(
    block: np.ndarray,
    block_id: tuple[int, ...],
    geometry: tuple[tuple[Any, ...], ...],
    weights: tuple[np.ndarray, ...],
    factors: tuple[int, ...],
    out_dtype: np.dtype,
) -> np.ndarray:
    window = _window(block, block_id, geometry)
    if window.dtype == np.bool_ or window.dtype == np.float16:
        window = window.astype(np.float32)
    n_lead = window.ndim - 3
    acc = weights[0].dtype
    sizes = tuple(g[5][block_id[n_lead + a]] for a, g in enumerate(geometry))
    flat = window.reshape((-1, *window.shape[n_lead:]))
    out = np.empty((flat.shape[0], *sizes), dtype=acc)
    for index in range(flat.shape[0]):
        _decimate3(
            flat[index],
            weights[0], factors[0], weights[1], factors[1], weights[2], factors[2],
            out[index],
        )
    return _cast(out.reshape(window.shape[:n_lead] + sizes), out_dtype)


def block_mode(values: np.ndarray, factor: Sequence[int]) -> np.ndarray:
    """Most frequent value of each block of ``factor`` voxels (ties: the smallest value).

    Only whole blocks are used (trailing voxels that do not fill a block are dropped).

    Examples
    --------
    >>> labels = np.array([[[1, 1], [2, 3]], [[2, 2], [3, 3]]])
    >>> block_mode(labels, (2, 2, 2))   # 2 and 3 tie with three votes: 2 wins
    array([[[2]]])
    """
    n_lead = values.ndim - 3
    lead = values.shape[:n_lead]
    m = [n // f for n, f in zip(values.shape[n_lead:], factor, strict=True)]
    whole = values[(Ellipsis, *(slice(0, mi * f) for mi, f in zip(m, factor, strict=True)))]
    split = whole.reshape((*lead, m[0], factor[0], m[1], factor[1], m[2], factor[2]))
    order = (*range(n_lead), n_lead, n_lead + 2, n_lead + 4, n_lead + 1, n_lead + 3,
             n_lead + 5)
    votes = split.transpose(order).reshape((*lead, *m, -1))
    best = votes[..., 0].copy()
    best_count = np.zeros(best.shape, dtype=np.int32)
    for k in range(votes.shape[-1]):
        candidate = votes[..., k]
        count = (votes == candidate[..., None]).sum(axis=-1, dtype=np.int32)
        better = (count > best_count) | ((count == best_count) & (candidate < best))
        best = np.where(better, candidate, best)
        best_count = np.where(better, count, best_count)
    return best


def _mode_block(
    block: np.ndarray,
    block_id: tuple[int, ...],
    geometry: tuple[tuple[Any, ...], ...],
    factors: tuple[int, ...],
) -> np.ndarray:
    return block_mode(_window(block, block_id, geometry), factors)


# ---------------------------------------------------------------------------------------
# Dask layer


def _axis_layout(
    n: int, f: int, chunk: int, before: int, after: int
) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Input chunks (block boundaries at multiples of ``f * chunk``), outputs per chunk, halo.

    The last input chunk is merged into the one before when it would produce no output
    or be thinner than the halo, so that every chunk can lend its neighbours a halo.
    """
    m = n // f
    halo = max(before, after)
    step = f * max(chunk, math.ceil(halo / f), 1)
    bounds = [*range(0, n, step), n]
    if len(bounds) > 2 and (n - bounds[-2] < max(halo, 1) or m * f <= bounds[-2]):
        del bounds[-2]
    starts = tuple(bounds[:-1])
    in_chunks = tuple(b - a for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    sizes = tuple((min(e, m * f) - s) // f for s, e in zip(bounds[:-1], bounds[1:], strict=True))
    return in_chunks, sizes, halo if len(in_chunks) > 1 else 0


def downsample_array(
    data: da.Array,
    factor: Sequence[int],
    method: str = "gaussian",
    chunks: Sequence[int] | None = None,
) -> da.Array:
    """Downsample the last three (spatial) axes of a Dask array by ``factor``, lazily.

    Parameters
    ----------
    data : dask.array.Array
        ``(..., z, y, x)``.
    factor : sequence of 3 int
        Factor per spatial axis (1 leaves the axis alone).
    method : {"gaussian", "mean", "mode", "stride"}
        See the module docstring.
    chunks : sequence of 3 int, optional
        Output chunk size per spatial axis; the input's first chunk sizes by default.

    Returns
    -------
    dask.array.Array
        ``n // f`` voxels per axis, the input's dtype, chunks of ``chunks`` voxels.
        Chunk-exact: any input chunking gives the same values.

    Examples
    --------
    >>> x = da.from_array(np.arange(4 * 6 * 6, dtype="uint16").reshape(4, 6, 6), chunks=3)
    >>> small = downsample_array(x, (2, 2, 2), "mean")
    >>> small.shape, small.chunks
    ((2, 3, 3), ((2,), (3,), (3,)))
    >>> int(small[0, 0, 0].compute())   # mean of 0, 1, 6, 7, 36, 37, 42, 43, rounded
    22
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    factor = tuple(int(f) for f in factor)
    n_lead = data.ndim - 3
    shape = data.shape[n_lead:]
    chunks = tuple(int(c) for c in (chunks or [c[0] for c in data.chunks[n_lead:]]))
    out_shape = tuple(n // f for n, f in zip(shape, factor, strict=True))
    if min(out_shape) < 1:
        raise ValueError(f"cannot downsample shape {shape} by {factor}: an axis would vanish")
    out_chunks = (*((1,) * n_lead), *(min(c, n) for c, n in zip(chunks, out_shape, strict=True)))
    if method == "stride":
        picked = data[(Ellipsis, *(slice(0, m * f, f) for m, f in zip(out_shape, factor,
                                                                     strict=True)))]
        return picked.rechunk(out_chunks)
    if method == "mode":
        taps = [(0, np.ones(f)) for f in factor]
    else:
        taps = [block_weights(f, method) for f in factor]
    geometry, in_chunks, sizes, depth = [], [], [], {}
    for axis, (n, f, c, (before, w)) in enumerate(zip(shape, factor, chunks, taps,
                                                       strict=True)):
        after = len(w) - before - f
        axis_chunks, axis_sizes, halo = _axis_layout(n, f, c, before, after)
        starts = tuple(int(s) for s in np.cumsum((0, *axis_chunks[:-1])))
        geometry.append((starts, n, halo, before, f, axis_sizes, after))
        in_chunks.append(axis_chunks)
        sizes.append(axis_sizes)
        if halo:
            depth[n_lead + axis] = halo
    x = data.rechunk((*((1,) * n_lead), *in_chunks))
    if depth:
        x = da.overlap.overlap(
            x, depth=depth, boundary=dict.fromkeys(depth, "none"), allow_rechunk=False
        )
    block_chunks = (*((1,) * n_lead), *sizes)
    meta = np.empty((0,) * data.ndim, dtype=data.dtype)
    if method == "mode":
        out = x.map_blocks(
            _mode_block, geometry=tuple(geometry), factors=factor,
            chunks=block_chunks, dtype=data.dtype, meta=meta,
        )
    else:
        acc = _accumulator(data.dtype)
        weights = tuple(np.asarray(w, dtype=acc) for _, w in taps)
        out = x.map_blocks(
            _filter_block, geometry=tuple(geometry), weights=weights, factors=factor,
            out_dtype=data.dtype, dtype=data.dtype, chunks=block_chunks, meta=meta,
        )
    if out.chunks != da.core.normalize_chunks(out_chunks, out.shape):
        out = out.rechunk(out_chunks)  # only when a thin last chunk was merged
    return out


def _check_factor(factor: int | Sequence[int]) -> tuple[int, int, int]:
    values = (factor,) * 3 if np.isscalar(factor) else tuple(factor)  # type: ignore[arg-type]
    if len(values) != 3 or not all(
        isinstance(f, (int, np.integer)) and not isinstance(f, bool) for f in values
    ):
        raise TypeError(
            f"factor must be an integer or three integers (z, y, x), got {factor!r}"
        )
    if min(values) < 1 or max(values) < 2:
        raise ValueError(
            f"factor must be >= 1 per axis and >= 2 on some axis, got {factor!r}"
        )
    return tuple(int(f) for f in values)  # type: ignore[return-value]


def downsample(
    volume: xr.DataArray, factor: Sequence[int], method: str, chunks: Sequence[int]
) -> xr.DataArray:
    """One level down: the volume downsampled by ``factor`` with updated coordinates.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((8, 8, 8)), spacing=(2.0, 1.0, 1.0))
    >>> half = downsample(vol, (1, 2, 2), "mean", (8, 8, 8))
    >>> half.sizes["x"], float(half.x[0]), float(half.x[1])
    (4, 0.5, 2.5)
    """
    grid = grid_of(volume)
    data = downsample_array(volume.data, factor, method, chunks)
    shift = 0.0 if method == "stride" else 1.0
    spacing = tuple(s * f for s, f in zip(grid.spacing, factor, strict=True))
    origin = tuple(
        o + shift * (f - 1) / 2 * s
        for o, s, f in zip(grid.origin, grid.spacing, factor, strict=True)
    )
    new = spatial_coords(data.shape[-3:], spacing, origin, grid.units)
    coords: dict[str, Any] = {}
    for dim, f in zip(SPATIAL_DIMS, factor, strict=True):
        coords[dim] = volume.coords[dim].variable if f == 1 else new[dim]
    for name, coord in volume.coords.items():
        if name not in coords and not set(coord.dims) & set(SPATIAL_DIMS):
            coords[str(name)] = coord.variable
    return xr.DataArray(
        data, dims=volume.dims, coords=coords, name=volume.name, attrs=dict(volume.attrs)
    )


@operation(packages=["numba"], on_tree="level")
def pyramid(
    volume: xr.DataArray,
    levels: int | None = None,
    factor: int | Sequence[int] = 2,
    method: PyramidMethod = "gaussian",
) -> xr.DataTree:
    """A multiscale pyramid: the volume and lazily downsampled versions of it.

    Parameters
    ----------
    volume : xarray.DataArray
        The full-resolution volume; its chunk shape becomes every level's chunk shape.
    levels : int, optional
        Number of levels, the full resolution included. ``None``: downsample until
        every axis fits in one chunk (an axis already within one chunk is left alone).
    factor : int or (int, int, int)
        Largest downsampling factor per level along each axis ``(z, y, x)``; 1 never
        downsamples that axis. Per level, an axis already much coarser than the finest
        one is not downsampled (decided from the current spacing; see the module
        docstring).
    method : {"gaussian", "mean", "mode", "stride"}
        ``"gaussian"`` anti-aliases (intensity images), ``"mean"`` averages blocks,
        ``"mode"`` takes each block's majority (label images: never invents a label),
        ``"stride"`` keeps every ``factor``-th voxel.

    Returns
    -------
    xarray.DataTree
        Nodes ``scale0`` (the volume), ``scale1``, ... each holding one volume with the
        input's name (``"image"`` if unnamed), dtype, units and provenance, and physical
        coordinates of its own voxel centres. Lazy. Write it with
        ``tree.microct.to_zarr(store)`` (OME-Zarr).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(64, 128, 128), spacing=(2.0, 1.0, 1.0),
    ...                      chunks=32, name="scan")
    >>> tree = vol.microct.pyramid()
    >>> [tree[n]["scan"].shape for n in tree.children]
    [(64, 128, 128), (64, 64, 64), (32, 32, 32)]
    >>> tree["scale2"]["scan"].microct.grid.spacing
    (4.0, 4.0, 4.0)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if levels is not None and (
        isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1
    ):
        raise ValueError(f"levels must be a positive integer or None, got {levels!r}")
    factors = _check_factor(factor)
    grid = grid_of(volume)
    chunks = tuple(c[0] for c in volume.chunks[-3:])
    plan = plan_levels(grid.shape, grid.spacing, chunks, factors, levels)
    name = volume.name if volume.name is not None else "image"
    current = volume.rename(name)
    nodes = {"scale0": current.to_dataset()}
    for index, step in enumerate(plan, start=1):
        current = downsample(current, step, method, chunks)
        nodes[f"scale{index}"] = current.to_dataset()
    return xr.DataTree.from_dict(nodes)
