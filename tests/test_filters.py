"""Enhancement verbs equal the whole-volume reference for any chunking."""

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.core.stats import global_percentiles
from xarray_microct.testing import raise_if_dask_computes

RNG = np.random.default_rng(0)


@st.composite
def chunked_volumes(draw, min_side=4, max_side=24, dtype="float32"):
    """A random volume, spacing and chunking (chunks from 3 voxels to the whole axis)."""
    shape = tuple(draw(st.integers(min_side, max_side)) for _ in range(3))
    chunks = tuple(draw(st.integers(min(3, n), n)) for n in shape)
    spacing = tuple(draw(st.sampled_from([0.5, 0.65, 1.0, 2.0, 3.0])) for _ in range(3))
    seed = draw(st.integers(0, 2**16))
    data = np.random.default_rng(seed).random(shape).astype(dtype)
    if np.issubdtype(np.dtype(dtype), np.integer):
        data = (data * 4000).astype(dtype)
    return mct.from_array(data, spacing=spacing, chunks=chunks), data, np.array(spacing)


@given(chunked_volumes(), st.floats(0.3, 3.0), st.sampled_from(["nearest", "reflect", "mirror"]))
def test_gaussian_is_chunk_exact(case, sigma_um, mode):
    vol, data, spacing = case
    sigma = sigma_um / spacing
    if np.any(sigma > np.array(data.shape)):
        with pytest.raises(ValueError, match="larger than the volume"):
            vol.microct.gaussian(sigma=f"{sigma_um} um", mode=mode)
        return
    out = vol.microct.gaussian(sigma=f"{sigma_um} um", mode=mode)
    reference = ndi.gaussian_filter(data, sigma, mode=mode)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.values, reference, rtol=1e-5, atol=1e-6)


@given(
    st.sampled_from(["uint16", "float32"]).flatmap(lambda dtype: chunked_volumes(dtype=dtype)),
    st.floats(0.3, 3.0),
    st.booleans(),
)
def test_gaussian_with_nearest_borders_is_scipys_bit_for_bit(case, sigma_um, along_z_only):
    # as the fiber mask smooths along z only: the compiled passes, scipy's very values
    vol, data, spacing = case
    sigma = sigma_um / spacing
    if along_z_only:
        sigma = sigma * np.array([1.0, 0.0, 0.0])
    if np.any(sigma > np.array(data.shape)):
        return
    out = mct.ops.filters.gaussian_array(vol.data, tuple(sigma.tolist())).compute()
    reference = ndi.gaussian_filter(data.astype(np.float32), sigma, mode="nearest")
    np.testing.assert_array_equal(out, reference)


def test_gaussian_array_of_another_byte_order():
    data = (np.random.default_rng(3).random((7, 8, 9)) * 4000).astype(">u2")
    out = mct.ops.filters.gaussian_array(da.from_array(data, chunks=4), (1.2, 0.0, 0.7))
    reference = ndi.gaussian_filter(data.astype(np.float32), (1.2, 0.0, 0.7), mode="nearest")
    np.testing.assert_array_equal(out.compute(), reference)


@given(chunked_volumes(dtype="uint16", max_side=20), st.sampled_from([1, 1.5, 2]))
def test_median_is_chunk_exact(case, radius_voxels):
    vol, data, _ = case
    out = vol.microct.median(radius=f"{radius_voxels} voxel")
    footprint = mct.ops.filters.ellipsoid_footprint((radius_voxels,) * 3)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out.values, ndi.median_filter(data, footprint=footprint,
                                                                mode="nearest"))


def test_median_ball_matches_skimage():
    data = np.random.default_rng(3).integers(0, 255, (20, 21, 22), dtype=np.uint8)
    vol = mct.from_array(data, chunks=7)
    reference = skimage.filters.median(data, skimage.morphology.ball(2), mode="nearest")
    np.testing.assert_array_equal(vol.microct.median(radius=2).values, reference)


