"""Object measurements in physical units, reduced over the whole volume.

:func:`regionprops` accumulates, block by block, the raw moments of every label
(voxel count, sums of coordinates and of their products, bounding box, intensity sum)
and adds them up over all blocks, so an object crossing chunk borders gives one row,
equal to ``skimage.measure.regionprops(labels, spacing=spacing)`` on the whole array.
:func:`volume_fraction` and :func:`porosity` are global voxel counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pint
import scipy.ndimage as ndi
import xarray as xr
from dask.delayed import Delayed

from xarray_microct.core.registry import mask_checked, operation
from xarray_microct.core.units import ureg
from xarray_microct.core.validation import check_labels, check_mask
from xarray_microct.core.volume import Grid, check_same_grid, grid_of

__all__ = [
    "PROPERTIES",
    "label_summary_array",
    "porosity",
    "regionprops",
    "regionprops_lazy",
    "volume_fraction",
]

PROPERTIES = (
    "volume",
    "centroid",
    "equivalent_diameter",
    "bbox",
    "mean_intensity",
    "principal_axes",
)
_PAIRS = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
_AXES = ("z", "y", "x")


def _block_moments(
    labels: np.ndarray, intensity: np.ndarray | None, start: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Raw moments of each label present in a block (global voxel indices)."""
    flat = labels.ravel()
    present, inverse = np.unique(flat, return_inverse=True)
    if present.size and present[0] < 0:
        raise ValueError(
            f"regionprops needs non-negative labels (0 = background, 1, 2, ... objects), "
            f"found label {present[0]} in the block starting at voxel {tuple(start)}; "
            "make labels with vol.microct.label(), or shift or clip them first"
        )
    inverse = inverse.reshape(labels.shape)
    keep = present != 0
    n = len(present)
    counts = np.bincount(inverse.ravel(), minlength=n).astype(np.float64)
    coords = [
        (np.arange(size, dtype=np.float64) + offset)
        for size, offset in zip(labels.shape, start, strict=True)
    ]
    first = []
    for axis in range(3):
        # sum over the other axes first: one bincount per axis on a broadcast index
        shape = [1, 1, 1]
        shape[axis] = labels.shape[axis]
        grid = np.broadcast_to(coords[axis].reshape(shape), labels.shape)
        first.append(np.bincount(inverse.ravel(), weights=grid.ravel(), minlength=n))
    second = []
    for a, b in _PAIRS:
        sa = [1, 1, 1]
        sa[a] = labels.shape[a]
        sb = [1, 1, 1]
        sb[b] = labels.shape[b]
        prod = coords[a].reshape(sa) * coords[b].reshape(sb)
        prod = np.broadcast_to(prod, labels.shape)
        second.append(np.bincount(inverse.ravel(), weights=prod.ravel(), minlength=n))
    boxes = ndi.find_objects(inverse + 1)
    low = np.array([[s.start for s in box] for box in boxes], dtype=np.int64) + start
    high = np.array([[s.stop for s in box] for box in boxes], dtype=np.int64) + start
    out = {
        "label": present[keep].astype(np.int64),
        "count": counts[keep],
        "first": np.stack(first, axis=1)[keep],
        "second": np.stack(second, axis=1)[keep],
        "low": low[keep],
        "high": high[keep],
    }
    if intensity is not None:
        values = intensity.astype(np.float64).ravel()
        out["intensity"] = np.bincount(inverse.ravel(), weights=values, minlength=n)[keep]
    return out


