"""Morphology with physical radii, fill_holes and remove_small_objects vs whole-array refs."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.morphology as skm
from hypothesis import given
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.ops.filters import ellipsoid_footprint
from xarray_microct.ops.morphology import fill_holes_array, morphology_array
from xarray_microct.testing import raise_if_dask_computes


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...]]:
    shape = tuple(draw(st.integers(3, 16)) for _ in range(3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        data = ndi.gaussian_filter(rng.random(shape), 1.0) > 0.5
    else:
        data = rng.integers(0, 200, shape).astype("uint8")
    chunks = tuple(draw(st.integers(-(-n // 4), n)) for n in shape)  # <= 4 chunks per axis
    return data, chunks


@given(
    case=cases(),
    op=st.sampled_from(["erosion", "dilation", "opening", "closing"]),
    radius=st.tuples(*[st.sampled_from([0.0, 1.0, 1.5, 2.0])] * 3),
    mode=st.sampled_from(["reflect", "ignore", "constant", "nearest", "mirror"]),
)
def test_morphology_equals_skimage(case, op, radius, mode):
    data, chunks = case
    footprint = ellipsoid_footprint(radius)
    ours = morphology_array(da.from_array(data, chunks=chunks), op, radius, mode).compute()
    reference = getattr(skm, op)(data, footprint, mode=mode)
    assert ours.dtype == data.dtype
    assert np.array_equal(ours, reference)


def test_physical_anisotropic_radius():
    rng = np.random.default_rng(1)
    mask = ndi.gaussian_filter(rng.random((12, 20, 20)), 1.0) > 0.5
    vol = mct.from_array(mask, spacing=(2.0, 1.0, 1.0), units="um", chunks=(5, 7, 6))
    with raise_if_dask_computes():
        out = vol.microct.closing(radius="2 um")
    # 2 um is 1 voxel along z and 2 voxels along y and x
    footprint = ellipsoid_footprint((1.0, 2.0, 2.0))
    assert footprint.shape == (3, 5, 5)
    assert np.array_equal(out.values, skm.closing(mask, footprint))
    assert out.attrs["microct_provenance"][-1]["resolved"]["radius"] == [1.0, 2.0, 2.0]
    assert float(out.x[1]) == 1.0


@given(
    shape=st.tuples(*[st.integers(3, 16)] * 3),
    seed=st.integers(0, 2**32 - 1),
    connectivity=st.sampled_from([1, 2, 3]),
    data=st.data(),
)
def test_fill_holes_equals_scipy(shape, seed, connectivity, data):
    mask = np.random.default_rng(seed).random(shape) < 0.6
    chunks = tuple(data.draw(st.integers(-(-n // 4), n)) for n in shape)  # <= 4 chunks per axis
    ours = fill_holes_array(da.from_array(mask, chunks=chunks), connectivity).compute()
    reference = ndi.binary_fill_holes(mask, ndi.generate_binary_structure(3, connectivity))
    assert np.array_equal(ours, reference)


def test_fill_holes_large_hole_and_border_channel():
    # A hollow shell whose cavity spans 3x3x3 chunks is filled; a second cavity
    # opened to the volume's face by a thin channel is not.
    mask = np.zeros((20, 20, 20), bool)
    mask[1:19, 1:19, 1:19] = True
    mask[3:16, 3:16, 3:16] = False
    mask[17, 17, 17] = False
    mask[10, 17, 16:] = False
    mask[10, 16, 16] = False
    vol = mct.from_array(mask, chunks=5)
    out = vol.microct.fill_holes().values
    assert np.array_equal(out, ndi.binary_fill_holes(mask))
    assert out[9, 9, 9] and out[17, 17, 17] and not out[10, 17, 19]


def test_remove_small_objects_whole_object_sizes():
    # A rod of 12 voxels crossing 4 chunks (3 voxels in each) is kept at min_size=10.
    mask = np.zeros((12, 12, 12), bool)
    mask[1, 1, :] = True
    mask[6:8, 6:8, 6:8] = True  # 8 voxels: removed
    mask[10, 10, 10] = True
    vol = mct.from_array(mask, chunks=3)
    out = vol.microct.remove_small_objects(min_size=10).values
    assert out[1, 1, :].all() and not out[6:8, 6:8, 6:8].any() and not out[10, 10, 10]
    assert np.array_equal(out, skm.remove_small_objects(mask, max_size=9))


@given(
    shape=st.tuples(*[st.integers(2, 14)] * 3),
    seed=st.integers(0, 2**32 - 1),
    min_size=st.integers(0, 30),
    connectivity=st.sampled_from([1, 2, 3]),
    data=st.data(),
)
def test_remove_small_objects_equals_skimage(shape, seed, min_size, connectivity, data):
    mask = np.random.default_rng(seed).random(shape) < 0.4
    chunks = tuple(data.draw(st.integers(-(-n // 4), n)) for n in shape)  # <= 4 chunks per axis
    vol = mct.from_array(mask, chunks=chunks)
    ours = vol.microct.remove_small_objects(min_size=min_size, connectivity=connectivity)
    labels, _ = ndi.label(mask, ndi.generate_binary_structure(3, connectivity))
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    assert np.array_equal(ours.values, keep[labels])


def test_remove_small_objects_on_labels():
    labels = np.zeros((6, 6, 6), "int32")
    labels[0, 0, :] = 3
    labels[5, 5, 5] = 7
    labels[2, 2, 2:4] = 1
    out = mct.from_array(labels, chunks=2).microct.remove_small_objects(min_size=2).values
    assert out.dtype == np.int32
    expected = labels.copy()
    expected[5, 5, 5] = 0
    assert np.array_equal(out, expected)


def test_min_size_in_physical_units():
    mask = np.zeros((10, 10, 10), bool)
    mask[1, 1, 1:5] = True  # 4 voxels = 4 * 2 um^3 = 8 um^3
    mask[5, 5, 5:8] = True  # 3 voxels = 6 um^3
    vol = mct.from_array(mask, spacing=(2.0, 1.0, 1.0), units="um", chunks=4)
    out = vol.microct.remove_small_objects(min_size="7 um^3").values
    assert out[1, 1, 1:5].all() and not out[5, 5].any()
    same = vol.microct.remove_small_objects(min_size="7e-9 mm**3").values
    assert np.array_equal(same, out)
    assert np.array_equal(vol.microct.remove_small_objects(min_size="4 voxel").values, out)
    assert np.array_equal(vol.microct.remove_small_objects(min_size=4).values, out)


def test_bad_input():
    vol = mct.from_array(np.zeros((5, 5, 5), bool))
    with pytest.raises(ValueError, match="not a volume"):
        vol.microct.remove_small_objects(min_size="5 um")
    with pytest.raises(ValueError, match="cannot read min_size"):
        vol.microct.remove_small_objects(min_size="5 parsecs^3 of doom")
    with pytest.raises(ValueError, match="not a volume"):
        vol.microct.remove_small_objects(min_size="5 kg")
    with pytest.raises(ValueError, match="non-negative"):
        vol.microct.remove_small_objects(min_size=-1)
    with pytest.raises(TypeError, match="threshold it first"):
        mct.from_array(np.zeros((5, 5, 5))).microct.fill_holes()
    with pytest.raises(TypeError, match=r"integer labels|boolean mask"):
        mct.from_array(np.zeros((5, 5, 5))).microct.remove_small_objects()
    with pytest.raises(ValueError, match="mode must be one of"):
        vol.microct.erosion(radius=1, mode="wrap")
    with pytest.raises(ValueError, match="connectivity"):
        vol.microct.fill_holes(connectivity=4)
