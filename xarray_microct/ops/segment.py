"""Partitioning: global thresholds, exact hysteresis, and a one-call ``segment``.

Every threshold is computed from the histogram of the **whole** volume
(:func:`xarray_microct.core.stats.global_histogram`), never per chunk, and stays lazy.

Where the threshold value goes
------------------------------
The value is not known until the histogram is computed, and a verb never computes.
So each result carries

* ``attrs["threshold_method"]`` (and the provenance record): the method and its
  parameters, known at once;
* a scalar **coordinate** ``threshold`` (``threshold_low``/``threshold_high`` for
  hysteresis, ``threshold_1..k`` for multi-Otsu), a lazy 0-d array: ``float(mask.threshold)``
  computes only the histogram, and ``mask.compute()`` computes it together with the
  mask (one pass over the data), after which it is a plain number. A threshold given as
  a number is stored as that number.

:func:`threshold_value` returns the same lazy value without building a mask.

Agreement with scikit-image
---------------------------
* 8/16-bit integer volumes have an exact histogram (one bin per value): Otsu, Li and
  the triangle method give exactly ``skimage.filters.threshold_*`` on the whole array.
  Multi-Otsu uses ``nbins`` equal bins over the value range when the volume has more
  distinct values than that (skimage's multi-Otsu needs ``nbins²`` memory).
* Other dtypes: ``nbins`` equal bins between the global min and max, as skimage bins a
  float image (``nbins=256`` by default, as skimage), so Otsu/multi-Otsu/triangle equal
  skimage's up to a voxel falling on a bin edge. skimage's Li iterates on the values
  themselves; here it iterates on a 65536-bin histogram, within about one bin width,
  ``(max - min) / 65536``, of skimage's value.

NaN and ±inf voxels are left out of the histogram (its bins span the finite values), so
one ``inf`` artefact does not change a threshold; a ``+inf`` voxel is then above any
threshold (foreground), ``-inf`` and NaN below.
"""

from __future__ import annotations

from typing import Any, Literal

import dask.array as da
import numpy as np
import skimage.filters as skf
import xarray as xr

from xarray_microct.core.blocks.components import components
from xarray_microct.core.registry import ESTIMATED_KEY, operation
from xarray_microct.core.stats import (
    FLOAT_BINS,
    global_histogram,
    has_exact_histogram,
    histogram_centres,
    otsu_threshold,
    padding_of,
    trim_histogram,
)
from xarray_microct.core.validation import check_connectivity
from xarray_microct.core.volume import wrap_like

__all__ = ["hysteresis", "hysteresis_array", "segment", "threshold", "threshold_value"]

METHODS = ("otsu", "multiotsu", "li", "triangle")
ThresholdMethod = Literal["otsu", "multiotsu", "li", "triangle"]


def _check_method(method: Any, allow_multi: bool = True) -> None:
    methods = METHODS if allow_multi else tuple(m for m in METHODS if m != "multiotsu")
    if isinstance(method, str) and method in methods:
        return
    if isinstance(method, bool) or not isinstance(method, (int, float, np.number)):
        raise ValueError(
            f"a threshold is one of {methods} or a number, got {method!r}"
        )
    if not np.isfinite(method):
        raise ValueError(f"a threshold value must be finite, got {method!r}")


