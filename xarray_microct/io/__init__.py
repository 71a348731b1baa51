"""Reading volumes lazily: OME-Zarr, Zarr (plain arrays and xarray stores), HDF5, raw, TIFF."""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from xarray_microct.core.provenance import make_record, with_record
from xarray_microct.core.tree import select_node, single_image
from xarray_microct.core.units import ngff_unit_name
from xarray_microct.core.volume import (
    PROVENANCE_KEY,
    SPATIAL_DIMS,
    _per_axis,
    from_array,
    grid_of,
)
from xarray_microct.io.calibration import calibration as stated_calibration
from xarray_microct.io.calibration import checked_spacing, in_units, stated_sizes
from xarray_microct.io.errors import PickRequiredError, TiffLayoutError
from xarray_microct.io.hdf5 import DXCHANGE_DATA, is_hdf5, read_hdf5
from xarray_microct.io.ome import (
    DamagedStoreError,
    IncompleteStoreError,
    damaged,
    is_ome_zarr,
    network_error,
    network_options,
    open_pyramid,
)
from xarray_microct.io.paths import is_url, local_path
from xarray_microct.io.picks import PICKS, checked_index, pick_dims, sizes_of
from xarray_microct.io.raw import RAW_SUFFIXES, read_raw
from xarray_microct.io.tiff import read_tiff
from xarray_microct.io.tiff_numbering import TIFF_SUFFIXES

ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")


def _is_zarr(path: Path) -> bool:
    return path.is_dir() and any((path / m).exists() for m in ZARR_MARKERS)


class MissingVoxelSizeError(ValueError):
    """The input does not state its voxel size and none was given (``spacing=``,
    ``units=``): the message says how to give it. ``placeholder``: a ``(spacing,
    units)`` that opens the input (its stated axes kept, 1 for the others), for a
    description that does not show it (``microct info``)."""

    def __init__(self, message: str, placeholder: tuple[Any, str] = (1.0, "micrometer")):
        super().__init__(message)
        self.placeholder = placeholder


def _physical(
    metadata: dict[str, Any],
    spacing: float | Sequence[float] | None,
    units: str | None,
    path: Path | str,
) -> tuple[Any, str]:
    """The voxel size to build the volume with: the file's (``metadata``, as the readers
    return it: :mod:`xarray_microct.io.calibration`), or the one given where it agrees
    with the file's and for the axes the file does not state."""
    if spacing is not None and units is None:
        raise ValueError(
            f"spacing={spacing!r} was given without units=: name the length unit of the "
            "spacing, e.g. open_volume(path, spacing=..., units='micrometer')"
        )
    stated, stated_units = stated_sizes(metadata)
    if spacing is not None:
        checked_spacing(stated, stated_units, _per_axis(spacing, "spacing"), units, path)
        return spacing, units
    if "spacing" in metadata:
        if units is not None:
            return in_units(metadata["spacing"], metadata["units"], units), units
        return metadata["spacing"], metadata["units"]
    found = f" ({metadata['note']})" if "note" in metadata else ""
    its = "a valid" if metadata.get("invalid") else "its"  # the note gives the value
    if stated and stated_units is not None:
        unit = ngff_unit_name(units or stated_units)
        known = dict(zip(stated, in_units(list(stated.values()), stated_units, unit), strict=True))
        example = ", ".join(f"{known[a]:g}" if a in known else f"d{a}" for a in "zyx")
        flags = " ".join(f"{known[a]:g}" if a in known else f"D{a.upper()}" for a in "zyx")
        missing = ", ".join(a for a in "zyx" if a not in known)
        raise MissingVoxelSizeError(
            f"{path} does not state {its} voxel size along {missing}{found}; give it, with "
            f"the stated values for the others: open_volume(path, spacing=({example}), "
            f"units={unit!r}), or on the command line --spacing {flags} --units {unit}",
            (tuple(known.get(axis, 1.0) for axis in "zyx"), unit),
        )
    raise MissingVoxelSizeError(
        f"{path} does not state {its} voxel size{found}; give it, e.g. "
        "open_volume(path, spacing=(dz, dy, dx), units='micrometer'), or on the "
        "command line --spacing DZ DY DX --units micrometer"
    )


def _open_xarray_zarr(
    path: Path | str,
    chunks: Any,
    storage_options: dict[str, Any] | None = None,
    spacing: float | Sequence[float] | None = None,
    units: str | None = None,
    origin: float | Sequence[float] | None = None,
) -> xr.DataArray:
    if isinstance(chunks, tuple):  # sizes per axis, as Dask takes them: xarray names dims
        chunks = dict(zip(SPATIAL_DIMS, chunks[-3:], strict=True))
    try:
        dataset = xr.open_zarr(
            path, chunks=chunks if chunks is not None else {}, storage_options=storage_options
        )
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as err:
        raise ValueError(f"{path}: no Zarr store found there ({err})") from err
    except (ValueError, TypeError):
        raise
    except Exception as err:
        if is_url(path):
            raise network_error(path, err) from err
        raise damaged(path, err) from err
    volumes = _volumes(dataset)
    if len(volumes) != 1:
        names = list(dataset.data_vars)
        raise ValueError(
            f"{path} holds {len(volumes)} volumes (variables {names}); open it with "
            "xarray.open_zarr and pick one"
        )
    # z, y, x last, in that order, whatever order the store keeps them in (coordinates kept)
    volume = _calibrated(volumes[0].transpose(..., *SPATIAL_DIMS), spacing, units, origin, path)
    grid_of(volume)  # validate: clear errors for a store that is not a volume
    return volume


