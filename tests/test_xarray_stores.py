"""Zarr stores written by xarray (or with dimension names only) that do not state their
voxel size in full: the size given to ``open_volume`` (and ``microct run --spacing
--units``) completes them, and a size that contradicts the store is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

import xarray_microct as mct
from xarray_microct.io import MissingVoxelSizeError


def _scan() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 1000, (4, 6, 8)).astype(np.uint16)


def _xarray_store(path: Path, units: str | None) -> None:
    attrs = {} if units is None else {"units": units}
    coords = {d: (d, 0.65 * np.arange(n), attrs) for d, n in zip("zyx", (4, 6, 8), strict=True)}
    xr.DataArray(_scan(), dims=("z", "y", "x"), coords=coords, name="scan").to_dataset().to_zarr(
        path
    )


def test_coordinates_without_units_take_the_units_given(tmp_path: Path):
    store = tmp_path / "xr.zarr"
    _xarray_store(store, None)
    with pytest.raises(ValueError, match="units"):
        mct.open_volume(store)
    for given in ({"units": "micrometer"}, {"spacing": 0.65, "units": "micrometer"}):
        volume = mct.open_volume(store, **given)
        assert volume.microct.grid.spacing == pytest.approx((0.65,) * 3)
        assert volume.microct.grid.units == "micrometer"
        np.testing.assert_array_equal(volume.values, _scan())


def test_a_spacing_against_the_coordinates_is_refused(tmp_path: Path):
    store = tmp_path / "xr.zarr"
    _xarray_store(store, "micrometer")
    with pytest.raises(ValueError, match=r"states its voxel size in its coordinates"):
        mct.open_volume(store, spacing=1.3, units="micrometer")


def test_dimension_names_without_coordinates_take_the_spacing_given(tmp_path: Path):
    store = tmp_path / "named.zarr"
    group = zarr.open_group(str(store), mode="w", zarr_format=3)
    group.create_array("volume", data=_scan(), dimension_names=["z", "y", "x"])
    with pytest.raises(MissingVoxelSizeError, match="--spacing"):
        mct.open_volume(store)
    volume = mct.open_volume(store, spacing=(2.0, 0.5, 0.5), units="micrometer", origin=1.0)
    assert volume.microct.grid.spacing == (2.0, 0.5, 0.5)
    assert float(volume["z"][0]) == 1.0
    np.testing.assert_array_equal(volume.values, _scan())
