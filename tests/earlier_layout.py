"""Stores as versions before the numbered level groups wrote them (``from earlier_layout
import write_earlier_layout``): each level in a group ``scale0``, ``scale1``..., which
this project must still read."""

from __future__ import annotations

import warnings
from pathlib import Path

import dask.array as da
import xarray as xr
import zarr

from xarray_microct.io.ome import NGFF_VERSIONS, complete_marker, create_levels, prepare_levels
from xarray_microct.io.safety import MARKER


def write_earlier_layout(obj: xr.DataArray | xr.DataTree, store: Path, version: str) -> Path:
    """Write ``obj`` (a volume or a pyramid) with the level groups ``scale<i>`` and the
    metadata that earlier versions wrote."""
    levels, _ = prepare_levels(obj)
    levels = [(f"scale{index}", volume) for index, (_, volume) in enumerate(levels)]
    zarr_format = NGFF_VERSIONS[version]
    root = zarr.open_group(str(store), mode="w-", zarr_format=zarr_format)
    root.attrs.update({MARKER: {"complete": False, "ngff": version}})
    created = create_levels(root, levels, zarr_format, None)
    da.store([data for _, data in created], [target for target, _ in created], lock=False)
    root_attrs = dict(obj.attrs) if isinstance(obj, xr.DataTree) else {}
    root.attrs.update(
        complete_marker(levels, [target for target, _ in created], version, root_attrs)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # v3 consolidation is an extension
        zarr.consolidate_metadata(root.store, zarr_format=zarr_format)
    return store
