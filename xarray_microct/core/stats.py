"""Global statistics of a volume, computed lazily over all chunks (never per chunk).

The histogram is the shared building block: thresholds (Otsu, Li, ...) and percentiles
are read from the histogram of the whole volume.

* 8- and 16-bit integer (and boolean) volumes: one bin per possible value — exact.
* Other dtypes: ``bins`` equal bins between the global minimum and maximum; a quantile
  is then exact to within one bin width, ``(max - min) / bins``.

Non-finite values (NaN, +inf and -inf) are left out of every statistic here: one
``inf`` voxel (a reconstruction artefact) must not turn the range, and so every bin,
threshold and percentile, into NaN. :func:`finite_or_nan` gives the same rule to
statistics computed elsewhere (``normalize``).

Out-of-field padding
--------------------
A microCT reconstruction usually holds a circular field of view, with one constant
(often 0) outside the reconstruction circle: a third "phase" of a fifth of the voxels
or more, which pulls Otsu's threshold (and every level read from the histogram) into
the gap between it and the scan's phases. :func:`padding_of` recognises it from the
histogram pass itself (the same reduction, whatever the chunking): a value is padding
when

* it is the volume's finite minimum or maximum, or (floats) 0 within the range — a
  reconstruction's air is noisy about 0, below a padding of exact zeros — held
  **exactly** (for floats: equal
  values, not a bin) by at least :data:`PADDING_SHARE` of the finite voxels;
* (almost) none of its voxels lie in the central disk of the (y, x) plane (radius
  :data:`CENTRAL_RADIUS` of the inscribed circle's, on the slice's centre): at most
  :data:`PADDING_CENTRAL_SHARE` of them. Padding lies outside the reconstruction
  circle; a clipped or saturated value is spread through the objects, centre included;
* the volume is an intensity scan: a floating-point or 8/16-bit integer dtype (not
  boolean, nor a wider integer dtype such as labels), and the other voxels fill at
  least :data:`PADDING_MIN_LEVELS` bins of the histogram (not a mask, nor a handful of
  labels).

A scan with a noisy dark phase has a single voxel at its minimum, so nothing is left
out. A scan clipped or saturated at an extreme value (no padding) has clipped voxels in
its centre too, so nothing is left out: its thresholds are those of the whole volume.
The central counts are taken in the same per-block pass, from each block's global
offsets, so the decision is the same whatever the chunking. :func:`global_histogram`
leaves the padding out of its counts (``padding=True``, the default for the thresholds and levels);
:func:`global_percentiles` keeps it (``normalize`` is unchanged).

Padding and clipping
--------------------
An integer scan whose dark phase lies near 0 clips its noise to 0 inside the field as
well: a uint16 pack whose liquid lies 1.5 of its noise above 0 has 7 % of the liquid's
voxels at 0, the padding's value, in the central disk too, so the rule refuses the
padding, and the bead pipeline left its labels on it (1100-1750 voxels on 64 × 128²
packs). :func:`padding_mask_array` (the mask that ``core_distance(scan=...)`` and
``clear_padding`` read) then looks at the slices' rings (:func:`field_edge_rule`): the
value refused for its central voxels alone is counted per ring of the (y, x) slices
(the floor of the distance to the slice's centre, all slices together), in one more
per-block pass (exact integer sums: the same for any chunking) that counts nothing
where the rule found padding or no candidate. It is padding where the value holds

* under half of the central disk's voxels (the field's clipping share ``c``);
* at least ``(1 + c) / 2`` of each of the outermost rings (the corners of the slices);

and the padding is then the value's voxels from the innermost ring of a run, down from
those outermost rings, of rings that hold it at least ``c +``
:data:`FIELD_RIM_MARGIN` of the time (a ragged rim: part of the edge's ring out of the
field), if that run lies beyond the central disk and holds at least
:data:`PADDING_SHARE` of the voxels. A dark phase at 0 without padding holds it as often
in the corners as in the centre: nothing is found. The histogram's counts (thresholds,
``fill_padding``, ``padding_of``, the porosity's padding) keep the rule above: not
changed.

Measured (``benchmarks/beads_field.py``: 64 × 128², radii 5-14 in a circle of radius 62
with a third of its rim voxels out, uint16 with the liquid 1.5 noise above 0, noise 0.1
and 0.3; beads matched at IoU 0.5 by the share of the ball inside the field), main ->
this, held-out seeds 7-10: padding voxels labelled 10302 -> 0, whole 764/764 both,
cut 30-100 % 270 -> 273 of 286, 15-30 % 33 -> 43 of 66, 5-15 % 13 -> 16 of 70, under
5 % 0 -> 1 of 10, labels on no bead 0 both (tuning seeds 0-3: 11784 -> 0; 278 -> 284 of
296, 31 -> 44 of 74, 3 -> 5 of 48, 0 of 16); of the field's clipped voxels those of the
rim's rings are taken as padding (1167 and 1364 of 24217 and 27694 on seed 0). Cost on
a scan without padding: one more task per block and the sum's tree (the bead pipeline
on a 96³ pack in 48³ chunks: 620 -> 639 tasks, 3.0 CPU s both, the scan's blocks read
once either way). Not tried: the value's voxels connected to the slices' sides through
one another (a labelling across chunks: more passes; the rings assume a field centred
on the slices, as the central disk does).

NaN padding
-----------
Many reconstructions write NaN, not a constant, outside the field of view. The same
rule holds them to be padding with NaN for the constant (:func:`nan_padding_rule`: at
least :data:`PADDING_SHARE` of the voxels, at most :data:`PADDING_CENTRAL_SHARE` of them
in the central disk, the finite voxels a scan's), counted in a pass of their own
(:func:`nan_counts`, per block from its global offsets: the same for any chunking), so
that the counts and the rule of a constant padding are unchanged for every array.
:func:`fill_padding_array` (``fill_padding``) fills them with the level it fills a
constant padding with; the fiber detection judges them on the middle slice, as it
judges a constant padding (:func:`nan_padding_and_level`, :func:`fill_nan_with`).
NaN spread through the objects fail the rule and are left for the filters to refuse.

Measured, before -> after (phantoms written with numpy, a NaN outside the inscribed
circle: a 24 × 80 × 80 float32 bed of 3.5-pixel fibers, a 40 × 72 × 72 pack of
6-voxel beads): the fiber pipeline, error ("the volume contains NaN" with the radius
estimated, the Hessian's NaN error with it given) -> F1 0.987 (estimated) and 0.995
(given) in the inner field, the same table for two chunkings and the same F1 as the scan
padded with 0 (0.986 unpadded); the bead pipeline, error (NaN in the box where the
noise is measured) -> the labels of the 0-padded scan, voxel for voxel. Not done: the
NaN counts as two more of the float histogram's extra counts (one pass, not two), which
would have changed the layout every caller of :func:`padding_rule` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from xarray_microct.core.blocks.placement import summed_over_blocks
from xarray_microct.core.volume import as_dask, native_order
from xarray_microct.kernels.histogram import float_counts
from xarray_microct.kernels.labels import count

FLOAT_BINS = 65536
PADDING_SHARE = 0.02  # share of the finite voxels an extreme value must hold exactly
PADDING_MIN_LEVELS = 16  # bins the other voxels must fill (not a mask, not a few labels)
CENTRAL_RADIUS = 0.5  # the central disk's radius, a share of the inscribed circle's
PADDING_CENTRAL_SHARE = 0.005  # most of the value's voxels the central disk may hold
FIELD_RIM_MARGIN = 0.05  # a ring of the field's edge: the value this much more often
EXTRA_FLOAT_COUNTS = 6  # counts after a float histogram's bins (see _float_block_counts)
_EXACT_DTYPES = {np.dtype(t) for t in ("bool", "uint8", "int8", "uint16", "int16")}


def has_exact_histogram(dtype: np.dtype) -> bool:
    """Whether the histogram of this dtype (in any byte order) has one bin per value.

    Examples
    --------
    >>> has_exact_histogram(np.dtype(">u2")), has_exact_histogram(np.dtype("int32"))
    (True, False)
    """
    return np.dtype(dtype).newbyteorder("=") in _EXACT_DTYPES


def finite_or_nan(data: da.Array) -> da.Array:
    """The array with ``+inf`` and ``-inf`` replaced by NaN, for NaN-ignoring statistics.

    Integer and boolean arrays (which hold no infinities) are returned unchanged.

    Examples
    --------
    >>> x = da.from_array(np.array([1.0, np.inf, -np.inf, np.nan, 3.0]))
    >>> float(da.nanmax(finite_or_nan(x))), float(da.nanmin(finite_or_nan(x)))
    (3.0, 1.0)
    """
    dtype = np.dtype(data.dtype)
    if not np.issubdtype(dtype, np.floating):
        return data
    return da.where(da.isinf(data), dtype.type(np.nan), data)


def central_disk(shape: tuple[int, ...], block_info: dict | None) -> np.ndarray:
    """Mask (broadcastable to the block) of the voxels in the central disk of the
    (y, x) plane: radius :data:`CENTRAL_RADIUS` of the inscribed circle's, centred on
    the slice's centre, from the block's global offsets (the same for any chunking).

    Examples
    --------
    >>> info = {0: {"array-location": [(0, 1), (0, 8), (0, 8)], "shape": (1, 8, 8)}}
    >>> int(central_disk((1, 8, 8), info).sum())  # radius 2 around (3.5, 3.5)
    12
    """
    if len(shape) < 2 or block_info is None or 0 not in block_info:
        return np.zeros(shape, dtype=bool)
    full = block_info[0]["shape"]
    (y0, y1), (x0, x1) = block_info[0]["array-location"][-2:]
    ny, nx = full[-2], full[-1]
    radius = CENTRAL_RADIUS * min(ny, nx) / 2.0
    y = np.arange(y0, y1) - (ny - 1) / 2.0
    x = np.arange(x0, x1) - (nx - 1) / 2.0
    inside = y[:, None] ** 2 + x[None, :] ** 2 < radius**2
    return np.broadcast_to(inside, shape)


def _integer_block_counts(
    block: np.ndarray, offset: int, bins: int, ndim: int, block_info: dict | None = None
) -> np.ndarray:
    # counted as the unsigned integers of the same width (no int64 copy of the block):
    # a signed value v reads as v mod bins there, so its bin v - offset is a roll away;
    # then the same counts for the voxels in the central disk (padding is never there)
    unsigned = np.ascontiguousarray(block).view(f"u{np.dtype(block.dtype).itemsize}")
    counts = np.roll(count(unsigned.ravel(), bins - 1), -offset)
    centre = central_disk(block.shape, block_info)
    central = np.roll(count(np.ascontiguousarray(unsigned[centre]), bins - 1), -offset)
    return np.concatenate([counts, central]).reshape((1,) * ndim + (2 * bins,))


def _float_block_counts(
    block: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    bins: int,
    ndim: int,
    block_info: dict | None = None,
) -> np.ndarray:
    # the bins, then six counts: the voxels exactly at the minimum and at the maximum,
    # then those of them in the central disk; then those exactly 0, all and in the
    # central disk (one compiled pass: kernels/histogram.py)
    centre = central_disk(block.shape, block_info)
    plane = centre[(0,) * (block.ndim - 2)] if block.ndim >= 2 else centre
    counts = float_counts(block, plane, float(low), float(high), bins)
    return counts.reshape((1,) * ndim + (bins + EXTRA_FLOAT_COUNTS,))


def _histogram_with_extremes(data: da.Array, bins: int) -> tuple[da.Array, da.Array]:
    """The histogram, then the central disk's counts (:func:`central_disk`): for exact
    dtypes its whole histogram, for floats six more counts (the voxels exactly at the
    finite minimum and maximum, then those of them in the central disk, then the voxels
    exactly 0 and those of them in the central disk). One streaming pass (after the
    min/max for floats)."""
    data = native_order(data)
    dtype = np.dtype(data.dtype)
    ndim = data.ndim
    if has_exact_histogram(dtype):
        info = np.iinfo(np.uint8) if dtype == np.bool_ else np.iinfo(dtype)
        n = int(info.max) - int(info.min) + 1
        counts = da.map_blocks(
            _integer_block_counts,
            data,
            offset=int(info.min),
            bins=n,
            ndim=ndim,
            new_axis=ndim,
            chunks=(1,) * ndim + (2 * n,),
            dtype=np.int64,
        )
        counts = summed_over_blocks(counts)  # per worker first, on a cluster
        edges = da.arange(n + 1, dtype=np.float64) + (int(info.min) - 0.5)
        return counts, edges
    finite = finite_or_nan(data)
    low = da.nanmin(finite).astype(np.float64)
    high = da.nanmax(finite).astype(np.float64)
    counts = da.map_blocks(
        _float_block_counts,
        data,
        low,
        high,
        bins=bins,
        ndim=ndim,
        new_axis=ndim,
        chunks=(1,) * ndim + (bins + EXTRA_FLOAT_COUNTS,),
        dtype=np.int64,
    )
    counts = summed_over_blocks(counts)
    edges = low + (high - low) * da.linspace(0.0, 1.0, bins + 1)
    # the last edge the maximum itself (a padding's value there): low + (high - low)
    # rounds off it by an ulp for float64 data on many ranges
    edges = da.where(da.arange(bins + 1) == bins, high, edges)
    return counts, edges


def intensity_dtype(dtype: np.dtype) -> bool:
    """Whether a dtype is that of an intensity scan (float, or 8/16-bit integer), to
    which the padding rule applies (not boolean masks nor wider-integer labels).

    Examples
    --------
    >>> intensity_dtype(np.dtype("float32")), intensity_dtype(np.dtype("int32"))
    (True, False)
    """
    dtype = np.dtype(dtype).newbyteorder("=")
    return np.issubdtype(dtype, np.floating) or (dtype != np.bool_ and dtype in _EXACT_DTYPES)


def padding_rule(counts: np.ndarray, edges: np.ndarray, exact: bool, scan: bool) -> np.ndarray:
    """``[value, count, total, bin]`` of the out-of-field padding, or NaN value if none.

    ``counts`` as :func:`_histogram_with_extremes` returns them (for exact dtypes the
    histogram then the central disk's; for floats the histogram, the two extreme counts,
    then those of them in the central disk, then the count of exact zeros and those of
    them in the central disk), ``edges`` its bin edges, ``scan`` whether the dtype is
    an intensity dtype (:func:`intensity_dtype`). The rule is in the module docstring.

    Examples
    --------
    >>> counts = np.zeros(262, np.int64); counts[0] = 30; counts[100:200] = 1
    >>> counts[256], counts[257] = 30, 1  # 30 voxels exactly at the minimum
    >>> padding_rule(counts, np.linspace(0.0, 256.0, 257), False, True).tolist()
    [0.0, 30.0, 130.0, 0.0]
    >>> counts[258] = 6  # 6 of them in the central disk: clipping, not padding
    >>> padding_rule(counts, np.linspace(0.0, 256.0, 257), False, True).tolist()
    [nan, 0.0, 0.0, -1.0]
    >>> counts[260] = 40  # 40 voxels exactly 0 within the range (none central): padding
    >>> padding_rule(counts, np.linspace(-10.0, 246.0, 257), False, True).tolist()
    [0.0, 40.0, 130.0, 10.0]
    """
    best, _ = _judged(counts, edges, exact, scan)
    return best


_NONE = np.array([np.nan, 0.0, 0.0, -1.0])


def _judged(
    counts: np.ndarray, edges: np.ndarray, exact: bool, scan: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The padding rule's verdict (:func:`padding_rule`) and, where it finds none, the
    candidate it refused for its voxels in the central disk alone (else as none): a
    scan whose noise clips to the padding's value inside the field as well."""
    counts = np.asarray(counts, dtype=np.int64)
    if exact:
        n = counts.shape[0] // 2
        binned, central = counts[:n], counts[n:]
        nonzero = np.flatnonzero(binned)
        if nonzero.size == 0:
            return _NONE, _NONE
        first, last = int(nonzero[0]), int(nonzero[-1])
        candidates = [
            (first, binned[first], edges[first] + 0.5, central[first]),
            (last, binned[last], edges[last] + 0.5, central[last]),
        ]
    else:
        binned = counts[:-EXTRA_FLOAT_COUNTS]
        nonzero = np.flatnonzero(binned)
        if nonzero.size == 0:
            return _NONE, _NONE
        low, high, low_central, high_central, zeros, zeros_central = counts[-6:]
        candidates = [
            (0, low, edges[0], low_central),
            (len(binned) - 1, high, edges[-1], high_central),
        ]
        if edges[0] < 0.0 < edges[-1]:  # 0 inside the range (air's noise below it)
            # its bin as _float_block_counts put it (not from the edges' round-off)
            low, high, bins = float(edges[0]), float(edges[-1]), len(binned)
            at = int(np.clip(int((0.0 - low) * (bins / (high - low))), 0, bins - 1))
            candidates.append((at, zeros, 0.0, zeros_central))
    total = int(binned.sum())
    if not scan or total == 0:
        return _NONE, _NONE
    best, refused = _NONE, _NONE
    for index, held, value, in_centre in candidates:
        if held < PADDING_SHARE * total:
            continue
        central = in_centre > PADDING_CENTRAL_SHARE * held  # spread through the objects
        if held <= (refused if central else best)[1]:
            continue
        rest = binned.copy()
        rest[index] -= held
        if np.count_nonzero(rest) < PADDING_MIN_LEVELS:
            continue
        found = np.array([float(value), float(held), float(total), float(index)])
        if central:
            refused = found
        else:
            best = found
    return best, (_NONE if np.isfinite(best[0]) else refused)


