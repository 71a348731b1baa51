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
``min(spacing * factor)``), as neuroglancer's near-isotropic downsampling does. A scan
with slices four times thicker than its pixels keeps its slices until the pixels have
caught up. The chunks play no part in it: a stack read one slice per chunk, or chunked
(13, 80, 30), gets the same levels as any other chunking; they only decide how many
levels ``levels=None`` makes (:func:`~xarray_microct.core.tree.plan_levels`, imported
here). So the levels approach isotropic voxels, as viewers (napari, neuroglancer,
OME-NGFF readers) expect: a thin stack of isotropic voxels, (32, 512, 512), thins in z
with x and y, (16, 256, 256) then (8, 128, 128), and an axis stops only when fewer than
``factor`` voxels are left (a level is never less than one voxel thick). ``levels=None``
stops once every axis fits in one chunk, or once a level holds no more voxels than one
chunk: chunks thin along one axis (one slice each) do not make levels down to a few
voxels wide.

A pyramid of a pyramid (a tree, or its full-resolution level) is the pyramid of its
full-resolution volume, made again: its record replaces the earlier pyramid's (see
:func:`pyramid`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize

from xarray_microct.core.blocks.windows import map_windows
from xarray_microct.core.labels import default_pyramid_method
from xarray_microct.core.registry import ESTIMATED_KEY, operation
from xarray_microct.core.tree import plan_levels
from xarray_microct.core.validation import NanPolicy, check_nan_policy, nan_checked
from xarray_microct.core.volume import DEFAULT_CHUNK, SPATIAL_DIMS, grid_of, spatial_coords
from xarray_microct.kernels.pyramid import block_mode, decimate

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


# ---------------------------------------------------------------------------------------
# Per-block kernels (NumPy arrays, spatial axes last)


def _accumulator(dtype: np.dtype) -> np.dtype:
    """float64 where float32 would lose integer precision (>16-bit ints, float64)."""
    dtype = np.dtype(dtype)
    wide = dtype == np.float64 or (dtype.kind in "iu" and dtype.itemsize >= 4)
    return np.dtype(np.float64) if wide else np.dtype(np.float32)


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "iub":
        np.rint(values, out=values)
    return values.astype(dtype, copy=False)


def _filter_block(
    window: np.ndarray,
    out_shape: tuple[int, ...],
    weights: tuple[np.ndarray, ...],
    factors: tuple[int, ...],
    out_dtype: np.dtype,
    divisor: int,
) -> np.ndarray:
    if window.dtype == np.bool_ or window.dtype == np.float16:
        window = window.astype(np.float32)
    out = decimate(window, weights, factors)
    if divisor != 1:  # block sums are exact; one division rounds correctly (ties stay ties)
        np.divide(out, divisor, out=out)
    return _cast(out, out_dtype)


def _mode_block(
    window: np.ndarray, out_shape: tuple[int, ...], factors: tuple[int, ...]
) -> np.ndarray:
    return block_mode(window, factors)


# ---------------------------------------------------------------------------------------
# Dask layer


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
        picked = data[
            (Ellipsis, *(slice(0, m * f, f) for m, f in zip(out_shape, factor, strict=True)))
        ]
        return picked.rechunk(out_chunks)
    # "mean" is computed as exact block sums divided once by the block size
    kind = "sum" if method == "mean" else method
    taps = [(0, np.ones(f)) if method == "mode" else block_weights(f, kind) for f in factor]
    halos = [(0, 0)] * n_lead + [
        (before, len(w) - before - f) for f, (before, w) in zip(factor, taps, strict=True)
    ]
    factors = (1,) * n_lead + factor
    name = f"pyramid-{method}-" + tokenize(data.name, factor, method, out_chunks)
    if method == "mode":
        block = partial(_mode_block, factors=factor)
    else:
        acc = _accumulator(data.dtype)
        block = partial(
            _filter_block,
            weights=tuple(np.asarray(w, dtype=acc) for _, w in taps),
            factors=factor,
            out_dtype=data.dtype,
            divisor=math.prod(factor) if method == "mean" else 1,
        )
    return map_windows(data, block, out_chunks, factors, halos, data.dtype, name)


def _check_factor(factor: int | Sequence[int]) -> tuple[int, int, int]:
    values = (factor,) * 3 if np.isscalar(factor) else tuple(factor)  # type: ignore[arg-type]
    if len(values) != 3 or not all(
        isinstance(f, (int, np.integer)) and not isinstance(f, bool) for f in values
    ):
        raise TypeError(f"factor must be an integer or three integers (z, y, x), got {factor!r}")
    if min(values) < 1 or max(values) < 2:
        raise ValueError(f"factor must be >= 1 per axis and >= 2 on some axis, got {factor!r}")
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


