"""Lazy TIFF readers: one multi-page file, or a folder of one file per slice.

Pages are read in blocks of slices only when a chunk is computed; the scan is never
loaded whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import dask
import dask.array as da
import numpy as np
import tifffile

from xarray_microct.io.calibration import calibration, resolution_length

TIFF_SUFFIXES = (".tif", ".tiff")
_SLAB = 64  # slices read by one task


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def tiff_files(folder: Path) -> list[Path]:
    """The TIFF files of a folder in natural order (``slice_2`` before ``slice_10``)."""
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES), key=_natural_key
    )
    if not files:
        raise ValueError(f"no .tif/.tiff files in folder {folder}")
    return files


def _read_file_pages(path: str, start: int, stop: int) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        return tif.asarray(key=range(start, stop)).reshape(stop - start, *tif.pages[0].shape)


def _read_slices(paths: Sequence[str]) -> np.ndarray:
    return np.stack([tifffile.imread(p, key=0) for p in paths])


def _page_layout(path: Path, stack: bool) -> tuple[int, tuple[int, int], np.dtype, dict[str, Any]]:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if len(page.shape) != 2:
            raise ValueError(
                f"{path} has pages of shape {page.shape}; expected 2-D grey-level slices"
            )
        metadata = _physical_metadata(tif, stack)
        return len(tif.pages), tuple(page.shape), np.dtype(page.dtype), metadata


def _physical_metadata(tif: tifffile.TiffFile, stack: bool) -> dict[str, Any]:
    """The voxel size the file states: OME-XML first, then ImageJ (see ``calibration``).

    ``stack`` says whether the file's pages are the z-slices (a multi-page file) or the
    file is one slice of a folder (whose z spacing only OME-XML can state).
    """
    if tif.is_ome and tif.ome_metadata:
        return _ome_voxel_size(tif.ome_metadata)
    if tif.is_imagej:
        return _imagej_voxel_size(tif, stack)
    return {}


def _ome_voxel_size(xml: str) -> dict[str, Any]:
    """``PhysicalSizeZ/Y/X`` and their units (default µm) of the first OME image.

    Examples
    --------
    >>> xml = ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image>'
    ...        '<Pixels PhysicalSizeX="650" PhysicalSizeXUnit="nm" PhysicalSizeY="650" '
    ...        'PhysicalSizeYUnit="nm" PhysicalSizeZ="2"/></Image></OME>')
    >>> _ome_voxel_size(xml)
    {'spacing': (2000.0, 650.0, 650.0), 'units': 'nanometer'}
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return {}
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return {}
    sizes = [pixels.get(f"PhysicalSize{axis}") for axis in "ZYX"]
    units = [pixels.get(f"PhysicalSize{axis}Unit", "µm") for axis in "ZYX"]
    return calibration(
        [float(s) if s is not None else None for s in sizes], units, "its OME-XML PhysicalSizes"
    )


def _imagej_voxel_size(tif: tifffile.TiffFile, stack: bool) -> dict[str, Any]:
    """Pixel size from the resolution tags in ImageJ's ``unit``; z from ``spacing=``.

    ImageJ writes ``spacing=`` only for a stack whose voxel depth is not 1, so a stack
    without it has a depth of 1 unit, as ImageJ itself reads it. A single image (a slice
    of a folder) never states its depth.
    """
    ij = tif.imagej_metadata or {}
    unit = ij.get("unit")
    tags = tif.pages[0].tags
    if not unit or "XResolution" not in tags or "YResolution" not in tags:
        return {}
    x_num, x_den = tags["XResolution"].value
    y_num, y_den = tags["YResolution"].value
    if not x_num or not y_num:
        return {}
    depth = float(ij.get("spacing", 1.0)) if stack else None
    source = "its ImageJ metadata" if stack else "its slices' ImageJ metadata"
    sizes = (depth, resolution_length(y_num, y_den), resolution_length(x_num, x_den))
    return calibration(sizes, (unit,) * 3, source)


def read_tiff(path: str | Path) -> tuple[da.Array, dict[str, Any]]:
    """Lazily read a multi-page TIFF file or a folder of TIFF slices.

    Parameters
    ----------
    path : str or Path
        A ``.tif``/``.tiff`` file (each page a z-slice) or a folder of such files (each
        file a z-slice, in natural name order).

    Returns
    -------
    data : dask.array.Array
        ``(z, y, x)``, in slabs of up to 64 slices.
    metadata : dict
        ``spacing`` and ``units`` when the file states them: OME-TIFF
        ``PhysicalSizeZ/Y/X`` (and their units), or ImageJ's pixel size, ``unit`` and
        ``spacing=`` (a stack without it is 1 unit deep, as ImageJ reads it). A folder's
        z spacing comes only from OME ``PhysicalSizeZ``: when its slices state only
        their pixel size, ``note`` says so instead (see
        :mod:`xarray_microct.io.calibration`). Empty when nothing is stated.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> stack = np.zeros((3, 4, 5), "uint8")
    >>> tifffile.imwrite(folder / "stack.tif", stack, photometric="minisblack")
    >>> read_tiff(folder / "stack.tif")[0].shape
    (3, 4, 5)
    """
    path = Path(path)
    if path.is_dir():
        files = tiff_files(path)
        _, shape, dtype, metadata = _page_layout(files[0], stack=False)
        names = [str(f) for f in files]
        slabs = [
            da.from_delayed(
                dask.delayed(_read_slices, pure=True)(names[i : i + _SLAB]),
                shape=(len(names[i : i + _SLAB]), *shape),
                dtype=dtype,
            )
            for i in range(0, len(names), _SLAB)
        ]
    elif path.is_file():
        n_pages, shape, dtype, metadata = _page_layout(path, stack=True)
        slabs = [
            da.from_delayed(
                dask.delayed(_read_file_pages, pure=True)(str(path), i, min(i + _SLAB, n_pages)),
                shape=(min(i + _SLAB, n_pages) - i, *shape),
                dtype=dtype,
            )
            for i in range(0, n_pages, _SLAB)
        ]
    else:
        raise FileNotFoundError(f"no TIFF file or folder at {path}")
    return da.concatenate(slabs, axis=0), metadata