def _volumes(dataset: xr.Dataset) -> list[xr.DataArray]:
    """The variables of an xarray store that may be its volume: those whose last dims
    are z, y, x in that order; where none is, those of dims z, y, x in another order,
    with at most time and channel besides (``t``, ``c``). A mask stored x, y, z beside a
    scan, or a vector field (a DVC displacement, ``z, y, x, component``), is so not taken
    for a second volume; a store of a vector field alone holds none.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> scan = (("z", "y", "x"), np.zeros((2, 2, 2)))
    >>> mask = (("x", "y", "z"), np.zeros((2, 2, 2), bool))
    >>> field = (("z", "y", "x", "component"), np.zeros((2, 2, 2, 3)))
    >>> [v.name for v in _volumes(xr.Dataset({"scan": scan, "mask": mask, "disp": field}))]
    ['scan']
    >>> [v.name for v in _volumes(xr.Dataset({"mask": mask, "disp": field}))]
    ['mask']
    >>> _volumes(xr.Dataset({"disp": field}))
    []
    """
    variables = list(dataset.data_vars.values())
    ordered = [v for v in variables if tuple(v.dims[-3:]) == SPATIAL_DIMS]
    return ordered or [
        v for v in variables if set(SPATIAL_DIMS) <= set(v.dims) <= {*SPATIAL_DIMS, "t", "c"}
    ]


def _calibrated(
    volume: xr.DataArray,
    spacing: float | Sequence[float] | None,
    units: str | None,
    origin: float | Sequence[float] | None,
    path: Path | str,
) -> xr.DataArray:
    """A volume of an xarray Zarr store with the voxel size given where the store does
    not state it: without coordinates (a Zarr v3 array with dimension names only),
    ``spacing``, ``units`` and ``origin`` (0 by default) make them; coordinates without a
    unit take ``units``. A store whose coordinates state the spacing refuses another
    one (the same given again passes), and one whose coordinates state the origin
    another origin."""
    present = [dim for dim in SPATIAL_DIMS if dim in volume.coords]
    if not present:
        spacing, units = _physical({}, spacing, units, path)
        origin = 0.0 if origin is None else origin
        calibrated = from_array(volume.data, spacing, units, origin, name=volume.name)
        return calibrated.assign_attrs(volume.attrs)
    _check_coordinate_spacing(volume, spacing, units, path)
    unitless = [dim for dim in present if "units" not in volume[dim].attrs]
    if unitless and units is not None:
        volume = volume.assign_coords(
            {dim: volume[dim].assign_attrs(units=units) for dim in unitless}
        )
    _check_origin(volume, origin, path, units)  # read in units= where given
    return _coords_in_units(volume, units)


def _coords_in_units(volume: xr.DataArray, units: str | None) -> xr.DataArray:
    """``volume`` with its spatial coordinates re-expressed in ``units`` (the one rule
    of ``units=`` for every format: the voxel size comes back in the unit asked for);
    as it is where ``units`` is None or the coordinates are in it already. Values are
    kept to 12 significant digits (0.65 µm is 650 nm, not 650.0000000000001).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> volume = mct.from_array(np.zeros((2, 2, 2)), spacing=(2.6, 0.65, 0.65), units="um")
    >>> nm = _coords_in_units(volume, "nm")
    >>> nm.microct.grid.spacing, nm.microct.grid.units, nm.x.values.tolist()
    ((2600.0, 650.0, 650.0), 'nanometer', [0.0, 650.0])
    """
    if units is None:
        return volume
    wanted = ngff_unit_name(units)
    converted = {}
    for dim in SPATIAL_DIMS:
        if dim not in volume.coords or "units" not in volume[dim].attrs:
            continue
        coord = volume[dim]
        try:
            own = ngff_unit_name(str(coord.attrs["units"]))
        except ValueError:  # not a length: refused as the volume is checked
            continue
        if own == wanted:
            continue
        (factor,) = in_units((1.0,), own, wanted)
        values = np.array([float(f"{v * factor:.12g}") for v in coord.values.astype(float)])
        attrs = {**coord.attrs, "units": wanted}
        if "spacing" in attrs:
            attrs["spacing"] = in_units((float(attrs["spacing"]),), own, wanted)[0]
        converted[dim] = xr.Variable(dim, values, attrs)
    return volume.assign_coords(converted) if converted else volume


