"""The sorting-network median of small footprints equals scipy's median filter."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.core.footprints import ellipsoid_footprint
from xarray_microct.kernels.median import MAX_NETWORK, median_network


@st.composite
def blocks_and_footprints(draw):
    shape = tuple(draw(st.integers(1, 12)) for _ in range(3))
    fp_shape = tuple(draw(st.integers(1, 3)) for _ in range(3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    footprint = rng.random(fp_shape) < 0.7
    footprint.flat[rng.integers(footprint.size)] = True
    # the network takes at most MAX_NETWORK voxels: switch off the extra ones
    footprint.flat[np.flatnonzero(footprint)[MAX_NETWORK:]] = False
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.int16, np.int32, np.bool_]))
    levels = draw(st.sampled_from([2, 5, 200]))  # few levels: many ties
    block = rng.integers(0, levels, shape).astype(dtype)
    return block, footprint


@settings(max_examples=60)
@given(blocks_and_footprints())
def test_equals_scipy_median_filter(case):
    block, footprint = case
    ref = ndi.median_filter(block, footprint=footprint, mode="nearest")
    np.testing.assert_array_equal(median_network(block, footprint), ref)


def test_verb_uses_it_and_stays_chunk_exact():
    block = np.random.default_rng(1).integers(0, 255, (20, 23, 17), dtype=np.uint8)
    for radius in ("1 voxel", (1.0, 1.5, 1.0)):
        footprint = ellipsoid_footprint(radius if isinstance(radius, tuple) else (1.0,) * 3)
        assert np.count_nonzero(footprint) <= MAX_NETWORK
        ref = ndi.median_filter(block, footprint=footprint, mode="nearest")
        for chunks in (20, (7, 9, 5)):
            vol = mct.from_array(block, chunks=chunks)
            out = vol.microct.median(
                radius=radius if isinstance(radius, str) else tuple(f"{r} voxel" for r in radius)
            ).values
            np.testing.assert_array_equal(out, ref)


def test_refuses_floats_and_large_footprints():
    with pytest.raises(TypeError, match="integer"):
        median_network(np.zeros((3, 3, 3), np.float32), np.ones((1, 1, 3), bool))
    with pytest.raises(ValueError, match="footprint voxels"):
        median_network(np.zeros((3, 3, 3), np.uint8), np.ones((3, 3, 3), bool))


def test_slabs_of_a_large_block_equal_scipy(monkeypatch):
    # a block sorted in slabs of 2 planes (the last one shorter): the same as one pass
    import xarray_microct.kernels.median as median_module

    block = np.random.default_rng(2).integers(0, 255, (7, 30, 40), dtype=np.uint8)
    monkeypatch.setattr(median_module, "SLAB_VOXELS", 2 * 30 * 40)
    footprint = ellipsoid_footprint((1.0, 1.0, 1.0))
    ref = ndi.median_filter(block, footprint=footprint, mode="nearest")
    np.testing.assert_array_equal(median_network(block, footprint), ref)
