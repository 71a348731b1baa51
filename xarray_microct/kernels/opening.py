"""Grey opening of each slice over a square, by van Herk/Gil-Werman running extremes.

``scipy.ndimage.grey_opening(block, size=(1, w, w), mode="nearest")`` is four passes of
a running minimum or maximum (rows then columns, erosion then dilation), each a
general-purpose 1-D filter with a queue per line. For an odd ``w`` the same extremes
come from van Herk/Gil-Werman's prefix and suffix extremes over blocks of ``w``: three
comparisons per pixel whatever ``w``, along each slice's columns with the inner loop
over contiguous rows (and along its rows on the transposed slice, likewise). Minima
and maxima are exact, so the values are SciPy's, bit for bit, on data without NaN
(:func:`opened_slices` is only for such data). The optional medians of three along y
then x (``mask._median_of_three``) run in the same pass over the slice, without the
temporaries of the NumPy version.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["above_mid_level", "opened_slices"]


@numba.njit(nogil=True, cache=True)
def _median3(a, b, c):  # the median of three values without NaN
    return max(min(a, b), min(max(a, b), c))


@numba.njit(nogil=True, cache=True)
def _median_yx(plane, out):
    """``out``: medians of three along y (axis 0), then along x, the edges repeated."""
    ny, nx = plane.shape
    column = np.empty(nx, plane.dtype)
    for y in range(ny):
        up = plane[max(y - 1, 0)]
        down = plane[min(y + 1, ny - 1)]
        here = plane[y]
        for x in range(nx):
            column[x] = _median3(up[x], here[x], down[x])
        for x in range(nx):
            out[y, x] = _median3(column[max(x - 1, 0)], column[x], column[min(x + 1, nx - 1)])


@numba.njit(nogil=True, cache=True)
def _pick(a, b, take_max):
    if take_max:
        return a if a > b else b
    return a if a < b else b


@numba.njit(nogil=True, cache=True)
def _transpose(src, dst, tile=32):
    """``dst = src.T``, tile by tile (both C-contiguous)."""
    ny, nx = src.shape
    for y0 in range(0, ny, tile):
        for x0 in range(0, nx, tile):
            for x in range(x0, min(x0 + tile, nx)):
                for y in range(y0, min(y0 + tile, ny)):
                    dst[x, y] = src[y, x]


@numba.njit(nogil=True, cache=True)
def _running_along_y(src, dst, width, take_max, prefix, suffix):
    """``dst[y, x]``: the extreme of ``src[y - r : y + r + 1, x]`` (edges repeated)."""
    ny, nx = src.shape
    r = width // 2
    n = prefix.shape[0]
    for j in range(n):
        row = src[min(max(j - r, 0), ny - 1)]
        if j % width == 0:
            prefix[j] = row
        else:
            for x in range(nx):
                prefix[j, x] = _pick(prefix[j - 1, x], row[x], take_max)
    for j in range(n - 1, -1, -1):
        row = src[min(max(j - r, 0), ny - 1)]
        if (j + 1) % width == 0:
            suffix[j] = row
        else:
            for x in range(nx):
                suffix[j, x] = _pick(suffix[j + 1, x], row[x], take_max)
    for y in range(ny):
        for x in range(nx):
            dst[y, x] = _pick(suffix[y, x], prefix[y + width - 1, x], take_max)


@numba.njit(nogil=True, cache=True)
def _opened(block, width, median):
    nz, ny, nx = block.shape
    out = np.empty_like(block)
    plane_y = np.empty((ny, nx), block.dtype)  # the slice as it is
    plane_x = np.empty((nx, ny), block.dtype)  # transposed: rows along x
    other_x = np.empty((nx, ny), block.dtype)
    span_y = ((ny + 2 * width - 2) // width) * width  # the line with its edges, in blocks
    span_x = ((nx + 2 * width - 2) // width) * width
    prefix_y, suffix_y = np.empty((span_y, nx), block.dtype), np.empty((span_y, nx), block.dtype)
    prefix_x, suffix_x = np.empty((span_x, ny), block.dtype), np.empty((span_x, ny), block.dtype)
    for z in range(nz):
        plane = block[z]
        if median:
            _median_yx(plane, out[z])
            plane = out[z]
        # erosion along y, then x; dilation along x, then y (x on the transposed slice)
        _running_along_y(plane, plane_y, width, False, prefix_y, suffix_y)
        _transpose(plane_y, plane_x)
        _running_along_y(plane_x, other_x, width, False, prefix_x, suffix_x)
        _running_along_y(other_x, plane_x, width, True, prefix_x, suffix_x)
        _transpose(plane_x, plane_y)
        _running_along_y(plane_y, out[z], width, True, prefix_y, suffix_y)
    return out


def opened_slices(block: np.ndarray, width: int, median: bool = False) -> np.ndarray:
    """Grey opening of each slice of a 3-D block over a ``width`` × ``width`` square.

    Equal to ``scipy.ndimage.grey_opening(block, size=(1, width, width),
    mode="nearest")`` (of the slices' medians of three along y then x, the edges
    repeated, where ``median``), for an odd ``width`` and a block without NaN.

    Examples
    --------
    >>> import scipy.ndimage as ndi
    >>> block = np.random.default_rng(0).integers(0, 99, (2, 30, 40)).astype(np.uint16)
    >>> reference = ndi.grey_opening(block, size=(1, 7, 7), mode="nearest")
    >>> bool((opened_slices(block, 7) == reference).all())
    True
    """
    width = int(width)
    if width < 1 or width % 2 == 0:
        raise ValueError(f"the opening's width must be an odd number of pixels, got {width}")
    if block.ndim != 3:
        raise ValueError(f"the block must be 3-D (z, y, x), got {block.ndim} dimensions")
    return _opened(np.ascontiguousarray(block), width, bool(median))


@numba.njit(nogil=True, cache=True)
def _above_mid(data, floor, level, half, cut, in_sum, in_max, in_test, out):
    # each store into a 1-element array rounds to its dtype, as NumPy does between
    # the operations of ``data > np.maximum(cut, half * (level + floor))``
    for i in range(data.size):
        in_sum[0] = floor[i]
        in_sum[0] = level + in_sum[0]
        in_sum[0] = half * in_sum[0]
        in_max[0] = in_sum[0]
        mid = in_max[0]
        if mid != mid or cut != cut:  # np.maximum propagates NaN; nothing is above it
            out[i] = False
            continue
        in_max[0] = cut if cut > mid else mid
        in_test[1] = in_max[0]
        in_test[0] = data[i]
        out[i] = in_test[0] > in_test[1]


def above_mid_level(data: np.ndarray, floor: np.ndarray, cut: object, level: object) -> np.ndarray:
    """``data > np.maximum(cut, 0.5 * (level + floor))`` without its temporaries.

    The same booleans as NumPy's expression, its dtypes included: each step rounds to
    the type NumPy gives it (``cut`` and ``level`` are Python or NumPy scalars, whose
    promotion differs under NEP 50: a Python float adds to ``float32`` in ``float32``,
    a ``numpy.float64`` in ``float64``). ``data`` and ``floor`` of one shape.

    Examples
    --------
    >>> data = np.array([[[10, 21, 30]]], np.uint16)
    >>> floor = np.array([[[0, 10, 40]]], np.uint16)
    >>> above_mid_level(data, floor, 12.0, 30.0)  # thresholds 15, 20 and 35
    array([[[False,  True, False]]])
    >>> numpy_s = data > np.maximum(12.0, 0.5 * (30.0 + floor))
    >>> bool((above_mid_level(data, floor, 12.0, 30.0) == numpy_s).all())
    True
    """
    data, floor = np.asarray(data), np.asarray(floor)
    if data.shape != floor.shape:
        raise ValueError(f"data {data.shape} and floor {floor.shape} need one shape")
    total = np.result_type(level, floor)
    mid = np.result_type(0.5, np.empty(0, total))
    top = np.result_type(cut, np.empty(0, mid))
    test = np.result_type(data, np.empty(0, top))
    native = data.dtype.isnative and floor.dtype.isnative and test.kind in "iuf"
    if not (native and all(t.kind == "f" and t.isnative for t in (total, mid, top))):
        return data > np.maximum(cut, 0.5 * (level + floor))  # types the kernel leaves out
    out = np.empty(data.shape, bool)
    _above_mid(
        np.ascontiguousarray(data).reshape(-1),
        np.ascontiguousarray(floor).reshape(-1),
        total.type(level),
        mid.type(0.5),
        top.type(cut),
        np.empty(1, total),
        np.empty(1, top),
        np.empty(2, test),
        out.reshape(-1),
    )
    return out