def _check_coordinate_spacing(
    volume: xr.DataArray,
    spacing: float | Sequence[float] | None,
    units: str | None,
    path: Path | str,
) -> None:
    """Refuse a ``spacing`` (in ``units``) that contradicts the one ``volume``'s
    coordinates state (an OME-Zarr's scale, an xarray store's coordinates), compared in
    ``units`` (coordinates without a unit are taken in ``units``); the same value given
    again passes, as does None (not given).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> volume = mct.from_array(np.zeros((2, 3, 4)), spacing=(2.0, 0.5, 0.5), units="um")
    >>> _check_coordinate_spacing(volume, (2000.0, 500.0, 500.0), "nm", "scan.zarr")
    >>> _check_coordinate_spacing(volume, 0.5, "um", "scan.zarr")
    Traceback (most recent call last):
    ValueError: scan.zarr states its voxel size in its coordinates along z (2 micrometer), ...
    """
    if spacing is None:
        return
    if units is None:
        raise ValueError(
            f"spacing={spacing!r} was given without units=: name the length unit of the "
            "spacing, e.g. open_volume(path, spacing=..., units='micrometer')"
        )
    steps: dict[str, tuple[float, str]] = {}  # each axis's step, in its own unit
    for dim in SPATIAL_DIMS:
        if dim not in volume.coords:
            continue
        coord = volume[dim]
        if coord.size > 1:
            step = float(np.median(np.diff(coord.values)))
        elif "spacing" in coord.attrs:
            step = float(coord.attrs["spacing"])
        else:
            continue
        steps[dim] = (step, coord.attrs.get("units") or units)
    own = {unit for _, unit in steps.values()}
    unit = own.pop() if len(own) == 1 else units  # the store's own where it has one
    stated = {dim: in_units((step,), u, unit)[0] for dim, (step, u) in steps.items()}
    given = _per_axis(spacing, "spacing")
    checked_spacing(stated, unit, given, units, path, " in its coordinates")


def _check_origin(
    volume: xr.DataArray, origin: Any, path: Path | str, units: str | None = None
) -> None:
    """Refuse an ``origin`` that contradicts the one ``volume``'s coordinates state (its
    first voxel's, per axis); None (not given) and the stated origin pass. ``origin`` is
    read in ``units`` where given (as ``spacing=`` is, and as the coordinates come back:
    :func:`_coords_in_units`), in the coordinates' own units otherwise.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> volume = mct.from_array(np.zeros((2, 3, 4)), spacing=0.5, origin=(1.0, 0.0, 0.0))
    >>> _check_origin(volume, (1.0, 0.0, 0.0), "scan.zarr")
    >>> _check_origin(volume, (1000.0, 0.0, 0.0), "scan.zarr", "nm")
    >>> _check_origin(volume, 0.0, "scan.zarr")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: scan.zarr states its origin in its coordinates ([1.0, 0.0, 0.0]), not ...
    >>> _check_origin(volume, (1.0, 0.0, 0.0), "scan.zarr", "nm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: scan.zarr states its origin in its coordinates ([1000.0, 0.0, 0.0] nanometer; ...
    """
    if origin is None:
        return
    given = np.atleast_1d(np.asarray(origin, dtype=float))
    if given.ndim != 1 or given.size not in (1, 3):
        got = f"{given.size}" if given.ndim == 1 else f"an array of shape {given.shape}"
        raise ValueError(
            f"origin={origin!r}: give one coordinate for all axes or three (z, y, x), not {got}"
        )
    given = np.broadcast_to(given, (3,))
    shown = _coords_in_units(volume, units)  # as the volume comes back: in units= if given
    axes = [i for i, dim in enumerate(SPATIAL_DIMS) if dim in shown.coords]
    stated = np.array([float(shown[dim].values[0]) for dim in SPATIAL_DIMS])
    steps = [
        abs(float(shown[dim].values[1] - shown[dim].values[0])) if shown.sizes[dim] > 1 else 1.0
        for dim in SPATIAL_DIMS
    ]
    if np.allclose(stated[axes], given[axes], rtol=1e-6, atol=1e-6 * min(steps)):
        return
    named = _units_named(shown, axes)
    own = _units_named(volume, axes)
    if own != named:  # re-expressed in units=: what the store holds too
        kept = [float(volume[dim].values[0]) for dim in SPATIAL_DIMS]
        stored = f"; {kept}{own} as stored"
        read = f"read in units={units!r}"
    else:
        stored = ""
        read = (
            f"read in units={units!r}"
            if units is not None
            else f"read in the store's own units{f',{named}' if named else ''}"
        )
    raise ValueError(
        f"{path} states its origin in its coordinates ({stated.tolist()}{named}{stored}, the "
        f"first voxel's centre along z, y, x), not the origin given ({given.tolist()}, "
        f"{read}); give the stated origin{f' in {named.strip()}' if named else ''} "
        "or leave origin= out, or shift the opened volume's coordinates yourself "
        "(vol.assign_coords(z=vol.z + dz))"
    )


def _units_named(volume: xr.DataArray, axes: Sequence[int]) -> str:
    """The units of ``volume``'s spatial coordinates at ``axes`` (their indexes in z, y,
    x), for a message: ``" micrometer"``, ``""`` where none states one."""
    units = sorted({str(volume[SPATIAL_DIMS[i]].attrs.get("units", "")) for i in axes} - {""})
    return f" {' / '.join(units)}" if units else ""


