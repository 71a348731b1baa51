"""Lazy raw-binary reader: a headerless (or fixed-header) C-ordered ``z, y, x`` array.

The shape, dtype and byte order must be given (a raw file does not state them). Each
Dask chunk maps the file with :class:`numpy.memmap`, copies its slab out, and unmaps:
nothing beyond one chunk is ever read, and the graph holds only the path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import dask.array as da
import numpy as np
from dask.base import tokenize

from xarray_microct.core.volume import default_chunks

RAW_SUFFIXES = (".raw", ".bin", ".vol", ".img", ".dat")
ByteOrder = Literal["little", "big"]


def raw_dtype(dtype: Any, byte_order: ByteOrder | None = None) -> np.dtype:
    """The on-disk dtype: ``dtype`` with ``byte_order`` applied.

    ``byte_order=None`` keeps the dtype's own order (``">u2"`` is big-endian, a plain
    ``"uint16"`` is the machine's); an explicit order that contradicts the dtype's is
    an error.

    Examples
    --------
    >>> raw_dtype("uint16", "big").str
    '>u2'
    >>> raw_dtype("<f4").str
    '<f4'
    """
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype {dtype!r} is not a NumPy dtype (e.g. 'uint16', '>f4')") from err
    if not (np.issubdtype(dt, np.number) or dt == np.bool_) or dt.fields is not None:
        raise TypeError(f"a raw volume needs a numeric dtype, got {dt}")
    if byte_order is None:
        return dt
    if byte_order not in ("little", "big"):
        raise ValueError(f"byte_order must be 'little' or 'big', got {byte_order!r}")
    wanted = "<" if byte_order == "little" else ">"
    stated = dt.byteorder
    if stated in "<>" and stated != wanted and dt.itemsize > 1:
        raise ValueError(
            f"dtype {dtype!r} says {'little' if stated == '<' else 'big'}-endian but "
            f"byte_order={byte_order!r}; give one of them"
        )
    return dt.newbyteorder(wanted)


class RawSource:
    """A picklable array-like over a raw file; each read memory-maps the file anew.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.raw"
    >>> np.arange(24, dtype=">u2").tofile(path)
    >>> source = RawSource(path, (2, 3, 4), raw_dtype("uint16", "big"))
    >>> source[1, 2].tolist()
    [20, 21, 22, 23]
    """

    def __init__(
        self, path: str | Path, shape: Sequence[int], dtype: np.dtype, offset: int = 0
    ) -> None:
        self.path = str(path)
        self.shape = tuple(int(n) for n in shape)
        self.file_dtype = np.dtype(dtype)
        self.dtype = self.file_dtype.newbyteorder("=")
        self.offset = int(offset)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        mapped = np.memmap(
            self.path, dtype=self.file_dtype, mode="r", offset=self.offset, shape=self.shape
        )
        try:
            return np.array(mapped[key], dtype=self.dtype)
        finally:
            del mapped


def read_raw(
    path: str | Path,
    shape: Sequence[int],
    dtype: Any,
    byte_order: ByteOrder | None = None,
    offset: int = 0,
    chunks: int | Sequence[int] | None = None,
) -> da.Array:
    """Lazily read a raw binary volume of known ``shape`` (z, y, x) and ``dtype``.

    Parameters
    ----------
    path : str or Path
        The file.
    shape : (int, int, int)
        Voxels along z, y, x (C order: x varies fastest).
    dtype : dtype-like
        Voxel type, e.g. ``"uint16"``, ``">f4"``.
    byte_order : {"little", "big"}, optional
        Byte order on disk; by default the dtype's own (the machine's if unstated).
    offset : int
        Bytes to skip at the start (a header).
    chunks : int or tuple, optional
        Dask chunks; up to 128 voxels per axis by default.

    Returns
    -------
    dask.array.Array
        In the machine's byte order.

    Raises
    ------
    ValueError
        When the file's size does not match ``offset + prod(shape) * itemsize``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.raw"
    >>> np.arange(60, dtype="<u2").tofile(path)
    >>> data = read_raw(path, (3, 4, 5), "uint16", byte_order="little")
    >>> int(data[2, 3, 4].compute())
    59
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no raw file at {path}")
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be three positive sizes (z, y, x), got {shape}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0 bytes, got {offset}")
    file_dtype = raw_dtype(dtype, byte_order)
    expected = offset + math.prod(shape) * file_dtype.itemsize
    actual = path.stat().st_size
    if actual != expected:
        raise ValueError(
            f"{path} has {actual} bytes but shape {shape} of {file_dtype} after a "
            f"{offset}-byte header needs {expected}; check shape, dtype and offset"
        )
    source = RawSource(path, shape, file_dtype, offset)
    return da.from_array(
        source,
        chunks=default_chunks(shape) if chunks is None else chunks,
        name="raw-" + tokenize(str(path), shape, file_dtype.str, offset, path.stat().st_mtime_ns),
        lock=False,
        meta=np.empty((0, 0, 0), dtype=source.dtype),
    )