@operation(intensity_units="keep", packages=["numba"], on_tree="level", restarts=True)
def pyramid(
    volume: xr.DataArray,
    levels: int | None = None,
    factor: int | Sequence[int] = 2,
    method: PyramidMethod | None = None,
    nan_policy: NanPolicy = "propagate",
) -> xr.DataTree:
    """A multiscale pyramid: the volume and lazily downsampled versions of it.

    Parameters
    ----------
    volume : xarray.DataArray
        The full-resolution volume; its chunk shape becomes every level's chunk shape.
    levels : int, optional
        Number of levels, the full resolution included. ``None``: make levels until
        every axis fits in one chunk of the volume's chunking, or of 128 voxels if the
        chunks are larger (or cannot shrink further), or until a level holds no more
        voxels than such a chunk. The chunking sets only the number of levels, never
        their factors.
    factor : int or (int, int, int)
        Largest downsampling factor per level along each axis ``(z, y, x)``; 1 never
        downsamples that axis. Per level, an axis already much coarser than the finest
        one is not downsampled, nor one of fewer than ``factor`` voxels (decided from the
        level's spacing and shape; see the module docstring).
    method : {"gaussian", "mean", "mode", "stride"}, optional
        ``"gaussian"`` anti-aliases (intensity images), ``"mean"`` averages blocks,
        ``"mode"`` takes each block's majority (label images: never invents a label),
        ``"stride"`` keeps every ``factor``-th voxel. ``None`` (the default): ``"mode"``
        for label volumes (boolean, or integer from a label verb; see
        :func:`xarray_microct.core.labels.is_label_volume`), ``"gaussian"`` otherwise.
    nan_policy : {"propagate", "raise"}
        NaN (or ±inf) in a float volume downsampled by ``"gaussian"`` or ``"mean"``: give NaN
        wherever a NaN is within reach (the default: a pyramid is for viewing, and NaN
        is OME-Zarr's "no data"; the NaN region grows by a voxel or two at each level),
        or fail as the coarser levels are computed, naming the fix (``fillna``,
        ``fill_padding``). The filters (``gaussian``, ``median``...) raise by default.

    Returns
    -------
    xarray.DataTree
        Nodes ``scale0`` (the volume), ``scale1``, ... each holding one volume with the
        input's name (``"image"`` if unnamed), dtype, units and provenance, and physical
        coordinates of its own voxel centres. Lazy. Write it with
        ``tree.microct.to_zarr(store)`` (OME-Zarr).

    Notes
    -----
    On a pyramid (a tree, or its full-resolution level) it makes the pyramid of the
    full-resolution volume again, other ``levels``, ``factor`` or ``method`` allowed: its
    record replaces the earlier pyramid's, so the result is that of ``pyramid`` on the
    volume, provenance included. On a level read back from a store
    (``open_volume(store, level=k)``) it makes the pyramid of that level, which records
    the level and replays from it. On a coarser level taken in memory
    (``tree.microct.pyramid(level=1)``) it raises ``ValueError``: its provenance could not
    say which level it started from (the full-resolution pyramid has the same coarser
    levels, each level being made from the one before).

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

    The levels do not depend on the chunking, only how many there are:

    >>> one_slice = vol.chunk({"z": 1}).microct.pyramid()
    >>> [one_slice[n]["scan"].shape for n in one_slice.children][:3]
    [(64, 128, 128), (64, 64, 64), (32, 32, 32)]

    A pyramid of a pyramid is made again from its full resolution, with one record:

    >>> again = tree.microct.pyramid(levels=2)
    >>> [r["op"] for r in again["scale1"]["scan"].attrs["microct_provenance"]]
    ['pyramid']
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
    # levels stop at one chunk (every axis, or its voxels), of the volume's chunking or
    # 128 voxels if that is larger (a volume held in one chunk still gets a coarse level)
    chunks = tuple(min(c[0], DEFAULT_CHUNK) for c in volume.chunks[-3:])
    plan = plan_levels(grid.shape, grid.spacing, chunks, factors, levels)
    name = volume.name if volume.name is not None else "image"
    current = volume.rename(name)
    nodes = {"scale0": current.to_dataset()}
    if method in ("gaussian", "mean"):  # checked as level 1 reads it; level 0 as it is
        current = current.copy(data=nan_checked(current.data, nan_policy, "pyramid"))
    else:
        check_nan_policy(nan_policy)
    for index, step in enumerate(plan, start=1):
        current = downsample(current, step, method, chunks)
        nodes[f"scale{index}"] = current.to_dataset()
    tree = xr.DataTree.from_dict(nodes)
    # the number of levels made goes into the provenance record: a level read back
    # from a store of one level is then known to be the volume itself (level 0)
    tree.attrs[ESTIMATED_KEY] = {"levels": len(nodes)}
    return tree