def _zarr_kind(path: Path) -> str:
    try:
        node = zarr.open(str(path), mode="r")
    except (FileNotFoundError, KeyError) as err:
        raise ValueError(f"{path} is not a Zarr store ({err})") from err
    except Exception as err:
        raise damaged(path, err) from err
    if isinstance(node, zarr.Array):
        return "array"
    arrays = [v for _, v in node.members() if isinstance(v, zarr.Array)]
    if any(
        "_ARRAY_DIMENSIONS" in a.attrs or getattr(a.metadata, "dimension_names", None)
        for a in arrays
    ):
        return "xarray"
    raise ValueError(_group_without_volume(path, node))


def _group_without_volume(path: Path, group: zarr.Group) -> str:
    """Why a Zarr group that is neither an OME-Zarr image nor an xarray dataset is not
    opened, with the arrays it holds (any depth) and how to open one of them.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "g.zarr"
    >>> group = zarr.open_group(str(store), mode="w")
    >>> _ = group.create_array("scan", data=np.zeros((2, 2, 2)))
    >>> _ = group.create_array("mask", data=np.zeros((2, 2, 2)))
    >>> print(_group_without_volume(pathlib.Path("g.zarr"), group))  # doctest: +ELLIPSIS
    g.zarr is a Zarr group of 2 arrays (mask 2 × 2 × 2 float64, scan ...), not one volume: ...
    """
    arrays = sorted(
        (name, member)
        for name, member in group.members(max_depth=None)
        if isinstance(member, zarr.Array)
    )
    if not arrays:
        return (
            f"{path} is a Zarr group that holds no array (neither an OME-Zarr image nor an "
            "xarray dataset): give the path of a volume's array or store"
        )
    shown = ", ".join(
        f"{name} {' × '.join(str(n) for n in member.shape)} {member.dtype}"
        for name, member in arrays[:10]
    )
    more = f" and {len(arrays) - 10} more" if len(arrays) > 10 else ""
    return (
        f"{path} is a Zarr group of {len(arrays)} array{'s' if len(arrays) != 1 else ''} "
        f"({shown}{more}), not one volume: neither an OME-Zarr image nor an xarray "
        "dataset (no dimension names) says which is. Open one array by its path, e.g. "
        f"open_volume('{Path(path) / arrays[0][0]}', spacing=..., units=...) (on the "
        "command line, that path as the input)"
    )


def _detect(path: str | Path, shape: Any, storage_options: Any) -> str:
    """The format of ``path``: ome-zarr, zarr, hdf5, raw, tiff or tiff-folder."""
    if is_url(path):
        return "ome-zarr" if is_ome_zarr(path, storage_options) else "zarr"
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"nothing at {path}")
    if shape is not None or path.suffix.lower() in RAW_SUFFIXES:
        return "raw"
    if _is_zarr(path):
        return "ome-zarr" if is_ome_zarr(path) else "zarr"
    if is_hdf5(path):
        return "hdf5"
    if path.is_dir():
        return "tiff-folder"
    if path.suffix.lower() in TIFF_SUFFIXES:
        return "tiff"
    raise ValueError(
        f"cannot tell the format of {path}: expected an OME-Zarr or Zarr store, an "
        "HDF5 file, a .tif/.tiff file, a folder of TIFF slices, or a raw file (give "
        "shape= and dtype=)"
    )


def _check_options(fmt: str, given: dict[str, Any]) -> None:
    allowed = {
        "ome-zarr": {"level", "storage_options"},
        "hdf5": {"dataset"},
        "raw": {"shape", "dtype", "byte_order", "offset"},
    }.get(fmt, set())
    wrong = sorted(k for k, v in given.items() if v is not None and k not in allowed)
    if wrong:
        raise ValueError(
            f"{', '.join(f'{k}=' for k in wrong)} {'does' if len(wrong) == 1 else 'do'} not "
            f"apply to a {fmt} source: level= is for OME-Zarr, "
            "dataset= for HDF5, shape=/dtype=/byte_order=/offset= for raw files"
        )


def _without_single_tc(volume: xr.DataArray) -> xr.DataArray:
    """``volume`` without its time and channel axes of length one (the t, c, z, y, x
    layout of single-channel images written by ome-zarr-py or bioformats2raw): a 3-D
    volume. Longer t or c axes stay (select one with ``channel=``/``time=``)."""
    single = [dim for dim in ("t", "c") if volume.sizes.get(dim) == 1]
    return volume.squeeze(single) if single else volume


def _pick_level(tree: xr.DataTree, level: int | str | None, where: Any) -> xr.DataArray:
    levels = [node.path.strip("/") for node in tree.subtree if node.data_vars]
    try:
        # the level as stored: its pyramid record is left as it is (the open_volume
        # record says which level was read; pyramid_levels_recorded reads it)
        return single_image(select_node(tree, 0 if level is None else level))
    except (IndexError, KeyError, TypeError) as err:
        raise ValueError(
            f"{where} has no level {level!r}; its levels are {levels} (give an index "
            f"0..{len(levels) - 1} or a name)"
        ) from err


