"""Multiscale pyramids: a volume and its downsampled versions, as an ``xarray.DataTree``.

``vol.microct.pyramid()`` returns a tree with one node per level, ``scale0`` (the volume
itself), ``scale1``, ... Each level is computed lazily from the one before it: one task
per output chunk gathers its input window (its blocks, plus thin halo slabs copied from
the neighbouring chunks for ``"gaussian"``), so outputs are aligned to the level's own
chunking (the input's chunk shape) and writing a level never splits a chunk. Written in
one pass with all levels (``tree.microct.to_zarr``), each input chunk is computed once;
peak memory is set by the chunk layers held for the halos, not by the volume (a 2 GiB
1024³ uint16 volume generated lazily pyramids and writes in about 1 GB).

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

import itertools
import math
import threading
from collections.abc import Sequence
from typing import Any, Literal

import dask.array as da
import numba
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from dask.utils import apply

from xarray_microct.core.labels import default_pyramid_method
from xarray_microct.core.registry import operation
from xarray_microct.core.volume import DEFAULT_CHUNK, SPATIAL_DIMS, grid_of, spatial_coords

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
    >>> block_weights(2, "sum")
    (0, array([1., 1.]))
    """
    if factor == 1:
        return 0, np.ones(1)
    if method == "mean":
        return 0, np.full(factor, 1.0 / factor)
    if method == "sum":
        return 0, np.ones(factor)
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


def _filter_block(
    blocks: list[np.ndarray],
    placements: tuple[Placement, ...],
    pads: tuple[tuple[int, int], ...],
    shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    weights: tuple[np.ndarray, ...],
    factors: tuple[int, ...],
    out_dtype: np.dtype,
    divisor: int,
) -> np.ndarray:
    window = _assemble(blocks, placements, pads, shape)
    if window.dtype == np.bool_ or window.dtype == np.float16:
        window = window.astype(np.float32)
    window = np.ascontiguousarray(window)  # one compiled layout per dtype
    n_lead = window.ndim - 3
    flat = window.reshape((-1, *window.shape[n_lead:]))
    out = np.empty((flat.shape[0], *out_shape[n_lead:]), dtype=weights[0].dtype)
    for index in range(flat.shape[0]):
        _decimate3(
            flat[index],
            weights[0], factors[0], weights[1], factors[1], weights[2], factors[2],
            out[index],
        )
    if divisor != 1:  # block sums are exact; one division rounds correctly (ties stay ties)
        np.divide(out, divisor, out=out)
    return _cast(out.reshape(out_shape), out_dtype)


