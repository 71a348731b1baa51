"""The volume model: an ``xarray.DataArray`` with physical ``z, y, x`` coordinates.

A volume has dims ``("z", "y", "x")``, optionally preceded by ``"t"`` and/or ``"c"``;
1-D coordinates on every spatial dim, uniformly spaced and increasing, with a
``units`` attribute naming a length unit; and a numeric (or boolean) dtype.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import pint
import xarray as xr

from xarray_microct.core.units import ngff_unit_name, parse_unit

SPATIAL_DIMS: tuple[str, str, str] = ("z", "y", "x")
LEADING_DIMS: tuple[str, ...] = ("t", "c")
DEFAULT_CHUNK = 128
PROVENANCE_KEY = "microct_provenance"


@dataclass(frozen=True)
class Grid:
    """The physical sampling grid of a volume's spatial axes.

    Attributes
    ----------
    dims : tuple of str
        The spatial dims, ``("z", "y", "x")``.
    shape : tuple of int
        Voxels along each spatial dim.
    spacing : tuple of float
        Voxel size along each spatial dim, in ``units``.
    origin : tuple of float
        Coordinate of the first voxel centre along each spatial dim.
    units : str
        The length unit shared by all spatial coordinates (NGFF name).
    """

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    units: str


def _check_dims(dims: Sequence[Hashable]) -> None:
    dims = tuple(dims)
    n_lead = len(dims) - 3
    leading_ok = (
        n_lead >= 0
        and all(d in LEADING_DIMS for d in dims[:n_lead])
        and len(set(dims[:n_lead])) == n_lead
    )
    if dims[-3:] != SPATIAL_DIMS or not leading_ok:
        raise ValueError(
            f"a volume needs dims ('z', 'y', 'x'), optionally after 't' and/or 'c'; got "
            f"{dims}. For a 2-D slice add an axis (array[None]); to rename dims use "
            "DataArray.rename or from_array(..., dims=...)"
        )


def _check_dtype(dtype: np.dtype) -> None:
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_) or np.issubdtype(
        dtype, np.complexfloating
    ):
        raise TypeError(
            f"a volume needs a real numeric or boolean dtype, got {dtype}; "
            "convert it first, e.g. array.astype('float32')"
        )


def _axis_spacing(coord: xr.DataArray, dim: str) -> tuple[float, float]:
    values = np.asarray(coord.values)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"coordinate {dim!r} must be 1-D and numeric")
    if values.size == 0:
        raise ValueError(_empty_message(dim))
    if values.size == 1:
        spacing = coord.attrs.get("spacing")
        if spacing is None:
            raise ValueError(
                f"axis {dim!r} has a single voxel and no 'spacing' attribute on its "
                "coordinate; build the volume with from_array(..., spacing=...)"
            )
        return float(values[0]), float(spacing)
    steps = np.diff(values.astype(np.float64))
    step = float(steps.mean())
    if not step > 0:
        raise ValueError(f"coordinate {dim!r} must increase, got a step of {step}")
    if not np.allclose(steps, step, rtol=1e-6, atol=0):
        raise ValueError(
            f"coordinate {dim!r} is not uniformly spaced (steps from {steps.min()} to "
            f"{steps.max()}); resample the volume onto a regular grid first"
        )
    return float(values[0]), _step_as_given(step, coord.attrs.get("spacing"))


def _empty_message(dim: str, shape: Sequence[int] | None = None) -> str:
    """Why an empty volume is refused, and where it may come from."""
    sizes = f" (shape {tuple(int(n) for n in shape)})" if shape is not None else ""
    return (
        f"the volume is empty: it has no voxels along {dim!r}{sizes}; check the input "
        "(a file or dataset without slices), or the selection that made it (e.g. "
        "vol.sel(z=slice(a, b)) outside its coordinates)"
    )


def _step_as_given(step: float, recorded: object) -> float:
    """The spacing of a coordinate: the one it records (``attrs["spacing"]``, as
    :func:`spatial_coords` writes it) where the mean step agrees with it, else the mean
    step to 12 significant digits. The mean of the differences of ``origin + i * 0.65``
    is 0.6499999999999999, not the 0.65 that was given.

    Examples
    --------
    >>> _step_as_given(0.6499999999999999, None), _step_as_given(0.6499999999999999, 0.65)
    (0.65, 0.65)
    >>> _step_as_given(0.5, 0.25)  # a stale attribute: the coordinate wins
    0.5
    """
    if isinstance(recorded, (int, float)) and np.isclose(step, recorded, rtol=1e-9, atol=0):
        return float(recorded)
    return float(f"{step:.12g}")


def is_quantified(volume: xr.DataArray) -> bool:
    """Whether the data or a coordinate of ``volume`` is a pint Quantity (pint-xarray).

    Examples
    --------
    >>> import numpy as np
    >>> vol = from_array(np.zeros((2, 3, 4)))
    >>> is_quantified(vol), is_quantified(vol.pint.quantify())
    (False, True)
    """
    variables = [volume.variable, *(c.variable for c in volume.coords.values())]
    return any(isinstance(v.data, pint.Quantity) for v in variables)


def dequantify(volume: xr.DataArray) -> xr.DataArray:
    """``volume`` with plain data and coordinates, units in ``attrs`` (as the verbs take it).

    A volume quantified with pint-xarray (``vol.pint.quantify()``) holds its units as pint
    Quantities rather than ``units`` attributes; this is ``vol.pint.dequantify()``, and
    the identity for a volume that is not quantified.

    Examples
    --------
    >>> import numpy as np
    >>> vol = from_array(np.zeros((2, 3, 4)), units="nm").pint.quantify()
    >>> dequantify(vol).x.attrs["units"]
    'nanometer'
    """
    if not is_quantified(volume):
        return volume
    import pint_xarray  # noqa: F401  (.pint: loaded here, where a volume uses it)

    return volume.pint.dequantify()


def grid_of(volume: xr.DataArray) -> Grid:
    """Validate ``volume`` and return its physical grid.

    Parameters
    ----------
    volume : xarray.DataArray
        A volume as described in the module docstring; its units may also be pint
        Quantities (``vol.pint.quantify()``).

    Returns
    -------
    Grid

    Raises
    ------
    ValueError, TypeError
        With a message naming the problem and the fix.

    Examples
    --------
    >>> import numpy as np
    >>> vol = from_array(np.zeros((4, 5, 6)), spacing=(2.0, 1.0, 1.0))
    >>> grid_of(vol).spacing
    (2.0, 1.0, 1.0)
    """
    if not isinstance(volume, xr.DataArray):
        raise TypeError(f"expected an xarray.DataArray volume, got {type(volume).__name__}")
    volume = dequantify(volume)
    _check_dims(volume.dims)
    _check_dtype(volume.dtype)
    origins, spacings, unit_names = [], [], []
    for dim in SPATIAL_DIMS:
        if dim not in volume.coords:
            raise ValueError(
                f"the volume has no coordinate for {dim!r}; build it with "
                "xarray_microct.from_array(array, spacing=..., units=...)"
            )
        coord = volume.coords[dim]
        units = coord.attrs.get("units")
        if units is None:
            raise ValueError(
                f"coordinate {dim!r} has no 'units' attribute; set it, e.g. "
                f"vol.coords[{dim!r}].attrs['units'] = 'micrometer'"
            )
        unit_names.append(ngff_unit_name(units))
        origin, spacing = _axis_spacing(coord, dim)
        origins.append(origin)
        spacings.append(spacing)
    if len(set(unit_names)) != 1:
        named = dict(zip(SPATIAL_DIMS, unit_names, strict=True))
        raise ValueError(
            f"spatial coordinates use different units {named}; "
            "convert them to one unit (e.g. with vol.pint.to)"
        )
    return Grid(
        dims=SPATIAL_DIMS,
        shape=tuple(volume.sizes[d] for d in SPATIAL_DIMS),
        spacing=tuple(spacings),
        origin=tuple(origins),
        units=unit_names[0],
    )


def check_same_grid(volume: xr.DataArray, other: xr.DataArray, what: str) -> None:
    """Refuse ``other`` (an intensity, a region, markers given with ``volume``) where its
    spatial coordinates are not the volume's: another crop or origin of the same size,
    another spacing or unit. Coordinates it lacks are taken as the volume's.

    Sizes are compared first; each coordinate of ``other`` is read in the volume's unit
    (its own ``units`` attribute, the volume's where it has none) and must lie within a
    millionth of a voxel of the volume's.

    Examples
    --------
    >>> vol = from_array(np.zeros((4, 4, 4)), spacing=0.5)
    >>> check_same_grid(vol, from_array(np.ones((4, 4, 4)), spacing=500, units="nm"), "it")
    >>> check_same_grid(vol, vol[:, 1:, :], "the region")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: the region has 3 voxels along 'y' where the volume has 4: ...
    >>> shifted = vol.assign_coords(z=vol.z + 1.0)
    >>> check_same_grid(vol, shifted, "the intensity")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: the intensity lies on another grid than the volume along 'z': its voxel ...
    """
    grid = grid_of(volume)
    other = dequantify(other)
    for axis, dim in enumerate(SPATIAL_DIMS):
        size = other.sizes.get(dim)
        if size != grid.shape[axis]:
            raise ValueError(
                f"{what} has {size} voxels along {dim!r} where the volume has "
                f"{grid.shape[axis]}: give it on the volume's grid (shape {grid.shape})"
            )
        if dim not in other.coords:
            continue
        coord = other.coords[dim]
        values = np.asarray(coord.values, dtype=np.float64)
        unit = coord.attrs.get("units")
        if unit is not None and ngff_unit_name(str(unit)) != grid.units:
            # another unit: read in the volume's (the same one, named without pint: its
            # registry takes 0.45 CPU s to build, which a run need not pay for a check)
            values = values * float((1 * parse_unit(str(unit))).to(grid.units).magnitude)
        ours = np.asarray(dequantify(volume).coords[dim].values, dtype=np.float64)
        if not np.allclose(values, ours, rtol=0, atol=1e-6 * grid.spacing[axis]):
            raise ValueError(
                f"{what} lies on another grid than the volume along {dim!r}: its voxel "
                f"centres run {values[0]:g} to {values[-1]:g} {grid.units}, the volume's "
                f"{ours[0]:g} to {ours[-1]:g} {grid.units}; give it on the volume's grid "
                "(made from the same scan, cropped the same way)"
            )


def spatial_coords(
    shape: Sequence[int], spacing: Sequence[float], origin: Sequence[float], units: str
) -> dict[str, xr.Variable]:
    """Coordinates ``origin + i * spacing`` for each spatial dim, with units.

    Examples
    --------
    >>> spatial_coords((2, 1, 3), (1.0, 1.0, 0.5), (0.0, 0.0, 0.0), "um")["x"].values
    array([0. , 0.5, 1. ])
    """
    name = ngff_unit_name(units)
    coords = {}
    for dim, n, step, start in zip(SPATIAL_DIMS, shape, spacing, origin, strict=True):
        values = start + step * np.arange(n, dtype=np.float64)
        coords[dim] = xr.Variable(dim, values, {"units": name, "spacing": float(step)})
    return coords


def default_chunks(shape: Sequence[int], n_leading: int = 0) -> tuple[int, ...]:
    """Default chunking: 1 along leading dims, up to 128 voxels per spatial axis."""
    return (1,) * n_leading + tuple(min(DEFAULT_CHUNK, max(int(n), 1)) for n in shape[n_leading:])


def _per_axis(value: float | Sequence[float], name: str) -> tuple[float, float, float]:
    """``value`` per axis ``(z, y, x)``: one value (a number, or a sequence of one) for
    all axes, or three.

    Examples
    --------
    >>> _per_axis(2.6, "spacing"), _per_axis((2.6,), "spacing")
    ((2.6, 2.6, 2.6), (2.6, 2.6, 2.6))
    >>> _per_axis((2.6, 0.65), "spacing")
    Traceback (most recent call last):
    ValueError: spacing needs 1 or 3 values (z, y, x), got 2: (2.6, 0.65)
    """
    if np.isscalar(value):
        values = (float(value),) * 3
    else:
        values = tuple(float(v) for v in value)  # type: ignore[union-attr]
        if len(values) == 1:  # one value, as a sequence (--spacing D, a 1-tuple)
            values = values * 3
        if len(values) != 3:
            raise ValueError(f"{name} needs 1 or 3 values (z, y, x), got {len(values)}: {value!r}")
    if not all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return values  # type: ignore[return-value]


def from_array(
    array: Any,
    spacing: float | Sequence[float] = 1.0,
    units: str = "micrometer",
    origin: float | Sequence[float] = 0.0,
    chunks: int | Sequence[int] | str | None = None,
    name: str | None = "volume",
    dims: Sequence[str] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Build a lazy volume from a NumPy or Dask array.

    Parameters
    ----------
    array : array-like
        A 3-D (or 4-/5-D with leading ``t``/``c``) NumPy or Dask array; a big-endian
        one is converted (lazily) to the machine's byte order.
    spacing : float or (float, float, float)
        Voxel size along ``z, y, x`` in ``units``; anisotropic spacing is normal.
    units : str
        Length unit of the coordinates, any pint name; stored in NGFF form
        (``"um"`` becomes ``"micrometer"``).
    origin : float or (float, float, float)
        Physical coordinate of the first voxel centre.
    chunks : int, tuple, "auto" or None
        Dask chunks; ``None`` keeps a Dask array's chunks, or uses up to 128 voxels
        per spatial axis.
    name : str
        Name of the DataArray.
    dims : sequence of str, optional
        Dims of ``array``; default ``("z", "y", "x")`` preceded by ``"t"``/``"c"``.
    attrs : mapping, optional
        Extra attributes (``long_name``, intensity ``units``...).

    Returns
    -------
    xarray.DataArray
        Dask-backed, with physical coordinates and an empty provenance list.

    Examples
    --------
    >>> import numpy as np
    >>> vol = from_array(np.zeros((10, 20, 20), "uint16"), spacing=(2.6, 0.65, 0.65))
    >>> vol.x.attrs["units"], float(vol.z[1])
    ('micrometer', 2.6)
    """
    if not hasattr(array, "ndim") or not hasattr(array, "dtype"):
        array = np.asarray(array)
    if array.ndim < 3:
        raise ValueError(
            f"a volume must be 3-D (z, y, x), got {array.ndim}-D with shape {array.shape}; "
            "for a single slice use array[None]"
        )
    if dims is None:
        if array.ndim > 5:
            raise ValueError(f"a volume has at most 5 dims (t, c, z, y, x), got {array.ndim}")
        dims = LEADING_DIMS[5 - array.ndim : 2] + SPATIAL_DIMS if array.ndim > 3 else SPATIAL_DIMS
    dims = tuple(dims)
    if len(dims) != array.ndim:
        raise ValueError(f"dims {dims} do not match the array's {array.ndim} dimensions")
    _check_dims(dims)
    _check_dtype(np.dtype(array.dtype))
    for dim, size in zip(dims, array.shape, strict=True):
        if size == 0:
            raise ValueError(_empty_message(dim, array.shape))
    parse_unit(units)
    spacing3 = _per_axis(spacing, "spacing")
    if min(spacing3) <= 0:
        raise ValueError(f"spacing must be positive, got {spacing!r}")
    origin3 = _per_axis(origin, "origin")
    n_leading = array.ndim - 3
    if isinstance(array, da.Array):
        data = array if chunks is None else array.rechunk(chunks)
    else:
        data = da.from_array(
            array, chunks=default_chunks(array.shape, n_leading) if chunks is None else chunks
        )
    data = native_order(data)
    coords = spatial_coords(array.shape[n_leading:], spacing3, origin3, units)
    out = xr.DataArray(data, dims=dims, coords=coords, name=name, attrs=dict(attrs or {}))
    out.attrs.setdefault(PROVENANCE_KEY, [])
    return out


def wrap_like(
    volume: xr.DataArray,
    data: Any,
    *,
    name: str | None = None,
    **attrs: Any,
) -> xr.DataArray:
    """Wrap ``data`` (same spatial grid as ``volume``) with the volume's coords and attrs.

    Keyword attributes override the copied ones; an attribute given as ``None`` is dropped
    (e.g. ``units=None`` when the intensity unit no longer applies).

    Examples
    --------
    >>> import numpy as np
    >>> vol = from_array(np.zeros((2, 3, 4)), attrs={"units": "1/cm"})
    >>> wrap_like(vol, vol.data > 0, units=None).attrs.get("units") is None
    True
    """
    merged = {**volume.attrs, **attrs}
    merged = {k: v for k, v in merged.items() if v is not None}
    if PROVENANCE_KEY in merged:
        merged[PROVENANCE_KEY] = list(merged[PROVENANCE_KEY])
    return xr.DataArray(
        data,
        dims=volume.dims,
        coords=volume.coords,
        name=volume.name if name is None else name,
        attrs=merged,
    )


def native_order(data: Any) -> Any:
    """``data`` (NumPy or Dask) in the machine's byte order; the same object when it is.

    Big-endian arrays (``">u2"``, as some Zarr v2, TIFF and raw files hold them) have the
    same values, but the compiled kernels refuse them and a dtype test such as
    ``dtype == np.uint16`` is false for them. Dask arrays are converted lazily, chunk by
    chunk.

    Examples
    --------
    >>> import numpy as np
    >>> big = np.arange(3, dtype=">u2")
    >>> native_order(big).dtype == np.uint16, native_order(big).tolist()
    (True, [0, 1, 2])
    """
    dtype = np.dtype(data.dtype)
    if dtype.isnative:
        return data
    return data.astype(dtype.newbyteorder("="))


def as_dask(volume: xr.DataArray) -> xr.DataArray:
    """Return ``volume`` backed by Dask, chunking an in-memory one by default chunks.

    A pint-quantified volume is dequantified first (see :func:`dequantify`), and one in
    a non-native byte order converted to the native one (see :func:`native_order`).
    """
    volume = dequantify(volume)
    if not isinstance(volume.data, da.Array):
        n_leading = volume.ndim - 3
        volume = volume.chunk(
            dict(zip(volume.dims, default_chunks(volume.shape, n_leading), strict=True))
        )
    return volume if volume.dtype.isnative else volume.copy(data=native_order(volume.data))