def open_volume(
    path: str | Path,
    *,
    spacing: float | Sequence[float] | None = None,
    units: str | None = None,
    origin: float | Sequence[float] | None = None,
    chunks: Any = None,
    name: str | None = None,
    level: int | str | None = None,
    dataset: str | None = None,
    shape: Sequence[int] | None = None,
    dtype: Any = None,
    byte_order: str | None = None,
    offset: int | None = None,
    storage_options: dict[str, Any] | None = None,
    channel: int | None = None,
    time: int | None = None,
) -> xr.DataArray:
    """Open a volume lazily, never reading the whole scan.

    Parameters
    ----------
    path : str or Path
        An OME-Zarr image (NGFF 0.4 or 0.5, e.g. written by ``tree.microct.to_zarr``),
        a Zarr store written by xarray or xarray-microct (coordinates, units and
        provenance come back), a plain Zarr array, an HDF5 file (DXchange
        ``/exchange/data``), a raw binary file, a TIFF file (its first image: a stack of
        slices, or one slice), or a folder of numbered TIFF files (slices, or parts of
        one stack). Zarr stores may also be fsspec URLs (``http://...``, ``s3://...``).
    spacing, units : optional
        Voxel size and its length unit, for formats that do not state them (plain Zarr
        arrays, raw files, TIFF without ImageJ calibration, HDF5 without DXchange pixel
        size). Required there: a missing voxel size is an error, not a guess. Where the
        input states it, in full or for some axes, a spacing that contradicts it is an
        error naming both (compared in one unit, to a relative 1e-6); the same value
        given again is accepted, and the axes it does not state take the given value.
        The volume's coordinates are in ``units`` whenever it is given, for every
        format: ``units=`` alone re-expresses the voxel size the input states (an
        OME-Zarr's scale, an xarray store's coordinates, a TIFF's or HDF5 file's sizes)
        in that unit. Recorded in the ``open_volume`` provenance record when given.
    origin : float or tuple, optional
        Coordinate of the first voxel (its centre; one value or z, y, x), in ``units``
        when given (as ``spacing``, and as the coordinates come back), for every format;
        without ``units``, in the input's own unit. The store's own for OME-Zarr and
        xarray Zarr stores with coordinates: an origin that contradicts it is an error
        naming both (the stated one in ``units`` and as stored); the same origin given
        again, in ``units``, is accepted. 0 by default for formats without coordinates.
    chunks : optional
        Dask chunks; by default the store's own (Zarr) or up to 128 voxels per axis.
    name : str, optional
        Name of the DataArray; the file name by default.
    level : int or str, optional
        OME-Zarr only: the pyramid level (0 = full resolution, the default, or a node
        name such as ``"scale2"``). The whole pyramid: :func:`open_pyramid`.
    dataset : str, optional
        HDF5 only: the dataset, ``"/exchange/data"`` by default.
    shape, dtype, byte_order, offset : optional
        Raw files only (``.raw``, ``.bin``, ``.vol``, ``.img``, ``.dat``, or any file when
        ``shape`` is given): the volume's ``(z, y, x)`` shape, voxel dtype, byte order
        (``"little"``/``"big"``, default the dtype's own) and header size in bytes.
    storage_options : dict, optional
        fsspec options for URLs of OME-Zarr stores.
    channel, time : int, optional
        One channel and/or one time point of an input with channel (time) axes: an
        OME-Zarr's ``c``/``t`` axes (at the level read), an xarray store's ``c``/``t``
        dimensions, an OME-TIFF's or ImageJ hyperstack's ``C``/``T`` (only the picked
        pages are read; a multi-file OME-TIFF too). An index from 0; negative indexes
        are refused, as are an index out of range and a pick for an input without that
        axis (the message says which). A TIFF with more than one channel or time point
        is refused until one is picked; an OME-Zarr or xarray store keeps the axes not
        picked. Recorded in the ``open_volume`` provenance record when given.

    Returns
    -------
    xarray.DataArray
        A lazy volume; an ``open_volume`` record is appended to its provenance.

    Raises
    ------
    xarray_microct.io.ome.IncompleteStoreError
        An OME-Zarr store whose write was interrupted.
    xarray_microct.io.TiffLayoutError
        A TIFF input that is not one grey-level volume as it stands (more than one
        channel or time point and none picked with ``channel=``/``time=``, no pages, a
        folder file unlike the others), before any pixel is read: see
        ``xarray_microct.io.read_tiff``.
    ValueError
        ``channel=``/``time=`` out of range (the message gives the range), negative, or
        given for an input without that axis.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "vol.zarr"
    >>> _ = mct.from_array(np.zeros((4, 4, 4)), spacing=0.5).to_zarr(store)
    >>> float(open_volume(store).microct.grid.spacing[0])
    0.5
    >>> two = pathlib.Path(tempfile.mkdtemp()) / "two.zarr"
    >>> _ = mct.from_array(np.arange(128).reshape(2, 4, 4, 4), spacing=0.5).to_zarr(two)
    >>> picked = open_volume(two, channel=1)
    >>> picked.dims, int(picked[0, 0, 0])
    (('z', 'y', 'x'), 64)
    """
    options = {k: v for k, v in locals().items() if k != "path"}  # the keywords above
    volume, _, _ = _open_input(path, **options)
    return volume