def _without_padding(counts: np.ndarray, padding: np.ndarray, exact: bool) -> np.ndarray:
    binned = np.array(
        counts[: counts.shape[0] // 2] if exact else counts[:-EXTRA_FLOAT_COUNTS], dtype=np.int64
    )
    if np.isfinite(padding[0]):
        binned[int(padding[3])] -= int(padding[1])
    return binned


def _histogram_and_padding(data: da.Array, bins: int) -> tuple[da.Array, da.Array, da.Array]:
    raw, edges = _histogram_with_extremes(data, bins)
    exact = has_exact_histogram(data.dtype)
    padding = da.blockwise(
        padding_rule,
        "p",
        raw,
        "c",
        edges,
        "e",
        exact=exact,
        scan=intensity_dtype(data.dtype),
        new_axes={"p": 4},
        concatenate=True,
        dtype=np.float64,
    )
    n = raw.shape[0] // 2 if exact else raw.shape[0] - 4
    counts = da.blockwise(
        _without_padding,
        "b",
        raw,
        "c",
        padding,
        "p",
        exact=exact,
        new_axes={"b": n},
        concatenate=True,
        dtype=np.int64,
    )
    return counts, edges, padding


def padding_of(data: Any, bins: int = FLOAT_BINS) -> da.Array:
    """Lazy ``[value, share]`` of the out-of-field padding (NaN, 0 when none).

    The rule is in the module docstring; ``share`` is the fraction of the finite
    voxels. Built from the same graph as :func:`global_histogram` with the same
    ``bins``: computed together, the volume is read once. ``data`` is a dask array, a
    NumPy array or a DataArray (its data: a dask array stays lazy, a NumPy one is
    wrapped in one chunk).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scan = rng.normal(100.0, 10.0, (4, 20, 20)); scan[:, :, :5] = 0.0  # padding
    >>> padding_of(da.from_array(scan, chunks=7)).compute().tolist()
    [0.0, 0.25]
    >>> padding_of(scan).compute().tolist()  # NumPy (or a DataArray) too
    [0.0, 0.25]
    """
    _, _, padding = _histogram_and_padding(_as_dask(data), bins)
    return _lazy_value_and_share(padding)


def _as_dask(data: Any) -> da.Array:
    """``data`` as a dask array: a DataArray's (:func:`~xarray_microct.core.volume.as_dask`),
    a NumPy (or array-like) one in one chunk; a dask array as it is."""
    if isinstance(data, xr.DataArray):
        return as_dask(data).data
    if isinstance(data, da.Array):
        return data
    array = np.asarray(data)
    return da.from_array(array, chunks=array.shape or -1)


def _lazy_value_and_share(padding: da.Array) -> da.Array:
    """``[value, share]`` of the padding, lazily, from the histogram pass's padding counts."""
    return da.blockwise(
        _value_and_share,
        "v",
        padding,
        "p",
        new_axes={"v": 2},
        concatenate=True,
        dtype=np.float64,
    )


def _value_and_share(padding: np.ndarray) -> np.ndarray:
    share = padding[1] / padding[2] if padding[2] > 0 else 0.0
    return np.array([padding[0], share])


def global_histogram(
    data: da.Array, bins: int = FLOAT_BINS, padding: bool = True
) -> tuple[da.Array, da.Array]:
    """Lazy histogram of the whole array.

    Parameters
    ----------
    data : dask.array.Array
    bins : int
        Number of bins for dtypes without an exact histogram. NaN and ±inf are not
        counted; the bins span the finite values.
    padding : bool
        Leave the out-of-field padding out of the counts (see the module docstring;
        :func:`padding_of` says which value and how many). The bins still span it.

    Returns
    -------
    counts : dask.array.Array of int64, shape (n,)
    edges : dask.array.Array of float64, shape (n + 1,)
        Bin edges; for exact dtypes, bin ``i`` holds the value ``edges[i] + 0.5``.

    Examples
    --------
    >>> x = da.from_array(np.array([[[0, 1, 1, 3]]], dtype="uint8"), chunks=2)
    >>> counts, edges = global_histogram(x)
    >>> counts[:4].compute().tolist(), edges[:2].compute().tolist()
    ([1, 2, 0, 1], [-0.5, 0.5])
    """
    if padding:
        counts, edges, _ = _histogram_and_padding(data, bins)
        return counts, edges
    raw, edges = _histogram_with_extremes(data, bins)
    if has_exact_histogram(data.dtype):
        return raw[: raw.shape[0] // 2], edges
    return raw[:-EXTRA_FLOAT_COUNTS], edges


def histogram_centres(edges: np.ndarray, exact: bool) -> np.ndarray:
    """The value each bin of :func:`global_histogram` stands for: ``edges[i] + 0.5`` for
    an exact histogram (the bin of one value), the bin's middle otherwise.

    Examples
    --------
    >>> histogram_centres(np.array([-0.5, 0.5, 1.5]), exact=True).tolist()
    [0.0, 1.0]
    >>> histogram_centres(np.array([0.0, 1.0, 3.0]), exact=False).tolist()
    [0.5, 2.0]
    """
    edges = np.asarray(edges, dtype=np.float64)
    return edges[:-1] + 0.5 if exact else (edges[:-1] + edges[1:]) / 2


def _quantiles_from_histogram(
    counts: np.ndarray, edges: np.ndarray, q: np.ndarray, exact: bool
) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        return np.full(q.shape, np.nan)
    cumulative = np.cumsum(counts)

    def value_at_rank(rank: np.ndarray) -> np.ndarray:
        index = np.searchsorted(cumulative, rank, side="right")
        index = np.minimum(index, len(counts) - 1)
        if exact:
            return edges[index] + 0.5
        before = np.where(index > 0, cumulative[np.maximum(index - 1, 0)], 0)
        inside = (rank - before + 0.5) / np.maximum(counts[index], 1)
        return edges[index] + inside * (edges[index + 1] - edges[index])

    position = q / 100.0 * (total - 1)
    below = np.floor(position)
    fraction = position - below
    low_value = value_at_rank(below)
    high_value = value_at_rank(np.minimum(below + 1, total - 1))
    return low_value + fraction * (high_value - low_value)


def global_percentiles(data: da.Array, q: Sequence[float]) -> da.Array:
    """Lazy percentiles of the whole array, as ``numpy.percentile`` (linear) defines them.

    Exact for 8/16-bit integer volumes, within one histogram bin otherwise
    (see the module docstring). NaN and ±inf are ignored.

    Examples
    --------
    >>> x = da.from_array(np.arange(101, dtype="uint8").reshape(1, 1, 101), chunks=10)
    >>> global_percentiles(x, [0, 50, 99.5]).compute().tolist()
    [0.0, 50.0, 99.5]
    """
    q_arr = np.asarray(q, dtype=np.float64)
    if not np.all((q_arr >= 0) & (q_arr <= 100)):
        raise ValueError(f"percentiles must lie in [0, 100], got {list(q)}")
    counts, edges = global_histogram(data, padding=False)
    exact = has_exact_histogram(data.dtype)
    # one task in the arrays' own graph (a dask.delayed call would optimise and copy the
    # graph under each argument, and import distributed to look for a client)
    return da.map_blocks(
        _quantiles_from_histogram,
        counts.rechunk(-1),
        edges.rechunk(-1),
        q=q_arr,
        exact=exact,
        chunks=(q_arr.shape,),
        dtype=np.float64,
        meta=np.empty((0,), np.float64),
    )


def trim_histogram(counts: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The histogram without its empty bins at either end (raises when all are empty).

    Examples
    --------
    >>> counts, centres = trim_histogram(np.array([0, 2, 0, 1, 0]), np.arange(5.0))
    >>> counts.tolist(), centres.tolist()
    ([2, 0, 1], [1.0, 2.0, 3.0])
    """
    counts = np.asarray(counts)
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        raise ValueError("cannot threshold a volume with no finite value")
    return counts[nonzero[0] : nonzero[-1] + 1], centres[nonzero[0] : nonzero[-1] + 1]


def otsu_threshold(counts: np.ndarray, centres: np.ndarray) -> float:
    """Otsu's threshold of a histogram, as ``skimage.filters.threshold_otsu(hist=...)``.

    ``counts`` and ``centres`` as :func:`trim_histogram` returns them (a single bin is
    its own threshold).

    Examples
    --------
    >>> otsu_threshold(np.array([3, 1, 0, 1, 3]), np.arange(5.0))
    1.0
    """
    if len(counts) == 1:
        return float(centres[0])
    from skimage.filters import threshold_otsu  # here: scikit-image is slow to import

    return float(threshold_otsu(hist=(counts, centres)))


def _weighted_median(counts: np.ndarray, centres: np.ndarray) -> float:
    cumulative = np.cumsum(counts, dtype=np.float64)
    return float(centres[np.searchsorted(cumulative, cumulative[-1] / 2)])


def clear_cuts(threshold: float, dark: float, bright: float) -> tuple[float, float]:
    """The values beyond which a voxel is clearly of a phase: half way from the
    threshold to each phase's level (clear dark at or below the first, clear bright at
    or above the second; the levels from :func:`phase_levels`).

    Examples
    --------
    >>> clear_cuts(120.0, 70.0, 170.0)
    (95.0, 145.0)
    """
    return (threshold + dark) / 2, (threshold + bright) / 2


def phase_levels(counts: np.ndarray, centres: np.ndarray) -> tuple[float, float, float]:
    """Otsu's threshold and the level of each phase of a two-phase histogram.

    A voxel is *clearly* of a phase when its value lies beyond half way from the
    threshold to that phase's level (:func:`clear_cuts`); the level is the median of
    the voxels clearly of the phase: a fixed point, reached from the median of each
    side of the threshold (the level, lower, lowers the half-way cut and with it the
    median). Medians of the clear voxels, not means of each side: the partial-volume
    voxels at the phase boundaries, whose values lie between the levels, and the few
    voxels that ring artefacts push far, do not move them.

    Parameters
    ----------
    counts, centres : numpy.ndarray
        A histogram, as :func:`trim_histogram` returns it.

    Returns
    -------
    (threshold, dark level, bright level) : tuple of float
        A phase without voxels has the threshold as its level.

    Examples
    --------
    >>> centres = np.arange(10.0)
    >>> counts = np.array([0, 5, 9, 5, 1, 1, 1, 6, 8, 6])  # with a partial-volume tail
    >>> phase_levels(counts, centres)
    (5.0, 2.0, 8.0)
    """
    counts = np.asarray(counts)
    centres = np.asarray(centres, dtype=np.float64)
    threshold = otsu_threshold(counts, centres)
    levels = []
    for side in (centres <= threshold, centres > threshold):
        if not counts[side].any():
            levels.append(threshold)
            continue
        level = _weighted_median(counts[side], centres[side])
        for _ in range(len(centres)):  # monotone: stops after a few steps
            dark_cut, bright_cut = clear_cuts(threshold, level, level)
            clear = (centres <= dark_cut) if level <= threshold else (centres >= bright_cut)
            new = _weighted_median(counts[clear], centres[clear]) if counts[clear].any() else level
            if new == level:
                break
            level = new
        levels.append(level)
    return threshold, levels[0], levels[1]


def _phase_level(counts: np.ndarray, edges: np.ndarray, exact: bool, bright: bool) -> np.ndarray:
    centres = histogram_centres(edges, exact)
    _, dark, light = phase_levels(*trim_histogram(counts, centres))
    return np.array([light if bright else dark])


def _fill_block(block: np.ndarray, padding: np.ndarray, level: np.ndarray) -> np.ndarray:
    if not np.isfinite(padding[0]):
        return block
    dtype = np.dtype(block.dtype)
    value = level[0]
    if not np.issubdtype(dtype, np.floating):
        info = np.iinfo(dtype)
        value = np.clip(np.rint(value), info.min, info.max)
    return np.where(block == padding[0], dtype.type(value), block)


def _lazy_phase_level(counts: da.Array, edges: da.Array, dtype: np.dtype, bright: bool) -> da.Array:
    """Lazy ``[level]`` of the dark (or bright) phase of a histogram (:func:`_phase_level`)."""
    return da.blockwise(
        _phase_level,
        "l",
        counts,
        "c",
        edges,
        "e",
        exact=has_exact_histogram(dtype),
        bright=bright,
        new_axes={"l": 1},
        concatenate=True,
        dtype=np.float64,
    )


def padding_and_level(data: da.Array, bright: bool = False) -> da.Array:
    """Lazy ``[value, share, level]``: the out-of-field padding (NaN, 0 when none) and
    the level of the dark (or bright) phase that :func:`fill_padding_array` fills it
    with, from one histogram pass; to compute first and fill with
    :func:`fill_padding_with` (no reduction left in the fill's graph).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scan = np.where(rng.random((4, 20, 20)) < 0.5, 60.0, 160.0)
    >>> scan += rng.normal(0, 5, scan.shape); scan[:, :, :5] = 0.0  # padding
    >>> value, share, level = padding_and_level(da.from_array(scan, chunks=7)).compute()
    >>> float(value), float(share), bool(abs(level - 60) < 2)
    (0.0, 0.25, True)
    """
    counts, edges, padding = _histogram_and_padding(data, FLOAT_BINS)
    level = _lazy_phase_level(counts, edges, data.dtype, bright)
    return da.concatenate([_lazy_value_and_share(padding), level])


def fill_padding_with(data: da.Array, value: float, level: float) -> da.Array:
    """``data`` with the voxels equal to ``value`` replaced by ``level`` (cast to the
    dtype as :func:`fill_padding_array` casts it), block by block; unchanged when
    ``value`` is NaN.

    Examples
    --------
    >>> x = da.from_array(np.array([0, 7, 0, 9], "uint8"), chunks=2)
    >>> fill_padding_with(x, 0.0, 4.6).compute().tolist()
    [5, 7, 5, 9]
    """
    if not np.isfinite(value):
        return data
    return da.map_blocks(
        _fill_block,
        native_order(data),
        padding=np.array([value]),
        level=np.array([level]),
        dtype=data.dtype,
    )


def _nan_block_counts(block: np.ndarray, ndim: int, block_info: dict | None = None) -> np.ndarray:
    nan = np.isnan(block)
    central = np.count_nonzero(nan[central_disk(block.shape, block_info)])
    counts = np.array([np.count_nonzero(nan), central, block.size], dtype=np.int64)
    return counts.reshape((1,) * ndim + (3,))


def nan_counts(data: da.Array) -> da.Array:
    """Lazy ``[NaN voxels, those in the central disk, voxels]`` of a float array
    (:func:`central_disk`: from each block's global offsets, the same for any chunking).

    Examples
    --------
    >>> x = np.zeros((1, 8, 8)); x[0, :, 0] = np.nan  # a column at the edge
    >>> nan_counts(da.from_array(x, chunks=3)).compute().tolist()
    [8, 0, 64]
    """
    ndim = data.ndim
    return da.map_blocks(
        _nan_block_counts,
        data,
        ndim=ndim,
        new_axis=ndim,
        chunks=(1,) * ndim + (3,),
        dtype=np.int64,
    ).sum(axis=tuple(range(ndim)))


def nan_padding_rule(nans: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``[1, share]`` when a float scan's NaN voxels are out-of-field padding, else
    ``[0, share]`` (``share``: of all voxels).

    The padding rule of the module docstring with NaN for the constant: NaN held by at
    least :data:`PADDING_SHARE` of the voxels, at most :data:`PADDING_CENTRAL_SHARE` of
    them in the central disk (a reconstruction writes NaN outside its field of view;
    NaN spread through the objects is something else, left for the filters to refuse),
    and the finite voxels fill at least :data:`PADDING_MIN_LEVELS` bins of their
    histogram ``counts`` (a scan, not a mask). ``nans`` as :func:`nan_counts` gives them.

    Examples
    --------
    >>> counts = np.ones(100, np.int64)
    >>> nan_padding_rule(np.array([30, 0, 130]), counts).round(3).tolist()
    [1.0, 0.231]
    >>> nan_padding_rule(np.array([30, 6, 130]), counts)[0]  # NaN in the centre too
    np.float64(0.0)
    """
    nan, central, voxels = (int(n) for n in np.asarray(nans))
    share = nan / voxels if voxels else 0.0
    padding = (
        nan > 0
        and nan >= PADDING_SHARE * voxels
        and central <= PADDING_CENTRAL_SHARE * nan
        and np.count_nonzero(counts) >= PADDING_MIN_LEVELS
    )
    return np.array([float(padding), share])


def _lazy_nan_rule(data: da.Array, counts: da.Array) -> da.Array:
    """Lazy :func:`nan_padding_rule` of ``data``, whose histogram is ``counts``."""
    return da.blockwise(
        nan_padding_rule,
        "r",
        nan_counts(data),
        "n",
        counts,
        "c",
        new_axes={"r": 2},
        concatenate=True,
        dtype=np.float64,
    )


def _fill_nan_block(block: np.ndarray, rule: np.ndarray, level: np.ndarray) -> np.ndarray:
    if not rule[0]:
        return block
    return np.where(np.isnan(block), block.dtype.type(level[0]), block)


def fill_nan_with(data: da.Array, level: float) -> da.Array:
    """``data`` with its NaN replaced by ``level``, block by block (a float array).

    Examples
    --------
    >>> x = da.from_array(np.array([np.nan, 7.0, np.nan, 9.0]), chunks=2)
    >>> fill_nan_with(x, 4.5).compute().tolist()
    [4.5, 7.0, 4.5, 9.0]
    """
    return da.map_blocks(
        _fill_nan_block, data, rule=np.array([1.0]), level=np.array([level]), dtype=data.dtype
    )


def nan_padding_and_level(data: da.Array, bright: bool = False) -> da.Array:
    """Lazy ``[is padding, share, level]`` of a float array's NaN: whether they are
    out-of-field padding (:func:`nan_padding_rule`), their share of the voxels, and the
    level of the dark (or bright) phase that fills them, that of
    :func:`padding_and_level` (the histogram of the finite voxels, a constant padding
    left out). One histogram pass; to compute first and fill with :func:`fill_nan_with`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scan = np.where(rng.random((4, 20, 20)) < 0.5, 60.0, 160.0)
    >>> scan += rng.normal(0, 5, scan.shape); scan[:, :, :5] = np.nan  # NaN padding
    >>> padding, share, level = nan_padding_and_level(da.from_array(scan, chunks=7)).compute()
    >>> bool(padding), float(share), bool(abs(level - 60) < 2)
    (True, 0.25, True)
    """
    data = native_order(data)
    counts, edges, _ = _histogram_and_padding(data, FLOAT_BINS)
    level = _lazy_phase_level(counts, edges, data.dtype, bright)
    rule = _lazy_nan_rule(data, counts)
    return da.concatenate([rule, level])


def fill_padding_array(data: da.Array, bright: bool = False) -> tuple[da.Array, da.Array]:
    """The array with its out-of-field padding replaced by a phase's level (lazy).

    The padding is recognised by :func:`padding_of` (module docstring); its voxels
    take the level of the dark phase (``bright=False``) or of the bright one, read from
    the histogram of the other voxels (:func:`phase_levels`), cast to the dtype. An
    array without padding is returned unchanged (value for value).

    A float array's NaN are filled with the same level where they are padding by the
    same rule (:func:`nan_padding_rule`): a reconstruction that writes NaN outside its
    field of view, not a constant.

    Returns
    -------
    filled : dask.array.Array, same dtype
    padding : dask.array.Array, ``[value, share, NaN share]``: the constant padding
        (NaN, 0 when none) and the share of the voxels that were NaN padding (0 when
        none, and for integer arrays)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scan = np.where(rng.random((4, 20, 20)) < 0.5, 60.0, 160.0)
    >>> scan += rng.normal(0, 5, scan.shape); scan[:, :, :5] = 0.0  # padding
    >>> filled, padding = fill_padding_array(da.from_array(scan, chunks=7))
    >>> abs(float(filled[0, 0, 0]) - 60) < 2, padding.compute().tolist()  # the dark level
    (True, [0.0, 0.25, 0.0])
    """
    data = native_order(data)
    counts, edges, padding = _histogram_and_padding(data, FLOAT_BINS)
    level = _lazy_phase_level(counts, edges, data.dtype, bright)
    filled = da.map_blocks(_fill_block, data, padding, level, dtype=data.dtype)
    share = _lazy_value_and_share(padding)
    if not np.issubdtype(np.dtype(data.dtype), np.floating):
        return filled, da.concatenate([share, da.zeros(1)])
    rule = _lazy_nan_rule(data, counts)
    filled = da.map_blocks(_fill_nan_block, filled, rule, level, dtype=data.dtype)
    nan_share = da.blockwise(
        _nan_share_filled, "s", rule, "r", new_axes={"s": 1}, concatenate=True, dtype=float
    )
    return filled, da.concatenate([share, nan_share])


def _ring_plane(shape: tuple[int, ...], block_info: dict | None) -> np.ndarray:
    """The (y, x) plane of a block's ring indices: the floor of the distance to the
    slice's centre (that of :func:`central_disk`), from the block's global offsets."""
    full = block_info[0]["shape"]
    (y0, y1), (x0, x1) = block_info[0]["array-location"][-2:]
    y = np.arange(y0, y1) - (full[-2] - 1) / 2.0
    x = np.arange(x0, x1) - (full[-1] - 1) / 2.0
    return np.hypot(y[:, None], x[None, :]).astype(np.int64)


def ring_count(shape: tuple[int, ...]) -> int:
    """The number of rings of :func:`_ring_plane` in slices of ``shape``'s last two axes."""
    return int(np.hypot(shape[-2] / 2.0, shape[-1] / 2.0)) + 2


def _ring_block_counts(
    block: np.ndarray, refused: np.ndarray, rings: int, ndim: int, block_info: dict | None = None
) -> np.ndarray:
    # per ring: the voxels equal to the refused candidate, then all voxels (nothing is
    # counted where the rule found padding, or no candidate)
    out = np.zeros(2 * rings, np.int64)
    if np.isfinite(refused[0]) and block.ndim >= 2 and block_info is not None:
        plane = _ring_plane(block.shape, block_info)
        held = (block == refused[0]).reshape(-1, *plane.shape).sum(axis=0)
        out[:rings] = np.bincount(plane.ravel(), weights=held.ravel(), minlength=rings)
        out[rings:] = np.bincount(plane.ravel(), minlength=rings) * (block.size // plane.size)
    return out.reshape((1,) * ndim + (2 * rings,))


def field_edge_rule(rings: np.ndarray, refused: np.ndarray, inscribed: float) -> np.ndarray:
    """``[value, inner ring]`` of a padding the rule refused for its voxels in the
    central disk, where those voxels are the noise of the field clipped to the
    padding's value (NaN, -1 where not); ``rings`` as :func:`_ring_block_counts` sums
    them (the value's voxels per ring of the slices, then all voxels per ring),
    ``inscribed`` the radius of the slices' inscribed circle. The rule is in the
    module docstring ("Padding and clipping").

    Examples
    --------
    >>> held = np.array([5, 5, 5, 5, 6, 40, 100, 100]); voxels = np.full(8, 100)
    >>> field_edge_rule(np.concatenate([held, voxels]), np.array([0.0]), 6.0).tolist()
    [0.0, 5.0]
    >>> held[-2:] = 5  # the value as often at the slices' edges as in the centre
    >>> field_edge_rule(np.concatenate([held, voxels]), np.array([0.0]), 6.0).tolist()
    [nan, -1.0]
    """
    none = np.array([np.nan, -1.0])
    rings = np.asarray(rings, dtype=np.int64)
    n = rings.shape[0] // 2
    held, voxels = rings[:n], rings[n:]
    if not np.isfinite(refused[0]) or voxels.sum() == 0:
        return none
    centre = int(np.ceil(CENTRAL_RADIUS * inscribed))
    clipped = held[:centre].sum() / max(int(voxels[:centre].sum()), 1)  # in the field
    if clipped >= 0.5:
        return none
    there = np.flatnonzero(voxels)
    share = np.zeros(n)
    share[there] = held[there] / voxels[there]
    firm = there[share[there] < (1.0 + clipped) / 2.0]  # rings not mostly the value
    outer = int(firm[-1]) + 1 if firm.size else int(there[0])
    if outer > there[-1]:  # the outermost ring is not padding
        return none
    # inwards while the rings hold the value clearly more often than the field does
    # (a ragged rim: some of its voxels outside the field)
    low = there[(there < outer) & (share[there] < clipped + FIELD_RIM_MARGIN)]
    inner = int(low[-1]) + 1 if low.size else int(there[0])
    if inner <= centre or held[inner:].sum() < PADDING_SHARE * voxels.sum():
        return none
    return np.array([float(refused[0]), float(inner)])


def _field_edge(data: da.Array, raw: da.Array, edges: da.Array) -> da.Array:
    """Lazy :func:`field_edge_rule` of ``data``, whose histogram pass gave ``raw``."""
    refused = da.blockwise(
        _refused_value,
        "v",
        raw,
        "c",
        edges,
        "e",
        exact=has_exact_histogram(data.dtype),
        scan=intensity_dtype(data.dtype),
        new_axes={"v": 1},
        concatenate=True,
        dtype=np.float64,
    )
    ndim, rings = data.ndim, ring_count(data.shape)
    per_block = da.map_blocks(
        _ring_block_counts,
        data,
        refused,
        rings=rings,
        ndim=ndim,
        new_axis=ndim,
        chunks=(1,) * ndim + (2 * rings,),
        dtype=np.int64,
    )
    inscribed = min(data.shape[-2], data.shape[-1]) / 2.0 if ndim >= 2 else 0.0
    return da.blockwise(
        field_edge_rule,
        "f",
        summed_over_blocks(per_block),
        "r",
        refused,
        "v",
        inscribed=inscribed,
        new_axes={"f": 2},
        concatenate=True,
        dtype=np.float64,
    )


def _refused_value(counts: np.ndarray, edges: np.ndarray, exact: bool, scan: bool) -> np.ndarray:
    return _judged(counts, edges, exact, scan)[1][:1]


def _padding_block(
    block: np.ndarray, padding: np.ndarray, edge: np.ndarray, block_info: dict | None = None
) -> np.ndarray:
    if np.isfinite(padding[0]):
        return block == padding[0]
    if np.isfinite(edge[0]):
        return (block == edge[0]) & (_ring_plane(block.shape, block_info) >= edge[1])
    return np.zeros(block.shape, bool)


def _nan_padding_block(block: np.ndarray, found: np.ndarray, rule: np.ndarray) -> np.ndarray:
    return found | np.isnan(block) if rule[0] else found


def padding_mask_array(data: da.Array) -> da.Array:
    """Where the out-of-field padding lies (lazy boolean): the voxels
    :func:`fill_padding_array` fills, by the same rule (all False without padding);
    where the rule refuses a value for its voxels in the central disk, those of its
    voxels outside the field's edge that the slices' rings show (:func:`field_edge_rule`:
    a scan whose noise clips to the padding's value inside the field).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scan = np.where(rng.random((4, 20, 20)) < 0.5, 60.0, 160.0)
    >>> scan += rng.normal(0, 5, scan.shape); scan[:, :, :5] = 0.0  # padding
    >>> out = padding_mask_array(da.from_array(scan, chunks=7)).compute()
    >>> bool(out[:, :, :5].all()), bool(out[:, :, 5:].any())
    (True, False)
    >>> y, x = np.indices((20, 20)) - 9.5
    >>> scan = np.clip(scan, 62.0, None); scan[:, np.hypot(y, x) > 9] = 0.0  # a circle
    >>> scan[:, 8:10, 8:10] = scan[2, 5, 8] = 0.0  # and the same value in the field
    >>> out = padding_mask_array(da.from_array(scan, chunks=7)).compute()
    >>> bool(out[:, np.hypot(y, x) > 9].all()), int(out[:, np.hypot(y, x) <= 9].sum())
    (True, 0)
    """
    data = native_order(data)
    raw, edges = _histogram_with_extremes(data, FLOAT_BINS)
    counts, _, padding = _histogram_and_padding(data, FLOAT_BINS)  # the same pass
    edge = _field_edge(data, raw, edges) if data.ndim >= 2 else da.from_array(np.full(2, np.nan))
    found = da.map_blocks(_padding_block, data, padding, edge, dtype=bool)
    if not np.issubdtype(np.dtype(data.dtype), np.floating):
        return found
    rule = _lazy_nan_rule(data, counts)
    return da.map_blocks(_nan_padding_block, data, found, rule, dtype=bool)


def _nan_share_filled(rule: np.ndarray) -> np.ndarray:
    return np.array([rule[1] if rule[0] else 0.0])