def _rebin(counts: np.ndarray, centres: np.ndarray, nbins: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal bins over [min, max] of an exact (one value per bin) histogram."""
    low, high = centres[0], centres[-1]
    if len(centres) <= nbins or high == low:
        return counts, centres
    index = np.clip(((centres - low) * (nbins / (high - low))).astype(np.int64), 0, nbins - 1)
    binned = np.bincount(index, weights=counts, minlength=nbins)
    edges = np.linspace(low, high, nbins + 1)
    return binned, (edges[:-1] + edges[1:]) / 2


def _li(counts: np.ndarray, centres: np.ndarray, exact: bool) -> float:
    """skimage's ``threshold_li`` iteration, run on the histogram."""
    if len(counts) == 1:
        return float(centres[0])
    low = centres[0]
    values = centres - low
    weights = counts.astype(np.float32 if exact else np.float64)
    if exact:
        tolerance = 0.5
    else:
        tolerance = float(np.min(np.diff(values[counts > 0]))) / 2
    t_next = float(np.sum(values * counts) / np.sum(counts))
    t_curr = -2 * tolerance
    while abs(t_next - t_curr) > tolerance:
        t_curr = t_next
        foreground = values > t_curr
        mean_fore = np.average(values[foreground], weights=weights[foreground])
        mean_back = np.average(values[~foreground], weights=weights[~foreground])
        if mean_back == 0:
            break
        t_next = float((mean_back - mean_fore) / (np.log(mean_back) - np.log(mean_fore)))
    return float(t_next + low)


def _triangle(counts: np.ndarray, centres: np.ndarray) -> float:
    """skimage's ``threshold_triangle``, on the histogram."""
    hist = counts.astype(np.float64)
    nbins = len(hist)
    if nbins == 1:
        return float(centres[0])
    arg_peak = int(np.argmax(hist))
    peak_height = hist[arg_peak]
    arg_low, arg_high = 0, nbins - 1
    flip = arg_peak - arg_low < arg_high - arg_peak
    if flip:
        hist = hist[::-1]
        arg_low = nbins - arg_high - 1
        arg_peak = nbins - arg_peak - 1
    width = arg_peak - arg_low
    x1 = np.arange(width)
    y1 = hist[x1 + arg_low]
    norm = np.sqrt(peak_height**2 + width**2)
    length = (peak_height / norm) * x1 - (width / norm) * y1
    arg_level = int(np.argmax(length)) + arg_low
    if flip:
        arg_level = nbins - arg_level - 1
    return float(centres[arg_level])


def _from_histogram(
    counts: np.ndarray, edges: np.ndarray, method: str, exact: bool, classes: int, nbins: int
) -> np.ndarray:
    centres = histogram_centres(edges, exact)
    counts, centres = trim_histogram(counts, centres)
    if method == "otsu":
        return np.array([otsu_threshold(counts, centres)])
    if method == "li":
        return np.array([_li(counts, centres, exact)])
    if method == "triangle":
        return np.array([_triangle(counts, centres)])
    counts, centres = _rebin(counts, centres, nbins) if exact else (counts, centres)
    levels = int(np.count_nonzero(counts))
    if levels < classes:
        found = f"one value, {centres[counts > 0][0]:.6g}" if levels == 1 else f"{levels} levels"
        raise ValueError(
            f"multi-Otsu of {classes} classes: the volume holds {found}, nothing to "
            "segment (a constant or nearly constant volume). Check the input, or give "
            "the thresholds (low= and high=, or method='threshold' with a value)"
        )
    return np.asarray(
        skf.threshold_multiotsu(hist=(counts, centres), classes=classes), dtype=np.float64
    )


def threshold_values(
    data: da.Array, method: str = "otsu", classes: int = 3, nbins: int = 256
) -> da.Array:
    """Lazy threshold(s) of a whole Dask array from its global histogram.

    Returns a 1-D float64 array: one value, or ``classes - 1`` for ``"multiotsu"``.

    Examples
    --------
    >>> x = da.from_array(np.array([[[0, 0, 1, 9, 10, 10]]], "uint8"), chunks=2)
    >>> threshold_values(x, "otsu").compute().tolist()
    [1.0]
    """
    if not (isinstance(method, str) and method in METHODS):
        raise ValueError(
            f"a threshold method is one of {METHODS}, got {method!r} (a number is "
            "already a threshold: use it directly, e.g. vol.microct.threshold(value))"
        )
    if method == "multiotsu" and (not isinstance(classes, int) or classes < 2):
        raise ValueError(f"classes must be an integer >= 2, got {classes!r}")
    if method != "multiotsu" and classes != 3:
        raise ValueError(
            f"classes={classes!r} is for method='multiotsu'; {method!r} gives one threshold"
        )
    if not isinstance(nbins, int) or nbins < 2:
        raise ValueError(f"nbins must be an integer >= 2, got {nbins!r}")
    exact = has_exact_histogram(data.dtype)
    bins = FLOAT_BINS if method == "li" else nbins
    counts, edges = global_histogram(data, bins=bins)
    n = classes - 1 if method == "multiotsu" else 1
    # blockwise, not dask.delayed: a delayed call optimises the histogram's graph on its
    # own, under other keys, and the volume under it would be computed twice
    return da.blockwise(
        _from_histogram, "t", counts, "c", edges, "e", method=method, exact=exact,
        classes=classes, nbins=nbins, new_axes={"t": n}, concatenate=True, dtype=np.float64,
    )


def _value_of(data: da.Array, value: Any, nbins: int) -> da.Array | float:
    """A threshold given as a method name (lazy 0-d) or a number."""
    _check_method(value, allow_multi=False)
    if isinstance(value, str):
        return threshold_values(data, value, nbins=nbins)[0]
    return float(value)


@operation(
    returns="scalar", intensity_units="keep", packages=["scikit-image"], on_tree="level"
)
def threshold_value(
    volume: xr.DataArray, method: ThresholdMethod = "otsu", classes: int = 3, nbins: int = 256
) -> xr.DataArray:
    """The global threshold of a volume, lazily (0-d, or 1-D for ``"multiotsu"``).

    Parameters
    ----------
    volume : xarray.DataArray
    method : {"otsu", "multiotsu", "li", "triangle"}
    classes : int
        Classes for ``"multiotsu"`` (``classes - 1`` thresholds).
    nbins : int
        Histogram bins for non-8/16-bit volumes (see the module docstring).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.array([[[0, 0, 1, 9, 10, 10]]], "uint8"), chunks=2)
    >>> float(vol.microct.threshold_value())
    1.0
    """
    values = threshold_values(volume.data, method, classes, nbins)
    if method != "multiotsu":
        return xr.DataArray(values[0], name="threshold", attrs={"threshold_method": method})
    return xr.DataArray(
        values, dims="threshold_index", name="threshold", attrs={"threshold_method": method}
    )


@operation(packages=["scikit-image"])
def threshold(
    volume: xr.DataArray,
    method: ThresholdMethod | float = "otsu",
    classes: int = 3,
    nbins: int = 256,
) -> xr.DataArray:
    """Global threshold: ``volume > t``, with ``t`` from the histogram of the whole volume.

    Parameters
    ----------
    volume : xarray.DataArray
    method : {"otsu", "multiotsu", "li", "triangle"} or float
        A method of ``skimage.filters``, computed on the whole volume, or a value.
    classes : int
        For ``"multiotsu"``: the number of classes; the result is then the class
        index (``numpy.digitize`` of the volume by the ``classes - 1`` thresholds),
        uint8, as scikit-image's documentation does it.
    nbins : int
        Histogram bins for volumes other than 8/16-bit (default 256, as skimage).

    Returns
    -------
    xarray.DataArray
        Lazy boolean mask (uint8 classes for ``"multiotsu"``). The threshold is a
        lazy scalar coordinate ``threshold`` (``threshold_1``... for multi-Otsu), a
        number once computed; ``attrs["threshold_method"]`` names the method. A
        threshold computed from the histogram leaves a circular field of view's
        padding out of it (:mod:`xarray_microct.core.stats`): the scalar coordinates
        ``padding_value`` (NaN when none was found) and ``padding_share`` (of the
        finite voxels) say what was left out, computed in the same pass, and
        ``padding_grid_size`` the voxels of the volume they describe.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> data = np.zeros((8, 8, 8), "uint8"); data[2:6, 2:6, 2:6] = 200
    >>> mask = mct.from_array(data, chunks=4).microct.threshold("otsu")
    >>> mask = mask.compute()
    >>> int(mask.sum()), float(mask.threshold)
    (64, 0.0)
    """
    _check_method(method)  # a misspelt name is refused with every method named here
    data = volume.data
    if method == "multiotsu":
        values = threshold_values(data, "multiotsu", classes, nbins)
        classes_image = da.map_blocks(
            _digitize, data, values, dtype=np.uint8, meta=np.zeros((0,) * data.ndim, np.uint8)
        )
        out = wrap_like(volume, classes_image, threshold_method="multiotsu")
        out = out.assign_coords(
            {f"threshold_{i + 1}": ((), values[i]) for i in range(classes - 1)}
        )
        return _with_padding(out, data, nbins)
    if classes != 3:
        raise ValueError(
            f"classes={classes!r} is for method='multiotsu'; {method!r} gives one threshold"
        )
    return _threshold(volume, method, nbins)


def _threshold(volume: xr.DataArray, method: Any, nbins: int) -> xr.DataArray:
    value = _value_of(volume.data, method, nbins)
    name = method if isinstance(method, str) else "value"
    out = wrap_like(volume, volume.data > value, threshold_method=name)
    out = out.assign_coords(threshold=((), value))
    if not isinstance(method, str):  # a number: no histogram, nothing left out
        return out
    return _with_padding(out, volume.data, FLOAT_BINS if method == "li" else nbins)


def _with_padding(out: xr.DataArray, data: da.Array, bins: int) -> xr.DataArray:
    """The result with what its histogram left out as the out-of-field padding (see
    :mod:`xarray_microct.core.stats`): the lazy scalar coordinates ``padding_value``
    (NaN when none was found) and ``padding_share`` (of the finite voxels), from the
    histogram's own pass, ``padding_grid_size`` (the voxels of the volume they describe:
    :func:`~xarray_microct.ops.measure.volume_fraction` refuses them on a crop), and a
    note in the provenance record saying so. A volume that has them already
    (``fill_padding``'s: its padding is filled) keeps its own."""
    if "padding_value" in out.coords:
        return out
    padding = padding_of(data, bins)
    out = out.assign_coords(
        padding_value=((), padding[0]),
        padding_share=((), padding[1]),
        padding_grid_size=((), np.int64(data.size)),
    )
    out.attrs[ESTIMATED_KEY] = {
        "padding": "an extreme value held by the voxels outside a circular field of view "
        "is left out of the histogram: coordinates padding_value (NaN: none found), "
        "padding_share and padding_grid_size"
    }
    return out


def _digitize(block: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.digitize(block, bins=values).astype(np.uint8)


def hysteresis_array(
    data: da.Array, low: Any, high: Any, connectivity: int = 1
) -> da.Array:
    """Exact hysteresis of a 3-D Dask array: above ``low`` and connected to above ``high``.

    A voxel is kept iff ``data > low`` and its connected component of ``data > low``
    (``connectivity`` 1/2/3) holds a voxel with ``data > high`` anywhere in the array —
    ``skimage.filters.apply_hysteresis_threshold`` on the whole array, for any chunking.
    ``low`` and ``high`` may be numbers or lazy 0-d Dask arrays.

    Examples
    --------
    >>> x = da.from_array(np.array([[[0, 2, 2, 5, 2, 0, 2]]]), chunks=2)
    >>> hysteresis_array(x, 1, 4).compute().astype(int).tolist()
    [[[0, 1, 1, 1, 1, 0, 0]]]
    """
    connectivity = check_connectivity(connectivity)
    cc = components(data > low, connectivity, markers=data > high)
    return cc.map(cc.marked, bool)


def _check_order(low: float, high: float, names: tuple[str, str]) -> None:
    if low > high:
        raise ValueError(
            f"hysteresis needs low <= high, got low = {low} ({names[0]}) above "
            f"high = {high} ({names[1]}); swap them or choose other thresholds"
        )


def _pass_if_ordered(
    value: np.ndarray, low: Any, high: Any, names: tuple[str, str]
) -> np.ndarray:
    _check_order(float(low), float(high), names)
    return value


def _hysteresis_values(data: da.Array, low: Any, high: Any, nbins: int) -> tuple[Any, Any]:
    """The two thresholds, numbers or lazy 0-d arrays; ``low > high`` is refused.

    Numbers are compared at once; a threshold computed from the volume is compared
    when it is computed (the error is then raised by ``compute``).
    """
    names = tuple(
        "multiotsu" if v is None else (v if isinstance(v, str) else "value")
        for v in (low, high)
    )
    if low is None or high is None:
        pair = threshold_values(data, "multiotsu", 3, nbins)
        low_value = pair[0] if low is None else _value_of(data, low, nbins)
        high_value = pair[1] if high is None else _value_of(data, high, nbins)
    else:
        low_value, high_value = _value_of(data, low, nbins), _value_of(data, high, nbins)
    if isinstance(low_value, float) and isinstance(high_value, float):
        _check_order(low_value, high_value, names)
        return low_value, high_value
    # each lazy threshold carries the check, so computing either one (or the mask) checks
    checked = [
        value
        if isinstance(value, float)
        else da.map_blocks(
            _pass_if_ordered, value, low_value, high_value, names=names, dtype=value.dtype
        )
        for value in (low_value, high_value)
    ]
    return checked[0], checked[1]


@operation(spatial_only=True, packages=["scipy", "scikit-image"])
def hysteresis(
    volume: xr.DataArray,
    low: float | str | None = None,
    high: float | str | None = None,
    connectivity: int = 1,
    nbins: int = 256,
) -> xr.DataArray:
    """Hysteresis thresholding, exact across any number of chunks.

    Parameters
    ----------
    volume : xarray.DataArray
        A 3-D volume.
    low, high : float, {"otsu", "li", "triangle"} or None
        Thresholds: numbers, or methods computed on the whole volume. ``None`` takes
        them from the two thresholds of a 3-class multi-Otsu of the whole volume
        (``low`` the lower, ``high`` the upper). ``low > high`` is refused: at once
        for numbers, when computed for a threshold computed from the volume.
    connectivity : {1, 2, 3}
        Connectivity of the above-``low`` components (1 = faces, as skimage).
    nbins : int
        Histogram bins for volumes other than 8/16-bit.

    Returns
    -------
    xarray.DataArray of bool
        Lazy; a voxel is True iff it is above ``low`` and connected through
        above-``low`` voxels to a voxel above ``high``, anywhere in the volume: equal to
        ``skimage.filters.apply_hysteresis_threshold`` on the whole array. The
        thresholds are the scalar coordinates ``threshold_low``/``threshold_high``.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> data = np.zeros((1, 1, 9)); data[0, 0] = [0, 2, 2, 2, 2, 2, 5, 0, 2]
    >>> vol = mct.from_array(data, chunks=2)
    >>> vol.microct.hysteresis(low=1, high=4).values.astype(int).tolist()
    [[[0, 1, 1, 1, 1, 1, 1, 0, 0]]]
    """
    return _hysteresis(volume, low, high, connectivity, nbins)


def _hysteresis(
    volume: xr.DataArray, low: Any, high: Any, connectivity: int, nbins: int
) -> xr.DataArray:
    data = volume.data
    if data.ndim != 3:
        raise ValueError(
            f"hysteresis works on a 3-D volume (z, y, x), got dims {volume.dims}; "
            "select one t/c index first"
        )
    connectivity = check_connectivity(connectivity)
    low_value, high_value = _hysteresis_values(data, low, high, nbins)
    mask = hysteresis_array(data, low_value, high_value, connectivity)
    method = {
        "low": low if isinstance(low, str) else ("multiotsu" if low is None else "value"),
        "high": high if isinstance(high, str) else ("multiotsu" if high is None else "value"),
    }
    out = wrap_like(
        volume, mask, threshold_method=f"hysteresis({method['low']}, {method['high']})"
    )
    return out.assign_coords(threshold_low=((), low_value), threshold_high=((), high_value))


SegmentMethod = Literal["hysteresis", "threshold"]


@operation(packages=["scipy", "scikit-image"])
def segment(
    volume: xr.DataArray,
    method: SegmentMethod = "hysteresis",
    threshold: float | str = "otsu",
    low: float | str | None = None,
    high: float | str | None = None,
    connectivity: int = 1,
    nbins: int = 256,
) -> xr.DataArray:
    """Foreground mask in one call, with global automatic thresholds by default.

    The default chain, ``vol.microct.segment()``, is a hysteresis threshold whose two
    thresholds come from a 3-class multi-Otsu of the whole volume: voxels of the
    upper class seed the objects, which grow through the middle class (connectivity
    1) — the bright cores of fibers or beads keep their fainter rims, and isolated
    faint noise is dropped. It suits an objectness map (``tubeness``, ``blobness``)
    as well as a raw volume with bright objects.

    Parameters
    ----------
    volume : xarray.DataArray
    method : {"hysteresis", "threshold"}
        ``"hysteresis"`` (default): see :func:`hysteresis` (``low``, ``high``,
        ``connectivity``). ``"threshold"``: a single global threshold, see
        :func:`threshold` (``threshold``).
    threshold : {"otsu", "li", "triangle"} or float
        The threshold of ``method="threshold"``.
    low, high : {"otsu", "li", "triangle"}, float or None
        The thresholds of ``method="hysteresis"``; ``None`` = from multi-Otsu.
    connectivity : {1, 2, 3}
        For hysteresis.
    nbins : int
        Histogram bins for volumes other than 8/16-bit.

    Returns
    -------
    xarray.DataArray of bool, lazy, with the thresholds as scalar coordinates.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> data = np.zeros((10, 10, 10), "float32"); data[2:8, 2:8, 2:8] = 1.0
    >>> data[4:6, 4:6, 4:6] = 2.0
    >>> mask = mct.from_array(data, chunks=4).microct.segment()
    >>> int(mask.sum())
    216
    """
    if method == "hysteresis":
        if threshold != "otsu":
            raise ValueError(
                f"threshold={threshold!r} is for method='threshold'; hysteresis takes "
                "low and high"
            )
        return _hysteresis(volume, low, high, connectivity, nbins)
    if method == "threshold":
        if low is not None or high is not None:
            raise ValueError(
                "low and high are for method='hysteresis'; method='threshold' takes "
                f"threshold (got low={low!r}, high={high!r})"
            )
        return _threshold(volume, threshold, nbins)
    raise ValueError(f"method must be 'hysteresis' or 'threshold', got {method!r}")