def _open_input(
    path: str | Path, **options: Any
) -> tuple[xr.DataArray, dict[str, int], frozenset[str]]:
    """:func:`open_volume` (``options``: its keywords), the input's number of channels
    and time points, and its axes of length one that an open without a pick drops.

    Returns
    -------
    volume : xarray.DataArray
        What :func:`open_volume` returns.
    sizes : dict
        ``{"c": channels, "t": time points}`` of the input (of its level read), 1 for
        an axis it does not have (``microct info`` shows them).
    squeezed : frozenset
        The ``c``/``t`` of length one (or absent) that :func:`open_volume` drops without
        a pick (OME-Zarr, TIFF): a pick there reads the same volume as none. An xarray
        store or plain Zarr array keeps its ``c``/``t`` axes of length one: none.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "two.zarr"
    >>> _ = mct.from_array(np.zeros((2, 4, 4, 4)), spacing=0.5).to_zarr(store)
    >>> volume, sizes, squeezed = _open_input(store, channel=0)
    >>> volume.dims, sizes, squeezed
    (('z', 'y', 'x'), {'c': 2, 't': 1}, frozenset())
    """
    unknown = set(options) - set(inspect.signature(open_volume).parameters)
    if unknown:
        raise TypeError(f"open_volume() got unexpected keyword arguments {sorted(unknown)}")
    spacing, units = options.get("spacing"), options.get("units")
    origin = options.get("origin")
    chunks, name, level = options.get("chunks"), options.get("name"), options.get("level")
    shape, storage_options = options.get("shape"), options.get("storage_options")
    channel, time = options.get("channel"), options.get("time")
    picks = {"c": checked_index(channel, "channel"), "t": checked_index(time, "time")}
    if isinstance(path, str) and path.startswith("file://"):
        path = local_path(path)  # a local path, which Path() would mangle (file:/...)
    fmt = _detect(path, shape, storage_options)
    given = {
        key: options.get(key)
        for key in ("level", "dataset", "shape", "dtype", "byte_order", "offset")
    }
    given["storage_options"] = storage_options
    # storage_options reach a Zarr store written by xarray at a URL as they reach OME-Zarr
    url_zarr = fmt == "zarr" and is_url(path)
    _check_options(fmt, {k: v for k, v in given.items() if k != "storage_options" or not url_zarr})
    label = str(path) if is_url(path) else Path(path).name
    location = str(path) if is_url(path) else os.path.realpath(path)
    params: dict[str, Any] = {"path": label, "format": fmt, "location": location}
    if fmt == "ome-zarr":
        tree = open_pyramid(path, chunks=chunks, units=units, storage_options=storage_options)
        volume = _pick_level(tree, level, path)  # the level first, then its c and t
        sizes = sizes_of(volume)
        squeezed = frozenset(dim for dim, n in sizes.items() if n == 1)
        volume = _without_single_tc(pick_dims(volume, picks, path))
        _check_origin(volume, origin, path, units)  # read in units= where given
        _check_coordinate_spacing(volume, spacing, units, path)  # the same again passes
        volume = _coords_in_units(volume, units)
        volume = volume.rename(name) if name is not None else volume
        params["level"] = 0 if level is None else level
    elif is_url(path):
        network = network_options(path, storage_options)
        volume = _open_xarray_zarr(path, chunks, network, spacing, units, origin)
        sizes, squeezed = sizes_of(volume), frozenset()
        volume = pick_dims(volume, picks, path)
        volume = volume.rename(name) if name is not None else volume
    else:
        volume, sizes = _open_local(
            Path(path), fmt, spacing, units, origin, chunks, name, given, picks
        )
        tiff = fmt in ("tiff", "tiff-folder")  # a TIFF's axes of length one are dropped
        squeezed = frozenset(dim for dim, n in sizes.items() if n == 1 and tiff)
        params.update({k: v for k, v in given.items() if v is not None})
    params.update({PICKS[dim]: index for dim, index in picks.items() if index is not None})
    if spacing is not None:  # the voxel size given (checked against the file's above)
        params["spacing"] = [float(v) for v in _per_axis(spacing, "spacing")]
    if units is not None:
        params["units"] = ngff_unit_name(units)
    record = make_record("open_volume", params, source=True)
    volume.attrs = with_record({PROVENANCE_KEY: [], **volume.attrs}, record)
    return volume, sizes, squeezed


