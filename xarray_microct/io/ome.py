"""OME-Zarr (OME-NGFF multiscales): write pyramids that the imaging ecosystem opens, read them back.

Layout of a store written by :func:`to_ome_zarr`::

    store/                       root group: OME-NGFF "multiscales" metadata
      0/image                    the full-resolution array (dims z, y, x)
      1/image ...                the coarser levels
      labels/...                 NGFF labels, if any (:mod:`~xarray_microct.io.ngff_labels`)

* Levels are numbered as ome-zarr-py numbers them (``0``, ``1``...), each in its own
  group as ngff-zarr stores them (``scale0/image``): levels of different shapes never
  share a group, so ``xarray.open_datatree`` reads the store, and napari's builtin
  reader, which opens the first subgroup in name order, finds level ``0`` before
  ``labels``. :func:`open_pyramid` names the levels ``scale0``, ``scale1``... (as
  ``pyramid()`` does), and reads the ``scale0/image`` groups of earlier versions too.
* Each level group holds only its image array, so napari's builtin reader opens it
  too. Coordinates are not stored as arrays: readers derive them from the NGFF
  ``scale``/``translation`` (as :func:`open_pyramid` does); their attributes, and their
  values when the transform does not reproduce them exactly, travel in the image
  array's ``microct_coords`` attribute.
* Label volumes (:func:`~xarray_microct.core.labels.is_label_volume`) get NGFF
  ``image-label`` metadata (napari shows them as labels; masks are stored as uint8 and
  read back as bool); intensity images get an omero ``window`` from the global
  0.1 and 99.9 percentiles: of the finest level in the same pass as the write for
  8/16-bit images, of the stored coarsest level for other dtypes (their histogram needs
  the global range first, which in one pass would hold every block in memory).

* NGFF 0.4 is written as Zarr v2, NGFF 0.5 as Zarr v3; both are read.
* Axes carry types and units; each level has a ``scale`` (its spacing) and a
  ``translation`` (its first voxel centre, which moves as blocks are averaged).
* Arrays are Blosc/Zstd compressed (level 3, byte shuffle), 128³ chunks by default.
* Attributes (provenance records, ``history``, intensity ``units``) travel with each array.

Safety (the rule of :mod:`xarray_microct.io.safety`): ``mode="w-"`` (the default) never
touches an existing path; ``mode="w"`` replaces only a store this project wrote (no
foreign files inside), never an input of the data being written, and writes the new
store beside the old one, swapped in when complete. The root group is first created
with ``{"xarray_microct": {"complete": false}}``; the NGFF metadata and ``"complete":
true`` (with the shape and chunk grid of every array) are written only after every
chunk, so a write that was killed half-way is reported by :func:`open_pyramid` as
incomplete (:class:`IncompleteStoreError`) rather than read as zeros, and other OME-Zarr
readers do not see an image at all. Every chunk is written, empty ones included, so a
chunk file lost later is told from an empty chunk: :func:`open_pyramid` compares the
store with the record and raises :class:`DamagedStoreError`, as it does for a chunk that
cannot be decoded. HTTP reads time out (:func:`network_options`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numcodecs
import numpy as np
import xarray as xr
import zarr
import zarr.codecs
from zarr.core.sync import sync

from xarray_microct.core.errors import OptionError
from xarray_microct.core.labels import default_pyramid_method, is_label_volume
from xarray_microct.core.provenance import package_version
from xarray_microct.core.stats import global_percentiles, has_exact_histogram
from xarray_microct.core.tree import image_nodes, is_image
from xarray_microct.core.units import NGFF_LENGTH_UNITS
from xarray_microct.core.volume import (
    DEFAULT_CHUNK,
    PROVENANCE_KEY,
    SPATIAL_DIMS,
    dequantify,
    grid_of,
    spatial_coords,
)
from xarray_microct.io.paths import is_url, local_path
from xarray_microct.io.safety import (
    MARKER,
    METADATA_FILES,
    RUN_KEY,
    WriteGuard,
    check_write,
    how_to_finish,
    input_locations,
    staged_write,
    url_filesystem,
)

NGFF_VERSIONS: dict[str, int] = {"0.4": 2, "0.5": 3}
MODES = ("w-", "w")
# Attribute of an image array holding its computed 0-d coordinates (see _scalar_coords).
SCALAR_COORDS = "microct_scalar_coords"
# Attribute of an image array: per dimension, its coordinate's attributes and, when the
# NGFF transform does not reproduce them exactly, its values (see _coords_record).
COORDS_ATTR = "microct_coords"
# Attribute of an image array stored with another dtype (masks are stored as uint8).
DTYPE_ATTR = "microct_dtype"
WINDOW_PERCENTILES = (0.1, 99.9)
_AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
_DIMS_ATTR = "_ARRAY_DIMENSIONS"


class IncompleteStoreError(OptionError):
    """A store whose write did not finish (interrupted): its data cannot be trusted.

    A :class:`ValueError` whose fix is said in Python words (its message) and as the
    ``microct`` command says it (``command_line``; the same words where the command has
    no option for it), as :class:`~xarray_microct.core.errors.OptionError` does.
    """


class DamagedStoreError(ValueError):
    """A store whose files were lost, truncated or edited since it was written."""


DAMAGE_FIX = (
    "the store is damaged; restore it from a copy (or a backup), or write it again from its source"
)


def _bad_metadata(path: Path) -> Path | None:
    """The first Zarr metadata document under ``path`` that is not valid JSON."""
    for file in sorted(path.rglob("*")):
        if file.name in METADATA_FILES and file.is_file():
            try:
                json.loads(file.read_text())
            except (UnicodeDecodeError, json.JSONDecodeError):
                return file
    return None


def damaged(store: Any, err: BaseException) -> DamagedStoreError:
    """The error for a store whose metadata cannot be read: names the file and the fix."""
    path = local_path(store)
    bad = _bad_metadata(path) if path is not None and path.is_dir() else None
    what = f"its metadata file {bad} is not valid JSON" if bad else "its metadata cannot be read"
    return DamagedStoreError(f"{store}: {what} ({type(err).__name__}: {err}); {DAMAGE_FIX}")


def chunk_keys(array: zarr.Array) -> set[str]:
    """The keys of the chunks of ``array`` present in its store (relative to the array)."""

    async def collect() -> set[str]:
        store = array.store_path.store
        prefix = array.store_path.path
        prefix = f"{prefix}/" if prefix else ""
        return {k[len(prefix) :] async for k in store.list_prefix(prefix)}

    return sync(collect())


def chunk_grid(array: zarr.Array) -> tuple[int, ...]:
    """The number of chunks of ``array`` along each axis."""
    return tuple(-(-s // c) for s, c in zip(array.shape, array.chunks, strict=True))


def written_blocks(array: zarr.Array) -> set[tuple[int, ...]]:
    """Indices of the chunks of ``array`` that are stored (each written atomically)."""
    present = chunk_keys(array)
    return {
        index
        for index in np.ndindex(*chunk_grid(array))
        if array.metadata.encode_chunk_key(index) in present
    }


def check_chunks(array: zarr.Array, recorded: Mapping[str, Any], where: str) -> None:
    """Compare an array with what its writer recorded: shape, chunk grid, and every
    chunk file present (this project writes every chunk, empty ones included).

    Raises
    ------
    DamagedStoreError
        The shape was edited or chunk files are missing (the first is named).
    """
    if list(array.shape) != list(recorded.get("shape", array.shape)) or list(array.chunks) != list(
        recorded.get("chunks", array.chunks)
    ):
        raise DamagedStoreError(
            f"{where} has shape {list(array.shape)} and chunks {list(array.chunks)}, but was "
            f"written as {recorded.get('shape')} in chunks {recorded.get('chunks')}: its "
            f"metadata was edited; {DAMAGE_FIX}"
        )
    present = chunk_keys(array)
    for index in np.ndindex(*chunk_grid(array)):
        key = array.metadata.encode_chunk_key(index)
        if key not in present:
            missing = sum(
                array.metadata.encode_chunk_key(i) not in present
                for i in np.ndindex(*chunk_grid(array))
            )
            raise DamagedStoreError(
                f"{where}: chunk file {key} (chunk {index}) is missing, {missing} of "
                f"{int(np.prod(chunk_grid(array)))} in all; they would read as zeros. "
                f"{DAMAGE_FIX[0].upper()}{DAMAGE_FIX[1:]}"
            )


class ChunkReader:
    """A Zarr array whose failed reads name the chunk file and what to do.

    Dask reads the array through this (``da.from_array``); a chunk that cannot be
    decoded (truncated, garbled) raises :class:`DamagedStoreError` with its path.
    """

    def __init__(self, array: zarr.Array, where: str) -> None:
        self.zarr_array = array
        self.where = where
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return self.zarr_array[key]
        except Exception as err:
            if _is_network_failure(err):
                raise network_error(self.where, err) from err
            starts = tuple(k.start or 0 if isinstance(k, slice) else int(k) for k in key)
            index = tuple(s // c for s, c in zip(starts, self.zarr_array.chunks, strict=False))
            chunk = self.zarr_array.metadata.encode_chunk_key(index)
            raise DamagedStoreError(
                f"{self.where}/{self.zarr_array.path}/{chunk}: chunk {index} cannot be "
                f"decoded ({type(err).__name__}: {err}); it is truncated or garbled. "
                f"{DAMAGE_FIX[0].upper()}{DAMAGE_FIX[1:]}"
            ) from err

    def __dask_tokenize__(self) -> Any:
        return (
            "microct-chunk-reader",
            self.where,
            self.zarr_array.path,
            self.shape,
            str(self.dtype),
            self.zarr_array.chunks,
        )


def lazy_array(array: zarr.Array, where: str, chunks: Any = None) -> da.Array:
    """A Dask array reading ``array`` through :class:`ChunkReader`."""
    return da.from_array(
        ChunkReader(array, where),
        chunks=chunks if chunks is not None else array.chunks,
        meta=np.empty((0,) * array.ndim, dtype=array.dtype),
        inline_array=False,
    )


StoreLike = str | os.PathLike


# ---------------------------------------------------------------------------------------
# Writing


def _check_target(
    store: StoreLike,
    mode: str,
    storage_options: Mapping[str, Any] | None,
    inputs: Sequence[Any] = (),
) -> str:
    """The write rule of :mod:`xarray_microct.io.safety`: ``"new"`` or ``"replace"``."""
    return check_write(store, replace=mode == "w", inputs=inputs, storage_options=storage_options)


def _json_safe(value: Any, where: str) -> Any:
    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(
            f"{where}: attribute value of type {type(obj).__name__} cannot be stored as "
            "JSON; convert it (e.g. to a list or string) or drop it"
        )

    return json.loads(json.dumps(value, default=default))


def level_group(index: int) -> str:
    """The group of level ``index`` in a store: its number (see the module's layout).

    Examples
    --------
    >>> level_group(0)
    '0'
    """
    return str(index)


def level_node(group_path: str, index: int) -> str:
    """The DataTree node of level ``index`` stored in ``group_path``: ``scale<index>``
    for a numbered group (this project's layout) or an array at the root (ome-zarr-py's),
    else the group's own path (``scale0`` for the stores of earlier versions and
    ngff-zarr's).

    Examples
    --------
    >>> level_node("1", 1), level_node("", 1), level_node("scale1", 1), level_node("full", 0)
    ('scale1', 'scale1', 'scale1', 'full')
    """
    return group_path if group_path and not group_path.isdigit() else f"scale{index}"


def _levels_of(obj: xr.DataArray | xr.DataTree) -> list[tuple[str, xr.DataArray]]:
    """(group path, volume) per level, finest first."""
    if isinstance(obj, xr.DataArray):
        obj = dequantify(obj)  # a pint-quantified volume is written with units in attrs
        grid_of(obj)
        return [(level_group(0), obj)]
    if not isinstance(obj, xr.DataTree):
        raise TypeError(f"expected a volume or a DataTree, got {type(obj).__name__}")
    nodes = image_nodes(obj)
    if not nodes:
        raise ValueError("the DataTree holds no volume (no variable with dims z, y, x)")
    levels = []
    for index, node in enumerate(nodes):
        images = [v for v in node.to_dataset(inherit=False).data_vars.values() if is_image(v)]
        if len(images) != 1:
            raise ValueError(
                f"node {node.path!r} holds {len(images)} volumes; an OME-Zarr image needs "
                "exactly one per level"
            )
        levels.append((level_group(index), images[0]))
    return levels


def _scalar_coords(volume: xr.DataArray) -> dict[str, Any]:
    """The 0-d non-dimension coordinates of a volume (e.g. a segmentation's threshold).

    OME-Zarr has no place for them: they are stored, computed, in the image array's
    attributes under ``SCALAR_COORDS`` and become coordinates again when read.
    """
    return {
        str(name): coord.data
        for name, coord in volume.coords.items()
        if name not in volume.dims and coord.ndim == 0
    }


# JSON has no NaN nor infinities: scalar coordinates store them as Zarr v3 spells them
# in fill values (a threshold's padding_value is NaN when there is no padding)
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def scalar_coords_json(values: dict[str, Any]) -> dict[str, Any]:
    """Computed scalar coordinates as JSON-valid attribute values (strict readers, as
    ngff-zarr's, refuse a bare ``NaN``); :func:`scalar_coords_read` undoes it.

    Examples
    --------
    >>> scalar_coords_json({"threshold": np.float32(0.5), "padding_value": np.nan})
    {'threshold': 0.5, 'padding_value': 'NaN'}
    >>> scalar_coords_read({'padding_value': 'NaN', 'name': 'x'})
    {'padding_value': nan, 'name': 'x'}
    """
    out = {}
    for key, value in values.items():
        value = np.asarray(value).item()
        if isinstance(value, float) and not np.isfinite(value):
            value = "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        out[key] = value
    return out


def scalar_coords_read(values: dict[str, Any]) -> dict[str, Any]:
    """Scalar coordinates as :func:`scalar_coords_json` stored them."""
    return {
        k: _NON_FINITE[v] if isinstance(v, str) and v in _NON_FINITE else v
        for k, v in values.items()
    }


def _check_levels(levels: list[tuple[str, xr.DataArray]]) -> None:
    first = levels[0][1]
    grids = [grid_of(v) for _, v in levels]
    for (path, volume), grid in zip(levels, grids, strict=True):
        if volume.dims != first.dims:
            raise ValueError(
                f"level {path!r} has dims {volume.dims}, level 0 has {first.dims}; all "
                "levels of a pyramid need the same dims"
            )
        if grid.units != grids[0].units:
            raise ValueError(f"level {path!r} is in {grid.units}, level 0 in {grids[0].units}")
        extra = [n for n in volume.coords if n not in volume.dims]
        if extra:
            raise ValueError(
                f"level {path!r} has non-dimension coordinates {extra}; OME-Zarr stores "
                "only dimension coordinates: drop them with volume.reset_coords(drop=True)"
            )
    for (path, _), before, after in zip(levels[1:], grids, grids[1:], strict=False):
        if any(b > a * (1 + 1e-9) for b, a in zip(before.spacing, after.spacing, strict=True)):
            raise ValueError(
                f"level {path!r} (spacing {after.spacing}) is finer than the level before it "
                f"({before.spacing}); OME-Zarr lists levels from finest to coarsest"
            )
    dims = first.dims
    if len(dims) > 3 and dims[:-3] == ("c", "t"):
        raise ValueError(
            "OME-Zarr orders axes t, c, z, y, x; transpose the volume to ('t', 'c', 'z', "
            "'y', 'x') first"
        )
    if grids[0].units not in NGFF_LENGTH_UNITS:
        raise ValueError(
            f"unit {grids[0].units!r} is not an OME-NGFF length unit; convert the "
            "coordinates to e.g. micrometer or millimeter first"
        )


def _store_chunks(volume: xr.DataArray, chunks: int | Sequence[int] | None) -> tuple[int, ...]:
    n_lead = volume.ndim - 3
    if chunks is None:
        spatial: Sequence[int] = (DEFAULT_CHUNK,) * 3
    elif np.isscalar(chunks):
        spatial = (int(chunks),) * 3  # type: ignore[arg-type]
    else:
        spatial = tuple(int(c) for c in chunks)  # type: ignore[union-attr]
        if len(spatial) != 3:
            raise ValueError(f"chunks needs 1 or 3 values (z, y, x), got {chunks!r}")
    if min(spatial) < 1:
        raise ValueError(f"chunks must be positive, got {chunks!r}")
    sizes = volume.shape[n_lead:]
    return (1,) * n_lead + tuple(min(c, n) for c, n in zip(spatial, sizes, strict=True))


def _compressor(zarr_format: int, dtype: np.dtype) -> Any:
    if zarr_format == 2:
        return numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)
    return zarr.codecs.BloscCodec(
        cname="zstd", clevel=3, shuffle="shuffle", typesize=max(np.dtype(dtype).itemsize, 1)
    )


def _transforms(volume: xr.DataArray) -> tuple[list[float], list[float]]:
    grid = grid_of(volume)
    n_lead = volume.ndim - 3
    return [1.0] * n_lead + list(grid.spacing), [0.0] * n_lead + list(grid.origin)


def _pyramid_record(volume: xr.DataArray) -> dict[str, Any] | None:
    for record in reversed(volume.attrs.get(PROVENANCE_KEY, [])):
        if record.get("op") == "pyramid":
            return dict(record)
    return None


def _ops_after_pyramid(volume: xr.DataArray) -> list[str]:
    """The verbs run after the last ``pyramid`` step of ``volume``'s chain (on each of
    its levels), reads of a store left out.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(8, 8, 8), chunks=4)
    >>> tree = vol.microct.pyramid(levels=2).microct.gaussian(sigma=1).microct.threshold()
    >>> _ops_after_pyramid(tree.microct.select_level(1))
    ['gaussian', 'threshold']
    """
    records = volume.attrs.get(PROVENANCE_KEY, [])
    last = max((i for i, r in enumerate(records) if r.get("op") == "pyramid"), default=-1)
    return [r["op"] for r in records[last + 1 :] if not r.get("source")]


def _labels_downsampled(levels: list[tuple[str, xr.DataArray]]) -> bool:
    """Whether the coarser levels were made from the finest one's labels by a ``mode``
    pyramid (a label verb on a pyramid: ``on_tree="finest"`` in the registry)."""
    coarser = [volume.attrs.get(PROVENANCE_KEY, []) for _, volume in levels[1:]]
    return bool(coarser) and all(
        records
        and records[-1].get("op") == "pyramid"
        and (records[-1].get("params") or {}).get("method") == "mode"
        for records in coarser
    )


def ngff_metadata(
    levels: list[tuple[str, xr.DataArray]],
    version: str,
    window: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The root-group attributes of an OME-NGFF ``version`` multiscale image.

    A label volume gets ``image-label`` metadata; an intensity image with a ``window``
    ``(min, start, end, max)`` gets omero display settings (a grey channel).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((4, 4, 4)), spacing=(2.0, 0.5, 0.5), name="image")
    >>> meta = ngff_metadata([("0", vol)], "0.5")["ome"]["multiscales"][0]
    >>> meta["axes"][0]
    {'name': 'z', 'type': 'space', 'unit': 'micrometer'}
    >>> meta["datasets"][0]["coordinateTransformations"][0]
    {'type': 'scale', 'scale': [2.0, 0.5, 0.5]}
    """
    first = levels[0][1]
    units = grid_of(first).units
    axes = []
    for dim in first.dims:
        axis: dict[str, Any] = {"name": dim, "type": _AXIS_TYPES[dim]}
        if dim in SPATIAL_DIMS:
            axis["unit"] = units
        axes.append(axis)
    datasets = []
    for path, volume in levels:
        scale, translation = _transforms(volume)
        datasets.append(
            {
                "path": f"{path}/{volume.name}",
                "coordinateTransformations": [
                    {"type": "scale", "scale": scale},
                    {"type": "translation", "translation": translation},
                ],
            }
        )
    multiscale: dict[str, Any] = {"name": str(first.name), "axes": axes, "datasets": datasets}
    record = _pyramid_record(first)
    if record is not None:
        after = _ops_after_pyramid(first)
        method = record["params"].get("method")
        if method is None and not after:
            method = default_pyramid_method(first)
        then = f", then {', '.join(after)} on every level" if after else ""
        if after and _labels_downsampled(levels):
            # a label verb on a pyramid: the finest level's labels made the others
            method = "mode"
            then = (
                f", then {', '.join(after)} on the finest level, whose labels are "
                "downsampled by mode to the coarser levels"
            )
        if method is not None:  # not guessed from levels that a chain made afterwards
            multiscale["type"] = method
        multiscale["metadata"] = {
            "description": f"downsampled by xarray_microct.pyramid{then}",
            "method": "xarray_microct.ops.pyramid.pyramid",
            "version": package_version("xarray_microct"),
            "kwargs": record["params"],
        }
    extra: dict[str, Any] = {}
    if is_label_volume(first):
        extra["image-label"] = {"colors": [{"label-value": 0, "rgba": [0, 0, 0, 0]}]}
    elif window is not None:
        low, start, end, high = (float(v) for v in window)
        extra["omero"] = {
            "rdefs": {"model": "greyscale"},
            "channels": [
                {
                    "label": str(first.name),
                    "color": "FFFFFF",
                    "active": True,
                    "window": {"min": low, "start": start, "end": end, "max": high},
                }
            ],
        }
    if version == "0.4":
        if "image-label" in extra:
            extra["image-label"] = {"version": "0.4", **extra["image-label"]}
        return {"multiscales": [{"version": "0.4", **multiscale}], **extra}
    return {"ome": {"version": "0.5", "multiscales": [multiscale], **extra}}


def display_window(volume: xr.DataArray, values: da.Array | None = None) -> da.Array | None:
    """Lazy ``(min, start, end, max)`` of an intensity volume: its global minimum, 0.1
    and 99.9 percentiles and maximum (the omero ``window``); None for label volumes and
    volumes with channels or time. ``values``: read these instead of the volume's data
    (its stored copy, or a sample of it).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.arange(1000, dtype="uint16").reshape(10, 10, 10), spacing=1.0)
    >>> display_window(vol).compute().round(3).tolist()
    [0.0, 0.999, 998.001, 999.0]
    """
    if is_label_volume(volume) or volume.ndim != 3:
        return None
    if values is None:
        values = volume.data if isinstance(volume.data, da.Array) else da.asarray(volume.data)
    return global_percentiles(values, [0.0, *WINDOW_PERCENTILES, 100.0])


def _coords_record(volume: xr.DataArray) -> dict[str, Any]:
    """Per dimension coordinate: its attributes, and its values unless they are
    ``translation + scale * i`` of the NGFF transform exactly (the usual case)."""
    scale, translation = _transforms(volume)
    record: dict[str, Any] = {}
    for axis, dim in enumerate(volume.dims):
        if dim not in volume.coords:
            continue
        coord = volume.coords[dim]
        entry: dict[str, Any] = {"attrs": dict(coord.attrs)}
        derived = translation[axis] + scale[axis] * np.arange(coord.size, dtype=np.float64)
        values = np.asarray(coord.values)
        if (
            dim not in SPATIAL_DIMS
            or values.dtype != derived.dtype
            or not np.array_equal(values, derived)
        ):
            entry["values"] = values.tolist()
            entry["dtype"] = values.dtype.str
        record[str(dim)] = entry
    return _json_safe(record, f"coordinates of {volume.name!r}")


def _create_array(
    group: zarr.Group,
    name: str,
    zarr_format: int,
    dims: Sequence[str],
    attrs: dict[str, Any],
    **kwargs: Any,
) -> zarr.Array:
    if zarr_format == 2:
        # NGFF 0.4 stores chunks in nested folders ("Chunks are stored with the nested
        # directory layout"); Zarr v2's own default, ".", is what some readers refuse
        return group.create_array(
            name,
            attributes={**attrs, _DIMS_ATTR: list(dims)},
            chunk_key_encoding={"name": "v2", "separator": "/"},
            **kwargs,
        )
    return group.create_array(name, attributes=attrs, dimension_names=tuple(dims), **kwargs)


def to_ome_zarr(
    obj: xr.DataArray | xr.DataTree,
    store: StoreLike,
    version: str = "0.4",
    mode: str = "w-",
    chunks: int | Sequence[int] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> None:
    """Write a volume or a pyramid (DataTree) as an OME-Zarr multiscale image.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.DataTree
        One volume (a single-level image) or a tree with one volume per level, finest
        first (e.g. from ``vol.microct.pyramid()``).
    store : str or path
        A local path or an fsspec URL (``s3://...``).
    version : {"0.4", "0.5"}
        OME-NGFF version: 0.4 writes Zarr v2 (read by every viewer), 0.5 Zarr v3.
    mode : {"w-", "w"}
        ``"w-"`` refuses an existing path (nothing is touched); ``"w"`` replaces an
        existing Zarr store (never a non-Zarr folder).
    chunks : int or (int, int, int), optional
        Chunk shape per spatial axis in the store; 128 by default.
    storage_options : dict, optional
        For fsspec URLs.

    Raises
    ------
    FileExistsError
        ``mode="w-"`` and ``store`` exists.
    ValueError
        A bad ``version``/``mode``, or levels that do not form a pyramid.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.ome.zarr"
    >>> vol = mct.from_array(np.zeros((16, 16, 16), "uint16"), spacing=0.65, chunks=8)
    >>> to_ome_zarr(vol.microct.pyramid(), store, version="0.5")
    >>> open_pyramid(store)["scale1"]["volume"].shape
    (8, 8, 8)
    """
    if version not in NGFF_VERSIONS:
        raise ValueError(
            f"version must be one of {tuple(NGFF_VERSIONS)} (OME-NGFF; '0.4' is Zarr v2, "
            f"'0.5' Zarr v3), got {version!r}"
        )
    if mode not in MODES:
        raise ValueError(f"mode must be 'w-' (never overwrite) or 'w' (replace), got {mode!r}")
    levels, scalars = prepare_levels(obj)
    action = _check_target(store, mode, storage_options, input_locations(obj))
    root_attrs = _json_safe(dict(obj.attrs), "root") if isinstance(obj, xr.DataTree) else {}
    replace = action == "replace"
    guard = WriteGuard()
    with staged_write(store, replace, storage_options, guard) as target:
        try:
            root, created = _create_image(target, levels, version, chunks, storage_options)
        except FileExistsError:  # not ours: left as it is
            raise
        except Exception:
            path = local_path(store)
            if action == "new" or target == (str(store) if path is None else path):
                # made just now (also a replacement whose store vanished before its
                # claim, written in place): leave nothing
                _remove_new(target, storage_options)
            raise
        _fill_image(root, levels, created, scalars, version, root_attrs, guard)


def prepare_levels(
    obj: xr.DataArray | xr.DataTree,
) -> tuple[list[tuple[str, xr.DataArray]], list[dict[str, Any]]]:
    """The levels of a volume or pyramid, checked, without their 0-d coordinates
    (returned apart: OME-Zarr stores them computed, in the image's attributes)."""
    levels = [
        (path, volume if volume.name is not None else volume.rename("image"))
        for path, volume in _levels_of(obj)
    ]
    scalars = [_scalar_coords(volume) for _, volume in levels]
    levels = [
        (path, volume.drop_vars(list(found)))
        for (path, volume), found in zip(levels, scalars, strict=True)
    ]
    _check_levels(levels)
    return levels, scalars


def create_levels(
    root: zarr.Group,
    levels: list[tuple[str, xr.DataArray]],
    zarr_format: int,
    chunks: int | Sequence[int] | None,
) -> list[tuple[zarr.Array, da.Array]]:
    """Create the arrays of an OME-Zarr image in ``root`` (data empty, coordinates
    recorded in their attributes): ``(target array, source data rechunked to the
    store's chunks and cast to the stored dtype)`` per level.

    Every chunk is written, even one equal to the fill value, so that a missing chunk
    file can be told from an empty chunk (:func:`check_chunks`).
    """
    out = []
    for path, volume in levels:
        group = root.create_group(path)
        store_chunks = _store_chunks(volume, chunks)
        attrs = _json_safe(dict(volume.attrs), f"level {path!r}")
        attrs[COORDS_ATTR] = _coords_record(volume)
        data = volume.data if isinstance(volume.data, da.Array) else da.asarray(volume.data)
        if data.dtype == np.bool_:  # NGFF labels are integers
            attrs[DTYPE_ATTR] = "bool"
            data = data.astype(np.uint8)
        target = _create_array(
            group,
            str(volume.name),
            zarr_format,
            volume.dims,
            attrs,
            shape=volume.shape,
            dtype=data.dtype,
            chunks=store_chunks,
            compressors=_compressor(zarr_format, data.dtype),
            fill_value=None if zarr_format == 2 else 0,
            config={"write_empty_chunks": True},
        )
        out.append((target, data.rechunk(target.chunks)))
    return out


def complete_marker(
    levels: list[tuple[str, xr.DataArray]],
    targets: Sequence[zarr.Array],
    version: str,
    root_attrs: Mapping[str, Any] | None = None,
    window: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The root attributes that mark an image complete: the NGFF metadata and this
    project's record, which lists every array with its shape and chunk grid (compared
    on open by :func:`check_chunks`)."""
    arrays = {
        f"{path}/{volume.name}": {"shape": list(target.shape), "chunks": list(target.chunks)}
        for (path, volume), target in zip(levels, targets, strict=True)
    }
    return {
        **ngff_metadata(levels, version, window),
        MARKER: {
            "complete": True,
            "ngff": version,
            "root_attrs": dict(root_attrs or {}),
            "arrays": arrays,
        },
    }


def _remove_new(store: StoreLike, storage_options: Mapping[str, Any] | None) -> None:
    """Remove what a failed create left at ``store`` (nothing was there before)."""
    path = local_path(store)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
        return
    with contextlib.suppress(Exception):
        fs, root = url_filesystem(str(store), storage_options)
        if fs.exists(root):
            fs.rm(root, recursive=True)


def _create_image(
    store: StoreLike,
    levels: list[tuple[str, xr.DataArray]],
    version: str,
    chunks: int | Sequence[int] | None,
    storage_options: Mapping[str, Any] | None,
) -> tuple[zarr.Group, list[tuple[zarr.Array, da.Array]]]:
    zarr_format = NGFF_VERSIONS[version]
    root = create_root(store, zarr_format, storage_options)
    root.attrs.update({MARKER: {"complete": False, "ngff": version}})
    return root, create_levels(root, levels, zarr_format, chunks)


def create_root(
    store: StoreLike, zarr_format: int, storage_options: Mapping[str, Any] | None = None
) -> zarr.Group:
    """The root group of a new store at ``store`` (or of a staging copy), created only
    where nothing is: anything found there (put there by another program while the
    write started) is left as it is, never cleared as Zarr's ``mode="w"`` would.

    Raises
    ------
    FileExistsError
        Something is at ``store``; nothing was written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "notes.txt").write_text("precious")
    >>> create_root(folder, 3)
    Traceback (most recent call last):
    ...
    FileExistsError: ... something is there (put there while this write started); ...
    >>> (folder / "notes.txt").read_text()
    'precious'
    """
    try:
        return zarr.open_group(
            _zarr_store(store),
            mode="w-",
            zarr_format=zarr_format,
            storage_options=network_options(store, storage_options),
        )
    except (FileExistsError, zarr.errors.ContainsArrayError, zarr.errors.ContainsGroupError) as err:
        raise FileExistsError(
            f"{store}: something is there (put there while this write started); nothing "
            "was written and it was left as it is. Move it away, or choose another path"
        ) from err


def _fill_image(
    root: zarr.Group,
    levels: list[tuple[str, xr.DataArray]],
    created: list[tuple[zarr.Array, da.Array]],
    scalars: list[dict[str, Any]],
    version: str,
    root_attrs: Mapping[str, Any],
    guard: WriteGuard,
) -> None:
    targets = [target for target, _ in created]
    # One pass computes the data, any lazy scalar coordinate (e.g. a threshold) and, for
    # 8/16-bit images (a streaming histogram), the display window, sharing their work.
    # Other dtypes need the global range before their histogram, which would hold every
    # block in memory: their window is read from the stored coarsest level afterwards.
    finest = levels[0][1]
    same_pass = has_exact_histogram(finest.dtype)
    stored = da.store(
        [data for _, data in created],
        [guard.wrap(t) for t in targets],
        lock=False,
        compute=False,
    )
    try:
        _, scalar_values, window = dask.compute(
            stored, scalars, display_window(finest) if same_pass else None
        )
    except BaseException:
        guard.settle()  # raise once no chunk write is running any more
        raise
    if not same_pass:
        window = dask.compute(display_window(levels[-1][1], lazy_array(targets[-1], "store")))[0]
    for target, values in zip(targets, scalar_values, strict=True):
        if values:
            target.attrs[SCALAR_COORDS] = scalar_coords_json(values)
    root.attrs.update(complete_marker(levels, targets, version, root_attrs, window))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # v3 consolidation is an extension
        zarr.consolidate_metadata(root.store, zarr_format=root.metadata.zarr_format)


def _zarr_store(store: StoreLike) -> Any:
    path = local_path(store)
    return str(path) if path is not None else str(store)


# ---------------------------------------------------------------------------------------
# Reading


HTTP_TIMEOUT_KEY = "microct.http-timeout"
"""Dask config key: how long a network read may wait (``"60s"`` unless set)."""


def network_options(
    store: Any, storage_options: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """fsspec options for ``store`` with a timeout on every HTTP connect and read
    (``http(s)://``; ``s3://`` through botocore's connect and read timeouts;
    ``abfs://``/``az://`` through adlfs's ``connection_timeout`` and ``read_timeout``,
    whole seconds). Other protocols (``gs://``: gcsfs has no such option) get the
    caller's options only: bound their waits with those.

    The timeout is the Dask config value ``microct.http-timeout`` (``"60s"`` unless
    set); options given by the caller win. None for local paths.

    Examples
    --------
    >>> import dask
    >>> with dask.config.set({"microct.http-timeout": "2s"}):
    ...     options = network_options("http://host/scan.zarr")
    ...     s3 = network_options("s3://bucket/scan.zarr", {"anon": True})
    >>> options["client_kwargs"]["timeout"].sock_read
    2.0
    >>> s3
    {'anon': True, 'config_kwargs': {'connect_timeout': 2.0, 'read_timeout': 2.0}}
    >>> with dask.config.set({"microct.http-timeout": "1.5s"}):
    ...     network_options("abfs://container/scan.zarr")
    {'connection_timeout': 2, 'read_timeout': 2}
    """
    if not is_url(store):
        return None
    from dask.utils import parse_timedelta

    options = dict(storage_options or {})
    protocol = str(store).rpartition("::")[2].split("://", 1)[0].lower()
    seconds = float(parse_timedelta(dask.config.get(HTTP_TIMEOUT_KEY, "60s")))
    if protocol in ("s3", "s3a"):
        config = dict(options.get("config_kwargs", {}))
        config.setdefault("connect_timeout", seconds)
        config.setdefault("read_timeout", seconds)
        options["config_kwargs"] = config
    if protocol in ("abfs", "abfss", "az"):
        options.setdefault("connection_timeout", math.ceil(seconds))
        options.setdefault("read_timeout", math.ceil(seconds))
    if protocol in ("http", "https"):
        import aiohttp

        client = dict(options.get("client_kwargs", {}))
        client.setdefault(
            "timeout", aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
        )
        options["client_kwargs"] = client
    return options


def network_error(store: Any, err: BaseException) -> OSError:
    """A one-sentence error for a network read that failed or timed out."""
    import asyncio

    setting = dask.config.get(HTTP_TIMEOUT_KEY, "60s")
    if isinstance(err, (asyncio.TimeoutError, TimeoutError)):
        return TimeoutError(
            f"reading {store} failed: the server did not answer within {setting}. Check the "
            "URL and the network, or allow longer with "
            f"dask.config.set({{'{HTTP_TIMEOUT_KEY}': '5min'}})"
        )
    return ConnectionError(
        f"reading {store} failed: {type(err).__name__}: {err}. Check the URL and that the "
        "server is up"
    )


def _is_network_failure(err: BaseException) -> bool:
    import asyncio

    import aiohttp

    return isinstance(err, (asyncio.TimeoutError, TimeoutError, aiohttp.ClientError))


def _open_root(store: StoreLike, storage_options: Mapping[str, Any] | None) -> zarr.Group:
    path = local_path(store)
    if path is not None and not path.exists():
        raise FileNotFoundError(f"nothing at {path}")
    try:
        node = zarr.open(
            _zarr_store(store), mode="r", storage_options=network_options(store, storage_options)
        )
    except (FileNotFoundError, KeyError, zarr.errors.NodeTypeValidationError) as err:
        raise ValueError(f"{store} is not a Zarr store (no Zarr group found): {err}") from err
    except Exception as err:
        if is_url(store) and _is_network_failure(err):
            raise network_error(store, err) from err
        raise damaged(store, err) from err
    if not isinstance(node, zarr.Group):
        raise ValueError(
            f"{store} is a plain Zarr array, not an OME-Zarr image; open it with "
            "xarray_microct.open_volume(store, spacing=..., units=...)"
        )
    return node


BIOFORMATS2RAW = "bioformats2raw.layout"  # a root of image series (each a group 0/, 1/...)


def image_group(root: zarr.Group, store: Any) -> zarr.Group:
    """The group that holds the image: ``root``, or the one image series of a
    bioformats2raw layout (its root holds no image, the series lie in ``0/``, ``1/``…).

    Raises ``ValueError`` for a layout with several series (one must be chosen) or none.
    """
    attrs = dict(root.attrs)
    ome = attrs["ome"] if isinstance(attrs.get("ome"), Mapping) else {}
    if BIOFORMATS2RAW not in attrs and BIOFORMATS2RAW not in ome:
        return root
    if "multiscales" in attrs or "multiscales" in ome:
        return root
    series = sorted(
        (name for name, node in root.members() if isinstance(node, zarr.Group) and name.isdigit()),
        key=int,
    )
    if len(series) == 1:
        return root[series[0]]
    if not series:
        raise ValueError(f"{store} is a bioformats2raw layout that holds no image series")
    raise ValueError(
        f"{store} holds {len(series)} images (bioformats2raw series {', '.join(series)}); "
        f"open one of them, e.g. {str(store).rstrip('/')}/{series[0]}"
    )


def ngff_multiscale(attrs: Mapping[str, Any], where: Any = "store") -> tuple[dict[str, Any], str]:
    """The first multiscale image of a group's attributes and its NGFF version.

    Raises :class:`IncompleteStoreError` for a store whose write was interrupted and
    ``ValueError`` when the attributes hold no OME-NGFF (>= 0.4) multiscales.

    Examples
    --------
    >>> ngff_multiscale({"ome": {"version": "0.5", "multiscales": [{"axes": []}]}})[1]
    '0.5'
    """
    marker = attrs.get(MARKER)
    if isinstance(marker, Mapping) and not marker.get("complete", False):
        said = (
            f"{where} is incomplete: its write was interrupted before every level was "
            "stored, so its data cannot be trusted."
        )
        if not isinstance(attrs.get(RUN_KEY), Mapping):
            again = f"{said} Write it again with mode='w' (to_ome_zarr or vol.microct.to_zarr)"
            raise IncompleteStoreError(again, again)
        python, command = how_to_finish(attrs[RUN_KEY])
        raise IncompleteStoreError(
            f"{said} It is the output of a run: {python}",
            f"{said} It is the output of a run: {command}",
        )
    if isinstance(attrs.get("ome"), Mapping) and "multiscales" in attrs["ome"]:
        version = str(attrs["ome"].get("version", ""))
        multiscales = attrs["ome"]["multiscales"]
    elif "multiscales" in attrs:
        multiscales = attrs["multiscales"]
        version = str(multiscales[0].get("version", "")) if multiscales else ""
    else:
        raise ValueError(
            f"{where} is not an OME-Zarr image: its root group has no OME-NGFF "
            "'multiscales' metadata. For a plain xarray Zarr store use open_volume(store)"
        )
    if not multiscales:
        raise ValueError(f"{where}: the 'multiscales' metadata lists no image")
    if version not in NGFF_VERSIONS:
        raise ValueError(
            f"{where} is OME-NGFF {version or '(no version)'}; xarray_microct reads "
            f"versions {tuple(NGFF_VERSIONS)}"
        )
    return dict(multiscales[0]), version


def _dims_of(axes: Sequence[Mapping[str, Any]], where: Any) -> tuple[str, ...]:
    """The image's dimension names in the order stored (lower case): up to two of
    ``t``, ``c`` first, then ``z``, ``y`` and ``x`` in any order (OME-NGFF recommends
    ``z, y, x`` but allows the others; the reader puts them in that order).

    Examples
    --------
    >>> _dims_of([{"name": "c"}, {"name": "X"}, {"name": "y"}, {"name": "z"}], "store")
    ('c', 'x', 'y', 'z')
    """
    names = tuple(str(a["name"]) if isinstance(a, Mapping) else str(a) for a in axes)
    if len(names) < 3 or len(names) > 5:
        raise ValueError(f"{where} has axes {names}; a volume needs z, y, x (3-D)")
    spatial = tuple(n.lower() for n in names[-3:])
    if sorted(spatial) != sorted(SPATIAL_DIMS):
        raise ValueError(
            f"{where} has axes {names}; its last three axes must be z, y and x (a 3-D image)"
        )
    leading = tuple(n.lower() for n in names[:-3])
    if any(n not in ("t", "c") for n in leading):
        raise ValueError(f"{where}: axes before z, y, x must be 't' and/or 'c', got {leading}")
    return (*leading, *spatial)


def _stored_chunks(chunks: Any, dims: Sequence[str]) -> Any:
    """``chunks`` given in the volume's order (``..., z, y, x``) as the store's order
    ``dims`` takes them (a tuple per axis is reordered, one of the spatial axes only gets
    chunks of 1 along the time and channel axes; other forms are the same).

    Examples
    --------
    >>> _stored_chunks((2, 4, 6), ("c", "x", "y", "z"))
    (1, 6, 4, 2)
    """
    ordered = (*dims[:-3], *SPATIAL_DIMS)
    if isinstance(chunks, tuple) and len(chunks) == 3 < len(dims):
        chunks = (1,) * (len(dims) - 3) + chunks
    if not isinstance(chunks, tuple) or len(chunks) != len(dims) or tuple(dims) == ordered:
        return chunks
    return tuple(chunks[ordered.index(dim)] for dim in dims)


def _compose(
    transforms: Sequence[Mapping[str, Any]], ndim: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    scale, translation = np.ones(ndim), np.zeros(ndim)
    for t in transforms:
        kind = t.get("type")
        if kind == "scale" and "scale" in t:
            factor = np.asarray(t["scale"], dtype=float)
            scale, translation = scale * factor, translation * factor
        elif kind == "translation" and "translation" in t:
            translation = translation + np.asarray(t["translation"], dtype=float)
        elif kind != "identity":
            raise ValueError(f"{where}: unsupported coordinate transformation {dict(t)}")
    return scale, translation


def _check_scale(scale: np.ndarray, dims: Sequence[str], where: Any) -> None:
    """Refuse a level whose NGFF ``scale`` (composed with the image-wide one) is not a
    positive, finite voxel size along a spatial axis, naming the store's metadata.

    Examples
    --------
    >>> _check_scale(np.array([2.6, 0.65, 0.65]), ("z", "y", "x"), "s.zarr: level 0")
    >>> _check_scale(np.array([2.6, 0.0, 0.65]), ("z", "y", "x"), "s.zarr: level 0")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: s.zarr: level 0 states a scale of 0 along y in its multiscales ...
    """
    for dim, step in zip(dims, scale, strict=True):
        if dim in SPATIAL_DIMS and not (np.isfinite(step) and step > 0):
            raise ValueError(
                f"{where} states a scale of {float(step):g} along {dim} in its multiscales "
                "coordinateTransformations (the level's scale, times the image-wide one if "
                f"any: {[float(v) for v in scale]} along {list(dims)}): a voxel size must be "
                "positive (a zero scale is no voxel size; a negative one, a flipped axis, is "
                "not read); correct the 'scale' in the store's metadata (its zarr.json, or "
                ".zattrs in Zarr v2)"
            )


def _spatial_units(axes: Sequence[Mapping[str, Any]], units: str | None, where: Any) -> str:
    found = {a.get("unit") for a in axes[-3:] if isinstance(a, Mapping)}
    found.discard(None)
    if len(found) > 1:
        raise ValueError(f"{where}: spatial axes have different units {sorted(found)}")
    if found:
        return str(found.pop())
    if units is None:
        raise ValueError(
            f"{where} does not state the unit of its axes; give it, e.g. "
            "open_pyramid(store, units='micrometer')"
        )
    return units


def open_pyramid(
    store: StoreLike,
    *,
    chunks: Any = None,
    units: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Open an OME-Zarr multiscale image (NGFF 0.4 or 0.5) lazily as a DataTree.

    Parameters
    ----------
    store : str or path
        A local path or an fsspec URL (``http://...``, ``s3://...``).
    chunks : optional
        Dask chunks for every level; the store's own chunks by default.
    units : str, optional
        Length unit for stores whose axes do not state one.
    storage_options : dict, optional
        Passed to fsspec for URLs.

    Returns
    -------
    xarray.DataTree
        One node per level (``scale0``, ``scale1``...), each holding one lazy volume with
        physical coordinates. A store written by xarray_microct comes back identical:
        names, coordinates, units, attributes and provenance (the levels are named
        ``scale0``... whatever the nodes of the tree written were called).

    Raises
    ------
    IncompleteStoreError
        The store's write was interrupted.
    ValueError
        Not an OME-Zarr image, a level missing, or no units.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.ome.zarr"
    >>> vol = mct.from_array(np.ones((8, 8, 8), "uint8"), spacing=(2.0, 1.0, 1.0))
    >>> vol.microct.to_zarr(store)
    >>> tree = open_pyramid(store)
    >>> list(tree.children), tree["scale0"]["volume"].microct.grid.spacing
    (['scale0'], (2.0, 1.0, 1.0))
    """
    root = image_group(_open_root(store, storage_options), store)
    attrs = dict(root.attrs)
    multiscale, _ = ngff_multiscale(attrs, store)
    axes = multiscale.get("axes", [])
    dims = _dims_of(axes, store)
    unit = _spatial_units(axes, units, store)
    marker = attrs.get(MARKER) if isinstance(attrs.get(MARKER), Mapping) else None
    outer = multiscale.get("coordinateTransformations", [])
    datasets = {}
    for index, dataset in enumerate(multiscale.get("datasets", [])):
        path = str(dataset["path"]).strip("/")
        array = _open_level(root, path, index, store)
        if array.ndim != len(dims):
            raise ValueError(f"{store}: {path!r} is not a {len(dims)}-D array")
        where = f"{store}: level {index}"
        scale, translation = _compose(
            [*dataset.get("coordinateTransformations", []), *outer], len(dims), where
        )
        _check_scale(scale, dims, f"{where} ({path!r})")
        group_path, _, name = path.rpartition("/")
        node = level_node(group_path, index)
        if marker is None and not group_path:
            name = str(multiscale.get("name") or "image")
        array_attrs = {k: v for k, v in array.attrs.items() if k != _DIMS_ATTR}
        coords = _level_coords(root, group_path, dims, array.shape, scale, translation, unit)
        coords.update(_recorded_coords(coords, array_attrs.pop(COORDS_ATTR, {})))
        recorded = (marker or {}).get("arrays", {}).get(path)
        if recorded is not None and local_path(store) is not None:
            check_chunks(array, recorded, f"{store}: level {index} ({path!r})")
        data = lazy_array(array, str(store), _stored_chunks(chunks, dims))
        if array_attrs.pop(DTYPE_ATTR, None) == "bool":
            data = data.astype(bool)
        array_attrs.setdefault(PROVENANCE_KEY, [])
        scalar_coords = scalar_coords_read(array_attrs.pop(SCALAR_COORDS, {}))
        volume = xr.DataArray(data, dims=dims, coords=coords, name=name, attrs=array_attrs)
        # spatial axes stored in another order (x, y, z...): the volume's is z, y, x
        volume = volume.transpose(*dims[:-3], *SPATIAL_DIMS).assign_coords(scalar_coords)
        datasets[node] = volume.to_dataset()
    if not datasets:
        raise ValueError(f"{store}: the multiscales metadata lists no dataset")
    tree = xr.DataTree.from_dict(datasets)
    if marker is not None:
        tree.attrs = dict(marker.get("root_attrs", {}))
    return tree


def _open_level(root: zarr.Group, path: str, index: int, store: Any) -> zarr.Array:
    """A level's array, from its own metadata (not consolidated metadata, which would
    still list a level whose files are gone)."""
    try:
        array = zarr.open_array(
            store=root.store,
            path=f"{root.path}/{path}".strip("/"),
            mode="r",
            zarr_format=root.metadata.zarr_format,
        )
    except (FileNotFoundError, KeyError, zarr.errors.NodeTypeValidationError) as err:
        raise ValueError(
            f"{store}: level {index} ({path!r}) is listed in the multiscales metadata "
            "but missing from the store"
        ) from err
    except Exception as err:
        if is_url(store) and _is_network_failure(err):
            raise network_error(store, err) from err
        raise damaged(store, err) from err
    return array


def _level_coords(
    root: zarr.Group,
    group_path: str,
    dims: Sequence[str],
    shape: Sequence[int],
    scale: np.ndarray,
    translation: np.ndarray,
    unit: str,
) -> dict[str, Any]:
    """Coordinate arrays stored beside the image (stores of earlier versions)
    where present, else from the NGFF transforms."""
    spatial = [list(dims).index(dim) for dim in SPATIAL_DIMS]  # in the store's order
    coords: dict[str, Any] = dict(
        spatial_coords([shape[i] for i in spatial], scale[spatial], translation[spatial], unit)
    )
    group = root[group_path] if group_path else None
    for dim, n in zip(dims, shape, strict=True):
        if group is None or dim not in group:
            continue
        stored = group[dim]
        if isinstance(stored, zarr.Array) and stored.shape == (n,):
            attrs = {k: v for k, v in stored.attrs.items() if k != _DIMS_ATTR}
            coords[dim] = xr.Variable(dim, np.asarray(stored[...]), attrs)
    return coords


def _recorded_coords(
    derived: Mapping[str, Any], record: Mapping[str, Any]
) -> dict[str, xr.Variable]:
    """Coordinates from an image's ``microct_coords`` record: the recorded values where
    there are some, else the ``derived`` ones, with the recorded attributes."""
    coords = {}
    for dim, entry in record.items():
        attrs = dict(entry.get("attrs", {}))
        if "values" in entry:
            values = np.asarray(entry["values"], dtype=np.dtype(entry["dtype"]))
        elif dim in derived:
            values = np.asarray(derived[dim].values)
        else:
            continue
        coords[dim] = xr.Variable(dim, values, attrs)
    return coords


def is_ome_zarr(store: StoreLike, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether ``store`` is a Zarr group with OME-NGFF multiscales (or an interrupted one).

    Examples
    --------
    >>> import tempfile
    >>> is_ome_zarr(tempfile.mkdtemp())
    False
    """
    try:
        root = _open_root(store, storage_options)
    except (ValueError, FileNotFoundError):
        return False
    attrs = root.attrs
    return any(key in attrs for key in ("multiscales", "ome", MARKER, BIOFORMATS2RAW))


__all__ = [
    "ChunkReader",
    "DamagedStoreError",
    "IncompleteStoreError",
    "check_chunks",
    "complete_marker",
    "create_levels",
    "create_root",
    "is_ome_zarr",
    "level_group",
    "level_node",
    "network_options",
    "ngff_metadata",
    "ngff_multiscale",
    "open_pyramid",
    "prepare_levels",
    "to_ome_zarr",
    "written_blocks",
]