@numba.njit(nogil=True, cache=True)
def _mode3(
    a: np.ndarray, fz: int, fy: int, fx: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled; checked through block_mode
    """``out[i, j, k]``: the most frequent value of its block (ties: the smallest)."""
    votes = np.empty(fz * fy * fx, dtype=a.dtype)
    m0, m1, m2 = out.shape
    for i in range(m0):
        for j in range(m1):
            for k in range(m2):
                n = 0
                for s in range(fz):
                    for t in range(fy):
                        for u in range(fx):
                            votes[n] = a[fz * i + s, fy * j + t, fx * k + u]
                            n += 1
                best = votes[0]
                best_count = 0
                for p in range(n):
                    value = votes[p]
                    count = 0
                    for q in range(n):
                        if votes[q] == value:
                            count += 1
                    if count > best_count or (count == best_count and value < best):
                        best = value
                        best_count = count
                out[i, j, k] = best


def block_mode(values: np.ndarray, factor: Sequence[int]) -> np.ndarray:
    """Most frequent value of each block of ``factor`` voxels (ties: the smallest value).

    Only whole blocks are used (trailing voxels that do not fill a block are dropped).
    The last three axes are the spatial ones; leading axes are kept.

    Examples
    --------
    >>> labels = np.array([[[1, 1], [2, 3]], [[2, 2], [3, 3]]])
    >>> block_mode(labels, (2, 2, 2))   # 2 and 3 tie with three votes: 2 wins
    array([[[2]]])
    """
    n_lead = values.ndim - 3
    m = tuple(n // f for n, f in zip(values.shape[n_lead:], factor, strict=True))
    work = np.ascontiguousarray(values.view(np.uint8) if values.dtype == np.bool_ else values)
    flat = work.reshape((-1, *work.shape[n_lead:]))
    out = np.empty((flat.shape[0], *m), dtype=work.dtype)
    for index in range(flat.shape[0]):
        _mode3(flat[index], int(factor[0]), int(factor[1]), int(factor[2]), out[index])
    out = out.reshape(values.shape[:n_lead] + m)
    return out.view(np.bool_) if values.dtype == np.bool_ else out


def _mode_block(
    blocks: list[np.ndarray],
    placements: tuple[Placement, ...],
    pads: tuple[tuple[int, int], ...],
    shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    factors: tuple[int, ...],
) -> np.ndarray:
    return block_mode(_assemble(blocks, placements, pads, shape), factors)


# ---------------------------------------------------------------------------------------
# Dask layer


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


def downsample_array(
    data: da.Array,
    factor: Sequence[int],
    method: str = "gaussian",
    chunks: Sequence[int] | None = None,
) -> da.Array:
    """Downsample the last three (spatial) axes of a Dask array by ``factor``, lazily.

    Each output chunk is one task that gathers its input window (its blocks plus a halo
    for ``"gaussian"``) straight from the input chunks, whatever their shape, and
    extends the volume's own border with the nearest value.

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
    out_chunks = da.core.normalize_chunks(
        (*((1,) * n_lead), *(min(c, m) for c, m in zip(chunks, out_shape, strict=True))),
        data.shape[:n_lead] + out_shape,
    )
    if method == "stride":
        picked = data[(Ellipsis, *(slice(0, m * f, f) for m, f in zip(out_shape, factor,
                                                                     strict=True)))]
        return picked.rechunk(out_chunks)
    # "mean" is computed as exact block sums divided once by the block size
    kind = "sum" if method == "mean" else method
    taps = [(0, np.ones(f)) if method == "mode" else block_weights(f, kind) for f in factor]
    all_taps = [(0, np.ones(1))] * n_lead + taps
    all_factors = (1,) * n_lead + factor
    windows = [
        _axis_windows(data.chunks[axis], out_chunks[axis], f, before, len(w) - before - f)
        for axis, (f, (before, w)) in enumerate(zip(all_factors, all_taps, strict=True))
    ]
    name = f"pyramid-{method}-" + tokenize(data.name, factor, method, out_chunks)
    if method == "mode":
        func: Any = _mode_block
        extra: dict[str, Any] = {"factors": factor}
    else:
        acc = _accumulator(data.dtype)
        func = _filter_block
        extra = {
            "weights": tuple(np.asarray(w, dtype=acc) for _, w in taps),
            "factors": factor,
            "out_dtype": data.dtype,
            "divisor": math.prod(factor) if method == "mean" else 1,
        }
    # Each output task depends on the input chunks inside its window directly, and on
    # copies of the thin parts it needs from neighbouring chunks (its halo): a chunk is
    # then released once its own window is done, not held for its neighbours' windows.
    take = "pyramid-halo-" + tokenize(name)
    layer: dict[Any, Any] = {}
    halos: dict[Any, Any] = {}
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
                if spec not in halos:
                    halos[spec] = (take, len(halos))
                    layer[halos[spec]] = (_take, key, source)
                key = halos[spec]
                source = tuple(slice(None) for _ in source)
            keys.append(key)
            placements.append((source, target))
        pads = tuple(p[1] for p in picked)
        shape_in = tuple(p[2] for p in picked)
        out_block = tuple(out_chunks[axis][i] for axis, i in enumerate(index))
        layer[(name, *index)] = (
            apply, func, [keys, tuple(placements), pads, shape_in, out_block], extra
        )
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[data])
    meta = np.empty((0,) * data.ndim, dtype=data.dtype)
    return da.Array(graph, name, out_chunks, dtype=data.dtype, meta=meta)


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
    method: PyramidMethod | None = None,
) -> xr.DataTree:
    """A multiscale pyramid: the volume and lazily downsampled versions of it.

    Parameters
    ----------
    volume : xarray.DataArray
        The full-resolution volume; its chunk shape becomes every level's chunk shape.
    levels : int, optional
        Number of levels, the full resolution included. ``None``: downsample until
        every axis fits in one chunk of the volume's chunking, or of 128 voxels if the
        chunks are larger (an axis already within one chunk is left alone).
    factor : int or (int, int, int)
        Largest downsampling factor per level along each axis ``(z, y, x)``; 1 never
        downsamples that axis. Per level, an axis already much coarser than the finest
        one is not downsampled (decided from the current spacing; see the module
        docstring).
    method : {"gaussian", "mean", "mode", "stride"}, optional
        ``"gaussian"`` anti-aliases (intensity images), ``"mean"`` averages blocks,
        ``"mode"`` takes each block's majority (label images: never invents a label),
        ``"stride"`` keeps every ``factor``-th voxel. ``None`` (the default): ``"mode"``
        for label volumes (boolean, or integer from a label verb; see
        :func:`xarray_microct.core.labels.is_label_volume`), ``"gaussian"`` otherwise.

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
    if method is None:
        method = default_pyramid_method(volume)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if levels is not None and (
        isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1
    ):
        raise ValueError(f"levels must be a positive integer or None, got {levels!r}")
    factors = _check_factor(factor)
    grid = grid_of(volume)
    # levels stop at one chunk, of the volume's chunking or 128 voxels if that is larger
    # (a volume held in one chunk still gets a coarse level to preview)
    chunks = tuple(min(c[0], DEFAULT_CHUNK) for c in volume.chunks[-3:])
    plan = plan_levels(grid.shape, grid.spacing, chunks, factors, levels)
    name = volume.name if volume.name is not None else "image"
    current = volume.rename(name)
    nodes = {"scale0": current.to_dataset()}
    for index, step in enumerate(plan, start=1):
        current = downsample(current, step, method, chunks)
        nodes[f"scale{index}"] = current.to_dataset()
    return xr.DataTree.from_dict(nodes)