def test_median_radius_is_physical_per_axis():
    vol = mct.from_array(np.zeros((9, 9, 9), "uint8"), spacing=(2.0, 1.0, 1.0))
    record = vol.microct.median(radius="2 um").attrs["microct_provenance"][-1]
    assert record["resolved"]["radius"] == [1.0, 2.0, 2.0]


@given(chunked_volumes(), st.floats(0.0, 3.0))
def test_unsharp_mask_matches_skimage(case, amount):
    vol, data, _ = case
    sigma_vox = 1.0
    if np.any(np.array(data.shape) < sigma_vox):
        return
    out = vol.microct.unsharp_mask(sigma="1 voxel", amount=amount, mode="reflect")
    reference = skimage.filters.unsharp_mask(
        data, radius=sigma_vox, amount=amount, preserve_range=True, channel_axis=None
    )
    np.testing.assert_allclose(out.values, reference, rtol=1e-4, atol=1e-5)


@given(chunked_volumes(dtype="uint16"), st.floats(0, 40), st.floats(60, 100))
def test_percentile_normalize_is_exact_for_16_bit(case, lower, upper):
    vol, data, _ = case
    out = vol.microct.normalize(lower=lower, upper=upper)
    low, high = np.percentile(data, [lower, upper])
    expected = np.clip((data - low) / (high - low if high > low else 1), 0, 1)
    np.testing.assert_allclose(out.values, expected, rtol=1e-5, atol=1e-6)


def test_percentile_normalize_float_within_one_bin():
    data = np.random.default_rng(5).normal(size=(30, 30, 30)).astype("float64")
    vol = mct.from_array(data, chunks=11)
    out = vol.microct.normalize(lower=1, upper=99, clip=False).values
    # out = (data - low) / (high - low): recover the bounds used from the linear map
    slope, intercept = np.polyfit(data.ravel(), out.ravel(), 1)
    used_low, used_high = -intercept / slope, (1 - intercept) / slope
    low, high = np.percentile(data, [1, 99])
    bin_width = (data.max() - data.min()) / 65536
    assert abs(used_low - low) <= bin_width
    assert abs(used_high - high) <= bin_width


def test_minmax_and_zscore_use_global_statistics():
    data = np.random.default_rng(2).random((16, 17, 18))
    vol = mct.from_array(data, chunks=5)
    np.testing.assert_allclose(
        vol.microct.normalize(method="minmax").values,
        (data - data.min()) / (data.max() - data.min()),
    )
    np.testing.assert_allclose(
        vol.microct.normalize(method="zscore").values, (data - data.mean()) / data.std()
    )


def test_nan_is_ignored_by_normalize_statistics_and_kept():
    data = np.random.default_rng(2).random((8, 8, 8))
    data[0, 0, 0] = np.nan
    out = mct.from_array(data, chunks=4).microct.normalize(method="minmax").values
    assert np.isnan(out[0, 0, 0])
    assert np.nanmin(out) == 0 and np.nanmax(out) == 1


def test_verbs_are_lazy():
    vol = mct.from_array(RNG.random((20, 20, 20)), chunks=8)
    with raise_if_dask_computes():
        out = (
            vol.microct.median(radius="1 voxel")
            .microct.gaussian(sigma=1)
            .microct.unsharp_mask(sigma=1)
            .microct.normalize()
            .microct.normalize(method="zscore")
        )
    assert [r["op"] for r in out.attrs["microct_provenance"]] == [
        "median", "gaussian", "unsharp_mask", "normalize", "normalize"
    ]


def test_in_memory_volumes_become_lazy():
    vol = mct.from_array(RNG.random((10, 10, 10))).compute()
    assert isinstance(vol.data, np.ndarray)
    out = vol.microct.gaussian(sigma=1)
    assert out.chunks is not None