def _open_local(
    path: Path,
    fmt: str,
    spacing: Any,
    units: str | None,
    origin: Any,
    chunks: Any,
    name: str | None,
    given: dict[str, Any],
    picks: dict[str, int | None],
) -> tuple[xr.DataArray, dict[str, int]]:
    """A local input other than OME-Zarr, at ``picks`` (``{"c": ..., "t": ...}``), and its
    number of channels and time points."""
    if fmt == "tiff" or fmt == "tiff-folder":
        data, metadata = read_tiff(path, channel=picks["c"], time=picks["t"])
        spacing, units = _physical(metadata, spacing, units, path)
        origin = 0.0 if origin is None else origin  # TIFF states no origin
        volume = from_array(data, spacing, units, origin, chunks=chunks, name=name or path.stem)
        if chunks is None:
            volume = volume.chunk(dict.fromkeys(SPATIAL_DIMS, 128))
        return volume, dict(metadata["sizes"])
    volume = _open_other(path, fmt, spacing, units, origin, chunks, name, given)
    return pick_dims(volume, picks, path), sizes_of(volume)


def _plain_chunks(chunks: Any, stored: tuple[int, ...]) -> Any:
    """The Dask chunks of a plain Zarr array stored in ``stored`` chunks: ``chunks`` of
    ``(z, y, x)`` apply to its last three axes (its leading ``c``/``t`` keep theirs).

    Examples
    --------
    >>> _plain_chunks((4, 16, 16), (1, 8, 32, 32)), _plain_chunks(None, (8, 32, 32))
    ((1, 4, 16, 16), (8, 32, 32))
    """
    if chunks is None:
        return stored
    if isinstance(chunks, tuple) and len(chunks) == 3 < len(stored):
        return (*stored[:-3], *chunks)
    return chunks


_UNDERSTOOD = ("t", "c", "z", "y", "x")  # the dimension names a plain Zarr array may carry


def _dimension_names(array: zarr.Array) -> tuple[Any, ...] | None:
    """The dimension names a plain Zarr array stores (Zarr v3 ``dimension_names``, v2
    xarray's ``_ARRAY_DIMENSIONS`` attribute), or None where it stores none."""
    names = getattr(array.metadata, "dimension_names", None)
    if names is None:
        names = array.attrs.get("_ARRAY_DIMENSIONS")
    if names is None or all(name is None for name in names):
        return None
    return tuple(names)


def _stored_order(names: tuple[Any, ...] | None, path: Path | str) -> tuple[str, ...] | None:
    """The dims of a plain Zarr array in stored order, from its dimension ``names``: each
    one of ``t, c, z, y, x`` (any case), z, y, x all there, none twice; None without
    names (the array is then taken as ``(t, c,) z, y, x``, as documented). Other names
    are refused, saying which are understood: the axes are never guessed.

    Examples
    --------
    >>> _stored_order(("X", "y", "z"), "a.zarr"), _stored_order(None, "a.zarr")
    (('x', 'y', 'z'), None)
    >>> _stored_order(("a", "b", "c"), "a.zarr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: a.zarr names its dimensions ('a', 'b', 'c'): which of them is z, y or x is ...
    """
    if names is None:
        return None
    lowered = tuple(str(name).lower() if name is not None else None for name in names)
    understood = (
        all(name in _UNDERSTOOD for name in lowered)
        and len(set(lowered)) == len(lowered)
        and set(SPATIAL_DIMS) <= set(lowered)
    )
    if not understood:
        raise ValueError(
            f"{path} names its dimensions {names}: which of them is z, y or x is not "
            "guessed. The names understood are t, c, z, y, x (each once; z, y and x all "
            "there): store the array with those names (dimension_names= in Zarr v3, the "
            "_ARRAY_DIMENSIONS attribute in v2), or read it with zarr and give it in z, y, "
            "x order to xarray_microct.from_array(data, spacing=..., units=...)"
        )
    return lowered  # type: ignore[return-value]


def _chunks_as_stored(chunks: Any, order: tuple[str, ...] | None, stored: tuple[int, ...]) -> Any:
    """Dask ``chunks`` given per axis in ``(t, c,) z, y, x`` order, put in the stored
    ``order`` of a plain Zarr array (the axes not given keep their ``stored`` chunks);
    other forms of ``chunks`` (an int, "auto", None) as they are.

    Examples
    --------
    >>> _chunks_as_stored((2, 3, 4), ("x", "y", "z"), (8, 8, 8))
    (4, 3, 2)
    >>> _chunks_as_stored((2, 3, 4), ("x", "y", "z", "c"), (8, 8, 8, 1))
    (4, 3, 2, 1)
    """
    if order is None or not isinstance(chunks, (tuple, list)) or len(chunks) > len(order):
        return chunks
    wanted = [dim for dim in _UNDERSTOOD if dim in order]
    given = dict(zip(wanted[len(wanted) - len(chunks) :], chunks, strict=True))
    return tuple(given.get(dim, size) for dim, size in zip(order, stored, strict=True))


