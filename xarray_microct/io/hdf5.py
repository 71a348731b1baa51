"""Lazy HDF5 reader, DXchange layout (``/exchange/data``) as beamlines write it.

Each Dask chunk opens the file, reads its hyperslab and closes the file again: the graph
holds only the path and the dataset name (it pickles to any worker, and no open h5py
handle is shared between threads or processes). The scan is never loaded whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import h5py
import numpy as np
from dask.base import tokenize

from xarray_microct.core.volume import default_chunks
from xarray_microct.io.calibration import RTOL, calibration

DXCHANGE_DATA = "/exchange/data"
# Where DXchange files state the pixel size on the sample plane (first found wins), each
# with a ``units`` attribute. The detector's own ``pixel_size_x`` is the camera pixel,
# before the optics magnify it: not the voxel size.
_DETECTOR = "/measurement/instrument/detector/"
_OBJECTIVE_RESOLUTION = "/measurement/instrument/detection_system/objective/resolution"


class HDF5Source:
    """A picklable array-like over one HDF5 dataset: every read opens the file anew.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.h5"
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("exchange/data", data=np.arange(24).reshape(2, 3, 4))
    >>> source = HDF5Source(path, "/exchange/data")
    >>> source.shape, int(source[1, 2, 3])
    ((2, 3, 4), 23)
    """

    def __init__(self, path: str | Path, dataset: str) -> None:
        self.path = str(path)
        self.dataset = dataset
        with h5py.File(self.path, "r") as f:
            if dataset not in f:
                raise ValueError(
                    f"{path} has no dataset {dataset!r}; its datasets are "
                    f"{_dataset_names(f)}. Pass dataset='/path/in/file'"
                )
            node = f[dataset]
            if not isinstance(node, h5py.Dataset):
                raise ValueError(f"{dataset!r} in {path} is a group, not a dataset")
            self.shape: tuple[int, ...] = tuple(node.shape)
            self.dtype = np.dtype(node.dtype)
            self.hdf5_chunks = node.chunks
            # the dimension labels (HDF5 dimension scales), "" where none
            self.labels = tuple(str(dim.label) for dim in node.dims)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.dataset][key])


def _dataset_names(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(
        lambda name, node: names.append("/" + name) if isinstance(node, h5py.Dataset) else None
    )
    return names[:20]


def _voxel_size(
    f: h5py.File, dataset: str, order: tuple[str, ...] = ("z", "y", "x")
) -> dict[str, Any]:
    """``spacing``/``units`` from the dataset's attributes or DXchange metadata.

    DXchange's ``actual_pixel_size_x`` is the voxel size along y and x of a
    reconstruction; ``actual_pixel_size_y`` (detector rows, along the rotation axis) its
    size along z: without it, z is not stated (``note``; never taken from x). A size
    without a ``units`` attribute is not used (the files in use write metres and
    micrometres alike): ``note`` says so. A ``spacing`` attribute of other than one or
    three values, or a pixel size of several different values, is refused. The three
    values of a ``spacing`` attribute are per axis in the dataset's stored ``order``
    (its dimension labels: :func:`labelled_order`), returned as z, y, x.
    """
    attrs = f[dataset].attrs
    where = f"{f.filename}: the attribute 'spacing' of {dataset!r}"
    if "spacing" in attrs:
        stored = dict(zip(order, _three_sizes(attrs["spacing"], where, order), strict=True))
        sizes = tuple(stored[axis] for axis in "zyx")
        if "units" not in attrs:
            return {"note": f"the attributes of {dataset!r} give spacing but no units"}
        return calibration(sizes, (attrs["units"],) * 3, f"the attributes of {dataset!r}")
    for x_path, z_path in (
        (_DETECTOR + "actual_pixel_size_x", _DETECTOR + "actual_pixel_size_y"),
        (_OBJECTIVE_RESOLUTION, _OBJECTIVE_RESOLUTION),
    ):
        x = _size(f, x_path)
        if x is None:
            continue
        z = _size(f, z_path)
        if x[1] is None or (z is not None and z[1] is None):
            unitless = x_path if x[1] is None else z_path
            return {"note": f"its DXchange pixel size {unitless} has no 'units' attribute"}
        z_size, z_unit = z if z is not None else (None, x[1])
        return calibration((z_size, x[0], x[0]), (z_unit, x[1], x[1]), "its DXchange metadata")
    return {}


def _three_sizes(
    value: Any, where: str, order: Sequence[str] = ("z", "y", "x")
) -> tuple[float, float, float]:
    """A ``spacing`` attribute as three sizes in the dataset's stored ``order`` (``(dz,
    dy, dx)`` for z, y, x): one value for all axes, or three; anything else is refused,
    saying what it holds and the order the three are read in.

    Examples
    --------
    >>> _three_sizes(0.65, "a"), _three_sizes([2.0, 1.0, 1.0], "a")
    ((0.65, 0.65, 0.65), (2.0, 1.0, 1.0))
    >>> _three_sizes([2.0, 0.5], "scan.h5: the attribute 'spacing' of '/v'")
    Traceback (most recent call last):
    ValueError: scan.h5: the attribute 'spacing' of '/v' holds 2 values ([2.0, 0.5]), not ...
    >>> _three_sizes([2.0, 0.5], "a", ("x", "y", "z"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: a holds 2 values ([2.0, 0.5]), not one (all axes) or three (dx, dy, dz, ...
    """
    try:
        sizes = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        sizes = None
    if sizes is None or sizes.ndim > 1 or sizes.size not in (1, 3):
        held = (
            f"a value that is not a number ({value!r})"
            if sizes is None
            else f"an array of shape {sizes.shape} ({sizes.tolist()})"
            if sizes.ndim > 1
            else f"{sizes.size} values ({sizes.tolist()})"
        )
        name = where.rsplit(" of ", 1)[-1]
        sizes_named = ", ".join(f"d{axis}" for axis in order)
        stored = (
            ""
            if tuple(order) == ("z", "y", "x")
            else ", in the dataset's stored order, as its dimension labels give it"
        )
        raise ValueError(
            f"{where} holds {held}, not one (all axes) or three ({sizes_named}{stored}); "
            f"the voxel size it means is not guessed: correct the attribute (h5py: "
            f"f[{name}].attrs['spacing'] = [{sizes_named}]), or read the dataset with h5py "
            "and build the volume with xarray_microct.from_array(data, spacing=..., units=...)"
        )
    values = tuple(float(v) for v in np.broadcast_to(sizes.reshape(-1), (3,)))
    return values  # type: ignore[return-value]


def _size(f: h5py.File, path: str) -> tuple[float, Any] | None:
    """A positive scalar dataset (or one of equal values) and its ``units`` (or
    ``unit``) attribute, if any; several different values are refused."""
    node = f.get(path)
    if not isinstance(node, h5py.Dataset):
        return None
    values = np.asarray(node[()], dtype=float).reshape(-1)
    if not values.size:
        return None
    if not np.allclose(values, values[0], rtol=RTOL, atol=0.0):
        raise ValueError(
            f"{f.filename}: {path} holds {values.size} different pixel sizes "
            f"({values.tolist()}); the one meant is not guessed: correct it (one value), "
            "or read the dataset with h5py and build the volume with "
            "xarray_microct.from_array(data, spacing=(dz, dy, dx), units=...)"
        )
    value = float(values[0])
    if not value > 0:
        return None
    return value, node.attrs.get("units", node.attrs.get("unit"))


def labelled_order(labels: Sequence[str], where: str) -> tuple[str, ...]:
    """The axes of a 3-D HDF5 dataset in stored order, from its dimension ``labels``
    (h5py ``dset.dims[i].label``; ``""`` where unlabelled): z, y, x without labels;
    labels naming z, y and x once each (any case) in any order; others are refused,
    as which axis is which is never guessed.

    Examples
    --------
    >>> labelled_order(("", "", ""), "a"), labelled_order(("X", "y", "z"), "a")
    (('z', 'y', 'x'), ('x', 'y', 'z'))
    >>> labelled_order(("angle", "row", "column"), "'/v' in a.h5")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: '/v' in a.h5 labels its dimensions ('angle', 'row', 'column'): which ...
    """
    if not any(labels):
        return ("z", "y", "x")
    lowered = tuple(label.lower() for label in labels)
    if sorted(lowered) != ["x", "y", "z"]:
        raise ValueError(
            f"{where} labels its dimensions {tuple(labels)}: which of them is z, y or x is "
            "not guessed. The labels understood are z, y and x, each once: label them so "
            "(h5py: dset.dims[0].label = 'z'...), or read the dataset with h5py and give it "
            "in z, y, x order to xarray_microct.from_array(data, spacing=..., units=...)"
        )
    return lowered


def _not_three_d(source: HDF5Source, path: str | Path, dataset: str) -> str:
    """Why a dataset that is not 3-D is refused, and how to make a volume of it. The
    message names no ``open_volume`` keyword (``channel=``...): none of them helps, and
    ``microct`` would name their options after it.

    Examples
    --------
    >>> class Flat:
    ...     ndim, shape = 2, (32, 48)
    >>> print(_not_three_d(Flat(), "scan.h5", "/exchange/data"))  # doctest: +ELLIPSIS
    '/exchange/data' in scan.h5 is 2-D (32 × 48): one image, where a volume is 3-D ...
    """
    sizes = " × ".join(str(n) for n in source.shape)
    where = f"{dataset!r} in {path} is {source.ndim}-D ({sizes})"
    if source.ndim == 2:
        return (
            f"{where}: one image, where a volume is 3-D (z, y, x); store it as a dataset of "
            f"shape (1, {', '.join(str(n) for n in source.shape)}) (or with the other slices "
            "of its scan), or read it with h5py and give it a z axis: "
            "xarray_microct.from_array(h5py.File(path)[dataset][()][None]) with its voxel size"
        )
    if source.ndim < 2:
        return f"{where}: not an image; a volume is a 3-D dataset (z, y, x)"
    return (
        f"{where}; a volume is 3-D (z, y, x), and an HDF5 dataset does not name its other "
        "axes, so a channel or time point cannot be picked along them: take one volume out "
        "with h5py (e.g. h5py.File(path)[dataset][0], the first along its leading axis) and "
        "give it to xarray_microct.from_array with its voxel size, or store it as a 3-D "
        "dataset of its own"
    )


def read_hdf5(
    path: str | Path,
    dataset: str = DXCHANGE_DATA,
    chunks: int | Sequence[int] | None = None,
) -> tuple[da.Array, dict[str, Any]]:
    """Lazily read a 3-D HDF5 dataset (DXchange ``/exchange/data`` by default).

    Parameters
    ----------
    path : str or Path
        The HDF5 file.
    dataset : str
        Dataset inside the file.
    chunks : int or tuple, optional
        Dask chunks (a tuple in z, y, x order); up to 128 voxels per axis by default.

    Returns
    -------
    data : dask.array.Array
        ``(z, y, x)``: a dataset whose dimension labels (HDF5 dimension scales) name z,
        y and x in another order is transposed (:func:`labelled_order`). One task per
        chunk, each opening the file to read its hyperslab.
    metadata : dict
        ``spacing`` and ``units`` when the file states them (dataset attributes
        ``spacing``, per axis in stored order, and ``units``; or DXchange
        ``actual_pixel_size_x``/``_y`` or the objective ``resolution``, with a ``units``
        attribute); ``note`` when it states them only in part; else empty.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.h5"
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("exchange/data", data=np.ones((4, 5, 6), "uint16"))
    >>> data, meta = read_hdf5(path)
    >>> data.shape, int(data.sum().compute()), meta
    ((4, 5, 6), 120, {})
    """
    source = HDF5Source(path, dataset)
    if source.ndim != 3:
        raise ValueError(_not_three_d(source, path, dataset))
    order = labelled_order(source.labels, f"{dataset!r} in {path}")
    with h5py.File(source.path, "r") as f:
        metadata = _voxel_size(f, dataset, order)
    if isinstance(chunks, Sequence) and len(chunks) == 3:  # given z, y, x: as stored
        chunks = tuple(chunks["zyx".index(axis)] for axis in order)
    stamp = Path(path).stat().st_mtime_ns
    data = da.from_array(
        source,
        chunks=default_chunks(source.shape) if chunks is None else chunks,
        name="hdf5-" + tokenize(source.path, dataset, stamp),
        lock=False,
        meta=np.empty((0, 0, 0), dtype=source.dtype),
    )
    if order != ("z", "y", "x"):  # stored in another order, as its labels say
        data = data.transpose([order.index(axis) for axis in "zyx"])
    return data, metadata


def is_hdf5(path: str | Path) -> bool:
    """Whether ``path`` is an HDF5 file (by its signature, not its name).

    Examples
    --------
    >>> import tempfile
    >>> is_hdf5(tempfile.mkdtemp())
    False
    """
    path = Path(path)
    return path.is_file() and h5py.is_hdf5(path)
