"""Ring artefacts of a two-phase scan: one offset per detector column, taken off exactly.

A miscalibrated detector pixel adds a fixed offset along a circle around the rotation
axis of the scan: rings, centred on the ``z`` axis of the reconstructed volume and
running along it. On a two-phase scan (beads and pores, fibers and matrix) the offset
of each ``(y, x)`` column is seen directly: the voxels of either phase there lie above
or below the phase's level by that offset. So :func:`ring_offsets_array`

1. splits the voxels by Otsu's threshold of the whole volume's histogram and takes the
   level of each phase from it (:func:`~xarray_microct.core.stats.phase_levels`: the
   median of the voxels clearly of the phase);
2. keeps the voxels that are clearly of one phase (beyond half way from the threshold
   to the phase's level: not the partial-volume voxels at the phase boundaries, whose
   values lie between the levels);
3. averages, per ``(y, x)`` column, how far those voxels lie from their phase's level;
4. scales these averages by the share of their variance that is rings: the two halves
   of the scan along ``z`` each give an average per column; the rings, constant along
   ``z``, are in both, while the noise and the structure's partial-volume voxels are
   not, so the covariance of the two halves' averages over the columns is the rings'
   variance (a Wiener weight, estimated from the scan, clipped to [0, 1]).

No centre of rotation is assumed, nor any shape of the ring profile; the offsets are
assumed constant along ``z`` (a column of the detector), which is what they are when
the rings come from the detector's response. On a scan without rings the averages are
its noise over a column, ``sigma / sqrt(n)`` for ``n`` clear voxels, on which the two
halves do not agree: the weight takes them down to near zero, instead of adding that
noise to every column (it moved the surfaces of small beads by a tenth of a voxel).

The sums are of integers (the values quantised on ``2**16`` levels between the
volume's minimum and maximum), and the weight from exact sums over the columns (added
block by block, in Python integers), so the offsets are the same for any chunking.
"""

from __future__ import annotations

from fractions import Fraction

import dask.array as da
import numpy as np
import xarray as xr

from xarray_microct.core.blocks.overlap import float_dtype
from xarray_microct.core.registry import operation
from xarray_microct.core.stats import (
    clear_cuts,
    global_histogram,
    has_exact_histogram,
    histogram_centres,
    phase_levels,
    trim_histogram,
)
from xarray_microct.core.volume import wrap_like
from xarray_microct.kernels.rings import column_residuals, subtract_rounded

__all__ = ["remove_rings", "ring_offsets_array"]

LEVELS = 2**16  # quantisation of the values for the exact column sums


def _phase_levels(counts: np.ndarray, edges: np.ndarray, exact: bool) -> np.ndarray:
    """[threshold, dark level, bright level, low, step] from a global histogram."""
    centres = histogram_centres(edges, exact)
    levels = phase_levels(*trim_histogram(counts, centres))
    low, high = float(edges[0]), float(edges[-1])
    step = (high - low) / LEVELS if high > low else 1.0
    return np.array([*levels, low, step])


def _column_sums(
    block: np.ndarray, levels: np.ndarray, middle: int, block_info: dict | None = None
) -> np.ndarray:
    """Per column and half of the scan (``z`` before / from ``middle``): the integer sum
    of (quantised value - its phase's level) and the count of clear voxels."""
    threshold, level_dark, level_bright, low, step = levels
    dark_below, bright_above = clear_cuts(threshold, level_dark, level_bright)
    block = block.astype(np.float32) if block.dtype == np.float16 else block  # not compiled
    start = block_info[0]["array-location"][0][0] if block_info else 0
    split = min(max(middle - start, 0), block.shape[0])
    halves = [
        column_residuals(
            part,
            dark_below=dark_below,
            bright_above=bright_above,
            low=low,
            step=step,
            q_dark=np.rint((level_dark - low) / step),
            q_bright=np.rint((level_bright - low) / step),
        )
        for part in (block[:split], block[split:])
    ]
    return np.concatenate(halves, axis=-1)[None]


