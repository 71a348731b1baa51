"""Separable Gaussian passes equal, bit for bit, to ``scipy.ndimage.gaussian_filter``.

``scipy.ndimage.gaussian_filter`` of a float32 block runs one 1-D correlation per axis
(``z``, then ``y``, then ``x``), each summing in float64 and storing float32; it converts
an integer block to float first, and its lines are copied into buffers one at a time.
:func:`gaussian_passes` does the same arithmetic in the same order (the centre tap,
then the symmetric pairs of taps from the outermost in, ``mode="nearest"`` borders),
so it gives the same float32 values, but it sums whole rows and planes at once
(vectorised) and reads an integer block as it is, without a float copy of it.
:func:`sharpened` blurs a smoothed block the same way and combines each blurred plane
with the smoothed one at once, rounded and clipped into the output dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import scipy.ndimage as ndi

__all__ = ["gaussian_passes", "gaussian_taps", "sharpened"]

MIN_SIGMA = 1e-15  # scipy leaves out the axes whose sigma is not above this


def gaussian_taps(sigma: float, truncate: float) -> np.ndarray:
    """The half kernel ``[w0, w1, ..., wr]`` that scipy correlates with (float64).

    Taken from scipy itself: the response of ``gaussian_filter1d`` to a unit impulse
    (each output is ``1.0 * w`` plus zeros, so exactly the weights).

    Examples
    --------
    >>> gaussian_taps(1.0, 3.0).round(4).tolist()
    [0.3991, 0.242, 0.054, 0.0044]
    """
    radius = int(truncate * float(sigma) + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    weights = ndi.gaussian_filter1d(impulse, sigma, truncate=truncate, mode="constant")
    return np.ascontiguousarray(weights[radius:])


@numba.njit(cache=True, nogil=True)
def _plane_along_z(src, z, taps, acc, dst) -> None:
    nz, ny, nx = src.shape
    for y in range(ny):
        for x in range(nx):
            acc[y, x] = np.float64(src[z, y, x]) * taps[0]
    for j in range(taps.size - 1, 0, -1):
        lo, hi, w = max(z - j, 0), min(z + j, nz - 1), taps[j]
        for y in range(ny):
            for x in range(nx):
                acc[y, x] += (np.float64(src[lo, y, x]) + np.float64(src[hi, y, x])) * w
    for y in range(ny):
        for x in range(nx):
            dst[y, x] = acc[y, x]


@numba.njit(cache=True, nogil=True)
def _plane_along_y(src, taps, acc, dst, y0) -> None:
    """Rows ``y0 .. y0 + len(dst)`` of the pass along ``y`` of ``src`` into ``dst``."""
    ny, nx = src.shape
    row = acc[0]
    for y in range(y0, y0 + dst.shape[0]):
        for x in range(nx):
            row[x] = np.float64(src[y, x]) * taps[0]
        for j in range(taps.size - 1, 0, -1):
            lo, hi, w = max(y - j, 0), min(y + j, ny - 1), taps[j]
            for x in range(nx):
                row[x] += (np.float64(src[lo, x]) + np.float64(src[hi, x])) * w
        for x in range(nx):
            dst[y - y0, x] = row[x]


@numba.njit(cache=True, nogil=True)
def _plane_along_x(src, taps, acc, dst) -> None:
    ny, nx = src.shape
    row = acc[0]
    for y in range(ny):
        line = src[y]
        for x in range(nx):
            row[x] = np.float64(line[x]) * taps[0]
        for j in range(taps.size - 1, 0, -1):
            w = taps[j]
            for x in range(min(j, nx)):  # the left border: clamped reads
                row[x] += (
                    np.float64(line[max(x - j, 0)]) + np.float64(line[min(x + j, nx - 1)])
                ) * w
            left, right, inner = line[: max(nx - 2 * j, 0)], line[2 * j :], row[j:]
            for k in range(left.size):  # the interior: indices that need no wrapping
                inner[k] += (np.float64(left[k]) + np.float64(right[k])) * w
            for x in range(max(nx - j, j), nx):  # the right border
                row[x] += (
                    np.float64(line[max(x - j, 0)]) + np.float64(line[min(x + j, nx - 1)])
                ) * w
        for x in range(nx):
            dst[y, x] = row[x]


@numba.njit(cache=True, nogil=True)
def _blur_plane(src, z, taps_z, taps_y, taps_x, acc, first, second, out_plane, y0) -> None:
    """Rows ``y0 .. y0 + len(out_plane)`` of plane ``z`` of the Gaussian of ``src``: its
    ``z``, ``y`` and ``x`` passes, through the plane buffers ``first`` and ``second``
    (each pass rounds to their dtype; the ``x`` pass only on the rows kept)."""
    _plane_along_z(src, z, taps_z, acc, first)
    rows = second[: out_plane.shape[0]]
    _plane_along_y(first, taps_y, acc, rows, y0)
    _plane_along_x(rows, taps_x, acc, out_plane)


@numba.njit(cache=True, nogil=True)
def _smooth_into(src, taps_z, taps_y, taps_x, out, z0, y0) -> None:
    """The ``z``, ``y`` and ``x`` passes plane by plane, each output plane's three passes
    while its input planes are in the cache (every pass rounds to ``out``'s dtype):
    planes ``z0 ..`` and rows ``y0 ..`` of the result, as many as ``out`` holds."""
    _, ny, nx = src.shape
    acc = np.empty((ny, nx), np.float64)
    first = np.empty((ny, nx), out.dtype)
    second = np.empty((ny, nx), out.dtype)
    for z in range(z0, z0 + out.shape[0]):
        _blur_plane(src, z, taps_z, taps_y, taps_x, acc, first, second, out[z - z0], y0)


def _axis_taps(sigma: Sequence[float], truncate: float) -> list[np.ndarray]:
    """The taps of each axis; an axis scipy leaves out gets the one tap 1.0 (the same
    values, exact in any float dtype)."""
    return [gaussian_taps(s, truncate) if s > MIN_SIGMA else np.ones(1) for s in map(float, sigma)]


def gaussian_passes(
    block: np.ndarray,
    sigma: Sequence[float],
    truncate: float,
    dtype: np.dtype,
    rows: tuple[slice, slice] | None = None,
) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(block.astype(dtype), sigma, truncate=truncate,
    mode="nearest")`` for a 3-D block (any byte order and strides) and a float ``dtype``:
    the same values.

    ``rows``: ``(z slice, y slice)`` (steps of 1, within the block) of the result to
    compute and return, all columns (the rest, e.g. a halo, is read but not computed:
    the ``y`` and ``x`` passes run on those rows only, the ``z`` pass on those planes).

    Examples
    --------
    >>> block = np.random.default_rng(0).integers(0, 255, (7, 8, 9), dtype=np.uint8)
    >>> ref = ndi.gaussian_filter(block.astype("float32"), 1.2, truncate=3.0, mode="nearest")
    >>> bool((gaussian_passes(block, (1.2,) * 3, 3.0, np.dtype("float32")) == ref).all())
    True
    >>> rows = (slice(2, 5), slice(1, 7))
    >>> part = gaussian_passes(block, (1.2,) * 3, 3.0, np.dtype("float32"), rows)
    >>> bool((part == ref[2:5, 1:7]).all())
    True
    """
    if block.ndim != 3:
        raise ValueError(f"gaussian_passes needs a 3-D block, got {block.ndim} dims")
    # a block whose values ``dtype`` holds exactly is read as it is, others are cast first
    # (float16 and another byte order too: the compiled passes do not take them)
    work = np.dtype(dtype).newbyteorder("=")  # computed in the machine's byte order
    readable = block.dtype.isnative and block.dtype != np.float16 and np.can_cast(block.dtype, work)
    src = np.ascontiguousarray(block if readable else block.astype(work))
    taps = _axis_taps(sigma, truncate)
    zs, ys = (slice(None), slice(None)) if rows is None else rows
    (z0, z1, zstep), (y0, y1, ystep) = zs.indices(block.shape[0]), ys.indices(block.shape[1])
    if zstep != 1 or ystep != 1:
        raise ValueError(f"gaussian_passes: rows= takes slices of step 1, got {rows}")
    shape = (max(z1 - z0, 0), max(y1 - y0, 0), block.shape[2])
    out = np.empty(shape, work)
    _smooth_into(src, *taps, out, z0, y0)
    return out.astype(dtype, copy=False)


@numba.njit(cache=True, nogil=True)
def _sharpen_into(smooth, taps_z, taps_y, taps_x, divisor, low, high, to_integer, out) -> None:
    """The blur of each plane (as :func:`_smooth_into`) combined with the plane at once."""
    nz, ny, nx = smooth.shape
    acc = np.empty((ny, nx), np.float64)
    first = np.empty((ny, nx), smooth.dtype)
    second = np.empty((ny, nx), smooth.dtype)
    blurred = np.empty((ny, nx), smooth.dtype)
    for z in range(nz):
        _blur_plane(smooth, z, taps_z, taps_y, taps_x, acc, first, second, blurred, 0)
        for y in range(ny):
            for x in range(nx):
                value = smooth[z, y, x] + (smooth[z, y, x] - blurred[y, x]) / divisor
                if to_integer:
                    value = min(max(np.rint(value), low), high)
                out[z, y, x] = value


def sharpened(
    smooth: np.ndarray,
    sigma: Sequence[float],
    truncate: float,
    divisor: float,
    out_dtype: np.dtype,
) -> np.ndarray:
    """An unsharp mask: ``smooth + (smooth - blurred) / divisor``, ``blurred`` the Gaussian
    of ``sigma`` of ``smooth`` (:func:`gaussian_passes`), all in ``smooth``'s float
    dtype, then, for an integer ``out_dtype``, rounded and clipped to its range: the
    values of those NumPy expressions, without a full-size ``blurred`` (any byte order).

    Examples
    --------
    >>> smooth = np.zeros((1, 1, 9), np.float32); smooth[..., 4] = 90.0
    >>> sharpened(smooth, (0.0, 0.0, 1.0), 3.0, 2.0, np.dtype("int16"))[0, 0].tolist()
    [0, 0, -2, -11, 117, -11, -2, 0, 0]
    >>> sharpened(smooth, (0.0, 0.0, 1.0), 3.0, 2.0, np.dtype("uint8"))[0, 0].tolist()
    [0, 0, 0, 0, 117, 0, 0, 0, 0]
    """
    if smooth.ndim != 3 or smooth.dtype.kind != "f":
        raise ValueError(f"sharpened needs a 3-D float block, got {smooth.dtype} {smooth.shape}")
    out = np.empty(smooth.shape, np.dtype(out_dtype).newbyteorder("="))  # the native order
    to_integer = bool(np.issubdtype(out_dtype, np.integer))
    info = np.iinfo(out_dtype) if to_integer else None
    low, high = (float(info.min), float(info.max)) if info is not None else (0.0, 0.0)
    kind = smooth.dtype.type
    taps = _axis_taps(sigma, truncate)
    native = np.ascontiguousarray(smooth, smooth.dtype.newbyteorder("="))  # as Numba takes it
    _sharpen_into(native, *taps, kind(divisor), kind(low), kind(high), to_integer, out)
    return out.astype(out_dtype, copy=False)
