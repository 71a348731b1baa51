"""Global thresholds, exact hysteresis and the default segment chain vs skimage."""

from __future__ import annotations

import json

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.filters as skf
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.ops.segment import hysteresis_array, threshold_values
from xarray_microct.testing import raise_if_dask_computes


def mixture(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    n = int(np.prod(shape))
    which = rng.integers(0, 3, n)
    modes = [rng.normal(60, 10, n), rng.normal(150, 20, n), rng.normal(100, 5, n)]
    values = np.choose(which, modes)
    if np.dtype(dtype).kind == "u":
        values = np.clip(values, 0, np.iinfo(dtype).max)
    return values.astype(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
@pytest.mark.parametrize("method", ["otsu", "li", "triangle"])
def test_exact_for_integer_volumes(dtype, method):
    data = mixture(np.random.default_rng(3), (10, 12, 30), dtype)
    reference = getattr(skf, f"threshold_{method}")(data)
    ours = threshold_values(da.from_array(data, chunks=(3, 5, 7)), method).compute()[0]
    assert ours == pytest.approx(float(reference), abs=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", ["otsu", "triangle", "multiotsu"])
def test_float_volumes_match_skimage_bins(dtype, method):
    data = mixture(np.random.default_rng(4), (10, 12, 30), dtype)
    reference = np.atleast_1d(getattr(skf, f"threshold_{method}")(data))
    ours = threshold_values(da.from_array(data, chunks=(4, 5, 11)), method).compute()
    bin_width = (data.max() - data.min()) / 256
    np.testing.assert_allclose(ours, reference, atol=bin_width * 1.01)


def test_li_float_within_one_fine_bin():
    data = mixture(np.random.default_rng(5), (10, 12, 30), "float64")
    ours = threshold_values(da.from_array(data, chunks=7), "li").compute()[0]
    assert abs(ours - skf.threshold_li(data)) <= (data.max() - data.min()) / 65536 * 2


def test_threshold_is_global_not_per_chunk():
    # Dark left half, bright right half: a per-chunk Otsu would split each half.
    rng = np.random.default_rng(6)
    data = np.concatenate(
        [rng.normal(50, 5, (8, 8, 8)), rng.normal(200, 5, (8, 8, 8))], axis=2
    ).astype("float32")
    vol = mct.from_array(data, chunks=8)
    mask = vol.microct.threshold("otsu").compute()
    assert np.array_equal(mask.values, data > skf.threshold_otsu(data))
    assert float(mask.threshold) == pytest.approx(skf.threshold_otsu(data), abs=1.0)


def test_threshold_lazy_with_value_as_coordinate():
    data = mixture(np.random.default_rng(7), (8, 8, 8), "uint8")
    vol = mct.from_array(data, chunks=4)
    with raise_if_dask_computes():
        mask = vol.microct.threshold("li")
    assert mask.dtype == bool
    assert mask.attrs["threshold_method"] == "li"
    assert mask.attrs["microct_provenance"][-1]["params"]["method"] == "li"
    json.dumps(mask.attrs["microct_provenance"])
    computed = mask.compute()
    assert float(computed.threshold) == pytest.approx(skf.threshold_li(data))
    assert np.array_equal(computed.values, data > skf.threshold_li(data))
    fixed = vol.microct.threshold(100)
    assert float(fixed.threshold) == 100.0 and fixed.attrs["threshold_method"] == "value"


def test_multiotsu_classes():
    data = mixture(np.random.default_rng(8), (6, 10, 10), "uint8")
    classes = mct.from_array(data, chunks=4).microct.threshold("multiotsu", classes=3)
    expected = np.digitize(data, skf.threshold_multiotsu(data, classes=3))
    assert np.array_equal(classes.values, expected)
    assert float(classes.threshold_2) == float(skf.threshold_multiotsu(data)[1])


def test_threshold_value_verb():
    data = mixture(np.random.default_rng(9), (6, 6, 6), "uint16")
    vol = mct.from_array(data, chunks=3)
    assert float(vol.microct.threshold_value("triangle")) == skf.threshold_triangle(data)


@st.composite
def volumes_and_chunks(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...]]:
    shape = tuple(draw(st.integers(1, 16)) for _ in range(3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    data = ndi.gaussian_filter(rng.random(shape), draw(st.floats(0.0, 1.5)))
    chunks = tuple(draw(st.integers(-(-n // 4), n)) for n in shape)  # <= 4 chunks per axis
    return data, chunks


@given(case=volumes_and_chunks(), q=st.tuples(st.floats(0.1, 0.6), st.floats(0.6, 0.99)),
       connectivity=st.sampled_from([1, 2, 3]))
def test_hysteresis_equals_whole_array(case, q, connectivity):
    data, chunks = case
    low, high = np.quantile(data, q)
    ours = hysteresis_array(da.from_array(data, chunks=chunks), low, high, connectivity)
    if connectivity == 1:
        reference = skf.apply_hysteresis_threshold(data, low, high)
    else:
        labels, n = ndi.label(data > low, ndi.generate_binary_structure(3, connectivity))
        keep = np.zeros(n + 1, bool)
        keep[np.unique(labels[data > high])] = True
        keep[0] = False
        reference = keep[labels]
    assert np.array_equal(ours.compute(), reference)


def test_hysteresis_object_spanning_many_chunks():
    # A weak snake through 4x4x4 chunks, strong at one end only; a weak twin with
    # no strong voxel must vanish.
    data = np.zeros((16, 16, 16))
    data[1, 1, :] = data[1, :, 14] = data[:, 14, 14] = 0.5
    data[1, 1, 0] = 1.0
    data[10, 3, 2:9] = 0.5
    out = mct.from_array(data, chunks=4).microct.hysteresis(low=0.3, high=0.8)
    assert np.array_equal(out.values, skf.apply_hysteresis_threshold(data, 0.3, 0.8))
    assert out.values[15, 14, 14] and not out.values[10, 3, 5]
    assert float(out.threshold_low) == 0.3


def test_hysteresis_with_method_names():
    data = mixture(np.random.default_rng(10), (8, 8, 8), "uint8")
    vol = mct.from_array(data, chunks=3)
    out = vol.microct.hysteresis(low="li", high="otsu")
    reference = skf.apply_hysteresis_threshold(
        data, skf.threshold_li(data), skf.threshold_otsu(data)
    )
    assert np.array_equal(out.values, reference)


def test_segment_default_is_multiotsu_hysteresis():
    data = mixture(np.random.default_rng(11), (12, 12, 12), "float32")
    vol = mct.from_array(data, chunks=5)
    with raise_if_dask_computes():
        mask = vol.microct.segment()
    low, high = skf.threshold_multiotsu(data, classes=3)
    reference = skf.apply_hysteresis_threshold(data, low, high)
    # thresholds agree to within one of skimage's 256 bins; compare away from them
    computed = mask.compute()
    near = (np.abs(data - low) < 2 * (data.max() - data.min()) / 256) | (
        np.abs(data - high) < 2 * (data.max() - data.min()) / 256
    )
    assert np.mean(computed.values != reference) <= np.mean(near)
    assert float(computed.threshold_low) == pytest.approx(low, abs=1.0)
    single = vol.microct.segment(method="threshold", threshold="otsu")
    assert np.array_equal(single.values, data > float(single.threshold))


def test_segment_on_a_datatree_maps_over_levels():
    rng = np.random.default_rng(12)
    data = ndi.gaussian_filter(rng.random((16, 16, 16)), 1.0).astype("float32")
    level0 = mct.from_array(data, spacing=1.0, chunks=8)
    level1 = mct.from_array(data[::2, ::2, ::2], spacing=2.0, chunks=4)
    tree = xr.DataTree.from_dict(
        {"/0": level0.to_dataset(name="image"), "/1": level1.to_dataset(name="image")}
    )
    with raise_if_dask_computes():
        chain = tree.microct.gaussian(sigma="1 voxel").microct.segment()
    assert isinstance(chain, xr.DataTree)
    for path, source in (("/0", level0), ("/1", level1)):
        smooth = ndi.gaussian_filter(source.values, 1.0, mode="nearest")
        high = skf.threshold_multiotsu(smooth)[1]
        got = chain[path]["image"]
        expected = skf.apply_hysteresis_threshold(
            smooth, float(got.threshold_low), float(got.threshold_high)
        )
        assert np.array_equal(got.values, expected)
        assert float(got.threshold_high) == pytest.approx(high, abs=float(np.ptp(smooth)) / 200)


def test_bad_input():
    vol = mct.from_array(np.zeros((4, 4, 4), "float32"))
    with pytest.raises(ValueError, match="a threshold is one of"):
        vol.microct.threshold("mean")
    with pytest.raises(ValueError, match="connectivity"):
        vol.microct.hysteresis(0.1, 0.2, connectivity=5)
    with pytest.raises(ValueError, match="method must be"):
        vol.microct.segment(method="magic")
    with pytest.raises(ValueError, match="finite"):
        vol.microct.threshold(float("nan"))


def test_unknown_threshold_method_names_every_method_threshold_takes():
    """A misspelt method is refused with every method ``threshold`` accepts, multiotsu
    too (the message named only the single-threshold methods)."""
    vol = mct.from_array(np.zeros((4, 4, 4), "float32"))
    with pytest.raises(ValueError, match="multiotsu") as error:
        vol.microct.threshold("otsuu")
    assert "'otsuu'" in str(error.value)
    for method in ("otsu", "li", "triangle"):
        assert repr(method) in str(error.value)


@pytest.mark.parametrize("method", ["otsu", "li", "triangle", "multiotsu"])
def test_infinite_voxels_are_ignored_like_nan(method):
    # One +inf and one -inf voxel (reconstruction artefacts) used to make the range,
    # and so every threshold, NaN: the thresholds are those of the finite voxels.
    data = mixture(np.random.default_rng(8), (10, 12, 30), "float32")
    finite = data.copy()
    data[0, 0, 0], data[5, 6, 7], data[9, 11, 29] = np.inf, -np.inf, np.nan
    finite = np.delete(finite.ravel(), [0, np.ravel_multi_index((5, 6, 7), data.shape),
                                        data.size - 1])
    reference = np.atleast_1d(getattr(skf, f"threshold_{method}")(finite))
    ours = threshold_values(da.from_array(data, chunks=(4, 5, 11)), method).compute()
    bin_width = (finite.max() - finite.min()) / (65536 if method == "li" else 256)
    np.testing.assert_allclose(ours, reference, atol=bin_width * 2.01)
    if method != "multiotsu":
        mask = mct.from_array(data, chunks=5).microct.threshold(method).compute()
        assert np.array_equal(mask.values, data > float(mask.threshold))
        assert mask.values[0, 0, 0] and not mask.values[5, 6, 7]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda v: v.microct.hysteresis(low=0.8, high=0.2), "low <= high"),
        (lambda v: v.microct.segment(low=0.8, high=0.2), "low <= high"),
        (lambda v: v.microct.segment(method="threshold", low=0.2), "for method='hysteresis'"),
        (lambda v: v.microct.segment(threshold="li"), "for method='threshold'"),
        (lambda v: v.microct.threshold("otsu", classes=4), "for method='multiotsu'"),
        (lambda v: v.microct.threshold_value("li", classes=5), "for method='multiotsu'"),
    ],
)
def test_parameters_that_make_no_sense_are_refused(call, match):
    vol = mct.from_array(np.random.default_rng(1).random((6, 6, 6)), chunks=3)
    with pytest.raises(ValueError, match=match):
        call(vol)


def test_hysteresis_order_of_computed_thresholds_checked_when_computed():
    data = np.random.default_rng(2).random((6, 7, 8))
    vol = mct.from_array(data, chunks=3)
    with raise_if_dask_computes():
        mask = vol.microct.hysteresis(low=0.99, high="otsu")
    with pytest.raises(ValueError, match=r"low <= high, got low = 0.99 \(value\)"):
        mask.compute()
    assert mask.coords["threshold_low"].item() == 0.99  # a number stays a number
    with pytest.raises(ValueError, match="low <= high"):
        float(mask.threshold_high)
    fine = vol.microct.hysteresis(low=0.1, high="otsu").compute()
    expected = skf.apply_hysteresis_threshold(data, 0.1, float(fine.threshold_high))
    assert np.array_equal(fine.values, expected)
    equal = vol.microct.hysteresis(low=0.5, high=0.5).values
    assert np.array_equal(equal, skf.apply_hysteresis_threshold(data, 0.5, 0.5))


def test_threshold_value_of_a_number_is_refused():
    # a number used to fall through to multi-Otsu and return its first threshold
    vol = mct.from_array(np.random.default_rng(1).random((6, 6, 6)), chunks=3)
    with pytest.raises(ValueError, match="a number is already a threshold"):
        vol.microct.threshold_value(0.5)


@pytest.mark.parametrize("value", [0, 7])
def test_segment_of_a_constant_volume_says_so(value):
    vol = mct.from_array(np.full((4, 6, 5), value, "uint16"), chunks=3)
    with pytest.raises(ValueError, match="nothing to segment"):
        vol.microct.segment().compute()
