"""Lazy TIFF readers: one multi-page file, or a folder of one file per slice.

Pages are read in blocks of slices only when a chunk is computed; the scan is never
loaded whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import tifffile

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


def _page_layout(path: Path) -> tuple[int, tuple[int, int], np.dtype, dict[str, Any]]:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if len(page.shape) != 2:
            raise ValueError(
                f"{path} has pages of shape {page.shape}; expected 2-D grey-level slices"
            )
        metadata = _physical_metadata(tif)
        return len(tif.pages), tuple(page.shape), np.dtype(page.dtype), metadata


def _physical_metadata(tif: tifffile.TiffFile) -> dict[str, Any]:
    """Voxel size from ImageJ metadata (``spacing``, ``unit``) and resolution tags."""
    ij = tif.imagej_metadata or {}
    unit = ij.get("unit")
    page = tif.pages[0]
    tags = page.tags
    if not unit or "XResolution" not in tags or "YResolution" not in tags:
        return {}
    unit = {"micron": "micrometer", "\\u00B5m": "micrometer", "µm": "micrometer"}.get(
        unit, unit
    )
    x_num, x_den = tags["XResolution"].value
    y_num, y_den = tags["YResolution"].value
    if not x_num or not y_num:
        return {}
    spacing_yx = (y_den / y_num, x_den / x_num)
    return {"spacing": (float(ij.get("spacing", spacing_yx[0])), *spacing_yx), "units": unit}


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
        ``spacing`` and ``units`` when the file states them (ImageJ TIFF), else empty.

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
        _, shape, dtype, metadata = _page_layout(files[0])
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
        n_pages, shape, dtype, metadata = _page_layout(path)
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

