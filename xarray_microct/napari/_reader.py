"""The reader contribution: OME-Zarr stores and table stores as napari layer data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xarray_microct.core.volume import SPATIAL_DIMS
from xarray_microct.io.ngff_labels import label_names, open_labels
from xarray_microct.io.ome import _dims_of, is_ome_zarr, ngff_multiscale, open_pyramid
from xarray_microct.io.paths import local_path
from xarray_microct.napari._layers import LayerData, layer_data, table_points


def _window(store: str) -> list[float] | None:
    """The omero display window ``[start, end]`` of a store, if it has one."""
    attrs = dict(_group(store).attrs)
    attrs = attrs.get("ome", attrs)
    channels = attrs.get("omero", {}).get("channels", [])
    window = channels[0].get("window", {}) if channels else {}
    if "start" in window and "end" in window:
        return [float(window["start"]), float(window["end"])]
    return None


def read_store(path: str | Path) -> list[LayerData]:
    """Layer data for an OME-Zarr store: one multiscale Image or Labels layer, then one
    Labels layer per NGFF label image stored under it (``labels/<name>``).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.ome.zarr"
    >>> vol = mct.from_array(np.ones((8, 8, 8), "uint8"), spacing=(2.0, 1.0, 1.0))
    >>> vol.microct.to_zarr(store)
    >>> [(kind, meta["scale"]) for _, meta, kind in read_store(store)]
    [('image', (2.0, 1.0, 1.0))]
    """
    store = str(path)
    tree = open_pyramid(store)
    levels = [next(iter(node.data_vars.values())) for node in tree.children.values()]
    data, meta, kind = layer_data(levels, name=Path(store).name)
    window = _window(store)
    if kind == "image" and window is not None and window[1] > window[0]:
        meta["contrast_limits"] = window
    layers = [(data, meta, kind)]
    for label in label_names(store):
        tree = open_labels(store, label)
        label_levels = [next(iter(node.data_vars.values())) for node in tree.children.values()]
        layers.append(layer_data(label_levels, name=label))
    return layers


def read_table_store(path: str | Path) -> list[LayerData]:
    """A Points layer for a table store of ``microct run`` with ``z, y, x`` columns (a
    fiber table, centres, regions), in physical coordinates: it lies on the image.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> from xarray_microct.io.tables import write_table
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "centres.zarr"
    >>> _ = write_table(pd.DataFrame({"z": [1.0], "y": [2.0], "x": [3.0]}), store)
    >>> [(kind, data.tolist()) for data, _, kind in read_table_store(store)]
    [('points', [[1.0, 2.0, 3.0]])]
    """
    from xarray_microct.io.tables import read_table

    return [table_points(read_table(path), Path(str(path)).name)]


def _is_positions_table(path: str) -> bool:
    from xarray_microct.io.tables import is_table

    return (
        local_path(path) is not None
        and is_table(path)
        and set(SPATIAL_DIMS) <= set(_group(path).array_keys())
    )


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """The reader for ``path`` when it is one OME-Zarr store, or a table store with
    positions (``z, y, x`` columns), else None (napari's hook).

    Examples
    --------
    >>> import tempfile
    >>> get_reader(tempfile.mkdtemp()) is None
    True
    """
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    path = str(path)
    if not is_ome_zarr(path):
        return (lambda _path: read_table_store(path)) if _is_positions_table(path) else None
    try:  # a 3-D image this project reads (else napari tries its other readers)
        multiscale, _ = ngff_multiscale(dict(_group(path).attrs), path)
        _dims_of(multiscale.get("axes", []), path)
    except ValueError:
        return None
    return lambda _path: read_store(path)


def _group(path: str) -> Any:
    import zarr

    return zarr.open_group(str(path), mode="r")
