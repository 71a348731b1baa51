"""Big-endian volumes (as some Zarr v2, TIFF and raw files hold them) give the answers of
the same values in the machine's byte order."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import skimage.filters as skf
import xarray as xr

import xarray_microct as mct
from xarray_microct.ops.segment import threshold_values


def _scan(dtype: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(rng.normal(100, 20, (10, 24, 18)), 0, 250).astype(dtype)


@pytest.mark.parametrize("dtype", [">u2", ">i2"])
def test_big_endian_threshold_is_exact(dtype):
    data = _scan(dtype)
    reference = skf.threshold_otsu(data.astype(dtype[1:]))
    assert threshold_values(da.from_array(data, chunks=5), "otsu").compute()[0] == reference
    mask = mct.from_array(data, chunks=(4, 7, 5)).microct.threshold()
    np.testing.assert_array_equal(mask.values, data > reference)


@pytest.mark.parametrize(
    "verb",
    [
        lambda v: v.microct.pyramid()["scale1"].ds["volume"],
        lambda v: v.microct.remove_rings(),
        lambda v: v.microct.segment(),
        lambda v: v.microct.median(radius=1.0),
        lambda v: v.microct.gaussian(sigma=1.5),
    ],
    ids=["pyramid", "remove_rings", "segment", "median", "gaussian"],
)
def test_big_endian_verbs_match_native(verb):
    native = _scan("<u2")
    big = xr.DataArray(
        da.from_array(native.astype(">u2"), chunks=(4, 7, 5)),
        dims=("z", "y", "x"),
        coords=mct.from_array(native).coords,
        name="volume",
    )  # built without from_array: the verbs convert it themselves
    expected = verb(mct.from_array(native, chunks=(4, 7, 5))).values
    np.testing.assert_array_equal(verb(big).values, expected)


def test_from_array_gives_native_order():
    vol = mct.from_array(_scan(">u2"))
    assert vol.dtype == np.uint16
    np.testing.assert_array_equal(vol.values, _scan("<u2"))
