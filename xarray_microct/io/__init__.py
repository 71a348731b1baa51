"""Reading volumes: Zarr (plain arrays and xarray stores) and TIFF stacks, lazily."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import xarray as xr
import zarr

from xarray_microct.core.provenance import make_record, with_record
from xarray_microct.core.volume import PROVENANCE_KEY, SPATIAL_DIMS, from_array, grid_of
from xarray_microct.io.tiff import TIFF_SUFFIXES, read_tiff

ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")


def _is_zarr(path: Path) -> bool:
    return path.is_dir() and any((path / m).exists() for m in ZARR_MARKERS)


def _physical(
    metadata: dict[str, Any],
    spacing: float | Sequence[float] | None,
    units: str | None,
    path: Path,
) -> tuple[Any, str]:
    spacing = spacing if spacing is not None else metadata.get("spacing")
    units = units if units is not None else metadata.get("units")
    if spacing is None or units is None:
        raise ValueError(
            f"{path} does not state its voxel size; give it, e.g. "
            "open_volume(path, spacing=(0.65, 0.65, 0.65), units='micrometer')"
        )
    return spacing, units


def _open_xarray_zarr(path: Path, chunks: Any) -> xr.DataArray:
    dataset = xr.open_zarr(path, chunks=chunks if chunks is not None else {})
    volumes = [v for v in dataset.data_vars.values() if tuple(v.dims[-3:]) == SPATIAL_DIMS]
    if len(volumes) != 1:
        names = list(dataset.data_vars)
        raise ValueError(
            f"{path} holds {len(volumes)} volumes (variables {names}); open it with "
            "xarray.open_zarr and pick one"
        )
    volume = volumes[0]
    grid_of(volume)  # validate: clear errors for a store that is not a volume
    return volume


def _zarr_kind(path: Path) -> str:
    node = zarr.open(str(path), mode="r")
    if isinstance(node, zarr.Array):
        return "array"
    arrays = [v for _, v in node.members() if isinstance(v, zarr.Array)]
    if any("_ARRAY_DIMENSIONS" in a.attrs or getattr(a.metadata, "dimension_names", None)
           for a in arrays):
        return "xarray"
    raise ValueError(
        f"{path} is a Zarr group that holds neither an array nor an xarray dataset"
    )


def open_volume(
    path: str | Path,
    *,
    spacing: float | Sequence[float] | None = None,
    units: str | None = None,
    origin: float | Sequence[float] = 0.0,
    chunks: Any = None,
    name: str | None = None,
) -> xr.DataArray:
    """Open a volume lazily, never reading the whole scan.

    Parameters
    ----------
    path : str or Path
        A Zarr store written by xarray or xarray-microct (coordinates, units and
        provenance come back), a plain Zarr array, a multi-page TIFF file, or a folder
        of TIFF slices.
    spacing, units : optional
        Voxel size and its length unit, for formats that do not state them (plain Zarr
        arrays, TIFF without ImageJ calibration). Required there: a missing voxel size
        is an error, not a guess.
    origin : float or tuple
        Coordinate of the first voxel, for formats without coordinates.
    chunks : optional
        Dask chunks; by default the store's own (Zarr) or up to 128 voxels per axis.
    name : str, optional
        Name of the DataArray; the file name by default.

    Returns
    -------
    xarray.DataArray
        A lazy volume; an ``open_volume`` record is appended to its provenance.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "vol.zarr"
    >>> _ = mct.from_array(np.zeros((4, 4, 4)), spacing=0.5).to_zarr(store)
    >>> float(open_volume(store).microct.grid.spacing[0])
    0.5
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"nothing at {path}")
    if _is_zarr(path):
        if _zarr_kind(path) == "xarray":
            volume = _open_xarray_zarr(path, chunks)
            if name is not None:
                volume = volume.rename(name)
        else:
            array = zarr.open_array(str(path), mode="r")
            data = da.from_zarr(array, chunks=chunks if chunks is not None else array.chunks)
            metadata = {k: array.attrs[k] for k in ("spacing", "units") if k in array.attrs}
            spacing, units = _physical(metadata, spacing, units, path)
            volume = from_array(data, spacing, units, origin, name=name or path.stem)
    elif path.is_dir() or path.suffix.lower() in TIFF_SUFFIXES:
        data, metadata = read_tiff(path)
        spacing, units = _physical(metadata, spacing, units, path)
        volume = from_array(data, spacing, units, origin, chunks=chunks, name=name or path.stem)
        if chunks is None:
            volume = volume.chunk(dict.fromkeys(SPATIAL_DIMS, 128))
    else:
        raise ValueError(
            f"cannot tell the format of {path}: expected a Zarr store, a .tif/.tiff "
            "file or a folder of TIFF slices"
        )
    record = make_record(
        "open_volume", {"path": path.name, "format": _format_name(path)}, source=True
    )
    volume.attrs = with_record({PROVENANCE_KEY: [], **volume.attrs}, record)
    return volume


def _format_name(path: Path) -> str:
    if _is_zarr(path):
        return "zarr"
    return "tiff-folder" if path.is_dir() else "tiff"


__all__ = ["open_volume", "read_tiff"]