def test_leading_channel_dim_is_filtered_per_channel():
    data = np.random.default_rng(4).random((2, 12, 13, 14)).astype("float32")
    vol = mct.from_array(data, chunks=(1, 5, 5, 5))
    out = vol.microct.gaussian(sigma=1).values
    for c in range(2):
        np.testing.assert_allclose(out[c], ndi.gaussian_filter(data[c], 1, mode="nearest"),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda v: v.microct.gaussian(sigma=-1), ValueError, "positive"),
        (lambda v: v.microct.gaussian(sigma=0), ValueError, "positive"),
        (lambda v: v.microct.gaussian(sigma="100 um"), ValueError, "larger than the volume"),
        (lambda v: v.microct.gaussian(sigma="3 furlongs"), ValueError, "NGFF"),
        (lambda v: v.microct.gaussian(sigma=1, mode="wrap"), ValueError, "mode"),
        (lambda v: v.microct.gaussian(sigma=1, truncate=0), ValueError, "truncate"),
        (lambda v: v.microct.gaussian(1, 2, 3, 4, 5), TypeError, "gaussian"),
        (lambda v: v.microct.gaussian(sigmaa=1), TypeError, "gaussian"),
        (lambda v: v.microct.normalize(lower=90, upper=10), ValueError, "lower < upper"),
        (lambda v: v.microct.normalize(method="max"), ValueError, "method"),
        (lambda v: v.microct.unsharp_mask(sigma=1, amount=np.inf), ValueError, "finite"),
        (lambda v: v.microct.median(radius=-2), ValueError, "non-negative"),
    ],
)
def test_bad_parameters_fail_clearly(call, error, match):
    vol = mct.from_array(np.zeros((10, 10, 10), "float32"))
    with pytest.raises(error, match=match):
        call(vol)


def test_tree_maps_over_every_level_and_level_picks_one():
    fine = mct.from_array(RNG.random((16, 16, 16)), spacing=1.0, name="image")
    coarse = mct.from_array(RNG.random((8, 8, 8)), spacing=2.0, name="image")
    tree = xr.DataTree.from_dict(
        {"scale0": fine.to_dataset(), "scale1": coarse.to_dataset()}
    )
    assert tree.microct.levels == ["/scale0", "/scale1"]
    out = tree.microct.gaussian(sigma="2 um")
    assert isinstance(out, xr.DataTree)
    assert set(out.children) == {"scale0", "scale1"}
    resolved = [
        out[level]["image"].attrs["microct_provenance"][-1]["resolved"]["sigma"]
        for level in ("scale0", "scale1")
    ]
    assert resolved == [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]
    np.testing.assert_allclose(
        out["scale1"]["image"].values, coarse.microct.gaussian(sigma="1 voxel").values
    )
    one = tree.microct.gaussian(sigma="2 um", level=1)
    assert isinstance(one, xr.DataArray) and one.shape == (8, 8, 8)
    assert tree.microct.select_level("scale1").shape == (8, 8, 8)
    with pytest.raises(IndexError):
        tree.microct.gaussian(sigma=1, level=5)


@pytest.mark.parametrize("method", ["percentile", "minmax", "zscore"])
def test_infinite_voxels_are_ignored_by_normalize_statistics(method):
    data = np.random.default_rng(5).random((8, 9, 10)).astype("float32")
    data[0, 0, 0], data[1, 2, 3], data[4, 4, 4] = np.inf, -np.inf, np.nan
    finite = data[np.isfinite(data)].astype(np.float64)
    out = mct.from_array(data, chunks=4).microct.normalize(method=method).values
    if method == "percentile":
        low, high = np.percentile(finite, [0.5, 99.5])
        expected = np.clip((data - low) / (high - low), 0, 1)
        atol = (finite.max() - finite.min()) / 65536 / (high - low) * 2
    elif method == "minmax":
        expected = np.clip((data - finite.min()) / (finite.max() - finite.min()), 0, 1)
        atol = 1e-6
    else:
        expected = (data - finite.mean()) / finite.std()
        atol = 1e-5
    np.testing.assert_allclose(out, expected, atol=atol)
    assert np.isnan(out[4, 4, 4]) and np.isfinite(out[0, 0, 0]) == (method != "zscore")


def test_nan_percentile_is_refused():
    vol = mct.from_array(np.zeros((4, 4, 4), "float32"))
    with pytest.raises(ValueError, match="lower < upper"):
        vol.microct.normalize(lower=float("nan"))
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        global_percentiles(vol.data, [float("nan")])
