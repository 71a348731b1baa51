"""What a verb is given, checked lazily: an integer scan where a mask is expected, NaN
where a filter would spread it.

Both checks run inside the graph, in each block's task (nothing is computed when the
verb is called), and fail with a message naming the fix.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import xarray as xr

import xarray_microct as mct
from xarray_microct.metrics import confusion_scores
from xarray_microct.testing import raise_if_dask_computes

SCAN = "an intensity scan.*Threshold it first"


def _scan(dtype: str = "uint16", chunks: int = 6) -> xr.DataArray:
    rng = np.random.default_rng(0)
    data = rng.integers(100, 4000, (8, 12, 12)).astype(dtype)
    return mct.from_array(data, spacing=1.0, units="um", chunks=chunks)


@pytest.mark.parametrize("dtype", ["uint16", "uint8", "int16", "int32"])
def test_volume_fraction_of_an_integer_scan_fails_with_the_fix(dtype):
    vol = _scan(dtype)
    with raise_if_dask_computes():
        fraction = vol.microct.volume_fraction()  # lazy: nothing read yet
    with pytest.raises(ValueError, match=SCAN):
        fraction.compute()  # was 1.0: every non-zero grey value read as foreground


@pytest.mark.parametrize(
    "verb", ["label", "distance_transform", "fill_holes", "porosity", "watershed"]
)
def test_mask_verbs_refuse_an_integer_scan_as_they_compute(verb):
    params = {"min_distance": "2 um"} if verb == "watershed" else {}
    with raise_if_dask_computes():
        out = getattr(_scan().microct, verb)(**params)
    with pytest.raises(ValueError, match=SCAN):
        out.compute()


@pytest.mark.parametrize("chunks", [3, 5, 8])
def test_integer_zero_one_masks_give_the_boolean_answers(chunks):
    rng = np.random.default_rng(1)
    mask = ndi.gaussian_filter(rng.random((8, 12, 12)), 1.0) > 0.5
    for dtype in ("uint8", "int16", "uint16", "int64"):
        vol = mct.from_array(mask.astype(dtype), spacing=1.0, units="um", chunks=chunks)
        assert float(vol.microct.volume_fraction()) == pytest.approx(mask.mean())
        labels = vol.microct.label().values
        reference, n = ndi.label(mask)
        assert labels.max() == n
        np.testing.assert_array_equal(labels > 0, reference > 0)
        np.testing.assert_allclose(
            vol.microct.distance_transform().values,
            ndi.distance_transform_edt(mask),
            rtol=1e-6,
        )


def test_labels_of_a_label_verb_still_read_as_nonzero():
    mask = np.zeros((8, 12, 12), bool)
    mask[1:3, 1:4, 1:4] = True
    mask[5:7, 6:10, 6:10] = True
    labels = mct.from_array(mask, spacing=1.0, units="um", chunks=4).microct.label()
    assert int(labels.max()) == 2
    assert float(labels.microct.volume_fraction()) == pytest.approx(mask.mean())


def test_a_region_that_is_a_scan_is_refused():
    mask = mct.from_array(np.ones((4, 6, 6), bool), spacing=1.0, units="um")
    region = mct.from_array(np.full((4, 6, 6), 900, "uint16"), spacing=1.0, units="um")
    with pytest.raises(ValueError, match=SCAN):
        mask.microct.volume_fraction(region=region).compute()


def test_confusion_scores_refuse_a_scan_and_take_zero_one():
    truth = np.array([1, 0, 1, 0], "uint8")
    assert confusion_scores(truth, truth)["dice"] == 1.0
    with pytest.raises(ValueError, match=SCAN):
        confusion_scores(np.array([0, 200, 3000, 0], "uint16"), truth)


def test_remove_small_objects_keeps_taking_labels():
    labels = np.zeros((6, 8, 8), "int32")
    labels[0:2, 0:2, 0:2] = 5  # 8 voxels
    labels[3:6, 3:7, 3:7] = 9  # 48 voxels
    vol = mct.from_array(labels, spacing=1.0, units="um", chunks=4)
    kept = vol.microct.remove_small_objects(min_size=10).values
    assert sorted(np.unique(kept).tolist()) == [0, 9]


# ---- NaN -----------------------------------------------------------------------------


def _with_nan(chunks: int = 5) -> xr.DataArray:
    rng = np.random.default_rng(2)
    data = rng.normal(100.0, 5.0, (10, 16, 16)).astype("float32")
    data[:, :, :3] = np.nan  # masked outside the field of view
    return mct.from_array(data, spacing=1.0, units="um", chunks=chunks)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: v.microct.gaussian(sigma="1 voxel"),
        lambda v: v.microct.median(radius="1 voxel"),
        lambda v: v.microct.unsharp_mask(sigma="1 voxel"),
        lambda v: v.microct.denoise(sigma="1 voxel"),
        lambda v: v.microct.pyramid(levels=2, nan_policy="raise")["scale1"]["image"],
        lambda v: v.microct.pyramid(levels=2, method="mean", nan_policy="raise")["scale1"]["image"],
    ],
)
def test_filters_refuse_nan_as_they_compute_naming_fillna(call):
    vol = _with_nan().rename("image")
    with raise_if_dask_computes():
        out = call(vol)
    with pytest.raises(ValueError, match=r"holds NaN.*fillna.*fill_padding.*propagate"):
        out.compute()


def test_nan_policy_propagate_is_scipy():
    vol = _with_nan()
    out = vol.microct.gaussian(sigma="1 voxel", nan_policy="propagate").values
    reference = ndi.gaussian_filter(vol.values, 1.0, mode="nearest")
    np.testing.assert_allclose(out, reference, rtol=1e-5, equal_nan=True)
    assert np.isnan(out[:, :, 3:7]).all()  # the NaN spread four voxels into the field


def test_nan_policy_is_recorded_and_checked():
    vol = _with_nan().fillna(100.0)
    smooth = vol.microct.gaussian(sigma="1 voxel")
    assert smooth.attrs["microct_provenance"][-1]["params"]["nan_policy"] == "raise"
    assert not np.isnan(smooth.values).any()
    with pytest.raises(ValueError, match="nan_policy must be"):
        vol.microct.gaussian(sigma="1 voxel", nan_policy="omit")


def test_the_pyramid_keeps_nan_as_no_data_by_default():
    # a pyramid is for viewing: NaN (OME-Zarr's "no data") is kept, not refused
    coarse = _with_nan().rename("image").microct.pyramid(levels=2)["scale1"]["image"].values
    assert np.isnan(coarse).any() and np.isfinite(coarse).any()


def test_the_pyramid_keeps_level_zero_as_it_is():
    tree = _with_nan().rename("image").microct.pyramid(levels=2)
    finest = tree["scale0"]["image"].values  # the volume itself: its NaN are the user's
    assert np.isnan(finest).any()


def _with_inf(sign: float) -> xr.DataArray:
    rng = np.random.default_rng(3)
    data = rng.normal(100.0, 5.0, (10, 16, 16)).astype("float32")
    data[5, 8, 8] = sign * np.inf  # one voxel: gaussian(sigma=1) spread it silently
    return mct.from_array(data, spacing=1.0, units="um", chunks=5)


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize(
    "call",
    [
        lambda v: v.microct.gaussian(sigma="1 voxel"),
        lambda v: v.microct.unsharp_mask(sigma="1 voxel"),
        lambda v: v.microct.denoise(sigma="1 voxel"),
        lambda v: v.microct.pyramid(levels=2, method="mean", nan_policy="raise")["scale1"]["image"],
    ],
)
def test_filters_refuse_infinite_values_as_they_compute(call, sign):
    vol = _with_inf(sign).rename("image")
    with raise_if_dask_computes():
        out = call(vol)
    with pytest.raises(ValueError, match=r"holds infinite values.*isfinite.*propagate"):
        out.compute()


def test_infinite_values_propagate_on_request_and_pass_the_median():
    vol = _with_inf(1.0)
    out = vol.microct.gaussian(sigma="1 voxel", nan_policy="propagate").values
    reference = ndi.gaussian_filter(vol.values, 1.0, mode="nearest")
    np.testing.assert_allclose(out, reference, rtol=1e-5)
    assert (~np.isfinite(out)).sum() > 100  # one voxel spread over the kernel's reach
    # the median does not spread ±inf (one voxel is outvoted in each window): not refused
    assert np.isfinite(vol.microct.median(radius="1 voxel").values).all()
