"""NGFF labels: a label volume stored under its image (``labels/<name>``).

An OME-Zarr image written by :func:`~xarray_microct.io.ome.to_ome_zarr` can carry label
images (masks, segmentations) of the same grid in its ``labels`` group, as the OME-NGFF
specification lays out::

    scan.ome.zarr/               the image (multiscales, omero)
      0/scan, 1/scan ...
      labels/                    {"labels": ["pores", ...]}
        pores/                   multiscales + image-label {"source": {"image": "../../"}}
          0/pores, 1/pores ...

napari-ome-zarr, ome-zarr-py and this project's napari plugin then show the image with
its labels as a Labels layer; :func:`open_labels` reads one back. napari's builtin
reader, which knows no NGFF, opens the first group of a store in name order: level
``0``, the finest level of the image, in voxel units (the labels are not shown).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from xarray_microct.core.labels import is_label_volume
from xarray_microct.io.ome import (
    NGFF_VERSIONS,
    StoreLike,
    create_levels,
    ngff_metadata,
    open_pyramid,
    prepare_levels,
)
from xarray_microct.io.paths import local_path
from xarray_microct.io.safety import MARKER, WriteGuard, remove_failed_write, staged_write

LABELS_GROUP = "labels"


def _ome(attrs: dict[str, Any]) -> dict[str, Any]:
    return attrs.get("ome", attrs)


def _image_version(root: zarr.Group, store: Any) -> str:
    record = dict(root.attrs).get(MARKER)
    if not isinstance(record, dict) or not record.get("complete"):
        raise ValueError(
            f"{store} is not a complete OME-Zarr image written by xarray-microct; write "
            "the image first with vol.microct.to_zarr(store)"
        )
    return str(record["ngff"])


def write_labels(
    labels: xr.DataArray | xr.DataTree,
    store: StoreLike,
    name: str,
    chunks: int | Sequence[int] | None = None,
) -> None:
    """Store a label volume (or its pyramid) as NGFF labels ``labels/<name>`` of the
    image at ``store``.

    Parameters
    ----------
    labels : xarray.DataArray or xarray.DataTree
        A boolean or integer volume on the image's grid (same shape, spacing and
        origin as its finest level), or a pyramid of it (``labels.microct.pyramid()``,
        downsampled by mode).
    store : str or path
        A local OME-Zarr image written by this project.
    name : str
        Name of the label image (``"pores"``, ``"fibers"``...).
    chunks : int or (int, int, int), optional
        Chunk shape in the store; 128 by default.

    Raises
    ------
    ValueError
        The store is not a complete image of this project, ``labels`` is not a label
        volume or not on the image's grid.
    FileExistsError
        The image already has labels called ``name`` (nothing is replaced).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.ome.zarr"
    >>> vol = mct.from_array(np.arange(512.0).reshape(8, 8, 8), spacing=0.5, name="scan")
    >>> vol.microct.to_zarr(store)
    >>> write_labels((vol > 256).rename("bright"), store, "bright")
    >>> int(open_labels(store, "bright")["scale0"]["bright"].sum())
    255
    """
    path = local_path(store)
    if path is None:
        raise ValueError(f"labels are written into local stores only, got {store}")
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"label name must be a plain name such as 'pores', got {name!r}")
    if not path.is_dir():
        raise FileNotFoundError(f"{store}: no image there; write the image, then its labels")
    # Claimed like every write of the image: no replacement of it, and no other labels
    # write (whose failure removes what it made, maybe the labels group) runs meanwhile.
    with staged_write(path, replace=False, in_place=True):
        _write_labels(labels, path, store, name, chunks)


def _write_labels(
    labels: xr.DataArray | xr.DataTree,
    path: Path,
    store: StoreLike,
    name: str,
    chunks: int | Sequence[int] | None,
) -> None:
    """:func:`write_labels` once the image at ``path`` is claimed."""
    root = zarr.open_group(str(path), mode="r+")
    version = _image_version(root, store)
    levels, _ = prepare_levels(labels)
    finest = levels[0][1]
    if not is_label_volume(finest):
        raise ValueError(
            f"labels must be boolean or integer labels (from label, watershed, "
            f"threshold...), got dtype {finest.dtype}; convert with volume.astype(bool)"
        )
    image = next(iter(next(iter(open_pyramid(path).children.values())).data_vars.values()))
    ours, theirs = finest.microct.grid, image.microct.grid
    if ours.shape != theirs.shape or not (
        np.allclose(ours.spacing, theirs.spacing) and np.allclose(ours.origin, theirs.origin)
    ):
        raise ValueError(
            f"labels {name!r} are on grid {ours.shape} spacing {ours.spacing} origin "
            f"{ours.origin}, the image on {theirs.shape} spacing {theirs.spacing} origin "
            f"{theirs.origin}; labels must share the image's finest grid"
        )
    made = path / LABELS_GROUP if LABELS_GROUP not in root else path / LABELS_GROUP / name
    group = root.require_group(LABELS_GROUP)
    if name in group:
        raise FileExistsError(
            f"{store} already has labels {name!r}; nothing was written. Choose another name"
        )
    guard = WriteGuard()
    try:
        target = group.create_group(name)
        created = create_levels(target, levels, NGFF_VERSIONS[version], chunks)
        stored = [guard.wrap(t) for t, _ in created]
        da.store([data for _, data in created], stored, lock=False)
    except BaseException:
        remove_failed_write(made, guard)  # made just now: the image is left as it was
        raise
    meta = ngff_metadata(levels, version)
    source = {"source": {"image": "../../"}}
    if version == "0.4":
        meta["image-label"].update(source)
        target.attrs.update(meta)
        names = list(dict(group.attrs).get(LABELS_GROUP, []))
        group.attrs.update({LABELS_GROUP: [*names, name]})
    else:
        meta["ome"]["image-label"].update(source)
        target.attrs.update(meta)
        names = list(_ome(dict(group.attrs)).get(LABELS_GROUP, []))
        group.attrs.update({"ome": {"version": version, LABELS_GROUP: [*names, name]}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # v3 consolidation is an extension
        zarr.consolidate_metadata(root.store, zarr_format=root.metadata.zarr_format)


def label_names(store: StoreLike) -> list[str]:
    """Names of the NGFF labels of the image at ``store`` (empty when none).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.ome.zarr"
    >>> mct.from_array(np.zeros((4, 4, 4)), spacing=1.0).microct.to_zarr(store)
    >>> label_names(store)
    []
    """
    root = zarr.open_group(str(store), mode="r")
    if LABELS_GROUP not in root:
        return []
    return [str(n) for n in _ome(dict(root[LABELS_GROUP].attrs)).get(LABELS_GROUP, [])]


def open_labels(store: StoreLike, name: str) -> xr.DataTree:
    """Open the NGFF labels ``name`` of the image at ``store`` lazily (as
    :func:`~xarray_microct.io.ome.open_pyramid`)."""
    names = label_names(store)
    if name not in names:
        raise ValueError(f"{store} has no labels {name!r}; it has {names or 'none'}")
    return open_pyramid(Path(str(store)) / LABELS_GROUP / name)


__all__ = ["label_names", "open_labels", "write_labels"]