def _subtract_block(block: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return subtract_rounded(block, offsets[0])


def _mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _exact_sum(values: np.ndarray) -> int:
    """The exact sum of finite float64 ``values``, times ``2**1127`` (every float64 is an
    integer multiple of ``2**-1127`` once its 53-bit mantissa is an integer): the integer
    mantissas are added per binary exponent in 18-bit parts (the top one their sign),
    whose sums stay exact in float64 for up to ``2**35`` values."""
    fraction, exponent = np.frexp(values.ravel())
    if exponent.size == 0:
        return 0
    mantissa = (fraction * 2.0**53).astype(np.int64)
    lowest = int(exponent.min())
    bins = exponent - lowest
    shifts = (0, 18, 36, 54)
    parts = [np.bincount(bins, weights=(mantissa >> shift) & (2**18 - 1)) for shift in shifts[:3]]
    parts.append(np.bincount(bins, weights=mantissa >> 54))  # -1 for a negative mantissa
    total = 0
    for at in np.flatnonzero(np.bincount(bins)):
        exact = sum(int(part[at]) << shift for part, shift in zip(parts, shifts, strict=True))
        total += exact << (int(at) + lowest + 1074)
    return total


def _exact_product_sum(a: np.ndarray, b: np.ndarray) -> int:
    """The exact sum of the products ``a * b`` (not rounded one by one), as
    :func:`_exact_sum` gives it: each product is split into its float64 value and the
    rounding error of it (Dekker's product, exact for values well inside float64's
    range, as column offsets are)."""
    product = a * b
    a_high, a_low = _halves(a)
    b_high, b_low = _halves(b)
    error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    return _exact_sum(product) + _exact_sum(error)


def _halves(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` as the sum of two float64 of 26 significant bits each (Veltkamp)."""
    scaled = values * (2.0**27 + 1)
    high = scaled - (scaled - values)
    return high, values - high


def _agreement_sums(sums: np.ndarray) -> np.ndarray:
    """The exact sums :func:`_agreement` needs, over the columns of one block of
    ``sums`` that have clear voxels in both halves: their count, and the sums of the
    first half's, the second half's and the whole column's offsets, of the product of
    the halves' and of the square of the whole's, all exact (``(1, 1, 6)`` Python
    integers, see :func:`_exact_sum`)."""
    sums = sums.reshape(-1, 4)
    sums = sums[(sums[:, 1] > 0) & (sums[:, 3] > 0)].astype(np.float64)
    first, second = sums[:, 0] / sums[:, 1], sums[:, 2] / sums[:, 3]
    whole = (sums[:, 0] + sums[:, 2]) / (sums[:, 1] + sums[:, 3])
    found = [
        len(sums),
        _exact_sum(first),
        _exact_sum(second),
        _exact_product_sum(first, second),
        _exact_sum(whole),
        _exact_product_sum(whole, whole),
    ]
    return np.array(found, dtype=object).reshape(1, 1, 6)


def _agreement(partial: np.ndarray) -> np.ndarray:
    """The fraction of the column offsets' variance that the two halves agree on.

    The covariance over the columns of the two halves' offsets is the variance of the
    rings (constant along ``z``, in both halves), not of the noise and structure
    (independent between halves); divided by the variance of the offsets of the whole
    columns, clipped to [0, 1]. 1 when fewer than two columns have clear voxels in
    both halves (nothing to compare). From the blocks' exact sums
    (:func:`_agreement_sums`), added here: the same for any chunking.
    """
    count, first, second, product, whole, square = partial.reshape(-1, 6).sum(axis=0)
    if count < 2:
        return np.ones(1)
    # count**2 * 2**2254 times the variance of the whole and the covariance of the halves
    spread = count * square * 2**1127 - whole * whole
    if spread == 0:
        return np.ones(1)
    shared = count * product * 2**1127 - first * second
    return np.array([min(max(float(Fraction(shared, spread)), 0.0), 1.0)])


def _agreement_weight(sums: da.Array) -> da.Array:
    """:func:`_agreement` of the column ``sums`` ``(y, x, 4)``, lazy: the exact sums of
    each block (:func:`_agreement_sums`), then one small task that adds them, so no
    task holds more than a block of ``sums``."""
    partial = da.map_blocks(
        _agreement_sums,
        sums,
        chunks=((1,) * sums.numblocks[0], (1,) * sums.numblocks[1], (6,)),
        dtype=object,
        meta=np.empty((0, 0, 0), dtype=object),
    )
    return da.blockwise(
        _agreement, "w", partial, "yxs", new_axes={"w": 1}, concatenate=True, dtype=np.float64
    )


def _offsets(sums: np.ndarray, levels: np.ndarray, weight: np.ndarray) -> np.ndarray:
    mean = _mean(sums[..., 0] + sums[..., 2], sums[..., 1] + sums[..., 3])
    return (mean * (levels[4] * weight[0])).astype(np.float32)


def ring_offsets_array(data: da.Array) -> da.Array:
    """The ring offset of each ``(y, x)`` column of a two-phase 3-D Dask array (lazy).

    Returns a 2-D float32 array ``(y, x)``, chunked as ``data`` in ``y, x``: the mean
    difference between the clear voxels of the column and their phase's level, times
    the share of those means' variance that the two halves of the scan along ``z``
    agree on (see the module docstring). The same for any chunking.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> phases = np.where(rng.random((40, 8, 8)) < 0.5, 60.0, 160.0)
    >>> rings = np.zeros((8, 8)); rings[3] = 20.0  # one bright row of columns
    >>> scan = da.from_array((phases + rings).astype("uint8"), chunks=(16, 4, 4))
    >>> offsets = ring_offsets_array(scan).compute()
    >>> ((offsets[2:5, 0] - offsets[0, 0]).round() + 0.0).tolist()
    [0.0, 20.0, 0.0]
    """
    if data.ndim != 3:
        raise ValueError(f"ring offsets need a 3-D (z, y, x) volume, got {data.ndim} dims")
    counts, edges = global_histogram(data)
    levels = da.blockwise(
        _phase_levels,
        "l",
        counts,
        "c",
        edges,
        "e",
        exact=has_exact_histogram(data.dtype),
        new_axes={"l": 5},
        concatenate=True,
        dtype=np.float64,
    )
    sums = da.map_blocks(
        _column_sums,
        data,
        levels,
        middle=data.shape[0] // 2,
        chunks=((1,) * data.numblocks[0], *data.chunks[1:], (4,)),
        new_axis=3,
        dtype=np.int64,
    ).sum(axis=0)
    weight = _agreement_weight(sums)  # exact sums per block: the same for any chunking
    return da.map_blocks(_offsets, sums, levels, weight, drop_axis=2, dtype=np.float32)


@operation(spatial_only=True, intensity_units="keep", packages=["numba"])
def remove_rings(volume: xr.DataArray) -> xr.DataArray:
    """Take off the ring artefacts of a two-phase scan: one offset per ``(y, x)`` column.

    The rings are centred on the rotation axis ``z`` and constant along it; each
    column's offset is the mean departure of its clearly classified voxels from their
    phase's level, scaled by how far the two halves of the scan agree on these means
    (:func:`ring_offsets_array`, from the whole volume's histogram and exact integer
    sums over ``z``: the same for any chunking). Smooth the scan first
    (e.g. :func:`~xarray_microct.ops.filters.gaussian`): the offsets are then measured
    on less noise, and a Gaussian commutes with the correction.

    Parameters
    ----------
    volume : xarray.DataArray
        A scan of two phases (any numeric dtype), ``(z, y, x)``.

    Returns
    -------
    xarray.DataArray
        ``volume`` minus its column offsets, lazy: rounded to the scan's dtype (and
        clipped to its range) for integer scans, float32 (float64 for float64) else.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> rng = np.random.default_rng(1)
    >>> phases = np.where(rng.random((30, 6, 6)) < 0.4, 70, 170)
    >>> scan = mct.from_array((phases + np.eye(6)[None] * 25).astype("uint8"), chunks=10)
    >>> clean = scan.microct.remove_rings().values
    >>> int(np.ptp(scan.values[phases == 70])), int(np.ptp(clean[phases == 70])), clean.dtype
    (25, 0, dtype('uint8'))
    """
    offsets = ring_offsets_array(volume.data)
    dtype = np.dtype(volume.dtype)
    if np.issubdtype(dtype, np.integer):
        data = da.map_blocks(_subtract_block, volume.data, offsets[None], dtype=dtype)
    else:
        data = volume.data.astype(float_dtype(dtype)) - offsets[None]
    return wrap_like(volume, data, long_name="ring-corrected scan")