def _named_to_zyx(data: da.Array, order: tuple[str, ...]) -> tuple[da.Array, tuple[str, ...]]:
    """``data`` of dims ``order`` transposed to ``z, y, x`` last (its ``t``, ``c`` first,
    in that order), and those dims.

    Examples
    --------
    >>> import numpy as np
    >>> out, dims = _named_to_zyx(da.zeros((6, 5, 4, 2)), ("x", "y", "z", "c"))
    >>> out.shape, dims
    ((2, 4, 5, 6), ('c', 'z', 'y', 'x'))
    """
    wanted = tuple(dim for dim in _UNDERSTOOD if dim in order)
    return data.transpose([order.index(dim) for dim in wanted]), wanted


def _zarr_voxel_size(
    attrs: dict[str, Any], order: tuple[str, ...] | None, path: Path | str
) -> dict[str, Any]:
    """The voxel size a plain Zarr array states in its ``spacing`` and ``units``
    attributes, as the readers return it (:mod:`xarray_microct.io.calibration`).

    ``spacing`` holds one value (all axes) or three, one per spatial axis in the order
    the array stores them: the order of its dimension names (``order``), z, y, x for an
    array without names; as the array is transposed to z, y, x, so are its sizes.
    Another number of values is refused; a ``units`` that is not a length (an
    intensity unit) states no voxel size.

    Examples
    --------
    >>> _zarr_voxel_size({"spacing": [0.5, 0.25, 2.0], "units": "um"}, ("x", "y", "z"), "a")
    {'spacing': (2.0, 0.25, 0.5), 'units': 'micrometer'}
    >>> _zarr_voxel_size({"spacing": 0.5, "units": "1/cm"}, None, "a")
    {}
    >>> _zarr_voxel_size({"spacing": [2.0, 0.5], "units": "um"}, None, "a.zarr")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: a.zarr: its attribute 'spacing' holds 2 values ([2.0, 0.5]), not one ...
    """
    if "spacing" not in attrs:
        return {}
    try:
        sizes = np.asarray(attrs["spacing"], dtype=float)
    except (TypeError, ValueError):
        sizes = np.asarray([])
    stored = [dim for dim in (order or SPATIAL_DIMS) if dim in SPATIAL_DIMS]
    if sizes.ndim > 1 or sizes.size not in (1, 3):
        raise ValueError(
            f"{path}: its attribute 'spacing' holds {sizes.size} values "
            f"({attrs['spacing']!r}), not one (all axes) or three (one per spatial axis, "
            f"in the array's stored order: {', '.join(stored)}); the voxel size it means "
            "is not guessed: correct the attribute, or give spacing= and units= "
            "(a spacing= that contradicts the attribute is refused)"
        )
    per_axis = dict(zip(stored, np.broadcast_to(sizes.reshape(-1), (3,)), strict=True))
    if "units" not in attrs:
        return {"note": "its attribute 'spacing' has no 'units' beside it"}
    return stated_calibration(
        [float(per_axis[dim]) for dim in SPATIAL_DIMS],
        (attrs["units"],) * 3,
        "its attributes 'spacing' and 'units'",
    )


def _open_other(
    path: Path,
    fmt: str,
    spacing: Any,
    units: str | None,
    origin: Any,
    chunks: Any,
    name: str | None,
    given: dict[str, Any],
) -> xr.DataArray:
    if fmt == "zarr" and _zarr_kind(path) == "xarray":
        volume = _open_xarray_zarr(path, chunks, None, spacing, units, origin)
        return volume.rename(name) if name is not None else volume
    origin = 0.0 if origin is None else origin  # formats without coordinates
    if fmt == "zarr":
        array = zarr.open_array(str(path), mode="r")
        order = _stored_order(_dimension_names(array), path)
        stored = _plain_chunks(_chunks_as_stored(chunks, order, array.chunks), array.chunks)
        data = da.from_zarr(array, chunks=stored)
        dims = None
        if order is not None:  # z, y, x last, as the names say (t, c kept before)
            data, dims = _named_to_zyx(data, order)
        metadata = _zarr_voxel_size(dict(array.attrs), order, path)
        spacing, units = _physical(metadata, spacing, units, path)
        return from_array(data, spacing, units, origin, name=name or path.stem, dims=dims)
    if fmt == "hdf5":
        data, metadata = read_hdf5(path, given["dataset"] or DXCHANGE_DATA, chunks)
        spacing, units = _physical(metadata, spacing, units, path)
        return from_array(data, spacing, units, origin, name=name or path.stem)
    if fmt == "raw":
        if given["shape"] is None or given["dtype"] is None:
            raise ValueError(
                f"{path} is read as raw binary, which does not state its layout: give "
                "shape=(z, y, x) and dtype= (and byte_order=, offset= if needed)"
            )
        data = read_raw(
            path, given["shape"], given["dtype"], given["byte_order"], given["offset"] or 0, chunks
        )
        spacing, units = _physical({}, spacing, units, path)
        return from_array(data, spacing, units, origin, name=name or path.stem)
    raise ValueError(f"{path}: no reader for format {fmt!r}")  # pragma: no cover


__all__ = [
    "DamagedStoreError",
    "IncompleteStoreError",
    "MissingVoxelSizeError",
    "PickRequiredError",
    "TiffLayoutError",
    "open_pyramid",
    "open_volume",
    "read_hdf5",
    "read_raw",
    "read_tiff",
]