def _combine(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Add up the moments of the same label from several blocks."""
    parts = [p for p in parts if len(p["label"])]
    if not parts:
        return {
            "label": np.zeros(0, np.int64),
            "count": np.zeros(0),
            "first": np.zeros((0, 3)),
            "second": np.zeros((0, 6)),
            "low": np.zeros((0, 3), np.int64),
            "high": np.zeros((0, 3), np.int64),
            "intensity": np.zeros(0),
        }
    labels = np.concatenate([p["label"] for p in parts])
    unique, inverse = np.unique(labels, return_inverse=True)
    n = len(unique)
    out: dict[str, np.ndarray] = {"label": unique}
    for key in ("count", "first", "second", "intensity"):
        if key not in parts[0]:
            continue
        values = np.concatenate([p[key] for p in parts])
        total = np.zeros((n, *values.shape[1:]))
        np.add.at(total, inverse, values)
        out[key] = total
    low = np.full((n, 3), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(low, inverse, np.concatenate([p["low"] for p in parts]))
    high = np.full((n, 3), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(high, inverse, np.concatenate([p["high"] for p in parts]))
    out["low"], out["high"] = low, high
    return out


def _tree_combine(parts: list[Any], fan_in: int = 16) -> Any:
    combine = dask.delayed(_combine, pure=True)
    while len(parts) > fan_in:
        parts = [combine(parts[i : i + fan_in]) for i in range(0, len(parts), fan_in)]
    return combine(parts)


def _block_sizes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labels present in a block (0 left out) and their voxel counts: a count per
    number up to the largest where it is no larger than the block (no sort), else
    :func:`numpy.unique`."""
    if labels.size and np.issubdtype(labels.dtype, np.integer):
        low, high = int(labels.min()), int(labels.max())
        if low >= 0 and high <= labels.size:
            counts = np.bincount(labels.ravel(), minlength=1)
            present = np.flatnonzero(counts[1:]) + 1
            return present.astype(np.int64), counts[present].astype(np.int64)
    present, counts = np.unique(labels, return_counts=True)
    keep = present != 0
    return present[keep].astype(np.int64), counts[keep].astype(np.int64)


def _add_sizes(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The voxel counts of the same label from several blocks, added up."""
    labels = np.concatenate([np.zeros(0, np.int64), *(p[0] for p in parts)])
    counts = np.concatenate([np.zeros(0, np.int64), *(p[1] for p in parts)])
    unique, inverse = np.unique(labels, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique)).astype(np.int64)


def _summary(sizes: tuple[np.ndarray, np.ndarray], voxel: float) -> np.ndarray:
    counts = sizes[1]
    if not counts.size:
        return np.array([0.0, np.nan])
    radii = np.cbrt(3.0 * counts * voxel / (4.0 * np.pi))
    return np.array([float(counts.size), float(np.median(radii))])


def label_summary_array(labels: da.Array, spacing: Sequence[float]) -> da.Array:
    """Lazy ``[count, median equivalent radius]`` of the labels of a Dask array.

    The count is that of the labels present (not the largest label: a pipeline may
    leave numbers unused); the equivalent radius of a label is that of the ball of its
    volume, ``(3 V / 4 pi) ** (1 / 3)``, in the units of ``spacing`` (NaN without
    labels). One pass over the blocks (each block's labels and voxel counts, added up
    in a tree), so it can be computed with the labels, e.g. as they are written.

    Examples
    --------
    >>> lab = np.zeros((8, 8, 8), np.int32); lab[:2, :2, :2] = 1; lab[4:, 4:, 4:] = 3
    >>> out = label_summary_array(da.from_array(lab, chunks=3), (0.5, 0.5, 0.5)).compute()
    >>> int(out[0]), round(float(out[1]), 3)  # volumes 1 and 8: radii 0.620 and 1.241
    (2, 0.931)
    """
    sizes = dask.delayed(_block_sizes, pure=True)
    combine = dask.delayed(_add_sizes, pure=True)
    parts = [sizes(block) for block in labels.to_delayed().ravel()]
    while len(parts) > 16:
        parts = [combine(parts[i : i + 16]) for i in range(0, len(parts), 16)]
    voxel = float(np.prod([float(s) for s in spacing]))
    summary = dask.delayed(_summary, pure=True)(combine(parts), voxel)
    return da.from_delayed(summary, shape=(2,), dtype=np.float64)


def _table(
    moments: dict[str, np.ndarray],
    spacing: Sequence[float],
    origin: Sequence[float],
    units: str,
    properties: Sequence[str],
) -> pd.DataFrame:
    spacing_arr = np.asarray(spacing, dtype=np.float64)
    origin_arr = np.asarray(origin, dtype=np.float64)
    count = moments["count"]
    columns: dict[str, Any] = {"label": moments["label"]}
    voxel_volume = float(np.prod(spacing_arr))
    volume = count * voxel_volume
    mean = moments["first"] / count[:, None] if len(count) else np.zeros((0, 3))
    if "volume" in properties:
        columns["voxels"] = count.astype(np.int64)
        columns["volume"] = volume
    if "centroid" in properties:
        for axis, name in enumerate(_AXES):
            columns[f"centroid_{name}"] = origin_arr[axis] + mean[:, axis] * spacing_arr[axis]
    if "equivalent_diameter" in properties:
        columns["equivalent_diameter"] = np.cbrt(6.0 * volume / np.pi)
    if "bbox" in properties:
        first_voxel = origin_arr + moments["low"] * spacing_arr
        last_voxel = origin_arr + (moments["high"] - 1) * spacing_arr
        for axis, name in enumerate(_AXES):
            columns[f"bbox_min_{name}"] = first_voxel[:, axis]
        for axis, name in enumerate(_AXES):
            columns[f"bbox_max_{name}"] = last_voxel[:, axis]
        for i in range(6):
            columns[f"bbox-{i}"] = (moments["low"] if i < 3 else moments["high"])[:, i % 3]
    if "mean_intensity" in properties:
        columns["mean_intensity"] = moments["intensity"] / count
    if "principal_axes" in properties:
        columns.update(_principal_axes(moments, mean, count, spacing_arr))
    frame = pd.DataFrame(columns)
    frame.attrs["units"] = {
        "volume": f"{units}**3",
        **{k: units for k in columns if k.startswith(("centroid", "bbox_", "axis_"))},
        "equivalent_diameter": units,
    }
    return frame


def _principal_axes(
    moments: dict[str, np.ndarray], mean: np.ndarray, count: np.ndarray, spacing: np.ndarray
) -> dict[str, np.ndarray]:
    n = len(count)
    names = ("axis_major_length", "axis_middle_length", "axis_minor_length")
    if n == 0:
        return {k: np.zeros(0) for k in (*names, "orientation_z", "orientation_y", "orientation_x")}
    cov = np.zeros((n, 3, 3))
    for k, (a, b) in enumerate(_PAIRS):
        value = (moments["second"][:, k] / count - mean[:, a] * mean[:, b]) * (
            spacing[a] * spacing[b]
        )
        cov[:, a, b] = cov[:, b, a] = value
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    eigenvalues = np.clip(eigenvalues, 0, None)
    major = eigenvectors[:, :, 2]
    # a direction has no sign: make its largest component positive
    sign = np.sign(major[np.arange(n), np.argmax(np.abs(major), axis=1)])
    major = major * np.where(sign == 0, 1, sign)[:, None]
    return {
        names[0]: np.sqrt(20.0 * eigenvalues[:, 2]),
        names[1]: np.sqrt(20.0 * eigenvalues[:, 1]),
        names[2]: np.sqrt(20.0 * eigenvalues[:, 0]),
        "orientation_z": major[:, 0],
        "orientation_y": major[:, 1],
        "orientation_x": major[:, 2],
    }


def _check_properties(properties: Iterable[str] | None, has_intensity: bool) -> tuple[str, ...]:
    if properties is None:
        chosen = [p for p in PROPERTIES if has_intensity or p != "mean_intensity"]
    else:
        chosen = [properties] if isinstance(properties, str) else list(properties)
        unknown = sorted(set(chosen) - set(PROPERTIES))
        if unknown:
            raise ValueError(f"unknown properties {unknown}; choose from {list(PROPERTIES)}")
        if "mean_intensity" in chosen and not has_intensity:
            raise ValueError("mean_intensity needs intensity=<the grey-level volume>")
    return tuple(chosen)


def regionprops_lazy(
    labels: da.Array,
    grid: Grid,
    intensity: da.Array | None = None,
    properties: Iterable[str] | None = None,
) -> Delayed:
    """The :func:`regionprops` table as one lazy (Delayed) pandas DataFrame.

    Examples
    --------
    >>> from xarray_microct.core.volume import Grid
    >>> lab = da.from_array(np.array([[[1, 1, 0, 2]]]), chunks=1)
    >>> grid = Grid(("z", "y", "x"), (1, 1, 4), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), "micrometer")
    >>> regionprops_lazy(lab, grid, properties=["volume"]).compute()[["label", "volume"]]
       label  volume
    0      1     4.0
    1      2     2.0
    """
    check_labels(labels, "regionprops")
    if labels.ndim != 3:
        raise ValueError(f"regionprops works on 3-D labels, got {labels.ndim}-D")
    chosen = _check_properties(properties, intensity is not None)
    if intensity is not None:
        if intensity.shape != labels.shape:
            raise ValueError(
                f"intensity shape {intensity.shape} differs from the labels' {labels.shape}"
            )
        intensity = intensity.rechunk(labels.chunks)
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in labels.chunks]
    label_blocks = labels.to_delayed()
    intensity_blocks = None if intensity is None else intensity.to_delayed()
    moment = dask.delayed(_block_moments, pure=True)
    parts = []
    for bid in np.ndindex(*label_blocks.shape):
        start = tuple(int(starts[a][bid[a]]) for a in range(3))
        values = None if intensity_blocks is None else intensity_blocks[bid]
        parts.append(moment(label_blocks[bid], values, start))
    moments = _tree_combine(parts)
    return dask.delayed(_table, pure=True)(moments, grid.spacing, grid.origin, grid.units, chosen)


@operation(takes="labels", spatial_only=True, packages=["scipy", "pandas"], on_tree="level")
def regionprops(
    volume: xr.DataArray,
    intensity: xr.DataArray | None = None,
    properties: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A table of the objects of a label volume, in physical units.

    Parameters
    ----------
    volume : xarray.DataArray
        Non-negative integer labels (0 = background), e.g. from :func:`label` or
        ``watershed``; a negative label is refused (when the table is computed).
    intensity : xarray.DataArray, optional
        A grey-level volume on the same grid, for ``mean_intensity``; one of other
        coordinates (another crop, origin or spacing) is refused.
    properties : sequence of str, optional
        Column groups, from :data:`PROPERTIES` (all by default; ``mean_intensity``
        when ``intensity`` is given):

        * ``"volume"``: ``voxels`` and ``volume`` (units³);
        * ``"centroid"``: ``centroid_z/y/x``, physical coordinates;
        * ``"equivalent_diameter"``: diameter of the ball of the same volume;
        * ``"bbox"``: ``bbox_min_*``/``bbox_max_*`` (coordinates of the first and last
          voxel centres) and ``bbox-0..5`` (voxel indices, half-open, as skimage);
        * ``"mean_intensity"``, in the unit of the intensity's ``units`` attribute when
          pint reads it (``1/cm``);
        * ``"principal_axes"``: ``axis_major/middle/minor_length`` (the axes of the
          ellipsoid with the same second moments, as skimage's ``axis_*_length``) and
          ``orientation_z/y/x``, the unit direction of the major axis.

    Returns
    -------
    pandas.DataFrame
        One row per label, sorted by label; ``attrs["units"]`` names the unit of each
        physical column, ``attrs["microct_provenance"]`` the chain that made it.
        Computing the table runs the graph (a table is an end result); use
        :func:`regionprops_lazy` to keep it lazy. Objects crossing chunks are reduced
        globally: equal to ``skimage.measure.regionprops(labels, spacing=spacing)``.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> labels = np.zeros((6, 6, 6), "int32"); labels[1:5, 1:3, 1:3] = 1
    >>> vol = mct.from_array(labels, spacing=(2.0, 1.0, 1.0), units="um", chunks=3)
    >>> table = vol.microct.regionprops(properties=["volume", "centroid"])
    >>> table[["label", "voxels", "volume", "centroid_z"]]
       label  voxels  volume  centroid_z
    0      1      16    32.0         5.0
    """
    grid = grid_of(volume)
    intensity_data = None
    if intensity is not None:
        if not isinstance(intensity, xr.DataArray):
            raise TypeError(
                f"intensity must be a volume (xarray.DataArray), got {type(intensity).__name__}"
            )
        if intensity.sizes != volume.sizes:
            raise ValueError(
                f"intensity {dict(intensity.sizes)} and labels {dict(volume.sizes)} differ"
            )
        check_same_grid(volume, intensity, "the intensity")
        intensity_data = (
            intensity.data
            if isinstance(intensity.data, da.Array)
            else (da.from_array(intensity.values, chunks=volume.data.chunks))
        )
    table = regionprops_lazy(volume.data, grid, intensity_data, properties).compute()
    unit = None if intensity is None else intensity.attrs.get("units")
    if "mean_intensity" in table.columns and _is_unit(unit):
        table.attrs["units"] = {**table.attrs["units"], "mean_intensity": str(unit)}
    return table


def _is_unit(unit: Any) -> bool:
    """Whether ``unit`` (an intensity's ``units`` attribute) is one pint reads, as
    :func:`~xarray_microct.core.tables.table_quantities` and pint-xarray will: ``1/cm``
    is, ``HU`` or ``a.u.`` are not (left out of the table's units).

    Examples
    --------
    >>> _is_unit("1/cm"), _is_unit("HU"), _is_unit(None)
    (True, False, False)
    """
    if not isinstance(unit, str) or not unit.strip():
        return False
    try:
        ureg.Unit(unit)
    except (pint.errors.PintError, ValueError, TypeError, AttributeError):
        return False
    return True


def _fraction(data: da.Array, region: da.Array | None) -> da.Array:
    inside = data != 0
    if region is None:
        return inside.mean(dtype=np.float64)
    region = region.astype(bool)
    return (inside & region).sum(dtype=np.float64) / region.sum(dtype=np.float64)


def _padding_coord(volume: xr.DataArray, name: str) -> Any:
    coord = volume.coords.get(name)
    if coord is None or coord.ndim != 0:
        return None
    return coord.data


def _stale_padding(found_on: int, size: int) -> str:
    return (
        f"the mask's padding coordinates (padding_share...) were found on a volume of "
        f"{found_on} voxels, this one has {size} (cropped, or a pyramid's coarser level, "
        "since: they are not its padding); pass region= (the field of view) or "
        "padding=False (every voxel counted), or measure the volume the chain made"
    )


def _padding_of_this_grid(share: Any, nan_share: Any, found_on: int, size: int) -> np.ndarray:
    """``share`` where the padding was found on this volume (``found_on == size``) or
    none was found; a ``ValueError`` otherwise."""
    if found_on != size and (float(share) > 0 or float(nan_share) > 0):
        raise ValueError(_stale_padding(found_on, size))
    return np.asarray(share, dtype=np.float64)


def _field_fraction(volume: xr.DataArray) -> da.Array | None:
    """The phase's fraction of the field of view: the voxels the chain found to be
    out-of-field padding (its scalar coordinates ``padding_value``, ``padding_share``
    of the finite voxels and ``fill_padding``'s ``padding_nan_share`` of all) left out,
    as not of the phase, or of it where a threshold put them in (a padding above the
    threshold it was not filled before); None where the chain recorded no padding, or
    not the number of voxels of the volume it was found on (``padding_grid_size``: a
    result written before 2026-12-05, taken whole as then). A ``ValueError`` where a
    padding was found on a volume of another size (the mask cropped or resampled since:
    the shares are not of its voxels), as the coordinates are computed."""
    share = _padding_coord(volume, "padding_share")
    value = _padding_coord(volume, "padding_value")
    found_on = _padding_coord(volume, "padding_grid_size")
    if share is None or value is None or found_on is None:
        return None
    nan_share = _padding_coord(volume, "padding_nan_share")
    cut = _padding_coord(volume, "threshold")
    size = float(volume.size)
    if int(found_on) != volume.size:  # no padding found, or stale: known as computed
        nans = 0.0 if nan_share is None else nan_share
        if isinstance(share, da.Array) or isinstance(nans, da.Array):
            check = dask.delayed(_padding_of_this_grid, pure=True)
            share = da.from_delayed(
                check(share, nans, int(found_on), volume.size), shape=(), dtype=np.float64
            )
        else:  # computed (read from a store): said now
            share = _padding_of_this_grid(share, nans, int(found_on), volume.size)
    share = da.asarray(share, dtype=np.float64)
    value = da.asarray(value, dtype=np.float64)
    if nan_share is None:  # a threshold of the scan itself: its padding was not filled
        padded = share * size
        solid = 0.0
        if cut is not None and np.dtype(getattr(cut, "dtype", float)).kind in "fiu":
            solid = da.where(value > da.asarray(cut, dtype=np.float64), padded, 0.0)
    else:  # filled with a phase's level (the one about the objects, as the pipelines do)
        nan_share = da.asarray(nan_share, dtype=np.float64)
        padded = (share * (1.0 - nan_share) + nan_share) * size
        solid = 0.0
    inside = (volume.data != 0).sum(dtype=np.float64)
    field = size - da.rint(padded)
    return da.where(field > 0, (inside - da.rint(solid)) / da.maximum(field, 1.0), np.nan)


def _default_fraction(volume: xr.DataArray, region: xr.DataArray | None, padding: bool) -> da.Array:
    if not isinstance(padding, bool | np.bool_):
        raise TypeError(f"padding is True or False, got {padding!r}")
    if region is None and padding:
        field = _field_fraction(volume)
        if field is not None:
            return field
    return _fraction(volume.data, _region_data(volume, region))


def _region_data(volume: xr.DataArray, region: xr.DataArray | None) -> da.Array | None:
    if region is None:
        return None
    if not isinstance(region, xr.DataArray) or region.sizes != volume.sizes:
        raise ValueError("region must be a mask (DataArray) on the same grid as the volume")
    check_same_grid(volume, region, "the region")
    check_mask(region, "region")
    data = region.data if isinstance(region.data, da.Array) else da.from_array(region.values)
    data = mask_checked(region.copy(data=data), "region").data
    return data.rechunk(volume.data.chunks)


@operation(takes="mask", returns="scalar", on_tree="level")
def volume_fraction(
    volume: xr.DataArray, region: xr.DataArray | None = None, padding: bool = True
) -> xr.DataArray:
    """Fraction of the field of view (or of ``region``) occupied by the phase (nonzero
    voxels).

    A reconstruction's circular field of view leaves a padding outside it (a constant
    or NaN: :mod:`xarray_microct.core.stats`), which is no sample. Where the mask's chain
    found one (``threshold`` or ``fill_padding`` record it in the scalar coordinates
    ``padding_value`` and ``padding_share``, which the later steps keep), it is left out
    of the volume by default: counted over the whole volume, a padding of 21 % of the
    voxels (a field inscribed in a square) read as pore would add 0.21 times the solid
    fraction to the porosity. A mask with no such record (made by hand, with ``>``) is
    taken whole: pass ``region=``. The record describes the volume the padding was found
    on (``padding_grid_size`` voxels): a crop or another level of the mask is refused (a
    ``ValueError``), and a mask changed by hand since is not told apart (``~mask`` keeps
    the record, its padding now in the phase): measure the mask the chain made
    (``porosity()`` of the solid, not ``volume_fraction()`` of ``~solid``), or pass
    ``padding=False`` or ``region=``.

    Parameters
    ----------
    volume : xarray.DataArray
        A mask of the phase (fibers, beads, solid): boolean, integers 0 and 1, or
        labels made by a label verb (``label``, ``watershed``...). Another integer
        volume (a scan) fails as it is computed: threshold it first.
    region : xarray.DataArray, optional
        A mask of the sample (e.g. the inside of the container); by default the whole
        volume less its out-of-field padding (where the chain found one).
    padding : bool
        Leave the out-of-field padding the chain found out of the volume (the
        default); ``False`` counts every voxel (as before 2026-12-05). Not used with
        ``region``.

    Returns
    -------
    xarray.DataArray
        Lazy 0-d float64 in [0, 1].

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> m = np.zeros((4, 4, 4), bool); m[:2] = True
    >>> float(mct.from_array(m, chunks=2).microct.volume_fraction())
    0.5

    A scan whose corners are padding (0), half of its field solid:

    >>> scan = np.full((4, 8, 8), 50.0); scan[:, :4] = 150.0; scan[:, :, :2] = 0.0
    >>> scan += np.random.default_rng(0).normal(0, 5, scan.shape) * (scan > 0)
    >>> solid = mct.from_array(scan, chunks=4).microct.threshold("otsu")
    >>> float(solid.microct.volume_fraction()), float(solid.microct.volume_fraction(padding=False))
    (0.5, 0.375)
    """
    value = _default_fraction(volume, region, padding)
    return xr.DataArray(value, name="volume_fraction", attrs={"long_name": "volume fraction"})


@operation(takes="mask", returns="scalar", on_tree="level")
def porosity(
    volume: xr.DataArray, region: xr.DataArray | None = None, padding: bool = True
) -> xr.DataArray:
    """Fraction of the field of view (or of ``region``) that is pore:
    ``1 - volume_fraction``.

    The out-of-field padding of a reconstruction (found by the mask's chain: see
    :func:`volume_fraction`) is no pore: it is left out of the volume by default.

    Parameters
    ----------
    volume : xarray.DataArray
        A mask of the solid phase (True/nonzero = solid).
    region : xarray.DataArray, optional
        A mask of the sample; by default the whole volume less its out-of-field padding
        (where the chain found one).
    padding : bool
        Leave that padding out (the default); ``False`` counts every voxel. Not used
        with ``region``.

    Returns
    -------
    xarray.DataArray
        Lazy 0-d float64 in [0, 1].

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> m = np.ones((4, 4, 4), bool); m[0] = False
    >>> float(mct.from_array(m, chunks=2).microct.porosity())
    0.25
    """
    value = 1.0 - _default_fraction(volume, region, padding)
    return xr.DataArray(value, name="porosity", attrs={"long_name": "porosity"})
