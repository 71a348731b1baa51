"""Volumes to napari layer data and back (no napari import needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from xarray_microct.core.labels import is_label_volume
from xarray_microct.core.registry import get_operation
from xarray_microct.core.tree import is_image
from xarray_microct.core.units import ngff_unit_name
from xarray_microct.core.volume import SPATIAL_DIMS, from_array, grid_of

LayerData = tuple[Any, dict[str, Any], str]
"""napari's ``LayerDataTuple``: ``(data, layer keyword arguments, layer type)``."""

VOLUME_KEY = "xarray_microct_volume"
"""Key of a layer's ``metadata`` holding the (lazy) finest-level volume it shows."""

PIPELINES = ("beads", "fibers")


def _lazy(volume: xr.DataArray, labels: bool) -> da.Array:
    data = volume.data if isinstance(volume.data, da.Array) else da.asarray(volume.data)
    return data.astype(np.uint8) if labels and data.dtype == np.bool_ else data


def layer_data(levels: Sequence[xr.DataArray], name: str | None = None) -> LayerData:
    """A napari layer for a volume's levels (finest first): lazy data, the finest level's
    spacing as ``scale``, its first voxel centre as ``translate``, its units, and the
    type: ``"labels"`` for label volumes, else ``"image"``.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((4, 4, 4), bool), spacing=0.5, origin=(1, 0, 0))
    >>> data, meta, kind = layer_data([vol])
    >>> kind, meta["scale"], meta["translate"], meta["units"][0], data.dtype.name
    ('labels', (0.5, 0.5, 0.5), (1.0, 0.0, 0.0), 'micrometer', 'uint8')
    """
    finest = levels[0]
    grid = grid_of(finest)
    labels = is_label_volume(finest)
    arrays = [_lazy(level, labels) for level in levels]
    n_lead = finest.ndim - 3
    meta: dict[str, Any] = {
        "name": name or str(finest.name),
        "scale": (1.0,) * n_lead + tuple(grid.spacing),
        "translate": (0.0,) * n_lead + tuple(grid.origin),
        "units": ("pixel",) * n_lead + (grid.units,) * 3,
        "axis_labels": tuple(str(d) for d in finest.dims),
        "metadata": {VOLUME_KEY: finest},
    }
    if len(arrays) > 1:
        meta["multiscale"] = True
    return (arrays if len(arrays) > 1 else arrays[0]), meta, "labels" if labels else "image"


def layer_volume(
    data: Any,
    scale: Sequence[float],
    translate: Sequence[float],
    units: Sequence[Any],
    metadata: Mapping[str, Any] | None = None,
    name: str = "volume",
) -> xr.DataArray:
    """The volume a napari layer shows: the one it was made from (kept in its metadata)
    or one built from its finest data, scale, translate and units.

    Raises
    ------
    ValueError
        The layer is not 3-D or has no physical length unit.

    Examples
    --------
    >>> import numpy as np
    >>> vol = layer_volume(np.zeros((2, 3, 4)), (2.0, 1.0, 1.0), (0, 0, 0), ["um"] * 3)
    >>> vol.microct.grid.spacing, vol.x.attrs["units"]
    ((2.0, 1.0, 1.0), 'micrometer')
    """
    volume = (metadata or {}).get(VOLUME_KEY)
    if isinstance(volume, xr.DataArray):
        return volume
    finest = data[0] if isinstance(data, list | tuple) else data
    if np.ndim(finest) != 3:
        raise ValueError(
            f"layer {name!r} is {np.ndim(finest)}-D; the verbs work on 3-D volumes (z, y, x)"
        )
    unit = str(units[-1])
    try:
        unit = ngff_unit_name(unit)
    except ValueError:
        unit = ""
    if unit in ("", "pixel"):
        raise ValueError(
            f"layer {name!r} has no physical length unit (napari shows {str(units[-1])!r}); "
            "set layer.units = 'micrometer' and layer.scale to the voxel size, or open the "
            "store with the xarray-microct reader"
        )
    chunks = None if isinstance(finest, da.Array) else "auto"
    return from_array(
        finest,
        spacing=tuple(float(s) for s in scale[-3:]),
        origin=tuple(float(t) for t in translate[-3:]),
        units=unit,
        chunks=chunks,
        name=name,
    )


def table_points(table: Any, name: str) -> LayerData:
    """A Points layer of a table with ``z, y, x`` columns (physical coordinates, as
    ``detect_fibers``, ``find_centres`` or a region table give them): one point per row,
    as big as the row's ``radius`` when it has one, every column as a feature, in the
    table's units (``attrs['units']``).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"fiber_id": [1, 1], "z": [0.0, 1.3], "y": [5.0, 5.0],
    ...                   "x": [2.0, 2.5], "radius": [3.0, 3.0]})
    >>> t.attrs["units"] = "micrometer"
    >>> points, meta, kind = table_points(t, "fibers")
    >>> kind, points.tolist()[1], meta["size"].tolist(), meta["units"][0]
    ('points', [1.3, 5.0, 2.5], [6.0, 6.0], 'micrometer')
    """
    points = np.column_stack([table[d].to_numpy(float) for d in SPATIAL_DIMS])
    meta: dict[str, Any] = {"name": name, "features": table.reset_index(drop=True)}
    if "radius" in table:
        meta["size"] = 2 * table["radius"].to_numpy(float)
    units = table.attrs.get("units")
    if units:
        meta["units"] = (ngff_unit_name(str(units)),) * 3
    return points, meta, "points"


def run_on_volume(volume: xr.DataArray, verb: str, params: Mapping[str, Any]) -> LayerData:
    """Run a verb or a built-in pipeline (``"beads"``, ``"fibers"``) on a volume and
    return the result as layer data: a lazy volume as an Image or Labels layer, a table
    with ``z, y, x`` columns as a Points layer (in physical coordinates).

    Raises
    ------
    ValueError
        The verb is unknown, or returns neither a volume nor a table of positions.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(8, 8, 8), spacing=1.0, chunks=4)
    >>> data, meta, kind = run_on_volume(vol, "threshold", {"method": "otsu"})
    >>> kind, type(data).__name__, meta["name"]
    ('labels', 'Array', 'volume threshold')
    """
    if verb in PIPELINES:
        from xarray_microct import pipelines

        result = getattr(pipelines, verb)(volume, **params)
    else:
        result = get_operation(verb).verb(volume, **params)
    name = f"{volume.name} {verb}"
    if isinstance(result, xr.DataTree):
        levels = [next(iter(n.data_vars.values())) for n in result.children.values()]
        return layer_data(levels, name)
    if isinstance(result, xr.DataArray) and is_image(result):
        return layer_data([result], name)
    if all(hasattr(result, "columns") and d in result.columns for d in SPATIAL_DIMS):
        return table_points(result, name)
    raise ValueError(
        f"{verb} returns a {type(result).__name__}, not a volume or a table of positions; "
        "run it in Python (vol.microct.{verb}(...)) instead"
    )
